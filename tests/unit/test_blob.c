/* Blob store: exact round trip, and every kind of damage is detected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/fsutil.h"
#include "archiver/store/blob.h"

struct fixture {
	char dir[256];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char sub[300];
	if (sodium_init() < 0)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pv-blob-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(sub, sizeof(sub), "%s/tmp", f->dir);
	mkdir(sub, 0700);
	snprintf(sub, sizeof(sub), "%s/blobs", f->dir);
	mkdir(sub, 0700);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int collect(void *ctx, const unsigned char *data, size_t len, struct pv_error *err)
{
	return pv_buf_append(ctx, data, len, err);
}

/* Writes msg in pieces of `piece` bytes. */
static void write_blob(const char *dir, const unsigned char *msg, size_t len, size_t piece,
		       struct blob_info *info)
{
	struct blob_writer *w;
	struct pv_error err;
	assert_int_equal(blob_writer_new(dir, &w, &err), PV_OK);
	for (size_t off = 0; off < len; off += piece)
		assert_int_equal(blob_writer_write(w, msg + off, len - off < piece ? len - off : piece, &err), PV_OK);
	assert_int_equal(blob_writer_finish(&w, info, &err), PV_OK);
	assert_null(w);
	assert_int_equal(blob_sync(dir, &err), PV_OK);
}

static unsigned char *make_message(size_t len)
{
	unsigned char *m = malloc(len);
	for (size_t i = 0; i < len; i++)
		m[i] = i % 997 < 500 ? (unsigned char)("Subject: x\r\nbody .\r\n"[i % 20]) : (unsigned char)(i * 2654435761u >> 24);
	return m;
}

static void test_round_trip_is_byte_exact(void **state)
{
	struct fixture *f = *state;
	static const size_t sizes[] = {0, 1, 65535, 65536, 65537, 3 * 1024 * 1024 + 7};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *msg = make_message(sizes[i]);
		unsigned char sha[32], commit[32];
		struct blob_info info;
		struct pv_buf out;
		struct pv_error err;
		write_blob(f->dir, msg, sizes[i], 4093, &info);
		crypto_hash_sha256(sha, msg, sizes[i]);
		assert_memory_equal(sha, info.sha256, 32);
		blob_commitment(info.salt, msg, sizes[i], commit);
		assert_memory_equal(commit, info.commit, 32);
		assert_int_equal(info.size, sizes[i]);
		pv_buf_init(&out, sizes[i] + 1);
		assert_int_equal(blob_read(f->dir, info.id, info.key, info.sha256, collect, &out, &err), PV_OK);
		assert_int_equal(out.len, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(out.data, msg, sizes[i]);
		pv_buf_free(&out);
		free(msg);
	}
}

static void damage(const char *dir, const struct blob_info *info, long offset, int truncate_to)
{
	char path[4096];
	blob_path(dir, info->id, path, sizeof(path));
	if (truncate_to >= 0) {
		assert_int_equal(truncate(path, truncate_to), 0);
		return;
	}
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	fseek(fp, offset, SEEK_SET);
	int c = fgetc(fp);
	fseek(fp, offset, SEEK_SET);
	fputc(c ^ 1, fp);
	fclose(fp);
}

static void test_flipped_byte_is_integrity_error(void **state)
{
	struct fixture *f = *state;
	unsigned char *msg = make_message(200000);
	struct blob_info info;
	struct pv_error err;
	write_blob(f->dir, msg, 200000, 200000, &info);
	damage(f->dir, &info, 100, -1);
	assert_int_equal(blob_read(f->dir, info.id, info.key, info.sha256, NULL, NULL, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "does not match its hash"));
	free(msg);
}

static void test_wrong_key_is_integrity_error(void **state)
{
	struct fixture *f = *state;
	unsigned char *msg = make_message(1000);
	struct blob_info info;
	struct pv_error err;
	write_blob(f->dir, msg, 1000, 1000, &info);
	info.key[0] ^= 1;
	assert_int_equal(blob_read(f->dir, info.id, info.key, info.sha256, NULL, NULL, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "authentication failed"));
	free(msg);
}

static void test_wrong_plaintext_hash_is_integrity_error(void **state)
{
	struct fixture *f = *state;
	unsigned char *msg = make_message(1000);
	struct blob_info info;
	struct pv_error err;
	write_blob(f->dir, msg, 1000, 1000, &info);
	info.sha256[5] ^= 1;
	assert_int_equal(blob_read(f->dir, info.id, info.key, info.sha256, NULL, NULL, &err), PV_EINTEGRITY);
	free(msg);
}

static void test_missing_blob_is_not_found(void **state)
{
	struct fixture *f = *state;
	unsigned char key[32] = {0};
	struct pv_error err;
	assert_int_equal(blob_read(f->dir, "00ab", key, NULL, NULL, NULL, &err), PV_ENOTFOUND);
}

static void test_truncated_blob_is_integrity_error(void **state)
{
	struct fixture *f = *state;
	unsigned char *msg = make_message(300000);
	struct blob_info info;
	struct pv_error err;
	write_blob(f->dir, msg, 300000, 300000, &info);
	damage(f->dir, &info, 0, 60);
	assert_int_equal(blob_read(f->dir, info.id, info.key, NULL, NULL, NULL, &err), PV_EINTEGRITY);
	free(msg);
}

static void test_abort_leaves_no_file(void **state)
{
	struct fixture *f = *state;
	struct blob_writer *w;
	struct pv_error err;
	char tmp[700];
	assert_int_equal(blob_writer_new(f->dir, &w, &err), PV_OK);
	assert_int_equal(blob_writer_write(w, "partial", 7, &err), PV_OK);
	blob_writer_abort(&w);
	assert_null(w);
	snprintf(tmp, sizeof(tmp), "rmdir '%s/tmp' 2>/dev/null && mkdir '%s/tmp'", f->dir, f->dir);
	assert_int_equal(system(tmp), 0); /* rmdir succeeds only if tmp/ is empty */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_is_byte_exact),
		cmocka_unit_test(test_flipped_byte_is_integrity_error),
		cmocka_unit_test(test_wrong_key_is_integrity_error),
		cmocka_unit_test(test_wrong_plaintext_hash_is_integrity_error),
		cmocka_unit_test(test_missing_blob_is_not_found),
		cmocka_unit_test(test_truncated_blob_is_integrity_error),
		cmocka_unit_test(test_abort_leaves_no_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
