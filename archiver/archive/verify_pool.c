#include "archiver/archive/verify_pool.h"

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/lib/limits.h"
#include "archiver/store/blob.h"
#include "archiver/store/record.h"

#define POOL_WORKERS_MAX 16
/* Jobs in flight: enough that a big message on one worker does not stall
 * the others (the slot after it must wait to be reported, not to run),
 * and that the workers are still busy while the main thread checks the
 * leaves and packs after the last message (verify.c verify_tail; each job
 * holds one descriptor). */
#define POOL_SLOTS 256
/* When every slot is taken, the main thread sleeps until this many are
 * reported and free, not one: woken for each message, it took turns with
 * the workers on the cores (a wake-up and a switch per message). */
#define POOL_REFILL 32
/* Report lines one message may carry (a handful in practice). */
#define JOB_LINES_MAX (64 * 1024)

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

struct verify_pool {
	const char *dir;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct verify_job jobs[POOL_SLOTS];
	enum slot_state state[POOL_SLOTS];
	uint64_t head, tail, take; /* oldest not reported, next handed out, next to run */
	bool stop;
	bool main_waits;   /* the main thread sleeps on done for the head slot */
	int workers;
	pthread_t tid[POOL_WORKERS_MAX];
};

void verify_job_line(struct verify_job *j, char kind, const char *text)
{
	if (pv_buf_append(&j->lines, &kind, 1, NULL) < 0 ||
	    pv_buf_append(&j->lines, text, strlen(text) + 1, NULL) < 0) {
		/* Cut back to the last whole line; a problem still counts. */
		const char *p = (const char *)j->lines.data;
		size_t end = j->lines.len;
		while (end > 0 && p[end - 1] != '\0')
			end--;
		j->lines.len = end;
		if (kind == 'F')
			j->lost++;
	}
}

static void job_problem(void *ctx, const char *msg)
{
	verify_job_line(ctx, 'F', msg);
}

static void job_line(struct verify_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void job_line(struct verify_job *j, const char *fmt, ...)
{
	char msg[PV_ERROR_MSG_MAX + 200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	verify_job_line(j, 'F', msg);
}

/* One message's content check; prefix holds what the policy reads. */
static void run_job(const char *dir, struct verify_job *j, struct pv_buf *prefix)
{
	struct pv_error e;
	int mismatches = 0, r;
	uint64_t len = 0;
	if (!j->full) {
		/* Present and hashing to its name (no decryption). */
		r = blob_check_opened(dir, &j->m.loc, &j->src, &e);
		if (r == PV_ENOTFOUND)
			job_line(j, "message %lld: blob %s is missing and there is no disposal record "
				    "(unauthorised deletion)", (long long)j->m.id, j->m.blob);
		else if (r < 0)
			job_line(j, "message %lld: %s", (long long)j->m.id, e.msg);
		return;
	}
	/* The policy's reading, kept only when it can read content (else the
	 * signed facts decide: attest_classify parses nothing). */
	size_t keep = j->policy != NULL && policy_reads_content(j->policy) ? PV_INGEST_READBACK_MAX : 0;
	r = attest_content(dir, &j->src, &j->m, &j->leaf, j->key, j->salt, prefix, keep, &len,
			   job_problem, j, &mismatches, &e);
	sodium_memzero(j->key, sizeof(j->key));
	sodium_memzero(j->salt, sizeof(j->salt));
	if (r < 0) {
		job_line(j, "%s", e.msg);
		return;
	}
	j->decrypted = true;
	if (j->policy == NULL)
		return; /* reported by attest_row, or the built-in retention (version 0) */
	struct retention ret;
	if (attest_classify(j->policy, j->policy_version, j->m.account,
			    prefix->data ? prefix->data : (const unsigned char *)"", (size_t)len,
			    j->leaf.time, &ret, NULL, NULL, &e) < 0) {
		job_line(j, "message %lld: cannot be classified: %s", (long long)j->m.id, e.msg);
		return;
	}
	(void)attest_decision(&j->m, &ret, job_problem, j);
}

static void *worker(void *arg)
{
	struct verify_pool *p = arg;
	struct pv_buf prefix;
	pv_buf_init(&prefix, PV_INGEST_READBACK_MAX);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		/* Jobs without content are done already (and may be reported
		 * and their slots reused): pass them. */
		if (p->take < p->head)
			p->take = p->head;
		while (p->take < p->tail && p->state[p->take % POOL_SLOTS] == SLOT_DONE)
			p->take++;
		if (p->take < p->tail && p->state[p->take % POOL_SLOTS] == SLOT_QUEUED) {
			size_t i = p->take++ % POOL_SLOTS;
			p->state[i] = SLOT_RUNNING;
			pthread_mutex_unlock(&p->mu);
			run_job(p->dir, &p->jobs[i], &prefix);
			pthread_mutex_lock(&p->mu);
			p->state[i] = SLOT_DONE;
			if (p->main_waits && p->state[p->head % POOL_SLOTS] == SLOT_DONE)
				pthread_cond_signal(&p->done);
			continue;
		}
		if (p->stop)
			break;
		pthread_cond_wait(&p->work, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	pv_buf_free_secret(&prefix);
	record_thread_release();
	return NULL;
}

int verify_pool_new(const char *data_dir, struct verify_pool **p_r, struct pv_error *err)
{
	struct verify_pool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	p->dir = data_dir;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	for (size_t i = 0; i < POOL_SLOTS; i++) {
		pv_buf_init(&p->jobs[i].lines, JOB_LINES_MAX);
		p->jobs[i].src = BLOB_OPENED_NONE;
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int want = cpus < 1 ? 1 : cpus > POOL_WORKERS_MAX ? POOL_WORKERS_MAX : (int)cpus;
	for (; p->workers < want; p->workers++)
		if (pthread_create(&p->tid[p->workers], NULL, worker, p) != 0)
			break;
	if (p->workers == 0) {
		verify_pool_free(&p);
		return pv_fail(err, PV_ERR, "cannot start a verify thread");
	}
	*p_r = p;
	return PV_OK;
}

/* Reports the finished jobs at the head, waiting until at most `busy`
 * slots are taken. Called with the lock held; done() runs without it (the
 * slot is the caller's). */
static void report(struct verify_pool *p, uint64_t busy, verify_job_done_fn *done, void *ctx)
{
	while (p->head < p->tail) {
		size_t i = p->head % POOL_SLOTS;
		if (p->state[i] != SLOT_DONE) {
			if (p->tail - p->head <= busy)
				return;
			p->main_waits = true;
			pthread_cond_wait(&p->done, &p->mu);
			p->main_waits = false;
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		done(ctx, &p->jobs[i]);
		/* Its descriptor goes in order, reported: with drop_after_read
		 * what it read is forgotten then, never pages a worker behind
		 * it still reads (forgetting starts at the 2 MiB boundary below
		 * a record, lib/pagecache.h). */
		blob_opened_close(&p->jobs[i].src);
		pthread_mutex_lock(&p->mu);
		p->state[i] = SLOT_FREE;
		p->head++;
	}
}

struct verify_job *verify_pool_next(struct verify_pool *p, verify_job_done_fn *done, void *ctx)
{
	pthread_mutex_lock(&p->mu);
	if (done != NULL)
		report(p, p->tail - p->head == POOL_SLOTS ? POOL_SLOTS - POOL_REFILL : POOL_SLOTS - 1,
		       done, ctx);
	size_t i = p->tail++ % POOL_SLOTS;
	p->state[i] = SLOT_FILLING;
	pthread_mutex_unlock(&p->mu);
	struct verify_job *j = &p->jobs[i];
	struct pv_buf lines = j->lines;
	pv_buf_reset(&lines);
	memset(j, 0, sizeof(*j));
	j->lines = lines;
	j->src = BLOB_OPENED_NONE;
	return j;
}

bool verify_pool_full(struct verify_pool *p)
{
	pthread_mutex_lock(&p->mu);
	bool full = p->tail - p->head == POOL_SLOTS;
	pthread_mutex_unlock(&p->mu);
	return full;
}

void verify_pool_submit(struct verify_pool *p, struct verify_job *j)
{
	size_t i = (size_t)(j - p->jobs);
	pthread_mutex_lock(&p->mu);
	p->state[i] = j->content ? SLOT_QUEUED : SLOT_DONE;
	if (j->content)
		pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

void verify_pool_drain(struct verify_pool *p, verify_job_done_fn *done, void *ctx)
{
	pthread_mutex_lock(&p->mu);
	report(p, 0, done, ctx);
	pthread_mutex_unlock(&p->mu);
}

void verify_pool_free(struct verify_pool **pp)
{
	struct verify_pool *p = *pp;
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	/* Jobs never handed over are not run. */
	for (uint64_t k = p->take; k < p->tail; k++)
		if (p->state[k % POOL_SLOTS] == SLOT_FILLING)
			p->state[k % POOL_SLOTS] = SLOT_DONE;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->workers; i++)
		pthread_join(p->tid[i], NULL);
	for (size_t i = 0; i < POOL_SLOTS; i++) {
		blob_opened_close(&p->jobs[i].src); /* filled, never run */
		pv_buf_free(&p->jobs[i].lines);
		sodium_memzero(&p->jobs[i], sizeof(p->jobs[i]));
	}
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p);
	*pp = NULL;
}
