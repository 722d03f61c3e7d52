/* Web sessions in the catalog (archiver/store/sessions): found by the
 * token's hash only, ended by removing the user or changing their role or
 * password, pruned by age, and capped per user. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "archiver/store/catalog.h"
#include "archiver/lib/db.h"
#include "archiver/store/sessions.h"
#include "archiver/store/users.h"
#include "tests/unit/fixtures.h"

struct fx {
	char dir[64];
	struct catalog *cat; /* SQLite; NULL on PostgreSQL */
	struct db *db;       /* cat->conn, or a PostgreSQL schema of its own */
	struct user u;
};

static void token_of(int n, unsigned char hash[SESSION_HASH_BYTES])
{
	unsigned char token[SESSION_TOKEN_BYTES];
	memset(token, n, sizeof(token));
	session_token_hash(token, hash);
}

/* Alice, signed in, on a catalog: SQLite in a data directory, or (pg)
 * a PostgreSQL schema of its own migrated the same way. */
static int setup_on(void **state, bool pg)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pv_error err;
	bool changed;
	if (sodium_init() < 0 || f == NULL)
		return -1;
	user_pwhash_cost_for_tests();
	if (pg) {
		f->db = fx_pg_fresh(migrations_catalog_pg.count);
	} else {
		snprintf(f->dir, sizeof(f->dir), "/tmp/pv-sessions-XXXXXX");
		if (mkdtemp(f->dir) == NULL || catalog_open(f->dir, 1, &f->cat, &err) < 0)
			return -1;
		f->db = f->cat->conn;
	}
	if (user_set(f->db, "alice", "legal", "a long password", false, 1, &changed, &err) < 0 ||
	    user_check_password(f->db, "alice", "a long password", &f->u, &err) < 0)
		return -1;
	*state = f;
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
	struct fx *f = *state;
	if (f->cat != NULL) {
		catalog_close(&f->cat);
		fx_rmtree(f->dir);
	} else {
		db_close(&f->db);
	}
	free(f);
	return 0;
}

static void test_found_by_hash_not_by_token(void **state)
{
	struct fx *f = *state;
	unsigned char h1[SESSION_HASH_BYTES], h2[SESSION_HASH_BYTES];
	struct web_session s;
	struct pv_error err;
	int64_t n;
	token_of(1, h1);
	token_of(2, h2);
	assert_int_equal(session_create(f->db, h1, &f->u, 5000, 16, &err), PV_OK);
	assert_int_equal(session_find(f->db, h1, &s, &err), PV_OK);
	assert_string_equal(s.user, "alice");
	assert_string_equal(s.role, "legal");
	assert_int_equal(s.created_ms, 5000);
	assert_int_equal(session_find(f->db, h2, &s, &err), PV_ENOTFOUND);
	unsigned char token[SESSION_TOKEN_BYTES];
	struct db_stmt *st;
	memset(token, 1, sizeof(token));
	fx_must(db_prepare(f->db, "SELECT count(*) FROM web_sessions WHERE token_hash = ?", &st,
			   &err), &err, "prepare");
	db_bind_blob(st, 1, token, sizeof(token));
	assert_int_equal(db_step(st, &err), DB_ROW);
	n = db_column_int64(st, 0);
	db_finalize(&st);
	assert_int_equal(n, 0); /* the token itself is nowhere */
	assert_int_equal(session_touch(f->db, h1, 7000, &err), PV_OK);
	assert_int_equal(session_touch(f->db, h1, 6000, &err), PV_OK); /* never back */
	assert_int_equal(session_find(f->db, h1, &s, &err), PV_OK);
	assert_int_equal(s.last_seen_ms, 7000);
	assert_int_equal(session_delete(f->db, h1, &err), PV_OK);
	assert_int_equal(session_delete(f->db, h1, &err), PV_ENOTFOUND);
}

static void test_role_password_or_removal_end_sessions(void **state)
{
	struct fx *f = *state;
	unsigned char h[SESSION_HASH_BYTES];
	struct web_session s;
	struct pv_error err;
	struct user u;
	bool changed;
	token_of(3, h);
	assert_int_equal(session_create(f->db, h, &f->u, 1, 16, &err), PV_OK);
	assert_int_equal(user_set_password(f->db, "alice", "another long one", 1, &err), PV_OK);
	assert_int_equal(session_find(f->db, h, &s, &err), PV_ENOTFOUND);
	/* Twice in the same second still moves changed_at. */
	assert_int_equal(user_check_password(f->db, "alice", "another long one", &u, &err), PV_OK);
	assert_int_equal(session_create(f->db, h, &u, 1, 16, &err), PV_ERR); /* same hash */
	token_of(4, h);
	assert_int_equal(session_create(f->db, h, &u, 1, 16, &err), PV_OK);
	assert_int_equal(user_set_password(f->db, "alice", "a third long one", 1, &err), PV_OK);
	assert_int_equal(session_find(f->db, h, &s, &err), PV_ENOTFOUND);

	assert_int_equal(user_check_password(f->db, "alice", "a third long one", &u, &err), PV_OK);
	token_of(5, h);
	assert_int_equal(session_create(f->db, h, &u, 1, 16, &err), PV_OK);
	assert_int_equal(user_set(f->db, "alice", "admin", "a third long one", true, 99,
				  &changed, &err), PV_OK);
	assert_int_equal(session_find(f->db, h, &s, &err), PV_ENOTFOUND);

	assert_int_equal(user_check_password(f->db, "alice", "a third long one", &u, &err), PV_OK);
	token_of(6, h);
	assert_int_equal(session_create(f->db, h, &u, 1, 16, &err), PV_OK);
	assert_int_equal(session_find(f->db, h, &s, &err), PV_OK);
	assert_int_equal(user_retire(f->db, "alice", 100, &err), PV_OK);
	assert_int_equal(session_find(f->db, h, &s, &err), PV_ENOTFOUND);
	assert_int_equal(session_prune(f->db, 0, 0, &err), PV_OK);
	int64_t n;
	assert_int_equal(db_query_int(f->db, "SELECT count(*) FROM web_sessions", &n, &err),
			 PV_OK);
	assert_int_equal(n, 0); /* dead sessions are pruned */
}

static void test_pruned_by_age_and_capped_per_user(void **state)
{
	struct fx *f = *state;
	unsigned char h[SESSION_HASH_BYTES];
	struct web_session s;
	struct pv_error err;
	int64_t n;
	for (int i = 0; i < 10; i++) {
		token_of(10 + i, h);
		assert_int_equal(session_create(f->db, h, &f->u, 1000 * i, 4, &err), PV_OK);
	}
	assert_int_equal(db_query_int(f->db, "SELECT count(*) FROM web_sessions", &n, &err),
			 PV_OK);
	assert_int_equal(n, 4);
	token_of(19, h);
	assert_int_equal(session_find(f->db, h, &s, &err), PV_OK); /* the newest stay */
	token_of(10, h);
	assert_int_equal(session_find(f->db, h, &s, &err), PV_ENOTFOUND);
	token_of(18, h);
	assert_int_equal(session_touch(f->db, h, 20000, &err), PV_OK);
	assert_int_equal(session_prune(f->db, 10000, 0, &err), PV_OK); /* idle */
	assert_int_equal(db_query_int(f->db, "SELECT count(*) FROM web_sessions", &n, &err),
			 PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(session_prune(f->db, 0, 9000, &err), PV_OK); /* too old */
	assert_int_equal(db_query_int(f->db, "SELECT count(*) FROM web_sessions", &n, &err),
			 PV_OK);
	assert_int_equal(n, 0);
}

#define BOTH(t) FX_BOTH(t, setup, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_found_by_hash_not_by_token),
		BOTH(test_role_password_or_removal_end_sessions),
		BOTH(test_pruned_by_age_and_capped_per_user),
	};
	return fx_run_both("sessions", tests, sizeof(tests) / sizeof(tests[0]));
}
