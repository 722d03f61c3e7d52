/* Heartbeat gaps from the audit log's time index (auditlog.h). */
#include "audit/auditlog.h"

int auditlog_index_gaps(struct tlog *t, int64_t gap_s, uint64_t *gaps_r, int64_t *last_r,
			struct pv_error *err)
{
	sqlite3 *db = tlog_db(t);
	sqlite3_stmt *st = NULL;
	int r = PV_OK;

	*gaps_r = 0;
	*last_r = -1;
	if (sqlite3_table_column_metadata(db, NULL, "audit_event", "time", NULL, NULL, NULL, NULL,
					  NULL) != SQLITE_OK)
		return PV_OK; /* an archive whose log has no index yet: nothing known */
	if (sqlite3_prepare_v2(db,
			       "SELECT count(*) FILTER (WHERE d > ?), max(time) FROM"
			       " (SELECT time, time - lag(time) OVER (ORDER BY seq) AS d"
			       "  FROM audit_event)",
			       -1, &st, NULL) != SQLITE_OK)
		return pv_fail(err, PV_ERR, "audit index: %s", sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, gap_s);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*gaps_r = (uint64_t)sqlite3_column_int64(st, 0);
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			*last_r = sqlite3_column_int64(st, 1);
	} else {
		r = pv_fail(err, PV_ERR, "audit index: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return r;
}
