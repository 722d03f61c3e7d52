#ifndef PV_ARCHIVE_ACCOUNTS_H
#define PV_ARCHIVE_ACCOUNTS_H

/* Managing upstream POP3 accounts (store/accounts.h): `popvault account`
 * and the web API's /api/v1/accounts call these. Each change is audited
 * inside, in the same transaction as the change (the entry and the change
 * land together or not at all). Listing is not audited; no secret is ever
 * returned. */

#include "archiver/lib/error.h"
#include "archiver/store/accounts.h"
#include "archiver/store/datadir.h"
#include "archiver/store/stats_system.h"

/* What a new account must satisfy beyond account_validate: certificate
 * checks can only be turned off where there is TLS, and then only with an
 * explicit auth mechanism (not auto). PV_EUSAGE. Front ends
 * may call it early (before reading a password); archive_account_add
 * calls it again. */
int archive_account_check(const struct account *a, struct pv_error *err);

/* Whether line is a token command popvault can run for an account with
 * --auth auth (NULL: any): lib/cmdline.h's rule, a program popvault may
 * execute, and an OAuth mechanism. PV_EUSAGE naming what is wrong. */
int archive_token_command_check(const char *line, const char *auth, struct pv_error *err);

/* Adds account a (fields filled by the caller; a->secret and
 * a->token_command ignored): checks it, seals what it logs in with (the
 * password, or else the token command line, harvest/token.h: exactly one
 * of them) under the keyring's secrets key, and inserts it after an
 * "account-add" audit entry naming the server, TLS, auth, certificate
 * checking, keep-upstream and, for a token command, its program and how
 * many arguments it has (never the arguments: they may hold secrets; the
 * upstream user name is personal data). a->id gets its id; a's sealed
 * secret is cleared before returning. PV_ERR when an active account has
 * the name. */
int archive_account_add(struct archive *ar, const char *actor, struct account *a,
			const char *password, const char *token_command, struct pv_error *err);

/* The active account name (a_r->secret sealed: never show it; free
 * with account_clear). PV_ENOTFOUND if none. Not audited. */
int archive_account_get(struct archive *ar, const char *name, struct account *a_r,
			struct pv_error *err);

/* The fields archive_account_change may set (bits). */
enum archive_account_field {
	ACCOUNT_SET_HOST = 1u << 0,
	ACCOUNT_SET_PORT = 1u << 1,
	ACCOUNT_SET_TLS = 1u << 2,
	ACCOUNT_SET_USER = 1u << 3,
	ACCOUNT_SET_AUTH = 1u << 4,
	ACCOUNT_SET_CA_FILE = 1u << 5,
	ACCOUNT_SET_KEEP_UPSTREAM = 1u << 6,
	ACCOUNT_SET_INTERVAL = 1u << 7, /* harvest_interval_s (0: serve's config) */
};

/* Edits the active account name: the fields named in `fields` are taken
 * from next (its other fields are ignored). password or token_command
 * (NULL, NULL: keep the stored one; not both) replaces what the account
 * logs in with, and switches it to that kind. Changing where or how
 * safely the secret travels (host, port, tls, ca_file, to a value other
 * than the stored one) needs a password or token command again:
 * PV_EUSAGE without, so nobody can send a stored secret to a server of
 * their choosing. Checked like an added account, then "account-change"
 * ("account=NAME changed=host,port,...,password|token-command") and the
 * update in one transaction. A request that changes nothing is PV_OK
 * without an entry. PV_ENOTFOUND if none. */
int archive_account_change(struct archive *ar, const char *actor, const char *name,
			   const struct account *next, unsigned fields, const char *password,
			   const char *token_command, struct pv_error *err);

/* Retires the active account name ("account-remove"); its archived mail
 * stays. PV_ENOTFOUND if none. */
int archive_account_remove(struct archive *ar, const char *actor, const char *name,
			   struct pv_error *err);

/* Calls fn for every active account in name order (a non-zero return
 * stops). a->secret is the sealed secret: never show it. */
int archive_account_list(struct archive *ar, int (*fn)(void *ctx, const struct account *a),
			 void *ctx, struct pv_error *err);

/* The harvest record of every active account (stats_system.h), for the
 * account list and the status page. Not audited: counts only. */
int archive_account_records(struct archive *ar, struct stats_account **records_r, size_t *n_r,
			    struct pv_error *err);

/* "Harvest now": records that actor asked for a harvest of account
 * (NULL: every account) as a "harvest-request" entry ("account=NAME" or
 * "account=*"), before the front end starts it. PV_ENOTFOUND when account
 * names no active account. */
int archive_harvest_request(struct archive *ar, const char *actor, const char *account,
			    struct pv_error *err);

#endif
