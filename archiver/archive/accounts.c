#include "archiver/archive/accounts.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/cmdline.h"
#include "archiver/lib/fsutil.h"

int archive_account_check(const struct account *a, struct pv_error *err)
{
	int r = account_validate(a, err);
	/* The CA file the harvest will load: checked now, else every harvest
	 * of the account fails at its handshake with OpenSSL's words for it. */
	if (r == PV_OK && a->ca_file[0] != '\0' && a->ca_file[0] != '/')
		r = pv_fail(err, PV_EUSAGE, "CA file %.200s: give its absolute path (serve harvests "
			    "from /, not from here)", a->ca_file);
	if (r == PV_OK && a->ca_file[0] != '\0')
		r = pv_cert_file_check("CA file", a->ca_file, err);
	if (r == PV_OK && strcmp(a->tls, "none") == 0 && a->insecure)
		r = pv_fail(err, PV_EUSAGE, "--insecure-skip-verify makes no sense with --tls none");
	/* Issue 16, finding 7: without a verified certificate the server may
	 * be anyone; auto would hand it the password (PLAIN, USER). */
	if (r == PV_OK && a->insecure && strcmp(a->auth, "auto") == 0)
		r = pv_fail(err, PV_EUSAGE, "--insecure-skip-verify needs an explicit --auth: the "
			    "server's certificate is not checked, so auto could send the password "
			    "to anyone in the path");
	return r;
}

int archive_token_command_check(const char *line, const char *auth, struct pv_error *err)
{
	struct pv_cmdline c;
	int r = pv_cmdline_split(line, &c, err);
	if (r < 0)
		return pv_error_prefix(err, "token command");
	if (access(c.argv[0], X_OK) != 0)
		r = pv_fail(err, PV_EUSAGE, "token command: %.200s is not a program popvault may run",
			    c.argv[0]);
	else if (auth != NULL && strcmp(auth, "xoauth2") != 0 && strcmp(auth, "oauthbearer") != 0)
		r = pv_fail(err, PV_EUSAGE, "a token command logs in with auth xoauth2 or "
					    "oauthbearer, not %s", auth);
	pv_cmdline_free(&c);
	return r;
}

/* Seals what a logs in with, bound to a's name and server (the fields
 * set already): the password, or the token command line (a leaves
 * a->token_command describing it). */
static int seal_login(struct archive *ar, struct account *a, const char *password,
		      const char *token_command, struct pv_error *err)
{
	a->token_command[0] = '\0';
	if (token_command != NULL)
		account_token_describe(token_command, a->token_command, sizeof(a->token_command));
	return account_seal(ar->kr, a, token_command ? token_command : password, err);
}

int archive_account_add(struct archive *ar, const char *actor, struct account *a,
			const char *password, const char *token_command, struct pv_error *err)
{
	char token_audit[1100] = "";
	int r;
	a->secret = NULL;
	a->secret_len = 0;
	if ((password == NULL) == (token_command == NULL))
		return pv_fail(err, PV_EUSAGE, "an account logs in with a password or a token command");
	if ((r = archive_account_check(a, err)) < 0 ||
	    (token_command != NULL &&
	     (r = archive_token_command_check(token_command, a->auth, err)) < 0) ||
	    (r = seal_login(ar, a, password, token_command, err)) < 0)
		return r;
	if (token_command != NULL) {
		struct pv_cmdline c;
		if ((r = pv_cmdline_split(token_command, &c, err)) < 0)
			return r;
		/* Which program, never its arguments: they may hold secrets. */
		snprintf(token_audit, sizeof(token_audit), " token-command=%.1000s token-command-args=%zu",
			 c.argv[0], c.argc - 1);
		pv_cmdline_free(&c);
	}
	a->created_at = pv_clock_now();
	/* The upstream user name is personal data. */
	if ((r = catalog_begin(ar->cat, err)) == PV_OK) {
		if ((r = archive_auditf(ar, actor, AUDIT_ACCOUNT_ADD, "ok", a->user, err,
					"account=%s server=%s:%d tls=%s auth=%s verify-cert=%s "
					"keep-upstream=%s%s",
					a->name, a->host, a->port, a->tls, a->auth,
					a->insecure ? "no" : "yes", a->keep_upstream ? "yes" : "no",
					token_audit)) < 0 ||
		    (r = account_insert(ar->cat->conn, a, err)) < 0 ||
		    (r = catalog_commit(ar->cat, err)) < 0)
			catalog_rollback(ar->cat);
	}
	account_clear(a);
	return r;
}

int archive_account_remove(struct archive *ar, const char *actor, const char *name,
			   struct pv_error *err)
{
	int r;
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = archive_auditf(ar, actor, AUDIT_ACCOUNT_REMOVE, "ok", NULL, err, "account=%s",
				name)) < 0 ||
	    (r = account_retire(ar->cat->conn, name, pv_clock_now(), err)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
	return r;
}

int archive_account_list(struct archive *ar, int (*fn)(void *ctx, const struct account *a),
			 void *ctx, struct pv_error *err)
{
	return account_each(ar->cat->conn, fn, ctx, err);
}

int archive_account_get(struct archive *ar, const char *name, struct account *a_r,
			struct pv_error *err)
{
	return account_load(ar->cat->conn, name, a_r, err);
}

/* Applies the fields of next named in `fields` to a; lists what differs
 * in changed (comma-separated) and whether it concerns the password's way. */
static void apply_fields(struct account *a, const struct account *next, unsigned fields,
			 char *changed, size_t n, bool *route_r)
{
	struct {
		unsigned bit;
		const char *name;
		bool route, differs;
	} f[] = {
		{ACCOUNT_SET_HOST, "host", true, strcmp(a->host, next->host) != 0},
		{ACCOUNT_SET_PORT, "port", true, a->port != next->port},
		{ACCOUNT_SET_TLS, "tls", true, strcmp(a->tls, next->tls) != 0},
		{ACCOUNT_SET_USER, "user", false, strcmp(a->user, next->user) != 0},
		{ACCOUNT_SET_AUTH, "auth", false, strcmp(a->auth, next->auth) != 0},
		{ACCOUNT_SET_CA_FILE, "ca-file", true, strcmp(a->ca_file, next->ca_file) != 0},
		{ACCOUNT_SET_KEEP_UPSTREAM, "keep-upstream", false,
		 a->keep_upstream != next->keep_upstream},
		{ACCOUNT_SET_INTERVAL, "interval", false,
		 a->harvest_interval_s != next->harvest_interval_s},
	};
	*route_r = false;
	changed[0] = '\0';
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!(fields & f[i].bit) || !f[i].differs)
			continue;
		*route_r = *route_r || f[i].route;
		size_t l = strlen(changed);
		snprintf(changed + l, n - l, "%s%s", l ? "," : "", f[i].name);
	}
	if (fields & ACCOUNT_SET_HOST)
		memcpy(a->host, next->host, sizeof(a->host));
	if (fields & ACCOUNT_SET_PORT)
		a->port = next->port;
	if (fields & ACCOUNT_SET_TLS)
		memcpy(a->tls, next->tls, sizeof(a->tls));
	if (fields & ACCOUNT_SET_USER)
		memcpy(a->user, next->user, sizeof(a->user));
	if (fields & ACCOUNT_SET_AUTH)
		memcpy(a->auth, next->auth, sizeof(a->auth));
	if (fields & ACCOUNT_SET_CA_FILE)
		memcpy(a->ca_file, next->ca_file, sizeof(a->ca_file));
	if (fields & ACCOUNT_SET_KEEP_UPSTREAM)
		a->keep_upstream = next->keep_upstream;
	if (fields & ACCOUNT_SET_INTERVAL)
		a->harvest_interval_s = next->harvest_interval_s;
}

int archive_account_change(struct archive *ar, const char *actor, const char *name,
			   const struct account *next, unsigned fields, const char *password,
			   const char *token_command, struct pv_error *err)
{
	struct account a;
	char changed[128] = "";
	bool route;
	int r;

	memset(&a, 0, sizeof(a));
	if (password != NULL && token_command != NULL)
		return pv_fail(err, PV_EUSAGE, "an account logs in with a password or a token command, "
					       "not both");
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = account_load(ar->cat->conn, name, &a, err)) < 0)
		goto out;
	bool had_token = a.token_command[0] != '\0';
	apply_fields(&a, next, fields, changed, sizeof(changed), &route);
	if (route && password == NULL && token_command == NULL) {
		r = pv_fail(err, PV_EUSAGE, "changing %s needs the %s again", changed,
			    had_token ? "token command" : "password");
		goto out;
	}
	if (token_command != NULL &&
	    (r = archive_token_command_check(token_command, a.auth, err)) < 0)
		goto out;
	if (password == NULL && token_command == NULL && had_token &&
	    (fields & ACCOUNT_SET_AUTH) && strcmp(a.auth, "xoauth2") != 0 &&
	    strcmp(a.auth, "oauthbearer") != 0) {
		r = pv_fail(err, PV_EUSAGE, "a token command logs in with auth xoauth2 or "
					    "oauthbearer, not %s", a.auth);
		goto out;
	}
	if (password != NULL || token_command != NULL) {
		account_clear(&a);
		if ((r = seal_login(ar, &a, password, token_command, err)) < 0)
			goto out;
		size_t l = strlen(changed);
		snprintf(changed + l, sizeof(changed) - l, "%s%s", l ? "," : "",
			 token_command ? "token-command" : "password");
	}
	if (changed[0] == '\0')
		goto out; /* nothing to change, nothing to record */
	if ((r = archive_account_check(&a, err)) < 0)
		goto out;
	if ((r = archive_auditf(ar, actor, AUDIT_ACCOUNT_CHANGE, "ok",
				(fields & ACCOUNT_SET_USER) ? a.user : NULL, err,
				"account=%s changed=%s server=%s:%d tls=%s auth=%s keep-upstream=%s",
				a.name, changed, a.host, a.port, a.tls, a.auth,
				a.keep_upstream ? "yes" : "no")) < 0 ||
	    (r = account_update(ar->cat->conn, &a, err)) < 0)
		goto out;
	r = catalog_commit(ar->cat, err);
out:
	if (r < 0 || changed[0] == '\0')
		catalog_rollback(ar->cat);
	account_clear(&a);
	return r;
}

int archive_account_records(struct archive *ar, struct stats_account **records_r, size_t *n_r,
			    struct pv_error *err)
{
	return stats_accounts(ar->cat->conn, records_r, n_r, err);
}

int archive_harvest_request(struct archive *ar, const char *actor, const char *account,
			    struct pv_error *err)
{
	struct account a;
	int r;
	if (account != NULL) {
		if ((r = account_load(ar->cat->conn, account, &a, err)) < 0)
			return r;
		account_clear(&a);
	}
	return archive_auditf(ar, actor, AUDIT_HARVEST_REQUEST, "ok", NULL, err, "account=%s",
			      account ? account : "*");
}
