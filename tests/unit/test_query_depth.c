/* Property test for archiver/index/query with index.c: a query the parser
 * accepts runs. Deeply nested queries of every operator mix (OR, AND,
 * NOT, field groups; text terms that FTS5 takes and predicates that stay
 * SQL) are parsed and, when accepted, searched on a real index: SQLite's
 * and FTS5's parsers have fixed stacks (about 100 entries), so SQL or an
 * FTS5 expression nested some 25 levels deep fails to prepare ("parser
 * stack overflow", found by fuzz_query). A query the parser refuses for
 * its nesting is a usage error naming the limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/index/index.h"
#include "archiver/index/query.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/limits.h"
#include "tests/unit/fixtures.h"

/* How each level wraps the level inside it ("%s"), and what the innermost
 * level holds. Siblings are text (FTS5), predicates (SQL) or negations. */
static const char *const wraps[] = {
	"a OR (%s)",        "a (%s)",          "a AND (%s)",  "-(%s)",
	"NOT (%s)",         "larger:1 OR (%s)", "larger:1 (%s)", "-b OR (%s)",
	"-b (%s)",          "subject:(a OR %s)", "from:(a (%s))", "(%s) OR has:attachment",
	"(%s) -larger:1",   "a OR -(%s)",      "larger:1 -(%s)",
};
#define N_WRAPS (sizeof(wraps) / sizeof(wraps[0]))
static const char *const leaves[] = {"a OR -b", "a", "larger:1", "-b", "a -b", "a OR larger:1"};
#define N_LEAVES (sizeof(leaves) / sizeof(leaves[0]))

static sqlite3 *db;

static int setup(void **state)
{
	(void)state;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		return -1;
	fx_catalog_schema(db);
	struct pv_error err;
	static const unsigned char msg[] = "From: a@example.org\r\nSubject: a b\r\n\r\na b\r\n";
	return index_add(db, 1, "sales", 1700000000, msg, sizeof(msg) - 1, &err) == PV_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	sqlite3_close(db);
	return 0;
}

/* Builds the query whose level i (outermost first) wraps with pattern
 * w[i % nw], around leaf. */
static void build(struct pv_buf *q, const int *w, size_t nw, size_t depth, const char *leaf)
{
	struct pv_buf in;
	pv_buf_init(&in, PV_QUERY_MAX * 4);
	pv_buf_reset(q);
	pv_buf_append_str(q, leaf, NULL);
	for (size_t i = depth; i-- > 0;) {
		pv_buf_reset(&in);
		pv_buf_append_str(&in, pv_buf_str(q), NULL);
		pv_buf_reset(q);
		const char *wr = wraps[w[i % nw]], *hole = strstr(wr, "%s");
		pv_buf_append(q, wr, (size_t)(hole - wr), NULL);
		pv_buf_append_str(q, pv_buf_str(&in), NULL);
		pv_buf_append_str(q, hole + 2, NULL);
	}
	pv_buf_free(&in);
}

struct tally {
	size_t accepted, refused;
};

/* A query is accepted and runs, or is refused as too deep (PV_EUSAGE,
 * naming the limit); nothing else. */
static void check(const char *q, struct tally *t)
{
	struct index_hits hits = {0};
	struct pv_error err;
	int64_t total = -1;
	if (strlen(q) > PV_QUERY_MAX)
		return;
	struct index_query *p = NULL;
	int r = index_query_parse(q, &p, &err);
	index_query_free(&p);
	if (r != PV_OK) {
		char ops[64], parens[64];
		snprintf(ops, sizeof(ops), "operators nested more than %d deep", PV_QUERY_NEST_MAX);
		snprintf(parens, sizeof(parens), ": nested more than %d deep", PV_QUERY_DEPTH_MAX);
		if (r != PV_EUSAGE || (strstr(err.msg, ops) == NULL &&
				       strstr(err.msg, parens) == NULL))
			fail_msg("%s: refused with %d: %s", q, r, err.msg);
		t->refused++;
		return;
	}
	r = index_search(db, q, 1, 0, &hits, &total, &err);
	index_hits_free(&hits);
	if (r != PV_OK)
		fail_msg("accepted but does not run (%d): %s\n  query: %s", r, err.msg, q);
	t->accepted++;
}

/* Every repeating pattern of one, two or three wraps, every leaf, every
 * depth up to past the limit. */
static void test_every_accepted_deep_query_runs(void **state)
{
	(void)state;
	struct pv_buf q;
	struct tally t = {0, 0};
	pv_buf_init(&q, PV_QUERY_MAX * 4);
	for (size_t nw = 1; nw <= 3; nw++) {
		size_t combos = nw == 1 ? N_WRAPS : nw == 2 ? N_WRAPS * N_WRAPS : 200;
		for (size_t c = 0; c < combos; c++) {
			int w[3];
			size_t x = c;
			for (size_t i = 0; i < nw; i++) {
				/* three-wrap patterns: a fixed spread of the N_WRAPS^3 */
				w[i] = (int)(x % N_WRAPS);
				x = nw == 3 ? x * 7 + 3 : x / N_WRAPS;
			}
			/* every depth for one wrap; near the limit for mixes (a
			 * shallower query is a part of a deeper one) */
			size_t from = nw == 1 ? 1 : PV_QUERY_NEST_MAX - 2;
			for (size_t leaf = 0; leaf < N_LEAVES; leaf++)
				for (size_t depth = from; depth <= PV_QUERY_NEST_MAX + 3; depth++) {
					build(&q, w, nw, depth, leaves[leaf]);
					check(pv_buf_str(&q), &t);
				}
		}
	}
	/* the mix of the report: 'a OR (' x 26, 'a OR -b', ')' x 26 */
	build(&q, (int[]){0}, 1, 26, "a OR -b");
	check(pv_buf_str(&q), &t);
	pv_buf_free(&q);
	print_message("# %zu deep queries ran, %zu refused as too deep\n", t.accepted, t.refused);
	assert_true(t.accepted > 1000 && t.refused > 100);
}

/* Random mixes: each level a random wrap (seeded, so a failure repeats). */
static void test_random_operator_mixes_run(void **state)
{
	(void)state;
	struct pv_buf q;
	struct tally t = {0, 0};
	uint32_t seed = 20240601;
	pv_buf_init(&q, PV_QUERY_MAX * 4);
	for (int round = 0; round < 1500; round++) {
		int w[PV_QUERY_NEST_MAX + 4];
		size_t depth = 1 + (size_t)(round % (PV_QUERY_NEST_MAX + 3));
		for (size_t i = 0; i < depth; i++) {
			seed = seed * 1103515245u + 12345u;
			w[i] = (int)((seed >> 16) % N_WRAPS);
		}
		seed = seed * 1103515245u + 12345u;
		build(&q, w, depth, depth, leaves[(seed >> 16) % N_LEAVES]);
		check(pv_buf_str(&q), &t);
	}
	pv_buf_free(&q);
	assert_true(t.accepted > 500);
}

/* The limit is on nesting that cannot be merged away: a OR (b OR (c ...))
 * is one OR, and NOT NOT x is x, however deep the parentheses. */
static void test_same_operator_groups_merge(void **state)
{
	(void)state;
	struct pv_buf q;
	struct tally t = {0, 0};
	pv_buf_init(&q, PV_QUERY_MAX * 4);
	build(&q, (int[]){0}, 1, PV_QUERY_DEPTH_MAX - 1, "a OR larger:1");
	check(pv_buf_str(&q), &t);
	build(&q, (int[]){1, 4, 4}, 3, PV_QUERY_DEPTH_MAX / 2 - 1, "-b");
	check(pv_buf_str(&q), &t);
	assert_int_equal(t.accepted, 2);
	pv_buf_free(&q);
}

/* Past the limit: a usage error that names it and where it is passed. */
static void test_too_deep_is_a_usage_error_naming_the_limit(void **state)
{
	(void)state;
	struct pv_buf q;
	struct pv_error err;
	struct index_query *p = NULL;
	pv_buf_init(&q, PV_QUERY_MAX * 4);
	build(&q, (int[]){0, 1}, 2, PV_QUERY_NEST_MAX + 1, "a");
	assert_int_equal(index_query_parse(pv_buf_str(&q), &p, &err), PV_EUSAGE);
	assert_null(p);
	char want[128];
	snprintf(want, sizeof(want), "operators nested more than %d deep", PV_QUERY_NEST_MAX);
	if (strstr(err.msg, want) == NULL || index_query_error_column(&err) == 0)
		fail_msg("%s", err.msg);
	pv_buf_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_accepted_deep_query_runs),
		cmocka_unit_test(test_random_operator_mixes_run),
		cmocka_unit_test(test_same_operator_groups_merge),
		cmocka_unit_test(test_too_deep_is_a_usage_error_naming_the_limit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
