#include "archiver/store/witness_state.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "archiver/store/migrations.h"

int witness_state_open(const char *path, int create, struct db **db_r, struct pv_error *err)
{
	struct stat st;
	struct db *db = NULL;
	int r;
	*db_r = NULL;
	if (create && stat(path, &st) == 0)
		return pv_fail(err, PV_ERR, "%s already exists", path);
	if (!create && stat(path, &st) != 0)
		return pv_fail(err, PV_ERR, "no witness state at %s (popvault witness init): %s", path,
			       strerror(errno));
	if ((r = db_open(path, create ? DB_OPEN_CREATE : 0, &db, err)) < 0)
		return r;
	if ((r = db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err)) < 0 ||
	    (r = migrations_apply(db_sqlite(db), &migrations_witness, migrations_witness.count,
				  err)) < 0) {
		db_close(&db);
		return r;
	}
	*db_r = db;
	return 0;
}

int witness_state_get(struct db *db, const char *origin, uint64_t *size_r, uint8_t root_r[32],
		      struct pv_error *err)
{
	struct db_stmt *st;
	size_t len;
	int r = db_prepare(db, "SELECT size, root FROM witness_logs WHERE origin = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, origin, -1);
	if ((r = db_step(st, err)) == DB_DONE) {
		r = PV_ENOTFOUND;
	} else if (r == DB_ROW) {
		const void *root = db_column_blob(st, 1, &len);
		if (len != 32) {
			r = pv_fail(err, PV_ERR, "witness state: the root of %s is damaged", origin);
		} else {
			*size_r = (uint64_t)db_column_int64(st, 0);
			memcpy(root_r, root, 32);
			r = PV_OK;
		}
	}
	db_finalize(&st);
	return r;
}

/* Steps a statement that returns no row and finalizes it. */
static int run(struct db_stmt **st, struct pv_error *err)
{
	int r = db_step(*st, err);
	db_finalize(st);
	return r < 0 ? r : PV_OK;
}

int witness_state_put(struct db *db, const char *origin, uint64_t size, const uint8_t root[32],
		      const void *note, size_t len, int64_t now, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "INSERT INTO witness_logs (origin, size, root, note, updated_at)"
			       " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (origin) DO UPDATE"
			       " SET size = ?2, root = ?3, note = ?4, updated_at = ?5", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, origin, -1);
	db_bind_int64(st, 2, (int64_t)size);
	db_bind_blob(st, 3, root, 32);
	db_bind_blob(st, 4, note, len);
	db_bind_int64(st, 5, now);
	return run(&st, err);
}

int witness_state_refusal(struct db *db, const char *origin, int status, uint64_t old_size,
			  uint64_t size, const void *req, size_t len, int64_t now,
			  struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "INSERT INTO witness_refusals (origin, status, old_size, size,"
			       " request, at) VALUES (?,?,?,?,?,?)", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, origin, -1);
	db_bind_int64(st, 2, status);
	db_bind_int64(st, 3, (int64_t)old_size);
	db_bind_int64(st, 4, (int64_t)size);
	db_bind_blob(st, 5, req, len);
	db_bind_int64(st, 6, now);
	return run(&st, err);
}
