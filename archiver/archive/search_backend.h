#ifndef PV_ARCHIVE_SEARCH_BACKEND_H
#define PV_ARCHIVE_SEARCH_BACKEND_H

/* Where the search index lives, behind one small interface (OpenSMTPD's
 * queue_backend is the model): SQLite FTS5 in the catalog database (what
 * popvault runs today: archiver/index/index.h) or PostgreSQL full-text
 * search (tsvector + GIN: search_pg.c over archiver/store/pg_index.h).
 * Both index the same extracted text (index_row_make) and compile the same
 * query language (archiver/index/query.h), with the same known answers
 * (tests/data/search/known_answers.txt). What differs on PostgreSQL is in
 * docs/SCALE.md, "Search on PostgreSQL".
 *
 * popvault reaches the index only through this interface, one backend
 * per open archive (archive_search_backend, archive/search_open.h): FTS5
 * on the catalog's SQLite handle, or PostgreSQL on the catalog's own
 * connection when the catalog is there, so an index write inside a
 * catalog transaction (a disposal, the indexer's batch and its mark)
 * commits or rolls back with it on either engine. Every function has
 * index.h's contract. */

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/index/index.h"
#include "archiver/lib/error.h"

struct search_backend;

struct search_backend_ops {
	const char *name;
	int (*add_docs)(struct search_backend *b, const struct index_batch_doc *v, size_t n,
		struct pv_error *err);
	int (*remove)(struct search_backend *b, int64_t id, struct pv_error *err);
	int (*clear)(struct search_backend *b, struct pv_error *err);
	int (*count)(struct search_backend *b, int64_t *n_r, struct pv_error *err);
	int (*search)(struct search_backend *b, const char *query, const struct index_order *order,
		int64_t count_cap, int64_t limit, int64_t offset, struct index_hits *hits_r,
		int64_t *total_r, bool *exact_r, struct pv_error *err);
	int (*match_ids)(struct search_backend *b, const char *query, int64_t **ids_r,
		size_t *n_r, struct pv_error *err);
	int (*indexed)(struct search_backend *b, const int64_t *ids, size_t n, bool *indexed_r,
		struct pv_error *err);
	int (*mark_failed)(struct search_backend *b, int64_t id, const char *reason, int64_t at,
		struct pv_error *err);
	int (*purge)(struct search_backend *b, struct pv_error *err);
	int (*merge_step)(struct search_backend *b, int pages, bool full, bool *done_r,
		struct pv_error *err);
	int (*segments)(struct search_backend *b, int64_t *n_r, struct pv_error *err);
	void (*close)(struct search_backend *b);
};

struct search_backend {
	const struct search_backend_ops *ops;
};

/* FTS5 in db (borrowed: it must outlive the backend; its index tables
 * made by the catalog's migrations). A search whose total is large
 * counts it on two cores, the second through a read-only connection of
 * its own to db's file opened at the first search (index/index_par.h; an
 * in-memory db, or a file that does not open again, searches on one). */
int search_backend_fts5_open(sqlite3 *db, struct search_backend **b_r, struct pv_error *err)
	PV_WARN_UNUSED;
/* Whether b (FTS5's; any other is left alone) may count on two cores:
 * on by default; off for benchmarks that compare with one. */
void search_backend_fts5_parallel(struct search_backend *b, bool on);

/* PostgreSQL at conninfo (libpq syntax), a connection of its own; the
 * tables are made when missing. */
int search_backend_pg_open(const char *conninfo, struct search_backend **b_r,
	struct pv_error *err) PV_WARN_UNUSED;
/* PostgreSQL on an open connection (borrowed: it must outlive the
 * backend; the catalog's); the tables are made when missing. */
struct db;
int search_backend_pg_attach(struct db *db, struct search_backend **b_r, struct pv_error *err)
	PV_WARN_UNUSED;

/* Indexes n messages from their extracted fields (index_batch_doc), all
 * or nothing; an id indexed again is replaced. */
int search_backend_add_docs(struct search_backend *b, const struct index_batch_doc *v,
	size_t n, struct pv_error *err) PV_WARN_UNUSED;
/* index_add: extracts raw's fields (mime.h), then add_docs. */
int search_backend_add(struct search_backend *b, int64_t id, const char *account,
	int64_t received_at, const unsigned char *raw, size_t len, struct pv_error *err)
	PV_WARN_UNUSED;
int search_backend_remove(struct search_backend *b, int64_t id, struct pv_error *err)
	PV_WARN_UNUSED;
int search_backend_clear(struct search_backend *b, struct pv_error *err) PV_WARN_UNUSED;
int search_backend_count(struct search_backend *b, int64_t *n_r, struct pv_error *err)
	PV_WARN_UNUSED;
/* index_search_par's contract (index_par.h: limits, order, errors, the
 * total counted up to count_cap, PV_SEARCH_TOTAL_CAP for a user's search,
 * or INDEX_COUNT_ALL; *exact_r, which may be NULL, says whether it is
 * every match). FTS5 counts a large total on two cores, capped or not. */
int search_backend_search(struct search_backend *b, const char *query,
	const struct index_order *order, int64_t count_cap, int64_t limit, int64_t offset,
	struct index_hits *hits_r, int64_t *total_r, bool *exact_r, struct pv_error *err)
	PV_WARN_UNUSED;
/* index_match_ids's contract. */
int search_backend_match_ids(struct search_backend *b, const char *query, int64_t **ids_r,
	size_t *n_r, struct pv_error *err) PV_WARN_UNUSED;
/* indexed_r[i]: whether ids[i] is in the index now (the indexer's
 * catch-up: what is left to index; disposal: "can holds be checked").
 * A message recorded as failed (mark_failed) is not indexed. */
int search_backend_indexed(struct search_backend *b, const int64_t *ids, size_t n,
	bool *indexed_r, struct pv_error *err) PV_WARN_UNUSED;
/* index_mark_failed's contract: id could not be parsed; recorded with the
 * reason instead of an entry (a reindex tries again, remove forgets it). */
int search_backend_mark_failed(struct search_backend *b, int64_t id, const char *reason,
	int64_t at, struct pv_error *err) PV_WARN_UNUSED;
/* After removals (disposal): leaves no removed text in live pages where
 * the engine is ours to compact (FTS5: index_purge); PostgreSQL's dead
 * rows are its vacuum's, nothing to do here. */
int search_backend_purge(struct search_backend *b, struct pv_error *err) PV_WARN_UNUSED;
/* One bounded step of keeping the index merged (FTS5: index_merge_step,
 * its own short write transaction when called outside one; `full`: to
 * one segment, not only when worth it); *done_r when nothing is left to
 * merge until the index is written again. PostgreSQL:
 * nothing to do (its GIN pending list is autovacuum's), done at once. */
int search_backend_merge_step(struct search_backend *b, int pages, bool full, bool *done_r,
	struct pv_error *err) PV_WARN_UNUSED;
/* The index's segments (FTS5: index_segments; 1 is fully merged); -1
 * where the engine has none to show (PostgreSQL). */
int search_backend_segments(struct search_backend *b, int64_t *n_r, struct pv_error *err)
	PV_WARN_UNUSED;
const char *search_backend_name(const struct search_backend *b);
void search_backend_close(struct search_backend **b);

#endif
