#include "archiver/index/sandbox_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "archiver/index/sandbox.h"
#include "archiver/lib/limits.h"

struct slot {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool busy, quit, started;
	struct index_sandbox *sb; /* the thread's own: its child's parent is that thread */
	struct index_pool_job job;
};

struct index_pool {
	int k, turn;
	struct slot *slots;
};

/* Slot i's sandbox runs on the i-th CPU this process may use, round
 * robin (index/sandbox.h, pinned): the slots share the CPUs evenly. */
static struct index_sandbox_opts slot_opts(int i)
{
	struct index_sandbox_opts o = {0};
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) < 2)
		return o;
	int want = i % CPU_COUNT(&set);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set) && want-- == 0) {
			o.pinned = true;
			o.cpu = c;
			break;
		}
	return o;
}

static void do_job(struct slot *s)
{
	struct index_pool_job *j = &s->job;
	index_doc_init(&j->doc);
	j->r = PV_OK;
	if (!j->extract)
		return;
	if (s->sb == NULL) {
		struct index_sandbox_opts o = slot_opts(j->slot);
		if ((j->r = index_sandbox_new(&o, &s->sb, &j->err)) < 0)
			return;
	}
	j->r = index_sandbox_extract(s->sb, j->raw.data ? j->raw.data : (const unsigned char *)"",
				     j->raw.len, &j->doc, &j->err);
}

/* A slot's thread: one job at a time, its sandbox ended by itself (a
 * child's PR_SET_PDEATHSIG fires when the thread that forked it ends). */
static void *slot_main(void *arg)
{
	struct slot *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->busy && !s->quit)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->busy)
			break;
		pthread_mutex_unlock(&s->mu);
		do_job(s);
		pthread_mutex_lock(&s->mu);
		s->busy = false;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	index_sandbox_free(&s->sb);
	return NULL;
}

int index_pool_new(int k, struct index_pool **pool_r, struct pv_error *err)
{
	struct index_pool *p = calloc(1, sizeof(*p));
	*pool_r = NULL;
	if (k < 1 || k > 8)
		k = k < 1 ? 1 : 8;
	if (p == NULL || (p->slots = calloc((size_t)k, sizeof(*p->slots))) == NULL) {
		free(p);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	for (int i = 0; i < k; i++) {
		struct slot *s = &p->slots[i];
		pthread_mutex_init(&s->mu, NULL);
		pthread_cond_init(&s->cv, NULL);
		s->job.slot = i;
		pv_buf_init(&s->job.raw, PV_INDEX_RAW_MAX);
		index_doc_init(&s->job.doc);
		p->k = i + 1;
		if (pthread_create(&s->thread, NULL, slot_main, s) != 0) {
			p->k = i; /* this one has no thread */
			pv_buf_free(&s->job.raw);
			pthread_cond_destroy(&s->cv);
			pthread_mutex_destroy(&s->mu);
			index_pool_free(&p);
			return pv_fail(err, PV_ERR, "cannot start an extraction thread");
		}
		s->started = true;
	}
	*pool_r = p;
	return PV_OK;
}

void index_pool_free(struct index_pool **pp)
{
	struct index_pool *p = *pp;
	if (p == NULL)
		return;
	for (int i = 0; i < p->k; i++) {
		struct slot *s = &p->slots[i];
		pthread_mutex_lock(&s->mu);
		s->quit = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		if (s->started)
			pthread_join(s->thread, NULL);
		index_doc_free(&s->job.doc);
		pv_buf_free_secret(&s->job.raw);
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
	}
	free(p->slots);
	free(p);
	*pp = NULL;
}

int index_pool_size(const struct index_pool *p)
{
	return p->k;
}

struct index_pool_job *index_pool_next(struct index_pool *p)
{
	struct slot *s = &p->slots[p->turn];
	p->turn = (p->turn + 1) % p->k;
	pthread_mutex_lock(&s->mu);
	while (s->busy)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	return &s->job;
}

void index_pool_start(struct index_pool *p, struct index_pool_job *job)
{
	struct slot *s = &p->slots[job->slot];
	index_doc_free(&s->job.doc); /* a result the caller left */
	pthread_mutex_lock(&s->mu);
	s->busy = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}
