#ifndef PV_INDEX_INDEX_SQL_H
#define PV_INDEX_INDEX_SQL_H

/* Inside archiver/index: the count of a compiled query, shared by
 * index.c's search and index_par.c's count on two cores. */

#include <sqlite3.h>
#include <stdint.h>

#include "archiver/index/query.h"
#include "archiver/lib/error.h"

/* Binds q's parameters from 1 on (the MATCH, q->lo, q->hi as far as they
 * narrow, then q's own); returns the next free index. The text is bound
 * SQLITE_STATIC: q outlives the statement's use. */
int index_sql_bind(sqlite3_stmt *st, const struct index_query_sql *q);

/* The number of q's matches with a sort key in [q->lo, q->hi), in db's
 * current read transaction (or one of its own), counting no further than
 * max (> 0; the engine stops at the max-th: a LIMIT under the count), or
 * every one (INDEX_COUNT_ALL, index.h). */
int index_sql_count(sqlite3 *db, const struct index_query_sql *q, int64_t max, int64_t *n_r,
	struct pv_error *err);

#endif
