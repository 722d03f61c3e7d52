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

#include "archiver/store/catalog.h"
#include "archiver/store/users.h"

struct fx {
	char dir[64];
	struct catalog *cat;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pv_error err;
	if (sodium_init() < 0 || f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pv-users-XXXXXX");
	if (mkdtemp(f->dir) == NULL || catalog_open(f->dir, 1, &f->cat, &err) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	catalog_close(&f->cat);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

static void test_password_checked_and_never_stored(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct user u;
	bool changed;
	int64_t n;
	assert_int_equal(user_set(f->cat->db, "alice", "legal", "correct horse battery", false, 1,
				  &changed, &err), PV_OK);
	assert_false(changed);
	assert_int_equal(user_check_password(f->cat->db, "alice", "correct horse battery", &u, &err), PV_OK);
	assert_string_equal(u.role, "legal");
	assert_int_equal(user_check_password(f->cat->db, "alice", "correct horse batterY", &u, &err), PV_EAUTH);
	assert_int_equal(user_check_password(f->cat->db, "mallory", "correct horse battery", &u, &err), PV_EAUTH);
	assert_int_equal(catalog_query_int(f->cat->db,
		"SELECT count(*) FROM users WHERE password_hash LIKE '$argon2id$%'", &n, &err), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(catalog_query_int(f->cat->db,
		"SELECT count(*) FROM users WHERE instr(password_hash, 'horse') > 0", &n, &err), PV_OK);
	assert_int_equal(n, 0);
}

static void test_duplicate_needs_replace_then_changes(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct user u;
	bool changed;
	assert_int_equal(user_set(f->cat->db, "bob", "admin", "first password!", false, 1, &changed, &err), PV_OK);
	assert_int_equal(user_set(f->cat->db, "bob", "compliance", "second password", false, 2, &changed, &err), PV_ERR);
	assert_int_equal(user_set(f->cat->db, "bob", "compliance", "second password", true, 2, &changed, &err), PV_OK);
	assert_true(changed);
	assert_int_equal(user_check_password(f->cat->db, "bob", "first password!", &u, &err), PV_EAUTH);
	assert_int_equal(user_check_password(f->cat->db, "bob", "second password", &u, &err), PV_OK);
	assert_string_equal(u.role, "compliance");
}

static void test_retired_user_cannot_sign_in(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct user u;
	bool changed;
	assert_int_equal(user_set(f->cat->db, "carol", "legal", "a long password", false, 1, &changed, &err), PV_OK);
	assert_int_equal(user_retire(f->cat->db, "carol", 5, &err), PV_OK);
	assert_int_equal(user_retire(f->cat->db, "carol", 6, &err), PV_ENOTFOUND);
	assert_int_equal(user_check_password(f->cat->db, "carol", "a long password", &u, &err), PV_EAUTH);
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
	assert_int_equal(user_set(f->cat->db, "dave", "legal", "short", false, 1, &changed, &err), PV_EUSAGE);
}

static void test_passwd_changes_password_and_moves_changed_at(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct user u;
	bool changed;
	assert_int_equal(user_set(f->cat->db, "erin", "legal", "first long password", false, 10,
				  &changed, &err), PV_OK);
	assert_int_equal(user_set_password(f->cat->db, "erin", "short", 20, &err), PV_EUSAGE);
	assert_int_equal(user_set_password(f->cat->db, "nobody", "second long password", 20, &err),
			 PV_ENOTFOUND);
	assert_int_equal(user_set_password(f->cat->db, "erin", "second long password", 20, &err), PV_OK);
	assert_int_equal(user_check_password(f->cat->db, "erin", "first long password", &u, &err), PV_EAUTH);
	assert_int_equal(user_check_password(f->cat->db, "erin", "second long password", &u, &err), PV_OK);
	assert_int_equal(u.changed_at, 20);
	assert_int_equal(user_set_password(f->cat->db, "erin", "third long password", 20, &err), PV_OK);
	assert_int_equal(user_check_password(f->cat->db, "erin", "third long password", &u, &err), PV_OK);
	assert_int_equal(u.changed_at, 21); /* strictly later, even within one second */
}

/* Last: it lowers the Argon2id cost for the whole process. */
static void test_rehashed_when_parameters_change(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct user u;
	bool changed;
	int64_t n;
	assert_int_equal(user_set(f->cat->db, "fred", "legal", "a long password", false, 1, &changed,
				  &err), PV_OK);
	user_pwhash_cost_for_tests();
	assert_int_equal(catalog_query_int(f->cat->db, "SELECT count(*) FROM users WHERE name = 'fred'"
				" AND password_hash LIKE '$argon2id$v=19$m=65536,%'", &n, &err), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(user_check_password(f->cat->db, "fred", "wrong password!", &u, &err), PV_EAUTH);
	assert_int_equal(catalog_query_int(f->cat->db, "SELECT count(*) FROM users WHERE name = 'fred'"
				" AND password_hash LIKE '$argon2id$v=19$m=65536,%'", &n, &err), PV_OK);
	assert_int_equal(n, 1); /* a wrong password changes nothing */
	assert_int_equal(user_check_password(f->cat->db, "fred", "a long password", &u, &err), PV_OK);
	assert_int_equal(catalog_query_int(f->cat->db, "SELECT count(*) FROM users WHERE name = 'fred'"
				" AND password_hash LIKE '$argon2id$v=19$m=65536,%'", &n, &err), PV_OK);
	assert_int_equal(n, 0);
	assert_int_equal(u.changed_at, 0); /* not a change: sessions stay */
	assert_int_equal(user_check_password(f->cat->db, "fred", "a long password", &u, &err), PV_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_checked_and_never_stored),
		cmocka_unit_test(test_duplicate_needs_replace_then_changes),
		cmocka_unit_test(test_retired_user_cannot_sign_in),
		cmocka_unit_test(test_bad_names_roles_and_short_passwords_refused),
		cmocka_unit_test(test_passwd_changes_password_and_moves_changed_at),
		cmocka_unit_test(test_rehashed_when_parameters_change),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
