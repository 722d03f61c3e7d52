/* The reader/sealer pipeline of a harvest session: see pipeline.h. */
#include "archiver/harvest/pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/ingest.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/lib/thread.h"
#include "audit/checkpoint.h"

/* A group commit is due once this many bytes wait in it (and the records
 * are in their packs, not in memory): bounds what one failure loses. */
#define PIPELINE_BATCH_BYTES (64ull * 1024 * 1024)
/* Events in the queue at once (their bytes are bounded by
 * PV_HARVEST_QUEUE_MAX): a small message is three. */
#define PIPELINE_EVENTS 1024
/* The reader wakes a waiting sealer only once this much waits for it (or
 * a message was abandoned); a sealer that waits looks again after at most
 * PIPELINE_POLL_MS in any case. Woken for every message, the sealer
 * (faster than the reader) slept and woke about once a message: two
 * context switches and three futex calls each. */
#define PIPELINE_WAKE_BYTES (PV_HARVEST_QUEUE_MAX / 8)
#define PIPELINE_WAKE_EVENTS (PIPELINE_EVENTS / 4)
#define PIPELINE_POLL_MS 20

enum ev_kind { EV_BEGIN, EV_DATA, EV_END, EV_ABORT };

struct ev {
	enum ev_kind kind;
	uint32_t msgnum;
	size_t off, len;                 /* EV_DATA: bytes at ring + off */
	size_t release;                  /* EV_DATA: ring bytes freed after it */
	bool has_uidl;                   /* EV_END */
	char uidl[PV_POP3_UIDL_MAX + 1]; /* EV_END */
	struct ingest_digest digest;     /* EV_END: computed by the reader */
};

/* A growable list of messages to DELE. */
struct dlist {
	struct pipeline_dele *v;
	size_t n, cap;
};

struct pipeline {
	struct archive *ar;
	const struct account *a;
	struct ingest *in;
	struct ingest_hasher hasher; /* the reader's: it hashes, the sealer seals */
	pthread_t thread;
	bool started, joined;

	pthread_mutex_t mu;
	pthread_cond_t space, work; /* the reader waits for space, the sealer for work */
	bool reader_waits, sealer_waits;
	/* The queue: bytes in a ring, events in another. */
	unsigned char *ring;
	size_t ring_head, ring_used;
	struct ev *evs;
	size_t ev_head, ev_n;
	bool closed, keep;
	bool failed;            /* the sealer failed: the reader stops */
	struct pv_error fail;
	struct dlist ready;     /* committed, not yet taken by the reader */
	struct dlist sent;      /* DELE +OK, ledger state not yet written */

	/* The sealer's own (and the caller's after the join). */
	struct dlist taking;    /* handed to the reader by pipeline_deletable */
	struct dlist dele;      /* deletable once the next commit returns */
	struct dlist writing;   /* sent states written by the commit in progress */
	int64_t first_ms;       /* when the oldest uncommitted message ended; 0: none */
	uint64_t pending_bytes;
	size_t batch_target;    /* messages per group commit, adapted to the rate */
	int64_t last_commit_ms; /* when the last group commit returned */
	struct pipeline_totals totals;
};

static int dlist_add(struct dlist *l, const struct pipeline_dele *d)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct pipeline_dele *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return PV_ERR;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *d;
	return PV_OK;
}

static void dlist_swap(struct dlist *a, struct dlist *b)
{
	struct dlist t = *a;
	*a = *b;
	*b = t;
}

/* ---- the sealer ---- */

/* Audited before any DELE, citing the archive checkpoint that covers the
 * messages: the one of this transaction's size, which it signs (with the
 * signer process: right after its commit, and before any DELE). */
static int audit_dele(struct pipeline *p, struct pv_error *err)
{
	uint64_t size;
	crypto_hash_sha256_state st;
	unsigned char h[32];
	char hex[65];
	int r;
	if ((r = tlog_size(p->ar->archive_log, &size, err)) < 0)
		return r;
	crypto_hash_sha256_init(&st);
	for (size_t i = 0; i < p->dele.n; i++) {
		crypto_hash_sha256_update(&st, (const unsigned char *)p->dele.v[i].uidl,
					  strlen(p->dele.v[i].uidl));
		crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
	}
	crypto_hash_sha256_final(&st, h);
	pv_hex(h, sizeof(h), hex);
	return archive_auditf(p->ar, "system", AUDIT_UPSTREAM_DELETE, "ok", NULL, err,
			      "account=%s count=%zu archive-checkpoint=%llu uidls-sha256=%s",
			      p->a->name, p->dele.n, (unsigned long long)size, hex);
}

/* The session's part of each group commit. */
static int commit_extra(void *ctx, const struct ingest_msg *batch, size_t n, struct pv_error *err)
{
	struct pipeline *p = ctx;
	int64_t now = pv_clock_now();
	int r = PV_OK;
	for (size_t i = 0; i < p->writing.n && r == PV_OK; i++)
		r = ledger_stmts_set_state(ingest_ledger(p->in), p->a->id, p->writing.v[i].uidl,
					   p->writing.v[i].sha256, "dele-sent", now, err);
	if (r < 0 || p->a->keep_upstream)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct pipeline_dele d = {.msgnum = batch[i].msgnum};
		memcpy(d.uidl, batch[i].uidl, sizeof(d.uidl));
		memcpy(d.sha256, batch[i].sha256, 32);
		if (dlist_add(&p->dele, &d) < 0)
			return pv_fail(err, PV_ERR, "out of memory");
	}
	return p->dele.n > 0 ? audit_dele(p, err) : PV_OK;
}

static void sealer_failed(struct pipeline *p, const struct pv_error *err)
{
	pthread_mutex_lock(&p->mu);
	if (!p->failed) {
		p->failed = true;
		p->fail = *err;
	}
	if (p->reader_waits)
		pthread_cond_signal(&p->space);
	pthread_mutex_unlock(&p->mu);
}

/* The next batch takes what arrives in half of batch_ms at the rate the
 * last one arrived (commit included), within [PV_HARVEST_BATCH_START,
 * batch_max]: a message then waits for its commit about batch_ms / 2, and
 * commits (fsyncs, a signed checkpoint each) stay few when the server is
 * fast. The time bound (batch_ms) and PIPELINE_BATCH_BYTES still apply. */
static void adapt_batch(struct pipeline *p, size_t n_done)
{
	int64_t now = pv_clock_monotonic_ms();
	int64_t dt = now - p->last_commit_ms;
	size_t lo = PV_HARVEST_BATCH_START < p->ar->cfg.batch_max ? PV_HARVEST_BATCH_START
								  : p->ar->cfg.batch_max;
	p->last_commit_ms = now;
	if (n_done == 0 || dt <= 0)
		return;
	uint64_t want = (uint64_t)n_done * p->ar->cfg.batch_ms / 2 / (uint64_t)dt;
	p->batch_target = want < lo ? lo : want > p->ar->cfg.batch_max ? p->ar->cfg.batch_max : want;
}

/* One group commit of what is whole; its DELE list goes to the reader. */
static void commit(struct pipeline *p)
{
	const struct ingest_msg *done;
	struct pv_error err;
	size_t n_done;
	pthread_mutex_lock(&p->mu);
	dlist_swap(&p->writing, &p->sent); /* sent is empty now */
	pthread_mutex_unlock(&p->mu);
	if (ingest_pending(p->in) == 0 && p->dele.n == 0 && p->writing.n == 0)
		return;
	int r = ingest_group_commit(p->in, commit_extra, p, &done, &n_done, &err);
	p->writing.n = 0;
	p->first_ms = 0;
	p->pending_bytes = 0;
	if (r < 0) {
		p->dele.n = 0;
		sealer_failed(p, &err);
		return;
	}
	for (size_t i = 0; i < n_done; i++)
		p->totals.bytes += (int64_t)done[i].size;
	p->totals.fetched += (int64_t)n_done;
	adapt_batch(p, n_done);
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->dele.n && r == PV_OK; i++)
		r = dlist_add(&p->ready, &p->dele.v[i]);
	pthread_mutex_unlock(&p->mu);
	p->dele.n = 0;
	if (r < 0) {
		pv_fail(&err, PV_ERR, "out of memory");
		sealer_failed(p, &err);
	}
}

static bool commit_due(const struct pipeline *p, int64_t now)
{
	size_t waiting = ingest_pending(p->in) + p->dele.n;
	return waiting > 0 && (waiting >= p->batch_target ||
			       p->pending_bytes >= PIPELINE_BATCH_BYTES ||
			       now - p->first_ms >= (int64_t)p->ar->cfg.batch_ms);
}

/* Handles one event of the queue (the sealer holds no lock). */
static void handle(struct pipeline *p, struct ev *e)
{
	struct pv_error err;
	struct ingest_msg im;
	bool before;
	int r = PV_OK;

	switch (e->kind) {
	case EV_BEGIN:
		r = ingest_begin(p->in, &err);
		break;
	case EV_DATA:
		r = ingest_seal(p->in, p->ring + e->off, e->len, &err);
		break;
	case EV_ABORT:
		ingest_abort(p->in);
		break;
	case EV_END:
		if ((r = ingest_end_hashed(p->in, e->msgnum, e->has_uidl ? e->uidl : NULL,
					   ingest_now(p->in), &e->digest, &before, &im, &err)) < 0)
			break;
		if (p->first_ms == 0 && (!before || !p->a->keep_upstream))
			p->first_ms = pv_clock_monotonic_ms(); /* a message now waits for a commit */
		if (!before) {
			p->pending_bytes += im.size;
		} else if (!p->a->keep_upstream) {
			/* Already archived: a leftover of an earlier session,
			 * deleted without archiving it twice. */
			struct pipeline_dele d = {.msgnum = im.msgnum};
			memcpy(d.uidl, im.uidl, sizeof(d.uidl));
			memcpy(d.sha256, im.sha256, 32);
			if (dlist_add(&p->dele, &d) < 0)
				r = pv_fail(&err, PV_ERR, "out of memory");
			p->totals.reconciled++;
		}
		break;
	}
	if (r < 0) {
		ingest_abort(p->in);
		sealer_failed(p, &err);
	}
}

static void *sealer_main(void *arg)
{
	struct pipeline *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		int64_t now = pv_clock_monotonic_ms();
		if (p->ev_n == 0 && !p->closed && !p->failed && commit_due(p, now)) {
			pthread_mutex_unlock(&p->mu);
			commit(p);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (p->ev_n == 0) {
			if (p->closed)
				break;
			p->sealer_waits = true;
			/* Look again after PIPELINE_POLL_MS, or once the oldest
			 * message has waited batch_ms if that is sooner (the
			 * condition variable runs on CLOCK_MONOTONIC). */
			int64_t at_ms = now + PIPELINE_POLL_MS;
			if (p->first_ms != 0 && !p->failed &&
			    p->first_ms + (int64_t)p->ar->cfg.batch_ms < at_ms)
				at_ms = p->first_ms + (int64_t)p->ar->cfg.batch_ms;
			struct timespec ts = {.tv_sec = at_ms / 1000, .tv_nsec = (at_ms % 1000) * 1000000};
			pthread_cond_timedwait(&p->work, &p->mu, &ts);
			p->sealer_waits = false;
			continue;
		}
		struct ev *slot = &p->evs[(p->ev_head + PIPELINE_EVENTS - p->ev_n) % PIPELINE_EVENTS];
		struct ev e = *slot;
		bool failed = p->failed;
		pthread_mutex_unlock(&p->mu);
		if (!failed)
			handle(p, &e);
		bool due = !failed && e.kind == EV_END && commit_due(p, pv_clock_monotonic_ms());
		if (due)
			commit(p);
		pthread_mutex_lock(&p->mu);
		/* The event and its bytes are free for the reader again. */
		p->ev_n--;
		if (e.kind == EV_DATA)
			p->ring_used -= e.release;
		if (e.kind == EV_END) {
			sodium_memzero(&slot->digest, sizeof(slot->digest));
			sodium_memzero(&e.digest, sizeof(e.digest));
		}
		if (p->reader_waits)
			pthread_cond_signal(&p->space);
	}
	bool keep = p->keep && !p->failed;
	pthread_mutex_unlock(&p->mu);
	if (keep)
		commit(p);
	else
		ingest_discard(p->in);
	return NULL;
}

/* ---- the reader ---- */

int pipeline_start(struct archive *ar, const struct account *a, struct pipeline **p_r,
		   struct pv_error *err)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	int r;
	if (p == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	p->ar = ar;
	p->a = a;
	p->batch_target = PV_HARVEST_BATCH_START < ar->cfg.batch_max ? PV_HARVEST_BATCH_START
								    : ar->cfg.batch_max;
	p->last_commit_ms = pv_clock_monotonic_ms();
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->space, NULL);
	pthread_cond_init(&p->work, &ca);
	pthread_condattr_destroy(&ca);
	p->ring = malloc(PV_HARVEST_QUEUE_MAX);
	p->evs = calloc(PIPELINE_EVENTS, sizeof(*p->evs));
	if (p->ring == NULL || p->evs == NULL) {
		pipeline_free(&p);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	if ((r = ingest_new(ar, a, &p->in, err)) < 0) {
		pipeline_free(&p);
		return r;
	}
	/* Signals (SIGTERM: stop at the next slice) go to the reader. */
	r = pv_thread_start(&p->thread, sealer_main, p);
	if (r != 0) {
		pipeline_free(&p);
		return pv_fail(err, PV_ERR, "cannot start the sealer thread: %s", strerror(r));
	}
	p->started = true;
	*p_r = p;
	return PV_OK;
}

/* Queues one event (and len bytes of data for EV_DATA) once there is
 * room; PV_ERR when the sealer has failed. The bytes are copied outside
 * the lock: the reader alone writes ring_head and the free bytes after
 * it, and the sealer reads no byte before the event is queued (a copy
 * under the lock kept the sealer waiting for it about once a message). */
static int put(struct pipeline *p, const struct ev *e, const void *data, struct pv_error *err)
{
	size_t off = p->ring_head, skip = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->failed) {
			*err = p->fail;
			pthread_mutex_unlock(&p->mu);
			return PV_ERR;
		}
		/* The ring's used bytes are the ring_used before ring_head
		 * (wrapping): a piece fits at ring_head if that much is free
		 * there, else at 0 if it is free from 0 (the used bytes then lie
		 * before ring_head, without wrapping). */
		bool room = p->ev_n < PIPELINE_EVENTS;
		if (e->kind == EV_DATA)
			room = room && p->ring_used + e->len <= PV_HARVEST_QUEUE_MAX &&
			       (p->ring_head + e->len <= PV_HARVEST_QUEUE_MAX ||
				p->ring_head >= p->ring_used + e->len);
		if (room)
			break;
		p->reader_waits = true;
		pthread_cond_wait(&p->space, &p->mu);
		p->reader_waits = false;
	}
	if (e->kind == EV_DATA) {
		/* Contiguous: a piece that would straddle the end starts at 0
		 * (the skipped tail counts as used until this event is freed).
		 * The room stays: the sealer only frees. */
		if (p->ring_head + e->len > PV_HARVEST_QUEUE_MAX) {
			skip = PV_HARVEST_QUEUE_MAX - p->ring_head;
			off = 0;
		}
		pthread_mutex_unlock(&p->mu);
		memcpy(p->ring + off, data, e->len);
		pthread_mutex_lock(&p->mu);
		p->ring_head = (off + e->len) % PV_HARVEST_QUEUE_MAX;
		p->ring_used += e->len + skip;
	}
	struct ev *slot = &p->evs[p->ev_head];
	*slot = *e;
	slot->off = off;
	slot->release = e->len + skip;
	p->ev_head = (p->ev_head + 1) % PIPELINE_EVENTS;
	p->ev_n++;
	/* Signalled after the unlock, or the sealer wakes only to wait for
	 * the lock still held here. */
	bool wake = p->sealer_waits && (p->ring_used >= PIPELINE_WAKE_BYTES ||
					p->ev_n >= PIPELINE_WAKE_EVENTS || e->kind == EV_ABORT);
	pthread_mutex_unlock(&p->mu);
	if (wake)
		pthread_cond_signal(&p->work);
	return PV_OK;
}

int pipeline_begin(struct pipeline *p, uint32_t msgnum, struct pv_error *err)
{
	struct ev e = {.kind = EV_BEGIN, .msgnum = msgnum};
	int r = ingest_hash_begin(&p->hasher, err);
	return r < 0 ? r : put(p, &e, NULL, err);
}

int pipeline_data(struct pipeline *p, const void *data, size_t len, struct pv_error *err)
{
	const unsigned char *d = data;
	/* Pieces of at most 1/8 of the queue, so one always fits eventually. */
	while (len > 0) {
		size_t n = len < PV_HARVEST_QUEUE_MAX / 8 ? len : PV_HARVEST_QUEUE_MAX / 8;
		struct ev e = {.kind = EV_DATA, .len = n};
		ingest_hash_update(&p->hasher, d, n);
		int r = put(p, &e, d, err);
		if (r < 0)
			return r;
		d += n;
		len -= n;
	}
	return PV_OK;
}

int pipeline_end(struct pipeline *p, uint32_t msgnum, const char *uidl, struct pv_error *err)
{
	struct ev e = {.kind = EV_END, .msgnum = msgnum, .has_uidl = uidl != NULL};
	if (uidl != NULL)
		snprintf(e.uidl, sizeof(e.uidl), "%s", uidl);
	ingest_hash_end(&p->hasher, &e.digest);
	int r = put(p, &e, NULL, err);
	sodium_memzero(&e.digest, sizeof(e.digest));
	return r;
}

void pipeline_abort(struct pipeline *p)
{
	struct ev e = {.kind = EV_ABORT};
	struct pv_error err;
	ingest_hash_abort(&p->hasher);
	(void)put(p, &e, NULL, &err); /* after a failure the sealer drops it anyway */
}

size_t pipeline_deletable(struct pipeline *p, struct pipeline_dele **v_r)
{
	pthread_mutex_lock(&p->mu);
	p->taking.n = 0;
	dlist_swap(&p->taking, &p->ready);
	pthread_mutex_unlock(&p->mu);
	*v_r = p->taking.v;
	return p->taking.n;
}

void pipeline_deleted(struct pipeline *p, const struct pipeline_dele *v, size_t n)
{
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < n; i++)
		if (v[i].status == 0 && dlist_add(&p->sent, &v[i]) < 0)
			break; /* out of memory: those stay "committed"; settle sorts them out */
	pthread_mutex_unlock(&p->mu);
}

int pipeline_finish(struct pipeline *p, bool keep, struct pv_error *err)
{
	if (p->started && !p->joined) {
		pthread_mutex_lock(&p->mu);
		p->closed = true;
		p->keep = keep;
		if (p->sealer_waits)
			pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
		p->joined = true;
	}
	if (p->failed) {
		*err = p->fail;
		return p->fail.code < 0 ? p->fail.code : PV_ERR;
	}
	return PV_OK;
}

int pipeline_flush(struct pipeline *p, struct pv_error *err)
{
	if (p->sent.n == 0 || p->failed)
		return PV_OK;
	dlist_swap(&p->writing, &p->sent);
	int r = ingest_group_commit(p->in, commit_extra, p, NULL, NULL, err);
	p->writing.n = 0;
	return r;
}

void pipeline_totals(const struct pipeline *p, struct pipeline_totals *t_r)
{
	*t_r = p->totals;
}

void pipeline_free(struct pipeline **pp)
{
	struct pipeline *p = *pp;
	struct pv_error err;
	if (p == NULL)
		return;
	(void)pipeline_finish(p, false, &err);
	ingest_hash_abort(&p->hasher);
	ingest_free(&p->in);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->space);
	pthread_cond_destroy(&p->work);
	free(p->ring);
	free(p->evs);
	free(p->ready.v);
	free(p->sent.v);
	free(p->taking.v);
	free(p->dele.v);
	free(p->writing.v);
	free(p);
	*pp = NULL;
}
