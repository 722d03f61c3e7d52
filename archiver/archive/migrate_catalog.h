#ifndef PV_MIGRATE_CATALOG_H
#define PV_MIGRATE_CATALOG_H

/* migrate --to-catalog (ARCHITECTURE.md §12): an archive whose catalog is
 * DIR/catalog.db moves it into a PostgreSQL database, keeping its logs,
 * ids, keys and packs as they are.
 *
 * The caller holds DIR/harvest.lock and serve's lock: nothing writes the
 * catalog meanwhile. Then, in order:
 *   1. the URL is checked as init --catalog checks it (no password), the
 *      server reached, and its database must hold no catalog;
 *   2. a "catalog-migrate" audit entry (the URL, both logs' size and root)
 *      commits in the SQLite catalog, so the copy carries it;
 *   3. in ONE PostgreSQL transaction: the schema by the PostgreSQL
 *      migrations, every table's rows (store/catalog_copy.h: ids kept,
 *      identity columns moved past them), the index mark cleared (the
 *      search index is rebuilt there), and the proof: rows per table and
 *      both logs' size and root recomputed from the copy equal to the
 *      SQLite catalog's. Only then COMMIT: killed before, the database is
 *      left without a catalog and the SQLite archive is untouched. The
 *      SQLite file's write lock is held meanwhile (no CLI command audits
 *      into it), and released by sealing it: a trigger refuses any new
 *      log entry there (a process that opened it before the switch fails
 *      closed rather than write where no one reads);
 *   4. DIR/catalog.url written (0600, atomically), catalog.db (with any
 *      -wal, -shm) renamed to catalog.db.migrated, kept for the operator
 *      to remove;
 *   5. the archive opened on PostgreSQL (its first open moves the bucket
 *      keys from keys/keyring.db into the catalog), a "catalog-migrate-done"
 *      audit entry, and the search index built from the messages.
 * Killed after step 3's COMMIT, a rerun with the same URL recognises its
 * own copy (the database's logs have the SQLite catalog's sizes and roots,
 * the audit log ending in the migration's entry) and goes on from step 4;
 * killed in steps 4 or 5, from where it stopped. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/archive/migrate.h"
#include "archiver/lib/limits.h"
#include "archiver/store/catalog_copy.h"

#define MIGRATE_CATALOG_ASIDE "catalog.db.migrated"

struct migrate_catalog_report {
	char url[PV_URL_MAX + 1];
	bool resumed;   /* an earlier run's copy was found and finished */
	struct catalog_copy_report copy; /* empty when resumed past the copy */
	/* before: the SQLite catalog's, after its "catalog-migrate" entry;
	 * after: recomputed from the PostgreSQL copy. */
	struct migrate_log archive, audit;
	bool same;      /* both logs' sizes and roots equal */
	int64_t indexed, index_failed, index_pending;
};

/* Moves data_dir's catalog to url, as actor. PV_EUSAGE for a URL that is
 * not one (or holds a password) and for an archive already on
 * PostgreSQL; PV_ERR for a server that cannot be reached or a database
 * holding another catalog (nothing changed); PV_EINTEGRITY when the copy
 * does not prove equal (rolled back: the SQLite archive stays as it was). */
int archive_migrate_catalog(const char *data_dir, const char *actor, const char *url,
			    struct migrate_catalog_report *rep, struct pv_error *err) PV_WARN_UNUSED;

#endif
