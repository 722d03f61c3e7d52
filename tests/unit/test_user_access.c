/* Unit tests for access to mail granted in the web
 * (archiver/archive/user_access.c): a legal account made, a role made
 * legal or a legal user's password set by a web admin waits for a
 * compliance officer's approval; the command line, a user's own change and
 * other roles do not; a new request withdraws the one before, removing the
 * user withdraws theirs; approving one that no longer stands fails and
 * changes nothing; every step is in the audit log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "archiver/archive/approvals.h"
#include "archiver/archive/users.h"
#include "test_ops_fixture.h"

#define PW "a password of some length"

static struct user get(struct fx *f, const char *name)
{
	struct user u;
	struct pv_error err;
	fx_must(archive_user_get(f->ar, name, &u, &err), &err, name);
	return u;
}

static struct approval_row row_of(struct fx *f, int64_t id)
{
	struct approval_row row;
	struct pv_error err;
	fx_must(approval_get(f->ar, id, true, &row, &err), &err, "approval");
	return row;
}

/* approval_decide's result, the outcome freed. */
static int decide(struct fx *f, const char *actor, const char *role, int64_t id, bool approve,
		  const char *reason, struct pv_error *err)
{
	struct approval_outcome out;
	int r = approval_decide(f->ar, actor, role, id, approve, reason, false, &out, err);
	approval_outcome_free(&out);
	return r;
}

static int count_row(void *ctx, const struct approval_row *row)
{
	(void)ctx;
	(void)row;
	return 0;
}

static void users(struct fx *f)
{
	struct pv_error err;
	fx_must(archive_user_add(f->ar, "cli:root", "adam", "admin", PW, false, false, NULL, &err),
		&err, "adam");
	fx_must(archive_user_add(f->ar, "cli:root", "carl", "compliance", PW, false, false, NULL, &err),
		&err, "carl");
}

/* A legal account made in the web cannot sign in until a compliance
 * officer independent of its maker approves; then it can. */
static void test_new_legal_account_waits_for_compliance(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	fx_init(&f);
	users(&f);
	fx_must(archive_user_add(f.ar, "web:adam", "sock", "compliance", PW, false, false, NULL, &err),
		&err, "sock");
	assert_true(get(&f, "sock").access_approval > 0); /* compliance: it waits too */
	fx_must(archive_user_add(f.ar, "web:adam", "lena", "legal", PW, false, false, NULL, &err),
		&err, "lena");
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "approval-propose");
	assert_string_equal(e.actor, "web:adam");
	assert_non_null(strstr(e.object, "kind=user-access"));
	assert_non_null(strstr(e.object, "role=admin"));
	struct user u = get(&f, "lena");
	assert_true(u.access_approval > 0);
	assert_string_equal(u.access_state, "pending");
	struct approval_row row = row_of(&f, u.access_approval);
	assert_string_equal(row.kind, "user-access");
	assert_string_equal(row.proposer, "web:adam");
	assert_memory_equal(row.payload, "lena", 4);
	assert_int_equal(row.payload_len, 4);
	assert_non_null(strstr(row.summary, "let lena sign in with the role legal"));
	approval_row_free(&row);
	/* not proposed on its own */
	struct approval_proposal prop;
	assert_int_equal(approval_propose(f.ar, "web:adam", "admin", APPROVAL_USER_ACCESS, "lena", 4,
					  NULL, NULL, &prop, &err), PV_EUSAGE);
	approval_proposal_free(&prop);
	/* not by the maker, nor legal, nor an account the maker set up */
	assert_int_equal(decide(&f, "web:adam", "admin", u.access_approval, true, NULL, &err),
			 PV_EPERM);
	assert_int_equal(decide(&f, "web:lena", "legal", u.access_approval, true, NULL, &err),
			 PV_EPERM);
	assert_int_equal(decide(&f, "web:sock", "compliance", u.access_approval, true, NULL, &err),
			 PV_EPERM);
	assert_non_null(strstr(err.msg, "are not two people"));
	assert_int_equal(get(&f, "lena").access_approval, u.access_approval);
	/* by an independent compliance officer */
	fx_must(decide(&f, "web:carl", "compliance", u.access_approval, true, "on the legal team",
		       &err), &err, "carl approves");
	assert_int_equal(get(&f, "lena").access_approval, 0);
	e = ops_audit_last(&f);
	assert_string_equal(e.type, "user-change");
	assert_non_null(strstr(e.object, "user=lena access=granted"));
	assert_string_equal(e.actor, "web:carl");
	row = row_of(&f, u.access_approval);
	assert_string_equal(row.state, "approved");
	assert_string_equal(row.result, "access granted");
	approval_row_free(&row);
	/* her own password change asks for nothing */
	fx_must(archive_user_passwd(f.ar, "web:lena", "lena", "her very own password", false, &err),
		&err, "own");
	assert_int_equal(get(&f, "lena").access_approval, 0);
	fx_free(&f);
}

/* A legal user's password set by an admin asks again; a second request
 * withdraws the first (which can no longer be approved); a rejection
 * keeps the account shut. */
static void test_reset_asks_again_and_supersedes(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	fx_init(&f);
	users(&f);
	fx_must(archive_user_add(f.ar, "cli:root", "lena", "legal", PW, false, false, NULL, &err),
		&err, "lena");
	assert_int_equal(get(&f, "lena").access_approval, 0); /* root's */
	fx_must(archive_user_passwd(f.ar, "web:adam", "lena", "reset by adam, one", true, &err),
		&err, "reset");
	int64_t first = get(&f, "lena").access_approval;
	assert_true(first > 0);
	fx_must(archive_user_passwd(f.ar, "web:adam", "lena", "reset by adam, two", true, &err),
		&err, "reset again");
	int64_t second = get(&f, "lena").access_approval;
	assert_true(second > first);
	struct approval_row row = row_of(&f, first);
	assert_string_equal(row.state, "rejected");
	assert_string_equal(row.decided_by, "web:adam");
	assert_non_null(strstr(row.decision_reason, "superseded"));
	approval_row_free(&row);
	assert_int_equal(decide(&f, "web:carl", "compliance", first, true, NULL, &err), PV_ERR);
	assert_int_equal(get(&f, "lena").access_approval, second);
	/* rejected: shut until someone asks again */
	fx_must(decide(&f, "web:carl", "compliance", second, false, "nobody asked for a reset", &err),
		&err, "reject");
	struct user u = get(&f, "lena");
	assert_int_equal(u.access_approval, second);
	assert_string_equal(u.access_state, "rejected");
	/* the command line (root) opens it; nothing pending to withdraw */
	fx_must(archive_user_passwd(f.ar, "cli:root", "lena", "set by root here", false, &err), &err,
		"root");
	assert_int_equal(get(&f, "lena").access_approval, 0);
	fx_free(&f);
}

/* A role made legal asks; made something else again, the request is
 * withdrawn and the account opens (it reads no mail). Removing a user
 * withdraws theirs, and approving it then fails. */
static void test_role_and_removal_withdraw(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	fx_init(&f);
	users(&f);
	fx_must(archive_user_add(f.ar, "cli:root", "otto", "compliance", PW, false, false, NULL, &err),
		&err, "otto");
	fx_must(archive_user_set_role(f.ar, "web:adam", "otto", "legal", &err), &err, "legal");
	int64_t id = get(&f, "otto").access_approval;
	assert_true(id > 0);
	fx_must(archive_user_set_role(f.ar, "web:adam", "otto", "admin", &err), &err, "admin");
	assert_int_equal(get(&f, "otto").access_approval, 0);
	struct approval_row row = row_of(&f, id);
	assert_string_equal(row.state, "rejected");
	approval_row_free(&row);
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "approval-reject");
	/* removal */
	fx_must(archive_user_set_role(f.ar, "web:adam", "otto", "legal", &err), &err, "legal again");
	id = get(&f, "otto").access_approval;
	fx_must(archive_user_remove(f.ar, "web:adam", "otto", &err), &err, "remove");
	row = row_of(&f, id);
	assert_string_equal(row.state, "rejected");
	assert_string_equal(row.decision_reason, "the user was removed");
	approval_row_free(&row);
	assert_int_equal(decide(&f, "web:carl", "compliance", id, true, NULL, &err), PV_ERR);
	/* a user of that name made again starts afresh */
	fx_must(archive_user_add(f.ar, "cli:root", "otto", "legal", PW, false, false, NULL, &err),
		&err, "otto again");
	assert_int_equal(get(&f, "otto").access_approval, 0);
	fx_free(&f);
}

/* An approval whose account was asked for anew (written around the
 * withdrawal, as a concurrent change would leave it) is refused and
 * changes nothing; the decision is not recorded either. */
static void test_stale_approval_changes_nothing(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	fx_init(&f);
	users(&f);
	fx_must(archive_user_add(f.ar, "web:adam", "lena", "legal", PW, false, false, NULL, &err),
		&err, "lena");
	int64_t id = get(&f, "lena").access_approval;
	fx_must(user_set_access_approval(f.ar->cat->conn, "lena", id + 100, &err), &err, "moved");
	uint64_t before = ops_audit_size(&f);
	assert_int_equal(decide(&f, "web:carl", "compliance", id, true, NULL, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "no longer stands"));
	assert_int_equal(ops_audit_size(&f), before);
	struct approval_row row = row_of(&f, id);
	assert_string_equal(row.state, "pending");
	approval_row_free(&row);
	assert_int_equal(get(&f, "lena").access_approval, id + 100);
	fx_free(&f);
}

/* With the audit log read-only nothing of a change happens: no user, no
 * approval. */
static void test_nothing_without_its_audit_entry(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct user u;
	fx_init(&f);
	users(&f);
	ops_audit_read_only(&f, true);
	assert_true(archive_user_add(f.ar, "web:adam", "lena", "legal", PW, false, false, NULL,
				     &err) < 0);
	ops_audit_read_only(&f, false);
	assert_int_equal(archive_user_get(f.ar, "lena", &u, &err), PV_ENOTFOUND);
	uint64_t total = 1;
	assert_int_equal(approval_list(f.ar, NULL, 0, 0, count_row, NULL, &total, &err), PV_OK);
	assert_int_equal(total, 0);
	fx_free(&f);
}

/* Role and password at once (PATCH with both): one request; a user removed
 * meanwhile is not made again. The request says what was set and who else
 * set the password. */
static void test_reset_and_what_the_request_says(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct user u;
	fx_init(&f);
	users(&f);
	assert_int_equal(archive_user_reset(f.ar, "web:adam", "ghost", "legal", PW, &err), PV_ENOTFOUND);
	assert_int_equal(archive_user_get(f.ar, "ghost", &u, &err), PV_ENOTFOUND);
	fx_must(archive_user_add(f.ar, "cli:root", "otto", "compliance", PW, false, false, NULL, &err),
		&err, "otto");
	fx_must(archive_user_set_role(f.ar, "web:adam", "otto", "legal", &err), &err, "legal");
	struct approval_row row = row_of(&f, get(&f, "otto").access_approval);
	assert_string_equal(row.summary, "let otto sign in with the role legal (reads mail): role set to "
					 "legal by web:adam; the password was set at the shell "
					 "(cli:root)");
	approval_row_free(&row);
	fx_must(archive_user_reset(f.ar, "web:adam", "otto", "admin", PW, &err), &err, "admin");
	fx_must(archive_user_reset(f.ar, "web:adam", "otto", "legal", PW, &err), &err, "legal again");
	u = get(&f, "otto");
	assert_true(u.password_once);
	row = row_of(&f, u.access_approval);
	assert_string_equal(row.summary, "let otto sign in with the role legal (reads mail): account and "
					 "password set by web:adam, who can sign in with that password "
					 "until otto chooses their own");
	approval_row_free(&row);
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "approval-propose");
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_legal_account_waits_for_compliance),
		cmocka_unit_test(test_reset_asks_again_and_supersedes),
		cmocka_unit_test(test_role_and_removal_withdraw),
		cmocka_unit_test(test_stale_approval_changes_nothing),
		cmocka_unit_test(test_nothing_without_its_audit_entry),
		cmocka_unit_test(test_reset_and_what_the_request_says),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("user_access", tests, NULL, NULL);
}
