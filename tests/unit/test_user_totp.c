/* The second factor's store (archiver/store/user_totp): a secret sealed
 * to its user (moved to another it does not open), each code's step
 * used once, the roles that need it. Each case on SQLite and, with
 * PV_TEST_PG, on PostgreSQL; the keyring is a file of its own either way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "archiver/lib/fsutil.h"
#include "archiver/store/catalog.h"
#include "archiver/lib/db.h"
#include "archiver/store/keyring.h"
#include "archiver/store/user_totp.h"
#include "archiver/store/users.h"
#include "tests/unit/fixtures.h"

struct fx {
	struct fx_catalog c;
	struct db *db; /* c.db */
	char keydir[64];
	struct keyring *kr; /* a file of its own in keydir */
	struct user alice, bob;
};

static int setup_on(void **state, bool pg)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pv_error err;
	char keys[96];
	bool changed;
	if (sodium_init() < 0 || f == NULL)
		return -1;
	user_pwhash_cost_for_tests();
	snprintf(f->keydir, sizeof(f->keydir), "/tmp/pv-utotpkr-XXXXXX");
	if (mkdtemp(f->keydir) == NULL)
		return -1;
	snprintf(keys, sizeof(keys), "%s/keys", f->keydir);
	fx_must(pv_mkdir(keys, 0700, 0, &err), &err, "mkdir keys");
	fx_must(keyring_create(f->keydir, &err), &err, "keyring");
	fx_must(keyring_open(f->keydir, &f->kr, &err), &err, "keyring open");
	fx_catalog_open(&f->c, "utotp", pg);
	f->db = f->c.db;
	fx_must(user_set(f->db, "alice", "admin", "a long password", false, 1, &changed, &err),
		&err, "alice");
	fx_must(user_set(f->db, "bob", "legal", "a long password", false, 1, &changed, &err),
		&err, "bob");
	fx_must(user_get(f->db, "alice", &f->alice, &err), &err, "get alice");
	fx_must(user_get(f->db, "bob", &f->bob, &err), &err, "get bob");
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
	fx_catalog_close(&f->c);
	keyring_free(&f->kr);
	fx_rmtree(f->keydir);
	free(f);
	return 0;
}

static void test_enrol_get_remove(void **state)
{
	struct fx *f = *state;
	unsigned char secret[TOTP_SECRET_BYTES], got[TOTP_SECRET_BYTES];
	struct pv_error err;
	bool enrolled = true;
	uint64_t last = 99;
	assert_int_equal(user_totp_get(f->db, f->kr, f->alice.id, &enrolled, got, &last, &err),
			 PV_OK);
	assert_false(enrolled);
	assert_int_equal(last, 0);
	assert_int_equal(user_totp_enrol(f->db, f->kr, "carol", secret, &err), PV_ENOTFOUND);
	assert_int_equal(user_totp_enrol(f->db, f->kr, "alice", secret, &err), PV_OK);
	assert_int_equal(user_totp_get(f->db, f->kr, f->alice.id, &enrolled, got, &last, &err),
			 PV_OK);
	assert_true(enrolled);
	assert_memory_equal(got, secret, TOTP_SECRET_BYTES);
	assert_int_equal(user_totp_get(f->db, f->kr, f->alice.id + 1000, &enrolled, got, &last,
				       &err), PV_ENOTFOUND);
	assert_int_equal(user_totp_remove(f->db, "alice", &err), PV_OK);
	assert_int_equal(user_totp_remove(f->db, "alice", &err), PV_ENOTFOUND);
	assert_int_equal(user_totp_get(f->db, f->kr, f->alice.id, &enrolled, got, &last, &err),
			 PV_OK);
	assert_false(enrolled);
}

static void test_secret_bound_to_its_user(void **state)
{
	struct fx *f = *state;
	unsigned char secret[TOTP_SECRET_BYTES], got[TOTP_SECRET_BYTES];
	struct pv_error err;
	bool enrolled;
	uint64_t last;
	assert_int_equal(user_totp_enrol(f->db, f->kr, "alice", secret, &err), PV_OK);
	fx_must(db_exec(f->db, "UPDATE users SET totp_secret = (SELECT totp_secret FROM users"
			       " WHERE name = 'alice') WHERE name = 'bob'", &err), &err, "move");
	assert_int_equal(user_totp_get(f->db, f->kr, f->bob.id, &enrolled, got, &last, &err),
			 PV_EINTEGRITY);
	assert_false(enrolled);
	assert_non_null(strstr(err.msg, "user bob: second factor"));
}

static void test_each_step_once(void **state)
{
	struct fx *f = *state;
	unsigned char secret[TOTP_SECRET_BYTES];
	struct pv_error err;
	bool enrolled;
	uint64_t last;
	assert_int_equal(user_totp_enrol(f->db, f->kr, "alice", secret, &err), PV_OK);
	assert_int_equal(user_totp_claim_step(f->db, f->alice.id, 5, &err), PV_OK);
	assert_int_equal(user_totp_claim_step(f->db, f->alice.id, 5, &err), PV_EAUTH);
	assert_int_equal(user_totp_claim_step(f->db, f->alice.id, 4, &err), PV_EAUTH);
	assert_int_equal(user_totp_claim_step(f->db, f->alice.id, 6, &err), PV_OK);
	assert_int_equal(user_totp_claim_step(f->db, f->bob.id, 5, &err), PV_OK); /* per user */
	assert_int_equal(user_totp_get(f->db, f->kr, f->alice.id, &enrolled, secret, &last, &err),
			 PV_OK);
	assert_int_equal(last, 6);
}

static void test_required_roles(void **state)
{
	struct fx *f = *state;
	char roles[USER_TOTP_ROLES_MAX];
	struct pv_error err;
	bool req;
	assert_int_equal(user_totp_required_roles(f->db, roles, &err), PV_OK);
	assert_string_equal(roles, "");
	assert_int_equal(user_totp_require(f->db, "legal,admin", roles, &err), PV_OK);
	assert_string_equal(roles, "admin,legal");
	assert_int_equal(user_totp_role_required(f->db, "admin", &req, &err), PV_OK);
	assert_true(req);
	assert_int_equal(user_totp_role_required(f->db, "compliance", &req, &err), PV_OK);
	assert_false(req);
	assert_int_equal(user_totp_require(f->db, "admin,bogus", roles, &err), PV_EUSAGE);
	assert_int_equal(user_totp_required_roles(f->db, roles, &err), PV_OK);
	assert_string_equal(roles, "admin,legal"); /* unchanged */
	assert_int_equal(user_totp_require(f->db, "none", NULL, &err), PV_OK);
	assert_int_equal(user_totp_role_required(f->db, "admin", &req, &err), PV_OK);
	assert_false(req);
}

#define BOTH(t) FX_BOTH(t, setup, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_enrol_get_remove),
		BOTH(test_secret_bound_to_its_user),
		BOTH(test_each_step_once),
		BOTH(test_required_roles),
	};
	return fx_run_both("user_totp", tests, sizeof(tests) / sizeof(tests[0]));
}
