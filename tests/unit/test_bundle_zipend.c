/* Unit tests for false ends of stored zip members (audit/bundle_zipend.h)
 * and for the writer that deflates such a member (audit/bundle_write.h):
 * a mail holding "PK\7\10" and the CRC-32 of its own bytes before it would
 * end its stored member early for libarchive's streaming reader, and the
 * bundle would not verify. */
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
#include "audit/bundle_write.h"
#include "audit/bundle_zipend.h"
#include "tests/unit/fixtures.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* len bytes of text with a false end at offset at: "PK\7\10", the CRC-32
 * of the bytes before it, then sizes (when they fit). */
static uint8_t *crafted(size_t len, size_t at)
{
	uint8_t *p = malloc(len);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)('a' + i % 26);
	memcpy(p + at, "PK\7\10", 4);
	if (at + 8 <= len)
		put32(p + at + 4, (uint32_t)crc32(0, p, (uInt)at));
	if (at + 16 <= len) {
		put32(p + at + 8, (uint32_t)at);
		put32(p + at + 12, (uint32_t)at);
	}
	return p;
}

/* The streamed check fed in chunks of `chunk` bytes. */
static bool streamed(const uint8_t *p, size_t len, size_t chunk)
{
	struct zipend *z = malloc(sizeof(*z));
	assert_non_null(z);
	zipend_init(z);
	for (size_t off = 0; off < len; off += chunk)
		zipend_feed(z, p + off, len - off < chunk ? len - off : chunk);
	bool hit = zipend_found(z);
	free(z);
	return hit;
}

static void expect_both(const uint8_t *p, size_t len, bool want)
{
	static const size_t chunks[] = {1, 3, 7, 8, 4095, 4096, 4103, 65536};
	assert_int_equal(zipend_false_end(p, len), want);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		if (streamed(p, len, chunks[i]) != want)
			fail_msg("chunks of %zu: expected %d", chunks[i], want);
}

static void test_false_end_is_found_wherever_it_stands(void **state)
{
	static const size_t at[] = {0, 1, 29, 4088, 4089, 4095, 4096, 4100, 4103, 8190, 9000};
	(void)state;
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		uint8_t *p = crafted(10000, at[i]);
		expect_both(p, 10000, true);
		p[at[i] + 4] ^= 1; /* another CRC-32: the reader reads on */
		expect_both(p, 10000, false);
		free(p);
	}
}

static void test_plain_text_or_a_signature_alone_is_no_false_end(void **state)
{
	uint8_t *p = crafted(5000, 100);
	(void)state;
	expect_both(p, 0, false);
	memset(p + 100, 'x', 8);
	expect_both(p, 5000, false);
	memcpy(p + 3000, "PK\7\10\0\0\0\0", 8); /* 0 is the CRC-32 of nothing, not of 3000 bytes */
	expect_both(p, 5000, false);
	free(p);
}

/* Its CRC-32 field would be read from the real descriptor: deflated to be
 * sure. */
static void test_signature_near_the_end_counts_as_a_false_end(void **state)
{
	(void)state;
	for (size_t tail = 4; tail < 8; tail++) {
		uint8_t *p = crafted(6000, 6000 - tail);
		expect_both(p, 6000, true);
		free(p);
	}
}

/* --- the writer ------------------------------------------------------------------- */

struct zip_entry {
	char name[64];
	bool deflated;
};

/* The entries' names and methods, read with libarchive's streaming reader. */
static size_t zip_entries(const char *path, struct zip_entry *e, size_t max)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	size_t n = 0;
	char buf[4096];
	assert_int_equal(archive_read_support_format_zip_streamable(a), ARCHIVE_OK);
	assert_int_equal(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK && n < max) {
		la_ssize_t k;
		while ((k = archive_read_data(a, buf, sizeof(buf))) > 0)
			;
		assert_true(k == 0);
		snprintf(e[n].name, sizeof(e[n].name), "%s", archive_entry_pathname(ae));
		e[n++].deflated = strstr(archive_format_name(a), "deflation") != NULL;
	}
	archive_read_free(a);
	return n;
}

static bool deflated(const struct zip_entry *e, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(e[i].name, name) == 0)
			return e[i].deflated;
	fail_msg("no entry %s", name);
	return false;
}

static void expect_member(struct bundle *b, const char *name, const uint8_t *want, size_t len)
{
	struct bundle_stream *s = NULL;
	struct pv_error err;
	uint8_t *got = malloc(len + 1);
	size_t n = 0, k;
	assert_non_null(got);
	fx_must(bundle_stream_open(b, name, &s, &err), &err, name);
	do {
		fx_must(bundle_stream_read(s, got + n, len + 1 - n, &k, &err), &err, name);
		n += k;
	} while (k > 0 && n <= len);
	bundle_stream_close(&s);
	assert_int_equal(n, len);
	assert_memory_equal(got, want, len);
	free(got);
}

static void count_problem(void *ctx, bool problem, const char *text)
{
	(void)text;
	if (problem)
		++*(int *)ctx;
}

/* Stored mail with a false end (one in memory, one streamed through a
 * staging file) is deflated, the rest stored as asked; the bundle then
 * reads and verifies with every member as written. */
static void test_writer_deflates_a_stored_member_with_a_false_end(void **state)
{
	char dir[] = "/tmp/pv-zipend-XXXXXX", path[FX_PATH_MAX];
	uint8_t seed[32] = {7};
	struct note_signer s;
	struct note_verifier v;
	struct bundle_writer *w = NULL;
	struct bundle_member *m = NULL;
	struct bundle *b = NULL;
	struct pv_error err;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x.zip", dir);
	fx_must(note_signer_from_seed("test.example/pv/zip", seed, &s, &err), &err, "signer");
	note_signer_verifier(&s, &v);
	uint8_t *small = crafted(400, 60), *big = crafted(200000, 70001), *plain = crafted(300, 10);
	plain[10] = 'x';
	fx_must(bundle_writer_open(path, "test", &w, &err), &err, "open");
	bundle_writer_compress(w, false);
	fx_must(bundle_add(w, "messages/1.eml", small, 400, &err), &err, "add");
	fx_must(bundle_add(w, "messages/2.eml", plain, 300, &err), &err, "add");
	fx_must(bundle_member_begin(w, "messages/3.eml", &m, &err), &err, "begin");
	for (size_t off = 0; off < 200000; off += 999)
		fx_must(bundle_member_write(m, big + off, 200000 - off < 999 ? 200000 - off : 999, &err),
			&err, "write");
	fx_must(bundle_member_end(w, &m, &err), &err, "end");
	fx_must(bundle_add(w, "messages/4.eml", plain, 300, &err), &err, "add");
	bundle_writer_compress(w, true);
	fx_must(bundle_writer_finish(&w, &s, &err), &err, "finish");

	struct zip_entry e[16];
	size_t n = zip_entries(path, e, 16);
	assert_true(deflated(e, n, "messages/1.eml"));
	assert_false(deflated(e, n, "messages/2.eml"));
	assert_true(deflated(e, n, "messages/3.eml"));
	assert_false(deflated(e, n, "messages/4.eml"));

	int problems = 0;
	struct bundle_report rep = {count_problem, &problems, 0, 0};
	fx_must(bundle_open_file(path, &b, &err), &err, "read");
	assert_int_equal(bundle_check_manifest(b, &v, 1, NULL, &rep), 0);
	assert_int_equal(problems, 0);
	expect_member(b, "messages/1.eml", small, 400);
	expect_member(b, "messages/2.eml", plain, 300);
	expect_member(b, "messages/3.eml", big, 200000);
	bundle_free(&b);
	note_signer_wipe(&s);
	free(small);
	free(big);
	free(plain);
	fx_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_false_end_is_found_wherever_it_stands),
		cmocka_unit_test(test_plain_text_or_a_signature_alone_is_no_false_end),
		cmocka_unit_test(test_signature_near_the_end_counts_as_a_false_end),
		cmocka_unit_test(test_writer_deflates_a_stored_member_with_a_false_end),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
