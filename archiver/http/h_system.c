/* Health and integrity anchors: /healthz and the latest checkpoints. */
#include <stdio.h>
#include <string.h>

#include "archiver/archive/health.h"
#include "archiver/http/app.h"
#include "archiver/http/handlers.h"
#include "archiver/lib/limits.h"
#include "audit/checkpoint.h"

/* GET /healthz: 200 {"status": "ok"}; else 503 {"status": "unavailable",
 * "reason": the first, "reasons": [...]} (archive/health.h). */
int h_healthz(struct http_request *rq, struct http_response *rs)
{
	struct archive_health_opts o = {.disk_reserve = PV_DATA_DISK_RESERVE};
	struct archive_health h;
	struct pv_board *b = rq->app->board;
	int r;

	if (b != NULL) {
		pv_board_lock(b);
		o.harvest_interval_s = b->harvesting ? b->harvest_interval_s : 0;
		o.harvest_since = b->started_at;
		o.harvest_paused = b->harvesting && b->paused;
		pv_board_unlock(b, false);
		o.audit_failing = atomic_load(&b->audit_failed_at) > atomic_load(&b->audit_ok_at);
	}
	if ((r = archive_health(rq->ar, &o, &h, &rq->err)) < 0)
		return r;
	if (h.ok)
		return http_reply_json(rs, 200, json_pack("{s:s}", "status", "ok"));
	(void)http_response_header(rs, "Retry-After", "30");
	/* The reasons name accounts, upstream servers and their errors: for a
	 * monitor on this machine, not for whoever reaches the port (the
	 * signed-in see them in the dashboard). */
	if (!http_peer_is_loopback(rq->peer))
		return http_reply_json(rs, 503, json_pack("{s:s}", "status", "unavailable"));
	json_t *reasons = json_array();
	for (size_t i = 0; i < h.n; i++)
		json_array_append_new(reasons, json_string(h.reason[i]));
	return http_reply_json(rs, 503, json_pack("{s:s, s:s, s:o}", "status", "unavailable",
						  "reason", h.reason[0], "reasons", reasons));
}

/* One log: its latest signed checkpoint and the verifier keys of every
 * epoch (a key rotation keeps old checkpoints checkable). */
static json_t *log_json(struct tlog *t, struct pv_error *err)
{
	struct tlog_epoch_row ep;
	struct checkpoint cp;
	struct pv_buf note;
	json_t *vkeys = json_array(), *out = NULL;
	pv_buf_init(&note, PV_NOTE_MAX);
	tlog_epoch_row_init(&ep);
	if (checkpoint_latest(t, &note, &cp, err) < 0 || tlog_epoch_get(t, UINT32_MAX, &ep, err) < 0)
		goto out;
	for (uint32_t e = 0, last = ep.epoch; e <= last; e++) {
		if (tlog_epoch_get(t, e, &ep, err) < 0)
			goto out;
		json_array_append_new(vkeys, json_string(ep.vkey));
	}
	out = json_pack("{s:s, s:I, s:s, s:s, s:O}", "origin", tlog_origin(t), "size",
			(json_int_t)cp.size, "checkpoint", pv_buf_str(&note), "vkey", ep.vkey,
			"vkeys", vkeys);
out:
	json_decref(vkeys);
	tlog_epoch_row_free(&ep);
	pv_buf_free(&note);
	return out;
}

int h_checkpoints(struct http_request *rq, struct http_response *rs)
{
	json_t *a = log_json(rq->ar->archive_log, &rq->err), *b = NULL;
	if (a == NULL || (b = log_json(rq->ar->audit_log, &rq->err)) == NULL) {
		json_decref(a);
		return rq->err.code < 0 ? rq->err.code : PV_ERR;
	}
	return http_reply_json(rs, 200, json_pack("{s:o, s:o}", ARCHIVE_LOG, a, AUDIT_LOG, b));
}
