#ifndef PV_STORE_DB_H
#define PV_STORE_DB_H

/* The catalog's database behind one narrow interface (ARCHITECTURE.md
 * §12), with two implementations chosen when it is opened (OpenSMTPD's
 * queue_backend is the model): SQLite (db_sqlite.c, a thin layer over
 * sqlite3_*) and PostgreSQL (db_pg.c, libpq). Code written against this
 * header runs on both when its SQL follows the dialect rules of §12:
 * `?` or `?N` placeholders (never both in one statement), RETURNING
 * instead of a last-insert id, integers for booleans and times, upserts
 * as INSERT ... ON CONFLICT (...) DO UPDATE, no SQLite-only functions
 * (max(a, b), strftime, printf) and no LIMIT -1.
 *
 * A connection and its statements belong to one thread at a time. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"

typedef struct sqlite3 sqlite3;

struct db;
struct db_stmt;

enum db_kind { DB_SQLITE, DB_POSTGRES };

/* What db_step returns besides a negative PV_* error. */
#define DB_DONE 0
#define DB_ROW 1

#define DB_OPEN_CREATE 1 /* SQLite: make the file when missing */

/* Opens url: "postgresql://..." or "postgres://..." (libpq's URL, also a
 * "host=... dbname=..." conninfo when it contains '=') on PostgreSQL,
 * anything else as a SQLite file path. No pragma and no migration: the
 * catalog (catalog.h) sets what it needs. *db_r owned by the caller
 * (db_close). */
int db_open(const char *url, int flags, struct db **db_r, struct pv_error *err) PV_WARN_UNUSED;
/* url names a PostgreSQL server (the test db_open makes). */
bool db_url_is_postgres(const char *url);
/* Refuses (PV_EUSAGE) a PostgreSQL URL or conninfo that is not one
 * (libpq cannot parse it) or that holds a password: a password belongs
 * in libpq's passfile (PGPASSFILE, ~/.pgpass), never in a file of ours. */
int db_url_check_no_password(const char *url, struct pv_error *err) PV_WARN_UNUSED;
/* A view of an open SQLite handle through this interface, for code that
 * still holds a sqlite3 * (the catalog keeps one beside its handle).
 * db_close frees the view and leaves h open. */
int db_sqlite_wrap(sqlite3 *h, struct db **db_r, struct pv_error *err) PV_WARN_UNUSED;
void db_close(struct db **db);

enum db_kind db_kind(const struct db *db);
/* The SQLite handle underneath, NULL on PostgreSQL: for modules not yet
 * converted (FTS5, PRAGMAs). */
sqlite3 *db_sqlite(struct db *db);

/* Prepares sql (one statement). *st_r owned by the caller (db_finalize).
 * PostgreSQL: placeholders become $n; a text prepared once per connection
 * is reused by later prepares of the same text. */
int db_prepare(struct db *db, const char *sql, struct db_stmt **st_r, struct pv_error *err)
	PV_WARN_UNUSED;
/* Frees st (NULL is fine) and sets *st to NULL. */
void db_finalize(struct db_stmt **st);
/* Makes st ready to run again; the bindings stay. */
void db_reset(struct db_stmt *st);

/* Parameters are numbered from 1. A text or blob is not copied: it must
 * stay unchanged until st is stepped to its end, reset or finalized.
 * len -1: text up to its NUL. */
void db_bind_int64(struct db_stmt *st, int i, int64_t v);
void db_bind_text(struct db_stmt *st, int i, const char *s, int len);
void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len);
void db_bind_null(struct db_stmt *st, int i);

/* Runs st, or moves to its next row: DB_ROW, DB_DONE, or a negative PV_*
 * error with the engine's message. A unique or check violation is PV_ERR
 * too; its message names the constraint. */
int db_step(struct db_stmt *st, struct pv_error *err) PV_WARN_UNUSED;

/* Columns of the current row, numbered from 0. Text and blob pointers are
 * valid until the next step, reset or finalize. A NULL value reads as 0,
 * a NULL text pointer and a NULL blob of length 0. A boolean expression
 * (PostgreSQL's 't'/'f') reads as 1 or 0. */
int db_column_count(struct db_stmt *st);
bool db_column_is_null(struct db_stmt *st, int i);
int64_t db_column_int64(struct db_stmt *st, int i);
const char *db_column_text(struct db_stmt *st, int i);
const void *db_column_blob(struct db_stmt *st, int i, size_t *len_r);

/* Rows the last INSERT, UPDATE or DELETE finished by st changed. */
int64_t db_changes(struct db_stmt *st);

/* Runs sql, which may hold several statements, no parameters, no rows
 * wanted (schema work, SAVEPOINT ...). */
int db_exec(struct db *db, const char *sql, struct pv_error *err) PV_WARN_UNUSED;
/* One-row, one-integer query (SELECT count(*) ...); PV_ENOTFOUND without a
 * row. */
int db_query_int(struct db *db, const char *sql, int64_t *v_r, struct pv_error *err)
	PV_WARN_UNUSED;

/* Steps *st to its end collecting every row's first column (an id) into
 * a malloc'ed array (*ids_r, owned by the caller; NULL when there is
 * none); finalizes *st in every case. */
int db_collect_ids(struct db_stmt **st, int64_t **ids_r, size_t *n_r, struct pv_error *err)
	PV_WARN_UNUSED;

/* A write transaction: one writer at a time in the whole archive. SQLite:
 * BEGIN IMMEDIATE (the file's write lock). PostgreSQL: BEGIN, then
 * pg_advisory_xact_lock(DB_PG_WRITER_LOCK), released by COMMIT or
 * ROLLBACK: writers queue as on SQLite, readers are not held up, and
 * nothing is retried (SERIALIZABLE would fail transactions that the
 * callers would all have to run again). Every write that must not
 * interleave with another writer's (leaf indices, Bates numbers) goes
 * inside one. */
int db_begin(struct db *db, struct pv_error *err) PV_WARN_UNUSED;
/* A read transaction whose snapshot is taken now. */
int db_begin_read(struct db *db, struct pv_error *err) PV_WARN_UNUSED;
/* COMMIT; on failure the transaction is rolled back. */
int db_commit(struct db *db, struct pv_error *err) PV_WARN_UNUSED;
/* ROLLBACK when a transaction is open; nothing otherwise. */
void db_rollback(struct db *db);
bool db_in_transaction(struct db *db);

/* fn(ctx) after each COMMIT (db_commit, or db_exec of "COMMIT") that
 * ended a write transaction begun by db_begin on db, once the engine
 * reports it committed; NULL fn: none. It may use db (a db_begin inside
 * it calls it again: the callee guards itself). What SQLite's WAL hook
 * does for the archive (store/datadir.c: signing the checkpoints a
 * commit reserved); the archive sets it on PostgreSQL, which has none. */
void db_on_commit(struct db *db, void (*fn)(void *ctx), void *ctx);

/* The connection to the server is lost (PostgreSQL: libpq's
 * CONNECTION_BAD, after a restart of the server, say): every statement
 * on it fails from now on, so a pool drops it. Never on SQLite. */
bool db_broken(struct db *db);

/* Where the server of a PostgreSQL connection is, for the sandbox's
 * choice (lib/sandbox.h): *unix_r true for a unix socket (host_r its
 * directory), else TCP to host_r:*port_r. PV_ENOTFOUND on SQLite. */
int db_server(struct db *db, char *host_r, size_t host_n, bool *unix_r, unsigned *port_r,
	      struct pv_error *err) PV_WARN_UNUSED;

/* The key of the writers' advisory lock ("popv"). */
#define DB_PG_WRITER_LOCK 0x706f7076

#endif
