#include "archiver/store/harvest_runs.h"

#include "archiver/store/catalog.h"

int harvest_runs_add(sqlite3 *db, const struct harvest_run *run, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "INSERT INTO harvest_runs (account_id, started_at, finished_at,"
				    " fetched, deleted, residue, outcome) VALUES (?,?,?,?,?,?,?)",
				&st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, run->account_id);
	sqlite3_bind_int64(st, 2, run->started_at);
	sqlite3_bind_int64(st, 3, run->finished_at);
	sqlite3_bind_int64(st, 4, run->fetched);
	sqlite3_bind_int64(st, 5, run->deleted);
	sqlite3_bind_int64(st, 6, run->residue);
	sqlite3_bind_text(st, 7, run->outcome, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}
