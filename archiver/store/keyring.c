#include "archiver/store/keyring.h"

#include <errno.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/random.h"
#include "archiver/store/catalog.h"
#include "archiver/store/keyring_catalog.h"
#include "archiver/store/migrations.h"

/* Only the key is in guarded memory (sodium_malloc): LeakSanitizer does
 * not scan those pages, so a connection pointer kept there would look
 * leaked to it whenever it checks an open archive. */
struct keyring {
	sqlite3 *db;
	unsigned char *secrets_key; /* crypto_secretbox_KEYBYTES, sodium_malloc'd */
	/* Prepared once, on first use (verify and export read every
	 * message's key: parsing the SQL each time cost more than the
	 * lookup); reset after every use, so no read lock is held. */
	sqlite3_stmt *key_get, *info_get;
	/* Set by keyring_use_catalog: the bucket keys are the catalog's. */
	struct keyring_catalog *cat;
	/* keyring_memo_begin: the last bucket read, its facts and its key
	 * (memo_key, sodium_malloc'd; NULL while off). */
	unsigned char *memo_key;
	int64_t memo_id;
	bool memo_info_ok, memo_key_ok;
	struct keyring_bucket_info memo_info;
};

/* The key-encryption key of bucket keys kept in the catalog: derived
 * from the secrets key, so every machine holding the archive's identity
 * has it. */
static void bucket_kek(const struct keyring *kr, unsigned char kek[KEYRING_KEY_BYTES])
{
	crypto_kdf_derive_from_key(kek, KEYRING_KEY_BYTES, 3, "bucketky", kr->secrets_key);
}

/* The cached statement *slot for sql, reset. */
static int cached(struct keyring *kr, sqlite3_stmt **slot, const char *sql, struct pv_error *err)
{
	if (*slot == NULL)
		return catalog_prepare(kr->db, sql, slot, err);
	sqlite3_reset(*slot);
	sqlite3_clear_bindings(*slot);
	return PV_OK;
}

static int open_db(const char *data_dir, int create, sqlite3 **db_r, struct pv_error *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/keys/keyring.db", data_dir);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, db_r, flags, NULL) != SQLITE_OK) {
		int r = pv_fail(err, PV_ERR, "cannot open %s: %s", path,
				*db_r ? sqlite3_errmsg(*db_r) : "out of memory");
		sqlite3_close(*db_r);
		*db_r = NULL;
		return r;
	}
	sqlite3_busy_timeout(*db_r, 10000);
	/* Rollback journal, not WAL: a destroyed key must not survive in a WAL
	 * file; secure_delete overwrites the freed pages. */
	int r = catalog_exec(*db_r,
			     "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;"
			     "PRAGMA secure_delete=ON;",
			     err);
	if (r == PV_OK)
		r = migrations_apply(*db_r, &migrations_keyring, migrations_keyring.count, err);
	return r;
}

int keyring_create_with(const char *data_dir, const unsigned char secrets_key[KEYRING_KEY_BYTES],
			struct pv_error *err)
{
	char path[4096];
	sqlite3 *db = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/keys/secrets.key", data_dir);
	if ((r = pv_write_file(path, secrets_key, KEYRING_KEY_BYTES, 0600, 1, err)) < 0)
		return r;
	r = open_db(data_dir, 1, &db, err);
	/* a new keyring: every secret is sealed bound from the start */
	if (r == PV_OK)
		r = catalog_exec(db, "INSERT INTO keyring_meta VALUES ('secrets', 'bound')", err);
	sqlite3_close(db);
	return r;
}

int keyring_create(const char *data_dir, struct pv_error *err)
{
	unsigned char key[KEYRING_KEY_BYTES];
	pv_random_bytes(key, sizeof(key));
	int r = keyring_create_with(data_dir, key, err);
	sodium_memzero(key, sizeof(key));
	return r;
}

/* An archive made on PostgreSQL before the bucket keys moved into its
 * catalog has them in keyring.db: moved once, same ids, in one catalog
 * transaction; then wiped from the file (secure_delete, VACUUM). */
static int adopt_local_keys(struct keyring *kr, struct db *db, struct pv_error *err)
{
	unsigned char kek[KEYRING_KEY_BYTES];
	sqlite3_stmt *st;
	int64_t n = 0;
	int r = catalog_query_int(kr->db, "SELECT count(*) FROM bucket_keys", &n, err);
	if (r < 0 || n == 0)
		return r;
	if ((r = catalog_prepare(kr->db, "SELECT id, class, expiry_month, key, destroyed_at"
					 " FROM bucket_keys ORDER BY id", &st, err)) < 0)
		return r;
	if ((r = db_begin(db, err)) < 0) {
		sqlite3_finalize(st);
		return r;
	}
	bucket_kek(kr, kek);
	int rc = SQLITE_DONE;
	while (r == PV_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *key = sqlite3_column_blob(st, 3);
		if (key != NULL && sqlite3_column_bytes(st, 3) != KEYRING_KEY_BYTES) {
			r = pv_fail(err, PV_EINTEGRITY, "keyring: bucket %lld: key has the wrong size",
				    (long long)sqlite3_column_int64(st, 0));
			break;
		}
		r = kcat_adopt(kr->cat, kek, sqlite3_column_int64(st, 0),
			       (const char *)sqlite3_column_text(st, 1),
			       (const char *)sqlite3_column_text(st, 2), key,
			       sqlite3_column_int64(st, 4), pv_clock_now(), err);
	}
	sodium_memzero(kek, sizeof(kek));
	/* A read that failed part way must not look like the end: the file's
	 * keys are deleted below once moved. */
	if (r == PV_OK && rc != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "keyring: %s", sqlite3_errmsg(sqlite3_db_handle(st)));
	sqlite3_finalize(st);
	if (r == PV_OK)
		r = kcat_identity_follow(kr->cat, err);
	if (r == PV_OK)
		r = db_commit(db, err);
	else
		db_rollback(db);
	if (r == PV_OK)
		r = catalog_exec(kr->db, "DELETE FROM bucket_keys; VACUUM", err);
	return r < 0 ? pv_error_prefix(err, "moving the bucket keys into the catalog") : r;
}

int keyring_use_catalog(struct keyring *kr, struct db *db, struct pv_error *err)
{
	kcat_free(&kr->cat);
	int r = kcat_new(db, &kr->cat, err);
	return r < 0 ? r : adopt_local_keys(kr, db, err);
}

int keyring_check_identity(struct keyring *kr, struct pv_error *err)
{
	unsigned char kek[KEYRING_KEY_BYTES], key[KEYRING_KEY_BYTES];
	int64_t id;
	if (kr->cat == NULL)
		return PV_OK;
	int r = kcat_newest_live(kr->cat, &id, err);
	if (r == PV_ENOTFOUND)
		return PV_OK;
	if (r < 0)
		return r;
	bucket_kek(kr, kek);
	r = kcat_key(kr->cat, kek, id, key, err);
	sodium_memzero(kek, sizeof(kek));
	sodium_memzero(key, sizeof(key));
	return r;
}

int keyring_open(const char *data_dir, struct keyring **kr_r, struct pv_error *err)
{
	struct keyring *kr = calloc(1, sizeof(*kr));
	char path[4096];
	unsigned char *key;
	size_t len;
	int r;

	if (kr == NULL || (kr->secrets_key = sodium_malloc(crypto_secretbox_KEYBYTES)) == NULL) {
		free(kr);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	snprintf(path, sizeof(path), "%s/keys/secrets.key", data_dir);
	if ((r = pv_read_file(path, 64, &key, &len, err)) < 0) {
		keyring_free(&kr);
		return r;
	}
	if (len != crypto_secretbox_KEYBYTES) {
		sodium_memzero(key, len);
		free(key);
		keyring_free(&kr);
		return pv_fail(err, PV_EINTEGRITY, "%s: wrong size", path);
	}
	memcpy(kr->secrets_key, key, len);
	sodium_memzero(key, len);
	free(key);
	if ((r = open_db(data_dir, 0, &kr->db, err)) < 0) {
		keyring_free(&kr);
		return r;
	}
	*kr_r = kr;
	return PV_OK;
}

void keyring_free(struct keyring **krp)
{
	if (*krp == NULL)
		return;
	keyring_memo_end(*krp);
	sqlite3_finalize((*krp)->key_get);
	sqlite3_finalize((*krp)->info_get);
	kcat_free(&(*krp)->cat);
	sqlite3_close((*krp)->db);
	sodium_free((*krp)->secrets_key); /* wipes */
	free(*krp);
	*krp = NULL;
}

static int bucket_lookup(struct keyring *kr, const char *class_name, const char *expiry_month,
			 int64_t *bucket_id_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(kr->db, "SELECT id FROM bucket_keys WHERE class = ? AND expiry_month = ?",
				&st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, class_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, expiry_month, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*bucket_id_r = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		r = PV_ENOTFOUND;
	else
		r = pv_fail(err, PV_ERR, "keyring: %s", sqlite3_errmsg(kr->db));
	sqlite3_finalize(st);
	return r;
}

int keyring_bucket(struct keyring *kr, const char *class_name, const char *expiry_month,
		   int64_t *bucket_id_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	unsigned char key[KEYRING_KEY_BYTES];
	if (kr->cat != NULL) {
		bucket_kek(kr, key);
		int r = kcat_bucket(kr->cat, key, class_name, expiry_month, pv_clock_now(),
				    bucket_id_r, err);
		sodium_memzero(key, sizeof(key));
		return r;
	}
	int r = bucket_lookup(kr, class_name, expiry_month, bucket_id_r, err);
	if (r != PV_ENOTFOUND)
		return r;
	/* Insert-if-absent, then read again: harvests of several accounts run
	 * in parallel processes and may create the same bucket at once. */
	if ((r = catalog_prepare(kr->db,
				 "INSERT OR IGNORE INTO bucket_keys (class, expiry_month, key)"
				 " VALUES (?, ?, ?)", &st, err)) < 0)
		return r;
	pv_random_bytes(key, sizeof(key));
	sqlite3_bind_text(st, 1, class_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, expiry_month, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, key, sizeof(key), SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "keyring: %s", sqlite3_errmsg(kr->db));
	sqlite3_finalize(st);
	sodium_memzero(key, sizeof(key));
	if (r < 0)
		return r;
	r = bucket_lookup(kr, class_name, expiry_month, bucket_id_r, err);
	return r == PV_ENOTFOUND ? pv_fail(err, PV_ERR, "keyring: bucket vanished") : r;
}

int keyring_memo_begin(struct keyring *kr, struct pv_error *err)
{
	if (kr->memo_key == NULL && (kr->memo_key = sodium_malloc(KEYRING_KEY_BYTES)) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	kr->memo_info_ok = kr->memo_key_ok = false;
	return PV_OK;
}

void keyring_memo_end(struct keyring *kr)
{
	sodium_free(kr->memo_key); /* wipes; NULL: nothing */
	kr->memo_key = NULL;
	kr->memo_info_ok = kr->memo_key_ok = false;
}

/* Whether bucket_id is the memo's (forgetting the memo when it is not). */
static bool memo_holds(struct keyring *kr, int64_t bucket_id)
{
	if (kr->memo_key == NULL)
		return false;
	if (kr->memo_id != bucket_id) {
		kr->memo_info_ok = kr->memo_key_ok = false;
		kr->memo_id = bucket_id;
	}
	return true;
}

static int bucket_info_read(struct keyring *kr, int64_t bucket_id, struct keyring_bucket_info *info_r,
			    struct pv_error *err);

int keyring_bucket_info(struct keyring *kr, int64_t bucket_id, struct keyring_bucket_info *info_r,
			struct pv_error *err)
{
	bool memo = memo_holds(kr, bucket_id);
	if (memo && kr->memo_info_ok) {
		*info_r = kr->memo_info;
		return PV_OK;
	}
	int r = bucket_info_read(kr, bucket_id, info_r, err);
	if (memo && r == PV_OK) {
		kr->memo_info = *info_r;
		kr->memo_info_ok = true;
	}
	return r;
}

static int bucket_info_read(struct keyring *kr, int64_t bucket_id, struct keyring_bucket_info *info_r,
			    struct pv_error *err)
{
	if (kr->cat != NULL)
		return kcat_info(kr->cat, bucket_id, info_r, err);
	int r = cached(kr, &kr->info_get, "SELECT class, expiry_month, key IS NULL FROM bucket_keys"
					  " WHERE id = ?", err);
	sqlite3_stmt *st = kr->info_get;
	if (r < 0)
		return r;
	memset(info_r, 0, sizeof(*info_r));
	sqlite3_bind_int64(st, 1, bucket_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(info_r->class_name, sizeof(info_r->class_name), "%s",
			 (const char *)sqlite3_column_text(st, 0));
		snprintf(info_r->label, sizeof(info_r->label), "%s",
			 (const char *)sqlite3_column_text(st, 1));
		info_r->destroyed = sqlite3_column_int(st, 2) != 0;
	} else if (rc == SQLITE_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "the keyring has no bucket %lld", (long long)bucket_id);
	} else {
		r = pv_fail(err, PV_ERR, "keyring: %s", sqlite3_errmsg(kr->db));
	}
	sqlite3_reset(st);
	return r;
}

static int bucket_key_read(struct keyring *kr, int64_t bucket_id, unsigned char key[KEYRING_KEY_BYTES],
			   struct pv_error *err);

/* Loads a bucket key; PV_ENOTFOUND when destroyed or unknown. */
static int load_bucket_key(struct keyring *kr, int64_t bucket_id, unsigned char key[KEYRING_KEY_BYTES],
			   struct pv_error *err)
{
	bool memo = memo_holds(kr, bucket_id);
	if (memo && kr->memo_key_ok) {
		memcpy(key, kr->memo_key, KEYRING_KEY_BYTES);
		return PV_OK;
	}
	int r = bucket_key_read(kr, bucket_id, key, err);
	if (memo && r == PV_OK) {
		memcpy(kr->memo_key, key, KEYRING_KEY_BYTES);
		kr->memo_key_ok = true;
	}
	return r;
}

static int bucket_key_read(struct keyring *kr, int64_t bucket_id, unsigned char key[KEYRING_KEY_BYTES],
			   struct pv_error *err)
{
	if (kr->cat != NULL) {
		unsigned char kek[KEYRING_KEY_BYTES];
		bucket_kek(kr, kek);
		int r = kcat_key(kr->cat, kek, bucket_id, key, err);
		sodium_memzero(kek, sizeof(kek));
		return r;
	}
	int r = cached(kr, &kr->key_get, "SELECT key FROM bucket_keys WHERE id = ?", err);
	sqlite3_stmt *st = kr->key_get;
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, bucket_id);
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_type(st, 0) == SQLITE_NULL)
		r = pv_fail(err, PV_ENOTFOUND, "bucket %lld has no key (destroyed or missing)",
			    (long long)bucket_id);
	else if (sqlite3_column_bytes(st, 0) != KEYRING_KEY_BYTES)
		r = pv_fail(err, PV_EINTEGRITY, "bucket %lld: key has the wrong size", (long long)bucket_id);
	else
		memcpy(key, sqlite3_column_blob(st, 0), KEYRING_KEY_BYTES);
	sqlite3_reset(st); /* SQLite's copy of the key stays in its page cache either way */
	return r;
}

int keyring_wrap_many(struct keyring *kr, int64_t bucket_id, const struct keyring_wrap_item *items,
		      size_t n, struct pv_error *err)
{
	unsigned char kek[KEYRING_KEY_BYTES], plain[BLOB_KEY_BYTES + BLOB_SALT_BYTES];
	int r = load_bucket_key(kr, bucket_id, kek, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct keyring_wrap_item *it = &items[i];
		memcpy(plain, it->key, BLOB_KEY_BYTES);
		memcpy(plain + BLOB_KEY_BYTES, it->salt, BLOB_SALT_BYTES);
		pv_random_bytes(it->out, 24);
		crypto_aead_xchacha20poly1305_ietf_encrypt(it->out + 24, NULL, plain, sizeof(plain),
							   (const unsigned char *)it->blob_id,
							   strlen(it->blob_id), NULL, it->out, kek);
	}
	sodium_memzero(plain, sizeof(plain));
	sodium_memzero(kek, sizeof(kek));
	return PV_OK;
}

int keyring_wrap(struct keyring *kr, int64_t bucket_id, const char *blob_id,
		 const unsigned char key[BLOB_KEY_BYTES], const unsigned char salt[BLOB_SALT_BYTES],
		 unsigned char out[KEYRING_WRAPPED_BYTES], struct pv_error *err)
{
	struct keyring_wrap_item it = {blob_id, key, salt, out};
	return keyring_wrap_many(kr, bucket_id, &it, 1, err);
}

int keyring_unwrap(struct keyring *kr, int64_t bucket_id, const char *blob_id,
		   const unsigned char *wrapped, size_t wrapped_len,
		   unsigned char key_r[BLOB_KEY_BYTES], unsigned char salt_r[BLOB_SALT_BYTES],
		   struct pv_error *err)
{
	unsigned char kek[KEYRING_KEY_BYTES], plain[BLOB_KEY_BYTES + BLOB_SALT_BYTES];
	if (wrapped_len != KEYRING_WRAPPED_BYTES)
		return pv_fail(err, PV_EINTEGRITY, "wrapped key for blob %s has the wrong size", blob_id);
	int r = load_bucket_key(kr, bucket_id, kek, err);
	if (r < 0)
		return r;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, wrapped + 24,
						       wrapped_len - 24,
						       (const unsigned char *)blob_id,
						       strlen(blob_id), wrapped, kek) != 0)
		r = pv_fail(err, PV_EINTEGRITY, "wrapped key for blob %s does not authenticate", blob_id);
	else {
		memcpy(key_r, plain, BLOB_KEY_BYTES);
		memcpy(salt_r, plain + BLOB_KEY_BYTES, BLOB_SALT_BYTES);
	}
	sodium_memzero(plain, sizeof(plain));
	sodium_memzero(kek, sizeof(kek));
	return r;
}

int keyring_destroy_bucket(struct keyring *kr, int64_t bucket_id, struct pv_error *err)
{
	if (kr->memo_key != NULL && kr->memo_id == bucket_id) {
		sodium_memzero(kr->memo_key, KEYRING_KEY_BYTES);
		kr->memo_info_ok = kr->memo_key_ok = false;
	}
	if (kr->cat != NULL)
		return kcat_destroy(kr->cat, bucket_id, pv_clock_now(), err);
	sqlite3_stmt *st;
	int r = catalog_prepare(kr->db,
				"UPDATE bucket_keys SET key = NULL, destroyed_at = strftime('%s','now')"
				" WHERE id = ?",
				&st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, bucket_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "keyring: %s", sqlite3_errmsg(kr->db));
	sqlite3_finalize(st);
	if (r == PV_OK)
		r = catalog_exec(kr->db, "VACUUM", err); /* no free page keeps the old key */
	return r;
}

#define SEALED_MAGIC "PVS2"
#define SEALED_MAGIC_LEN 4
#define SEALED_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEALED_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

/* The associated data: a label, then each part as a 4-byte big-endian
 * length and its bytes (so no two lists of parts read the same). */
static int seal_ad(const char *const *ad, size_t n_ad, struct pv_buf *out, struct pv_error *err)
{
	static const char label[] = "popvault/sealed-secret/v2";
	if (n_ad > KEYRING_AD_MAX)
		return pv_fail(err, PV_ERR, "sealed secret: %zu associated data parts", n_ad);
	return keyring_ad_build(label, sizeof(label), ad, n_ad, out, err);
}

/* Format 2's key: its own, derived from the secrets key. */
static void seal_key(const struct keyring *kr, unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES])
{
	crypto_kdf_derive_from_key(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, 2, "sealsec2",
				   kr->secrets_key);
}

bool keyring_sealed_bound(const unsigned char *sealed, size_t sealed_len)
{
	return sealed_len >= SEALED_MAGIC_LEN + SEALED_NONCE + SEALED_TAG &&
	       memcmp(sealed, SEALED_MAGIC, SEALED_MAGIC_LEN) == 0;
}

int keyring_seal_secret(struct keyring *kr, const char *const *ad, size_t n_ad,
			const char *secret, unsigned char **sealed_r, size_t *sealed_len_r,
			struct pv_error *err)
{
	unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	struct pv_buf a;
	size_t len = strlen(secret);
	size_t total = SEALED_MAGIC_LEN + SEALED_NONCE + len + SEALED_TAG;
	pv_buf_init(&a, 4096);
	int r = seal_ad(ad, n_ad, &a, err);
	unsigned char *out = r == PV_OK ? malloc(total) : NULL;
	if (r == PV_OK && out == NULL)
		r = pv_fail(err, PV_ERR, "out of memory");
	if (r == PV_OK) {
		memcpy(out, SEALED_MAGIC, SEALED_MAGIC_LEN);
		pv_random_bytes(out + SEALED_MAGIC_LEN, SEALED_NONCE);
		seal_key(kr, key);
		crypto_aead_xchacha20poly1305_ietf_encrypt(
			out + SEALED_MAGIC_LEN + SEALED_NONCE, NULL, (const unsigned char *)secret, len,
			a.data, a.len, NULL, out + SEALED_MAGIC_LEN, key);
		sodium_memzero(key, sizeof(key));
		*sealed_r = out;
		*sealed_len_r = total;
	}
	pv_buf_free(&a);
	return r;
}

int keyring_open_secret(struct keyring *kr, const char *const *ad, size_t n_ad,
			const unsigned char *sealed, size_t sealed_len, char **secret_r,
			struct pv_error *err)
{
	unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	struct pv_buf a;
	if (!keyring_sealed_bound(sealed, sealed_len))
		return pv_fail(err, PV_EINTEGRITY, "the sealed secret is in the old format, bound to "
						   "nothing (from a catalog older than its keyring?)");
	size_t len = sealed_len - SEALED_MAGIC_LEN - SEALED_NONCE - SEALED_TAG;
	pv_buf_init(&a, 4096);
	int r = seal_ad(ad, n_ad, &a, err);
	char *out = r == PV_OK ? pv_secret_alloc(len + 1) : NULL;
	if (r == PV_OK && out == NULL)
		r = pv_fail(err, PV_ERR, "out of memory");
	if (r == PV_OK) {
		seal_key(kr, key);
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(
			    (unsigned char *)out, NULL, NULL, sealed + SEALED_MAGIC_LEN + SEALED_NONCE,
			    sealed_len - SEALED_MAGIC_LEN - SEALED_NONCE, a.data, a.len,
			    sealed + SEALED_MAGIC_LEN, key) != 0) {
			pv_secret_free(&out);
			r = pv_fail(err, PV_EINTEGRITY, "the sealed secret does not open here: it was "
							"sealed for another row or server, or is damaged");
		}
		sodium_memzero(key, sizeof(key));
	}
	pv_buf_free(&a);
	if (r == PV_OK)
		*secret_r = out;
	return r;
}

int keyring_open_unbound(struct keyring *kr, const unsigned char *sealed, size_t sealed_len,
			 char **secret_r, struct pv_error *err)
{
	size_t overhead = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
	if (sealed_len < overhead)
		return pv_fail(err, PV_EINTEGRITY, "sealed secret too short");
	size_t len = sealed_len - overhead;
	char *out = pv_secret_alloc(len + 1);
	if (out == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (crypto_secretbox_open_easy((unsigned char *)out, sealed + crypto_secretbox_NONCEBYTES,
				       sealed_len - crypto_secretbox_NONCEBYTES, sealed,
				       kr->secrets_key) != 0) {
		pv_secret_free(&out);
		return pv_fail(err, PV_EINTEGRITY, "sealed secret does not authenticate");
	}
	*secret_r = out;
	return PV_OK;
}

int keyring_secrets_bound(struct keyring *kr, bool *bound_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(kr->db, "SELECT value FROM keyring_meta WHERE key = 'secrets'", &st,
				err);
	if (r < 0)
		return r;
	int rc = sqlite3_step(st);
	*bound_r = rc == SQLITE_ROW &&
		   strcmp((const char *)sqlite3_column_text(st, 0), "bound") == 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "keyring: %s", sqlite3_errmsg(kr->db));
	sqlite3_finalize(st);
	return r;
}

int keyring_mark_secrets_bound(struct keyring *kr, struct pv_error *err)
{
	return catalog_exec(kr->db, "INSERT OR REPLACE INTO keyring_meta VALUES ('secrets', 'bound')",
			    err);
}

void keyring_mailbox_id(struct keyring *kr, const char *account_name, char out[33])
{
	unsigned char sub[crypto_generichash_KEYBYTES], id[16];
	crypto_kdf_derive_from_key(sub, sizeof(sub), 1, "mailbxid", kr->secrets_key);
	crypto_generichash(id, sizeof(id), (const unsigned char *)account_name, strlen(account_name),
			   sub, sizeof(sub));
	sodium_memzero(sub, sizeof(sub));
	pv_hex(id, sizeof(id), out);
}
