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
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/holds.h"
#include "archiver/archive/indexer.h"
#include "archiver/store/leaf.h"
#include "archiver/store/message.h"
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

/* ---- the plan --------------------------------------------------------- */

/* Parsed policy versions, for the action of the rule each message is under. */
struct pcache {
	int64_t *versions;
	struct policy **p;
	size_t n;
};

static void pcache_free(struct pcache *c)
{
	for (size_t i = 0; i < c->n; i++)
		policy_free(&c->p[i]);
	free(c->versions);
	free(c->p);
}

/* The rule's action, or PV_ENOTFOUND with why filled (then the message is
 * blocked: no rule, no disposal). */
static int rule_action(sqlite3 *db, struct pcache *c, int64_t version, const char *rule,
		       enum policy_action *a_r, char *why, size_t why_n, struct pv_error *err)
{
	struct policy *p = NULL;
	struct pv_error e;
	if (version == 0) { /* the built-in retention before any policy was stored */
		if (strcmp(rule, POLICY_DEFAULT_CLASS) != 0)
			goto unknown;
		*a_r = POLICY_ACTION_DISPOSE;
		return PV_OK;
	}
	for (size_t i = 0; i < c->n && p == NULL; i++)
		if (c->versions[i] == version)
			p = c->p[i];
	if (p == NULL) {
		int r = policy_version_load(db, version, &p, NULL, &e);
		if (r < 0 && r != PV_ENOTFOUND && r != PV_EINTEGRITY)
			return pv_fail(err, r, "%s", e.msg);
		if (r < 0) {
			snprintf(why, why_n, "policy version %lld unusable: %.200s", (long long)version, e.msg);
			return PV_ENOTFOUND;
		}
		int64_t *v = realloc(c->versions, (c->n + 1) * sizeof(*v));
		if (v)
			c->versions = v;
		struct policy **pp = realloc(c->p, (c->n + 1) * sizeof(*pp));
		if (pp)
			c->p = pp;
		if (!v || !pp) {
			policy_free(&p);
			return pv_fail(err, PV_ERR, "out of memory");
		}
		c->versions[c->n] = version;
		c->p[c->n++] = p;
	}
	long i = policy_rule_find(p, rule);
	if (i < 0)
		goto unknown;
	struct policy_retention ret;
	policy_rule_retention(p, (size_t)i, &ret);
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
	char path[4096];
	struct stat st;

	if (m->blob[0] == '\0' || m->wrapped_len == 0) {
		snprintf(why, why_n, "%s is gone without a disposal record (unauthorised deletion)",
			 m->blob[0] == '\0' ? "its blob reference" : "its wrapped key");
		return false;
	}
	blob_path(ar->dir, m->blob, path, sizeof(path));
	if (stat(path, &st) != 0) {
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

static int decide_item(struct archive *ar, struct dispose_plan *plan, struct pcache *pc,
		       const struct hold_set *hs, sqlite3_stmt *indexed,
		       const struct stored_message *m, struct dispose_item *it, struct pv_error *err)
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
	it->state = DISPOSE_BLOCKED;
	int r = rule_action(ar->cat->db, pc, m->policy_version, m->class_name, &action, it->why,
			    sizeof(it->why), err);
	if (r == PV_ENOTFOUND)
		return PV_OK;
	if (r < 0)
		return r;
	size_t nh = hold_set_lookup(hs, m->id, holds, 8);
	struct policy_disposal_input in = {.forever = false, .expires_at = m->expires_at,
					   .action = action, .holds = holds,
					   .n_holds = nh < 8 ? nh : 8};
	enum policy_verdict v = policy_decide(&in, plan->now, &d);
	snprintf(it->why, sizeof(it->why), "%s%s", d.text,
		 nh > 8 ? " (and more matters)" : "");
	if (d.reason == POLICY_REASON_HELD) {
		it->state = DISPOSE_HELD;
		return PV_OK;
	}
	if (d.reason == POLICY_REASON_REVIEW) {
		it->state = DISPOSE_REVIEW;
		return PV_OK;
	}
	if (v != POLICY_VERDICT_DISPOSE) { /* cannot happen for an expired row; keep it */
		it->state = DISPOSE_BLOCKED;
		return PV_OK;
	}
	pv_clock_format_rfc3339(m->expires_at, t);
	if (plan->policy_version > 0 && m->policy_version != plan->policy_version) {
		snprintf(it->why, sizeof(it->why),
			 "expired %s under policy version %lld, but could not be re-evaluated under "
			 "version %lld (content unreadable)", t, (long long)m->policy_version,
			 (long long)plan->policy_version);
		it->missing = true;
		return PV_OK;
	}
	sqlite3_reset(indexed);
	sqlite3_bind_int64(indexed, 1, m->id);
	if (sqlite3_step(indexed) != SQLITE_ROW) {
		snprintf(it->why, sizeof(it->why), "expired %s, but not in the search index, so holds "
						   "cannot be checked", t);
		it->missing = !content_present(ar, m, it->why, sizeof(it->why));
		return PV_OK;
	}
	if (!content_present(ar, m, it->why, sizeof(it->why))) {
		it->missing = true;
		return PV_OK;
	}
	it->state = DISPOSE_DUE;
	return PV_OK;
}

int dispose_plan(struct archive *ar, int64_t now, struct dispose_plan *plan, struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	struct policy_version_info info;
	struct hold_set hs;
	struct pcache pc = {0};
	sqlite3_stmt *st, *indexed = NULL;
	int64_t *ids = NULL;
	size_t n = 0;
	int r;

	memset(plan, 0, sizeof(*plan));
	plan->now = now;
	if ((r = index_ensure_schema(db, err)) < 0)
		return r;
	r = policy_store_current(db, &info, err);
	if (r == PV_OK) {
		/* Mail archived while a new version was being set was decided
		 * under the old one: decide it again before anything expires. */
		struct policy *p;
		struct retention_reapply_stats rs;
		plan->policy_version = info.version;
		if ((r = policy_version_load(db, info.version, &p, NULL, err)) < 0)
			return r;
		r = retention_reapply(ar, p, info.version, true, NULL, &rs, err);
		policy_free(&p);
		if (r < 0)
			return r;
		plan->reevaluated = rs.evaluated;
	} else if (r != PV_ENOTFOUND) {
		return r;
	}
	if ((r = holds_resolve(ar, now, &hs, err)) < 0)
		return r;
	memcpy(plan->holds_digest, hs.digest, sizeof(plan->holds_digest));
	if ((r = catalog_prepare(db, "SELECT id FROM messages WHERE disposed_at IS NULL"
				     " AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY id",
				 &st, err)) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, now);
	if ((r = catalog_collect_ids(db, st, &ids, &n, err)) < 0 ||
	    (r = catalog_prepare(db, "SELECT 1 FROM idx_doc WHERE id = ?", &indexed, err)) < 0)
		goto out;
	if (n > 0 && (plan->v = calloc(n, sizeof(*plan->v))) == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		struct stored_message m;
		if ((r = message_load(db, ids[i], &m, err)) < 0)
			break;
		r = decide_item(ar, plan, &pc, &hs, indexed, &m, &plan->v[plan->n], err);
		sodium_memzero(&m, sizeof(m));
		if (r < 0)
			break;
		struct dispose_item *it = &plan->v[plan->n++];
		plan->due += it->state == DISPOSE_DUE;
		plan->held += it->state == DISPOSE_HELD;
		plan->review += it->state == DISPOSE_REVIEW;
		plan->blocked += it->state == DISPOSE_BLOCKED;
		plan->missing += it->missing;
	}
out:
	sqlite3_finalize(indexed);
	free(ids);
	pcache_free(&pc);
	hold_set_free(&hs);
	if (r < 0)
		dispose_plan_free(plan);
	return r;
}

void dispose_plan_free(struct dispose_plan *plan)
{
	free(plan->v);
	plan->v = NULL;
	plan->n = 0;
}

/* ---- the run ---------------------------------------------------------- */

static int exec_id(sqlite3 *db, const char *sql, int64_t a, int64_t b, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, sql, &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, a);
	if (sqlite3_bind_parameter_count(st) > 1)
		sqlite3_bind_int64(st, 2, b);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
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

/* Destroys the keys of buckets that hold nothing that outlives this
 * disposal, once their month is over. */
static int destroy_buckets(struct archive *ar, int64_t disposal_id, int64_t now,
			   int64_t *destroyed_r, struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	/* Under the catalog's write lock: a policy set re-wrapping a key into
	 * one of these buckets waits, then sees it destroyed and takes a
	 * successor (retention_bucket). */
	int r = catalog_begin(ar->cat, err);
	if (r < 0 || (r = catalog_prepare(db,
				"SELECT b.id, b.expiry_month FROM buckets b WHERE b.destroyed_at IS NULL"
				" AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.bucket_id = b.id"
				"  AND m.disposed_at IS NULL AND m.id NOT IN"
				"  (SELECT message_id FROM disposal_items WHERE disposal_id = ?))",
				&st, err)) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, disposal_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (!month_over((const char *)sqlite3_column_text(st, 1), now))
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
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	/* A crash after a key is destroyed but before the commit leaves the
	 * bucket unmarked: the resumed run destroys it again (idempotent). */
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		if ((r = keyring_destroy_bucket(ar->kr, ids[i], err)) < 0 ||
		    (r = exec_id(db, "UPDATE buckets SET destroyed_at = ? WHERE id = ?", now, ids[i],
				 err)) < 0)
			break;
		r = exec_id(db, "UPDATE disposal_items SET bucket_destroyed = 1 WHERE disposal_id = ?"
				" AND message_id IN (SELECT id FROM messages WHERE bucket_id = ?)",
			    disposal_id, ids[i], err);
	}
	if (r == PV_OK)
		r = catalog_commit(ar->cat, err);
out:
	if (r < 0)
		catalog_rollback(ar->cat);
	free(ids);
	*destroyed_r = (int64_t)n;
	return r;
}

struct done_item {
	int64_t id, policy_version, expires_at;
	char rule[128];
	char blob[BLOB_ID_LEN + 1];
};

static int load_items(sqlite3 *db, int64_t disposal_id, struct done_item **v_r, size_t *n_r,
		      struct pv_error *err)
{
	sqlite3_stmt *st;
	struct done_item *v = NULL;
	size_t n = 0, cap = 0;
	int r = catalog_prepare(db, "SELECT i.message_id, i.policy_version, i.expires_at, i.rule, m.blob"
				    " FROM disposal_items i JOIN messages m ON m.id = i.message_id"
				    " WHERE i.disposal_id = ? AND m.disposed_at IS NULL"
				    " ORDER BY i.message_id", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, disposal_id);
	while (r == PV_OK && sqlite3_step(st) == SQLITE_ROW) {
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
		d->id = sqlite3_column_int64(st, 0);
		d->policy_version = sqlite3_column_int64(st, 1);
		d->expires_at = sqlite3_column_int64(st, 2);
		snprintf(d->rule, sizeof(d->rule), "%s", (const char *)sqlite3_column_text(st, 3));
		if (sqlite3_column_type(st, 4) != SQLITE_NULL)
			snprintf(d->blob, sizeof(d->blob), "%s", (const char *)sqlite3_column_text(st, 4));
	}
	sqlite3_finalize(st);
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
		       int64_t now, int64_t buckets, const char *actor, struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	struct pv_buf *leaves = calloc(n ? n : 1, sizeof(*leaves));
	struct tlog_entry *entries = calloc(n ? n : 1, sizeof(*entries));
	uint64_t first = 0;
	int r;

	if (leaves == NULL || entries == NULL) {
		free(leaves);
		free(entries);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	if ((r = catalog_begin(ar->cat, err)) < 0)
		goto out;
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		struct archive_leaf l = {.kind = LEAF_TOMBSTONE, .seq = v[i].id, .time = now,
					 .policy = v[i].policy_version};
		char t[PV_RFC3339_LEN];
		pv_clock_format_rfc3339(v[i].expires_at, t);
		snprintf(l.reason, sizeof(l.reason), "expired %s under rule %s", t, v[i].rule);
		pv_buf_init(&leaves[i], LEAF_MAX);
		if ((r = archive_leaf_format(&l, &leaves[i], err)) < 0)
			break;
		entries[i].data = leaves[i].data;
		entries[i].len = leaves[i].len;
		if ((r = exec_id(db, "UPDATE messages SET disposed_at = ?, blob = NULL,"
				     " wrapped_key = NULL WHERE id = ?", now, v[i].id, err)) < 0 ||
		    (r = index_remove(db, v[i].id, err)) < 0)
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
			    (int64_t)(first + i), v[i].id, err);
	if (r == PV_OK)
		r = archive_auditf(ar, actor, AUDIT_DISPOSE_DONE, "ok", NULL, err,
				   "disposal=%lld messages=%zu tombstones=%llu-%llu buckets-destroyed=%lld",
				   (long long)disposal_id, n, (unsigned long long)first,
				   (unsigned long long)(n ? first + n - 1 : first), (long long)buckets);
	if (r == PV_OK) {
		sqlite3_stmt *st;
		if ((r = catalog_prepare(db, "UPDATE disposals SET state = 'done', done_at = ?,"
					     " buckets_destroyed = buckets_destroyed + ? WHERE id = ?",
					 &st, err)) == PV_OK) {
			sqlite3_bind_int64(st, 1, now);
			sqlite3_bind_int64(st, 2, buckets);
			sqlite3_bind_int64(st, 3, disposal_id);
			if (sqlite3_step(st) != SQLITE_DONE)
				r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
			sqlite3_finalize(st);
		}
	}
	if (r == PV_OK)
		r = archive_sign_checkpoint(ar, ar->archive_log, err);
	if (r == PV_OK)
		r = catalog_commit(ar->cat, err);
	else
		catalog_rollback(ar->cat);
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
	sqlite3 *db = ar->cat->db;
	int r = index_purge(db, err);
	if (r < 0)
		return r;
	for (int attempt = 0; attempt < 50; attempt++) {
		sqlite3_stmt *st;
		if ((r = catalog_prepare(db, "PRAGMA wal_checkpoint(TRUNCATE)", &st, err)) < 0)
			return r;
		int busy = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 1;
		sqlite3_finalize(st);
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

static int finish(struct archive *ar, int64_t disposal_id, int64_t now, const char *actor,
		  int64_t *disposed_r, int64_t *buckets_r, struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	struct done_item *v = NULL;
	size_t n = 0;
	int64_t buckets = 0;
	int r;

	if ((r = load_items(db, disposal_id, &v, &n, err)) < 0)
		return r;
	/* Destroy: every wrapped key of the run (secure_delete overwrites it),
	 * the bucket keys nothing outlives, then the blob files. */
	if ((r = exec_id(db, "UPDATE messages SET wrapped_key = NULL WHERE id IN (SELECT message_id"
			     " FROM disposal_items WHERE disposal_id = ?)", disposal_id, 0, err)) < 0 ||
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
	if ((r = record_done(ar, disposal_id, v, n, now, buckets, actor, err)) < 0)
		goto out;
	r = scrub_files(ar, err);
	*disposed_r = (int64_t)n;
	*buckets_r = buckets;
out:
	free(v);
	return r;
}

int dispose_resume(struct archive *ar, int64_t now, const char *actor, int64_t *resumed_r,
		   struct pv_error *err)
{
	sqlite3_stmt *st;
	int64_t *ids = NULL, d, b;
	size_t n = 0;
	int r = catalog_prepare(ar->cat->db, "SELECT id FROM disposals WHERE state = 'intent'"
					     " ORDER BY id", &st, err);
	if (r < 0 || (r = catalog_collect_ids(ar->cat->db, st, &ids, &n, err)) < 0)
		return r;
	for (size_t i = 0; i < n && r == PV_OK; i++)
		r = finish(ar, ids[i], now, actor, &d, &b, err);
	free(ids);
	*resumed_r = (int64_t)n;
	return r;
}

int dispose_execute(struct archive *ar, const struct dispose_plan *plan, const char *actor,
		    struct dispose_result *res, struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	uint64_t cp_seq;
	int64_t id = 0;
	int r;

	memset(res, 0, sizeof(*res));
	if (plan->due == 0)
		return catalog_commit(ar->cat, err); /* hold matches and re-evaluations */
	/* Intent, in the plan's transaction: nothing can change in between. */
	if ((r = catalog_prepare(db, "INSERT INTO disposals (state, policy_version, intent_at,"
				     " holds_digest, messages, actor) VALUES ('intent', ?, ?, ?, ?, ?)",
				 &st, err)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, plan->policy_version);
	sqlite3_bind_int64(st, 2, plan->now);
	sqlite3_bind_text(st, 3, plan->holds_digest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)plan->due);
	sqlite3_bind_text(st, 5, actor, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	else
		id = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	if (r < 0 || (r = catalog_prepare(db, "INSERT INTO disposal_items (disposal_id, message_id,"
						  " policy_version, rule, expires_at) VALUES (?,?,?,?,?)",
					  &st, err)) < 0)
		goto fail;
	for (size_t i = 0; i < plan->n && r == PV_OK; i++) {
		const struct dispose_item *it = &plan->v[i];
		if (it->state != DISPOSE_DUE)
			continue;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, it->id);
		sqlite3_bind_int64(st, 3, it->policy_version);
		sqlite3_bind_text(st, 4, it->rule, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, it->expires_at);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	if (r < 0)
		goto fail;
	/* Audited before anything is destroyed, in the intent's transaction. */
	int64_t *ids = malloc(plan->due * sizeof(*ids));
	size_t k = 0;
	char digest[65];
	if (ids == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < plan->n; i++)
		if (plan->v[i].state == DISPOSE_DUE)
			ids[k++] = plan->v[i].id;
	holds_ids_digest(ids, k, digest);
	r = archive_auditf(ar, actor, AUDIT_DISPOSE_INTENT, "ok", NULL, err,
			   "disposal=%lld policy=%lld messages=%zu first=%lld last=%lld ids-sha256=%s"
			   " holds-sha256=%s", (long long)id, (long long)plan->policy_version, k,
			   (long long)ids[0], (long long)ids[k - 1], digest, plan->holds_digest);
	free(ids);
	if (r < 0 ||
	    (r = checkpoint_sign(ar->archive_log, archive_signer(ar, ar->archive_log), CHECKPOINT_TIME,
				 NULL, &cp_seq, err)) < 0 ||
	    (r = exec_id(db, "UPDATE disposals SET intent_checkpoint = ? WHERE id = ?",
			 (int64_t)cp_seq, id, err)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		goto fail;
	res->disposal_id = id;
	return finish(ar, id, plan->now, actor, &res->disposed, &res->buckets_destroyed, err);
fail:
	catalog_rollback(ar->cat);
	return r;
}

int dispose_pending(sqlite3 *db, int64_t id, bool *pending_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT 1 FROM disposal_items i JOIN disposals d ON"
				    " d.id = i.disposal_id WHERE i.message_id = ? AND d.state = 'intent'",
				&st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		*pending_r = rc == SQLITE_ROW;
	else
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
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
	if ((r = indexer_catch_up(ar, NULL, NULL, err)) < 0 || (r = catalog_begin(ar->cat, err)) < 0)
		return r;
	r = dispose_plan(ar, pv_clock_now(), &run->plan, err);
	catalog_rollback(ar->cat); /* changes nothing */
	if (r < 0)
		return r;
	run->completed = true;
	return dispose_check_missing(&run->plan, err);
}

void dispose_run_free(struct dispose_run *run)
{
	dispose_plan_free(&run->plan);
}
