/* Health and integrity anchors: /healthz and the latest checkpoints. */
#include <stdio.h>
#include <unistd.h>

#include "archiver/http/handlers.h"
#include "audit/checkpoint.h"

/* The audit log can take an entry: the catalog (and its write-ahead log)
 * is open for writing and writable. Checked without writing, so a busy
 * harvest does not make the appliance look down. */
static bool audit_writable(struct archive *ar)
{
	char path[sizeof(ar->dir) + 32];
	uint64_t size;
	if (sqlite3_db_readonly(ar->cat->db, "main") != 0 ||
	    tlog_size(ar->audit_log, &size, NULL) < 0)
		return false;
	snprintf(path, sizeof(path), "%s/catalog.db", ar->dir);
	if (access(path, W_OK) != 0)
		return false;
	snprintf(path, sizeof(path), "%s/catalog.db-wal", ar->dir);
	return access(path, F_OK) != 0 || access(path, W_OK) == 0;
}

int h_healthz(struct http_request *rq, struct http_response *rs)
{
	bool ok = audit_writable(rq->ar);
	if (!ok)
		(void)http_response_header(rs, "Retry-After", "30");
	return http_reply_json(rs, ok ? 200 : 503,
			       json_pack("{s:s}", "status", ok ? "ok" : "unavailable"));
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
