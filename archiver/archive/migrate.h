#ifndef PV_MIGRATE_H
#define PV_MIGRATE_H

/* migrate --to-store (ARCHITECTURE.md §12): an archive whose packs are in
 * DIR/packs moves them into an S3 store with Object Lock, keeping its
 * logs as they are.
 *
 * The caller holds DIR/harvest.lock (harvest_lock_take): no harvest
 * writes a pack meanwhile. Then, in order:
 *   1. the store is checked (packstore_probe: reachable, our credentials,
 *      a bucket with Object Lock); a refusal is audited as failed and
 *      nothing else changes;
 *   2. a "store-migrate" audit entry (the store, what is to move, both
 *      logs' size and root) commits with the store's row in pack_store
 *      (sealed credentials, migration 'running');
 *   3. every unsealed pack with messages is sealed and every sealed one
 *      uploaded as a harvest's end does it (packstore_flush: COMPLIANCE
 *      until the end of its bucket's expiry month, checked by a HEAD,
 *      recorded, only then the local file removed), and the store's legal
 *      holds are made to follow the active holds (packstore_sync_holds);
 *   4. once no pack is left local, a "store-migrate-done" audit entry
 *      commits with migration 'done'.
 * Killed anywhere, or with packs the store refused, the next run with the
 * same store resumes at step 3 (a store recorded 'running' is not "already
 * on a store"); a pack is in at least one place at every instant, and one
 * stored once is not stored again.
 *
 * Legacy blob files (PVB1, one per message, from before packs) stay in
 * DIR/blobs, read from there as before; they are counted. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/store/datadir.h"
#include "audit/merkle.h"

struct migrate_log {
	uint64_t size_before, size_after;
	merkle_hash root_before, root_after;
};

struct migrate_report {
	char url[PACKSTORE_URL_MAX];
	bool resumed;          /* a migration to this store was unfinished */
	int64_t packs;         /* local packs with messages at the start */
	int64_t stored;        /* uploaded by this run */
	int64_t failed;        /* refused by the store: still local */
	int64_t held;          /* stored packs under legal hold (a held message in them) */
	int64_t legacy_blobs;  /* messages in PVB1 files, left in DIR/blobs */
	struct migrate_log archive, audit;
	bool archive_same;     /* the archive log's size and root did not change */
	bool audit_prefix;     /* the audit log before is a prefix of after (consistency proof) */
};

/* The log's size and root after are those before. */
bool migrate_log_same(const struct migrate_log *l);

/* A root as checkpoints spell it (standard base64), NUL-terminated. */
#define MIGRATE_ROOT_B64 48
void migrate_root_b64(const merkle_hash root, char out[MIGRATE_ROOT_B64]);

/* Runs the migration of ar's packs into url (secret: ACCESS:SECRET), as
 * actor. PV_EUSAGE when ar already keeps its packs in a store (one that
 * init --store named, a finished migration, or an unfinished one to
 * another URL); PV_ERR with packs still local (rep says how many; run it
 * again); PV_EINTEGRITY when the logs' continuity does not hold. rep is
 * filled as far as the run went. */
int archive_migrate_store(struct archive *ar, const char *actor, const char *url,
			  const char *secret, struct migrate_report *rep, struct pv_error *err);

#endif
