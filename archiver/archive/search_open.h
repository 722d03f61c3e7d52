#ifndef PV_ARCHIVE_SEARCH_OPEN_H
#define PV_ARCHIVE_SEARCH_OPEN_H

/* The one way popvault reaches an archive's search index: its backend
 * (search_backend.h), opened at the first use and kept in the archive
 * until archive_close. FTS5 on the catalog's SQLite handle when the
 * catalog is SQLite (its index tables checked once, index_ensure_schema);
 * PostgreSQL on the catalog's own connection (cat->conn) when the catalog
 * is there, its tables made when missing. Either way an index write made
 * inside a catalog transaction is part of it. *b_r is borrowed from ar. */

#include "archiver/archive/search_backend.h"
#include "archiver/store/datadir.h"

int archive_search_backend(struct archive *ar, struct search_backend **b_r,
			   struct pv_error *err) PV_WARN_UNUSED;

#endif
