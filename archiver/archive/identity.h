#ifndef PV_ARCHIVE_IDENTITY_H
#define PV_ARCHIVE_IDENTITY_H

/* One archive, several harvesters (ARCHITECTURE.md §12, "several
 * harvesters"): the archive's identity is what every machine committing
 * into one PostgreSQL catalog must share: the secrets key (sealed
 * upstream passwords, the keyed mailbox ids of leaves, the key-encryption
 * key of the bucket keys kept in the catalog) and the two logs' signing
 * seeds, with the archive's origin. The signer's records
 * (keys/sign/<log>.signed) are each machine's own and stay out.
 *
 * The file is the container of `backup --with-keys` (backup_int.h,
 * "PVKEYS1": Argon2id of a passphrase, secretstream), holding the files
 * IDENTITY_ORIGIN, "secrets.key", "archive.key", "audit.key". */

#include <stddef.h>

#include "archiver/archive/backup.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"
#include "audit/auditlog.h" /* AUDIT_IDENTITY_* */

#define IDENTITY_ORIGIN "origin"

/* Writes ar's identity to out_path (which must not exist; 0600, durable)
 * sealed to the passphrase (at least BACKUP_PASSPHRASE_MIN bytes) with
 * kdf. Only for an archive whose catalog is on PostgreSQL (another
 * machine could not share a SQLite catalog): PV_EUSAGE otherwise, before
 * anything. Audited (AUDIT_IDENTITY_EXPORT) before the file is written;
 * a failure after that is audited as failed. */
int archive_identity_export(struct archive *ar, const char *actor, const char *out_path,
			    const char *passphrase, size_t pass_len, const struct backup_kdf *kdf,
			    struct pv_error *err) PV_WARN_UNUSED;

/* `checkpoint --rotate-key --identity-out FILE` on an archive shared by
 * several harvesters: refuses what archive_identity_export refuses
 * before anything, then rotates log t's key (archive_rotate_key_any,
 * audited as key-rotation) and writes the identity holding the new key
 * as the export does (audited as identity-export, "after=key-rotation
 * log=L", before the file is written). A failure after the rotation
 * says so: the identity can be written again with identity export. The
 * new verifier key is appended to vkey_r. The process needs to read
 * DIR/keys/sign after the rotation (the signer writes the new seed). */
int archive_identity_rotate(struct archive *ar, struct tlog *t, const char *actor,
			    const char *out_path, const char *passphrase, size_t pass_len,
			    const struct backup_kdf *kdf, struct pv_buf *vkey_r,
			    struct pv_error *err) PV_WARN_UNUSED;

/* `identity update FILE` on another harvester after a rotation: the
 * identity in FILE (sealed to passphrase; PV_EAUTH when wrong) must be
 * this archive's (its origin and secrets key those of data_dir, else
 * PV_EINTEGRITY) and its seed for each log the catalog's current key
 * (an older epoch's key, or no key of the log: PV_EINTEGRITY, saying
 * which). Then each log key that differs from data_dir's is installed
 * (keys_file_install: one rename, the old seed overwritten) and the
 * archive opened to audit AUDIT_IDENTITY_UPDATE by actor (after, not
 * before: before, this machine's stale key could not sign the entry).
 * The signer's records (<log>.signed) stay: the new key signs trees
 * that extend the last one this machine signed. *changed_r: how many
 * logs got a new key (0: already current, nothing done, no entry). */
int archive_identity_update(const char *data_dir, const char *identity_path,
			    const char *passphrase, size_t pass_len, const char *actor,
			    int *changed_r, struct pv_error *err) PV_WARN_UNUSED;

/* `init --catalog URL --join FILE`: makes data_dir (missing or empty) a
 * harvester of the archive whose catalog is at url, from the identity
 * FILE sealed to passphrase. Refuses, before anything is made, a URL with
 * a password, a database without a catalog, a wrong passphrase (PV_EAUTH)
 * or a file that is not an identity; then writes the directory (config
 * with the identity's origin, catalog.url, keys/secrets.key and an empty
 * local keyring, keys/sign/<log>.key) and refuses (PV_EINTEGRITY, the
 * directory removed again) unless each log's seed is the catalog's
 * current key and the catalog's bucket keys open under the secrets key.
 * Never makes a catalog or a log. The enrolment is the audit entry
 * AUDIT_IDENTITY_JOIN by actor. The origin goes to origin_r (may be
 * NULL; IDENTITY_ORIGIN_MAX bytes). */
#define IDENTITY_ORIGIN_MAX 256
int archive_identity_join(const char *data_dir, const char *url, const char *identity_path,
			  const char *passphrase, size_t pass_len, const char *actor,
			  char *origin_r, struct pv_error *err) PV_WARN_UNUSED;

#endif
