#include "archiver/archive/verify.h"

#include <dirent.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/attest.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/dispose.h"
#include "archiver/archive/evidence.h"
#include "archiver/archive/holds.h"
#include "archiver/archive/justify.h"
#include "archiver/archive/verify_pool.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "archiver/store/blob.h"
#include "archiver/store/keyring.h"
#include "archiver/store/policy_store.h"
#include "archiver/store/leaf.h"
#include "archiver/store/message.h"
#include "archiver/store/pack.h"
#include "archiver/store/stats.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"
#include "audit/tlog_verify.h"

/* Past this many problems, stop listing them (the count still grows). */
#define VERIFY_PRINT_MAX 200
/* Lines verify_tail holds back: as many as can be listed, of either kind. */
#define TAIL_LINES_MAX ((size_t)(2 * VERIFY_PRINT_MAX + 2) * (VERIFY_LINE_MAX + 2))

struct vctx {
	struct archive *ar;
	verify_line_fn line;
	void *line_ctx;
	struct verify_report *rep;
	bool full;
	int64_t since;                 /* the catalog snapshot's time (unix seconds) */
	uint32_t sample_ppm;           /* sample: content checked for this share of messages
					* (parts per million); 0: every message */
	int64_t notes;
	struct evidence ev;            /* what the audit log records */
	bool ev_ok;
	struct attest_policies ap;     /* stored policy versions, checked */
	bool ap_ok;
	struct verify_pool *pool;      /* content checks on worker threads */
	struct log_checks *logs;       /* run once the workers have work (run_log_checks) */
	struct verify_job *signed_lines; /* verify_signed's lines, listed after the logs' */
	struct verify_job *job;        /* the message being checked: its lines go here */
	struct message_reader *mr;
	int64_t *pending;              /* messages of unfinished disposals, ascending */
	size_t n_pending;
	struct justification *just;
	struct audit_entry *entry;
	struct db_stmt *item_of, *members;
};

/* One line to the caller: "FAIL: ..." or "note: ...". */
static void say(struct vctx *v, const char *kind, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void say(struct vctx *v, const char *kind, const char *fmt, va_list ap)
{
	char msg[VERIFY_LINE_MAX];
	int n = snprintf(msg, sizeof(msg), "%s: ", kind);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	if (v->line != NULL)
		v->line(v->line_ctx, msg);
}

/* While a message is checked, its lines wait in its job, to be reported
 * in order with what the worker finds (report_job); they count then. */
static bool capture(struct vctx *v, char kind, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static bool capture(struct vctx *v, char kind, const char *fmt, va_list ap)
{
	char msg[VERIFY_LINE_MAX];
	if (v->job == NULL)
		return false;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	verify_job_line(v->job, kind, msg);
	return true;
}

static void problem(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct vctx *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool held = capture(v, 'F', fmt, ap);
	va_end(ap);
	if (!held && v->rep->problems++ < VERIFY_PRINT_MAX) {
		va_start(ap, fmt);
		say(v, "FAIL", fmt, ap);
		va_end(ap);
	}
}

static void note(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void audit_problem(void *ctx, const char *msg)
{
	problem(ctx, "audit log: %s", msg);
}

static void note(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct vctx *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool held = capture(v, 'n', fmt, ap);
	va_end(ap);
	if (held || v->notes++ >= VERIFY_PRINT_MAX)
		return;
	va_start(ap, fmt);
	say(v, "note", fmt, ap);
	va_end(ap);
}

static int verify_log(struct vctx *v, struct tlog *t, const char *const *known, const size_t *lens,
		      size_t n_known, uint64_t *leaves_r, uint64_t *cps_r, struct pv_error *err)
{
	struct tlog_verify_report rep;
	struct pv_error e;
	memset(&rep, 0, sizeof(rep));
	int r = tlog_verify(t, NULL, known, lens, n_known, &rep, &e);
	if (r == PV_EINTEGRITY) {
		problem(v, "%s log: %s", tlog_name(t), e.msg);
		/* the summary still says how many entries are stored */
		return tlog_size(t, leaves_r, err);
	}
	if (r < 0)
		return pv_fail(err, r, "%s log: %s", tlog_name(t), e.msg);
	*leaves_r = rep.size;
	*cps_r = rep.checkpoints;
	/* Every append is committed together with a checkpoint, so a leaf no
	 * checkpoint covers means a checkpoint was removed. The signer process
	 * signs after the commit: a checkpoint it had no time to sign (its
	 * process stopped) is reserved, and signed by the next command. */
	if (rep.reserved > 0 && rep.reserved_size == rep.size)
		note(v, "%s log: entries %llu to %llu wait for their signature (checkpoint %llu "
			"was reserved by a process that stopped before the signer signed it; the "
			"next command that writes signs it)",
		     tlog_name(t), (unsigned long long)rep.latest_size, (unsigned long long)rep.size - 1,
		     (unsigned long long)rep.reserved_from);
	else if (rep.latest_size < rep.size)
		problem(v, "%s log: entries %llu to %llu are not covered by any signed checkpoint "
			   "(a checkpoint was removed)", tlog_name(t),
			(unsigned long long)rep.latest_size, (unsigned long long)rep.size - 1);
	if (rep.latest_time >= 0 && t == v->ar->audit_log)
		v->rep->latest_checkpoint_age_s = pv_clock_now() - rep.latest_time;
	if (rep.time_steps > 0) {
		char from[PV_RFC3339_LEN], to[PV_RFC3339_LEN];
		pv_clock_format_rfc3339(rep.step_from, from);
		pv_clock_format_rfc3339(rep.step_to, to);
		note(v, "%s log: the clock stepped back %llu time%s while checkpoints were signed: "
			"checkpoint %llu is dated %s, before the %s of the one before it (a clock step, "
			"not tampering; checkpoints signed now never go back)",
		     tlog_name(t), (unsigned long long)rep.time_steps, rep.time_steps == 1 ? "" : "s",
		     (unsigned long long)rep.step_seq, to, from);
	}
	return PV_OK;
}

static void vproblem(void *ctx, const char *msg)
{
	problem(ctx, "%s", msg);
}

static void anchor_say(void *ctx, bool is_problem, const char *msg)
{
	if (is_problem)
		problem(ctx, "%s", msg);
	else
		note(ctx, "%s", msg);
}

/* Both logs, the audit entries, the time-stamps and cosignatures: what
 * verify checks first (its lines come first), run by verify_catalog once
 * the workers have a full queue to check meanwhile. */
struct log_checks {
	const char **kn[2];   /* known checkpoints per log (and the signer's record) */
	size_t *kl[2], nk[2];
	bool done;
};

static void report_held(struct vctx *v, struct verify_job *j);

static int run_log_checks(struct vctx *v, struct pv_error *err)
{
	struct archive *ar = v->ar;
	struct verify_report *rep = v->rep;
	struct log_checks *lc = v->logs;
	int r;
	if (lc == NULL || lc->done)
		return PV_OK;
	lc->done = true;
	r = verify_log(v, ar->archive_log, lc->kn[0], lc->kl[0], lc->nk[0], &rep->archive_leaves,
		       &rep->archive_checkpoints, err);
	if (r == PV_OK)
		r = verify_log(v, ar->audit_log, lc->kn[1], lc->kl[1], lc->nk[1], &rep->audit_leaves,
			       &rep->audit_checkpoints, err);
	/* Audit entries, their personal data, heartbeat gaps (audit/auditlog.h). */
	if (r == PV_OK)
		r = auditlog_check(ar->audit_log, audit_problem, v, &rep->audit, err);
	/* Time-stamps and cosignatures against the logs just verified. */
	if (r == PV_OK)
		r = verify_anchors(ar, anchor_say, v, &rep->anchors, err);
	if (r < 0)
		return r;
	if (rep->audit.clock_steps > 0)
		note(v, "audit log: the clock stepped back %llu time%s (clock-step entries; the "
			"first, seq %llu: %s); checkpoint times stayed in order",
		     (unsigned long long)rep->audit.clock_steps, rep->audit.clock_steps == 1 ? "" : "s",
		     (unsigned long long)rep->audit.clock_step_seq, rep->audit.clock_step);
	if (v->signed_lines != NULL)
		report_held(v, v->signed_lines);
	return PV_OK;
}

/* The justification of disposed message id, from its disposal-item entry;
 * PV_ENOTFOUND when there is none. *time_r: when it was recorded. */
static int load_justification(struct vctx *v, int64_t id, struct justification *j,
			      const struct ev_item **item_r, int64_t *time_r, struct pv_error *err)
{
	const struct ev_item *it = v->ev_ok ? evidence_item(&v->ev, id) : NULL;
	struct pv_buf data;
	int r;
	if (it == NULL)
		return PV_ENOTFOUND;
	pv_buf_init(&data, PV_TLOG_ENTRY_MAX);
	if ((r = tlog_leaf(v->ar->audit_log, it->seq, &data, err)) == PV_OK &&
	    (r = auditlog_leaf_parse(data.data, data.len, it->seq, v->entry, err)) == PV_OK)
		r = justify_parse(v->entry->object, j, err);
	*time_r = v->entry->time;
	*item_r = it;
	pv_buf_free(&data);
	return r;
}

/* A disposed message: its disposal re-derived from the policy version's
 * stored text, its archive leaf and its disposal-item record. */
static void verify_disposed(struct vctx *v, const struct stored_message *m,
			    const struct archive_leaf *leaf)
{
	struct justification *j = v->just;
	const struct ev_item *it;
	struct pv_error e;
	int64_t at;
	char mailbox[33];

	if (!v->ev_ok)
		return;
	int r = load_justification(v, m->id, j, &it, &at, &e);
	if (r == PV_ENOTFOUND) {
		int64_t did = 0;
		const struct ev_disposal *d = NULL;
		db_reset(v->item_of);
		db_bind_int64(v->item_of, 1, m->id);
		if (db_step(v->item_of, &e) == DB_ROW)
			did = db_column_int64(v->item_of, 0);
		if ((d = evidence_disposal(&v->ev, did)) != NULL && d->policy_sha256[0] == '\0')
			note(v, "message %lld was disposed of by disposal %lld, before disposals recorded a "
				"justification per message: not re-derived", (long long)m->id,
			     (long long)did);
		else
			problem(v, "message %lld: disposed_at: disposed of, but no disposal-item in the "
				   "audit log justifies it (disposal without a record)", (long long)m->id);
		return;
	}
	if (r < 0) {
		problem(v, "message %lld: its disposal-item record: %s", (long long)m->id, e.msg);
		return;
	}
	const struct ev_disposal *d = evidence_disposal(&v->ev, j->disposal);
	const struct ev_policy *in_force = d ? evidence_policy_before(&v->ev, d->intent_seq) : NULL;
	const struct attest_policy *ap = v->ap_ok ? attest_policy(&v->ap, j->policy) : NULL;
	if (j->message != m->id || j->leaf != m->leaf_index || d == NULL || j->disposal != it->disposal_id) {
		problem(v, "message %lld: its disposal-item record (audit entry %llu) names message %lld "
			   "at leaf %lld of disposal %lld", (long long)m->id, (unsigned long long)it->seq,
			(long long)j->message, (long long)j->leaf, (long long)j->disposal);
		return;
	}
	if (in_force == NULL || in_force->version != j->policy ||
	    strcmp(in_force->sha256, j->policy_sha256) != 0 ||
	    strcmp(d->policy_sha256, j->policy_sha256) != 0) {
		problem(v, "message %lld: policy: disposed of under version %lld (%.16s...), which was "
			   "not the version in force at disposal %lld", (long long)m->id,
			(long long)j->policy, j->policy_sha256, (long long)j->disposal);
		return;
	}
	if (ap == NULL) {
		problem(v, "message %lld: policy: version %lld, which it was disposed of under, cannot "
			   "be read back (see above)", (long long)m->id, (long long)j->policy);
		return;
	}
	keyring_mailbox_id(v->ar->kr, j->account, mailbox);
	if (justify_rederive(j, leaf, mailbox, ap->p, at, &e) < 0) {
		problem(v, "message %lld: %s", (long long)m->id, e.msg);
		return;
	}
	/* No hold in force at the intent had it among its recorded members
	 * (which the intent's holds-sha256 pins: see verify_disposals). */
	db_reset(v->members);
	db_bind_int64(v->members, 1, m->id);
	db_bind_int64(v->members, 2, (int64_t)d->intent_seq);
	db_bind_int64(v->members, 3, d->intent_at);
	while ((r = db_step(v->members, &e)) == DB_ROW) {
		const struct ev_hold *h = evidence_hold(&v->ev, db_column_int64(v->members, 0));
		if (h != NULL && evidence_hold_in_force(h, d->intent_seq))
			problem(v, "message %lld: holds: hold %lld covered it when disposal %lld disposed "
				   "of it", (long long)m->id, (long long)h->id, (long long)d->id);
	}
	if (r < 0)
		problem(v, "message %lld: its hold memberships cannot be read: %s", (long long)m->id,
			e.msg);
	/* (Its disposal time is the plan's clock, a moment before the intent
	 * entry's own time: it is not compared with it.) */
	if (!d->done)
		problem(v, "message %lld: disposed_at: disposal %lld has no dispose-done record",
			(long long)m->id, (long long)d->id);
}

enum pending { NOT_PENDING, PENDING_RECORDED, PENDING_FORGED };

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Whether m belongs to an interrupted disposal, and whether the audit log
 * holds that disposal's intent with m's justification (dispose_resume
 * finishes only those). */
static enum pending pending_state(struct vctx *v, const struct stored_message *m)
{
	if (v->n_pending == 0 ||
	    bsearch(&m->id, v->pending, v->n_pending, sizeof(*v->pending), cmp_id) == NULL)
		return NOT_PENDING;
	if (!v->ev_ok)
		return PENDING_RECORDED; /* the audit log itself failed: reported already */
	const struct ev_item *it = evidence_item(&v->ev, m->id);
	const struct ev_disposal *d = it ? evidence_disposal(&v->ev, it->disposal_id) : NULL;
	int64_t did = -1;
	struct pv_error e;
	db_reset(v->item_of);
	db_bind_int64(v->item_of, 1, m->id);
	if (db_step(v->item_of, &e) == DB_ROW)
		did = db_column_int64(v->item_of, 0);
	return d != NULL && !d->done && d->id == did ? PENDING_RECORDED : PENDING_FORGED;
}

/* One catalog row against its leaf, its policy version, its bucket; then
 * its content (with --full: what the policy gives that content) is made
 * v->job's, for a worker. */
static void verify_message(struct vctx *v, const struct stored_message *m)
{
	struct archive_leaf leaf;
	struct pv_error e;

	if (attest_leaf(v->ar, m, &leaf, &e) < 0) {
		problem(v, "%s", e.msg);
		return;
	}
	if (attest_row(v->ar, v->ap_ok ? &v->ap : NULL, m, &leaf, vproblem, v) > 0 &&
	    m->disposed_at == 0 && strcmp(leaf.ct, m->blob) != 0)
		return; /* the blob is not this message's: nothing more to check */
	if (m->disposed_at != 0) {
		verify_disposed(v, m, &leaf);
		return;
	}
	switch (pending_state(v, m)) {
	case PENDING_RECORDED:
		/* A disposal whose intent is recorded was interrupted: its key or
		 * blob may be gone already; `popvault dispose` finishes it. */
		note(v, "message %lld is being disposed of (interrupted run; "
			"'popvault dispose' finishes it)", (long long)m->id);
		return;
	case PENDING_FORGED:
		problem(v, "message %lld: disposal_items: the catalog has it in an unfinished disposal "
			   "that the audit log does not record for it", (long long)m->id);
		break; /* not really being disposed of: its content must be whole */
	case NOT_PENDING:
		break;
	}
	if (m->blob[0] == '\0')
		return;
	if (v->sample_ppm != 0 && randombytes_uniform(1000000) >= v->sample_ppm)
		return; /* a sample: this one's content is not among it */
	v->rep->blobs_checked++;
	if (v->ap_ok && m->policy_version != v->ap.current && m->policy_version != 0)
		note(v, "message %lld was decided under policy version %lld; version %lld is in force "
			"(dispose re-evaluates it first)", (long long)m->id, (long long)m->policy_version,
		     (long long)v->ap.current);
	/* The content: a worker's (verify_pool.h); the key is read and the
	 * record opened here (the pack store: the catalog, the network). */
	struct verify_job *j = v->job;
	if (v->full) {
		if (attest_unwrap(v->ar, m, j->key, j->salt, &e) < 0) {
			problem(v, "%s", e.msg);
			return;
		}
		const struct attest_policy *ap = v->ap_ok ? attest_policy(&v->ap, m->policy_version)
							  : NULL;
		j->policy = ap ? ap->p : NULL;
		j->policy_version = ap ? ap->version : 0;
	}
	if (attest_open(v->ar, m, &j->src, &e) < 0) {
		sodium_memzero(j->key, sizeof(j->key));
		sodium_memzero(j->salt, sizeof(j->salt));
		problem(v, "%s", e.msg);
		return;
	}
	j->m = *m;
	j->leaf = leaf;
	j->full = v->full;
	j->content = true;
}

/* Lines held in j->lines ('F' a problem, else a note), in order. */
static void report_lines(struct vctx *v, const struct verify_job *j)
{
	for (size_t o = 0; o < j->lines.len;) {
		const char *p = (const char *)j->lines.data + o;
		if (p[0] == 'F')
			problem(v, "%s", p + 1);
		else
			note(v, "%s", p + 1);
		o += strlen(p) + 1;
	}
}

/* A job that only holds lines back (the signed checks', the tail's);
 * NULL when out of memory. */
static struct verify_job *held_job_new(void)
{
	struct verify_job *j = calloc(1, sizeof(*j));
	if (j != NULL)
		pv_buf_init(&j->lines, TAIL_LINES_MAX);
	return j;
}

static void held_job_free(struct verify_job *j)
{
	if (j == NULL)
		return;
	pv_buf_free(&j->lines);
	free(j);
}

/* The lines verify_tail held back (capture), in order; lines that did
 * not fit count as problems still. */
static void report_held(struct vctx *v, struct verify_job *j)
{
	report_lines(v, j);
	for (int64_t k = 0; k < j->lost; k++)
		problem(v, "another problem (too many to list)");
}

/* A message's lines, in order, and what its worker found. */
static void report_job(void *ctx, struct verify_job *j)
{
	struct vctx *v = ctx;
	report_lines(v, j);
	for (int64_t k = 0; k < j->lost; k++)
		problem(v, "message %lld: another problem (too many to list)", (long long)j->m.id);
	if (j->decrypted)
		v->rep->blobs_decrypted++;
}

/* Each disposal as a whole: its records complete, and the hold state it
 * recorded (holds-sha256) the one the catalog's hold records give at its
 * intent, so that "no hold covered it" stands on signed ground. */
static int verify_disposals(struct vctx *v, struct pv_error *err)
{
	int64_t *ids = calloc(v->ev.n_holds + 1, sizeof(*ids));
	int r = PV_OK;
	if (ids == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < v->ev.n_disposals && r == PV_OK; i++) {
		const struct ev_disposal *d = &v->ev.disposals[i];
		size_t n = 0;
		char digest[65];
		if (d->policy_sha256[0] == '\0')
			continue; /* recorded before justifications existed */
		if (d->items != d->messages)
			problem(v, "disposal %lld: its intent names %lld messages, the audit log justifies "
				   "%lld", (long long)d->id, (long long)d->messages, (long long)d->items);
		for (size_t h = 0; h < v->ev.n_holds; h++)
			if (evidence_hold_in_force(&v->ev.holds[h], d->intent_seq))
				ids[n++] = v->ev.holds[h].id;
		if ((r = holds_digest_at(v->ar->cat->conn, ids, n, d->intent_at, (int64_t)d->intent_seq,
					 digest, err)) < 0)
			break;
		if (d->holds >= 0 && (size_t)d->holds != n)
			problem(v, "disposal %lld: holds: its intent counted %lld holds in force, the audit "
				   "log has %zu", (long long)d->id, (long long)d->holds, n);
		else if (strcmp(digest, d->holds_sha256) != 0)
			problem(v, "disposal %lld: holds: the catalog's hold records at its intent are not "
				   "the ones it recorded (holds-sha256)", (long long)d->id);
	}
	free(ids);
	return r;
}

/* Every message leaf must have its catalog row; tombstones must name a
 * disposed message. */
struct leaf_scan {
	struct vctx *v;
	struct db_stmt *by_id;
	int64_t message_leaves, tombstones;
};

static int scan_leaf(void *ctx, uint64_t index, const void *data, size_t len)
{
	struct leaf_scan *ls = ctx;
	struct archive_leaf leaf;
	struct pv_error e;
	if (archive_leaf_parse(data, len, &leaf, &e) < 0) {
		if (len < 22 || strncmp(data, "popvault/key-rotation/", 22) != 0)
			problem(ls->v, "archive leaf %llu: %s", (unsigned long long)index, e.msg);
		return 0;
	}
	db_reset(ls->by_id);
	db_bind_int64(ls->by_id, 1, leaf.seq);
	int rc = db_step(ls->by_id, &e);
	if (rc < 0) {
		problem(ls->v, "archive leaf %llu: its catalog row cannot be read: %s",
			(unsigned long long)index, e.msg);
		return 0;
	}
	bool row = rc == DB_ROW;
	if (leaf.kind == LEAF_MESSAGE) {
		ls->message_leaves++;
		if (!row)
			problem(ls->v, "archive leaf %llu: message %lld has no catalog row (deleted "
				       "from the catalog)", (unsigned long long)index, (long long)leaf.seq);
		else if ((uint64_t)db_column_int64(ls->by_id, 0) != index)
			problem(ls->v, "archive leaf %llu: message %lld points at another leaf",
				(unsigned long long)index, (long long)leaf.seq);
	} else {
		ls->tombstones++;
		if (!row || db_column_is_null(ls->by_id, 1)) {
			problem(ls->v, "archive leaf %llu: tombstone for message %lld, which is not "
				       "marked disposed", (unsigned long long)index, (long long)leaf.seq);
			return 0;
		}
		/* The tombstone says what the disposal's justification says. */
		const struct ev_item *it;
		int64_t at;
		if (load_justification(ls->v, leaf.seq, ls->v->just, &it, &at, &e) == PV_OK &&
		    justify_check_tombstone(ls->v->just, &leaf, &e) < 0)
			problem(ls->v, "message %lld: %s (archive leaf %llu)", (long long)leaf.seq, e.msg,
				(unsigned long long)index);
	}
	return 0;
}

/* Packs: damage is a problem, an interrupted harvest's tail a note. */
static void pack_problem(void *ctx, bool harmless, const char *msg)
{
	struct vctx *v = ctx;
	if (harmless)
		note(v, "%s", msg);
	else
		problem(v, "%s", msg);
}

static int count_orphans(struct vctx *v)
{
	char path[2100]; /* ar->dir is shorter than 2048 */
	snprintf(path, sizeof(path), "%s/blobs", v->ar->dir);
	DIR *top = opendir(path);
	struct dirent *d;
	struct db_stmt *st;
	struct pv_error e;
	if (top == NULL)
		return PV_OK;
	if (db_prepare(v->ar->cat->conn, "SELECT 1 FROM messages WHERE blob = ?", &st, &e) < 0) {
		closedir(top);
		return PV_ERR;
	}
	while ((d = readdir(top)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		char sub[2400];
		snprintf(sub, sizeof(sub), "%s/%s", path, d->d_name);
		DIR *dd = opendir(sub);
		struct dirent *f;
		while (dd != NULL && (f = readdir(dd)) != NULL) {
			if (f->d_name[0] == '.')
				continue;
			db_reset(st);
			db_bind_text(st, 1, f->d_name, -1);
			if (db_step(st, &e) != DB_ROW)
				v->rep->orphan_blobs++;
		}
		if (dd)
			closedir(dd);
	}
	closedir(top);
	db_finalize(&st);
	return PV_OK;
}

/* What the audit log records about policies, holds and disposals, and the
 * catalog's policy versions and holds against it. */
static int verify_signed(struct vctx *v, struct pv_error *err)
{
	struct archive *ar = v->ar;
	struct policy_version_info info;
	struct pv_error e;
	int r;

	if ((v->just = calloc(1, sizeof(*v->just))) == NULL ||
	    (v->entry = calloc(1, sizeof(*v->entry))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if ((r = db_prepare(ar->cat->conn, "SELECT disposal_id FROM disposal_items"
					   " WHERE message_id = ?", &v->item_of, err)) < 0 ||
	    (r = db_prepare(ar->cat->conn, "SELECT hold_id FROM hold_members WHERE message_id = ?"
					   " AND (added_seq <= ? OR (added_seq IS NULL AND added_at <= ?))",
			    &v->members, err)) < 0)
		return r;
	r = evidence_load(ar->audit_log, EVIDENCE_RESERVED_OK, &v->ev, audit_problem, v, &e);
	if (r == PV_EINTEGRITY) {
		problem(v, "%s (so policies, holds and disposals cannot be checked against it)", e.msg);
		return PV_OK;
	}
	if (r < 0)
		return pv_fail(err, r, "%s", e.msg);
	v->ev_ok = true;
	if ((r = attest_policies_load(ar->cat->conn, &v->ev, &v->ap, vproblem, v, err)) < 0)
		return r;
	v->ap_ok = true;
	if ((r = attest_holds(ar, &v->ev, vproblem, v, err)) < 0)
		return r;
	r = policy_store_current(ar->cat->conn, &info, err);
	if (r < 0 && r != PV_ENOTFOUND)
		return r;
	if ((r == PV_ENOTFOUND ? 0 : info.version) != v->ap.current)
		problem(v, "policy_versions: the catalog's current version is %lld, the audit log's %lld",
			r == PV_ENOTFOUND ? 0LL : (long long)info.version, (long long)v->ap.current);
	return PV_OK;
}

static int verify_tail(struct vctx *vp, struct pv_error *err);

static int verify_catalog(struct vctx *vp, struct pv_error *err)
{
	struct archive *ar = vp->ar;
	struct verify_report *rep = vp->rep;
	struct db_stmt *st;
	int64_t total_rows = 0;
	int r;

	/* Catalog rows against leaves and blobs, the content on the pool's
	 * workers meanwhile; reported to the handle's progress callback one
	 * message at a time. */
	uint64_t total = 0, done = 0;
	if ((r = db_query_int(ar->cat->conn, "SELECT count(*) FROM messages", &total_rows, err)) < 0)
		return r;
	total = (uint64_t)total_rows;
	if ((r = dispose_pending_ids(ar->cat->conn, &vp->pending, &vp->n_pending, err)) < 0 ||
	    (r = message_reader_open(ar->cat->conn, &vp->mr, err)) < 0 ||
	    (r = verify_pool_new(ar->dir, &vp->pool, err)) < 0 ||
	    (r = db_prepare(ar->cat->conn, "SELECT id FROM messages ORDER BY id", &st, err)) < 0)
		return r;
	int64_t expect = 1;
	while ((r = db_step(st, err)) == DB_ROW) {
		struct stored_message m;
		struct pv_error e;
		int64_t id = db_column_int64(st, 0);
		/* The log checks once the workers have a full queue: until then
		 * no job is reported (their lines come after the logs'). */
		bool logs_pending = vp->logs != NULL && !vp->logs->done;
		if (logs_pending && verify_pool_full(vp->pool)) {
			if ((r = run_log_checks(vp, err)) < 0)
				break;
			logs_pending = false;
		}
		vp->job = verify_pool_next(vp->pool, logs_pending ? NULL : report_job, vp);
		vp->job->m.id = id;
		if (id != expect)
			problem(vp, "messages %lld to %lld are missing from the catalog", (long long)expect,
				(long long)id - 1);
		expect = id + 1;
		if (message_reader_load(vp->mr, id, &m, &e) < 0) {
			problem(vp, "message %lld: %s", (long long)id, e.msg);
		} else {
			rep->messages++;
			if (m.disposed_at != 0)
				rep->disposed++;
			verify_message(vp, &m);
			sodium_memzero(&m, sizeof(m));
		}
		verify_pool_submit(vp->pool, vp->job);
		vp->job = NULL;
		if (++done > total)
			total = done;
		pv_progress_report(&ar->progress, done, total);
	}
	db_finalize(&st);
	/* The rest reads only the catalog and the logs: it runs while the
	 * workers finish the jobs still queued, its lines held back and
	 * reported after theirs, in the order one thread would write them. */
	if (r >= 0)
		r = run_log_checks(vp, err); /* fewer messages than the queue holds */
	struct verify_job *tail = held_job_new();
	if (tail == NULL && r >= 0)
		r = pv_fail(err, PV_ERR, "out of memory");
	if (r >= 0) {
		vp->job = tail;
		r = verify_tail(vp, err);
		vp->job = NULL;
	}
	verify_pool_drain(vp->pool, report_job, vp);
	if (tail != NULL)
		report_held(vp, tail);
	held_job_free(tail);
	return r;
}

/* Leaves against catalog rows, blob files and packs against the catalog,
 * disposals as wholes. */
static int verify_tail(struct vctx *vp, struct pv_error *err)
{
	struct archive *ar = vp->ar;
	struct verify_report *rep = vp->rep;
	int r;

	/* Leaves against catalog rows. */
	struct leaf_scan ls = {vp, NULL, 0, 0};
	if ((r = db_prepare(ar->cat->conn, "SELECT leaf_index, disposed_at FROM messages WHERE id = ?",
			    &ls.by_id, err)) < 0)
		return r;
	r = tlog_leaf_scan(ar->archive_log, 0, scan_leaf, &ls, err);
	db_finalize(&ls.by_id);
	if (r < 0)
		return r;
	if (ls.message_leaves != rep->messages)
		problem(vp, "the archive log has %lld message leaves but the catalog %lld messages",
			(long long)ls.message_leaves, (long long)rep->messages);
	if (ls.tombstones != rep->disposed)
		problem(vp, "%lld messages are marked disposed but %lld tombstones are logged "
			    "(disposal without a record)", (long long)rep->disposed, (long long)ls.tombstones);
	if ((r = count_orphans(vp)) < 0)
		return pv_fail(err, r, "cannot list blobs");
	struct pack_scan_stats ps;
	if ((r = pack_scan(ar->dir, ar->cat->conn, vp->since, pack_problem, vp, &ps, err)) < 0)
		return r;
	/* A remote pack store: every stored pack there, whole, locked as
	 * recorded (a pack that vanished is also missing for its messages). */
	int64_t stored;
	if ((r = packstore_check(ar->packs, pack_problem, vp, &stored, err)) < 0)
		return r;
	return vp->ev_ok ? verify_disposals(vp, err) : PV_OK;
}

/* sample 0: every message's content (decrypted with full); else about
 * that many messages' content, each decrypted. */
static int verify_checks(struct archive *ar, bool full, uint32_t sample,
		      const char *const *known_notes, const size_t *known_lens, size_t n_known,
		      verify_line_fn line, void *line_ctx, struct verify_report *rep,
		      struct pv_error *err)
{
	struct vctx v = {.ar = ar, .line = line, .line_ctx = line_ctx, .rep = rep, .full = full,
			 .since = pv_clock_now() - 1};
	int r;

	if (sample != 0) {
		struct stats_counts c;
		if ((r = stats_counts(ar->cat->conn, &c, err)) < 0)
			return r;
		v.full = true;
		v.sample_ppm = c.messages <= (int64_t)sample ? 1000000
			: (uint32_t)((uint64_t)sample * 1000000 / (uint64_t)c.messages);
		if (v.sample_ppm == 0)
			v.sample_ppm = 1;
	}

	/* --full reads every record: from an object store, whole packs (one
	 * GET each) rather than a ranged GET per message. */
	ar->packs->whole_packs = full && sample == 0;
	/* and reads each once: its pages need not stay in the page cache */
	ar->packs->drop_after_read = full;
	memset(rep, 0, sizeof(*rep));
	rep->latest_checkpoint_age_s = -1;
	/* Signatures are checked with the public keys the logs record; a
	 * signing key file is only needed to sign, not to verify. */
	for (int i = 0; i < 2; i++) {
		const char *log = i == 0 ? ARCHIVE_LOG : AUDIT_LOG;
		if (ar->signer_state[i] == PV_ENOTFOUND)
			note(&v, "no signing key for the %s log here: verifying with the public keys the "
				 "logs record", log);
		else if (ar->signer_state[i] != PV_OK)
			problem(&v, "%s log: signing key: %s (swapped, or the log's key record edited)",
				log, ar->signer_why[i]);
	}
	/* Known checkpoints may belong to either log: each log takes its own. */
	const char **kn[2] = {calloc(n_known + 1, sizeof(char *)), calloc(n_known + 1, sizeof(char *))};
	size_t *kl[2] = {calloc(n_known + 1, sizeof(size_t)), calloc(n_known + 1, sizeof(size_t))};
	size_t nk[2] = {0, 0};
	struct tlog *logs[2] = {ar->archive_log, ar->audit_log};
	if (!kn[0] || !kn[1] || !kl[0] || !kl[1]) {
		for (int j = 0; j < 2; j++) {
			free(kn[j]);
			free(kl[j]);
		}
		return pv_fail(err, PV_ERR, "out of memory");
	}
	for (size_t i = 0; i < n_known; i++) {
		size_t nl = strcspn(known_notes[i], "\n");
		bool matched = false;
		for (int j = 0; j < 2; j++)
			if (strlen(tlog_origin(logs[j])) == nl &&
			    strncmp(known_notes[i], tlog_origin(logs[j]), nl) == 0) {
				kn[j][nk[j]] = known_notes[i];
				kl[j][nk[j]++] = known_lens[i];
				matched = true;
			}
		if (!matched)
			problem(&v, "checkpoint %zu given is for neither of this archive's logs", i + 1);
	}
	/* The last checkpoint the signer process signed, from its own record
	 * (keys.h keys_state): a log cut back below it, and signed again by
	 * someone holding a copy of the key, is caught here too. Where the
	 * record cannot be read (a process that has no access to the keys'
	 * directory, a copy without it) there is nothing to add. */
	struct keys_state st[2];
	char sign_dir[sizeof(ar->dir) + 16];
	archive_sign_dir(ar->dir, sign_dir, sizeof(sign_dir));
	for (int j = 0; j < 2; j++) {
		struct pv_error e;
		keys_state_init(&st[j]);
		int sr = keys_state_read(sign_dir, tlog_name(logs[j]), &st[j], &e);
		if (sr == PV_OK && st[j].note.len > 0) {
			kn[j][nk[j]] = (const char *)st[j].note.data;
			kl[j][nk[j]++] = st[j].note.len;
		} else if (sr == PV_EINTEGRITY) {
			problem(&v, "%s log: the signer's record of its last checkpoint: %s",
				tlog_name(logs[j]), e.msg);
		}
	}
	/* The logs are checked first in the report, but run once the
	 * workers have messages to check (run_log_checks); what the audit
	 * log records about policies and holds is read before the messages
	 * need it, its lines held back until the logs' are listed. */
	struct log_checks lc = {.kn = {kn[0], kn[1]}, .kl = {kl[0], kl[1]}, .nk = {nk[0], nk[1]}};
	struct verify_job *held = held_job_new();
	if (held == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
	} else {
		v.logs = &lc;
		v.job = held;
		r = verify_signed(&v, err);
		v.job = NULL;
		v.signed_lines = held;
		if (r == PV_OK)
			r = verify_catalog(&v, err);
		if (!lc.done) { /* verify_catalog stopped early: the logs still reported */
			struct pv_error e2;
			int r2 = run_log_checks(&v, r < 0 ? &e2 : err);
			if (r >= 0)
				r = r2;
		}
		v.signed_lines = NULL;
		held_job_free(held);
	}
	for (int j = 0; j < 2; j++) {
		free(kn[j]);
		free(kl[j]);
		keys_state_free(&st[j]);
	}
	verify_pool_free(&v.pool);
	message_reader_close(&v.mr);
	free(v.pending);
	free(v.just);
	free(v.entry);
	db_finalize(&v.item_of);
	db_finalize(&v.members);
	attest_policies_free(&v.ap);
	evidence_free(&v.ev);
	if (r < 0)
		return r;
	if (rep->problems > 0)
		return pv_fail(err, PV_EINTEGRITY, "%lld integrity problem%s found",
			       (long long)rep->problems, rep->problems == 1 ? "" : "s");
	return PV_OK;
}

/* The checks in one read snapshot of the catalog and both logs (one
 * database): harvests and the web go on appending meanwhile (serve
 * verifies while it runs), and a log read half before and half after an
 * append would not add up. */
static int verify_run(struct archive *ar, bool full, uint32_t sample,
		      const char *const *known_notes, const size_t *known_lens, size_t n_known,
		      verify_line_fn line, void *line_ctx, struct verify_report *rep,
		      struct pv_error *err)
{
	int r;
	memset(rep, 0, sizeof(*rep));
	if ((r = db_begin_read(ar->cat->conn, err)) < 0)
		return r;
	/* Each bucket's facts and key read once per run of its messages. */
	if ((r = keyring_memo_begin(ar->kr, err)) == PV_OK)
		r = verify_checks(ar, full, sample, known_notes, known_lens, n_known, line, line_ctx,
				  rep, err);
	keyring_memo_end(ar->kr);
	db_rollback(ar->cat->conn); /* it only read */
	return r;
}

int verify_archive(struct archive *ar, bool full, const char *const *known_notes,
		   const size_t *known_lens, size_t n_known, verify_line_fn line, void *line_ctx,
		   struct verify_report *rep, struct pv_error *err)
{
	return verify_run(ar, full, 0, known_notes, known_lens, n_known, line, line_ctx, rep, err);
}

/* The run, then its audit entry (archive_verify, archive_verify_sample). */
static int verify_recorded(struct archive *ar, const char *actor, bool full, uint32_t sample,
			   const char *const *known_notes, const size_t *known_lens,
			   size_t n_known, verify_line_fn line, void *line_ctx,
			   struct verify_summary *sum, struct pv_error *err)
{
	struct pv_error aerr;
	char sampled[48] = "";
	memset(sum, 0, sizeof(*sum));
	int r = verify_run(ar, full, sample, known_notes, known_lens, n_known, line, line_ctx,
			   &sum->rep, err);
	if (r < 0 && r != PV_EINTEGRITY)
		return r;
	sum->ran = true;
	sum->ok = r == PV_OK;
	sum->heartbeat_gap = sum->rep.latest_checkpoint_age_s > AUDITLOG_HEARTBEAT_GAP_S;
	if (sample != 0)
		snprintf(sampled, sizeof(sampled), " sample=%u decrypted=%lld", sample,
			 (long long)sum->rep.blobs_decrypted);
	/* The run and its outcome are audited (ARCHITECTURE.md §5); a copy verified
	 * elsewhere, without the signing key, cannot record it. */
	int ar_r = ar->audit_key == NULL
			   ? pv_fail(&aerr, PV_ENOTFOUND, "no usable signing key for the audit log")
			   : archive_auditf(ar, actor, AUDIT_VERIFY,
					    r == PV_OK ? "ok" : "failed: integrity problems found", NULL,
					    &aerr, "full=%s%s problems=%lld archive-size=%llu audit-size=%llu",
					    full ? "yes" : "no", sampled, (long long)sum->rep.problems,
					    (unsigned long long)sum->rep.archive_leaves,
					    (unsigned long long)sum->rep.audit_leaves);
	sum->recorded = ar_r == PV_OK;
	if (!sum->recorded) {
		snprintf(sum->record_error, sizeof(sum->record_error), "%s", aerr.msg);
		/* Without the key the result stands; a failed append is an error. */
		if (r == PV_OK && ar_r != PV_ENOTFOUND)
			r = pv_fail(err, ar_r, "%s", aerr.msg);
	}
	return r;
}

int archive_verify(struct archive *ar, const char *actor, bool full,
		   const char *const *known_notes, const size_t *known_lens, size_t n_known,
		   verify_line_fn line, void *line_ctx, struct verify_summary *sum,
		   struct pv_error *err)
{
	return verify_recorded(ar, actor, full, 0, known_notes, known_lens, n_known, line,
			       line_ctx, sum, err);
}

int archive_verify_sample(struct archive *ar, const char *actor, uint32_t sample,
			  verify_line_fn line, void *line_ctx, struct verify_summary *sum,
			  struct pv_error *err)
{
	if (sample == 0)
		return pv_fail(err, PV_EUSAGE, "a verify sample has at least one message");
	return verify_recorded(ar, actor, false, sample, NULL, NULL, 0, line, line_ctx, sum, err);
}
