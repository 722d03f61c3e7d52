/* Unit tests for archiver/http/tls.c: serve's self-signed certificate is
 * made once, kept while it lasts, and made again when it ends within
 * PV_HTTP_TLS_RENEW_DAYS (an appliance runs for years; its certificate is
 * made for 825 days); a certificate of someone else's is never touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "archiver/http/tls.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/secret.h"
#include "fixtures.h"

/* An EC certificate for DAYS days, its own issuer, O=ORG, into DIR/tls. */
static void openssl_cert(const char *dir, const char *org, int days)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
		 " -keyout %s/tls/key.pem -out %s/tls/cert.pem -days %d"
		 " -subj '/O=%s/CN=popvault 127.0.0.1' 2>/dev/null",
		 dir, dir, days, org);
	assert_int_equal(system(cmd), 0);
}

static void test_made_kept_and_made_again_when_ending(void **state)
{
	(void)state;
	char dir[] = "/tmp/pv-tls-XXXXXX", *cert = NULL, *key = NULL, *again = NULL;
	struct pv_error err;
	bool created, ours;
	assert_non_null(mkdtemp(dir));

	fx_must(http_tls_self_signed(dir, "127.0.0.1", &cert, &key, &created, &err), &err, "make");
	assert_true(created);
	int left = http_tls_days_left(cert, &ours);
	assert_true(ours);
	assert_in_range(left, 823, 825);
	pv_secret_free(&key);

	/* lasting: the same one */
	fx_must(http_tls_self_signed(dir, "127.0.0.1", &again, &key, &created, &err), &err, "keep");
	assert_false(created);
	assert_string_equal(again, cert);
	free(again);
	free(cert);
	pv_secret_free(&key);

	/* its own, 10 days left: made again, for 825 */
	openssl_cert(dir, "popvault", 10);
	fx_must(http_tls_self_signed(dir, "127.0.0.1", &cert, &key, &created, &err), &err, "renew");
	assert_true(created);
	assert_in_range(http_tls_days_left(cert, &ours), 823, 825);
	free(cert);
	pv_secret_free(&key);

	/* someone else's, 10 days left: kept (one given by --tls-cert is warned of) */
	openssl_cert(dir, "Example Corp", 10);
	fx_must(http_tls_self_signed(dir, "127.0.0.1", &cert, &key, &created, &err), &err, "theirs");
	assert_false(created);
	left = http_tls_days_left(cert, &ours);
	assert_false(ours);
	assert_in_range(left, 9, 10);
	free(cert);
	pv_secret_free(&key);
	assert_int_equal(http_tls_days_left("not a certificate", &ours), INT_MIN);

	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_made_kept_and_made_again_when_ending),
	};
	return cmocka_run_group_tests_name("tls_cert", tests, NULL, NULL);
}
