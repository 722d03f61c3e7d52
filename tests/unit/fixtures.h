/* Set-ups shared by the unit tests (tests/unit/fixtures.c, linked into
 * every unit binary). Include after <cmocka.h>.
 *
 * Schemas: the tests get their tables where a data directory gets them.
 * fx_audit_schema runs the DDL of audit/ (tlog_schema_sql,
 * auditlog_schema_sql), the very texts catalog migration 5 runs; it needs
 * nothing above audit/, so `make SRC_DIRS="archiver/lib audit" unit` still
 * links. fx_catalog_schema runs every catalog migration (the search
 * index's tables included); it needs the store, hence inline here: only
 * the tests that call it link against archiver/store. */
#ifndef PV_TESTS_UNIT_FIXTURES_H
#define PV_TESTS_UNIT_FIXTURES_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/lib/error.h"
#include "archiver/store/catalog.h"
#include "archiver/lib/db.h"
#include "archiver/store/migrations_pg.h"
#include "audit/keys.h"
#include "audit/note.h"
#include "audit/tlog.h"

#define FX_PATH_MAX 128

/* Fails the running test, naming what, the code and err's message, when
 * r != 0. */
void fx_must(int r, const struct pv_error *err, const char *what);

/* Removes dir and everything under it (a test's temporary directory). */
void fx_rmtree(const char *dir);

/* How many of the whole pages inside [off, off+len) of path are in the
 * page cache (mincore). */
size_t fx_resident_pages(const char *path, uint64_t off, uint64_t len);
/* Whether path is on tmpfs, whose pages are the files themselves: nothing
 * can leave its page cache, so tests of that skip there. */
bool fx_on_tmpfs(const char *path);
/* mkdtemp(tmpl) for a test of the page cache; on tmpfs the directory is
 * removed again and the test skipped. */
void fx_cache_dir(char *tmpl);

/* What a call writes to stderr: fx_stderr_capture sends stderr to a
 * temporary file, fx_stderr_release puts it back and hands over what was
 * written meanwhile (said, NUL-terminated, at most cap - 1 bytes). */
struct fx_stderr {
	FILE *tmp;
	int saved;
};
void fx_stderr_capture(struct fx_stderr *c);
void fx_stderr_release(struct fx_stderr *c, char *said, size_t cap);

/* The bytes of tests/data/mime/NAME (below $POPVAULT_SRC, else "."), up to
 * 1 MiB, malloc'ed (the caller frees); fails the test when missing. */
unsigned char *fx_mime_sample(const char *name, size_t *len_r);

/* The tables of the Merkle logs and of the audit log on db. Idempotent. */
void fx_audit_schema(sqlite3 *db);

/* Every table of a catalog: all catalog migrations, on db. */
static inline void fx_catalog_schema(sqlite3 *db)
{
	struct pv_error err;
	fx_must(catalog_migrate(db, catalog_schema_version(), &err), &err, "catalog migrations");
}

/* The PostgreSQL of PV_TEST_PG (a libpq conninfo or URL; the e2e tests
 * tests/e2e/catalog_pg.t and search_pg.t start a real PostgreSQL 15 and
 * set it), or NULL when unset: tests then run on SQLite only. */
static inline const char *fx_pg_conninfo(void)
{
	const char *pg = getenv("PV_TEST_PG");
	return pg != NULL && *pg != '\0' ? pg : NULL;
}

/* A connection to PV_TEST_PG in a schema of its own, new and empty
 * (search_path), so that tests never see each other's tables; migrated
 * to catalog version `version` (0: nothing). */
static inline struct db *fx_pg_fresh(int version)
{
	static unsigned n;
	struct pv_error err;
	struct db *db = NULL;
	char sql[160];
	fx_must(db_open(fx_pg_conninfo(), 0, &db, &err), &err, "postgresql");
	snprintf(sql, sizeof(sql), "CREATE SCHEMA pv_t_%d_%u; SET search_path TO pv_t_%d_%u",
		 (int)getpid(), n, (int)getpid(), n);
	n++;
	fx_must(db_exec(db, sql, &err), &err, sql);
	fx_must(migrations_apply_pg(db, &migrations_catalog_pg, version, &err), &err,
		"postgresql migrations");
	return db;
}

/* A catalog for a test that runs on both engines: SQLite in a new data
 * directory /tmp/pv-TAG-XXXXXX, or (pg) a PostgreSQL schema of its own
 * (fx_pg_fresh), both fully migrated. db is the one to use. */
struct fx_catalog {
	char dir[64];
	struct catalog *cat; /* SQLite; NULL on PostgreSQL */
	struct db *db;       /* cat->conn, or the PostgreSQL connection */
};

static inline void fx_catalog_open(struct fx_catalog *c, const char *tag, bool pg)
{
	struct pv_error err;
	memset(c, 0, sizeof(*c));
	if (pg) {
		c->db = fx_pg_fresh(migrations_catalog_pg.count);
		return;
	}
	snprintf(c->dir, sizeof(c->dir), "/tmp/pv-%s-XXXXXX", tag);
	if (mkdtemp(c->dir) == NULL)
		fail_msg("mkdtemp %s", c->dir);
	fx_must(catalog_open(c->dir, 1, &c->cat, &err), &err, "catalog");
	c->db = c->cat->conn;
}

static inline void fx_catalog_close(struct fx_catalog *c)
{
	if (c->cat != NULL) {
		catalog_close(&c->cat);
		fx_rmtree(c->dir);
	} else {
		db_close(&c->db);
	}
}

/* A second connection to c's catalog, as another process or machine
 * would have (PostgreSQL: into the fixture's own schema). Close with
 * db_close. */
static inline struct db *fx_catalog_second(struct fx_catalog *c)
{
	struct pv_error err;
	struct db *other = NULL;
	if (c->cat != NULL) {
		fx_must(db_open(c->cat->path, 0, &other, &err), &err, "second connection");
		return other;
	}
	struct db_stmt *st;
	char sql[160];
	fx_must(db_open(fx_pg_conninfo(), 0, &other, &err), &err, "second connection");
	fx_must(db_prepare(c->db, "SELECT current_schema()", &st, &err), &err, "schema");
	assert_int_equal(db_step(st, &err), DB_ROW);
	snprintf(sql, sizeof(sql), "SET search_path TO %s", db_column_text(st, 0));
	db_finalize(&st);
	fx_must(db_exec(other, sql, &err), &err, "search_path");
	return other;
}

/* Each case twice: on SQLite (setup), then on PostgreSQL (setup_pg). */
#define FX_BOTH(t, setup, setup_pg, teardown)                   \
	cmocka_unit_test_setup_teardown(t, setup, teardown),     \
		cmocka_unit_test_setup_teardown(t, setup_pg, teardown)

/* The set-ups of a suite whose state is just a struct fx_catalog
 * (*state, tag TAG): setup (SQLite), setup_pg and teardown, for FX_BOTH. */
#define FX_CATALOG_SETUPS(tag)                                          \
	static int fx_catalog_setup_on(void **state, bool pg)          \
	{                                                               \
		struct fx_catalog *c = calloc(1, sizeof(*c));           \
		if (c == NULL)                                          \
			return -1;                                      \
		fx_catalog_open(c, tag, pg);                            \
		*state = c;                                             \
		return 0;                                               \
	}                                                               \
	static int setup(void **state)                                  \
	{                                                               \
		return fx_catalog_setup_on(state, false);               \
	}                                                               \
	static int setup_pg(void **state)                               \
	{                                                               \
		return fx_catalog_setup_on(state, true);                \
	}                                                               \
	static int teardown(void **state)                               \
	{                                                               \
		fx_catalog_close(*state);                               \
		free(*state);                                           \
		return 0;                                               \
	}

/* A case among FX_BOTH ones that runs on SQLite only (it needs SQLite's
 * file, or no database at all): its PostgreSQL half is empty. */
#define FX_ONCE(t) cmocka_unit_test(t), {.name = NULL}

/* Runs n tests made with FX_BOTH (and FX_ONCE): the PostgreSQL half (odd
 * entries) only with PV_TEST_PG (tests/e2e/catalog_pg.t), as a cmocka
 * skip would fail prove; with PV_TEST_PG_ONLY set, only that half (the
 * SQLite one is make unit's). */
int fx_run_both(const char *name, const struct CMUnitTest *tests, size_t n);

/* The data directory of the log tests: dir = /tmp/pv-TAG-XXXXXX (made),
 * keydir = dir/keys (made, 0700), dbpath = dir/catalog.db (not opened). */
void fx_logdir_make(const char *tag, char dir[FX_PATH_MAX], char keydir[FX_PATH_MAX],
		    char dbpath[FX_PATH_MAX]);

/* Opens (creating) the database at path, runs pragmas (NULL: none) and
 * makes the log and audit tables (fx_audit_schema). Close with
 * sqlite3_close. */
sqlite3 *fx_logdb_open(const char *path, const char *pragmas);

/* Genesis of log `log` with origin in db, its key in keydir
 * (keys_init_log); its verifier key into vkey_r (may be NULL). */
void fx_log_create(struct db *db, const char *keydir, const char *log, const char *origin,
		   char vkey_r[NOTE_VKEY_MAX + 1]);

/* Opens log `log` of db and loads its signing key from keydir. Free with
 * keys_free and tlog_free (before closing db). */
void fx_log_open(struct db *db, const char *keydir, const char *log, struct tlog **t_r,
		 struct note_signer **s_r);

/* The view through lib/db.h of a SQLite handle a test opened itself
 * (db_sqlite_wrap), made once per handle and kept for the binary's life:
 * it holds nothing but h, so closing h is all a test does. */
struct db *fx_conn(sqlite3 *h);

/* A log test's database, on either engine: SQLite at path with the log
 * tables (fx_logdb_open; *h_r the handle, for what only SQLite does) or
 * (pg) a fresh PostgreSQL schema with the catalog migrated (*h_r NULL).
 * Close with fx_logdb_close. */
static inline struct db *fx_logdb(const char *path, bool pg, sqlite3 **h_r)
{
	*h_r = NULL;
	if (pg)
		return fx_pg_fresh(migrations_catalog_pg.count);
	*h_r = fx_logdb_open(path, NULL);
	return fx_conn(*h_r);
}

static inline void fx_logdb_close(struct db **db, sqlite3 **h)
{
	if (*h != NULL) {
		sqlite3_close(*h);
		*h = NULL;
		*db = NULL;
	} else {
		db_close(db);
	}
}

/* Runs sql, whose ?1 is the text s (len -1: up to its NUL) or the blob
 * (p, len), on either engine; fails the test unless it runs to its end. */
static inline void fx_exec_bound(struct db *db, const char *sql, const void *p, size_t len,
				 bool blob)
{
	struct pv_error err;
	struct db_stmt *st = NULL;
	fx_must(db_prepare(db, sql, &st, &err), &err, sql);
	if (blob)
		db_bind_blob(st, 1, p, len);
	else
		db_bind_text(st, 1, p, (int)len);
	int r = db_step(st, &err);
	db_finalize(&st);
	fx_must(r == DB_DONE ? 0 : r < 0 ? r : PV_ERR, &err, sql);
}

static inline void fx_exec_text(struct db *db, const char *sql, const char *s, int len)
{
	fx_exec_bound(db, sql, s, len < 0 ? strlen(s) : (size_t)len, false);
}

static inline void fx_exec_blob(struct db *db, const char *sql, const void *p, size_t len)
{
	fx_exec_bound(db, sql, p, len, true);
}

/* Setups for FX_BOTH cases that open their database themselves: the
 * case asks fx_on_pg(state). */
int fx_setup_sqlite(void **state);
int fx_setup_pg(void **state);
int fx_teardown_none(void **state);
static inline bool fx_on_pg(void **state)
{
	return *state != NULL;
}

#endif
