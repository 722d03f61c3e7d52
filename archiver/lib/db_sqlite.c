/* lib/db.h on SQLite: each call is the sqlite3_* call it names. A
 * statement is the common header and the sqlite3_stmt; a step allocates
 * nothing. */
#include "archiver/lib/db_backend.h"

#include <sqlite3.h>
#include <stdlib.h>

struct db_sqlite {
	struct db base;
	sqlite3 *h;
	bool owned; /* db_open opened h; a wrap leaves it to its owner */
};

struct db_sqlite_stmt {
	struct db_stmt base;
	sqlite3_stmt *st;
	sqlite3 *h;
};

#define DB(d) ((struct db_sqlite *)(d))
#define ST(s) (((struct db_sqlite_stmt *)(s))->st)

static int fail(sqlite3 *h, struct pv_error *err)
{
	return pv_fail(err, PV_ERR, "database: %s", sqlite3_errmsg(h));
}

static int make(sqlite3 *h, bool owned, struct db **db_r, struct pv_error *err)
{
	struct db_sqlite *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	d->base.ops = &db_sqlite_ops;
	d->h = h;
	d->owned = owned;
	*db_r = &d->base;
	return PV_OK;
}

int db_sqlite_open(const char *path, int flags, struct db **db_r, struct pv_error *err)
{
	sqlite3 *h = NULL;
	int f = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
		((flags & DB_OPEN_CREATE) ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &h, f, NULL) != SQLITE_OK) {
		int r = pv_fail(err, PV_ERR, "cannot open %s: %s", path,
				h ? sqlite3_errmsg(h) : "out of memory");
		sqlite3_close(h);
		return r;
	}
	sqlite3_busy_timeout(h, 10000);
	sqlite3_extended_result_codes(h, 1);
	int r = make(h, true, db_r, err);
	if (r < 0)
		sqlite3_close(h);
	return r;
}

int db_sqlite_wrap(sqlite3 *h, struct db **db_r, struct pv_error *err)
{
	return make(h, false, db_r, err);
}

sqlite3 *db_sqlite(struct db *db)
{
	return db->ops == &db_sqlite_ops ? DB(db)->h : NULL;
}

static void s_close(struct db *db)
{
	if (DB(db)->owned)
		sqlite3_close(DB(db)->h);
	free(db);
}

static int s_prepare(struct db *db, const char *sql, struct db_stmt **st_r, struct pv_error *err)
{
	struct db_sqlite_stmt *s = malloc(sizeof(*s));
	if (s == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (sqlite3_prepare_v2(DB(db)->h, sql, -1, &s->st, NULL) != SQLITE_OK) {
		free(s);
		return fail(DB(db)->h, err);
	}
	s->base.ops = &db_sqlite_ops;
	s->h = DB(db)->h;
	*st_r = &s->base;
	return PV_OK;
}

static void s_finalize(struct db_stmt *st)
{
	sqlite3_finalize(ST(st));
	free(st);
}

static void s_reset(struct db_stmt *st)
{
	sqlite3_reset(ST(st));
}

static void s_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(ST(st), i, v);
}

static void s_bind_text(struct db_stmt *st, int i, const char *s, int len)
{
	sqlite3_bind_text(ST(st), i, s, len, SQLITE_STATIC);
}

static void s_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
	/* a zero-length blob is an empty blob, not NULL */
	sqlite3_bind_blob64(ST(st), i, len ? p : "", len, SQLITE_STATIC);
}

static void s_bind_null(struct db_stmt *st, int i)
{
	sqlite3_bind_null(ST(st), i);
}

static int s_step(struct db_stmt *st, struct pv_error *err)
{
	int rc = sqlite3_step(ST(st));
	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE)
		return DB_DONE;
	return fail(((struct db_sqlite_stmt *)st)->h, err);
}

static int s_column_count(struct db_stmt *st)
{
	return sqlite3_column_count(ST(st));
}

static bool s_column_is_null(struct db_stmt *st, int i)
{
	return sqlite3_column_type(ST(st), i) == SQLITE_NULL;
}

static int64_t s_column_int64(struct db_stmt *st, int i)
{
	return sqlite3_column_int64(ST(st), i);
}

static const char *s_column_text(struct db_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(ST(st), i);
}

static const void *s_column_blob(struct db_stmt *st, int i, size_t *len_r)
{
	const void *p = sqlite3_column_blob(ST(st), i);
	*len_r = (size_t)sqlite3_column_bytes(ST(st), i);
	return p;
}

static int64_t s_changes(struct db_stmt *st)
{
	return sqlite3_changes64(((struct db_sqlite_stmt *)st)->h);
}

static int s_exec(struct db *db, const char *sql, struct pv_error *err)
{
	char *msg = NULL;
	if (sqlite3_exec(DB(db)->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int r = pv_fail(err, PV_ERR, "database: %s", msg ? msg : sqlite3_errmsg(DB(db)->h));
		sqlite3_free(msg);
		return r;
	}
	return PV_OK;
}

static int s_begin(struct db *db, struct pv_error *err)
{
	return s_exec(db, "BEGIN IMMEDIATE", err);
}

static int s_begin_read(struct db *db, struct pv_error *err)
{
	/* A deferred transaction takes its snapshot at its first read. */
	int r = s_exec(db, "BEGIN; SELECT count(*) FROM sqlite_master", err);
	if (r < 0 && !sqlite3_get_autocommit(DB(db)->h))
		(void)s_exec(db, "ROLLBACK", NULL);
	return r;
}

static bool s_in_transaction(struct db *db)
{
	return !sqlite3_get_autocommit(DB(db)->h);
}

const struct db_ops db_sqlite_ops = {
	.kind = DB_SQLITE,
	.close = s_close,
	.prepare = s_prepare,
	.finalize = s_finalize,
	.reset = s_reset,
	.bind_int64 = s_bind_int64,
	.bind_text = s_bind_text,
	.bind_blob = s_bind_blob,
	.bind_null = s_bind_null,
	.step = s_step,
	.column_count = s_column_count,
	.column_is_null = s_column_is_null,
	.column_int64 = s_column_int64,
	.column_text = s_column_text,
	.column_blob = s_column_blob,
	.changes = s_changes,
	.exec = s_exec,
	.begin = s_begin,
	.begin_read = s_begin_read,
	.in_transaction = s_in_transaction,
};
