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

/* What a new account must satisfy beyond account_validate: certificate
 * checks can only be turned off where there is TLS. PV_EUSAGE. Front ends
 * may call it early (before reading a password); archive_account_add
 * calls it again. */
int archive_account_check(const struct account *a, struct pv_error *err);

/* Adds account a (fields filled by the caller; a->secret ignored): checks
 * it, seals secret (the password; "" for token-command accounts) under the
 * keyring's secrets key, and inserts it after an "account-add" audit entry
 * naming the server, TLS, auth, certificate checking and keep-upstream
 * (the upstream user name is personal data). a->id gets its id; a's
 * sealed secret is cleared before returning. PV_ERR when an active
 * account has the name. */
int archive_account_add(struct archive *ar, const char *actor, struct account *a,
			const char *secret, struct pv_error *err);

/* Retires the active account name ("account-remove"); its archived mail
 * stays. PV_ENOTFOUND if none. */
int archive_account_remove(struct archive *ar, const char *actor, const char *name,
			   struct pv_error *err);

/* Calls fn for every active account in name order (a non-zero return
 * stops). a->secret is the sealed secret: never show it. */
int archive_account_list(struct archive *ar, int (*fn)(void *ctx, const struct account *a),
			 void *ctx, struct pv_error *err);

#endif
