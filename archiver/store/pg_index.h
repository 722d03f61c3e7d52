#ifndef PV_STORE_PG_INDEX_H
#define PV_STORE_PG_INDEX_H

/* The search index's tables on PostgreSQL (through lib/db.h): what
 * idx_doc and idx_fts are on SQLite (archiver/index/index.h), as one table
 *
 *   idx_doc (id, account, date, date_known, received_at, size,
 *            has_attachment, message_id, from_disp, subject_disp,
 *            truncated, tv tsvector, tv_cut)
 *
 * with a GIN index on tv and B-trees as on SQLite, plus idx_failed (id,
 * reason, failed_at) and idx_meta ('schema' = 1). On an archive whose
 * catalog is on PostgreSQL these tables live beside the catalog's, on the
 * catalog's own connection (pg_index_attach): an index write made inside
 * a catalog transaction (disposal, the indexer's batch with its
 * high-water mark) commits or rolls back with it.
 *
 * Writers: outside a transaction each write is one transaction of its
 * own, taken in the writers' lock (db_begin); inside the caller's, a
 * savepoint, so a failed index write leaves the caller's transaction
 * usable (as FTS5's writers do, index.h).
 *
 * This file knows SQL and libpq, nothing of mail or of the query language:
 * rows arrive ready (the tsvector as PostgreSQL's input text, from
 * archiver/index/tsvector.h), searches as a condition on `d` with $n text
 * parameters (archiver/index/query_pg.h). Errors carry PostgreSQL's
 * message. A connection is used by one thread at a time. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/db.h"
#include "archiver/lib/error.h"

struct pg_index;

/* idx_doc's vectors compressed with lz4 instead of pglz: a phrase reads
 * every candidate's vector from TOAST and decompresses it, and lz4 halves
 * that (ARCHITECTURE.md section 12, pglz4). PostgreSQL does not rewrite
 * the table: rows already written keep pglz until written again (a
 * reindex). A server built without lz4 keeps pglz (feature_not_supported
 * is the error it gives). Nothing when idx_doc does not exist yet: the
 * tables made by pg_index_attach run this too. Catalog migration 18 runs
 * this text: never edit it, add a step. */
#define PG_INDEX_TV_LZ4_SQL                                                   \
	"DO $$BEGIN\n"                                                          \
	"  IF to_regclass('idx_doc') IS NOT NULL THEN\n"                        \
	"    ALTER TABLE idx_doc ALTER COLUMN tv SET COMPRESSION lz4;\n"        \
	"  END IF;\n"                                                           \
	"EXCEPTION WHEN feature_not_supported THEN NULL;\n"                     \
	"END$$;\n"

/* Connects (conninfo: libpq's "host=... port=..." or a postgresql:// URL)
 * and makes the tables when missing. *px_r owned by the caller
 * (pg_index_close, which closes the connection). PV_ERR with libpq's
 * reason when it cannot connect. */
int pg_index_open(const char *conninfo, struct pg_index **px_r, struct pv_error *err)
	PV_WARN_UNUSED;
/* The same on an open PostgreSQL connection (borrowed: it must outlive
 * *px_r; PV_EUSAGE on SQLite). */
int pg_index_attach(struct db *db, struct pg_index **px_r, struct pv_error *err)
	PV_WARN_UNUSED;
void pg_index_close(struct pg_index **px);

struct pg_index_row {
	int64_t id;
	const char *account;
	int64_t date;
	bool date_known;
	int64_t received_at;
	int64_t size;
	bool has_attachment;
	const char *message_id;
	const char *from_disp, *subject_disp; /* NUL-terminated */
	unsigned truncated;                   /* INDEX_TRUNC_* bits */
	const char *tsvector;                 /* tsvector input text */
	unsigned tv_cut;                      /* INDEX_PG_CUT_* bits */
};

/* Writes n rows in one transaction, replacing rows of the same ids. All
 * or nothing. */
int pg_index_put(struct pg_index *px, const struct pg_index_row *v, size_t n,
	struct pv_error *err) PV_WARN_UNUSED;

/* Removes id (not an error when absent); empties every row; counts them. */
int pg_index_remove(struct pg_index *px, int64_t id, struct pv_error *err) PV_WARN_UNUSED;
int pg_index_clear(struct pg_index *px, struct pv_error *err) PV_WARN_UNUSED;
int pg_index_count(struct pg_index *px, int64_t *n_r, struct pv_error *err) PV_WARN_UNUSED;
/* indexed_r[i]: whether ids[i] has a row (one query for all n). */
int pg_index_indexed(struct pg_index *px, const int64_t *ids, size_t n, bool *indexed_r,
	struct pv_error *err) PV_WARN_UNUSED;
/* Records that id could not be indexed, and why (replacing a record). */
int pg_index_mark_failed(struct pg_index *px, int64_t id, const char *reason, int64_t at,
	struct pv_error *err) PV_WARN_UNUSED;

/* A compiled query: where is a condition on d; params[0..n) are $1..$n
 * (text); rank_param names the $k holding a tsquery every result matches,
 * 0 when there is none; positions: the GIN index only finds candidates,
 * whose vectors are read to decide (a phrase). */
struct pg_index_query {
	const char *where;
	const char *const *params;
	size_t nparams;
	size_t rank_param;
	bool positions;
};

/* One result, valid during the callback. */
struct pg_index_hit {
	int64_t id, date, size;
	bool date_known, has_attachment;
	const char *account, *from_disp, *subject_disp;
};
typedef int (*pg_index_hit_fn)(void *ctx, const struct pg_index_hit *h);

/* The total and one page (limit rows from offset), in one repeatable-read
 * transaction (the caller's when one is open): ordered by date (then id) or, when by_rank and the query
 * has a rank, by ts_rank (best first), then date and id newest first;
 * ascending reverses. fn is called for each row in order; a non-zero
 * return stops and is returned. limit 0: the total only. The total counts
 * up to count_cap matches (INT64_MAX: every one): *exact_r false when
 * there are more, *total_r then count_cap; the page does not depend on it. */
int pg_index_search(struct pg_index *px, const struct pg_index_query *q, bool by_rank,
	bool ascending, int64_t count_cap, int64_t limit, int64_t offset, int64_t *total_r,
	bool *exact_r, pg_index_hit_fn fn, void *ctx, struct pv_error *err) PV_WARN_UNUSED;

/* Every matching id, ascending: *ids_r malloc'd, owned by the caller. */
int pg_index_match_ids(struct pg_index *px, const struct pg_index_query *q, int64_t **ids_r,
	size_t *n_r, struct pv_error *err) PV_WARN_UNUSED;

/* Runs a query with $n text parameters; *rows_r gets its row count (the
 * benchmark's catalog lookups: tests/bench/bench_pg.c). */
int pg_index_rows(struct pg_index *px, const char *sql, size_t nparams,
	const char *const *params, int64_t *rows_r, struct pv_error *err) PV_WARN_UNUSED;

/* Runs sql (no parameters, no rows wanted), for schema work and the
 * benchmark's generator. */
int pg_index_exec(struct pg_index *px, const char *sql, struct pv_error *err) PV_WARN_UNUSED;

#endif
