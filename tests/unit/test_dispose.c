/* Unit tests for archiver/archive/dispose.c and holds.c: disposal only of
 * expired, unheld, "then dispose" mail whose content is present and
 * indexed; crypto-shredding by bucket when nothing in it outlives the run,
 * per message otherwise; nothing recoverable afterwards (no blob, no key,
 * no copy in a database file); tombstones in the archive log; holds that
 * block and are released, that cover later mail; interrupted runs
 * finished; a dry run that changes nothing. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "archiver/index/index.h"
#include "archiver/archive/dispose.h"
#include "archiver/archive/evidence.h"
#include "archiver/archive/export_jobs.h"
#include "archiver/archive/holds.h"
#include "archiver/archive/indexer.h"
#include "archiver/store/leaf.h"
#include "archiver/archive/justify.h"
#include "archiver/archive/retention.h"
#include "audit/auditlog.h"
#include "test_dispose_fixture.h"

#define MSG(from, subject) \
	"From: " from "\r\nTo: x@o.example\r\nSubject: " subject "\r\n" \
	"Date: Fri, 10 Jan 2020 10:00:00 +0000\r\nMessage-ID: <" subject "@t>\r\n\r\nbody\r\n"

static void plan_in_tx(struct fx *f, int64_t now, struct dispose_plan *plan)
{
	struct pv_error err;
	fx_must(catalog_begin(f->ar->cat, &err), &err, "begin");
	fx_must(dispose_plan(f->ar, now, plan, &err), &err, "dispose_plan");
}

/* Plans and carries out a disposal at now; returns how many were disposed. */
static int64_t run(struct fx *f, int64_t now, struct dispose_plan *plan_r)
{
	struct pv_error err;
	struct dispose_plan plan;
	struct dispose_result res;
	fx_must(indexer_catch_up(f->ar, NULL, NULL, &err), &err, "catchup");
	plan_in_tx(f, now, &plan);
	fx_must(dispose_execute(f->ar, &plan, "cli:test", &res, &err), &err, "dispose_execute");
	if (plan_r != NULL)
		*plan_r = plan;
	else
		dispose_plan_free(&plan);
	return res.disposed;
}

static const struct dispose_item *item(const struct dispose_plan *p, int64_t id)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].id == id)
			return &p->v[i];
	return NULL;
}

static bool file_contains(const char *path, const void *needle, size_t n)
{
	unsigned char *data;
	size_t len;
	struct pv_error err;
	if (pv_read_file(path, 1 << 28, &data, &len, &err) < 0)
		return false; /* absent: contains nothing */
	bool found = memmem(data, len, needle, n) != NULL;
	free(data);
	return found;
}

/* The bucket key as stored in keyring.db (read through SQLite, no API). */
static bool bucket_key(struct fx *f, int64_t bucket, unsigned char out[KEYRING_KEY_BYTES])
{
	char path[256];
	sqlite3 *db;
	sqlite3_stmt *st;
	bool have = false;
	snprintf(path, sizeof(path), "%s/keys/keyring.db", f->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT key FROM bucket_keys WHERE id = ?", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, bucket);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == KEYRING_KEY_BYTES) {
		memcpy(out, sqlite3_column_blob(st, 0), KEYRING_KEY_BYTES);
		have = true;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return have;
}

static void test_expired_mail_is_shredded_by_bucket(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct dispose_plan plan;
	unsigned char key[KEYRING_KEY_BYTES];
	char path[4096];
	fx_init(&f);
	int64_t v = fx_policy_store(&f, "default: retain 30d\n");
	int64_t a = fx_archive(&f, MSG("a@o.example", "xylophonequartz"), fx_t("2020-01-10"));
	int64_t b = fx_archive(&f, MSG("b@o.example", "two"), fx_t("2020-01-20"));
	int64_t keep = fx_archive(&f, MSG("c@o.example", "three"), fx_t("2020-02-20"));
	struct stored_message ma = fx_load(&f, a), mb = fx_load(&f, b);
	assert_int_equal(ma.bucket_id, mb.bucket_id); /* (default, 2020-02) */
	assert_true(bucket_key(&f, ma.bucket_id, key));
	uint64_t leaves0;
	fx_must(tlog_size(f.ar->archive_log, &leaves0, &err), &err, "size");
	/* the checks below can fail: before, the secrets are in the files */
	fx_must(indexer_catch_up(f.ar, NULL, NULL, &err), &err, "catchup");
	snprintf(path, sizeof(path), "%s/keys/keyring.db", f.dir);
	assert_true(file_contains(path, key, sizeof(key)));
	char db[256], wal[256];
	snprintf(db, sizeof(db), "%s/catalog.db", f.dir);
	snprintf(wal, sizeof(wal), "%s/catalog.db-wal", f.dir);
	assert_true(file_contains(db, ma.wrapped, ma.wrapped_len) ||
		    file_contains(wal, ma.wrapped, ma.wrapped_len));
	assert_true(file_contains(db, "xylophonequartz", 15) || file_contains(wal, "xylophonequartz", 15));

	/* March 1: both expired in February, which is over; the third is not due */
	assert_int_equal(run(&f, fx_t("2020-03-01"), &plan), 2);
	assert_int_equal(plan.due, 2);
	assert_null(item(&plan, keep));
	dispose_plan_free(&plan);

	/* nothing left: no blob, no wrapped key, no bucket key, in no file */
	blob_path(f.dir, ma.blob, path, sizeof(path));
	assert_int_not_equal(access(path, F_OK), 0);
	struct stored_message da = fx_load(&f, a);
	assert_int_equal(da.wrapped_len, 0);
	assert_string_equal(da.blob, "");
	assert_int_equal(da.disposed_at, fx_t("2020-03-01"));
	assert_false(bucket_key(&f, ma.bucket_id, key));
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM buckets WHERE destroyed_at IS NOT NULL"), 1);
	unsigned char old_key[KEYRING_KEY_BYTES];
	memcpy(old_key, key, sizeof(key));
	static const char *const files[] = {"keys/keyring.db", "keys/keyring.db-journal", "catalog.db",
					    "catalog.db-wal"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", f.dir, files[i]);
		if (file_contains(path, old_key, sizeof(old_key)))
			fail_msg("the bucket key is still in %s", files[i]);
		if (file_contains(path, ma.wrapped, ma.wrapped_len))
			fail_msg("a wrapped message key is still in %s", files[i]);
		if (file_contains(path, "xylophonequartz", 15))
			fail_msg("indexed text is still in %s", files[i]);
	}
	/* show says when and under which policy version */
	assert_int_equal(fx_read(&f, a, NULL), PV_ENOTFOUND);
	assert_int_equal(fx_read(&f, keep, MSG("c@o.example", "three")), PV_OK);
	/* one tombstone per message, after the message leaves */
	uint64_t leaves1;
	fx_must(tlog_size(f.ar->archive_log, &leaves1, &err), &err, "size");
	assert_int_equal(leaves1, leaves0 + 2);
	struct pv_buf leaf;
	struct archive_leaf l;
	pv_buf_init(&leaf, LEAF_MAX);
	fx_must(tlog_leaf(f.ar->archive_log, leaves0, &leaf, &err), &err, "leaf");
	fx_must(archive_leaf_parse((const char *)leaf.data, leaf.len, &l, &err), &err, "parse");
	assert_int_equal(l.kind, LEAF_TOMBSTONE);
	assert_int_equal(l.seq, a);
	assert_int_equal(l.policy, v);
	assert_string_equal(l.reason, "expired 2020-02-09T00:00:00Z under rule default");
	pv_buf_free(&leaf);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM disposals WHERE state = 'done' AND"
				    " intent_checkpoint IS NOT NULL AND messages = 2"), 1);
	/* audited: intent then done */
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM audit_event WHERE type = 'dispose-intent'"), 1);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM audit_event WHERE type = 'dispose-done'"), 1);
	/* a second run finds nothing more */
	assert_int_equal(run(&f, fx_t("2020-03-02"), NULL), 0);
	fx_free(&f);
}

static void test_hold_blocks_disposal_until_released(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct dispose_plan plan;
	unsigned char key[KEYRING_KEY_BYTES];
	int64_t members = -1;
	fx_init(&f);
	fx_policy_store(&f, "default: retain 30d\n");
	int64_t a = fx_archive(&f, MSG("a@o.example", "plain"), fx_t("2020-01-10"));
	int64_t b = fx_archive(&f, MSG("lawyer@firm.example", "merger"), fx_t("2020-01-10"));
	fx_must(hold_add(f.ar, "Smith v. Jones", "from:lawyer@firm.example", "keep it", "cli:legal",
			 fx_t("2020-01-15"), &members, &err),
		&err, "hold_add");
	assert_int_equal(members, 1);
	/* an active hold of that name: a conflict (409 on the web, exit 1 on the CLI) */
	assert_int_equal(hold_add(f.ar, "Smith v. Jones", "x", NULL, "cli:legal", 1, NULL, &err), PV_EEXISTS);
	assert_int_equal(hold_add(f.ar, "bad", "from:(", NULL, "cli:legal", 1, NULL, &err), PV_EUSAGE);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM holds"), 1); /* a bad query stored nothing */
	assert_int_equal(hold_validate("x\ny", "q", NULL, &err), PV_EUSAGE);
	assert_int_equal(hold_validate("ok", " ", NULL, &err), PV_EUSAGE);

	assert_int_equal(run(&f, fx_t("2020-03-01"), &plan), 1);
	assert_int_equal(item(&plan, a)->state, DISPOSE_DUE);
	assert_int_equal(item(&plan, b)->state, DISPOSE_HELD);
	assert_string_equal(item(&plan, b)->why, "held by matter Smith v. Jones");
	dispose_plan_free(&plan);
	/* the held message shares the bucket: its key survives, and so does it */
	struct stored_message mb = fx_load(&f, b);
	assert_true(bucket_key(&f, mb.bucket_id, key));
	assert_int_equal(fx_read(&f, b, MSG("lawyer@firm.example", "merger")), PV_OK);
	assert_int_equal(fx_read(&f, a, NULL), PV_ENOTFOUND); /* per message: key and blob gone */
	assert_int_equal(fx_load(&f, a).wrapped_len, 0);
	assert_int_equal(fx_int(&f, "SELECT bucket_destroyed FROM disposal_items WHERE message_id = 1"), 0);

	assert_int_equal(hold_release(f.ar, "nope", "cli:legal", 1, &err), PV_ENOTFOUND);
	fx_must(hold_release(f.ar, "Smith v. Jones", "cli:legal", fx_t("2020-03-02"), &err), &err,
		"release");
	assert_int_equal(run(&f, fx_t("2020-03-03"), NULL), 1);
	assert_int_equal(fx_read(&f, b, NULL), PV_ENOTFOUND);
	assert_false(bucket_key(&f, mb.bucket_id, key)); /* its last message gone: the bucket goes */
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM audit_event WHERE type IN"
				    " ('hold-place', 'hold-release')"), 2);
	/* the name is free again once released */
	fx_must(hold_add(f.ar, "Smith v. Jones", "from:nobody@x", NULL, "cli:legal", 5, NULL, &err), &err,
		"re-add");
	fx_free(&f);
}

static void test_hold_covers_mail_archived_later(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct dispose_plan plan;
	fx_init(&f);
	fx_policy_store(&f, "default: retain 30d\n");
	fx_must(hold_add(f.ar, "matter-7", "subject:merger", NULL, "cli:legal", fx_t("2020-01-01"),
			 NULL, &err),
		&err, "hold_add");
	int64_t later = fx_archive(&f, MSG("a@o.example", "merger"), fx_t("2020-01-10"));
	int64_t other = fx_archive(&f, MSG("a@o.example", "lunch"), fx_t("2020-01-10"));
	assert_int_equal(run(&f, fx_t("2020-03-01"), &plan), 1);
	assert_int_equal(item(&plan, later)->state, DISPOSE_HELD);
	assert_int_equal(item(&plan, other)->state, DISPOSE_DUE);
	dispose_plan_free(&plan);
	/* the later match is recorded as a member of the hold */
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM hold_members WHERE message_id = 1"), 1);
	assert_int_equal(fx_read(&f, later, NULL), PV_OK);
	fx_free(&f);
}

static void test_review_and_unexpired_mail_stay(void **state)
{
	(void)state;
	struct fx f;
	struct dispose_plan plan;
	fx_init(&f);
	fx_policy_store(&f, "rule \"sec\": retain 30d then review when from ~ \"*@sec.gov\"\n"
			    "rule \"forever\": retain forever when subject ~ \"*board*\"\n"
			    "default: retain 1y\n");
	int64_t r = fx_archive(&f, MSG("x@sec.gov", "filing"), fx_t("2020-01-10"));
	int64_t fo = fx_archive(&f, MSG("x@o.example", "board minutes"), fx_t("2020-01-10"));
	int64_t young = fx_archive(&f, MSG("x@o.example", "news"), fx_t("2020-01-10"));
	assert_int_equal(run(&f, fx_t("2020-06-01"), &plan), 0);
	assert_int_equal(plan.n, 1);
	assert_int_equal(item(&plan, r)->state, DISPOSE_REVIEW);
	assert_non_null(strstr(item(&plan, r)->why, "review required"));
	assert_null(item(&plan, fo));
	assert_null(item(&plan, young));
	dispose_plan_free(&plan);
	assert_int_equal(fx_read(&f, r, NULL), PV_OK);
	fx_free(&f);
}

static void test_blob_deleted_by_hand_is_not_covered_up(void **state)
{
	(void)state;
	struct fx f;
	struct dispose_plan plan;
	char path[4096];
	fx_init(&f);
	fx_policy_store(&f, "default: retain 30d\n");
	int64_t a = fx_archive(&f, MSG("a@o.example", "gone"), fx_t("2020-01-10"));
	int64_t b = fx_archive(&f, MSG("b@o.example", "fine"), fx_t("2020-01-10"));
	struct pv_error err;
	fx_must(indexer_catch_up(f.ar, NULL, NULL, &err), &err, "catchup");
	blob_path(f.dir, fx_load(&f, a).blob, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(run(&f, fx_t("2020-03-01"), &plan), 1);
	assert_int_equal(item(&plan, a)->state, DISPOSE_BLOCKED);
	assert_true(item(&plan, a)->missing);
	assert_non_null(strstr(item(&plan, a)->why, "unauthorised deletion"));
	assert_int_equal(plan.missing, 1);
	assert_int_equal(item(&plan, b)->state, DISPOSE_DUE);
	dispose_plan_free(&plan);
	/* still reported as loss, never as disposal */
	assert_int_equal(fx_load(&f, a).disposed_at, 0);
	assert_int_equal(fx_read(&f, a, NULL), PV_EINTEGRITY);
	fx_free(&f);
}

static void test_month_not_over_shreds_per_message(void **state)
{
	(void)state;
	struct fx f;
	unsigned char key[KEYRING_KEY_BYTES];
	fx_init(&f);
	fx_policy_store(&f, "default: retain 30d\n");
	int64_t a = fx_archive(&f, MSG("a@o.example", "a"), fx_t("2020-01-10"));
	struct stored_message m = fx_load(&f, a);
	/* Feb 15: expired Feb 9, but new mail could still expire in February */
	assert_int_equal(run(&f, fx_t("2020-02-15"), NULL), 1);
	assert_true(bucket_key(&f, m.bucket_id, key));
	assert_int_equal(fx_read(&f, a, NULL), PV_ENOTFOUND);
	/* mail decided into (default, 2020-02) later still archives and reads */
	int64_t b = fx_archive(&f, MSG("b@o.example", "b"), fx_t("2020-01-20"));
	assert_int_equal(fx_load(&f, b).bucket_id, m.bucket_id);
	assert_int_equal(fx_read(&f, b, MSG("b@o.example", "b")), PV_OK);
	/* once February is over and nothing in it lives, the key goes */
	assert_int_equal(run(&f, fx_t("2020-03-01"), NULL), 1);
	assert_false(bucket_key(&f, m.bucket_id, key));
	fx_free(&f);
}

static void test_unindexed_mail_is_not_disposed(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct dispose_plan plan;
	fx_init(&f);
	fx_policy_store(&f, "default: retain 30d\n");
	int64_t a = fx_archive(&f, MSG("a@o.example", "a"), fx_t("2020-01-10"));
	/* no catch-up: a hold query could not see it, so it must stay */
	plan_in_tx(&f, fx_t("2020-03-01"), &plan);
	catalog_rollback(f.ar->cat);
	assert_int_equal(item(&plan, a)->state, DISPOSE_BLOCKED);
	assert_non_null(strstr(item(&plan, a)->why, "search index"));
	assert_false(item(&plan, a)->missing);
	dispose_plan_free(&plan);
	int64_t indexed = 0;
	fx_must(indexer_catch_up(f.ar, &indexed, NULL, &err), &err, "catchup");
	assert_int_equal(indexed, 1);
	assert_int_equal(run(&f, fx_t("2020-03-01"), NULL), 1);
	fx_free(&f);
}

static void test_dry_run_changes_nothing(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct dispose_plan plan;
	uint64_t s0, s1;
	fx_init(&f);
	fx_policy_store(&f, "default: retain 30d\n");
	fx_must(hold_add(f.ar, "m", "subject:held", NULL, "cli:legal", 1, NULL, &err), &err, "hold");
	fx_archive(&f, MSG("a@o.example", "held"), fx_t("2020-01-10"));
	fx_archive(&f, MSG("a@o.example", "due"), fx_t("2020-01-10"));
	fx_must(indexer_catch_up(f.ar, NULL, NULL, &err), &err, "catchup");
	fx_must(tlog_size(f.ar->archive_log, &s0, &err), &err, "size");
	plan_in_tx(&f, fx_t("2020-03-01"), &plan);
	catalog_rollback(f.ar->cat);
	assert_int_equal(plan.due, 1);
	assert_int_equal(plan.held, 1);
	dispose_plan_free(&plan);
	fx_must(tlog_size(f.ar->archive_log, &s1, &err), &err, "size");
	assert_int_equal(s0, s1);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM hold_members"), 0);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM disposals"), 0);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM messages WHERE disposed_at IS NOT NULL"), 0);
	assert_int_equal(fx_read(&f, 2, NULL), PV_OK);
	fx_free(&f);
}

static void test_policy_change_makes_mail_due(void **state)
{
	(void)state;
	struct fx f;
	struct dispose_plan plan;
	fx_init(&f);
	fx_policy_store(&f, "default: retain 6y\n");
	int64_t a = fx_archive(&f, MSG("a@o.example", "a"), fx_t("2020-01-10"));
	assert_int_equal(run(&f, fx_t("2021-01-01"), NULL), 0);
	/* a shorter version is stored but nobody re-applied it (mail archived
	 * while it was being set): disposal re-evaluates first */
	int64_t v = fx_policy_store(&f, "default: retain 30d\n");
	assert_int_equal(run(&f, fx_t("2021-01-01"), &plan), 1);
	assert_int_equal(plan.reevaluated, 1);
	assert_int_equal(item(&plan, a)->policy_version, v);
	dispose_plan_free(&plan);
	fx_free(&f);
}

static void test_interrupted_disposal_is_finished(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct dispose_plan plan;
	int64_t resumed = 0;
	uint64_t s0, s1;
	fx_init(&f);
	fx_policy_store(&f, "default: retain 30d\n");
	int64_t a = fx_archive(&f, MSG("a@o.example", "a"), fx_t("2020-01-10"));
	fx_must(indexer_catch_up(f.ar, NULL, NULL, &err), &err, "catchup");
	/* the intent committed, then the process died before destroying */
	int64_t id = 0;
	plan_in_tx(&f, fx_t("2020-03-01"), &plan);
	assert_int_equal(plan.due, 1);
	fx_must(dispose_commit_intent(f.ar, &plan, "cli:test", &id, &err), &err, "intent");
	assert_int_equal(id, 1);
	dispose_plan_free(&plan);
	int64_t *pending = NULL;
	size_t n_pending = 0;
	fx_must(dispose_pending_ids(f.ar->cat->conn, &pending, &n_pending, &err), &err, "pending");
	assert_int_equal(n_pending, 1);
	assert_int_equal(pending[0], a);
	free(pending);
	fx_must(tlog_size(f.ar->archive_log, &s0, &err), &err, "size");
	fx_must(dispose_resume(f.ar, fx_t("2020-03-02"), "cli:test", &resumed, &err), &err, "resume");
	assert_int_equal(resumed, 1);
	fx_must(tlog_size(f.ar->archive_log, &s1, &err), &err, "size");
	assert_int_equal(s1, s0 + 1);
	assert_int_equal(fx_read(&f, a, NULL), PV_ENOTFOUND);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM disposals WHERE state = 'done'"), 1);
	fx_must(dispose_pending_ids(f.ar->cat->conn, &pending, &n_pending, &err), &err, "pending");
	assert_int_equal(n_pending, 0);
	assert_null(pending);
	/* nothing left to resume; finishing twice is harmless */
	fx_must(dispose_resume(f.ar, fx_t("2020-03-03"), "cli:test", &resumed, &err), &err, "resume");
	assert_int_equal(resumed, 0);
	fx_free(&f);
}

/* An intent committed, then the run cut short: a hold placed before it
 * is finished spares what the hold covers (a disposal-spared entry each),
 * and a policy version set since spares the rest (the next plan decides
 * them under it). */
static void test_resumed_run_spares_what_holds_and_policy_now_keep(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct dispose_plan plan;
	int64_t id = 0, resumed = 0, members = 0;
	fx_init(&f);
	fx_policy_store(&f, "default: retain 30d\n");
	int64_t a = fx_archive(&f, MSG("a@o.example", "a"), fx_t("2020-01-10"));
	int64_t b = fx_archive(&f, MSG("lawyer@firm.example", "b"), fx_t("2020-01-10"));
	int64_t c = fx_archive(&f, MSG("c@o.example", "c"), fx_t("2020-01-10"));
	fx_must(indexer_catch_up(f.ar, NULL, NULL, &err), &err, "catchup");
	plan_in_tx(&f, fx_t("2020-03-01"), &plan);
	assert_int_equal(plan.due, 3);
	fx_must(dispose_commit_intent(f.ar, &plan, "cli:test", &id, &err), &err, "intent");
	dispose_plan_free(&plan);
	/* a new plan leaves the run's messages to it, and calls none missing */
	plan_in_tx(&f, fx_t("2020-03-01"), &plan);
	assert_int_equal(plan.due, 0);
	assert_int_equal(plan.missing, 0);
	assert_int_equal(plan.pending, 3);
	catalog_rollback(f.ar->cat);
	dispose_plan_free(&plan);

	fx_must(hold_add(f.ar, "Smith", "from:lawyer@firm.example", NULL, "cli:legal",
			 fx_t("2020-03-01"), &members, &err), &err, "hold_add");
	assert_int_equal(members, 1);
	fx_must(dispose_resume(f.ar, fx_t("2020-03-02"), "cli:test", &resumed, &err), &err, "resume");
	assert_int_equal(resumed, 1);
	assert_int_equal(fx_read(&f, a, NULL), PV_ENOTFOUND);
	assert_int_equal(fx_read(&f, b, MSG("lawyer@firm.example", "b")), PV_OK);
	assert_int_equal(fx_read(&f, c, NULL), PV_ENOTFOUND);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM disposal_items"), 2);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM audit_event WHERE type = 'disposal-spared'"), 1);
	/* the audit log's evidence: b's justification withdrawn, the others' stand */
	struct evidence ev;
	fx_must(evidence_load(f.ar->audit_log, 0, &ev, NULL, NULL, &err), &err, "evidence");
	assert_null(evidence_item(&ev, b));
	assert_non_null(evidence_item(&ev, a));
	assert_int_equal(evidence_disposal(&ev, 1)->spared, 1);
	assert_int_equal(evidence_disposal(&ev, 1)->items, 3);
	evidence_free(&ev);

	/* released, b is disposed of by a run of its own */
	fx_must(hold_release(f.ar, "Smith", "cli:legal", fx_t("2020-03-03"), &err), &err, "release");
	int64_t d = fx_archive(&f, MSG("d@o.example", "d"), fx_t("2020-01-11"));
	fx_must(indexer_catch_up(f.ar, NULL, NULL, &err), &err, "catchup");
	plan_in_tx(&f, fx_t("2020-03-04"), &plan);
	assert_int_equal(plan.due, 2);
	fx_must(dispose_commit_intent(f.ar, &plan, "cli:test", &id, &err), &err, "intent 2");
	dispose_plan_free(&plan);
	/* ... cut short again, and a policy set meanwhile: all of it spared */
	fx_policy_store(&f, "default: retain 60d\n");
	fx_must(dispose_resume(f.ar, fx_t("2020-03-05"), "cli:test", &resumed, &err), &err, "resume 2");
	assert_int_equal(fx_read(&f, b, MSG("lawyer@firm.example", "b")), PV_OK);
	assert_int_equal(fx_read(&f, d, MSG("d@o.example", "d")), PV_OK);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM audit_event WHERE type = 'disposal-spared'"), 3);
	fx_must(evidence_load(f.ar->audit_log, 0, &ev, NULL, NULL, &err), &err, "evidence");
	assert_int_equal(evidence_disposal(&ev, 2)->spared, 2);
	assert_null(evidence_item(&ev, b));
	assert_null(evidence_item(&ev, d));
	evidence_free(&ev);
	fx_free(&f);
}

/* Cut short after the keys were destroyed: past sparing, and not "lost
 * without a disposal record" in the meantime; the next run finishes it
 * even with a hold covering it now. */
static void test_run_cut_after_shredding_is_finished(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct dispose_plan plan;
	int64_t id = 0, resumed = 0, members = 0;
	fx_init(&f);
	fx_policy_store(&f, "default: retain 30d\n");
	int64_t a = fx_archive(&f, MSG("a@o.example", "a"), fx_t("2020-01-10"));
	fx_must(indexer_catch_up(f.ar, NULL, NULL, &err), &err, "catchup");
	plan_in_tx(&f, fx_t("2020-03-01"), &plan);
	fx_must(dispose_commit_intent(f.ar, &plan, "cli:test", &id, &err), &err, "intent");
	dispose_plan_free(&plan);
	fx_must(db_exec(f.ar->cat->conn, "UPDATE messages SET wrapped_key = NULL", &err), &err,
		"shred");
	struct dispose_run run;
	fx_must(archive_dispose(f.ar, "cli:test", true, &run, &err), &err, "dry run");
	assert_int_equal(run.plan.missing, 0);
	assert_int_equal(run.plan.pending, 1);
	dispose_run_free(&run);
	assert_int_equal(fx_read(&f, a, NULL), PV_ENOTFOUND); /* being disposed of, not lost */
	fx_must(hold_add(f.ar, "All", "from:a@o.example", NULL, "cli:legal", fx_t("2020-03-01"),
			 &members, &err), &err, "hold_add");
	fx_must(dispose_resume(f.ar, fx_t("2020-03-02"), "cli:test", &resumed, &err), &err, "resume");
	assert_int_equal(resumed, 1);
	assert_int_not_equal(fx_load(&f, a).disposed_at, 0);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM audit_event WHERE type = 'disposal-spared'"), 0);
	fx_free(&f);
}

/* A bundle kept in DIR/exports/ that holds a message the disposal
 * destroys is removed with it (audited); one holding only kept mail
 * stays. */
static void test_disposal_removes_the_bundles_holding_its_mail(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct export_job j;
	int64_t x1 = 0, x2 = 0, members = 0;
	char p1[4200], p2[4200];
	fx_init(&f);
	fx_policy_store(&f, "default: retain 30d\n");
	int64_t a = fx_archive(&f, MSG("a@o.example", "a"), fx_t("2020-01-10"));
	int64_t b = fx_archive(&f, MSG("lawyer@firm.example", "b"), fx_t("2020-01-10"));
	fx_must(indexer_catch_up(f.ar, NULL, NULL, &err), &err, "catchup");
	fx_must(hold_add(f.ar, "Smith", "from:lawyer@firm.example", NULL, "cli:legal",
			 fx_t("2020-01-15"), &members, &err), &err, "hold_add");
	const int64_t both[] = {a, b}, held[] = {b};
	const int64_t *sets[] = {both, held};
	const size_t ns[] = {2, 1};
	int64_t *ids[] = {&x1, &x2};
	char *paths[] = {p1, p2};
	for (int i = 0; i < 2; i++) {
		fx_must(archive_export_job_begin(f.ar, "web:lena", "Smith", "x", "zip", NULL,
						 fx_t("2020-01-20"), ids[i], &err), &err, "begin");
		fx_must(archive_export_job_path(f.ar->dir, *ids[i], "zip", paths[i], sizeof(p1), &err),
			&err, "path");
		FILE *fp = fopen(paths[i], "w");
		assert_non_null(fp);
		fputs("bundle", fp);
		fclose(fp);
		struct export_job_result res = {(int64_t)ns[i], 0, 0, 6, 1, "00", sets[i], ns[i]};
		fx_must(archive_export_job_end(f.ar, *ids[i], EXPORT_JOB_DONE, &res, NULL,
					       fx_t("2020-01-20"), &err), &err, "end");
	}
	assert_int_equal(run(&f, fx_t("2020-03-01"), NULL), 1);
	assert_int_equal(access(p1, F_OK), -1);
	assert_int_equal(access(p2, F_OK), 0);
	fx_must(archive_export_job_get(f.ar, x1, &j, &err), &err, "get");
	assert_int_not_equal(j.removed_at, 0);
	assert_string_equal(j.removed_by, "cli:test");
	fx_must(archive_export_job_get(f.ar, x2, &j, &err), &err, "get");
	assert_int_equal(j.removed_at, 0);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM audit_event WHERE type = 'export-remove'"), 1);
	/* an export that read a message before a run disposed of it, and
	 * ended after: its bundle goes at its end */
	int64_t x3 = 0;
	char p3[4200];
	fx_must(archive_export_job_begin(f.ar, "web:lena", "Smith", "x", "zip", NULL,
					 fx_t("2020-02-29"), &x3, &err), &err, "begin 3");
	fx_must(archive_export_job_path(f.ar->dir, x3, "zip", p3, sizeof(p3), &err), &err, "path 3");
	FILE *fp3 = fopen(p3, "w");
	assert_non_null(fp3);
	fputs("bundle", fp3);
	fclose(fp3);
	struct export_job_result late = {1, 0, 0, 6, 1, "00", &a, 1};
	fx_must(archive_export_job_end(f.ar, x3, EXPORT_JOB_DONE, &late, NULL, fx_t("2020-03-02"), &err),
		&err, "end 3");
	assert_int_equal(access(p3, F_OK), -1);
	fx_must(archive_export_job_get(f.ar, x3, &j, &err), &err, "get 3");
	assert_int_not_equal(j.removed_at, 0);
	/* removed once: not again, and a download says so */
	assert_int_equal(archive_export_job_remove(f.ar, "web:lena", x1, "request", &err), PV_EEXISTS);
	int fd;
	assert_int_equal(archive_export_job_download(f.ar, "web:lena", x1, &fd, &j, &err), PV_EEXISTS);
	fx_free(&f);
}

struct resumer {
	struct archive *ar;
	int r;
	int64_t resumed;
};

static void *resume_thread(void *arg)
{
	struct resumer *z = arg;
	struct pv_error err;
	z->r = dispose_resume(z->ar, fx_t("2020-03-02"), "web:somebody", &z->resumed, &err);
	return NULL;
}

/* Two processes finishing one run at once (an approval, and a proposal
 * resuming it meanwhile): one dispose-done, and the archive goes on. */
static void test_two_finishers_of_one_run_record_it_once(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct dispose_plan plan;
	struct archive *ar2 = NULL;
	int64_t id = 0;
	fx_init(&f);
	fx_policy_store(&f, "default: retain 30d\n");
	for (int i = 0; i < 300; i++) {
		char raw[512];
		snprintf(raw, sizeof(raw), "From: a@o.example\r\nTo: b@y.example\r\nSubject: m%d\r\n"
			 "Date: Fri, 10 Jan 2020 10:00:00 +0000\r\nMessage-ID: <m%d@t>\r\n\r\nhi\r\n",
			 i, i);
		fx_archive(&f, raw, fx_t("2020-01-10"));
	}
	fx_must(indexer_catch_up(f.ar, NULL, NULL, &err), &err, "catchup");
	plan_in_tx(&f, fx_t("2020-03-01"), &plan);
	fx_must(dispose_commit_intent(f.ar, &plan, "cli:test", &id, &err), &err, "intent");
	dispose_plan_free(&plan);
	fx_must(archive_open(f.dir, &ar2, &err), &err, "open 2");
	struct resumer a = {f.ar, 0, 0}, b = {ar2, 0, 0};
	pthread_t ta, tb;
	pthread_create(&ta, NULL, resume_thread, &a);
	pthread_create(&tb, NULL, resume_thread, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.r, PV_OK);
	assert_int_equal(b.r, PV_OK);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM audit_event WHERE type = 'dispose-done'"), 1);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM messages WHERE disposed_at IS NULL"), 0);
	struct dispose_run run;
	fx_must(archive_dispose(f.ar, "cli:test", true, &run, &err), &err, "a dry run after");
	dispose_run_free(&run);
	archive_close(&ar2);
	fx_free(&f);
}

/* A catalog edit that would make mail due is refused, whole run, nothing
 * destroyed (issue 19). */
static void test_catalog_edit_is_refused(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct dispose_plan plan;
	static const struct {
		const char *sql, *names;
	} edits[] = {
		{"UPDATE messages SET expires_at = 1577836800 WHERE id = 1", "message 1: expires_at"},
		{"UPDATE messages SET size = 5 WHERE id = 1", "message 1: size"},
		{"UPDATE messages SET received_at = received_at - 31536000 WHERE id = 1",
		 "message 1: received_at"},
	};
	fx_init(&f);
	fx_policy_store(&f, "default: retain 6y\n");
	int64_t a = fx_archive(&f, MSG("a@o.example", "a"), fx_t("2020-01-10"));
	fx_must(indexer_catch_up(f.ar, NULL, NULL, &err), &err, "catchup");
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		struct stored_message m = fx_load(&f, a);
		char undo[256];
		snprintf(undo, sizeof(undo), "UPDATE messages SET expires_at = %lld, size = %llu,"
					     " received_at = %lld WHERE id = 1", (long long)m.expires_at,
			 (unsigned long long)m.size, (long long)m.received_at);
		fx_must(catalog_exec(f.ar->cat->db, edits[i].sql, &err), &err, edits[i].sql);
		fx_must(catalog_begin(f.ar->cat, &err), &err, "begin");
		assert_int_equal(dispose_plan(f.ar, fx_t("2020-03-01"), &plan, &err), PV_EINTEGRITY);
		catalog_rollback(f.ar->cat);
		if (strstr(err.msg, edits[i].names) == NULL || strstr(err.msg, "refusing") == NULL)
			fail_msg("%s: %s", edits[i].sql, err.msg);
		fx_must(catalog_exec(f.ar->cat->db, undo, &err), &err, "undo");
		assert_int_equal(fx_read(&f, a, MSG("a@o.example", "a")), PV_OK);
	}
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM disposals"), 0);
	fx_free(&f);
}

/* The intent names, per message, what verify needs to re-derive it. */
static void test_intent_records_each_justification(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct pv_buf leaf;
	struct audit_entry *e = calloc(1, sizeof(*e));
	struct justification j;
	assert_non_null(e);
	fx_init(&f);
	int64_t v = fx_policy_store(&f, "rule \"sec\": retain 6y when from ~ \"*@sec.gov\"\n"
				       "default: retain 30d\n");
	int64_t a = fx_archive(&f, MSG("a@o.example", "a"), fx_t("2020-01-10"));
	assert_int_equal(run(&f, fx_t("2020-03-01"), NULL), 1);
	int64_t seq = fx_int(&f, "SELECT seq FROM audit_event WHERE type = 'disposal-item'");
	pv_buf_init(&leaf, PV_TLOG_ENTRY_MAX);
	fx_must(tlog_leaf(f.ar->audit_log, (uint64_t)seq, &leaf, &err), &err, "leaf");
	fx_must(auditlog_leaf_parse(leaf.data, leaf.len, (uint64_t)seq, e, &err), &err, "parse");
	fx_must(justify_parse(e->object, &j, &err), &err, e->object);
	assert_int_equal(j.disposal, 1);
	assert_int_equal(j.message, a);
	assert_int_equal(j.policy, v);
	assert_string_equal(j.rule, "default");
	assert_string_equal(j.account, "sales");
	assert_int_equal(j.size, strlen(MSG("a@o.example", "a")));
	assert_int_equal(j.received, fx_t("2020-01-10"));
	assert_int_equal(j.expires, fx_t("2020-02-09"));
	assert_int_equal(j.tests.n, 1); /* the from test, false */
	/* the intent's summary names the policy by its hash */
	seq = fx_int(&f, "SELECT seq FROM audit_event WHERE type = 'dispose-intent'");
	pv_buf_reset(&leaf);
	fx_must(tlog_leaf(f.ar->audit_log, (uint64_t)seq, &leaf, &err), &err, "leaf");
	fx_must(auditlog_leaf_parse(leaf.data, leaf.len, (uint64_t)seq, e, &err), &err, "parse");
	assert_non_null(strstr(e->object, j.policy_sha256));
	pv_buf_free(&leaf);
	free(e);
	fx_free(&f);
}

/* An interrupted disposal added to the catalog by hand is not finished:
 * the audit log holds no intent for it. */
static void test_forged_intent_is_not_finished(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	int64_t resumed = -1;
	fx_init(&f);
	fx_policy_store(&f, "default: retain 6y\n");
	int64_t a = fx_archive(&f, MSG("a@o.example", "a"), fx_t("2020-01-10"));
	fx_must(catalog_exec(f.ar->cat->db,
			     "INSERT INTO disposals (state, policy_version, intent_at, holds_digest,"
			     " messages, actor) VALUES ('intent', 1, 1583020800, 'x', 1, 'cli:test');"
			     "INSERT INTO disposal_items (disposal_id, message_id, policy_version, rule,"
			     " expires_at) VALUES (1, 1, 1, 'default', 1581206400);",
			     &err),
		&err, "forge");
	assert_int_equal(dispose_resume(f.ar, fx_t("2020-03-02"), "cli:test", &resumed, &err),
			 PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "disposal 1"));
	assert_int_equal(resumed, 0);
	assert_int_equal(fx_read(&f, a, MSG("a@o.example", "a")), PV_OK);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expired_mail_is_shredded_by_bucket),
		cmocka_unit_test(test_hold_blocks_disposal_until_released),
		cmocka_unit_test(test_hold_covers_mail_archived_later),
		cmocka_unit_test(test_review_and_unexpired_mail_stay),
		cmocka_unit_test(test_blob_deleted_by_hand_is_not_covered_up),
		cmocka_unit_test(test_month_not_over_shreds_per_message),
		cmocka_unit_test(test_unindexed_mail_is_not_disposed),
		cmocka_unit_test(test_dry_run_changes_nothing),
		cmocka_unit_test(test_policy_change_makes_mail_due),
		cmocka_unit_test(test_interrupted_disposal_is_finished),
		cmocka_unit_test(test_resumed_run_spares_what_holds_and_policy_now_keep),
		cmocka_unit_test(test_run_cut_after_shredding_is_finished),
		cmocka_unit_test(test_disposal_removes_the_bundles_holding_its_mail),
		cmocka_unit_test(test_two_finishers_of_one_run_record_it_once),
		cmocka_unit_test(test_catalog_edit_is_refused),
		cmocka_unit_test(test_intent_records_each_justification),
		cmocka_unit_test(test_forged_intent_is_not_finished),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("dispose", tests, NULL, NULL);
}
