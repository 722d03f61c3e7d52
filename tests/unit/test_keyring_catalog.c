/* Bucket keys kept in the catalog (store/keyring_catalog.h, migration 17)
 * for several harvesters sharing one archive: a bucket made on one
 * machine is the same bucket, with the same key, on another enrolled
 * with the archive's identity; destroying it is seen by all; a keyring
 * of another identity opens none; a key moved to another row does not
 * open; two machines making the same buckets at once get one row each.
 * Each case on SQLite and, with PV_TEST_PG, on PostgreSQL. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "archiver/lib/db.h"
#include "archiver/lib/fsutil.h"
#include "archiver/store/catalog.h"
#include "archiver/store/keyring.h"
#include "tests/unit/fixtures.h"

/* Two machines of one archive (a, b: the same secrets key, each its own
 * data directory and connection) and a stranger (c: another key). */
struct fx {
	struct fx_catalog c;
	struct db *other; /* b's and c's connection to the same catalog */
	char dir[3][64];
	struct keyring *kr[3];
};

static void keyring_in(struct fx *f, int i, const unsigned char key[KEYRING_KEY_BYTES],
		       struct db *db)
{
	struct pv_error err;
	char keys[96];
	snprintf(f->dir[i], sizeof(f->dir[i]), "/tmp/pv-krcat-XXXXXX");
	if (mkdtemp(f->dir[i]) == NULL)
		fail_msg("mkdtemp");
	snprintf(keys, sizeof(keys), "%s/keys", f->dir[i]);
	fx_must(pv_mkdir(keys, 0700, 0, &err), &err, "mkdir keys");
	fx_must(keyring_create_with(f->dir[i], key, &err), &err, "keyring");
	fx_must(keyring_open(f->dir[i], &f->kr[i], &err), &err, "keyring open");
	fx_must(keyring_use_catalog(f->kr[i], db, &err), &err, "use catalog");
}

static int setup_on(void **state, bool pg)
{
	struct fx *f = calloc(1, sizeof(*f));
	unsigned char ours[KEYRING_KEY_BYTES], theirs[KEYRING_KEY_BYTES];
	if (sodium_init() < 0 || f == NULL)
		return -1;
	fx_catalog_open(&f->c, "krcat", pg);
	f->other = fx_catalog_second(&f->c);
	randombytes_buf(ours, sizeof(ours));
	randombytes_buf(theirs, sizeof(theirs));
	keyring_in(f, 0, ours, f->c.db);
	keyring_in(f, 1, ours, f->other);
	keyring_in(f, 2, theirs, f->other);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_on(state, false);
}

static int setup_pg(void **state)
{
	return setup_on(state, true);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < 3; i++) {
		keyring_free(&f->kr[i]);
		fx_rmtree(f->dir[i]);
	}
	db_close(&f->other);
	fx_catalog_close(&f->c);
	free(f);
	return 0;
}

/* How many bucket keys the data directory's own keyring.db holds. */
static int local_keys(const char *dir)
{
	char path[128];
	sqlite3 *h;
	sqlite3_stmt *st;
	snprintf(path, sizeof(path), "%s/keys/keyring.db", dir);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*) FROM bucket_keys", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

static const unsigned char msg_key[BLOB_KEY_BYTES] = {1, 2, 3};
static const unsigned char msg_salt[BLOB_SALT_BYTES] = {4, 5, 6};

static void test_bucket_shared_between_machines(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	unsigned char wrapped[KEYRING_WRAPPED_BYTES], key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
	int64_t a = 0, b = 0, other = 0;
	struct keyring_bucket_info info;
	fx_must(keyring_bucket(f->kr[0], "mail", "2031-01", &a, &err), &err, "bucket on a");
	fx_must(keyring_bucket(f->kr[1], "mail", "2031-01", &b, &err), &err, "bucket on b");
	assert_int_equal(a, b);
	fx_must(keyring_bucket(f->kr[1], "mail", "2031-02", &other, &err), &err, "another");
	assert_int_not_equal(other, a);
	fx_must(keyring_wrap(f->kr[0], a, "blob1", msg_key, msg_salt, wrapped, &err), &err, "wrap");
	fx_must(keyring_unwrap(f->kr[1], a, "blob1", wrapped, sizeof(wrapped), key, salt, &err), &err,
		"unwrap on b");
	assert_memory_equal(key, msg_key, sizeof(key));
	assert_memory_equal(salt, msg_salt, sizeof(salt));
	fx_must(keyring_bucket_info(f->kr[1], a, &info, &err), &err, "info");
	assert_string_equal(info.class_name, "mail");
	assert_string_equal(info.label, "2031-01");
	assert_false(info.destroyed);
	assert_int_equal(keyring_bucket_info(f->kr[1], a + 1000, &info, &err), PV_ENOTFOUND);
	assert_int_equal(keyring_check_identity(f->kr[1], &err), PV_OK);
	/* the data directory's own keyring.db holds no bucket key */
	assert_int_equal(local_keys(f->dir[0]), 0);
}

static void test_destroy_visible_to_all(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	unsigned char wrapped[KEYRING_WRAPPED_BYTES], key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
	int64_t a = 0, again = 0;
	struct keyring_bucket_info info;
	fx_must(keyring_bucket(f->kr[0], "mail", "2031-01", &a, &err), &err, "bucket");
	fx_must(keyring_wrap(f->kr[0], a, "blob1", msg_key, msg_salt, wrapped, &err), &err, "wrap");
	/* b unwraps once (its cached statement), then a destroys */
	fx_must(keyring_unwrap(f->kr[1], a, "blob1", wrapped, sizeof(wrapped), key, salt, &err), &err,
		"unwrap");
	fx_must(keyring_destroy_bucket(f->kr[0], a, &err), &err, "destroy");
	assert_int_equal(keyring_unwrap(f->kr[1], a, "blob1", wrapped, sizeof(wrapped), key, salt,
					&err), PV_ENOTFOUND);
	fx_must(keyring_bucket_info(f->kr[1], a, &info, &err), &err, "info");
	assert_true(info.destroyed);
	/* the label stays taken, and its key gone: retention takes the next generation */
	fx_must(keyring_bucket(f->kr[1], "mail", "2031-01", &again, &err), &err, "same label");
	assert_int_equal(again, a);
	assert_int_equal(keyring_wrap(f->kr[1], a, "blob2", msg_key, msg_salt, wrapped, &err),
			 PV_ENOTFOUND);
	/* destroying again (a resumed disposal) is fine */
	fx_must(keyring_destroy_bucket(f->kr[1], a, &err), &err, "destroy again");
	/* with every key destroyed there is nothing to check an identity against */
	assert_int_equal(keyring_check_identity(f->kr[2], &err), PV_OK);
}

static void test_other_identity_opens_nothing(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	unsigned char wrapped[KEYRING_WRAPPED_BYTES], key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
	int64_t a = 0;
	assert_int_equal(keyring_check_identity(f->kr[2], &err), PV_OK); /* no bucket yet */
	fx_must(keyring_bucket(f->kr[0], "mail", "2031-01", &a, &err), &err, "bucket");
	assert_int_equal(keyring_check_identity(f->kr[0], &err), PV_OK);
	assert_int_equal(keyring_check_identity(f->kr[2], &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "identity"));
	assert_int_equal(keyring_wrap(f->kr[2], a, "blob1", msg_key, msg_salt, wrapped, &err),
			 PV_EINTEGRITY);
	fx_must(keyring_wrap(f->kr[0], a, "blob1", msg_key, msg_salt, wrapped, &err), &err, "wrap");
	assert_int_equal(keyring_unwrap(f->kr[2], a, "blob1", wrapped, sizeof(wrapped), key, salt,
					&err), PV_EINTEGRITY);
}

/* An edit swapping two buckets' keys in the catalog is caught: each key
 * is bound to its class and month. */
static void test_key_moved_to_another_row(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	unsigned char wrapped[KEYRING_WRAPPED_BYTES];
	int64_t a = 0, b = 0;
	char sql[256];
	fx_must(keyring_bucket(f->kr[0], "mail", "2031-01", &a, &err), &err, "bucket a");
	fx_must(keyring_bucket(f->kr[0], "mail", "2031-02", &b, &err), &err, "bucket b");
	snprintf(sql, sizeof(sql), "UPDATE keyring_buckets SET wrapped_key = (SELECT wrapped_key"
				   " FROM keyring_buckets WHERE id = %lld) WHERE id = %lld",
		 (long long)a, (long long)b);
	fx_must(db_exec(f->c.db, sql, &err), &err, sql);
	fx_must(keyring_wrap(f->kr[0], a, "blob1", msg_key, msg_salt, wrapped, &err), &err, "a");
	assert_int_equal(keyring_wrap(f->kr[1], b, "blob1", msg_key, msg_salt, wrapped, &err),
			 PV_EINTEGRITY);
}

/* A bucket made inside a transaction that rolls back goes with it, as
 * the catalog's `buckets` row made beside it does. */
static void test_bucket_follows_the_transaction(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	int64_t a = 0, again = 0, n = -1;
	fx_must(db_begin(f->c.db, &err), &err, "begin");
	fx_must(keyring_bucket(f->kr[0], "mail", "2031-01", &a, &err), &err, "bucket");
	db_rollback(f->c.db);
	fx_must(db_query_int(f->c.db, "SELECT count(*) FROM keyring_buckets", &n, &err), &err, "n");
	assert_int_equal(n, 0);
	fx_must(keyring_bucket(f->kr[1], "mail", "2031-01", &again, &err), &err, "bucket again");
}

struct racer {
	struct keyring *kr;
	int64_t ids[24];
	int r;
};

static void *race(void *arg)
{
	struct racer *ra = arg;
	struct pv_error err;
	char month[16];
	for (int i = 0; i < 24 && ra->r == PV_OK; i++) {
		snprintf(month, sizeof(month), "2040-%02d", i % 12 + 1);
		ra->r = keyring_bucket(ra->kr, i < 12 ? "mail" : "legal", month, &ra->ids[i], &err);
	}
	return NULL;
}

/* Two machines making the same buckets at the same moment: one row per
 * bucket, the same id on both. */
static void test_two_machines_race(void **state)
{
	struct fx *f = *state;
	struct racer ra[2] = {{f->kr[0], {0}, PV_OK}, {f->kr[1], {0}, PV_OK}};
	pthread_t t[2];
	struct pv_error err;
	int64_t n = -1;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race, &ra[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(ra[0].r, PV_OK);
	assert_int_equal(ra[1].r, PV_OK);
	assert_memory_equal(ra[0].ids, ra[1].ids, sizeof(ra[0].ids));
	fx_must(db_query_int(f->c.db, "SELECT count(*) FROM keyring_buckets", &n, &err), &err, "n");
	assert_int_equal(n, 24);
}

/* A data directory made on PostgreSQL before the bucket keys moved into
 * the catalog: its keyring.db's keys move there on first use, same ids,
 * destroyed ones destroyed; the file keeps none; buckets made after get
 * new ids; another machine of the archive reads them. */
static void test_local_keys_move_into_catalog(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	unsigned char wrapped[KEYRING_WRAPPED_BYTES], key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
	struct keyring *old = NULL;
	struct keyring_bucket_info info;
	int64_t kept = 0, gone = 0, later = 0, n = -1;
	char dir[64] = "/tmp/pv-krold-XXXXXX", keys[96];
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp");
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	fx_must(pv_mkdir(keys, 0700, 0, &err), &err, "mkdir keys");
	fx_must(keyring_create(dir, &err), &err, "keyring");
	fx_must(keyring_open(dir, &old, &err), &err, "open");
	fx_must(keyring_bucket(old, "mail", "2029-01", &gone, &err), &err, "gone");
	fx_must(keyring_bucket(old, "mail", "2031-01", &kept, &err), &err, "kept");
	fx_must(keyring_wrap(old, kept, "blob1", msg_key, msg_salt, wrapped, &err), &err, "wrap");
	fx_must(keyring_destroy_bucket(old, gone, &err), &err, "destroy");
	keyring_free(&old);

	fx_must(keyring_open(dir, &old, &err), &err, "open again");
	fx_must(keyring_use_catalog(old, f->c.db, &err), &err, "use catalog");
	fx_must(keyring_unwrap(old, kept, "blob1", wrapped, sizeof(wrapped), key, salt, &err), &err,
		"unwrap, same id");
	assert_memory_equal(key, msg_key, sizeof(key));
	fx_must(keyring_bucket_info(old, gone, &info, &err), &err, "info");
	assert_true(info.destroyed);
	fx_must(db_query_int(f->c.db, "SELECT count(*) FROM keyring_buckets", &n, &err), &err, "n");
	assert_int_equal(n, 2);
	fx_must(keyring_bucket(old, "mail", "2031-02", &later, &err), &err, "later");
	assert_true(later > kept && later > gone);
	keyring_free(&old);
	/* nothing left in the file; opening again moves nothing twice */
	fx_must(keyring_open(dir, &old, &err), &err, "open a third time");
	fx_must(keyring_use_catalog(old, f->c.db, &err), &err, "use catalog again");
	keyring_free(&old);
	assert_int_equal(local_keys(dir), 0);
	char path[128];
	/* another machine with that directory's secrets key reads the moved key */
	unsigned char *sk;
	size_t sk_len;
	snprintf(path, sizeof(path), "%s/keys/secrets.key", dir);
	fx_must(pv_read_file(path, 64, &sk, &sk_len, &err), &err, "secrets.key");
	keyring_free(&f->kr[1]);
	fx_rmtree(f->dir[1]);
	keyring_in(f, 1, sk, f->other);
	sodium_memzero(sk, sk_len);
	free(sk);
	fx_must(keyring_unwrap(f->kr[1], kept, "blob1", wrapped, sizeof(wrapped), key, salt, &err),
		&err, "unwrap on another machine");
	fx_rmtree(dir);
}

/* verify's memo (keyring_memo_begin): each answer is the bucket asked
 * for, not the last one read; a bucket this keyring destroys is gone at
 * once; one destroyed elsewhere is seen from the next begin on. */
static void test_memo_answers_for_the_bucket_asked(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	unsigned char wa[KEYRING_WRAPPED_BYTES], wb[KEYRING_WRAPPED_BYTES];
	unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
	int64_t a = 0, b = 0;
	struct keyring_bucket_info info;
	fx_must(keyring_bucket(f->kr[0], "mail", "2031-01", &a, &err), &err, "bucket a");
	fx_must(keyring_bucket(f->kr[0], "short", "2031-02", &b, &err), &err, "bucket b");
	fx_must(keyring_wrap(f->kr[0], a, "blob1", msg_key, msg_salt, wa, &err), &err, "wrap a");
	fx_must(keyring_wrap(f->kr[0], b, "blob2", msg_salt, msg_key, wb, &err), &err, "wrap b");
	fx_must(keyring_memo_begin(f->kr[1], &err), &err, "memo");
	for (int round = 0; round < 2; round++) {
		fx_must(keyring_unwrap(f->kr[1], a, "blob1", wa, sizeof(wa), key, salt, &err), &err,
			"unwrap a");
		assert_memory_equal(key, msg_key, sizeof(key));
		/* a's key, just read, must not open what b's row names */
		assert_int_equal(keyring_unwrap(f->kr[1], b, "blob1", wa, sizeof(wa), key, salt, &err),
				 PV_EINTEGRITY);
		fx_must(keyring_unwrap(f->kr[1], b, "blob2", wb, sizeof(wb), key, salt, &err), &err,
			"unwrap b");
		assert_memory_equal(key, msg_salt, sizeof(key));
		fx_must(keyring_bucket_info(f->kr[1], a, &info, &err), &err, "info a");
		assert_string_equal(info.class_name, "mail");
		fx_must(keyring_bucket_info(f->kr[1], b, &info, &err), &err, "info b");
		assert_string_equal(info.class_name, "short");
		assert_string_equal(info.label, "2031-02");
	}
	/* destroyed here: gone at once, though the memo held its key */
	fx_must(keyring_unwrap(f->kr[1], b, "blob2", wb, sizeof(wb), key, salt, &err), &err, "b");
	fx_must(keyring_destroy_bucket(f->kr[1], b, &err), &err, "destroy b");
	assert_int_equal(keyring_unwrap(f->kr[1], b, "blob2", wb, sizeof(wb), key, salt, &err),
			 PV_ENOTFOUND);
	/* destroyed elsewhere: the memo's run keeps what it read (one
	 * snapshot), the next run sees it */
	fx_must(keyring_unwrap(f->kr[1], a, "blob1", wa, sizeof(wa), key, salt, &err), &err, "a");
	fx_must(keyring_destroy_bucket(f->kr[0], a, &err), &err, "destroy a elsewhere");
	fx_must(keyring_unwrap(f->kr[1], a, "blob1", wa, sizeof(wa), key, salt, &err), &err,
		"a in the same run");
	keyring_memo_end(f->kr[1]);
	fx_must(keyring_memo_begin(f->kr[1], &err), &err, "memo again");
	assert_int_equal(keyring_unwrap(f->kr[1], a, "blob1", wa, sizeof(wa), key, salt, &err),
			 PV_ENOTFOUND);
	keyring_memo_end(f->kr[1]);
	keyring_memo_end(f->kr[1]); /* twice is harmless */
}

#define BOTH(t) FX_BOTH(t, setup, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_bucket_shared_between_machines),
		BOTH(test_destroy_visible_to_all),
		BOTH(test_other_identity_opens_nothing),
		BOTH(test_key_moved_to_another_row),
		BOTH(test_bucket_follows_the_transaction),
		BOTH(test_two_machines_race),
		BOTH(test_local_keys_move_into_catalog),
		BOTH(test_memo_answers_for_the_bucket_asked),
	};
	return fx_run_both("keyring_catalog", tests, sizeof(tests) / sizeof(tests[0]));
}
