#ifndef PV_ARCHIVE_SEARCH_H
#define PV_ARCHIVE_SEARCH_H

/* Searching the archive (ARCHITECTURE.md §7): `popvault search` and
 * GET /api/v1/search call this one function, so neither can skip a step.
 *
 * archive_search, in order:
 *  1. brings the search index up to date (indexer_catch_up: the index is
 *     derived and may lag the archive);
 *  2. runs the query for one page (search_backend_search: by date or
 *     relevance, either way; NULL order: newest first; limit
 *     0..PV_SEARCH_LIMIT_MAX, offset >= 0, never capped: any offset pages
 *     on through every match); the total is counted up to count_cap
 *     (PV_SEARCH_TOTAL_CAP by default, INDEX_COUNT_ALL on request) and
 *     says whether it is exact; a bad query is PV_EUSAGE or PV_ELIMIT and
 *     is not audited;
 *  3. appends the "search" audit entry (archive_audit_search: the total
 *     and whether it is exact, how many were shown and the SHA-256 of their
 *     ids; the query text as
 *     personal data) BEFORE it returns a single hit (ARCHITECTURE.md §1.4). When
 *     that append fails, the page is dropped: res_r holds no hit and the
 *     audit error ("audit log: ...") is returned. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/index/index.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"

struct archive_search_result {
	int64_t total;          /* every match when total_exact; else count_cap,
	                           and there are more */
	bool total_exact;
	int64_t offset, limit;  /* as asked */
	struct index_hits hits; /* the page (ids, dates, sizes, accounts, from, subject) */
};

/* actor: "cli:<user>" or "web:<user>". res_r is owned by the caller
 * (archive_search_result_free), also after an error. */
int archive_search(struct archive *ar, const char *actor, const char *query,
		   const struct index_order *order, int64_t offset, int64_t limit,
		   int64_t count_cap, struct archive_search_result *res_r, struct pv_error *err);

/* Only checks the query's syntax (index_query_parse): nothing is searched,
 * nothing audited, for a search box checked as the user types and for a
 * query saved or held. PV_EUSAGE or PV_ELIMIT with the parser's message;
 * *column_r (may be NULL) gets the 1-based column it names, or 0. */
int archive_search_check(const char *query, size_t *column_r, struct pv_error *err);
void archive_search_result_free(struct archive_search_result *res);

#endif
