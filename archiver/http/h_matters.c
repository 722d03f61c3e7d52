/* Holds and matters: GET /api/v1/holds (legal, compliance), POST
 * /api/v1/holds, GET/POST /api/v1/matters, GET /api/v1/matters/{name},
 * POST /api/v1/matters/{name}/searches (legal). */
#include <string.h>

#include "archiver/archive/approvals.h"
#include "archiver/archive/export_jobs.h"
#include "archiver/archive/matters.h"
#include "archiver/archive/search.h"
#include "archiver/http/app.h"
#include "archiver/http/handlers.h"
#include "archiver/http/legal_json.h"
#include "archiver/lib/clock.h"

/* hold_each into a JSON array, each with the matter it belongs to. */
struct holds_out {
	struct archive *ar;
	json_t *a;
	const char *only; /* a hold name, or NULL for all */
	int64_t id;       /* the id of `only` */
	struct pv_error *err;
};

/* h as JSON, with the approval that would release it while it is active. */
static int append_hold_json(struct holds_out *o, const struct hold *h, const char *matter)
{
	int64_t pending = 0;
	int r;
	if (h->released_at == 0 && (r = approval_pending_release(o->ar, h->name, &pending, o->err)) < 0)
		return r;
	return json_array_append_new(o->a, legal_json_hold(h, matter, pending)) < 0 ? PV_ERR : 0;
}

static int hold_out(void *ctx, const struct hold *h)
{
	struct holds_out *o = ctx;
	char matter[PV_MATTER_NAME_MAX + 1];
	int r;
	if (o->only != NULL) {
		if (strcmp(h->name, o->only) == 0 && h->released_at == 0)
			o->id = h->id;
		return 0;
	}
	if ((r = archive_matter_of_hold(o->ar, h->name, matter, sizeof(matter), o->err)) < 0)
		return r;
	return append_hold_json(o, h, matter);
}

int h_holds(struct http_request *rq, struct http_response *rs)
{
	char all[8] = "false";
	int r = http_query_get(rq, "all", all, sizeof(all), &rq->err);
	if ((r < 0 && r != PV_ENOTFOUND) || (strcmp(all, "true") != 0 && strcmp(all, "false") != 0))
		return pv_fail(&rq->err, PV_EUSAGE, "all is \"true\" or \"false\"");
	struct holds_out o = {rq->ar, json_array(), NULL, 0, &rq->err};
	if (o.a == NULL)
		return PV_ERR;
	if ((r = hold_each(rq->ar, all[0] == 't', hold_out, &o, &rq->err)) < 0) {
		json_decref(o.a);
		return r;
	}
	return http_reply_json(rs, 200, json_pack("{s:o}", "holds", o.a));
}

int h_hold_place(struct http_request *rq, struct http_response *rs)
{
	const char *name, *query, *note = NULL, *matter = NULL;
	int64_t members = 0;
	int r;
	if (http_json_unpack(rq, "{s:s, s:s, s?s, s?s}", "name", &name, "query", &query, "note",
			     &note, "matter", &matter) < 0)
		return PV_EUSAGE;
	if (archive_search_check(query, NULL, &rq->err) < 0)
		return legal_json_bad_query(rs, &rq->err);
	/* Audited inside, with the hold, before it takes effect. */
	if ((r = archive_matter_hold_add(rq->ar, rq->actor, matter, name, query, note,
					 pv_clock_now(), &members, &rq->err)) < 0)
		return r;
	struct holds_out o = {rq->ar, NULL, name, 0, &rq->err};
	char owner[PV_MATTER_NAME_MAX + 1];
	if ((r = hold_each(rq->ar, false, hold_out, &o, &rq->err)) < 0 ||
	    (r = archive_matter_of_hold(rq->ar, name, owner, sizeof(owner), &rq->err)) < 0)
		return r;
	return http_reply_json(rs, 201, json_pack("{s:I, s:o, s:I, s:o}", "id", (json_int_t)o.id,
						  "name", legal_json_text(name), "members",
						  (json_int_t)members, "matter",
						  owner[0] ? legal_json_text(owner) : json_null()));
}

/* --- matters ------------------------------------------------------------------ */

static int append_matter(void *ctx, const struct matter *m)
{
	return json_array_append_new(ctx, legal_json_matter(m)) < 0 ? PV_ERR : 0;
}

int h_matters(struct http_request *rq, struct http_response *rs)
{
	json_t *a = json_array();
	int r = a ? archive_matter_each(rq->ar, append_matter, a, &rq->err) : PV_ERR;
	if (r < 0) {
		json_decref(a);
		return r;
	}
	return http_reply_json(rs, 200, json_pack("{s:o}", "matters", a));
}

static int append_search(void *ctx, const struct matter_search *s)
{
	return json_array_append_new(ctx, legal_json_search(s)) < 0 ? PV_ERR : 0;
}

static int append_hold(void *ctx, const struct hold *h)
{
	return append_hold_json(ctx, h, ((struct holds_out *)ctx)->only);
}

struct jobs_out {
	struct export_runner *runner;
	json_t *a;
};

static int append_job(void *ctx, const struct export_job *j)
{
	struct jobs_out *o = ctx;
	uint64_t done = 0, total = 0;
	bool running = export_runner_progress(o->runner, j->id, &done, &total);
	return json_array_append_new(o->a, legal_json_job(j, running, done, total)) < 0 ? PV_ERR : 0;
}

/* The matter with its searches, holds and exports. */
static int reply_matter(struct http_request *rq, struct http_response *rs, int status,
			const struct matter *m)
{
	json_t *body = legal_json_matter(m), *searches = json_array();
	struct holds_out h = {rq->ar, json_array(), m->name, 0, &rq->err};
	struct jobs_out j = {rq->app->exports, json_array()};
	int r = PV_ERR;
	if (body != NULL && searches != NULL && h.a != NULL && j.a != NULL &&
	    (r = archive_matter_searches(rq->ar, m, append_search, searches, &rq->err)) == PV_OK &&
	    (r = archive_matter_holds(rq->ar, m, append_hold, &h, &rq->err)) == PV_OK &&
	    (r = archive_export_jobs_each(rq->ar, m->name, append_job, &j, &rq->err)) == PV_OK &&
	    json_object_set(body, "searches", searches) == 0 &&
	    json_object_set(body, "holds", h.a) == 0 && json_object_set(body, "exports", j.a) == 0)
		r = http_reply_json(rs, status, json_incref(body));
	else if (r == PV_OK)
		r = PV_ERR;
	json_decref(body);
	json_decref(searches);
	json_decref(h.a);
	json_decref(j.a);
	return r;
}

int h_matter_create(struct http_request *rq, struct http_response *rs)
{
	const char *name, *description = NULL;
	struct matter m;
	int r;
	if (http_json_unpack(rq, "{s:s, s?s}", "name", &name, "description", &description) < 0)
		return PV_EUSAGE;
	if ((r = archive_matter_create(rq->ar, rq->actor, name, description, pv_clock_now(), &m,
				       &rq->err)) < 0)
		return r;
	return reply_matter(rq, rs, 201, &m);
}

int h_matter(struct http_request *rq, struct http_response *rs)
{
	struct matter m;
	int r = archive_matter_get(rq->ar, rq->params[0], &m, &rq->err);
	return r < 0 ? r : reply_matter(rq, rs, 200, &m);
}

int h_matter_search_add(struct http_request *rq, struct http_response *rs)
{
	const char *name, *query;
	struct matter_search s;
	int r;
	if (http_json_unpack(rq, "{s:s, s:s}", "name", &name, "query", &query) < 0)
		return PV_EUSAGE;
	if (archive_search_check(query, NULL, &rq->err) < 0)
		return legal_json_bad_query(rs, &rq->err);
	if ((r = archive_matter_search_add(rq->ar, rq->actor, rq->params[0], name, query,
					   pv_clock_now(), &s, &rq->err)) < 0)
		return r;
	return http_reply_json(rs, 201, legal_json_search(&s));
}
