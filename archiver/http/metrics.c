#include "archiver/http/metrics.h"

#include <string.h>

#include "archiver/lib/limits.h"

int metrics_label_value(struct pv_buf *out, const char *v, struct pv_error *err)
{
	int r = PV_OK;
	for (const char *p = v; *p && r == PV_OK; p++) {
		if (*p == '\\')
			r = pv_buf_append_str(out, "\\\\", err);
		else if (*p == '"')
			r = pv_buf_append_str(out, "\\\"", err);
		else if (*p == '\n')
			r = pv_buf_append_str(out, "\\n", err);
		else
			r = pv_buf_append(out, p, 1, err);
	}
	return r;
}

static int family(struct pv_buf *out, const char *name, const char *type, const char *help,
		  struct pv_error *err)
{
	/* Our HELP texts are constants without '\' or newlines. */
	return pv_buf_printf(out, err, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int sample(struct pv_buf *out, const char *name, int64_t v, struct pv_error *err)
{
	return pv_buf_printf(out, err, "%s %lld\n", name, (long long)v);
}

/* name{label="value"[,label2="value2"]} v */
static int labelled(struct pv_buf *out, const char *name, const char *label, const char *value,
		    const char *label2, const char *value2, int64_t v, struct pv_error *err)
{
	int r;
	if ((r = pv_buf_printf(out, err, "%s{%s=\"", name, label)) < 0 ||
	    (r = metrics_label_value(out, value, err)) < 0)
		return r;
	if (label2 != NULL && ((r = pv_buf_printf(out, err, "\",%s=\"", label2)) < 0 ||
			       (r = metrics_label_value(out, value2, err)) < 0))
		return r;
	return pv_buf_printf(out, err, "\"} %lld\n", (long long)v);
}

static int per_account(const struct archive_system_status *st, struct pv_buf *out,
		       struct pv_error *err)
{
	const char *n;
	int r;
	if ((r = family(out, "popvault_harvest_runs_total", "counter",
			"Harvests recorded per account and outcome.", err)) < 0)
		return r;
	for (size_t i = 0; i < st->n_accounts; i++) {
		n = st->accounts[i].name;
		if ((r = labelled(out, "popvault_harvest_runs_total", "account", n, "outcome", "ok",
				  st->accounts[i].runs_ok, err)) < 0 ||
		    (r = labelled(out, "popvault_harvest_runs_total", "account", n, "outcome",
				  "failed", st->accounts[i].runs_failed, err)) < 0)
			return r;
	}
	if ((r = family(out, "popvault_harvest_last_success_timestamp_seconds", "gauge",
			"Start of the newest successful harvest per account (unix seconds).",
			err)) < 0)
		return r;
	for (size_t i = 0; i < st->n_accounts; i++)
		if (st->accounts[i].last_success > 0 &&
		    (r = labelled(out, "popvault_harvest_last_success_timestamp_seconds", "account",
				  st->accounts[i].name, NULL, NULL, st->accounts[i].last_success,
				  err)) < 0)
			return r;
	if ((r = family(out, "popvault_harvest_seconds_since_success", "gauge",
			"Seconds since the start of the newest successful harvest per account.",
			err)) < 0)
		return r;
	for (size_t i = 0; i < st->n_accounts; i++) {
		int64_t ago = st->now - st->accounts[i].last_success;
		if (st->accounts[i].last_success > 0 &&
		    (r = labelled(out, "popvault_harvest_seconds_since_success", "account",
				  st->accounts[i].name, NULL, NULL, ago < 0 ? 0 : ago, err)) < 0)
			return r;
	}
	if ((r = family(out, "popvault_upstream_residue", "gauge",
			"Messages deleted upstream yet still there, per account.", err)) < 0)
		return r;
	for (size_t i = 0; i < st->n_accounts; i++)
		if ((r = labelled(out, "popvault_upstream_residue", "account", st->accounts[i].name,
				  NULL, NULL, st->accounts[i].residue, err)) < 0)
			return r;
	return PV_OK;
}

static int log_age(const struct archive_system_status *st, struct pv_buf *out,
		   struct pv_error *err)
{
	const struct {
		const char *log;
		const struct archive_log_status *s;
	} logs[] = {{ARCHIVE_LOG, &st->archive_log}, {AUDIT_LOG, &st->audit_log}};
	int r = family(out, "popvault_checkpoint_age_seconds", "gauge",
		       "Age of the latest signed checkpoint of each log.", err);
	for (size_t i = 0; r == PV_OK && i < 2; i++)
		if (logs[i].s->checkpoint_time >= 0) {
			int64_t age = st->now - logs[i].s->checkpoint_time;
			r = labelled(out, "popvault_checkpoint_age_seconds", "log", logs[i].log, NULL,
				     NULL, age < 0 ? 0 : age, err);
		}
	/* Anchors outside the box (archive/anchor.h): the newest time-stamp
	 * or cosignature, and whether it is older than [anchor] stale_after. */
	if (r == PV_OK)
		r = family(out, "popvault_anchor_age_seconds", "gauge",
			   "Age of the newest time-stamp or witness cosignature of each log.", err);
	for (size_t i = 0; r == PV_OK && i < 2; i++) {
		const struct anchor_status *a = &logs[i].s->anchor;
		int64_t t = a->tsa_time > a->witness_time ? a->tsa_time : a->witness_time;
		if (t >= 0)
			r = labelled(out, "popvault_anchor_age_seconds", "log", logs[i].log, NULL,
				     NULL, st->now > t ? st->now - t : 0, err);
	}
	if (r == PV_OK)
		r = family(out, "popvault_anchor_stale", "gauge",
			   "1 when a log's anchors are stale (a TSA or witness configured, none "
			   "newer than [anchor] stale_after).", err);
	for (size_t i = 0; r == PV_OK && i < 2; i++)
		r = labelled(out, "popvault_anchor_stale", "log", logs[i].log, NULL, NULL,
			     logs[i].s->anchor.stale ? 1 : 0, err);
	return r;
}

int metrics_render(const struct archive_system_status *st, uint64_t audit_failures,
		   struct pv_buf *out, struct pv_error *err)
{
	int r;
	if ((r = family(out, "popvault_messages_archived", "gauge",
			"Messages in the archive (not disposed of).", err)) < 0 ||
	    (r = sample(out, "popvault_messages_archived", st->counts.messages, err)) < 0 ||
	    (r = family(out, "popvault_bytes_archived", "gauge",
			"Bytes of the messages in the archive.", err)) < 0 ||
	    (r = sample(out, "popvault_bytes_archived", st->counts.bytes, err)) < 0 ||
	    (r = per_account(st, out, err)) < 0 ||
	    (r = family(out, "popvault_index_lag_messages", "gauge",
			"Archived messages not yet in the search index.", err)) < 0 ||
	    (r = sample(out, "popvault_index_lag_messages", st->index_lag, err)) < 0 ||
	    (r = log_age(st, out, err)) < 0 ||
	    (r = family(out, "popvault_heartbeat_gaps_total", "counter",
			"Pauses over 30 minutes between audit entries (heartbeats missing).",
			err)) < 0 ||
	    (r = sample(out, "popvault_heartbeat_gaps_total", (int64_t)st->heartbeat_gaps, err)) < 0)
		return r;
	if (st->data_free_bytes >= 0 &&
	    ((r = family(out, "popvault_data_dir_free_bytes", "gauge",
			 "Bytes free to popvault in the data directory's file system.", err)) < 0 ||
	     (r = sample(out, "popvault_data_dir_free_bytes", st->data_free_bytes, err)) < 0))
		return r;
	if ((r = family(out, "popvault_data_dir_reserve_bytes", "gauge",
			"Bytes the harvest keeps free in the data directory's file system.", err)) < 0 ||
	    (r = sample(out, "popvault_data_dir_reserve_bytes", PV_DATA_DISK_RESERVE, err)) < 0 ||
	    (r = family(out, "popvault_harvest_paused", "gauge",
			"1 while harvests are stopped because the data directory's disk is low.",
			err)) < 0 ||
	    (r = sample(out, "popvault_harvest_paused", st->harvest_pause.paused, err)) < 0)
		return r;
	if (st->index_lag_s >= 0 &&
	    ((r = family(out, "popvault_index_lag_seconds", "gauge",
			 "Age of the oldest archived message not yet in the search index.", err)) < 0 ||
	     (r = sample(out, "popvault_index_lag_seconds", st->index_lag_s, err)) < 0))
		return r;
	if (st->index_segments >= 0 &&
	    ((r = family(out, "popvault_index_segments", "gauge",
			 "Segments of the search index (1: fully merged; the indexer merges "
			 "them when idle).", err)) < 0 ||
	     (r = sample(out, "popvault_index_segments", st->index_segments, err)) < 0))
		return r;
	if ((r = family(out, "popvault_audit_append_failures_total", "counter",
			"Audit appends that failed in this server (each refused its action).",
			err)) < 0)
		return r;
	return sample(out, "popvault_audit_append_failures_total", (int64_t)audit_failures, err);
}
