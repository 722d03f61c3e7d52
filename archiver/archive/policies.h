#ifndef PV_POLICIES_H
#define PV_POLICIES_H

/* Stored policy versions, parsed: the bridge between the catalog's
 * policy_versions table (store/policy_store.h) and the rule language
 * (policy/policy.h); and the policy operations front ends call (`popvault
 * policy check|set|show|list`, the web API). Setting a version is audited
 * inside; reading policies is not (they are rules, not archived content). */

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/archive/retention.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"
#include "archiver/store/policy_store.h"
#include "policy/policy.h"

/* Version `version`, parsed; the caller frees *p_r with policy_free. A
 * stored version whose text no longer matches its SHA-256, or that does
 * not parse (it parsed when it was set), is PV_EINTEGRITY. info_r may be
 * NULL. */
int policy_version_load(sqlite3 *db, int64_t version, struct policy **p_r,
			struct policy_version_info *info_r, struct pv_error *err) PV_WARN_UNUSED;

/* Stores p's exact source as the next version (see policy_store_add). */
int policy_version_add(sqlite3 *db, const struct policy *p, const char *actor, int64_t now,
		       int64_t *version_r, struct pv_error *err);

/* ---- operations -------------------------------------------------------- */

struct policy_summary {
	size_t rules;                      /* the default rule included */
	char sha256[POLICY_HASH_HEX_LEN];  /* of the exact text */
};

/* Checks text (the exact bytes of a policy file) without storing it:
 * policy_parse, whose errors (with line and column) go to diags (may be
 * NULL). Needs no archive. */
int archive_policy_check(const void *text, size_t len, struct policy_diags *diags,
			 struct policy_summary *sum_r, struct pv_error *err);

struct policy_set_result {
	bool invalid;     /* the text did not parse (diags say why): nothing changed */
	bool unchanged;   /* the text is the version in force: nothing stored or audited */
	int64_t version;  /* the new version (unchanged: the one in force) */
	char sha256[POLICY_HASH_HEX_LEN];
	struct retention_reapply_stats reapply; /* incl. messages that could not be read */
	struct policy_impact *impact;           /* per rule, old against new (policy.h) */
	struct policy *policy;                  /* the text parsed (impact borrows its rule names) */
};

/* Sets text as the next policy version: parses it, and unless it is the
 * version in force, in one transaction appends the "policy-set" audit
 * entry (version, SHA-256 of the exact text, previous version) FIRST,
 * stores the version and re-evaluates every message under it
 * (retention_reapply, filling res_r->impact). The version exists only if
 * its audit entry does. res_r is owned by the caller
 * (policy_set_result_free), also after an error. */
int archive_policy_set(struct archive *ar, const char *actor, const void *text, size_t len,
		       struct policy_diags *diags, struct policy_set_result *res_r,
		       struct pv_error *err);
void policy_set_result_free(struct policy_set_result *res);

/* The exact text of a version (0: the one in force; PV_ENOTFOUND when
 * there is none), as policy_store_get. */
int archive_policy_get(struct archive *ar, int64_t version, unsigned char **text_r, size_t *len_r,
		       struct policy_version_info *info_r, struct pv_error *err) PV_WARN_UNUSED;

/* Calls fn for every version, oldest first (a non-zero return stops);
 * *current_r gets the version in force (0: none stored). */
int archive_policy_list(struct archive *ar, int64_t *current_r,
			int (*fn)(void *ctx, const struct policy_version_info *v), void *ctx,
			struct pv_error *err);

#endif
