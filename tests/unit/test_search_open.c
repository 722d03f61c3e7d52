/* The archive's search backend on both engines (archive/search_open.h):
 * FTS5 on a SQLite catalog, PostgreSQL on the catalog's own connection;
 * the operations the indexer's catch-up and disposal use (indexed,
 * mark_failed, purge), and index writes that commit or roll back with
 * the caller's catalog transaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/archive/search_open.h"
#include "archiver/lib/db.h"
#include "archiver/store/catalog.h"
#include "tests/unit/fixtures.h"

FX_CATALOG_SETUPS("srchopen")

/* An archive of just the catalog, as archive_search_backend needs. */
struct bare {
	struct catalog cat;
	struct archive ar;
};

static struct search_backend *open_on(struct bare *b, struct fx_catalog *c)
{
	struct search_backend *sb = NULL;
	struct pv_error err;
	memset(b, 0, sizeof(*b));
	b->cat.conn = c->db;
	b->cat.db = db_sqlite(c->db);
	b->ar.cat = &b->cat;
	fx_must(archive_search_backend(&b->ar, &sb, &err), &err, "search backend");
	return sb;
}

static void add(struct search_backend *sb, int64_t id, const char *subject, const char *body)
{
	char raw[512];
	struct pv_error err;
	int n = snprintf(raw, sizeof(raw),
			 "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\n"
			 "Subject: %s\r\nDate: Mon, 2 Feb 2026 10:00:%02d +0000\r\n"
			 "Message-ID: <m%lld@example.com>\r\n\r\n%s\r\n",
			 subject, (int)(id % 60), (long long)id, body);
	fx_must(search_backend_add(sb, id, "alice", 1770000000 + id, (const unsigned char *)raw,
				   (size_t)n, &err), &err, subject);
}

static bool is_indexed(struct search_backend *sb, int64_t id)
{
	bool v = false;
	struct pv_error err;
	fx_must(search_backend_indexed(sb, &id, 1, &v, &err), &err, "indexed");
	return v;
}

static void test_backend_follows_the_catalog_and_is_opened_once(void **state)
{
	struct fx_catalog *c = *state;
	struct bare b;
	struct search_backend *sb = open_on(&b, c), *again = NULL;
	struct pv_error err;
	assert_string_equal(search_backend_name(sb),
			    db_kind(c->db) == DB_POSTGRES ? "postgresql" : "sqlite-fts5");
	fx_must(archive_search_backend(&b.ar, &again, &err), &err, "again");
	assert_ptr_equal(sb, again);
	search_backend_close(&b.ar.search);
}

static void test_indexed_says_which_ids_have_an_entry(void **state)
{
	struct fx_catalog *c = *state;
	struct bare b;
	struct search_backend *sb = open_on(&b, c);
	struct pv_error err;
	int64_t ids[4] = {1, 2, 3, 99};
	bool v[4] = {true, true, true, true};
	add(sb, 1, "first", "alpha");
	add(sb, 3, "third", "gamma");
	fx_must(search_backend_indexed(sb, ids, 4, v, &err), &err, "indexed");
	assert_true(v[0]);
	assert_false(v[1]);
	assert_true(v[2]);
	assert_false(v[3]);
	fx_must(search_backend_indexed(sb, ids, 0, v, &err), &err, "none asked");
	/* a message the parser failed on is recorded, and is not indexed */
	fx_must(search_backend_mark_failed(sb, 2, "parser gave up", 1770000000, &err), &err,
		"mark failed");
	fx_must(search_backend_mark_failed(sb, 2, "again", 1770000001, &err), &err, "replaced");
	assert_false(is_indexed(sb, 2));
	fx_must(search_backend_remove(sb, 1, &err), &err, "remove");
	fx_must(search_backend_remove(sb, 1, &err), &err, "remove again: not an error");
	assert_false(is_indexed(sb, 1));
	assert_true(is_indexed(sb, 3));
	fx_must(search_backend_purge(sb, &err), &err, "purge");
	int64_t n = 0;
	fx_must(search_backend_count(sb, &n, &err), &err, "count");
	assert_int_equal(n, 1);
	fx_must(search_backend_clear(sb, &err), &err, "clear");
	assert_false(is_indexed(sb, 3));
	search_backend_close(&b.ar.search);
}

static void test_index_write_commits_or_rolls_back_with_the_catalog(void **state)
{
	struct fx_catalog *c = *state;
	struct bare b;
	struct search_backend *sb = open_on(&b, c);
	struct pv_error err;
	char *v = NULL;
	fx_must(db_begin(c->db, &err), &err, "begin");
	add(sb, 5, "rolled back", "never there");
	fx_must(catalog_meta_set(c->db, "t.mark", "5", &err), &err, "meta");
	db_rollback(c->db);
	assert_false(is_indexed(sb, 5));
	assert_int_equal(catalog_meta_get(c->db, "t.mark", &v, &err), PV_ENOTFOUND);

	fx_must(db_begin(c->db, &err), &err, "begin");
	add(sb, 6, "committed", "there");
	/* a failed index write (PostgreSQL refuses a NUL-free but invalid
	 * UTF-8 text; SQLite takes it) leaves the caller's transaction whole */
	int rc = search_backend_mark_failed(sb, 7, "bad \xff\xfe", 1770000000, &err);
	assert_int_equal(rc, db_kind(c->db) == DB_POSTGRES ? PV_ERR : PV_OK);
	fx_must(catalog_meta_set(c->db, "t.mark", "6", &err), &err, "meta after an index write");
	fx_must(db_commit(c->db, &err), &err, "commit");
	assert_true(is_indexed(sb, 6));
	fx_must(catalog_meta_get(c->db, "t.mark", &v, &err), &err, "meta");
	assert_string_equal(v, "6");
	free(v);
	search_backend_close(&b.ar.search);
}

static void match(struct search_backend *sb, const char *q, const char *want)
{
	int64_t *ids = NULL;
	size_t n = 0;
	char got[128] = "";
	struct pv_error err;
	fx_must(search_backend_match_ids(sb, q, &ids, &n, &err), &err, q);
	for (size_t i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%lld", i ? " " : "",
			 (long long)ids[i]);
	free(ids);
	if (strcmp(got, want) != 0)
		fail_msg("%s: %s: got [%s], want [%s]", search_backend_name(sb), q, got, want);
}

static void test_same_answers_through_either_backend(void **state)
{
	struct fx_catalog *c = *state;
	struct bare b;
	struct search_backend *sb = open_on(&b, c);
	struct index_hits hits = {0};
	int64_t total = 0;
	struct pv_error err;
	add(sb, 10, "quarterly report", "the numbers are in");
	add(sb, 11, "report quarterly", "numbers again");
	add(sb, 12, "lunch", "no numbers here");
	match(sb, "\"quarterly report\"", "10");
	match(sb, "report", "10 11");
	match(sb, "numbers -report", "12");
	match(sb, "subject:lunch OR subject:quarterly", "10 11 12");
	fx_must(search_backend_search(sb, "numbers", NULL, INDEX_COUNT_ALL, 2, 0, &hits, &total,
		NULL, &err), &err, "page");
	assert_int_equal(total, 3);
	assert_int_equal(hits.n, 2);
	assert_int_equal(hits.v[0].id, 12); /* newest first */
	assert_string_equal(hits.v[0].subject, "lunch");
	index_hits_free(&hits);
	search_backend_close(&b.ar.search);
}

#define BOTH(t) FX_BOTH(t, setup, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_backend_follows_the_catalog_and_is_opened_once),
		BOTH(test_indexed_says_which_ids_have_an_entry),
		BOTH(test_index_write_commits_or_rolls_back_with_the_catalog),
		BOTH(test_same_answers_through_either_backend),
	};
	return fx_run_both("search_open", tests, sizeof(tests) / sizeof(tests[0]));
}
