#ifndef PV_MIGRATIONS_H
#define PV_MIGRATIONS_H

/* The numbered schema migrations of the two SQLite databases of a data
 * directory: the only place where tables are created.
 *
 *   migrations_catalog  DIR/catalog.db: accounts, messages, ledger, policy,
 *                       holds, disposals, Bates numbers, users; and (since
 *                       migration 5) the Merkle logs (audit/tlog.h), the
 *                       audit log's tables (audit/auditlog.h) and the search
 *                       index (archiver/index/index.h); (since 7) matters and
 *                       export jobs
 *   migrations_keyring  DIR/keys/keyring.db: bucket keys; (since 2) the
 *                       keyring's own facts (keyring_meta)
 *   migrations_witness  a witness's state file (store/witness_state.h)
 *
 * A database's PRAGMA user_version is the number of migrations applied.
 * Step i takes it from version i to i + 1: up to MIGRATION_PARTS SQL texts
 * (unused ones NULL) run in order in one transaction with the new
 * user_version. Append only: a released step is never edited, and neither
 * is a text it runs (tlog_schema_sql, auditlog_schema_sql); a change is a
 * new step. */

#include <sqlite3.h>

#include "archiver/lib/error.h"

#define MIGRATION_PARTS 4

struct migration_set {
	const char *name; /* "catalog", "keyring": named in errors */
	const char *const (*steps)[MIGRATION_PARTS];
	int count;        /* the newest schema version */
};

extern const struct migration_set migrations_catalog;
extern const struct migration_set migrations_keyring;
extern const struct migration_set migrations_witness;

/* Applies the steps of set that db lacks, up to version `target` (tests
 * stop on the way to check each step). A database newer than the set
 * (another popvault made it) is refused, PV_ERR. Safe against another
 * process migrating the same file at the same time. */
int migrations_apply(sqlite3 *db, const struct migration_set *set, int target,
		     struct pv_error *err);

#endif
