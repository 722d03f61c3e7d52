/* archiver/index/mime: the parts of a message for the web view (/parts,
 * /parts/N, /html): which leaves are listed, their names and types, the
 * decoded bytes, and which one is the HTML body. Known answers over
 * tests/data/mime/ and a few messages made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gmime/gmime.h>

#include "archiver/index/mime.h"
#include "archiver/lib/limits.h"
#include "tests/unit/fixtures.h"

static void parts_of(const unsigned char *raw, size_t len, struct index_parts *ps)
{
	struct pv_error err;
	assert_int_equal(index_mime_parts(raw, len, ps, &err), PV_OK);
}

/* Part n decoded, as a static string. */
static const char *decoded(const unsigned char *raw, size_t len, const struct index_part *p)
{
	static char out[1 << 16];
	struct pv_buf b;
	struct pv_error err;
	pv_buf_init(&b, sizeof(out) - 1);
	assert_int_equal(index_mime_part_decode(raw, len, p, &b, &err), PV_OK);
	memcpy(out, pv_buf_str(&b), b.len + 1);
	pv_buf_free(&b);
	return out;
}

static void test_attachments_with_rfc2231_names(void **state)
{
	(void)state;
	size_t len;
	unsigned char *raw = fx_mime_sample("07-rfc2231-attachments.eml", &len);
	struct index_parts ps;
	parts_of(raw, len, &ps);
	assert_int_equal(ps.n, 4);
	assert_int_equal(ps.v[0].n, 1);
	assert_string_equal(ps.v[0].type, "text/plain");
	assert_string_equal(ps.v[0].charset, "us-ascii");
	assert_null(ps.v[0].filename);
	assert_false(ps.v[0].attachment);
	assert_string_equal(decoded(raw, len, &ps.v[0]), "Please review the contract drafts.");
	assert_string_equal(ps.v[1].type, "application/pdf");
	assert_string_equal(ps.v[1].filename, "R\xc3\xa9sum\xc3\xa9 final.pdf");
	assert_true(ps.v[1].attachment);
	assert_memory_equal(decoded(raw, len, &ps.v[1]), "%PDF-1.4\n%\xc7\xec\x8f\xa2\n%%EOF\n", 20);
	assert_string_equal(ps.v[2].type, "application/vnd.ms-excel");
	assert_string_equal(ps.v[2].filename, "Bud\xc3\xa9get 2024.xls");
	assert_string_equal(ps.v[3].filename, "Notizen f\xc3\xbcr Carol.txt");
	assert_true(ps.v[3].attachment);
	assert_string_equal(decoded(raw, len, &ps.v[3]), "Attachment note text: zeppelin.");
	assert_null(index_parts_html_body(&ps));
	index_parts_free(&ps);
	assert_null(ps.v);
	free(raw);
}

static void test_alternative_has_its_html_body(void **state)
{
	(void)state;
	size_t len;
	unsigned char *raw = fx_mime_sample("09-alternative.eml", &len);
	struct index_parts ps;
	parts_of(raw, len, &ps);
	assert_int_equal(ps.n, 2);
	assert_string_equal(ps.v[0].type, "text/plain");
	assert_string_equal(ps.v[1].type, "text/html");
	const struct index_part *h = index_parts_html_body(&ps);
	assert_ptr_equal(h, &ps.v[1]);
	assert_string_equal(decoded(raw, len, h),
			    "<p>HTML version: lunch at <b>noon</b> with htmlonlyword.</p>");
	index_parts_free(&ps);
	free(raw);
}

/* An inline forwarded message is read, not listed as a file. */
static void test_inline_forward_lists_its_text(void **state)
{
	(void)state;
	size_t len;
	unsigned char *raw = fx_mime_sample("13-forwarded.eml", &len);
	struct index_parts ps;
	parts_of(raw, len, &ps);
	assert_int_equal(ps.n, 2);
	assert_string_equal(decoded(raw, len, &ps.v[0]), "See below.");
	assert_string_equal(ps.v[1].type, "text/plain");
	assert_false(ps.v[1].in_message);
	assert_string_equal(decoded(raw, len, &ps.v[1]), "The original body mentions xylophone.");
	index_parts_free(&ps);
	free(raw);
}

static const char attached[] =
	"From: a@example.com\r\nSubject: with an attached message\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
	"--b1\r\nContent-Type: text/html; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	"<p>caf=E9 outer</p>\r\n"
	"--b1\r\nContent-Type: message/rfc822; name=\"orig.eml\"\r\n"
	"Content-Disposition: attachment; filename=\"orig.eml\"\r\n\r\n"
	"From: z@example.com\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n"
	"--b2\r\nContent-Type: text/plain\r\n\r\ninner text\r\n"
	"--b2\r\nContent-Type: text/html\r\n\r\n<p>inner html</p>\r\n--b2--\r\n"
	"--b1--\r\n";

/* An attached message is one part (its exact bytes), then its own parts;
 * its HTML is never taken for the outer body. */
static void test_attached_message_is_a_part_and_not_the_body(void **state)
{
	(void)state;
	const unsigned char *raw = (const unsigned char *)attached;
	size_t len = strlen(attached);
	struct index_parts ps;
	parts_of(raw, len, &ps);
	assert_int_equal(ps.n, 4);
	assert_string_equal(ps.v[0].type, "text/html");
	assert_string_equal(ps.v[0].charset, "iso-8859-1");
	assert_string_equal(decoded(raw, len, &ps.v[0]), "<p>caf\xe9 outer</p>");
	assert_string_equal(ps.v[1].type, "message/rfc822");
	assert_string_equal(ps.v[1].filename, "orig.eml");
	assert_true(ps.v[1].attachment);
	const char *inner = strstr(attached, "From: z@");
	const char *inner_end = strstr(attached, "--b2--\r\n") + 6;
	const char *got = decoded(raw, len, &ps.v[1]);
	assert_int_equal(strlen(got), (size_t)(inner_end - inner));
	assert_memory_equal(got, inner, strlen(got));
	assert_string_equal(ps.v[2].type, "text/plain");
	assert_true(ps.v[2].in_message);
	assert_string_equal(ps.v[3].type, "text/html");
	assert_true(ps.v[3].in_message);
	assert_ptr_equal(index_parts_html_body(&ps), &ps.v[0]);
	index_parts_free(&ps);
}

/* A decode that does not fit says so, and keeps what fit. */
static void test_decode_into_a_small_buffer_is_a_limit(void **state)
{
	(void)state;
	size_t len;
	unsigned char *raw = fx_mime_sample("07-rfc2231-attachments.eml", &len);
	struct index_parts ps;
	struct pv_buf b;
	struct pv_error err;
	parts_of(raw, len, &ps);
	pv_buf_init(&b, 4);
	assert_int_equal(index_mime_part_decode(raw, len, &ps.v[1], &b, &err), PV_ELIMIT);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "%PDF", 4);
	pv_buf_reset(&b);
	assert_int_equal(index_mime_part_decode(raw, len, &ps.v[0], &b, &err), PV_ELIMIT);
	pv_buf_free(&b);
	struct index_part bad = ps.v[0];
	bad.end = len + 1;
	pv_buf_init(&b, 100);
	assert_int_equal(index_mime_part_decode(raw, len, &bad, &b, &err), PV_EUSAGE);
	pv_buf_free(&b);
	index_parts_free(&ps);
	free(raw);
}

static void test_no_structure_is_one_text_part(void **state)
{
	(void)state;
	static const char m[] = "garbage without a header\r\n\r\nbody";
	struct index_parts ps;
	parts_of((const unsigned char *)m, strlen(m), &ps);
	assert_int_equal(ps.n, 1);
	assert_string_equal(ps.v[0].type, "text/plain");
	index_parts_free(&ps);
	parts_of((const unsigned char *)"", 0, &ps);
	assert_int_equal(ps.n, 1);
	assert_int_equal(ps.v[0].start, 0);
	assert_int_equal(ps.v[0].end, 0);
	index_parts_free(&ps);
}

/* The lenient base64 of RFC 2045 §6.8 as mime.c's rules say it, one
 * character at a time, with nothing else in the way: the oracle for the
 * decoder's fast path (whole quanta four bytes at a time). */
static size_t lenient_b64(const unsigned char *p, size_t n, unsigned char *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	uint32_t acc = 0;
	int q = 0;
	bool junk = false, drop = false;
	for (size_t i = 0; i <= n; i++) {
		const char *at = i < n && p[i] != 0 ? strchr(alphabet, p[i]) : NULL;
		int v = i == n ? -2 : at ? (int)(at - alphabet) : -1;
		if (v == -1 && p[i] == '\n') {
			drop = junk && q != 0;
			junk = false;
		} else if (v == -1 && p[i] != '=' && p[i] != '\r' && p[i] != ' ' && p[i] != '\t') {
			junk = true;
		}
		if (v >= 0 && drop)
			q = 0, acc = 0;
		if (v >= 0 || (v == -1 && p[i] == '='))
			drop = false;
		if (v >= 0) {
			acc = acc << 6 | (uint32_t)v;
			if (++q == 4) {
				out[o++] = (unsigned char)(acc >> 16);
				out[o++] = (unsigned char)(acc >> 8);
				out[o++] = (unsigned char)acc;
				q = 0, acc = 0;
			}
		} else if (v == -2 || p[i] == '=') {
			if (q >= 2)
				out[o++] = (unsigned char)(acc >> (q == 2 ? 4 : 10));
			if (q == 3)
				out[o++] = (unsigned char)(acc >> 2);
			q = 0, acc = 0;
		}
	}
	return o;
}

/* Bodies of clean lines, padding in the middle, junk, stray bytes and
 * blanks, long enough to cross the decoder's 3 KiB of output many
 * times: the same bytes as the oracle's. */
static void test_base64_fast_path_matches_the_rules(void **state)
{
	(void)state;
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char odd[] = {'=', '\r', '\n', ' ', '\t', '!', '.', '-', (char)0xc3, 0};
	size_t cap = 20000;
	unsigned char *body = malloc(cap), *want = malloc(cap);
	struct pv_error err;
	uint32_t seed = 2026;
	for (int round = 0; round < 300; round++) {
		size_t n = 0, len = (size_t)(round * 67) % (cap - 100);
		int odds = round % 5 == 0 ? 0 : 1 + round % 40; /* per 1,000 characters */
		while (n < len) {
			seed = seed * 1103515245u + 12345u;
			uint32_t r = seed >> 8;
			if (round % 3 == 0 && n % 78 == 76) { /* lines as mailers write them */
				body[n++] = '\r';
				if (n < len)
					body[n++] = '\n';
			} else if ((int)(r % 1000) < odds) {
				body[n++] = (unsigned char)odd[(r >> 10) % sizeof(odd)];
			} else {
				body[n++] = (unsigned char)alphabet[(r >> 10) % 64];
			}
		}
		size_t w = lenient_b64(body, n, want);
		struct index_part part = {.encoding = GMIME_CONTENT_ENCODING_BASE64, .start = 0, .end = n};
		struct pv_buf got;
		pv_buf_init(&got, cap);
		assert_int_equal(index_mime_part_decode(body, n, &part, &got, &err), PV_OK);
		assert_int_equal(got.len, w);
		if (w > 0)
			assert_memory_equal(got.data, want, w);
		pv_buf_free(&got);
	}
	free(body);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attachments_with_rfc2231_names),
		cmocka_unit_test(test_alternative_has_its_html_body),
		cmocka_unit_test(test_inline_forward_lists_its_text),
		cmocka_unit_test(test_attached_message_is_a_part_and_not_the_body),
		cmocka_unit_test(test_decode_into_a_small_buffer_is_a_limit),
		cmocka_unit_test(test_no_structure_is_one_text_part),
		cmocka_unit_test(test_base64_fast_path_matches_the_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
