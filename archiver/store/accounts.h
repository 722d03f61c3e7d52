#ifndef PV_ACCOUNTS_H
#define PV_ACCOUNTS_H

/* Upstream POP3 accounts in the catalog. Secrets (passwords, tokens) are
 * stored sealed under the keyring's secrets key and never printed. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/store/catalog.h"

#define ACCOUNT_NAME_MAX 64
/* An account's own harvest interval: as [harvest] interval, 1 s to a day. */
#define ACCOUNT_INTERVAL_MAX_S 86400

struct account {
	int64_t id;
	char name[ACCOUNT_NAME_MAX + 1];
	char host[256];
	int port;
	char tls[16];   /* implicit | starttls | none */
	char user[256];
	char auth[32];  /* auto | user | apop | plain | login | cram-md5 | scram-sha-256 | xoauth2 | oauthbearer */
	char ca_file[1024];       /* "" = system trust store */
	char token_command[1024]; /* "" = none */
	bool insecure;            /* certificate verification off (audited) */
	bool keep_upstream;       /* never DELE (migrations; audited) */
	int64_t harvest_interval_s; /* serve: between its harvests; 0: the config's */
	unsigned char *secret;    /* sealed; malloc'ed */
	size_t secret_len;
	int64_t created_at;
};

/* Validates the fields a user typed; names the first bad one. */
int account_validate(const struct account *a, struct pv_error *err);
/* Inserts a new account; PV_ERR if an active account has the name. */
int account_insert(sqlite3 *db, struct account *a, struct pv_error *err);
/* Loads an active account by name; PV_ENOTFOUND if none. */
int account_load(sqlite3 *db, const char *name, struct account *a_r, struct pv_error *err);
/* Writes a's editable fields (host, port, tls, user, auth, ca_file,
 * keep_upstream and the sealed secret) over the active account a->id;
 * PV_ENOTFOUND if it is not active. */
int account_update(sqlite3 *db, const struct account *a, struct pv_error *err);
/* Lists active accounts: calls fn for each in name order. */
int account_each(sqlite3 *db, int (*fn)(void *ctx, const struct account *a), void *ctx,
		 struct pv_error *err);
/* Retires an account (its archived mail stays); PV_ENOTFOUND if none. */
int account_retire(sqlite3 *db, const char *name, int64_t now, struct pv_error *err);
/* Frees the sealed secret held by a. */
void account_clear(struct account *a);

#endif
