/* Search (legal): GET /api/v1/search and /api/v1/search/check. */
#include <string.h>

#include "archiver/archive/search.h"
#include "archiver/http/handlers.h"
#include "archiver/http/legal_json.h"

#define SEARCH_LIMIT_DEFAULT 50

/* The query argument q ("" when absent). */
static int query_arg(struct http_request *rq, char q[PV_QUERY_MAX + 1])
{
	int r = http_query_get(rq, "q", q, PV_QUERY_MAX + 1, &rq->err);
	if (r == PV_ENOTFOUND) {
		q[0] = '\0';
		return PV_OK;
	}
	return r;
}

/* sort=date|relevance, order=desc|asc into o. */
static int order_args(struct http_request *rq, struct index_order *o, const char **sort_r,
		      const char **order_r)
{
	char sort[16] = "date", order[8] = "desc";
	int r;
	if (((r = http_query_get(rq, "sort", sort, sizeof(sort), &rq->err)) < 0 && r != PV_ENOTFOUND) ||
	    ((r = http_query_get(rq, "order", order, sizeof(order), &rq->err)) < 0 &&
	     r != PV_ENOTFOUND))
		return PV_EUSAGE;
	if (strcmp(sort, "date") != 0 && strcmp(sort, "relevance") != 0)
		return pv_fail(&rq->err, PV_EUSAGE, "sort is \"date\" or \"relevance\"");
	if (strcmp(order, "desc") != 0 && strcmp(order, "asc") != 0)
		return pv_fail(&rq->err, PV_EUSAGE, "order is \"desc\" or \"asc\"");
	o->by = sort[0] == 'd' ? INDEX_SORT_DATE : INDEX_SORT_RELEVANCE;
	o->ascending = order[0] == 'a';
	*sort_r = o->by == INDEX_SORT_DATE ? "date" : "relevance";
	*order_r = o->ascending ? "asc" : "desc";
	return PV_OK;
}

/* total=exact counts every match; absent, up to PV_SEARCH_TOTAL_CAP. */
static int total_arg(struct http_request *rq, int64_t *count_cap_r)
{
	char total[8];
	int r = http_query_get(rq, "total", total, sizeof(total), &rq->err);
	*count_cap_r = PV_SEARCH_TOTAL_CAP;
	if (r == PV_ENOTFOUND)
		return PV_OK;
	if (r < 0 || strcmp(total, "exact") != 0)
		return pv_fail(&rq->err, PV_EUSAGE, "total is \"exact\" (count every match) or"
			" absent (count up to %d)", PV_SEARCH_TOTAL_CAP);
	*count_cap_r = INDEX_COUNT_ALL;
	return PV_OK;
}

int h_search(struct http_request *rq, struct http_response *rs)
{
	char q[PV_QUERY_MAX + 1];
	struct index_order o;
	struct archive_search_result res;
	const char *sort = "date", *order = "desc";
	int64_t offset, limit, count_cap;
	int r;

	if ((r = query_arg(rq, q)) < 0 || (r = order_args(rq, &o, &sort, &order)) < 0 ||
	    (r = total_arg(rq, &count_cap)) < 0 ||
	    (r = http_query_int(rq, "offset", 0, 0, INT64_MAX / 2, &offset, &rq->err)) < 0 ||
	    (r = http_query_int(rq, "limit", SEARCH_LIMIT_DEFAULT, 0, PV_SEARCH_LIMIT_MAX, &limit,
				&rq->err)) < 0)
		return PV_EUSAGE;
	if (archive_search_check(q, NULL, &rq->err) < 0)
		return legal_json_bad_query(rs, &rq->err);
	/* Audited inside, before a single hit comes back. */
	if ((r = archive_search(rq->ar, rq->actor, q, &o, offset, limit, count_cap, &res,
				&rq->err)) < 0) {
		archive_search_result_free(&res);
		return r;
	}
	json_t *hits = json_array();
	for (size_t i = 0; hits != NULL && i < res.hits.n; i++)
		if (json_array_append_new(hits, legal_json_hit(&res.hits.v[i])) < 0) {
			json_decref(hits);
			hits = NULL;
		}
	json_t *body = json_pack("{s:I, s:b, s:I, s:I, s:s, s:s, s:o}", "total",
				 (json_int_t)res.total, "total_exact", res.total_exact, "offset",
				 (json_int_t)offset, "limit", (json_int_t)limit, "sort", sort, "order",
				 order, "results", hits);
	archive_search_result_free(&res);
	return http_reply_json(rs, 200, body);
}

int h_search_check(struct http_request *rq, struct http_response *rs)
{
	char q[PV_QUERY_MAX + 1];
	size_t column;
	if (query_arg(rq, q) < 0)
		return PV_EUSAGE;
	if (archive_search_check(q, &column, &rq->err) == PV_OK)
		return http_reply_json(rs, 200, json_pack("{s:b}", "ok", 1));
	return http_reply_json(rs, 200, json_pack("{s:b, s:o, s:o}", "ok", 0, "message",
						  legal_json_text(rq->err.msg), "position",
						  column ? json_integer((json_int_t)column)
							 : json_null()));
}
