#ifndef PV_KEYRING_CATALOG_H
#define PV_KEYRING_CATALOG_H

/* The bucket keys of a keyring kept in the catalog (catalog migration 17,
 * table keyring_buckets), for an archive whose PostgreSQL catalog several
 * harvesters share (ARCHITECTURE.md §12, "several harvesters"): the same
 * bucket ids and keys on every machine. keyring.c calls it once
 * keyring_use_catalog switched it here; nothing else should.
 *
 * Each key is stored wrapped: nonce (24) ‖ XChaCha20-Poly1305 of the key
 * ‖ tag, under kek (derived from the archive's secrets key by keyring.c),
 * with the class and month as associated data, so a key moved to another
 * row does not open. Destroyed: wrapped_key NULL, destroyed_at set. */

#include <stdint.h>

#include "archiver/lib/db.h"
#include "archiver/lib/error.h"
#include "archiver/store/keyring.h"

struct keyring_catalog;
struct pv_buf;

/* Associated data for keyring.c and this file: label (label_len bytes),
 * then each of the n parts as a 4-byte big-endian length and its bytes,
 * so that no two lists of parts read the same. Appended to out. */
int keyring_ad_build(const char *label, size_t label_len, const char *const *parts, size_t n,
		     struct pv_buf *out, struct pv_error *err);

/* Uses db (not owned: it must outlive *kc_r). */
int kcat_new(struct db *db, struct keyring_catalog **kc_r, struct pv_error *err);
void kcat_free(struct keyring_catalog **kc);

/* The bucket (class, month), made with a fresh key on first use: an
 * INSERT ... ON CONFLICT DO NOTHING and a read, race-free between
 * machines. Inside the caller's transaction when there is one. */
int kcat_bucket(struct keyring_catalog *kc, const unsigned char kek[KEYRING_KEY_BYTES],
		const char *class_name, const char *month, int64_t now, int64_t *id_r,
		struct pv_error *err);
int kcat_info(struct keyring_catalog *kc, int64_t id, struct keyring_bucket_info *info_r,
	      struct pv_error *err);
/* The bucket's key; PV_ENOTFOUND when destroyed or unknown, PV_EINTEGRITY
 * when it does not open under kek (another archive's identity, or a row
 * edited). */
int kcat_key(struct keyring_catalog *kc, const unsigned char kek[KEYRING_KEY_BYTES], int64_t id,
	     unsigned char key_r[KEYRING_KEY_BYTES], struct pv_error *err) PV_WARN_UNUSED;
/* Moves a bucket key of a data directory's own keyring.db into the
 * catalog under the same id (key NULL: destroyed at destroyed_at), for an
 * archive made on PostgreSQL before the keys moved there. A row already
 * there is kept; PV_EINTEGRITY when (class, month) has another id in the
 * catalog. kcat_identity_follow then moves the id sequence past them. */
int kcat_adopt(struct keyring_catalog *kc, const unsigned char kek[KEYRING_KEY_BYTES], int64_t id,
	       const char *class_name, const char *month, const unsigned char *key,
	       int64_t destroyed_at, int64_t now, struct pv_error *err);
int kcat_identity_follow(struct keyring_catalog *kc, struct pv_error *err);
int kcat_destroy(struct keyring_catalog *kc, int64_t id, int64_t now, struct pv_error *err);
/* The id of the newest bucket whose key is not destroyed; PV_ENOTFOUND
 * when there is none. */
int kcat_newest_live(struct keyring_catalog *kc, int64_t *id_r, struct pv_error *err);

#endif
