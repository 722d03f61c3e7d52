/* The dashboard (GET /api/v1/status) and GET /metrics: counts, times and
 * sizes, never message content, so every role may see its part. */
#include <string.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/status.h"
#include "archiver/http/handlers.h"
#include "archiver/http/metrics.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"

json_t *h_json_time(int64_t t)
{
	char buf[PV_RFC3339_LEN];
	if (t <= 0)
		return json_null();
	pv_clock_format_rfc3339(t, buf);
	return json_string(buf);
}

static json_t *age_or_null(int64_t now, int64_t t)
{
	return t < 0 ? json_null() : json_integer(now > t ? now - t : 0);
}

/* The newest anchor outside the box (time-stamp or cosignature) and
 * whether it is stale (archive/anchor.h). */
static json_t *anchor_json(const struct archive_system_status *st, const struct anchor_status *a)
{
	int64_t t = a->tsa_time > a->witness_time ? a->tsa_time : a->witness_time;
	return json_pack("{s:b, s:o, s:o, s:o, s:I, s:o, s:o, s:b}", "configured", a->configured,
			 "timestamp_time", h_json_time(a->tsa_time), "witnessed_time",
			 h_json_time(a->witness_time), "age_s", age_or_null(st->now, t),
			 "anchored_size", (json_int_t)(a->tsa_time >= a->witness_time ? a->tsa_size
										 : a->witness_size),
			 "last_attempt", h_json_time(a->last_attempt), "last_error",
			 a->last_error[0] ? json_string(a->last_error) : json_null(), "stale",
			 a->stale);
}

static json_t *log_json(const struct archive_system_status *st, const struct archive_log_status *l)
{
	return json_pack("{s:I, s:o, s:o, s:o}", "size", (json_int_t)l->size, "checkpoint_time",
			 h_json_time(l->checkpoint_time), "age_s",
			 age_or_null(st->now, l->checkpoint_time), "anchor",
			 anchor_json(st, &l->anchor));
}

static json_t *growth_json(const struct archive_system_status *st)
{
	json_t *a = json_array();
	for (int i = 0; i < ARCHIVE_GROWTH_DAYS; i++) {
		char day[PV_RFC3339_LEN];
		pv_clock_format_rfc3339((st->growth_day0 + i) * 86400, day);
		day[10] = '\0';
		json_array_append_new(a, json_pack("{s:s, s:I, s:I}", "day", day, "messages",
						   (json_int_t)st->growth_messages[i], "bytes",
						   (json_int_t)st->growth_bytes[i]));
	}
	return a;
}

static json_t *status_json(const struct archive_system_status *st, bool accounts)
{
	const struct stats_counts *c = &st->counts;
	json_t *verify = json_null();
	if (st->verify_time >= 0)
		verify = json_pack("{s:o, s:s, s:b}", "time", h_json_time(st->verify_time), "outcome",
				   st->verify_outcome, "full", st->verify_full);
	json_t *o = json_pack(
		"{s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o, s:{s:I, s:o}, s:{s:o, s:o}, s:o,"
		" s:{s:I, s:o, s:o}, s:o}",
		"archive", "messages", (json_int_t)c->messages, "disposed", (json_int_t)c->disposed,
		"bytes", (json_int_t)c->bytes, "upstream_pending_delete",
		(json_int_t)c->upstream_pending, "upstream_residue", (json_int_t)c->upstream_residue,
		"accounts", (json_int_t)c->accounts, "growth", growth_json(st), "index", "lag",
		(json_int_t)st->index_lag, "segments",
		st->index_segments < 0 ? json_null() : json_integer(st->index_segments), "logs",
		ARCHIVE_LOG, log_json(st, &st->archive_log),
		AUDIT_LOG, log_json(st, &st->audit_log), "verify", verify, "heartbeat", "gaps",
		(json_int_t)st->heartbeat_gaps, "last_entry", h_json_time(st->last_audit_entry),
		"since_last_entry_s", age_or_null(st->now, st->last_audit_entry),
		"pending_approvals",
		json_integer(st->pending_approvals));
	if (o != NULL) {
		/* Harvests stopped for a low disk (disk_guard.h), and the disk. */
		const struct disk_guard_state *hp = &st->harvest_pause;
		json_object_set_new(o, "harvest",
				    json_pack("{s:b, s:o, s:o}", "paused", hp->paused, "since",
					      hp->paused ? h_json_time(hp->since) : json_null(),
					      "reason", hp->paused ? json_string("disk-low")
								   : json_null()));
		json_object_set_new(o, "disk",
				    json_pack("{s:o, s:I}", "free_bytes",
					      st->data_free_bytes < 0 ? json_null()
								      : json_integer(st->data_free_bytes),
					      "reserve_bytes", (json_int_t)PV_DATA_DISK_RESERVE));
	}
	if (o != NULL && accounts) {
		json_t *list = json_array();
		for (size_t i = 0; i < st->n_accounts; i++)
			json_array_append_new(list, h_account_record_json(&st->accounts[i]));
		json_object_set_new(o, "accounts", list);
	}
	return o;
}

int h_status(struct http_request *rq, struct http_response *rs)
{
	struct archive_system_status st;
	int r = archive_system_status(rq->ar, &st, &rq->err);
	/* Which upstream mailboxes there are, and how their harvests go, is
	 * the admin's and the compliance officer's business. */
	bool accounts = (rq->session->role_bit & (HTTP_ROLE_ADMIN | HTTP_ROLE_COMPLIANCE)) != 0;
	if (r == PV_OK)
		r = http_reply_json(rs, 200, status_json(&st, accounts));
	archive_system_status_free(&st);
	return r;
}

int h_metrics(struct http_request *rq, struct http_response *rs)
{
	struct archive_system_status st;
	int r = archive_system_status(rq->ar, &st, &rq->err);
	pv_buf_reset(&rs->body);
	if (r == PV_OK &&
	    (r = metrics_render(&st, archive_audit_failures(), &rs->body, &rq->err)) == PV_OK &&
	    (r = http_response_header(rs, "Content-Type", METRICS_CONTENT_TYPE)) == PV_OK)
		rs->status = 200;
	archive_system_status_free(&st);
	return r;
}
