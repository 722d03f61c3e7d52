#ifndef PV_STORE_DB_BACKEND_H
#define PV_STORE_DB_BACKEND_H

/* What an implementation of lib/db.h provides (db_sqlite.c, db_pg.c):
 * a table of functions chosen when a connection is opened. Only db.c and
 * the implementations include this. Every struct db and struct db_stmt of
 * an implementation starts with the common part below. */

#include "archiver/lib/db.h"

struct db_ops {
	enum db_kind kind;
	void (*close)(struct db *db);
	int (*prepare)(struct db *db, const char *sql, struct db_stmt **st_r,
		       struct pv_error *err);
	void (*finalize)(struct db_stmt *st);
	void (*reset)(struct db_stmt *st);
	void (*bind_int64)(struct db_stmt *st, int i, int64_t v);
	void (*bind_text)(struct db_stmt *st, int i, const char *s, int len);
	void (*bind_blob)(struct db_stmt *st, int i, const void *p, size_t len);
	void (*bind_null)(struct db_stmt *st, int i);
	int (*step)(struct db_stmt *st, struct pv_error *err);
	int (*column_count)(struct db_stmt *st);
	bool (*column_is_null)(struct db_stmt *st, int i);
	int64_t (*column_int64)(struct db_stmt *st, int i);
	const char *(*column_text)(struct db_stmt *st, int i);
	const void *(*column_blob)(struct db_stmt *st, int i, size_t *len_r);
	int64_t (*changes)(struct db_stmt *st);
	int (*exec)(struct db *db, const char *sql, struct pv_error *err);
	int (*begin)(struct db *db, struct pv_error *err);
	int (*begin_read)(struct db *db, struct pv_error *err);
	bool (*in_transaction)(struct db *db);
	/* NULL where there is no server (SQLite) */
	bool (*broken)(struct db *db);
	int (*server)(struct db *db, char *host_r, size_t host_n, bool *unix_r, unsigned *port_r,
		      struct pv_error *err);
};

/* The common part; an implementation allocates it zeroed. */
struct db {
	const struct db_ops *ops;
	void (*on_commit)(void *ctx); /* db_on_commit */
	void *on_commit_ctx;
	bool writing; /* inside a transaction db_begin began */
};

struct db_stmt {
	const struct db_ops *ops;
};

extern const struct db_ops db_sqlite_ops;
extern const struct db_ops db_pg_ops;

int db_sqlite_open(const char *path, int flags, struct db **db_r, struct pv_error *err);
int db_pg_open(const char *conninfo, struct db **db_r, struct pv_error *err);

#endif
