/* Hostile mail for archiver/index/mime: each message is generated here and
 * must extract without crashing, within the caps of limits.h, in bounded
 * time and memory (ARCHITECTURE.md §1 invariant 6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "archiver/index/mime.h"
#include "archiver/index/text.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"

/* Generous for an ASan build on a slow machine; the real figures are ~100x
 * smaller. A quadratic walk would take minutes on these inputs. */
#define HOSTILE_MS_MAX 4000
/* Peak resident memory of this whole test program (ASan included). */
#define HOSTILE_RSS_MAX_KB (512L * 1024)

struct gen {
	struct pv_buf b;
};

static void gen_init(struct gen *g)
{
	pv_buf_init(&g->b, 64u << 20);
}

static void put(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	char tmp[512];
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(tmp));
	assert_int_equal(pv_buf_append(&g->b, tmp, (size_t)n, NULL), PV_OK);
}

static void put_rep(struct gen *g, const char *s, size_t times)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < times; i++)
		assert_int_equal(pv_buf_append(&g->b, s, n, NULL), PV_OK);
}

/* Extracts with a time bound; the caller frees doc. */
static void extract_bounded(struct gen *g, struct index_doc *doc)
{
	struct pv_error err;
	int64_t t0 = pv_clock_monotonic_ms();
	assert_int_equal(index_mime_extract(g->b.data, g->b.len, doc, &err), PV_OK);
	int64_t ms = pv_clock_monotonic_ms() - t0;
	if (ms > HOSTILE_MS_MAX)
		fail_msg("extraction took %lld ms", (long long)ms);
	assert_true(doc->body.len <= PV_INDEX_TEXT_MAX);
	assert_true(doc->subject.len <= PV_MIME_FIELD_MAX);
	assert_true(doc->parts <= PV_MIME_PARTS_MAX);
	pv_buf_free(&g->b);
}

static bool has(const struct pv_buf *b, const char *needle)
{
	return strstr(pv_buf_str(b), needle) != NULL;
}

static void test_nesting_depth_10000_is_cut_at_the_cap(void **state)
{
	(void)state;
	struct gen g;
	struct index_doc doc;
	gen_init(&g);
	put(&g, "From: deep@example.com\r\nSubject: deep\r\n");
	for (int i = 0; i < 10000; i++)
		put(&g, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i);
	put(&g, "Content-Type: text/plain\r\n\r\ndeepest\r\n");
	extract_bounded(&g, &doc);
	assert_string_equal(pv_buf_str(&doc.subject), "deep");
	assert_true(doc.truncated & INDEX_TRUNC_DEPTH);
	assert_true(doc.parts <= PV_MIME_DEPTH_MAX + 1);
	assert_false(has(&doc.body, "deepest"));
	index_doc_free(&doc);
}

static void test_attached_message_nesting_10000_is_cut_at_the_cap(void **state)
{
	(void)state;
	struct gen g;
	struct index_doc doc;
	gen_init(&g);
	put(&g, "Subject: outer\r\n");
	put_rep(&g, "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n", 10000);
	put(&g, "\r\ninnermost\r\n");
	extract_bounded(&g, &doc);
	assert_string_equal(pv_buf_str(&doc.subject), "outer");
	assert_true(doc.truncated & INDEX_TRUNC_DEPTH);
	index_doc_free(&doc);
}

static void test_100000_parts_stop_at_the_part_cap(void **state)
{
	(void)state;
	struct gen g;
	struct index_doc doc;
	gen_init(&g);
	put(&g, "Subject: many\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n");
	for (int i = 0; i < 100000; i++)
		put(&g, "--B\r\nContent-Type: text/plain\r\n\r\npart%d\r\n", i);
	put(&g, "--B--\r\n");
	extract_bounded(&g, &doc);
	assert_int_equal(doc.parts, PV_MIME_PARTS_MAX);
	assert_true(doc.truncated & INDEX_TRUNC_PARTS);
	assert_true(has(&doc.body, "part0\n"));
	assert_true(has(&doc.body, "part9998"));  /* parts 2..10000 of the cap */
	assert_false(has(&doc.body, "part10000"));
	index_doc_free(&doc);
}

static void test_100000_attachments_keep_bounded_name_lists(void **state)
{
	(void)state;
	struct gen g;
	struct index_doc doc;
	gen_init(&g);
	put(&g, "Subject: names\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n");
	for (int i = 0; i < 100000; i++)
		put(&g, "--B\r\nContent-Type: application/octet-stream; name=\"file%06d.bin\"\r\n\r\nAA\r\n", i);
	extract_bounded(&g, &doc);
	assert_true(doc.has_attachment);
	assert_true(doc.filenames.len <= PV_MIME_HEADER_MAX);
	assert_true(has(&doc.filenames, "file000000.bin\nfile000001.bin"));
	index_doc_free(&doc);
}

static void test_broken_base64_decodes_what_it_can(void **state)
{
	(void)state;
	struct gen g;
	struct index_doc doc;
	gen_init(&g);
	put(&g, "Subject: b64\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n");
	/* "good text here" then garbage, '=' in the middle, a cut quantum */
	put(&g, "Z29vZCB0ZXh0IGhlcmU=\r\n!!!!====@@@@\r\n\x80\xff\x00QUJD=RE\r\nQU");
	extract_bounded(&g, &doc);
	assert_true(has(&doc.body, "good text here"));
	index_doc_free(&doc);

	gen_init(&g);
	put(&g, "Subject: b64 binary\r\nContent-Type: text/plain\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n");
	/* decodes to invalid UTF-8 and controls: must come out clean */
	put(&g, "/wAb2+7/AAEC\r\n");
	extract_bounded(&g, &doc);
	struct pv_buf c;
	pv_buf_init(&c, doc.body.len * 3 + 16);
	assert_int_equal(index_text_clean((const char *)doc.body.data, doc.body.len, true, &c, NULL), PV_OK);
	assert_int_equal(c.len, doc.body.len);
	pv_buf_free(&c);
	index_doc_free(&doc);
}

static void test_10mb_header_field_is_cut_and_the_body_still_read(void **state)
{
	(void)state;
	struct gen g;
	struct index_doc doc;
	gen_init(&g);
	put(&g, "From: big@example.com\r\nSubject: ");
	put_rep(&g, "abcdefghij", 1024 * 1024);
	put(&g, "\r\nTo: late@example.com\r\n\r\nbody after the huge header\r\n");
	extract_bounded(&g, &doc);
	assert_true(doc.truncated & INDEX_TRUNC_HEADER);
	assert_true(doc.subject.len > 0 && doc.subject.len <= PV_MIME_FIELD_MAX);
	assert_string_equal(pv_buf_str(&doc.from), "big@example.com");
	assert_string_equal(pv_buf_str(&doc.to), ""); /* past the header cap */
	assert_true(has(&doc.body, "body after the huge header"));
	index_doc_free(&doc);
}

static void test_a_million_header_fields_and_folds(void **state)
{
	(void)state;
	struct gen g;
	struct index_doc doc;
	gen_init(&g);
	put(&g, "Subject: first\r\n");
	put_rep(&g, "X-H: abcd\r\n", 500000);
	put(&g, "To: x@example.com");
	put_rep(&g, "\r\n , y@example.com", 500000);
	put(&g, "\r\n\r\nbody after many fields\r\n");
	extract_bounded(&g, &doc);
	assert_string_equal(pv_buf_str(&doc.subject), "first");
	assert_true(doc.truncated & INDEX_TRUNC_HEADER);
	assert_true(has(&doc.body, "body after many fields"));
	index_doc_free(&doc);
}

static void test_10mb_address_list_is_bounded(void **state)
{
	(void)state;
	struct gen g;
	struct index_doc doc;
	gen_init(&g);
	put(&g, "From: a@example.com\r\nTo: ");
	put_rep(&g, "\"Some One\" <someone@example.com>, ", 300000);
	put(&g, "\r\n\r\nbody\r\n");
	extract_bounded(&g, &doc);
	assert_true(doc.to.len > 0 && doc.to.len <= PV_MIME_FIELD_MAX);
	assert_true(has(&doc.to, "Some One <someone@example.com>"));
	index_doc_free(&doc);
}

/* GMime's address parser recurses once per group: "To: a:a:a:..." (or
 * "To: a<CR>To: a<CR>...", one line with bare CRs) crashed the indexer and
 * ingest on a stack overflow. Such a field is kept as text now, and the
 * sender before it is still parsed. */
static void test_address_groups_nested_100000_deep_do_not_overflow_the_stack(void **state)
{
	(void)state;
	static const char *const nest[] = {"a:", "\"a\":", ",:", "a\rTo: "};
	for (size_t i = 0; i < sizeof(nest) / sizeof(nest[0]); i++) {
		struct gen g;
		struct index_doc doc;
		gen_init(&g);
		put(&g, "From: boss@example.com\r\nTo: ");
		put_rep(&g, nest[i], 100000);
		put(&g, "\r\nSubject: still read\r\n\r\nbody\r\n");
		extract_bounded(&g, &doc);
		assert_string_equal(pv_buf_str(&doc.from), "boss@example.com");
		assert_string_equal(doc.addr_from.v[0], "boss@example.com");
		assert_true(doc.to.len > 0); /* searchable as text */
		assert_int_equal(doc.addr_to.n, 0);
		assert_string_equal(pv_buf_str(&doc.subject), "still read");
		index_doc_free(&doc);
	}
}

/* A megabyte of small address fields, each opening groups: the work on
 * them is bounded (PV_MIME_ADDR_COLONS_MAX for the whole message, then
 * text), and so is the policy's list of addresses (what search keeps). */
static void test_a_megabyte_of_group_fields_is_bounded(void **state)
{
	(void)state;
	struct gen g;
	struct index_doc doc;
	gen_init(&g);
	put(&g, "From: boss@example.com\r\n");
	put_rep(&g, "To: a:b:c:d:e:f:g:h:i:j:k:l:m:n:o:p:q:r:s:t:u:v;\r\n", 20000);
	put_rep(&g, "Cc: x@example.com\r\n", 20000);
	put(&g, "\r\nbody\r\n");
	extract_bounded(&g, &doc);
	assert_string_equal(doc.addr_from.v[0], "boss@example.com");
	assert_true(doc.to.len > 0 && doc.to.len <= PV_MIME_FIELD_MAX);
	assert_true(doc.cc.len > 0 && doc.cc.len <= PV_MIME_FIELD_MAX);
	assert_true(doc.nfields <= PV_RETENTION_HEADERS_MAX);
	index_doc_free(&doc);
}

static void test_huge_text_is_cut_on_a_character_boundary(void **state)
{
	(void)state;
	struct gen g;
	struct index_doc doc;
	gen_init(&g);
	put(&g, "Subject: big body\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
	put_rep(&g, "€uro ", 2 * 1024 * 1024); /* 14 MiB of 3-byte characters */
	extract_bounded(&g, &doc);
	assert_true(doc.truncated & INDEX_TRUNC_TEXT);
	assert_true(doc.body.len > PV_INDEX_TEXT_MAX - 8);
	struct pv_buf c;
	pv_buf_init(&c, doc.body.len + 16);
	assert_int_equal(index_text_clean((const char *)doc.body.data, doc.body.len, true, &c, NULL), PV_OK);
	assert_int_equal(c.len, doc.body.len); /* no broken character at the cut */
	pv_buf_free(&c);
	index_doc_free(&doc);
}

static void test_pathological_html_is_linear(void **state)
{
	(void)state;
	struct gen g;
	struct index_doc doc;
	gen_init(&g);
	put(&g, "Subject: html\r\nContent-Type: text/html\r\n\r\n");
	put_rep(&g, "<div><b x='>'>", 200000);
	put_rep(&g, "&amp", 200000);   /* references that never end */
	put_rep(&g, "<!-", 200000);    /* comment starts that never open */
	put_rep(&g, "<script>", 1000); /* raw-text starts that never close */
	extract_bounded(&g, &doc);
	index_doc_free(&doc);
}

static void test_near_miss_boundaries_under_100_open_levels(void **state)
{
	(void)state;
	struct gen g;
	struct index_doc doc;
	gen_init(&g);
	put(&g, "Subject: near\r\n");
	for (int i = 0; i < PV_MIME_DEPTH_MAX - 1; i++)
		put(&g, "Content-Type: multipart/mixed; boundary=\"boundary-%03d\"\r\n\r\n--boundary-%03d\r\n", i, i);
	put(&g, "Content-Type: text/plain\r\n\r\n");
	/* every line starts like a boundary and matches none of the 99 open */
	put_rep(&g, "--boundary-0000\r\n--boundary-\r\n", 100000);
	put(&g, "tail word\r\n");
	extract_bounded(&g, &doc);
	assert_true(has(&doc.body, "tail word"));
	index_doc_free(&doc);
}

static void test_degenerate_inputs(void **state)
{
	(void)state;
	static const char *const inputs[] = {
		"", "\n", "\r\n", "\r", ":", "-", "--", "From ", "Subject:", "Subject: \r\n",
		"Subject: x\r\n continued\r\n\tagain\r\n", " leading fold\r\n\r\nbody",
		"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n--\r\n",
		"Content-Type: multipart/mixed\r\n\r\nno boundary parameter\r\n",
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x--\r\n--x\r\n",
		"Content-Type: message/rfc822\r\n\r\n",
		"Content-Type: text/plain; charset=\"\"\r\n\r\nempty charset\r\n",
		"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 f\r\n#86)C\r\n`\r\nend\r\n",
		"Date: Mon, 99 Foo 99999 99:99:99 +9999\r\n\r\n",
		"From: <>, <<>>, @, \"unterminated\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct index_doc doc;
		struct pv_error err;
		assert_int_equal(index_mime_extract((const unsigned char *)inputs[i],
			strlen(inputs[i]), &doc, &err), PV_OK);
		index_doc_free(&doc);
	}
	unsigned char zeros[4096] = {0};
	struct index_doc doc;
	struct pv_error err;
	assert_int_equal(index_mime_extract(zeros, sizeof(zeros), &doc, &err), PV_OK);
	index_doc_free(&doc);
}

/* Seeded random mutations of a multipart message: whatever the bytes, no
 * crash, no sanitizer report, clean output. */
static void test_random_mutations(void **state)
{
	(void)state;
	static const char base[] =
		"From: =?utf-8?q?J=C3=BCrgen?= <j@example.de>\r\nSubject: =?koi8-r?b?8NLJ18XU?=\r\n"
		"Content-Type: multipart/mixed; boundary=\"ab\"\r\n\r\n--ab\r\n"
		"Content-Type: text/html; charset=iso-2022-jp\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
		"<p>x=3D1 &amp; <script>y</script>\x1b$B$K\x1b(B</p>\r\n--ab\r\n"
		"Content-Disposition: attachment; filename*0*=utf-8''a%C3; filename*1=b\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8=\r\n--ab--\r\n";
	uint64_t x = 0x9E3779B97F4A7C15ull;
	unsigned char m[sizeof(base) * 2];
	for (int iter = 0; iter < 3000; iter++) {
		size_t n = sizeof(base) - 1;
		memcpy(m, base, n);
		int edits = 1 + iter % 8;
		for (int e = 0; e < edits; e++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t at = x % n;
			unsigned op = (unsigned)(x >> 32) % 3;
			if (op == 0)
				m[at] = (unsigned char)(x >> 40);
			else if (op == 1 && n > 1)
				memmove(m + at, m + at + 1, --n - at);
			else if (n < sizeof(m) - 1) {
				memmove(m + at + 1, m + at, n++ - at);
				m[at] = "-\r\n=?<&;'\"*"[(x >> 48) % 11];
			}
		}
		struct index_doc doc;
		struct pv_error err;
		assert_int_equal(index_mime_extract(m, n, &doc, &err), PV_OK);
		index_doc_free(&doc);
	}
}

static void test_peak_memory_stayed_bounded(void **state)
{
	(void)state;
	struct rusage ru;
	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	if (ru.ru_maxrss > HOSTILE_RSS_MAX_KB)
		fail_msg("peak RSS %ld KiB", ru.ru_maxrss);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting_depth_10000_is_cut_at_the_cap),
		cmocka_unit_test(test_attached_message_nesting_10000_is_cut_at_the_cap),
		cmocka_unit_test(test_100000_parts_stop_at_the_part_cap),
		cmocka_unit_test(test_100000_attachments_keep_bounded_name_lists),
		cmocka_unit_test(test_broken_base64_decodes_what_it_can),
		cmocka_unit_test(test_10mb_header_field_is_cut_and_the_body_still_read),
		cmocka_unit_test(test_a_million_header_fields_and_folds),
		cmocka_unit_test(test_10mb_address_list_is_bounded),
		cmocka_unit_test(test_address_groups_nested_100000_deep_do_not_overflow_the_stack),
		cmocka_unit_test(test_a_megabyte_of_group_fields_is_bounded),
		cmocka_unit_test(test_huge_text_is_cut_on_a_character_boundary),
		cmocka_unit_test(test_pathological_html_is_linear),
		cmocka_unit_test(test_near_miss_boundaries_under_100_open_levels),
		cmocka_unit_test(test_degenerate_inputs),
		cmocka_unit_test(test_random_mutations),
		cmocka_unit_test(test_peak_memory_stayed_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
