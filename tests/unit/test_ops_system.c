/* Unit tests for the admin and system operations the web API and the CLI
 * share (archiver/archive/accounts.c, users.c, status.c, health.c,
 * disk_guard.c, verify --sample, anchor.c's schedule) and the
 * Prometheus rendering of GET /metrics (archiver/http/metrics.c): each
 * change audited in its own transaction (nothing changes when the audit
 * store cannot be written), a stored password never sent to a new server
 * without being given again, and the status figures exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "archiver/archive/accounts.h"
#include "archiver/archive/anchor.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/disk_guard.h"
#include "archiver/archive/health.h"
#include "archiver/archive/status.h"
#include "archiver/archive/users.h"
#include "archiver/archive/verify.h"
#include "archiver/harvest/connect.h"
#include "archiver/http/metrics.h"
#include "archiver/lib/hex.h"
#include "archiver/store/user_totp.h"
#include "archiver/lib/clock.h"
#include "test_ops_fixture.h"

#define MSG(subject)                                                                    \
	"From: a@x.example\r\nTo: b@y.example\r\nSubject: " subject "\r\n"               \
	"Date: Fri, 10 Jan 2020 10:00:00 +0000\r\nMessage-ID: <" subject "@t>\r\n\r\nhi\r\n"

/* The fixture's account, "sales", as stored now. */
static struct account sales(struct fx *f)
{
	struct account a;
	struct pv_error err;
	fx_must(archive_account_get(f->ar, "sales", &a, &err), &err, "get");
	account_clear(&a);
	return a;
}

static void test_account_change_new_host_needs_the_password(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct account next;
	fx_init(&f);
	struct account before = sales(&f);
	uint64_t n = ops_audit_size(&f);
	memset(&next, 0, sizeof(next));
	snprintf(next.host, sizeof(next.host), "evil.example");

	assert_int_equal(archive_account_change(f.ar, "web:admin", "sales", &next, ACCOUNT_SET_HOST,
						NULL, NULL, &err),
			 PV_EUSAGE);
	assert_non_null(strstr(err.msg, "password"));
	assert_string_equal(sales(&f).host, before.host);
	assert_int_equal(ops_audit_size(&f), n);

	/* The same host again is no change: no password needed, no entry. */
	snprintf(next.host, sizeof(next.host), "%s", before.host);
	fx_must(archive_account_change(f.ar, "web:admin", "sales", &next, ACCOUNT_SET_HOST, NULL,
				       NULL, &err), &err, "same host");
	assert_int_equal(ops_audit_size(&f), n);

	/* keep_upstream concerns no password: allowed without it. */
	next.keep_upstream = true;
	fx_must(archive_account_change(f.ar, "web:admin", "sales", &next, ACCOUNT_SET_KEEP_UPSTREAM,
				       NULL, NULL, &err), &err, "keep");
	assert_true(sales(&f).keep_upstream);
	assert_non_null(strstr(ops_audit_last(&f).object, "changed=keep-upstream "));

	/* An interval of its own (serve), and back to the configured one. */
	next.harvest_interval_s = 90;
	fx_must(archive_account_change(f.ar, "web:admin", "sales", &next, ACCOUNT_SET_INTERVAL, NULL,
				       NULL, &err), &err, "interval");
	assert_int_equal(sales(&f).harvest_interval_s, 90);
	assert_non_null(strstr(ops_audit_last(&f).object, "changed=interval "));
	next.harvest_interval_s = 86401;
	assert_int_equal(archive_account_change(f.ar, "web:admin", "sales", &next,
						ACCOUNT_SET_INTERVAL, NULL, NULL, &err), PV_EUSAGE);
	next.harvest_interval_s = 0;
	fx_must(archive_account_change(f.ar, "web:admin", "sales", &next, ACCOUNT_SET_INTERVAL, NULL,
				       NULL, &err), &err, "interval off");
	assert_int_equal(sales(&f).harvest_interval_s, 0);

	snprintf(next.host, sizeof(next.host), "pop2.example");
	ops_audit_read_only(&f, true);
	ops_assert_audit_refused(archive_account_change(f.ar, "web:admin", "sales", &next,
							ACCOUNT_SET_HOST, "new-pw", NULL, &err),
				 &err);
	ops_audit_read_only(&f, false);
	assert_string_equal(sales(&f).host, before.host);

	fx_must(archive_account_change(f.ar, "web:admin", "sales", &next, ACCOUNT_SET_HOST, "new-pw",
				       NULL, &err), &err, "host with password");
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "account-change");
	assert_string_equal(e.actor, "web:admin");
	assert_non_null(strstr(e.object, "account=sales changed=host,password server=pop2.example:"));
	struct account a;
	fx_must(account_load(f.ar->cat->conn, "sales", &a, &err), &err, "load");
	char *pw = NULL;
	fx_must(account_open(f.ar->kr, &a, &pw, &err), &err, "open");
	assert_string_equal(pw, "new-pw");
	pv_secret_free(&pw);
	account_clear(&a);

	next.port = 0;
	assert_int_equal(archive_account_change(f.ar, "web:admin", "sales", &next, ACCOUNT_SET_PORT,
						"new-pw", NULL, &err),
			 PV_EUSAGE);
	assert_int_equal(archive_account_change(f.ar, "web:admin", "nosuch", &next,
						ACCOUNT_SET_HOST, "pw", NULL, &err),
			 PV_ENOTFOUND);
	fx_free(&f);
}

/* The sealed blob of column col of table's row named name, malloc'ed. */
static unsigned char *blob_of(struct fx *f, const char *table, const char *col, const char *name,
			      size_t *len_r)
{
	char sql[256];
	sqlite3_stmt *st;
	struct pv_error err;
	snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE name = ? AND removed_at IS NULL", col,
		 table);
	fx_must(catalog_prepare(f->ar->cat->db, sql, &st, &err), &err, "prepare");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	*len_r = (size_t)sqlite3_column_bytes(st, 0);
	unsigned char *b = malloc(*len_r);
	memcpy(b, sqlite3_column_blob(st, 0), *len_r);
	sqlite3_finalize(st);
	return b;
}

/* Whether account name's secret opens (into *secret_r, when it does). */
static int open_account(struct fx *f, const char *name, char **secret_r, struct pv_error *err)
{
	struct account a;
	fx_must(account_load(f->ar->cat->conn, name, &a, err), err, "load");
	int r = account_open(f->ar->kr, &a, secret_r, err);
	account_clear(&a);
	return r;
}

static void add_user(struct fx *f, const char *name, unsigned char totp[TOTP_SECRET_BYTES],
		     int64_t *id_r)
{
	struct pv_error err;
	struct user u;
	bool changed;
	fx_must(archive_user_add(f->ar, "cli:root", name, "legal", "correct horse battery", false, false,
				 &changed, &err), &err, "user");
	fx_must(user_totp_enrol(f->ar->cat->conn, f->ar->kr, name, totp, &err), &err, "enrol");
	fx_must(archive_user_get(f->ar, name, &u, &err), &err, "get");
	*id_r = u.id;
}

/* Issue 16, finding 6: a sealed secret is bound to its row. Swapped
 * between two accounts' rows, or left in a row whose server was edited in
 * the catalog, it does not open, and the error says what to do; the same
 * for users' TOTP secrets. */
static void test_sealed_secrets_open_only_in_their_own_row(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct account a;
	char *pw = NULL;
	size_t la, lb;
	fx_init(&f);
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "legal");
	snprintf(a.host, sizeof(a.host), "pop.example");
	a.port = 995;
	snprintf(a.tls, sizeof(a.tls), "implicit");
	snprintf(a.user, sizeof(a.user), "l");
	snprintf(a.auth, sizeof(a.auth), "auto");
	fx_must(archive_account_add(f.ar, "cli:root", &a, "legal-pw", NULL, &err), &err, "add");
	fx_must(open_account(&f, "legal", &pw, &err), &err, "own row");
	assert_string_equal(pw, "legal-pw");
	pv_secret_free(&pw);

	unsigned char *sales_secret = blob_of(&f, "accounts", "secret", "sales", &la);
	unsigned char *legal_secret = blob_of(&f, "accounts", "secret", "legal", &lb);
	ops_set_blob(&f, "accounts", "secret", "sales", legal_secret, lb);
	ops_set_blob(&f, "accounts", "secret", "legal", sales_secret, la);
	assert_int_equal(open_account(&f, "sales", &pw, &err), PV_EINTEGRITY);
	assert_null(pw);
	assert_non_null(strstr(err.msg, "account sales: its password does not open for this account "
					"and server (moved from another account's row"));
	assert_non_null(strstr(err.msg, "popvault account change sales --password-file F"));
	assert_int_equal(open_account(&f, "legal", &pw, &err), PV_EINTEGRITY);
	struct account loaded;
	fx_must(account_load(f.ar->cat->conn, "sales", &loaded, &err), &err, "load");
	assert_int_equal(harvest_account_secret(f.ar, &loaded, &pw, &err), PV_EINTEGRITY);
	account_clear(&loaded);
	ops_set_blob(&f, "accounts", "secret", "sales", sales_secret, la);
	ops_set_blob(&f, "accounts", "secret", "legal", legal_secret, lb);

	/* the server edited in the catalog, without the password */
	fx_must(catalog_exec(f.ar->cat->db, "UPDATE accounts SET host = 'evil.example'"
					    " WHERE name = 'legal'", &err), &err, "edit");
	assert_int_equal(open_account(&f, "legal", &pw, &err), PV_EINTEGRITY);
	fx_must(catalog_exec(f.ar->cat->db, "UPDATE accounts SET host = 'pop.example', port = 110"
					    " WHERE name = 'legal'", &err), &err, "edit");
	assert_int_equal(open_account(&f, "legal", &pw, &err), PV_EINTEGRITY);
	fx_must(catalog_exec(f.ar->cat->db, "UPDATE accounts SET port = 995 WHERE name = 'legal'",
			     &err), &err, "edit back");
	fx_must(open_account(&f, "legal", &pw, &err), &err, "restored row");
	pv_secret_free(&pw);
	free(sales_secret);
	free(legal_secret);

	/* TOTP secrets, swapped between two users */
	unsigned char t1[TOTP_SECRET_BYTES], t2[TOTP_SECRET_BYTES], got[TOTP_SECRET_BYTES];
	int64_t id1, id2;
	uint64_t step;
	bool enrolled;
	add_user(&f, "lena", t1, &id1);
	add_user(&f, "otto", t2, &id2);
	fx_must(user_totp_get(f.ar->cat->conn, f.ar->kr, id1, &enrolled, got, &step, &err), &err,
		"totp");
	assert_memory_equal(got, t1, TOTP_SECRET_BYTES);
	unsigned char *s1 = blob_of(&f, "users", "totp_secret", "lena", &la);
	unsigned char *s2 = blob_of(&f, "users", "totp_secret", "otto", &lb);
	ops_set_blob(&f, "users", "totp_secret", "lena", s2, lb);
	assert_int_equal(user_totp_get(f.ar->cat->conn, f.ar->kr, id1, &enrolled, got, &step, &err),
			 PV_EINTEGRITY);
	assert_false(enrolled);
	assert_non_null(strstr(err.msg, "user lena: second factor"));
	free(s1);
	free(s2);
	fx_free(&f);
}

/* An archive from before issue 16: its secrets (format 1, bound to
 * nothing) open once, on the first open, and are sealed again bound to
 * their rows; the keyring says so, and a format 1 secret that turns up
 * later (copied from an old catalog) is refused, naming the fix. */
static void test_secrets_of_an_older_archive_are_bound_on_first_open(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	unsigned char totp[TOTP_SECRET_BYTES], got[TOTP_SECRET_BYTES];
	char hex[2 * TOTP_SECRET_BYTES + 1], *pw = NULL;
	unsigned char *v1 = NULL;
	size_t n1;
	int64_t id;
	uint64_t step;
	bool enrolled, bound;
	fx_init(&f);
	add_user(&f, "lena", totp, &id);
	ops_seal_v1(&f, "old-sales-pw", &v1, &n1);
	ops_set_blob(&f, "accounts", "secret", "sales", v1, n1);
	free(v1);
	pv_hex(totp, TOTP_SECRET_BYTES, hex);
	ops_seal_v1(&f, hex, &v1, &n1);
	ops_set_blob(&f, "users", "totp_secret", "lena", v1, n1);
	free(v1);
	ops_keyring_before_issue16(&f);

	fx_must(archive_open(f.dir, &f.ar, &err), &err, "first open");
	fx_must(keyring_secrets_bound(f.ar->kr, &bound, &err), &err, "bound");
	assert_true(bound);
	size_t len;
	unsigned char *now = blob_of(&f, "accounts", "secret", "sales", &len);
	assert_true(keyring_sealed_bound(now, len));
	free(now);
	fx_must(open_account(&f, "sales", &pw, &err), &err, "open");
	assert_string_equal(pw, "old-sales-pw");
	pv_secret_free(&pw);
	fx_must(user_totp_get(f.ar->cat->conn, f.ar->kr, id, &enrolled, got, &step, &err), &err,
		"totp");
	assert_true(enrolled);
	assert_memory_equal(got, totp, TOTP_SECRET_BYTES);

	/* later: an unbound secret is never opened again */
	ops_seal_v1(&f, "copied-pw", &v1, &n1);
	ops_set_blob(&f, "accounts", "secret", "sales", v1, n1);
	free(v1);
	archive_close(&f.ar);
	fx_must(archive_open(f.dir, &f.ar, &err), &err, "open again");
	assert_int_equal(open_account(&f, "sales", &pw, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "old format, bound to nothing"));
	fx_free(&f);
}

static void test_user_password_role_totp_audited(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_totp_enrolment e;
	struct user u;
	char roles[USER_TOTP_ROLES_MAX];
	fx_init(&f);
	fx_must(archive_user_add(f.ar, "cli:root", "lena", "legal", "correct horse battery", false, false,
				 NULL, &err), &err, "add");

	fx_must(archive_user_passwd(f.ar, "web:adam", "lena", "another long passphrase", false,
				    &err), &err, "passwd");
	/* Set by another web user: it signs in once (and, she being legal,
	 * waits for a compliance officer: approval-propose comes last). */
	assert_string_equal(ops_audit_last_of(&f, "user-change").object,
			    "user=lena password=one-time");
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	assert_true(u.password_once);
	fx_must(archive_user_passwd(f.ar, "web:lena", "lena", "her very own phrase", false, &err),
		&err, "own");
	assert_string_equal(ops_audit_last(&f).object, "user=lena password=changed");
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	assert_false(u.password_once);
	fx_must(archive_user_passwd(f.ar, "cli:root", "lena", "set at the shell 1", false, &err),
		&err, "cli");
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	assert_false(u.password_once);
	fx_must(archive_user_passwd(f.ar, "cli:root", "lena", "set at the shell 2", true, &err),
		&err, "cli once");
	assert_string_equal(ops_audit_last(&f).object, "user=lena password=one-time");
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	assert_true(u.password_once);
	/* A sign-in's own change only while the password it checked is still
	 * the user's: of two sign-ins with one one-time password, one wins. */
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	int64_t was = u.changed_at;
	struct user after;
	fx_must(archive_user_passwd_own(f.ar, "lena", "the first to come", was, &after, &err), &err,
		"own, first");
	assert_true(after.changed_at > was && !after.password_once);
	assert_string_equal(ops_audit_last(&f).actor, "web:lena");
	assert_int_equal(archive_user_passwd_own(f.ar, "lena", "the second to come", was, &after,
						 &err), PV_EAUTH);
	fx_must(user_check_password(f.ar->cat->conn, "lena", "the first to come", &after, &err),
		&err, "the first one stands");
	/* Weak ones refused, naming why. */
	assert_int_equal(archive_user_passwd(f.ar, "web:lena", "lena", "            ", false, &err),
			 PV_EUSAGE);
	assert_non_null(strstr(err.msg, "too few"));
	assert_int_equal(archive_user_passwd(f.ar, "web:lena", "lena", "abababababababab", false,
					     &err), PV_EUSAGE);
	assert_int_equal(archive_user_passwd(f.ar, "web:lena", "lena", "I am LENA, 2026!", false,
					     &err), PV_EUSAGE);
	assert_non_null(strstr(err.msg, "name"));
	assert_int_equal(archive_user_passwd(f.ar, "web:lena", "lena", "my PopVault pass", false,
					     &err), PV_EUSAGE);
	assert_int_equal(archive_user_passwd(f.ar, "web:adam", "lena", "short", false, &err), PV_EUSAGE);
	assert_int_equal(archive_user_passwd(f.ar, "web:adam", "nosuch", "a long passphrase!", false, &err),
			 PV_ENOTFOUND);

	ops_audit_read_only(&f, true);
	ops_assert_audit_refused(archive_user_set_role(f.ar, "web:adam", "lena", "compliance", &err),
				 &err);
	ops_assert_audit_refused(archive_user_totp_enrol(f.ar, "web:adam", "lena", &e, &err), &err);
	assert_string_equal(e.secret, "");
	ops_audit_read_only(&f, false);
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	assert_string_equal(u.role, "legal");
	assert_false(u.totp);

	fx_must(archive_user_set_role(f.ar, "web:adam", "lena", "compliance", &err), &err, "role");
	assert_string_equal(ops_audit_last_of(&f, "user-change").object, "user=lena role=compliance");
	assert_string_equal(ops_audit_last(&f).type, "approval-propose"); /* compliance waits too */
	assert_int_equal(archive_user_set_role(f.ar, "web:adam", "lena", "root", &err), PV_EUSAGE);

	fx_must(archive_user_totp_enrol(f.ar, "web:adam", "lena", &e, &err), &err, "enrol");
	assert_int_equal(strlen(e.secret), 32);
	char want[ARCHIVE_TOTP_URI_MAX];
	snprintf(want, sizeof(want),
		 "otpauth://totp/popvault:lena?secret=%s&issuer=popvault&algorithm=SHA1&digits=6"
		 "&period=30", e.secret);
	assert_string_equal(e.uri, want);
	archive_totp_enrolment_wipe(&e);
	assert_string_equal(ops_audit_last(&f).object, "user=lena totp=enrolled");
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	assert_true(u.totp);
	fx_must(archive_user_totp_remove(f.ar, "web:adam", "lena", &err), &err, "remove");
	assert_string_equal(ops_audit_last(&f).object, "user=lena totp=removed");
	assert_int_equal(archive_user_totp_remove(f.ar, "web:adam", "lena", &err), PV_ENOTFOUND);

	/* Set up by the user: kept aside until a code from it comes. */
	fx_must(archive_user_totp_begin(f.ar, "web:lena", "lena", &e, &err), &err, "begin");
	assert_string_equal(ops_audit_last(&f).object, "user=lena totp=setting-up");
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	assert_true(u.totp_pending && !u.totp);
	unsigned char raw[TOTP_SECRET_BYTES];
	char shown[TOTP_SECRET_B32_LEN];
	bool pending = false;
	uint64_t last = 0;
	fx_must(user_totp_pending_get(f.ar->cat->conn, f.ar->kr, u.id, &pending, raw, &err), &err,
		"pending");
	assert_true(pending);
	totp_base32(raw, sizeof(raw), shown);
	assert_string_equal(shown, e.secret); /* what the user was shown is what is kept */
	archive_totp_enrolment_wipe(&e);
	uint64_t now_step = totp_step(pv_clock_now());
	char code[8], wrong[8];
	unsigned hotp = totp_hotp(raw, sizeof(raw), now_step);
	snprintf(code, sizeof(code), "%06u", hotp);
	snprintf(wrong, sizeof(wrong), "%06u", (hotp + 1) % 1000000);
	assert_int_equal(archive_user_totp_confirm(f.ar, "web:lena", "lena", wrong, &err), PV_EAUTH);
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	assert_true(u.totp_pending && !u.totp);
	fx_must(archive_user_totp_confirm(f.ar, "web:lena", "lena", code, &err), &err, "confirm");
	assert_string_equal(ops_audit_last(&f).object, "user=lena totp=enrolled");
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	assert_true(u.totp && !u.totp_pending);
	bool enrolled = false;
	unsigned char got[TOTP_SECRET_BYTES];
	fx_must(user_totp_get(f.ar->cat->conn, f.ar->kr, u.id, &enrolled, got, &last, &err), &err,
		"get secret");
	assert_true(enrolled);
	assert_memory_equal(got, raw, sizeof(raw));
	assert_true(last >= now_step); /* the code is used up */
	assert_int_equal(archive_user_totp_confirm(f.ar, "web:lena", "lena", code, &err),
			 PV_ENOTFOUND);
	/* A replacement begun leaves the one in force until confirmed. Its
	 * first code is of the very step the old one just used (a sign-in a
	 * moment ago): accepted, a new secret has no history (it was refused
	 * as "used"). */
	fx_must(archive_user_totp_begin(f.ar, "web:lena", "lena", &e, &err), &err, "begin again");
	archive_totp_enrolment_wipe(&e);
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	assert_true(u.totp && u.totp_pending);
	fx_must(user_totp_pending_get(f.ar->cat->conn, f.ar->kr, u.id, &pending, raw, &err), &err,
		"pending 2");
	uint64_t step2 = totp_step(pv_clock_now());
	assert_true(last >= now_step && step2 <= last + 1);
	snprintf(code, sizeof(code), "%06u", totp_hotp(raw, sizeof(raw), last));
	fx_must(archive_user_totp_confirm(f.ar, "web:lena", "lena", code, &err), &err,
		"confirm at the old one's last step");
	fx_must(user_totp_get(f.ar->cat->conn, f.ar->kr, u.id, &enrolled, got, &last, &err), &err,
		"get secret 2");
	assert_memory_equal(got, raw, sizeof(raw));
	/* A password set ends a set-up begun with the old one. */
	fx_must(archive_user_totp_begin(f.ar, "web:lena", "lena", &e, &err), &err, "begin 3");
	archive_totp_enrolment_wipe(&e);
	fx_must(archive_user_passwd(f.ar, "web:lena", "lena", "a brand new phrase", false, &err),
		&err, "own password");
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	assert_true(u.totp && !u.totp_pending);
	/* Taking the factor away takes both. */
	fx_must(archive_user_totp_begin(f.ar, "web:lena", "lena", &e, &err), &err, "begin 4");
	archive_totp_enrolment_wipe(&e);
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	assert_true(u.totp && u.totp_pending);
	fx_must(archive_user_totp_remove(f.ar, "web:adam", "lena", &err), &err, "remove both");
	fx_must(archive_user_get(f.ar, "lena", &u, &err), &err, "get");
	assert_true(!u.totp && !u.totp_pending);

	/* Not of admins while none has a second factor. */
	assert_int_equal(archive_totp_require(f.ar, "web:adam", "compliance,admin", roles, &err),
			 PV_EEXISTS);
	assert_non_null(strstr(err.msg, "set up your own first"));
	fx_must(archive_totp_required_roles(f.ar, roles, &err), &err, "get");
	assert_string_equal(roles, "");
	fx_must(archive_user_add(f.ar, "cli:root", "adam", "admin", "correct horse battery", false, false,
				 NULL, &err), &err, "add adam");
	fx_must(archive_user_totp_enrol(f.ar, "cli:root", "adam", &e, &err), &err, "enrol adam");
	archive_totp_enrolment_wipe(&e);
	fx_must(archive_totp_require(f.ar, "web:adam", "compliance,admin", roles, &err), &err, "req");
	assert_string_equal(roles, "admin,compliance");
	assert_string_equal(ops_audit_last(&f).object, "totp-required=admin,compliance");
	fx_must(archive_totp_required_roles(f.ar, roles, &err), &err, "get");
	assert_string_equal(roles, "admin,compliance");
	assert_int_equal(archive_totp_require(f.ar, "web:adam", "root", roles, &err), PV_EUSAGE);
	/* nor may the last admin with one lose it, their role or their account */
	assert_int_equal(archive_user_totp_remove(f.ar, "web:adam", "adam", &err), PV_EEXISTS);
	assert_int_equal(archive_user_set_role(f.ar, "web:adam", "adam", "legal", &err), PV_EEXISTS);
	assert_int_equal(archive_user_remove(f.ar, "web:adam", "adam", &err), PV_EEXISTS);
	fx_must(archive_user_get(f.ar, "adam", &u, &err), &err, "get adam");
	assert_string_equal(u.role, "admin");
	assert_true(u.totp);
	fx_free(&f);
}

static void test_system_status_figures(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_system_status st;
	struct verify_summary sum;
	int64_t now = pv_clock_now();
	fx_init(&f);
	fx_archive(&f, MSG("old"), fx_t("2020-01-10"));
	fx_archive(&f, MSG("today"), now);
	fx_archive(&f, MSG("today too"), now);
	fx_must(catalog_exec(f.ar->cat->db,
			     "INSERT INTO harvest_runs (account_id, started_at, finished_at, fetched,"
			     " deleted, residue, outcome) VALUES (1, 100, 101, 1, 1, 0, 'ok'),"
			     " (1, 200, 201, 2, 2, 1, 'ok'), (1, 300, 302, 0, 0, 0, 'failed: x');"
			     "UPDATE upstream SET state = 'residue' WHERE message_id = 1",
			     &err),
		&err, "runs");
	uint64_t audit_before = ops_audit_size(&f);
	fx_must(archive_system_status(f.ar, &st, &err), &err, "status");
	assert_int_equal(ops_audit_size(&f), audit_before); /* not audited */
	assert_int_equal(st.counts.messages, 3);
	assert_int_equal(st.n_accounts, 1);
	const struct stats_account *a = &st.accounts[0];
	assert_string_equal(a->name, "sales");
	assert_int_equal(a->runs_ok, 2);
	assert_int_equal(a->runs_failed, 1);
	assert_int_equal(a->last_success, 200);
	assert_int_equal(a->residue, 1);
	assert_int_equal(a->last_started, 300);
	assert_int_equal(a->last_finished, 302);
	assert_string_equal(a->last_outcome, "failed: x");
	assert_int_equal(st.growth_day0, now / 86400 - (ARCHIVE_GROWTH_DAYS - 1));
	assert_int_equal(st.growth_messages[ARCHIVE_GROWTH_DAYS - 1], 2);
	assert_int_equal(st.growth_bytes[ARCHIVE_GROWTH_DAYS - 1],
			 strlen(MSG("today")) + strlen(MSG("today too")));
	for (int i = 0; i < ARCHIVE_GROWTH_DAYS - 1; i++)
		assert_int_equal(st.growth_messages[i], 0);
	assert_int_equal(st.index_lag, 3); /* the fixture does not index */
	assert_int_equal(st.archive_log.size, 3);
	assert_true(st.audit_log.checkpoint_time > now - 60);
	assert_int_equal(st.verify_time, -1);
	assert_int_equal(st.pending_approvals, 0);
	assert_true(st.data_free_bytes > 0);
	archive_system_status_free(&st);
	assert_null(st.accounts);

	assert_int_equal(archive_verify(f.ar, "cli:root", false, NULL, NULL, 0, NULL, NULL, &sum,
					&err), PV_OK);
	fx_must(archive_system_status(f.ar, &st, &err), &err, "status");
	assert_true(st.verify_time >= now);
	assert_string_equal(st.verify_outcome, "ok");
	assert_false(st.verify_full);
	assert_int_equal(st.heartbeat_gaps, 0);
	archive_system_status_free(&st);

	/* Two entries an hour apart in the time index: one gap. */
	fx_must(catalog_exec(f.ar->cat->db, "UPDATE audit_event SET time = time - 3600"
					    " WHERE seq < (SELECT max(seq) FROM audit_event)", &err),
		&err, "gap");
	fx_must(archive_system_status(f.ar, &st, &err), &err, "status");
	assert_int_equal(st.heartbeat_gaps, 1);
	archive_system_status_free(&st);
	fx_free(&f);
}

/* /healthz's reasons (archive/health.h), each on and off again. */
static void test_health_reasons(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_health h;
	int64_t now = pv_clock_now();
	fx_init(&f);
	struct archive_health_opts o = {.harvest_interval_s = 10, .harvest_since = now - 1000,
					.disk_reserve = 1};
	char sql[256];
	snprintf(sql, sizeof(sql), "UPDATE accounts SET created_at = %lld", (long long)now);
	fx_must(catalog_exec(f.ar->cat->db, sql, &err), &err, "new account");
	fx_must(archive_health(f.ar, &o, &h, &err), &err, "health");
	assert_true(h.ok); /* a new account: judged from its creation */
	assert_int_equal(h.n, 0);

	/* An account added long ago that never succeeded since serve started. */
	fx_must(catalog_exec(f.ar->cat->db, "UPDATE accounts SET created_at = created_at - 5000",
			     &err), &err, "old account");
	fx_must(catalog_exec(f.ar->cat->db,
			     "INSERT INTO harvest_runs (account_id, started_at, finished_at, fetched,"
			     " deleted, residue, outcome) VALUES (1, 10, 11, 0, 0, 0, 'ok'),"
			     " (1, 20, 21, 0, 0, 0, 'AUTH PLAIN: -ERR [AUTH] Authentication failed.')",
			     &err), &err, "runs");
	fx_must(archive_health(f.ar, &o, &h, &err), &err, "health");
	assert_false(h.ok);
	assert_int_equal(h.n, 1);
	assert_non_null(strstr(h.reason[0], "the harvest of sales has not succeeded for "));
	assert_non_null(strstr(h.reason[0], "3 intervals of 10 s"));
	assert_non_null(strstr(h.reason[0], "[AUTH] Authentication failed"));
	/* Its own interval, longer: not three of those yet. */
	fx_must(catalog_exec(f.ar->cat->db, "UPDATE accounts SET harvest_interval_s = 3600", &err),
		&err, "own interval");
	fx_must(archive_health(f.ar, &o, &h, &err), &err, "health");
	assert_true(h.ok);
	fx_must(catalog_exec(f.ar->cat->db, "UPDATE accounts SET harvest_interval_s = NULL", &err),
		&err, "own interval");
	/* serve started only now: not three intervals yet. */
	o.harvest_since = now;
	fx_must(archive_health(f.ar, &o, &h, &err), &err, "health");
	assert_true(h.ok);
	/* Without the scheduler (web only) harvests are not judged. */
	o.harvest_since = now - 1000;
	o.harvest_interval_s = 0;
	fx_must(archive_health(f.ar, &o, &h, &err), &err, "health");
	assert_true(h.ok);
	/* A success 5 s ago. */
	o.harvest_interval_s = 10;
	snprintf(sql, sizeof(sql), "INSERT INTO harvest_runs (account_id, started_at, finished_at,"
		 " fetched, deleted, residue, outcome) VALUES (1, %lld, %lld, 3, 3, 0, 'ok')",
		 (long long)(now - 60), (long long)(now - 5));
	fx_must(catalog_exec(f.ar->cat->db, sql, &err), &err, "success");
	fx_must(archive_health(f.ar, &o, &h, &err), &err, "health");
	assert_true(h.ok);

	/* The disk under the reserve, a stop for it, a failed audit append. */
	o.disk_reserve = INT64_MAX / 2;
	o.audit_failing = true;
	fx_must(archive_health(f.ar, &o, &h, &err), &err, "health");
	assert_false(h.ok);
	assert_int_equal(h.n, 2);
	assert_non_null(strstr(h.reason[0], "the last audit append failed"));
	assert_non_null(strstr(h.reason[1], "disk is nearly full"));
	o.disk_reserve = 1;
	o.audit_failing = false;
	o.harvest_paused = true;
	fx_must(archive_health(f.ar, &o, &h, &err), &err, "health");
	assert_false(h.ok);
	assert_non_null(strstr(h.reason[0], "harvests are stopped until there is room"));
	fx_free(&f);
}

/* The low-disk stop: its state is the newest of its audit entries, and
 * it does not flap at the edge of the reserve. */
static void test_disk_guard_state_and_edge(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct disk_guard_state st;
	int64_t now = pv_clock_now();
	fx_init(&f);
	fx_must(disk_guard_state(f.ar, &st, &err), &err, "state");
	assert_false(st.paused);
	assert_int_equal(st.since, 0);
	fx_must(disk_guard_record(f.ar, true, 500, 1024, &err), &err, "pause");
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "harvest-pause");
	assert_string_equal(e.actor, "system");
	assert_string_equal(e.object, "reason=disk-low free=500 reserve=1024");
	fx_must(disk_guard_state(f.ar, &st, &err), &err, "state");
	assert_true(st.paused);
	assert_true(st.since >= now);
	fx_must(disk_guard_record(f.ar, false, 2000, 1024, &err), &err, "resume");
	assert_string_equal(ops_audit_last(&f).type, "harvest-resume");
	fx_must(disk_guard_state(f.ar, &st, &err), &err, "state");
	assert_false(st.paused);

	assert_true(disk_guard_low(1023, 1024, false));
	assert_false(disk_guard_low(1024, 1024, false));
	assert_true(disk_guard_low(1100, 1024, true));  /* under reserve + 1/8: still stopped */
	assert_false(disk_guard_low(1152, 1024, true));
	assert_true(disk_guard_low(-1, 1024, true));    /* unknown: no change */
	assert_false(disk_guard_low(-1, 1024, false));
	fx_free(&f);
}

/* verify --sample: logs and rows as always, the content of about N
 * messages, audited as such; serve's schedule reads the last runs. */
static void test_verify_sample_audited(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct verify_summary sum;
	int64_t any, full, now = pv_clock_now();
	fx_init(&f);
	for (int i = 0; i < 3; i++)
		fx_archive(&f, MSG("sample"), now);
	fx_must(archive_last_verifies(f.ar, &any, &full, &err), &err, "last");
	assert_int_equal(any, 0);
	assert_int_equal(full, 0);
	assert_int_equal(archive_verify_sample(f.ar, "system", 0, NULL, NULL, &sum, &err),
			 PV_EUSAGE);
	fx_must(archive_verify_sample(f.ar, "system", 10, NULL, NULL, &sum, &err), &err, "sample");
	assert_true(sum.ok && sum.recorded);
	assert_int_equal(sum.rep.messages, 3);
	assert_int_equal(sum.rep.blobs_decrypted, 3); /* fewer than the sample: all of them */
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "verify");
	assert_non_null(strstr(e.object, "full=no sample=10 decrypted=3 problems=0"));
	fx_must(archive_verify_sample(f.ar, "system", 1, NULL, NULL, &sum, &err), &err, "sample");
	assert_true(sum.rep.blobs_decrypted <= 3 && sum.rep.blobs_checked == sum.rep.blobs_decrypted);
	fx_must(archive_last_verifies(f.ar, &any, &full, &err), &err, "last");
	assert_true(any >= now);
	assert_int_equal(full, 0);
	fx_must(archive_verify(f.ar, "system", true, NULL, NULL, 0, NULL, NULL, &sum, &err), &err,
		"full");
	fx_must(archive_verify_sample(f.ar, "system", 5, NULL, NULL, &sum, &err), &err, "sample");
	fx_must(archive_last_verifies(f.ar, &any, &full, &err), &err, "last");
	assert_true(full >= now && any >= full);
	fx_free(&f);
}

/* When serve's anchor part anchors: never with nobody to ask; at once when
 * never tried; not again within the interval; after a disposal run ended,
 * until the next attempt covers it. The TSA here is unreachable: a failed
 * attempt is an attempt (recorded and audited) all the same. */
static void test_anchor_due_by_interval_and_disposal(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct anchor_opts o = {0};
	struct anchor_result res;
	const char *why = "x";
	fx_init(&f);
	fx_must(archive_anchor_due(f.ar, 3600, &why, &err), &err, "due");
	assert_null(why); /* no TSA, no witness */
	snprintf(f.ar->cfg.tsa_url, sizeof(f.ar->cfg.tsa_url), "http://127.0.0.1:1/");
	snprintf(f.ar->cfg.tsa_ca_file, sizeof(f.ar->cfg.tsa_ca_file), "/dev/null");
	fx_must(archive_anchor_due(f.ar, 3600, &why, &err), &err, "due");
	assert_string_equal(why, "interval"); /* never tried */
	for (int i = 0; i < 2; i++)
		assert_true(archive_anchor(f.ar, i ? "audit" : "archive", "system", &o, &res, &err) < 0);
	fx_must(archive_anchor_due(f.ar, 3600, &why, &err), &err, "due");
	assert_null(why);
	fx_must(archive_anchor_due(f.ar, 0, &why, &err), &err, "due");
	assert_string_equal(why, "interval");
	fx_must(archive_auditf(f.ar, "cli:test", AUDIT_DISPOSE_DONE, "ok", NULL, &err,
			       "run=1 disposed=0"), &err, "audit");
	fx_must(archive_anchor_due(f.ar, 3600, &why, &err), &err, "due");
	assert_string_equal(why, "disposal");
	assert_true(archive_anchor(f.ar, "archive", "system", &o, &res, &err) < 0);
	fx_must(archive_anchor_due(f.ar, 3600, &why, &err), &err, "due");
	assert_null(why); /* the attempt came after it */
	fx_free(&f);
}

static void test_metrics_text_format_and_escaping(void **state)
{
	(void)state;
	struct archive_system_status st;
	struct stats_account acc = {.name = "we\"ird\\na\nme", .runs_ok = 3, .runs_failed = 1,
				    .last_success = 1700000000, .residue = 2, .last_outcome = "ok"};
	struct pv_buf out;
	struct pv_error err;
	memset(&st, 0, sizeof(st));
	st.counts.messages = 5;
	st.counts.bytes = 1234;
	st.accounts = &acc;
	st.n_accounts = 1;
	st.now = 1700000100;
	st.archive_log.checkpoint_time = 1700000000;
	st.audit_log.checkpoint_time = -1;
	st.archive_log.anchor = (struct anchor_status){.tsa_time = 1699999000, .witness_time = -1};
	st.audit_log.anchor = (struct anchor_status){.tsa_time = -1, .witness_time = -1,
						      .configured = true, .stale = true};
	st.heartbeat_gaps = 4;
	st.data_free_bytes = 99;
	st.index_lag_s = 12;
	st.index_segments = 3;
	st.harvest_pause.paused = true;
	pv_buf_init(&out, 1 << 20);
	fx_must(metrics_render(&st, 7, &out, &err), &err, "render");
	const char *s = pv_buf_str(&out);
	assert_non_null(strstr(s, "# HELP popvault_messages_archived "));
	assert_non_null(strstr(s, "# TYPE popvault_messages_archived gauge\n"
				  "popvault_messages_archived 5\n"));
	assert_non_null(strstr(s, "# TYPE popvault_harvest_runs_total counter\n"));
	assert_non_null(strstr(s, "popvault_harvest_runs_total{account=\"we\\\"ird\\\\na\\nme\","
				  "outcome=\"ok\"} 3\n"));
	assert_non_null(strstr(s, "popvault_harvest_runs_total{account=\"we\\\"ird\\\\na\\nme\","
				  "outcome=\"failed\"} 1\n"));
	assert_non_null(strstr(s, "popvault_harvest_last_success_timestamp_seconds{account=\"we\\\""
				  "ird\\\\na\\nme\"} 1700000000\n"));
	assert_non_null(strstr(s, "popvault_upstream_residue{account=\"we\\\"ird\\\\na\\nme\"} 2\n"));
	assert_non_null(strstr(s, "popvault_checkpoint_age_seconds{log=\"archive\"} 100\n"));
	/* No checkpoint time known: no sample. */
	assert_null(strstr(s, "popvault_checkpoint_age_seconds{log=\"audit\"}"));
	assert_non_null(strstr(s, "popvault_anchor_age_seconds{log=\"archive\"} 1100\n"));
	assert_null(strstr(s, "popvault_anchor_age_seconds{log=\"audit\"}")); /* never anchored */
	assert_non_null(strstr(s, "popvault_anchor_stale{log=\"archive\"} 0\n"));
	assert_non_null(strstr(s, "popvault_anchor_stale{log=\"audit\"} 1\n"));
	assert_non_null(strstr(s, "popvault_heartbeat_gaps_total 4\n"));
	assert_non_null(strstr(s, "popvault_data_dir_free_bytes 99\n"));
	assert_non_null(strstr(s, "popvault_audit_append_failures_total 7\n"));
	assert_non_null(strstr(s, "popvault_harvest_seconds_since_success{account=\"we\\\"ird\\\\na"
				  "\\nme\"} 100\n"));
	assert_non_null(strstr(s, "popvault_index_lag_seconds 12\n"));
	assert_non_null(strstr(s, "popvault_index_segments 3\n")); /* 1 once merged */
	assert_non_null(strstr(s, "popvault_harvest_paused 1\n"));
	assert_non_null(strstr(s, "popvault_data_dir_reserve_bytes 1073741824\n"));
	/* Only the escaped newline: every raw one ends a line. */
	for (const char *p = s; (p = strchr(p, '\n')) != NULL; p++)
		assert_true(p[1] == '\0' || p[1] == '#' || strncmp(p + 1, "popvault_", 9) == 0);
	pv_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_account_change_new_host_needs_the_password),
		cmocka_unit_test(test_user_password_role_totp_audited),
		cmocka_unit_test(test_sealed_secrets_open_only_in_their_own_row),
		cmocka_unit_test(test_secrets_of_an_older_archive_are_bound_on_first_open),
		cmocka_unit_test(test_system_status_figures),
		cmocka_unit_test(test_health_reasons),
		cmocka_unit_test(test_disk_guard_state_and_edge),
		cmocka_unit_test(test_verify_sample_audited),
		cmocka_unit_test(test_anchor_due_by_interval_and_disposal),
		cmocka_unit_test(test_metrics_text_format_and_escaping),
	};
	if (sodium_init() < 0)
		return 1;
	user_pwhash_cost_for_tests();
	return cmocka_run_group_tests_name("ops_system", tests, NULL, NULL);
}
