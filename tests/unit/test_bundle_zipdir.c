/* Unit tests for the zip central directory check (audit/bundle_zipdir.h),
 * through the bundle reader's first pass (audit/bundle_read.h), which
 * streams a zip's entries and then proves the central directory (what
 * unzip extracts) describes the same ones. Zips are written by libarchive
 * as the exporter writes them, then their central directory is edited
 * the way a forger would. Each case is named after the fault it guards. */
#include <archive.h>
#include <archive_entry.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/bundle_read.h"
#include "audit/bundle_zipdir.h"

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* n members "m/<i>.txt" (and a directory "m/" first), stored or
 * deflated, as the exporter writes a zip (sizes known ahead). */
static uint8_t *build_zip(size_t n, bool stored, size_t *len_r)
{
	size_t cap = 4096 + n * 256, used = 0;
	uint8_t *buf = malloc(cap);
	struct archive *a = archive_write_new();
	char name[64], body[96];
	assert_non_null(buf);
	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	if (stored)
		assert_int_equal(archive_write_zip_set_compression_store(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	struct archive_entry *ae = archive_entry_new();
	archive_entry_set_pathname(ae, "m/");
	archive_entry_set_filetype(ae, AE_IFDIR);
	archive_entry_set_perm(ae, 0755);
	assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
	archive_entry_free(ae);
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "m/%zu.txt", i);
		int bl = snprintf(body, sizeof(body), "message %zu of the bundle\n", i);
		ae = archive_entry_new();
		archive_entry_set_pathname(ae, name);
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_size(ae, bl);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, body, (size_t)bl), bl);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	*len_r = used;
	return buf;
}

/* A small zip taken apart: the local entries, the central entries one by
 * one (to edit), put together again with a plain or a Zip64 end. */
struct zparts {
	uint8_t *zip;
	size_t len, cd_off, cd_end;
	uint8_t *cd[64];
	size_t cd_len[64], n;
};

static void split(struct zparts *z, uint8_t *zip, size_t len)
{
	memset(z, 0, sizeof(*z));
	z->zip = zip;
	z->len = len;
	const uint8_t *e = zip + len - 22;
	assert_memory_equal(e, "PK\5\6", 4);
	z->cd_off = le32(e + 16);
	z->cd_end = len - 22;
	for (size_t at = z->cd_off; at < z->cd_end; z->n++) {
		const uint8_t *p = zip + at;
		size_t l = 46 + le16(p + 28) + le16(p + 30) + le16(p + 32);
		assert_true(z->n < 64);
		z->cd[z->n] = malloc(l);
		memcpy(z->cd[z->n], p, l);
		z->cd_len[z->n] = l;
		at += l;
	}
}

static void split_built(struct zparts *z, size_t n, bool stored)
{
	size_t len;
	uint8_t *zip = build_zip(n, stored, &len);
	split(z, zip, len);
}

/* The local entries, the central entries in `order` (indexes, n of them),
 * then the end: with zip64, the Zip64 end record and its locator too and
 * the plain end record saying "see Zip64". */
static uint8_t *join(const struct zparts *z, const size_t *order, size_t n, bool zip64,
		     size_t *len_r)
{
	uint8_t *out = malloc(z->len + 4096);
	size_t at = z->cd_off, cd_size = 0;
	memcpy(out, z->zip, z->cd_off);
	for (size_t i = 0; i < n; i++) {
		memcpy(out + at, z->cd[order[i]], z->cd_len[order[i]]);
		at += z->cd_len[order[i]];
		cd_size += z->cd_len[order[i]];
	}
	if (zip64) {
		uint8_t *r = out + at;
		memset(r, 0, 56 + 20);
		memcpy(r, "PK\6\6", 4);
		put64(r + 4, 44);
		put16(r + 12, 45);
		put16(r + 14, 45);
		put64(r + 24, n);
		put64(r + 32, n);
		put64(r + 40, cd_size);
		put64(r + 48, z->cd_off);
		memcpy(r + 56, "PK\6\7", 4);
		put64(r + 64, at);
		put32(r + 72, 1);
		at += 76;
	}
	uint8_t *e = out + at;
	memset(e, 0, 22);
	memcpy(e, "PK\5\6", 4);
	put16(e + 8, zip64 ? 0xffff : (uint32_t)n);
	put16(e + 10, zip64 ? 0xffff : (uint32_t)n);
	put32(e + 12, zip64 ? 0xffffffffu : (uint32_t)cd_size);
	put32(e + 16, zip64 ? 0xffffffffu : (uint32_t)z->cd_off);
	*len_r = at + 22;
	return out;
}

static void zparts_free(struct zparts *z)
{
	for (size_t i = 0; i < z->n; i++)
		free(z->cd[i]);
	free(z->zip);
}

/* bundle_open_memory's status, the reason in why. */
static int open_bytes(const uint8_t *data, size_t len, char *why, size_t why_len)
{
	struct bundle *b = NULL;
	struct pv_error err = {0};
	int r = bundle_open_memory(data, len, &b, &err);
	snprintf(why, why_len, "%s", r < 0 ? err.msg : "");
	bundle_free(&b);
	return r;
}

static void expect_ok(const uint8_t *data, size_t len)
{
	char why[512];
	int r = open_bytes(data, len, why, sizeof(why));
	if (r != 0)
		fail_msg("expected the zip to be accepted, got %d '%s'", r, why);
}

static void expect_refused(const uint8_t *data, size_t len, const char *needle)
{
	char why[512];
	int r = open_bytes(data, len, why, sizeof(why));
	if (r != PV_EINTEGRITY || strstr(why, needle) == NULL)
		fail_msg("expected refusal naming '%s', got %d '%s'", needle, r, why);
}

/* The zip z with its central entries in `order`, expected refused. */
static void expect_joined_refused(const struct zparts *z, const size_t *order, size_t n,
				  const char *needle)
{
	size_t len;
	uint8_t *j = join(z, order, n, false, &len);
	expect_refused(j, len, needle);
	free(j);
}

static const size_t IN_ORDER[] = {0, 1, 2, 3, 4, 5};

/* --- what we write ------------------------------------------------------------------------ */

static void test_stored_and_deflated_zips_as_written_are_accepted(void **state)
{
	(void)state;
	for (int stored = 0; stored < 2; stored++) {
		size_t len;
		uint8_t *zip = build_zip(5, stored, &len);
		expect_ok(zip, len);
		free(zip);
	}
}

/* The same entries with a Zip64 end (what libarchive writes past 65,535
 * entries): the end record says "see Zip64", the locator points at it. */
static void test_zip64_end_records_are_read(void **state)
{
	struct zparts z;
	size_t jl;
	(void)state;
	split_built(&z, 5, true);
	uint8_t *j = join(&z, IN_ORDER, z.n, true, &jl);
	expect_ok(j, jl);
	/* The locator pointing one byte off. */
	put64(j + jl - 22 - 20 + 8, z.cd_end - 1);
	expect_refused(j, jl, "Zip64 end record");
	free(j);
	zparts_free(&z);
}

/* 70,000 members: over 65,535, libarchive writes Zip64 end records, and
 * the 200,000 entries of a bundle of 100,000 messages need them. */
static void test_zip_over_65535_entries_is_read_through_zip64(void **state)
{
	size_t len;
	(void)state;
	uint8_t *zip = build_zip(70000, false, &len);
	assert_memory_equal(zip + len - 22 - 20, "PK\6\7", 4);
	expect_ok(zip, len);
	free(zip);
}

/* --- forged central directories ----------------------------------------------------------- */

/* unzip extracts in central order: two entries swapped would extract a
 * member's bytes under the other's name if sizes matched. */
static void test_central_entries_reordered_are_refused(void **state)
{
	struct zparts z;
	const size_t order[] = {0, 2, 1, 3, 4, 5};
	(void)state;
	split_built(&z, 5, true);
	expect_joined_refused(&z, order, 6, "out of order, missing");
	zparts_free(&z);
}

static void test_central_entry_missing_is_refused(void **state)
{
	struct zparts z;
	const size_t middle[] = {0, 1, 3, 4, 5}, last[] = {0, 1, 2, 3, 4};
	(void)state;
	split_built(&z, 5, true);
	expect_joined_refused(&z, middle, 5, "out of order, missing");
	expect_joined_refused(&z, last, 5, "bytes between the last entry and the central directory");
	zparts_free(&z);
}

/* A second central entry for a stored member: unzip would extract it twice
 * (the second time over the first, or under another name). */
static void test_extra_central_entry_is_refused(void **state)
{
	struct zparts z;
	const size_t order[] = {0, 1, 2, 3, 4, 5, 3};
	(void)state;
	split_built(&z, 5, true);
	expect_joined_refused(&z, order, 7, "out of order, missing");
	zparts_free(&z);
}

/* The forgery this check is for: a central entry pointing into another
 * member's data, where a whole local entry hides that the stream reads as
 * content. unzip shows the hidden entry; verify-bundle hashed the member
 * around it. */
static void test_central_entry_pointing_inside_another_member_is_refused(void **state)
{
	struct zparts z;
	(void)state;
	split_built(&z, 5, true);
	put32(z.cd[3] + 42, le32(z.cd[3] + 42) + 7);
	expect_joined_refused(&z, IN_ORDER, 6, "out of order, missing");
	zparts_free(&z);
}

static void test_central_crc_size_or_name_differing_is_refused(void **state)
{
	struct zparts z;
	(void)state;
	split_built(&z, 5, false);
	z.cd[2][16] ^= 1; /* CRC-32 */
	expect_joined_refused(&z, IN_ORDER, 6, "data descriptor of 'm/1.txt'");
	z.cd[2][16] ^= 1;
	z.cd[2][24] ^= 1; /* uncompressed size */
	expect_joined_refused(&z, IN_ORDER, 6, "data descriptor of 'm/1.txt'");
	z.cd[2][24] ^= 1;
	z.cd[2][46 + 2] = '7'; /* m/1.txt -> m/7.txt */
	expect_joined_refused(&z, IN_ORDER, 6, "names 'm/7.txt' but its local header another name");
	z.cd[2][46 + 2] = '1';
	z.cd[2][10] = 0; /* deflated -> stored */
	expect_joined_refused(&z, IN_ORDER, 6, "compressed size other than its size");
	z.cd[2][10] = 8;
	size_t jl;
	uint8_t *j = join(&z, IN_ORDER, 6, false, &jl);
	expect_ok(j, jl); /* each edit undone */
	free(j);
	zparts_free(&z);
}

/* A stored member holding a data descriptor of its own first bytes (a
 * mail can be written so): a streaming reader ends the member there, unzip
 * does not. The directory is consistent; only the fold tells. popvault's
 * writer deflates such a member instead (test_bundle_zipend.c); this is
 * a zip written by another. */
static void test_stored_member_with_a_fake_data_descriptor_is_refused(void **state)
{
	static const char head[] = "first part of a crafted mail ";
	uint8_t body[sizeof(head) - 1 + 16 + 40], *buf = malloc(65536);
	size_t hl = sizeof(head) - 1, used = 0;
	(void)state;
	memcpy(body, head, hl);
	memcpy(body + hl, "PK\7\10", 4);
	put32(body + hl + 4, (uint32_t)crc32(0, (const Bytef *)head, (uInt)hl));
	put32(body + hl + 8, (uint32_t)hl);
	put32(body + hl + 12, (uint32_t)hl);
	memset(body + hl + 16, 'x', 40);
	struct archive *a = archive_write_new();
	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_zip_set_compression_store(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, 65536, &used), ARCHIVE_OK);
	struct archive_entry *ae = archive_entry_new();
	archive_entry_set_pathname(ae, "mail.eml");
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_size(ae, sizeof(body));
	assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, body, sizeof(body)), (la_ssize_t)sizeof(body));
	archive_entry_free(ae);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	expect_refused(buf, used, "does not describe the entries stored one after another");
	free(buf);
}

/* A symlink (mode 0120777) unzip would create: the streamed entry looks
 * like a plain file. */
static void test_central_symlink_or_writable_mode_is_refused(void **state)
{
	struct zparts z;
	(void)state;
	split_built(&z, 5, true);
	put32(z.cd[1] + 38, 0120777u << 16);
	expect_joined_refused(&z, IN_ORDER, 6, "has mode 120777");
	put32(z.cd[1] + 38, 0100666u << 16);
	expect_joined_refused(&z, IN_ORDER, 6, "has mode 100666");
	zparts_free(&z);
}

/* Info-ZIP's Unicode path field (0x7075) gives unzip another name than
 * the one the header holds. */
static void test_central_extra_field_giving_another_name_is_refused(void **state)
{
	struct zparts z;
	(void)state;
	split_built(&z, 5, true);
	uint8_t *p = z.cd[1] + 46 + le16(z.cd[1] + 28);
	assert_int_equal(le16(p), 0x5455);
	put16(p, 0x7075);
	expect_joined_refused(&z, IN_ORDER, 6, "extra field 0x7075");
	zparts_free(&z);
}

/* --- the check on its own -------------------------------------------------------------------- */

static ssize_t mem_read(void *ctx, uint64_t off, void *buf, size_t n)
{
	const struct zparts *z = ctx;
	if (off >= z->len)
		return 0;
	if (n > z->len - off)
		n = (size_t)(z->len - off);
	memcpy(buf, z->zip + off, n);
	return (ssize_t)n;
}

static void test_fold_of_other_entries_is_refused(void **state)
{
	struct zparts z;
	struct zipdir_fold f;
	struct pv_error err = {0};
	(void)state;
	split_built(&z, 2, true);
	zipdir_fold_init(&f);
	assert_int_equal(zipdir_check(mem_read, &z, z.len, &f, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "lists 3 entries, the archive holds 0"));
	for (int i = 0; i < 3; i++)
		zipdir_fold_entry(&f, "m/", 2, 0, ZIPDIR_STORED, 0, 0);
	assert_int_equal(zipdir_check(mem_read, &z, z.len, &f, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "a name, an offset, a method, a size or a CRC-32 differs"));
	zparts_free(&z);
}

static void test_truncated_or_empty_input_is_refused(void **state)
{
	struct zparts z = {0};
	struct zipdir_fold f;
	struct pv_error err = {0};
	uint8_t e[22] = "PK\5\6";
	(void)state;
	zipdir_fold_init(&f);
	z.zip = (uint8_t *)"PK";
	z.len = 2;
	assert_int_equal(zipdir_check(mem_read, &z, z.len, &f, &err), PV_EINTEGRITY);
	z.zip = e;
	z.len = sizeof(e);
	assert_int_equal(zipdir_check(mem_read, &z, z.len, &f, &err), 0); /* empty zip */
	put16(e + 10, 1);
	put16(e + 8, 1);
	assert_int_equal(zipdir_check(mem_read, &z, z.len, &f, &err), PV_EINTEGRITY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stored_and_deflated_zips_as_written_are_accepted),
		cmocka_unit_test(test_zip64_end_records_are_read),
		cmocka_unit_test(test_zip_over_65535_entries_is_read_through_zip64),
		cmocka_unit_test(test_central_entries_reordered_are_refused),
		cmocka_unit_test(test_central_entry_missing_is_refused),
		cmocka_unit_test(test_extra_central_entry_is_refused),
		cmocka_unit_test(test_central_entry_pointing_inside_another_member_is_refused),
		cmocka_unit_test(test_central_crc_size_or_name_differing_is_refused),
		cmocka_unit_test(test_stored_member_with_a_fake_data_descriptor_is_refused),
		cmocka_unit_test(test_central_symlink_or_writable_mode_is_refused),
		cmocka_unit_test(test_central_extra_field_giving_another_name_is_refused),
		cmocka_unit_test(test_fold_of_other_entries_is_refused),
		cmocka_unit_test(test_truncated_or_empty_input_is_refused),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
