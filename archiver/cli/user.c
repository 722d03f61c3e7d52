/* popvault user add NAME --role R --password-file F [--replace] [--one-time] | user list |
 * user remove NAME */
#include <stdio.h>
#include <string.h>

#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/archive/users.h"

struct list_state {
	bool json;
	int n;
};

static int print_user(void *ctx, const struct user *u)
{
	struct list_state *st = ctx;
	char t[PV_RFC3339_LEN];
	pv_clock_format_rfc3339(u->changed_at ? u->changed_at : u->created_at, t);
	if (st->json) {
		printf("%s{\"name\": ", st->n ? ", " : "");
		json_print_str(stdout, u->name);
		printf(", \"role\": \"%s\", \"since\": \"%s\", \"totp\": %s, \"totp_pending\": %s,"
		       " \"password_once\": %s, \"access\": ",
		       u->role, t, u->totp ? "true" : "false", u->totp_pending ? "true" : "false",
		       u->password_once ? "true" : "false");
		if (u->access_approval == 0)
			printf("null}");
		else
			printf("{\"approval\": %lld, \"state\": \"%s\"}}",
			       (long long)u->access_approval, u->access_state);
	} else {
		const char *second = u->totp ? "yes" : u->totp_pending ? "setting-up" : "no";
		char access[48] = "yes";
		if (u->access_approval != 0)
			snprintf(access, sizeof(access), "%s (approval %lld)",
				 strcmp(u->access_state, "rejected") == 0 ? "refused" : "waits",
				 (long long)u->access_approval);
		if (st->n == 0)
			printf("%-32s %-11s %-20s %-10s %-9s %s\n", "NAME", "ROLE", "SINCE", "TOTP",
			       "PASSWORD", "SIGN-IN");
		printf("%-32s %-11s %-20s %-10s %-9s %s\n", u->name, u->role, t, second,
		       u->password_once ? "one-time" : "own", access);
	}
	st->n++;
	return PV_OK;
}

/* Add or change: audited inside, in the same transaction as the change. */
static int user_add(struct cli_ctx *ctx, struct archive *ar, const struct cli_args *args,
		    struct pv_error *err)
{
	const char *role = cli_opt(args, "role"), *pwfile = cli_opt(args, "password-file");
	char *password = NULL;
	bool changed = false;
	int r;

	if (args->n_pos != 2 || role == NULL || pwfile == NULL)
		return pv_fail(err, PV_EUSAGE, "user add needs NAME, --role and --password-file");
	const char *name = args->pos[1];
	/* Checked before the password file is read, so a typo is named first. */
	if ((r = user_validate(name, role, err)) < 0 ||
	    (r = pv_read_secret_file(pwfile, &password, err)) < 0)
		return r;
	r = archive_user_add(ar, ctx->actor, name, role, password, cli_opt(args, "replace") != NULL,
			     cli_opt(args, "one-time") != NULL, &changed, err);
	pv_secret_free(&password);
	if (r == PV_OK)
		printf("user %s %s (role %s)\n", name, changed ? "changed" : "added", role);
	return r;
}

static int user_remove(struct cli_ctx *ctx, struct archive *ar, const struct cli_args *args,
		       struct pv_error *err)
{
	int r;
	if (args->n_pos != 2)
		return pv_fail(err, PV_EUSAGE, "user remove needs exactly one NAME");
	if ((r = archive_user_remove(ar, ctx->actor, args->pos[1], err)) == PV_OK)
		printf("user %s removed\n", args->pos[1]);
	return r;
}

int cli_user(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"role", CLI_VALUE, NULL}, {"password-file", CLI_VALUE, NULL},
				 {"replace", CLI_FLAG, NULL}, {"remove", CLI_FLAG, NULL},
				 {"one-time", CLI_FLAG, NULL}};
	struct cli_args args = {opts, 5, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("user");
	struct archive *ar = NULL;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	const char *sub = args.n_pos > 0 ? args.pos[0] : "";
	bool auth = strcmp(sub, "passwd") == 0 || strcmp(sub, "totp") == 0 ||
		    strcmp(sub, "require-totp") == 0;
	if (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "remove") != 0 &&
	    !auth)
		return pv_fail(err, PV_EUSAGE,
			       "user needs add, passwd, totp, require-totp, list or remove");
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	if (auth) {
		r = cli_user_auth(ctx, ar, &args, err);
	} else if (strcmp(sub, "add") == 0) {
		r = user_add(ctx, ar, &args, err);
	} else if (strcmp(sub, "remove") == 0) {
		r = user_remove(ctx, ar, &args, err);
	} else {
		struct list_state st = {ctx->json, 0};
		if (ctx->json)
			putchar('[');
		r = archive_user_list(ar, print_user, &st, err);
		if (ctx->json)
			puts("]");
		else if (st.n == 0)
			puts("no users (add one with 'popvault user add')");
	}
	archive_close(&ar);
	return r;
}
