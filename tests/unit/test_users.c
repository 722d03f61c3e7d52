/* Web users: Argon2id hashes only, roles checked, sign-in checks that
 * cannot be told apart for a wrong password and an unknown user. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "archiver/store/approvals.h"
#include "archiver/store/catalog.h"
#include "archiver/lib/db.h"
#include "archiver/store/users.h"
#include "tests/unit/fixtures.h"

struct fx {
	char dir[64];
	struct catalog *cat; /* SQLite; NULL on PostgreSQL */
	struct db *db;       /* cat->conn, or a PostgreSQL schema of its own */
};

static int setup_on(void **state, bool pg)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pv_error err;
	if (sodium_init() < 0 || f == NULL)
		return -1;
	/* the real cost: test_rehashed_when_parameters_change lowers it */
	user_pwhash_cost_default_for_tests();
	if (pg) {
		f->db = fx_pg_fresh(migrations_catalog_pg.count);
	} else {
		snprintf(f->dir, sizeof(f->dir), "/tmp/pv-users-XXXXXX");
		if (mkdtemp(f->dir) == NULL || catalog_open(f->dir, 1, &f->cat, &err) < 0)
			return -1;
		f->db = f->cat->conn;
	}
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

static void test_password_checked_and_never_stored(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct user u;
	bool changed;
	int64_t n;
	assert_int_equal(user_set(f->db, "alice", "legal", "correct horse battery", false, 1,
				  &changed, &err), PV_OK);
	assert_false(changed);
	assert_int_equal(user_check_password(f->db, "alice", "correct horse battery", &u, &err), PV_OK);
	assert_string_equal(u.role, "legal");
	assert_int_equal(user_check_password(f->db, "alice", "correct horse batterY", &u, &err), PV_EAUTH);
	assert_int_equal(user_check_password(f->db, "mallory", "correct horse battery", &u, &err), PV_EAUTH);
	assert_int_equal(db_query_int(f->db,
		"SELECT count(*) FROM users WHERE password_hash LIKE '$argon2id$%'", &n, &err), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(db_query_int(f->db,
		"SELECT count(*) FROM users WHERE password_hash LIKE '%horse%'", &n, &err), PV_OK);
	assert_int_equal(n, 0);
}

static void test_duplicate_needs_replace_then_changes(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct user u;
	bool changed;
	assert_int_equal(user_set(f->db, "bob", "admin", "first password!", false, 1, &changed, &err), PV_OK);
	assert_int_equal(user_set(f->db, "bob", "compliance", "second password", false, 2, &changed, &err), PV_ERR);
	assert_int_equal(user_set(f->db, "bob", "compliance", "second password", true, 2, &changed, &err), PV_OK);
	assert_true(changed);
	assert_int_equal(user_check_password(f->db, "bob", "first password!", &u, &err), PV_EAUTH);
	assert_int_equal(user_check_password(f->db, "bob", "second password", &u, &err), PV_OK);
	assert_string_equal(u.role, "compliance");
}

static void test_retired_user_cannot_sign_in(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct user u;
	bool changed;
	assert_int_equal(user_set(f->db, "carol", "legal", "a long password", false, 1, &changed, &err), PV_OK);
	assert_int_equal(user_retire(f->db, "carol", 5, &err), PV_OK);
	assert_int_equal(user_retire(f->db, "carol", 6, &err), PV_ENOTFOUND);
	assert_int_equal(user_check_password(f->db, "carol", "a long password", &u, &err), PV_EAUTH);
}

static void test_bad_names_roles_and_short_passwords_refused(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	bool changed;
	assert_int_equal(user_validate("", "legal", &err), PV_EUSAGE);
	assert_int_equal(user_validate("a b", "legal", &err), PV_EUSAGE);
	assert_int_equal(user_validate("x';--", "legal", &err), PV_EUSAGE);
	assert_int_equal(user_validate("dave", "root", &err), PV_EUSAGE);
	assert_int_equal(user_validate("dave@example.org", "compliance", &err), PV_OK);
	assert_int_equal(user_set(f->db, "dave", "legal", "short", false, 1, &changed, &err), PV_EUSAGE);
}

static void test_passwd_changes_password_and_moves_changed_at(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct user u;
	bool changed;
	assert_int_equal(user_set(f->db, "erin", "legal", "first long password", false, 10,
				  &changed, &err), PV_OK);
	assert_int_equal(user_set_password(f->db, "erin", "short", 20, &err), PV_EUSAGE);
	assert_int_equal(user_set_password(f->db, "nobody", "second long password", 20, &err),
			 PV_ENOTFOUND);
	assert_int_equal(user_set_password(f->db, "erin", "second long password", 20, &err), PV_OK);
	assert_int_equal(user_check_password(f->db, "erin", "first long password", &u, &err), PV_EAUTH);
	assert_int_equal(user_check_password(f->db, "erin", "second long password", &u, &err), PV_OK);
	assert_int_equal(u.changed_at, 20);
	assert_int_equal(user_set_password(f->db, "erin", "third long password", 20, &err), PV_OK);
	assert_int_equal(user_check_password(f->db, "erin", "third long password", &u, &err), PV_OK);
	assert_int_equal(u.changed_at, 21); /* strictly later, even within one second */
	/* Requiring a second factor in that same second ends the sessions too
	 * (it once wrote 21 again: the session of a password changed just
	 * before lived on without one). */
	assert_int_equal(user_end_sessions_without_totp(f->db, "legal", 21, &err), PV_OK);
	assert_int_equal(user_get(f->db, "erin", &u, &err), PV_OK);
	assert_int_equal(u.changed_at, 22);
	assert_int_equal(user_end_sessions_without_totp(f->db, "admin", 21, &err), PV_OK);
	assert_int_equal(user_get(f->db, "erin", &u, &err), PV_OK);
	assert_int_equal(u.changed_at, 22); /* another role's: untouched */
	/* A change of role and password (add --replace) in that second too
	 * (it wrote 21 again), and a set-up begun before it is gone. */
	struct db_stmt *st;
	static const unsigned char junk[1] = {0};
	assert_int_equal(db_prepare(f->db, "UPDATE users SET totp_pending = ? WHERE name = 'erin'",
				    &st, &err), PV_OK);
	db_bind_blob(st, 1, junk, sizeof(junk));
	assert_int_equal(db_step(st, &err), DB_DONE);
	db_finalize(&st);
	assert_int_equal(user_set(f->db, "erin", "compliance", "fourth long password", true, 21,
				  &changed, &err), PV_OK);
	assert_true(changed);
	assert_int_equal(user_get(f->db, "erin", &u, &err), PV_OK);
	assert_int_equal(u.changed_at, 23);
	assert_false(u.totp_pending);
}

/* Last: it lowers the Argon2id cost for the whole process. */
static void test_rehashed_when_parameters_change(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct user u;
	bool changed;
	int64_t n;
	assert_int_equal(user_set(f->db, "fred", "legal", "a long password", false, 1, &changed,
				  &err), PV_OK);
	user_pwhash_cost_for_tests();
	assert_int_equal(db_query_int(f->db, "SELECT count(*) FROM users WHERE name = 'fred'"
				" AND password_hash LIKE '$argon2id$v=19$m=65536,%'", &n, &err), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(user_check_password(f->db, "fred", "wrong password!", &u, &err), PV_EAUTH);
	assert_int_equal(db_query_int(f->db, "SELECT count(*) FROM users WHERE name = 'fred'"
				" AND password_hash LIKE '$argon2id$v=19$m=65536,%'", &n, &err), PV_OK);
	assert_int_equal(n, 1); /* a wrong password changes nothing */
	assert_int_equal(user_check_password(f->db, "fred", "a long password", &u, &err), PV_OK);
	assert_int_equal(db_query_int(f->db, "SELECT count(*) FROM users WHERE name = 'fred'"
				" AND password_hash LIKE '$argon2id$v=19$m=65536,%'", &n, &err), PV_OK);
	assert_int_equal(n, 0);
	assert_int_equal(u.changed_at, 0); /* not a change: sessions stay */
	assert_int_equal(user_check_password(f->db, "fred", "a long password", &u, &err), PV_OK);
}

/* The approval an account waits for (migration 22) comes back with its
 * state, read from the approvals table; a user without one reads 0, "".
 * The table takes the kind user-access. */
static void test_access_approval_and_its_state(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct approval_row row;
	struct user u;
	bool changed;
	int64_t id = 0;
	fx_must(user_set(f->db, "lena", "legal", "a long password", false, 1, &changed, &err), &err,
		"lena");
	fx_must(user_get(f->db, "lena", &u, &err), &err, "get");
	assert_int_equal(u.access_approval, 0);
	assert_string_equal(u.access_state, "");
	memset(&row, 0, sizeof(row));
	snprintf(row.kind, sizeof(row.kind), "user-access");
	row.payload = (unsigned char *)"lena";
	row.payload_len = 4;
	snprintf(row.payload_sha256, sizeof(row.payload_sha256), "%064d", 0);
	snprintf(row.summary, sizeof(row.summary), "let lena sign in");
	snprintf(row.proposer, sizeof(row.proposer), "web:adam");
	snprintf(row.proposer_role, sizeof(row.proposer_role), "admin");
	row.created_at = 2;
	fx_must(approval_store_add(f->db, &row, &id, &err), &err, "add");
	fx_must(user_set_access_approval(f->db, "lena", id, &err), &err, "wait");
	fx_must(user_get(f->db, "lena", &u, &err), &err, "get");
	assert_int_equal(u.access_approval, id);
	assert_string_equal(u.access_state, "pending");
	fx_must(approval_store_decide(f->db, id, "rejected", "web:carl", "compliance", "no", 3, false,
				      NULL, &err), &err, "reject");
	fx_must(user_get(f->db, "lena", &u, &err), &err, "get");
	assert_string_equal(u.access_state, "rejected");
	/* the sign-in's read carries both */
	memset(&u, 0, sizeof(u));
	fx_must(user_check_password(f->db, "lena", "a long password", &u, &err), &err, "check");
	assert_int_equal(u.access_approval, id);
	assert_string_equal(u.access_state, "rejected");
	assert_int_equal(user_set_access_approval(f->db, "nobody", id, &err), PV_ENOTFOUND);
}

/* Every setting of a password by someone else is kept in order
 * (user_vouches); the last before a given row is found, among those from
 * before migration 22 (at 0) alone when asked; none: PV_ENOTFOUND. */
static void test_vouch_history(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	char actor[64];
	int64_t id = 0, first = 0;
	bool timed = false, changed;
	fx_must(user_set(f->db, "lena", "legal", "a long password", false, 1, &changed, &err), &err,
		"lena");
	fx_must(db_exec(f->db, "INSERT INTO user_vouches (name, actor, at) VALUES"
			       " ('lena', 'web:old', 0)", &err), &err, "untimed");
	fx_must(user_vouch(f->db, "lena", "web:adam", 10, &err), &err, "adam");
	fx_must(user_vouch(f->db, "lena", "web:bob", 20, &err), &err, "bob");
	assert_int_equal(user_vouch(f->db, "nobody", "web:bob", 20, &err), PV_ENOTFOUND);
	fx_must(user_vouch_before(f->db, "lena", INT64_MAX, false, &id, &timed, actor, sizeof(actor),
				  &err), &err, "last");
	assert_string_equal(actor, "web:bob");
	assert_true(timed);
	fx_must(user_vouch_before(f->db, "lena", id, false, &id, &timed, actor, sizeof(actor), &err),
		&err, "before bob");
	assert_string_equal(actor, "web:adam");
	first = id;
	fx_must(user_vouch_before(f->db, "lena", first, false, &id, &timed, actor, sizeof(actor),
				  &err), &err, "before adam");
	assert_string_equal(actor, "web:old");
	assert_false(timed);
	fx_must(user_vouch_before(f->db, "lena", INT64_MAX, true, &id, &timed, actor, sizeof(actor),
				  &err), &err, "untimed only");
	assert_string_equal(actor, "web:old");
	assert_int_equal(user_vouch_before(f->db, "lena", id, false, &id, &timed, actor,
					   sizeof(actor), &err), PV_ENOTFOUND);
	struct user u;
	fx_must(user_get(f->db, "lena", &u, &err), &err, "get");
	assert_string_equal(u.set_by, "web:bob");
	assert_true(db_exec(f->db, "DELETE FROM user_vouches", &err) < 0);
}

#define BOTH(t) FX_BOTH(t, setup, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_password_checked_and_never_stored),
		BOTH(test_duplicate_needs_replace_then_changes),
		BOTH(test_retired_user_cannot_sign_in),
		BOTH(test_bad_names_roles_and_short_passwords_refused),
		BOTH(test_passwd_changes_password_and_moves_changed_at),
		BOTH(test_rehashed_when_parameters_change),
		BOTH(test_access_approval_and_its_state),
		BOTH(test_vouch_history),
	};
	return fx_run_both("users", tests, sizeof(tests) / sizeof(tests[0]));
}
