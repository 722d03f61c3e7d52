#include "archiver/archive/search_open.h"

#include "archiver/lib/db.h"

int archive_search_backend(struct archive *ar, struct search_backend **b_r,
			   struct pv_error *err)
{
	*b_r = ar->search;
	if (ar->search != NULL)
		return PV_OK;
	struct db *conn = ar->cat->conn;
	int r;
	if (db_kind(conn) == DB_POSTGRES) {
		r = search_backend_pg_attach(conn, &ar->search, err);
	} else if ((r = index_ensure_schema(db_sqlite(conn), err)) == PV_OK) {
		r = search_backend_fts5_open(db_sqlite(conn), &ar->search, err);
	}
	if (ar->search != NULL)
		ar->search_close = search_backend_close;
	*b_r = ar->search;
	return r;
}
