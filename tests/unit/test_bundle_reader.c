/* Unit tests for the bundle reader (audit/bundle_read.h) against archives
 * built to fool it or the tools a recipient uses beside it (tar, unzip):
 * entries that are not plain files or carry dangerous modes, bytes after
 * the archive, a file that is two formats at once. Each case is named
 * after the fault it guards (issue 16). */
#include <archive.h>
#include <archive_entry.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/bundle_read.h"

/* One entry of an archive a test builds. */
struct ent {
	const char *name;
	unsigned type; /* AE_IFREG, AE_IFDIR, ... */
	unsigned mode; /* permission bits, setuid and the like included */
	const char *data;
};

#define REG(name, data) {name, AE_IFREG, 0644, data}

enum fmt { TGZ, ZIP, TAR };

/* The entries as a .tar.gz, .zip or .tar, in memory (1 MiB at most). */
static uint8_t *build_as(const struct ent *e, size_t n, enum fmt f, size_t *len_r)
{
	size_t cap = 1 << 20, used = 0;
	uint8_t *buf = malloc(cap);
	struct archive *a = archive_write_new();
	assert_non_null(buf);
	if (f == ZIP) {
		assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	} else {
		assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
		if (f == TGZ)
			assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	}
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t dl = e[i].data ? strlen(e[i].data) : 0;
		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_filetype(ae, e[i].type);
		archive_entry_set_perm(ae, e[i].mode);
		archive_entry_set_size(ae, (la_int64_t)dl);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (dl > 0)
			assert_int_equal(archive_write_data(a, e[i].data, dl), (la_ssize_t)dl);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	*len_r = used;
	return buf;
}

static uint8_t *build(const struct ent *e, size_t n, bool zip, size_t *len_r)
{
	return build_as(e, n, zip ? ZIP : TGZ, len_r);
}

/* data[0..len) gzipped; level 0 stores the bytes as they are. */
static uint8_t *gzip_bytes(const uint8_t *data, size_t len, int level, size_t *len_r)
{
	size_t cap = len + 65536, used = 0;
	uint8_t *buf = malloc(cap);
	char lv[4];
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	assert_non_null(buf);
	snprintf(lv, sizeof(lv), "%d", level);
	assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_filter_option(a, "gzip", "compression-level", lv),
			 ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	archive_entry_set_filetype(ae, AE_IFREG);
	assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_entry_free(ae);
	archive_write_free(a);
	*len_r = used;
	return buf;
}

/* a[0..*len) followed by b[0..blen), in a (which has room: 1 MiB). */
static void append(uint8_t *a, size_t *len, const void *b, size_t blen)
{
	assert_true(*len + blen <= 1 << 20);
	memcpy(a + *len, b, blen);
	*len += blen;
}

static int open_bytes(const uint8_t *data, size_t len, char *why, size_t why_len)
{
	struct bundle *b = NULL;
	struct pv_error err;
	int r = bundle_open_memory(data, len, &b, &err);
	snprintf(why, why_len, "%s", r < 0 ? err.msg : "");
	bundle_free(&b);
	return r;
}

static void expect_bytes_refused(const uint8_t *data, size_t len, const char *needle)
{
	char why[512];
	int r = open_bytes(data, len, why, sizeof(why));
	if (r != PV_EINTEGRITY || strstr(why, needle) == NULL)
		fail_msg("expected refusal naming '%s', got %d '%s'", needle, r, why);
}

/* Opens the archive: 0, or the status with the reason in why. */
static int open_built(const struct ent *e, size_t n, bool zip, char *why, size_t why_len)
{
	size_t len;
	uint8_t *data = build(e, n, zip, &len);
	int r = open_bytes(data, len, why, why_len);
	free(data);
	return r;
}

static void expect_refused(const struct ent *e, size_t n, bool zip, const char *needle)
{
	char why[512];
	int r = open_built(e, n, zip, why, sizeof(why));
	if (r != PV_EINTEGRITY || strstr(why, needle) == NULL)
		fail_msg("expected refusal naming '%s', got %d '%s'", needle, r, why);
}

/* --- entries ---------------------------------------------------------------------------- */

/* `./` with mode 0777 made the extraction directory world-writable when a
 * recipient ran `tar xzf` as root, and verify-bundle said OK. */
static void test_directory_entry_dot_world_writable_is_refused(void **state)
{
	(void)state;
	const struct ent e[] = {{"./", AE_IFDIR, 0777, NULL}, REG("BUNDLE", "x\n")};
	expect_refused(e, 2, false, "'./'");
	expect_refused(e, 2, true, "'./'");
}

static void test_directory_entry_outside_the_extraction_is_refused(void **state)
{
	(void)state;
	const struct ent up[] = {REG("BUNDLE", "x\n"), {"../../../tmp/x/", AE_IFDIR, 0755, NULL}};
	const struct ent abs[] = {REG("BUNDLE", "x\n"), {"/abs/dir/", AE_IFDIR, 0755, NULL}};
	expect_refused(up, 2, false, "is not allowed");
	expect_refused(abs, 2, false, "is not allowed");
	expect_refused(abs, 2, true, "is not allowed");
}

static void test_setuid_or_world_writable_files_are_refused(void **state)
{
	(void)state;
	const struct ent suid[] = {{"BUNDLE", AE_IFREG, 04755, "x\n"}};
	const struct ent ww[] = {REG("BUNDLE", "x\n"), {"VERIFY.md", AE_IFREG, 0666, "y\n"}};
	const struct ent sticky_dir[] = {{"audit/", AE_IFDIR, 01777, NULL}, REG("audit/x", "y\n")};
	expect_refused(suid, 1, false, "mode");
	expect_refused(ww, 2, false, "mode");
	expect_refused(sticky_dir, 2, false, "mode");
}

/* A bundle extracted and packed again by another tool has plain
 * directories: still a bundle. */
static void test_plain_directories_of_a_repacked_bundle_are_accepted(void **state)
{
	(void)state;
	char why[512];
	const struct ent e[] = {{"audit/", AE_IFDIR, 0755, NULL}, REG("BUNDLE", "x\n"),
				{"audit/checkpoint", AE_IFREG, 0600, "c\n"}};
	assert_int_equal(open_built(e, 3, false, why, sizeof(why)), 0);
	assert_int_equal(open_built(e, 3, true, why, sizeof(why)), 0);
}

/* --- bytes around the archive --------------------------------------------------------------- */

static const struct ent genuine[] = {REG("BUNDLE", "popvault-bundle/v1\nkind audit\n"),
				     REG("VERIFY.md", "check me\n")};

/* A genuine .tar.gz with a zip appended verified OK, while `unzip -l`
 * showed only the zip's forged member. */
static void test_tar_gz_with_a_zip_appended_is_refused(void **state)
{
	(void)state;
	const struct ent forged[] = {REG("VERIFY.md", "all is well\n")};
	size_t len, zlen;
	uint8_t *b = build(genuine, 2, false, &len), *z = build(forged, 1, true, &zlen);
	append(b, &len, z, zlen);
	expect_bytes_refused(b, len, "after the end");
	free(b);
	free(z);
}

static void test_bytes_after_the_tar_inside_the_gzip_are_refused(void **state)
{
	(void)state;
	size_t tlen, glen;
	uint8_t *t = build_as(genuine, 2, TAR, &tlen);
	append(t, &tlen, "PK\5\6 hidden", 11);
	uint8_t *g = gzip_bytes(t, tlen, 6, &glen);
	expect_bytes_refused(g, glen, "after the end");
	free(t);
	free(g);
}

static void test_plain_tar_with_bytes_after_its_end_is_refused(void **state)
{
	(void)state;
	size_t len;
	uint8_t *t = build_as(genuine, 2, TAR, &len);
	char why[512];
	assert_int_equal(open_bytes(t, len, why, sizeof(why)), 0); /* as written: fine */
	append(t, &len, "x", 1);
	expect_bytes_refused(t, len, "after the end");
	free(t);
}

static void test_zip_with_bytes_before_or_after_is_refused(void **state)
{
	(void)state;
	size_t len, plen = 0;
	uint8_t *z = build(genuine, 2, true, &len), *p = malloc(1 << 20);
	append(z, &len, "trailer", 7);
	expect_bytes_refused(z, len, "after the end");
	len -= 7;
	append(p, &plen, "#!/bin/sh\nexit 0\n", 18);
	append(p, &plen, z, len);
	expect_bytes_refused(p, plen, "before");
	free(z);
	free(p);
}

/* A .tar.gz whose last bytes are also a zip's end record: tar and
 * verify-bundle see the tar, unzip sees a zip. The gzip stores its data
 * (level 0), so a member's bytes appear as they are in the file, and
 * the end record's comment runs to the gzip trailer. */
static void test_tar_gz_that_is_also_a_zip_is_refused(void **state)
{
	(void)state;
	char eocd[23] = "PK\5\6";
	struct ent e[] = {REG("BUNDLE", "popvault-bundle/v1\nkind audit\n"),
			  {"VERIFY.md", AE_IFREG, 0644, NULL}};
	size_t tlen, glen;
	memset(eocd + 4, 'A', 18); /* no NUL: the data is a C string */
	e[1].data = eocd;
	uint8_t *t = build_as(e, 2, TAR, &tlen);
	uint8_t *g = gzip_bytes(t, tlen, 0, &glen);
	uint8_t *in_t = memmem(t, tlen, "PK\5\6", 4), *in_g = memmem(g, glen, "PK\5\6", 4);
	assert_non_null(in_t);
	assert_non_null(in_g);
	size_t comment = glen - (size_t)(in_g - g) - 22;
	assert_true(comment < 65536);
	/* Zero entries and a comment to the end of the file. */
	memset(in_t + 4, 0, 16);
	in_t[20] = (uint8_t)(comment & 0xff);
	in_t[21] = (uint8_t)(comment >> 8);
	free(g);
	g = gzip_bytes(t, tlen, 0, &glen);
	expect_bytes_refused(g, glen, "zip");
	free(t);
	free(g);
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

static void le(uint8_t *p, size_t *len, uint32_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[(*len)++] = (uint8_t)(v >> (8 * i));
}

/* A zip of one stored member BUNDLE whose first 512 bytes are also a tar
 * header with a valid checksum: `tar tf` lists a member where unzip lists
 * BUNDLE. Built by hand: the CRC goes in a data descriptor after the data
 * (APPNOTE 4.3.9), so the first block does not depend on it. */
static void test_zip_that_is_also_a_tar_is_refused(void **state)
{
	(void)state;
	uint8_t *z = malloc(4096), data[600];
	size_t len = 0, cd;
	const uint32_t crc_later = 0;
	memset(data, 'x', sizeof(data));
	le(z, &len, 0x04034b50, 4); /* local header */
	le(z, &len, 20, 2);
	le(z, &len, 8, 2); /* sizes and CRC in the descriptor */
	le(z, &len, 0, 2); /* stored */
	le(z, &len, 0, 2);
	le(z, &len, 0x21, 2);
	le(z, &len, crc_later, 4);
	le(z, &len, 0, 4);
	le(z, &len, 0, 4);
	le(z, &len, 6, 2);
	le(z, &len, 0, 2);
	memcpy(z + len, "BUNDLE", 6);
	len += 6;
	/* The tar checksum field (bytes 148..155 of the file) lies in the data. */
	size_t field = 148 - len;
	unsigned sum = 0;
	memset(data + field, ' ', 8);
	memcpy(z + len, data, sizeof(data));
	for (size_t i = 0; i < 512; i++)
		sum += z[i];
	snprintf((char *)data + field, 8, "%06o", sum);
	data[field + 7] = ' ';
	memcpy(z + len, data, sizeof(data));
	len += sizeof(data);
	uint32_t crc = crc32_of(data, sizeof(data));
	le(z, &len, 0x08074b50, 4); /* data descriptor */
	le(z, &len, crc, 4);
	le(z, &len, sizeof(data), 4);
	le(z, &len, sizeof(data), 4);
	cd = len;
	le(z, &len, 0x02014b50, 4); /* central directory */
	le(z, &len, 3 << 8 | 20, 2);
	le(z, &len, 20, 2);
	le(z, &len, 8, 2);
	le(z, &len, 0, 2);
	le(z, &len, 0, 2);
	le(z, &len, 0x21, 2);
	le(z, &len, crc, 4);
	le(z, &len, sizeof(data), 4);
	le(z, &len, sizeof(data), 4);
	le(z, &len, 6, 2);
	le(z, &len, 0, 2);
	le(z, &len, 0, 2);
	le(z, &len, 0, 2);
	le(z, &len, 0, 2);
	le(z, &len, 0100644u << 16, 4);
	le(z, &len, 0, 4);
	memcpy(z + len, "BUNDLE", 6);
	len += 6;
	size_t cd_len = len - cd;
	le(z, &len, 0x06054b50, 4); /* end record */
	le(z, &len, 0, 2);
	le(z, &len, 0, 2);
	le(z, &len, 1, 2);
	le(z, &len, 1, 2);
	le(z, &len, (uint32_t)cd_len, 4);
	le(z, &len, (uint32_t)cd, 4);
	le(z, &len, 0, 2);
	expect_bytes_refused(z, len, "at once");
	free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_directory_entry_dot_world_writable_is_refused),
		cmocka_unit_test(test_directory_entry_outside_the_extraction_is_refused),
		cmocka_unit_test(test_setuid_or_world_writable_files_are_refused),
		cmocka_unit_test(test_plain_directories_of_a_repacked_bundle_are_accepted),
		cmocka_unit_test(test_tar_gz_with_a_zip_appended_is_refused),
		cmocka_unit_test(test_bytes_after_the_tar_inside_the_gzip_are_refused),
		cmocka_unit_test(test_plain_tar_with_bytes_after_its_end_is_refused),
		cmocka_unit_test(test_zip_with_bytes_before_or_after_is_refused),
		cmocka_unit_test(test_tar_gz_that_is_also_a_zip_is_refused),
		cmocka_unit_test(test_zip_that_is_also_a_tar_is_refused),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("bundle_reader", tests, NULL, NULL);
}
