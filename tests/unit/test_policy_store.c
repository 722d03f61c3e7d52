/* Retention policy versions in the catalog (archiver/store/policy_store):
 * numbered 1, 2, ... in order, the exact bytes back, the highest in force,
 * an edited text refused as an integrity failure, never edited or deleted
 * (triggers). Each case on SQLite and, with PV_TEST_PG, on PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/lib/db.h"
#include "archiver/store/policy_store.h"
#include "tests/unit/fixtures.h"

FX_CATALOG_SETUPS("polstore")

static int64_t add(struct fx_catalog *f, const char *text, const char *actor, int64_t now)
{
	struct pv_error err;
	int64_t v = 0;
	fx_must(policy_store_add(f->db, (const unsigned char *)text, strlen(text), actor, now, &v,
				 &err), &err, "add");
	return v;
}

static void test_versions_numbered_in_order_highest_in_force(void **state)
{
	struct fx_catalog *f = *state;
	struct policy_version_info info;
	struct pv_error err;
	assert_int_equal(policy_store_current(f->db, &info, &err), PV_ENOTFOUND);
	assert_int_equal(add(f, policy_store_initial_text, "system", 100), 1);
	assert_int_equal(add(f, "default: retain 7y\n", "cli:root", 200), 2);
	fx_must(policy_store_current(f->db, &info, &err), &err, "current");
	assert_int_equal(info.version, 2);
	assert_int_equal(info.created_at, 200);
	assert_string_equal(info.actor, "cli:root");
	/* SHA-256("default: retain 7y\n") */
	assert_int_equal(strlen(info.sha256), 64);
}

static void test_text_comes_back_byte_for_byte(void **state)
{
	struct fx_catalog *f = *state;
	struct policy_version_info info;
	struct pv_error err;
	unsigned char *text = NULL;
	size_t len = 0;
	/* a NUL and bytes above 0x7f: the text is a blob, not a string */
	static const char odd[] = "# caf\xc3\xa9\n\0default: retain 1y\n";
	int64_t v = 0;
	fx_must(policy_store_add(f->db, (const unsigned char *)odd, sizeof(odd) - 1, "web:alice", 5,
				 &v, &err), &err, "add");
	fx_must(policy_store_get(f->db, v, &text, &len, &info, &err), &err, "get");
	assert_int_equal(len, sizeof(odd) - 1);
	assert_memory_equal(text, odd, len);
	assert_int_equal(text[len], '\0');
	assert_string_equal(info.actor, "web:alice");
	free(text);
	assert_int_equal(policy_store_get(f->db, v + 1, &text, &len, NULL, &err), PV_ENOTFOUND);
}

struct seen {
	int64_t versions[8];
	size_t n;
};

static int collect(void *ctx, const struct policy_version_info *v)
{
	struct seen *s = ctx;
	if (s->n < 8)
		s->versions[s->n++] = v->version;
	return s->n == 2 ? 7 : 0; /* a non-zero return stops */
}

static void test_each_oldest_first_and_stops(void **state)
{
	struct fx_catalog *f = *state;
	struct pv_error err;
	struct seen s = {0};
	for (int i = 0; i < 3; i++)
		(void)add(f, "default: retain 2y\n", "system", i);
	assert_int_equal(policy_store_each(f->db, collect, &s, &err), 7);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.versions[0], 1);
	assert_int_equal(s.versions[1], 2);
}

static void test_versions_never_edited_nor_deleted(void **state)
{
	struct fx_catalog *f = *state;
	struct pv_error err;
	(void)add(f, "default: retain 3y\n", "system", 1);
	assert_int_not_equal(db_exec(f->db, "UPDATE policy_versions SET actor = 'x'", &err), PV_OK);
	assert_int_not_equal(db_exec(f->db, "DELETE FROM policy_versions", &err), PV_OK);
	int64_t n = 0;
	fx_must(db_query_int(f->db, "SELECT count(*) FROM policy_versions", &n, &err), &err, "count");
	assert_int_equal(n, 1);
}

static void test_edited_text_is_an_integrity_failure(void **state)
{
	struct fx_catalog *f = *state;
	struct pv_error err;
	unsigned char *text = NULL;
	size_t len;
	(void)add(f, "default: retain 3y\n", "system", 1);
	/* someone with the database drops the trigger and edits the text */
	const char *drop = db_kind(f->db) == DB_SQLITE
				   ? "DROP TRIGGER policy_versions_never_edited"
				   : "DROP TRIGGER policy_versions_never_edited ON policy_versions";
	fx_must(db_exec(f->db, drop, &err), &err, "drop trigger");
	struct db_stmt *st;
	fx_must(db_prepare(f->db, "UPDATE policy_versions SET text = ? WHERE version = 1", &st,
			   &err), &err, "prepare");
	db_bind_blob(st, 1, "default: retain 1d\n", 19);
	assert_true(db_step(st, &err) >= 0);
	db_finalize(&st);
	assert_int_equal(policy_store_get(f->db, 1, &text, &len, NULL, &err), PV_EINTEGRITY);
	assert_null(text);
	assert_non_null(strstr(err.msg, "SHA-256"));
}

#define BOTH(t) FX_BOTH(t, setup, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_versions_numbered_in_order_highest_in_force),
		BOTH(test_text_comes_back_byte_for_byte),
		BOTH(test_each_oldest_first_and_stops),
		BOTH(test_versions_never_edited_nor_deleted),
		BOTH(test_edited_text_is_an_integrity_failure),
	};
	return fx_run_both("policy_store", tests, sizeof(tests) / sizeof(tests[0]));
}
