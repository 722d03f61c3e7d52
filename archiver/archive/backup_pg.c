/* The catalog of an archive on PostgreSQL, backed up as a SQLite catalog
 * file (backup_int.h): restore then checks it as it checks any backup. */
#include "archiver/archive/backup_int.h"

#include "archiver/store/catalog.h"
#include "archiver/store/catalog_copy.h"

int backup_catalog_from_pg(struct db *pg, const char *path, struct pv_error *err)
{
	struct catalog_copy_report rep;
	struct db *sq = NULL;
	struct db_stmt *st = NULL;
	int r;
	if ((r = db_open(path, DB_OPEN_CREATE, &sq, err)) < 0)
		return r;
	if ((r = catalog_migrate(db_sqlite(sq), catalog_schema_version(), err)) < 0 ||
	    (r = db_begin_read(pg, err)) < 0)
		goto out;
	if ((r = db_begin(sq, err)) < 0) {
		db_rollback(pg);
		goto out;
	}
	/* One REPEATABLE READ snapshot: every table as of one instant. */
	if ((r = catalog_copy(pg, sq, &rep, err)) == PV_OK &&
	    (r = catalog_copy_recount(pg, sq, &rep, err)) == PV_OK &&
	    /* the copy's FTS5 index is empty: a restored archive builds it */
	    (r = db_prepare(sq, "UPDATE meta SET value = '0' WHERE key = 'index.through'", &st,
			    err)) == PV_OK) {
		r = db_step(st, err);
		db_finalize(&st);
	}
	if (r >= 0)
		r = db_commit(sq, err);
	else
		db_rollback(sq);
	db_rollback(pg);
out:
	db_close(&sq);
	return r < 0 ? r : PV_OK;
}
