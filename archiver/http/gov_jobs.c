#include "archiver/http/gov_jobs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archiver/archive/anchor.h"
#include "archiver/archive/audit_trail.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/log.h"

struct gov_job {
	struct gov_job_view v; /* guarded by jobs->lock */
	struct gov_jobs *jobs;
	pthread_t thread;
	bool started;
};

struct gov_jobs {
	char data_dir[2048];
	pthread_mutex_t lock;
	struct gov_job *v[PV_HTTP_GOV_JOBS_KEPT];
	size_t n;
	int64_t next_id;
	struct gov_job *retired[PV_HTTP_GOV_JOBS_KEPT]; /* finished, out of the list, not joined */
	size_t n_retired;
};

void gov_job_view_free(struct gov_job_view *v)
{
	for (size_t i = 0; v->lines != NULL && i < v->n_lines; i++)
		free(v->lines[i]);
	free(v->lines);
	v->lines = NULL;
	v->n_lines = 0;
}

int gov_jobs_new(const char *data_dir, struct gov_jobs **jobs_r, struct pv_error *err)
{
	struct gov_jobs *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (strlen(data_dir) >= sizeof(j->data_dir)) {
		free(j);
		return pv_fail(err, PV_EUSAGE, "path too long");
	}
	snprintf(j->data_dir, sizeof(j->data_dir), "%s", data_dir);
	pthread_mutex_init(&j->lock, NULL);
	j->next_id = 1;
	*jobs_r = j;
	return PV_OK;
}

static void job_free(struct gov_job *job)
{
	if (job == NULL)
		return;
	if (job->started)
		pthread_join(job->thread, NULL);
	gov_job_view_free(&job->v);
	free(job);
}

void gov_jobs_free(struct gov_jobs **jp)
{
	struct gov_jobs *j = *jp;
	if (j == NULL)
		return;
	for (size_t i = 0; i < j->n; i++)
		job_free(j->v[i]);
	for (size_t i = 0; i < j->n_retired; i++)
		job_free(j->retired[i]);
	pthread_mutex_destroy(&j->lock);
	free(j);
	*jp = NULL;
}

/* Under the lock: room for one more job (the oldest finished one goes:
 * joined when its thread is done, else kept to be joined at the end). */
static bool make_room(struct gov_jobs *j)
{
	if (j->n < PV_HTTP_GOV_JOBS_KEPT)
		return true;
	for (size_t i = 0; i < j->n; i++) {
		if (j->v[i]->v.state == GOV_JOB_RUNNING)
			continue;
		if (j->n_retired == PV_HTTP_GOV_JOBS_KEPT) {
			for (size_t k = 0; k < j->n_retired; k++)
				job_free(j->retired[k]); /* finished: the joins do not wait */
			j->n_retired = 0;
		}
		j->retired[j->n_retired++] = j->v[i];
		memmove(&j->v[i], &j->v[i + 1], (j->n - i - 1) * sizeof(j->v[0]));
		j->n--;
		return true;
	}
	return false;
}

static size_t running(const struct gov_jobs *j, enum gov_job_kind kind)
{
	size_t n = 0;
	for (size_t i = 0; i < j->n; i++)
		n += j->v[i]->v.kind == kind && j->v[i]->v.state == GOV_JOB_RUNNING;
	return n;
}

static void finish(struct gov_job *job, int r, const struct pv_error *e)
{
	pthread_mutex_lock(&job->jobs->lock);
	job->v.finished = pv_clock_now();
	job->v.state = r == PV_OK ? GOV_JOB_DONE : GOV_JOB_FAILED;
	if (r != PV_OK)
		snprintf(job->v.error, sizeof(job->v.error), "%s", e->msg);
	pthread_mutex_unlock(&job->jobs->lock);
}

/* ---- verify ----------------------------------------------------------- */

static void verify_line(void *ctx, const char *line)
{
	struct gov_job *job = ctx;
	pthread_mutex_lock(&job->jobs->lock);
	if (strncmp(line, "FAIL", 4) == 0)
		job->v.problems++;
	else
		job->v.notes++;
	if (job->v.n_lines < PV_HTTP_VERIFY_LINES_KEPT) {
		char *copy = strdup(line);
		if (copy != NULL)
			job->v.lines[job->v.n_lines++] = copy;
	}
	pthread_mutex_unlock(&job->jobs->lock);
}

static void *verify_main(void *arg)
{
	struct gov_job *job = arg;
	struct archive *ar = NULL;
	struct verify_summary sum;
	struct pv_error e = {0};
	int r = archive_open(job->jobs->data_dir, &ar, &e);
	memset(&sum, 0, sizeof(sum));
	if (r == PV_OK)
		r = archive_verify(ar, job->v.actor, job->v.full, NULL, NULL, 0, verify_line, job, &sum,
				   &e);
	archive_close(&ar);
	pthread_mutex_lock(&job->jobs->lock);
	job->v.sum = sum;
	pthread_mutex_unlock(&job->jobs->lock);
	/* Problems found are the run's result, not its failure. */
	finish(job, r == PV_EINTEGRITY && sum.ran ? PV_OK : r, &e);
	return NULL;
}

static int start(struct gov_jobs *j, struct gov_job *job, void *(*fn)(void *), int64_t *id_r,
		 struct pv_error *err)
{
	job->jobs = j;
	job->v.id = j->next_id++;
	job->v.state = GOV_JOB_RUNNING;
	job->v.created = pv_clock_now();
	if (pthread_create(&job->thread, NULL, fn, job) != 0)
		return pv_fail(err, PV_ETEMP, "cannot start a thread");
	job->started = true;
	j->v[j->n++] = job;
	*id_r = job->v.id;
	return PV_OK;
}

/* Starts job (its kind and actor set) unless one of its kind runs: then
 * *busy_r and PV_ERR with `busy`. The job is freed when it does not start. */
static int start_alone(struct gov_jobs *j, struct gov_job *job, void *(*fn)(void *),
		       const char *busy, int64_t *id_r, bool *busy_r, struct pv_error *err)
{
	int r;
	pthread_mutex_lock(&j->lock);
	if (running(j, job->v.kind) > 0 && (*busy_r = true))
		r = pv_fail(err, PV_ERR, "%s", busy);
	else if (!make_room(j))
		r = pv_fail(err, PV_ETEMP, "too many jobs running");
	else
		r = start(j, job, fn, id_r, err);
	pthread_mutex_unlock(&j->lock);
	if (r < 0)
		job_free(job);
	return r;
}

int gov_verify_start(struct gov_jobs *j, const char *actor, bool full, int64_t *id_r,
		     bool *busy_r, struct pv_error *err)
{
	struct gov_job *job = calloc(1, sizeof(*job));
	*busy_r = false;
	if (job == NULL || (job->v.lines = calloc(PV_HTTP_VERIFY_LINES_KEPT, sizeof(char *))) == NULL) {
		free(job);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	job->v.kind = GOV_JOB_VERIFY;
	job->v.full = full;
	snprintf(job->v.actor, sizeof(job->v.actor), "%s", actor);
	return start_alone(j, job, verify_main, "a verify run is in progress", id_r, busy_r, err);
}

/* ---- anchor ----------------------------------------------------------- */

static void *anchor_main(void *arg)
{
	struct gov_job *job = arg;
	struct archive *ar = NULL;
	struct pv_error e = {0};
	int r = archive_open(job->jobs->data_dir, &ar, &e);
	if (r == PV_OK)
		r = archive_anchor_all(ar, job->v.actor, &e);
	archive_close(&ar);
	finish(job, r, &e);
	return NULL;
}

int gov_anchor_start(struct gov_jobs *j, const char *actor, int64_t *id_r, bool *busy_r,
		     struct pv_error *err)
{
	struct gov_job *job = calloc(1, sizeof(*job));
	*busy_r = false;
	if (job == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	job->v.kind = GOV_JOB_ANCHOR;
	snprintf(job->v.actor, sizeof(job->v.actor), "%s", actor);
	return start_alone(j, job, anchor_main, "the logs are being anchored already", id_r, busy_r,
			   err);
}

/* ---- audit export ----------------------------------------------------- */

static void *export_main(void *arg)
{
	struct gov_job *job = arg;
	struct archive *ar = NULL;
	struct auditbundle_summary sum;
	struct pv_error e = {0};
	char sha[65] = "";
	uint64_t size = 0;
	memset(&sum, 0, sizeof(sum));
	int r = archive_open(job->jobs->data_dir, &ar, &e);
	if (r == PV_OK)
		r = archive_audit_export(ar, job->v.actor, job->v.path, job->v.since, job->v.until,
					 job->v.personal, &sum, &e);
	archive_close(&ar);
	if (r == PV_OK)
		r = archive_file_sha256(job->v.path, sha, &size, &e);
	pthread_mutex_lock(&job->jobs->lock);
	job->v.bundle = sum;
	snprintf(job->v.sha256, sizeof(job->v.sha256), "%s", sha);
	job->v.size = size;
	pthread_mutex_unlock(&job->jobs->lock);
	finish(job, r, &e);
	return NULL;
}

int gov_audit_export_start(struct gov_jobs *j, const char *actor, int64_t since, int64_t until,
			   bool personal, const char *format, int64_t *id_r, bool *busy_r,
			   struct pv_error *err)
{
	struct gov_job *job;
	char dir[2100], t[PV_RFC3339_LEN], stamp[24];
	int r;

	*busy_r = false;
	if (strcmp(format, "tar.gz") != 0 && strcmp(format, "zip") != 0)
		return pv_fail(err, PV_EUSAGE, "format is \"tar.gz\" or \"zip\"");
	snprintf(dir, sizeof(dir), "%s/audit-exports", j->data_dir);
	if ((r = pv_mkdir(dir, 0700, 1, err)) < 0)
		return r;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	job->v.kind = GOV_JOB_AUDIT_EXPORT;
	job->v.since = since;
	job->v.until = until;
	job->v.personal = personal;
	snprintf(job->v.format, sizeof(job->v.format), "%s", format);
	snprintf(job->v.actor, sizeof(job->v.actor), "%s", actor);
	pv_clock_format_rfc3339(pv_clock_now(), t);
	size_t k = 0;
	for (const char *p = t; *p && k + 1 < sizeof(stamp); p++)
		if (*p != '-' && *p != ':')
			stamp[k++] = *p;
	stamp[k] = '\0';
	pthread_mutex_lock(&j->lock);
	if (running(j, GOV_JOB_AUDIT_EXPORT) >= PV_HTTP_AUDIT_EXPORTS_RUNNING || !make_room(j)) {
		*busy_r = true;
		r = pv_fail(err, PV_ETEMP, "too many audit exports running");
	} else {
		/* The id and the time name the file: ids restart with the server. */
		snprintf(job->v.path, sizeof(job->v.path), "%s/audit-%lld-%s.%s", dir,
			 (long long)j->next_id, stamp, format);
		r = start(j, job, export_main, id_r, err);
	}
	pthread_mutex_unlock(&j->lock);
	if (r < 0)
		job_free(job);
	return r;
}

/* ---- looking ---------------------------------------------------------- */

static void copy_view(const struct gov_job *job, struct gov_job_view *out)
{
	*out = job->v;
	out->lines = NULL;
	out->n_lines = 0;
	if (job->v.n_lines == 0 || (out->lines = calloc(job->v.n_lines, sizeof(char *))) == NULL)
		return;
	for (size_t i = 0; i < job->v.n_lines; i++)
		if ((out->lines[out->n_lines] = strdup(job->v.lines[i])) != NULL)
			out->n_lines++;
}

bool gov_job_latest(struct gov_jobs *j, enum gov_job_kind kind, struct gov_job_view *view)
{
	bool found = false;
	pthread_mutex_lock(&j->lock);
	for (size_t i = j->n; i-- > 0 && !found;)
		if (j->v[i]->v.kind == kind) {
			copy_view(j->v[i], view);
			found = true;
		}
	pthread_mutex_unlock(&j->lock);
	return found;
}

bool gov_job_get(struct gov_jobs *j, enum gov_job_kind kind, int64_t id,
		 struct gov_job_view *view)
{
	bool found = false;
	pthread_mutex_lock(&j->lock);
	for (size_t i = 0; i < j->n && !found; i++)
		if (j->v[i]->v.kind == kind && j->v[i]->v.id == id) {
			copy_view(j->v[i], view);
			found = true;
		}
	pthread_mutex_unlock(&j->lock);
	return found;
}
