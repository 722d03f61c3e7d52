/* Heartbeat gaps from the audit log's time index (auditlog.h). */
#include "audit/auditlog.h"

int auditlog_index_gaps(struct tlog *t, int64_t gap_s, uint64_t *gaps_r, int64_t *last_r,
			struct pv_error *err)
{
	struct db *db = tlog_db(t);
	struct db_stmt *st = NULL;
	int r;

	*gaps_r = 0;
	*last_r = -1;
	if (!auditlog_has_index(db))
		return PV_OK; /* an archive whose log has no index yet: nothing known */
	if ((r = db_prepare(db,
			    "SELECT count(*) FILTER (WHERE d > ?), max(time) FROM"
			    " (SELECT time, time - lag(time) OVER (ORDER BY seq) AS d"
			    "  FROM audit_event) AS g",
			    &st, err)) < 0)
		return pv_error_prefix(err, "audit index");
	db_bind_int64(st, 1, gap_s);
	if ((r = db_step(st, err)) == DB_ROW) {
		*gaps_r = (uint64_t)db_column_int64(st, 0);
		if (!db_column_is_null(st, 1))
			*last_r = db_column_int64(st, 1);
		r = PV_OK;
	} else {
		r = r < 0 ? pv_error_prefix(err, "audit index")
			  : pv_fail(err, PV_ERR, "audit index: no row");
	}
	db_finalize(&st);
	return r;
}
