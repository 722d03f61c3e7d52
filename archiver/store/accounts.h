#ifndef PV_ACCOUNTS_H
#define PV_ACCOUNTS_H

/* Upstream POP3 accounts in the catalog. The secret an account logs in
 * with, its password or its OAuth token command (harvest/token.h), is
 * stored sealed under the keyring's secrets key and never printed.
 * Written against lib/db.h: runs on SQLite and PostgreSQL. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/db.h"
#include "archiver/store/keyring.h"

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
	/* "" for a password account; for a token-command account what may be
	 * shown of it (account_token_describe: the program, how many
	 * arguments); the command line itself is the sealed secret */
	char token_command[1024];
	bool insecure;            /* certificate verification off (audited) */
	bool keep_upstream;       /* never DELE (migrations; audited) */
	int64_t harvest_interval_s; /* serve: between its harvests; 0: the config's */
	unsigned char *secret;    /* sealed; malloc'ed */
	size_t secret_len;
	int64_t created_at;
};

/* What may be shown of a token command line (split by lib/cmdline.h):
 * "PROGRAM (N arguments, not shown)"; arguments may hold secrets. */
void account_token_describe(const char *line, char *out, size_t n);

/* Seals secret, what a logs in with (its password, or its token command
 * line when a->token_command is set), bound to a (keyring.h): the kind of
 * secret, the account's name, and what decides where and how safely it
 * travels (host, port, tls, ca_file, certificate checking). Replaces
 * a->secret. */
int account_seal(struct keyring *kr, struct account *a, const char *secret,
		 struct pv_error *err);
/* Opens a's sealed secret under the same binding. A secret sealed for
 * another row or server (the catalog edited) is PV_EINTEGRITY, saying to
 * give it again. *secret_r: pv_secret_free. */
int account_open(struct keyring *kr, const struct account *a, char **secret_r,
		 struct pv_error *err) PV_WARN_UNUSED;

/* The one-time upgrade of catalogs before issue 16 (store/datadir.c runs
 * it while the keyring is not marked bound), for every account, retired
 * ones too: a format 1 sealed secret is sealed again bound to its row;
 * a token command kept in clear (accounts.token_command, the sealed secret
 * empty) becomes the sealed secret, leaving account_token_describe's text
 * in the column. A secret that does not open is left for account_open to
 * report. Inside the caller's transaction. *changed_r: rows rewritten. */
int accounts_upgrade_secrets(struct db *db, struct keyring *kr, int *changed_r,
			     struct pv_error *err);

/* Validates the fields a user typed; names the first bad one. */
int account_validate(const struct account *a, struct pv_error *err);
/* Inserts a new account; PV_ERR if an active account has the name. */
int account_insert(struct db *db, struct account *a, struct pv_error *err);
/* Loads an active account by name; PV_ENOTFOUND if none. */
int account_load(struct db *db, const char *name, struct account *a_r, struct pv_error *err);
/* Writes a's editable fields (host, port, tls, user, auth, ca_file,
 * keep_upstream, token_command and the sealed secret) over the active
 * account a->id;
 * PV_ENOTFOUND if it is not active. */
int account_update(struct db *db, const struct account *a, struct pv_error *err);
/* Lists active accounts: calls fn for each in name order. */
int account_each(struct db *db, int (*fn)(void *ctx, const struct account *a), void *ctx,
		 struct pv_error *err);
/* Retires an account (its archived mail stays); PV_ENOTFOUND if none. */
int account_retire(struct db *db, const char *name, int64_t now, struct pv_error *err);
/* Frees the sealed secret held by a. */
void account_clear(struct account *a);

#endif
