/* The catalog side of disposal on both engines (lib/db.h): what verify
 * takes from an interrupted disposal (dispose_pending_ids). The disposal
 * run itself needs the whole archive (test_dispose, SQLite). A backup of
 * a PostgreSQL catalog is a SQLite copy of it (test_catalog_copy,
 * tests/e2e/migrate_catalog.t). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "archiver/archive/dispose.h"
#include "archiver/lib/db.h"
#include "archiver/store/catalog.h"
#include "tests/unit/fixtures.h"

static int setup_on(void **state, bool pg)
{
	struct fx_catalog *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	fx_catalog_open(c, "dispcat", pg);
	*state = c;
	return 0;
}

static int setup(void **state)
{
	return setup_on(state, false);
}

static int setup_pg(void **state)
{
	return setup_on(state, true);
}

static int teardown(void **state)
{
	struct fx_catalog *c = *state;
	fx_catalog_close(c);
	free(c);
	return 0;
}

static void run(struct db *db, const char *sql)
{
	struct pv_error err;
	fx_must(db_exec(db, sql, &err), &err, sql);
}

/* An account, a bucket and messages 1..n (blobs and keys bound: no blob
 * literal reads the same on both engines). */
static void add_messages(struct db *db, int n)
{
	static const unsigned char secret[4] = {1, 2, 3, 4}, sha[32] = {0}, key[8] = {9};
	struct db_stmt *st;
	struct pv_error err;
	fx_must(db_prepare(db, "INSERT INTO accounts (id, name, host, port, tls, username, auth,"
			       " secret, created_at) VALUES (1, 'a', 'h', 995, 'implicit', 'u',"
			       " 'pass', ?, 1)", &st, &err), &err, "accounts");
	db_bind_blob(st, 1, secret, sizeof(secret));
	assert_int_equal(db_step(st, &err), DB_DONE);
	db_finalize(&st);
	run(db, "INSERT INTO buckets (id, class, expiry_month) VALUES (1, 'default', '2020-01')");
	fx_must(db_prepare(db, "INSERT INTO messages (id, account_id, uidl, sha256, size,"
			       " received_at, blob, bucket_id, wrapped_key, leaf_index,"
			       " retention_class, expires_at) VALUES (?1, 1, 'u', ?2, 10, 1, 'b', 1,"
			       " ?3, ?1, 'default', 100)", &st, &err), &err, "messages");
	for (int i = 1; i <= n; i++) {
		db_reset(st);
		db_bind_int64(st, 1, i);
		db_bind_blob(st, 2, sha, sizeof(sha));
		db_bind_blob(st, 3, key, sizeof(key));
		assert_int_equal(db_step(st, &err), DB_DONE);
	}
	db_finalize(&st);
}

static void test_pending_ids_are_the_unfinished_runs_messages(void **state)
{
	struct fx_catalog *c = *state;
	struct pv_error err;
	int64_t *ids = (int64_t *)1;
	size_t n = 7;

	add_messages(c->db, 6);
	fx_must(dispose_pending_ids(c->db, &ids, &n, &err), &err, "pending, none");
	assert_null(ids);
	assert_int_equal(n, 0);
	run(c->db, "INSERT INTO disposals (id, state, policy_version, intent_at, holds_digest,"
		   " messages, actor) VALUES (1, 'done', 0, 50, 'h', 2, 'x'),"
		   " (2, 'intent', 0, 60, 'h', 3, 'x')");
	run(c->db, "INSERT INTO disposal_items (disposal_id, message_id, policy_version, rule,"
		   " expires_at) VALUES (1, 2, 0, 'default', 100), (1, 4, 0, 'default', 100),"
		   " (2, 6, 0, 'default', 100), (2, 1, 0, 'default', 100),"
		   " (2, 5, 0, 'default', 100)");
	fx_must(dispose_pending_ids(c->db, &ids, &n, &err), &err, "pending");
	assert_int_equal(n, 3); /* the done run's messages are not pending */
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 5);
	assert_int_equal(ids[2], 6);
	free(ids);
}

#define BOTH(t) FX_BOTH(t, setup, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_pending_ids_are_the_unfinished_runs_messages),
	};
	return fx_run_both("dispose_catalog", tests, sizeof(tests) / sizeof(tests[0]));
}
