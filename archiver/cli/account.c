/* popvault account add|list|remove|test */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/archive/accounts.h"
#include "archiver/harvest/probe.h"
#include "archiver/lib/config.h"
#include "archiver/lib/fsutil.h"

/* --password-file F or --token-command-file F (exactly one, when need),
 * read into *password_r or *token_r. The token command comes from a file,
 * never the command line: that shows in the process list. */
/* A CA file named relative to here, made absolute: serve harvests from
 * "/". One that does not resolve stays as given, for the check to name. */
static void ca_file_absolute(char *path, size_t n)
{
	char *abs;
	if (path[0] == '\0' || path[0] == '/' || (abs = realpath(path, NULL)) == NULL)
		return;
	if (strlen(abs) < n)
		memcpy(path, abs, strlen(abs) + 1);
	free(abs);
}

static int read_login(const struct cli_args *args, bool need, char **password_r, char **token_r,
		      struct pv_error *err)
{
	const char *pw = cli_opt(args, "password-file"), *tok = cli_opt(args, "token-command-file");
	*password_r = *token_r = NULL;
	if (cli_opt(args, "token-command") != NULL)
		return pv_fail(err, PV_EUSAGE, "--token-command is gone (a command line shows in the "
					       "process list): put the command in a file and give "
					       "--token-command-file F");
	if (pw != NULL && tok != NULL)
		return pv_fail(err, PV_EUSAGE, "give --password-file or --token-command-file, not both");
	if (need && pw == NULL && tok == NULL)
		return pv_fail(err, PV_EUSAGE, "account add needs --password-file F (or "
					       "--token-command-file F for OAuth)");
	if (pw != NULL)
		return pv_read_secret_file(pw, password_r, err);
	if (tok != NULL)
		return pv_read_secret_file(tok, token_r, err);
	return PV_OK;
}

static int account_add(struct cli_ctx *ctx, struct archive *ar, const struct cli_args *args,
		       struct pv_error *err)
{
	struct account a = {0};
	long long port;
	char *password = NULL, *token = NULL;
	int r;

	if (args->n_pos != 2)
		return pv_fail(err, PV_EUSAGE, "account add needs exactly one NAME");
	const char *tls = cli_opt(args, "tls") ? cli_opt(args, "tls") : "implicit";
	snprintf(a.name, sizeof(a.name), "%s", args->pos[1]);
	snprintf(a.host, sizeof(a.host), "%s", cli_opt(args, "host") ? cli_opt(args, "host") : "");
	snprintf(a.tls, sizeof(a.tls), "%s", tls);
	snprintf(a.user, sizeof(a.user), "%s", cli_opt(args, "user") ? cli_opt(args, "user") : "");
	snprintf(a.auth, sizeof(a.auth), "%s", cli_opt(args, "auth") ? cli_opt(args, "auth") : "auto");
	if (cli_opt(args, "ca-file"))
		snprintf(a.ca_file, sizeof(a.ca_file), "%s", cli_opt(args, "ca-file"));
	ca_file_absolute(a.ca_file, sizeof(a.ca_file));
	a.insecure = cli_opt(args, "insecure-skip-verify") != NULL;
	a.keep_upstream = cli_opt(args, "keep-upstream") != NULL;
	if (cli_opt(args, "interval") != NULL &&
	    pv_parse_duration(cli_opt(args, "interval"), 1, ACCOUNT_INTERVAL_MAX_S,
			      &a.harvest_interval_s) < 0)
		return pv_fail(err, PV_EUSAGE, "--interval: a duration from 1s to 1d (90, 30s, 15m, "
					       "6h), not '%s'", cli_opt(args, "interval"));
	if ((r = cli_opt_int(args, "port", strcmp(tls, "implicit") == 0 ? 995 : 110, 1, 65535,
			     &port, err)) < 0)
		return r;
	a.port = (int)port;
	/* Checked before the secret file is read, so a typo is named first. */
	if ((r = archive_account_check(&a, err)) < 0)
		return r;
	if (a.ca_file[0] && strlen(a.ca_file) >= sizeof(a.ca_file) - 1)
		return pv_fail(err, PV_EUSAGE, "--ca-file path too long");
	/* Sealed and audited inside, in the transaction that adds it. */
	if ((r = read_login(args, true, &password, &token, err)) == PV_OK)
		r = archive_account_add(ar, ctx->actor, &a, password, token, err);
	pv_secret_free(&password);
	pv_secret_free(&token);
	if (r < 0)
		return r;
	if (!ctx->json)
		printf("account %s added (%s:%d, tls %s, auth %s%s%s)\n", a.name, a.host, a.port, a.tls,
		       a.auth, a.insecure ? ", CERTIFICATE NOT VERIFIED" : "",
		       a.keep_upstream ? ", keeps mail upstream" : "");
	else
		printf("{\"added\": \"%s\", \"id\": %lld}\n", a.name, (long long)a.id);
	return PV_OK;
}

/* account change NAME: the options given, checked and audited like the
 * web API's edit (archive_account_change). */
static int account_change(struct cli_ctx *ctx, struct archive *ar, const struct cli_args *args,
			  struct pv_error *err)
{
	struct account next = {0};
	unsigned fields = 0;
	long long port;
	char *password = NULL, *token = NULL;
	int r;
	static const struct {
		const char *opt;
		unsigned bit;
		size_t off, n;
	} text[] = {
		{"host", ACCOUNT_SET_HOST, offsetof(struct account, host), sizeof(next.host)},
		{"tls", ACCOUNT_SET_TLS, offsetof(struct account, tls), sizeof(next.tls)},
		{"user", ACCOUNT_SET_USER, offsetof(struct account, user), sizeof(next.user)},
		{"auth", ACCOUNT_SET_AUTH, offsetof(struct account, auth), sizeof(next.auth)},
		{"ca-file", ACCOUNT_SET_CA_FILE, offsetof(struct account, ca_file), sizeof(next.ca_file)},
	};
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		const char *v = cli_opt(args, text[i].opt);
		if (v == NULL)
			continue;
		if (strlen(v) >= text[i].n)
			return pv_fail(err, PV_EUSAGE, "--%s is too long", text[i].opt);
		memcpy((char *)&next + text[i].off, v, strlen(v) + 1);
		fields |= text[i].bit;
	}
	ca_file_absolute(next.ca_file, sizeof(next.ca_file));
	if (cli_opt(args, "port") != NULL) {
		if ((r = cli_opt_int(args, "port", 0, 1, 65535, &port, err)) < 0)
			return r;
		next.port = (int)port;
		fields |= ACCOUNT_SET_PORT;
	}
	if ((r = read_login(args, false, &password, &token, err)) == PV_OK)
		r = archive_account_change(ar, ctx->actor, args->pos[1], &next, fields, password, token,
					   err);
	pv_secret_free(&password);
	pv_secret_free(&token);
	if (r == PV_OK && !ctx->json)
		printf("account %s changed\n", args->pos[1]);
	else if (r == PV_OK)
		printf("{\"changed\": \"%s\"}\n", args->pos[1]);
	return r;
}

struct list_state {
	bool json;
	int n;
};

static int print_account(void *ctx, const struct account *a)
{
	struct list_state *st = ctx;
	if (st->json) {
		printf("%s{\"name\": ", st->n ? ", " : "");
		json_print_str(stdout, a->name);
		printf(", \"host\": ");
		json_print_str(stdout, a->host);
		printf(", \"port\": %d, \"tls\": \"%s\", \"user\": ", a->port, a->tls);
		json_print_str(stdout, a->user);
		printf(", \"ca_file\": ");
		if (a->ca_file[0])
			json_print_str(stdout, a->ca_file);
		else
			printf("null");
		printf(", \"auth\": \"%s\", \"verify_certificate\": %s, \"keep_upstream\": %s, "
		       "\"token_command\": %s, \"harvest_interval_s\": ",
		       a->auth, a->insecure ? "false" : "true", a->keep_upstream ? "true" : "false",
		       a->token_command[0] ? "true" : "false");
		if (a->harvest_interval_s > 0)
			printf("%lld}", (long long)a->harvest_interval_s);
		else
			printf("null}");
	} else {
		if (st->n == 0)
			printf("%-20s %-32s %-9s %-20s %-14s %s\n", "NAME", "SERVER", "TLS", "USER",
			       "AUTH", "FLAGS");
		char server[300];
		snprintf(server, sizeof(server), "%s:%d", a->host, a->port);
		char flags[112];
		snprintf(flags, sizeof(flags), "%s%s%s", a->insecure ? "no-cert-check " : "",
			 a->keep_upstream ? "keep-upstream " : "",
			 a->token_command[0] ? "token-command " : "");
		if (a->harvest_interval_s > 0)
			snprintf(flags + strlen(flags), sizeof(flags) - strlen(flags), "every-%llds",
				 (long long)a->harvest_interval_s);
		size_t fl = strlen(flags);
		if (fl > 0 && flags[fl - 1] == ' ')
			flags[fl - 1] = '\0';
		printf("%-20s %-32s %-9s %-20s %-14s %s\n", a->name, server, a->tls, a->user, a->auth,
		       flags);
		if (a->ca_file[0])
			printf("%-20s CA file %s\n", "", a->ca_file);
	}
	st->n++;
	return PV_OK;
}

/* The connection test (harvest/probe.h), as the web API's
 * POST /api/v1/accounts/{name}/test runs it. */
static int account_test(struct cli_ctx *ctx, struct archive *ar, const char *name,
			struct pv_error *err)
{
	struct probe_result res;
	int r = harvest_probe_account(ar, ctx->actor, name, &res, err);
	if (r < 0)
		return r;
	if (ctx->json) {
		printf("{\"account\": ");
		json_print_str(stdout, name);
		printf(", \"ok\": %s, \"stage\": \"%s\", \"error\": ", res.ok ? "true" : "false",
		       res.stage);
		if (res.ok)
			printf("null");
		else
			json_print_str(stdout, res.error);
		printf(", \"messages\": %lld, \"elapsed_ms\": %lld}\n",
		       res.stat_ok ? (long long)res.messages : -1LL, (long long)res.elapsed_ms);
	} else {
		if (res.connected)
			printf("connected: %s\n", res.tls.active ? res.tls.version : "no TLS");
		if (res.caps[0])
			printf("capabilities:\n%s", res.caps);
		if (res.auth)
			printf("logged in with %s\n", res.auth);
		if (res.stat_ok)
			printf("%u messages, %llu octets upstream\n", res.messages,
			       (unsigned long long)res.octets);
		if (res.ok)
			printf("account %s: test passed in %lld ms\n", name, (long long)res.elapsed_ms);
	}
	if (!res.ok)
		return pv_fail(err, PV_ERR, "account %s: test failed at %s: %s", name, res.stage,
			       res.error);
	return PV_OK;
}

int cli_account(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {
		{"host", CLI_VALUE, NULL},          {"port", CLI_VALUE, NULL},
		{"tls", CLI_VALUE, NULL},           {"user", CLI_VALUE, NULL},
		{"password-file", CLI_VALUE, NULL}, {"auth", CLI_VALUE, NULL},
		{"ca-file", CLI_VALUE, NULL},       {"token-command-file", CLI_VALUE, NULL},
		{"token-command", CLI_VALUE, NULL}, /* gone: named in its error */
		{"insecure-skip-verify", CLI_FLAG, NULL},
		{"keep-upstream", CLI_FLAG, NULL},  {"interval", CLI_VALUE, NULL},
	};
	struct cli_args args = {opts, sizeof(opts) / sizeof(opts[0]), {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("account");
	struct archive *ar = NULL;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos < 1)
		return pv_fail(err, PV_EUSAGE, "account needs add, change, list, remove or test");
	const char *sub = args.pos[0];
	if (strcmp(sub, "add") != 0 && strcmp(sub, "change") != 0 && strcmp(sub, "list") != 0 &&
	    strcmp(sub, "remove") != 0 && strcmp(sub, "test") != 0)
		return pv_fail(err, PV_EUSAGE, "unknown account command '%s'", sub);
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	if (strcmp(sub, "add") == 0) {
		r = account_add(ctx, ar, &args, err);
	} else if (strcmp(sub, "list") == 0) {
		struct list_state st = {ctx->json, 0};
		if (ctx->json)
			putchar('[');
		r = archive_account_list(ar, print_account, &st, err);
		if (ctx->json)
			puts("]");
		else if (st.n == 0)
			puts("no accounts (add one with 'popvault account add')");
	} else if (args.n_pos != 2) {
		r = pv_fail(err, PV_EUSAGE, "account %s needs exactly one NAME", sub);
	} else if (strcmp(sub, "test") == 0) {
		r = account_test(ctx, ar, args.pos[1], err);
	} else if (strcmp(sub, "change") == 0) {
		r = account_change(ctx, ar, &args, err);
	} else {
		r = archive_account_remove(ar, ctx->actor, args.pos[1], err);
		if (r == PV_OK)
			printf("account %s removed; its archived mail stays\n", args.pos[1]);
	}
	archive_close(&ar);
	return r;
}
