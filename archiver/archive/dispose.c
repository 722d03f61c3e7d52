#include "archiver/archive/dispose.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "archiver/index/index.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/log.h"
#include "archiver/archive/attest.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/evidence.h"
#include "archiver/archive/export_jobs.h"
#include "archiver/archive/holds.h"
#include "archiver/archive/indexer.h"
#include "archiver/archive/search_open.h"
#include "archiver/store/leaf.h"
#include "archiver/store/message.h"
#include "archiver/store/pack.h"
#include "archiver/store/policy_store.h"
#include "archiver/archive/policies.h"
#include "archiver/archive/retention.h"
#include "audit/checkpoint.h"

const char *dispose_state_name(enum dispose_state s)
{
	switch (s) {
	case DISPOSE_DUE:
		return "dispose";
	case DISPOSE_HELD:
		return "held";
	case DISPOSE_REVIEW:
		return "review";
	case DISPOSE_BLOCKED:
		break;
	}
	return "blocked";
}

/* Whether the month named by a bucket label ("YYYY-MM" or "YYYY-MM+N")
 * is over at now: no new mail can expire in it any more. */
static bool month_over(const char *label, int64_t now)
{
	char ym[8];
	if (strlen(label) < 7 || label[4] != '-')
		return false; /* "never" */
	memcpy(ym, label, 7);
	ym[7] = '\0';
	char *end;
	long y = strtol(ym, &end, 10), mo;
	if (end != ym + 4 || y < 1 || y > 99999)
		return false;
	mo = strtol(ym + 5, &end, 10);
	if (*end != '\0' || mo < 1 || mo > 12)
		return false;
	struct tm tm = {.tm_year = (int)(y - 1900), .tm_mon = (int)mo, .tm_mday = 1}; /* next month */
	return now >= (int64_t)timegm(&tm);
}

/* ---- refusing what the signed data contradicts ------------------------ */

struct refusal {
	size_t n;
	char first[400];
};

static void refuse_note(void *ctx, const char *msg)
{
	struct refusal *rf = ctx;
	if (rf->n++ == 0)
		snprintf(rf->first, sizeof(rf->first), "%.390s", msg);
}

static int refused(const struct refusal *rf, struct pv_error *err)
{
	if (rf->n == 1)
		return pv_fail(err, PV_EINTEGRITY, "refusing to dispose: %s (nothing was destroyed; "
						   "run popvault verify)", rf->first);
	return pv_fail(err, PV_EINTEGRITY, "refusing to dispose: %s (and %zu more problem%s; nothing "
					   "was destroyed; run popvault verify)", rf->first, rf->n - 1,
		       rf->n == 2 ? "" : "s");
}

/* Every archive leaf against its catalog row, and the log's root against
 * its latest signed checkpoint. */
struct rowscan {
	struct archive *ar;
	const struct attest_policies *ap;
	struct refusal *rf;
	int64_t message_leaves;
	int64_t *tombstoned; /* message ids with a tombstone, in log order */
	size_t n_tomb, cap_tomb;
	int r;
	struct pv_error e;
};

static int row_leaf(void *ctx, uint64_t index, const void *data, size_t len)
{
	struct rowscan *rs = ctx;
	struct archive_leaf leaf;
	struct stored_message m;
	char msg[200];
	struct pv_error e;
	if (archive_leaf_parse(data, len, &leaf, &e) < 0) {
		if (len < 22 || memcmp(data, "popvault/key-rotation/", 22) != 0) {
			snprintf(msg, sizeof(msg), "archive leaf %llu: %.150s", (unsigned long long)index,
				 e.msg);
			refuse_note(rs->rf, msg);
		}
		return 0;
	}
	int r = message_load(rs->ar->cat->conn, leaf.seq, &m, &rs->e);
	if (r == PV_ENOTFOUND || r == PV_EINTEGRITY) {
		snprintf(msg, sizeof(msg), "archive leaf %llu: message %lld: %.120s", (unsigned long long)index,
			 (long long)leaf.seq, r == PV_ENOTFOUND ? "no catalog row" : rs->e.msg);
		refuse_note(rs->rf, msg);
		return 0;
	}
	if (r < 0) {
		rs->r = r;
		return 1;
	}
	if (leaf.kind == LEAF_MESSAGE) {
		rs->message_leaves++;
		if ((uint64_t)m.leaf_index != index) {
			snprintf(msg, sizeof(msg), "message %lld: leaf_index: points at leaf %lld, its leaf "
						   "is %llu", (long long)m.id, (long long)m.leaf_index,
				 (unsigned long long)index);
			refuse_note(rs->rf, msg);
		} else {
			(void)attest_row(rs->ar, rs->ap, &m, &leaf, refuse_note, rs->rf);
		}
	} else if (m.disposed_at == 0) {
		snprintf(msg, sizeof(msg), "archive leaf %llu: tombstone for message %lld, which is not "
					   "marked disposed", (unsigned long long)index, (long long)leaf.seq);
		refuse_note(rs->rf, msg);
	} else {
		if (rs->n_tomb == rs->cap_tomb) {
			size_t cap = rs->cap_tomb ? 2 * rs->cap_tomb : 64;
			int64_t *v = realloc(rs->tombstoned, cap * sizeof(*v));
			if (v == NULL) {
				rs->r = pv_fail(&rs->e, PV_ERR, "out of memory");
				return 1;
			}
			rs->tombstoned = v;
			rs->cap_tomb = cap;
		}
		rs->tombstoned[rs->n_tomb++] = leaf.seq;
	}
	sodium_memzero(&m, sizeof(m));
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* A row marked disposed without a tombstone would free its bucket key for
 * shredding while its content is still there. */
static int check_disposed_rows(struct archive *ar, struct rowscan *rs, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(ar->cat->conn, "SELECT id FROM messages WHERE disposed_at IS NOT NULL",
			   &st, err);
	if (r < 0)
		return r;
	if (rs->n_tomb > 0)
		qsort(rs->tombstoned, rs->n_tomb, sizeof(int64_t), cmp_i64);
	while ((r = db_step(st, err)) == DB_ROW) {
		int64_t id = db_column_int64(st, 0);
		if (rs->n_tomb == 0 ||
		    bsearch(&id, rs->tombstoned, rs->n_tomb, sizeof(int64_t), cmp_i64) == NULL) {
			char msg[160];
			snprintf(msg, sizeof(msg), "message %lld: disposed_at: marked disposed, but the "
						   "archive log has no tombstone for it", (long long)id);
			refuse_note(rs->rf, msg);
		}
	}
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

static int check_rows(struct archive *ar, const struct attest_policies *ap, struct refusal *rf,
		      struct pv_error *err)
{
	struct rowscan rs = {.ar = ar, .ap = ap, .rf = rf};
	int64_t rows = 0;
	struct pv_error e;
	/* Planned before this transaction appends: what is reserved in the
	 * archive log is committed and may be signed (the signer process). */
	int r = checkpoint_seal(ar->archive_log, ar->archive_key, NULL, err);
	if (r < 0)
		return r;
	r = evidence_log_head(ar->archive_log, 0, row_leaf, &rs, &e);
	if (rs.r < 0) {
		free(rs.tombstoned);
		return pv_fail(err, rs.r, "%s", rs.e.msg);
	}
	if (r == PV_OK)
		r = check_disposed_rows(ar, &rs, &e);
	free(rs.tombstoned);
	if (r == PV_EINTEGRITY) {
		refuse_note(rf, e.msg);
		return PV_OK;
	}
	if (r < 0)
		return pv_fail(err, r, "%s", e.msg);
	if ((r = db_query_int(ar->cat->conn, "SELECT count(*) FROM messages", &rows, err)) < 0)
		return r;
	if (rows != rs.message_leaves) {
		char msg[160];
		snprintf(msg, sizeof(msg), "messages: the catalog has %lld rows, the archive log %lld "
					   "message leaves", (long long)rows, (long long)rs.message_leaves);
		refuse_note(rf, msg);
	}
	return PV_OK;
}

/* ---- the plan --------------------------------------------------------- */

/* The rule's action, or PV_ENOTFOUND with why filled (then the message is
 * blocked: no rule, no disposal). */
static int rule_action(const struct attest_policies *ap, int64_t version, const char *rule,
		       enum policy_action *a_r, char *why, size_t why_n)
{
	const struct attest_policy *a = attest_policy(ap, version);
	if (version == 0) { /* the built-in retention before any policy was stored */
		if (strcmp(rule, POLICY_DEFAULT_CLASS) != 0)
			goto unknown;
		*a_r = POLICY_ACTION_DISPOSE;
		return PV_OK;
	}
	if (a == NULL) {
		snprintf(why, why_n, "policy version %lld unusable", (long long)version);
		return PV_ENOTFOUND;
	}
	long i = policy_rule_find(a->p, rule);
	if (i < 0)
		goto unknown;
	struct policy_retention ret;
	policy_rule_retention(a->p, (size_t)i, &ret);
	*a_r = ret.action;
	return PV_OK;
unknown:
	snprintf(why, why_n, "rule '%s' is not in policy version %lld", rule, (long long)version);
	return PV_ENOTFOUND;
}

/* Content present: blob file, wrapped key, live bucket key. Otherwise it
 * was lost without a disposal record, and disposing it would hide that. */
static bool content_present(struct archive *ar, const struct stored_message *m, char *why,
			    size_t why_n)
{
	unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
	struct pv_error e;

	if (m->blob[0] == '\0' || m->wrapped_len == 0) {
		snprintf(why, why_n, "%s is gone without a disposal record (unauthorised deletion)",
			 m->blob[0] == '\0' ? "its blob reference" : "its wrapped key");
		return false;
	}
	if (!blob_present_at(ar->dir, ar->packs, &m->loc)) {
		snprintf(why, why_n, "blob %.16s... is missing without a disposal record "
				     "(unauthorised deletion)", m->blob);
		return false;
	}
	int r = keyring_unwrap(ar->kr, m->bucket_id, m->blob, m->wrapped, m->wrapped_len, key, salt, &e);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(salt, sizeof(salt));
	if (r < 0) {
		snprintf(why, why_n, "%.200s%s", e.msg,
			 r == PV_ENOTFOUND ? " without a disposal record (unauthorised deletion)" : "");
		return false;
	}
	return true;
}

/* What the plan works with. */
struct planner {
	struct archive *ar;
	struct dispose_plan *plan;
	const struct attest_policies *ap;
	const struct attest_policy *cur; /* the version in force; NULL: none stored */
	struct refusal *rf;
	struct search_backend *search;
	struct pv_buf raw;
};

/* The decision on the catalog's values (it only nominates: a DUE item is
 * confirmed from the bytes next). */
static void decide_item(struct planner *pl, const struct hold_set *hs,
			const struct stored_message *m, struct dispose_item *it)
{
	const char *holds[8];
	enum policy_action action = POLICY_ACTION_REVIEW;
	struct policy_decision d;
	char t[PV_RFC3339_LEN];

	memset(it, 0, sizeof(*it));
	it->id = m->id;
	snprintf(it->rule, sizeof(it->rule), "%s", m->class_name);
	it->policy_version = m->policy_version;
	it->expires_at = m->expires_at;
	it->bucket_id = m->bucket_id;
	it->state = DISPOSE_BLOCKED;
	if (rule_action(pl->ap, m->policy_version, m->class_name, &action, it->why,
			sizeof(it->why)) == PV_ENOTFOUND)
		return;
	size_t nh = hold_set_lookup(hs, m->id, holds, 8);
	struct policy_disposal_input in = {.forever = false, .expires_at = m->expires_at,
					   .action = action, .holds = holds,
					   .n_holds = nh < 8 ? nh : 8};
	enum policy_verdict v = policy_decide(&in, pl->plan->now, &d);
	snprintf(it->why, sizeof(it->why), "%s%s", d.text, nh > 8 ? " (and more matters)" : "");
	if (d.reason == POLICY_REASON_HELD) {
		it->state = DISPOSE_HELD;
		return;
	}
	if (d.reason == POLICY_REASON_REVIEW) {
		it->state = DISPOSE_REVIEW;
		return;
	}
	if (v != POLICY_VERDICT_DISPOSE) /* cannot happen for an expired row; keep it */
		return;
	pv_clock_format_rfc3339(m->expires_at, t);
	if (pl->plan->policy_version > 0 && m->policy_version != pl->plan->policy_version) {
		snprintf(it->why, sizeof(it->why),
			 "expired %s under policy version %lld, but could not be re-evaluated under "
			 "version %lld (content unreadable)", t, (long long)m->policy_version,
			 (long long)pl->plan->policy_version);
		it->missing = true;
		return;
	}
	struct pv_error e;
	bool indexed = false;
	if (search_backend_indexed(pl->search, &m->id, 1, &indexed, &e) < 0 || !indexed) {
		snprintf(it->why, sizeof(it->why), "expired %s, but not in the search index, so holds "
						   "cannot be checked", t);
		it->missing = !content_present(pl->ar, m, it->why, sizeof(it->why));
		return;
	}
	if (!content_present(pl->ar, m, it->why, sizeof(it->why))) {
		it->missing = true;
		return;
	}
	it->state = DISPOSE_DUE;
}

/* A DUE item confirmed from its own bytes: read and checked against its
 * leaf, evaluated under the version in force with the signed facts; the
 * catalog must agree (else the run is refused). Its index entry is
 * rebuilt from the bytes, so the hold queries that run next see what the
 * message really holds. Fills it->just. */
static int confirm_due(struct planner *pl, const struct stored_message *m, struct dispose_item *it,
		       struct pv_error *err)
{
	struct archive_leaf leaf;
	struct retention ret;
	struct index_doc doc;
	struct pv_error e;
	int mismatches = 0, r;

	it->state = DISPOSE_BLOCKED;
	if (pl->cur == NULL) {
		snprintf(it->why, sizeof(it->why), "no committed policy version to dispose under");
		return PV_OK;
	}
	if (attest_leaf(pl->ar, m, &leaf, &e) < 0) {
		refuse_note(pl->rf, e.msg);
		return PV_OK;
	}
	r = attest_read(pl->ar, m, &leaf, &pl->raw, refuse_note, pl->rf, &mismatches, &e);
	if (r == PV_ENOTFOUND || r == PV_EINTEGRITY) {
		snprintf(it->why, sizeof(it->why), "%.300s", e.msg);
		it->missing = true;
		return PV_OK;
	}
	if (r < 0)
		return pv_fail(err, r, "%s", e.msg);
	if (mismatches > 0)
		return PV_OK;
	struct justification *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	r = attest_classify(pl->cur->p, pl->cur->version, m->account, pl->raw.data, pl->raw.len,
			    leaf.time, &ret, &j->tests, &doc, err);
	if (r < 0 || attest_decision(m, &ret, refuse_note, pl->rf) > 0) {
		index_doc_free(&doc);
		free(j);
		return r;
	}
	struct index_batch_doc one = {m->id, m->account, leaf.time, pl->raw.len, &doc};
	r = search_backend_add_docs(pl->search, &one, 1, &e);
	index_doc_free(&doc);
	if (r < 0) {
		snprintf(it->why, sizeof(it->why), "could not be indexed again from its content, so "
						   "holds cannot be checked: %.200s", e.msg);
		free(j);
		return PV_OK;
	}
	j->message = m->id;
	j->leaf = m->leaf_index;
	j->policy = pl->cur->version;
	memcpy(j->policy_sha256, pl->cur->sha256, sizeof(j->policy_sha256));
	snprintf(j->rule, sizeof(j->rule), "%s", ret.class_name);
	snprintf(j->account, sizeof(j->account), "%s", m->account);
	j->received = leaf.time;
	j->size = pl->raw.len;
	j->expires = ret.expires_at;
	it->just = j;
	it->state = DISPOSE_DUE;
	return PV_OK;
}

/* Buckets this plan would shred (nothing else undisposed in them, and
 * their month, as the keyring recorded it, is over): before any is, every
 * other live message's wrapped key must open under the bucket the catalog
 * names, so no moved bucket_id can hide a live message in one. */
static int check_bucket_binding(struct planner *pl, struct pv_error *err)
{
	struct dispose_plan *plan = pl->plan;
	struct db *conn = pl->ar->cat->conn;
	struct db_stmt *st;
	bool any = false;
	int r = db_prepare(conn, "SELECT count(*) FROM messages WHERE bucket_id = ?"
			       " AND disposed_at IS NULL", &st, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < plan->n && !any; i++) {
		const struct dispose_item *it = &plan->v[i];
		struct keyring_bucket_info bi;
		int64_t due = 0;
		if (it->state != DISPOSE_DUE)
			continue;
		for (size_t j = 0; j < plan->n; j++)
			due += plan->v[j].state == DISPOSE_DUE && plan->v[j].bucket_id == it->bucket_id;
		db_reset(st);
		db_bind_int64(st, 1, it->bucket_id);
		if ((r = db_step(st, err)) < 0)
			break;
		int64_t live = r == DB_ROW ? db_column_int64(st, 0) : -1;
		any = live == due && keyring_bucket_info(pl->ar->kr, it->bucket_id, &bi, NULL) == PV_OK &&
		      month_over(bi.label, plan->now);
	}
	db_finalize(&st);
	if (r < 0)
		return r;
	if (!any)
		return PV_OK;
	int64_t *ids = NULL;
	size_t n = 0;
	if ((r = db_prepare(conn, "SELECT id FROM messages WHERE disposed_at IS NULL ORDER BY id",
			    &st, err)) < 0 ||
	    (r = db_collect_ids(&st, &ids, &n, err)) < 0)
		return r;
	for (size_t i = 0, k = 0; i < n && r == PV_OK; i++) {
		struct stored_message m;
		unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
		struct pv_error e;
		while (k < plan->n && plan->v[k].id < ids[i])
			k++;
		if (k < plan->n && plan->v[k].id == ids[i] && plan->v[k].state == DISPOSE_DUE)
			continue;
		if ((r = message_load(pl->ar->cat->conn, ids[i], &m, err)) < 0)
			break;
		if (m.wrapped_len > 0 && m.blob[0] != '\0' &&
		    keyring_unwrap(pl->ar->kr, m.bucket_id, m.blob, m.wrapped, m.wrapped_len, key, salt,
				   &e) == PV_EINTEGRITY) {
			char msg[200];
			snprintf(msg, sizeof(msg), "message %lld: bucket_id: its wrapped key does not open "
						   "under bucket %lld", (long long)m.id,
				 (long long)m.bucket_id);
			refuse_note(pl->rf, msg);
		}
		sodium_memzero(key, sizeof(key));
		sodium_memzero(salt, sizeof(salt));
		sodium_memzero(&m, sizeof(m));
	}
	free(ids);
	return r;
}

/* The signed data, checked before anything is planned. */
static int check_signed(struct archive *ar, struct evidence *ev, struct attest_policies *ap,
			struct refusal *rf, struct pv_error *err)
{
	struct policy_version_info info;
	struct pv_error e;
	/* What another writer committed and reserved, and has not signed yet
	 * (it signs after its commit, waiting for the writers' lock this
	 * plan holds), is signed here first: the plan reads a signed log. */
	int r = checkpoint_seal(ar->audit_log, ar->audit_key, NULL, err);
	if (r < 0)
		return r;
	r = evidence_load(ar->audit_log, 0, ev, refuse_note, rf, &e);
	if (r == PV_EINTEGRITY) {
		refuse_note(rf, e.msg);
		return refused(rf, err);
	}
	if (r < 0)
		return pv_fail(err, r, "%s", e.msg);
	if ((r = attest_policies_load(ar->cat->conn, ev, ap, refuse_note, rf, err)) < 0 ||
	    (r = attest_holds(ar, ev, refuse_note, rf, err)) < 0 ||
	    (r = check_rows(ar, ap, rf, err)) < 0)
		return r;
	r = policy_store_current(ar->cat->conn, &info, err);
	if (r < 0 && r != PV_ENOTFOUND)
		return r;
	if ((r == PV_ENOTFOUND ? 0 : info.version) != ap->current) {
		char msg[160];
		snprintf(msg, sizeof(msg), "policy_versions: the catalog's current version is %lld, the "
					   "audit log's %lld", r == PV_ENOTFOUND ? 0LL : (long long)info.version,
			 (long long)ap->current);
		refuse_note(rf, msg);
	}
	return rf->n > 0 ? refused(rf, err) : PV_OK;
}

int dispose_plan(struct archive *ar, int64_t now, struct dispose_plan *plan, struct pv_error *err)
{
	struct db *conn = ar->cat->conn;
	struct evidence ev = {0};
	struct attest_policies ap = {0};
	struct refusal rf = {0};
	struct hold_set hs = {0};
	struct planner pl = {.ar = ar, .plan = plan, .ap = &ap, .rf = &rf};
	struct db_stmt *st;
	int64_t *ids = NULL;
	size_t n = 0;
	int r;

	memset(plan, 0, sizeof(*plan));
	plan->now = now;
	pv_buf_init(&pl.raw, 0);
	if ((r = archive_search_backend(ar, &pl.search, err)) < 0 ||
	    (r = check_signed(ar, &ev, &ap, &rf, err)) < 0)
		goto out;
	plan->policy_version = ap.current;
	if ((pl.cur = attest_policy(&ap, ap.current)) != NULL) {
		/* Mail archived while a new version was being set was decided
		 * under the old one: decide it again before anything expires. */
		struct retention_reapply_stats rs;
		memcpy(plan->policy_sha256, pl.cur->sha256, sizeof(plan->policy_sha256));
		if ((r = retention_reapply(ar, pl.cur->p, pl.cur->version, true, NULL, &rs, err)) < 0)
			goto out;
		plan->reevaluated = rs.evaluated;
	}
	if ((r = holds_resolve(ar, now, &hs, err)) < 0)
		goto out;
	/* Messages of a run cut short are not planned again: that run's
	 * approval stands, and dispose_resume finishes it. */
	if ((r = db_query_int(conn, "SELECT count(*) FROM disposal_items i JOIN disposals d ON"
				    " d.id = i.disposal_id JOIN messages m ON m.id = i.message_id"
				    " WHERE d.state = 'intent' AND m.disposed_at IS NULL",
			      &plan->pending, err)) < 0 ||
	    (r = db_prepare(conn, "SELECT id FROM messages WHERE disposed_at IS NULL"
				  " AND expires_at IS NOT NULL AND expires_at <= ? AND id NOT IN"
				  " (SELECT i.message_id FROM disposal_items i JOIN disposals d ON"
				  " d.id = i.disposal_id WHERE d.state = 'intent') ORDER BY id",
			    &st, err)) < 0)
		goto out;
	db_bind_int64(st, 1, now);
	if ((r = db_collect_ids(&st, &ids, &n, err)) < 0)
		goto out;
	if (n > 0 && (plan->v = calloc(n, sizeof(*plan->v))) == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		struct stored_message m;
		struct dispose_item *it = &plan->v[plan->n++];
		if ((r = message_load(conn, ids[i], &m, err)) < 0)
			break;
		decide_item(&pl, &hs, &m, it);
		if (it->state == DISPOSE_DUE) {
			pv_buf_free_secret(&pl.raw);
			pv_buf_init(&pl.raw, attest_read_max(ar, &m));
			r = confirm_due(&pl, &m, it, err);
		}
		sodium_memzero(&m, sizeof(m));
	}
	if (r == PV_OK && rf.n > 0)
		r = refused(&rf, err);
	if (r < 0)
		goto out;
	/* Holds again, over the index entries rebuilt from the bytes. */
	hold_set_free(&hs);
	if ((r = holds_resolve(ar, now, &hs, err)) < 0)
		goto out;
	memcpy(plan->holds_digest, hs.digest, sizeof(plan->holds_digest));
	plan->holds_in_force = hs.n_holds;
	for (size_t i = 0; i < plan->n; i++) {
		struct dispose_item *it = &plan->v[i];
		const char *holds[1];
		size_t nh = hold_set_lookup(&hs, it->id, holds, 1);
		if (it->state == DISPOSE_DUE && nh > 0) {
			snprintf(it->why, sizeof(it->why), "held by matter %.120s%s", holds[0],
				 nh > 1 ? " and more" : "");
			it->state = DISPOSE_HELD;
			free(it->just);
			it->just = NULL;
		}
	}
	if ((r = check_bucket_binding(&pl, err)) == PV_OK && rf.n > 0)
		r = refused(&rf, err);
	for (size_t i = 0; i < plan->n && r == PV_OK; i++) {
		struct dispose_item *it = &plan->v[i];
		plan->due += it->state == DISPOSE_DUE;
		plan->held += it->state == DISPOSE_HELD;
		plan->review += it->state == DISPOSE_REVIEW;
		plan->blocked += it->state == DISPOSE_BLOCKED;
		plan->missing += it->missing;
	}
out:
	pv_buf_free_secret(&pl.raw);
	free(ids);
	attest_policies_free(&ap);
	evidence_free(&ev);
	hold_set_free(&hs);
	if (r < 0)
		dispose_plan_free(plan);
	return r;
}

void dispose_plan_free(struct dispose_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		free(plan->v[i].just);
	free(plan->v);
	plan->v = NULL;
	plan->n = 0;
}

/* ---- the run ---------------------------------------------------------- */

/* Runs sql with its n_params (1 or 2) parameters a, b. PostgreSQL
 * refuses a parameter the statement does not take, so the count is
 * the caller's. */
static int exec_id(struct db *db, const char *sql, int n_params, int64_t a, int64_t b,
		   struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, sql, &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, a);
	if (n_params > 1)
		db_bind_int64(st, 2, b);
	r = db_step(st, err);
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

/* The one integer sql (one id parameter) selects; *v_r untouched when no row. */
static int query_id(struct db *db, const char *sql, int64_t id, int64_t *v_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, sql, &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, id);
	if ((r = db_step(st, err)) == DB_ROW)
		*v_r = db_column_int64(st, 0);
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

/* Destroys the keys of buckets that hold nothing that outlives this
 * disposal, once their month is over. */
static int destroy_buckets(struct archive *ar, int64_t disposal_id, int64_t now,
			   int64_t *destroyed_r, struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct db_stmt *st;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	/* Under the catalog's write lock: a policy set re-wrapping a key into
	 * one of these buckets waits, then sees it destroyed and takes a
	 * successor (retention_bucket). */
	int r = db_begin(db, err);
	if (r < 0 || (r = db_prepare(db,
				"SELECT b.id, b.expiry_month FROM buckets b WHERE b.destroyed_at IS NULL"
				" AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.bucket_id = b.id"
				"  AND m.disposed_at IS NULL AND m.id NOT IN"
				"  (SELECT message_id FROM disposal_items WHERE disposal_id = ?))",
				&st, err)) < 0)
		goto out;
	db_bind_int64(st, 1, disposal_id);
	int rc;
	while ((rc = db_step(st, err)) == DB_ROW) {
		/* The month as the keyring made the key for it, not the catalog's copy. */
		struct keyring_bucket_info bi;
		if (keyring_bucket_info(ar->kr, db_column_int64(st, 0), &bi, NULL) < 0 ||
		    !month_over(bi.label, now))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			int64_t *v = realloc(ids, cap * sizeof(*v));
			if (v == NULL) {
				r = pv_fail(err, PV_ERR, "out of memory");
				break;
			}
			ids = v;
		}
		ids[n++] = db_column_int64(st, 0);
	}
	db_finalize(&st);
	if (r == PV_OK && rc < 0)
		r = rc;
	/* A crash after a key is destroyed but before the commit leaves the
	 * bucket unmarked: the resumed run destroys it again (idempotent). */
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		if ((r = keyring_destroy_bucket(ar->kr, ids[i], err)) < 0 ||
		    (r = exec_id(db, "UPDATE buckets SET destroyed_at = ? WHERE id = ?", 2, now, ids[i],
				 err)) < 0)
			break;
		r = exec_id(db, "UPDATE disposal_items SET bucket_destroyed = 1 WHERE disposal_id = ?"
				" AND message_id IN (SELECT id FROM messages WHERE bucket_id = ?)",
			    2, disposal_id, ids[i], err);
	}
	if (r == PV_OK)
		r = db_commit(db, err);
out:
	if (r < 0)
		db_rollback(db);
	free(ids);
	*destroyed_r = (int64_t)n;
	return r;
}

struct done_item {
	int64_t id, policy_version, expires_at;
	char rule[128];
	char blob[BLOB_ID_LEN + 1];
};

static int load_items(struct db *db, int64_t disposal_id, struct done_item **v_r, size_t *n_r,
		      struct pv_error *err)
{
	struct db_stmt *st;
	struct done_item *v = NULL;
	size_t n = 0, cap = 0;
	int rc;
	int r = db_prepare(db, "SELECT i.message_id, i.policy_version, i.expires_at, i.rule, m.blob"
				    " FROM disposal_items i JOIN messages m ON m.id = i.message_id"
				    " WHERE i.disposal_id = ? AND m.disposed_at IS NULL"
				    " ORDER BY i.message_id", &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, disposal_id);
	while (r == PV_OK && (rc = db_step(st, err)) == DB_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			struct done_item *p = realloc(v, cap * sizeof(*p));
			if (p == NULL) {
				r = pv_fail(err, PV_ERR, "out of memory");
				break;
			}
			v = p;
		}
		struct done_item *d = &v[n++];
		memset(d, 0, sizeof(*d));
		d->id = db_column_int64(st, 0);
		d->policy_version = db_column_int64(st, 1);
		d->expires_at = db_column_int64(st, 2);
		snprintf(d->rule, sizeof(d->rule), "%s", db_column_text(st, 3));
		if (!db_column_is_null(st, 4))
			snprintf(d->blob, sizeof(d->blob), "%s", db_column_text(st, 4));
	}
	db_finalize(&st);
	if (r == PV_OK && rc < 0)
		r = rc;
	if (r < 0) {
		free(v);
		return r;
	}
	*v_r = v;
	*n_r = n;
	return PV_OK;
}

/* Done: disposal time and no blob on each row, one tombstone leaf each,
 * a signed checkpoint, index entries removed, the run marked done — one
 * transaction. */
static int record_done(struct archive *ar, int64_t disposal_id, const struct done_item *v, size_t n,
		       int64_t now, int64_t buckets, int64_t spared, const char *actor,
		       struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct pv_buf *leaves = calloc(n ? n : 1, sizeof(*leaves));
	struct tlog_entry *entries = calloc(n ? n : 1, sizeof(*entries));
	struct search_backend *sb = NULL;
	uint64_t first = 0;
	int r = archive_search_backend(ar, &sb, err);

	if (r < 0 || leaves == NULL || entries == NULL) {
		free(leaves);
		free(entries);
		return r < 0 ? r : pv_fail(err, PV_ERR, "out of memory");
	}
	/* The index entries go in the same transaction as the rows, on
	 * either engine (the backend is on the catalog's connection). */
	if ((r = db_begin(db, err)) < 0)
		goto out;
	/* Two processes may finish one run (an approval's, and a proposal
	 * resuming it meanwhile): under the writers' lock, only the first
	 * records it done; the other's work was the same and idempotent. */
	int64_t open_intent = 0;
	r = query_id(db, "SELECT count(*) FROM disposals WHERE id = ? AND state = 'intent'",
		     disposal_id, &open_intent, err);
	if (r == PV_OK && open_intent == 0) {
		db_rollback(db);
		goto out;
	}
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		struct archive_leaf l = {.kind = LEAF_TOMBSTONE, .seq = v[i].id, .time = now,
					 .policy = v[i].policy_version};
		justify_tombstone_reason(v[i].expires_at, v[i].rule, l.reason, sizeof(l.reason));
		pv_buf_init(&leaves[i], LEAF_MAX);
		if ((r = archive_leaf_format(&l, &leaves[i], err)) < 0)
			break;
		entries[i].data = leaves[i].data;
		entries[i].len = leaves[i].len;
		if ((r = exec_id(db, "UPDATE messages SET disposed_at = ?, blob = NULL,"
				     " wrapped_key = NULL WHERE id = ?", 2, now, v[i].id, err)) < 0 ||
		    (r = search_backend_remove(sb, v[i].id, err)) < 0)
			break;
	}
	for (size_t i = 0; i < n && r == PV_OK; i += PV_TLOG_APPEND_MAX) {
		size_t k = n - i < PV_TLOG_APPEND_MAX ? n - i : PV_TLOG_APPEND_MAX;
		uint64_t f;
		if ((r = tlog_append(ar->archive_log, entries + i, k, &f, err)) == PV_OK && i == 0)
			first = f;
	}
	for (size_t i = 0; i < n && r == PV_OK; i++)
		r = exec_id(db, "UPDATE disposal_items SET tombstone_index = ? WHERE message_id = ?",
			    2, (int64_t)(first + i), v[i].id, err);
	char tomb[48] = "none"; /* every message spared */
	if (n > 0)
		snprintf(tomb, sizeof(tomb), "%llu-%llu", (unsigned long long)first,
			 (unsigned long long)(first + n - 1));
	if (r == PV_OK)
		r = archive_auditf(ar, actor, AUDIT_DISPOSE_DONE, "ok", NULL, err,
				   "disposal=%lld messages=%zu tombstones=%s buckets-destroyed=%lld"
				   " spared=%lld", (long long)disposal_id, n, tomb, (long long)buckets,
				   (long long)spared);
	if (r == PV_OK) {
		struct db_stmt *st;
		if ((r = db_prepare(db, "UPDATE disposals SET state = 'done', done_at = ?,"
					" buckets_destroyed = buckets_destroyed + ? WHERE id = ?",
				    &st, err)) == PV_OK) {
			db_bind_int64(st, 1, now);
			db_bind_int64(st, 2, buckets);
			db_bind_int64(st, 3, disposal_id);
			if ((r = db_step(st, err)) > 0)
				r = PV_OK;
			db_finalize(&st);
		}
	}
	if (r == PV_OK)
		r = archive_sign_checkpoint(ar, ar->archive_log, err);
	if (r == PV_OK)
		r = db_commit(db, err);
	else
		db_rollback(db);
out:
	for (size_t i = 0; i < n; i++)
		pv_buf_free(&leaves[i]);
	free(leaves);
	free(entries);
	return r;
}

/* Leaves no copy in a file: FTS segments merged (the removed text's old
 * segments freed and, with secure_delete, zeroed), WAL copied back and
 * truncated (it holds old page images: wrapped keys, indexed text). */
static int scrub_files(struct archive *ar, struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct search_backend *sb;
	struct pv_error e;
	/* SQLite's files only: PostgreSQL has neither FTS5 segments nor this
	 * WAL (its own WAL and vacuum are the server's). */
	if (db_kind(db) != DB_SQLITE)
		return PV_OK;
	int r = archive_search_backend(ar, &sb, err);
	if (r == PV_OK)
		r = search_backend_purge(sb, err);
	if (r < 0)
		return r;
	for (int attempt = 0; attempt < 50; attempt++) {
		struct db_stmt *st;
		if ((r = db_prepare(db, "PRAGMA wal_checkpoint(TRUNCATE)", &st, err)) < 0)
			return r;
		int busy = db_step(st, &e) == DB_ROW ? (int)db_column_int64(st, 0) : 1;
		db_finalize(&st);
		if (!busy)
			return PV_OK;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	pv_log(PV_LOG_WARN, "dispose.wal",
	       "the catalog WAL could not be truncated (another process is reading); old page images "
	       "stay in catalog.db-wal until the next checkpoint");
	return PV_OK;
}

/* A message of the run that must not be destroyed after all: */
struct spared {
	int64_t id;
	int64_t hold; /* the hold in force that covers it, or 0: */
	int64_t policy; /* the version in force, not the intent's */
};

/* The run's messages whose key is still there and that are spared now:
 * covered by a hold in force, or every one of them when a policy version
 * other than the intent's is in force (the next plan decides them under
 * it). *v_r malloc'ed. */
static int find_spared(struct db *db, int64_t disposal_id, struct spared **v_r, size_t *n_r,
		       struct pv_error *err)
{
	struct policy_version_info cur = {0};
	struct db_stmt *st;
	struct spared *v = NULL;
	size_t n = 0, cap = 0;
	int64_t intent_policy = -1;
	int rc, r = policy_store_current(db, &cur, err);
	*v_r = NULL;
	*n_r = 0;
	if (r == PV_ENOTFOUND)
		r = PV_OK;
	if (r < 0 || (r = query_id(db, "SELECT policy_version FROM disposals WHERE id = ?",
				   disposal_id, &intent_policy, err)) < 0 ||
	    (r = db_prepare(db, "SELECT i.message_id, (SELECT min(hm.hold_id) FROM hold_members hm"
				" JOIN holds h ON h.id = hm.hold_id WHERE hm.message_id = i.message_id"
				" AND h.released_at IS NULL) FROM disposal_items i JOIN messages m ON"
				" m.id = i.message_id WHERE i.disposal_id = ? AND m.disposed_at IS NULL"
				" AND m.wrapped_key IS NOT NULL ORDER BY i.message_id", &st, err)) < 0)
		return r;
	db_bind_int64(st, 1, disposal_id);
	while ((rc = db_step(st, err)) == DB_ROW) {
		int64_t hold = db_column_is_null(st, 1) ? 0 : db_column_int64(st, 1);
		if (hold == 0 && cur.version == intent_policy)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			struct spared *p = realloc(v, cap * sizeof(*p));
			if (p == NULL) {
				rc = pv_fail(err, PV_ERR, "out of memory");
				break;
			}
			v = p;
		}
		v[n++] = (struct spared){db_column_int64(st, 0), hold, cur.version};
	}
	db_finalize(&st);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*v_r = v;
	*n_r = n;
	return PV_OK;
}

/* Between the intent and the destruction a hold may have been placed or
 * a policy set (a run cut short and finished later, or one that raced
 * them): in one transaction under the writers' lock, which hold add and
 * policy set take too, the spared messages leave the run (a
 * disposal-spared audit entry each) and every other one's wrapped key is
 * destroyed (secure_delete overwrites it). A key gone already, by a run
 * cut short after this step, is past sparing. */
static int spare_then_shred(struct archive *ar, int64_t disposal_id, const char *actor,
			    int64_t *spared_r, struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct spared *v = NULL;
	struct audit_event *evs = NULL;
	char (*objs)[AUDIT_OBJECT_MAX + 1] = NULL;
	size_t n = 0, nb = 0;
	int r = db_begin(db, err);
	*spared_r = 0;
	if (r < 0)
		return r;
	if ((r = find_spared(db, disposal_id, &v, &n, err)) < 0)
		goto out;
	if (n > 0 && ((evs = calloc(PV_DISPOSE_AUDIT_BATCH, sizeof(*evs))) == NULL ||
		      (objs = calloc(PV_DISPOSE_AUDIT_BATCH, sizeof(*objs))) == NULL)) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		if (v[i].hold != 0)
			snprintf(objs[nb], sizeof(objs[nb]), "disposal=%lld message=%lld reason=held "
				 "hold=%lld", (long long)disposal_id, (long long)v[i].id,
				 (long long)v[i].hold);
		else
			snprintf(objs[nb], sizeof(objs[nb]), "disposal=%lld message=%lld reason=policy "
				 "policy=%lld", (long long)disposal_id, (long long)v[i].id,
				 (long long)v[i].policy);
		evs[nb] = (struct audit_event){actor, AUDIT_DISPOSE_SPARED, objs[nb], "ok", NULL};
		if ((r = exec_id(db, "DELETE FROM disposal_items WHERE disposal_id = ? AND message_id = ?",
				 2, disposal_id, v[i].id, err)) < 0)
			break;
		if (++nb == PV_DISPOSE_AUDIT_BATCH || i + 1 == n) {
			r = archive_audit_batch(ar, evs, nb, err);
			nb = 0;
		}
	}
	if (r == PV_OK)
		r = exec_id(db, "UPDATE messages SET wrapped_key = NULL WHERE id IN (SELECT message_id"
				" FROM disposal_items WHERE disposal_id = ?)", 1, disposal_id, 0, err);
	if (r == PV_OK)
		r = db_commit(db, err);
out:
	if (r < 0)
		db_rollback(db);
	else
		*spared_r = (int64_t)n;
	free(v);
	free(evs);
	free(objs);
	return r;
}

static int finish(struct archive *ar, int64_t disposal_id, int64_t now, const char *actor,
		  int64_t *disposed_r, int64_t *buckets_r, struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct done_item *v = NULL;
	size_t n = 0;
	int64_t buckets = 0, spared = 0;
	int r;

	/* Destroy: every wrapped key of the run not spared, the bucket keys
	 * nothing outlives, then the blob files. */
	if ((r = spare_then_shred(ar, disposal_id, actor, &spared, err)) < 0 ||
	    (r = load_items(db, disposal_id, &v, &n, err)) < 0 ||
	    (r = destroy_buckets(ar, disposal_id, now, &buckets, err)) < 0)
		goto out;
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		if (v[i].blob[0] == '\0')
			continue;
		char path[4096], *slash;
		struct stat sb;
		blob_path(ar->dir, v[i].blob, path, sizeof(path));
		if ((r = blob_remove(ar->dir, v[i].blob, err)) < 0)
			break;
		if ((slash = strrchr(path, '/')) != NULL) { /* the removal is durable */
			*slash = '\0';
			if (stat(path, &sb) == 0)
				r = pv_fsync_dir(path, err);
		}
	}
	if (r < 0)
		goto out;
	if ((r = record_done(ar, disposal_id, v, n, now, buckets, spared, actor, err)) < 0)
		goto out;
	/* Packs whose every message is now disposed of go whole; so do the
	 * export bundles kept here that hold one of them. */
	int64_t bundles;
	if ((r = dispose_remove_packs(ar, err)) < 0 ||
	    (r = archive_export_bundles_disposed(ar, actor, disposal_id, &bundles, err)) < 0)
		goto out;
	r = scrub_files(ar, err);
	*disposed_r = (int64_t)n;
	*buckets_r = buckets;
out:
	free(v);
	return r;
}

int dispose_remove_packs(struct archive *ar, struct pv_error *err)
{
	int64_t removed, kept;
	/* Hold members grew with this run, retention may have been applied
	 * again: the store's holds and locks follow first. */
	holds_sync_store(ar);
	policies_sync_store(ar);
	int r = pack_remove_unused(ar->packs, ar->cat->conn, &removed, &kept, err);
	if (r == PV_OK && kept > 0)
		pv_log(PV_LOG_WARN, "dispose.packs", "%lld pack%s of disposed mail kept: the pack "
		       "store refuses to remove %s yet (see above); nothing is lost, the next "
		       "disposal run tries again", (long long)kept, kept == 1 ? "" : "s",
		       kept == 1 ? "it" : "them");
	return r;
}

/* Only a disposal whose intent and per-message records the audit log holds
 * is finished: a row added to the catalog by hand destroys nothing. */
static int check_resumable(struct archive *ar, const int64_t *ids, size_t n, struct pv_error *err)
{
	struct evidence ev;
	struct refusal rf = {0};
	struct db_stmt *st;
	char msg[200];
	struct pv_error e;
	int r = evidence_load(ar->audit_log, 0, &ev, NULL, NULL, &e);
	if (r == PV_EINTEGRITY) {
		refuse_note(&rf, e.msg);
		return refused(&rf, err);
	}
	if (r < 0)
		return pv_fail(err, r, "%s", e.msg);
	if ((r = db_prepare(ar->cat->conn, "SELECT message_id FROM disposal_items"
					       " WHERE disposal_id = ?", &st, err)) < 0) {
		evidence_free(&ev);
		return r;
	}
	for (size_t i = 0; i < n && r >= 0; i++) {
		const struct ev_disposal *d = evidence_disposal(&ev, ids[i]);
		if (d == NULL || d->done) {
			snprintf(msg, sizeof(msg), "disposal %lld: state: the catalog has it unfinished, the "
						   "audit log %s", (long long)ids[i],
				 d == NULL ? "has no intent for it" : "records it done");
			refuse_note(&rf, msg);
			continue;
		}
		db_reset(st);
		db_bind_int64(st, 1, ids[i]);
		while ((r = db_step(st, err)) == DB_ROW) {
			int64_t mid = db_column_int64(st, 0);
			const struct ev_item *it = evidence_item(&ev, mid);
			if (it == NULL || it->disposal_id != ids[i]) {
				snprintf(msg, sizeof(msg), "disposal %lld: message %lld has no justification "
							   "in the audit log", (long long)ids[i], (long long)mid);
				refuse_note(&rf, msg);
			}
		}
	}
	db_finalize(&st);
	evidence_free(&ev);
	if (r < 0)
		return r;
	return rf.n > 0 ? refused(&rf, err) : PV_OK;
}

/* The catalog's unfinished disposals (*ids_r malloc'ed), each checked
 * against the audit log (check_resumable). */
static int unfinished(struct archive *ar, int64_t **ids_r, size_t *n_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(ar->cat->conn, "SELECT id FROM disposals WHERE state = 'intent'"
					  " ORDER BY id", &st, err);
	*ids_r = NULL;
	*n_r = 0;
	if (r < 0 || (r = db_collect_ids(&st, ids_r, n_r, err)) < 0)
		return r;
	return *n_r > 0 ? check_resumable(ar, *ids_r, *n_r, err) : PV_OK;
}

int dispose_resume(struct archive *ar, int64_t now, const char *actor, int64_t *resumed_r,
		   struct pv_error *err)
{
	int64_t *ids = NULL, d, b;
	size_t n = 0;
	*resumed_r = 0;
	/* An intent whose checkpoint was left unsigned is signed first. */
	int r = archive_seal(ar, err);
	if (r == PV_OK)
		r = unfinished(ar, &ids, &n, err);
	for (size_t i = 0; i < n && r == PV_OK; i++)
		r = finish(ar, ids[i], now, actor, &d, &b, err);
	free(ids);
	if (r == PV_OK)
		*resumed_r = (int64_t)n;
	return r;
}

/* The intent's audit entries: the summary, then one justification per
 * message, PV_DISPOSE_AUDIT_BATCH to a signed checkpoint. */
static int audit_intent(struct archive *ar, const struct dispose_plan *plan, int64_t id,
			const char *actor, struct pv_error *err)
{
	struct audit_event *evs = calloc(PV_DISPOSE_AUDIT_BATCH, sizeof(*evs));
	char (*objs)[AUDIT_OBJECT_MAX + 1] = calloc(PV_DISPOSE_AUDIT_BATCH, sizeof(*objs));
	int64_t *ids = calloc(plan->due, sizeof(*ids));
	size_t k = 0, nb = 0;
	char digest[65];
	int r = PV_OK;

	if (evs == NULL || objs == NULL || ids == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < plan->n; i++)
		if (plan->v[i].state == DISPOSE_DUE)
			ids[k++] = plan->v[i].id;
	holds_ids_digest(ids, k, digest);
	snprintf(objs[0], sizeof(objs[0]),
		 "disposal=%lld policy=%lld policy-sha256=%s messages=%zu first=%lld last=%lld"
		 " ids-sha256=%s holds=%zu holds-sha256=%s", (long long)id,
		 (long long)plan->policy_version, plan->policy_sha256, k, (long long)ids[0],
		 (long long)ids[k - 1], digest, plan->holds_in_force, plan->holds_digest);
	evs[nb++] = (struct audit_event){actor, AUDIT_DISPOSE_INTENT, objs[0], "ok", NULL};
	for (size_t i = 0; i < plan->n && r == PV_OK; i++) {
		const struct dispose_item *it = &plan->v[i];
		if (it->state != DISPOSE_DUE)
			continue;
		struct justification j = *it->just;
		j.disposal = id;
		if ((r = justify_format(&j, objs[nb], sizeof(objs[nb]), err)) < 0)
			break;
		evs[nb] = (struct audit_event){actor, AUDIT_DISPOSE_ITEM, objs[nb], "ok", NULL};
		if (++nb == PV_DISPOSE_AUDIT_BATCH) {
			r = archive_audit_batch(ar, evs, nb, err);
			nb = 0;
		}
	}
	if (r == PV_OK && nb > 0)
		r = archive_audit_batch(ar, evs, nb, err);
out:
	free(evs);
	free(objs);
	free(ids);
	return r;
}

int dispose_commit_intent(struct archive *ar, const struct dispose_plan *plan, const char *actor,
			  int64_t *id_r, struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct db_stmt *st;
	uint64_t cp_seq;
	int64_t id = 0;
	int r;

	*id_r = 0;
	if (plan->due == 0)
		return db_commit(db, err); /* hold matches and re-evaluations */
	/* Intent, in the plan's transaction: nothing can change in between. */
	if ((r = db_prepare(db, "INSERT INTO disposals (state, policy_version, intent_at,"
				" holds_digest, messages, actor) VALUES ('intent', ?, ?, ?, ?, ?)"
				" RETURNING id", &st, err)) < 0)
		goto fail;
	db_bind_int64(st, 1, plan->policy_version);
	db_bind_int64(st, 2, plan->now);
	db_bind_text(st, 3, plan->holds_digest, -1);
	db_bind_int64(st, 4, (int64_t)plan->due);
	db_bind_text(st, 5, actor, -1);
	if ((r = db_step(st, err)) == DB_ROW) {
		id = db_column_int64(st, 0);
		r = PV_OK;
	} else if (r == DB_DONE) {
		r = pv_fail(err, PV_ERR, "catalog: no id for the new disposal");
	}
	db_finalize(&st);
	if (r < 0 || (r = db_prepare(db, "INSERT INTO disposal_items (disposal_id, message_id,"
					     " policy_version, rule, expires_at) VALUES (?,?,?,?,?)",
				     &st, err)) < 0)
		goto fail;
	for (size_t i = 0; i < plan->n && r == PV_OK; i++) {
		const struct dispose_item *it = &plan->v[i];
		if (it->state != DISPOSE_DUE)
			continue;
		/* What the bytes gave, which the catalog was checked to agree with. */
		db_reset(st);
		db_bind_int64(st, 1, id);
		db_bind_int64(st, 2, it->id);
		db_bind_int64(st, 3, it->just->policy);
		db_bind_text(st, 4, it->just->rule, -1);
		db_bind_int64(st, 5, it->just->expires);
		if ((r = db_step(st, err)) > 0)
			r = PV_OK;
	}
	db_finalize(&st);
	/* Audited before anything is destroyed, in the intent's transaction. */
	if (r < 0 || (r = audit_intent(ar, plan, id, actor, err)) < 0 ||
	    (r = checkpoint_sign(ar->archive_log, archive_signer(ar, ar->archive_log), CHECKPOINT_TIME,
				 NULL, &cp_seq, err)) < 0 ||
	    (r = exec_id(db, "UPDATE disposals SET intent_checkpoint = ? WHERE id = ?",
			 2, (int64_t)cp_seq, id, err)) < 0 ||
	    (r = db_commit(db, err)) < 0)
		goto fail;
	*id_r = id;
	/* Nothing is destroyed before the intent's checkpoint is signed (the
	 * signer process signs it after the commit); an unsigned intent is
	 * finished by the next run. */
	return archive_seal(ar, err);
fail:
	db_rollback(db);
	return r;
}

int dispose_execute(struct archive *ar, const struct dispose_plan *plan, const char *actor,
		    struct dispose_result *res, struct pv_error *err)
{
	memset(res, 0, sizeof(*res));
	int r = dispose_commit_intent(ar, plan, actor, &res->disposal_id, err);
	if (r < 0 || res->disposal_id == 0)
		return r;
	return finish(ar, res->disposal_id, plan->now, actor, &res->disposed, &res->buckets_destroyed,
		      err);
}

int dispose_pending_ids(struct db *db, int64_t **ids_r, size_t *n_r, struct pv_error *err)
{
	struct db_stmt *st;
	*ids_r = NULL;
	*n_r = 0;
	int r = db_prepare(db, "SELECT i.message_id FROM disposal_items i JOIN disposals d ON"
			       " d.id = i.disposal_id WHERE d.state = 'intent' ORDER BY i.message_id",
			   &st, err);
	return r < 0 ? r : db_collect_ids(&st, ids_r, n_r, err);
}

int dispose_check_missing(const struct dispose_plan *plan, struct pv_error *err)
{
	if (plan->missing == 0)
		return PV_OK;
	return pv_fail(err, PV_EINTEGRITY,
		       "%zu expired message%s lost content without a disposal record "
		       "(unauthorised deletion?): not disposed; run popvault verify",
		       plan->missing, plan->missing == 1 ? " has" : "s have");
}

int archive_dispose(struct archive *ar, const char *actor, bool dry_run, struct dispose_run *run,
		    struct pv_error *err)
{
	int r;

	(void)actor; /* a dry run is not audited */
	memset(run, 0, sizeof(*run));
	/* The two-person rule: a real run is proposed and approved
	 * (dispose_frozen.h, approvals.h), never started directly. */
	if (!dry_run)
		return pv_fail(err, PV_EPERM, "a disposal run takes effect only once a second person "
					      "with another role approves it: propose it");
	/* A forged unfinished run is refused already when planning, not only
	 * when an approved run would resume it. */
	int64_t *ids = NULL;
	size_t n = 0;
	r = unfinished(ar, &ids, &n, err);
	free(ids);
	if (r < 0)
		return r;
	if ((r = indexer_catch_up(ar, NULL, NULL, err)) < 0 || (r = db_begin(ar->cat->conn, err)) < 0)
		return r;
	r = dispose_plan(ar, pv_clock_now(), &run->plan, err);
	db_rollback(ar->cat->conn); /* changes nothing */
	if (r < 0)
		return r;
	run->completed = true;
	return dispose_check_missing(&run->plan, err);
}

void dispose_run_free(struct dispose_run *run)
{
	dispose_plan_free(&run->plan);
}
