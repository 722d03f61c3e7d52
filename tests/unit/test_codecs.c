/* Unit tests for the small codecs of archiver/lib, one implementation each
 * for the whole tree: UTF-8 (utf8.h), strict base64 (base64.h), hex
 * (hex.h) and decimal numbers with range checks (number.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/lib/base64.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/number.h"
#include "archiver/lib/utf8.h"

#define U(s) (const unsigned char *)(s), sizeof(s) - 1

/* ---- UTF-8 ------------------------------------------------------------- */

static void test_utf8_decode_lengths_and_code_points(void **state)
{
	(void)state;
	uint32_t cp;
	assert_int_equal(pv_utf8_decode(U("A"), &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(pv_utf8_decode(U("\xc3\xa9"), &cp), 2);
	assert_int_equal(cp, 0xE9);
	assert_int_equal(pv_utf8_decode(U("\xe2\x82\xac"), &cp), 3);
	assert_int_equal(cp, 0x20AC);
	assert_int_equal(pv_utf8_decode(U("\xf4\x8f\xbf\xbf"), &cp), 4);
	assert_int_equal(cp, 0x10FFFF);
}

static void test_utf8_valid_refuses_what_rfc3629_forbids(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"\xc0\x80",         /* overlong NUL */
		"\xc1\xbf",         /* overlong */
		"\xe0\x80\x80",     /* overlong, 3 bytes */
		"\xf0\x80\x80\x80", /* overlong, 4 bytes */
		"\xed\xa0\x80",     /* surrogate U+D800 */
		"\xed\xbf\xbf",     /* surrogate U+DFFF */
		"\xf4\x90\x80\x80", /* U+110000 */
		"\xf5\x80\x80\x80", /* no such lead byte */
		"\xff",
		"\x80",             /* a lone continuation byte */
		"\xc3",             /* cut */
		"\xe2\x82",         /* cut */
		"ok\xf0\x9f\x98",   /* cut at the end of text */
		"\xc3\x28",         /* a lead byte, then no continuation */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pv_utf8_valid((const unsigned char *)bad[i], strlen(bad[i])))
			fail_msg("case %zu taken as UTF-8", i);
	assert_true(pv_utf8_valid(U("")));
	assert_true(pv_utf8_valid(U("plain ASCII")));
	assert_true(pv_utf8_valid(U("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")));
	assert_true(pv_utf8_valid(U("\xed\x9f\xbf"))); /* U+D7FF, just below the surrogates */
	assert_true(pv_utf8_valid(U("a\0b")));         /* NUL is UTF-8; callers refuse it */
	/* the explicit length is obeyed: a cut sequence past it is not read */
	assert_true(pv_utf8_valid((const unsigned char *)"ab\xc3", 2));
}

/* ---- base64 ------------------------------------------------------------ */

static void test_b64_rfc4648_vectors(void **state)
{
	(void)state;
	static const struct {
		const char *b64, *bin;
	} v[] = {
		{"", ""}, {"Zg==", "f"}, {"Zm8=", "fo"}, {"Zm9v", "foo"},
		{"Zm9vYg==", "foob"}, {"Zm9vYmE=", "fooba"}, {"Zm9vYmFy", "foobar"},
		{"+/+/", "\xfb\xff\xbf"},
	};
	unsigned char out[16];
	size_t n;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(pv_b64_decode(v[i].b64, strlen(v[i].b64), out, sizeof(out), &n), 0);
		assert_int_equal(n, strlen(v[i].bin));
		assert_memory_equal(out, v[i].bin, n);
	}
}

/* libsodium 1.0.18's decoder takes any byte >= 0x80 for a digit: "QU\xc2B"
 * decoded to three bytes, so a SASL challenge or a signature had many
 * spellings. */
static void test_b64_refuses_bytes_above_0x7f(void **state)
{
	(void)state;
	unsigned char out[8];
	size_t n;
	assert_int_equal(pv_b64_decode("QU\xc2" "B", 4, out, sizeof(out), &n), PV_ERR);
	char s[5] = "QUJD";
	for (unsigned c = 0x80; c <= 0xFF; c++)
		for (size_t at = 0; at < 4; at++) {
			memcpy(s, "QUJD", 4);
			s[at] = (char)c;
			if (pv_b64_decode(s, 4, out, sizeof(out), &n) != PV_ERR)
				fail_msg("byte 0x%02x at %zu decoded", c, at);
		}
}

static void test_b64_only_the_canonical_spelling(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"Zg", "Zg=", "Zm9vY", /* not a multiple of 4 */
		"Zh==",               /* pad bits not zero (RFC 4648 3.5) */
		"Zm9=",               /* pad bits not zero */
		"Z===", "====", "Zg=a", "=Zg=", "Zm=v", /* padding out of place */
		"Zm9v\n", " Zg==", "Zm 9v", "Zm9v\r\n", /* no whitespace */
		"Zm-v", "Zm_v",       /* base64url is another alphabet */
		"Zm9v\0\0\0\0",       /* NUL is not a digit */
	};
	unsigned char out[16];
	size_t n;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = i == sizeof(bad) / sizeof(bad[0]) - 1 ? 8 : strlen(bad[i]);
		if (pv_b64_decode(bad[i], len, out, sizeof(out), &n) != PV_ERR)
			fail_msg("case %zu (%s) decoded", i, bad[i]);
	}
}

static void test_b64_output_room_is_checked_first(void **state)
{
	(void)state;
	unsigned char out[8];
	size_t n = 99;
	memset(out, 0xAA, sizeof(out));
	assert_int_equal(pv_b64_decode("Zm9vYmFy", 8, out, 5, &n), PV_ERR);
	assert_int_equal(out[0], 0xAA); /* nothing written */
	assert_int_equal(n, 99);
	assert_int_equal(pv_b64_decode("Zm9vYmE=", 8, out, 5, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(pv_b64_decode("Zm9vYg==", 8, out, 4, &n), 0);
	assert_int_equal(n, 4);
}

/* ---- hex --------------------------------------------------------------- */

static void test_hex_round_trip_and_case(void **state)
{
	(void)state;
	unsigned char bin[4] = {0x00, 0x9f, 0xa0, 0xff}, back[4];
	char hex[9];
	pv_hex(bin, 4, hex);
	assert_string_equal(hex, "009fa0ff");
	assert_int_equal(pv_unhex(hex, 8, back, 4), 0);
	assert_memory_equal(back, bin, 4);
	assert_int_equal(pv_unhex_lower(hex, 8, back, 4), 0);
	assert_memory_equal(back, bin, 4);
	/* either case for pv_unhex; the one spelling pv_hex writes for _lower */
	assert_int_equal(pv_unhex("009FA0FF", 8, back, 4), 0);
	assert_memory_equal(back, bin, 4);
	assert_int_equal(pv_unhex_lower("009FA0FF", 8, back, 4), PV_ERR);
	assert_int_equal(pv_unhex_lower("009fA0ff", 8, back, 4), PV_ERR);
	assert_int_equal(pv_unhex("", 0, back, 0), 0);
}

static void test_hex_refuses_other_lengths_and_characters(void **state)
{
	(void)state;
	unsigned char b[4];
	static const char *const bad[] = {"009fa0f", "009fa0ff0", "009fa0fg", "0x9fa0ff",
					  " 09fa0ff", "009fa0f ", "+09fa0ff", "009f\xc3\xa9" "ff"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pv_unhex(bad[i], strlen(bad[i]), b, 4) != PV_ERR ||
		    pv_unhex_lower(bad[i], strlen(bad[i]), b, 4) != PV_ERR)
			fail_msg("case %zu (%s) decoded", i, bad[i]);
	}
	assert_int_equal(pv_unhex("00\0" "0", 4, b, 2), PV_ERR); /* a NUL inside */
}

/* ---- decimal numbers --------------------------------------------------- */

#define S(s) s, sizeof(s) - 1

static void test_parse_u64_range_and_overflow(void **state)
{
	(void)state;
	uint64_t v = 7;
	assert_int_equal(pv_parse_u64(S("0"), 0, UINT64_MAX, 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pv_parse_u64(S("18446744073709551615"), 0, UINT64_MAX, 0, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(pv_parse_u64(S("18446744073709551616"), 0, UINT64_MAX, 0, &v), PV_ERR);
	assert_int_equal(pv_parse_u64(S("99999999999999999999"), 0, UINT64_MAX, 0, &v), PV_ERR);
	assert_int_equal(pv_parse_u64(S("000000000000000000001"), 0, UINT64_MAX, 0, &v), PV_ERR);
	v = 7;
	assert_int_equal(pv_parse_u64(S("4095"), 4096, 1000000, 0, &v), PV_ERR);
	assert_int_equal(pv_parse_u64(S("1000001"), 4096, 1000000, 0, &v), PV_ERR);
	assert_int_equal(v, 7); /* untouched on failure */
	assert_int_equal(pv_parse_u64(S("4096"), 4096, 1000000, 0, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(pv_parse_u64(S("1000000"), 4096, 1000000, 0, &v), 0);
	assert_int_equal(v, 1000000);
	/* the explicit length is obeyed */
	assert_int_equal(pv_parse_u64("12x", 2, 0, UINT64_MAX, 0, &v), 0);
	assert_int_equal(v, 12);
}

static void test_parse_u64_digits_only(void **state)
{
	(void)state;
	static const char *const bad[] = {"", "+1", "-1", " 1", "1 ", "1\n", "0x10", "1e3", "1K",
					  "1.0", "\xd9\xa1" /* ARABIC-INDIC DIGIT ONE */};
	uint64_t v;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pv_parse_u64(bad[i], strlen(bad[i]), 0, UINT64_MAX, 0, &v) != PV_ERR)
			fail_msg("case %zu (%s) parsed", i, bad[i]);
}

static void test_parse_u64_canonical_refuses_leading_zeros(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(pv_parse_u64(S("007"), 0, UINT64_MAX, 0, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(pv_parse_u64(S("007"), 0, UINT64_MAX, PV_NUM_CANONICAL, &v), PV_ERR);
	assert_int_equal(pv_parse_u64(S("00"), 0, UINT64_MAX, PV_NUM_CANONICAL, &v), PV_ERR);
	assert_int_equal(pv_parse_u64(S("0"), 0, UINT64_MAX, PV_NUM_CANONICAL, &v), 0);
	assert_int_equal(pv_parse_u64(S("70"), 0, UINT64_MAX, PV_NUM_CANONICAL, &v), 0);
	assert_int_equal(v, 70);
}

static void test_parse_int_range(void **state)
{
	(void)state;
	int v = -5;
	assert_int_equal(pv_parse_int(S("2147483647"), 0, INT32_MAX, 0, &v), 0);
	assert_int_equal(v, INT32_MAX);
	assert_int_equal(pv_parse_int(S("2147483648"), 0, INT32_MAX, 0, &v), PV_ERR);
	assert_int_equal(pv_parse_int(S("12"), 1, 12, 0, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(pv_parse_int(S("13"), 1, 12, 0, &v), PV_ERR);
	assert_int_equal(pv_parse_int(S("00"), 1, 12, 0, &v), PV_ERR);
	assert_int_equal(pv_parse_int(S("5"), -1, 12, 0, &v), PV_ERR); /* no negative ranges */
}

/* "invoice\u202efdp.exe" would show as "invoiceexe.pdf": every embedding,
 * override and isolate control goes, nothing else (an invalid byte stays). */
static void test_strip_bidi_removes_only_the_controls(void **state)
{
	(void)state;
	char s[] = "invoice\xe2\x80\xae" "fdp.exe \xe2\x81\xa6x\xe2\x81\xa9 \xe2\x80\xaa\xe2\x80\xac"
		   "\xe2\x80\x8f\xff\xe2\x80";
	size_t n = pv_utf8_strip_bidi(s);
	assert_string_equal(s, "invoicefdp.exe x \xe2\x80\x8f\xff\xe2\x80");
	assert_int_equal(n, strlen(s));
	for (uint32_t cp = 0x2020; cp < 0x2070; cp++)
		assert_int_equal(pv_utf8_is_bidi_control(cp),
				 (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069));
	char e[] = "";
	assert_int_equal(pv_utf8_strip_bidi(e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_decode_lengths_and_code_points),
		cmocka_unit_test(test_utf8_valid_refuses_what_rfc3629_forbids),
		cmocka_unit_test(test_strip_bidi_removes_only_the_controls),
		cmocka_unit_test(test_b64_rfc4648_vectors),
		cmocka_unit_test(test_b64_refuses_bytes_above_0x7f),
		cmocka_unit_test(test_b64_only_the_canonical_spelling),
		cmocka_unit_test(test_b64_output_room_is_checked_first),
		cmocka_unit_test(test_hex_round_trip_and_case),
		cmocka_unit_test(test_hex_refuses_other_lengths_and_characters),
		cmocka_unit_test(test_parse_u64_range_and_overflow),
		cmocka_unit_test(test_parse_u64_digits_only),
		cmocka_unit_test(test_parse_u64_canonical_refuses_leading_zeros),
		cmocka_unit_test(test_parse_int_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
