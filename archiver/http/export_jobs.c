/* Export jobs in threads of the server (export_jobs.h). */
#include "archiver/http/export_jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archiver/archive/export_jobs.h"
#include "archiver/archive/matters.h"
#include "archiver/archive/search.h"
#include "archiver/export/bates.h"
#include "archiver/export/export.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/log.h"

struct job {
	struct export_runner *runner;
	int64_t id;
	pthread_t thread;
	char actor[AUDIT_ACTOR_MAX + 1];
	char matter[PV_MATTER_NAME_MAX + 1];
	char query[PV_QUERY_MAX + 1];
	char prefix[PV_EXPORT_BATES_PREFIX_MAX + 1];
	bool has_prefix;
	char out[2048 + 64];
	/* under runner->lock */
	uint64_t done, total;
	bool cancel, finished;
};

struct export_runner {
	char data_dir[2048];
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct job *slots[PV_EXPORT_JOBS_RUNNING_MAX];
};

int export_runner_new(const char *data_dir, struct export_runner **runner_r,
		      struct pv_error *err)
{
	struct export_runner *r;
	struct archive *ar = NULL;
	int rc;
	if (strlen(data_dir) >= sizeof(r->data_dir))
		return pv_fail(err, PV_EUSAGE, "path too long");
	if ((rc = archive_open(data_dir, &ar, err)) < 0)
		return rc;
	/* Not fatal: the server also starts on a catalog it cannot write
	 * (and then refuses every audited action). */
	if (archive_export_jobs_sweep(ar, pv_clock_now(), err) < 0)
		pv_log(PV_LOG_WARN, "export.sweep", "interrupted export jobs not marked: %s",
		       err->msg);
	archive_close(&ar);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	memcpy(r->data_dir, data_dir, strlen(data_dir) + 1);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->changed, NULL);
	*runner_r = r;
	return PV_OK;
}

/* Joins and frees the finished jobs; call with the lock held. */
static void reap(struct export_runner *r)
{
	for (size_t i = 0; i < PV_EXPORT_JOBS_RUNNING_MAX; i++) {
		struct job *j = r->slots[i];
		if (j != NULL && j->finished) {
			pthread_join(j->thread, NULL);
			free(j);
			r->slots[i] = NULL;
		}
	}
}

void export_runner_free(struct export_runner **rp)
{
	struct export_runner *r = *rp;
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < PV_EXPORT_JOBS_RUNNING_MAX; i++)
		if (r->slots[i] != NULL)
			r->slots[i]->cancel = true;
	for (size_t i = 0; i < PV_EXPORT_JOBS_RUNNING_MAX; i++)
		while (r->slots[i] != NULL && !r->slots[i]->finished)
			pthread_cond_wait(&r->changed, &r->lock);
	reap(r);
	pthread_mutex_unlock(&r->lock);
	pthread_cond_destroy(&r->changed);
	pthread_mutex_destroy(&r->lock);
	free(r);
	*rp = NULL;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct job *j = ctx;
	pthread_mutex_lock(&j->runner->lock);
	j->done = done;
	j->total = total;
	pthread_mutex_unlock(&j->runner->lock);
}

static bool is_cancelled(void *ctx)
{
	struct job *j = ctx;
	pthread_mutex_lock(&j->runner->lock);
	bool c = j->cancel;
	pthread_mutex_unlock(&j->runner->lock);
	return c;
}

/* The job's thread: export_run with an archive of its own, then the row. */
static void *run(void *arg)
{
	struct job *j = arg;
	struct archive *ar = NULL;
	struct export_summary sum = {0}; /* recorded even when export_run never ran */
	struct pv_error err, err2;
	const char *status = EXPORT_JOB_FAILED;
	struct export_opts o = {
		.query = j->query, .out = j->out, .matter = j->matter,
		.bates_prefix = j->has_prefix ? j->prefix : NULL, .bates_start = -1,
		.actor = j->actor, .progress = on_progress, .progress_ctx = j,
		.cancelled = is_cancelled, .keep_ids = true,
	};
	pv_error_clear(&err);
	int r = archive_open(j->runner->data_dir, &ar, &err);
	if (r == PV_OK && (r = export_run(ar, &o, &sum, &err)) == PV_OK)
		status = EXPORT_JOB_DONE;
	else if (is_cancelled(j))
		status = EXPORT_JOB_CANCELLED;
	if (ar != NULL) {
		struct export_job_result res = {
			(int64_t)sum.messages, (int64_t)sum.disposed, 2 * (int64_t)sum.messages,
			(int64_t)sum.file_size, (int64_t)sum.audit_seq, sum.file_sha256,
			sum.ids, sum.n_ids,
		};
		if (archive_export_job_end(ar, j->id, status, &res, r == PV_OK ? NULL : err.msg,
					   pv_clock_now(), &err2) < 0)
			pv_log(PV_LOG_ERROR, "export.job", "export %lld: recording its end: %s",
			       (long long)j->id, err2.msg);
	}
	if (r < 0)
		pv_log(PV_LOG_WARN, "export.job", "export %lld %s: %s", (long long)j->id, status,
		       err.msg);
	free(sum.ids);
	archive_close(&ar);
	pthread_mutex_lock(&j->runner->lock);
	j->finished = true;
	pthread_cond_broadcast(&j->runner->changed);
	pthread_mutex_unlock(&j->runner->lock);
	return NULL;
}

/* Everything the job needs, checked before a row is written. */
static int check(struct archive *ar, const struct export_request *rq, struct pv_error *err)
{
	struct matter m;
	int r;
	if (strcmp(rq->format, "zip") != 0 && strcmp(rq->format, "tar.gz") != 0)
		return pv_fail(err, PV_EUSAGE, "an export's format is \"zip\" or \"tar.gz\"");
	if (rq->bates_prefix != NULL && !bates_prefix_valid(rq->bates_prefix))
		return pv_fail(err, PV_EUSAGE, "a Bates prefix is 1 to %d letters, digits, '.', '_' "
			       "or '-', starting with a letter or digit", PV_EXPORT_BATES_PREFIX_MAX);
	if ((r = archive_search_check(rq->query, NULL, err)) < 0 ||
	    (r = archive_matter_get(ar, rq->matter, &m, err)) < 0)
		return r;
	return PV_OK;
}

int export_runner_start(struct export_runner *runner, struct archive *ar, const char *actor,
			const struct export_request *rq, int64_t *id_r, struct pv_error *err)
{
	struct job *j;
	size_t slot;
	int r;

	if ((r = check(ar, rq, err)) < 0)
		return r;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	j->runner = runner;
	snprintf(j->actor, sizeof(j->actor), "%s", actor);
	snprintf(j->matter, sizeof(j->matter), "%s", rq->matter);
	snprintf(j->query, sizeof(j->query), "%s", rq->query);
	if ((j->has_prefix = rq->bates_prefix != NULL))
		snprintf(j->prefix, sizeof(j->prefix), "%s", rq->bates_prefix);
	pthread_mutex_lock(&runner->lock);
	reap(runner);
	for (slot = 0; slot < PV_EXPORT_JOBS_RUNNING_MAX && runner->slots[slot] != NULL; slot++)
		;
	if (slot == PV_EXPORT_JOBS_RUNNING_MAX) {
		r = pv_fail(err, PV_ETEMP, "%d exports are running; try again when one is done",
			    PV_EXPORT_JOBS_RUNNING_MAX);
		goto fail;
	}
	if ((r = archive_export_job_begin(ar, actor, rq->matter, rq->query, rq->format,
					  rq->bates_prefix, pv_clock_now(), &j->id, err)) < 0 ||
	    (r = archive_export_job_path(runner->data_dir, j->id, rq->format, j->out,
					 sizeof(j->out), err)) < 0)
		goto fail;
	if ((errno = pthread_create(&j->thread, NULL, run, j)) != 0) {
		r = pv_fail(err, PV_ERR, "starting export %lld: %s", (long long)j->id,
			    strerror(errno));
		(void)archive_export_job_end(ar, j->id, EXPORT_JOB_FAILED, NULL, err->msg,
					     pv_clock_now(), NULL);
		goto fail;
	}
	runner->slots[slot] = j;
	*id_r = j->id;
	pthread_mutex_unlock(&runner->lock);
	return PV_OK;
fail:
	pthread_mutex_unlock(&runner->lock);
	free(j);
	return r;
}

/* The running job id; call with the lock held. */
static struct job *find(struct export_runner *r, int64_t id)
{
	for (size_t i = 0; i < PV_EXPORT_JOBS_RUNNING_MAX; i++)
		if (r->slots[i] != NULL && r->slots[i]->id == id && !r->slots[i]->finished)
			return r->slots[i];
	return NULL;
}

bool export_runner_progress(struct export_runner *runner, int64_t id, uint64_t *done_r,
			    uint64_t *total_r)
{
	pthread_mutex_lock(&runner->lock);
	struct job *j = find(runner, id);
	if (j != NULL) {
		*done_r = j->done;
		*total_r = j->total;
	}
	pthread_mutex_unlock(&runner->lock);
	return j != NULL;
}

int export_runner_cancel(struct export_runner *runner, int64_t id, int64_t wait_ms,
			 struct pv_error *err)
{
	struct timespec until;
	pv_clock_realtime_in(wait_ms, &until);
	pthread_mutex_lock(&runner->lock);
	struct job *j = find(runner, id);
	if (j == NULL) {
		pthread_mutex_unlock(&runner->lock);
		return pv_fail(err, PV_EEXISTS, "export %lld is not running", (long long)id);
	}
	j->cancel = true;
	/* by id: once finished, another request may reap (free) it */
	while (find(runner, id) != NULL)
		if (pthread_cond_timedwait(&runner->changed, &runner->lock, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&runner->lock);
	return PV_OK;
}
