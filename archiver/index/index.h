#ifndef PV_INDEX_INDEX_H
#define PV_INDEX_INDEX_H

/* The full-text index: derived data in the one popvault SQLite database,
 * in tables of its own (idx_doc, idx_fts, idx_meta) that refer to nothing
 * else. It can be emptied and rebuilt from the archive at any time
 * (`popvault reindex`: index_clear, then index_add for every message), and
 * `verify` never trusts it.
 *
 * idx_fts is an FTS5 table (unicode61 tokenizer, diacritics removed) with
 * the columns hfrom hto hcc hbcc subject body filename ctype, and `every`,
 * which holds one token (INDEX_EVERY_TOKEN, query.h) in every document so
 * that a query that only excludes words is an FTS5 expression too. Its
 * rowid is the document's sort key (index_query_key: the date, then the
 * message id), so FTS5 hands out matches newest first and a page of 50 is
 * read without touching the other matches; a top-level date range is a
 * rowid range. Message ids from INDEX_KEY_ID_MAX (2^29) on are not
 * indexed (PV_ELIMIT). idx_doc holds per-message fields for predicates, sorting
 * and result lists.
 *
 * Privacy: the index holds message text in clear, like any full-text
 * index. After disposal (index_remove), run index_purge and keep
 * PRAGMA secure_delete on, so the removed text is overwritten rather than
 * left in free pages or old FTS5 segments.
 *
 * None of these functions begins or commits a transaction of its own
 * except where said: writers use a SAVEPOINT, so they work both inside the
 * caller's transaction (the harvest's group commit) and outside one. A
 * writer that fails rolls back its savepoint only: the caller's
 * transaction is intact and may still commit (the index is derived; a
 * reindex repairs a message that failed to index). */

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

struct index_doc;

/* Checks the index tables, which catalog migration 5 makes
 * (archiver/store/migrations.c holds their DDL; this file creates no
 * table): PV_ERR when they are missing. When idx_meta records another
 * schema version than this file's, the index is emptied and stamped with
 * this one: the caller then sees index_count() == 0 and should reindex. */
int index_ensure_schema(sqlite3 *db, struct pv_error *err);

/* Indexes message `id` (> 0) from its exact bytes. Idempotent: indexing an
 * id again replaces its entry. received_at (unix seconds) stands in for
 * the date when the message has no usable Date field, or one more than a
 * day after received_at (a future Date would sort first for ever). Hostile MIME never
 * fails this (see mime.h); errors are database errors or out of memory. */
int index_add(sqlite3 *db, int64_t id, const char *account, int64_t received_at,
	const unsigned char *raw, size_t len, struct pv_error *err);

/* The same in two steps, so the parsing (and pdftotext, when enabled) can
 * run before the caller takes the database's write lock:
 * index_mime_extract (mime.h) outside the transaction, then this inside
 * it. len is the size of the stored message in bytes. */
int index_add_doc(sqlite3 *db, int64_t id, const char *account, int64_t received_at,
	size_t len, const struct index_doc *doc, struct pv_error *err);

/* index_add_doc for n documents in one savepoint, the statements prepared
 * once: what an indexer's batch wants (a savepoint per document makes
 * FTS5 flush its pending terms for every one). All or nothing: a failure
 * rolls back the whole batch's savepoint. */
struct index_batch_doc {
	int64_t id;
	const char *account;
	int64_t received_at;
	size_t len;
	const struct index_doc *doc;
};
int index_add_docs(sqlite3 *db, const struct index_batch_doc *v, size_t n, struct pv_error *err);

/* What one message puts in the index, whatever the backend (FTS5 here,
 * PostgreSQL in archiver/archive/search_pg.c): both index exactly this.
 * The columns are idx_fts's, in its order. */
enum index_column {
	INDEX_COL_FROM, INDEX_COL_TO, INDEX_COL_CC, INDEX_COL_BCC, INDEX_COL_SUBJECT,
	INDEX_COL_BODY, INDEX_COL_FILENAME, INDEX_COL_CTYPE, INDEX_COLUMNS
};

#define INDEX_DISPLAY_FROM_MAX 256
#define INDEX_DISPLAY_SUBJECT_MAX 512

struct index_row {
	int64_t date;            /* the Date field when trusted, else received_at */
	bool date_known;         /* the Date field was used */
	/* What result lists show of the first From and Subject fields: whole
	 * UTF-8 characters up to the maximum, then "…" when more was cut. */
	char from_disp[INDEX_DISPLAY_FROM_MAX + 4];
	size_t from_disp_len;
	char subject_disp[INDEX_DISPLAY_SUBJECT_MAX + 4];
	size_t subject_disp_len;
	struct pv_buf text[INDEX_COLUMNS]; /* as indexed: every Subject field one a
	                                      line, CJK characters split (text.h) */
};

/* Fills *row from doc (received_at: unix seconds of receipt). Free with
 * index_row_free, also after an error (out of memory). */
int index_row_make(int64_t received_at, const struct index_doc *doc, struct index_row *row,
	struct pv_error *err) PV_WARN_UNUSED;
void index_row_free(struct index_row *row);

/* Removes message `id` from the index (disposal). Removing an id that is
 * not indexed is not an error. */
int index_remove(sqlite3 *db, int64_t id, struct pv_error *err);

/* Messages the parser sandbox (sandbox.h) failed on: recorded with the
 * reason (replacing an earlier record) instead of an index entry, so the
 * indexer goes on. A reindex tries them again (index_clear removes the
 * records), disposal removes its messages' (index_remove). */
int index_mark_failed(sqlite3 *db, int64_t id, const char *reason, int64_t at,
		      struct pv_error *err);
int index_failed_count(sqlite3 *db, int64_t *n_r, struct pv_error *err);
/* The reason recorded for id (cut to n bytes); PV_ENOTFOUND when none. */
int index_failed_reason(sqlite3 *db, int64_t id, char *reason, size_t n, struct pv_error *err);

/* Rewrites the FTS5 segments so removed entries are gone from the file's
 * live pages too (FTS5 'optimize'; costs time proportional to the index). */
int index_purge(sqlite3 *db, struct pv_error *err);

/* The FTS5 index's segments (index_merge.c): how many, their leaf pages
 * (all, and the largest one's), and whether a merge is under way. Read
 * from one small record: cheap enough for a status page. */
struct index_segments {
	int64_t segments;
	int64_t pages, largest_pages;
	bool merging;
};
int index_segments(sqlite3 *db, struct index_segments *s_r, struct pv_error *err);

/* One bounded step of keeping the index merged, as a search engine merges
 * its segments: FTS5's incremental 'merge' of about `pages` leaf pages
 * (each some 4 KB), run as its own statement, so outside a transaction it
 * is its own short write transaction. It goes on with a merge under way;
 * else it starts merging every segment into one when those beside the
 * largest hold an eighth of its pages or more (a merged index then
 * takes new mail as small segments, which FTS5's automerge keeps few,
 * until they are worth rewriting the whole index for), or whenever there
 * is more than one when `full` (reindex: the index was just rewritten,
 * it ends as one segment). *done_r: nothing is left to do now (one
 * segment, or only small ones beside a large one when not `full`); the
 * caller stops calling until it writes to the index again.
 * Interrupted at any point (killed, rolled back), the index is as before
 * that step: FTS5 writes a step's pages and its structure record in the
 * same transaction. */
int index_merge_step(sqlite3 *db, int pages, bool full, bool *done_r, struct pv_error *err);
/* The pages of one step that the indexer and reindex use: a step holds
 * the write lock for a few ms (docs/ARCHITECTURE.md, ftsmerge). */
#define INDEX_MERGE_PAGES 16

/* Empties every index table (for reindex); the tables stay. */
int index_clear(sqlite3 *db, struct pv_error *err);

/* Number of indexed messages. */
int index_count(sqlite3 *db, int64_t *n_r, struct pv_error *err);

struct index_hit {
	int64_t id;
	int64_t date;     /* unix seconds: Date field, else receipt time */
	bool date_known;  /* false: date is the receipt time (no usable Date) */
	int64_t size;     /* bytes of the stored message */
	char *account;
	char *from;       /* display form, clean UTF-8 without bidi controls, ~256 bytes */
	char *subject;    /* display form, clean UTF-8 without bidi controls, ~512 bytes */
	bool has_attachment;
};

struct index_hits {
	struct index_hit *v;
	size_t n;
};

void index_hits_free(struct index_hits *hits);

/* Runs a query (query.h) and returns one page of results, newest first:
 * ORDER BY date DESC, id DESC (the sort key; dates outside 1698..2242 sort
 * at that end), a total order, so pages never overlap or
 * skip. The total here is exact: it counts every match (at 1,000,000
 * messages a word in nearly all of them costs some 75 ms of FTS5's time;
 * index_par.h counts a large one on two cores); index_search_par (index_par.h)
 * counts up to a cap, as a user's search does (PV_SEARCH_TOTAL_CAP). limit
 * 0..PV_SEARCH_LIMIT_MAX (0: only the total), offset >= 0;
 * anything else is PV_EUSAGE, never a silent cap. *total_r is the number of
 * matches, counted in the same read transaction as the page. A bad query
 * (or one past a limit of query.h) is PV_EUSAGE with the position in err. *hits_r is owned
 * by the caller (index_hits_free), also after an error. */
int index_search(sqlite3 *db, const char *query, int64_t limit, int64_t offset,
	struct index_hits *hits_r, int64_t *total_r, struct pv_error *err);

/* The order of a result list. By date: the message date, then the id
 * (newest first unless ascending). By relevance: FTS5's bm25 rank of the
 * query's text terms (best first unless ascending), ties by date and id
 * newest first; a query without a text term that every result must match
 * has no rank, and sorts by date. Every order is total, so pages never
 * overlap or skip. */
enum index_sort { INDEX_SORT_DATE, INDEX_SORT_RELEVANCE };
struct index_order {
	enum index_sort by;
	bool ascending;
};

/* How far a search counts its total: up to a cap (> 0; matches beyond it
 * are not counted, the total is then the cap and not exact) or every
 * match. Whatever the count, the page is the same: offset and limit page
 * through every match. */
#define INDEX_COUNT_ALL INT64_MAX

/* index_search in that order (NULL: by date, newest first). */
int index_search_ordered(sqlite3 *db, const char *query, const struct index_order *order,
	int64_t limit, int64_t offset, struct index_hits *hits_r, int64_t *total_r,
	struct pv_error *err);

/* The plans SQLite chooses for a search's two statements (the count up to
 * PV_SEARCH_TOTAL_CAP, then the page), EXPLAIN QUERY PLAN's rows one per
 * line, appended to out: for benchmarks and slow-query reports. */
int index_search_explain(sqlite3 *db, const char *query, struct pv_buf *out,
	struct pv_error *err);

/* Every id matching query, ascending, for export and holds (unpaged: as
 * many as there are matches). *ids_r is malloc'd, owned by the caller. */
int index_match_ids(sqlite3 *db, const char *query, int64_t **ids_r, size_t *n_r,
	struct pv_error *err);

#endif
