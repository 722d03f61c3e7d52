/* The two-person rule on the web (docs/api.md "Approvals"): the queue,
 * one approval with what it proposes, approve and reject, and the two
 * proposals that are not policies: releasing a hold, a disposal run.
 * Who may propose and approve what is archive/approvals.c's one table. */
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/dispose_frozen.h"
#include "archiver/archive/users.h"
#include "archiver/http/h_gov.h"
#include "archiver/http/handlers.h"
#include "archiver/http/legal_json.h"

static int add_row(void *ctx, const struct approval_row *row)
{
	json_t *j = gov_json_approval(row);
	return j != NULL && json_array_append_new(ctx, j) == 0 ? 0 : PV_ERR;
}

static int count_nothing(void *ctx, const struct approval_row *row)
{
	(void)ctx;
	(void)row;
	return 0;
}

int h_approvals_list(struct http_request *rq, struct http_response *rs)
{
	char state[16] = "all";
	int64_t offset, limit;
	uint64_t total = 0, pending = 0;
	int r = http_query_get(rq, "state", state, sizeof(state), &rq->err);
	if (r < 0 && r != PV_ENOTFOUND)
		return r;
	if (strcmp(state, "all") != 0 && strcmp(state, "pending") != 0 &&
	    strcmp(state, "approved") != 0 && strcmp(state, "rejected") != 0 &&
	    strcmp(state, "decided") != 0)
		return pv_fail(&rq->err, PV_EUSAGE,
			       "state is pending, approved, rejected, decided or all");
	if ((r = http_query_int(rq, "offset", 0, 0, INT64_MAX, &offset, &rq->err)) < 0 ||
	    (r = http_query_int(rq, "limit", 50, 1, PV_APPROVALS_PAGE_MAX, &limit, &rq->err)) < 0)
		return r;
	json_t *a = json_array();
	if (a == NULL)
		return PV_ERR;
	if ((r = approval_list(rq->ar, strcmp(state, "all") == 0 ? NULL : state, (uint64_t)offset,
			       (uint64_t)limit, add_row, a, &total, &rq->err)) < 0 ||
	    (r = approval_list(rq->ar, "pending", 0, 1, count_nothing, NULL, &pending, &rq->err)) < 0) {
		json_decref(a);
		return r;
	}
	return http_reply_json(rs, 200, json_pack("{s:I, s:I, s:I, s:I, s:o}", "total",
						  (json_int_t)total, "pending", (json_int_t)pending,
						  "offset", (json_int_t)offset, "limit",
						  (json_int_t)limit, "approvals", a));
}

/* What approval `row` proposes, for the one who decides. */
static json_t *proposal_json(struct http_request *rq, const struct approval_row *row)
{
	if (strcmp(row->kind, "hold-release") == 0)
		return json_pack("{s:o}", "hold", legal_json_text((const char *)row->payload));
	if (strcmp(row->kind, "user-access") == 0) {
		/* and, while it waits, the role it would open (a decided one's
		 * account may have another role now, or be another account) */
		struct user u;
		struct pv_error e;
		bool waits = strcmp(row->state, "pending") == 0 &&
			     archive_user_get(rq->ar, (const char *)row->payload, &u, &e) == PV_OK &&
			     u.access_approval == row->id;
		return json_pack("{s:o, s:o}", "user", legal_json_text((const char *)row->payload),
				 "role", waits ? json_string(u.role) : json_null());
	}
	if (strcmp(row->kind, "policy") == 0) {
		unsigned char *base = NULL;
		size_t blen = 0;
		json_t *diff = NULL;
		if (row->base > 0 &&
		    archive_policy_get(rq->ar, row->base, &base, &blen, NULL, &rq->err) == PV_OK)
			diff = gov_json_diff(base, blen, row->payload, row->payload_len, &rq->err);
		free(base);
		return json_pack("{s:s%, s:I, s:o}", "text", (const char *)row->payload,
				 row->payload_len, "base_version", (json_int_t)row->base, "diff",
				 diff ? diff : json_null());
	}
	struct dispose_frozen_item *v;
	size_t n;
	if (dispose_frozen_parse(row->payload, row->payload_len, &v, &n, &rq->err) < 0)
		return NULL;
	json_t *items = json_array();
	for (size_t i = 0; items != NULL && i < n; i++)
		json_array_append_new(items, json_pack("{s:I, s:s, s:I, s:o}", "id", (json_int_t)v[i].id,
						       "rule", v[i].rule, "policy_version",
						       (json_int_t)v[i].policy_version, "expires",
						       h_json_time(v[i].expires_at)));
	free(v);
	return json_pack("{s:I, s:o}", "messages", (json_int_t)n, "items", items ? items : json_null());
}

int h_approval_get(struct http_request *rq, struct http_response *rs)
{
	struct approval_row row;
	int64_t id;
	if (http_param_int(rq, 0, 1, INT64_MAX, &id, &rq->err) < 0 ||
	    approval_get(rq->ar, id, true, &row, &rq->err) < 0)
		return rq->err.code;
	json_t *j = gov_json_approval(&row), *p = proposal_json(rq, &row);
	approval_row_free(&row);
	if (j == NULL || p == NULL) {
		json_decref(j);
		json_decref(p);
		return rq->err.code < 0 ? rq->err.code : PV_ERR;
	}
	json_object_set_new(j, "proposal", p);
	return http_reply_json(rs, 200, j);
}

/* What an approval did. */
static json_t *effect_json(const struct approval_outcome *o)
{
	if (strcmp(o->row.kind, "policy") == 0)
		return json_pack("{s:I, s:s}", "policy_version", (json_int_t)o->set.version, "sha256",
				 o->set.sha256);
	if (strcmp(o->row.kind, "hold-release") == 0)
		return json_pack("{s:o}", "released", legal_json_text((const char *)o->row.payload));
	if (strcmp(o->row.kind, "user-access") == 0)
		return json_pack("{s:o}", "may_sign_in", legal_json_text((const char *)o->row.payload));
	json_t *plan = gov_json_plan(&o->run.plan);
	return json_pack("{s:I, s:I, s:I, s:o}", "disposal", (json_int_t)o->run.res.disposal_id,
			 "disposed", (json_int_t)o->run.res.disposed, "buckets_destroyed",
			 (json_int_t)o->run.res.buckets_destroyed, "plan", plan ? plan : json_null());
}

static int decide(struct http_request *rq, struct http_response *rs, bool approve)
{
	struct approval_outcome out;
	const char *reason = NULL;
	int64_t id;
	int r;
	if (http_param_int(rq, 0, 1, INT64_MAX, &id, &rq->err) < 0)
		return rq->err.code;
	if ((r = http_json_unpack(rq, approve ? "{s?s}" : "{s:s}", "reason", &reason)) < 0)
		return r;
	r = approval_decide(rq->ar, rq->actor, gov_role(rq), id, approve, reason, false, &out,
			    &rq->err);
	if (r < 0 && out.conflict) {
		r = http_reply_error(rs, 409, "conflict", "%s", rq->err.msg);
	} else if (r == PV_OK || (r == PV_EINTEGRITY && out.run.completed)) {
		json_t *body = json_pack("{s:o, s:o}", "approval", gov_json_approval(&out.row),
					 "effect", approve ? effect_json(&out) : json_null());
		if (body != NULL && r == PV_EINTEGRITY) /* the run happened; lost content did not go */
			json_object_set_new(body, "warning", json_string(rq->err.msg));
		r = http_reply_json(rs, 200, body);
	}
	approval_outcome_free(&out);
	return r;
}

int h_approval_approve(struct http_request *rq, struct http_response *rs)
{
	return decide(rq, rs, true);
}

int h_approval_reject(struct http_request *rq, struct http_response *rs)
{
	return decide(rq, rs, false);
}

/* 202 with the approval res proposed (and extra, taken, when not NULL). */
static int reply_pending(struct http_request *rq, struct http_response *rs, int64_t id,
			 const char *key, json_t *extra)
{
	struct approval_row row;
	if (approval_get(rq->ar, id, false, &row, &rq->err) < 0) {
		json_decref(extra);
		return rq->err.code;
	}
	json_t *body = json_pack("{s:s, s:o}", "state", "pending", "approval",
				 gov_json_approval(&row));
	if (body != NULL && key != NULL)
		json_object_set_new(body, key, extra ? extra : json_null());
	return http_reply_json(rs, 202, body);
}

int h_hold_release(struct http_request *rq, struct http_response *rs)
{
	struct approval_proposal res;
	const char *reason = NULL, *name = rq->params[0];
	int r;
	if ((r = http_json_unpack(rq, "{s?s}", "reason", &reason)) < 0)
		return r;
	r = approval_propose(rq->ar, rq->actor, gov_role(rq), APPROVAL_HOLD_RELEASE, name,
			     strlen(name), reason, NULL, &res, &rq->err);
	if (r < 0 && res.conflict)
		r = http_reply_error(rs, 409, "conflict", "%s", rq->err.msg);
	else if (r == PV_OK)
		r = reply_pending(rq, rs, res.id, NULL, NULL);
	approval_proposal_free(&res);
	return r;
}

int h_disposition_propose(struct http_request *rq, struct http_response *rs)
{
	struct approval_proposal res;
	const char *reason = NULL;
	int r;
	if ((r = http_json_unpack(rq, "{s?s}", "reason", &reason)) < 0)
		return r;
	r = approval_propose(rq->ar, rq->actor, gov_role(rq), APPROVAL_DISPOSE, NULL, 0, reason, NULL,
			     &res, &rq->err);
	if (r < 0 && res.conflict) {
		r = http_reply_error(rs, 409, "conflict", "%s", rq->err.msg);
	} else if (r == PV_EINTEGRITY && res.plan.completed) {
		r = http_reply_error(rs, 409, "integrity", "%s", rq->err.msg);
	} else if (r == PV_OK && res.id == 0) {
		r = http_reply_json(rs, 200, json_pack("{s:s, s:n, s:o}", "state", "nothing_due",
						       "approval", "plan",
						       gov_json_plan(&res.plan.plan)));
	} else if (r == PV_OK) {
		json_t *plan = gov_json_plan(&res.plan.plan);
		if (plan != NULL)
			json_object_set_new(plan, "proposed", json_integer((json_int_t)res.frozen));
		r = reply_pending(rq, rs, res.id, "plan", plan);
	}
	approval_proposal_free(&res);
	return r;
}
