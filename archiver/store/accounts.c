#include "archiver/store/accounts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/cmdline.h"
#include "archiver/lib/secret.h"

static const char *const tls_modes[] = {"implicit", "starttls", "none", NULL};
static const char *const auth_modes[] = {"auto", "user", "apop", "plain", "login", "cram-md5",
					 "scram-sha-256", "xoauth2", "oauthbearer", NULL};

static bool one_of(const char *v, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(v, *list) == 0)
			return true;
	return false;
}

void account_token_describe(const char *line, char *out, size_t n)
{
	struct pv_cmdline c;
	struct pv_error e;
	if (pv_cmdline_split(line, &c, &e) < 0) {
		snprintf(out, n, "(not a plain command line: give it again)");
		return;
	}
	snprintf(out, n, "%.900s (%zu argument%s, not shown)", c.argv[0], c.argc - 1,
		 c.argc == 2 ? "" : "s");
	pv_cmdline_free(&c);
}

/* The associated data that binds a's secret to it (keyring.h). */
static size_t account_ad(const struct account *a, char port[8], const char *ad[KEYRING_AD_MAX])
{
	snprintf(port, 8, "%d", a->port);
	ad[0] = a->token_command[0] ? "account token-command" : "account password";
	ad[1] = a->name;
	ad[2] = a->host;
	ad[3] = port;
	ad[4] = a->tls;
	ad[5] = a->ca_file;
	ad[6] = a->insecure ? "no-cert-check" : "cert-check";
	return 7;
}

int account_seal(struct keyring *kr, struct account *a, const char *secret,
		 struct pv_error *err)
{
	const char *ad[KEYRING_AD_MAX];
	char port[8];
	size_t n = account_ad(a, port, ad);
	unsigned char *sealed = NULL;
	size_t len = 0;
	int r = keyring_seal_secret(kr, ad, n, secret, &sealed, &len, err);
	if (r < 0)
		return r;
	account_clear(a);
	a->secret = sealed;
	a->secret_len = len;
	return PV_OK;
}

int account_open(struct keyring *kr, const struct account *a, char **secret_r,
		 struct pv_error *err)
{
	const char *ad[KEYRING_AD_MAX];
	char port[8];
	size_t n = account_ad(a, port, ad);
	int r = keyring_open_secret(kr, ad, n, a->secret, a->secret_len, secret_r, err);
	if (r == PV_EINTEGRITY)
		pv_error_prefix(err, "account %s: its %s does not open for this account and server "
				     "(moved from another account's row, or the server changed "
				     "without it being given again); give it again with popvault "
				     "account change %s %s",
				a->name, a->token_command[0] ? "token command" : "password", a->name,
				a->token_command[0] ? "--token-command-file F" : "--password-file F");
	return r;
}

static void copy_text(char *dst, size_t n, struct db_stmt *st, int col)
{
	const char *t = db_column_text(st, col);
	snprintf(dst, n, "%s", t ? t : "");
}

int accounts_upgrade_secrets(struct db *db, struct keyring *kr, int *changed_r,
			     struct pv_error *err)
{
	struct db_stmt *st, *up = NULL;
	struct account a;
	*changed_r = 0;
	int r = db_prepare(db, "SELECT id, name, host, port, tls, ca_file, insecure,"
			       " token_command, secret FROM accounts", &st, err);
	if (r < 0)
		return r;
	while (r == PV_OK && (r = db_step(st, err)) == DB_ROW) {
		size_t sealed_len;
		const unsigned char *sealed = db_column_blob(st, 8, &sealed_len);
		char *old = NULL;
		r = PV_OK;
		if (keyring_sealed_bound(sealed, sealed_len))
			continue;
		if (keyring_open_unbound(kr, sealed, sealed_len, &old, err) < 0) {
			pv_error_clear(err); /* account_open says so when it is used */
			continue;
		}
		memset(&a, 0, sizeof(a));
		copy_text(a.name, sizeof(a.name), st, 1);
		copy_text(a.host, sizeof(a.host), st, 2);
		a.port = (int)db_column_int64(st, 3);
		copy_text(a.tls, sizeof(a.tls), st, 4);
		copy_text(a.ca_file, sizeof(a.ca_file), st, 5);
		a.insecure = db_column_int64(st, 6) != 0;
		const char *tc = db_column_text(st, 7);
		const char *secret = old;
		if (tc != NULL && tc[0] != '\0' && old[0] == '\0') {
			/* token_command held the command in clear then, the secret "" */
			account_token_describe(tc, a.token_command, sizeof(a.token_command));
			secret = tc;
		} else if (tc != NULL) {
			snprintf(a.token_command, sizeof(a.token_command), "%s", tc);
		}
		r = account_seal(kr, &a, secret, err);
		pv_secret_free(&old);
		if (r == PV_OK && up == NULL)
			r = db_prepare(db, "UPDATE accounts SET token_command = ?, secret = ?"
					   " WHERE id = ?", &up, err);
		if (r == PV_OK) {
			if (a.token_command[0])
				db_bind_text(up, 1, a.token_command, -1);
			else
				db_bind_null(up, 1);
			db_bind_blob(up, 2, a.secret, a.secret_len);
			db_bind_int64(up, 3, db_column_int64(st, 0));
			if ((r = db_step(up, err)) >= 0)
				r = PV_OK;
			db_reset(up);
			(*changed_r)++;
		}
		account_clear(&a);
	}
	db_finalize(&st);
	db_finalize(&up);
	return r < 0 ? r : PV_OK;
}

int account_validate(const struct account *a, struct pv_error *err)
{
	size_t n = strlen(a->name);
	if (n == 0 || n > ACCOUNT_NAME_MAX || strspn(a->name, "abcdefghijklmnopqrstuvwxyz"
						      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n ||
	    strcmp(a->name, ".") == 0 || strcmp(a->name, "..") == 0) /* a path segment of the API */
		return pv_fail(err, PV_EUSAGE,
			       "account name must be 1-%d letters, digits, '.', '_' or '-' (not . or ..)",
			       ACCOUNT_NAME_MAX);
	if (a->host[0] == '\0' || strpbrk(a->host, " /\t\r\n") != NULL)
		return pv_fail(err, PV_EUSAGE, "--host must be a host name or address");
	if (a->port < 1 || a->port > 65535)
		return pv_fail(err, PV_EUSAGE, "--port must be from 1 to 65535");
	if (!one_of(a->tls, tls_modes))
		return pv_fail(err, PV_EUSAGE, "--tls must be implicit, starttls or none");
	if (!one_of(a->auth, auth_modes))
		return pv_fail(err, PV_EUSAGE, "--auth '%s' is not a known mechanism", a->auth);
	if (a->user[0] == '\0' || strpbrk(a->user, "\r\n") != NULL)
		return pv_fail(err, PV_EUSAGE, "--user must be given, on one line");
	if (a->harvest_interval_s < 0 || a->harvest_interval_s > ACCOUNT_INTERVAL_MAX_S)
		return pv_fail(err, PV_EUSAGE, "--interval must be from 1 s to 1 day");
	return PV_OK;
}

int account_insert(struct db *db, struct account *a, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db,
				"INSERT INTO accounts (name, host, port, tls, username, auth, ca_file,"
				" token_command, insecure, keep_upstream, secret, created_at,"
				" harvest_interval_s) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
				" ON CONFLICT DO NOTHING RETURNING id",
				&st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, a->name, -1);
	db_bind_text(st, 2, a->host, -1);
	db_bind_int64(st, 3, a->port);
	db_bind_text(st, 4, a->tls, -1);
	db_bind_text(st, 5, a->user, -1);
	db_bind_text(st, 6, a->auth, -1);
	if (a->ca_file[0])
		db_bind_text(st, 7, a->ca_file, -1);
	if (a->token_command[0])
		db_bind_text(st, 8, a->token_command, -1);
	db_bind_int64(st, 9, a->insecure);
	db_bind_int64(st, 10, a->keep_upstream);
	db_bind_blob(st, 11, a->secret, a->secret_len);
	db_bind_int64(st, 12, a->created_at);
	if (a->harvest_interval_s > 0)
		db_bind_int64(st, 13, a->harvest_interval_s);
	/* no row: the name is taken (the unique index on active names) */
	if ((r = db_step(st, err)) == DB_ROW) {
		a->id = db_column_int64(st, 0);
		r = PV_OK;
	} else if (r == DB_DONE) {
		r = pv_fail(err, PV_ERR, "an account named '%s' exists", a->name);
	}
	db_finalize(&st);
	return r;
}

#define ACCOUNT_COLUMNS                                                                     \
	"id, name, host, port, tls, username, auth, ca_file, token_command, insecure,"     \
	" keep_upstream, secret, created_at, coalesce(harvest_interval_s, 0)"

static int row_to_account(struct db_stmt *st, struct account *a, struct pv_error *err)
{
	memset(a, 0, sizeof(*a));
	a->id = db_column_int64(st, 0);
	copy_text(a->name, sizeof(a->name), st, 1);
	copy_text(a->host, sizeof(a->host), st, 2);
	a->port = (int)db_column_int64(st, 3);
	copy_text(a->tls, sizeof(a->tls), st, 4);
	copy_text(a->user, sizeof(a->user), st, 5);
	copy_text(a->auth, sizeof(a->auth), st, 6);
	copy_text(a->ca_file, sizeof(a->ca_file), st, 7);
	copy_text(a->token_command, sizeof(a->token_command), st, 8);
	a->insecure = db_column_int64(st, 9) != 0;
	a->keep_upstream = db_column_int64(st, 10) != 0;
	const void *secret = db_column_blob(st, 11, &a->secret_len);
	a->secret = malloc(a->secret_len ? a->secret_len : 1);
	if (a->secret == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (a->secret_len)
		memcpy(a->secret, secret, a->secret_len);
	a->created_at = db_column_int64(st, 12);
	a->harvest_interval_s = db_column_int64(st, 13);
	return PV_OK;
}

int account_load(struct db *db, const char *name, struct account *a_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT " ACCOUNT_COLUMNS " FROM accounts"
				    " WHERE name = ? AND removed_at IS NULL", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, name, -1);
	if ((r = db_step(st, err)) == DB_ROW)
		r = row_to_account(st, a_r, err);
	else if (r == DB_DONE)
		r = pv_fail(err, PV_ENOTFOUND, "no account named '%s'", name);
	db_finalize(&st);
	return r;
}

int account_each(struct db *db, int (*fn)(void *ctx, const struct account *a), void *ctx,
		 struct pv_error *err)
{
	struct db_stmt *st;
	struct account a;
	int r = db_prepare(db, "SELECT " ACCOUNT_COLUMNS " FROM accounts"
				    " WHERE removed_at IS NULL ORDER BY name", &st, err);
	if (r < 0)
		return r;
	while (r == PV_OK && (r = db_step(st, err)) == DB_ROW) {
		if ((r = row_to_account(st, &a, err)) == PV_OK)
			r = fn(ctx, &a);
		account_clear(&a);
	}
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

/* Steps a statement that returns no row and finalizes it; *changes_r
 * gets the rows it changed. */
static int run(struct db_stmt **st, int64_t *changes_r, struct pv_error *err)
{
	int r = db_step(*st, err);
	*changes_r = db_changes(*st);
	db_finalize(st);
	return r < 0 ? r : PV_OK;
}

int account_retire(struct db *db, const char *name, int64_t now, struct pv_error *err)
{
	struct db_stmt *st;
	int64_t changed;
	int r = db_prepare(db, "UPDATE accounts SET removed_at = ?"
				    " WHERE name = ? AND removed_at IS NULL", &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, now);
	db_bind_text(st, 2, name, -1);
	if ((r = run(&st, &changed, err)) == PV_OK && changed == 0)
		r = pv_fail(err, PV_ENOTFOUND, "no account named '%s'", name);
	return r;
}

int account_update(struct db *db, const struct account *a, struct pv_error *err)
{
	struct db_stmt *st;
	int64_t changed;
	int r = db_prepare(db, "UPDATE accounts SET host = ?, port = ?, tls = ?, username = ?,"
				    " auth = ?, ca_file = ?, keep_upstream = ?, secret = ?,"
				    " token_command = ?, harvest_interval_s = ? WHERE id = ? AND removed_at IS NULL",
				    &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, a->host, -1);
	db_bind_int64(st, 2, a->port);
	db_bind_text(st, 3, a->tls, -1);
	db_bind_text(st, 4, a->user, -1);
	db_bind_text(st, 5, a->auth, -1);
	if (a->ca_file[0])
		db_bind_text(st, 6, a->ca_file, -1);
	db_bind_int64(st, 7, a->keep_upstream);
	db_bind_blob(st, 8, a->secret, a->secret_len);
	if (a->token_command[0])
		db_bind_text(st, 9, a->token_command, -1);
	if (a->harvest_interval_s > 0)
		db_bind_int64(st, 10, a->harvest_interval_s);
	db_bind_int64(st, 11, a->id);
	if ((r = run(&st, &changed, err)) == PV_OK && changed == 0)
		r = pv_fail(err, PV_ENOTFOUND, "no account named '%s'", a->name);
	return r;
}

void account_clear(struct account *a)
{
	free(a->secret);
	a->secret = NULL;
	a->secret_len = 0;
}
