/* The audit trail on the web (docs/api.md "Audit trail"): filtered pages,
 * one entry with its inclusion proof, who viewed a message, and audit
 * bundle exports as background jobs (gov_jobs.h). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/archive/checkpoints.h"
#include "archiver/http/app.h"
#include "archiver/http/h_gov.h"
#include "archiver/http/handlers.h"


/* An optional text argument: NULL when absent. */
static int text_arg(struct http_request *rq, const char *name, char *buf, size_t n,
		    const char **v_r)
{
	int r = http_query_get(rq, name, buf, n, &rq->err);
	*v_r = r == PV_OK ? buf : NULL;
	return r == PV_ENOTFOUND ? PV_OK : r;
}

static int add_entry(void *ctx, const struct audit_entry *e, const char *personal, size_t plen)
{
	json_t *j = gov_json_entry(e, personal, plen);
	return j != NULL && json_array_append_new(ctx, j) == 0 ? 0 : PV_ERR;
}

int h_audit_list(struct http_request *rq, struct http_response *rs)
{
	struct archive_audit_query q = {{INT64_MIN, INT64_MAX, NULL, NULL}, 0, 0, NULL};
	char actor[AUDIT_ACTOR_MAX + 1], type[AUDIT_TYPE_MAX + 1], object[512];
	int64_t offset, limit;
	uint64_t total = 0;
	int r;
	if ((r = gov_query_time(rq, "since", false, INT64_MIN, &q.filter.since)) < 0 ||
	    (r = gov_query_time(rq, "until", true, INT64_MAX, &q.filter.until)) < 0 ||
	    (r = text_arg(rq, "actor", actor, sizeof(actor), &q.filter.actor)) < 0 ||
	    (r = text_arg(rq, "type", type, sizeof(type), &q.filter.type)) < 0 ||
	    (r = text_arg(rq, "object", object, sizeof(object), &q.object)) < 0 ||
	    (r = http_query_int(rq, "offset", 0, 0, INT64_MAX, &offset, &rq->err)) < 0 ||
	    (r = http_query_int(rq, "limit", 100, 1, PV_HTTP_AUDIT_PAGE_MAX, &limit, &rq->err)) < 0)
		return r;
	q.offset = (uint64_t)offset;
	q.limit = (uint64_t)limit;
	json_t *a = json_array();
	if (a == NULL)
		return PV_ERR;
	if ((r = archive_audit_list(rq->ar, &q, add_entry, a, &total, &rq->err)) < 0) {
		json_decref(a);
		return r;
	}
	return http_reply_json(rs, 200, json_pack("{s:I, s:I, s:I, s:o}", "total", (json_int_t)total,
						  "offset", (json_int_t)offset, "limit",
						  (json_int_t)limit, "entries", a));
}

int h_audit_entry(struct http_request *rq, struct http_response *rs)
{
	struct archive_audit_item it;
	int64_t seq;
	int r;
	if (http_param_int(rq, 0, 0, INT64_MAX, &seq, &rq->err) < 0)
		return rq->err.code;
	if ((r = archive_audit_entry(rq->ar, (uint64_t)seq, &it, &rq->err)) == PV_OK)
		r = http_reply_json(
			rs, 200,
			json_pack("{s:o, s:s%, s:s%, s:s%}", "entry",
				  gov_json_entry(&it.e, it.has_personal ? (const char *)it.personal.data
									: NULL,
						 it.personal.len),
				  "leaf", (const char *)it.leaf.data, it.leaf.len, "proof",
				  (const char *)it.proof.data, it.proof.len, "checkpoint",
				  (const char *)it.checkpoint.data, it.checkpoint.len));
	archive_audit_item_free(&it);
	return r;
}

int h_audit_who_viewed(struct http_request *rq, struct http_response *rs)
{
	char v[24];
	int64_t id;
	int r = http_query_get(rq, "message", v, sizeof(v), &rq->err);
	if (r == PV_ENOTFOUND)
		return pv_fail(&rq->err, PV_EUSAGE, "message=ID is required");
	if (r < 0 || (r = http_query_int(rq, "message", 0, 1, INT64_MAX, &id, &rq->err)) < 0)
		return r;
	json_t *a = json_array();
	if (a == NULL)
		return PV_ERR;
	if ((r = archive_audit_who_viewed(rq->ar, id, add_entry, a, &rq->err)) < 0) {
		json_decref(a);
		return r;
	}
	return http_reply_json(rs, 200, json_pack("{s:I, s:I, s:o}", "message", (json_int_t)id,
						  "total", (json_int_t)json_array_size(a), "entries", a));
}

/* ---- audit exports ---------------------------------------------------- */

static const char *job_status(enum gov_job_state s)
{
	return s == GOV_JOB_RUNNING ? "running" : s == GOV_JOB_DONE ? "done" : "failed";
}

static json_t *export_json(struct http_request *rq, const struct gov_job_view *v)
{
	struct pv_buf vkey;
	char file[64], cmd[PV_NOTE_MAX + 128];
	bool done = v->state == GOV_JOB_DONE;
	json_t *verify = json_null();
	snprintf(file, sizeof(file), "popvault-audit-%lld.%s", (long long)v->id, v->format);
	pv_buf_init(&vkey, PV_NOTE_MAX);
	if (done && archive_checkpoint_vkey(rq->ar, AUDIT_LOG, &vkey, NULL) == PV_OK) {
		snprintf(cmd, sizeof(cmd), "popvault verify-bundle %s --vkey '%s'", file,
			 pv_buf_str(&vkey));
		verify = json_pack("{s:s, s:[s]}", "command", cmd, "vkeys", pv_buf_str(&vkey));
	}
	pv_buf_free(&vkey);
	char download[64];
	snprintf(download, sizeof(download), "/api/v1/audit/exports/%lld/download", (long long)v->id);
	return json_pack("{s:I, s:s, s:o, s:s, s:o, s:o, s:o, s:b, s:s, s:o, s:o, s:o, s:o, s:o,"
			 " s:o, s:o}",
			 "id", (json_int_t)v->id, "status", job_status(v->state), "created",
			 h_json_time(v->created), "created_by", v->actor, "finished",
			 h_json_time(v->finished), "since",
			 v->since == INT64_MIN ? json_null() : h_json_time(v->since), "until",
			 v->until == INT64_MAX ? json_null() : h_json_time(v->until), "personal",
			 v->personal, "format", v->format, "entries",
			 done ? json_integer((json_int_t)v->bundle.entries) : json_null(),
			 "file_size", done ? json_integer((json_int_t)v->size) : json_null(), "sha256",
			 done ? json_string(v->sha256) : json_null(), "error",
			 gov_json_opt(v->error), "download", done ? json_string(download) : json_null(),
			 "filename", json_string(file), "verify", verify ? verify : json_null());
}

int h_audit_export_start(struct http_request *rq, struct http_response *rs)
{
	const char *since_s = NULL, *until_s = NULL, *format = "tar.gz";
	int personal = 1;
	int64_t since = INT64_MIN, until = INT64_MAX, id;
	struct gov_job_view v;
	bool busy;
	int r;
	if ((r = http_json_unpack(rq, "{s?s, s?s, s?b, s?s}", "since", &since_s, "until", &until_s,
				  "personal", &personal, "format", &format)) < 0 ||
	    (since_s && (r = archive_audit_time(since_s, false, &since, &rq->err)) < 0) ||
	    (until_s && (r = archive_audit_time(until_s, true, &until, &rq->err)) < 0))
		return r;
	if ((r = gov_audit_export_start(rq->app->gov, rq->actor, since, until, personal != 0, format,
					&id, &busy, &rq->err)) < 0) {
		if (!busy)
			return r;
		(void)http_response_header(rs, "Retry-After", "30");
		return http_reply_error(rs, 503, "unavailable", "%s", rq->err.msg);
	}
	if (!gov_job_get(rq->app->gov, GOV_JOB_AUDIT_EXPORT, id, &v))
		return pv_fail(&rq->err, PV_ERR, "audit export %lld vanished", (long long)id);
	json_t *body = export_json(rq, &v);
	gov_job_view_free(&v);
	return http_reply_json(rs, 202, body);
}

static int export_job(struct http_request *rq, struct gov_job_view *v)
{
	int64_t id;
	int r;
	if ((r = http_param_int(rq, 0, 1, INT64_MAX, &id, &rq->err)) < 0)
		return r;
	if (!gov_job_get(rq->app->gov, GOV_JOB_AUDIT_EXPORT, id, v))
		return pv_fail(&rq->err, PV_ENOTFOUND, "no audit export %lld on this server",
			       (long long)id);
	return PV_OK;
}

int h_audit_export_get(struct http_request *rq, struct http_response *rs)
{
	struct gov_job_view v;
	if (export_job(rq, &v) < 0)
		return rq->err.code;
	json_t *body = export_json(rq, &v);
	gov_job_view_free(&v);
	return http_reply_json(rs, 200, body);
}

int h_audit_export_download(struct http_request *rq, struct http_response *rs)
{
	struct gov_job_view v;
	char label[24], sha[65], disp[128];
	uint64_t size;
	int r;
	if (export_job(rq, &v) < 0)
		return rq->err.code;
	if (v.state != GOV_JOB_DONE) {
		gov_job_view_free(&v);
		return http_reply_error(rs, 409, "conflict", "audit export %lld is %s", (long long)v.id,
					job_status(v.state));
	}
	snprintf(label, sizeof(label), "%lld", (long long)v.id);
	/* Opened first, so what is hashed and audited is what is sent. */
	int fd = open(v.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		gov_job_view_free(&v);
		return pv_fail(&rq->err, PV_ENOTFOUND, "audit export %s: its file is gone", label);
	}
	if ((r = archive_audit_bundle_download(rq->ar, rq->actor, label, fd, v.sha256, sha, &size,
					       &rq->err)) < 0) {
		close(fd);
		gov_job_view_free(&v);
		return r;
	}
	snprintf(disp, sizeof(disp), "attachment; filename=\"popvault-audit-%s.%s\"", label,
		 v.format);
	bool zip = strcmp(v.format, "zip") == 0;
	gov_job_view_free(&v);
	(void)http_response_header(rs, "Content-Disposition", disp);
	if (http_reply_fd(rs, 200, zip ? "application/zip" : "application/gzip", fd,
			  (int64_t)size) < 0)
		return pv_fail(&rq->err, PV_ERR, "out of memory");
	return PV_OK;
}
