/* The pieces of backup and restore (archiver/archive/backup_files.c): the
 * passphrase-encrypted key container against a wrong passphrase, altered,
 * cut and reordered records and a forged cost; the manifest reader against
 * paths that leave the backup, unsorted or repeated entries and unknown
 * lines; the manifest check against changed, missing and extra files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "archiver/archive/backup_int.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/pagecache.h"
#include "tests/unit/fixtures.h"

static const struct backup_kdf cheap = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
static const char pass[] = "correct horse battery staple";

static void sealed_pair(struct pv_buf *out)
{
	struct backup_key_files k = {0};
	assert_int_equal(backup_key_files_add(&k, "keyring.db", "SQLite format 3", 15, NULL), 0);
	assert_int_equal(backup_key_files_add(&k, "archive.key", "seed-a", 6, NULL), 0);
	pv_buf_init(out, PV_BACKUP_KEYS_MAX);
	assert_int_equal(backup_keys_seal(&k, pass, strlen(pass), &cheap, out, NULL), 0);
	backup_key_files_free(&k);
}

static void test_keys_round_trip(void **state)
{
	struct backup_key_files k;
	struct pv_buf b;
	(void)state;
	sealed_pair(&b);
	assert_int_equal(backup_keys_open(b.data, b.len, pass, strlen(pass), &k, NULL), 0);
	assert_int_equal(k.n, 2);
	assert_string_equal(k.f[0].name, "keyring.db");
	assert_memory_equal(k.f[0].data, "SQLite format 3", 15);
	assert_string_equal(k.f[1].name, "archive.key");
	assert_int_equal(k.f[1].len, 6);
	backup_key_files_free(&k);
	pv_buf_free(&b);
}

static void test_keys_wrong_passphrase_is_eauth(void **state)
{
	struct backup_key_files k;
	struct pv_error err = {0};
	struct pv_buf b;
	(void)state;
	sealed_pair(&b);
	assert_int_equal(backup_keys_open(b.data, b.len, "correct horse battery stapler", 29, &k,
					  &err), PV_EAUTH);
	assert_non_null(strstr(err.msg, "wrong passphrase"));
	assert_int_equal(k.n, 0);
	pv_buf_free(&b);
}

static void test_keys_altered_cut_or_extended_refused(void **state)
{
	struct backup_key_files k;
	struct pv_buf b;
	(void)state;
	sealed_pair(&b);
	/* The last byte: the second record's tag. */
	b.data[b.len - 1] ^= 1;
	assert_int_equal(backup_keys_open(b.data, b.len, pass, strlen(pass), &k, NULL),
			 PV_EINTEGRITY);
	b.data[b.len - 1] ^= 1;
	/* Without the final record (4 + 1 + 11 + 6 + 17 bytes): the stream
	 * never ends; and a record cut in the middle. */
	assert_int_equal(backup_keys_open(b.data, b.len - 39, pass, strlen(pass), &k, NULL),
			 PV_EINTEGRITY);
	assert_int_equal(backup_keys_open(b.data, b.len - 30, pass, strlen(pass), &k, NULL),
			 PV_EINTEGRITY);
	/* Bytes after the final record. */
	assert_int_equal(pv_buf_append(&b, "x", 1, NULL), 0);
	assert_int_equal(backup_keys_open(b.data, b.len, pass, strlen(pass), &k, NULL),
			 PV_EINTEGRITY);
	/* The salt is associated data: changing it changes the key. */
	b.len--;
	b.data[9] ^= 1;
	assert_int_equal(backup_keys_open(b.data, b.len, pass, strlen(pass), &k, NULL), PV_EAUTH);
	assert_int_equal(backup_keys_open(b.data, 20, pass, strlen(pass), &k, NULL), PV_EINTEGRITY);
	pv_buf_free(&b);
}

static void test_keys_forged_cost_refused_before_hashing(void **state)
{
	struct backup_key_files k;
	struct pv_buf b;
	(void)state;
	sealed_pair(&b);
	/* mem (big-endian, after magic, salt and ops) set to 2^40 bytes. */
	size_t at = 8 + crypto_pwhash_SALTBYTES + 8;
	memset(b.data + at, 0, 8);
	b.data[at + 2] = 1;
	assert_int_equal(backup_keys_open(b.data, b.len, pass, strlen(pass), &k, NULL), PV_ELIMIT);
	pv_buf_free(&b);
}

static void test_key_file_names_that_leave_keys_refused(void **state)
{
	struct backup_key_files k = {0};
	(void)state;
	assert_int_equal(backup_key_files_add(&k, "../catalog.db", "x", 1, NULL), PV_ERR);
	assert_int_equal(backup_key_files_add(&k, ".hidden", "x", 1, NULL), PV_ERR);
	assert_int_equal(backup_key_files_add(&k, "a/b", "x", 1, NULL), PV_ERR);
	assert_int_equal(backup_key_files_add(&k, "", "x", 1, NULL), PV_ERR);
	assert_int_equal(backup_key_files_add(&k, "ok.key", "x", 1, NULL), 0);
	assert_int_equal(backup_key_files_add(&k, "ok.key", "y", 1, NULL), PV_ERR);
	backup_key_files_free(&k);
}

/* A directory with a MANIFEST of the given body after the header. */
static char *manifest_dir(const char *files)
{
	static char dir[64];
	char path[128], text[4096];
	snprintf(dir, sizeof(dir), "/tmp/pv-backup-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(text, sizeof(text),
		 "popvault-backup 1\ncreated 2026-01-01T00:00:00Z\norigin x/popvault\nschema 6\n"
		 "keys no\n%s",
		 files);
	snprintf(path, sizeof(path), "%s/MANIFEST", dir);
	assert_int_equal(pv_write_file(path, text, strlen(text), 0600, 1, NULL), 0);
	return dir;
}

#define H64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_manifest_paths_outside_the_backup_refused(void **state)
{
	static const char *const bad[] = {
		"file " H64 " 0 ../etc/passwd\n",
		"file " H64 " 0 /etc/passwd\n",
		"file " H64 " 0 blobs/ab/../../x\n",
		"file " H64 " 0 blobs/ab/cd" H64 "\n",
		"file " H64 " 0 notes.txt\n",
		"file " H64 " 00 catalog.db\n",
		"file " H64 " 0 popvault.conf\nfile " H64 " 0 catalog.db\n",
		"file " H64 " 0 catalog.db\nfile " H64 " 0 catalog.db\n",
		"copy " H64 " 0 catalog.db\n",
		"file " H64 " 0 catalog.db",
		"file " H64 " 0 packs/1.pack\n",
		"file " H64 " 0 packs/00000000.pack\n",
		"file " H64 " 0 packs/000000001.pack\n",
		"file " H64 " 0 packs/-0000001.pack\n",
		"file " H64 " 0 packs/+0000001.pack\n",
		"file " H64 " 0 packs/ 0000001.pack\n",
		"file " H64 " 0 packs/0000000x.pack\n",
		"file " H64 " 0 packs/00000001.pack/x\n",
		"file " H64 " 0 packs/00000001.packx\n",
		"file " H64 " 0 packs/00000001.PACK\n",
		"file " H64 " 0 packs/../00000001.pack\n",
		"file " H64 " 0 packs/00000001\n",
		"file " H64 " 0 packs/1234567890123456789.pack\n",
		"file " H64 " 0 packs/00000002.pack\nfile " H64 " 0 packs/00000001.pack\n",
	};
	struct backup_manifest m;
	char hex[65], cmd[128];
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *dir = manifest_dir(bad[i]);
		assert_int_equal(backup_manifest_read(dir, &m, hex, NULL), PV_EINTEGRITY);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

static void test_manifest_pack_paths_accepted(void **state)
{
	struct backup_manifest m;
	char hex[65], cmd[128];
	int64_t id = 0;
	(void)state;
	char *dir = manifest_dir("file " H64 " 0 packs/00000001.pack\n"
				 "file " H64 " 0 packs/00000042.pack\n"
				 "file " H64 " 0 packs/123456789.pack\n");
	assert_int_equal(backup_manifest_read(dir, &m, hex, NULL), 0);
	assert_int_equal(m.n, 3);
	assert_true(backup_pack_path_id(m.files[1].path, &id));
	assert_int_equal(id, 42);
	assert_true(backup_pack_path_id(m.files[2].path, &id));
	assert_int_equal(id, 123456789);
	backup_manifest_free(&m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A pack is copied only up to its committed length; a pack shorter than
 * that is refused, a missing one is PV_ENOTFOUND. */
static void test_copy_prefix(void **state)
{
	char dir[64], src[128], dst[128], cmd[128];
	unsigned char *data, sha[32], want[32];
	size_t len;
	uint64_t size;
	struct pv_error err = {0};
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pv-backup-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(dst, sizeof(dst), "%s/dst", dir);
	assert_int_equal(pv_write_file(src, "committed|tail", 14, 0600, 1, NULL), 0);
	assert_int_equal(backup_copy_prefix(src, dst, 9, sha, NULL), 0);
	assert_int_equal(pv_read_file(dst, 100, &data, &len, NULL), 0);
	assert_int_equal(len, 9);
	assert_memory_equal(data, "committed", 9);
	free(data);
	assert_int_equal(backup_file_hash(dst, want, &size, NULL), 0);
	assert_memory_equal(sha, want, 32); /* the manifest's hash, taken as it copied */
	unlink(dst);
	assert_int_equal(backup_copy_prefix(src, dst, 15, sha, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "shorter than its committed records"));
	assert_int_equal(access(dst, F_OK), -1);
	snprintf(src, sizeof(src), "%s/none", dir);
	assert_int_equal(backup_copy_prefix(src, dst, 1, sha, NULL), PV_ENOTFOUND);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A pack of 40 MiB copied: the source's pages leave the page cache as
 * they are read, the copy's as they are written out (all but the last
 * two write-behind steps), and the hash taken on the way is the file's. */
static void test_copy_prefix_leaves_the_page_cache(void **state)
{
	(void)state;
	char dir[] = "/tmp/pv-backup-XXXXXX", src[64], dst[64], cmd[96];
	unsigned char sha[32], want[32];
	uint64_t size, len = 40u << 20;
	fx_cache_dir(dir);
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(dst, sizeof(dst), "%s/dst", dir);
	unsigned char *data = malloc((size_t)len);
	assert_non_null(data);
	randombytes_buf(data, (size_t)len);
	assert_int_equal(pv_write_file(src, data, (size_t)len, 0600, 1, NULL), 0);
	free(data);
	int fd = open(src, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fsync(fd), 0); /* a pack's pages are clean, as an old one's */
	close(fd);
	assert_true(fx_resident_pages(src, 0, len) > 0); /* just written: cached */
	assert_int_equal(backup_copy_prefix(src, dst, len, sha, NULL), 0);
	assert_int_equal(fx_resident_pages(src, 0, len), 0);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	assert_true(fx_resident_pages(dst, 0, len) * page <= 2 * PV_WRITEBEHIND_STEP + (256 << 10));
	assert_int_equal(backup_file_hash(dst, want, &size, NULL), 0);
	assert_int_equal(size, len);
	assert_memory_equal(sha, want, 32);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static bool is_conf(const char *p)
{
	return strcmp(p, "popvault.conf") == 0;
}

static void test_manifest_check_names_changed_missing_and_extra_files(void **state)
{
	struct backup_manifest m;
	struct pv_error err = {0};
	char hex[65], path[128], cmd[128];
	(void)state;
	char *dir = manifest_dir("file " H64 " 0 catalog.db\nfile " H64 " 0 popvault.conf\n");
	assert_int_equal(backup_manifest_read(dir, &m, hex, NULL), 0);
	assert_int_equal(m.n, 2);
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	assert_int_equal(pv_write_file(path, "", 0, 0600, 1, NULL), 0);
	assert_int_equal(backup_manifest_check(&m, dir, NULL, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "popvault.conf is missing"));
	snprintf(path, sizeof(path), "%s/popvault.conf", dir);
	assert_int_equal(pv_write_file(path, "x", 1, 0600, 1, NULL), 0);
	assert_int_equal(backup_manifest_check(&m, dir, NULL, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "popvault.conf differs"));
	/* A file its caller checks as it copies it is only looked for here;
	 * the copy's hash is held to the manifest by backup_file_matches. */
	assert_int_equal(backup_manifest_check(&m, dir, is_conf, NULL), 0);
	unsigned char sha[32];
	uint64_t size;
	char dst[160];
	snprintf(dst, sizeof(dst), "%s/conf-copy", dir);
	assert_int_equal(backup_copy_file(path, dst, sha, &size, NULL), 0);
	unlink(dst);
	assert_int_equal(backup_file_matches(&m.files[1], sha, size, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "popvault.conf differs from the manifest (1 bytes, 0 listed)"));
	unlink(path);
	assert_int_equal(backup_manifest_check(&m, dir, is_conf, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "popvault.conf is missing"));
	assert_int_equal(pv_write_file(path, "", 0, 0600, 1, NULL), 0);
	assert_int_equal(backup_manifest_check(&m, dir, NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/blobs", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/blobs/stray", dir);
	assert_int_equal(pv_write_file(path, "", 0, 0600, 1, NULL), 0);
	assert_int_equal(backup_manifest_check(&m, dir, NULL, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "blobs/stray is not in the manifest"));
	snprintf(path, sizeof(path), "%s/blobs/stray", dir);
	unlink(path);
	assert_int_equal(backup_manifest_check(&m, dir, NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/packs", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/packs/00000001.pack", dir);
	assert_int_equal(pv_write_file(path, "", 0, 0600, 1, NULL), 0);
	assert_int_equal(backup_manifest_check(&m, dir, NULL, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "packs/00000001.pack is not in the manifest"));
	backup_manifest_free(&m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_round_trip),
		cmocka_unit_test(test_keys_wrong_passphrase_is_eauth),
		cmocka_unit_test(test_keys_altered_cut_or_extended_refused),
		cmocka_unit_test(test_keys_forged_cost_refused_before_hashing),
		cmocka_unit_test(test_key_file_names_that_leave_keys_refused),
		cmocka_unit_test(test_manifest_paths_outside_the_backup_refused),
		cmocka_unit_test(test_manifest_pack_paths_accepted),
		cmocka_unit_test(test_copy_prefix),
		cmocka_unit_test(test_copy_prefix_leaves_the_page_cache),
		cmocka_unit_test(test_manifest_check_names_changed_missing_and_extra_files),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
