#ifndef PV_INDEX_INDEX_PAR_H
#define PV_INDEX_INDEX_PAR_H

/* A search's exact total on two cores (issue 12). FTS5 counts by visiting
 * every match, so a word in most of a million messages, a phrase of two
 * such words or a negation spends tens of ms counting. The count of a
 * rowid range is seeked to directly in FTS5's doclists, and the rowid is
 * the date-ordered sort key (index.h), so the total splits into the
 * older and the newer half of the query's date range: a second thread
 * counts one on a read-only connection of its own, the caller's thread the
 * other; the page stays on the caller's connection.
 *
 * Both halves and the page are read in the same snapshot: the helper's
 * read transaction counts only if no connection committed between the
 * moment before the caller's snapshot began and the helper's began
 * (PRAGMA data_version read on the helper before and after: it changes
 * exactly when another connection committed in between; this SQLite has
 * no sqlite3_snapshot_open). Otherwise, or when anything about the helper
 * fails, the caller's thread counts everything itself: the total is
 * always that of the caller's snapshot.
 *
 * It pays only for a large count: the caller first counts the newest
 * 1/64 of the range itself (part of the total, not extra work) and goes
 * on alone when the whole projects under min_ms of its thread's CPU. A
 * query without a full-text part (dates alone: the catalog's own index)
 * never uses it. */

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "archiver/index/index.h"
#include "archiver/index/query.h"
#include "archiver/lib/error.h"

struct index_par;

/* The helper's connection: db's main database file opened again,
 * read-only. PV_ERR when db has no file (in memory) or it does not open;
 * the caller then searches on one thread (index_search_par with NULL).
 * Free with index_par_free (NULL-safe; sets *par to NULL). Use it with
 * db only, from one thread at a time, as db itself. */
int index_par_open(sqlite3 *db, struct index_par **par_r, struct pv_error *err);
void index_par_free(struct index_par **par);

/* When a count is projected to take min_ms of CPU or more it is split
 * (INDEX_PAR_MIN_MS by default; 0: always, for tests). between, when not
 * NULL, runs after the caller's snapshot began and before the helper's
 * (tests: a commit there must make the caller count alone). */
#define INDEX_PAR_MIN_MS 4.0
struct index_par_opts {
	double min_ms;
	void (*between)(void *ctx);
	void *ctx;
};
void index_par_set(struct index_par *par, const struct index_par_opts *opts);

/* What the counts did: split on two threads, counted alone (small or a
 * tiny range), alone because the database changed between the snapshots,
 * alone because the helper failed (its connection, the thread). */
struct index_par_stats {
	uint64_t split, alone, changed, failed;
};
struct index_par_stats index_par_stats(const struct index_par *par);

/* index_search_ordered (index.h) with its total counted up to count_cap
 * matches (> 0, or INDEX_COUNT_ALL): *total_r is the number of matches
 * and *exact_r (may be NULL) true when there are at most count_cap; else
 * *total_r is count_cap and *exact_r false (at most count_cap + 1 matches
 * are visited: a LIMIT under the count, so the engine stops early; on
 * two cores each part stops at what is left). The page never depends on
 * the total: offset may lie past count_cap. The count goes through par
 * (NULL: one thread) when this call begins the read transaction: a count
 * that ends under the cap visits every match, on two cores as an exact
 * one does (at 1,000,000 messages, on one it made a rare phrase or a
 * negation's capped search slower than the exact one); inside the
 * caller's transaction it counts on one thread (that snapshot began
 * earlier, and may hold its own writes). */
int index_search_par(sqlite3 *db, struct index_par *par, const char *query,
	const struct index_order *order, int64_t count_cap, int64_t limit, int64_t offset,
	struct index_hits *hits_r, int64_t *total_r, bool *exact_r, struct pv_error *err);

/* For index.c: q's matches counted in db's read transaction, begun by the
 * caller and not yet read in (its snapshot begins here), stopping once
 * max are found (INDEX_COUNT_ALL: every one; each part stops at what is
 * left of max, so a sum past max only says "more than max"). */
int index_par_count(struct index_par *par, sqlite3 *db, const struct index_query_sql *q,
	int64_t max, int64_t *total_r, struct pv_error *err);

#endif
