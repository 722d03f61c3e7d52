#include "archiver/store/keyring_catalog.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/random.h"

#define WRAP_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define WRAP_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define WRAPPED_KEY_BYTES (WRAP_NONCE + KEYRING_KEY_BYTES + WRAP_TAG)

struct keyring_catalog {
	struct db *db;
	/* Prepared once: verify and export unwrap every message's key. */
	struct db_stmt *key_get, *info_get;
};

int kcat_new(struct db *db, struct keyring_catalog **kc_r, struct pv_error *err)
{
	struct keyring_catalog *kc = calloc(1, sizeof(*kc));
	if (kc == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	kc->db = db;
	*kc_r = kc;
	return PV_OK;
}

void kcat_free(struct keyring_catalog **kcp)
{
	if (*kcp == NULL)
		return;
	db_finalize(&(*kcp)->key_get);
	db_finalize(&(*kcp)->info_get);
	free(*kcp);
	*kcp = NULL;
}

static int cached(struct keyring_catalog *kc, struct db_stmt **slot, const char *sql,
		  struct pv_error *err)
{
	if (*slot == NULL)
		return db_prepare(kc->db, sql, slot, err);
	db_reset(*slot);
	return PV_OK;
}

int keyring_ad_build(const char *label, size_t label_len, const char *const *parts, size_t n,
		     struct pv_buf *out, struct pv_error *err)
{
	int r = pv_buf_append(out, label, label_len, err);
	for (size_t i = 0; r == PV_OK && i < n; i++) {
		if (parts[i] == NULL)
			return pv_fail(err, PV_EINTEGRITY, "keyring: a bucket without its class or month");
		size_t len = strlen(parts[i]);
		unsigned char be[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
				       (unsigned char)(len >> 8), (unsigned char)len};
		if ((r = pv_buf_append(out, be, 4, err)) == PV_OK)
			r = pv_buf_append(out, parts[i], len, err);
	}
	return r;
}

/* A label, then the class and the month each length-prefixed. */
static int wrap_ad(const char *class_name, const char *month, struct pv_buf *ad,
		   struct pv_error *err)
{
	static const char label[] = "popvault/bucket-key/v1";
	const char *parts[2] = {class_name, month};
	return keyring_ad_build(label, sizeof(label), parts, 2, ad, err);
}

/* The id the query sql (?1, ?2: the texts a, b when not NULL) gives;
 * PV_ENOTFOUND without a row. */
static int query_id(struct keyring_catalog *kc, const char *sql, const char *a, const char *b,
		    int64_t *id_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(kc->db, sql, &st, err);
	if (r < 0)
		return pv_error_prefix(err, "keyring");
	if (a != NULL)
		db_bind_text(st, 1, a, -1);
	if (b != NULL)
		db_bind_text(st, 2, b, -1);
	int rc = db_step(st, err);
	if (rc == DB_ROW)
		*id_r = db_column_int64(st, 0);
	db_finalize(&st);
	if (rc < 0)
		return pv_error_prefix(err, "keyring");
	return rc == DB_ROW ? PV_OK : PV_ENOTFOUND;
}

static int lookup(struct keyring_catalog *kc, const char *class_name, const char *month,
		  int64_t *id_r, struct pv_error *err)
{
	return query_id(kc, "SELECT id FROM keyring_buckets WHERE class = ? AND expiry_month = ?",
			class_name, month, id_r, err);
}

/* nonce ‖ the key sealed under kek, bound to (class, month). */
static int wrap_key(const unsigned char kek[KEYRING_KEY_BYTES], const char *class_name,
		    const char *month, const unsigned char key[KEYRING_KEY_BYTES],
		    unsigned char wrapped[WRAPPED_KEY_BYTES], struct pv_error *err)
{
	struct pv_buf ad;
	pv_buf_init(&ad, 1024);
	int r = wrap_ad(class_name, month, &ad, err);
	if (r == PV_OK) {
		pv_random_bytes(wrapped, WRAP_NONCE);
		crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + WRAP_NONCE, NULL, key,
							   KEYRING_KEY_BYTES, ad.data, ad.len, NULL,
							   wrapped, kek);
	}
	pv_buf_free(&ad);
	return r;
}

int kcat_adopt(struct keyring_catalog *kc, const unsigned char kek[KEYRING_KEY_BYTES], int64_t id,
	       const char *class_name, const char *month, const unsigned char *key,
	       int64_t destroyed_at, int64_t now, struct pv_error *err)
{
	unsigned char wrapped[WRAPPED_KEY_BYTES];
	struct db_stmt *st;
	int64_t have = 0;
	int r;
	if (key != NULL && (r = wrap_key(kek, class_name, month, key, wrapped, err)) < 0)
		return r;
	if ((r = db_prepare(kc->db, "INSERT INTO keyring_buckets (id, class, expiry_month,"
				    " wrapped_key, created_at, destroyed_at) VALUES (?, ?, ?, ?, ?, ?)"
				    " ON CONFLICT DO NOTHING", &st, err)) < 0)
		return pv_error_prefix(err, "keyring");
	db_bind_int64(st, 1, id);
	db_bind_text(st, 2, class_name, -1);
	db_bind_text(st, 3, month, -1);
	if (key != NULL)
		db_bind_blob(st, 4, wrapped, sizeof(wrapped));
	else
		db_bind_null(st, 4);
	db_bind_int64(st, 5, now);
	if (destroyed_at > 0)
		db_bind_int64(st, 6, destroyed_at);
	else
		db_bind_null(st, 6);
	int rc = db_step(st, err);
	db_finalize(&st);
	sodium_memzero(wrapped, sizeof(wrapped));
	if (rc < 0)
		return pv_error_prefix(err, "keyring");
	if ((r = lookup(kc, class_name, month, &have, err)) < 0 || have != id)
		return r < 0 && r != PV_ENOTFOUND
			       ? r
			       : pv_fail(err, PV_EINTEGRITY, "keyring: bucket %lld (%s %s) of this "
							     "data directory is another bucket in "
							     "the catalog", (long long)id,
					 class_name, month);
	return PV_OK;
}

int kcat_bucket(struct keyring_catalog *kc, const unsigned char kek[KEYRING_KEY_BYTES],
		const char *class_name, const char *month, int64_t now, int64_t *id_r,
		struct pv_error *err)
{
	unsigned char key[KEYRING_KEY_BYTES], wrapped[WRAPPED_KEY_BYTES];
	struct db_stmt *st;
	int r = lookup(kc, class_name, month, id_r, err);
	if (r != PV_ENOTFOUND)
		return r;
	pv_random_bytes(key, sizeof(key));
	r = wrap_key(kek, class_name, month, key, wrapped, err);
	sodium_memzero(key, sizeof(key));
	if (r < 0)
		return r;
	/* Another machine (or process) making the same bucket at once: one
	 * row wins, the other insert does nothing, and both read it. */
	if ((r = db_prepare(kc->db, "INSERT INTO keyring_buckets (class, expiry_month, wrapped_key,"
				    " created_at) VALUES (?, ?, ?, ?)"
				    " ON CONFLICT (class, expiry_month) DO NOTHING", &st, err)) < 0)
		return pv_error_prefix(err, "keyring");
	db_bind_text(st, 1, class_name, -1);
	db_bind_text(st, 2, month, -1);
	db_bind_blob(st, 3, wrapped, sizeof(wrapped));
	db_bind_int64(st, 4, now);
	int rc = db_step(st, err);
	db_finalize(&st);
	if (rc < 0)
		return pv_error_prefix(err, "keyring");
	r = lookup(kc, class_name, month, id_r, err);
	return r == PV_ENOTFOUND ? pv_fail(err, PV_ERR, "keyring: bucket vanished") : r;
}

/* The row's class, month and wrapped key (NULL when destroyed), read by
 * the cached statement *slot; PV_ENOTFOUND without a row. The strings
 * and blob are valid until the next reset. */
static int row_get(struct keyring_catalog *kc, int64_t id, struct db_stmt **st_r,
		   struct pv_error *err)
{
	int r = cached(kc, &kc->key_get, "SELECT class, expiry_month, wrapped_key"
					 " FROM keyring_buckets WHERE id = ?", err);
	if (r < 0)
		return pv_error_prefix(err, "keyring");
	db_bind_int64(kc->key_get, 1, id);
	int rc = db_step(kc->key_get, err);
	if (rc < 0)
		return pv_error_prefix(err, "keyring");
	if (rc == DB_DONE)
		return pv_fail(err, PV_ENOTFOUND, "the keyring has no bucket %lld", (long long)id);
	*st_r = kc->key_get;
	return PV_OK;
}

int kcat_info(struct keyring_catalog *kc, int64_t id, struct keyring_bucket_info *info_r,
	      struct pv_error *err)
{
	struct db_stmt *st;
	memset(info_r, 0, sizeof(*info_r));
	int r = cached(kc, &kc->info_get, "SELECT class, expiry_month, wrapped_key IS NULL"
					  " FROM keyring_buckets WHERE id = ?", err);
	if (r < 0)
		return pv_error_prefix(err, "keyring");
	st = kc->info_get;
	db_bind_int64(st, 1, id);
	int rc = db_step(st, err);
	if (rc == DB_ROW) {
		snprintf(info_r->class_name, sizeof(info_r->class_name), "%s", db_column_text(st, 0));
		snprintf(info_r->label, sizeof(info_r->label), "%s", db_column_text(st, 1));
		info_r->destroyed = db_column_int64(st, 2) != 0;
	} else if (rc == DB_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "the keyring has no bucket %lld", (long long)id);
	} else {
		r = pv_error_prefix(err, "keyring");
	}
	db_reset(st);
	return r;
}

int kcat_key(struct keyring_catalog *kc, const unsigned char kek[KEYRING_KEY_BYTES], int64_t id,
	     unsigned char key_r[KEYRING_KEY_BYTES], struct pv_error *err)
{
	struct db_stmt *st = NULL;
	struct pv_buf ad;
	size_t len = 0;
	int r = row_get(kc, id, &st, err);
	if (r < 0)
		return r == PV_ENOTFOUND ? pv_fail(err, PV_ENOTFOUND, "bucket %lld has no key "
								     "(destroyed or missing)",
						   (long long)id)
					 : r;
	const unsigned char *w = db_column_blob(st, 2, &len);
	pv_buf_init(&ad, 1024);
	if (db_column_is_null(st, 2))
		r = pv_fail(err, PV_ENOTFOUND, "bucket %lld has no key (destroyed or missing)",
			    (long long)id);
	else if (len != WRAPPED_KEY_BYTES)
		r = pv_fail(err, PV_EINTEGRITY, "bucket %lld: wrapped key has the wrong size",
			    (long long)id);
	else if ((r = wrap_ad(db_column_text(st, 0), db_column_text(st, 1), &ad, err)) == PV_OK &&
		 crypto_aead_xchacha20poly1305_ietf_decrypt(key_r, NULL, NULL, w + WRAP_NONCE,
							    len - WRAP_NONCE, ad.data, ad.len, w,
							    kek) != 0)
		r = pv_fail(err, PV_EINTEGRITY, "bucket %lld: its key does not open under this "
						"archive's identity (another archive's keys, or the "
						"row was edited)", (long long)id);
	pv_buf_free(&ad);
	db_reset(st);
	return r;
}

int kcat_destroy(struct keyring_catalog *kc, int64_t id, int64_t now, struct pv_error *err)
{
	struct db_stmt *st;
	/* destroyed_at is kept from the first destruction (a resumed
	 * disposal destroys again). */
	int r = db_prepare(kc->db, "UPDATE keyring_buckets SET wrapped_key = NULL,"
				   " destroyed_at = CASE WHEN destroyed_at IS NULL THEN ?"
				   " ELSE destroyed_at END WHERE id = ?", &st, err);
	if (r < 0)
		return pv_error_prefix(err, "keyring");
	db_bind_int64(st, 1, now);
	db_bind_int64(st, 2, id);
	int rc = db_step(st, err);
	db_finalize(&st);
	return rc < 0 ? pv_error_prefix(err, "keyring") : PV_OK;
}

int kcat_newest_live(struct keyring_catalog *kc, int64_t *id_r, struct pv_error *err)
{
	return query_id(kc, "SELECT id FROM keyring_buckets WHERE wrapped_key IS NOT NULL"
			    " ORDER BY id DESC LIMIT 1", NULL, NULL, id_r, err);
}

int kcat_identity_follow(struct keyring_catalog *kc, struct pv_error *err)
{
	/* Rows given their id by kcat_adopt: the identity column's sequence
	 * must go past them (SQLite's AUTOINCREMENT does so by itself). */
	if (db_kind(kc->db) != DB_POSTGRES)
		return PV_OK;
	int r = db_exec(kc->db, "SELECT setval(pg_get_serial_sequence('keyring_buckets', 'id'),"
				" (SELECT max(id) FROM keyring_buckets))", err);
	return r < 0 ? pv_error_prefix(err, "keyring") : PV_OK;
}
