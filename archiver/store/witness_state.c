#include "archiver/store/witness_state.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "archiver/store/catalog.h"
#include "archiver/store/migrations.h"

int witness_state_open(const char *path, int create, sqlite3 **db_r, struct pv_error *err)
{
	struct stat st;
	sqlite3 *db = NULL;
	int r;
	*db_r = NULL;
	if (create && stat(path, &st) == 0)
		return pv_fail(err, PV_ERR, "%s already exists", path);
	if (!create && stat(path, &st) != 0)
		return pv_fail(err, PV_ERR, "no witness state at %s (popvault witness init): %s", path,
			       strerror(errno));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		r = pv_fail(err, PV_ERR, "cannot open %s: %s", path,
			    db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return r;
	}
	sqlite3_busy_timeout(db, 10000);
	if ((r = catalog_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err)) < 0 ||
	    (r = migrations_apply(db, &migrations_witness, migrations_witness.count, err)) < 0) {
		sqlite3_close(db);
		return r;
	}
	*db_r = db;
	return 0;
}

int witness_state_get(sqlite3 *db, const char *origin, uint64_t *size_r, uint8_t root_r[32],
		      struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT size, root FROM witness_logs WHERE origin = ?", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = PV_ENOTFOUND;
	} else if (rc != SQLITE_ROW) {
		r = pv_fail(err, PV_ERR, "witness state: %s", sqlite3_errmsg(db));
	} else if (sqlite3_column_bytes(st, 1) != 32) {
		r = pv_fail(err, PV_ERR, "witness state: the root of %s is damaged", origin);
	} else {
		*size_r = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(root_r, sqlite3_column_blob(st, 1), 32);
	}
	sqlite3_finalize(st);
	return r;
}

int witness_state_put(sqlite3 *db, const char *origin, uint64_t size, const uint8_t root[32],
		      const void *note, size_t len, int64_t now, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "INSERT INTO witness_logs (origin, size, root, note, updated_at)"
				    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (origin) DO UPDATE"
				    " SET size = ?2, root = ?3, note = ?4, updated_at = ?5", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	sqlite3_bind_blob(st, 3, root, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, note, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "witness state: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

int witness_state_refusal(sqlite3 *db, const char *origin, int status, uint64_t old_size,
			  uint64_t size, const void *req, size_t len, int64_t now,
			  struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "INSERT INTO witness_refusals (origin, status, old_size, size,"
				    " request, at) VALUES (?,?,?,?,?,?)", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, status);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)old_size);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)size);
	sqlite3_bind_blob(st, 5, req, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "witness state: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}
