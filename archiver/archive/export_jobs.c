#include "archiver/archive/export_jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/checkpoints.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/sha256.h"

#define JOB_COLUMNS                                                                             \
	"id, status, matter, query, format, bates_prefix, created_at, created_by, finished_at,"  \
	" messages, disposed, progress_total, file_size, audit_seq, sha256, vkeys, error,"        \
	" removed_at, removed_by"

static void copy_col(char *dst, size_t n, struct db_stmt *st, int col)
{
	const char *t = db_column_text(st, col);
	snprintf(dst, n, "%s", t ? t : "");
}

static int64_t int_or(struct db_stmt *st, int col, int64_t none)
{
	return db_column_is_null(st, col) ? none : db_column_int64(st, col);
}

static void job_row(struct db_stmt *st, struct export_job *j)
{
	char vkeys[2 * EXPORT_JOB_VKEY_MAX + 2];
	memset(j, 0, sizeof(*j));
	j->id = db_column_int64(st, 0);
	copy_col(j->status, sizeof(j->status), st, 1);
	copy_col(j->matter, sizeof(j->matter), st, 2);
	copy_col(j->query, sizeof(j->query), st, 3);
	copy_col(j->format, sizeof(j->format), st, 4);
	copy_col(j->bates_prefix, sizeof(j->bates_prefix), st, 5);
	j->created_at = db_column_int64(st, 6);
	copy_col(j->created_by, sizeof(j->created_by), st, 7);
	j->finished_at = int_or(st, 8, 0);
	j->messages = int_or(st, 9, -1);
	j->disposed = int_or(st, 10, -1);
	j->progress_total = int_or(st, 11, -1);
	j->file_size = int_or(st, 12, -1);
	j->audit_seq = int_or(st, 13, -1);
	copy_col(j->sha256, sizeof(j->sha256), st, 14);
	copy_col(vkeys, sizeof(vkeys), st, 15);
	size_t a = strcspn(vkeys, "\n");
	snprintf(j->vkeys[0], sizeof(j->vkeys[0]), "%.*s", (int)a, vkeys);
	snprintf(j->vkeys[1], sizeof(j->vkeys[1]), "%s", vkeys[a] ? vkeys + a + 1 : "");
	copy_col(j->error, sizeof(j->error), st, 16);
	j->removed_at = int_or(st, 17, 0);
	copy_col(j->removed_by, sizeof(j->removed_by), st, 18);
}

int archive_export_job_path(const char *data_dir, int64_t id, const char *format, char *out,
			    size_t n, struct pv_error *err)
{
	int k = snprintf(out, n, "%s/exports/%lld.%s", data_dir, (long long)id, format);
	if (k < 0 || (size_t)k >= n)
		return pv_fail(err, PV_ERR, "export path too long");
	return PV_OK;
}

int archive_export_job_begin(struct archive *ar, const char *actor, const char *matter,
			     const char *query, const char *format, const char *bates_prefix,
			     int64_t now, int64_t *id_r, struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct db_stmt *st;
	char dir[sizeof(ar->dir) + 16];
	if (strcmp(format, "zip") != 0 && strcmp(format, "tar.gz") != 0)
		return pv_fail(err, PV_EUSAGE, "an export's format is \"zip\" or \"tar.gz\"");
	snprintf(dir, sizeof(dir), "%s/exports", ar->dir);
	int r = pv_mkdir(dir, 0700, 1, err);
	if (r < 0 || (r = db_prepare(db, "INSERT INTO export_jobs (matter, query, format,"
					 " bates_prefix, status, created_at, created_by)"
					 " VALUES (?, ?, ?, ?, 'running', ?, ?) RETURNING id",
				     &st, err)) < 0)
		return r;
	db_bind_text(st, 1, matter, -1);
	db_bind_text(st, 2, query, -1);
	db_bind_text(st, 3, format, -1);
	if (bates_prefix != NULL)
		db_bind_text(st, 4, bates_prefix, -1);
	else
		db_bind_null(st, 4);
	db_bind_int64(st, 5, now);
	db_bind_text(st, 6, actor, -1);
	int rc = db_step(st, err);
	if (rc == DB_ROW)
		*id_r = db_column_int64(st, 0);
	else
		r = rc < 0 ? rc : pv_fail(err, PV_ERR, "catalog: no export job id was returned");
	db_finalize(&st);
	return r;
}

/* What a done job's bundle holds, for disposal to find it. */
static int add_members(struct db *db, int64_t id, const int64_t *ids, size_t n,
		       struct pv_error *err)
{
	struct db_stmt *st;
	int r = n == 0 ? PV_OK
		       : db_prepare(db, "INSERT INTO export_members (export_id, message_id)"
					" VALUES (?, ?)", &st, err);
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		db_reset(st);
		db_bind_int64(st, 1, id);
		db_bind_int64(st, 2, ids[i]);
		if ((r = db_step(st, err)) > 0)
			r = PV_OK;
	}
	if (n > 0)
		db_finalize(&st);
	return r;
}

int archive_export_job_end(struct archive *ar, int64_t id, const char *status,
			   const struct export_job_result *res, const char *error, int64_t now,
			   struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct db_stmt *st;
	struct pv_buf vkeys;
	bool done = strcmp(status, EXPORT_JOB_DONE) == 0;
	int r = PV_OK;

	pv_buf_init(&vkeys, 2 * EXPORT_JOB_VKEY_MAX + 2);
	if (done && ((r = archive_checkpoint_vkey(ar, ARCHIVE_LOG, &vkeys, err)) < 0 ||
		     (r = pv_buf_append(&vkeys, "\n", 1, err)) < 0 ||
		     (r = archive_checkpoint_vkey(ar, AUDIT_LOG, &vkeys, err)) < 0))
		goto out;
	if ((r = db_begin(db, err)) < 0)
		goto out;
	if ((r = db_prepare(db, "UPDATE export_jobs SET status = ?, finished_at = ?,"
				" messages = ?, disposed = ?, progress_total = ?, file_size = ?,"
				" audit_seq = ?, sha256 = ?, vkeys = ?, error = ?"
				" WHERE id = ? AND status = 'running'", &st, err)) < 0) {
		db_rollback(db);
		goto out;
	}
	db_bind_text(st, 1, status, -1);
	db_bind_int64(st, 2, now);
	for (int i = 3; i <= 10; i++)
		db_bind_null(st, i);
	if (done && res != NULL) {
		db_bind_int64(st, 3, res->messages);
		db_bind_int64(st, 4, res->disposed);
		db_bind_int64(st, 5, res->progress_total);
		db_bind_int64(st, 6, res->file_size);
		db_bind_int64(st, 7, res->audit_seq);
		db_bind_text(st, 8, res->sha256, -1);
		db_bind_text(st, 9, pv_buf_str(&vkeys), -1);
	}
	if (error != NULL)
		db_bind_text(st, 10, error, -1);
	db_bind_int64(st, 11, id);
	int rc = db_step(st, err);
	if (rc < 0)
		r = rc;
	else if (db_changes(st) != 1)
		r = pv_fail(err, PV_ENOTFOUND, "no running export job %lld", (long long)id);
	db_finalize(&st);
	if (r == PV_OK && done && res != NULL)
		r = add_members(db, id, res->ids, res->n_ids, err);
	if (r == PV_OK)
		r = db_commit(db, err);
	else
		db_rollback(db);
	/* A message it holds disposed of while it ran: the bundle goes. */
	int64_t gone;
	if (r == PV_OK && done)
		r = archive_export_bundles_disposed(ar, "system", 0, &gone, err);
out:
	pv_buf_free(&vkeys);
	return r;
}

int archive_export_job_get(struct archive *ar, int64_t id, struct export_job *job_r,
			   struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(ar->cat->conn, "SELECT " JOB_COLUMNS " FROM export_jobs WHERE id = ?",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, id);
	int rc = db_step(st, err);
	if (rc == DB_ROW)
		job_row(st, job_r);
	else if (rc == DB_DONE)
		r = pv_fail(err, PV_ENOTFOUND, "no export job %lld", (long long)id);
	else
		r = rc;
	db_finalize(&st);
	return r;
}

int archive_export_jobs_each(struct archive *ar, const char *matter,
			     int (*fn)(void *ctx, const struct export_job *j), void *ctx,
			     struct pv_error *err)
{
	struct db_stmt *st;
	struct export_job *j = malloc(sizeof(*j));
	int r = j ? db_prepare(ar->cat->conn, "SELECT " JOB_COLUMNS " FROM export_jobs"
					      " WHERE CAST(?1 AS text) IS NULL OR matter = ?1"
					      " ORDER BY id DESC", &st, err)
		  : pv_fail(err, PV_ERR, "out of memory");
	if (r < 0) {
		free(j);
		return r;
	}
	if (matter != NULL)
		db_bind_text(st, 1, matter, -1);
	else
		db_bind_null(st, 1);
	int rc = DB_DONE;
	while (r == PV_OK && (rc = db_step(st, err)) == DB_ROW) {
		job_row(st, j);
		r = fn(ctx, j);
	}
	if (r == PV_OK && rc < 0)
		r = rc;
	db_finalize(&st);
	free(j);
	return r;
}

struct sweep {
	struct archive *ar;
	int64_t found;
};

/* A job left running by a server that stopped: its partial file goes. */
static int sweep_one(void *ctx, const struct export_job *j)
{
	struct sweep *s = ctx;
	char path[sizeof(s->ar->dir) + 64];
	/* A removal cut short between its row and its file: the file goes. */
	if (j->removed_at != 0 &&
	    archive_export_job_path(s->ar->dir, j->id, j->format, path, sizeof(path), NULL) == PV_OK)
		(void)unlink(path);
	if (strcmp(j->status, EXPORT_JOB_RUNNING) != 0)
		return 0;
	s->found++;
	if (archive_export_job_path(s->ar->dir, j->id, j->format, path, sizeof(path), NULL) == PV_OK)
		(void)unlink(path);
	return 0;
}

int archive_export_jobs_sweep(struct archive *ar, int64_t now, struct pv_error *err)
{
	struct db_stmt *st;
	struct sweep s = {ar, 0};
	int r = archive_export_jobs_each(ar, NULL, sweep_one, &s, err);
	/* A run cut short between its tombstones and its bundles' removal. */
	int64_t gone;
	if (r == PV_OK && (r = archive_export_bundles_disposed(ar, "system", 0, &gone, err)) < 0)
		return r;
	if (r < 0 || s.found == 0) /* nothing to write: a read-only catalog is fine */
		return r;
	if ((r = db_prepare(ar->cat->conn, "UPDATE export_jobs SET status = 'failed',"
					   " finished_at = ?, error = 'interrupted: the server stopped"
					   " while it ran' WHERE status = 'running'", &st, err)) < 0)
		return r;
	db_bind_int64(st, 1, now);
	int rc = db_step(st, err);
	db_finalize(&st);
	return rc < 0 ? rc : PV_OK;
}

/* The SHA-256 of the open file fd (hex), read from the start. */
static int fd_sha256(int fd, char hex[65], struct pv_error *err)
{
	struct pv_sha256 h;
	unsigned char buf[65536], d[32];
	int r = pv_sha256_init(&h, err);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t k = read(fd, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			pv_sha256_abort(&h);
			return pv_fail(err, PV_ERR, "read: %s", strerror(errno));
		}
		if (k == 0)
			break;
		pv_sha256_update(&h, buf, (size_t)k);
	}
	pv_sha256_final(&h, d);
	pv_hex(d, sizeof(d), hex);
	return lseek(fd, 0, SEEK_SET) == 0 ? PV_OK : pv_fail(err, PV_ERR, "lseek: %s", strerror(errno));
}

int archive_export_job_download(struct archive *ar, const char *actor, int64_t id, int *fd_r,
				struct export_job *job_r, struct pv_error *err)
{
	char path[sizeof(ar->dir) + 64], hex[65];
	int fd = -1, r;

	*fd_r = -1;
	if ((r = archive_export_job_get(ar, id, job_r, err)) < 0)
		return r;
	if (strcmp(job_r->status, EXPORT_JOB_DONE) != 0)
		return pv_fail(err, PV_EEXISTS, "export %lld is %s, not done", (long long)id,
			       job_r->status);
	if (job_r->removed_at != 0)
		return pv_fail(err, PV_EEXISTS, "export %lld: its bundle was removed by %s",
			       (long long)id, job_r->removed_by);
	if ((r = archive_export_job_path(ar->dir, id, job_r->format, path, sizeof(path), err)) < 0)
		return r;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return pv_fail(err, PV_EINTEGRITY, "export %lld: its bundle is gone (%s)",
			       (long long)id, strerror(errno));
	if ((r = fd_sha256(fd, hex, err)) < 0)
		goto fail;
	if (strcmp(hex, job_r->sha256) != 0) {
		r = pv_fail(err, PV_EINTEGRITY, "export %lld: its bundle changed since it was written "
			    "(SHA-256 %s, recorded %s)", (long long)id, hex, job_r->sha256);
		goto fail;
	}
	if ((r = archive_auditf(ar, actor, AUDIT_DOWNLOAD, "ok", NULL, err, "export=%lld sha256=%s",
				(long long)id, hex)) < 0)
		goto fail;
	*fd_r = fd;
	return PV_OK;
fail:
	close(fd);
	return r;
}
