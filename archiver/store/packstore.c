/* The pack store's common part (store/packstore.h): which store the
 * catalog names, and what the catalog records of each pack's copy there. */
#include "archiver/store/packstore.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/log.h"
#include "archiver/lib/secret.h"
#include "archiver/store/catalog.h"
#include "archiver/store/catalog_reach.h"
#include "archiver/store/pack.h"

static void cache_reset(struct packstore *ps)
{
	for (size_t i = 0; i < PV_PACK_FETCH_CACHE; i++) {
		if (ps->cache[i].fd >= 0)
			close(ps->cache[i].fd);
		ps->cache[i].fd = -1;
		ps->cache[i].id = 0;
	}
}

/* Opens the remote store of url with the sealed credentials. */
static int open_remote(struct packstore *ps, struct keyring *kr, const char *kind, const char *url,
		       const unsigned char *sealed, size_t sealed_len, struct pv_error *err)
{
	const char *ad[] = {PACKSTORE_SECRET_KIND, url};
	struct s3_target t;
	char *secret = NULL;
	int r;

	if (strcmp(kind, "s3") != 0)
		return pv_fail(err, PV_ERR, "catalog: pack store kind \"%s\" is not known to this "
			       "popvault", kind);
	if ((r = s3_url_parse(url, &t, err)) < 0)
		return r;
	if ((r = keyring_open_secret(kr, ad, 2, sealed, sealed_len, &secret, err)) < 0)
		return pv_error_prefix(err, "the pack store's credentials");
	char *colon = strchr(secret, ':');
	if (colon == NULL) {
		pv_secret_free(&secret);
		return pv_fail(err, PV_ERR, "the pack store's credentials are not ACCESS:SECRET");
	}
	*colon = '\0';
	r = packstore_s3_new(&t, secret, colon + 1, &ps->impl, err);
	pv_secret_free(&secret);
	if (r < 0)
		return r;
	ps->ops = &packstore_s3_ops;
	snprintf(ps->url, sizeof(ps->url), "%s", url);
	return PV_OK;
}

int packstore_open(const char *data_dir, struct db *db, struct keyring *kr,
		   struct packstore **ps_r, struct pv_error *err)
{
	struct packstore *ps = calloc(1, sizeof(*ps));
	struct db_stmt *st;
	int r;

	if (ps == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < PV_PACK_FETCH_CACHE; i++)
		ps->cache[i].fd = -1;
	snprintf(ps->dir, sizeof(ps->dir), "%s", data_dir);
	ps->db = db;
	ps->local_ops = &packstore_local_ops;
	if ((r = packstore_local_new(data_dir, &ps->local, err)) < 0) {
		free(ps);
		return r;
	}
	ps->ops = ps->local_ops;
	ps->impl = ps->local;
	if ((r = db_prepare(db, "SELECT kind, url, secret FROM pack_store WHERE id = 1", &st,
			    err)) < 0) {
		packstore_close(&ps);
		return r;
	}
	if ((r = db_step(st, err)) == DB_ROW) {
		const char *kind = db_column_text(st, 0);
		const char *url = db_column_text(st, 1);
		size_t len;
		const void *secret = db_column_blob(st, 2, &len);
		r = open_remote(ps, kr, kind ? kind : "", url ? url : "", secret, len, err);
	}
	db_finalize(&st);
	if (r < 0) {
		packstore_close(&ps);
		return r;
	}
	*ps_r = ps;
	return PV_OK;
}

bool packstore_remote_at(const char *data_dir)
{
	struct catalog_reach r;
	return catalog_reach_at(data_dir, &r, NULL) == PV_OK && r.store_remote;
}

void packstore_close(struct packstore **psp)
{
	struct packstore *ps = *psp;
	if (ps == NULL)
		return;
	cache_reset(ps);
	if (ps->impl != NULL && ps->impl != ps->local)
		ps->ops->free(ps->impl);
	if (ps->local != NULL)
		ps->local_ops->free(ps->local);
	free(ps);
	*psp = NULL;
}

bool packstore_remote(const struct packstore *ps)
{
	return ps != NULL && ps->ops != ps->local_ops;
}

int packstore_probe(const char *url, const char *secret, struct pv_error *err)
{
	struct s3_target t;
	struct s3_client *c = NULL;
	bool created;
	int r;

	if ((r = s3_url_parse(url, &t, err)) < 0)
		return r;
	const char *colon = strchr(secret, ':');
	if (colon == NULL || colon == secret || colon[1] == '\0')
		return pv_fail(err, PV_EUSAGE, "--store-key-file: want one line ACCESS_KEY:SECRET_KEY");
	char *access = pv_secret_dup(secret, (size_t)(colon - secret));
	if (access == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	r = s3_client_new(t.endpoint, t.region, t.bucket, access, colon + 1, NULL, &c, err);
	pv_secret_free(&access);
	if (r < 0)
		return r;
	bool locking = false;
	if ((r = s3_create_bucket(c, true, &created, err)) == PV_OK)
		r = s3_object_lock_enabled(c, &locking, err);
	s3_client_free(&c);
	if (r < 0)
		return pv_error_prefix(err, "pack store %s", url);
	/* A bucket of ours made without Object Lock would refuse every
	 * locked upload: said now, before anything is recorded. */
	if (!locking)
		return pv_fail(err, PV_ERR, "pack store %s: bucket %s has no Object Lock (make it "
			       "with Object Lock enabled, or name a new bucket)", url, t.bucket);
	pv_log(PV_LOG_DEBUG, "store.probe", "pack store %s: bucket %s", url,
	       created ? "ready with Object Lock" : "already there, ours");
	return PV_OK;
}

int packstore_configure(struct db *db, struct keyring *kr, const char *url, const char *secret,
			struct pv_error *err)
{
	const char *ad[] = {PACKSTORE_SECRET_KIND, url};
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	struct s3_target t;
	struct db_stmt *st;
	int r;

	if ((r = s3_url_parse(url, &t, err)) < 0)
		return r;
	if ((r = keyring_seal_secret(kr, ad, 2, secret, &sealed, &sealed_len, err)) < 0)
		return r;
	if ((r = db_prepare(db, "INSERT INTO pack_store (id, kind, url, secret, created_at)"
				" VALUES (1, 's3', ?, ?, ?)", &st, err)) == PV_OK) {
		db_bind_text(st, 1, url, -1);
		db_bind_blob(st, 2, sealed, sealed_len);
		db_bind_int64(st, 3, pv_clock_now());
		r = db_step(st, err) < 0 ? pv_error_prefix(err, "catalog: pack store") : PV_OK;
		db_finalize(&st);
	}
	free(sealed);
	return r;
}

int packstore_recorded(struct db *db, bool *found_r, char url_r[PACKSTORE_URL_MAX],
		       char migration_r[16], struct pv_error *err)
{
	struct db_stmt *st;
	*found_r = false;
	url_r[0] = migration_r[0] = '\0';
	int r = db_prepare(db, "SELECT url, coalesce(migration, '') FROM pack_store WHERE id = 1",
			   &st, err);
	if (r < 0)
		return r;
	if ((r = db_step(st, err)) == DB_ROW) {
		const char *url = db_column_text(st, 0);
		const char *migration = db_column_text(st, 1);
		*found_r = true;
		snprintf(url_r, PACKSTORE_URL_MAX, "%s", url ? url : "");
		snprintf(migration_r, 16, "%s", migration ? migration : "");
	}
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

int packstore_set_migration(struct db *db, const char *state, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "UPDATE pack_store SET migration = ? WHERE id = 1", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, state, -1);
	if ((r = db_step(st, err)) < 0)
		r = pv_error_prefix(err, "catalog: pack store migration");
	else if (db_changes(st) != 1)
		r = pv_fail(err, PV_ERR, "catalog: pack store migration: no pack store recorded");
	else
		r = PV_OK;
	db_finalize(&st);
	return r;
}

static int count(struct db *db, const char *sql, int64_t *n_r, struct pv_error *err)
{
	int r = db_query_int(db, sql, n_r, err);
	return r < 0 ? pv_error_prefix(err, "catalog") : PV_OK;
}

int packstore_pending(struct db *db, int64_t *packs_r, int64_t *legacy_blobs_r,
		      struct pv_error *err)
{
	int r;
	*packs_r = *legacy_blobs_r = 0;
	if ((r = count(db, "SELECT count(*) FROM packs p WHERE p.stored_at IS NULL AND"
			   " p.removed_at IS NULL AND EXISTS (SELECT 1 FROM messages m WHERE"
			   " m.pack_id = p.id)", packs_r, err)) < 0)
		return r;
	return count(db, "SELECT count(*) FROM messages WHERE pack_id IS NULL AND disposed_at IS NULL",
		     legacy_blobs_r, err);
}

int64_t packstore_retain_until(const char *month, int64_t now)
{
	struct tm tm = {0};
	int y, m;
	char end;
	if (sscanf(month, "%4d-%2d%c", &y, &m, &end) != 2 || m < 1 || m > 12) {
		time_t t = (time_t)now;
		gmtime_r(&t, &tm);
		tm.tm_year += PV_PACK_LOCK_NEVER_YEARS;
		return (int64_t)timegm(&tm);
	}
	tm.tm_year = y - 1900 + (m == 12);
	tm.tm_mon = m == 12 ? 0 : m;
	tm.tm_mday = 1;
	return (int64_t)timegm(&tm);
}

/* ---- reading ---- */

struct pack_row {
	bool found, stored;
	char version[PACKSTORE_VERSION_MAX];
	int64_t size, retain_until;
	bool legal_hold;
};

static int pack_row(struct db *db, int64_t id, struct pack_row *row, struct pv_error *err)
{
	struct db_stmt *st;
	memset(row, 0, sizeof(*row));
	int r = db_prepare(db, "SELECT stored_at IS NOT NULL, store_version, size, retain_until,"
			       " legal_hold FROM packs WHERE id = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, id);
	if ((r = db_step(st, err)) == DB_ROW) {
		const char *v = db_column_text(st, 1);
		row->found = true;
		row->stored = db_column_int64(st, 0) != 0;
		snprintf(row->version, sizeof(row->version), "%s", v ? v : "");
		row->size = db_column_int64(st, 2);
		row->retain_until = db_column_int64(st, 3);
		row->legal_hold = db_column_int64(st, 4) != 0;
	}
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

/* An unnamed file in DIR/tmp for what a GET returns. */
static int temp_fd(struct packstore *ps, int *fd_r, struct pv_error *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/tmp", ps->dir);
	*fd_r = open(path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (*fd_r < 0)
		return pv_fail(err, PV_ERR, "temp file in %s: %s", path, strerror(errno));
	return PV_OK;
}

int packstore_open_range(struct packstore *ps, int64_t id, uint64_t off, uint64_t len, int *fd_r,
			 uint64_t *at_r, struct pv_error *err)
{
	char path[4096];
	struct pack_row row;
	int r, fd;

	pack_path(ps->dir, id, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0 || errno != ENOENT || !packstore_remote(ps)) {
		if (fd < 0)
			return pv_fail(err, errno == ENOENT ? PV_ENOTFOUND : PV_ERR, "pack %lld: %s",
				       (long long)id, strerror(errno));
		*fd_r = fd;
		*at_r = off;
		return PV_OK;
	}
	if ((r = pack_row(ps->db, id, &row, err)) < 0)
		return r;
	/* Not stored in this reader's snapshot, and no file: its upload may
	 * have committed after the snapshot began (the file goes once the
	 * row says stored), as under a verify while a harvest settles its
	 * packs. The store's newest version then holds it; the record's
	 * hash against the catalog still decides whether it is the one. */
	if (!row.stored)
		row.version[0] = '\0';
	if (ps->whole_packs) {
		for (size_t i = 0; i < PV_PACK_FETCH_CACHE; i++)
			if (ps->cache[i].fd >= 0 && ps->cache[i].id == id) {
				if ((*fd_r = dup(ps->cache[i].fd)) < 0)
					return pv_fail(err, PV_ERR, "dup: %s", strerror(errno));
				*at_r = off;
				return PV_OK;
			}
	}
	if ((r = temp_fd(ps, &fd, err)) < 0)
		return r;
	bool whole = ps->whole_packs;
	/* A whole stored pack is the range of the size its upload recorded
	 * (checked then by a HEAD): no HEAD now, and never more than that.
	 * A version not recorded yet (above) is sized by the store. */
	uint64_t want = !whole ? len : row.stored && row.size > 0 ? (uint64_t)row.size : 0;
	r = ps->ops->get(ps->impl, id, row.version, whole ? 0 : off, want, fd, err);
	if (r < 0) {
		close(fd);
		if (!row.stored && r == PV_ENOTFOUND)
			return pv_fail(err, PV_ENOTFOUND, "pack %lld: no file and not in the store",
				       (long long)id);
		return pv_error_prefix(err, "pack %lld", (long long)id);
	}
	if (whole) {
		unsigned slot = ps->cache_next++ % PV_PACK_FETCH_CACHE;
		if (ps->cache[slot].fd >= 0)
			close(ps->cache[slot].fd);
		ps->cache[slot].id = id;
		ps->cache[slot].fd = fd;
		if ((*fd_r = dup(fd)) < 0)
			return pv_fail(err, PV_ERR, "dup: %s", strerror(errno));
		*at_r = off;
		return PV_OK;
	}
	*fd_r = fd;
	*at_r = 0;
	return PV_OK;
}

bool packstore_present(struct packstore *ps, int64_t id)
{
	char path[4096];
	struct stat sb;
	struct pack_row row;
	struct packstore_stat st;
	struct pv_error e;

	pack_path(ps->dir, id, path, sizeof(path));
	if (stat(path, &sb) == 0)
		return true;
	if (!packstore_remote(ps))
		return false;
	if (ps->present_id == id)
		return true;
	if (pack_row(ps->db, id, &row, &e) < 0 || !row.stored ||
	    ps->ops->stat(ps->impl, id, row.version, &st, &e) < 0)
		return false;
	ps->present_id = id;
	return true;
}

/* ---- uploading ---- */

/* Is any message of pack id covered by an active hold? */
static int pack_held(struct db *db, int64_t id, bool *held_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT EXISTS (SELECT 1 FROM messages m JOIN hold_members hm"
			       " ON hm.message_id = m.id JOIN holds h ON h.id = hm.hold_id"
			       " WHERE m.pack_id = ? AND h.released_at IS NULL)", &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, id);
	*held_r = (r = db_step(st, err)) == DB_ROW && db_column_int64(st, 0) != 0;
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

/* v with room for element n (n elements of elem bytes in use, *cap
 * allocated; doubling from 8): v itself, a new block, or NULL when out
 * of memory (v is then left as it was). */
static void *room_for_one(void *v, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap)
		return v;
	size_t ncap = *cap ? 2 * *cap : 8;
	void *nv = realloc(v, ncap * elem);
	if (nv != NULL)
		*cap = ncap;
	return nv;
}

struct upload {
	int64_t id;
	char month[16];
	int64_t size; /* the end of its last committed record */
};

static int unstored(struct db *db, struct upload **v_r, size_t *n_r, struct pv_error *err)
{
	struct db_stmt *st;
	size_t cap = 0;
	*v_r = NULL;
	*n_r = 0;
	/* The latest month of its bucket and of the buckets its messages
	 * moved to since ('never' sorts after every YYYY-MM): the larger of
	 * the two is taken here, a scalar max() being SQLite's only. */
	int r = db_prepare(db, "SELECT p.id, b.expiry_month, (SELECT max(mb.expiry_month) FROM"
			       " messages m JOIN buckets mb ON mb.id = m.bucket_id WHERE"
			       " m.pack_id = p.id AND m.disposed_at IS NULL),"
			       " (SELECT max(pack_offset + pack_length) FROM messages m WHERE"
			       " m.pack_id = p.id) FROM packs p JOIN buckets b ON b.id = p.bucket_id"
			       " WHERE p.sealed_at IS NOT NULL AND p.stored_at IS NULL AND"
			       " p.removed_at IS NULL ORDER BY p.id", &st, err);
	if (r < 0)
		return r;
	while ((r = db_step(st, err)) == DB_ROW) {
		struct upload *v = room_for_one(*v_r, *n_r, &cap, sizeof(*v));
		if (v == NULL) {
			r = pv_fail(err, PV_ERR, "out of memory");
			break;
		}
		*v_r = v;
		struct upload *u = &(*v_r)[(*n_r)++];
		const char *m = db_column_text(st, 1), *moved = db_column_text(st, 2);
		if (m == NULL || (moved != NULL && strcmp(moved, m) > 0))
			m = moved;
		u->id = db_column_int64(st, 0);
		snprintf(u->month, sizeof(u->month), "%s", m ? m : "never");
		u->size = db_column_is_null(st, 3) ? PACK_HEADER_BYTES : db_column_int64(st, 3);
	}
	db_finalize(&st);
	return r < 0 ? pv_error_prefix(err, "catalog") : PV_OK;
}

static int record_stored(struct db *db, const struct upload *u, const char *version,
			 int64_t retain_until, bool hold, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "UPDATE packs SET stored_at = ?, store_version = ?, size = ?,"
			       " retain_until = ?, legal_hold = ? WHERE id = ? AND stored_at IS NULL",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, pv_clock_now());
	db_bind_text(st, 2, version, -1);
	db_bind_int64(st, 3, u->size);
	db_bind_int64(st, 4, retain_until);
	db_bind_int64(st, 5, hold ? 1 : 0);
	db_bind_int64(st, 6, u->id);
	r = db_step(st, err) < 0 ? pv_error_prefix(err, "catalog") : PV_OK;
	db_finalize(&st);
	return r;
}

/* One pack: PUT, HEAD of that version, the catalog row, then the file. */
static int upload_one(struct packstore *ps, const struct upload *u, struct pv_error *err)
{
	char path[4096], version[PACKSTORE_VERSION_MAX];
	struct packstore_stat st;
	struct stat sb;
	bool hold;
	int r;

	int64_t until = packstore_retain_until(u->month, pv_clock_now());
	pack_path(ps->dir, u->id, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pv_fail(err, errno == ENOENT ? PV_ENOTFOUND : PV_ERR, "%s: %s", path,
			       strerror(errno));
	if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size < (uint64_t)u->size) {
		close(fd);
		return pv_fail(err, PV_EINTEGRITY, "%s is shorter than its records (%lld bytes): "
			       "not uploaded, left for verify", path, (long long)u->size);
	}
	if ((r = pack_held(ps->db, u->id, &hold, err)) < 0 ||
	    (r = ps->ops->put(ps->impl, u->id, fd, (uint64_t)u->size, until, hold, version, err)) < 0) {
		close(fd);
		return r;
	}
	close(fd);
	if ((r = ps->ops->stat(ps->impl, u->id, version, &st, err)) < 0)
		return pv_error_prefix(err, "checking pack %lld after its upload", (long long)u->id);
	if (st.size != (uint64_t)u->size || strcmp(st.lock_mode, "COMPLIANCE") != 0 ||
	    st.retain_until < until)
		return pv_fail(err, PV_EINTEGRITY, "pack %lld: the store holds %llu bytes, lock "
			       "\"%s\" until %lld after the upload of %lld bytes locked until %lld: "
			       "kept local", (long long)u->id, (unsigned long long)st.size,
			       st.lock_mode, (long long)st.retain_until, (long long)u->size,
			       (long long)until);
	if ((r = record_stored(ps->db, u, version, until, hold, err)) < 0)
		return r;
	/* Recorded (autocommit): now the local copy may go. */
	if (unlink(path) < 0 && errno != ENOENT)
		pv_log(PV_LOG_WARN, "store.unlink", "%s: %s (the stored copy is the pack now)", path,
		       strerror(errno));
	return PV_OK;
}

/* Packs with committed records that no writer holds and none sealed: left
 * by a session whose commit failed (pack_set_abandon) or that died. With
 * no new mail for their bucket no writer would ever take them again, so
 * they are sealed here, under the writer lock (a writer that looked one
 * up before checks sealed_at once it has the lock, pack.c). */
static void seal_orphans(struct packstore *ps)
{
	struct db_stmt *st, *up;
	int64_t *ids = NULL;
	size_t n = 0;
	char path[4096];
	struct pv_error e;
	if (db_prepare(ps->db, "SELECT p.id FROM packs p WHERE p.sealed_at IS NULL AND"
			       " p.removed_at IS NULL AND EXISTS (SELECT 1 FROM messages m"
			       " WHERE m.pack_id = p.id) ORDER BY p.id", &st, &e) < 0 ||
	    db_collect_ids(&st, &ids, &n, &e) < 0)
		return;
	if (n > 0 && db_prepare(ps->db, "UPDATE packs SET sealed_at = ? WHERE id = ?"
					" AND sealed_at IS NULL", &up, &e) == PV_OK) {
		for (size_t i = 0; i < n; i++) {
			pack_path(ps->dir, ids[i], path, sizeof(path));
			int fd = open(path, O_RDWR | O_CLOEXEC);
			if (fd < 0)
				continue; /* verify reports a missing pack */
			if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
				db_reset(up);
				db_bind_int64(up, 1, pv_clock_now());
				db_bind_int64(up, 2, ids[i]);
				if (db_step(up, &e) < 0) /* the next flush tries again */
					pv_log(PV_LOG_WARN, "store.upload", "pack %lld: %s",
					       (long long)ids[i], e.msg);
			}
			close(fd);
		}
		db_finalize(&up);
	}
	free(ids);
}

int packstore_flush(struct packstore *ps, int64_t *stored_r, int64_t *failed_r,
		    struct pv_error *err)
{
	struct upload *v = NULL;
	size_t n = 0;
	char dir[4096];
	int r;

	*stored_r = *failed_r = 0;
	if (!packstore_remote(ps))
		return PV_OK;
	seal_orphans(ps);
	if ((r = unstored(ps->db, &v, &n, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct pv_error e;
		/* A sealed pack that is not in this data directory is another
		 * harvester's to upload. */
		if (pack_file_elsewhere(ps->dir, ps->db, v[i].id))
			continue;
		if (upload_one(ps, &v[i], &e) == PV_OK) {
			(*stored_r)++;
			pv_log(PV_LOG_INFO, "store.upload", "pack %lld stored in %s",
			       (long long)v[i].id, ps->url);
		} else {
			(*failed_r)++;
			pv_log(PV_LOG_WARN, "store.upload", "pack %lld stays in the data directory "
			       "(retried at the next harvest): %s", (long long)v[i].id, e.msg);
		}
	}
	free(v);
	snprintf(dir, sizeof(dir), "%s/packs", ps->dir);
	if (*stored_r > 0)
		(void)pv_fsync_dir(dir, NULL);
	return PV_OK;
}

int packstore_drop_stored_files(struct packstore *ps, int64_t *removed_r, struct pv_error *err)
{
	struct db_stmt *st;
	char dir[4096];
	struct dirent *e;
	int r;

	/* The files in packs/, not the catalog's stored packs: after their
	 * uploads only a few packs are local, however big the archive. */
	*removed_r = 0;
	snprintf(dir, sizeof(dir), "%s/packs", ps->dir);
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? PV_OK : pv_fail(err, PV_ERR, "%s: %s", dir, strerror(errno));
	if ((r = db_prepare(ps->db, "SELECT 1 FROM packs WHERE id = ? AND stored_at IS NOT"
				    " NULL AND removed_at IS NULL", &st, err)) < 0) {
		closedir(d);
		return r;
	}
	while (r == PV_OK && (e = readdir(d)) != NULL) {
		int64_t id = pack_file_id(e->d_name);
		if (id == 0)
			continue;
		db_reset(st);
		db_bind_int64(st, 1, id);
		int k = db_step(st, err);
		if (k < 0)
			r = k;
		else if (k == DB_ROW && (r = ps->local_ops->remove(ps->local, id, "", err)) == PV_OK)
			(*removed_r)++;
	}
	db_finalize(&st);
	closedir(d);
	return r;
}

/* ---- holds ---- */

int packstore_sync_holds(struct packstore *ps, int64_t *changed_r, struct pv_error *err)
{
	struct db_stmt *st, *up = NULL;
	int r;

	*changed_r = 0;
	if (!packstore_remote(ps))
		return PV_OK;
	/* Each stored pack whose legal hold is not what its messages need
	 * (want as an integer: legal_hold is one). */
	if ((r = db_prepare(ps->db, "SELECT id, store_version, want FROM (SELECT p.id,"
				    " p.store_version, p.legal_hold, CASE WHEN EXISTS (SELECT 1 FROM"
				    " messages m JOIN hold_members hm ON hm.message_id = m.id JOIN holds h"
				    " ON h.id = hm.hold_id WHERE m.pack_id = p.id AND h.released_at IS"
				    " NULL) THEN 1 ELSE 0 END AS want FROM packs p WHERE p.stored_at IS"
				    " NOT NULL AND p.removed_at IS NULL) AS s WHERE want != legal_hold"
				    " ORDER BY id", &st, err)) < 0)
		return r;
	if ((r = db_prepare(ps->db, "UPDATE packs SET legal_hold = ? WHERE id = ?", &up, err)) < 0) {
		db_finalize(&st);
		return r;
	}
	/* Collected first: the updates change what the query reads. */
	struct { int64_t id; char version[PACKSTORE_VERSION_MAX]; bool want; } *v = NULL;
	size_t n = 0, cap = 0;
	while ((r = db_step(st, err)) == DB_ROW) {
		void *nv = room_for_one(v, n, &cap, sizeof(*v));
		if (nv == NULL) {
			r = pv_fail(err, PV_ERR, "out of memory");
			break;
		}
		v = nv;
		const char *ver = db_column_text(st, 1);
		v[n].id = db_column_int64(st, 0);
		snprintf(v[n].version, sizeof(v[n].version), "%s", ver ? ver : "");
		v[n].want = db_column_int64(st, 2) != 0;
		n++;
	}
	db_finalize(&st);
	if (r == DB_DONE)
		r = PV_OK;
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		if ((r = ps->ops->hold(ps->impl, v[i].id, v[i].version, v[i].want, err)) < 0) {
			pv_error_prefix(err, "legal hold of pack %lld", (long long)v[i].id);
			break;
		}
		db_reset(up);
		db_bind_int64(up, 1, v[i].want ? 1 : 0);
		db_bind_int64(up, 2, v[i].id);
		if ((r = db_step(up, err)) < 0) {
			r = pv_error_prefix(err, "catalog");
		} else {
			r = PV_OK;
			(*changed_r)++;
		}
	}
	db_finalize(&up);
	free(v);
	return r;
}

/* ---- locks ---- */

int packstore_sync_locks(struct packstore *ps, int64_t *changed_r, struct pv_error *err)
{
	struct db_stmt *st, *up = NULL;
	int r;

	*changed_r = 0;
	if (!packstore_remote(ps))
		return PV_OK;
	if ((r = db_prepare(ps->db, "SELECT p.id, p.store_version, p.retain_until,"
				    " max(b.expiry_month) FROM packs p JOIN messages m ON"
				    " m.pack_id = p.id JOIN buckets b ON b.id = m.bucket_id WHERE"
				    " p.stored_at IS NOT NULL AND p.removed_at IS NULL AND"
				    " m.disposed_at IS NULL GROUP BY p.id ORDER BY p.id", &st, err)) < 0)
		return r;
	struct { int64_t id, until; char version[PACKSTORE_VERSION_MAX]; } *v = NULL;
	size_t n = 0, cap = 0;
	int64_t now = pv_clock_now();
	while ((r = db_step(st, err)) == DB_ROW) {
		const char *ver = db_column_text(st, 1);
		const char *month = db_column_text(st, 3);
		int64_t want = packstore_retain_until(month ? month : "never", now);
		if (want <= db_column_int64(st, 2))
			continue;
		void *nv = room_for_one(v, n, &cap, sizeof(*v));
		if (nv == NULL) {
			r = pv_fail(err, PV_ERR, "out of memory");
			break;
		}
		v = nv;
		v[n].id = db_column_int64(st, 0);
		v[n].until = want;
		snprintf(v[n].version, sizeof(v[n].version), "%s", ver ? ver : "");
		n++;
	}
	db_finalize(&st);
	if (r == DB_DONE)
		r = PV_OK;
	if (r == PV_OK &&
	    (r = db_prepare(ps->db, "UPDATE packs SET retain_until = ? WHERE id = ?", &up, err)) < 0)
		n = 0;
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		if ((r = ps->ops->extend(ps->impl, v[i].id, v[i].version, v[i].until, err)) < 0) {
			pv_error_prefix(err, "lock of pack %lld", (long long)v[i].id);
			break;
		}
		db_reset(up);
		db_bind_int64(up, 1, v[i].until);
		db_bind_int64(up, 2, v[i].id);
		if ((r = db_step(up, err)) < 0) {
			r = pv_error_prefix(err, "catalog");
		} else {
			r = PV_OK;
			(*changed_r)++;
		}
	}
	db_finalize(&up);
	free(v);
	return r;
}

/* ---- disposal ---- */

int packstore_remove(struct packstore *ps, int64_t id, struct pv_error *err)
{
	struct pack_row row;
	int r;
	if ((r = ps->local_ops->remove(ps->local, id, "", err)) < 0)
		return r;
	if (!packstore_remote(ps))
		return PV_OK;
	if ((r = pack_row(ps->db, id, &row, err)) < 0 || !row.stored)
		return r;
	if ((r = ps->ops->remove(ps->impl, id, row.version, err)) < 0) {
		char when[32];
		s3_time_format(row.retain_until, when);
		if (r == PV_EPERM)
			return pv_error_prefix(err, "pack %lld is locked (until %s%s)", (long long)id,
					       when, row.legal_hold ? ", and under legal hold" : "");
		return pv_error_prefix(err, "pack %lld", (long long)id);
	}
	return PV_OK;
}

/* ---- verify ---- */

static void say(packstore_problem_fn *problem, void *ctx, bool harmless, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void say(packstore_problem_fn *problem, void *ctx, bool harmless, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	problem(ctx, harmless, msg);
}

int packstore_check(struct packstore *ps, packstore_problem_fn *problem, void *ctx,
		    int64_t *checked_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r;

	*checked_r = 0;
	if (!packstore_remote(ps))
		return PV_OK;
	if ((r = db_prepare(ps->db, "SELECT id, stored_at IS NOT NULL, store_version, size,"
				    " retain_until, legal_hold FROM packs WHERE sealed_at IS NOT"
				    " NULL AND removed_at IS NULL ORDER BY id", &st, err)) < 0)
		return r;
	while (db_step(st, NULL) == DB_ROW) {
		int64_t id = db_column_int64(st, 0);
		const char *ver = db_column_text(st, 2);
		int64_t size = db_column_int64(st, 3), until = db_column_int64(st, 4);
		bool hold = db_column_int64(st, 5) != 0;
		struct packstore_stat s;
		struct pv_error e;
		char when[32];
		if (db_column_int64(st, 1) == 0) {
			say(problem, ctx, true, "pack %lld is sealed but not yet in the store %s (kept "
			    "in the data directory; the next harvest uploads it)", (long long)id, ps->url);
			continue;
		}
		(*checked_r)++;
		int k = ps->ops->stat(ps->impl, id, ver ? ver : "", &s, &e);
		if (k == PV_ENOTFOUND) {
			say(problem, ctx, false, "pack %lld is missing from the store %s without a "
			    "disposal record (unauthorised deletion)", (long long)id, ps->url);
			continue;
		}
		if (k < 0) {
			say(problem, ctx, false, "pack %lld: the store cannot be asked: %s", (long long)id,
			    e.msg);
			continue;
		}
		s3_time_format(until, when);
		if (s.size != (uint64_t)size)
			say(problem, ctx, false, "pack %lld in the store is %llu bytes, the catalog says "
			    "%lld", (long long)id, (unsigned long long)s.size, (long long)size);
		if (strcmp(s.lock_mode, "COMPLIANCE") != 0 || s.retain_until < until)
			say(problem, ctx, false, "pack %lld in the store is not locked as recorded "
			    "(COMPLIANCE until %s): lock \"%s\"", (long long)id, when, s.lock_mode);
		if (s.legal_hold != hold)
			say(problem, ctx, false, "pack %lld: the store's legal hold is %s, the catalog "
			    "says %s", (long long)id, s.legal_hold ? "on" : "off", hold ? "on" : "off");
	}
	db_finalize(&st);
	return PV_OK;
}
