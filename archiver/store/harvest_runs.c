#include "archiver/store/harvest_runs.h"

int harvest_runs_add(struct db *db, const struct harvest_run *run, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "INSERT INTO harvest_runs (account_id, started_at, finished_at,"
			       " fetched, deleted, residue, outcome) VALUES (?,?,?,?,?,?,?)",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, run->account_id);
	db_bind_int64(st, 2, run->started_at);
	db_bind_int64(st, 3, run->finished_at);
	db_bind_int64(st, 4, run->fetched);
	db_bind_int64(st, 5, run->deleted);
	db_bind_int64(st, 6, run->residue);
	db_bind_text(st, 7, run->outcome, -1);
	r = db_step(st, err);
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}
