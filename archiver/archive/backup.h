#ifndef PV_ARCHIVE_BACKUP_H
#define PV_ARCHIVE_BACKUP_H

/* Backup and restore of a data directory (issue 15), each one audited
 * operation. A backup is a directory:
 *
 *   MANIFEST            what the backup holds; written last, so a backup
 *                       without it is unfinished (format below)
 *   catalog.db          the catalog, copied with SQLite's online backup
 *                       API: one consistent snapshot while harvests and
 *                       the web server go on writing (WAL); a catalog on
 *                       PostgreSQL is copied into a new SQLite catalog
 *   popvault.conf       the data directory's config
 *   blobs/XX/ID         every blob file (PVB1, from before packs) the
 *                       snapshot refers to, hard-linked from the data
 *                       directory when it is on the same file system
 *                       (blobs never change once written), else copied
 *   packs/<id>.pack     every pack (store/pack.h) holding a message of the
 *                       snapshot not disposed of, copied up to its
 *                       committed length in the snapshot (the end of the
 *                       last record the snapshot's catalog names in it):
 *                       packs grow while a harvest runs, so never linked
 *   checkpoint-archive  the latest signed checkpoints of both logs in the
 *   checkpoint-audit    snapshot: what the backup covers, in the form
 *                       `verify --checkpoint` and `restore --checkpoint` take
 *   keys.enc            only with keys: the keyring (online backup API, in
 *                       memory) and every other file of DIR/keys/, encrypted
 *                       to a passphrase (format below)
 *
 * MANIFEST, line by line:
 *   popvault-backup 1
 *   created RFC3339-UTC
 *   origin ORIGIN
 *   schema N
 *   keys yes|no
 *   file SHA256-HEX SIZE PATH      one per file above, sorted by PATH
 *
 * Without keys a backup cannot be read: the bucket keys that unlock the
 * blobs stay in DIR/keys/ (store/keyring.h), so destroying one still
 * disposes of its messages in every keyless backup. A backup with keys
 * holds the keys of its time: disposals after it do not reach it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/archive/verify.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"

/* Audit entry types (audit/auditlog.h lists the others). */
#define AUDIT_BACKUP "backup"           /* object: out=DIR keys=yes|no; before copying */
#define AUDIT_BACKUP_DONE "backup-done" /* manifest-sha256=HEX files=N bytes=N sizes */
#define AUDIT_RESTORE "restore"         /* in the restored archive: from, manifest, sizes */

#define BACKUP_MANIFEST "MANIFEST"
#define BACKUP_KEYS "keys.enc"
/* A passphrase for keys.enc: at least this many bytes (as web passwords). */
#define BACKUP_PASSPHRASE_MIN 12

/* Argon2id cost for the passphrase (libsodium's "moderate": 256 MiB, about
 * a second here); restore takes what the file says, within the limits
 * PV_BACKUP_PWHASH_*_MAX. */
struct backup_kdf {
	uint64_t ops;
	size_t mem;
};
extern const struct backup_kdf backup_kdf_default;

struct backup_summary {
	uint64_t files, bytes;  /* listed in the manifest */
	uint64_t blobs, linked; /* blob files, and how many were hard links */
	uint64_t packs;         /* pack files (copied up to their committed length) */
	uint64_t records;       /* messages not disposed of whose record is in them */
	uint64_t archive_size, audit_size; /* the logs the backup covers */
	bool keys;
	char manifest_sha256[65];
};

/* Backs up ar into out_dir, which must not exist or be empty (made 0700).
 * passphrase (NULL: no keys) with its length: keys.enc is written with
 * kdf. The "backup" audit entry comes first, so the copy holds the record
 * of its own making; "backup-done" with the manifest's SHA-256 follows it
 * (a failure is recorded as "backup" with outcome "failed: ..."). A
 * disposal that ran while copying makes the copy inconsistent: then
 * PV_ETEMP and nothing is left in out_dir but what to delete. The files
 * written so far go to ar->progress. A catalog on PostgreSQL becomes
 * the backup's catalog.db, a SQLite catalog filled from one REPEATABLE
 * READ snapshot (backup_pg.c), so restore makes a SQLite archive of it;
 * the bucket keys' rows, wrapped under the identity's secrets key, come
 * with it (as in a pg_dump): a key destroyed after the backup stays in
 * it, readable by whoever holds DIR/keys. */
int archive_backup(struct archive *ar, const char *actor, const char *out_dir,
		   const char *passphrase, size_t passphrase_len, const struct backup_kdf *kdf,
		   struct backup_summary *sum_r, struct pv_error *err) PV_WARN_UNUSED;

/* Restores the backup in backup_dir into new_dir, which must not exist or
 * be an empty directory. Checks every file against the MANIFEST (and that
 * there is no other), decrypts keys.enc with passphrase, or copies the
 * keys from keys_dir (a DIR/keys of the original) when the backup has
 * none; then opens the copy, checks that its logs' latest checkpoints are
 * the manifest's, and runs the full verify with those checkpoints and
 * known_notes (checkpoints kept elsewhere: a copy older than one of them,
 * or not consistent with it, is refused). Problems go to line as verify
 * finds them. Only a copy that verifies is moved to new_dir, with a
 * "restore" audit entry; otherwise nothing is left. PV_EINTEGRITY when the
 * copy does not match its manifest or does not verify, PV_EAUTH for a
 * wrong passphrase. */
int archive_restore(const char *backup_dir, const char *new_dir, const char *actor,
		    const char *passphrase, size_t passphrase_len, const char *keys_dir,
		    const char *const *known_notes, const size_t *known_lens, size_t n_known,
		    verify_line_fn line, void *line_ctx, struct backup_summary *sum_r,
		    struct verify_report *rep_r, struct pv_error *err) PV_WARN_UNUSED;

#endif
