#ifndef PV_PACKSTORE_H
#define PV_PACKSTORE_H

/* The pack store (ARCHITECTURE.md §4, §12; OpenSMTPD's queue_backend is
 * the model): where sealed packs (store/pack.h) are kept. An interface,
 * struct packstore_ops, with two implementations:
 *
 *   local  packstore_local.c: DIR/packs/<id>.pack, what every archive has
 *          (the default; nothing to configure);
 *   s3     packstore_s3.c: objects "packs/<id>.pack" in an S3 bucket with
 *          Object Lock (catalog table pack_store, `init --store`).
 *
 * Packs are always written in DIR/packs first (one writer, flock, fsync
 * before the catalog commit: pack.h), so the harvest's promise does not
 * depend on the network: nothing is deleted upstream before its record is
 * durable on the local disk and committed (ARCHITECTURE.md §1.1). With a
 * remote store, a harvest session seals the packs it wrote when it ends
 * (no record is appended to them any more) and uploads them
 * (packstore_flush): one PUT per pack, COMPLIANCE-locked until the end of
 * its bucket's expiry month, then a HEAD of that version checks size and
 * lock; only once the catalog recorded the object (stored_at, its
 * version) is the local file removed. At every instant a pack is durable
 * in at least one place. An upload that fails leaves the pack local; the
 * next session (or `verify`, which reports it) tries again.
 *
 * Reads: a record of a pack still local is read from its file; of a
 * stored pack, by a ranged GET of exactly its bytes (into an unnamed
 * temp file: never more than PV_MESSAGE memory). With whole_packs set
 * (verify --full), a stored pack is fetched whole once, by one GET, and
 * kept (a few at a time) for the records that follow.
 *
 * The store refuses what Object Lock forbids: removing a pack before its
 * retain-until or while its legal hold is on is PV_EPERM, reported, and
 * the pack stays (in the store and in the catalog); a later disposal run
 * tries again. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/db.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/s3.h"
#include "archiver/store/keyring.h"

#define PACKSTORE_VERSION_MAX S3_VERSION_MAX
#define PACKSTORE_URL_MAX 600 /* a store's s3:// URL */

/* What a store says about one stored pack. */
struct packstore_stat {
	uint64_t size;
	char lock_mode[16];   /* "" when none */
	int64_t retain_until; /* 0 when none */
	bool legal_hold;
};

/* One implementation. impl is its own state; version is the store's name
 * of the copy put (S3: the object version id; local: ""). */
struct packstore_ops {
	const char *kind; /* "local", "s3" */
	/* Keeps the first size bytes of fd as pack id, locked until
	 * retain_until (unix seconds), under legal hold if hold. */
	int (*put)(void *impl, int64_t id, int fd, uint64_t size, int64_t retain_until, bool hold,
		   char version_r[PACKSTORE_VERSION_MAX], struct pv_error *err);
	/* Writes bytes [off, off + len) of the pack to fd (len 0: all of it). */
	int (*get)(void *impl, int64_t id, const char *version, uint64_t off, uint64_t len, int fd,
		   struct pv_error *err);
	/* PV_ENOTFOUND when the pack is not there. */
	int (*stat)(void *impl, int64_t id, const char *version, struct packstore_stat *st_r,
		    struct pv_error *err);
	/* PV_EPERM when the store refuses (Object Lock, a writer's lock). */
	int (*remove)(void *impl, int64_t id, const char *version, struct pv_error *err);
	int (*hold)(void *impl, int64_t id, const char *version, bool on, struct pv_error *err);
	/* Makes the lock run until retain_until (later than it runs now). */
	int (*extend)(void *impl, int64_t id, const char *version, int64_t retain_until,
		      struct pv_error *err);
	void (*free)(void *impl);
};

extern const struct packstore_ops packstore_local_ops;
extern const struct packstore_ops packstore_s3_ops;

/* Implementations' constructors. */
int packstore_local_new(const char *data_dir, void **impl_r, struct pv_error *err);
int packstore_s3_new(const struct s3_target *t, const char *access_key, const char *secret_key,
		     void **impl_r, struct pv_error *err);

struct packstore {
	char dir[2048];
	struct db *db;                   /* the catalog (not owned) */
	const struct packstore_ops *ops; /* where sealed packs end up */
	void *impl;
	const struct packstore_ops *local_ops; /* DIR/packs, also for a remote store */
	void *local;
	char url[PACKSTORE_URL_MAX];     /* the remote store, "" for local */
	bool whole_packs;                /* verify --full: fetch whole packs */
	/* A reader that reads each record once (the indexer process, soon
	 * after the harvest wrote it; verify --full): after each read the
	 * record's pages leave the page cache (pv_read_forget, from
	 * pack_read, pack_read_into, pack_check and blob_opened_close).
	 * Write-once mail would otherwise fill it, crowding out the catalog
	 * and the index (and, in a VM that hands free memory back to its
	 * host, making every new page cost a fault on the host). */
	bool drop_after_read;
	/* Whole packs fetched (whole_packs), a few kept. */
	struct { int64_t id; int fd; } cache[PV_PACK_FETCH_CACHE];
	unsigned cache_next;
	/* The last pack found present (blob_present_at per message). */
	int64_t present_id;
};

/* Opens the store the catalog names (table pack_store; none: local);
 * kr opens its sealed credentials. */
int packstore_open(const char *data_dir, struct db *db, struct keyring *kr,
		   struct packstore **ps_r, struct pv_error *err);
void packstore_close(struct packstore **ps);
/* Is it a remote store (packs sealed at session end and uploaded)? */
bool packstore_remote(const struct packstore *ps);
/* The same asked of the catalog of data_dir before the archive is open
 * (a process choosing its seccomp set, lib/sandbox.h
 * pv_sandbox_store_net; store/catalog_reach.h says it with the catalog's
 * server); false when it cannot tell (no catalog, one older than the
 * pack store). */
bool packstore_remote_at(const char *data_dir);

/* init --store, step 1, before anything is made: checks url and secret
 * ("ACCESS:SECRET") against the service, creating the bucket with Object
 * Lock enabled (or finding it ours). */
int packstore_probe(const char *url, const char *secret, struct pv_error *err);
/* Step 2: records the store with secret sealed by kr, inside the
 * caller's transaction. */
int packstore_configure(struct db *db, struct keyring *kr, const char *url, const char *secret,
			struct pv_error *err);

/* What the catalog records of the store (table pack_store): *found_r
 * false when none (packs stay in DIR/packs); else its URL and how it came:
 * migration_r "" (init --store), "running" (a migrate --to-store that has
 * not yet stored every pack) or "done". */
int packstore_recorded(struct db *db, bool *found_r, char url_r[PACKSTORE_URL_MAX],
		       char migration_r[16], struct pv_error *err);
/* migrate: records the store's migration as state ("running", "done"). */
int packstore_set_migration(struct db *db, const char *state, struct pv_error *err);
/* What is left to move: packs with messages not yet in the store (not
 * removed), and messages in legacy blob files of their own (PVB1, from
 * before packs; content not disposed of), which stay in DIR/blobs. */
int packstore_pending(struct db *db, int64_t *packs_r, int64_t *legacy_blobs_r,
		      struct pv_error *err);

/* The sealed secret's binding (keyring_seal_secret's associated data). */
#define PACKSTORE_SECRET_KIND "pack-store"

/* When a pack of a bucket whose expiry month is month ("YYYY-MM", or
 * "never") may go: the first second of the month after it (UTC); for
 * "never", PV_PACK_LOCK_NEVER_YEARS from now. */
int64_t packstore_retain_until(const char *month, int64_t now);

/* Opens bytes [off, off + len) of pack id for reading: *fd_r and the
 * offset *at_r where they start in it (the pack's own file, or a temp
 * file holding what a GET returned). Close *fd_r after use.
 * PV_ENOTFOUND when the pack is neither local nor in the store. */
int packstore_open_range(struct packstore *ps, int64_t id, uint64_t off, uint64_t len, int *fd_r,
			 uint64_t *at_r, struct pv_error *err) PV_WARN_UNUSED;
/* Is pack id there (its file, or the store's object)? */
bool packstore_present(struct packstore *ps, int64_t id);

/* Uploads every sealed pack not yet stored (see the top); *stored_r how
 * many went, *failed_r how many stay local (each logged with why). */
int packstore_flush(struct packstore *ps, int64_t *stored_r, int64_t *failed_r,
		    struct pv_error *err);

/* Removes the local file of every stored pack that still has one: the
 * process that uploaded it died between recording it and its unlink. The
 * stored copy is the pack then. Looks at the files in packs/ (few once
 * uploaded), not at every stored pack. Run at each harvest's end after
 * the uploads, and by migrate. *removed_r: how many files went. */
int packstore_drop_stored_files(struct packstore *ps, int64_t *removed_r, struct pv_error *err);

/* Puts the store's legal hold on every stored pack holding a message an
 * active hold covers, and takes it off every other one that has it. */
int packstore_sync_holds(struct packstore *ps, int64_t *changed_r, struct pv_error *err);

/* Extends the lock of every stored pack holding a live message whose
 * bucket (after a policy change: rebucketed, archive/retention.c) expires
 * after the pack's retain-until, to the end of that month. A lock never
 * shrinks (S3 refuses; disposal then waits for it, and says so). */
int packstore_sync_locks(struct packstore *ps, int64_t *changed_r, struct pv_error *err);

/* Removes pack id (all its messages disposed of): the local file, and the
 * stored object if any. PV_EPERM (err says why) when the store refuses:
 * nothing changed. Records nothing in the catalog (the caller does). */
int packstore_remove(struct packstore *ps, int64_t id, struct pv_error *err);

/* For verify: every stored, unremoved pack checked against the store
 * (there, its size, COMPLIANCE-locked until its retain-until, its legal
 * hold as the catalog says), and every sealed pack not yet stored. */
typedef void packstore_problem_fn(void *ctx, bool harmless, const char *msg);
int packstore_check(struct packstore *ps, packstore_problem_fn *problem, void *ctx,
		    int64_t *checked_r, struct pv_error *err);

#endif
