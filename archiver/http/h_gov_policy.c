/* The retention policy on the web (docs/api.md "Policy"): current text,
 * versions, diff, check, dry-run impact, proposals (two-person rule). */
#include <stdlib.h>
#include <string.h>

#include "archiver/http/h_gov.h"
#include "archiver/http/handlers.h"
#include "archiver/lib/linediff.h"

static int reply_version(struct http_request *rq, struct http_response *rs, int64_t version)
{
	struct policy_version_info info;
	unsigned char *text;
	size_t len;
	if (archive_policy_get(rq->ar, version, &text, &len, &info, &rq->err) < 0)
		return rq->err.code;
	json_t *body = json_pack("{s:I, s:s, s:o, s:s, s:s%}", "version", (json_int_t)info.version,
				 "sha256", info.sha256, "created", h_json_time(info.created_at),
				 "actor", info.actor, "text", (const char *)text, len);
	free(text);
	return http_reply_json(rs, 200, body);
}

int h_policy_current(struct http_request *rq, struct http_response *rs)
{
	return reply_version(rq, rs, 0);
}

int h_policy_version(struct http_request *rq, struct http_response *rs)
{
	int64_t v;
	if (http_param_int(rq, 0, 1, INT64_MAX, &v, &rq->err) < 0)
		return rq->err.code;
	return reply_version(rq, rs, v);
}

static int add_version(void *ctx, const struct policy_version_info *v)
{
	return json_array_append_new(ctx, json_pack("{s:I, s:s, s:o, s:s}", "version",
						    (json_int_t)v->version, "sha256", v->sha256,
						    "created", h_json_time(v->created_at),
						    "actor", v->actor)) == 0 ? 0 : PV_ERR;
}

int h_policy_versions(struct http_request *rq, struct http_response *rs)
{
	json_t *a = json_array();
	int64_t current = 0;
	if (a == NULL)
		return PV_ERR;
	if (archive_policy_list(rq->ar, &current, add_version, a, &rq->err) < 0) {
		json_decref(a);
		return rq->err.code < 0 ? rq->err.code : PV_ERR;
	}
	return http_reply_json(rs, 200, json_pack("{s:I, s:o}", "current", (json_int_t)current,
						  "versions", a));
}

static const char *op_name(enum pv_diff_op op)
{
	return op == PV_DIFF_SAME ? "same" : op == PV_DIFF_DEL ? "del" : "add";
}

static json_t *line_no(size_t n)
{
	return n ? json_integer((json_int_t)n) : json_null();
}

json_t *gov_json_diff(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen,
		      struct pv_error *err)
{
	struct pv_diff_line *v;
	size_t n, added = 0, removed = 0;
	if (pv_line_diff((const char *)a, alen, (const char *)b, blen, &v, &n, err) < 0)
		return NULL;
	json_t *lines = json_array();
	for (size_t i = 0; lines != NULL && i < n; i++) {
		added += v[i].op == PV_DIFF_ADD;
		removed += v[i].op == PV_DIFF_DEL;
		json_array_append_new(lines, json_pack("{s:s, s:s%, s:o, s:o}", "op", op_name(v[i].op),
						       "text", v[i].text, v[i].len, "from_line",
						       line_no(v[i].a_line), "to_line",
						       line_no(v[i].b_line)));
	}
	free(v);
	return json_pack("{s:o, s:I, s:I}", "lines", lines ? lines : json_null(), "added",
			 (json_int_t)added, "removed", (json_int_t)removed);
}

int h_policy_diff(struct http_request *rq, struct http_response *rs)
{
	struct policy_version_info cur;
	unsigned char *a = NULL, *b = NULL;
	size_t alen, blen;
	int64_t from, to;
	int r;

	if ((r = archive_policy_get(rq->ar, 0, &b, &blen, &cur, &rq->err)) < 0)
		return r;
	free(b);
	b = NULL;
	if ((r = http_query_int(rq, "to", cur.version, 1, cur.version, &to, &rq->err)) < 0 ||
	    (r = http_query_int(rq, "from", to > 1 ? to - 1 : 1, 1, cur.version, &from, &rq->err)) < 0)
		return r;
	if ((r = archive_policy_get(rq->ar, from, &a, &alen, NULL, &rq->err)) < 0 ||
	    (r = archive_policy_get(rq->ar, to, &b, &blen, NULL, &rq->err)) < 0)
		goto out;
	json_t *d = gov_json_diff(a, alen, b, blen, &rq->err);
	if (d == NULL) {
		r = rq->err.code < 0 ? rq->err.code : PV_ERR;
		goto out;
	}
	json_object_set_new(d, "from", json_integer(from));
	json_object_set_new(d, "to", json_integer(to));
	r = http_reply_json(rs, 200, d);
out:
	free(a);
	free(b);
	return r;
}

int h_policy_check(struct http_request *rq, struct http_response *rs)
{
	struct policy_diags *diags = calloc(1, sizeof(*diags));
	struct policy_summary sum;
	const char *text;
	size_t len;
	int r;
	if (diags == NULL)
		return PV_ERR;
	if ((r = http_json_unpack(rq, "{s:s%}", "text", &text, &len)) == PV_OK) {
		if (archive_policy_check(text, len, diags, &sum, &rq->err) < 0)
			r = http_reply_json(rs, 200, gov_json_diags(diags));
		else
			r = http_reply_json(rs, 200, json_pack("{s:b, s:i, s:s}", "ok", 1, "rules",
								(int)sum.rules, "sha256", sum.sha256));
	}
	free(diags);
	return r;
}

int h_policy_dry_run(struct http_request *rq, struct http_response *rs)
{
	struct policy_diags *diags = calloc(1, sizeof(*diags));
	struct policy_preview pv;
	const char *text;
	size_t len;
	int r;
	memset(&pv, 0, sizeof(pv));
	if (diags == NULL)
		return PV_ERR;
	if ((r = http_json_unpack(rq, "{s:s%}", "text", &text, &len)) == PV_OK) {
		r = archive_policy_dry_run(rq->ar, rq->actor, text, len, diags, &pv, &rq->err);
		if (r < 0 && pv.invalid)
			r = http_reply_json(rs, 200, gov_json_diags(diags));
		else if (r == PV_OK)
			r = http_reply_json(rs, 200, gov_json_preview(&pv));
	}
	policy_preview_free(&pv);
	free(diags);
	return r;
}

int h_policy_propose(struct http_request *rq, struct http_response *rs)
{
	struct approval_proposal res;
	struct approval_row row;
	const char *text, *reason = NULL;
	size_t len;
	int r;

	memset(&res, 0, sizeof(res));
	if ((r = http_json_unpack(rq, "{s:s%, s?s}", "text", &text, &len, "reason", &reason)) < 0)
		return r;
	r = approval_propose(rq->ar, rq->actor, gov_role(rq), APPROVAL_POLICY, text, len, reason, NULL,
			     &res, &rq->err);
	if (r < 0 && (res.preview.invalid || res.set.invalid)) {
		r = http_reply_error(rs, 400, "bad_policy", "%s", rq->err.msg);
	} else if (r < 0 && res.set.shortens) { /* changed under us: propose again */
		r = http_reply_error(rs, 409, "conflict", "%s", rq->err.msg);
	} else if (r == PV_OK && res.applied) {
		r = http_reply_json(rs, 201, json_pack("{s:s, s:I, s:s, s:o}", "state", "applied",
						       "version", (json_int_t)res.set.version,
						       "sha256", res.set.sha256, "impact",
						       gov_json_preview(&res.preview)));
	} else if (r == PV_OK && (r = approval_get(rq->ar, res.id, false, &row, &rq->err)) == PV_OK) {
		r = http_reply_json(rs, 202, json_pack("{s:s, s:o, s:o}", "state", "pending",
						       "approval", gov_json_approval(&row), "impact",
						       gov_json_preview(&res.preview)));
	}
	approval_proposal_free(&res);
	return r;
}
