/* The catalog rows of eDiscovery Bates numbers (archiver/store/bates_store)
 * and the hold lookups that read rows only (hold_active, hold_names_of,
 * holds_digest_at in archiver/archive/holds): a matter's numbering fixed
 * at its first export, numbers stable per message and matter, the next
 * one after the highest, assignment refused outside a write transaction,
 * disposed messages listed; rows never changed. Each case on SQLite and,
 * with PV_TEST_PG, on PostgreSQL. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "archiver/archive/holds.h"
#include "archiver/lib/db.h"
#include "archiver/store/bates_store.h"
#include "tests/unit/fixtures.h"

FX_CATALOG_SETUPS("batstore")

static void run(struct db *db, const char *sql)
{
	struct pv_error err;
	fx_must(db_exec(db, sql, &err), &err, sql);
}

/* Messages 1..n of one account in one bucket; those in disposed[] are
 * marked disposed of. */
static void messages(struct db *db, int n, const int *disposed, size_t n_disposed)
{
	struct pv_error err;
	struct db_stmt *st;
	unsigned char sha[32] = {0};
	run(db, "INSERT INTO accounts (id, name, host, port, tls, username, auth, secret,"
		" created_at) VALUES (1, 'a', 'h', 995, 'implicit', 'u', 'pass', 's', 1)");
	run(db, "INSERT INTO buckets (id, class, expiry_month) VALUES (1, 'default', '2032-01')");
	fx_must(db_prepare(db, "INSERT INTO messages (id, account_id, sha256, size, received_at,"
			       " bucket_id, leaf_index, retention_class) VALUES (?, 1, ?, 10, 1, 1, ?,"
			       " 'default')", &st, &err), &err, "prepare");
	for (int i = 1; i <= n; i++) {
		sha[0] = (unsigned char)i;
		db_bind_int64(st, 1, i);
		db_bind_blob(st, 2, sha, sizeof(sha));
		db_bind_int64(st, 3, i - 1);
		fx_must(db_step(st, &err) < 0 ? PV_ERR : PV_OK, &err, "message");
		db_reset(st);
	}
	db_finalize(&st);
	for (size_t i = 0; i < n_disposed; i++) {
		char sql[96];
		snprintf(sql, sizeof(sql), "UPDATE messages SET disposed_at = 50 WHERE id = %d",
			 disposed[i]);
		run(db, sql);
	}
}

/* The catalog of the case, with messages 1..10, 4 and 7 disposed of. */
static struct fx_catalog *with_messages(void **state)
{
	struct fx_catalog *f = *state;
	messages(f->db, 10, (const int[]){4, 7}, 2);
	return f;
}

static void test_matter_numbering_fixed_at_first_export(void **state)
{
	struct fx_catalog *f = with_messages(state);
	struct pv_error err;
	char prefix[16];
	int64_t start = 0;
	assert_int_equal(bates_store_matter_get(f->db, "M", prefix, sizeof(prefix), &start, &err),
			 PV_ENOTFOUND);
	fx_must(bates_store_matter_add(f->db, "M", "ABC-", 1000, "cli:t", 1, &err), &err, "add");
	fx_must(bates_store_matter_get(f->db, "M", prefix, sizeof(prefix), &start, &err), &err,
		"get");
	assert_string_equal(prefix, "ABC-");
	assert_int_equal(start, 1000);
	/* a second first export of the same matter is refused by its key */
	assert_true(bates_store_matter_add(f->db, "M", "XYZ", 1, "cli:t", 2, &err) < 0);
	assert_true(db_exec(f->db, "UPDATE export_matters SET bates_start = 5", &err) < 0);
}

static void test_numbers_stable_and_next_after_highest(void **state)
{
	struct fx_catalog *f = with_messages(state);
	struct pv_error err;
	int64_t nums[3], n = -2;
	size_t fresh = 0;
	fx_must(bates_store_matter_add(f->db, "M", "PV", 1, "cli:t", 1, &err), &err, "matter");
	fx_must(db_begin(f->db, &err), &err, "begin");
	fx_must(bates_store_assign(f->db, "M", 1, 1000, (int64_t[]){3, 5, 9}, 3, 2, nums, &fresh,
				   &err), &err, "assign");
	assert_int_equal(nums[0], 1);
	assert_int_equal(nums[1], 2);
	assert_int_equal(nums[2], 3);
	assert_int_equal(fresh, 3);
	/* again, overlapping: 5 keeps 2, the new ones follow the highest */
	fx_must(bates_store_assign(f->db, "M", 1, 1000, (int64_t[]){1, 5, 10}, 3, 3, nums, &fresh,
				   &err), &err, "again");
	assert_int_equal(nums[0], 4);
	assert_int_equal(nums[1], 2);
	assert_int_equal(nums[2], 5);
	assert_int_equal(fresh, 2);
	fx_must(db_commit(f->db, &err), &err, "commit");
	fx_must(bates_store_lookup(f->db, "M", 10, &n, &err), &err, "lookup");
	assert_int_equal(n, 5);
	fx_must(bates_store_lookup(f->db, "M", 2, &n, &err), &err, "lookup none");
	assert_int_equal(n, -1);
	assert_true(db_exec(f->db, "UPDATE export_bates SET number = 7", &err) < 0);
	assert_true(db_exec(f->db, "DELETE FROM export_bates", &err) < 0);
}

static void test_first_number_and_limit(void **state)
{
	struct fx_catalog *f = with_messages(state);
	struct pv_error err;
	int64_t nums[3];
	fx_must(bates_store_matter_add(f->db, "N", "N", 1000, "cli:t", 1, &err), &err, "matter");
	fx_must(db_begin(f->db, &err), &err, "begin");
	fx_must(bates_store_assign(f->db, "N", 1000, 1001, (int64_t[]){2}, 1, 1, nums, NULL, &err),
		&err, "assign");
	assert_int_equal(nums[0], 1000);
	assert_int_equal(bates_store_assign(f->db, "N", 1000, 1001, (int64_t[]){3, 5, 6}, 3, 1,
					    nums, NULL, &err), PV_ELIMIT);
	db_rollback(f->db);
}

static void test_assign_refused_outside_a_transaction(void **state)
{
	struct fx_catalog *f = with_messages(state);
	struct pv_error err;
	int64_t nums[1], n = 0;
	fx_must(bates_store_matter_add(f->db, "M", "PV", 1, "cli:t", 1, &err), &err, "matter");
	assert_int_equal(bates_store_assign(f->db, "M", 1, 1000, (int64_t[]){3}, 1, 1, nums, NULL,
					    &err), PV_ERR);
	assert_non_null(strstr(err.msg, "transaction"));
	fx_must(db_query_int(f->db, "SELECT count(*) FROM export_bates", &n, &err), &err, "count");
	assert_int_equal(n, 0);
}

/* A second connection to the catalog of the case: the same file, or the
 * same PostgreSQL schema. */
static struct db *second_connection(struct fx_catalog *f, struct catalog **cat_r)
{
	struct pv_error err;
	struct db *db = NULL;
	*cat_r = NULL;
	if (f->cat != NULL) {
		fx_must(catalog_open(f->dir, 0, cat_r, &err), &err, "second catalog");
		return (*cat_r)->conn;
	}
	struct db_stmt *st;
	char sql[128];
	fx_must(db_prepare(f->db, "SELECT current_schema()", &st, &err), &err, "schema");
	assert_int_equal(db_step(st, &err), DB_ROW);
	snprintf(sql, sizeof(sql), "SET search_path TO %s", db_column_text(st, 0));
	db_finalize(&st);
	fx_must(db_open(fx_pg_conninfo(), 0, &db, &err), &err, "second connection");
	run(db, sql);
	return db;
}

struct writer {
	struct db *db;
	int64_t number;
	int r;
	struct pv_error err;
};

static void *number_message_5(void *arg)
{
	struct writer *w = arg;
	if ((w->r = db_begin(w->db, &w->err)) == PV_OK &&
	    (w->r = bates_store_assign(w->db, "M", 1, 1000, (int64_t[]){5}, 1, 2, &w->number, NULL,
				       &w->err)) == PV_OK)
		w->r = db_commit(w->db, &w->err);
	if (w->r < 0)
		db_rollback(w->db);
	return NULL;
}

/* Two exports of one matter at once: the second writer waits for the
 * first one's transaction, then numbers after it (without the writers'
 * lock both would take number 1, and one would fail on its key). */
static void test_two_writers_number_in_turn(void **state)
{
	struct fx_catalog *f = with_messages(state);
	struct catalog *cat2;
	struct pv_error err;
	struct writer w = {0};
	pthread_t t;
	int64_t nums[2];
	fx_must(bates_store_matter_add(f->db, "M", "PV", 1, "cli:t", 1, &err), &err, "matter");
	w.db = second_connection(f, &cat2);
	fx_must(db_begin(f->db, &err), &err, "begin");
	fx_must(bates_store_assign(f->db, "M", 1, 1000, (int64_t[]){3}, 1, 1, nums, NULL, &err),
		&err, "first");
	assert_int_equal(pthread_create(&t, NULL, number_message_5, &w), 0);
	usleep(300 * 1000); /* the second writer is waiting for the lock by now */
	fx_must(bates_store_assign(f->db, "M", 1, 1000, (int64_t[]){4}, 1, 1, nums + 1, NULL, &err),
		&err, "second");
	fx_must(db_commit(f->db, &err), &err, "commit");
	assert_int_equal(pthread_join(t, NULL), 0);
	fx_must(w.r, &w.err, "the other writer");
	assert_int_equal(nums[0], 1);
	assert_int_equal(nums[1], 2);
	assert_int_equal(w.number, 3);
	if (cat2 != NULL)
		catalog_close(&cat2);
	else
		db_close(&w.db);
}

struct gone {
	int64_t ids[8], numbers[8];
	size_t n;
};

static int collect_gone(void *ctx, int64_t id, int64_t number)
{
	struct gone *g = ctx;
	g->ids[g->n] = id;
	g->numbers[g->n++] = number;
	return 0;
}

static void test_disposed_numbered_messages_listed(void **state)
{
	struct fx_catalog *f = with_messages(state);
	struct pv_error err;
	struct gone g = {0};
	int64_t nums[4];
	fx_must(bates_store_matter_add(f->db, "M", "PV", 1, "cli:t", 1, &err), &err, "matter");
	fx_must(db_begin(f->db, &err), &err, "begin");
	fx_must(bates_store_assign(f->db, "M", 1, 1000, (int64_t[]){2, 4, 7, 8}, 4, 1, nums, NULL,
				   &err), &err, "assign");
	fx_must(db_commit(f->db, &err), &err, "commit");
	fx_must(bates_store_disposed(f->db, "M", collect_gone, &g, &err), &err, "disposed");
	assert_int_equal(g.n, 2);
	assert_int_equal(g.ids[0], 4);
	assert_int_equal(g.numbers[0], 2);
	assert_int_equal(g.ids[1], 7);
	assert_int_equal(g.numbers[1], 3);
}

/* Holds 1 "Acme" (messages 1, 2), 2 "Beta" (message 2, released),
 * 3 "Gamma" (messages 2, 3). */
static void holds(struct db *db)
{
	run(db, "INSERT INTO holds (id, name, query, created_at, actor) VALUES"
		" (1, 'Acme', 'from:acme', 10, 'cli:t'), (2, 'Beta', 'beta', 11, 'cli:t'),"
		" (3, 'Gamma', 'gamma', 12, 'cli:t')");
	run(db, "UPDATE holds SET released_at = 20, released_by = 'cli:u' WHERE id = 2");
	run(db, "INSERT INTO hold_members (hold_id, message_id, added_at) VALUES"
		" (1, 1, 10), (1, 2, 10), (2, 2, 11), (3, 2, 12), (3, 3, 30)");
}

static void test_hold_lookups(void **state)
{
	struct fx_catalog *f = with_messages(state);
	struct pv_error err;
	int64_t id = 0, members = 0;
	char **names = NULL;
	size_t n = 0;
	holds(f->db);
	fx_must(hold_active(f->db, "Gamma", &id, &members, &err), &err, "active");
	assert_int_equal(id, 3);
	assert_int_equal(members, 2);
	assert_int_equal(hold_active(f->db, "Beta", &id, &members, &err), PV_ENOTFOUND);
	fx_must(hold_names_of(f->db, 2, &names, &n, &err), &err, "names");
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "Acme");
	assert_string_equal(names[1], "Gamma");
	hold_names_free(&names, n);
	fx_must(hold_names_of(f->db, 9, &names, &n, &err), &err, "none");
	assert_int_equal(n, 0);
	assert_null(names);
}

static void test_holds_digest_sees_members_up_to_a_time(void **state)
{
	struct fx_catalog *f = with_messages(state);
	struct pv_error err;
	char early[65], late[65], again[65];
	holds(f->db);
	fx_must(holds_digest_at(f->db, (int64_t[]){1, 3}, 2, 20, 0, early, &err), &err, "at 20");
	fx_must(holds_digest_at(f->db, (int64_t[]){1, 3}, 2, 40, 0, late, &err), &err, "at 40");
	fx_must(holds_digest_at(f->db, (int64_t[]){1, 3}, 2, 29, 0, again, &err), &err, "at 29");
	assert_string_not_equal(early, late); /* (3, 3) was added at 30 */
	assert_string_equal(early, again);
	/* A member recorded with the audit log's size counts by it, not by
	 * its time: (3, 3) joined when the log had 7 entries, its clock 30 */
	run(f->db, "UPDATE hold_members SET added_seq = 7 WHERE hold_id = 3 AND message_id = 3");
	fx_must(holds_digest_at(f->db, (int64_t[]){1, 3}, 2, 20, 7, again, &err), &err, "seq 7");
	assert_string_equal(again, late);
	fx_must(holds_digest_at(f->db, (int64_t[]){1, 3}, 2, 40, 6, again, &err), &err, "seq 6");
	assert_string_equal(again, early);
}

#define BOTH(t) FX_BOTH(t, setup, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_matter_numbering_fixed_at_first_export),
		BOTH(test_numbers_stable_and_next_after_highest),
		BOTH(test_first_number_and_limit),
		BOTH(test_assign_refused_outside_a_transaction),
		BOTH(test_two_writers_number_in_turn),
		BOTH(test_disposed_numbered_messages_listed),
		BOTH(test_hold_lookups),
		BOTH(test_holds_digest_sees_members_up_to_a_time),
	};
	return fx_run_both("bates_store", tests, sizeof(tests) / sizeof(tests[0]));
}
