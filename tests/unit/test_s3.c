/* Unit tests for what the S3 client and the pack store decide without a
 * server (the server side is tests/e2e/s3_*.t, against Ceph RGW): the
 * store URL of `init --store`, S3's dates, and retain-until of a pack
 * from its bucket's expiry month. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/lib/s3.h"
#include "archiver/store/packstore.h"

static void test_store_url_parses_bucket_endpoint_region(void **state)
{
	(void)state;
	struct s3_target t;
	struct pv_error err;
	assert_int_equal(s3_url_parse("s3://mail-archive?endpoint=http://127.0.0.1:8080/&region=eu-1",
				      &t, &err), PV_OK);
	assert_string_equal(t.bucket, "mail-archive");
	assert_string_equal(t.endpoint, "http://127.0.0.1:8080");
	assert_string_equal(t.region, "eu-1");
	/* %-encoded values; region defaults */
	assert_int_equal(s3_url_parse("s3://b.c-d?endpoint=https%3A%2F%2Fs3.example.org", &t, &err),
			 PV_OK);
	assert_string_equal(t.endpoint, "https://s3.example.org");
	assert_string_equal(t.region, "us-east-1");
}

static void test_store_url_refuses_what_is_not_one(void **state)
{
	(void)state;
	struct s3_target t;
	struct pv_error err;
	static const char *const bad[] = {
		"http://bucket?endpoint=http://x",        /* not s3:// */
		"s3://?endpoint=http://x",                /* no bucket */
		"s3://Upper?endpoint=http://x",           /* not a bucket name */
		"s3://ab?endpoint=http://x",              /* too short */
		"s3://bucket",                            /* no endpoint */
		"s3://bucket?region=x",                   /* no endpoint */
		"s3://bucket?endpoint=http://x&colour=red", /* unknown parameter */
		"s3://bucket?endpoint",                   /* not NAME=VALUE */
		"s3://bucket?endpoint=",                  /* empty */
		"s3://bucket?endpoint=http%3",            /* cut escape */
		"s3://bucket?endpoint=http%00x",          /* NUL */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (s3_url_parse(bad[i], &t, &err) != PV_EUSAGE)
			fail_msg("accepted %s", bad[i]);
}

static void test_client_refuses_bad_endpoint_and_credentials(void **state)
{
	(void)state;
	struct s3_client *c = NULL;
	struct pv_error err;
	assert_int_equal(s3_client_new("ftp://x", "r", "bucket", "a", "s", NULL, &c, &err), PV_EUSAGE);
	assert_int_equal(s3_client_new("http://x/path", "r", "bucket", "a", "s", NULL, &c, &err),
			 PV_EUSAGE);
	assert_int_equal(s3_client_new("http://user@x", "r", "bucket", "a", "s", NULL, &c, &err),
			 PV_EUSAGE);
	assert_int_equal(s3_client_new("http://x", "r", "bucket", "", "s", NULL, &c, &err), PV_EUSAGE);
	assert_int_equal(s3_client_new("http://x", "r", "bucket", "a:b", "s", NULL, &c, &err),
			 PV_EUSAGE);
	/* the secret never appears in an error */
	assert_int_equal(s3_client_new("http://x", "r", "Bad_Bucket", "a", "s3cr3t", NULL, &c, &err),
			 PV_EUSAGE);
	assert_null(strstr(err.msg, "s3cr3t"));
	assert_int_equal(s3_client_new("http://127.0.0.1:9", "r", "bucket", "a", "s", NULL, &c, &err),
			 PV_OK);
	assert_string_equal(s3_bucket(c), "bucket");
	s3_client_free(&c);
	assert_null(c);
}

static void test_s3_dates_both_ways(void **state)
{
	(void)state;
	char s[32];
	int64_t t;
	s3_time_format(1798761600, s);
	assert_string_equal(s, "2027-01-01T00:00:00Z");
	assert_int_equal(s3_time_parse("2027-01-01T00:00:00Z", &t), PV_OK);
	assert_int_equal(t, 1798761600);
	assert_int_equal(s3_time_parse("2027-01-01T00:00:00.123Z", &t), PV_OK); /* RGW's form */
	assert_int_equal(t, 1798761600);
	assert_int_equal(s3_time_parse("2027-01-01T00:00:00+01:00", &t), PV_ERR);
	assert_int_equal(s3_time_parse("yesterday", &t), PV_ERR);
}

static void test_retain_until_is_the_end_of_the_expiry_month(void **state)
{
	(void)state;
	char s[32];
	s3_time_format(packstore_retain_until("2026-12", 0), s);
	assert_string_equal(s, "2027-01-01T00:00:00Z"); /* the year turns */
	s3_time_format(packstore_retain_until("2028-02", 0), s);
	assert_string_equal(s, "2028-03-01T00:00:00Z"); /* a leap year's February */
	/* never: PV_PACK_LOCK_NEVER_YEARS from now */
	s3_time_format(packstore_retain_until("never", 1798761600), s);
	assert_string_equal(s, "2127-01-01T00:00:00Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_url_parses_bucket_endpoint_region),
		cmocka_unit_test(test_store_url_refuses_what_is_not_one),
		cmocka_unit_test(test_client_refuses_bad_endpoint_and_credentials),
		cmocka_unit_test(test_s3_dates_both_ways),
		cmocka_unit_test(test_retain_until_is_the_end_of_the_expiry_month),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
