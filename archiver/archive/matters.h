#ifndef PV_ARCHIVE_MATTERS_H
#define PV_ARCHIVE_MATTERS_H

/* Matters (catalog migration 7): what a legal team works on, the way
 * Google Vault has them. A matter gathers saved searches, the holds placed
 * for it (a hold named like the matter, or placed with
 * archive_matter_hold_add) and its exports (export_jobs.h; exports name
 * their matter, whose Bates numbering export/bates.h fixes at the first
 * one). Matters are never deleted or renamed.
 *
 * Making a matter and saving a search change no archived content but are
 * audited all the same ("matter" entries, object "matter=ID" and
 * "matter=ID search=NAME"; the names and query beside the log as personal
 * data), in the transaction that writes them: no entry, no row.
 *
 * Names: 1..PV_MATTER_NAME_MAX bytes of UTF-8 without control characters,
 * bidi controls, '/' or '\\' (a matter name is a URL path segment) or
 * surrounding spaces; a description up to PV_MATTER_DESCRIPTION_MAX and a
 * saved search's name up to PV_MATTER_SEARCH_NAME_MAX, the same text. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/archive/holds.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "archiver/store/datadir.h"
#include "audit/auditlog.h"

struct matter {
	int64_t id;
	char name[PV_MATTER_NAME_MAX + 1];
	char description[PV_MATTER_DESCRIPTION_MAX + 1];
	int64_t created_at;
	char created_by[AUDIT_ACTOR_MAX + 1];
	int64_t searches, holds, exports; /* how many it has (holds: released ones too) */
};

struct matter_search {
	char name[PV_MATTER_SEARCH_NAME_MAX + 1];
	char query[PV_QUERY_MAX + 1];
	int64_t created_at;
	char created_by[AUDIT_ACTOR_MAX + 1];
};

/* PV_EUSAGE with the reason when name (what: "a matter", "a search")
 * breaks the rules above for a name of at most max bytes. */
int matter_name_check(const char *what, const char *name, size_t max, struct pv_error *err);

/* Makes a matter (description may be NULL). PV_EEXISTS when the name is
 * taken; PV_EUSAGE for a bad name or description. m_r (may be NULL) gets
 * it. */
int archive_matter_create(struct archive *ar, const char *actor, const char *name,
			  const char *description, int64_t now, struct matter *m_r,
			  struct pv_error *err);

/* The matter of this name; PV_ENOTFOUND when there is none. */
int archive_matter_get(struct archive *ar, const char *name, struct matter *m_r,
		       struct pv_error *err);

/* Calls fn for every matter, by name. A non-zero return stops and is returned. */
int archive_matter_each(struct archive *ar, int (*fn)(void *ctx, const struct matter *m),
			void *ctx, struct pv_error *err);

/* Saves a search in matter `matter`: the query must parse (PV_EUSAGE or
 * PV_ELIMIT with the parser's message; nothing is searched). PV_ENOTFOUND
 * for an unknown matter, PV_EEXISTS when it has a search of this name. */
int archive_matter_search_add(struct archive *ar, const char *actor, const char *matter,
			      const char *name, const char *query, int64_t now,
			      struct matter_search *s_r, struct pv_error *err);

/* The saved searches of matter m, by name. */
int archive_matter_searches(struct archive *ar, const struct matter *m,
			    int (*fn)(void *ctx, const struct matter_search *s), void *ctx,
			    struct pv_error *err);

/* The holds of matter m (released ones too), in the order placed. */
int archive_matter_holds(struct archive *ar, const struct matter *m,
			 int (*fn)(void *ctx, const struct hold *h), void *ctx,
			 struct pv_error *err);

/* Places a hold for a matter (hold_add, audited there); matter NULL: for
 * none. PV_ENOTFOUND for an unknown matter. *members_r as hold_add's. */
int archive_matter_hold_add(struct archive *ar, const char *actor, const char *matter,
			    const char *name, const char *query, const char *note, int64_t now,
			    int64_t *members_r, struct pv_error *err);

/* The matter a hold of this name belongs to (its own name, or the one it
 * was placed for) into out (size n, "" when none). */
int archive_matter_of_hold(struct archive *ar, const char *hold_name, char *out, size_t n,
			   struct pv_error *err);

#endif
