#include "archiver/store/pack.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/lib/pagecache.h"
#include "archiver/store/catalog.h"
#include "archiver/store/packstore.h"

void pack_path(const char *data_dir, int64_t pack_id, char *out, size_t out_len)
{
	snprintf(out, out_len, "%s/packs/%08lld.pack", data_dir, (long long)pack_id);
}

int64_t pack_file_id(const char *name)
{
	char *end;
	long long id = strtoll(name, &end, 10);
	return id > 0 && strcmp(end, ".pack") == 0 ? (int64_t)id : 0;
}

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static void header(int64_t bucket_id, unsigned char out[PACK_HEADER_BYTES])
{
	memcpy(out, PACK_MAGIC, 8);
	put_be64(out + 8, (uint64_t)bucket_id);
}

/* ---- writing ---- */

struct open_pack {
	int64_t id, bucket_id;
	int fd;
	uint64_t committed, end; /* offsets: end of committed records, end of file */
	uint64_t kicked;         /* writeback started up to here */
	bool unsynced, created, full;
};

/* Writeback of appended records is started (not awaited) every this many
 * bytes, so that the group commit's fdatasync, on the sealer's path,
 * finds most of the batch on disk already. */
#define PACK_WRITEBACK_STEP (1024 * 1024)

struct pack_set {
	char dir[2048];
	struct db *db;
	bool seal_at_end;
	struct open_pack *v;
	size_t n, cap;
};

int pack_set_new(const char *data_dir, struct db *db, struct pack_set **ps_r, struct pv_error *err)
{
	struct pack_set *ps = calloc(1, sizeof(*ps));
	if (ps == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (strlen(data_dir) >= sizeof(ps->dir)) {
		free(ps);
		return pv_fail(err, PV_ERR, "data directory path too long");
	}
	snprintf(ps->dir, sizeof(ps->dir), "%s", data_dir);
	ps->db = db;
	*ps_r = ps;
	return PV_OK;
}

static void close_all(struct pack_set *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		close(ps->v[i].fd); /* releases the lock */
	ps->n = 0;
}

void pack_set_seal_at_end(struct pack_set *ps)
{
	ps->seal_at_end = true;
}

/* Every pack this writer committed records to takes no more (while it
 * still holds their locks, so no other writer is appending). */
static void seal_all(struct pack_set *ps)
{
	struct db_stmt *st;
	struct pv_error e;
	if (db_prepare(ps->db, "UPDATE packs SET sealed_at = ? WHERE id = ?"
			       " AND sealed_at IS NULL", &st, &e) < 0)
		return;
	for (size_t i = 0; i < ps->n; i++) {
		if (ps->v[i].committed <= PACK_HEADER_BYTES)
			continue;
		db_reset(st);
		db_bind_int64(st, 1, pv_clock_now());
		db_bind_int64(st, 2, ps->v[i].id);
		if (db_step(st, &e) < 0)
			pv_log(PV_LOG_WARN, "pack.seal", "pack %lld: %s (it takes more records; "
			       "sealed by a later session)", (long long)ps->v[i].id, e.msg);
	}
	db_finalize(&st);
}

void pack_set_free(struct pack_set **psp)
{
	struct pack_set *ps = *psp;
	if (ps == NULL)
		return;
	(void)pack_set_rollback(ps, NULL);
	if (ps->seal_at_end)
		seal_all(ps);
	close_all(ps);
	free(ps->v);
	free(ps);
	*psp = NULL;
}

static int64_t query_id(struct db *db, const char *sql, int64_t arg, int64_t none)
{
	struct db_stmt *st;
	int64_t v = none;
	if (db_prepare(db, sql, &st, NULL) < 0)
		return none;
	db_bind_int64(st, 1, arg);
	if (db_step(st, NULL) == DB_ROW && !db_column_is_null(st, 0))
		v = db_column_int64(st, 0);
	db_finalize(&st);
	return v;
}

static bool removed(struct db *db, int64_t id)
{
	return query_id(db, "SELECT removed_at IS NOT NULL FROM packs WHERE id = ?", id, 1) != 0;
}

/* Sealed (store/packstore.h) since this writer looked it up: another
 * session's end, or packstore_flush, sealed it between the query and the
 * lock. Appending now would add records its upload does not carry. */
static bool sealed(struct db *db, int64_t id)
{
	return query_id(db, "SELECT sealed_at IS NOT NULL FROM packs WHERE id = ?", id, 1) != 0;
}

/* End of the records the catalog refers to in pack id. */
static uint64_t committed_end(struct db *db, int64_t id)
{
	return (uint64_t)query_id(db, "SELECT max(pack_offset + pack_length) FROM messages"
				      " WHERE pack_id = ?", id, PACK_HEADER_BYTES);
}

/* The bucket's newest pack, if this writer can take it: not removed, not
 * full, not locked by another writer, not damaged. Its uncommitted tail
 * (an interrupted harvest's) is cut off. PV_ENOTFOUND: start a new one. */
static int take_existing(struct pack_set *ps, int64_t bucket_id, struct open_pack *op)
{
	unsigned char want[PACK_HEADER_BYTES], got[PACK_HEADER_BYTES];
	char path[4096];
	struct stat st;
	int64_t id = query_id(ps->db, "SELECT max(id) FROM packs WHERE bucket_id = ?"
				      " AND removed_at IS NULL AND sealed_at IS NULL", bucket_id, 0);
	if (id == 0)
		return PV_ENOTFOUND;
	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].id == id)
			return PV_ENOTFOUND; /* ours, and full */
	pack_path(ps->dir, id, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return PV_ENOTFOUND;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0 || st.st_nlink == 0 ||
	    removed(ps->db, id) || sealed(ps->db, id))
		goto skip;
	header(bucket_id, want);
	uint64_t end = committed_end(ps->db, id);
	if (pread(fd, got, sizeof(got), 0) != (ssize_t)sizeof(got) ||
	    memcmp(got, want, sizeof(got)) != 0 || (uint64_t)st.st_size < end) {
		pv_log(PV_LOG_WARN, "pack.damaged", "pack %lld is damaged (header, or shorter than "
		       "its records): left alone for verify; a new pack is started", (long long)id);
		goto skip;
	}
	if (end >= PV_PACK_SEGMENT_MAX)
		goto skip;
	if ((uint64_t)st.st_size > end) {
		if (ftruncate(fd, (off_t)end) < 0)
			goto skip;
		pv_log(PV_LOG_INFO, "pack.tail", "pack %lld: %llu bytes after its last committed "
		       "record (an interrupted harvest's) dropped", (long long)id,
		       (unsigned long long)((uint64_t)st.st_size - end));
	}
	if (lseek(fd, (off_t)end, SEEK_SET) < 0)
		goto skip;
	*op = (struct open_pack){.id = id, .bucket_id = bucket_id, .fd = fd, .committed = end,
				 .end = end};
	return PV_OK;
skip:
	close(fd);
	return PV_ENOTFOUND;
}

/* DIR/packs, made durable the first time. */
static int packs_dir(struct pack_set *ps, struct pv_error *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/packs", ps->dir);
	if (mkdir(path, 0700) == 0)
		return pv_fsync_dir(ps->dir, err);
	if (errno != EEXIST)
		return pv_fail(err, PV_ERR, "create %s: %s", path, strerror(errno));
	return PV_OK;
}

/* The pack's file, created and locked under the id of a row not yet
 * committed: ENOENT-free for everyone else. A file already there is the
 * leftover of a writer that died before its commit (SQLite hands out the
 * uncommitted id again): nobody can hold it, so it is replaced. */
static int create_locked(const char *path, int *fd_r, struct pv_error *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && unlink(path) == 0)
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return pv_fail(err, PV_ERR, "create %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		unlink(path);
		close(fd);
		return pv_fail(err, PV_ERR, "lock %s: %s", path, strerror(e));
	}
	*fd_r = fd;
	return PV_OK;
}

/* The row and the file appear together: the row is committed only once
 * its file exists and this writer holds its lock. A removal of empty or
 * unused packs (pack_remove_empty at another session's end, a disposal
 * run) that sees the row therefore finds the file locked and leaves it.
 * Committed first, the row once let such a run find no file yet, mark
 * the pack removed and leave this writer filling a pack the catalog
 * called removed: never uploaded to a remote store, unreadable once its
 * file was cleaned up. */
static int start_new(struct pack_set *ps, int64_t bucket_id, struct open_pack *op,
		     struct pv_error *err)
{
	unsigned char head[PACK_HEADER_BYTES];
	char path[4096];
	struct db_stmt *st;
	int64_t id = 0;
	int fd = -1, r;

	if ((r = packs_dir(ps, err)) < 0)
		return r;
	bool own_tx = !db_in_transaction(ps->db);
	if (own_tx && (r = db_begin(ps->db, err)) < 0)
		return pv_error_prefix(err, "catalog: new pack");
	if ((r = db_prepare(ps->db, "INSERT INTO packs (bucket_id, created_at)"
				    " VALUES (?, ?) RETURNING id", &st, err)) < 0)
		goto fail;
	db_bind_int64(st, 1, bucket_id);
	db_bind_int64(st, 2, pv_clock_now());
	if ((r = db_step(st, err)) == DB_ROW)
		id = db_column_int64(st, 0);
	db_finalize(&st);
	if (id == 0) {
		r = r < 0 ? pv_error_prefix(err, "catalog: new pack")
			  : pv_fail(err, PV_ERR, "catalog: new pack: no id");
		goto fail;
	}
	pack_path(ps->dir, id, path, sizeof(path));
	if ((r = create_locked(path, &fd, err)) < 0)
		goto fail;
	header(bucket_id, head);
	ssize_t k = write(fd, head, sizeof(head));
	if (k != (ssize_t)sizeof(head)) {
		r = pv_fail(err, PV_ERR, "write %s: %s", path, k < 0 ? strerror(errno) : "short");
		goto fail;
	}
	if (own_tx && (r = db_commit(ps->db, err)) < 0) {
		pv_error_prefix(err, "catalog: new pack");
		own_tx = false; /* rolled back by db_commit */
		goto fail;
	}
	*op = (struct open_pack){.id = id, .bucket_id = bucket_id, .fd = fd,
				 .committed = PACK_HEADER_BYTES, .end = PACK_HEADER_BYTES,
				 .unsynced = true, .created = true};
	return PV_OK;
fail:
	if (fd >= 0) {
		unlink(path);
		close(fd);
	}
	if (own_tx)
		db_rollback(ps->db);
	return r;
}

static struct open_pack *current(struct pack_set *ps, int64_t bucket_id, uint64_t len)
{
	for (size_t i = ps->n; i-- > 0;) {
		struct open_pack *op = &ps->v[i];
		if (op->bucket_id != bucket_id || op->full)
			continue;
		/* A segment takes records while it is under the cap. */
		if (op->end > PACK_HEADER_BYTES && op->end + len > PV_PACK_SEGMENT_MAX) {
			op->full = true;
			return NULL;
		}
		return op;
	}
	return NULL;
}

int pack_set_append(struct pack_set *ps, int64_t bucket_id, struct record_sealer *rec,
		    struct blob_loc *loc_r, struct pv_error *err)
{
	uint64_t len = record_staged_len(rec);
	struct open_pack *op = current(ps, bucket_id, len);
	int r;

	if (op == NULL) {
		struct open_pack fresh;
		if (ps->n == ps->cap) {
			size_t cap = ps->cap ? 2 * ps->cap : 4;
			struct open_pack *v = realloc(ps->v, cap * sizeof(*v));
			if (v == NULL)
				return pv_fail(err, PV_ERR, "out of memory");
			ps->v = v;
			ps->cap = cap;
		}
		if (take_existing(ps, bucket_id, &fresh) != PV_OK &&
		    (r = start_new(ps, bucket_id, &fresh, err)) < 0)
			return r;
		ps->v[ps->n] = fresh;
		op = &ps->v[ps->n++];
	}
	uint64_t off = op->end;
	if ((r = record_place(rec, op->fd, err)) < 0) {
		char path[4096];
		pack_path(ps->dir, op->id, path, sizeof(path));
		pv_error_prefix(err, "%s", path);
		/* Whatever part of it landed goes again; a pack that cannot
		 * be cut back takes nothing more. */
		if (ftruncate(op->fd, (off_t)off) < 0 || lseek(op->fd, (off_t)off, SEEK_SET) < 0)
			op->full = true;
		return r;
	}
	op->end = off + len;
	op->unsynced = true;
	if (op->kicked > off)
		op->kicked = off; /* the pack was cut back since */
	if (op->end - op->kicked >= PACK_WRITEBACK_STEP) {
		/* A hint: failures surface at the fdatasync that counts. */
		(void)sync_file_range(op->fd, (off_t)op->kicked, (off_t)(op->end - op->kicked),
				      SYNC_FILE_RANGE_WRITE);
		op->kicked = op->end;
	}
	loc_r->pack_id = op->id;
	loc_r->offset = off;
	loc_r->length = len;
	return PV_OK;
}

int pack_set_sync(struct pack_set *ps, struct pv_error *err)
{
	bool created = false;
	for (size_t i = 0; i < ps->n; i++) {
		struct open_pack *op = &ps->v[i];
		if (!op->unsynced)
			continue;
		if (fdatasync(op->fd) < 0) {
			char path[4096];
			pack_path(ps->dir, op->id, path, sizeof(path));
			return pv_fail(err, PV_ERR, "sync %s: %s", path, strerror(errno));
		}
		op->unsynced = false;
		created = created || op->created;
	}
	if (created) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/packs", ps->dir);
		int r = pv_fsync_dir(path, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < ps->n; i++)
			ps->v[i].created = false;
	}
	return PV_OK;
}

void pack_set_committed(struct pack_set *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		ps->v[i].committed = ps->v[i].end;
}

int pack_set_rollback(struct pack_set *ps, struct pv_error *err)
{
	int r = PV_OK;
	for (size_t i = 0; i < ps->n; i++) {
		struct open_pack *op = &ps->v[i];
		if (op->end == op->committed)
			continue;
		if (ftruncate(op->fd, (off_t)op->committed) < 0 ||
		    lseek(op->fd, (off_t)op->committed, SEEK_SET) < 0) {
			op->full = true; /* the next writer cuts it */
			r = pv_fail(err, PV_ERR, "cut back pack %lld: %s", (long long)op->id,
				    strerror(errno));
			continue;
		}
		op->end = op->committed;
	}
	return r;
}

void pack_set_abandon(struct pack_set *ps)
{
	close_all(ps);
}

/* ---- reading ---- */

int pack_open(struct packstore *store, const struct blob_loc *loc, int *fd_r, uint64_t *at_r,
	      struct pv_error *err)
{
	return packstore_open_range(store, loc->pack_id, loc->offset, loc->length, fd_r, at_r, err);
}

static void what_of(const struct blob_loc *loc, char *what, size_t n)
{
	snprintf(what, n, "blob %.16s... (pack %lld at %llu)", loc->id, (long long)loc->pack_id,
		 (unsigned long long)loc->offset);
}

int pack_read_fd(int fd, uint64_t at, const struct blob_loc *loc,
		 const unsigned char key[BLOB_KEY_BYTES], const unsigned char *expect_sha256,
		 blob_sink_fn sink, void *ctx, struct pv_error *err)
{
	char what[96];
	what_of(loc, what, sizeof(what));
	return record_open(fd, at, loc->length, loc->id, key, expect_sha256, sink, ctx, what, err);
}

int pack_check_fd(int fd, uint64_t at, const struct blob_loc *loc, struct pv_error *err)
{
	char what[96];
	what_of(loc, what, sizeof(what));
	return record_check_hash(fd, at, loc->length, loc->id, what, err);
}

/* Closes a record's pack after reading it, first dropping its pages for
 * a reader that reads each record once (drop_after_read). */
static void read_done(struct packstore *store, int fd, uint64_t at, const struct blob_loc *loc)
{
	if (store->drop_after_read)
		pv_read_forget(fd, at, loc->length);
	close(fd);
}

int pack_read_into(struct packstore *store, const struct blob_loc *loc,
		   const unsigned char key[BLOB_KEY_BYTES], const unsigned char expect_sha256[32],
		   struct pv_buf *into, struct pv_error *err)
{
	char what[96];
	uint64_t at;
	int fd, r = pack_open(store, loc, &fd, &at, err);
	if (r < 0)
		return r;
	what_of(loc, what, sizeof(what));
	r = record_read_into(fd, at, loc->length, key, expect_sha256, into, what, err);
	read_done(store, fd, at, loc);
	return r;
}

int pack_read(struct packstore *store, const struct blob_loc *loc,
	      const unsigned char key[BLOB_KEY_BYTES], const unsigned char *expect_sha256,
	      blob_sink_fn sink, void *ctx, struct pv_error *err)
{
	uint64_t at;
	int fd, r = pack_open(store, loc, &fd, &at, err);
	if (r < 0)
		return r;
	r = pack_read_fd(fd, at, loc, key, expect_sha256, sink, ctx, err);
	read_done(store, fd, at, loc);
	return r;
}

int pack_check(struct packstore *store, const struct blob_loc *loc, struct pv_error *err)
{
	uint64_t at;
	int fd, r = pack_open(store, loc, &fd, &at, err);
	if (r < 0)
		return r;
	r = pack_check_fd(fd, at, loc, err);
	read_done(store, fd, at, loc);
	return r;
}

bool pack_exists(struct packstore *store, int64_t pack_id)
{
	return packstore_present(store, pack_id);
}

/* ---- disposal ---- */

bool pack_file_elsewhere(const char *data_dir, struct db *db, int64_t pack_id)
{
	char path[4096];
	if (db_kind(db) != DB_POSTGRES)
		return false;
	pack_path(data_dir, pack_id, path, sizeof(path));
	return access(path, F_OK) < 0 && errno == ENOENT;
}

/* A pack neither stored nor here is another machine's (perhaps one it has
 * just made and not yet committed to: empty for a moment): never this
 * machine's to remove. */
static bool others_pack(struct packstore *store, struct db *db, int64_t id)
{
	struct db_stmt *st;
	if (!pack_file_elsewhere(store->dir, db, id))
		return false;
	if (db_prepare(db, "SELECT 1 FROM packs WHERE id = ? AND stored_at IS NOT NULL", &st,
		       NULL) < 0)
		return true; /* kept: the next run looks again */
	db_bind_int64(st, 1, id);
	bool stored = db_step(st, NULL) == DB_ROW;
	db_finalize(&st);
	return !stored;
}

/* Removes the packs a query selects, as pack_remove_unused says; `next`
 * names who tries a kept one again. held_is_normal: a pack a writer holds
 * is a live session's, kept without a word. */
static int remove_packs(struct packstore *store, struct db *db, const char *select,
			const char *next, bool held_is_normal, int64_t *removed_r,
			int64_t *refused_r, struct pv_error *err)
{
	struct db_stmt *st;
	int64_t *ids = NULL, *gone = NULL;
	size_t n = 0, n_gone = 0;
	char path[4096];
	int r;

	*removed_r = *refused_r = 0;
	if ((r = db_prepare(db, select, &st, err)) < 0 ||
	    (r = db_collect_ids(&st, &ids, &n, err)) < 0)
		return r;
	if (n == 0)
		return PV_OK;
	if ((gone = calloc(n, sizeof(*gone))) == NULL) {
		free(ids);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct pv_error e;
		if (others_pack(store, db, ids[i]))
			continue;
		int k = packstore_remove(store, ids[i], &e);
		if (k == PV_OK) {
			gone[n_gone++] = ids[i];
			continue;
		}
		/* Kept, and so is its row: Object Lock (PV_EPERM, its
		 * retain-until named), a writer holding it (PV_EPERM), or a
		 * failure. */
		(*refused_r)++;
		if (k != PV_EPERM || !held_is_normal)
			pv_log(PV_LOG_WARN, "pack.kept", "%s; kept, %s tries again", e.msg, next);
	}
	snprintf(path, sizeof(path), "%s/packs", store->dir);
	struct stat sb;
	if (n_gone > 0 && (stat(path, &sb) < 0 || (r = pv_fsync_dir(path, err)) == PV_OK) &&
	    (r = db_prepare(db, "UPDATE packs SET removed_at = ? WHERE id = ?", &st, err)) == PV_OK) {
		for (size_t i = 0; i < n_gone && r == PV_OK; i++) {
			db_reset(st);
			db_bind_int64(st, 1, pv_clock_now());
			db_bind_int64(st, 2, gone[i]);
			if ((r = db_step(st, err)) >= 0)
				r = PV_OK;
		}
		db_finalize(&st);
		*removed_r = (int64_t)n_gone;
	}
	free(ids);
	free(gone);
	return r;
}

int pack_remove_unused(struct packstore *store, struct db *db, int64_t *removed_r,
		       int64_t *refused_r, struct pv_error *err)
{
	return remove_packs(store, db, "SELECT p.id FROM packs p WHERE p.removed_at IS NULL AND NOT"
				       " EXISTS (SELECT 1 FROM messages m WHERE m.pack_id = p.id"
				       " AND m.disposed_at IS NULL) ORDER BY p.id",
			    "the next disposal run", false, removed_r, refused_r, err);
}

/* True when no catalog row names pack id (false on a failed query). */
static bool unrecorded(struct db_stmt *row, int64_t id)
{
	db_reset(row);
	db_bind_int64(row, 1, id);
	return db_step(row, NULL) == DB_DONE;
}

/* The ids of the files in DIR/packs that hold no record (a header at
 * most) and that no catalog row names, as seen without any lock. */
static int stray_candidates(DIR *d, struct db_stmt *row, int64_t **ids_r, size_t *n_r)
{
	struct dirent *e;
	struct stat st;
	size_t cap = 0;
	while ((e = readdir(d)) != NULL) {
		int64_t id = pack_file_id(e->d_name);
		if (id == 0 || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_size > PACK_HEADER_BYTES || !unrecorded(row, id))
			continue;
		if (*n_r == cap) {
			cap = cap ? 2 * cap : 8;
			int64_t *v = realloc(*ids_r, cap * sizeof(*v));
			if (v == NULL)
				return PV_ERR;
			*ids_r = v;
		}
		(*ids_r)[(*n_r)++] = id;
	}
	return PV_OK;
}

/* Removes stray id under the writers' lock: still no row, and its file
 * not held by a writer (one whose transaction rolled back keeps it). */
static bool remove_stray(const char *data_dir, struct db_stmt *row, int64_t id)
{
	char path[4096];
	struct stat st;
	bool gone = false;
	pack_path(data_dir, id, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_nlink > 0 && st.st_size <= PACK_HEADER_BYTES && unrecorded(row, id) &&
	    unlink(path) == 0) {
		gone = true;
		pv_log(PV_LOG_INFO, "pack.stray", "pack file %08lld.pack removed: it held no record "
		       "and no catalog row named it (a harvest stopped before its pack was "
		       "recorded)", (long long)id);
	}
	close(fd);
	return gone;
}

/* A writer killed between creating a new pack's file and committing its
 * row (start_new) leaves the file, a header at most, that no row names.
 * SQLite would hand the id out again and the next pack replace it; on
 * PostgreSQL the identity has moved on and nothing would. Removed under
 * the writers' lock (db_begin): then no writer is between its INSERT and
 * its COMMIT, and a COMMIT whose client died has been settled by the
 * server, so "no row" is final. */
static int remove_strays(const char *data_dir, struct db *db, int64_t *removed_r,
			 struct pv_error *err)
{
	struct db_stmt *row = NULL;
	int64_t *ids = NULL;
	size_t n = 0;
	char path[4096];
	int r;

	snprintf(path, sizeof(path), "%s/packs", data_dir);
	DIR *d = opendir(path);
	if (d == NULL)
		return errno == ENOENT ? PV_OK : pv_fail(err, PV_ERR, "%s: %s", path, strerror(errno));
	if ((r = db_prepare(db, "SELECT 1 FROM packs WHERE id = ?", &row, err)) == PV_OK &&
	    stray_candidates(d, row, &ids, &n) < 0)
		r = pv_fail(err, PV_ERR, "out of memory");
	closedir(d);
	/* Inside a caller's transaction (perhaps a read one, without the
	 * lock) they wait for the next call. */
	if (r == PV_OK && n > 0 && !db_in_transaction(db) && (r = db_begin(db, err)) == PV_OK) {
		int64_t gone = 0;
		for (size_t i = 0; i < n; i++)
			gone += remove_stray(data_dir, row, ids[i]);
		db_rollback(db); /* nothing written: the lock was all */
		if (gone > 0 && (r = pv_fsync_dir(path, err)) == PV_OK)
			*removed_r += gone;
	}
	db_finalize(&row);
	free(ids);
	return r;
}

int pack_remove_empty(struct packstore *store, struct db *db, int64_t *removed_r,
		      struct pv_error *err)
{
	int64_t busy;
	int r = remove_packs(store, db, "SELECT p.id FROM packs p WHERE p.removed_at IS NULL AND"
					" p.sealed_at IS NULL AND NOT EXISTS (SELECT 1 FROM messages m"
					" WHERE m.pack_id = p.id) ORDER BY p.id",
			     "the next harvest", true, removed_r, &busy, err);
	return r < 0 ? r : remove_strays(store->dir, db, removed_r, err);
}

/* ---- verify ---- */

static void say(pack_problem_fn *problem, void *ctx, bool harmless, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void say(pack_problem_fn *problem, void *ctx, bool harmless, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	problem(ctx, harmless, msg);
}

/* What follows the last committed record: whole records never committed,
 * and a torn one at the very end. */
static void scan_tail(int fd, int64_t id, uint64_t pos, uint64_t size, pack_problem_fn *problem,
		      void *ctx)
{
	uint64_t rec_len, whole = 0, start = pos;
	while (pos < size && record_measure(fd, pos, size, &rec_len) == PV_OK) {
		pos += rec_len;
		whole++;
	}
	say(problem, ctx, true, "pack %lld: %llu bytes after its last committed record (%llu whole "
	    "record%s never committed%s): left by an interrupted harvest; the next harvest into "
	    "this pack drops them", (long long)id, (unsigned long long)(size - start),
	    (unsigned long long)whole, whole == 1 ? "" : "s", pos < size ? ", then a torn one" : "");
}

static void scan_one(const char *data_dir, int64_t since, struct db_stmt *row,
		     struct db_stmt *recs, struct db_stmt *live, int64_t id,
		     pack_problem_fn *problem, void *ctx, struct pack_scan_stats *stats)
{
	unsigned char want[PACK_HEADER_BYTES], got[PACK_HEADER_BYTES];
	char path[4096];
	struct stat st;
	db_reset(row);
	db_bind_int64(row, 1, id);
	if (db_step(row, NULL) != DB_ROW) {
		pack_path(data_dir, id, path, sizeof(path));
		bool there = stat(path, &st) == 0;
		if (since > 0 && there && st.st_ctim.tv_sec >= since)
			say(problem, ctx, true, "pack file %08lld.pack was made after this check "
			    "began (a harvest writing it)", (long long)id);
		else if (there && st.st_size <= PACK_HEADER_BYTES)
			say(problem, ctx, true, "pack file %08lld.pack holds no record: left by a "
			    "harvest stopped before its pack was recorded (the next harvest's end "
			    "removes it)", (long long)id);
		else
			say(problem, ctx, false, "pack file %08lld.pack is not in the catalog",
			    (long long)id);
		return;
	}
	int64_t bucket = db_column_int64(row, 0);
	if (!db_column_is_null(row, 1)) {
		/* Only once every message in it is disposed of (pack.h); one
		 * still live in a pack marked removed is never uploaded, and
		 * its file may be cleaned up under it. */
		db_reset(live);
		db_bind_int64(live, 1, id);
		int64_t n = db_step(live, NULL) == DB_ROW ? db_column_int64(live, 0) : 0;
		if (n > 0)
			say(problem, ctx, false, "pack %lld is recorded as removed but holds %lld "
			    "message%s not disposed of", (long long)id, (long long)n, n == 1 ? "" : "s");
		else
			say(problem, ctx, true, "pack %lld was removed by a disposal but its file is "
			    "still there (its keys are destroyed)", (long long)id);
		return;
	}
	pack_path(data_dir, id, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return; /* its messages report it */
	}
	stats->packs++;
	header(bucket, want);
	if (pread(fd, got, sizeof(got), 0) != (ssize_t)sizeof(got) || memcmp(got, want, sizeof(got)) != 0)
		say(problem, ctx, false, "pack %lld: bad header (not a pack of bucket %lld)",
		    (long long)id, (long long)bucket);
	uint64_t pos = PACK_HEADER_BYTES;
	db_reset(recs);
	db_bind_int64(recs, 1, id);
	while (db_step(recs, NULL) == DB_ROW) {
		uint64_t off = (uint64_t)db_column_int64(recs, 0);
		uint64_t len = (uint64_t)db_column_int64(recs, 1);
		stats->records++;
		if (off > pos)
			say(problem, ctx, false, "pack %lld: %llu bytes at %llu belong to no message",
			    (long long)id, (unsigned long long)(off - pos), (unsigned long long)pos);
		else if (off < pos)
			say(problem, ctx, false, "pack %lld: records overlap at %llu", (long long)id,
			    (unsigned long long)off);
		if (off + len > pos)
			pos = off + len;
	}
	if ((uint64_t)st.st_size < pos)
		say(problem, ctx, false, "pack %lld is %llu bytes, shorter than its records (%llu): "
		    "truncated", (long long)id, (unsigned long long)st.st_size, (unsigned long long)pos);
	else if ((uint64_t)st.st_size > pos) {
		stats->tail_bytes += (int64_t)((uint64_t)st.st_size - pos);
		scan_tail(fd, id, pos, (uint64_t)st.st_size, problem, ctx);
	}
	close(fd);
}

int pack_scan(const char *data_dir, struct db *db, int64_t since, pack_problem_fn *problem,
	      void *ctx, struct pack_scan_stats *stats_r, struct pv_error *err)
{
	struct db_stmt *row = NULL, *recs = NULL, *live = NULL;
	char path[4096];
	struct dirent *e;
	int r;

	memset(stats_r, 0, sizeof(*stats_r));
	snprintf(path, sizeof(path), "%s/packs", data_dir);
	DIR *d = opendir(path);
	if (d == NULL)
		return errno == ENOENT ? PV_OK : pv_fail(err, PV_ERR, "%s: %s", path, strerror(errno));
	if ((r = db_prepare(db, "SELECT bucket_id, removed_at FROM packs WHERE id = ?", &row,
			    err)) < 0 ||
	    (r = db_prepare(db, "SELECT pack_offset, pack_length FROM messages"
				" WHERE pack_id = ? ORDER BY pack_offset", &recs, err)) < 0 ||
	    (r = db_prepare(db, "SELECT count(*) FROM messages WHERE pack_id = ?"
				" AND disposed_at IS NULL", &live, err)) < 0)
		goto out;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		int64_t id = pack_file_id(e->d_name);
		if (id == 0) {
			say(problem, ctx, false, "packs/%s is not a pack file", e->d_name);
			continue;
		}
		scan_one(data_dir, since, row, recs, live, id, problem, ctx, stats_r);
	}
out:
	db_finalize(&row);
	db_finalize(&recs);
	db_finalize(&live);
	closedir(d);
	return r;
}
