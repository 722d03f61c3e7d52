#ifndef PV_POLICIES_H
#define PV_POLICIES_H

/* Stored policy versions, parsed: the bridge between the catalog's
 * policy_versions table (store/policy_store.h) and the rule language
 * (policy/policy.h). */

#include <sqlite3.h>

#include "archiver/lib/error.h"
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

#endif
