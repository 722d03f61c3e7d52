/* Unit tests for archiver/index/index: the corpus in tests/data/mime/ is
 * indexed as messages 1..17 (in file-name order; odd ids in account
 * "sales", even ones in "legal"; received at 1750000000 + id, in 2025),
 * then every
 * operator and a set of combinations is checked against the known answers
 * of tests/data/search/known_answers.txt (newest first, as search returns
 * them; test_search_backends.c runs the same list on PostgreSQL too). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "archiver/index/index.h"
#include "archiver/index/mime.h"
#include "archiver/index/query.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "tests/unit/fixtures.h"
#include "tests/unit/known_answers.h"

#define RECEIVED0 1750000000

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_file(sqlite3 *db, int64_t id, const char *name)
{
	const char *src = getenv("POPVAULT_SRC");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/data/mime/%s", src ? src : ".", name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static unsigned char raw[1 << 20];
	size_t n = fread(raw, 1, sizeof(raw), f);
	fclose(f);
	struct pv_error err;
	int r = index_add(db, id, id % 2 ? "sales" : "legal", RECEIVED0 + id, raw, n, &err);
	if (r != PV_OK)
		fail_msg("%s: %s", name, err.msg);
}

/* The corpus as messages 1..17, in one group commit as harvest does: 0
 * when all 17 went in. */
static int load_corpus(sqlite3 *db)
{
	const char *src = getenv("POPVAULT_SRC");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/data/mime", src ? src : ".");
	DIR *dir = opendir(path);
	if (dir == NULL)
		return -1;
	char *names[64];
	size_t n = 0;
	for (struct dirent *e; (e = readdir(dir)) != NULL && n < 64;)
		if (strstr(e->d_name, ".eml"))
			names[n++] = strdup(e->d_name);
	closedir(dir);
	qsort(names, n, sizeof(names[0]), cmp_names);
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL); /* one group commit, as harvest does */
	for (size_t i = 0; i < n; i++) {
		add_file(db, (int64_t)i + 1, names[i]);
		free(names[i]);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return n == 17 ? 0 : -1;
}

static int setup(void **state)
{
	sqlite3 *db;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		return -1;
	fx_catalog_schema(db);
	*state = db;
	return load_corpus(db);
}

static int teardown(void **state)
{
	sqlite3_close(*state);
	return 0;
}

/* Runs query and compares the ids (newest first) and the total. */
static void expect(sqlite3 *db, const char *query, const char *want)
{
	struct index_hits hits;
	struct pv_error err;
	int64_t total;
	int r = index_search(db, query, PV_SEARCH_LIMIT_MAX, 0, &hits, &total, &err);
	if (r != PV_OK)
		fail_msg("%s: %s", query, err.msg);
	char got[1024] = "";
	size_t o = 0;
	for (size_t i = 0; i < hits.n; i++)
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%lld", i ? " " : "", (long long)hits.v[i].id);
	if (strcmp(got, want) != 0)
		fail_msg("%s: got [%s], want [%s]", query, got, want);
	assert_int_equal(total, (int64_t)hits.n);
	index_hits_free(&hits);
}

/* Every known answer of one section of tests/data/search/known_answers.txt. */
static void run_section(sqlite3 *db, const char *section)
{
	size_t n, ran = 0;
	struct ka_entry *v = ka_load(&n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].section, section) == 0) {
			expect(db, v[i].query, v[i].ids);
			ran++;
		}
	ka_free(v, n);
	if (ran == 0)
		fail_msg("no known answers in section [%s]", section);
}

static void test_each_text_operator(void **state)
{
	run_section(*state, "text operators");
}

static void test_each_other_operator(void **state)
{
	run_section(*state, "other operators");
}

static void test_phrases_charsets_and_bare_words(void **state)
{
	run_section(*state, "phrases, charsets and bare words");
}

static void test_combinations(void **state)
{
	run_section(*state, "combinations");
}

static void test_injection_attempts_are_harmless(void **state)
{
	sqlite3 *db = *state;
	static const char *const queries[] = {
		"\"", "*", "NEAR(", "NEAR(alice bob)", "\"NEAR(alice bob)\"",
		"'); DROP TABLE idx_doc; --", "account:\"'); DROP TABLE idx_doc; --\"",
		"{hfrom}:alice", "hfrom:alice", "\"alice\" + \"bob\"",
		"\"a\\\" OR \\\"b\"", "subject:\"x\\\" OR body:\\\"y\"", "alice\"", "-", "a:b:c",
		"message-id:\"' OR 1=1 --\"", "\\", "\\\"", "idx_fts", "rank:1",
	};
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		struct index_hits hits;
		struct pv_error err;
		int64_t total = -1;
		int r = index_search(db, queries[i], 10, 0, &hits, &total, &err);
		if (r != PV_OK && r != PV_EUSAGE)
			fail_msg("%s: %d %s", queries[i], r, err.msg);
		if (r == PV_OK && total != 0)
			fail_msg("%s: %lld results", queries[i], (long long)total);
		index_hits_free(&hits);
	}
	/* FTS5 operators inside a term are inert: a prefix star or an
	 * initial-token caret change nothing */
	run_section(db, "inert FTS5 operators inside a term");
	int64_t n;
	assert_int_equal(index_count(db, &n, NULL), PV_OK);
	assert_int_equal(n, 17);
}

/* Random queries from an alphabet of FTS5 and SQL syntax: the parser may
 * reject them, but whatever it accepts SQLite must run. A PV_ERR would
 * mean generated SQL or FTS5 syntax failed: user text got out. */
static void test_random_queries_never_break_the_generated_sql(void **state)
{
	sqlite3 *db = *state;
	static const char *const parts[] = {
		"alice", "\"", "(", ")", "-", "*", ":", "^", "{", "}", "+", "NEAR", "OR", "AND",
		"NOT", "from:", "subject:", "has:attachment", "before:2024-03-05", "larger:1K",
		"account:sales", "'", ";", "\\", " ", " ", " ", "é", "会議", "hcc", "col",
	};
	uint64_t x = 88172645463325252ull;
	int ok = 0;
	for (int i = 0; i < 2000; i++) {
		char q[256] = "";
		size_t o = 0;
		int n = 1 + i % 12;
		for (int k = 0; k < n; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			o += (size_t)snprintf(q + o, sizeof(q) - o, "%s",
				parts[x % (sizeof(parts) / sizeof(parts[0]))]);
		}
		struct index_hits hits;
		struct pv_error err;
		int64_t total;
		int r = index_search(db, q, 5, 0, &hits, &total, &err);
		if (r != PV_OK && r != PV_EUSAGE && r != PV_ELIMIT)
			fail_msg("[%s]: %d %s", q, r, err.msg);
		ok += r == PV_OK;
		index_hits_free(&hits);
	}
	assert_true(ok > 200); /* the generator does reach SQLite */
}

static void test_paging_is_stable_and_never_capped(void **state)
{
	sqlite3 *db = *state;
	struct pv_error err;
	struct index_hits all, page;
	int64_t total, t;
	assert_int_equal(index_search(db, "participant:bob", 100, 0, &all, &total, &err), PV_OK);
	assert_int_equal(total, 11);
	for (int64_t off = 0; off < 12; off += 4) {
		assert_int_equal(index_search(db, "participant:bob", 4, off, &page, &t, &err), PV_OK);
		assert_int_equal(t, 11);
		assert_int_equal(page.n, off + 4 <= 11 ? 4 : 11 - off);
		for (size_t i = 0; i < page.n; i++)
			assert_int_equal(page.v[i].id, all.v[off + (int64_t)i].id);
		index_hits_free(&page);
	}
	assert_int_equal(index_search(db, "participant:bob", 5, 11, &page, &t, &err), PV_OK);
	assert_int_equal(page.n, 0);
	assert_int_equal(t, 11); /* past the end: the total still says how many */
	index_hits_free(&page);
	assert_int_equal(index_search(db, "participant:bob", 0, 0, &page, &t, &err), PV_OK);
	assert_int_equal(page.n, 0);
	assert_int_equal(t, 11);
	index_hits_free(&page);
	index_hits_free(&all);

	assert_int_equal(index_search(db, "x", PV_SEARCH_LIMIT_MAX + 1, 0, &page, &t, &err), PV_EUSAGE);
	assert_int_equal(index_search(db, "x", -1, 0, &page, &t, &err), PV_EUSAGE);
	assert_int_equal(index_search(db, "x", 10, -1, &page, &t, &err), PV_EUSAGE);
}

static void test_hits_carry_display_fields(void **state)
{
	sqlite3 *db = *state;
	struct pv_error err;
	struct index_hits h;
	int64_t t;
	assert_int_equal(index_search(db, "message-id:latin1-2@example.fr", 10, 0, &h, &t, &err), PV_OK);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.v[0].from, "Renée Dupré <renee@example.fr>");
	assert_string_equal(h.v[0].subject, "Café crème");
	assert_string_equal(h.v[0].account, "legal");
	assert_int_equal(h.v[0].date, 1709627400);
	assert_true(h.v[0].date_known);
	assert_int_equal(h.v[0].size, 342);
	index_hits_free(&h);
	assert_int_equal(index_search(db, "innerpart", 10, 0, &h, &t, &err), PV_OK);
	assert_false(h.v[0].date_known);
	assert_int_equal(h.v[0].date, RECEIVED0 + 10);
	index_hits_free(&h);
}

static void test_syntax_error_reaches_the_caller_with_its_column(void **state)
{
	sqlite3 *db = *state;
	struct pv_error err;
	struct index_hits h;
	int64_t t;
	assert_int_equal(index_search(db, "from:alice AND (bob", 10, 0, &h, &t, &err), PV_EUSAGE);
	assert_string_equal(err.msg, "column 20: expected ')' to close '(' at column 16");
	assert_int_equal(h.n, 0);
}

static void test_match_ids_ascending_and_unpaged(void **state)
{
	sqlite3 *db = *state;
	struct pv_error err;
	int64_t *ids;
	size_t n;
	assert_int_equal(index_match_ids(db, "participant:alice", &ids, &n, &err), PV_OK);
	assert_int_equal(n, 5);
	int64_t want[] = {1, 2, 7, 9, 13};
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ids[i], want[i]);
	free(ids);
	assert_int_equal(index_match_ids(db, "(", &ids, &n, &err), PV_EUSAGE);
	assert_null(ids);
}

static void test_explain_shows_both_plans(void **state)
{
	sqlite3 *db = *state;
	struct pv_error err;
	struct pv_buf plan;
	pv_buf_init(&plan, 1 << 16);
	assert_int_equal(index_search_explain(db, "alice -has:attachment", &plan, &err), PV_OK);
	const char *p = pv_buf_str(&plan);
	const char *page = strstr(p, "page:\n");
	assert_true(strncmp(p, "count:\n", 7) == 0);
	assert_non_null(page);
	assert_non_null(strstr(p, "idx_fts")); /* the text term uses the FTS index */
	pv_buf_reset(&plan);
	assert_int_equal(index_search_explain(db, "from:alice AND (bob", &plan, &err), PV_EUSAGE);
	pv_buf_free(&plan);
}

/* Queries that only exclude words run on the FTS index alone; the token
 * every document carries for them is not a word anyone finds. */
static void test_negation_alone_and_the_every_token(void **state)
{
	sqlite3 *db = *state;
	struct pv_error err;
	struct index_hits h;
	int64_t all, some, none;
	assert_int_equal(index_search(db, "", 0, 0, &h, &all, &err), PV_OK);
	assert_int_equal(index_search(db, "alice", 0, 0, &h, &some, &err), PV_OK);
	assert_int_equal(index_search(db, "-alice", 0, 0, &h, &none, &err), PV_OK);
	assert_true(some > 0 && some < all);
	assert_int_equal(none, all - some);
	assert_int_equal(index_search(db, INDEX_EVERY_TOKEN, 10, 0, &h, &none, &err), PV_OK);
	assert_int_equal(none, 0);
	index_hits_free(&h);
	assert_int_equal(index_search(db, "\"" INDEX_EVERY_TOKEN " x\"", 10, 0, &h, &none, &err),
			 PV_OK);
	assert_int_equal(none, 0);
	index_hits_free(&h);
}

static sqlite3 *fresh(void)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	fx_catalog_schema(db);
	assert_int_equal(index_ensure_schema(db, NULL), PV_OK);
	return db;
}

static void add_text(sqlite3 *db, int64_t id, const char *msg)
{
	struct pv_error err;
	assert_int_equal(index_add(db, id, "a", 1, (const unsigned char *)msg, strlen(msg), &err), PV_OK);
}

static void test_equal_dates_order_by_id(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	const char *m = "Date: Mon, 04 Mar 2024 10:00:00 +0000\r\nSubject: same\r\n\r\nx\r\n";
	add_text(db, 5, m);
	add_text(db, 3, m);
	add_text(db, 9, m);
	expect(db, "same", "9 5 3");
	sqlite3_close(db);
}

/* Result lists are shown to people: their From and Subject lose the bidi
 * controls (a search for the word still finds the message). */
static void test_hits_display_fields_carry_no_bidi_controls(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	struct index_hits hits = {0};
	struct pv_error err;
	int64_t total;
	add_text(db, 1, "From: =?utf-8?b?Qm9iIOKBpkJ1aWxkZXLigak=?= <bob@example.org>\r\n"
			"Subject: =?utf-8?b?aW52b2ljZSDigK5mZHAuZXhlIGZvciBwYXltZW50?=\r\n\r\nx\r\n");
	assert_int_equal(index_search(db, "subject:invoice", 10, 0, &hits, &total, &err), PV_OK);
	assert_int_equal(hits.n, 1);
	assert_string_equal(hits.v[0].from, "Bob Builder <bob@example.org>");
	assert_string_equal(hits.v[0].subject, "invoice fdp.exe for payment");
	index_hits_free(&hits);
	sqlite3_close(db);
}

/* A subject longer than a result list shows ends in "…" there, cut at a
 * whole character; a short one is shown whole. */
static void test_long_subject_is_shown_cut_with_an_ellipsis(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	struct index_hits hits = {0};
	struct pv_error err;
	int64_t total;
	char msg[2048] = "Subject: cut";
	for (int i = 0; i < 300; i++)
		strcat(msg, " \xc3\xa9"); /* é: two bytes, so a cut could split one */
	strcat(msg, "\r\n\r\nx\r\n");
	add_text(db, 1, msg);
	add_text(db, 2, "Subject: short cut\r\n\r\nx\r\n");
	assert_int_equal(index_search(db, "subject:cut", 10, 0, &hits, &total, &err), PV_OK);
	assert_int_equal(hits.n, 2);
	for (size_t i = 0; i < 2; i++) {
		const char *sj = hits.v[i].subject;
		size_t n = strlen(sj);
		if (hits.v[i].id == 2) {
			assert_string_equal(sj, "short cut");
			continue;
		}
		assert_true(n <= INDEX_DISPLAY_SUBJECT_MAX + 3);
		assert_true(n > INDEX_DISPLAY_SUBJECT_MAX - 3);
		assert_string_equal(sj + n - 3, "\xe2\x80\xa6");
		/* before it, a whole é or the space between two */
		assert_true(strcmp(sj + n - 5, "\xc3\xa9\xe2\x80\xa6") == 0 || sj[n - 4] == ' ');
	}
	index_hits_free(&hits);
	sqlite3_close(db);
}

static void test_date_after_receipt_is_not_trusted(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	static const char future[] = "Date: Fri, 31 Dec 2099 10:00:00 +0000\r\nSubject: spam\r\n\r\nx\r\n";
	static const char skewed[] = "Date: Tue, 02 Jan 2024 10:00:00 +0000\r\nSubject: skew\r\n\r\nx\r\n";
	struct pv_error err;
	/* received 2024-01-02 00:00Z: the first is 76 years early, the second 10 h */
	assert_int_equal(index_add(db, 1, "a", 1704153600, (const unsigned char *)future,
		sizeof(future) - 1, &err), PV_OK);
	assert_int_equal(index_add(db, 2, "a", 1704153600, (const unsigned char *)skewed,
		sizeof(skewed) - 1, &err), PV_OK);
	struct index_hits h;
	int64_t t;
	assert_int_equal(index_search(db, "", 10, 0, &h, &t, &err), PV_OK);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.v[0].id, 2); /* 10:00 beats the receipt time of the spam */
	assert_int_equal(h.v[0].date, 1704189600);
	assert_true(h.v[0].date_known);
	assert_int_equal(h.v[1].id, 1);
	assert_int_equal(h.v[1].date, 1704153600);
	assert_false(h.v[1].date_known);
	index_hits_free(&h);
	expect(db, "after:2099-01-01", "");
	sqlite3_close(db);
}

/* The whole path, extraction and FTS5 insert, on hostile mail. */
static void test_hostile_messages_index_in_bounded_time(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	struct pv_buf m;
	struct pv_error err;
	pv_buf_init(&m, 64u << 20);
	int64_t t0 = pv_clock_monotonic_ms();
	for (int kind = 0; kind < 4; kind++) {
		pv_buf_reset(&m);
		pv_buf_printf(&m, NULL, "Subject: hostile%d\r\n", kind);
		for (int i = 0; kind == 0 && i < 10000; i++)
			pv_buf_printf(&m, NULL, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
		if (kind == 1) {
			pv_buf_append_str(&m, "Content-Type: multipart/mixed; boundary=B\r\n\r\n", NULL);
			for (int i = 0; i < 100000; i++)
				pv_buf_printf(&m, NULL, "--B\r\nContent-Type: text/plain\r\n\r\nw%d\r\n", i);
		}
		for (int i = 0; kind == 2 && i < 1000000; i++)
			pv_buf_append_str(&m, "X-Long: 0123456789\r\n", NULL);
		if (kind == 3) {
			pv_buf_append_str(&m, "Content-Transfer-Encoding: base64\r\n\r\n", NULL);
			for (int i = 0; i < 200000; i++) /* 14 MB of base64 text, some broken */
				pv_buf_append_str(&m, i % 97 ? "aG9zdGlsZSB0ZXh0IHdvcmRzIGZvciB0aGUgaW5kZXgg\r\n"
					: "!!broken==base64@@\r\n", NULL);
		}
		pv_buf_append_str(&m, "\r\ntail\r\n", NULL);
		assert_int_equal(index_add(db, kind + 1, "a", 1, m.data, m.len, &err), PV_OK);
	}
	int64_t ms = pv_clock_monotonic_ms() - t0;
	if (ms > 8000) /* ASan on a slow machine; ~1 s is typical */
		fail_msg("took %lld ms", (long long)ms);
	pv_buf_free(&m);
	expect(db, "hostile0", "1");
	expect(db, "w9998", "2");
	expect(db, "w10000", "");   /* past the part cap */
	expect(db, "hostile text words", "4");
	sqlite3_close(db);
}

static void test_add_is_idempotent_and_replaces(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	add_text(db, 1, "Subject: first version\r\n\r\nalpha\r\n");
	add_text(db, 1, "Subject: first version\r\n\r\nalpha\r\n");
	int64_t n;
	assert_int_equal(index_count(db, &n, NULL), PV_OK);
	assert_int_equal(n, 1);
	expect(db, "alpha", "1");
	add_text(db, 1, "Subject: second version\r\n\r\nbeta\r\n");
	expect(db, "alpha", "");
	expect(db, "beta", "1");
	assert_int_equal(index_add(db, 0, "a", 1, (const unsigned char *)"x", 1, NULL), PV_EUSAGE);
	sqlite3_close(db);
}

static void test_add_joins_the_callers_transaction(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	add_text(db, 1, "Subject: rolled back\r\n\r\ngamma\r\n");
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	expect(db, "gamma", "");
	int64_t n;
	assert_int_equal(index_count(db, &n, NULL), PV_OK);
	assert_int_equal(n, 0);
	sqlite3_close(db);
}

static void test_two_step_add_extracts_outside_the_transaction(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	static const char msg[] = "Subject: two steps\r\n\r\ntheta\r\n";
	struct index_doc d;
	struct pv_error err;
	assert_int_equal(index_mime_extract((const unsigned char *)msg, sizeof(msg) - 1, &d, &err), PV_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(index_add_doc(db, 4, "a", 1, sizeof(msg) - 1, &d, &err), PV_OK);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	index_doc_free(&d);
	expect(db, "theta", "4");
	expect(db, "smaller:29", "");
	expect(db, "smaller:30", "4"); /* the size given is the stored size */
	sqlite3_close(db);
}

static void test_failed_add_leaves_the_callers_transaction_usable(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x); BEGIN; INSERT INTO t VALUES (1);"
		" DROP TABLE idx_fts;", NULL, NULL, NULL), SQLITE_OK);
	struct pv_error err;
	static const char msg[] = "Subject: x\r\n\r\ny";
	assert_int_equal(index_add(db, 1, "a", 1, (const unsigned char *)msg, sizeof(msg) - 1, &err),
		PV_ERR);
	assert_int_equal(sqlite3_get_autocommit(db), 0); /* still inside the caller's BEGIN */
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_remove_purge_clear(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	add_text(db, 1, "Subject: one\r\n\r\ndelta\r\n");
	add_text(db, 2, "Subject: two\r\n\r\ndelta\r\n");
	assert_int_equal(index_remove(db, 1, NULL), PV_OK);
	assert_int_equal(index_remove(db, 1, NULL), PV_OK); /* already gone: fine */
	assert_int_equal(index_purge(db, NULL), PV_OK);
	expect(db, "delta", "2");
	expect(db, "one", "");
	assert_int_equal(index_clear(db, NULL), PV_OK);
	int64_t n;
	assert_int_equal(index_count(db, &n, NULL), PV_OK);
	assert_int_equal(n, 0);
	expect(db, "", "");
	add_text(db, 3, "Subject: after clear\r\n\r\nepsilon\r\n");
	expect(db, "epsilon", "3");
	sqlite3_close(db);
}

static void test_other_schema_version_is_rebuilt_empty(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	add_text(db, 1, "Subject: old\r\n\r\nzeta\r\n");
	assert_int_equal(sqlite3_exec(db, "UPDATE idx_meta SET value = 999", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(index_ensure_schema(db, NULL), PV_OK);
	int64_t n;
	assert_int_equal(index_count(db, &n, NULL), PV_OK);
	assert_int_equal(n, 0);
	assert_int_equal(index_ensure_schema(db, NULL), PV_OK); /* and stays */
	add_text(db, 1, "Subject: new\r\n\r\neta\r\n");
	expect(db, "eta", "1");
	sqlite3_close(db);
}

static const char *const ka_sections[] = {"text operators", "other operators",
	"phrases, charsets and bare words", "combinations", "inert FTS5 operators inside a term"};

static int64_t segments(sqlite3 *db)
{
	struct index_segments s;
	struct pv_error err;
	if (index_segments(db, &s, &err) != PV_OK)
		fail_msg("segments: %s", err.msg);
	return s.segments;
}

static void integrity_ok(sqlite3 *db)
{
	if (sqlite3_exec(db, "INSERT INTO idx_fts(idx_fts) VALUES ('integrity-check')", NULL, NULL,
		    NULL) != SQLITE_OK)
		fail_msg("integrity-check: %s", sqlite3_errmsg(db));
}

/* The indexer's idle merge: short steps (one page here, so many), each
 * its own transaction, until FTS5 has one segment; every known answer the
 * same after it. */
static void test_idle_merge_runs_to_one_segment_with_the_same_answers(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	assert_int_equal(load_corpus(db), 0);
	int64_t before = segments(db);
	assert_true(before > 1); /* a savepoint a message: a segment each, then automerge */
	bool done = false;
	int steps = 0;
	for (; !done && steps < 10000; steps++) {
		assert_int_equal(index_merge_step(db, 1, false, &done, NULL), PV_OK);
		assert_true(sqlite3_get_autocommit(db)); /* nothing left open between steps */
	}
	assert_true(done);
	assert_true(steps >= 2);
	assert_int_equal(segments(db), 1);
	integrity_ok(db);
	for (size_t i = 0; i < sizeof(ka_sections) / sizeof(ka_sections[0]); i++)
		run_section(db, ka_sections[i]);
	/* merged: a step is a read of the structure record, nothing written */
	int64_t changes = sqlite3_total_changes64(db);
	assert_int_equal(index_merge_step(db, 64, false, &done, NULL), PV_OK);
	assert_true(done);
	assert_int_equal(sqlite3_total_changes64(db), changes);
	assert_int_equal(index_merge_step(db, 0, false, &done, NULL), PV_EUSAGE);
	sqlite3_close(db);
}

/* Messages from..to of generated words (60 each, 5000 different), a
 * segment each (a savepoint each), automerged, in one transaction. */
static void add_generated(sqlite3 *db, int from, int to)
{
	char msg[4096];
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (int id = from; id <= to; id++) {
		int o = snprintf(msg, sizeof(msg), "Subject: m%d\r\n\r\n", id);
		for (int w = 0; w < 60; w++)
			o += snprintf(msg + o, sizeof(msg) - (size_t)o, "w%dx%d ", (id * 7 + w * 13) % 5000, w);
		add_text(db, id, msg);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

/* 400 messages merged into one segment, then one more: a small segment
 * beside the large one. */
static sqlite3 *merged_and_a_latecomer(void)
{
	sqlite3 *db = fresh();
	add_generated(db, 1, 400);
	bool done = false;
	while (!done)
		assert_int_equal(index_merge_step(db, 64, false, &done, NULL), PV_OK);
	assert_int_equal(segments(db), 1);
	add_text(db, 1000, "Subject: late\r\n\r\nlatecomer\r\n");
	assert_int_equal(segments(db), 2);
	return db;
}

/* Once merged, a little new mail is a small segment beside the large one
 * (FTS5's automerge keeps those few): not worth rewriting the whole index
 * for until they hold an eighth of its pages. */
static void test_merged_index_leaves_small_new_segments_alone(void **state)
{
	(void)state;
	sqlite3 *db = merged_and_a_latecomer();
	bool done = false;
	assert_int_equal(index_merge_step(db, 64, false, &done, NULL), PV_OK);
	assert_true(done);
	assert_int_equal(segments(db), 2);
	expect(db, "latecomer", "1000");
	sqlite3_close(db);
}

/* reindex's merge (full) does not wait for small segments to be worth
 * it: the index it just rewrote ends as one segment, answers the same. */
static void test_full_merge_takes_small_segments_too(void **state)
{
	(void)state;
	sqlite3 *db = merged_and_a_latecomer();
	bool done = false;
	for (int steps = 0; !done && steps < 10000; steps++)
		assert_int_equal(index_merge_step(db, 16, true, &done, NULL), PV_OK);
	assert_true(done);
	assert_int_equal(segments(db), 1);
	integrity_ok(db);
	expect(db, "latecomer", "1000");
	int64_t changes = sqlite3_total_changes64(db);
	assert_int_equal(index_merge_step(db, 16, true, &done, NULL), PV_OK);
	assert_true(done);
	assert_int_equal(sqlite3_total_changes64(db), changes);
	sqlite3_close(db);
}

/* Every known-answer query's matches (ids ascending, then the total of a
 * first page) appended to out: the same index gives the same text. */
static void all_answers(sqlite3 *db, struct pv_buf *out)
{
	size_t n;
	struct ka_entry *v = ka_load(&n);
	for (size_t i = 0; i < n; i++) {
		int64_t *ids, total;
		size_t k;
		struct index_hits hits;
		assert_int_equal(index_match_ids(db, v[i].query, &ids, &k, NULL), PV_OK);
		assert_int_equal(index_search(db, v[i].query, 50, 0, &hits, &total, NULL), PV_OK);
		pv_buf_printf(out, NULL, "%s: %lld:", v[i].query, (long long)total);
		for (size_t j = 0; j < k; j++)
			pv_buf_printf(out, NULL, " %lld", (long long)ids[j]);
		pv_buf_append_str(out, "\n", NULL);
		free(ids);
		index_hits_free(&hits);
	}
	ka_free(v, n);
}

/* FTS5's structure record (segments, levels, merges under way). */
static size_t structure(sqlite3 *db, unsigned char *out, size_t max)
{
	sqlite3_stmt *st;
	size_t n = 0;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT block FROM idx_fts_data WHERE id = 10", -1,
		&st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = (size_t)sqlite3_column_bytes(st, 0);
	assert_true(n <= max);
	memcpy(out, sqlite3_column_blob(st, 0), n);
	sqlite3_finalize(st);
	return n;
}

/* A merge killed in the middle of a step (the indexer process killed, a
 * power cut) leaves the index as the last committed step left it: FTS5
 * writes a step's pages and its structure record in one transaction. */
static void test_merge_killed_mid_step_leaves_a_usable_index(void **state)
{
	(void)state;
	char dir[] = "/tmp/pv-test-merge-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
	fx_catalog_schema(db);
	assert_int_equal(load_corpus(db), 0);
	add_generated(db, 100, 500); /* enough pages that a step of one is not all */
	bool done;
	assert_int_equal(index_merge_step(db, 1, false, &done, NULL), PV_OK); /* one committed step */
	assert_false(done);
	unsigned char was[4096], now[4096];
	size_t was_n = structure(db, was, sizeof(was));
	struct pv_buf before, after;
	pv_buf_init(&before, 1 << 20);
	pv_buf_init(&after, 1 << 20);
	all_answers(db, &before);
	sqlite3_close(db);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* steps inside a transaction that never commits: killed in it,
		 * after saying how many rows they changed */
		sqlite3 *c;
		if (sqlite3_open(path, &c) != SQLITE_OK ||
		    sqlite3_exec(c, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
			_exit(1);
		for (int i = 0; i < 5; i++)
			if (index_merge_step(c, 1, false, &done, NULL) != PV_OK)
				_exit(1);
		int64_t changed = sqlite3_total_changes64(c);
		if (write(fds[1], &changed, sizeof(changed)) != sizeof(changed))
			_exit(1);
		raise(SIGKILL);
		_exit(1);
	}
	close(fds[1]);
	int64_t changed = 0;
	assert_int_equal(read(fds[0], &changed, sizeof(changed)), sizeof(changed));
	close(fds[0]);
	assert_true(changed > 2); /* the killed steps did merge */
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	/* the killed steps never happened: the structure of the last commit */
	size_t now_n = structure(db, now, sizeof(now));
	assert_true(now_n == was_n && memcmp(now, was, was_n) == 0);
	integrity_ok(db);
	all_answers(db, &after);
	assert_string_equal(pv_buf_str(&after), pv_buf_str(&before));
	done = false;
	for (int steps = 0; !done && steps < 100000; steps++)
		assert_int_equal(index_merge_step(db, 1, false, &done, NULL), PV_OK); /* and resumes */
	assert_int_equal(segments(db), 1);
	integrity_ok(db);
	pv_buf_reset(&after);
	all_answers(db, &after);
	assert_string_equal(pv_buf_str(&after), pv_buf_str(&before));
	pv_buf_free(&before);
	pv_buf_free(&after);
	sqlite3_close(db);
	fx_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_text_operator),
		cmocka_unit_test(test_each_other_operator),
		cmocka_unit_test(test_phrases_charsets_and_bare_words),
		cmocka_unit_test(test_combinations),
		cmocka_unit_test(test_injection_attempts_are_harmless),
		cmocka_unit_test(test_random_queries_never_break_the_generated_sql),
		cmocka_unit_test(test_paging_is_stable_and_never_capped),
		cmocka_unit_test(test_hits_carry_display_fields),
		cmocka_unit_test(test_syntax_error_reaches_the_caller_with_its_column),
		cmocka_unit_test(test_match_ids_ascending_and_unpaged),
		cmocka_unit_test(test_explain_shows_both_plans),
		cmocka_unit_test(test_negation_alone_and_the_every_token),
		cmocka_unit_test(test_equal_dates_order_by_id),
		cmocka_unit_test(test_long_subject_is_shown_cut_with_an_ellipsis),
		cmocka_unit_test(test_date_after_receipt_is_not_trusted),
		cmocka_unit_test(test_hits_display_fields_carry_no_bidi_controls),
		cmocka_unit_test(test_hostile_messages_index_in_bounded_time),
		cmocka_unit_test(test_add_is_idempotent_and_replaces),
		cmocka_unit_test(test_add_joins_the_callers_transaction),
		cmocka_unit_test(test_two_step_add_extracts_outside_the_transaction),
		cmocka_unit_test(test_failed_add_leaves_the_callers_transaction_usable),
		cmocka_unit_test(test_remove_purge_clear),
		cmocka_unit_test(test_other_schema_version_is_rebuilt_empty),
		cmocka_unit_test(test_idle_merge_runs_to_one_segment_with_the_same_answers),
		cmocka_unit_test(test_merged_index_leaves_small_new_segments_alone),
		cmocka_unit_test(test_full_merge_takes_small_segments_too),
		cmocka_unit_test(test_merge_killed_mid_step_leaves_a_usable_index),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
