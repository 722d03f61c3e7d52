/* Unit tests for audit/auditlog: canonical leaves (escaping, strict
 * parsing), personal data kept out of the leaf and checked against its
 * commitment, appends that sign a checkpoint and roll back with the
 * caller, failing closed on a read-only database, listing filters, the
 * whole-log check and heartbeat gaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "archiver/lib/clock.h"
#include "audit/auditlog.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"
#include "audit/tlog.h"
#include "audit/tlog_verify.h"
#include "tests/unit/fixtures.h"

struct fx {
	char dir[FX_PATH_MAX], keydir[FX_PATH_MAX], dbpath[FX_PATH_MAX];
	sqlite3 *h;    /* SQLite only */
	struct db *db; /* either engine */
	struct tlog *t;
	struct note_signer *s;
};

static void fx_init(struct fx *f, bool pg)
{
	memset(f, 0, sizeof(*f));
	fx_logdir_make("auditlog", f->dir, f->keydir, f->dbpath);
	if (pg) {
		f->db = fx_pg_fresh(migrations_catalog_pg.count);
	} else {
		f->h = fx_logdb_open(f->dbpath, "PRAGMA journal_mode=WAL");
		f->db = fx_conn(f->h);
	}
	fx_log_create(f->db, f->keydir, "audit", "test.example/pv/audit", NULL);
	fx_log_open(f->db, f->keydir, "audit", &f->t, &f->s);
}

static void fx_done(struct fx *f)
{
	keys_free(&f->s);
	tlog_free(&f->t);
	fx_logdb_close(&f->db, &f->h);
	fx_rmtree(f->dir);
}

static uint64_t append(struct fx *f, const char *actor, const char *type, const char *object,
		       const char *personal)
{
	struct audit_event ev = {actor, type, object, "ok", personal};
	struct pv_error err;
	uint64_t seq;
	fx_must(auditlog_append(f->t, f->s, &ev, &seq, &err), &err, "append");
	return seq;
}

static int64_t fake_now_ms;
static int64_t fake_clock(void)
{
	return fake_now_ms;
}

/* --- leaves ---------------------------------------------------------------------- */

static void test_leaf_round_trip_escapes_control_bytes_and_percent(void **state)
{
	(void)state;
	struct audit_event ev = {"web:al%ice", "view", "message=42\nforged 1", "failed: a\tb\x7f", NULL};
	struct audit_entry e;
	struct pv_buf b;
	struct pv_error err;
	pv_buf_init(&b, PV_TLOG_ENTRY_MAX);
	fx_must(auditlog_leaf_format(&ev, 7, 1795300000, NULL, &b, &err), &err, "format");
	/* A newline in a value cannot forge a line of the leaf. */
	assert_non_null(strstr(pv_buf_str(&b), "object message=42%0Aforged 1\n"));
	assert_non_null(strstr(pv_buf_str(&b), "actor web:al%25ice\n"));
	assert_non_null(strstr(pv_buf_str(&b), "outcome failed: a%09b%7F\n"));
	assert_non_null(strstr(pv_buf_str(&b), "commit -\n"));
	fx_must(auditlog_leaf_parse(b.data, b.len, 7, &e, &err), &err, "parse");
	assert_int_equal(e.kind, AUDIT_ENTRY_EVENT);
	assert_int_equal(e.seq, 7);
	assert_int_equal(e.time, 1795300000);
	assert_string_equal(e.actor, ev.actor);
	assert_string_equal(e.object, ev.object);
	assert_string_equal(e.outcome, ev.outcome);
	assert_false(e.has_commit);
	pv_buf_free(&b);
}

/* Replaces the first `from` in the leaf by `to` and expects a parse failure. */
static void expect_rejected(const char *leaf, const char *from, const char *to, uint64_t index)
{
	char buf[2048];
	struct audit_entry e;
	struct pv_error err;
	const char *p = strstr(leaf, from);
	assert_non_null(p);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - leaf), leaf, to, p + strlen(from));
	if (auditlog_leaf_parse(buf, strlen(buf), index, &e, &err) != PV_EINTEGRITY)
		fail_msg("accepted a leaf with '%s' -> '%s'", from, to);
}

static void test_leaf_parser_accepts_one_spelling_only(void **state)
{
	(void)state;
	struct audit_event ev = {"cli:root", "search", "results=3", "ok", NULL};
	uint8_t commit[AUDIT_COMMIT_LEN];
	struct pv_buf b;
	struct pv_error err;
	memset(commit, 0xab, sizeof(commit));
	pv_buf_init(&b, PV_TLOG_ENTRY_MAX);
	fx_must(auditlog_leaf_format(&ev, 3, 1795300000, commit, &b, &err), &err, "format");
	const char *l = pv_buf_str(&b);
	struct audit_entry e;
	fx_must(auditlog_leaf_parse(b.data, b.len, 3, &e, &err), &err, "parse");
	assert_true(e.has_commit);
	assert_memory_equal(e.commit, commit, sizeof(commit));
	/* Reordering: a leaf at another index says so. */
	assert_int_equal(auditlog_leaf_parse(b.data, b.len, 4, &e, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "says seq 3"));
	expect_rejected(l, "seq 3", "seq 03", 3);
	expect_rejected(l, "Z\nactor", "z\nactor", 3);
	expect_rejected(l, "cli:root", "cli%3Aroot", 3);   /* escaping what needs none */
	expect_rejected(l, "cli:root", "cli:r%", 3);       /* a bare % */
	expect_rejected(l, "results=3", "results=3%0a", 3); /* lower-case escape */
	expect_rejected(l, "type search", "type Search", 3);
	expect_rejected(l, "abababab", "ABABABAB", 3);      /* upper-case commit */
	expect_rejected(l, "commit ", "comit ", 3);
	expect_rejected(l, "outcome ok\n", "outcome ok\nextra x\n", 3);
	expect_rejected(l, "outcome ok", "outcome ", 3);   /* empty value */
	expect_rejected(l, "popvault/audit/v1", "popvault/audit/v2", 3);
	/* Truncated: every proper prefix is refused. */
	for (size_t n = 0; n < b.len; n++)
		assert_int_equal(auditlog_leaf_parse(b.data, n, 3, &e, &err), PV_EINTEGRITY);
	pv_buf_free(&b);
}

static void test_bad_events_are_refused_before_anything_is_written(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	uint64_t size;
	fx_init(&f, fx_on_pg(state));
	const struct audit_event bad[] = {
		{"", "view", "message=1", "ok", NULL},
		{"cli:root", "View", "message=1", "ok", NULL},
		{"cli:root", "view", "", "ok", NULL},
		{"cli:root", "view", "message=1", "ok", "\xff\xfe not utf-8"},
		{"cli:\xc0\xafroot", "view", "message=1", "ok", NULL}, /* overlong '/' */
		{"cli:root", "a-type-name-that-is-far-too-long-x", "m", "ok", NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_true(auditlog_append(f.t, f.s, &bad[i], NULL, &err) < 0);
	fx_must(tlog_size(f.t, &size, &err), &err, "size");
	assert_int_equal(size, 0);
	fx_done(&f);
}

/* --- appending ------------------------------------------------------------------- */

static void test_append_keeps_personal_data_out_of_the_leaf(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct pv_buf leaf, data;
	struct audit_entry e;
	uint8_t salt[AUDIT_SALT_LEN], c[AUDIT_COMMIT_LEN];
	const char *query = "from:ceo@example.com subject:merger";
	fx_init(&f, fx_on_pg(state));
	uint64_t seq = append(&f, "web:alice", AUDIT_SEARCH, "results=2 ids-sha256=00", query);
	assert_int_equal(seq, 0);
	pv_buf_init(&leaf, PV_TLOG_ENTRY_MAX);
	pv_buf_init(&data, PV_AUDIT_PERSONAL_MAX);
	fx_must(tlog_leaf(f.t, seq, &leaf, &err), &err, "leaf");
	assert_null(strstr(pv_buf_str(&leaf), "ceo@example.com"));
	fx_must(auditlog_leaf_parse(leaf.data, leaf.len, seq, &e, &err), &err, "parse");
	assert_true(e.has_commit);
	fx_must(auditlog_personal(f.t, seq, salt, &data, &err), &err, "personal");
	assert_string_equal(pv_buf_str(&data), query);
	auditlog_commitment(salt, data.data, data.len, c);
	assert_memory_equal(c, e.commit, sizeof(c));
	/* Salted: the same query twice gives two different commitments. */
	uint64_t seq2 = append(&f, "web:alice", AUDIT_SEARCH, "results=2 ids-sha256=00", query);
	struct audit_entry e2;
	pv_buf_reset(&leaf);
	fx_must(tlog_leaf(f.t, seq2, &leaf, &err), &err, "leaf");
	fx_must(auditlog_leaf_parse(leaf.data, leaf.len, seq2, &e2, &err), &err, "parse");
	assert_memory_not_equal(e.commit, e2.commit, sizeof(c));
	/* No personal data: no commitment, no side row. */
	uint64_t seq3 = append(&f, "cli:root", AUDIT_VIEW, "message=1", NULL);
	pv_buf_reset(&data);
	assert_int_equal(auditlog_personal(f.t, seq3, salt, &data, &err), PV_ENOTFOUND);
	pv_buf_free(&leaf);
	pv_buf_free(&data);
	fx_done(&f);
}

static void test_every_append_signs_a_timed_checkpoint_covering_it(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct pv_buf note;
	struct checkpoint cp;
	struct tlog_verify_report rep;
	fx_init(&f, fx_on_pg(state));
	pv_buf_init(&note, PV_NOTE_MAX);
	for (int i = 0; i < 5; i++) {
		uint64_t seq = append(&f, "system", AUDIT_HEARTBEAT, "log=audit", NULL);
		pv_buf_reset(&note);
		fx_must(checkpoint_latest(f.t, &note, &cp, &err), &err, "latest");
		assert_int_equal(cp.size, seq + 1);
		assert_true(cp.time > 0);
	}
	fx_must(tlog_verify(f.t, NULL, NULL, NULL, 0, &rep, &err), &err, "verify");
	assert_int_equal(rep.size, 5);
	assert_int_equal(rep.checkpoints, 6); /* genesis + one per entry */
	pv_buf_free(&note);
	fx_done(&f);
}

static void test_append_in_a_rolled_back_transaction_leaves_nothing(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	uint64_t size, count, next;
	fx_init(&f, fx_on_pg(state));
	append(&f, "cli:root", AUDIT_INIT, "origin=x", NULL);
	fx_must(db_begin(f.db, &err), &err, "begin");
	append(&f, "cli:root", AUDIT_HOLD_PLACE, "hold=m1", "query text");
	fx_must(tlog_size(f.t, &size, &err), &err, "size");
	assert_int_equal(size, 2); /* visible inside the transaction */
	db_rollback(f.db);
	fx_must(tlog_size(f.t, &size, &err), &err, "size");
	assert_int_equal(size, 1);
	fx_must(tlog_checkpoint_count(f.t, &count, &next, &err), &err, "count");
	assert_int_equal(count, 2);
	int64_t rows = -1;
	fx_must(db_query_int(f.db, "SELECT count(*) FROM audit_personal", &rows, &err), &err, "rows");
	assert_int_equal(rows, 0);
	fx_done(&f);
}

/* Fail closed: when the store cannot be written, append says so and the
 * log is unchanged (the caller then must not act). */
static void test_append_fails_on_a_read_only_store(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	sqlite3 *ro;
	struct tlog *t;
	uint64_t size;
	fx_init(&f, false); /* SQLite's read-only file and file lock */
	append(&f, "cli:root", AUDIT_INIT, "origin=x", NULL);
	assert_int_equal(sqlite3_open_v2(f.dbpath, &ro, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	fx_must(tlog_open(fx_conn(ro), "audit", &t, &err), &err, "open ro");
	struct audit_event ev = {"cli:root", AUDIT_VIEW, "message=1", "ok", NULL};
	assert_true(auditlog_append(t, f.s, &ev, NULL, &err) < 0);
	assert_true(strlen(err.msg) > 0);
	tlog_free(&t);
	sqlite3_close(ro);
	/* And while another connection holds the write lock. */
	sqlite3 *other;
	assert_int_equal(sqlite3_open(f.dbpath, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_true(auditlog_append(f.t, f.s, &ev, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "locked"));
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	fx_must(tlog_size(f.t, &size, &err), &err, "size");
	assert_int_equal(size, 1);
	fx_done(&f);
}

/* --- listing and checking --------------------------------------------------------- */

struct seen {
	int n;
	char types[16][AUDIT_TYPE_MAX + 1];
	char personal[16][64];
	uint64_t seq[16];
};

static int collect(void *ctx, const struct audit_entry *e, const char *personal, size_t plen)
{
	struct seen *s = ctx;
	assert_true(s->n < 16);
	snprintf(s->types[s->n], sizeof(s->types[0]), "%s", e->type);
	snprintf(s->personal[s->n], sizeof(s->personal[0]), "%.*s", personal ? (int)plen : 1,
		 personal ? personal : "-");
	s->seq[s->n++] = e->seq;
	return 0;
}

static void test_list_filters_by_time_actor_and_type(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	fx_init(&f, fx_on_pg(state));
	pv_clock_override(fake_clock);
	int64_t t0 = 1795300000;
	const struct {
		int64_t dt;
		const char *actor, *type, *personal;
	} evs[] = {
		{0, "cli:root", AUDIT_INIT, NULL},      {60, "web:alice", AUDIT_SEARCH, "q1"},
		{120, "web:bob", AUDIT_VIEW, NULL},      {180, "web:alice", AUDIT_VIEW, NULL},
		{240, "web:alice", AUDIT_SEARCH, "q2"},
	};
	for (size_t i = 0; i < 5; i++) {
		fake_now_ms = (t0 + evs[i].dt) * 1000;
		append(&f, evs[i].actor, evs[i].type, "x=1", evs[i].personal);
	}
	pv_clock_override(NULL);
	struct seen s = {0};
	struct auditlog_filter all = {INT64_MIN, INT64_MAX, NULL, NULL};
	fx_must(auditlog_list(f.t, &all, collect, &s, &err), &err, "list");
	assert_int_equal(s.n, 5);
	assert_string_equal(s.personal[1], "q1");
	memset(&s, 0, sizeof(s));
	struct auditlog_filter win = {t0 + 60, t0 + 180, "web:alice", NULL};
	fx_must(auditlog_list(f.t, &win, collect, &s, &err), &err, "list");
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 1);
	assert_int_equal(s.seq[1], 3);
	memset(&s, 0, sizeof(s));
	struct auditlog_filter typ = {INT64_MIN, INT64_MAX, NULL, AUDIT_SEARCH};
	fx_must(auditlog_list(f.t, &typ, collect, &s, &err), &err, "list");
	assert_int_equal(s.n, 2);
	assert_string_equal(s.personal[1], "q2");
	uint64_t lo, hi;
	fx_must(auditlog_range(f.t, t0 + 61, t0 + 239, &lo, &hi, &err), &err, "range");
	assert_int_equal(lo, 2);
	assert_int_equal(hi, 4);
	fx_must(auditlog_range(f.t, t0 + 1000, INT64_MAX, &lo, &hi, &err), &err, "range");
	assert_int_equal(lo, hi);
	fx_done(&f);
}

static int count_problem(void *ctx, const char *msg)
{
	(void)msg;
	return ++*(int *)ctx;
}

static void problem_cb(void *ctx, const char *msg)
{
	(void)count_problem(ctx, msg);
}

static void test_changed_or_orphaned_personal_data_is_detected(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct auditlog_check_report rep;
	int problems = 0;
	fx_init(&f, fx_on_pg(state));
	append(&f, "web:alice", AUDIT_SEARCH, "results=1", "secret query");
	append(&f, "web:alice", AUDIT_VIEW, "message=1", NULL);
	fx_must(auditlog_check(f.t, problem_cb, &problems, &rep, &err), &err, "check");
	assert_int_equal(problems, 0);
	assert_int_equal(rep.entries, 2);
	assert_int_equal(rep.personal, 1);
	/* Someone edits the side table: the commitment gives it away. */
	fx_exec_blob(f.db, "UPDATE audit_personal SET data = ?1", "harmless query", 14);
	fx_must(auditlog_check(f.t, problem_cb, &problems, &rep, &err), &err, "check");
	assert_int_equal(problems, 1);
	struct seen s = {0};
	struct auditlog_filter all = {INT64_MIN, INT64_MAX, NULL, NULL};
	assert_int_equal(auditlog_list(f.t, &all, collect, &s, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "does not match its commitment"));
	/* A row for an entry that has no commitment, and a missing row. */
	problems = 0;
	fx_must(db_exec(f.db, "UPDATE audit_personal SET seq = 1", &err), &err, "move row");
	fx_must(auditlog_check(f.t, problem_cb, &problems, &rep, &err), &err, "check");
	assert_int_equal(problems, 2);
	fx_done(&f);
}

static void test_heartbeat_gaps_are_reported_with_their_ends(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct auditlog_check_report rep;
	int problems = 0;
	fx_init(&f, fx_on_pg(state));
	pv_clock_override(fake_clock);
	int64_t t0 = 1795300000, dts[] = {0, 15 * 60, 30 * 60, 30 * 60 + 31 * 60, 2 * 3600 + 31 * 60};
	for (size_t i = 0; i < 5; i++) {
		fake_now_ms = (t0 + dts[i]) * 1000;
		append(&f, "system", AUDIT_HEARTBEAT, "log=audit", NULL);
	}
	pv_clock_override(NULL);
	fx_must(auditlog_check(f.t, problem_cb, &problems, &rep, &err), &err, "check");
	assert_int_equal(problems, 0);
	assert_int_equal(rep.gaps, 2);
	assert_int_equal(rep.gap[0].from_seq, 2);
	assert_int_equal(rep.gap[0].to_seq, 3);
	assert_int_equal(rep.gap[1].to - rep.gap[1].from, 90 * 60);
	assert_int_equal(rep.last_time, t0 + dts[4]);
	fx_done(&f);
}

/* A clock that steps back is an audit entry of its own, once, right
 * before the first entry after the step; a second's disagreement between
 * two processes is not a step. */
static void test_a_clock_step_back_is_recorded_once(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct auditlog_check_report rep;
	struct seen s = {0};
	struct auditlog_filter all = {INT64_MIN, INT64_MAX, NULL, NULL};
	int problems = 0;
	int64_t t0 = 1795300000, ahead = t0 + 3 * 86400;
	fx_init(&f, fx_on_pg(state));
	pv_clock_override(fake_clock);
	fake_now_ms = ahead * 1000;
	append(&f, "cli:root", AUDIT_DISPOSE_DONE, "disposal=1", NULL);
	fake_now_ms = (ahead - 30) * 1000; /* jitter: no step */
	append(&f, "cli:root", AUDIT_SEARCH, "results=0", NULL);
	fake_now_ms = t0 * 1000; /* back 3 days */
	uint64_t seq = append(&f, "cli:root", AUDIT_VIEW, "message=1", NULL);
	fake_now_ms = (t0 + 60) * 1000;
	append(&f, "cli:root", AUDIT_VIEW, "message=2", NULL);
	pv_clock_override(NULL);
	fx_must(auditlog_list(f.t, &all, collect, &s, &err), &err, "list");
	assert_int_equal(s.n, 5); /* dispose, search, step, view, view */
	assert_string_equal(s.types[2], AUDIT_CLOCK_STEP);
	assert_int_equal(s.seq[2] + 1, seq);
	assert_string_equal(s.types[3], AUDIT_VIEW);
	assert_string_equal(s.types[4], AUDIT_VIEW);
	fx_must(auditlog_check(f.t, problem_cb, &problems, &rep, &err), &err, "check");
	assert_int_equal(problems, 0);
	assert_int_equal(rep.clock_steps, 1);
	assert_int_equal(rep.clock_step_seq, s.seq[2]);
	assert_string_equal(rep.clock_step,
			    "from=2026-11-24T22:26:10Z to=2026-11-21T22:26:40Z back=259170s");
	fx_done(&f);
}

static void test_json_and_csv_are_valid_and_defuse_formulas(void **state)
{
	(void)state;
	struct audit_entry e;
	struct pv_buf b;
	struct pv_error err;
	json_error_t je;
	memset(&e, 0, sizeof(e));
	e.seq = 9;
	e.time = 1795300000;
	snprintf(e.actor, sizeof(e.actor), "web:\"bob\"");
	snprintf(e.type, sizeof(e.type), "search");
	snprintf(e.object, sizeof(e.object), "=HYPERLINK(\"http://x\")");
	snprintf(e.outcome, sizeof(e.outcome), "ok\\\n\x01");
	pv_buf_init(&b, 65536);
	const char personal[] = "to:\"a, b\"\r\nx\xc3\xa9";
	fx_must(auditlog_entry_json(&e, personal, strlen(personal), &b, &err), &err, "json");
	assert_int_equal(b.data[b.len - 1], '\n');
	json_t *o = json_loadb((const char *)b.data, b.len - 1, JSON_REJECT_DUPLICATES, &je);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "actor")), e.actor);
	assert_string_equal(json_string_value(json_object_get(o, "outcome")), e.outcome);
	assert_string_equal(json_string_value(json_object_get(o, "personal")), personal);
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 9);
	assert_true(json_is_null(json_object_get(o, "commit")));
	json_decref(o);
	pv_buf_reset(&b);
	fx_must(auditlog_entry_csv(&e, personal, strlen(personal), &b, &err), &err, "csv");
	assert_string_equal(pv_buf_str(&b),
			    "9,\"2026-11-21T22:26:40Z\",\"web:\"\"bob\"\"\",\"search\","
			    "\"'=HYPERLINK(\"\"http://x\"\")\",\"ok\\\n\x01\",\"\","
			    "\"to:\"\"a, b\"\"\r\nx\xc3\xa9\"\r\n");
	pv_buf_free(&b);
}

#define BOTH(t) FX_BOTH(t, fx_setup_sqlite, fx_setup_pg, fx_teardown_none)

int main(void)
{
	/* On SQLite, then on PostgreSQL with PV_TEST_PG; FX_ONCE: SQLite only
	 * (no database, or SQLite's own file). */
	const struct CMUnitTest tests[] = {
		FX_ONCE(test_leaf_round_trip_escapes_control_bytes_and_percent),
		FX_ONCE(test_leaf_parser_accepts_one_spelling_only),
		FX_ONCE(test_append_fails_on_a_read_only_store),
		FX_ONCE(test_json_and_csv_are_valid_and_defuse_formulas),
		BOTH(test_bad_events_are_refused_before_anything_is_written),
		BOTH(test_append_keeps_personal_data_out_of_the_leaf),
		BOTH(test_every_append_signs_a_timed_checkpoint_covering_it),
		BOTH(test_append_in_a_rolled_back_transaction_leaves_nothing),
		BOTH(test_list_filters_by_time_actor_and_type),
		BOTH(test_changed_or_orphaned_personal_data_is_detected),
		BOTH(test_heartbeat_gaps_are_reported_with_their_ends),
		BOTH(test_a_clock_step_back_is_recorded_once),
	};
	if (sodium_init() < 0)
		return 1;
	return fx_run_both("auditlog", tests, sizeof(tests) / sizeof(tests[0]));
}
