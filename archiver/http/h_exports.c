/* Export jobs (legal): POST/GET /api/v1/exports, GET/DELETE
 * /api/v1/exports/{id} (DELETE cancels a running one), GET
 * /api/v1/exports/{id}/download, DELETE /api/v1/exports/{id}/bundle. The
 * export is audited by export_run, the download by
 * archive_export_job_download, a removal by archive_export_job_remove. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "archiver/archive/export_jobs.h"
#include "archiver/archive/search.h"
#include "archiver/http/app.h"
#include "archiver/http/handlers.h"
#include "archiver/http/legal_json.h"

/* How long DELETE waits for the export to stop (it stops between messages). */
#define CANCEL_WAIT_MS 10000

static int job_json(struct http_request *rq, const struct export_job *j, json_t **out_r)
{
	uint64_t done = 0, total = 0;
	bool running = export_runner_progress(rq->app->exports, j->id, &done, &total);
	*out_r = legal_json_job(j, running, done, total);
	return *out_r ? PV_OK : PV_ERR;
}

int h_export_start(struct http_request *rq, struct http_response *rs)
{
	struct export_request er = {NULL, NULL, NULL, NULL};
	int64_t id;
	int r;
	if (http_json_unpack(rq, "{s:s, s:s, s:s, s?s}", "query", &er.query, "matter", &er.matter,
			     "format", &er.format, "bates_prefix", &er.bates_prefix) < 0)
		return PV_EUSAGE;
	if (archive_search_check(er.query, NULL, &rq->err) < 0)
		return legal_json_bad_query(rs, &rq->err);
	if ((r = export_runner_start(rq->app->exports, rq->ar, rq->actor, &er, &id, &rq->err)) < 0)
		return r;
	return http_reply_json(rs, 202, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status",
						  EXPORT_JOB_RUNNING));
}

struct jobs_out {
	struct http_request *rq;
	json_t *a;
};

static int append_job(void *ctx, const struct export_job *j)
{
	struct jobs_out *o = ctx;
	json_t *v;
	if (job_json(o->rq, j, &v) < 0)
		return PV_ERR;
	return json_array_append_new(o->a, v) < 0 ? PV_ERR : 0;
}

int h_exports(struct http_request *rq, struct http_response *rs)
{
	char matter[PV_MATTER_NAME_MAX + 1];
	int r = http_query_get(rq, "matter", matter, sizeof(matter), &rq->err);
	if (r < 0 && r != PV_ENOTFOUND)
		return r;
	struct jobs_out o = {rq, json_array()};
	if (o.a == NULL)
		return PV_ERR;
	if ((r = archive_export_jobs_each(rq->ar, r == PV_OK ? matter : NULL, append_job, &o,
					  &rq->err)) < 0) {
		json_decref(o.a);
		return r;
	}
	return http_reply_json(rs, 200, json_pack("{s:o}", "exports", o.a));
}

int h_export(struct http_request *rq, struct http_response *rs)
{
	struct export_job j;
	json_t *v;
	int64_t id;
	int r;
	if ((r = http_param_int(rq, 0, 1, INT64_MAX, &id, &rq->err)) < 0 ||
	    (r = archive_export_job_get(rq->ar, id, &j, &rq->err)) < 0 || (r = job_json(rq, &j, &v)) < 0)
		return r;
	return http_reply_json(rs, 200, v);
}

int h_export_cancel(struct http_request *rq, struct http_response *rs)
{
	struct export_job j;
	int64_t id;
	int r;
	if ((r = http_param_int(rq, 0, 1, INT64_MAX, &id, &rq->err)) < 0 ||
	    (r = archive_export_job_get(rq->ar, id, &j, &rq->err)) < 0)
		return r;
	if (strcmp(j.status, EXPORT_JOB_RUNNING) != 0)
		return pv_fail(&rq->err, PV_EEXISTS, "export %lld is %s, not running", (long long)id,
			       j.status);
	if ((r = export_runner_cancel(rq->app->exports, id, CANCEL_WAIT_MS, &rq->err)) < 0 ||
	    (r = archive_export_job_get(rq->ar, id, &j, &rq->err)) < 0)
		return r;
	/* It may have got past its last look at the flag: then nothing was
	 * cancelled, and the bundle is there to download. */
	if (strcmp(j.status, EXPORT_JOB_DONE) == 0)
		return pv_fail(&rq->err, PV_EEXISTS, "export %lld finished before it could be "
			       "cancelled", (long long)id);
	return h_export(rq, rs);
}

/* A finished export's bundle removed (the plaintext it holds): a request
 * of its own, so that a cancel that comes too late never removes one. */
int h_export_remove(struct http_request *rq, struct http_response *rs)
{
	int64_t id;
	int r;
	if ((r = http_param_int(rq, 0, 1, INT64_MAX, &id, &rq->err)) < 0 ||
	    (r = archive_export_job_remove(rq->ar, rq->actor, id, "request", &rq->err)) < 0)
		return r;
	return h_export(rq, rs);
}

int h_export_download(struct http_request *rq, struct http_response *rs)
{
	struct export_job j;
	char name[64];
	int64_t id;
	int fd, r;
	if ((r = http_param_int(rq, 0, 1, INT64_MAX, &id, &rq->err)) < 0)
		return r;
	/* Checked against its SHA-256 and audited before it is opened for us. */
	if ((r = archive_export_job_download(rq->ar, rq->actor, id, &fd, &j, &rq->err)) < 0)
		return legal_json_fail(rq, rs, r);
	snprintf(name, sizeof(name), "popvault-export-%lld.%s", (long long)id, j.format);
	if (legal_attachment(rs, name, name) < 0) {
		close(fd);
		return PV_ERR;
	}
	return legal_reply_file(rs, strcmp(j.format, "zip") == 0 ? "application/zip"
								   : "application/gzip",
				fd, j.file_size);
}
