/* One harvest session for one account: see harvest.h and ARCHITECTURE.md §3. */
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/harvest/harvest.h"
#include "archiver/store/ledger.h"
#include "archiver/store/message.h"
#include "archiver/harvest/connect.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/pop3/pop3.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/ingest.h"
#include "archiver/harvest/pipeline.h"
#include "archiver/store/leases.h"

/* Sessions one harvest may open in all, after a message ended one
 * (connection lost in its RETR, or retrieved but not archivable on a
 * server that expires retrieved mail). Each leaves one more message upstream, so a single
 * broken message never holds the rest of the mailbox hostage. */
#define HARVEST_SESSIONS_MAX 3
/* Under LOGIN-DELAY (RFC 2449 §6.8) that fresh session must wait; for
 * longer delays than this it is left to the next harvest. */
#define HARVEST_RETRY_WAIT_MAX_S 120
/* Harvesters on several machines may share one catalog on PostgreSQL
 * (ARCHITECTURE.md §12): an account's lease (store/leases.h) keeps them
 * from opening two sessions on one mailbox. A session's lease lasts its longest life (the
 * POP3 client's session timeout ends it sooner) plus this margin for
 * clocks that disagree, so every DELE it sends is sent under the lease. */
#define HARVEST_LEASE_MARGIN_S 120

/* A message left alone by the later sessions of one harvest: by UIDL when
 * it has its own, else by number (numbers do not move: the session it
 * broke ended without QUIT, so nothing was deleted). */
struct skip {
	uint32_t num;
	bool by_uidl;
	char uidl[PV_POP3_UIDL_MAX + 1];
};

/* Set from a signal handler: finish the chunk in hand, QUIT, stop. */
static volatile sig_atomic_t stop_requested;

void harvest_request_stop(void)
{
	stop_requested = 1;
}

/* Committed messages taken from the sealer for DELE, in order:
 * v[head..sent) are sent and await their reply, v[sent..n) wait to go. */
struct dele_queue {
	struct pipeline_dele *v;
	size_t head, sent, n, cap;
};

struct session {
	struct archive *ar;
	const struct account *a;
	const struct harvest_opts *o;
	struct harvest_summary *s;
	struct pop3_client *c;
	struct pop3_mailbox *mb;
	struct pipeline *pipe;   /* received messages on their way to the archive */
	struct dele_queue dq;    /* committed messages on their way to DELE */
	int64_t done_msgs, todo_msgs;
	/* EXPIRE n (any n, or a value that does not parse): a QUIT starts
	 * the expiry of every message this session retrieved. */
	bool expire_at_quit;
	bool has_local;          /* a local failure (disk, database) ended the session */
	struct pv_error local;
	struct skip skips[HARVEST_SESSIONS_MAX];
	size_t n_skips;
	bool broke;              /* skips[n_skips] is the message that ended this session */
	bool stopped;            /* stopped on request before the end of the list */
	bool timed;              /* ... because the session's time was 3/4 used */
	int64_t started_ms;      /* monotonic: when this session connected */
	char lease_site[LEASE_HOLDER_MAX], lease_holder[LEASE_HOLDER_MAX];
	bool leased;             /* this session holds the account's lease */
	char broke_why[PV_ERROR_MSG_MAX];
};

void harvest_summary_init(struct harvest_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->remaining = -1;
	pv_buf_init(&s->errors, 64 * 1024);
}

void harvest_summary_free(struct harvest_summary *s)
{
	pv_buf_free(&s->errors);
}

static void note(struct session *ss, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct session *ss, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pv_log(PV_LOG_WARN, "harvest.problem", "%s: %s", ss->a->name, line);
	/* The list is bounded; past its cap the counts still tell. */
	pv_buf_printf(&ss->s->errors, NULL, "%s: %s\n", ss->a->name, line);
}

/* The first local failure is what the session reports: "RETR batch
 * aborted by the caller" would hide that the disk is full. */
static void local_failure(struct session *ss, const struct pv_error *err)
{
	if (!ss->has_local) {
		ss->local = *err;
		ss->has_local = true;
	}
	note(ss, "local failure: %s", err->msg);
}

static const struct pop3_msg *find_msg(const struct pop3_mailbox *mb, uint32_t num)
{
	size_t lo = 0, hi = mb->count;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (mb->msgs[mid].num == num)
			return &mb->msgs[mid];
		if (mb->msgs[mid].num < num)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const char *msg_uidl(const struct pop3_msg *m)
{
	return m != NULL && m->has_uidl ? m->uidl : "no UIDL";
}

static void progress(struct session *ss)
{
	if (ss->o->progress && isatty(STDERR_FILENO))
		fprintf(stderr, "\rharvest %s: %lld/%lld messages", ss->a->name,
			(long long)ss->done_msgs, (long long)ss->todo_msgs);
}

/* Records the message that ended this session, for the next one to skip. */
static void mark_broken(struct session *ss, uint32_t num, const struct pop3_msg *m, const char *why)
{
	struct skip *k;
	if (ss->broke || ss->n_skips >= HARVEST_SESSIONS_MAX)
		return;
	k = &ss->skips[ss->n_skips];
	memset(k, 0, sizeof(*k));
	k->num = num;
	/* A shared UIDL does not name one message (pop3.h: uidl_dup). */
	if (m != NULL && m->has_uidl && !m->uidl_dup) {
		k->by_uidl = true;
		snprintf(k->uidl, sizeof(k->uidl), "%s", m->uidl);
	}
	snprintf(ss->broke_why, sizeof(ss->broke_why), "%s", why);
	ss->broke = true;
}

static bool skipped_here(const struct session *ss, const struct pop3_msg *m)
{
	for (size_t i = 0; i < ss->n_skips; i++) {
		const struct skip *k = &ss->skips[i];
		if (k->by_uidl ? m->has_uidl && strcmp(k->uidl, m->uidl) == 0 : k->num == m->num)
			return true;
	}
	return false;
}

/* ---- RETR callbacks: bytes go to the sealer thread (pipeline.h) ---- */

static int on_begin(void *ctx, uint32_t msgnum, const struct pop3_retr_result *res)
{
	struct session *ss = ctx;
	struct pv_error err;
	(void)res;
	if (pipeline_begin(ss->pipe, msgnum, &err) < 0) {
		local_failure(ss, &err);
		return PV_ERR;
	}
	return PV_OK;
}

static int on_data(void *ctx, uint32_t msgnum, const unsigned char *d, size_t len)
{
	struct session *ss = ctx;
	struct pv_error err;
	(void)msgnum;
	if (pipeline_data(ss->pipe, d, len, &err) < 0) {
		local_failure(ss, &err);
		return PV_ERR;
	}
	return PV_OK;
}

static int on_done(void *ctx, const struct pop3_retr_result *res, const struct pv_error *perr)
{
	struct session *ss = ctx;
	const struct pop3_msg *m = find_msg(ss->mb, res->msgnum);
	struct pv_error err;

	ss->done_msgs++;
	progress(ss);
	if (!res->complete || res->status != 0) {
		const char *why = perr ? perr->msg : "incomplete";
		pipeline_abort(ss->pipe);
		if (res->status == PV_ELIMIT)
			ss->s->skipped++;
		else
			ss->s->failed++;
		note(ss, "message %u (%s) left upstream: %s", res->msgnum, msg_uidl(m), why);
		if (!pop3_alive(ss->c)) {
			/* The connection died in this message's reply (or was
			 * dropped over the size cap): the next session goes on
			 * without it. Not when the server was too slow or the
			 * session's time ran out: that is no fault of this
			 * message, and the next harvest tries again. */
			if (!pop3_out_of_time(ss->c))
				mark_broken(ss, res->msgnum, m, why);
			return PV_OK;
		}
		if (ss->expire_at_quit && res->retrieved) {
			/* Retrieved but not archived, and the session is still
			 * usable (pop3_retr leaves none such today: over the cap
			 * it drops the connection): a QUIT on an EXPIRE server
			 * would have it deleted unarchived, at once or n days
			 * later (RFC 2449 §6.7; GNU pop3d marks it at QUIT, RSET
			 * or not). This session must end without QUIT; the next
			 * one leaves it alone (issue 16, finding 3). */
			char msg[1024];
			snprintf(msg, sizeof(msg), "message %u (%s) was retrieved but not archived "
				 "(%s) and the server expires retrieved mail after QUIT (EXPIRE): "
				 "session dropped without QUIT", res->msgnum, msg_uidl(m), why);
			mark_broken(ss, res->msgnum, m, msg);
			return PV_ELIMIT;
		}
		return PV_OK;
	}
	/* Issue 16, finding 8: fewer bytes than the server announced (LIST,
	 * or "+OK n octets"), line ends counted as CRLF as both count them:
	 * what ended the message may have been a line inside it, and what
	 * followed then read as the replies after it. Not archived, never
	 * deleted, and nothing more is trusted in this session: dropped
	 * without QUIT, the next session goes on without it. More bytes than
	 * announced is no such risk (Dovecot adds a missing final CRLF, GNU
	 * pop3d its X-UIDL: header; a server cannot cut what it sends by
	 * announcing less): archived as received. */
	uint64_t want = m != NULL ? m->size : 0;
	if (res->size_announced && res->announced_size > want)
		want = res->announced_size;
	if (res->crlf_bytes < want) {
		char msg[1024];
		pipeline_abort(ss->pipe);
		ss->s->failed++;
		snprintf(msg, sizeof(msg), "message %u (%s): %llu bytes arrived where the server "
			 "announced %llu (line ends counted as CRLF); it may have been cut short by "
			 "a line that looked like its end: not archived, left upstream, and the "
			 "session dropped without QUIT", res->msgnum, msg_uidl(m),
			 (unsigned long long)res->crlf_bytes, (unsigned long long)want);
		note(ss, "%s", msg);
		mark_broken(ss, res->msgnum, m, msg);
		return PV_EPROTO;
	}
	if (m != NULL && m->size != res->crlf_bytes)
		pv_log(PV_LOG_INFO, "harvest.size", "%s: message %u: LIST said %llu bytes, %llu received "
		       "(more than LIST said is archived as received)",
		       ss->a->name, res->msgnum, (unsigned long long)m->size,
		       (unsigned long long)res->crlf_bytes);
	/* Whole: the sealer archives it (or finds it archived already, then
	 * it is only deleted) and group-commits. */
	if (pipeline_end(ss->pipe, res->msgnum, m != NULL && m->has_uidl ? m->uidl : NULL, &err) < 0) {
		local_failure(ss, &err);
		return PV_ERR;
	}
	return PV_OK;
}

/* Takes what the sealer has committed since the last call into the DELE
 * queue. */
static int take_deletable(struct session *ss, struct pv_error *err)
{
	struct dele_queue *q = &ss->dq;
	struct pipeline_dele *v;
	size_t n = pipeline_deletable(ss->pipe, &v);
	if (n == 0)
		return PV_OK;
	if (q->head == q->n)
		q->head = q->sent = q->n = 0;
	if (q->n + n > q->cap) {
		size_t cap = q->cap ? q->cap : 64;
		while (cap < q->n + n)
			cap *= 2;
		struct pipeline_dele *nv = realloc(q->v, cap * sizeof(*nv));
		if (nv == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		q->v = nv;
		q->cap = cap;
	}
	memcpy(q->v + q->n, v, n * sizeof(*v));
	q->n += n;
	return PV_OK;
}

/* One DELE reply, for the oldest sent: +OK ones get their ledger state
 * (dele-sent) with the next commit. */
static void dele_answered(struct session *ss, uint32_t msgnum, int status)
{
	struct dele_queue *q = &ss->dq;
	if (q->head == q->sent || q->v[q->head].msgnum != msgnum)
		return; /* cannot happen: replies come in the order sent */
	struct pipeline_dele *d = &q->v[q->head++];
	d->status = status;
	if (status != 0)
		note(ss, "DELE of message %u (%s) refused; it stays archived and upstream, "
		     "and will be deleted next time", d->msgnum, d->uidl);
	pipeline_deleted(ss->pipe, d, 1);
}

/* ---- the command stream's callbacks (pop3_fetch_run) ---- */

static size_t fetch_deles(void *ctx, uint32_t *nums, size_t max)
{
	struct session *ss = ctx;
	struct dele_queue *q = &ss->dq;
	struct pv_error err;
	size_t k = 0;
	if (q->sent == q->n && take_deletable(ss, &err) < 0) {
		local_failure(ss, &err);
		return 0; /* those stay committed; the next harvest deletes them */
	}
	while (k < max && q->sent < q->n)
		nums[k++] = q->v[q->sent++].msgnum;
	return k;
}

static void fetch_dele_done(void *ctx, uint32_t msgnum, int status, const struct pv_error *err)
{
	(void)err;
	dele_answered(ctx, msgnum, status);
}

/* No new RETR once a stop is requested or 3/4 of the session's time is
 * gone (then ss->timed). */
static bool fetch_stop(void *ctx)
{
	struct session *ss = ctx;
	if (stop_requested != 0)
		return true;
	if (pv_clock_monotonic_ms() - ss->started_ms >= ss->ar->cfg.session_max_s * 750ll)
		ss->timed = true;
	return ss->timed;
}

/* DELEs, in one batch, what is committed and not DELEd yet (the end of a
 * session: the RETRs are done). */
static int send_deletes(struct session *ss, struct pv_error *err)
{
	struct dele_queue *q = &ss->dq;
	int r = take_deletable(ss, err);
	if (r < 0)
		return r;
	size_t n = q->n - q->sent;
	if (n == 0)
		return PV_OK;
	uint32_t *nums = malloc(n * sizeof(*nums));
	int *status = calloc(n, sizeof(*status));
	if (nums == NULL || status == NULL) {
		free(nums);
		free(status);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		nums[i] = q->v[q->sent + i].msgnum;
	q->sent = q->n;
	struct pv_error derr;
	pv_error_clear(&derr);
	(void)pop3_dele_many(ss->c, nums, n, status, &derr);
	if (!pop3_alive(ss->c)) {
		/* Replies were lost: rely on none of them. Dropping without QUIT
		 * rolls every DELE back; the next session reconciles. */
		r = pv_fail(err, PV_ETEMP, "connection lost during DELE: %s", derr.msg);
	} else {
		for (size_t i = 0; i < n; i++)
			dele_answered(ss, nums[i], status[i]);
	}
	free(nums);
	free(status);
	return r;
}

/* Ends the pipeline: keep commits what is whole. A failure of the sealer
 * is the session's local failure. */
static int finish_pipeline(struct session *ss, bool keep, struct pv_error *err)
{
	struct pipeline_totals t;
	int r = pipeline_finish(ss->pipe, keep, err);
	if (r < 0 && !ss->has_local)
		local_failure(ss, err);
	pipeline_totals(ss->pipe, &t);
	ss->s->fetched += t.fetched;
	ss->s->bytes += t.bytes;
	ss->s->reconciled += t.reconciled;
	return r;
}

/* ---- settling the ledger against a listing ---- */

struct settle_row {
	char uidl[LEDGER_UIDL_MAX + 1];
	unsigned char sha256[32];
	int64_t message_id;
	char state[16];
};

struct settle_rows {
	struct settle_row *v;
	size_t n, cap;
	const char *state;
	struct pv_error *err;
};

static int collect_row(void *ctx, const char *uidl, const unsigned char sha256[32], int64_t message_id)
{
	struct settle_rows *rows = ctx;
	if (strncmp(uidl, "sha256:", 7) == 0)
		return PV_OK; /* no UIDL: cannot tell without fetching; the next run will */
	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 64;
		struct settle_row *v = realloc(rows->v, cap * sizeof(*v));
		if (v == NULL)
			return pv_fail(rows->err, PV_ERR, "out of memory");
		rows->v = v;
		rows->cap = cap;
	}
	struct settle_row *row = &rows->v[rows->n++];
	snprintf(row->uidl, sizeof(row->uidl), "%s", uidl);
	memcpy(row->sha256, sha256, 32);
	row->message_id = message_id;
	snprintf(row->state, sizeof(row->state), "%s", rows->state);
	return PV_OK;
}

struct listed {
	const char *uidl;
	bool dup;
	uint64_t size;
};

static int cmp_listed(const void *a, const void *b)
{
	return strcmp(((const struct listed *)a)->uidl, ((const struct listed *)b)->uidl);
}

/* True when the archived message has that size. A listed UIDL whose size
 * differs may be another message under the same UIDL (the other half of a
 * duplicate, the rest of it over the cap): no proof of residue. When it is
 * one, the next fetch hashes it and deletes it again anyway. */
static bool same_size(struct session *ss, int64_t message_id, uint64_t size)
{
	uint64_t archived;
	return message_size(ss->ar->cat->conn, message_id, &archived, NULL) == PV_OK &&
	       archived == size;
}

/* Moves ledger entries whose UIDL is no longer listed to "gone", and those
 * a QUIT answered +OK for (in this or an earlier session) that are still
 * listed with the archived size to "residue". A UIDL that several listed
 * messages share tells nothing about which one is left: such entries wait
 * for the next fetch, which hashes the content. Rows are read first and updated afterwards:
 * SQLite does not promise a stable scan over rows being updated. */
static int settle(struct session *ss, const struct pop3_mailbox *mb, int64_t *gone_r,
		  int64_t *residue_r, struct pv_error *err)
{
	static const char *const states[] = {"committed", "dele-sent", "quit-ok", "residue"};
	struct settle_rows rows = {.err = err};
	struct ledger_stmts *ls = NULL;
	struct listed *listed = NULL;
	size_t n_listed = 0;
	int64_t now = pv_clock_now(), gone = 0, residue = 0;
	int r = PV_OK;

	if (!mb->uidl_ok)
		goto out;
	listed = malloc((mb->count + 1) * sizeof(*listed));
	if (listed == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < mb->count; i++)
		if (mb->msgs[i].has_uidl)
			listed[n_listed++] = (struct listed){mb->msgs[i].uidl, mb->msgs[i].uidl_dup,
							     mb->msgs[i].size};
	qsort(listed, n_listed, sizeof(*listed), cmp_listed);
	for (size_t i = 0; r == PV_OK && i < sizeof(states) / sizeof(states[0]); i++) {
		rows.state = states[i];
		r = ledger_each(ss->ar->cat->conn, ss->a->id, states[i], collect_row, &rows, err);
	}
	if (r < 0 || rows.n == 0)
		goto out;
	/* One statement for every row: a mailbox of thousands is settled in
	 * one go after each harvest. */
	if ((r = ledger_stmts_new(ss->ar->cat->conn, &ls, err)) < 0 ||
	    (r = catalog_begin(ss->ar->cat, err)) < 0)
		goto out;
	for (size_t i = 0; r == PV_OK && i < rows.n; i++) {
		struct settle_row *row = &rows.v[i];
		struct listed key = {.uidl = row->uidl};
		const struct listed *l = bsearch(&key, listed, n_listed, sizeof(*listed), cmp_listed);
		if (l == NULL) {
			gone++;
			r = ledger_stmts_set_state(ls, ss->a->id, row->uidl, row->sha256, "gone", now,
						   err);
		} else if (strcmp(row->state, "quit-ok") == 0 && !l->dup &&
			   same_size(ss, row->message_id, l->size)) {
			residue++;
			note(ss, "message %s was deleted (QUIT answered +OK) but is still upstream; "
			     "it will be deleted again", row->uidl);
			r = ledger_stmts_set_state(ls, ss->a->id, row->uidl, row->sha256, "residue",
						   now, err);
		}
	}
	/* Proven gone, or still there after a QUIT +OK: audited with the ledger. */
	if (r == PV_OK && gone > 0)
		r = archive_auditf(ss->ar, "system", AUDIT_UPSTREAM_DELETE_CONFIRMED, "ok", NULL, err,
				   "account=%s gone=%lld", ss->a->name, (long long)gone);
	if (r == PV_OK && residue > 0)
		r = archive_auditf(ss->ar, "system", AUDIT_UPSTREAM_RESIDUE,
				   "failed: still upstream after QUIT +OK; deleted again next time",
				   NULL, err, "account=%s count=%lld", ss->a->name, (long long)residue);
	if (r == PV_OK)
		r = catalog_commit(ss->ar->cat, err);
	else
		catalog_rollback(ss->ar->cat);
out:
	ledger_stmts_free(&ls);
	free(rows.v);
	free(listed);
	if (gone_r)
		*gone_r += gone;
	if (residue_r)
		*residue_r += residue;
	return r;
}

/* Opens a logged-in session; the secret is wiped before returning. */
static int open_session(struct session *ss, struct pop3_client **c_r, struct pv_error *err)
{
	struct pop3_config cfg;
	struct pop3_auth auth = {harvest_auth_mode(ss->a->auth), ss->a->user, NULL, NULL};
	char *secret = NULL;
	int r;

	harvest_pop3_config(ss->a, &cfg);
	/* Bounds on a slow or endless server (issue 16, finding 4). */
	cfg.io_timeout_ms = (int)ss->ar->cfg.io_timeout_s * 1000;
	cfg.session_timeout_ms = (int64_t)ss->ar->cfg.session_max_s * 1000;
	cfg.min_rate_bps = ss->ar->cfg.min_rate;
	ss->started_ms = pv_clock_monotonic_ms();
	if ((r = harvest_account_secret(ss->ar, ss->a, &secret, err)) < 0)
		return r;
	auth.secret = secret;
	r = pop3_open(&cfg, &auth, c_r, err);
	pv_secret_free(&secret);
	if (r == PV_OK) {
		const struct pop3_caps *caps = pop3_caps(*c_r);
		if (caps->login_delay && caps->login_delay_s > ss->s->login_delay_s)
			ss->s->login_delay_s = caps->login_delay_s;
	}
	return r;
}

/* The fetch list: every listed message but those over the size cap, those
 * an earlier session of this harvest could not get and, for accounts that
 * keep mail upstream, those already archived. */
static int plan_fetch(struct session *ss, uint32_t **nums_r, size_t *n_r, struct pv_error *err)
{
	uint32_t *nums = malloc((ss->mb->count + 1) * sizeof(*nums));
	size_t n = 0;
	if (nums == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < ss->mb->count; i++) {
		const struct pop3_msg *m = &ss->mb->msgs[i];
		if (skipped_here(ss, m))
			continue; /* counted and reported when it broke a session */
		if (m->size > ss->ar->cfg.message_max) {
			/* Counted and reported once, not again by each fresh
			 * session after a broken one. */
			if (ss->n_skips == 0) {
				ss->s->skipped++;
				note(ss, "message %u (%s) is %llu bytes, over the %llu-byte cap; "
				     "left upstream", m->num, msg_uidl(m), (unsigned long long)m->size,
				     (unsigned long long)ss->ar->cfg.message_max);
			}
			continue;
		}
		if (ss->a->keep_upstream && m->has_uidl && !m->uidl_dup) {
			bool known;
			int r = ledger_uidl_known(ss->ar->cat->conn, ss->a->id, m->uidl, m->size, &known, err);
			if (r < 0) {
				free(nums);
				return r;
			}
			if (known)
				continue;
		}
		nums[n++] = m->num;
	}
	*nums_r = nums;
	*n_r = n;
	return PV_OK;
}

/* Retrieves nums[0..n) in one pipelined command stream while the sealer
 * archives and group-commits what arrived; the DELEs of what is committed
 * go into the same stream. At the end: the rest committed, DELEd, its
 * ledger states written. */
static int fetch_all(struct session *ss, const uint32_t *nums, size_t n, struct pv_error *err)
{
	struct pop3_retr_handler h = {on_begin, on_data, on_done, ss};
	uint64_t *sizes = malloc((n + 1) * sizeof(*sizes));
	struct pv_error ferr;
	size_t sent = 0;
	uint32_t awaited = 0;
	int r;

	if (sizes == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct pop3_msg *m = find_msg(ss->mb, nums[i]);
		sizes[i] = m != NULL ? m->size : 0;
	}
	if ((r = pipeline_start(ss->ar, ss->a, &ss->pipe, err)) < 0) {
		local_failure(ss, err);
		free(sizes);
		return r;
	}
	struct pop3_fetch f = {.msgnums = nums, .sizes = sizes, .n = n,
			       .max_bytes = ss->ar->cfg.message_max, .h = &h,
			       .deles = fetch_deles, .dele_done = fetch_dele_done,
			       .stop = fetch_stop, .ctx = ss};
	r = pop3_fetch_run(ss->c, &f, &sent, &awaited, err);
	free(sizes);
	if (r < 0) {
		/* The connection died between replies (e.g. sending the next
		 * pipelined commands hit a reset): the message whose reply was
		 * awaited is the one to skip next time. */
		if (!ss->broke && !ss->has_local && !pop3_alive(ss->c) &&
		    !pop3_out_of_time(ss->c) && awaited != 0) {
			const struct pop3_msg *m = find_msg(ss->mb, awaited);
			ss->s->failed++;
			note(ss, "message %u (%s) left upstream: the connection was lost "
			     "while its reply was awaited (%s)", awaited, msg_uidl(m), err->msg);
			mark_broken(ss, awaited, m, err->msg);
		}
		pipeline_abort(ss->pipe);
		finish_pipeline(ss, false, &ferr);
		return r;
	}
	if (ss->has_local) {
		finish_pipeline(ss, false, &ferr);
		return pv_fail(err, ss->local.code, "%s", ss->local.msg);
	}
	if (sent < n && ss->timed) {
		/* 3/4 of the session's time was gone: no new RETR, so the last
		 * DELEs and the QUIT fit before it is cut (issue 16, finding 4). */
		ss->stopped = true;
		note(ss, "session time limit ([harvest] session_max = %u s): %zu of %zu "
		     "messages left for the next harvest", ss->ar->cfg.session_max_s, n - sent, n);
	} else if (sent < n) {
		/* What is received is committed and DELEd, then QUIT. */
		ss->stopped = true;
		note(ss, "stopped on request: %zu of %zu messages left for the next harvest",
		     n - sent, n);
	}
	if ((r = finish_pipeline(ss, true, err)) < 0 || (r = send_deletes(ss, err)) < 0)
		return r;
	if ((r = pipeline_flush(ss->pipe, err)) < 0)
		local_failure(ss, err);
	return r;
}

/* After QUIT: a fresh session's UIDL list must not show what was deleted
 * (+OK to DELE and QUIT is no proof, ARCHITECTURE.md §3.6). Not being able to
 * look now is no failure of the harvest: the next one settles it. */
static void check_gone(struct session *ss, int64_t moved)
{
	const struct pop3_caps *caps = pop3_caps(ss->c);
	uint32_t login_delay = caps->login_delay ? caps->login_delay_s : 0;
	struct pv_error err;
	int64_t gone = 0, listed = ss->s->listed;
	bool uidl_ok = ss->mb->uidl_ok;
	int r;

	/* Unchecked, the best guess: what the server acknowledged. */
	ss->s->deleted = moved;
	ss->s->remaining = listed - moved;
	pop3_client_free(&ss->c);
	if (moved == 0)
		return; /* nothing was deleted: nothing to prove */
	if (!uidl_ok) {
		pv_log(PV_LOG_INFO, "harvest.check", "%s: the server has no UIDL: deletions cannot "
		       "be checked by name", ss->a->name);
		return;
	}
	/* LOGIN-DELAY (RFC 2449 §6.8): a second login now would be refused,
	 * and may restart the server's clock. */
	if (login_delay > 0) {
		pv_log(PV_LOG_INFO, "harvest.check", "%s: LOGIN-DELAY %u: deletions are checked "
		       "at the next harvest", ss->a->name, login_delay);
		return;
	}
	pop3_mailbox_free(&ss->mb);
	pv_error_clear(&err);
	if ((r = open_session(ss, &ss->c, &err)) < 0 || (r = pop3_scan(ss->c, &ss->mb, &err)) < 0) {
		note(ss, "could not check that deleted mail is gone (%s); the next harvest will",
		     err.msg);
		return;
	}
	ss->s->remaining = (int64_t)ss->mb->count;
	if ((r = settle(ss, ss->mb, &gone, &ss->s->residue, &err)) < 0) {
		local_failure(ss, &err);
		return;
	}
	ss->s->deleted = gone;
	ss->s->verified_gone = ss->mb->uidl_ok;
	/* Nothing was retrieved or marked in this session: its QUIT changes nothing. */
	if (pop3_quit(ss->c, NULL) != 0)
		pv_log(PV_LOG_INFO, "harvest.quit", "%s: the checking session ended without +OK",
		       ss->a->name);
}

/* Before connecting: the account's lease, or PV_ETEMP naming the
 * harvester that holds it. */
static int take_lease(struct session *ss, struct pv_error *err)
{
	/* A SQLite catalog is no other machine's, and the data directory's
	 * harvest lock keeps its own processes apart: no lease there (one
	 * would also travel into a backup and hold up the restored copy). */
	if (db_kind(ss->ar->cat->conn) != DB_POSTGRES)
		return PV_OK;
	int64_t now = pv_clock_now();
	int64_t until = now + (int64_t)ss->ar->cfg.session_max_s + HARVEST_LEASE_MARGIN_S;
	int r = lease_take(ss->ar->cat->conn, ss->a->id, ss->lease_site, ss->lease_holder, now, until,
			   NULL, NULL, err);
	ss->leased = r == PV_OK;
	return r;
}

static void release_lease(struct session *ss)
{
	struct pv_error err;
	if (ss->leased && lease_release(ss->ar->cat->conn, ss->a->id, ss->lease_holder, &err) < 0)
		pv_log(PV_LOG_WARN, "harvest.lease", "%s: the lease was not given back (%s); it "
		       "runs out by itself", ss->a->name, err.msg);
	ss->leased = false;
}

static int run(struct session *ss, struct pv_error *err)
{
	uint32_t *nums = NULL;
	size_t n = 0;
	int r;

	if ((r = take_lease(ss, err)) < 0)
		return r;
	if ((r = open_session(ss, &ss->c, err)) < 0)
		return r;
	const struct pop3_caps *caps = pop3_caps(ss->c);
	/* RFC 2449 §6.7: EXPIRE n deletes every retrieved message n days
	 * after QUIT (0: at QUIT). */
	ss->expire_at_quit = pop3_caps_expire_at_quit(caps);
	if ((r = pop3_scan(ss->c, &ss->mb, err)) < 0)
		return r;
	ss->s->listed = (int64_t)ss->mb->count;
	if (ss->mb->uidl_dups > 0)
		pv_log(PV_LOG_INFO, "harvest.uidl", "%s: %zu messages share a UIDL; each is fetched "
		       "and told apart by its content", ss->a->name, ss->mb->uidl_dups);
	/* Whatever an earlier session deleted and is no longer listed is gone. */
	if ((r = settle(ss, ss->mb, NULL, &ss->s->residue, err)) < 0) {
		local_failure(ss, err);
		return r;
	}
	if ((r = plan_fetch(ss, &nums, &n, err)) < 0)
		goto out;
	ss->todo_msgs = (int64_t)n;
	ss->done_msgs = 0;
	r = fetch_all(ss, nums, n, err);
	if (ss->o->progress && isatty(STDERR_FILENO) && n > 0)
		fputc('\n', stderr);
	if (r < 0)
		goto out;

	if (ss->a->keep_upstream) {
		/* Any finite EXPIRE starts counting for what a QUIT marks
		 * retrieved (RFC 2449 §6.7); without QUIT nothing is. */
		if (pop3_caps_expire_at_quit(caps))
			pop3_drop(ss->c);
		else if (pop3_quit(ss->c, NULL) != 0)
			pv_log(PV_LOG_INFO, "harvest.quit", "%s: QUIT not acknowledged; nothing was "
			       "marked for deletion", ss->a->name);
		ss->s->remaining = (int64_t)ss->mb->count;
		goto out;
	}
	struct pv_error qerr;
	pv_error_clear(&qerr);
	if (pop3_quit(ss->c, &qerr) != 0) {
		r = pv_fail(err, PV_ETEMP, "QUIT was not acknowledged (%s): deletions are not "
			    "confirmed and will be checked next time", qerr.msg);
		goto out;
	}
	int64_t moved = 0;
	if ((r = ledger_move_all(ss->ar->cat->conn, ss->a->id, "dele-sent", "quit-ok", pv_clock_now(),
				 &moved, err)) < 0) {
		local_failure(ss, err);
		goto out;
	}
	check_gone(ss, moved);
	if (ss->has_local)
		r = pv_fail(err, ss->local.code, "%s", ss->local.msg);
	else if (ss->stopped)
		r = pv_fail(err, PV_ETEMP, "%s; what was archived before is deleted upstream, "
			    "the rest stays there for the next harvest",
			    ss->timed ? "session time limit reached" : "stopped on request");
out:
	free(nums);
	return r;
}

/* Ends a session's connection (no QUIT: see harvest.h) and its state. */
static void end_session(struct session *ss)
{
	pipeline_free(&ss->pipe); /* forgets what is not committed */
	free(ss->dq.v);
	memset(&ss->dq, 0, sizeof(ss->dq));
	pop3_client_free(&ss->c);
	pop3_mailbox_free(&ss->mb);
}

int harvest_account(struct archive *ar, const struct account *a, const struct harvest_opts *o,
		    struct harvest_summary *s, struct pv_error *err)
{
	struct session ss = {.ar = ar, .a = a, .o = o, .s = s};
	int r;

	signal(SIGPIPE, SIG_IGN);
	if ((r = lease_holder_make(ar->dir, ss.lease_holder, ss.lease_site, err)) < 0)
		return r;
	for (;;) {
		ss.broke = false;
		ss.has_local = false;
		r = run(&ss, err);
		/* Any failure: no QUIT (pop3_client_free drops the connection). */
		end_session(&ss);
		release_lease(&ss);
		/* Also after a session that ingested nothing: a pack a killed
		 * session of this machine left must reach the store for the
		 * archive's other harvesters to read. */
		ingest_settle_packs(ar);
		if (r == PV_OK || !ss.broke)
			break;
		/* One message ended the session (and with it every DELE of it):
		 * go on without that message in a fresh session, unless a local
		 * failure also happened (it would again) or retries are used up. */
		if (ss.has_local || ss.n_skips + 1 >= HARVEST_SESSIONS_MAX ||
		    s->login_delay_s > HARVEST_RETRY_WAIT_MAX_S || stop_requested) {
			pv_fail(err, r, "%s", ss.broke_why);
			break;
		}
		pv_log(PV_LOG_WARN, "harvest.retry", "%s: %s; starting a fresh session without "
		       "that message%s", a->name, ss.broke_why,
		       s->login_delay_s ? " after the server's LOGIN-DELAY" : "");
		for (unsigned t = s->login_delay_s; t > 0 && !stop_requested;)
			t = sleep(t);
		ss.n_skips++;
	}
	if (r < 0 && ss.has_local)
		pv_fail(err, ss.local.code, "%s; nothing of the failed batch was deleted upstream",
			ss.local.msg);
	return r;
}
