/* lib/db.h: dispatch to the implementation a connection was opened
 * with, and what is written once for both. */
#include "archiver/lib/db_backend.h"

#include <stdlib.h>
#include <string.h>

bool db_url_is_postgres(const char *url)
{
	return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0 ||
	       strchr(url, '=') != NULL;
}

int db_open(const char *url, int flags, struct db **db_r, struct pv_error *err)
{
	*db_r = NULL;
	if (db_url_is_postgres(url))
		return db_pg_open(url, db_r, err);
	return db_sqlite_open(url, flags, db_r, err);
}

void db_close(struct db **db)
{
	if (*db == NULL)
		return;
	(*db)->ops->close(*db);
	*db = NULL;
}

enum db_kind db_kind(const struct db *db)
{
	return db->ops->kind;
}

int db_prepare(struct db *db, const char *sql, struct db_stmt **st_r, struct pv_error *err)
{
	*st_r = NULL;
	return db->ops->prepare(db, sql, st_r, err);
}

void db_finalize(struct db_stmt **st)
{
	if (*st == NULL)
		return;
	(*st)->ops->finalize(*st);
	*st = NULL;
}

void db_reset(struct db_stmt *st)
{
	st->ops->reset(st);
}

void db_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	st->ops->bind_int64(st, i, v);
}

void db_bind_text(struct db_stmt *st, int i, const char *s, int len)
{
	st->ops->bind_text(st, i, s, len);
}

void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
	st->ops->bind_blob(st, i, p, len);
}

void db_bind_null(struct db_stmt *st, int i)
{
	st->ops->bind_null(st, i);
}

int db_step(struct db_stmt *st, struct pv_error *err)
{
	return st->ops->step(st, err);
}

int db_column_count(struct db_stmt *st)
{
	return st->ops->column_count(st);
}

bool db_column_is_null(struct db_stmt *st, int i)
{
	return st->ops->column_is_null(st, i);
}

int64_t db_column_int64(struct db_stmt *st, int i)
{
	return st->ops->column_int64(st, i);
}

const char *db_column_text(struct db_stmt *st, int i)
{
	return st->ops->column_text(st, i);
}

const void *db_column_blob(struct db_stmt *st, int i, size_t *len_r)
{
	return st->ops->column_blob(st, i, len_r);
}

int64_t db_changes(struct db_stmt *st)
{
	return st->ops->changes(st);
}

int db_exec(struct db *db, const char *sql, struct pv_error *err)
{
	int r = db->ops->exec(db, sql, err);
	/* The end of a write transaction: a COMMIT that went through runs
	 * the hook (a strcmp per exec, none per statement stepped). */
	if (db->writing && !db->ops->in_transaction(db)) {
		db->writing = false;
		if (r == PV_OK && db->on_commit != NULL && strcmp(sql, "COMMIT") == 0)
			db->on_commit(db->on_commit_ctx);
	}
	return r;
}

int db_query_int(struct db *db, const char *sql, int64_t *v_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, sql, &st, err);
	if (r < 0)
		return r;
	if ((r = db_step(st, err)) == DB_ROW) {
		*v_r = db_column_int64(st, 0);
		r = PV_OK;
	} else if (r == DB_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "no row");
	}
	db_finalize(&st);
	return r;
}

int db_collect_ids(struct db_stmt **st, int64_t **ids_r, size_t *n_r, struct pv_error *err)
{
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int r;
	while ((r = db_step(*st, err)) == DB_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			int64_t *v = realloc(ids, cap * sizeof(*v));
			if (v == NULL) {
				r = pv_fail(err, PV_ERR, "out of memory");
				break;
			}
			ids = v;
		}
		ids[n++] = db_column_int64(*st, 0);
	}
	db_finalize(st);
	if (r < 0) {
		free(ids);
		return r;
	}
	*ids_r = ids;
	*n_r = n;
	return PV_OK;
}

int db_begin(struct db *db, struct pv_error *err)
{
	int r = db->ops->begin(db, err);
	db->writing = r == PV_OK;
	return r;
}

int db_begin_read(struct db *db, struct pv_error *err)
{
	return db->ops->begin_read(db, err);
}

int db_commit(struct db *db, struct pv_error *err)
{
	int r = db_exec(db, "COMMIT", err);
	if (r < 0)
		db_rollback(db);
	return r;
}

void db_rollback(struct db *db)
{
	if (db->ops->in_transaction(db))
		(void)db->ops->exec(db, "ROLLBACK", NULL);
	db->writing = false;
}

bool db_in_transaction(struct db *db)
{
	return db->ops->in_transaction(db);
}

void db_on_commit(struct db *db, void (*fn)(void *ctx), void *ctx)
{
	db->on_commit = fn;
	db->on_commit_ctx = ctx;
}

bool db_broken(struct db *db)
{
	return db->ops->broken != NULL && db->ops->broken(db);
}

int db_server(struct db *db, char *host_r, size_t host_n, bool *unix_r, unsigned *port_r,
	      struct pv_error *err)
{
	if (db->ops->server == NULL)
		return pv_fail(err, PV_ENOTFOUND, "a SQLite catalog has no server");
	return db->ops->server(db, host_r, host_n, unix_r, port_r, err);
}
