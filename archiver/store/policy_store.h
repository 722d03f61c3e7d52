#ifndef PV_POLICY_STORE_H
#define PV_POLICY_STORE_H

/* Retention policy versions in the catalog (table policy_versions,
 * migration 2). A version is the exact file an admin set, numbered 1, 2,
 * ... in order; versions are never edited or deleted (triggers refuse it),
 * and the highest one is in force. Its SHA-256 is what the audit log
 * cites; loading a version re-checks it, so an edited row is an integrity
 * failure, not a silently different policy. On lib/db.h: SQLite or
 * PostgreSQL (callers pass the catalog's conn). */

#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/db.h"
#include "archiver/lib/error.h"

#define POLICY_SHA256_HEX_LEN 65 /* 64 hex digits and NUL */

struct policy_version_info {
	int64_t version;
	char sha256[POLICY_SHA256_HEX_LEN]; /* hex, of the exact text */
	int64_t created_at;               /* unix seconds */
	char actor[128];                  /* "cli:root", "system", ... */
};

/* The policy `popvault init` stores as version 1: what popvault did before
 * policies existed (keep six years, then dispose), now explicit. */
extern const char policy_store_initial_text[];

/* The version in force (the highest); PV_ENOTFOUND when none is stored. */
int policy_store_current(struct db *db, struct policy_version_info *info_r, struct pv_error *err);

/* The exact text of a version: *text_r is malloc'ed (NUL-terminated, not
 * counted in *len_r), the caller frees it. info_r may be NULL.
 * PV_ENOTFOUND when there is no such version, PV_EINTEGRITY when the text
 * does not hash to the recorded SHA-256. */
int policy_store_get(struct db *db, int64_t version, unsigned char **text_r, size_t *len_r,
		     struct policy_version_info *info_r, struct pv_error *err) PV_WARN_UNUSED;

/* Stores text (a policy that parsed; the caller checks) as the next
 * version with its SHA-256, inside the caller's transaction if one is
 * open. *version_r gets its number. */
int policy_store_add(struct db *db, const unsigned char *text, size_t len, const char *actor,
		     int64_t now, int64_t *version_r, struct pv_error *err);

/* Calls fn for every version, oldest first; a non-zero return stops. */
int policy_store_each(struct db *db, int (*fn)(void *ctx, const struct policy_version_info *v),
		      void *ctx, struct pv_error *err);

#endif
