#ifndef PV_HTTP_GOV_JOBS_H
#define PV_HTTP_GOV_JOBS_H

/* Background jobs of the compliance API (docs/api.md): a verify run
 * (archive_verify, one at a time), anchoring both logs now
 * (archive_anchor_all: the TSA and witnesses configured, one at a time)
 * and audit-bundle exports
 * (archive_audit_export, at most PV_HTTP_AUDIT_EXPORTS_RUNNING at once,
 * written to DIR/audit-exports/). Each runs in a thread of its own with
 * an archive of its own; the archive operation audits it as the CLI's
 * does. Job state lives in memory: a restart forgets the jobs (the audit
 * entries and the bundle files stay). Freeing waits for running jobs. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/archive/verify.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "audit/auditbundle.h"

enum gov_job_kind { GOV_JOB_VERIFY, GOV_JOB_AUDIT_EXPORT, GOV_JOB_ANCHOR };
enum gov_job_state { GOV_JOB_RUNNING, GOV_JOB_DONE, GOV_JOB_FAILED };

/* A job as it was when looked at (a copy; gov_job_view_free). */
struct gov_job_view {
	int64_t id;
	enum gov_job_kind kind;
	enum gov_job_state state;
	char actor[AUDIT_ACTOR_MAX + 1];
	int64_t created, finished;     /* unix seconds; finished 0 while running */
	char error[PV_ERROR_MSG_MAX];  /* failed: why */
	/* verify */
	bool full;
	struct verify_summary sum;     /* done: the run's summary */
	uint64_t problems, notes;      /* lines seen so far */
	char **lines;                  /* the first PV_HTTP_VERIFY_LINES_KEPT */
	size_t n_lines;
	/* audit export */
	int64_t since, until;
	bool personal;
	char format[8];                /* "tar.gz" or "zip" */
	char path[4096];
	char sha256[65];
	uint64_t size;
	struct auditbundle_summary bundle;
};
void gov_job_view_free(struct gov_job_view *v);

struct gov_jobs;

int gov_jobs_new(const char *data_dir, struct gov_jobs **jobs_r, struct pv_error *err);
/* Waits for the running jobs, then frees. */
void gov_jobs_free(struct gov_jobs **jobs);

/* Starts a verify run by actor; *busy_r (PV_ERR returned) when one runs. */
int gov_verify_start(struct gov_jobs *jobs, const char *actor, bool full, int64_t *id_r,
		     bool *busy_r, struct pv_error *err);
/* The newest job of that kind of this server; false when there was none. */
bool gov_job_latest(struct gov_jobs *jobs, enum gov_job_kind kind, struct gov_job_view *view_r);

/* Starts anchoring both logs by actor; *busy_r (PV_ERR returned) when it
 * runs already. A party that fails is the job's failure (its error); what
 * the others gave is kept (archive_anchor_all). */
int gov_anchor_start(struct gov_jobs *jobs, const char *actor, int64_t *id_r, bool *busy_r,
		     struct pv_error *err);

/* Starts an audit export of the entries from since to until (unix seconds,
 * INT64_MIN / INT64_MAX when open) in format "tar.gz" or "zip", with the
 * personal side data when personal. *busy_r (PV_ETEMP) when too many run. */
int gov_audit_export_start(struct gov_jobs *jobs, const char *actor, int64_t since,
			   int64_t until, bool personal, const char *format, int64_t *id_r,
			   bool *busy_r, struct pv_error *err);

/* Job id of that kind; false when this server has none by that id. */
bool gov_job_get(struct gov_jobs *jobs, enum gov_job_kind kind, int64_t id,
		 struct gov_job_view *view_r);

#endif
