/* RFC 6238 TOTP and RFC 4648 base32 (archiver/lib/totp): the RFCs' own
 * test vectors, the ±1 step window, replay of a used step, and codes that
 * are not six digits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/lib/totp.h"

static const unsigned char rfc_secret[] = "12345678901234567890";

static void test_rfc4226_hotp_vectors(void **state)
{
	/* RFC 4226 Appendix D. */
	static const uint32_t want[] = {755224, 287082, 359152, 969429, 338314,
					254676, 287922, 162583, 399871, 520489};
	(void)state;
	for (uint64_t c = 0; c < 10; c++)
		assert_int_equal(totp_hotp(rfc_secret, 20, c), want[c]);
}

static void test_rfc6238_sha1_vectors(void **state)
{
	/* RFC 6238 Appendix B (SHA-1), last six of the eight digits. */
	static const struct {
		int64_t t;
		const char *code;
	} v[] = {{59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
		 {1234567890, "005924"}, {2000000000, "279037"}, {20000000000LL, "353130"}};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(totp_verify(rfc_secret, 20, v[i].code, v[i].t, 0), totp_step(v[i].t));
}

static void test_one_step_of_drift_each_way_and_no_more(void **state)
{
	int64_t t = 1111111109; /* step 37037036, code 081804 */
	(void)state;
	assert_int_equal(totp_verify(rfc_secret, 20, "081804", t + 30, 0), totp_step(t));
	assert_int_equal(totp_verify(rfc_secret, 20, "081804", t - 30, 0), totp_step(t));
	assert_int_equal(totp_verify(rfc_secret, 20, "081804", t + 60, 0), 0);
	assert_int_equal(totp_verify(rfc_secret, 20, "081804", t - 60, 0), 0);
}

static void test_used_step_never_accepted_again(void **state)
{
	int64_t t = 1111111109;
	uint64_t step = totp_step(t);
	(void)state;
	assert_int_equal(totp_verify(rfc_secret, 20, "081804", t, step - 1), step);
	assert_int_equal(totp_verify(rfc_secret, 20, "081804", t, step), 0);
	assert_int_equal(totp_verify(rfc_secret, 20, "081804", t + 30, step), 0);
}

static void test_codes_that_are_not_six_digits_refused(void **state)
{
	static const char *bad[] = {"", "81804", "0818040", "08180a", " 081804", "081804 ",
				    "+81804", "-81804", "０８１８０４"};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(totp_verify(rfc_secret, 20, bad[i], 1111111109, 0), 0);
}

static void test_rfc4648_base32_vectors(void **state)
{
	/* RFC 4648 §10, without the padding. */
	static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *out[] = {"", "MY", "MZXQ", "MZXW6", "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"};
	char buf[32];
	(void)state;
	for (size_t i = 0; i < 7; i++) {
		totp_base32((const unsigned char *)in[i], strlen(in[i]), buf);
		assert_string_equal(buf, out[i]);
	}
	unsigned char secret[TOTP_SECRET_BYTES];
	char b32[TOTP_SECRET_B32_LEN];
	memset(secret, 0xff, sizeof(secret));
	totp_base32(secret, sizeof(secret), b32);
	assert_int_equal(strlen(b32), TOTP_SECRET_B32_LEN - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4226_hotp_vectors),
		cmocka_unit_test(test_rfc6238_sha1_vectors),
		cmocka_unit_test(test_one_step_of_drift_each_way_and_no_more),
		cmocka_unit_test(test_used_step_never_accepted_again),
		cmocka_unit_test(test_codes_that_are_not_six_digits_refused),
		cmocka_unit_test(test_rfc4648_base32_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
