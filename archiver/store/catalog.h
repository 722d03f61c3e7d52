#ifndef PV_CATALOG_H
#define PV_CATALOG_H

/* The SQLite catalog: one database file per data directory (ARCHITECTURE.md §4).
 * WAL, synchronous=FULL (commits that precede a DELE must be durable),
 * foreign keys on. The schema evolves by numbered migrations recorded in
 * PRAGMA user_version; each is applied in its own transaction. They make
 * every table of the file, the logs' and the search index's included
 * (archiver/store/migrations.h). */

#include <sqlite3.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/db.h"

/* db: the SQLite handle, for the modules not yet written against
 * lib/db.h (NULL when the catalog is on PostgreSQL); conn: the same
 * database through that interface (ARCHITECTURE.md §12). path: the file,
 * or the PostgreSQL URL. */
struct catalog {
	sqlite3 *db;
	struct db *conn;
	char *path;
};

/* Number of the newest migration this binary knows. */
int catalog_schema_version(void);

/* Opens DIR/catalog.db, or the PostgreSQL database DIR/catalog.url names
 * (catalog_url.h; then cat->db is NULL and only cat->conn is there).
 * create: make it (refuse a file that exists, or a database that holds a
 * catalog already) and migrate; otherwise it must exist, and pending
 * migrations are applied. A database newer than this binary is refused.
 * Caller frees with catalog_close. */
int catalog_open(const char *data_dir, int create, struct catalog **cat_r, struct pv_error *err);

/* PV_OK when url (checked by catalog_url_check) reaches a PostgreSQL
 * database holding no popvault catalog (no schema_version row above 0 in
 * its current schema: a first migration that failed leaves at most a
 * 0, and init may be run again); init asks before it makes anything. */
int catalog_server_free(const char *url, struct pv_error *err) PV_WARN_UNUSED;
/* The catalog schema version in the PostgreSQL database db (its current
 * schema), 0 when it holds none: what catalog_server_free asks. */
int catalog_server_version(struct db *db, int64_t *v_r, struct pv_error *err) PV_WARN_UNUSED;
/* The opposite, for a machine joining an archive (archive/identity.h):
 * PV_OK when the database at url holds a catalog, PV_ERR when not. */
int catalog_server_holds(const char *url, struct pv_error *err) PV_WARN_UNUSED;
void catalog_close(struct catalog **cat);

/* Applies migrations up to `target` (tests use this to check each step). */
int catalog_migrate(sqlite3 *db, int target, struct pv_error *err);

/* Transactions on cat->conn (lib/db.h: db_begin, db_commit, db_rollback):
 * one writer at a time on SQLite and on PostgreSQL. */
int catalog_begin(struct catalog *cat, struct pv_error *err);
int catalog_commit(struct catalog *cat, struct pv_error *err);
void catalog_rollback(struct catalog *cat);
/* Commits of derived data that may be lost in a power cut and made again
 * (the search index: the indexer resumes from what reached the disk):
 * synchronous=NORMAL on this connection until catalog_durable_commits
 * puts FULL back. WAL keeps the catalog consistent either way; only the
 * last such commits may be undone by a power cut. SQLite only: nothing
 * on PostgreSQL (its server's settings decide). */
void catalog_relaxed_commits(struct catalog *cat);
void catalog_durable_commits(struct catalog *cat);
/* A read transaction with its snapshot taken now (WAL: writers go on and
 * what they commit stays unseen until catalog_rollback ends it). */
int catalog_begin_read(struct catalog *cat, struct pv_error *err);


/* Transitional: the four helpers below take the SQLite handle, for the
 * modules not yet converted to lib/db.h (ARCHITECTURE.md §12). New code
 * uses db_exec, db_prepare, db_query_int and db_collect_ids on
 * cat->conn; these go once their last caller has moved. */

/* Runs one statement without results. */
int catalog_exec(sqlite3 *db, const char *sql, struct pv_error *err);
/* Prepares a statement; PV_ERR with the SQLite message on failure. */
int catalog_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt_r, struct pv_error *err);
/* One-row, one-integer query (e.g. SELECT count(*)); PV_ENOTFOUND if no row. */
int catalog_query_int(sqlite3 *db, const char *sql, int64_t *value_r, struct pv_error *err);

/* Steps a prepared statement whose first column is an id, collecting every
 * row's id into a malloc'ed array (*ids_r, owned by the caller; NULL when
 * there is none). Finalizes st in every case. */
int catalog_collect_ids(sqlite3 *db, sqlite3_stmt *st, int64_t **ids_r, size_t *n_r,
			struct pv_error *err);

/* Key/value settings kept in the meta table (on lib/db.h: SQLite or
 * PostgreSQL). value_r is malloc'ed. */
int catalog_meta_get(struct db *db, const char *key, char **value_r, struct pv_error *err);
int catalog_meta_set(struct db *db, const char *key, const char *value, struct pv_error *err);

#endif
