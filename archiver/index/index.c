#include "archiver/index/index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/index/index_par.h"
#include "archiver/index/index_sql.h"
#include "archiver/index/mime.h"
#include "archiver/index/query.h"
#include "archiver/index/text.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/utf8.h"

#define INDEX_SCHEMA_VERSION 2
#define INDEX_DATE_SKEW_MAX 86400

static int db_fail(sqlite3 *db, struct pv_error *err, const char *what)
{
	return pv_fail(err, PV_ERR, "index: %s: %s", what, sqlite3_errmsg(db));
}

/* No SQLite handle: the catalog is on PostgreSQL, whose search index is
 * search_pg.c's (archive/search_backend.h picks it); a caller that reached
 * this FTS5 code there is a bug, said rather than crashed on. */
static int no_sqlite(struct pv_error *err)
{
	return pv_fail(err, PV_ERR, "the SQLite search index was asked for on a PostgreSQL "
				    "catalog (whose index is in PostgreSQL)");
}

static int exec(sqlite3 *db, const char *sql, struct pv_error *err)
{
	if (db == NULL)
		return no_sqlite(err);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, err, sql);
	return PV_OK;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct pv_error *err)
{
	*st = NULL;
	if (db == NULL)
		return no_sqlite(err);
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return db_fail(db, err, "prepare");
	return PV_OK;
}

/* Runs body inside a savepoint: released on success, rolled back on error. */
static int savepoint_end(sqlite3 *db, int r)
{
	if (r != PV_OK)
		sqlite3_exec(db, "ROLLBACK TO idx_sp", NULL, NULL, NULL);
	sqlite3_exec(db, "RELEASE idx_sp", NULL, NULL, NULL);
	return r;
}

/* Empties every index table, keeping the tables (the catalog's
 * migrations make them). 'rebuild' leaves no old FTS5 segment behind. */
static int empty_all(sqlite3 *db, struct pv_error *err)
{
	return exec(db, "DELETE FROM idx_fts; DELETE FROM idx_doc; DELETE FROM idx_failed;"
		"INSERT INTO idx_fts(idx_fts) VALUES ('rebuild');", err);
}

int index_ensure_schema(sqlite3 *db, struct pv_error *err)
{
	int r = exec(db, "SAVEPOINT idx_sp", err);
	if (r < 0)
		return r;
	sqlite3_stmt *st = NULL;
	int64_t version = -1;
	if (sqlite3_prepare_v2(db, "SELECT value FROM idx_meta WHERE key = 'schema'", -1, &st,
		    NULL) != SQLITE_OK)
		r = pv_fail(err, PV_ERR, "index: no index tables (the catalog's migrations make "
			"them): %s", sqlite3_errmsg(db));
	else if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (r == PV_OK && version != INDEX_SCHEMA_VERSION) {
		char sql[96];
		snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO idx_meta VALUES ('schema', %d)",
			INDEX_SCHEMA_VERSION);
		if (version != -1)
			r = empty_all(db, err);
		if (r == PV_OK)
			r = exec(db, sql, err);
	}
	return savepoint_end(db, r);
}

int index_clear(sqlite3 *db, struct pv_error *err)
{
	int r = exec(db, "SAVEPOINT idx_sp", err);
	if (r < 0)
		return r;
	r = empty_all(db, err);
	return savepoint_end(db, r);
}

int index_count(sqlite3 *db, int64_t *n_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = prepare(db, "SELECT count(*) FROM idx_doc", &st, err);
	if (r < 0)
		return r;
	if (sqlite3_step(st) == SQLITE_ROW)
		*n_r = sqlite3_column_int64(st, 0);
	else
		r = db_fail(db, err, "count");
	sqlite3_finalize(st);
	return r;
}

static void bind_buf(sqlite3_stmt *st, int i, const struct pv_buf *b)
{
	sqlite3_bind_text(st, i, b->len ? (const char *)b->data : "", (int)b->len, SQLITE_STATIC);
}

/* The statements that write documents, prepared once for a batch (each
 * reset after use). The text goes to idx_fts through a temporary staging
 * table, in one statement per batch: every statement that writes an FTS5
 * table inside a transaction makes it flush its pending terms to a new
 * segment, so a statement per document cost a segment (and its merges)
 * per document. */
struct doc_stmts {
	sqlite3_stmt *doc, *stage, *old_key;
};

static void doc_stmts_free(struct doc_stmts *ds)
{
	sqlite3_finalize(ds->doc);
	sqlite3_finalize(ds->stage);
	sqlite3_finalize(ds->old_key);
	memset(ds, 0, sizeof(*ds));
}

static int doc_stmts_prepare(sqlite3 *db, struct doc_stmts *ds, struct pv_error *err)
{
	int r;
	memset(ds, 0, sizeof(*ds));
	/* (old_key: the FTS row an id had before, to go; key: its new one) */
	if ((r = exec(db, "CREATE TEMP TABLE IF NOT EXISTS idx_stage2 (id INTEGER PRIMARY KEY,"
		" key INTEGER NOT NULL, old_key INTEGER,"
		" hfrom, hto, hcc, hbcc, subject, body, filename, ctype);"
		" DELETE FROM temp.idx_stage2", err)) < 0 ||
	    (r = prepare(db, "SELECT key FROM idx_doc WHERE id = ?", &ds->old_key, err)) < 0 ||
	    (r = prepare(db, "INSERT OR REPLACE INTO idx_doc (id, key, account, date, date_known,"
		" received_at, size, has_attachment, message_id, from_disp, subject_disp,"
		" truncated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &ds->doc, err)) < 0 ||
	    /* an id twice in one batch: the row its index had first goes */
	    (r = prepare(db, "INSERT INTO temp.idx_stage2 (id, key, old_key, hfrom, hto, hcc, hbcc,"
		" subject, body, filename, ctype) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		" ON CONFLICT (id) DO UPDATE SET key = excluded.key,"
		" old_key = coalesce(old_key, excluded.old_key), hfrom = excluded.hfrom,"
		" hto = excluded.hto, hcc = excluded.hcc, hbcc = excluded.hbcc,"
		" subject = excluded.subject, body = excluded.body, filename = excluded.filename,"
		" ctype = excluded.ctype", &ds->stage, err)) < 0)
		doc_stmts_free(ds);
	return r;
}

/* The staged text into idx_fts, replacing what those ids had. */
static int flush_stage(sqlite3 *db, struct pv_error *err)
{
	return exec(db, "DELETE FROM idx_fts WHERE rowid IN"
		" (SELECT old_key FROM temp.idx_stage2 WHERE old_key IS NOT NULL);"
		" INSERT INTO idx_fts (rowid, hfrom, hto, hcc, hbcc, subject, body, filename, ctype,"
		" every) SELECT key, hfrom, hto, hcc, hbcc, subject, body, filename, ctype, '"
		INDEX_EVERY_TOKEN "'"
		" FROM temp.idx_stage2 ORDER BY key; DELETE FROM temp.idx_stage2", err);
}

static int step_done(sqlite3 *db, sqlite3_stmt *st, const char *what, struct pv_error *err)
{
	int r = sqlite3_step(st) == SQLITE_DONE ? PV_OK : db_fail(db, err, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

void index_row_free(struct index_row *row)
{
	for (int i = 0; i < INDEX_COLUMNS; i++)
		pv_buf_free(&row->text[i]);
}

/* The first max bytes' whole characters of b in out, "…" after them when
 * b is longer; its length. */
static size_t display(const struct pv_buf *b, size_t max, char *out)
{
	static const char more[] = "\xe2\x80\xa6"; /* U+2026 */
	size_t n = index_text_utf8_prefix((const char *)b->data, b->len, max);
	if (n > 0)
		memcpy(out, b->data, n);
	if (n < b->len) {
		memcpy(out + n, more, sizeof(more) - 1);
		n += sizeof(more) - 1;
	}
	out[n] = '\0';
	return n;
}

int index_row_make(int64_t received_at, const struct index_doc *d, struct index_row *row,
	struct pv_error *err)
{
	memset(row, 0, sizeof(*row));
	/* A Date after receipt is a sender's clock or a lie; a day of skew is
	 * allowed, beyond it the receipt time orders and filters the message
	 * so a Date in 2099 cannot pin it to the top of every listing. */
	row->date_known = d->date_known && d->date <= received_at + INDEX_DATE_SKEW_MAX;
	row->date = row->date_known ? d->date : received_at;
	row->from_disp_len = display(&d->from, INDEX_DISPLAY_FROM_MAX, row->from_disp);
	row->subject_disp_len = display(&d->subject, INDEX_DISPLAY_SUBJECT_MAX, row->subject_disp);

	/* every Subject field is searchable, the first one is displayed */
	struct pv_buf subj;
	pv_buf_init(&subj, d->subject.len + d->subject_more.len + 2);
	if (pv_buf_append(&subj, d->subject.data ? d->subject.data : (void *)"", d->subject.len, err) < 0 ||
	    (d->subject_more.len > 0 &&
	     (pv_buf_append(&subj, "\n", 1, err) < 0 ||
	      pv_buf_append(&subj, d->subject_more.data, d->subject_more.len, err) < 0))) {
		pv_buf_free(&subj);
		return PV_ERR;
	}
	const struct pv_buf *cols[INDEX_COLUMNS] = {
		&d->from, &d->to, &d->cc, &d->bcc, &subj, &d->body, &d->filenames, &d->types,
	};
	int r = PV_OK;
	for (int i = 0; i < INDEX_COLUMNS && r == PV_OK; i++) {
		const struct pv_buf *c = cols[i];
		if (index_text_has_cjk((const char *)c->data, c->len)) {
			pv_buf_init(&row->text[i], 2 * c->len + 16);
			r = index_text_cjk_split((const char *)c->data, c->len, &row->text[i], err);
		} else {
			pv_buf_init(&row->text[i], c->len + 1);
			r = pv_buf_append(&row->text[i], c->data ? c->data : (void *)"", c->len, err);
		}
	}
	pv_buf_free(&subj);
	return r;
}

static void bind_text(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	sqlite3_bind_text(st, i, n ? (const char *)p : "", (int)n, SQLITE_STATIC);
}

static int write_doc(sqlite3 *db, struct doc_stmts *ds, int64_t id, const char *account,
	int64_t received_at, size_t len, const struct index_doc *d, struct pv_error *err)
{
	sqlite3_stmt *st = ds->old_key;
	int64_t old_key = 0;
	if (id >= INDEX_KEY_ID_MAX)
		return pv_fail(err, PV_ELIMIT, "index: message ids from %lld on are not indexed",
			(long long)INDEX_KEY_ID_MAX);
	sqlite3_bind_int64(st, 1, id);
	bool had = sqlite3_step(st) == SQLITE_ROW;
	if (had)
		old_key = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	struct index_row row;
	int r = index_row_make(received_at, d, &row, err);
	if (r < 0) {
		index_row_free(&row);
		return r;
	}
	int64_t key = index_query_key(row.date, id);
	st = ds->doc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, key);
	sqlite3_bind_text(st, 3, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, row.date);
	sqlite3_bind_int(st, 5, row.date_known);
	sqlite3_bind_int64(st, 6, received_at);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)len);
	sqlite3_bind_int(st, 8, d->has_attachment);
	bind_buf(st, 9, &d->message_id);
	bind_text(st, 10, row.from_disp, row.from_disp_len);
	bind_text(st, 11, row.subject_disp, row.subject_disp_len);
	sqlite3_bind_int(st, 12, (int)d->truncated);
	if ((r = step_done(db, st, "insert document", err)) == PV_OK) {
		st = ds->stage;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, key);
		if (had)
			sqlite3_bind_int64(st, 3, old_key);
		for (int i = 0; i < INDEX_COLUMNS; i++)
			bind_buf(st, i + 4, &row.text[i]);
		r = step_done(db, st, "insert text", err);
	}
	index_row_free(&row);
	return r;
}

int index_add_doc(sqlite3 *db, int64_t id, const char *account, int64_t received_at,
	size_t len, const struct index_doc *doc, struct pv_error *err)
{
	struct index_batch_doc one = {id, account, received_at, len, doc};
	return index_add_docs(db, &one, 1, err);
}

int index_add_docs(sqlite3 *db, const struct index_batch_doc *v, size_t n, struct pv_error *err)
{
	struct doc_stmts ds;
	for (size_t i = 0; i < n; i++)
		if (v[i].id <= 0 || v[i].account == NULL)
			return pv_fail(err, PV_EUSAGE, "index: bad message id %lld", (long long)v[i].id);
	int r = exec(db, "SAVEPOINT idx_sp", err);
	if (r < 0)
		return r;
	if ((r = doc_stmts_prepare(db, &ds, err)) == PV_OK) {
		for (size_t i = 0; i < n && r == PV_OK; i++)
			if ((r = write_doc(db, &ds, v[i].id, v[i].account, v[i].received_at, v[i].len,
				v[i].doc, err)) < 0)
				pv_error_prefix(err, "index message %lld", (long long)v[i].id);
		doc_stmts_free(&ds);
		if (r == PV_OK)
			r = flush_stage(db, err);
	}
	return savepoint_end(db, r);
}

int index_add(sqlite3 *db, int64_t id, const char *account, int64_t received_at,
	const unsigned char *raw, size_t len, struct pv_error *err)
{
	if (id <= 0 || account == NULL)
		return pv_fail(err, PV_EUSAGE, "index: bad message id %lld", (long long)id);
	struct index_doc d;
	int r = index_mime_extract(raw, len, &d, err);
	if (r == PV_OK)
		r = index_add_doc(db, id, account, received_at, len, &d, err);
	index_doc_free(&d);
	return r;
}

int index_remove(sqlite3 *db, int64_t id, struct pv_error *err)
{
	int r = exec(db, "SAVEPOINT idx_sp", err);
	if (r < 0)
		return r;
	static const char *const sql[] = {
		"DELETE FROM idx_fts WHERE rowid = (SELECT key FROM idx_doc WHERE id = ?)",
		"DELETE FROM idx_doc WHERE id = ?", "DELETE FROM idx_failed WHERE id = ?",
	};
	for (size_t i = 0; i < 3 && r == PV_OK; i++) {
		sqlite3_stmt *st;
		r = prepare(db, sql[i], &st, err);
		if (r < 0)
			break;
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = db_fail(db, err, "remove");
		sqlite3_finalize(st);
	}
	return savepoint_end(db, r);
}

int index_mark_failed(sqlite3 *db, int64_t id, const char *reason, int64_t at,
		      struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = prepare(db, "INSERT OR REPLACE INTO idx_failed (id, reason, failed_at)"
			    " VALUES (?, ?, ?)", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, at);
	r = sqlite3_step(st) == SQLITE_DONE ? PV_OK : db_fail(db, err, "record a failure");
	sqlite3_finalize(st);
	return r;
}

int index_failed_count(sqlite3 *db, int64_t *n_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = prepare(db, "SELECT count(*) FROM idx_failed", &st, err);
	if (r < 0)
		return r;
	*n_r = 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		*n_r = sqlite3_column_int64(st, 0);
	else
		r = db_fail(db, err, "count failures");
	sqlite3_finalize(st);
	return r;
}

int index_failed_reason(sqlite3 *db, int64_t id, char *reason, size_t n, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = prepare(db, "SELECT reason FROM idx_failed WHERE id = ?", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(reason, n, "%s", (const char *)sqlite3_column_text(st, 0));
	else
		r = rc == SQLITE_DONE ? pv_fail(err, PV_ENOTFOUND, "message %lld did not fail",
						(long long)id)
				      : db_fail(db, err, "read a failure");
	sqlite3_finalize(st);
	return r;
}

int index_purge(sqlite3 *db, struct pv_error *err)
{
	return exec(db, "INSERT INTO idx_fts(idx_fts) VALUES ('optimize')", err);
}

void index_hits_free(struct index_hits *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].account);
		free(h->v[i].from);
		free(h->v[i].subject);
	}
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

/* The sort-key column: the FTS rowid when the FTS index drives the query
 * (then its range and order come from the index itself). */
static const char *key_col(const struct index_query_sql *q)
{
	return q->match ? "idx_fts.rowid" : "d.key";
}

/* " AND key >= ? AND key < ?" as far as the query narrows it. */
static int key_range(const struct index_query_sql *q, struct pv_buf *sql, struct pv_error *err)
{
	int r = PV_OK;
	if (q->lo != INT64_MIN)
		r = pv_buf_printf(sql, err, " AND %s >= ?", key_col(q));
	if (r == PV_OK && q->hi != INT64_MAX)
		r = pv_buf_printf(sql, err, " AND %s < ?", key_col(q));
	return r;
}

/* "FROM ... WHERE ..." for a compiled query; binds start at 1. */
static int query_from(const struct index_query_sql *q, struct pv_buf *sql, struct pv_error *err)
{
	int r = q->match ? pv_buf_append_str(sql, " FROM idx_fts JOIN idx_doc d ON"
				" d.key = idx_fts.rowid WHERE idx_fts MATCH ?", err)
			 : pv_buf_append_str(sql, " FROM idx_doc d WHERE 1", err);
	if (r == PV_OK)
		r = key_range(q, sql, err);
	if (r == PV_OK)
		r = pv_buf_printf(sql, err, " AND (%s)", pv_buf_str(&q->where));
	return r;
}

int index_sql_bind(sqlite3_stmt *st, const struct index_query_sql *q)
{
	int i = 1;
	if (q->match)
		sqlite3_bind_text(st, i++, q->match, -1, SQLITE_STATIC);
	if (q->lo != INT64_MIN)
		sqlite3_bind_int64(st, i++, q->lo);
	if (q->hi != INT64_MAX)
		sqlite3_bind_int64(st, i++, q->hi);
	for (size_t k = 0; k < q->nparams; k++, i++) {
		if (q->params[k].is_text)
			sqlite3_bind_text(st, i, q->params[k].text, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(st, i, q->params[k].num);
	}
	return i;
}

static int compile(const char *query, struct index_query_sql *q, struct pv_error *err)
{
	struct index_query *parsed;
	int r = index_query_parse(query, &parsed, err);
	if (r < 0) {
		memset(q, 0, sizeof(*q));
		return r;
	}
	r = index_query_compile(parsed, q, err);
	index_query_free(&parsed);
	return r;
}

static char *column_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return strdup(s ? (const char *)s : "");
}

/* A display column for people: without bidi controls (utf8.h), however it
 * was indexed. */
static char *display_dup(sqlite3_stmt *st, int i)
{
	char *s = column_dup(st, i);
	if (s != NULL)
		pv_utf8_strip_bidi(s);
	return s;
}

/* ORDER BY for o (the select joins idx_fts only when the query has a
 * top-level match, which is also what a rank needs). The sort key is
 * the date, then the id: ordered by it, the FTS index hands out the
 * newest matches first and a page stops early. */
static const char *order_by(const struct index_query_sql *q, const struct index_order *o)
{
	bool rank = o->by == INDEX_SORT_RELEVANCE && q->match != NULL;
	if (rank)
		return o->ascending ? " ORDER BY idx_fts.rank DESC, idx_fts.rowid DESC"
				    : " ORDER BY idx_fts.rank, idx_fts.rowid DESC";
	if (q->match)
		return o->ascending ? " ORDER BY idx_fts.rowid" : " ORDER BY idx_fts.rowid DESC";
	return o->ascending ? " ORDER BY d.key" : " ORDER BY d.key DESC";
}

/* run_search's statements: the count of every match, the count up to a
 * bound (its LIMIT bound after q's), the page (LIMIT, OFFSET after q's). */
enum search_stmt { STMT_COUNT, STMT_COUNT_UPTO, STMT_PAGE };

static int search_sql(const struct index_query_sql *q, const struct index_order *o,
	enum search_stmt kind, struct pv_buf *sql, struct pv_error *err)
{
	int r;
	if (kind != STMT_PAGE) {
		bool upto = kind == STMT_COUNT_UPTO;
		/* a pure text query counts on the FTS index alone: every idx_fts
		 * row has its idx_doc row (both are written in one savepoint) */
		if (q->match && strcmp(pv_buf_str(&q->where), "1") == 0) {
			r = pv_buf_append_str(sql, upto ? "SELECT count(*) FROM (SELECT 1 FROM idx_fts"
							  " WHERE idx_fts MATCH ?"
							: "SELECT count(*) FROM idx_fts WHERE idx_fts MATCH ?",
				err);
			if (r == PV_OK)
				r = key_range(q, sql, err);
		} else {
			r = pv_buf_append_str(sql, upto ? "SELECT count(*) FROM (SELECT 1" : "SELECT count(*)",
				err);
			if (r == PV_OK)
				r = query_from(q, sql, err);
		}
		/* the LIMIT stops the engine at the bound's match */
		if (r == PV_OK && upto)
			r = pv_buf_append_str(sql, " LIMIT ?)", err);
		return r;
	}
	r = pv_buf_append_str(sql, "SELECT d.id, d.date, d.date_known, d.size, d.account,"
		" d.from_disp, d.subject_disp, d.has_attachment", err);
	if (r == PV_OK)
		r = query_from(q, sql, err);
	if (r == PV_OK)
		r = pv_buf_printf(sql, err, "%s LIMIT ? OFFSET ?", order_by(q, o));
	return r;
}

int index_sql_count(sqlite3 *db, const struct index_query_sql *q, int64_t max, int64_t *n_r,
	struct pv_error *err)
{
	static const struct index_order newest_first = {INDEX_SORT_DATE, false};
	enum search_stmt kind = max == INDEX_COUNT_ALL ? STMT_COUNT : STMT_COUNT_UPTO;
	struct pv_buf sql;
	sqlite3_stmt *st = NULL;
	pv_buf_init(&sql, 64 * 1024 + 20 * PV_QUERY_MAX);
	int r = search_sql(q, &newest_first, kind, &sql, err);
	if (r == PV_OK)
		r = prepare(db, pv_buf_str(&sql), &st, err);
	if (r == PV_OK) {
		int i = index_sql_bind(st, q);
		if (kind == STMT_COUNT_UPTO)
			sqlite3_bind_int64(st, i, max);
		if (sqlite3_step(st) == SQLITE_ROW)
			*n_r = sqlite3_column_int64(st, 0);
		else
			r = db_fail(db, err, "count");
	}
	sqlite3_finalize(st);
	pv_buf_free(&sql);
	return r;
}

/* The count (up to count_cap, or exact; on two cores through par when it
 * pays and this call owns the read transaction, which then has not read
 * yet), then the page, which never relies on the count being exact. */
static int run_search(sqlite3 *db, struct index_par *par, bool own,
	const struct index_query_sql *q, const struct index_order *o, int64_t count_cap,
	int64_t limit, int64_t offset, struct index_hits *hits, int64_t *total_r, bool *exact_r,
	struct pv_error *err)
{
	struct pv_buf sql;
	sqlite3_stmt *st = NULL;
	pv_buf_init(&sql, 64 * 1024 + 20 * PV_QUERY_MAX);
	int r;
	*exact_r = true;
	/* counting stops at cap + 1: past the cap, the total is "more than" */
	int64_t max = count_cap == INDEX_COUNT_ALL ? INDEX_COUNT_ALL : count_cap + 1;
	if (par != NULL && own && q->match != NULL)
		r = index_par_count(par, db, q, max, total_r, err);
	else
		r = index_sql_count(db, q, max, total_r, err);
	if (r == PV_OK && count_cap != INDEX_COUNT_ALL && *total_r > count_cap) {
		*total_r = count_cap;
		*exact_r = false;
	}
	if (r < 0 || limit == 0 || (*exact_r && offset >= *total_r))
		goto out;
	r = search_sql(q, o, STMT_PAGE, &sql, err);
	if (r == PV_OK)
		r = prepare(db, pv_buf_str(&sql), &st, err);
	if (r < 0)
		goto out;
	int i = index_sql_bind(st, q);
	sqlite3_bind_int64(st, i, limit);
	sqlite3_bind_int64(st, i + 1, offset);
	/* an exact total sizes the page; else up to limit rows */
	size_t cap = (size_t)(*exact_r && *total_r - offset < limit ? *total_r - offset : limit);
	hits->v = calloc(cap ? cap : 1, sizeof(*hits->v));
	if (hits->v == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && hits->n < cap) {
		struct index_hit *h = &hits->v[hits->n++];
		h->id = sqlite3_column_int64(st, 0);
		h->date = sqlite3_column_int64(st, 1);
		h->date_known = sqlite3_column_int(st, 2) != 0;
		h->size = sqlite3_column_int64(st, 3);
		h->account = column_dup(st, 4);
		h->from = display_dup(st, 5);
		h->subject = display_dup(st, 6);
		h->has_attachment = sqlite3_column_int(st, 7) != 0;
		if (!h->account || !h->from || !h->subject) {
			r = pv_fail(err, PV_ERR, "out of memory");
			break;
		}
	}
	if (r == PV_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = db_fail(db, err, "search");
out:
	sqlite3_finalize(st);
	pv_buf_free(&sql);
	return r;
}

int index_search_explain(sqlite3 *db, const char *query, struct pv_buf *out,
	struct pv_error *err)
{
	static const struct index_order newest_first = {INDEX_SORT_DATE, false};
	struct index_query_sql q;
	struct pv_buf sql;
	int r = compile(query, &q, err);
	pv_buf_init(&sql, 64 * 1024 + 20 * PV_QUERY_MAX);
	for (int page = 0; r == PV_OK && page < 2; page++) {
		sqlite3_stmt *st = NULL;
		pv_buf_reset(&sql);
		r = pv_buf_append_str(&sql, "EXPLAIN QUERY PLAN ", err);
		if (r == PV_OK)
			r = search_sql(&q, &newest_first, page ? STMT_PAGE : STMT_COUNT_UPTO, &sql, err);
		if (r == PV_OK)
			r = prepare(db, pv_buf_str(&sql), &st, err);
		if (r < 0)
			break;
		int i = index_sql_bind(st, &q);
		sqlite3_bind_int64(st, i, page ? 50 : PV_SEARCH_TOTAL_CAP + 1);
		if (page)
			sqlite3_bind_int64(st, i + 1, 0);
		r = pv_buf_append_str(out, page ? "page:\n" : "count:\n", err);
		while (r == PV_OK && sqlite3_step(st) == SQLITE_ROW)
			r = pv_buf_printf(out, err, "  %s\n", (const char *)sqlite3_column_text(st, 3));
		sqlite3_finalize(st);
	}
	pv_buf_free(&sql);
	index_query_sql_free(&q);
	return r;
}

/* Count and page in one read transaction, unless the caller has one. */
static int read_begin(sqlite3 *db, bool *own_r, struct pv_error *err)
{
	*own_r = false;
	if (db == NULL)
		return no_sqlite(err);
	*own_r = sqlite3_get_autocommit(db) != 0;
	return *own_r ? exec(db, "BEGIN", err) : PV_OK;
}

static void read_end(sqlite3 *db, bool own)
{
	if (own)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

int index_search(sqlite3 *db, const char *query, int64_t limit, int64_t offset,
	struct index_hits *hits_r, int64_t *total_r, struct pv_error *err)
{
	return index_search_ordered(db, query, NULL, limit, offset, hits_r, total_r, err);
}

int index_search_ordered(sqlite3 *db, const char *query, const struct index_order *order,
	int64_t limit, int64_t offset, struct index_hits *hits_r, int64_t *total_r,
	struct pv_error *err)
{
	return index_search_par(db, NULL, query, order, INDEX_COUNT_ALL, limit, offset, hits_r,
		total_r, NULL, err);
}

int index_search_par(sqlite3 *db, struct index_par *par, const char *query,
	const struct index_order *order, int64_t count_cap, int64_t limit, int64_t offset,
	struct index_hits *hits_r, int64_t *total_r, bool *exact_r, struct pv_error *err)
{
	static const struct index_order newest_first = {INDEX_SORT_DATE, false};
	bool exact = true;
	hits_r->v = NULL;
	hits_r->n = 0;
	*total_r = 0;
	if (exact_r != NULL)
		*exact_r = true;
	if (limit < 0 || limit > PV_SEARCH_LIMIT_MAX)
		return pv_fail(err, PV_EUSAGE, "limit must be 0..%d", PV_SEARCH_LIMIT_MAX);
	if (offset < 0)
		return pv_fail(err, PV_EUSAGE, "offset must not be negative");
	if (count_cap <= 0)
		return pv_fail(err, PV_EUSAGE, "a search counts up to at least 1 match");
	struct index_query_sql q;
	int r = compile(query, &q, err);
	bool own = false;
	if (r == PV_OK)
		r = read_begin(db, &own, err);
	if (r == PV_OK) {
		r = run_search(db, par, own, &q, order ? order : &newest_first, count_cap, limit,
			offset, hits_r, total_r, &exact, err);
		read_end(db, own);
	}
	index_query_sql_free(&q);
	if (r < 0) {
		index_hits_free(hits_r);
		*total_r = 0;
		exact = true;
	}
	if (exact_r != NULL)
		*exact_r = exact;
	return r;
}

int index_match_ids(sqlite3 *db, const char *query, int64_t **ids_r, size_t *n_r,
	struct pv_error *err)
{
	*ids_r = NULL;
	*n_r = 0;
	struct index_query_sql q;
	struct pv_buf sql;
	sqlite3_stmt *st = NULL;
	int r = compile(query, &q, err);
	pv_buf_init(&sql, 64 * 1024 + 20 * PV_QUERY_MAX);
	if (r == PV_OK)
		r = pv_buf_append_str(&sql, "SELECT d.id", err);
	if (r == PV_OK)
		r = query_from(&q, &sql, err);
	if (r == PV_OK)
		r = pv_buf_append_str(&sql, " ORDER BY d.id", err);
	if (r == PV_OK)
		r = prepare(db, pv_buf_str(&sql), &st, err);
	if (r == PV_OK) {
		index_sql_bind(st, &q);
		size_t cap = 0;
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (*n_r == cap) {
				cap = cap ? cap * 2 : 256;
				int64_t *v = realloc(*ids_r, cap * sizeof(*v));
				if (v == NULL) {
					r = pv_fail(err, PV_ERR, "out of memory");
					break;
				}
				*ids_r = v;
			}
			(*ids_r)[(*n_r)++] = sqlite3_column_int64(st, 0);
		}
		if (r == PV_OK && rc != SQLITE_DONE)
			r = db_fail(db, err, "match");
	}
	sqlite3_finalize(st);
	pv_buf_free(&sql);
	index_query_sql_free(&q);
	if (r < 0) {
		free(*ids_r);
		*ids_r = NULL;
		*n_r = 0;
	}
	return r;
}
