#ifndef PV_HTTP_EXPORT_JOBS_H
#define PV_HTTP_EXPORT_JOBS_H

/* Export jobs of `popvault serve` (the web API's /api/v1/exports): each
 * runs export_run (export/export.h, which audits it) in a thread of its
 * own with an archive of its own, at most PV_EXPORT_JOBS_RUNNING_MAX at
 * once; the job's row (archive/export_jobs.h) says what became of it,
 * memory holds the progress of the running ones. Cancelling asks the
 * export to stop after the message it is on; the server stopping cancels
 * every job and waits for it. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"

struct export_runner;

/* A job as asked for (checked by export_runner_start). */
struct export_request {
	const char *matter;       /* must exist (archive/matters.h) */
	const char *query;        /* must parse */
	const char *format;       /* "zip" or "tar.gz" */
	const char *bates_prefix; /* NULL: the matter's */
};

/* Makes the runner for data_dir; jobs a stopped server left running are
 * marked failed now (archive_export_jobs_sweep). */
int export_runner_new(const char *data_dir, struct export_runner **runner_r,
		      struct pv_error *err);
/* Cancels every running job, waits for each, frees. */
void export_runner_free(struct export_runner **runner);

/* Checks rq (PV_ENOTFOUND: no such matter; PV_EUSAGE or PV_ELIMIT: a bad
 * query, format or prefix, err says which), takes a free slot (PV_ETEMP
 * when all are busy), records the job as running through ar (the
 * caller's archive), and starts it. *id_r: the job's id. */
int export_runner_start(struct export_runner *runner, struct archive *ar, const char *actor,
			const struct export_request *rq, int64_t *id_r, struct pv_error *err);

/* The progress of job id while this runner runs it: true and *done_r,
 * *total_r (messages, counted twice: export.h's two passes); false when
 * it is not running here. */
bool export_runner_progress(struct export_runner *runner, int64_t id, uint64_t *done_r,
			    uint64_t *total_r);

/* Asks running job id to stop, and waits up to wait_ms for it to end.
 * PV_EEXISTS (a conflict) when it is not running here. */
int export_runner_cancel(struct export_runner *runner, int64_t id, int64_t wait_ms,
			 struct pv_error *err);

#endif
