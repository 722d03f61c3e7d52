#ifndef PV_POLICIES_H
#define PV_POLICIES_H

/* Stored policy versions, parsed: the bridge between the catalog's
 * policy_versions table (store/policy_store.h) and the rule language
 * (policy/policy.h); and the policy operations front ends call (`popvault
 * policy check|set|show|list`, the web API). Setting a version is audited
 * inside; reading policies is not (they are rules, not archived content). */

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
int policy_version_load(struct db *db, int64_t version, struct policy **p_r,
			struct policy_version_info *info_r, struct pv_error *err) PV_WARN_UNUSED;

/* Stores p's exact source as the next version (see policy_store_add). */
int policy_version_add(struct db *db, const struct policy *p, const char *actor, int64_t now,
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
	bool shortens;    /* refused: it shortens retention (err says how); nothing changed */
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
 * (policy_set_result_free), also after an error.
 *
 * The two-person rule: a text that shortens any retention (policy_compare
 * against the version in force; and, when some messages were decided
 * under an older version, archive_policy_preview) is refused with
 * PV_EPERM and res_r->shortens, nothing changed: it must be proposed
 * (approval_propose, approvals.h) and approved by a second person. */
int archive_policy_set(struct archive *ar, const char *actor, const void *text, size_t len,
		       struct policy_diags *diags, struct policy_set_result *res_r,
		       struct pv_error *err);
void policy_set_result_free(struct policy_set_result *res);

/* For approvals.c: sets res->policy (parsed by the caller) as the next
 * version inside the caller's open transaction, audited as
 * archive_policy_set does, without the shortening check (the approval is
 * the second person). Fills res (version, sha256, impact, reapply). */
int policy_set_in_tx(struct archive *ar, const char *actor, struct policy_set_result *res,
		     struct pv_error *err);

/* The policy in force, parsed (*p_r: the caller frees it), and its version
 * (0 when none is stored: then the built-in retention, which is the text
 * `popvault init` stores as version 1: keep six years). */
int policy_in_force(struct db *db, struct policy **p_r, int64_t *version_r, struct pv_error *err);

/* ---- what a text would change (`POST /api/v1/policy/dry-run`, proposals) */

struct policy_preview_month {
	char month[12];  /* "YYYY-MM" of the expiry (UTC), or "never" */
	uint64_t before; /* messages expiring then under the version in force */
	uint64_t after;  /* ... under the text */
};

struct policy_preview {
	bool invalid;                    /* did not parse (diags say why) */
	bool unchanged;                  /* the text is the version in force */
	int64_t base_version;            /* the version in force (0: none stored) */
	char sha256[POLICY_HASH_HEX_LEN];
	struct policy_shortening rules;  /* from the rules alone (policy_compare) */
	uint64_t messages;               /* not disposed of */
	uint64_t unreadable;             /* content unreadable: keep what they have */
	uint64_t changed;                /* class or expiry would change */
	uint64_t earlier;                /* expiry would move earlier */
	uint64_t due_now;                /* expired now under the text, rule says dispose */
	bool shortens;                   /* rules.shortens or earlier > 0 */
	struct policy *policy;           /* the text parsed */
	struct policy_impact *impact;    /* per rule of the text (by class) */
	struct policy_preview_month *months; /* sorted by month, "never" last */
	size_t n_months;
};

/* Evaluates every message not disposed of under text, changing nothing and
 * auditing nothing (archive_policy_dry_run audits a text from outside), against
 * what the catalog holds now. pv_r is owned by the caller
 * (policy_preview_free), also after an error. */
int archive_policy_preview(struct archive *ar, const void *text, size_t len,
			   struct policy_diags *diags, struct policy_preview *pv_r,
			   struct pv_error *err);
void policy_preview_free(struct policy_preview *pv);
/* archive_policy_preview of a text someone gave: audited first (a
 * "policy-dry-run" entry with the text as personal data), as its counts
 * per rule tell what the mail holds: a rule on a subject is a query. */
int archive_policy_dry_run(struct archive *ar, const char *actor, const void *text, size_t len,
			   struct policy_diags *diags, struct policy_preview *pv_r,
			   struct pv_error *err);

/* The exact text of a version (0: the one in force; PV_ENOTFOUND when
 * there is none), as policy_store_get. */
int archive_policy_get(struct archive *ar, int64_t version, unsigned char **text_r, size_t *len_r,
		       struct policy_version_info *info_r, struct pv_error *err) PV_WARN_UNUSED;

/* Calls fn for every version, oldest first (a non-zero return stops);
 * *current_r gets the version in force (0: none stored). */
int archive_policy_list(struct archive *ar, int64_t *current_r,
			int (*fn)(void *ctx, const struct policy_version_info *v), void *ctx,
			struct pv_error *err);

/* Extends the pack store's locks (store/packstore.h) to the retention in
 * force: after a policy version is set, and before a disposal run removes
 * packs. A failure is logged. */
void policies_sync_store(struct archive *ar);

#endif
