#ifndef PV_KEYRING_H
#define PV_KEYRING_H

/* Keys that protect archived content, kept apart from the catalog in
 * DIR/keys/ so that backups of the data need not carry them (ARCHITECTURE.md §4):
 *
 * - bucket keys, one per (retention class, expiry month), in
 *   DIR/keys/keyring.db. Each message's own key and salt are wrapped under
 *   its bucket key (XChaCha20-Poly1305, the blob id as associated data).
 *   Destroying a bucket key disposes of the whole bucket, copies of the
 *   wrapped keys in old backups included (crypto-shredding).
 * - the secrets key, DIR/keys/secrets.key, sealing upstream passwords and
 *   tokens at rest in the catalog. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/store/blob.h"

#define KEYRING_KEY_BYTES 32
/* nonce ‖ ciphertext(key ‖ salt) ‖ tag */
#define KEYRING_WRAPPED_BYTES (24 + BLOB_KEY_BYTES + BLOB_SALT_BYTES + 16)

struct keyring;

/* Creates DIR/keys/keyring.db and DIR/keys/secrets.key (init only): a
 * fresh secrets key, or (keyring_create_with, a machine joining an
 * archive) the archive's own. */
int keyring_create(const char *data_dir, struct pv_error *err);
int keyring_create_with(const char *data_dir, const unsigned char secrets_key[KEYRING_KEY_BYTES],
			struct pv_error *err);
int keyring_open(const char *data_dir, struct keyring **kr_r, struct pv_error *err);
void keyring_free(struct keyring **kr);

/* Several harvesters on one catalog (ARCHITECTURE.md §12): from now on
 * the bucket keys are the rows of the catalog's keyring_buckets
 * (store/keyring_catalog.h) reached through db (not owned; it must
 * outlive kr), each wrapped under a key derived from the secrets key, so
 * every machine enrolled with the archive's identity has the same
 * buckets. Bucket creation and destruction then run on db, inside its
 * transaction when one is open. DIR/keys/keyring.db keeps only
 * keyring_meta. Used for a catalog on PostgreSQL. */
struct db;
int keyring_use_catalog(struct keyring *kr, struct db *db, struct pv_error *err);
/* Whether this keyring's secrets key is the catalog's: PV_EINTEGRITY when
 * the newest live bucket key does not open (another archive's identity);
 * PV_OK when it opens, when there is none yet, or when the bucket keys
 * are not the catalog's. */
int keyring_check_identity(struct keyring *kr, struct pv_error *err) PV_WARN_UNUSED;

/* The bucket for (class, expiry_month) — "YYYY-MM" or "never" — created
 * durably on first use. Returns its id. */
int keyring_bucket(struct keyring *kr, const char *class_name, const char *expiry_month,
		   int64_t *bucket_id_r, struct pv_error *err);

/* What the keyring recorded for a bucket when it made its key: the class
 * and month label it was made for (the catalog's buckets table is a copy
 * that an edit can change; this one sits beside the key itself), and
 * whether the key is destroyed. PV_ENOTFOUND for an unknown id. */
struct keyring_bucket_info {
	char class_name[128];
	char label[48];
	bool destroyed;
};
int keyring_bucket_info(struct keyring *kr, int64_t bucket_id, struct keyring_bucket_info *info_r,
			struct pv_error *err);

/* A reader of every message's key (verify) reads each bucket's facts and
 * key once per run of messages in it, not once per message (two SQLite
 * statements each: about 4% of verify --full's CPU): between
 * keyring_memo_begin and keyring_memo_end the keyring keeps the last
 * bucket looked up, its key in guarded memory (wiped by memo_end,
 * keyring_free, and keyring_destroy_bucket of that bucket). What was
 * read is what the keyring held at the first read: a bucket destroyed by
 * another process meanwhile is seen at the next begin. begin fails only
 * when out of memory. */
int keyring_memo_begin(struct keyring *kr, struct pv_error *err);
void keyring_memo_end(struct keyring *kr);

/* Wraps a message key and salt under the bucket's key. */
int keyring_wrap(struct keyring *kr, int64_t bucket_id, const char *blob_id,
		 const unsigned char key[BLOB_KEY_BYTES], const unsigned char salt[BLOB_SALT_BYTES],
		 unsigned char out[KEYRING_WRAPPED_BYTES], struct pv_error *err);
/* The same for n keys of one bucket, the bucket key looked up once (a
 * group commit wraps a whole batch). */
struct keyring_wrap_item {
	const char *blob_id;
	const unsigned char *key, *salt; /* BLOB_KEY_BYTES, BLOB_SALT_BYTES */
	unsigned char *out;              /* KEYRING_WRAPPED_BYTES */
};
int keyring_wrap_many(struct keyring *kr, int64_t bucket_id, const struct keyring_wrap_item *items,
		      size_t n, struct pv_error *err);
/* Unwraps; PV_ENOTFOUND if the bucket key was destroyed, PV_EINTEGRITY if
 * the wrapped key does not authenticate. */
int keyring_unwrap(struct keyring *kr, int64_t bucket_id, const char *blob_id,
		   const unsigned char *wrapped, size_t wrapped_len,
		   unsigned char key_r[BLOB_KEY_BYTES], unsigned char salt_r[BLOB_SALT_BYTES],
		   struct pv_error *err) PV_WARN_UNUSED;
/* Destroys a bucket key for good (secure_delete, WAL checkpointed away). */
int keyring_destroy_bucket(struct keyring *kr, int64_t bucket_id, struct pv_error *err);

/* Sealed secrets: upstream passwords and token commands (catalog
 * accounts), TOTP secrets (users). Format 2, what is written:
 *
 *   "PVS2" ‖ nonce (24) ‖ XChaCha20-Poly1305-IETF ciphertext ‖ tag (16)
 *
 * under a key derived from the secrets key, with associated data naming
 * what the secret belongs to: ad[0..n_ad) (at most KEYRING_AD_MAX
 * strings, each length-prefixed), e.g. the kind of secret, the account's
 * name and server (store/accounts.h). It opens only under the same
 * associated data: a sealed secret moved to another row, or a row whose
 * server was changed without giving the secret again, fails to open
 * (PV_EINTEGRITY), so it is never sent anywhere but where it was given
 * for. sealed_r is malloc'ed; secret_r is a secret buffer (secret.h),
 * NUL-terminated: wipe it with pv_secret_free.
 *
 * Format 1 (before issue 16): nonce ‖ XSalsa20-Poly1305 secretbox under
 * the secrets key itself, bound to nothing. keyring_open_secret refuses
 * it; the one-time upgrade (store/datadir.c) opens such secrets with
 * keyring_open_unbound and seals them again, then marks the keyring
 * (keyring_secrets_bound), so format 1 is read exactly once. */
#define KEYRING_AD_MAX 8
int keyring_seal_secret(struct keyring *kr, const char *const *ad, size_t n_ad,
			const char *secret, unsigned char **sealed_r, size_t *sealed_len_r,
			struct pv_error *err);
int keyring_open_secret(struct keyring *kr, const char *const *ad, size_t n_ad,
			const unsigned char *sealed, size_t sealed_len, char **secret_r,
			struct pv_error *err) PV_WARN_UNUSED;
/* Whether sealed is in format 2. */
bool keyring_sealed_bound(const unsigned char *sealed, size_t sealed_len);
/* Opens a format 1 secret: for the upgrade only. */
int keyring_open_unbound(struct keyring *kr, const unsigned char *sealed, size_t sealed_len,
			 char **secret_r, struct pv_error *err) PV_WARN_UNUSED;
/* Whether the catalog's secrets were all sealed in format 2 (a keyring
 * made since then, or one whose upgrade ran), and the mark the upgrade
 * sets when it is done. */
int keyring_secrets_bound(struct keyring *kr, bool *bound_r, struct pv_error *err);
int keyring_mark_secrets_bound(struct keyring *kr, struct pv_error *err);

/* The keyed mailbox id written in archive leaves: hex BLAKE2b-128 of the
 * account name under a key derived from the secrets key, so leaves can be
 * shared without naming mailboxes. */
void keyring_mailbox_id(struct keyring *kr, const char *account_name, char out[33]);

#endif
