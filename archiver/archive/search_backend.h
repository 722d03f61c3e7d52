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
 * Status: the PostgreSQL backend is complete for indexing and searching
 * and tested against a real server, but `popvault` does not use it yet:
 * archive_search and the indexer call the FTS5 functions directly, and
 * the catalog stays in SQLite. Every function has index.h's contract. */

#include <sqlite3.h>
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
		int64_t limit, int64_t offset, struct index_hits *hits_r, int64_t *total_r,
		struct pv_error *err);
	int (*match_ids)(struct search_backend *b, const char *query, int64_t **ids_r,
		size_t *n_r, struct pv_error *err);
	void (*close)(struct search_backend *b);
};

struct search_backend {
	const struct search_backend_ops *ops;
};

/* FTS5 in db (borrowed: it must outlive the backend; its index tables
 * made by the catalog's migrations). */
int search_backend_fts5_open(sqlite3 *db, struct search_backend **b_r, struct pv_error *err)
	PV_WARN_UNUSED;

/* PostgreSQL at conninfo (libpq syntax); the tables are made when
 * missing. */
int search_backend_pg_open(const char *conninfo, struct search_backend **b_r,
	struct pv_error *err) PV_WARN_UNUSED;

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
/* index_search_ordered's contract (limits, order, errors). */
int search_backend_search(struct search_backend *b, const char *query,
	const struct index_order *order, int64_t limit, int64_t offset,
	struct index_hits *hits_r, int64_t *total_r, struct pv_error *err) PV_WARN_UNUSED;
/* index_match_ids's contract. */
int search_backend_match_ids(struct search_backend *b, const char *query, int64_t **ids_r,
	size_t *n_r, struct pv_error *err) PV_WARN_UNUSED;
const char *search_backend_name(const struct search_backend *b);
void search_backend_close(struct search_backend **b);

#endif
