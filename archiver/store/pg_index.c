#include "archiver/store/pg_index.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/limits.h"

struct pg_index {
	struct db *db;
	bool owned; /* pg_index_open's own connection, closed with it */
};

/* Same columns and indexes as the SQLite index (catalog migration 5), the
 * FTS5 table replaced by tv and its GIN index (tv in lz4, as catalog
 * migration 18 makes it); idx_failed as SQLite's. */
static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS idx_meta (key text PRIMARY KEY, value bigint NOT NULL);\n"
	"CREATE TABLE IF NOT EXISTS idx_doc (\n"
	"  id bigint PRIMARY KEY,\n"
	"  account text NOT NULL,\n"
	"  date bigint NOT NULL,\n"
	"  date_known boolean NOT NULL,\n"
	"  received_at bigint NOT NULL,\n"
	"  size bigint NOT NULL,\n"
	"  has_attachment boolean NOT NULL,\n"
	"  message_id text NOT NULL,\n"
	"  from_disp text NOT NULL,\n"
	"  subject_disp text NOT NULL,\n"
	"  truncated integer NOT NULL,\n"
	"  tv tsvector NOT NULL,\n"
	"  tv_cut integer NOT NULL);\n"
	"CREATE INDEX IF NOT EXISTS idx_doc_date ON idx_doc (date, id);\n"
	"CREATE INDEX IF NOT EXISTS idx_doc_msgid ON idx_doc (message_id);\n"
	"CREATE INDEX IF NOT EXISTS idx_doc_account ON idx_doc (account, date);\n"
	"CREATE INDEX IF NOT EXISTS idx_doc_size ON idx_doc (size);\n"
	"CREATE INDEX IF NOT EXISTS idx_doc_tv ON idx_doc USING gin (tv);\n"
	"CREATE TABLE IF NOT EXISTS idx_failed (id bigint PRIMARY KEY, reason text NOT NULL,"
	" failed_at bigint NOT NULL);\n"
	"INSERT INTO idx_meta VALUES ('schema', 1) ON CONFLICT DO NOTHING;\n"
	PG_INDEX_TV_LZ4_SQL;

/* A write of its own transaction when the caller has none (the writers'
 * lock, as every catalog write), else a savepoint in the caller's: a
 * failure undoes this write only, as FTS5's writers do (index.h). */
static int write_begin(struct pg_index *px, bool *own_r, struct pv_error *err)
{
	*own_r = !db_in_transaction(px->db);
	return *own_r ? db_begin(px->db, err) : db_exec(px->db, "SAVEPOINT pg_idx_sp", err);
}

static int write_end(struct pg_index *px, bool own, int r, struct pv_error *err)
{
	if (own) {
		if (r == PV_OK)
			return db_commit(px->db, err);
		db_rollback(px->db);
		return r;
	}
	if (r != PV_OK && db_exec(px->db, "ROLLBACK TO SAVEPOINT pg_idx_sp", NULL) < 0)
		return r; /* the RELEASE would fail too: the caller's transaction is lost */
	int r2 = db_exec(px->db, "RELEASE SAVEPOINT pg_idx_sp", r == PV_OK ? err : NULL);
	return r != PV_OK ? r : r2;
}

/* Runs one prepared statement to its end (no rows wanted). */
static int run_done(struct db_stmt *st, struct pv_error *err)
{
	int rc;
	while ((rc = db_step(st, err)) == DB_ROW)
		;
	return rc < 0 ? rc : PV_OK;
}

int pg_index_exec(struct pg_index *px, const char *sql, struct pv_error *err)
{
	return db_exec(px->db, sql, err);
}

/* Copies sql, its $n placeholders (query_pg.h's) turned into ?n
 * (lib/db.h's, which it numbers the same). The text is ours: no quote or
 * comment holds a '$' or a '?'. */
static int placeholders(const char *sql, struct pv_buf *out, struct pv_error *err)
{
	for (const char *p = sql; *p; p++)
		if (pv_buf_append(out, *p == '$' ? "?" : p, 1, err) < 0)
			return PV_ERR;
	return PV_OK;
}

static int prepare_q(struct pg_index *px, const char *sql, const struct pg_index_query *q,
	struct db_stmt **st_r, struct pv_error *err)
{
	struct pv_buf b;
	pv_buf_init(&b, strlen(sql));
	int r = placeholders(sql, &b, err);
	if (r == PV_OK)
		r = db_prepare(px->db, pv_buf_str(&b), st_r, err);
	pv_buf_free(&b);
	for (size_t i = 0; r == PV_OK && q != NULL && i < q->nparams; i++)
		db_bind_text(*st_r, (int)i + 1, q->params[i], -1);
	return r;
}

int pg_index_rows(struct pg_index *px, const char *sql, size_t nparams,
	const char *const *params, int64_t *rows_r, struct pv_error *err)
{
	struct pg_index_query q = {sql, params, nparams, 0, false};
	struct db_stmt *st = NULL;
	int rc = prepare_q(px, sql, &q, &st, err);
	*rows_r = 0;
	while (rc == PV_OK && (rc = db_step(st, err)) == DB_ROW)
		(*rows_r)++;
	db_finalize(&st);
	return rc < 0 ? rc : PV_OK;
}

int pg_index_attach(struct db *db, struct pg_index **px_r, struct pv_error *err)
{
	*px_r = NULL;
	if (db_kind(db) != DB_POSTGRES)
		return pv_fail(err, PV_EUSAGE, "the PostgreSQL index needs a PostgreSQL database");
	struct pg_index *px = calloc(1, sizeof(*px));
	if (px == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	px->db = db;
	/* Made once (a catalog's migrations make idx_failed, not idx_doc).
	 * Else in the writers' lock: two processes making the tables at once
	 * would collide in the system catalogs. */
	int64_t made = 0;
	int r = db_query_int(db, "SELECT CASE WHEN to_regclass('idx_doc') IS NULL"
				 " OR to_regclass('idx_failed') IS NULL THEN 0 ELSE 1 END", &made, err);
	bool own;
	if (r == PV_OK && !made && (r = write_begin(px, &own, err)) == PV_OK)
		r = write_end(px, own, db_exec(db, schema_sql, err), err);
	if (r < 0) {
		free(px);
		return r;
	}
	*px_r = px;
	return PV_OK;
}

int pg_index_open(const char *conninfo, struct pg_index **px_r, struct pv_error *err)
{
	struct db *db = NULL;
	*px_r = NULL;
	if (!db_url_is_postgres(conninfo))
		return pv_fail(err, PV_EUSAGE, "not a PostgreSQL URL or conninfo");
	int r = db_open(conninfo, 0, &db, err);
	if (r == PV_OK && (r = pg_index_attach(db, px_r, err)) == PV_OK)
		(*px_r)->owned = true;
	if (r < 0)
		db_close(&db);
	return r;
}

void pg_index_close(struct pg_index **px)
{
	if (*px == NULL)
		return;
	if ((*px)->owned)
		db_close(&(*px)->db);
	free(*px);
	*px = NULL;
}

int pg_index_put(struct pg_index *px, const struct pg_index_row *v, size_t n,
	struct pv_error *err)
{
	static const char sql[] =
		"INSERT INTO idx_doc (id, account, date, date_known, received_at, size,"
		" has_attachment, message_id, from_disp, subject_disp, truncated, tv, tv_cut)"
		" VALUES (?, ?, ?, CAST(? AS bigint) = 1, ?, ?, CAST(? AS bigint) = 1, ?, ?, ?, ?,"
		" CAST(? AS tsvector), ?)"
		" ON CONFLICT (id) DO UPDATE SET account = excluded.account, date = excluded.date,"
		" date_known = excluded.date_known, received_at = excluded.received_at,"
		" size = excluded.size, has_attachment = excluded.has_attachment,"
		" message_id = excluded.message_id, from_disp = excluded.from_disp,"
		" subject_disp = excluded.subject_disp, truncated = excluded.truncated,"
		" tv = excluded.tv, tv_cut = excluded.tv_cut";
	struct db_stmt *st = NULL;
	bool own;
	int r = write_begin(px, &own, err);
	if (r < 0)
		return r;
	r = db_prepare(px->db, sql, &st, err);
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		db_reset(st);
		db_bind_int64(st, 1, v[i].id);
		db_bind_text(st, 2, v[i].account, -1);
		db_bind_int64(st, 3, v[i].date);
		db_bind_int64(st, 4, v[i].date_known);
		db_bind_int64(st, 5, v[i].received_at);
		db_bind_int64(st, 6, v[i].size);
		db_bind_int64(st, 7, v[i].has_attachment);
		db_bind_text(st, 8, v[i].message_id, -1);
		db_bind_text(st, 9, v[i].from_disp, -1);
		db_bind_text(st, 10, v[i].subject_disp, -1);
		db_bind_int64(st, 11, v[i].truncated);
		db_bind_text(st, 12, v[i].tsvector, -1);
		db_bind_int64(st, 13, v[i].tv_cut);
		if ((r = run_done(st, err)) < 0)
			pv_error_prefix(err, "index message %" PRId64, v[i].id);
	}
	db_finalize(&st);
	return write_end(px, own, r, err);
}

/* Statements taking id as their one parameter, in write_begin's frame. */
static int write_id(struct pg_index *px, const char *const *sqls, size_t n, int64_t id,
	struct pv_error *err)
{
	bool own;
	int r = write_begin(px, &own, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		struct db_stmt *st = NULL;
		if ((r = db_prepare(px->db, sqls[i], &st, err)) < 0)
			break;
		db_bind_int64(st, 1, id);
		r = run_done(st, err);
		db_finalize(&st);
	}
	return write_end(px, own, r, err);
}

int pg_index_remove(struct pg_index *px, int64_t id, struct pv_error *err)
{
	static const char *const sqls[] = {"DELETE FROM idx_doc WHERE id = ?",
		"DELETE FROM idx_failed WHERE id = ?"};
	return write_id(px, sqls, 2, id, err);
}

int pg_index_mark_failed(struct pg_index *px, int64_t id, const char *reason, int64_t at,
	struct pv_error *err)
{
	struct db_stmt *st = NULL;
	bool own;
	int r = write_begin(px, &own, err);
	if (r < 0)
		return r;
	r = db_prepare(px->db, "INSERT INTO idx_failed (id, reason, failed_at)"
			" VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET reason = excluded.reason,"
			" failed_at = excluded.failed_at", &st, err);
	if (r == PV_OK) {
		db_bind_int64(st, 1, id);
		db_bind_text(st, 2, reason, -1);
		db_bind_int64(st, 3, at);
		r = run_done(st, err);
	}
	db_finalize(&st);
	return write_end(px, own, r, err);
}

int pg_index_clear(struct pg_index *px, struct pv_error *err)
{
	bool own;
	int r = write_begin(px, &own, err);
	if (r < 0)
		return r;
	return write_end(px, own, db_exec(px->db, "DELETE FROM idx_doc; DELETE FROM idx_failed",
					  err), err);
}

int pg_index_count(struct pg_index *px, int64_t *n_r, struct pv_error *err)
{
	return db_query_int(px->db, "SELECT count(*) FROM idx_doc", n_r, err);
}

int pg_index_indexed(struct pg_index *px, const int64_t *ids, size_t n, bool *indexed_r,
	struct pv_error *err)
{
	struct pv_buf list;
	struct db_stmt *st = NULL;
	for (size_t i = 0; i < n; i++)
		indexed_r[i] = false;
	if (n == 0)
		return PV_OK;
	/* one round trip: the ids as an array literal, "{1,2,3}" */
	pv_buf_init(&list, 24 * n + 3);
	int r = pv_buf_printf(&list, err, "{");
	for (size_t i = 0; i < n && r == PV_OK; i++)
		r = pv_buf_printf(&list, err, "%s%" PRId64, i ? "," : "", ids[i]);
	if (r == PV_OK)
		r = pv_buf_printf(&list, err, "}");
	if (r == PV_OK)
		r = db_prepare(px->db, "SELECT id FROM idx_doc WHERE id = ANY (CAST(? AS bigint[]))",
			&st, err);
	if (r == PV_OK)
		db_bind_text(st, 1, pv_buf_str(&list), -1);
	int rc = r;
	while (r == PV_OK && (rc = db_step(st, err)) == DB_ROW) {
		int64_t id = db_column_int64(st, 0);
		for (size_t i = 0; i < n; i++)
			if (ids[i] == id)
				indexed_r[i] = true;
	}
	db_finalize(&st);
	pv_buf_free(&list);
	return rc < 0 ? rc : PV_OK;
}

/* A search's plan frame: the GIN index rather than a scan of every row.
 * PostgreSQL prices "tv @@ q" on a row as one operator call, but the
 * row's vector is first read from TOAST and decompressed (about 35 us a
 * row, measured): a query matching many rows looks cheaper by the table
 * than by the index, whose answer for words needs no vector at all, and
 * costs 40 times more. So a query with a tsquery turns sequential scans
 * off, for this transaction only; in the caller's, under a savepoint that
 * takes the setting back (and any error with it: the search only reads).
 * A query without one (dates, sizes, flags) keeps the planner's choice. */
struct plan {
	bool own; /* our transaction */
	bool sp;  /* our savepoint in the caller's */
};

static void plan_end(struct pg_index *px, const struct plan *p)
{
	if (p->own)
		db_rollback(px->db); /* read only: nothing to keep */
	else if (p->sp && (db_exec(px->db, "ROLLBACK TO SAVEPOINT pg_idx_q", NULL) < 0 ||
				  db_exec(px->db, "RELEASE SAVEPOINT pg_idx_q", NULL) < 0))
		return; /* the caller's transaction is lost: its commit will say so */
}

/* snapshot: the statements to come must see one (REPEATABLE READ). One
 * round trip for the transaction (or savepoint) and the setting. */
static int plan_begin(struct pg_index *px, const struct pg_index_query *q, bool snapshot,
	struct plan *p, struct pv_error *err)
{
	bool gin = strstr(q->where, "tv @@") != NULL; /* our SQL: user text is in $n */
	p->own = !db_in_transaction(px->db) && (snapshot || gin);
	p->sp = !p->own && gin && db_in_transaction(px->db);
	const char *sql = p->own ? (gin ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
					  " SET LOCAL enable_seqscan = off"
					: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
			  : p->sp ? "SAVEPOINT pg_idx_q; SET LOCAL enable_seqscan = off" : NULL;
	int r = sql ? db_exec(px->db, sql, err) : PV_OK;
	if (r < 0)
		plan_end(px, p);
	return r;
}

/* Whether the page should be read by walking idx_doc_date and testing each
 * row, rather than by finding every match (the GIN index) and sorting
 * them. The walk reads about rows * wanted / total rows before it has the
 * page, and tests each by its vector, read from TOAST (WALK_ROW_COST times
 * a match found by the index and sorted: measured 35 us against about 1);
 * finding and sorting costs about total. PostgreSQL's planner guesses a
 * tsquery's matches from statistics and misses rare words by a factor of
 * a hundred (measured: 30,771 guessed, 247 found, 0.46 s instead of 5 ms on
 * 1 M documents), but here the exact total is already counted. When the
 * count stopped at its cap, the matches are many and of unknown number:
 * the planner chooses (its guess errs on rare words, which these are not). */
#define WALK_ROW_COST 30.0
static bool walk_date_index(int64_t rows, int64_t total, bool exact, int64_t wanted)
{
	if (!exact)
		return true;
	return total > 0 &&
	       WALK_ROW_COST * (double)rows * (double)wanted / (double)total < (double)total;
}

static const char *order_by(const struct pg_index_query *q, bool by_rank, bool ascending,
	bool walk, char *buf, size_t n)
{
	if (by_rank && q->rank_param > 0) {
		/* ts_rank: higher is better, the reverse of FTS5's bm25 rank */
		snprintf(buf, n, " ORDER BY ts_rank(d.tv, CAST($%zu AS tsquery)) %s, d.date DESC,"
			" d.id DESC", q->rank_param, ascending ? "" : "DESC");
		return buf;
	}
	/* "d.date + 0" is the same order that idx_doc_date cannot give */
	snprintf(buf, n, " ORDER BY d.date%s%s, d.id%s", walk ? "" : " + 0",
		ascending ? "" : " DESC", ascending ? "" : " DESC");
	return buf;
}

int pg_index_search(struct pg_index *px, const struct pg_index_query *q, bool by_rank,
	bool ascending, int64_t count_cap, int64_t limit, int64_t offset, int64_t *total_r,
	bool *exact_r, pg_index_hit_fn fn, void *ctx, struct pv_error *err)
{
	struct pv_buf sql;
	struct db_stmt *st = NULL;
	char order[160];
	bool capped = count_cap != INT64_MAX;
	*total_r = 0;
	*exact_r = true;
	/* the count and the page in one snapshot, unless the caller's
	 * transaction is that already */
	struct plan plan;
	int r = plan_begin(px, q, true, &plan, err);
	if (r < 0)
		return r;
	/* A phrase's candidates are each read from TOAST to decide: the first
	 * page counts them in the same pass (a window over every match) rather
	 * than reading them twice. Else the count first, by the GIN index alone
	 * for words, and then the page, by the cheaper way (walk_date_index).
	 * A capped count stops at count_cap + 1 matches (a LIMIT under it); a
	 * phrase's candidates are then read twice, at most that many by it. */
	bool one = q->positions && offset == 0 && limit > 0 && !capped;
	pv_buf_init(&sql, strlen(q->where) + 1024);
	int64_t rows = 0; /* the table's, as last counted by ANALYZE */
	if (!one && (r = pv_buf_printf(&sql, err, "SELECT count(*), (SELECT CAST(reltuples AS"
				" bigint) FROM pg_class WHERE oid = CAST('idx_doc' AS regclass))"
				" FROM %sidx_doc d WHERE %s", capped ? "(SELECT 1 FROM " : "",
				q->where)) == PV_OK &&
	    (!capped || (r = pv_buf_printf(&sql, err, " LIMIT %" PRId64 ") s", count_cap + 1)) ==
			    PV_OK) &&
	    (r = prepare_q(px, pv_buf_str(&sql), q, &st, err)) == PV_OK) {
		int rc = db_step(st, err);
		if (rc == DB_ROW) {
			*total_r = db_column_int64(st, 0);
			rows = db_column_int64(st, 1);
		}
		else
			r = rc < 0 ? rc : pv_fail(err, PV_ERR, "postgresql: no count");
	}
	db_finalize(&st);
	if (r == PV_OK && capped && *total_r > count_cap) {
		*total_r = count_cap;
		*exact_r = false;
	}
	if (r < 0 || (!one && (limit == 0 || (*exact_r && offset >= *total_r))))
		goto out;
	pv_buf_reset(&sql);
	/* limit and offset as parameters: one prepared statement a query */
	r = pv_buf_printf(&sql, err, "SELECT d.id, d.date, d.date_known, d.size, d.account,"
		" d.from_disp, d.subject_disp, d.has_attachment, %s FROM idx_doc d WHERE %s%s"
		" LIMIT $%zu OFFSET $%zu", one ? "count(*) OVER ()" : "0", q->where,
		order_by(q, by_rank, ascending, !one && walk_date_index(rows, *total_r, *exact_r,
								  offset + limit), order, sizeof(order)),
		q->nparams + 1, q->nparams + 2);
	if (r == PV_OK && (r = prepare_q(px, pv_buf_str(&sql), q, &st, err)) == PV_OK) {
		db_bind_int64(st, (int)q->nparams + 1, limit);
		db_bind_int64(st, (int)q->nparams + 2, offset);
	}
	int rc = r;
	while (r == PV_OK && (rc = db_step(st, err)) == DB_ROW) {
		const char *a = db_column_text(st, 4), *f = db_column_text(st, 5),
			   *s = db_column_text(st, 6);
		struct pg_index_hit h = {
			.id = db_column_int64(st, 0), .date = db_column_int64(st, 1),
			.date_known = db_column_int64(st, 2) != 0, .size = db_column_int64(st, 3),
			.account = a ? a : "", .from_disp = f ? f : "", .subject_disp = s ? s : "",
			.has_attachment = db_column_int64(st, 7) != 0,
		};
		if (one)
			*total_r = db_column_int64(st, 8);
		r = fn(ctx, &h);
	}
	if (r == PV_OK && rc < 0)
		r = rc;
	db_finalize(&st);
out:
	pv_buf_free(&sql);
	plan_end(px, &plan);
	return r;
}

int pg_index_match_ids(struct pg_index *px, const struct pg_index_query *q, int64_t **ids_r,
	size_t *n_r, struct pv_error *err)
{
	struct pv_buf sql;
	struct db_stmt *st = NULL;
	*ids_r = NULL;
	*n_r = 0;
	struct plan plan;
	int r = plan_begin(px, q, false, &plan, err);
	if (r < 0)
		return r;
	pv_buf_init(&sql, strlen(q->where) + 1024);
	r = pv_buf_printf(&sql, err, "SELECT d.id FROM idx_doc d WHERE %s ORDER BY d.id", q->where);
	if (r == PV_OK)
		r = prepare_q(px, pv_buf_str(&sql), q, &st, err);
	if (r == PV_OK)
		r = db_collect_ids(&st, ids_r, n_r, err);
	db_finalize(&st);
	pv_buf_free(&sql);
	plan_end(px, &plan);
	if (r == PV_OK && *ids_r == NULL && (*ids_r = malloc(sizeof(**ids_r))) == NULL)
		r = pv_fail(err, PV_ERR, "out of memory");
	return r;
}
