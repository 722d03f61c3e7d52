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
	" messages, disposed, progress_total, file_size, audit_seq, sha256, vkeys, error"

static int db_fail(sqlite3 *db, struct pv_error *err)
{
	return pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static int64_t int_or(sqlite3_stmt *st, int col, int64_t none)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? none : sqlite3_column_int64(st, col);
}

static void job_row(sqlite3_stmt *st, struct export_job *j)
{
	char vkeys[2 * EXPORT_JOB_VKEY_MAX + 2];
	memset(j, 0, sizeof(*j));
	j->id = sqlite3_column_int64(st, 0);
	copy_col(j->status, sizeof(j->status), st, 1);
	copy_col(j->matter, sizeof(j->matter), st, 2);
	copy_col(j->query, sizeof(j->query), st, 3);
	copy_col(j->format, sizeof(j->format), st, 4);
	copy_col(j->bates_prefix, sizeof(j->bates_prefix), st, 5);
	j->created_at = sqlite3_column_int64(st, 6);
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
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	char dir[sizeof(ar->dir) + 16];
	if (strcmp(format, "zip") != 0 && strcmp(format, "tar.gz") != 0)
		return pv_fail(err, PV_EUSAGE, "an export's format is \"zip\" or \"tar.gz\"");
	snprintf(dir, sizeof(dir), "%s/exports", ar->dir);
	int r = pv_mkdir(dir, 0700, 1, err);
	if (r < 0 || (r = catalog_prepare(db, "INSERT INTO export_jobs (matter, query, format,"
					     " bates_prefix, status, created_at, created_by)"
					     " VALUES (?, ?, ?, ?, 'running', ?, ?)", &st, err)) < 0)
		return r;
	sqlite3_bind_text(st, 1, matter, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, query, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, format, -1, SQLITE_STATIC);
	if (bates_prefix != NULL)
		sqlite3_bind_text(st, 4, bates_prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_text(st, 6, actor, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(db, err);
	else
		*id_r = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	return r;
}

int archive_export_job_end(struct archive *ar, int64_t id, const char *status,
			   const struct export_job_result *res, const char *error, int64_t now,
			   struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	struct pv_buf vkeys;
	bool done = strcmp(status, EXPORT_JOB_DONE) == 0;
	int r = PV_OK;

	pv_buf_init(&vkeys, 2 * EXPORT_JOB_VKEY_MAX + 2);
	if (done && ((r = archive_checkpoint_vkey(ar, ARCHIVE_LOG, &vkeys, err)) < 0 ||
		     (r = pv_buf_append(&vkeys, "\n", 1, err)) < 0 ||
		     (r = archive_checkpoint_vkey(ar, AUDIT_LOG, &vkeys, err)) < 0))
		goto out;
	if ((r = catalog_prepare(db, "UPDATE export_jobs SET status = ?, finished_at = ?,"
				     " messages = ?, disposed = ?, progress_total = ?, file_size = ?,"
				     " audit_seq = ?, sha256 = ?, vkeys = ?, error = ?"
				     " WHERE id = ? AND status = 'running'", &st, err)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	if (done && res != NULL) {
		sqlite3_bind_int64(st, 3, res->messages);
		sqlite3_bind_int64(st, 4, res->disposed);
		sqlite3_bind_int64(st, 5, res->progress_total);
		sqlite3_bind_int64(st, 6, res->file_size);
		sqlite3_bind_int64(st, 7, res->audit_seq);
		sqlite3_bind_text(st, 8, res->sha256, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, pv_buf_str(&vkeys), -1, SQLITE_STATIC);
	}
	if (error != NULL)
		sqlite3_bind_text(st, 10, error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(db, err);
	else if (sqlite3_changes(db) != 1)
		r = pv_fail(err, PV_ENOTFOUND, "no running export job %lld", (long long)id);
	sqlite3_finalize(st);
out:
	pv_buf_free(&vkeys);
	return r;
}

int archive_export_job_get(struct archive *ar, int64_t id, struct export_job *job_r,
			   struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT " JOB_COLUMNS " FROM export_jobs WHERE id = ?", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		job_row(st, job_r);
	else if (rc == SQLITE_DONE)
		r = pv_fail(err, PV_ENOTFOUND, "no export job %lld", (long long)id);
	else
		r = db_fail(db, err);
	sqlite3_finalize(st);
	return r;
}

int archive_export_jobs_each(struct archive *ar, const char *matter,
			     int (*fn)(void *ctx, const struct export_job *j), void *ctx,
			     struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	struct export_job *j = malloc(sizeof(*j));
	int r = j ? catalog_prepare(db, "SELECT " JOB_COLUMNS " FROM export_jobs"
					" WHERE ?1 IS NULL OR matter = ?1 ORDER BY id DESC", &st, err)
		  : pv_fail(err, PV_ERR, "out of memory");
	if (r < 0) {
		free(j);
		return r;
	}
	if (matter != NULL)
		sqlite3_bind_text(st, 1, matter, -1, SQLITE_STATIC);
	int rc;
	while (r == PV_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		job_row(st, j);
		r = fn(ctx, j);
	}
	if (r == PV_OK && rc != SQLITE_DONE)
		r = db_fail(db, err);
	sqlite3_finalize(st);
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
	if (strcmp(j->status, EXPORT_JOB_RUNNING) != 0)
		return 0;
	s->found++;
	if (archive_export_job_path(s->ar->dir, j->id, j->format, path, sizeof(path), NULL) == PV_OK)
		(void)unlink(path);
	return 0;
}

int archive_export_jobs_sweep(struct archive *ar, int64_t now, struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	struct sweep s = {ar, 0};
	int r = archive_export_jobs_each(ar, NULL, sweep_one, &s, err);
	if (r < 0 || s.found == 0) /* nothing to write: a read-only catalog is fine */
		return r;
	if ((r = catalog_prepare(db, "UPDATE export_jobs SET status = 'failed',"
					     " finished_at = ?, error = 'interrupted: the server stopped"
					     " while it ran' WHERE status = 'running'", &st, err)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(db, err);
	sqlite3_finalize(st);
	return r;
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
