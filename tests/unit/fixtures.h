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
#include <stddef.h>

#include "archiver/lib/error.h"
#include "archiver/store/catalog.h"
#include "audit/keys.h"
#include "audit/note.h"
#include "audit/tlog.h"

#define FX_PATH_MAX 128

/* Fails the running test, naming what, the code and err's message, when
 * r != 0. */
void fx_must(int r, const struct pv_error *err, const char *what);

/* Removes dir and everything under it (a test's temporary directory). */
void fx_rmtree(const char *dir);

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
void fx_log_create(sqlite3 *db, const char *keydir, const char *log, const char *origin,
		   char vkey_r[NOTE_VKEY_MAX + 1]);

/* Opens log `log` of db and loads its signing key from keydir. Free with
 * keys_free and tlog_free (before closing db). */
void fx_log_open(sqlite3 *db, const char *keydir, const char *log, struct tlog **t_r,
		 struct note_signer **s_r);

#endif
