#ifndef PV_MIGRATIONS_PG_H
#define PV_MIGRATIONS_PG_H

/* The catalog's migrations in PostgreSQL's dialect (ARCHITECTURE.md §12):
 * step N makes what step N of migrations_catalog (migrations.h) makes,
 * with bigint for SQLite's INTEGER (identity keys where SQLite would
 * pick the rowid), bytea for BLOB, triggers calling pv_refuse() for
 * RAISE(ABORT, ...), and without the search index's tables (idx_doc,
 * idx_fts, idx_meta: PostgreSQL's search keeps its own, pg_index.h).
 * The version is the one row of table schema_version (SQLite's PRAGMA
 * user_version). tests/unit/test_schema_dialects.c applies both sets to
 * empty databases and compares the tables, columns, keys and indexes, so
 * a step added to one dialect only fails it. */

#include "archiver/lib/db.h"
#include "archiver/store/migrations.h"

extern const struct migration_set migrations_catalog_pg;

/* Applies the steps db lacks, up to `target`, each in its own write
 * transaction (db_begin: the writers' advisory lock). A database newer
 * than the set is refused, PV_ERR. */
int migrations_apply_pg(struct db *db, const struct migration_set *set, int target,
			struct pv_error *err) PV_WARN_UNUSED;
/* The same, every step, inside the caller's open transaction (db_begin):
 * the schema commits or rolls back with what the caller writes into it
 * (migrate --to-catalog: a copy killed half-way leaves no schema). */
int migrations_apply_pg_in_tx(struct db *db, const struct migration_set *set,
			      struct pv_error *err) PV_WARN_UNUSED;

#endif
