/* Removing a kept export bundle (export_jobs.h): on request, or because
 * it holds mail a disposal destroyed. */
#include "archiver/archive/export_jobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/log.h"

int archive_export_job_remove(struct archive *ar, const char *actor, int64_t id,
			      const char *reason, struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct export_job *j = malloc(sizeof(*j));
	struct db_stmt *st;
	char path[sizeof(ar->dir) + 64], dir[sizeof(ar->dir) + 16];
	int r = j != NULL ? archive_export_job_get(ar, id, j, err)
			  : pv_fail(err, PV_ERR, "out of memory");
	if (r < 0)
		goto out;
	if (strcmp(j->status, EXPORT_JOB_DONE) != 0) {
		r = pv_fail(err, PV_EEXISTS, "export %lld is %s: it has no bundle to remove%s",
			    (long long)id, j->status,
			    strcmp(j->status, EXPORT_JOB_RUNNING) == 0 ? " (cancel it)" : "");
		goto out;
	}
	if (j->removed_at != 0) {
		r = pv_fail(err, PV_EEXISTS, "export %lld: its bundle was removed already, by %s",
			    (long long)id, j->removed_by);
		goto out;
	}
	if ((r = archive_export_job_path(ar->dir, id, j->format, path, sizeof(path), err)) < 0)
		goto out;
	/* Audited and marked in one transaction, the file removed after: a
	 * crash between leaves a marked row whose file the next sweep
	 * removes. */
	if ((r = db_begin(db, err)) < 0)
		goto out;
	if ((r = archive_auditf(ar, actor, AUDIT_EXPORT_REMOVE, "ok", NULL, err,
				"export=%lld sha256=%s reason=%s", (long long)id, j->sha256,
				reason)) == PV_OK &&
	    (r = db_prepare(db, "UPDATE export_jobs SET removed_at = ?, removed_by = ?"
				" WHERE id = ? AND removed_at IS NULL", &st, err)) == PV_OK) {
		db_bind_int64(st, 1, pv_clock_now());
		db_bind_text(st, 2, actor, -1);
		db_bind_int64(st, 3, id);
		if ((r = db_step(st, err)) > 0)
			r = PV_OK;
		/* Removed meanwhile (a disposal, another request): not twice. */
		if (r == PV_OK && db_changes(st) != 1)
			r = pv_fail(err, PV_EEXISTS, "export %lld: its bundle was removed already",
				    (long long)id);
		db_finalize(&st);
	}
	if (r == PV_OK)
		r = db_commit(db, err);
	else
		db_rollback(db);
	if (r < 0)
		goto out;
	if (unlink(path) != 0 && errno != ENOENT) {
		r = pv_fail(err, PV_ERR, "export %lld: removing %s: %s (the next start of serve "
			    "removes it)", (long long)id, path, strerror(errno));
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s/exports", ar->dir);
	r = pv_fsync_dir(dir, err);
out:
	free(j);
	return r;
}

int archive_export_bundles_disposed(struct archive *ar, const char *actor, int64_t disposal_id,
				    int64_t *removed_r, struct pv_error *err)
{
	struct db_stmt *st;
	int64_t *ids = NULL;
	size_t n = 0;
	char reason[40];
	*removed_r = 0;
	/* Any disposed message, not only this run's: a bundle that finished
	 * after a run read its mail, or a run cut short after its commit. */
	int r = db_prepare(ar->cat->conn, "SELECT DISTINCT m.export_id FROM export_members m"
					  " JOIN messages g ON g.id = m.message_id"
					  " JOIN export_jobs j ON j.id = m.export_id"
					  " WHERE g.disposed_at IS NOT NULL AND j.removed_at IS NULL"
					  " ORDER BY m.export_id", &st, err);
	if (r < 0 || (r = db_collect_ids(&st, &ids, &n, err)) < 0)
		return r;
	if (disposal_id > 0)
		snprintf(reason, sizeof(reason), "disposal=%lld", (long long)disposal_id);
	else
		snprintf(reason, sizeof(reason), "disposed-mail");
	for (size_t i = 0; i < n; i++) {
		struct pv_error e;
		if (archive_export_job_remove(ar, actor, ids[i], reason, &e) == PV_OK)
			(*removed_r)++;
		else
			pv_log(PV_LOG_ERROR, "dispose.exports", "export %lld holds mail disposed of, "
			       "and its bundle could not be removed: %s", (long long)ids[i], e.msg);
	}
	free(ids);
	return PV_OK;
}
