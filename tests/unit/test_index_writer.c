/* Unit tests for archive/index_writer.h: batches handed to the writer
 * thread land in the index in order with the high-water mark, the caller
 * gets emptied arrays back at once, and a batch that fails is reported at
 * the next hand-over or wait (nothing after it is written). And the
 * catch-up that feeds it (archive/indexer.h): big messages, more than
 * its sandboxes may hold at once, are all indexed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_dispose_fixture.h"

#include "archiver/archive/index_writer.h"
#include "archiver/archive/indexer.h"
#include "archiver/index/mime.h"

#define CAP 4

/* Documents for ids[0..n), as the indexer's sandboxes would make them. */
static void fill(struct index_pending_doc *docs, const int64_t *ids, size_t n, const char *subject)
{
	char raw[256];
	struct pv_error err;
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(raw, sizeof(raw), "From: a@example.org\r\nSubject: %s %zu\r\n\r\nbody\r\n",
				   subject, i);
		docs[i].id = ids[i];
		docs[i].received_at = 1700000000;
		docs[i].size = (uint64_t)len;
		snprintf(docs[i].account, sizeof(docs[i].account), "sales");
		fx_must(index_mime_extract((const unsigned char *)raw, (size_t)len, &docs[i].doc, &err),
			&err, "extract");
	}
}

static void test_batches_land_in_order_with_the_high_water_mark(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct index_writer *w = NULL;
	int64_t ids[6];
	fx_init(&f);
	for (int i = 0; i < 6; i++)
		ids[i] = fx_archive(&f, "Subject: x\r\n\r\nx\r\n", 1700000000);
	struct index_pending_doc *docs = calloc(CAP, sizeof(*docs));
	struct index_failed_doc *failed = calloc(CAP, sizeof(*failed));
	struct index_pending_doc *first = docs;
	size_t n = 0, nf = 0;
	fx_must(index_writer_start(f.dir, CAP, &w, &err), &err, "start");

	fill(docs, ids, 3, "first");
	n = 3;
	fx_must(index_writer_hand(w, &docs, &n, &failed, &nf, ids[2], &err), &err, "hand 1");
	assert_int_equal(n, 0);
	assert_ptr_not_equal(docs, first); /* the writer's emptied arrays */
	fill(docs, ids + 3, 2, "second");
	n = 2;
	failed[0].id = ids[5];
	snprintf(failed[0].reason, sizeof(failed[0].reason), "worker died");
	nf = 1;
	fx_must(index_writer_hand(w, &docs, &n, &failed, &nf, ids[5], &err), &err, "hand 2");
	fx_must(index_writer_wait(w, &err), &err, "wait");

	assert_int_equal(fx_int(&f, "SELECT count(*) FROM idx_doc"), 5);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM idx_failed"), 1);
	assert_int_equal(index_through(f.ar), ids[5]);
	index_writer_free(&w);
	assert_null(w);
	free(docs);
	free(failed);
	fx_free(&f);
}

static void test_a_failed_batch_is_reported_and_stops_what_follows(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct index_writer *w = NULL;
	int64_t ids[2];
	fx_init(&f);
	ids[0] = fx_archive(&f, "Subject: x\r\n\r\nx\r\n", 1700000000);
	ids[1] = -1; /* no message has it: the index refuses the batch */
	struct index_pending_doc *docs = calloc(CAP, sizeof(*docs));
	struct index_failed_doc *failed = calloc(CAP, sizeof(*failed));
	size_t n = 2, nf = 0;
	fx_must(index_writer_start(f.dir, CAP, &w, &err), &err, "start");
	fill(docs, ids, 2, "bad");
	fx_must(index_writer_hand(w, &docs, &n, &failed, &nf, ids[0], &err), &err, "hand");
	assert_int_not_equal(index_writer_wait(w, &err), PV_OK);
	/* the next hand-over says so too, and takes nothing */
	fill(docs, ids, 1, "good");
	n = 1;
	assert_int_not_equal(index_writer_hand(w, &docs, &n, &failed, &nf, ids[0], &err), PV_OK);
	assert_int_equal(n, 1);
	index_doc_free(&docs[0].doc);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM idx_doc"), 0);
	assert_int_equal(index_through(f.ar), 0);
	index_writer_free(&w);
	free(docs);
	free(failed);
	fx_free(&f);
}

/* A message of about mb MB: a header and base64 lines of a pseudo-random
 * attachment. */
static char *big_message(size_t mb, unsigned seed, size_t *len_r)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = mb * 1000 * 1000, k;
	char *m = malloc(n + 256);
	uint32_t x = seed;
	k = (size_t)sprintf(m, "Subject: big %u\r\nContent-Type: application/octet-stream\r\n"
			    "Content-Transfer-Encoding: base64\r\n\r\n", seed);
	while (k < n) {
		for (int i = 0; i < 76; i++) {
			x = x * 1664525u + 1013904223u;
			m[k++] = alpha[x >> 26];
		}
		m[k++] = '\r';
		m[k++] = '\n';
	}
	*len_r = k;
	return m;
}

static void test_big_messages_beyond_what_the_sandboxes_may_hold_are_all_indexed(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	int64_t indexed = 0, failed = 0;
	fx_init(&f);
	/* 6 MB each: three at once are over the 16 MB the messages out may
	 * hold, so the catch-up must take some back before it sends more */
	for (unsigned i = 0; i < 5; i++) {
		size_t len;
		char *m = big_message(6, i + 1, &len);
		fx_archive_bytes(&f, m, len, 1700000000, false);
		free(m);
	}
	for (unsigned i = 0; i < 5; i++)
		fx_archive(&f, "Subject: small\r\n\r\nsmall\r\n", 1700000000);
	fx_must(indexer_catch_up(f.ar, &indexed, &failed, &err), &err, "catch up");
	assert_int_equal(indexed, 10);
	assert_int_equal(failed, 0);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM idx_doc"), 10);
	assert_int_equal(index_through(f.ar), fx_int(&f, "SELECT max(id) FROM messages"));
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches_land_in_order_with_the_high_water_mark),
		cmocka_unit_test(test_a_failed_batch_is_reported_and_stops_what_follows),
		cmocka_unit_test(test_big_messages_beyond_what_the_sandboxes_may_hold_are_all_indexed),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
