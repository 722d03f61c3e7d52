/* The search backends (archiver/archive/search_backend.h) against the same
 * known answers: the corpus tests/data/mime/ (its .eml files) indexed into SQLite FTS5
 * and, when PV_TEST_PG holds a libpq conninfo (tests/e2e/search_pg.t starts
 * a real PostgreSQL 15 and sets it), into PostgreSQL; every answer of
 * tests/data/search/known_answers.txt must come back from both, and random
 * queries must give both the same ids. Without PV_TEST_PG the PostgreSQL
 * tests are skipped (cmocka says so); search_pg.t runs them. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/archive/search_backend.h"
#include "archiver/index/fts_tokens.h"
#include "archiver/index/tsvector.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/db.h"
#include "archiver/lib/limits.h"
#include "tests/unit/fixtures.h"
#include "tests/unit/known_answers.h"

#define RECEIVED0 1750000000

struct fixture {
	sqlite3 *db;
	struct search_backend *fts5, *pg; /* pg: NULL without PV_TEST_PG */
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The corpus as test_index.c indexes it: ids 1..17 in file-name order. */
static void add_corpus(struct search_backend *b)
{
	const char *src = getenv("POPVAULT_SRC");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/data/mime", src ? src : ".");
	DIR *dir = opendir(path);
	assert_non_null(dir);
	char *names[64];
	size_t n = 0;
	for (struct dirent *e; (e = readdir(dir)) != NULL && n < 64;)
		if (strstr(e->d_name, ".eml"))
			names[n++] = strdup(e->d_name);
	closedir(dir);
	qsort(names, n, sizeof(names[0]), cmp_names);
	assert_int_equal(n, 17);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		unsigned char *raw = fx_mime_sample(names[i], &len);
		struct pv_error err;
		int64_t id = (int64_t)i + 1;
		fx_must(search_backend_add(b, id, id % 2 ? "sales" : "legal", RECEIVED0 + id, raw,
				len, &err), &err, names[i]);
		free(raw);
		free(names[i]);
	}
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct pv_error err;
	if (fx == NULL || sqlite3_open(":memory:", &fx->db) != SQLITE_OK)
		return -1;
	fx_catalog_schema(fx->db);
	fx_must(search_backend_fts5_open(fx->db, &fx->fts5, &err), &err, "fts5");
	add_corpus(fx->fts5);
	const char *pg = getenv("PV_TEST_PG");
	if (pg != NULL && *pg != '\0') {
		fx_must(search_backend_pg_open(pg, &fx->pg, &err), &err, "postgresql");
		fx_must(search_backend_clear(fx->pg, &err), &err, "clear");
		add_corpus(fx->pg);
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	search_backend_close(&fx->fts5);
	search_backend_close(&fx->pg);
	sqlite3_close(fx->db);
	free(fx);
	return 0;
}

static struct search_backend *pg_or_skip(void **state)
{
	struct fixture *fx = *state;
	if (fx->pg == NULL) {
		print_message("PV_TEST_PG not set: no PostgreSQL (tests/e2e/search_pg.t has one)\n");
		skip();
	}
	return fx->pg;
}

/* The ids of query, newest first, as "1 2 3"; fails on an error. */
static void ids_of(struct search_backend *b, const char *query, char *got, size_t n)
{
	struct index_hits hits;
	struct pv_error err;
	int64_t total;
	int r = search_backend_search(b, query, NULL, INDEX_COUNT_ALL, PV_SEARCH_LIMIT_MAX, 0,
		&hits, &total, NULL, &err);
	if (r != PV_OK)
		fail_msg("%s: %s: %s", search_backend_name(b), query, err.msg);
	size_t o = 0;
	got[0] = '\0';
	for (size_t i = 0; i < hits.n && o < n; i++)
		o += (size_t)snprintf(got + o, n - o, "%s%lld", i ? " " : "", (long long)hits.v[i].id);
	assert_int_equal(total, (int64_t)hits.n);
	index_hits_free(&hits);
}

static void known_answers(struct search_backend *b)
{
	size_t n, bad = 0;
	struct ka_entry *v = ka_load(&n);
	for (size_t i = 0; i < n; i++) {
		char got[1024];
		ids_of(b, v[i].query, got, sizeof(got));
		if (strcmp(got, v[i].ids) != 0) {
			print_error("%s: line %d [%s]: got [%s], want [%s]\n", search_backend_name(b),
				v[i].line, v[i].query, got, v[i].ids);
			bad++;
		}
	}
	ka_free(v, n);
	if (bad)
		fail_msg("%zu known answers wrong on %s", bad, search_backend_name(b));
}

/* A total counted up to a cap (3 here, 10,000 in use): with more matches
 * it is the cap and not exact; exact on request or at most the cap; and
 * the pages go on past the cap with the same ids as the exact search's,
 * none twice, none skipped (a page that trusted the capped total as
 * exact stopped at the cap). */
static void capped_totals_page_on(struct search_backend *b)
{
	static const char *const queries[] = {
		"participant:bob", "-participant:bob", "after:2000-01-01", "-nosuchword",
	};
	static const struct index_order rel = {INDEX_SORT_RELEVANCE, false};
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		const char *q = queries[i];
		struct pv_error err;
		struct index_hits all, page;
		int64_t n, t;
		bool exact;
		fx_must(search_backend_search(b, q, NULL, INDEX_COUNT_ALL, 100, 0, &all, &n, &exact,
			&err), &err, q);
		assert_true(exact);
		assert_true(n > 3);
		fx_must(search_backend_search(b, q, NULL, 3, 0, 0, &page, &t, &exact, &err), &err, q);
		assert_int_equal(t, 3);
		assert_false(exact);
		index_hits_free(&page);
		fx_must(search_backend_search(b, q, NULL, n, 0, 0, &page, &t, &exact, &err), &err, q);
		assert_int_equal(t, n);
		assert_true(exact);
		index_hits_free(&page);
		fx_must(search_backend_search(b, q, NULL, n - 1, 0, 0, &page, &t, &exact, &err), &err,
			q);
		assert_int_equal(t, n - 1);
		assert_false(exact);
		index_hits_free(&page);
		for (int64_t off = 0; off <= n + 2; off += 2) {
			fx_must(search_backend_search(b, q, NULL, 3, 2, off, &page, &t, &exact, &err),
				&err, q);
			assert_int_equal(t, 3);
			assert_false(exact);
			assert_int_equal(page.n, off + 2 <= n ? 2 : off < n ? n - off : 0);
			for (size_t k = 0; k < page.n; k++)
				assert_int_equal(page.v[k].id, all.v[off + (int64_t)k].id);
			index_hits_free(&page);
		}
		index_hits_free(&all);
		/* relevance too: a page past the cap is the exact search's */
		fx_must(search_backend_search(b, q, &rel, INDEX_COUNT_ALL, 100, 0, &all, &n, NULL,
			&err), &err, q);
		fx_must(search_backend_search(b, q, &rel, 3, 3, n - 3, &page, &t, &exact, &err), &err,
			q);
		assert_false(exact);
		assert_int_equal(page.n, 3);
		for (size_t k = 0; k < page.n; k++)
			assert_int_equal(page.v[k].id, all.v[n - 3 + (int64_t)k].id);
		index_hits_free(&page);
		index_hits_free(&all);
	}
	struct pv_error err;
	struct index_hits page;
	int64_t t;
	assert_int_equal(search_backend_search(b, "bob", NULL, 0, 10, 0, &page, &t, NULL, &err),
		PV_EUSAGE);
}

static void test_capped_totals_page_on_fts5(void **state)
{
	struct fixture *fx = *state;
	capped_totals_page_on(fx->fts5);
}

static void test_capped_totals_page_on_postgresql(void **state)
{
	capped_totals_page_on(pg_or_skip(state));
}

static void test_known_answers_on_fts5(void **state)
{
	known_answers(((struct fixture *)*state)->fts5);
}

static void test_known_answers_on_postgresql(void **state)
{
	known_answers(pg_or_skip(state));
}

/* merge_step through the interface: FTS5 merges to one segment with the
 * same answers; PostgreSQL has nothing to merge (done at once, no
 * segments to show). The later cases run on the merged index. */
static void test_merge_step_on_both(void **state)
{
	struct fixture *fx = *state;
	struct search_backend *b = fx->fts5;
	bool done = false;
	int64_t n;
	for (int steps = 0; !done && steps < 10000; steps++)
		assert_int_equal(search_backend_merge_step(b, 1, false, &done, NULL), PV_OK);
	assert_true(done);
	assert_int_equal(search_backend_segments(b, &n, NULL), PV_OK);
	assert_int_equal(n, 1);
	known_answers(b);
	b = pg_or_skip(state);
	done = false;
	assert_int_equal(search_backend_merge_step(b, 16, false, &done, NULL), PV_OK);
	assert_true(done);
	assert_int_equal(search_backend_segments(b, &n, NULL), PV_OK);
	assert_int_equal(n, -1);
}

/* The PostgreSQL backend's tokens are FTS5's own: the tokenizer reads a
 * text exactly as idx_fts (made by the catalog's migrations) does. */
struct tokens {
	char v[64][64];
	size_t n;
};

static int collect(void *ctx, const char *tok, size_t n, size_t pos)
{
	struct tokens *t = ctx;
	assert_int_equal(pos, t->n);
	snprintf(t->v[t->n++], sizeof(t->v[0]), "%.*s", (int)n, tok);
	return 0;
}

static void test_tokens_are_idx_fts_tokens(void **state)
{
	sqlite3 *db = ((struct fixture *)*state)->db;
	static const char *const texts[] = {
		"Renée@Example.FR wrote: Ünïcödé naïve café", "Grüße aus Köln, 10:30 A.M.",
		"会 議 の 議 事 録", "Привет, КВАРТАЛ! x_y-z'w", "ǅemal ß ﬁne Ⅻ ①",
	};
	sqlite3_exec(db, "CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, idx_fts, 'instance')",
		NULL, NULL, NULL);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct tokens mine = {.n = 0};
		struct pv_error err;
		fx_must(index_fts_tokenize(texts[i], strlen(texts[i]), collect, &mine, &err), &err,
			"tokenize");
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_exec(db, "SAVEPOINT t", NULL, NULL, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO idx_fts (rowid, body) VALUES (1000, ?)",
			-1, &st, NULL), SQLITE_OK);
		sqlite3_bind_text(st, 1, texts[i], -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT term FROM temp.vocab WHERE doc = 1000"
			" ORDER BY offset", -1, &st, NULL), SQLITE_OK);
		size_t k = 0;
		while (sqlite3_step(st) == SQLITE_ROW) {
			assert_true(k < mine.n);
			assert_string_equal(mine.v[k], (const char *)sqlite3_column_text(st, 0));
			k++;
		}
		sqlite3_finalize(st);
		assert_int_equal(k, mine.n);
		assert_true(k > 3);
		sqlite3_exec(db, "ROLLBACK TO t; RELEASE t", NULL, NULL, NULL);
	}
}

/* Random queries from an alphabet of FTS5, tsquery and SQL syntax: both
 * backends accept or reject each the same way and, when they accept,
 * return the same ids. */
static void test_random_queries_give_the_same_ids(void **state)
{
	struct fixture *fx = *state;
	struct search_backend *pg = pg_or_skip(state);
	static const char *const parts[] = {
		"alice", "\"", "(", ")", "-", "*", ":", "^", "{", "}", "+", "NEAR", "OR", "AND",
		"NOT", "from:", "subject:", "has:attachment", "before:2024-03-05", "larger:1K",
		"account:sales", "'", ";", "\\", " ", " ", " ", "é", "会議", "hcc", "col", "bob",
		"lunch", "!", "&", "|", "<->", "::", "$1", "cafe", "report", "participant:",
		"\"lunch at\"", "example", " OR ", " -", "body:", "filename:",
	};
	uint64_t x = 88172645463325252ull;
	int same = 0, nonempty = 0;
	for (int i = 0; i < 1500; i++) {
		char q[256] = "";
		size_t o = 0;
		int n = 1 + i % 10;
		for (int k = 0; k < n; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			o += (size_t)snprintf(q + o, sizeof(q) - o, "%s",
				parts[x % (sizeof(parts) / sizeof(parts[0]))]);
		}
		int64_t *a = NULL, *b = NULL;
		size_t na = 0, nb = 0;
		struct pv_error ea, eb;
		int ra = search_backend_match_ids(fx->fts5, q, &a, &na, &ea);
		int rb = search_backend_match_ids(pg, q, &b, &nb, &eb);
		if (ra != rb)
			fail_msg("[%s]: fts5 %d (%s), postgresql %d (%s)", q, ra, ra ? ea.msg : "",
				rb, rb ? eb.msg : "");
		if (ra == PV_OK) {
			if (na != nb || (na && memcmp(a, b, na * sizeof(*a)) != 0))
				fail_msg("[%s]: fts5 %zu ids, postgresql %zu ids", q, na, nb);
			same++;
			nonempty += na > 0;
		} else if (strcmp(ea.msg, eb.msg) != 0) {
			fail_msg("[%s]: fts5 says %s, postgresql %s", q, ea.msg, eb.msg);
		}
		free(a);
		free(b);
	}
	assert_true(same > 200);    /* the generator reaches both databases */
	assert_true(nonempty > 50); /* and finds something */
}

/* SQL and tsquery syntax in a query is text: PostgreSQL gives what FTS5
 * gives (mostly nothing; "!alice" is the word alice), and no table changes. */
static void test_injection_attempts_are_harmless_on_postgresql(void **state)
{
	struct fixture *fx = *state;
	struct search_backend *pg = pg_or_skip(state);
	static const char *const queries[] = {
		"'); DROP TABLE idx_doc; --", "account:\"'); DROP TABLE idx_doc; --\"",
		"message-id:\"' OR 1=1 --\"", "\"a' | 'b\"", "\"'f:alice'\"", "f:alice",
		"\"alice' <-> 'bob\"", "\"!alice\"", "\"alice:*\"", "$1", "account:$1",
		"\"x\\\\'\"", "\\", "tv", "d.tv @@ 'alice'", "\"alice\" & \"bob\"",
		"account:\"legal' OR 'a'='a\"", "message-id:\"x'::text OR TRUE --\"",
	};
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		int64_t *a = NULL, *b = NULL;
		size_t na = 0, nb = 0;
		struct pv_error ea, eb;
		int ra = search_backend_match_ids(fx->fts5, queries[i], &a, &na, &ea);
		int rb = search_backend_match_ids(pg, queries[i], &b, &nb, &eb);
		if (rb != PV_OK && rb != PV_EUSAGE)
			fail_msg("%s: %d %s", queries[i], rb, eb.msg);
		if (ra != rb || na != nb || (na && memcmp(a, b, na * sizeof(*a)) != 0))
			fail_msg("%s: fts5 %d, %zu ids; postgresql %d, %zu ids", queries[i], ra, na, rb, nb);
		free(a);
		free(b);
	}
	int64_t n;
	struct pv_error err;
	fx_must(search_backend_count(pg, &n, &err), &err, "count");
	assert_int_equal(n, 17);
}

static void test_paging_and_display_fields_on_postgresql(void **state)
{
	struct search_backend *pg = pg_or_skip(state);
	struct pv_error err;
	struct index_hits all, page;
	int64_t total, t;
	fx_must(search_backend_search(pg, "participant:bob", NULL, INDEX_COUNT_ALL, 100, 0, &all,
		&total, NULL, &err), &err,
		"all");
	assert_int_equal(total, 11);
	for (int64_t off = 0; off < 12; off += 4) {
		fx_must(search_backend_search(pg, "participant:bob", NULL, INDEX_COUNT_ALL, 4, off,
			&page, &t, NULL, &err),
			&err, "page");
		assert_int_equal(t, 11);
		assert_int_equal(page.n, off + 4 <= 11 ? 4 : 11 - off);
		for (size_t i = 0; i < page.n; i++)
			assert_int_equal(page.v[i].id, all.v[off + (int64_t)i].id);
		index_hits_free(&page);
	}
	index_hits_free(&all);
	assert_int_equal(search_backend_search(pg, "x", NULL, INDEX_COUNT_ALL,
		PV_SEARCH_LIMIT_MAX + 1, 0, &page, &t, NULL,
		&err), PV_EUSAGE);
	assert_int_equal(search_backend_search(pg, "x", NULL, INDEX_COUNT_ALL, 10, -1, &page, &t,
		NULL, &err), PV_EUSAGE);
	assert_int_equal(search_backend_search(pg, "from:alice AND (bob", NULL, INDEX_COUNT_ALL, 10,
		0, &page, &t, NULL, &err), PV_EUSAGE);
	assert_string_equal(err.msg, "column 20: expected ')' to close '(' at column 16");

	fx_must(search_backend_search(pg, "message-id:latin1-2@example.fr", NULL, INDEX_COUNT_ALL,
		10, 0, &page, &t, NULL,
		&err), &err, "message-id");
	assert_int_equal(page.n, 1);
	assert_string_equal(page.v[0].from, "Renée Dupré <renee@example.fr>");
	assert_string_equal(page.v[0].subject, "Café crème");
	assert_string_equal(page.v[0].account, "legal");
	assert_int_equal(page.v[0].date, 1709627400);
	assert_true(page.v[0].date_known);
	assert_int_equal(page.v[0].size, 342);
	index_hits_free(&page);

	/* relevance: the same set, in an order of its own (ts_rank, not bm25) */
	struct index_order rel = {INDEX_SORT_RELEVANCE, false};
	fx_must(search_backend_search(pg, "alice lunch", &rel, INDEX_COUNT_ALL, 10, 0, &page, &t,
		NULL, &err), &err, "rank");
	assert_int_equal(t, 1);
	assert_int_equal(page.v[0].id, 9);
	index_hits_free(&page);
}

/* A message past PostgreSQL's position limit: its words are all found,
 * a phrase only within the first INDEX_PG_POS_MAX words of a column, and
 * nothing false is found (docs/SCALE.md, "Search on PostgreSQL"). */
static void test_postgresql_position_limit(void **state)
{
	struct search_backend *pg = pg_or_skip(state);
	struct pv_error err;
	struct pv_buf m;
	pv_buf_init(&m, 1 << 22);
	fx_must(pv_buf_append_str(&m, "Subject: long\r\n\r\nearly bird\r\n", &err), &err, "msg");
	for (int i = 0; i < INDEX_PG_POS_MAX; i++)
		fx_must(pv_buf_append_str(&m, i % 16 == 15 ? "filler\r\n" : "filler ", &err), &err, "msg");
	fx_must(pv_buf_append_str(&m, "late worm\r\n", &err), &err, "msg");
	fx_must(search_backend_add(pg, 100, "x", RECEIVED0, m.data, m.len, &err), &err, "add");
	pv_buf_free(&m);
	char got[64];
	ids_of(pg, "\"early bird\"", got, sizeof(got));
	assert_string_equal(got, "100");
	ids_of(pg, "late", got, sizeof(got));
	assert_string_equal(got, "100");
	ids_of(pg, "worm", got, sizeof(got));
	assert_string_equal(got, "100");
	ids_of(pg, "\"late worm\"", got, sizeof(got)); /* FTS5 finds it; PostgreSQL cannot */
	assert_string_equal(got, "");
	ids_of(pg, "\"filler late\"", got, sizeof(got));
	assert_string_equal(got, "");
	fx_must(search_backend_remove(pg, 100, &err), &err, "remove");
	ids_of(pg, "late", got, sizeof(got));
	assert_string_equal(got, "");
}

/* A body of more distinct words than a tsvector holds still indexes: the
 * body's positions go, then its last words; the headers stay whole. */
static void test_postgresql_vector_too_big_for_one_row(void **state)
{
	struct search_backend *pg = pg_or_skip(state);
	struct pv_error err;
	struct pv_buf m;
	pv_buf_init(&m, PV_INDEX_TEXT_MAX);
	fx_must(pv_buf_append_str(&m, "From: huge@example.com\r\nSubject: enormous\r\n\r\nfirstword\r\n",
		&err), &err, "msg");
	for (int i = 0; m.len < 3 * 1024 * 1024; i++)
		fx_must(pv_buf_printf(&m, &err, "w%07dx%s", i, i % 8 == 7 ? "\r\n" : " "), &err, "msg");
	fx_must(search_backend_add(pg, 101, "x", RECEIVED0, m.data, m.len, &err), &err, "add");
	pv_buf_free(&m);
	char got[64];
	ids_of(pg, "enormous from:huge firstword", got, sizeof(got));
	assert_string_equal(got, "101");
	ids_of(pg, "w0000001x", got, sizeof(got));
	assert_string_equal(got, "101");
	ids_of(pg, "w0299999x", got, sizeof(got)); /* past the budget: left out */
	assert_string_equal(got, "");
	fx_must(search_backend_remove(pg, 101, &err), &err, "remove");
}

/* Phrases and negations take their own SQL on PostgreSQL (a phrase's
 * first page carries its count, a negation is an anti-join on the GIN's
 * answer): each page and each exact total is FTS5's, in date order, in
 * and out of a caller's transaction. */
static void pages_are_fts5s(struct fixture *fx, struct search_backend *pg)
{
	static const char *const queries[] = {
		"\"lunch at\"", "\"lunch at noon\"", "-alice", "-alice -bob", "alice OR -bob",
		"NOT NOT alice", "-(alice OR bob) lunch", "-(alice -bob)", "subject:(report -fwd)",
		"(-alice OR has:attachment) -participant:bob", "\"lunch at\" OR -example",
		"-\"lunch at\"", "-alice AND -example AND -report", "\"nothing here at all\"",
	};
	static const int64_t pages[][2] = {{3, 0}, {3, 3}, {100, 0}, {0, 0}, {5, 40}};
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		for (size_t k = 0; k < sizeof(pages) / sizeof(pages[0]); k++) {
			struct index_hits a, b;
			int64_t ta, tb;
			struct pv_error err;
			fx_must(search_backend_search(fx->fts5, queries[i], NULL, INDEX_COUNT_ALL,
				pages[k][0],
					pages[k][1], &a, &ta, NULL, &err), &err, queries[i]);
			fx_must(search_backend_search(pg, queries[i], NULL, INDEX_COUNT_ALL,
				pages[k][0], pages[k][1],
					&b, &tb, NULL, &err), &err, queries[i]);
			if (ta != tb || a.n != b.n)
				fail_msg("[%s] limit %lld offset %lld: fts5 %lld (%zu), postgresql %lld "
					 "(%zu)", queries[i], (long long)pages[k][0],
					(long long)pages[k][1], (long long)ta, a.n, (long long)tb, b.n);
			for (size_t j = 0; j < a.n; j++)
				assert_int_equal(a.v[j].id, b.v[j].id);
			index_hits_free(&a);
			index_hits_free(&b);
		}
		/* by relevance: the same total and set size (the order is ts_rank's) */
		struct index_order rel = {INDEX_SORT_RELEVANCE, false};
		struct index_hits a, b;
		int64_t ta, tb;
		struct pv_error err;
		fx_must(search_backend_search(fx->fts5, queries[i], &rel, INDEX_COUNT_ALL, 100, 0,
			&a, &ta, NULL, &err), &err,
			queries[i]);
		fx_must(search_backend_search(pg, queries[i], &rel, INDEX_COUNT_ALL, 100, 0, &b,
			&tb, NULL, &err), &err,
			queries[i]);
		assert_int_equal(ta, tb);
		assert_int_equal(a.n, b.n);
		index_hits_free(&a);
		index_hits_free(&b);
	}
}

/* The planner setting a search makes (pg_index.c, plan_begin) is its own:
 * gone after it, in a caller's transaction too, which stays usable. */
static void assert_seqscan_on(struct db *db)
{
	int64_t on = 0;
	struct pv_error err;
	fx_must(db_query_int(db, "SELECT CASE WHEN current_setting('enable_seqscan') = 'on'"
				 " THEN 1 ELSE 0 END", &on, &err), &err, "enable_seqscan");
	assert_int_equal(on, 1);
}

static void test_phrase_and_negation_pages_are_fts5s(void **state)
{
	struct fixture *fx = *state;
	pages_are_fts5s(fx, pg_or_skip(state));
	struct db *db = NULL;
	struct search_backend *attached = NULL;
	struct pv_error err;
	fx_must(db_open(getenv("PV_TEST_PG"), 0, &db, &err), &err, "connect");
	fx_must(search_backend_pg_attach(db, &attached, &err), &err, "attach");
	pages_are_fts5s(fx, attached);
	assert_false(db_in_transaction(db));
	assert_seqscan_on(db);
	fx_must(db_begin_read(db, &err), &err, "begin");
	pages_are_fts5s(fx, attached);
	assert_true(db_in_transaction(db));
	assert_seqscan_on(db);
	db_rollback(db);
	search_backend_close(&attached);
	db_close(&db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers_on_fts5),
		cmocka_unit_test(test_tokens_are_idx_fts_tokens),
		cmocka_unit_test(test_capped_totals_page_on_fts5),
		cmocka_unit_test(test_capped_totals_page_on_postgresql),
		cmocka_unit_test(test_known_answers_on_postgresql),
		cmocka_unit_test(test_merge_step_on_both),
		cmocka_unit_test(test_random_queries_give_the_same_ids),
		cmocka_unit_test(test_injection_attempts_are_harmless_on_postgresql),
		cmocka_unit_test(test_paging_and_display_fields_on_postgresql),
		cmocka_unit_test(test_phrase_and_negation_pages_are_fts5s),
		cmocka_unit_test(test_postgresql_position_limit),
		cmocka_unit_test(test_postgresql_vector_too_big_for_one_row),
	};
	/* Without a server only the FTS5 tests run: cmocka's TAP output says
	 * "not ok ... # SKIP" for a skipped test, which prove counts as a
	 * failure. search_pg.t runs them all against a real PostgreSQL. */
	size_t n = sizeof(tests) / sizeof(tests[0]);
	if (getenv("PV_TEST_PG") == NULL || *getenv("PV_TEST_PG") == '\0') {
		print_message("PV_TEST_PG not set: the PostgreSQL tests are left to "
			      "tests/e2e/search_pg.t\n");
		n = 3;
	}
	return _cmocka_run_group_tests("search_backends", tests, n, setup, teardown);
}
