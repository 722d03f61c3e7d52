/* Unit tests for what the S3 client and the pack store decide without a
 * server (the server side is tests/e2e/s3_*.t, against Ceph RGW): the
 * store URL of `init --store`, S3's dates, and retain-until of a pack
 * from its bucket's expiry month; and, against a loopback peer that
 * answers as scripted (faults RGW does not make on demand), how a read
 * is tried again after a passing failure. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* A loopback HTTP peer: connection k (from 0) reads one request's head
 * and gets answers[k] (the last one for every later connection), then is
 * closed. */
struct peer {
	int fd;
	const char *const *answers;
	int nanswers, served, want;
	pthread_t tid;
};

static void *serve(void *arg)
{
	struct peer *p = arg;
	for (; p->served < p->want; p->served++) {
		int c = accept(p->fd, NULL, NULL);
		if (c < 0)
			break;
		char head[8192];
		size_t n = 0;
		while (n < sizeof(head) - 1) {
			ssize_t k = read(c, head + n, sizeof(head) - 1 - n);
			if (k <= 0)
				break;
			n += (size_t)k;
			head[n] = '\0';
			if (strstr(head, "\r\n\r\n") != NULL)
				break;
		}
		int i = p->served < p->nanswers ? p->served : p->nanswers - 1;
		const char *a = p->answers[i];
		(void)!write(c, a, strlen(a));
		close(c);
	}
	return NULL;
}

/* Starts a peer for up to `want` connections; *client_r talks to it. */
static void peer_start(struct peer *p, const char *const *answers, int n, int want,
		       struct s3_client **client_r)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	*p = (struct peer){.answers = answers, .nanswers = n, .want = want};
	p->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(p->fd >= 0);
	assert_int_equal(bind(p->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(p->fd, 8), 0);
	assert_int_equal(getsockname(p->fd, (struct sockaddr *)&a, &len), 0);
	assert_int_equal(pthread_create(&p->tid, NULL, serve, p), 0);
	char url[64];
	struct pv_error err;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
	assert_int_equal(s3_client_new(url, "r", "bucket", "a", "s", NULL, client_r, &err), PV_OK);
}

/* The number of connections the peer served (it stops listening). */
static int peer_stop(struct peer *p)
{
	shutdown(p->fd, SHUT_RDWR);
	pthread_join(p->tid, NULL);
	close(p->fd);
	return p->served;
}

#define SLOW_DOWN "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 60\r\n\r\n" \
	"<Error><Code>SlowDown</Code><Message>later</Message></Error>"
#define RANGE_OK "HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\n\r\nhello"
#define HALF_BODY "HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\n\r\nhe"

/* Read the range back into a temporary file; its bytes in out. */
static int get_range(struct s3_client *c, char out[8], struct pv_error *err)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	int r = s3_get_range(c, "packs/00000001.pack", NULL, 10, 5, fileno(f), err);
	memset(out, 0, 8);
	rewind(f);
	(void)!fread(out, 1, 7, f);
	fclose(f);
	return r;
}

static void test_a_read_is_tried_again_after_a_passing_failure(void **state)
{
	(void)state;
	struct peer p;
	struct s3_client *c;
	struct pv_error err;
	char got[8];
	/* 503 twice, then the bytes: the third try reads them */
	static const char *const twice[] = {SLOW_DOWN, SLOW_DOWN, RANGE_OK};
	peer_start(&p, twice, 3, 3, &c);
	assert_int_equal(get_range(c, got, &err), PV_OK);
	assert_string_equal(got, "hello");
	assert_int_equal(peer_stop(&p), 3);
	s3_client_free(&c);

	/* 503 every time: three tries, then the failure, named; the next
	 * read of that client is tried once (the store is down) until one
	 * succeeds, after which reads are tried again as before */
	static const char *const always[] = {SLOW_DOWN, SLOW_DOWN, SLOW_DOWN, SLOW_DOWN, RANGE_OK,
		SLOW_DOWN, RANGE_OK};
	peer_start(&p, always, 7, 7, &c);
	assert_int_equal(get_range(c, got, &err), PV_ETEMP);
	assert_non_null(strstr(err.msg, "HTTP 503 SlowDown"));
	assert_int_equal(get_range(c, got, &err), PV_ETEMP); /* the 4th answer: once */
	assert_int_equal(get_range(c, got, &err), PV_OK);    /* the 5th */
	assert_int_equal(get_range(c, got, &err), PV_OK);    /* 503, then the 7th */
	assert_int_equal(peer_stop(&p), 7);
	s3_client_free(&c);

	/* part of the body came: never tried again (the bytes were written
	 * where the caller asked); the failure is the caller's to handle */
	static const char *const half[] = {HALF_BODY, RANGE_OK};
	peer_start(&p, half, 2, 2, &c);
	assert_true(get_range(c, got, &err) < 0);
	assert_int_equal(peer_stop(&p), 1);
	s3_client_free(&c);
}

/* A store that ignores the range and sends a whole 4 MiB object: the
 * read fails as soon as more than the range arrives, and the caller's
 * file holds no byte past it (a bigger object would otherwise fill the
 * disk before the length check after the transfer). */
static void test_a_read_takes_no_more_than_its_range(void **state)
{
	(void)state;
	struct peer p;
	struct s3_client *c;
	struct pv_error err;
	struct stat st;
	size_t body = 4u << 20;
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 4194304\r\n\r\n";
	char *whole = malloc(strlen(head) + body + 1);
	assert_non_null(whole);
	memcpy(whole, head, strlen(head));
	memset(whole + strlen(head), 'x', body);
	whole[strlen(head) + body] = '\0';
	const char *const answers[] = {whole};
	peer_start(&p, answers, 1, 1, &c);
	FILE *f = tmpfile();
	assert_non_null(f);
	assert_int_equal(s3_get_range(c, "packs/00000001.pack", NULL, 0, 5, fileno(f), &err),
			 PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "more than the 5 bytes asked for"));
	assert_int_equal(fstat(fileno(f), &st), 0);
	assert_true(st.st_size <= 5);
	fclose(f);
	assert_int_equal(peer_stop(&p), 1);
	s3_client_free(&c);
	free(whole);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_url_parses_bucket_endpoint_region),
		cmocka_unit_test(test_store_url_refuses_what_is_not_one),
		cmocka_unit_test(test_client_refuses_bad_endpoint_and_credentials),
		cmocka_unit_test(test_s3_dates_both_ways),
		cmocka_unit_test(test_retain_until_is_the_end_of_the_expiry_month),
		cmocka_unit_test(test_a_read_is_tried_again_after_a_passing_failure),
		cmocka_unit_test(test_a_read_takes_no_more_than_its_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
