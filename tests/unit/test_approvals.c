/* Unit tests for the two-person rule (archiver/archive/approvals.c): the
 * one table of who proposes and who approves each kind, the checks on the
 * approver (another user, another role, a role that may approve), the
 * effect only after approval, rejection, break-glass, the audit entries;
 * whether a policy shortens retention (policy/policy_compare.c); the
 * frozen disposal plan (archiver/archive/dispose_frozen.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "archiver/archive/approvals.h"
#include "archiver/archive/dispose_frozen.h"
#include "archiver/archive/holds.h"
#include "archiver/archive/status.h"
#include "archiver/archive/users.h"
#include "test_ops_fixture.h"

#define MSG(subject)                                                                    \
	"From: a@x.example\r\nTo: b@y.example\r\nSubject: " subject "\r\n"               \
	"Date: Fri, 10 Jan 2020 10:00:00 +0000\r\nMessage-ID: <" subject "@t>\r\n\r\nhi\r\n"

static const char shorter[] = "rule \"short\": retain 30d when subject ~ \"*tmp*\"\n"
			      "default: retain 6y\n";

/* ---- the table -------------------------------------------------------- */

static void test_one_table_decides_who_proposes_and_approves(void **state)
{
	(void)state;
	char who[64];
	const struct approval_rule *p = approval_rule_of(APPROVAL_POLICY);
	const struct approval_rule *h = approval_rule_of(APPROVAL_HOLD_RELEASE);
	const struct approval_rule *d = approval_rule_of(APPROVAL_DISPOSE);
	const struct approval_rule *u = approval_rule_of(APPROVAL_USER_ACCESS);
	assert_int_equal(approval_rules_count, 4);
	assert_string_equal(p->name, "policy");
	assert_int_equal(p->proposers, APPROVAL_ROLE_ADMIN);
	assert_int_equal(p->approvers, APPROVAL_ROLE_COMPLIANCE);
	assert_int_equal(h->proposers, APPROVAL_ROLE_LEGAL);
	assert_int_equal(h->approvers, APPROVAL_ROLE_LEGAL | APPROVAL_ROLE_COMPLIANCE);
	assert_int_equal(d->proposers, APPROVAL_ROLE_ADMIN | APPROVAL_ROLE_COMPLIANCE);
	assert_int_equal(d->approvers, APPROVAL_ROLE_COMPLIANCE | APPROVAL_ROLE_LEGAL);
	assert_string_equal(u->name, "user-access");
	assert_int_equal(u->proposers, APPROVAL_ROLE_ADMIN);
	assert_int_equal(u->approvers, APPROVAL_ROLE_COMPLIANCE);
	/* every kind can be approved by someone of another role than any proposer's */
	for (size_t i = 0; i < approval_rules_count; i++)
		for (unsigned b = 1; b <= APPROVAL_ROLE_COMPLIANCE; b <<= 1)
			if (approval_rules[i].proposers & b)
				assert_true((approval_rules[i].approvers & ~b) != 0);
	assert_ptr_equal(approval_rule_named("hold-release"), h);
	assert_null(approval_rule_named("release"));
	assert_int_equal(approval_role_bit("legal"), APPROVAL_ROLE_LEGAL);
	assert_int_equal(approval_role_bit("root"), 0);
	assert_int_equal(approval_role_bit(NULL), 0);
	approval_roles_text(d->approvers, who, sizeof(who));
	assert_string_equal(who, "legal or compliance");
}

static void test_reason_is_one_line_of_text(void **state)
{
	(void)state;
	struct pv_error err;
	char long_reason[PV_APPROVAL_REASON_MAX + 2];
	memset(long_reason, 'x', sizeof(long_reason) - 1);
	long_reason[sizeof(long_reason) - 1] = '\0';
	assert_int_equal(approval_reason_check(NULL, false, &err), PV_OK);
	assert_int_equal(approval_reason_check("", true, &err), PV_EUSAGE);
	assert_int_equal(approval_reason_check("the matter settled", true, &err), PV_OK);
	assert_int_equal(approval_reason_check("two\nlines", true, &err), PV_EUSAGE);
	assert_int_equal(approval_reason_check("\x1b[2J", true, &err), PV_EUSAGE);
	assert_int_equal(approval_reason_check(long_reason, true, &err), PV_EUSAGE);
}

/* ---- does a policy shorten retention? --------------------------------- */

static bool shortens(const char *old_text, const char *new_text)
{
	struct policy *o = NULL, *n = NULL;
	struct policy_shortening sh;
	struct pv_error err;
	fx_must(policy_parse(old_text, strlen(old_text), &o, NULL, &err), &err, "old");
	fx_must(policy_parse(new_text, strlen(new_text), &n, NULL, &err), &err, "new");
	fx_must(policy_compare(o, n, &sh, &err), &err, "compare");
	policy_free(&o);
	policy_free(&n);
	assert_int_equal(sh.shortens, sh.why[0] != '\0');
	return sh.shortens;
}

static void test_policy_compare_shorter_rules(void **state)
{
	(void)state;
	const char *six = "default: retain 6y\n";
	assert_false(shortens(six, six));
	assert_false(shortens(six, "default: retain 7y\n"));
	assert_true(shortens(six, "default: retain 30d\n"));
	assert_true(shortens(six, "default: retain 5y\n"));
	assert_false(shortens(six, "default: retain 72m\n")); /* 72 months are 6 years */
	assert_true(shortens(six, "default: retain 71m\n"));
	/* a new rule that keeps longer than anything before it */
	assert_false(shortens(six, "rule \"sec\": retain 10y when from ~ \"*@sec.gov\"\n" "default: retain 6y\n"));
	/* a new rule that keeps some future mail shorter than the default did */
	assert_true(shortens(six, shorter));
	/* removing that rule keeps its mail longer again */
	assert_false(shortens(shorter, six));
	/* the same conditions: each rule against its own */
	assert_false(shortens(shorter, "rule \"short\": retain 60d when subject ~ \"*tmp*\"\n"
				       "default: retain 6y\n"));
	assert_true(shortens(shorter, "rule \"short\": retain 30d when subject ~ \"*tmp*\"\n"
				      "default: retain 5y\n"));
	/* a rule renamed, condition unchanged, same retention: nothing shorter */
	assert_false(shortens(shorter, "rule \"scratch\": retain 30d when subject ~ \"*tmp*\"\n"
				       "default: retain 6y\n"));
	/* a broader condition sends more mail to the short rule */
	assert_true(shortens(shorter, "rule \"short\": retain 30d when subject ~ \"*t*\"\n"
				      "default: retain 6y\n"));
	/* then review is longer than then dispose after the same time */
	assert_true(shortens("default: retain 6y then review\n", six));
	assert_false(shortens(six, "default: retain 6y then review\n"));
	/* forever is the longest */
	assert_true(shortens("default: retain forever\n", "default: retain 100y\n"));
	assert_false(shortens(six, "default: retain forever\n"));
}

static void test_policy_compare_days_against_months(void **state)
{
	(void)state;
	/* a month lasts 28 to 31 days */
	assert_true(shortens("default: retain 1m\n", "default: retain 30d\n"));
	assert_false(shortens("default: retain 1m\n", "default: retain 31d\n"));
	assert_true(shortens("default: retain 30d\n", "default: retain 1m\n")); /* February */
	assert_false(shortens("default: retain 28d\n", "default: retain 1m\n"));
	/* a year lasts 365 or 366 days */
	assert_true(shortens("default: retain 1y\n", "default: retain 365d\n"));
	assert_false(shortens("default: retain 1y\n", "default: retain 366d\n"));
	assert_false(shortens("default: retain 365d\n", "default: retain 12m\n"));
}

/* ---- proposals and decisions on a real archive ------------------------ */

struct row_list {
	int n;
	int64_t ids[8];
	char states[8][16];
};

static int keep_row(void *ctx, const struct approval_row *row)
{
	struct row_list *l = ctx;
	if (l->n < 8) {
		l->ids[l->n] = row->id;
		snprintf(l->states[l->n], sizeof(l->states[0]), "%s", row->state);
	}
	l->n++;
	return 0;
}

static struct audit_entry nth_last(struct fx *f, uint64_t back)
{
	struct archive_audit_query q = {{INT64_MIN, INT64_MAX, NULL, NULL}, 0, 0, NULL};
	struct audit_entry e;
	struct pv_error err;
	q.offset = ops_audit_size(f) - 1 - back;
	q.limit = 1;
	fx_must(archive_audit_list(f->ar, &q, ops_keep_last, &e, NULL, &err), &err, "audit");
	return e;
}

static void test_policy_approved_by_another_user_of_another_role(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct approval_proposal prop;
	struct approval_outcome out;
	struct approval_row row;
	fx_init(&f);
	fx_archive(&f, MSG("a tmp file"), pv_clock_now() - 60 * 86400);

	/* only an admin proposes a policy */
	assert_int_equal(approval_propose(f.ar, "web:lena", "legal", APPROVAL_POLICY, shorter,
					  strlen(shorter), NULL, NULL, &prop, &err), PV_EPERM);
	approval_proposal_free(&prop);
	uint64_t before = ops_audit_size(&f);
	fx_must(approval_propose(f.ar, "web:adam", "admin", APPROVAL_POLICY, shorter, strlen(shorter),
				 "tmp files after a month", NULL, &prop, &err), &err, "propose");
	assert_int_equal(prop.id, 1);
	assert_false(prop.applied);
	assert_true(prop.preview.shortens);
	assert_int_equal(prop.preview.messages, 1);
	assert_int_equal(prop.preview.earlier, 1);
	assert_int_equal(prop.preview.due_now, 1);
	approval_proposal_free(&prop);
	/* proposed, audited, nothing set */
	assert_int_equal(ops_audit_size(&f), before + 1);
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "approval-propose");
	assert_string_equal(e.actor, "web:adam");
	assert_non_null(strstr(e.object, "approval=1 kind=policy sha256="));
	assert_non_null(strstr(e.object, " role=admin"));
	assert_string_equal(fx_load(&f, 1).class_name, "default");
	/* the dashboard's queue length counts it */
	struct archive_system_status st;
	fx_must(archive_system_status(f.ar, &st, &err), &err, "status");
	assert_int_equal(st.pending_approvals, 1);
	archive_system_status_free(&st);

	/* the proposer cannot approve, nor another admin, nor legal */
	assert_int_equal(approval_decide(f.ar, "web:adam", "compliance", 1, true, NULL, false, &out,
					 &err), PV_EPERM);
	assert_non_null(strstr(err.msg, "you proposed approval 1"));
	approval_outcome_free(&out);
	assert_int_equal(approval_decide(f.ar, "web:anna", "admin", 1, true, NULL, false, &out, &err),
			 PV_EPERM);
	approval_outcome_free(&out);
	assert_int_equal(approval_decide(f.ar, "web:lena", "legal", 1, true, NULL, false, &out, &err),
			 PV_EPERM);
	approval_outcome_free(&out);
	/* break-glass is for the command line only */
	assert_int_equal(approval_decide(f.ar, "web:adam", "admin", 1, true, "alone", true, &out,
					 &err), PV_EPERM);
	approval_outcome_free(&out);
	assert_int_equal(ops_audit_size(&f), before + 1);
	assert_string_equal(fx_load(&f, 1).class_name, "default");

	/* compliance approves: audited, then set in the proposer's name */
	fx_must(approval_decide(f.ar, "web:carl", "compliance", 1, true, "reviewed", false, &out,
				&err), &err, "approve");
	assert_string_equal(out.row.state, "approved");
	assert_string_equal(out.row.decided_by, "web:carl");
	assert_string_equal(out.row.decided_role, "compliance");
	assert_string_equal(out.row.result, "policy version 1 set");
	assert_int_equal(out.set.version, 1);
	approval_outcome_free(&out);
	assert_string_equal(fx_load(&f, 1).class_name, "short");
	e = nth_last(&f, 1);
	assert_string_equal(e.type, "approval-approve");
	assert_string_equal(e.actor, "web:carl");
	assert_non_null(strstr(e.object, "proposer=web:adam role=compliance"));
	e = ops_audit_last(&f);
	assert_string_equal(e.type, "policy-set");
	assert_string_equal(e.actor, "web:adam");
	/* decided once */
	assert_int_equal(approval_decide(f.ar, "web:cora", "compliance", 1, false, "late", false,
					 &out, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "already approved by web:carl"));
	approval_outcome_free(&out);
	fx_must(approval_get(f.ar, 1, true, &row, &err), &err, "get");
	assert_memory_equal(row.payload, shorter, strlen(shorter));
	assert_string_equal(row.reason, "tmp files after a month");
	assert_string_equal(row.decision_reason, "reviewed");
	approval_row_free(&row);
	/* the table refuses edits and deletions */
	assert_true(catalog_exec(f.ar->cat->db, "UPDATE approvals SET decided_by = 'x'", &err) < 0);
	assert_true(catalog_exec(f.ar->cat->db, "UPDATE approvals SET reason = 'x'", &err) < 0);
	assert_true(catalog_exec(f.ar->cat->db, "DELETE FROM approvals", &err) < 0);
	fx_free(&f);
}

/* A second person is not an account the proposer set up: an admin who
 * made a compliance user, reset one's password, made the admin who made it,
 * or made both the proposer and the approver cannot approve through them
 * (they can sign in as them); a user set up on the command line, or whose
 * password another admin reset, can. A retired link still counts; a role
 * change by someone else does not clear who set the password. */
static void test_second_person_is_not_one_the_proposer_set_up(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct approval_proposal prop;
	struct approval_outcome out;
	const char *pw = "a password of some length";
	fx_init(&f);
	fx_archive(&f, MSG("a tmp file"), pv_clock_now() - 60 * 86400);
	fx_must(archive_user_add(f.ar, "cli:root", "adam", "admin", pw, false, false, NULL, &err), &err, "adam");
	fx_must(archive_user_add(f.ar, "cli:root", "anna", "admin", pw, false, false, NULL, &err), &err, "anna");
	fx_must(archive_user_add(f.ar, "cli:root", "carl", "compliance", pw, false, false, NULL, &err), &err, "carl");
	fx_must(archive_user_add(f.ar, "web:adam", "sock", "compliance", pw, false, false, NULL, &err), &err, "sock");
	fx_must(archive_user_add(f.ar, "web:adam", "adam2", "admin", pw, false, false, NULL, &err), &err, "adam2");
	fx_must(archive_user_add(f.ar, "web:adam2", "sock2", "compliance", pw, false, false, NULL, &err), &err,
		"sock2");
	fx_must(archive_user_add(f.ar, "web:adam", "puppet", "admin", pw, false, false, NULL, &err), &err,
		"puppet");
	/* sock changing its own password (its maker, signed in as it) changes nothing */
	fx_must(archive_user_passwd(f.ar, "web:sock", "sock", "another password here", false, &err), &err, "own");
	/* nor does another admin's role change */
	fx_must(archive_user_set_role(f.ar, "web:anna", "sock", "legal", &err), &err, "role");
	fx_must(archive_user_set_role(f.ar, "web:anna", "sock", "compliance", &err), &err, "role back");
	fx_must(approval_propose(f.ar, "web:adam", "admin", APPROVAL_POLICY, shorter, strlen(shorter),
				 "tmp files after a month", NULL, &prop, &err), &err, "propose");
	/* (the accounts of guarded roles asked for approvals before it) */
	int64_t first = prop.id;
	char said[300];
	approval_proposal_free(&prop);
	assert_int_equal(approval_decide(f.ar, "web:sock", "compliance", first, true, NULL, false, &out, &err),
			 PV_EPERM);
	approval_outcome_free(&out);
	snprintf(said, sizeof(said), "web:adam, who proposed approval %lld, and web:sock are not two "
				     "people: web:adam set up both, or one the other (their passwords); "
				     "have root set sock's password at the shell (popvault user "
				     "passwd)", (long long)first);
	assert_string_equal(err.msg, said);
	assert_int_equal(approval_decide(f.ar, "web:sock2", "compliance", first, true, NULL, false, &out,
					 &err), PV_EPERM);
	approval_outcome_free(&out);
	/* ... adam2 retired: the chain still goes through it */
	fx_must(archive_user_remove(f.ar, "web:anna", "adam2", &err), &err, "retire adam2");
	assert_int_equal(approval_decide(f.ar, "web:sock2", "compliance", first, true, NULL, false, &out,
					 &err), PV_EPERM);
	approval_outcome_free(&out);
	/* carl's password reset by adam: carl is adam's now, for adam's proposals */
	fx_must(archive_user_passwd(f.ar, "web:adam", "carl", "reset by adam, 1", false, &err), &err, "reset");
	assert_int_equal(approval_decide(f.ar, "web:carl", "compliance", first, true, NULL, false, &out,
					 &err), PV_EPERM);
	approval_outcome_free(&out);
	/* ... also after another admin sets it (who gave it to whoever asked:
	 * adam, if carl were his) ... */
	fx_must(archive_user_passwd(f.ar, "web:anna", "carl", "reset by anna, 2", false, &err), &err, "anna");
	assert_int_equal(approval_decide(f.ar, "web:carl", "compliance", first, true, NULL, false, &out,
					 &err), PV_EPERM);
	approval_outcome_free(&out);
	/* ... until root sets it at the shell */
	fx_must(archive_user_passwd(f.ar, "cli:root", "carl", "set by root, 3", false, &err), &err, "root");
	fx_must(approval_decide(f.ar, "web:carl", "compliance", first, true, "reviewed", false, &out, &err),
		&err, "carl approves");
	approval_outcome_free(&out);

	/* two accounts of one maker: a puppet admin proposes, its sibling approves */
	static const char shorter2[] = "rule \"short\": retain 20d when subject ~ \"*tmp*\"\n"
				       "default: retain 6y\n";
	fx_must(approval_propose(f.ar, "web:puppet", "admin", APPROVAL_POLICY, shorter2,
				 strlen(shorter2), "again", NULL, &prop, &err), &err, "propose 2");
	int64_t second = prop.id;
	approval_proposal_free(&prop);
	assert_int_equal(approval_decide(f.ar, "web:sock", "compliance", second, true, NULL, false, &out,
					 &err), PV_EPERM);
	approval_outcome_free(&out);
	assert_non_null(strstr(err.msg, "web:adam set up both"));
	fx_free(&f);
}

/* Two accounts that reset each other's passwords do not hide who made
 * them: each step of the chain looks at who set the password before the
 * step it came from (user_vouches), not at the last setter alone, in
 * which the loop p <-> q no longer named adam. A name met twice is
 * followed on (x set by y, y by x before, x by z before that: z counts);
 * a user of the name made again later by root does not cut the chain. */
static void test_loop_of_resets_does_not_launder_a_maker(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct approval_proposal prop;
	struct approval_outcome out;
	const char *pw = "a password of some length";
	fx_init(&f);
	fx_archive(&f, MSG("a tmp file"), pv_clock_now() - 60 * 86400);
	fx_must(archive_user_add(f.ar, "cli:root", "adam", "admin", pw, false, false, NULL, &err), &err, "adam");
	fx_must(archive_user_add(f.ar, "web:adam", "p", "admin", pw, false, false, NULL, &err), &err, "p");
	fx_must(archive_user_add(f.ar, "web:adam", "q", "admin", pw, false, false, NULL, &err), &err, "q");
	fx_must(archive_user_passwd(f.ar, "web:p", "q", "set by p, not adam", false, &err), &err, "p sets q");
	fx_must(archive_user_passwd(f.ar, "web:q", "p", "set by q, not adam", false, &err), &err, "q sets p");
	fx_must(archive_user_add(f.ar, "web:q", "c", "compliance", pw, false, false, NULL, &err), &err, "c");
	fx_must(approval_propose(f.ar, "web:adam", "admin", APPROVAL_POLICY, shorter, strlen(shorter),
				 "tmp files after a month", NULL, &prop, &err), &err, "propose");
	int64_t id = prop.id;
	approval_proposal_free(&prop);
	assert_int_equal(approval_decide(f.ar, "web:c", "compliance", id, true, NULL, false, &out, &err),
			 PV_EPERM);
	approval_outcome_free(&out);
	assert_non_null(strstr(err.msg, "web:adam set up both"));
	/* p retired, a new p made by root: c's chain still goes through the old one */
	fx_must(archive_user_remove(f.ar, "cli:root", "p", &err), &err, "retire p");
	fx_must(archive_user_add(f.ar, "cli:root", "p", "admin", pw, false, false, NULL, &err), &err, "new p");
	assert_int_equal(approval_decide(f.ar, "web:c", "compliance", id, true, NULL, false, &out, &err),
			 PV_EPERM);
	approval_outcome_free(&out);
	/* x set by z (adam's), then y by x, then x by y: x's chain x, y, x, z, adam */
	fx_must(archive_user_add(f.ar, "cli:root", "zed", "admin", pw, false, false, NULL, &err), &err, "zed");
	fx_must(archive_user_passwd(f.ar, "web:adam", "zed", "it is adam's now", false, &err), &err, "adam sets zed");
	fx_must(archive_user_add(f.ar, "web:zed", "x", "compliance", pw, false, false, NULL, &err), &err, "x");
	fx_must(archive_user_add(f.ar, "cli:root", "y", "admin", pw, false, false, NULL, &err), &err, "y");
	fx_must(archive_user_passwd(f.ar, "web:x", "y", "set by x, from zed", false, &err), &err, "x sets y");
	fx_must(archive_user_passwd(f.ar, "web:y", "x", "set by y, from x", false, &err), &err, "y sets x");
	assert_int_equal(approval_decide(f.ar, "web:x", "compliance", id, true, NULL, false, &out, &err),
			 PV_EPERM);
	approval_outcome_free(&out);
	/* ... while root setting c's password frees c: adam no longer knows it */
	fx_must(archive_user_passwd(f.ar, "cli:root", "c", "set by root at the shell", false, &err),
		&err, "root sets c");
	fx_must(approval_decide(f.ar, "web:c", "compliance", id, true, "reviewed", false, &out, &err),
		&err, "c approves");
	approval_outcome_free(&out);
	/* the history is kept for good */
	assert_true(catalog_exec(f.ar->cat->db, "UPDATE user_vouches SET actor = 'x'", &err) < 0);
	assert_true(catalog_exec(f.ar->cat->db, "DELETE FROM user_vouches", &err) < 0);
	fx_free(&f);
}

/* For access to mail the approver must be a second person to the account
 * too, not only to the admin who asked: whoever set the account up can
 * sign in as it. (1) adam makes compliance lena and knows her password;
 * bob, in good faith, makes her legal; adam's sock may not approve. (2)
 * adam's puppet p makes legal lena2; bob resets p (handing p's password
 * to whoever asked: adam); lena2's setters still lead to adam, and so do
 * p's. carl, set up at the shell, may approve both. */
static void test_access_approver_independent_of_the_account(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct approval_outcome out;
	struct user u;
	const char *pw = "a password of some length";
	fx_init(&f);
	fx_must(archive_user_add(f.ar, "cli:root", "adam", "admin", pw, false, false, NULL, &err), &err, "adam");
	fx_must(archive_user_add(f.ar, "cli:root", "bob", "admin", pw, false, false, NULL, &err), &err, "bob");
	fx_must(archive_user_add(f.ar, "cli:root", "carl", "compliance", pw, false, false, NULL, &err), &err, "carl");
	fx_must(archive_user_add(f.ar, "web:adam", "sock", "compliance", pw, false, false, NULL, &err), &err, "sock");
	fx_must(archive_user_add(f.ar, "web:adam", "lena", "compliance", pw, false, false, NULL, &err), &err, "lena");
	fx_must(archive_user_set_role(f.ar, "web:bob", "lena", "legal", &err), &err, "bob makes her legal");
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "lena");
	assert_int_equal(approval_decide(f.ar, "web:sock", "compliance", u.access_approval, true, NULL,
					 false, &out, &err), PV_EPERM);
	approval_outcome_free(&out);
	assert_non_null(strstr(err.msg, "web:lena, whom approval"));
	assert_non_null(strstr(err.msg, "web:adam set up both"));
	fx_must(approval_decide(f.ar, "web:carl", "compliance", u.access_approval, true, NULL, false,
				&out, &err), &err, "carl approves lena");
	approval_outcome_free(&out);

	fx_must(archive_user_add(f.ar, "web:adam", "p", "admin", pw, false, false, NULL, &err), &err, "p");
	fx_must(archive_user_add(f.ar, "web:p", "lena2", "legal", pw, false, false, NULL, &err), &err, "lena2");
	fx_must(archive_user_passwd(f.ar, "web:bob", "p", "reset by bob, later", false, &err), &err, "bob resets p");
	fx_must(archive_user_get(f.ar, "lena2", &u, &err), &err, "lena2");
	assert_int_equal(approval_decide(f.ar, "web:sock", "compliance", u.access_approval, true, NULL,
					 false, &out, &err), PV_EPERM);
	approval_outcome_free(&out);
	assert_non_null(strstr(err.msg, "web:adam set up both"));
	fx_must(approval_decide(f.ar, "web:carl", "compliance", u.access_approval, true, NULL, false,
				&out, &err), &err, "carl approves lena2");
	approval_outcome_free(&out);
	fx_free(&f);
}

/* A reset by another admin in good faith does not make an account its
 * maker made up independent of him: the password went to whoever asked.
 * (a) bob resets adam's sock; (b) bob resets adam's pending legal lena,
 * which asks again in bob's name. sock may approve neither; root's reset
 * at the shell frees an account. */
static void test_good_faith_reset_does_not_free_a_puppet(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct approval_outcome out;
	struct user u;
	const char *pw = "a password of some length";
	fx_init(&f);
	fx_must(archive_user_add(f.ar, "cli:root", "adam", "admin", pw, false, false, NULL, &err), &err, "adam");
	fx_must(archive_user_add(f.ar, "cli:root", "bob", "admin", pw, false, false, NULL, &err), &err, "bob");
	fx_must(archive_user_add(f.ar, "web:adam", "sock", "compliance", pw, false, false, NULL, &err), &err, "sock");
	fx_must(archive_user_passwd(f.ar, "web:bob", "sock", "reset by bob, first", false, &err), &err,
		"bob resets sock");
	fx_must(archive_user_add(f.ar, "web:adam", "lena", "legal", pw, false, false, NULL, &err), &err, "lena");
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "lena");
	assert_int_equal(approval_decide(f.ar, "web:sock", "compliance", u.access_approval, true, NULL,
					 false, &out, &err), PV_EPERM);
	approval_outcome_free(&out);
	fx_must(archive_user_passwd(f.ar, "web:bob", "lena", "reset by bob, second", false, &err), &err,
		"bob resets lena");
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "lena");
	assert_int_equal(approval_decide(f.ar, "web:sock", "compliance", u.access_approval, true, NULL,
					 false, &out, &err), PV_EPERM);
	approval_outcome_free(&out);
	assert_non_null(strstr(err.msg, "are not two people")); /* (bob set up both, too) */
	fx_must(archive_user_passwd(f.ar, "cli:root", "sock", "root hands it over", false, &err), &err,
		"root resets sock");
	fx_must(approval_decide(f.ar, "web:sock", "compliance", u.access_approval, true, NULL, false,
				&out, &err), &err, "sock, root's now, approves");
	approval_outcome_free(&out);
	fx_free(&f);
}

/* Settings recorded before migration 22 (at 0: the last setter known
 * then, time unknown) came before every timed one: a step from one looks
 * only at those. adam set xavi, xavi set cleo, both before; bob's reset
 * of xavi since does not make cleo independent of adam. */
static void test_chain_through_settings_from_before_migration_22(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct approval_proposal prop;
	struct approval_outcome out;
	fx_init(&f);
	fx_archive(&f, MSG("a tmp file"), pv_clock_now() - 60 * 86400);
	fx_must(catalog_exec(f.ar->cat->db, "INSERT INTO user_vouches (name, actor, at) VALUES"
					    " ('cleo', 'web:xavi', 0), ('xavi', 'web:adam', 0),"
					    " ('adam', 'cli:root', 0)", &err), &err, "old history");
	fx_must(approval_propose(f.ar, "web:adam", "admin", APPROVAL_POLICY, shorter, strlen(shorter),
				 "tmp files after a month", NULL, &prop, &err), &err, "propose");
	int64_t id = prop.id;
	approval_proposal_free(&prop);
	assert_int_equal(approval_decide(f.ar, "web:cleo", "compliance", id, true, NULL, false, &out,
					 &err), PV_EPERM);
	approval_outcome_free(&out);
	fx_must(catalog_exec(f.ar->cat->db, "INSERT INTO user_vouches (name, actor, at) VALUES"
					    " ('xavi', 'web:bob', 1000)", &err), &err, "bob resets xavi");
	assert_int_equal(approval_decide(f.ar, "web:cleo", "compliance", id, true, NULL, false, &out,
					 &err), PV_EPERM);
	approval_outcome_free(&out);
	assert_non_null(strstr(err.msg, "web:adam set up both"));
	/* a loop among them ends */
	fx_must(catalog_exec(f.ar->cat->db, "INSERT INTO user_vouches (name, actor, at) VALUES"
					    " ('dora', 'web:eve', 0), ('eve', 'web:dora', 0)", &err),
		&err, "loop");
	fx_must(approval_decide(f.ar, "web:dora", "compliance", id, true, "reviewed", false, &out, &err),
		&err, "dora approves");
	approval_outcome_free(&out);
	fx_free(&f);
}

static void test_policy_that_shortens_nothing_is_set_at_once(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct approval_proposal prop;
	const char *longer = "default: retain 7y\n";
	fx_init(&f);
	fx_archive(&f, MSG("one"), fx_t("2020-01-10"));
	fx_must(approval_propose(f.ar, "web:adam", "admin", APPROVAL_POLICY, longer, strlen(longer),
				 NULL, NULL, &prop, &err), &err, "propose");
	assert_true(prop.applied);
	assert_int_equal(prop.id, 0);
	assert_int_equal(prop.set.version, 1);
	approval_proposal_free(&prop);
	assert_string_equal(ops_audit_last(&f).type, "policy-set");
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM approvals"), 0);
	/* the same text again is no proposal */
	assert_int_equal(approval_propose(f.ar, "web:adam", "admin", APPROVAL_POLICY, longer,
					  strlen(longer), NULL, NULL, &prop, &err), PV_EUSAGE);
	approval_proposal_free(&prop);
	fx_free(&f);
}

static void test_stale_policy_proposal_cannot_be_approved(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct approval_proposal prop;
	struct approval_outcome out;
	fx_init(&f);
	fx_must(approval_propose(f.ar, "web:adam", "admin", APPROVAL_POLICY, shorter, strlen(shorter),
				 NULL, NULL, &prop, &err), &err, "propose");
	approval_proposal_free(&prop);
	fx_policy_store(&f, "default: retain 8y\n"); /* another version came in force */
	assert_int_equal(approval_decide(f.ar, "web:carl", "compliance", 1, true, NULL, false, &out,
					 &err), PV_ERR);
	assert_non_null(strstr(err.msg, "propose again"));
	approval_outcome_free(&out);
	struct approval_row row;
	fx_must(approval_get(f.ar, 1, false, &row, &err), &err, "get");
	assert_string_equal(row.state, "pending");
	fx_free(&f);
}

static void test_hold_release_waits_for_another_role(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct approval_proposal prop;
	struct approval_outcome out;
	int64_t id, members;
	fx_init(&f);
	fx_archive(&f, MSG("merger plans"), fx_t("2020-01-10"));
	fx_must(hold_add(f.ar, "Smith v. Jones", "subject:merger", NULL, "web:lena", 1, &members,
			 &err), &err, "hold");
	const char *name = "Smith v. Jones";

	assert_int_equal(approval_propose(f.ar, "web:adam", "admin", APPROVAL_HOLD_RELEASE, name,
					  strlen(name), NULL, NULL, &prop, &err), PV_EPERM);
	approval_proposal_free(&prop);
	assert_int_equal(approval_propose(f.ar, "web:lena", "legal", APPROVAL_HOLD_RELEASE, "nobody",
					  6, NULL, NULL, &prop, &err), PV_ENOTFOUND);
	approval_proposal_free(&prop);
	fx_must(approval_propose(f.ar, "web:lena", "legal", APPROVAL_HOLD_RELEASE, name, strlen(name),
				 "settled", NULL, &prop, &err), &err, "propose");
	assert_int_equal(prop.id, 1);
	assert_non_null(strstr(prop.summary, "release hold 'Smith v. Jones'"));
	approval_proposal_free(&prop);
	/* a second release of the same hold is not proposed twice */
	assert_int_equal(approval_propose(f.ar, "web:lou", "legal", APPROVAL_HOLD_RELEASE, name,
					  strlen(name), NULL, NULL, &prop, &err), PV_ERR);
	approval_proposal_free(&prop);
	/* still held */
	fx_must(hold_active(f.ar->cat->conn, name, &id, &members, &err), &err, "active");

	/* another legal user: the same role as the proposal's */
	assert_int_equal(approval_decide(f.ar, "web:lou", "legal", 1, true, NULL, false, &out, &err),
			 PV_EPERM);
	assert_non_null(strstr(err.msg, "proposed with the role legal"));
	approval_outcome_free(&out);
	fx_must(hold_active(f.ar->cat->conn, name, &id, &members, &err), &err, "still active");
	fx_must(approval_decide(f.ar, "web:carl", "compliance", 1, true, "agreed", false, &out, &err),
		&err, "approve");
	approval_outcome_free(&out);
	assert_int_equal(hold_active(f.ar->cat->conn, name, &id, &members, &err), PV_ENOTFOUND);
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "hold-release");
	assert_string_equal(e.actor, "web:lena");
	assert_string_equal(nth_last(&f, 1).type, "approval-approve");
	fx_free(&f);
}

static void test_rejection_ends_a_proposal(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct approval_proposal prop;
	struct approval_outcome out;
	struct row_list l = {0};
	int64_t id, members;
	uint64_t total;
	const char *name = "Acme";
	fx_init(&f);
	fx_archive(&f, MSG("acme"), fx_t("2020-01-10"));
	fx_must(hold_add(f.ar, name, "subject:acme", NULL, "web:lena", 1, &members, &err), &err,
		"hold");
	fx_must(approval_propose(f.ar, "web:lena", "legal", APPROVAL_HOLD_RELEASE, name, strlen(name),
				 NULL, NULL, &prop, &err), &err, "propose");
	approval_proposal_free(&prop);
	/* a rejection needs a reason */
	assert_int_equal(approval_decide(f.ar, "web:carl", "compliance", 1, false, NULL, false, &out,
					 &err), PV_EUSAGE);
	approval_outcome_free(&out);
	fx_must(approval_decide(f.ar, "web:carl", "compliance", 1, false, "still in litigation",
				false, &out, &err), &err, "reject");
	assert_string_equal(out.row.state, "rejected");
	approval_outcome_free(&out);
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "approval-reject");
	assert_string_equal(e.actor, "web:carl");
	assert_int_equal(approval_decide(f.ar, "web:cora", "compliance", 1, true, NULL, false, &out,
					 &err), PV_ERR);
	approval_outcome_free(&out);
	fx_must(hold_active(f.ar->cat->conn, name, &id, &members, &err), &err, "still active");
	/* the proposer may withdraw a proposal of their own */
	fx_must(approval_propose(f.ar, "web:lena", "legal", APPROVAL_HOLD_RELEASE, name, strlen(name),
				 NULL, NULL, &prop, &err), &err, "propose again");
	approval_proposal_free(&prop);
	fx_must(approval_decide(f.ar, "web:lena", "legal", 2, false, "withdrawn", false, &out, &err),
		&err, "withdraw");
	approval_outcome_free(&out);
	fx_must(approval_list(f.ar, NULL, 0, 0, keep_row, &l, &total, &err), &err, "list");
	assert_int_equal(total, 2);
	assert_int_equal(l.ids[0], 2); /* newest first */
	assert_string_equal(l.states[0], "rejected");
	memset(&l, 0, sizeof(l));
	fx_must(approval_list(f.ar, "pending", 0, 0, keep_row, &l, &total, &err), &err, "pending");
	assert_int_equal(total, 0);
	fx_free(&f);
}

static void test_break_glass_on_the_command_line_is_audited(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct approval_proposal prop;
	struct approval_outcome out;
	fx_init(&f);
	fx_must(approval_propose(f.ar, "cli:root", "admin", APPROVAL_POLICY, shorter, strlen(shorter),
				 NULL, NULL, &prop, &err), &err, "propose");
	approval_proposal_free(&prop);
	/* without a reason: refused */
	assert_int_equal(approval_decide(f.ar, "cli:root", NULL, 1, true, NULL, true, &out, &err),
			 PV_EUSAGE);
	approval_outcome_free(&out);
	fx_must(approval_decide(f.ar, "cli:root", NULL, 1, true, "single operator", true, &out, &err),
		&err, "break-glass");
	assert_true(out.row.break_glass);
	approval_outcome_free(&out);
	struct audit_entry e = nth_last(&f, 2);
	assert_string_equal(e.type, "break-glass");
	assert_string_equal(e.actor, "cli:root");
	assert_string_equal(e.object, "approval=1 kind=policy proposer=cli:root role=-");
	assert_string_equal(nth_last(&f, 1).type, "approval-approve");
	assert_string_equal(ops_audit_last(&f).type, "policy-set");
	fx_free(&f);
}

static void test_disposal_runs_only_the_approved_plan(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct approval_proposal prop;
	struct approval_outcome out;
	int64_t members;
	int64_t old = pv_clock_now() - 60 * 86400;
	fx_init(&f);
	fx_archive(&f, MSG("a tmp note"), old);  /* 1: due */
	fx_archive(&f, MSG("the plan"), old);    /* 2: six years */
	fx_archive(&f, MSG("tmp merger"), old);  /* 3: due, held after the proposal */
	fx_must(approval_propose(f.ar, "cli:root", "admin", APPROVAL_POLICY, shorter, strlen(shorter),
				 NULL, NULL, &prop, &err), &err, "policy");
	approval_proposal_free(&prop);
	fx_must(approval_decide(f.ar, "cli:root", NULL, 1, true, "test", true, &out, &err), &err,
		"set");
	approval_outcome_free(&out);

	/* legal does not propose disposals */
	assert_int_equal(approval_propose(f.ar, "web:lena", "legal", APPROVAL_DISPOSE, NULL, 0, NULL,
					  NULL, &prop, &err), PV_EPERM);
	approval_proposal_free(&prop);
	fx_must(approval_propose(f.ar, "web:carl", "compliance", APPROVAL_DISPOSE, NULL, 0, "monthly",
				 NULL, &prop, &err), &err, "propose");
	assert_int_equal(prop.id, 2);
	assert_int_equal(prop.frozen, 2);
	assert_non_null(strstr(prop.summary, "dispose of 2 expired messages (ids 1-3)"));
	approval_proposal_free(&prop);
	/* one disposal proposal at a time */
	assert_int_equal(approval_propose(f.ar, "web:adam", "admin", APPROVAL_DISPOSE, NULL, 0, NULL,
					  NULL, &prop, &err), PV_ERR);
	approval_proposal_free(&prop);
	/* the plan is frozen: a hold placed since, mail due since */
	fx_must(hold_add(f.ar, "Merger", "subject:merger", NULL, "web:lena", pv_clock_now(),
			 &members, &err), &err, "hold");
	fx_archive(&f, MSG("tmp later"), old);    /* 4: due, not in the plan */
	assert_int_equal(fx_load(&f, 1).disposed_at, 0);

	/* compliance proposed: another compliance user may not approve, legal may */
	assert_int_equal(approval_decide(f.ar, "web:cora", "compliance", 2, true, NULL, false, &out,
					 &err), PV_EPERM);
	approval_outcome_free(&out);
	fx_must(approval_decide(f.ar, "web:lena", "legal", 2, true, "checked the holds", false, &out,
				&err), &err, "approve");
	assert_true(out.run.completed);
	assert_int_equal(out.run.res.disposed, 1);
	assert_int_equal(out.run.plan.held, 1);
	assert_non_null(strstr(out.row.result, "1 message disposed of"));
	bool found_blocked = false;
	for (size_t i = 0; i < out.run.plan.n; i++)
		if (out.run.plan.v[i].id == 4) {
			assert_int_equal(out.run.plan.v[i].state, DISPOSE_BLOCKED);
			assert_non_null(strstr(out.run.plan.v[i].why, "not in the approved plan"));
			found_blocked = true;
		}
	assert_true(found_blocked);
	approval_outcome_free(&out);
	assert_true(fx_load(&f, 1).disposed_at != 0);
	assert_int_equal(fx_load(&f, 3).disposed_at, 0);
	assert_int_equal(fx_load(&f, 4).disposed_at, 0);
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "dispose-done");
	assert_string_equal(e.actor, "web:carl"); /* in the proposer's name */
	fx_free(&f);
}

static void test_frozen_plan_is_parsed_strictly(void **state)
{
	(void)state;
	struct dispose_frozen_item *v;
	struct pv_error err;
	size_t n;
	static const char head[] = "popvault/disposal-plan/v1\npolicy 2\nholds "
				   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
				   "planned 1700000000\n";
	char text[512];
	snprintf(text, sizeof(text), "%s1 2 1700000000 default\n7 2 1700000001 short\n", head);
	fx_must(dispose_frozen_parse(text, strlen(text), &v, &n, &err), &err, "parse");
	assert_int_equal(n, 2);
	assert_int_equal(v[1].id, 7);
	assert_int_equal(v[1].expires_at, 1700000001);
	assert_string_equal(v[1].rule, "short");
	free(v);
	static const char *const bad[] = {
		"7 2 1700000000 default\n1 2 1700000000 default\n", /* not ascending */
		"1 2 1700000000 default",                           /* no final newline */
		"1 2 default\n",                                    /* a field missing */
		"01 2 1700000000 default\n",                        /* leading zero */
		"1 2 1700000000 two words\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", head, bad[i]);
		assert_int_equal(dispose_frozen_parse(text, strlen(text), &v, &n, &err), PV_EINTEGRITY);
	}
	assert_int_equal(dispose_frozen_parse("popvault/disposal-plan/v2\n", 26, &v, &n, &err),
			 PV_EINTEGRITY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_table_decides_who_proposes_and_approves),
		cmocka_unit_test(test_reason_is_one_line_of_text),
		cmocka_unit_test(test_policy_compare_shorter_rules),
		cmocka_unit_test(test_policy_compare_days_against_months),
		cmocka_unit_test(test_policy_approved_by_another_user_of_another_role),
		cmocka_unit_test(test_second_person_is_not_one_the_proposer_set_up),
		cmocka_unit_test(test_loop_of_resets_does_not_launder_a_maker),
		cmocka_unit_test(test_access_approver_independent_of_the_account),
		cmocka_unit_test(test_good_faith_reset_does_not_free_a_puppet),
		cmocka_unit_test(test_chain_through_settings_from_before_migration_22),
		cmocka_unit_test(test_policy_that_shortens_nothing_is_set_at_once),
		cmocka_unit_test(test_stale_policy_proposal_cannot_be_approved),
		cmocka_unit_test(test_hold_release_waits_for_another_role),
		cmocka_unit_test(test_rejection_ends_a_proposal),
		cmocka_unit_test(test_break_glass_on_the_command_line_is_audited),
		cmocka_unit_test(test_disposal_runs_only_the_approved_plan),
		cmocka_unit_test(test_frozen_plan_is_parsed_strictly),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("approvals", tests, NULL, NULL);
}
