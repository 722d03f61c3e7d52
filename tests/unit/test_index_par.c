/* Unit tests for archiver/index/index_par: a total counted on two cores
 * equals the one counted on one, on generated mail spread over 300 days
 * (message i received on day i, no Date field: its key is that day),
 * with matches only in the older half, only in the newest slice, in
 * neither, behind date ranges that leave one half empty, and with a
 * commit between the caller's snapshot and the helper's. Every case runs
 * with the helper forced on (min_ms 0) and compares with index_search. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "archiver/index/index.h"
#include "archiver/index/index_par.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/sandbox.h"
#include "tests/unit/fixtures.h"

#define DOCS 300
#define DAY0 1700000000 /* 2023-11-14 */

struct fx {
	char dir[FX_PATH_MAX];
	char path[FX_PATH_MAX + 16];
	sqlite3 *db;
	struct index_par *par;
};

/* Message i: every one has "common"; every third "alpha"; the oldest
 * hundred "oldonly"; the newest four "newonly" (inside the newest 1/64
 * of the range, which the caller counts first); "beta gamma" as a phrase
 * in every fifth, the words apart in every seventh. */
static void add_doc(sqlite3 *db, int i)
{
	char raw[512];
	int n = snprintf(raw, sizeof(raw),
		"From: %s@example.org\r\nTo: legal@example.org\r\nSubject: note %d\r\n\r\n"
		"common%s%s%s%s%s\r\n",
		i % 2 ? "alice" : "bob", i, i % 3 == 0 ? " alpha" : "", i <= 100 ? " oldonly" : "",
		i > DOCS - 4 ? " newonly" : "", i % 5 == 0 ? " beta gamma" : "",
		i % 7 == 0 ? " gamma delta beta" : "");
	struct pv_error err;
	fx_must(index_add(db, i, "sales", DAY0 + (int64_t)i * 86400, (const unsigned char *)raw,
		(size_t)n, &err), &err, "index_add");
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/pv-index-par-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/catalog.db", f->dir);
	if (sqlite3_open(f->path, &f->db) != SQLITE_OK ||
	    sqlite3_exec(f->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	fx_catalog_schema(f->db);
	sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL);
	for (int i = 1; i <= DOCS; i++)
		add_doc(f->db, i);
	sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL);
	struct pv_error err;
	fx_must(index_par_open(f->db, &f->par, &err), &err, "index_par_open");
	const struct index_par_opts always = {0, NULL, NULL};
	index_par_set(f->par, &always);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	index_par_free(&f->par);
	sqlite3_close(f->db);
	fx_rmtree(f->dir);
	free(f);
	return 0;
}

/* The query's ids (newest first, every page) and total through par,
 * which must equal index_search's on one thread. Returns the total. */
static int64_t same_as_one_thread(struct fx *f, const char *query)
{
	struct index_hits one, two;
	int64_t t1, t2;
	struct pv_error err;
	fx_must(index_search(f->db, query, PV_SEARCH_LIMIT_MAX, 0, &one, &t1, &err), &err, query);
	fx_must(index_search_par(f->db, f->par, query, NULL, INDEX_COUNT_ALL, PV_SEARCH_LIMIT_MAX,
		0, &two, &t2, NULL,
		&err), &err, query);
	if (t1 != t2 || one.n != two.n)
		fail_msg("%s: one thread %lld (%zu), two %lld (%zu)", query, (long long)t1, one.n,
			(long long)t2, two.n);
	for (size_t i = 0; i < one.n; i++)
		assert_int_equal(one.v[i].id, two.v[i].id);
	assert_int_equal(t1, (int64_t)one.n);
	index_hits_free(&one);
	index_hits_free(&two);
	return t1;
}

static void test_split_totals_equal_one_threads(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *query;
		int64_t total;
	} c[] = {
		{"common", DOCS},
		{"alpha", DOCS / 3},
		{"oldonly", 100},     /* the older half only: the helper's */
		{"newonly", 4},       /* the newest slice only: the caller's probe */
		{"-common", 0},       /* a negation that matches nothing */
		{"-alpha", DOCS - DOCS / 3},
		{"\"beta gamma\"", DOCS / 5},
		{"alpha OR oldonly", 167}, /* 100, and 67 of 102..300 */
		{"common from:alice", DOCS / 2}, /* a text part and a catalog condition */
		{"nosuchword", 0},
	};
	struct index_par_stats s0 = index_par_stats(f->par);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int64_t t = same_as_one_thread(f, c[i].query);
		if (t != c[i].total)
			fail_msg("%s: %lld, want %lld", c[i].query, (long long)t, (long long)c[i].total);
	}
	struct index_par_stats s1 = index_par_stats(f->par);
	assert_int_equal(s1.split - s0.split, sizeof(c) / sizeof(c[0]));
	assert_int_equal(s1.changed + s1.failed, 0);
}

/* A capped count on two cores: each part stops at what is left of the
 * bound, and the answer is the one-thread one's (the total when at most
 * the cap, else the cap and not exact), for bounds reached in the newest
 * part, in either half, or never; the page is the same either way. */
static void test_capped_counts_split_like_one_thread(void **state)
{
	struct fx *f = *state;
	static const char *const queries[] = {"common", "alpha", "oldonly", "newonly", "-alpha",
		"\"beta gamma\"", "alpha OR oldonly", "common from:alice", "nosuchword"};
	static const int64_t caps[] = {1, 3, 4, 5, 50, 99, 100, 101, 166, 167, 168, DOCS - 1, DOCS};
	struct pv_error err;
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		struct index_hits all, h;
		int64_t exact;
		fx_must(index_search(f->db, queries[i], 10, 0, &all, &exact, &err), &err, queries[i]);
		for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
			int64_t t;
			bool is_exact;
			struct index_par_stats s0 = index_par_stats(f->par);
			fx_must(index_search_par(f->db, f->par, queries[i], NULL, caps[k], 10, 0, &h, &t,
				&is_exact, &err), &err, queries[i]);
			struct index_par_stats s1 = index_par_stats(f->par);
			int64_t want = exact <= caps[k] ? exact : caps[k];
			if (t != want || is_exact != (exact <= caps[k]))
				fail_msg("%s, cap %lld: %lld %s, want %lld", queries[i], (long long)caps[k],
					(long long)t, is_exact ? "exact" : "more", (long long)want);
			assert_int_equal(s1.changed + s1.failed, s0.changed + s0.failed);
			assert_int_equal(h.n, all.n);
			for (size_t j = 0; j < h.n; j++)
				assert_int_equal(h.v[j].id, all.v[j].id);
			index_hits_free(&h);
		}
		index_hits_free(&all);
	}
	/* a bound not reached in the newest part: the rest counted on two */
	struct index_par_stats s0 = index_par_stats(f->par);
	struct index_hits h;
	int64_t t;
	bool is_exact;
	fx_must(index_search_par(f->db, f->par, "oldonly", NULL, 50, 0, 0, &h, &t, &is_exact, &err),
		&err, "oldonly");
	index_hits_free(&h);
	assert_int_equal(t, 50);
	assert_false(is_exact);
	assert_int_equal(index_par_stats(f->par).split, s0.split + 1);
}

/* Date ranges: one half empty, the range beside the mail, a range too
 * small to split (counted alone), and ranges that cut the mail anywhere. */
static void test_date_ranges_with_an_empty_half(void **state)
{
	struct fx *f = *state;
	char q[160];
	/* after day 250: the older half of [250, 300] holds no "oldonly" */
	same_as_one_thread(f, "oldonly after:2024-07-21");
	same_as_one_thread(f, "newonly before:2024-01-01"); /* the probe slice empty */
	same_as_one_thread(f, "common before:2020-01-01");  /* before every message */
	same_as_one_thread(f, "common after:2030-01-01");   /* after every one */
	struct index_par_stats s0 = index_par_stats(f->par);
	same_as_one_thread(f, "common on:2024-03-01");      /* one day: one message */
	struct index_par_stats s1 = index_par_stats(f->par);
	assert_int_equal(s1.split + s1.alone - s0.split - s0.alone, 1);
	for (int d = 1; d <= 28; d += 3) {
		snprintf(q, sizeof(q), "common after:2024-02-%02d before:2024-06-%02d", d, d);
		same_as_one_thread(f, q);
		snprintf(q, sizeof(q), "-alpha after:2024-0%d-%02d", 1 + d % 9, d);
		same_as_one_thread(f, q);
	}
}

/* Paging and a total alone (limit 0) through par. */
static void test_pages_and_limit_zero(void **state)
{
	struct fx *f = *state;
	struct index_hits h;
	int64_t t;
	struct pv_error err;
	fx_must(index_search_par(f->db, f->par, "alpha", NULL, INDEX_COUNT_ALL, 0, 0, &h, &t, NULL,
		&err), &err, "limit 0");
	assert_int_equal(t, DOCS / 3);
	assert_int_equal(h.n, 0);
	fx_must(index_search_par(f->db, f->par, "alpha", NULL, INDEX_COUNT_ALL, 7, 95, &h, &t,
		NULL, &err), &err, "page");
	assert_int_equal(t, DOCS / 3);
	assert_int_equal(h.n, 5);
	assert_int_equal(h.v[0].id, 15); /* newest first: 300, 297, ... the 96th is 15 */
	index_hits_free(&h);
}

static void remove_newest(void *ctx)
{
	struct fx *f = ctx;
	sqlite3 *w;
	struct pv_error err;
	assert_int_equal(sqlite3_open(f->path, &w), SQLITE_OK);
	fx_must(index_remove(w, DOCS, &err), &err, "index_remove");
	sqlite3_close(w);
}

/* A message removed (committed by another connection) after the caller's
 * snapshot began and before the helper's: the helper's would count
 * without it, so the caller counts alone, and the total is the page's. */
static void test_commit_between_snapshots_counts_alone(void **state)
{
	struct fx *f = *state;
	struct index_hits h;
	int64_t t;
	struct pv_error err;
	const struct index_par_opts between = {0, remove_newest, f};
	index_par_set(f->par, &between);
	struct index_par_stats s0 = index_par_stats(f->par);
	fx_must(index_search_par(f->db, f->par, "common", NULL, INDEX_COUNT_ALL, 1, 0, &h, &t,
		NULL, &err), &err, "search");
	struct index_par_stats s1 = index_par_stats(f->par);
	assert_int_equal(s1.changed - s0.changed, 1);
	assert_int_equal(s1.split, s0.split);
	assert_int_equal(t, DOCS);         /* the caller's snapshot: before the removal */
	assert_int_equal(h.v[0].id, DOCS); /* and so is its page */
	index_hits_free(&h);
	const struct index_par_opts always = {0, NULL, NULL};
	index_par_set(f->par, &always);
	assert_int_equal(same_as_one_thread(f, "common"), DOCS - 1);
	assert_int_equal(same_as_one_thread(f, "newonly"), 3);
	assert_int_equal(index_par_stats(f->par).split, s1.split + 2);
}

/* In the caller's own transaction (which may hold its writes) the count
 * stays on the caller's thread, and sees those writes. */
static void test_inside_callers_transaction_counts_alone(void **state)
{
	struct fx *f = *state;
	struct index_hits h;
	int64_t t;
	struct pv_error err;
	struct index_par_stats s0 = index_par_stats(f->par);
	sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL);
	add_doc(f->db, DOCS + 1);
	fx_must(index_search_par(f->db, f->par, "common", NULL, INDEX_COUNT_ALL, 0, 0, &h, &t,
		NULL, &err), &err, "search");
	sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL);
	assert_int_equal(t, DOCS + 1);
	struct index_par_stats s1 = index_par_stats(f->par);
	assert_int_equal(s1.split + s1.alone + s1.changed + s1.failed,
		s0.split + s0.alone + s0.changed + s0.failed);
}

/* A statement of the caller's still stepping holds an older snapshot
 * than the search's BEGIN: the caller counts alone, in that snapshot. */
static void test_callers_open_statement_counts_alone(void **state)
{
	struct fx *f = *state;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT id FROM idx_doc", -1, &st, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	remove_newest(f); /* another connection commits; st's snapshot is older */
	struct index_par_stats s0 = index_par_stats(f->par);
	struct index_hits h;
	int64_t t;
	struct pv_error err;
	fx_must(index_search_par(f->db, f->par, "common", NULL, INDEX_COUNT_ALL, 0, 0, &h, &t,
		NULL, &err), &err, "search");
	sqlite3_finalize(st);
	assert_int_equal(t, DOCS);
	assert_int_equal(index_par_stats(f->par).alone - s0.alone, 1);
	assert_int_equal(same_as_one_thread(f, "common"), DOCS - 1);
}

/* Under the threshold the caller counts alone; an empty index too. */
static void test_small_counts_and_an_empty_index_stay_on_one_thread(void **state)
{
	struct fx *f = *state;
	const struct index_par_opts never = {1e9, NULL, NULL};
	index_par_set(f->par, &never);
	struct index_par_stats s0 = index_par_stats(f->par);
	assert_int_equal(same_as_one_thread(f, "common"), DOCS);
	struct index_par_stats s1 = index_par_stats(f->par);
	assert_int_equal(s1.alone - s0.alone, 1);
	assert_int_equal(s1.split, s0.split);
	struct pv_error err;
	fx_must(index_clear(f->db, &err), &err, "index_clear");
	const struct index_par_opts always = {0, NULL, NULL};
	index_par_set(f->par, &always);
	assert_int_equal(same_as_one_thread(f, "common"), 0);
	assert_int_equal(same_as_one_thread(f, "-common"), 0);
}

static void test_in_memory_database_has_no_helper(void **state)
{
	(void)state;
	sqlite3 *db;
	struct index_par *par = (struct index_par *)1;
	struct pv_error err;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	fx_catalog_schema(db);
	assert_int_equal(index_par_open(db, &par, &err), PV_ERR);
	assert_null(par);
	index_par_free(&par);
	sqlite3_close(db);
}

/* Search runs in serve's web process: under the web role's seccomp
 * filter the helper's connection opens (at the first search, as the
 * FTS5 backend does) and its thread starts. In a child confined to it. */
static void test_split_under_the_web_roles_filter(void **state)
{
	struct fx *f = *state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pv_error err;
		sqlite3 *db;
		struct index_par *par;
		struct index_hits h;
		int64_t t = 0;
		if (pv_sandbox_role(PV_ROLE_WEB, &err) != 0)
			_exit(70);
		if (sqlite3_open(f->path, &db) != SQLITE_OK || index_par_open(db, &par, &err) != 0)
			_exit(71);
		const struct index_par_opts always = {0, NULL, NULL};
		index_par_set(par, &always);
		if (index_search_par(db, par, "oldonly", NULL, INDEX_COUNT_ALL, 10, 0, &h, &t,
			NULL, &err) != 0)
			_exit(72);
		_exit(t == 100 && h.n == 10 && index_par_stats(par).split == 1 ? 0 : 73);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child: %s %d", WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_split_totals_equal_one_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capped_counts_split_like_one_thread, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_date_ranges_with_an_empty_half, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pages_and_limit_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_between_snapshots_counts_alone, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_inside_callers_transaction_counts_alone, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_callers_open_statement_counts_alone, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_small_counts_and_an_empty_index_stay_on_one_thread,
			setup, teardown),
		cmocka_unit_test(test_in_memory_database_has_no_helper),
		cmocka_unit_test_setup_teardown(test_split_under_the_web_roles_filter, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
