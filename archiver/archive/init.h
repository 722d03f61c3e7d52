#ifndef PV_ARCHIVE_INIT_H
#define PV_ARCHIVE_INIT_H

/* Creating an archive (`popvault init`), in two steps so the verifier keys
 * can be shown as soon as they exist:
 *  1. archive_init_create: the data directory (mode 0700, with blobs/,
 *     keys/, tmp/), its config, keyring, catalog, both logs with their keys
 *     and signed genesis checkpoints, and the search index's tables;
 *  2. archive_init_policy, on the opened archive: the audit log's first
 *     entries ("init": who created it, its origin and schema; "policy-set"
 *     of version 1) and policy version 1 (store/policy_store.h: keep six
 *     years, then dispose), in one transaction. */

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"

/* Creates DIR with origin (a non-empty name without spaces or '+'; the
 * checkpoints' origin line). Refuses a directory that already holds an
 * archive (a config or a catalog). catalog_url: NULL for DIR/catalog.db,
 * else the PostgreSQL database to make the catalog in (recorded in
 * DIR/catalog.url, store/catalog_url.h); one with a password, or one
 * already holding a catalog, is refused before anything is made.
 * Appends "vkey\n" per log (archive, then audit) to vkeys_r. */
int archive_init_create(const char *data_dir, const char *origin, const char *catalog_url,
			struct pv_buf *vkeys_r, struct pv_error *err);

/* 1 when dir is missing or holds no archive (no config, catalog or
 * catalog.url), 0 when it does, negative when it cannot be told. */
int archive_init_dir_free(const char *dir, struct pv_error *err);

/* Between the two steps, with `init --store URL`: the pack store
 * (store/packstore.h; packstore_probe checked it before step 1) recorded
 * with its credentials sealed, and ar switched to it. The "init" audit
 * entry of step 2 names it. */
int archive_init_store(struct archive *ar, const char *url, const char *secret,
		       struct pv_error *err);

/* Step 2 (see above). actor: who runs init ("cli:<user>"). */
int archive_init_policy(struct archive *ar, const char *actor, struct pv_error *err);

#endif
