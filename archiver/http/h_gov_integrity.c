/* Integrity on the web (docs/api.md "Integrity"): verify and anchoring
 * run in the background (gov_jobs.h), checkpoint history, heartbeat gaps. */
#include <stdio.h>
#include <string.h>

#include "archiver/archive/checkpoints.h"
#include "archiver/http/app.h"
#include "archiver/http/h_gov.h"
#include "archiver/http/handlers.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "audit/tlog.h"

int h_verify_start(struct http_request *rq, struct http_response *rs)
{
	int full = 0;
	int64_t id;
	bool busy;
	int r;
	if ((r = http_json_unpack(rq, "{s?b}", "full", &full)) < 0)
		return r;
	if ((r = gov_verify_start(rq->app->gov, rq->actor, full != 0, &id, &busy, &rq->err)) < 0)
		return busy ? http_reply_error(rs, 409, "conflict", "%s", rq->err.msg) : r;
	return http_reply_json(rs, 202, json_pack("{s:I, s:s, s:b}", "id", (json_int_t)id, "status",
						  "running", "full", full != 0));
}

/* Both logs to the TSA and witnesses of popvault.conf, now: what serve's
 * anchor part does on its schedule, started by a person. */
int h_anchor_start(struct http_request *rq, struct http_response *rs)
{
	int64_t id;
	bool busy;
	int r;
	if ((r = http_json_unpack(rq, "{}")) < 0)
		return r;
	if (!pv_config_anchors(&rq->ar->cfg))
		return http_reply_error(rs, 409, "conflict", "no time-stamp authority or witness is "
				       "configured (popvault.conf [anchor], [witnesses])");
	if ((r = gov_anchor_start(rq->app->gov, rq->actor, &id, &busy, &rq->err)) < 0)
		return busy ? http_reply_error(rs, 409, "conflict", "%s", rq->err.msg) : r;
	return http_reply_json(rs, 202, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status",
						  "running"));
}

int h_anchor_status(struct http_request *rq, struct http_response *rs)
{
	struct gov_job_view v;
	if (!gov_job_latest(rq->app->gov, GOV_JOB_ANCHOR, &v))
		return http_reply_json(rs, 200, json_pack("{s:s}", "status", "none"));
	json_t *body = json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)v.id, "status",
				 v.state == GOV_JOB_RUNNING ? "running"
				 : v.state == GOV_JOB_DONE  ? "done"
							    : "failed",
				 "started_by", v.actor, "started", h_json_time(v.created), "finished",
				 h_json_time(v.finished), "error", gov_json_opt(v.error));
	gov_job_view_free(&v);
	return http_reply_json(rs, 200, body);
}

static json_t *gaps_json(const struct auditlog_gap *g, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_pack("{s:o, s:o, s:I, s:I, s:I}", "from",
						   h_json_time(g[i].from), "to",
						   h_json_time(g[i].to), "minutes",
						   (json_int_t)((g[i].to - g[i].from) / 60), "from_seq",
						   (json_int_t)g[i].from_seq, "to_seq",
						   (json_int_t)g[i].to_seq));
	return a;
}

static json_t *result_json(const struct verify_summary *s)
{
	const struct verify_report *r = &s->rep;
	size_t n = r->audit.gaps < AUDITLOG_GAPS_KEPT ? r->audit.gaps : AUDITLOG_GAPS_KEPT;
	return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I,"
			 " s:o, s:b}",
			 "ok", s->ok, "problems", (json_int_t)r->problems, "archive_leaves",
			 (json_int_t)r->archive_leaves, "audit_leaves", (json_int_t)r->audit_leaves,
			 "archive_checkpoints", (json_int_t)r->archive_checkpoints,
			 "audit_checkpoints", (json_int_t)r->audit_checkpoints, "messages",
			 (json_int_t)r->messages, "disposed", (json_int_t)r->disposed,
			 "blobs_checked", (json_int_t)r->blobs_checked, "blobs_decrypted",
			 (json_int_t)r->blobs_decrypted, "orphan_blobs", (json_int_t)r->orphan_blobs,
			 "latest_checkpoint_age_s", (json_int_t)r->latest_checkpoint_age_s,
			 "heartbeat_gap", s->heartbeat_gap, "heartbeat_gaps",
			 (json_int_t)r->audit.gaps, "gaps", gaps_json(r->audit.gap, n), "recorded",
			 s->recorded);
}

static int keep_last(void *ctx, const struct audit_entry *e, const char *personal, size_t plen)
{
	json_t **last = ctx;
	json_decref(*last);
	*last = gov_json_entry(e, personal, plen);
	return 0;
}

int h_verify_status(struct http_request *rq, struct http_response *rs)
{
	struct gov_job_view v;
	if (!gov_job_latest(rq->app->gov, GOV_JOB_VERIFY, &v)) {
		/* None since this server started: the latest one the log holds. */
		struct archive_audit_query q = {{INT64_MIN, INT64_MAX, NULL, AUDIT_VERIFY}, 0, 0, NULL};
		json_t *last = NULL;
		if (archive_audit_list(rq->ar, &q, keep_last, &last, NULL, &rq->err) < 0) {
			json_decref(last);
			return rq->err.code;
		}
		return http_reply_json(rs, 200, json_pack("{s:s, s:o}", "status", "none",
							  "last_recorded", last ? last : json_null()));
	}
	json_t *lines = json_array();
	for (size_t i = 0; lines != NULL && i < v.n_lines; i++)
		json_array_append_new(lines, json_string(v.lines[i]));
	int64_t end = v.finished ? v.finished : pv_clock_now();
	bool done = v.state == GOV_JOB_DONE;
	json_t *body = json_pack(
		"{s:I, s:s, s:b, s:s, s:o, s:o, s:{s:I, s:I, s:I}, s:o, s:o, s:b, s:o}", "id",
		(json_int_t)v.id, "status",
		v.state == GOV_JOB_RUNNING ? "running" : done ? "done" : "failed", "full", v.full,
		"started_by", v.actor, "started", h_json_time(v.created), "finished",
		h_json_time(v.finished), "progress", "elapsed_s", (json_int_t)(end - v.created),
		"problems", (json_int_t)v.problems, "notes", (json_int_t)v.notes, "result",
		done ? result_json(&v.sum) : json_null(), "lines", lines ? lines : json_null(),
		"lines_truncated", v.problems + v.notes > v.n_lines, "error", gov_json_opt(v.error));
	gov_job_view_free(&v);
	return http_reply_json(rs, 200, body);
}

static int add_checkpoint(void *ctx, const struct tlog_checkpoint_row *row)
{
	char root[2 * MERKLE_HASH_LEN + 1];
	pv_hex(row->root, MERKLE_HASH_LEN, root);
	json_t *j = json_pack("{s:I, s:I, s:s, s:I, s:o, s:s%}", "seq", (json_int_t)row->seq, "size",
			      (json_int_t)row->size, "root", root, "epoch", (json_int_t)row->epoch,
			      "stored", h_json_time(row->created_ms / 1000), "note",
			      (const char *)row->note.data, row->note.len);
	return j != NULL && json_array_append_new(ctx, j) == 0 ? 0 : PV_ERR;
}

int h_checkpoint_history(struct http_request *rq, struct http_response *rs)
{
	char log[16] = ARCHIVE_LOG;
	int64_t offset, limit;
	uint64_t total = 0;
	int r = http_query_get(rq, "log", log, sizeof(log), &rq->err);
	if (r < 0 && r != PV_ENOTFOUND)
		return r;
	if ((r = http_query_int(rq, "offset", 0, 0, INT64_MAX, &offset, &rq->err)) < 0 ||
	    (r = http_query_int(rq, "limit", 50, 1, PV_HTTP_AUDIT_PAGE_MAX, &limit, &rq->err)) < 0)
		return r;
	json_t *a = json_array();
	if (a == NULL)
		return PV_ERR;
	if ((r = archive_checkpoint_history(rq->ar, log, (uint64_t)offset, (uint64_t)limit,
					    add_checkpoint, a, &total, &rq->err)) < 0) {
		json_decref(a);
		return r;
	}
	return http_reply_json(rs, 200, json_pack("{s:s, s:I, s:I, s:I, s:o}", "log", log, "total",
						  (json_int_t)total, "offset", (json_int_t)offset,
						  "limit", (json_int_t)limit, "checkpoints", a));
}


#define GAPS_DEFAULT_DAYS 30

int h_heartbeat_gaps(struct http_request *rq, struct http_response *rs)
{
	struct auditlog_gap gaps[AUDITLOG_GAPS_KEPT * 10];
	int64_t now = pv_clock_now(), since, until, start;
	size_t n = 0;
	int r;
	if ((r = gov_query_time(rq, "since", false, now - GAPS_DEFAULT_DAYS * 86400, &since)) < 0 ||
	    (r = gov_query_time(rq, "until", true, now, &until)) < 0)
		return r;
	if (until > now)
		until = now; /* the future has no heartbeats yet */
	if ((r = archive_audit_gaps(rq->ar, since, until, gaps, sizeof(gaps) / sizeof(gaps[0]), &n,
				    &rq->err)) < 0 ||
	    (r = archive_audit_first_time(rq->ar, &start, &rq->err)) < 0)
		return r;
	size_t shown = n < sizeof(gaps) / sizeof(gaps[0]) ? n : sizeof(gaps) / sizeof(gaps[0]);
	return http_reply_json(rs, 200, json_pack("{s:o, s:o, s:o, s:i, s:I, s:o}", "since",
						  h_json_time(since), "until", h_json_time(until),
						  "log_start", start < 0 ? json_null() : h_json_time(start),
						  "threshold_s", AUDITLOG_HEARTBEAT_GAP_S, "total",
						  (json_int_t)n, "gaps", gaps_json(gaps, shown)));
}
