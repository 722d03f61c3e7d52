#include "archiver/archive/search.h"

#include <stdlib.h>
#include <string.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/indexer.h"
#include "archiver/archive/search_open.h"
#include "archiver/index/query.h"

int archive_search(struct archive *ar, const char *actor, const char *query,
		   const struct index_order *order, int64_t offset, int64_t limit,
		   int64_t count_cap, struct archive_search_result *res, struct pv_error *err)
{
	int64_t *ids = NULL;
	struct search_backend *sb;
	int r;

	memset(res, 0, sizeof(*res));
	res->offset = offset;
	res->limit = limit;
	if ((r = indexer_catch_up(ar, NULL, NULL, err)) < 0 ||
	    (r = archive_search_backend(ar, &sb, err)) < 0 ||
	    (r = search_backend_search(sb, query, order, count_cap, limit, offset, &res->hits,
				       &res->total, &res->total_exact, err)) < 0)
		goto out;
	/* The query is personal data, kept beside the log; the ids shown are hashed. */
	if ((ids = calloc(res->hits.n + 1, sizeof(*ids))) == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < res->hits.n; i++)
		ids[i] = res->hits.v[i].id;
	r = archive_audit_search(ar, actor, query, (uint64_t)res->total, res->total_exact, ids,
				 res->hits.n, err);
out:
	free(ids);
	if (r < 0) { /* no entry, no result */
		index_hits_free(&res->hits);
		res->total = 0;
		res->total_exact = true;
	}
	return r;
}

void archive_search_result_free(struct archive_search_result *res)
{
	index_hits_free(&res->hits);
}

int archive_search_check(const char *query, size_t *column_r, struct pv_error *err)
{
	struct index_query *q = NULL;
	int r = index_query_parse(query, &q, err);
	index_query_free(&q);
	if (column_r != NULL)
		*column_r = r < 0 ? index_query_error_column(err) : 0;
	return r;
}
