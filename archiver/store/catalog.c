#include "archiver/store/catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "archiver/store/catalog_url.h"
#include "archiver/store/migrations.h"
#include "archiver/store/migrations_pg.h"

int catalog_schema_version(void)
{
	return migrations_catalog.count;
}

/* The transitional helpers on a catalog without a SQLite handle (on
 * PostgreSQL): what calls them is not converted yet; say so, not crash. */
static int not_on_server(struct pv_error *err)
{
	return pv_fail(err, PV_ERR, "not yet available on a PostgreSQL catalog (issue 18)");
}

int catalog_exec(sqlite3 *db, const char *sql, struct pv_error *err)
{
	char *msg = NULL;
	if (db == NULL)
		return not_on_server(err);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int r = pv_fail(err, PV_ERR, "database: %s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return r;
	}
	return PV_OK;
}

int catalog_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt_r, struct pv_error *err)
{
	*stmt_r = NULL;
	if (db == NULL)
		return not_on_server(err);
	if (sqlite3_prepare_v2(db, sql, -1, stmt_r, NULL) != SQLITE_OK)
		return pv_fail(err, PV_ERR, "database: %s", sqlite3_errmsg(db));
	return PV_OK;
}

int catalog_query_int(sqlite3 *db, const char *sql, int64_t *value_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, sql, &st, err);
	if (r < 0)
		return r;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*value_r = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		r = pv_fail(err, PV_ENOTFOUND, "no row");
	else
		r = pv_fail(err, PV_ERR, "database: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

int catalog_migrate(sqlite3 *db, int target, struct pv_error *err)
{
	return migrations_apply(db, &migrations_catalog, target, err);
}

/* How long a statement waits for another connection's write lock. */
#define CATALOG_BUSY_MS 10000

/* SQLite's own busy handler sleeps in growing steps, up to 100 ms each: a
 * group commit that meets the indexer's short write transaction slept
 * long past its end (0 to 104 ms per 2,000 messages harvested, measured).
 * Polling every half millisecond takes the lock soon after it is free. */
static int catalog_busy(void *ctx, int n)
{
	struct timespec half = {0, 500 * 1000};
	(void)ctx;
	if (n >= 2 * CATALOG_BUSY_MS)
		return 0;
	nanosleep(&half, NULL);
	return 1;
}

/* The catalog's schema version in db's current schema: 0 when there is
 * none (no schema_version table, or only the row a first migration that
 * failed left behind). Read without creating anything. */
static int server_version(struct db *db, int64_t *v_r, struct pv_error *err)
{
	int64_t has_table = 0;
	*v_r = 0;
	int r = db_query_int(db, "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename ="
				 " 'schema_version' AND schemaname = current_schema()", &has_table, err);
	if (r == PV_OK && has_table > 0)
		r = db_query_int(db, "SELECT coalesce(max(version), 0) FROM schema_version", v_r, err);
	return r;
}

int catalog_server_version(struct db *db, int64_t *v_r, struct pv_error *err)
{
	return server_version(db, v_r, err);
}

int catalog_server_free(const char *url, struct pv_error *err)
{
	struct db *db = NULL;
	int64_t v = 0;
	int r;
	if ((r = catalog_url_check(url, err)) < 0 || (r = db_open(url, 0, &db, err)) < 0)
		return r;
	if ((r = server_version(db, &v, err)) == PV_OK && v > 0)
		r = pv_fail(err, PV_ERR, "that PostgreSQL database already holds a popvault catalog "
					 "(schema %lld); refusing to use it for a new archive", (long long)v);
	db_close(&db);
	return r;
}

int catalog_server_holds(const char *url, struct pv_error *err)
{
	struct db *db = NULL;
	int64_t v = 0;
	int r;
	if ((r = catalog_url_check(url, err)) < 0 || (r = db_open(url, 0, &db, err)) < 0)
		return r;
	if ((r = server_version(db, &v, err)) == PV_OK && v == 0)
		r = pv_fail(err, PV_ERR, "that PostgreSQL database holds no popvault catalog: "
					 "joining needs the archive's own (made by init --catalog)");
	db_close(&db);
	return r;
}

/* The catalog in a PostgreSQL database (DIR/catalog.url): no SQLite
 * handle (cat->db NULL), only cat->conn. url is taken over. */
static int open_server(char *url, int create, struct catalog *cat, struct pv_error *err)
{
	int64_t v = 0;
	int r;
	cat->path = url;
	if (create && (r = catalog_server_free(url, err)) < 0)
		return r;
	if ((r = db_open(url, 0, &cat->conn, err)) < 0)
		return r;
	if (!create && ((r = server_version(cat->conn, &v, err)) < 0 || v == 0))
		return r < 0 ? r : pv_fail(err, PV_ERR, "no popvault catalog in the PostgreSQL "
						      "database that " CATALOG_URL_FILE " names");
	return migrations_apply_pg(cat->conn, &migrations_catalog_pg, migrations_catalog_pg.count,
				   err);
}

int catalog_open(const char *data_dir, int create, struct catalog **cat_r, struct pv_error *err)
{
	struct catalog *cat = calloc(1, sizeof(*cat));
	struct stat st;
	char *url = NULL;
	int r;

	if (cat == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if ((r = catalog_url_read(data_dir, &url, err)) < 0) {
		free(cat);
		return r;
	}
	if (url != NULL) {
		if ((r = open_server(url, create, cat, err)) < 0)
			goto fail;
		*cat_r = cat;
		return PV_OK;
	}
	if (asprintf(&cat->path, "%s/catalog.db", data_dir) < 0) {
		free(cat);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	if (create && stat(cat->path, &st) == 0) {
		r = pv_fail(err, PV_ERR, "%s already exists", cat->path);
		goto fail;
	}
	if (!create && stat(cat->path, &st) != 0) {
		r = pv_fail(err, PV_ERR, "no archive at %s (run 'popvault init' first): %s", data_dir,
			    strerror(errno));
		goto fail;
	}
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(cat->path, &cat->db, flags, NULL) != SQLITE_OK) {
		r = pv_fail(err, PV_ERR, "cannot open %s: %s", cat->path,
			    cat->db ? sqlite3_errmsg(cat->db) : "out of memory");
		goto fail;
	}
	if ((r = db_sqlite_wrap(cat->db, &cat->conn, err)) < 0)
		goto fail;
	sqlite3_busy_handler(cat->db, catalog_busy, NULL);
	sqlite3_extended_result_codes(cat->db, 1);
	/* FULL: a commit that precedes an upstream DELE must survive power loss. */
	if ((r = catalog_exec(cat->db,
			      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			      "PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;",
			      err)) < 0 ||
	    (r = catalog_migrate(cat->db, migrations_catalog.count, err)) < 0)
		goto fail;
	*cat_r = cat;
	return PV_OK;
fail:
	catalog_close(&cat);
	return r;
}

void catalog_close(struct catalog **catp)
{
	struct catalog *cat = *catp;
	if (cat == NULL)
		return;
	db_close(&cat->conn);
	sqlite3_close(cat->db);
	free(cat->path);
	free(cat);
	*catp = NULL;
}

int catalog_begin(struct catalog *cat, struct pv_error *err)
{
	return db_begin(cat->conn, err);
}

/* synchronous is SQLite's; PostgreSQL's commits stay as its server says. */
void catalog_relaxed_commits(struct catalog *cat)
{
	sqlite3 *h = db_sqlite(cat->conn);
	if (h != NULL)
		(void)sqlite3_exec(h, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
}

void catalog_durable_commits(struct catalog *cat)
{
	sqlite3 *h = db_sqlite(cat->conn);
	if (h != NULL)
		(void)sqlite3_exec(h, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
}

int catalog_begin_read(struct catalog *cat, struct pv_error *err)
{
	return db_begin_read(cat->conn, err);
}

int catalog_commit(struct catalog *cat, struct pv_error *err)
{
	return db_commit(cat->conn, err);
}

void catalog_rollback(struct catalog *cat)
{
	db_rollback(cat->conn);
}

int catalog_collect_ids(sqlite3 *db, sqlite3_stmt *st, int64_t **ids_r, size_t *n_r,
			struct pv_error *err)
{
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			int64_t *v = realloc(ids, cap * sizeof(*v));
			if (v == NULL)
				break;
			ids = v;
		}
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(ids);
		return pv_fail(err, PV_ERR, rc == SQLITE_ROW ? "out of memory" : "catalog: %s",
			       sqlite3_errmsg(db));
	}
	*ids_r = ids;
	*n_r = n;
	return PV_OK;
}

int catalog_meta_get(struct db *db, const char *key, char **value_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT value FROM meta WHERE key = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, key, -1);
	if ((r = db_step(st, err)) == DB_ROW) {
		const char *v = db_column_text(st, 0);
		*value_r = strdup(v ? v : "");
		r = *value_r ? PV_OK : pv_fail(err, PV_ERR, "out of memory");
	} else if (r == DB_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "no setting '%s'", key);
	}
	db_finalize(&st);
	return r;
}

int catalog_meta_set(struct db *db, const char *key, const char *value, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "INSERT INTO meta (key, value) VALUES (?, ?) "
			       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, key, -1);
	db_bind_text(st, 2, value, -1);
	r = db_step(st, err);
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}
