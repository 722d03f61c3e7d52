/* Unit tests for store/b64block.h: base64 lines kept as their values
 * must come back byte for byte, whatever a block boundary cut; anything
 * else is not packed; a forged head or values are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/lib/error.h"
#include "archiver/store/b64block.h"

#define BODY_MAX (64 * 1024)

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A MIME base64 body of n characters in lines of width, CRLF after each
 * (and after the last), characters from a fixed pseudo-random walk. */
static size_t body(unsigned char *out, size_t n, size_t width)
{
	uint32_t x = 2026;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		out[k++] = (unsigned char)alphabet[(x >> 16) & 63];
		if ((i + 1) % width == 0 || i + 1 == n) {
			out[k++] = '\r';
			out[k++] = '\n';
		}
	}
	return k;
}

/* Packs in[0..n) and unpacks it again: true when it packed (and then it
 * must have come back exactly). */
static bool round_trip(const unsigned char *in, size_t n)
{
	unsigned char *packed = malloc(B64BLOCK_PACKED_MAX(n));
	unsigned char *back = malloc(n + 1);
	size_t len, values_len, out_len;
	struct pv_error err;
	assert_non_null(packed);
	assert_non_null(back);
	bool packs = b64block_pack(in, n, packed, &len);
	if (packs) {
		assert_true(len >= B64BLOCK_HEAD);
		assert_true(len <= B64BLOCK_PACKED_MAX(n));
		assert_int_equal(b64block_head(packed, n, &values_len, &out_len, &err), PV_OK);
		assert_int_equal(values_len, len - B64BLOCK_HEAD);
		assert_int_equal(out_len, n);
		assert_int_equal(b64block_unpack(packed, packed + B64BLOCK_HEAD, values_len, back, &err),
				 PV_OK);
		assert_memory_equal(back, in, n);
		/* the head's maximum holds: one byte less room is refused */
		if (n > 0)
			assert_int_equal(b64block_head(packed, n - 1, &values_len, &out_len, &err),
					 PV_EINTEGRITY);
	}
	free(packed);
	free(back);
	return packs;
}

static void test_every_cut_of_a_base64_body_comes_back_exactly(void **state)
{
	(void)state;
	unsigned char *b = malloc(BODY_MAX);
	assert_non_null(b);
	/* line widths of real mailers (76: RFC 2045; 72, 64) and odd ones */
	const size_t widths[] = {76, 72, 64, 57, 1};
	for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
		size_t n = body(b, 2000, widths[w]);
		/* Every window of the body that does not reach its last line
		 * (shorter than the others) has the shape: starting and ending
		 * mid-line, on a CR or on an LF. */
		size_t whole = n - (2000 % widths[w] ? 2000 % widths[w] + 2 : widths[w] + 2);
		for (size_t start = 0; start < 2 * widths[w] + 4 && start < whole; start++)
			for (size_t end = start; end <= whole && end < start + 4 * widths[w] + 9; end++)
				assert_true(round_trip(b + start, end - start));
	}
	free(b);
}

static void test_a_block_of_one_long_line_and_of_line_breaks_alone(void **state)
{
	(void)state;
	unsigned char b[4096];
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)alphabet[(i * 7) & 63];
	for (size_t n = 0; n <= 9; n++)
		assert_true(round_trip(b, n)); /* every size of a last group */
	assert_true(round_trip(b, sizeof(b)));
	for (size_t i = 0; i < sizeof(b); i += 2) {
		b[i] = '\r';
		b[i + 1] = '\n';
	}
	assert_true(round_trip(b, sizeof(b)));     /* empty lines */
	assert_true(round_trip(b + 1, sizeof(b) - 2)); /* LF first, CR last */
}

static void test_what_is_not_base64_lines_is_not_packed(void **state)
{
	(void)state;
	unsigned char b[8192];
	size_t n = body(b, 1000, 76);
	const char *bad[] = {
		"QUJD\r\nREVG\r\nR0g=\r\n",    /* the padding of a body's end */
		"QUJD\nREVG\nR0hJ\n",          /* bare LF line ends */
		"QUJD\r\nREVGR0hJ\r\nSktM\r\nTU5P", /* inner lines of two lengths */
		"QUJD\rREVG\r\nR0hJ",          /* a CR without its LF */
		"QUJD\r\r\nREVG",              /* two CRs */
		"QUJD REVG",                   /* a space */
		"QUJD\r\n--boundary\r\n",      /* the end of a part */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(round_trip((const unsigned char *)bad[i], strlen(bad[i])));
	/* a first segment longer than the inner lines is still the shape */
	const char *ok = "QUJDREVG\r\nR0hJ\r\nSktM\r\nTU";
	assert_true(round_trip((const unsigned char *)ok, strlen(ok)));
	/* one byte off in a long body */
	const unsigned char stray[] = {'=', '-', ' ', '\t', '\n', 0x80, 0xff, 0};
	for (size_t i = 0; i < sizeof(stray); i++) {
		unsigned char save = b[500];
		b[500] = stray[i];
		assert_false(round_trip(b, n));
		b[500] = save;
	}
	assert_true(round_trip(b, n - 2 - 1000 % 76 - 2)); /* without its last line */
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void test_a_forged_head_or_values_are_refused(void **state)
{
	(void)state;
	unsigned char h[B64BLOCK_HEAD], out[256];
	size_t vlen, olen;
	struct pv_error err;
	const uint32_t heads[][5] = {
		/* first, line, last, breaks, flags */
		{4, 0, 0, 0, 4},            /* an unknown flag */
		{4, 76, 0, 1, 0},           /* a line length without inner lines */
		{4, 0, 3, 0, 0},            /* a last segment without a line break */
		{0, 0xffffffffu, 0, 0xffffffffu, 0}, /* far more than a block */
		{65536, 0, 0, 0, 3},        /* one byte more than the room */
	};
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		for (int k = 0; k < 5; k++)
			put32(h + 4 * k, heads[i][k]);
		assert_int_equal(b64block_head(h, 65536, &vlen, &olen, &err), PV_EINTEGRITY);
	}
	/* "QUI" packs to 3 values in 3 bytes, the last 6 bits zero */
	size_t len;
	unsigned char p[64];
	assert_true(b64block_pack((const unsigned char *)"QUJ", 3, p, &len));
	assert_int_equal(len, B64BLOCK_HEAD + 3);
	assert_int_equal(b64block_head(p, sizeof(out), &vlen, &olen, &err), PV_OK);
	assert_int_equal(b64block_unpack(p, p + B64BLOCK_HEAD, vlen, out, &err), PV_OK);
	assert_memory_equal(out, "QUJ", 3);
	p[B64BLOCK_HEAD + 2] |= 1; /* a stray bit after the last value */
	assert_int_equal(b64block_unpack(p, p + B64BLOCK_HEAD, vlen, out, &err), PV_EINTEGRITY);
	assert_int_equal(b64block_unpack(p, p + B64BLOCK_HEAD, vlen - 1, out, &err), PV_EINTEGRITY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_cut_of_a_base64_body_comes_back_exactly),
		cmocka_unit_test(test_a_block_of_one_long_line_and_of_line_breaks_alone),
		cmocka_unit_test(test_what_is_not_base64_lines_is_not_packed),
		cmocka_unit_test(test_a_forged_head_or_values_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
