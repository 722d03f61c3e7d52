#ifndef PV_ARCHIVE_EXPORT_JOBS_H
#define PV_ARCHIVE_EXPORT_JOBS_H

/* The rows of export jobs (catalog migration 7): eDiscovery exports that
 * `popvault serve` runs in the background for a matter (the runner is
 * archiver/http/export_jobs.h; the export itself export/export.h, which
 * audits it). Their bundles are DIR/exports/ID.zip or ID.tar.gz (the
 * directory 0700). A job is running, then done, failed or cancelled; a
 * row is never deleted. A done job's bundle may be removed (on request,
 * or by the disposal of a message it holds: export_members records
 * which), audited first; its row then says when and by whom.
 *
 * Handing a bundle out (archive_export_job_download) is audited as a
 * download, after its file was checked against the SHA-256 recorded when
 * it was written. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "archiver/store/datadir.h"
#include "audit/auditlog.h"

#define EXPORT_JOB_RUNNING "running"
#define EXPORT_JOB_DONE "done"
#define EXPORT_JOB_FAILED "failed"
#define EXPORT_JOB_CANCELLED "cancelled"

#define EXPORT_JOB_VKEY_MAX 512

struct export_job {
	int64_t id;
	char status[16];
	char matter[PV_MATTER_NAME_MAX + 1];
	char query[PV_QUERY_MAX + 1];
	char format[8];       /* "zip" or "tar.gz" */
	char bates_prefix[PV_EXPORT_BATES_PREFIX_MAX + 1]; /* "" when the matter's */
	int64_t created_at;
	char created_by[AUDIT_ACTOR_MAX + 1];
	int64_t finished_at;  /* 0 while running */
	/* once done (-1 or "" before): */
	int64_t messages, disposed, progress_total, file_size, audit_seq;
	char sha256[65];
	char vkeys[2][EXPORT_JOB_VKEY_MAX + 1]; /* archive, audit */
	char error[PV_ERROR_MSG_MAX];           /* failed, cancelled */
	int64_t removed_at;                     /* 0: its bundle is there */
	char removed_by[AUDIT_ACTOR_MAX + 1];
};

/* What a finished export reports (export_summary's figures). */
struct export_job_result {
	int64_t messages, disposed, progress_total, file_size, audit_seq;
	const char *sha256;
	const int64_t *ids; /* the messages whose content the bundle holds */
	size_t n_ids;
};

/* Records a new running job; its bundle goes to the path archive_export_job_path
 * gives (DIR/exports is made, 0700). format: "zip" or "tar.gz" (else
 * PV_EUSAGE); bates_prefix NULL for the matter's. Checks nothing else:
 * the caller checks the matter and query first. */
int archive_export_job_begin(struct archive *ar, const char *actor, const char *matter,
			     const char *query, const char *format, const char *bates_prefix,
			     int64_t now, int64_t *id_r, struct pv_error *err);

/* DIR/exports/ID.FORMAT into out (size n). */
int archive_export_job_path(const char *data_dir, int64_t id, const char *format, char *out,
			    size_t n, struct pv_error *err);

/* Ends a running job: status EXPORT_JOB_DONE with res, or
 * EXPORT_JOB_FAILED / EXPORT_JOB_CANCELLED with error. Done records the
 * verifier keys of both logs as they are now. */
int archive_export_job_end(struct archive *ar, int64_t id, const char *status,
			   const struct export_job_result *res, const char *error, int64_t now,
			   struct pv_error *err);

/* Running jobs left by a server that stopped become failed ("interrupted"),
 * their partial files removed. */
int archive_export_jobs_sweep(struct archive *ar, int64_t now, struct pv_error *err);

/* One job; PV_ENOTFOUND when there is none. */
int archive_export_job_get(struct archive *ar, int64_t id, struct export_job *job_r,
			   struct pv_error *err);

/* Every job (of one matter when matter is not NULL), newest first. */
int archive_export_jobs_each(struct archive *ar, const char *matter,
			     int (*fn)(void *ctx, const struct export_job *j), void *ctx,
			     struct pv_error *err);

/* Opens job id's bundle for sending: PV_ENOTFOUND for no such job,
 * PV_EEXISTS (a conflict) when it is not done, PV_EINTEGRITY when the file
 * is missing or no longer hashes to the recorded SHA-256. Then appends the
 * "download" audit entry (object "export=ID sha256=HEX"), and only then
 * returns the open file (*fd_r, at offset 0; the caller closes it) and
 * the job. */
int archive_export_job_download(struct archive *ar, const char *actor, int64_t id, int *fd_r,
				struct export_job *job_r, struct pv_error *err);

/* Removes done job id's bundle: a "export-remove" audit entry (object
 * "export=ID sha256=HEX reason=REASON"), the row marked removed, then the
 * file. reason: "request", or "disposal=N". PV_ENOTFOUND for no such
 * job, PV_EEXISTS (a conflict) when it is not done or removed already. */
int archive_export_job_remove(struct archive *ar, const char *actor, int64_t id,
			      const char *reason, struct pv_error *err);

/* Every bundle still kept that holds a message disposed of is removed
 * (reason "disposal=N" after disposal N, else "disposed-mail": at the end
 * of an export, and of the sweep). A bundle that cannot be is logged;
 * *removed_r counts those that went. */
int archive_export_bundles_disposed(struct archive *ar, const char *actor, int64_t disposal_id,
				    int64_t *removed_r, struct pv_error *err);

#endif
