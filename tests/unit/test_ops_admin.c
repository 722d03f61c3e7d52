/* Unit tests for the operations that change or report on the archive
 * (archiver/archive/policies.c, users.c, accounts.c, audit_trail.c,
 * verify.c, checkpoints.c, status.c, dispose.c): a change is audited in
 * its own transaction, so when the audit store cannot be written nothing
 * changes; reports return what the CLI and the web API print. A policy
 * that shortens retention and a disposal run go through the two-person
 * rule (approvals.c): proposed by one user, approved by another. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "archiver/archive/accounts.h"
#include "archiver/archive/approvals.h"
#include "archiver/archive/checkpoints.h"
#include "archiver/archive/dispose.h"
#include "archiver/archive/policies.h"
#include "archiver/archive/status.h"
#include "archiver/archive/users.h"
#include "archiver/archive/verify.h"
#include "archiver/archive/view.h"
#include "archiver/harvest/connect.h"
#include "archiver/lib/limits.h"
#include "test_ops_fixture.h"

#define MSG(subject)                                                                    \
	"From: a@x.example\r\nTo: b@y.example\r\nSubject: " subject "\r\n"               \
	"Date: Fri, 10 Jan 2020 10:00:00 +0000\r\nMessage-ID: <" subject "@t>\r\n\r\nhi\r\n"

static const char policy_v1[] = "default: retain 6y\n";
static const char policy_v2[] = "rule \"short\": retain 30d when subject ~ \"*tmp*\"\n"
				"default: retain 6y\n";

static int count_version(void *ctx, const struct policy_version_info *v)
{
	(void)v;
	(*(int64_t *)ctx)++;
	return 0;
}

static void test_policy_set_is_audited_first_and_once(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct policy_set_result res;
	struct policy_diags diags;
	struct policy_version_info cur;
	fx_init(&f);
	fx_archive(&f, MSG("a tmp file"), fx_t("2020-01-10"));
	fx_archive(&f, MSG("the plan"), fx_t("2020-01-10"));

	/* policy_v2 shortens retention (30 days for "short"): set refuses it */
	int r = archive_policy_set(f.ar, "web:admin", policy_v2, strlen(policy_v2), &diags, &res, &err);
	assert_int_equal(r, PV_EPERM);
	assert_true(res.shortens);
	policy_set_result_free(&res);
	struct approval_proposal prop;
	struct approval_outcome out;
	fx_must(approval_propose(f.ar, "web:admin", "admin", APPROVAL_POLICY, policy_v2,
				 strlen(policy_v2), "tmp files", &diags, &prop, &err), &err, "propose");
	assert_false(prop.applied);
	approval_proposal_free(&prop);
	ops_audit_read_only(&f, true);
	r = approval_decide(f.ar, "web:carl", "compliance", 1, true, "ok", false, &out, &err);
	ops_assert_audit_refused(r, &err);
	approval_outcome_free(&out);
	ops_audit_read_only(&f, false);
	assert_int_equal(policy_store_current(f.ar->cat->conn, &cur, &err), PV_ENOTFOUND);

	fx_must(approval_decide(f.ar, "web:carl", "compliance", 1, true, "ok", false, &out, &err),
		&err, "approve");
	res = out.set; /* what archive_policy_set gives, set once approved */
	memset(&out.set, 0, sizeof(out.set));
	approval_outcome_free(&out);
	assert_false(res.unchanged);
	assert_int_equal(res.version, 1);
	assert_int_equal(res.reapply.evaluated, 2);
	assert_int_equal(res.reapply.changed, 1);
	struct policy_impact_row total;
	policy_impact_total(res.impact, &total);
	assert_int_equal(total.shorter, 1);
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "policy-set");
	assert_string_equal(e.actor, "web:admin");
	char want[128];
	snprintf(want, sizeof(want), "version=1 sha256=%s previous=0", res.sha256);
	assert_string_equal(e.object, want);
	assert_string_equal(fx_load(&f, 1).class_name, "short");
	policy_set_result_free(&res);

	/* the same text again: nothing stored, nothing audited */
	uint64_t before = ops_audit_size(&f);
	fx_must(archive_policy_set(f.ar, "web:admin", policy_v2, strlen(policy_v2), &diags, &res,
				   &err), &err, "set again");
	assert_true(res.unchanged);
	assert_int_equal(res.version, 1);
	assert_int_equal(ops_audit_size(&f), before);
	policy_set_result_free(&res);

	/* a text that does not parse: its errors, nothing changed */
	assert_true(archive_policy_set(f.ar, "web:admin", "rule x", 6, &diags, &res, &err) < 0);
	assert_true(res.invalid);
	assert_true(diags.count > 0);
	assert_int_equal(diags.item[0].line, 1);
	assert_int_equal(ops_audit_size(&f), before);
	policy_set_result_free(&res);

	/* get and list: version 0 is the one in force */
	unsigned char *text;
	size_t len;
	fx_must(archive_policy_set(f.ar, "web:admin", policy_v1, strlen(policy_v1), &diags, &res,
				   &err), &err, "set v1 text");
	assert_int_equal(res.version, 2);
	policy_set_result_free(&res);
	fx_must(archive_policy_get(f.ar, 0, &text, &len, &cur, &err), &err, "get");
	assert_int_equal(cur.version, 2);
	assert_memory_equal(text, policy_v1, len);
	free(text);
	fx_must(archive_policy_get(f.ar, 1, &text, &len, &cur, &err), &err, "get 1");
	assert_memory_equal(text, policy_v2, len);
	free(text);
	int64_t current = 0, versions = 0;
	fx_must(archive_policy_list(f.ar, &current, count_version, &versions, &err), &err, "list");
	assert_int_equal(current, 2);
	assert_int_equal(versions, 2);
	fx_free(&f);
}

static void test_policy_check_touches_nothing(void **state)
{
	(void)state;
	struct policy_summary sum;
	struct policy_diags diags;
	struct pv_error err;
	fx_must(archive_policy_check(policy_v2, strlen(policy_v2), &diags, &sum, &err), &err, "check");
	assert_int_equal(sum.rules, 2);
	assert_int_equal(strlen(sum.sha256), 64);
	assert_true(archive_policy_check("default: retain", 15, &diags, &sum, &err) < 0);
	assert_true(diags.count > 0);
}

struct names {
	char v[8][USER_NAME_MAX + ACCOUNT_NAME_MAX + 32];
	int n;
};

static int keep_user(void *ctx, const struct user *u)
{
	struct names *s = ctx;
	snprintf(s->v[s->n++], sizeof(s->v[0]), "%s/%s", u->name, u->role);
	return 0;
}

static int keep_account(void *ctx, const struct account *a)
{
	struct names *s = ctx;
	snprintf(s->v[s->n++], sizeof(s->v[0]), "%s", a->name);
	return 0;
}

static void test_user_changes_audited_in_their_transaction(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct names ns = {.n = 0};
	bool changed = true;
	fx_init(&f);
	uint64_t before = ops_audit_size(&f);

	ops_audit_read_only(&f, true);
	int r = archive_user_add(f.ar, "web:admin", "alice", "legal", "correct horse battery", false, false,
				 &changed, &err);
	ops_assert_audit_refused(r, &err);
	ops_audit_read_only(&f, false);
	fx_must(archive_user_list(f.ar, keep_user, &ns, &err), &err, "list");
	assert_int_equal(ns.n, 0);
	assert_int_equal(ops_audit_size(&f), before);

	assert_int_equal(archive_user_add(f.ar, "web:admin", "al ice", "legal", "correct horse battery",
					  false, false, NULL, &err), PV_EUSAGE);
	fx_must(archive_user_add(f.ar, "web:admin", "alice", "legal", "correct horse battery", false, false,
				 &changed, &err), &err, "add");
	assert_false(changed);
	assert_string_equal(ops_audit_last_of(&f, "user-add").object,
			    "user=alice role=legal password=one-time");
	/* (a legal user made in the web: her access waits for approval) */
	assert_string_equal(ops_audit_last(&f).type, "approval-propose");
	fx_must(archive_user_add(f.ar, "web:admin", "alice", "compliance", "correct horse battery 2",
				 true, false, &changed, &err), &err, "change");
	assert_true(changed);
	assert_string_equal(ops_audit_last_of(&f, "user-change").object,
			    "user=alice role=compliance password=one-time");
	/* (compliance: she waits again, the request before withdrawn) */
	assert_string_equal(ops_audit_last(&f).type, "approval-propose");
	fx_must(archive_user_list(f.ar, keep_user, &ns, &err), &err, "list");
	assert_int_equal(ns.n, 1);
	assert_string_equal(ns.v[0], "alice/compliance");

	ops_audit_read_only(&f, true);
	r = archive_user_remove(f.ar, "web:admin", "alice", &err);
	ops_assert_audit_refused(r, &err);
	ops_audit_read_only(&f, false);
	ns.n = 0;
	fx_must(archive_user_list(f.ar, keep_user, &ns, &err), &err, "list");
	assert_int_equal(ns.n, 1);
	fx_must(archive_user_remove(f.ar, "web:admin", "alice", &err), &err, "remove");
	assert_string_equal(ops_audit_last(&f).type, "user-remove");
	assert_int_equal(archive_user_remove(f.ar, "web:admin", "alice", &err), PV_ENOTFOUND);
	fx_free(&f);
}

static void test_account_changes_audited_secret_sealed(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct account a;
	struct names ns = {.n = 0};
	fx_init(&f);
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "legal-box");
	snprintf(a.host, sizeof(a.host), "pop.example");
	a.port = 110;
	snprintf(a.tls, sizeof(a.tls), "none");
	snprintf(a.user, sizeof(a.user), "counsel");
	snprintf(a.auth, sizeof(a.auth), "auto");
	a.insecure = true;
	assert_int_equal(archive_account_add(f.ar, "web:admin", &a, "pw", NULL, &err), PV_EUSAGE);
	a.insecure = false;

	ops_audit_read_only(&f, true);
	ops_assert_audit_refused(archive_account_add(f.ar, "web:admin", &a, "pw", NULL, &err), &err);
	assert_null(a.secret);
	ops_audit_read_only(&f, false);
	fx_must(archive_account_list(f.ar, keep_account, &ns, &err), &err, "list");
	assert_int_equal(ns.n, 1); /* the fixture's own */

	fx_must(archive_account_add(f.ar, "web:admin", &a, "s3cret-pw", NULL, &err), &err, "add");
	assert_true(a.id > 0);
	assert_null(a.secret);
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "account-add");
	assert_string_equal(e.object, "account=legal-box server=pop.example:110 tls=none auth=auto "
				      "verify-cert=yes keep-upstream=no");
	assert_null(strstr(e.object, "counsel"));
	struct account back;
	fx_must(account_load(f.ar->cat->conn, "legal-box", &back, &err), &err, "load");
	assert_true(back.secret_len > 0);
	assert_null(memmem(back.secret, back.secret_len, "s3cret-pw", 9));
	account_clear(&back);

	fx_must(archive_account_remove(f.ar, "web:admin", "legal-box", &err), &err, "remove");
	assert_string_equal(ops_audit_last(&f).object, "account=legal-box");
	assert_int_equal(archive_account_remove(f.ar, "web:admin", "legal-box", &err), PV_ENOTFOUND);
	fx_free(&f);
}

/* f's directory holds an executable token helper printing "tok-1"; its
 * path in path. */
static void token_helper(struct fx *f, char path[256])
{
	snprintf(path, 256, "%s/get-token", f->dir);
	FILE *h = fopen(path, "w");
	assert_non_null(h);
	fputs("#!/bin/sh\necho tok-1\n", h);
	fclose(h);
	assert_int_equal(chmod(path, 0700), 0);
}

/* Whether the bytes of file path (absent: none) hold needle. */
static bool file_holds(const char *path, const char *needle)
{
	unsigned char *d = NULL;
	size_t n = 0;
	struct pv_error err;
	if (pv_read_file(path, 1 << 26, &d, &n, &err) < 0)
		return false;
	bool in = memmem(d, n, needle, strlen(needle)) != NULL;
	free(d);
	return in;
}

/* Issue 16, finding 5: the token command is sealed like a password, the
 * account-add entry names its program and how many arguments it has (not
 * the arguments: a client secret may be one), and it runs as it was given. */
static void test_token_command_sealed_and_audited_redacted(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct account a, back;
	char helper[256], line[512], want[700], *token = NULL;
	fx_init(&f);
	token_helper(&f, helper);
	snprintf(line, sizeof(line), "%s --client-secret arg-s3cr3t-value\n", helper);
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "oauth");
	snprintf(a.host, sizeof(a.host), "pop.example");
	a.port = 995;
	snprintf(a.tls, sizeof(a.tls), "implicit");
	snprintf(a.user, sizeof(a.user), "me");
	snprintf(a.auth, sizeof(a.auth), "auto");
	assert_int_equal(archive_account_add(f.ar, "cli:root", &a, NULL, line, &err), PV_EUSAGE);
	assert_non_null(strstr(err.msg, "xoauth2"));
	snprintf(a.auth, sizeof(a.auth), "xoauth2");
	assert_int_equal(archive_account_add(f.ar, "cli:root", &a, "pw", line, &err), PV_EUSAGE);
	assert_int_equal(archive_account_add(f.ar, "cli:root", &a, NULL, "/bin/echo $TOKEN", &err),
			 PV_EUSAGE);
	assert_non_null(strstr(err.msg, "without a shell"));
	assert_int_equal(archive_account_add(f.ar, "cli:root", &a, NULL, "echo tok", &err),
			 PV_EUSAGE);

	fx_must(archive_account_add(f.ar, "cli:root", &a, NULL, line, &err), &err, "add");
	struct audit_entry e = ops_audit_last(&f);
	snprintf(want, sizeof(want), "account=oauth server=pop.example:995 tls=implicit auth=xoauth2 "
				     "verify-cert=yes keep-upstream=no token-command=%s "
				     "token-command-args=2", helper);
	assert_string_equal(e.object, want);
	fx_must(account_load(f.ar->cat->conn, "oauth", &back, &err), &err, "load");
	snprintf(want, sizeof(want), "%s (2 arguments, not shown)", helper);
	assert_string_equal(back.token_command, want);
	assert_null(memmem(back.secret, back.secret_len, "arg-s3cr3t", 10));
	char path[300];
	snprintf(path, sizeof(path), "%s/catalog.db", f.dir);
	catalog_exec(f.ar->cat->db, "PRAGMA wal_checkpoint(TRUNCATE)", &err);
	assert_false(file_holds(path, "arg-s3cr3t"));
	fx_must(harvest_account_secret(f.ar, &back, &token, &err), &err, "token");
	assert_string_equal(token, "tok-1");
	pv_secret_free(&token);
	account_clear(&back);

	/* a new server needs the token command again */
	struct account next;
	memset(&next, 0, sizeof(next));
	snprintf(next.host, sizeof(next.host), "evil.example");
	assert_int_equal(archive_account_change(f.ar, "cli:root", "oauth", &next, ACCOUNT_SET_HOST,
						NULL, NULL, &err), PV_EUSAGE);
	assert_non_null(strstr(err.msg, "needs the token command again"));
	fx_must(archive_account_change(f.ar, "cli:root", "oauth", &next, ACCOUNT_SET_HOST, NULL,
				       line, &err), &err, "change with the command");
	assert_non_null(strstr(ops_audit_last(&f).object, "changed=host,token-command "));
	fx_free(&f);
}

/* Catalogs before issue 16 kept the token command in clear (the sealed
 * secret empty): opening the archive seals it, leaves only what may be
 * shown of it, and the clear text is gone from the database files. */
static void test_clear_token_command_of_an_older_catalog_is_sealed_on_open(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct account back;
	char helper[256], line[512], path[300], wal[310], *open_line = NULL;
	fx_init(&f);
	token_helper(&f, helper);
	snprintf(line, sizeof(line), "%s --secret arg-0ld-s3cr3t", helper);
	unsigned char *empty = NULL;
	size_t empty_len = 0;
	ops_seal_v1(&f, "", &empty, &empty_len);
	sqlite3_stmt *st;
	fx_must(catalog_prepare(f.ar->cat->db, "UPDATE accounts SET token_command = ?, secret = ?,"
					       " auth = 'xoauth2' WHERE name = 'sales'", &st, &err),
		&err, "prepare");
	sqlite3_bind_text(st, 1, line, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, empty, (int)empty_len, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	/* and one that needed the shell popvault no longer runs */
	struct account sh;
	memset(&sh, 0, sizeof(sh));
	snprintf(sh.name, sizeof(sh.name), "shell");
	snprintf(sh.host, sizeof(sh.host), "pop.example");
	sh.port = 995;
	snprintf(sh.tls, sizeof(sh.tls), "implicit");
	snprintf(sh.user, sizeof(sh.user), "u");
	snprintf(sh.auth, sizeof(sh.auth), "xoauth2");
	fx_must(archive_account_add(f.ar, "cli:root", &sh, "x", NULL, &err), &err, "add");
	fx_must(catalog_prepare(f.ar->cat->db, "UPDATE accounts SET token_command ="
					       " 'oauth2l fetch | cut -f1', secret = ?"
					       " WHERE name = 'shell'", &st, &err), &err, "prepare");
	sqlite3_bind_blob(st, 1, empty, (int)empty_len, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	free(empty);
	ops_keyring_before_issue16(&f);

	fx_must(archive_open(f.dir, &f.ar, &err), &err, "reopen");
	fx_must(account_load(f.ar->cat->conn, "sales", &back, &err), &err, "load");
	char want[600];
	snprintf(want, sizeof(want), "%s (2 arguments, not shown)", helper);
	assert_string_equal(back.token_command, want);
	fx_must(account_open(f.ar->kr, &back, &open_line, &err), &err, "open");
	assert_string_equal(open_line, line);
	pv_secret_free(&open_line);
	account_clear(&back);
	snprintf(path, sizeof(path), "%s/catalog.db", f.dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_false(file_holds(path, "arg-0ld-s3cr3t"));
	assert_false(file_holds(wal, "arg-0ld-s3cr3t"));
	fx_must(account_load(f.ar->cat->conn, "shell", &back, &err), &err, "load shell");
	assert_string_equal(back.token_command, "(not a plain command line: give it again)");
	assert_int_equal(harvest_account_secret(f.ar, &back, &open_line, &err), PV_EAUTH);
	assert_non_null(strstr(err.msg, "account shell: give its token command again (popvault "
					"account change shell --token-command-file F)"));
	account_clear(&back);
	/* a second open finds nothing to do */
	archive_close(&f.ar);
	fx_must(archive_open(f.dir, &f.ar, &err), &err, "reopen again");
	fx_must(account_load(f.ar->cat->conn, "sales", &back, &err), &err, "load");
	assert_string_equal(back.token_command, want);
	account_clear(&back);
	fx_free(&f);
}

struct seqs {
	uint64_t v[16];
	int n;
};

static int keep_seq(void *ctx, const struct audit_entry *e, const char *personal, size_t plen)
{
	(void)personal;
	(void)plen;
	struct seqs *s = ctx;
	s->v[s->n++] = e->seq;
	return s->n == 16;
}

static void test_audit_list_filters_and_pages(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_message_meta meta;
	struct seqs s = {.n = 0};
	uint64_t matched = 0;
	fx_init(&f);
	fx_archive(&f, MSG("one"), fx_t("2020-01-10"));
	for (int i = 0; i < 5; i++) {
		fx_must(archive_view_meta(f.ar, i % 2 ? "web:bob" : "web:ann", 1, 0, &meta, &err), &err,
			"view");
		archive_message_meta_free(&meta);
	}
	uint64_t size = ops_audit_size(&f);
	struct archive_audit_query q = {{INT64_MIN, INT64_MAX, NULL, "view"}, 1, 2, NULL};
	fx_must(archive_audit_list(f.ar, &q, keep_seq, &s, &matched, &err), &err, "page");
	assert_int_equal(matched, 5);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.v[0], size - 4);
	assert_int_equal(s.v[1], size - 3);
	/* without a count it stops at the end of the page */
	s.n = 0;
	q.offset = 3;
	q.limit = 10;
	fx_must(archive_audit_list(f.ar, &q, keep_seq, &s, NULL, &err), &err, "tail");
	assert_int_equal(s.n, 2);
	assert_int_equal(s.v[1], size - 1);
	s.n = 0;
	q.filter.actor = "web:bob";
	q.offset = 0;
	q.limit = 0;
	fx_must(archive_audit_list(f.ar, &q, keep_seq, &s, &matched, &err), &err, "actor");
	assert_int_equal(matched, 2);
	assert_int_equal(s.n, 2);

	int64_t t;
	fx_must(archive_audit_time("2020-01-10", true, &t, &err), &err, "until");
	assert_int_equal(t, fx_t("2020-01-10T23:59:59Z"));
	fx_must(archive_audit_time("2020-01-10", false, &t, &err), &err, "since");
	assert_int_equal(t, fx_t("2020-01-10T00:00:00Z"));
	assert_int_equal(archive_audit_time("yesterday", false, &t, &err), PV_EUSAGE);
	fx_free(&f);
}

static void count_line(void *ctx, const char *line)
{
	(void)line;
	(*(int *)ctx)++;
}

static void test_verify_summary_and_its_record(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct verify_summary sum;
	int lines = 0;
	fx_init(&f);
	fx_archive(&f, MSG("one"), fx_t("2020-01-10"));
	fx_must(archive_verify(f.ar, "web:officer", true, NULL, NULL, 0, count_line, &lines, &sum,
			       &err), &err, "verify");
	assert_true(sum.ran && sum.ok && sum.recorded);
	assert_int_equal(lines, 0);
	assert_int_equal(sum.rep.messages, 1);
	assert_int_equal(sum.rep.blobs_decrypted, 1);
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "verify");
	assert_string_equal(e.outcome, "ok");
	assert_int_equal(strncmp(e.object, "full=yes problems=0 ", 20), 0);

	/* the checks pass, the run cannot be recorded: an error, said why */
	ops_audit_read_only(&f, true);
	int r = archive_verify(f.ar, "web:officer", false, NULL, NULL, 0, NULL, NULL, &sum, &err);
	ops_assert_audit_refused(r, &err);
	assert_true(sum.ran && sum.ok);
	assert_false(sum.recorded);
	assert_int_equal(strncmp(sum.record_error, "audit log: ", 11), 0);
	ops_audit_read_only(&f, false);

	/* a problem: listed through the callback, PV_EINTEGRITY, recorded */
	struct stored_message m = fx_load(&f, 1);
	char path[512];
	blob_path(f.dir, m.blob, path, sizeof(path));
	assert_int_equal(remove(path), 0);
	lines = 0;
	assert_int_equal(archive_verify(f.ar, "web:officer", false, NULL, NULL, 0, count_line, &lines,
					&sum, &err), PV_EINTEGRITY);
	assert_true(sum.ran && !sum.ok && sum.recorded);
	assert_true(lines >= 1);
	assert_string_equal(ops_audit_last(&f).outcome, "failed: integrity problems found");
	fx_free(&f);
}

static void test_checkpoints_by_log_name(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct pv_buf note, vkey;
	fx_init(&f);
	pv_buf_init(&note, PV_NOTE_MAX);
	pv_buf_init(&vkey, 4096);
	assert_ptr_equal(archive_log_named(f.ar, "audit"), f.ar->audit_log);
	assert_ptr_equal(archive_log_named(f.ar, "archive"), f.ar->archive_log);
	assert_null(archive_log_named(f.ar, "other"));
	fx_must(archive_checkpoint_latest(f.ar, "audit", &note, &err), &err, "latest");
	assert_int_equal(strncmp(pv_buf_str(&note), "test.example/popvault/audit\n", 28), 0);
	fx_must(archive_checkpoint_vkey(f.ar, "archive", &vkey, &err), &err, "vkey");
	assert_int_equal(strncmp(pv_buf_str(&vkey), "test.example/popvault/archive+", 30), 0);
	assert_null(strchr(pv_buf_str(&vkey), '\n'));
	assert_int_equal(archive_checkpoint_latest(f.ar, "other", &note, &err), PV_EUSAGE);
	pv_buf_free(&note);
	pv_buf_free(&vkey);
	fx_free(&f);
}

static void test_status_counts_and_last_runs(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_status st;
	fx_init(&f);
	fx_archive(&f, MSG("one"), fx_t("2020-01-10"));
	fx_archive(&f, MSG("two"), fx_t("2020-01-11"));
	fx_must(catalog_exec(f.ar->cat->db,
			     "INSERT INTO harvest_runs (account_id, started_at, fetched, deleted, outcome)"
			     " VALUES (1, 100, 1, 1, 'ok'), (1, 200, 2, 0, 'failed: x')", &err),
		&err, "runs");
	uint64_t audit_before = ops_audit_size(&f);
	fx_must(archive_status(f.ar, &st, &err), &err, "status");
	assert_int_equal(st.counts.messages, 2);
	assert_int_equal(st.counts.disposed, 0);
	assert_int_equal(st.counts.bytes, strlen(MSG("one")) + strlen(MSG("two")));
	assert_int_equal(st.counts.accounts, 1);
	assert_int_equal(st.counts.upstream_pending, 2);
	assert_int_equal(st.archive_log_size, 2);
	assert_int_equal((uint64_t)st.audit_log_size, audit_before);
	assert_int_equal(st.n_runs, 1);
	assert_string_equal(st.runs[0].account, "sales");
	assert_int_equal(st.runs[0].started_at, 200);
	assert_string_equal(st.runs[0].outcome, "failed: x");
	assert_int_equal(ops_audit_size(&f), audit_before); /* not audited */
	archive_status_free(&st);
	assert_null(st.runs);
	fx_free(&f);
}

static void test_dispose_dry_run_plans_without_changing(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct dispose_run run;
	fx_init(&f);
	/* 60 days old: past the 30 days of "short", far from the default's 6 years */
	int64_t received = pv_clock_now() - 60 * 86400;
	fx_archive(&f, MSG("a tmp note"), received);
	fx_archive(&f, MSG("the plan"), received);
	struct approval_proposal prop;
	struct approval_outcome out;
	fx_must(approval_propose(f.ar, "web:admin", "admin", APPROVAL_POLICY, policy_v2,
				 strlen(policy_v2), NULL, NULL, &prop, &err), &err, "propose policy");
	approval_proposal_free(&prop);
	fx_must(approval_decide(f.ar, "web:carl", "compliance", 1, true, NULL, false, &out, &err),
		&err, "policy");
	approval_outcome_free(&out);
	uint64_t before = ops_audit_size(&f);
	fx_must(archive_dispose(f.ar, "web:legal", true, &run, &err), &err, "dry run");
	assert_true(run.completed);
	assert_int_equal(run.plan.due, 1);
	assert_int_equal(run.plan.v[0].id, 1);
	assert_int_equal(run.res.disposed, 0);
	assert_int_equal(ops_audit_size(&f), before);
	assert_int_equal(fx_load(&f, 1).disposed_at, 0);
	dispose_run_free(&run);

	/* a real run is never started directly: it is proposed, then approved */
	assert_int_equal(archive_dispose(f.ar, "web:legal", false, &run, &err), PV_EPERM);
	dispose_run_free(&run);
	fx_must(approval_propose(f.ar, "web:admin", "admin", APPROVAL_DISPOSE, NULL, 0, "due", NULL,
				 &prop, &err), &err, "propose run");
	assert_int_equal(prop.id, 2);
	assert_int_equal(prop.frozen, 1);
	approval_proposal_free(&prop);
	assert_int_equal(fx_load(&f, 1).disposed_at, 0);

	/* the run itself cannot start without its intent entry */
	ops_audit_read_only(&f, true);
	ops_assert_audit_refused(approval_decide(f.ar, "web:lena", "legal", 2, true, "due", false,
						 &out, &err), &err);
	assert_false(out.run.completed);
	approval_outcome_free(&out);
	ops_audit_read_only(&f, false);
	assert_int_equal(fx_load(&f, 1).disposed_at, 0);
	assert_int_equal(fx_read(&f, 1, MSG("a tmp note")), PV_OK);

	fx_must(approval_decide(f.ar, "web:lena", "legal", 2, true, "due", false, &out, &err), &err,
		"run");
	assert_int_equal(out.run.res.disposed, 1);
	assert_true(fx_load(&f, 1).disposed_at != 0);
	approval_outcome_free(&out);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_set_is_audited_first_and_once),
		cmocka_unit_test(test_policy_check_touches_nothing),
		cmocka_unit_test(test_user_changes_audited_in_their_transaction),
		cmocka_unit_test(test_account_changes_audited_secret_sealed),
		cmocka_unit_test(test_token_command_sealed_and_audited_redacted),
		cmocka_unit_test(test_clear_token_command_of_an_older_catalog_is_sealed_on_open),
		cmocka_unit_test(test_audit_list_filters_and_pages),
		cmocka_unit_test(test_verify_summary_and_its_record),
		cmocka_unit_test(test_checkpoints_by_log_name),
		cmocka_unit_test(test_status_counts_and_last_runs),
		cmocka_unit_test(test_dispose_dry_run_plans_without_changing),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("ops_admin", tests, NULL, NULL);
}
