#ifndef PV_CATALOG_COPY_H
#define PV_CATALOG_COPY_H

/* A catalog's rows copied from one engine to the other (ARCHITECTURE.md
 * §12): SQLite into PostgreSQL for migrate --to-catalog, PostgreSQL into
 * SQLite for the backup of an archive on PostgreSQL. Every table of the
 * target's schema, ids preserved, through lib/db.h on both sides.
 *
 * The target is a catalog of the other engine already migrated to the
 * same schema version as the source (on PostgreSQL by
 * migrations_apply_pg_in_tx, on SQLite by catalog_migrate) and empty;
 * the caller holds a transaction on it (db_begin), so the copy commits
 * whole or not at all. The source is read as it is: the caller takes a
 * snapshot of it first (db_begin, or db_begin_read when writers may run).
 *
 * Tables are copied parents first (the target's foreign keys decide the
 * order), the columns the target has, each value read as the target's
 * column type asks (bigint, text, bytea). Tables only one engine has are
 * not copied: SQLite's FTS5 search index (idx_doc, idx_fts, idx_meta and
 * FTS5's shadow tables) is not in the PostgreSQL schema (and left empty
 * in a SQLite target), and PostgreSQL's own search tables (pg_index.c)
 * are made by its backend (and not in a SQLite catalog's schema). Rows go
 * as multi-row INSERTs (one round trip per batch). PostgreSQL's identity
 * columns are moved past the largest id copied (SQLite's AUTOINCREMENT
 * follows the ids inserted by itself), so the next row inserted on the
 * target gets a new id. */

#include <stdint.h>

#include "archiver/lib/db.h"

#define CATALOG_COPY_TABLES_MAX 96
#define CATALOG_COPY_NAME_MAX 64

struct catalog_copy_table {
	char name[CATALOG_COPY_NAME_MAX];
	int64_t rows; /* rows copied */
};

struct catalog_copy_report {
	struct catalog_copy_table tables[CATALOG_COPY_TABLES_MAX];
	size_t n_tables;
	int64_t rows; /* all tables */
};

/* Copies every table of to's schema from `from` into `to` (inside the
 * caller's transaction): SQLite into PostgreSQL (migrate --to-catalog)
 * or PostgreSQL into a new SQLite catalog (backup; the target's FTS5
 * tables are left empty; a PostgreSQL source, which must be inside a
 * transaction, is read through a cursor a slice of rows at a time). PV_ERR with the table's
 * name when a row is refused, a table or column is missing in the source,
 * or the target is not empty. rep filled as far as it went. */
int catalog_copy(struct db *from, struct db *to, struct catalog_copy_report *rep,
		 struct pv_error *err) PV_WARN_UNUSED;

/* The copy proven by counting: every table of rep has as many rows on
 * both sides now. PV_EINTEGRITY naming the first that differs. */
int catalog_copy_recount(struct db *from, struct db *to, const struct catalog_copy_report *rep,
			 struct pv_error *err) PV_WARN_UNUSED;

#endif
