#include "archiver/archive/status.h"
#include "archiver/archive/search_open.h"

#include <stdio.h>
#include <string.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/store/approvals.h"
#include "audit/checkpoint.h"

int archive_status(struct archive *ar, struct archive_status *st, struct pv_error *err)
{
	uint64_t n;
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = stats_counts(ar->cat->conn, &st->counts, err)) < 0)
		return r;
	if (tlog_size(ar->archive_log, &n, NULL) == PV_OK)
		st->archive_log_size = (int64_t)n;
	if (tlog_size(ar->audit_log, &n, NULL) == PV_OK)
		st->audit_log_size = (int64_t)n;
	(void)indexer_status(ar, &st->index, NULL); /* zero when it cannot tell */
	st->data_free_bytes = pv_fs_free_bytes(ar->dir);
	if ((r = archive_anchor_status(ar, ARCHIVE_LOG, &st->anchors[0], err)) < 0 ||
	    (r = archive_anchor_status(ar, AUDIT_LOG, &st->anchors[1], err)) < 0 ||
	    (r = disk_guard_state(ar, &st->harvest_pause, err)) < 0)
		return r;
	return stats_last_runs(ar->cat->conn, &st->runs, &st->n_runs, err);
}

void archive_status_free(struct archive_status *st)
{
	stats_runs_free(&st->runs, st->n_runs);
	st->n_runs = 0;
}

/* The size and the time of the latest checkpoint: its signed "time"
 * line (heartbeats and audit checkpoints carry one), else when it was
 * stored (archive checkpoints signed during a harvest carry none). */
static int log_status(struct archive *ar, struct tlog *t, struct archive_log_status *out,
		      struct pv_error *err)
{
	struct tlog_checkpoint_row row;
	struct checkpoint cp;
	struct pv_buf note;
	uint64_t n;
	out->size = tlog_size(t, &n, NULL) == PV_OK ? (int64_t)n : 0;
	out->checkpoint_time = -1;
	tlog_checkpoint_row_init(&row);
	if (tlog_checkpoint_get(t, UINT64_MAX, &row, NULL) == PV_OK)
		out->checkpoint_time = row.created_ms / 1000;
	tlog_checkpoint_row_free(&row);
	pv_buf_init(&note, PV_NOTE_MAX);
	if (checkpoint_latest(t, &note, &cp, NULL) == PV_OK && cp.time >= 0)
		out->checkpoint_time = cp.time;
	pv_buf_free(&note);
	return archive_anchor_status(ar, tlog_name(t), &out->anchor, err);
}

/* The newest verify run, from its audit entry (verify.h). */
static int last_verify(struct archive *ar, struct archive_system_status *st, struct pv_error *err)
{
	static const char *const types[] = {AUDIT_VERIFY};
	struct audit_entry e;
	struct pv_buf leaf;
	uint64_t size, seq;
	size_t n = 0;
	int r;

	st->verify_time = -1;
	if ((r = tlog_size(ar->audit_log, &size, err)) < 0 ||
	    (r = auditlog_seqs_of_types(ar->audit_log, types, 1, size, 1, &seq, &n, err)) < 0 ||
	    n == 0)
		return r;
	pv_buf_init(&leaf, PV_TLOG_ENTRY_MAX);
	if ((r = tlog_leaf(ar->audit_log, seq, &leaf, err)) == PV_OK &&
	    (r = auditlog_leaf_parse(leaf.data, leaf.len, seq, &e, err)) == PV_OK) {
		st->verify_time = e.time;
		snprintf(st->verify_outcome, sizeof(st->verify_outcome), "%s", e.outcome);
		st->verify_full = strstr(e.object, "full=yes") != NULL;
	}
	pv_buf_free(&leaf);
	return r;
}

static int skip_row(void *ctx, const struct approval_row *row)
{
	(void)ctx;
	(void)row;
	return 0;
}

/* How long the oldest message not yet searchable has waited, and how
 * merged the index is. */
static int index_age(struct archive *ar, struct archive_system_status *st, struct pv_error *err)
{
	struct indexer_status ix;
	(void)err;
	st->index_lag_s = -1;
	st->index_segments = -1;
	if (indexer_status(ar, &ix, NULL) == PV_OK) {
		st->index_lag_s = ix.pending == 0 ? 0
			: st->now > ix.oldest_received_at ? st->now - ix.oldest_received_at : 0;
		st->index_segments = ix.segments;
	}
	return PV_OK;
}

int archive_system_status(struct archive *ar, struct archive_system_status *st,
			  struct pv_error *err)
{
	uint64_t pending = 0;
	struct search_backend *sb;
	int r;

	memset(st, 0, sizeof(*st));
	st->now = pv_clock_now();
	st->data_free_bytes = pv_fs_free_bytes(ar->dir);
	st->growth_day0 = st->now / 86400 - (ARCHIVE_GROWTH_DAYS - 1);
	if ((r = log_status(ar, ar->archive_log, &st->archive_log, err)) < 0 ||
	    (r = log_status(ar, ar->audit_log, &st->audit_log, err)) < 0 ||
	    (r = stats_counts(ar->cat->conn, &st->counts, err)) < 0 ||
	    (r = stats_accounts(ar->cat->conn, &st->accounts, &st->n_accounts, err)) < 0 ||
	    (r = stats_growth(ar->cat->conn, st->now, ARCHIVE_GROWTH_DAYS, st->growth_messages,
			      st->growth_bytes, err)) < 0 ||
	    /* idx_doc is beside the catalog's tables on either engine; on
	     * PostgreSQL its backend makes it (SQLite's migrations do) */
	    (db_kind(ar->cat->conn) == DB_POSTGRES &&
	     (r = archive_search_backend(ar, &sb, err)) < 0) ||
	    (r = stats_index_lag(ar->cat->conn, &st->index_lag, err)) < 0 ||
	    (r = index_age(ar, st, err)) < 0 ||
	    (r = last_verify(ar, st, err)) < 0 ||
	    (r = disk_guard_state(ar, &st->harvest_pause, err)) < 0 ||
	    (r = approval_store_each(ar->cat->conn, "pending", 0, 1, skip_row, NULL, &pending, err)) < 0)
		return r;
	st->pending_approvals = (int64_t)pending;
	return auditlog_index_gaps(ar->audit_log, AUDITLOG_HEARTBEAT_GAP_S, &st->heartbeat_gaps,
				   &st->last_audit_entry, err);
}

void archive_system_status_free(struct archive_system_status *st)
{
	stats_accounts_free(&st->accounts, st->n_accounts);
	st->n_accounts = 0;
}

int archive_last_verifies(struct archive *ar, int64_t *any_r, int64_t *full_r,
			  struct pv_error *err)
{
	static const char *const types[] = {AUDIT_VERIFY};
	uint64_t seqs[256], before;
	struct audit_entry e;
	struct pv_buf leaf;
	size_t n = 0, seen = 0;
	int r;

	*any_r = *full_r = 0;
	if ((r = tlog_size(ar->audit_log, &before, err)) < 0)
		return r;
	pv_buf_init(&leaf, PV_TLOG_ENTRY_MAX);
	do {
		if ((r = auditlog_seqs_of_types(ar->audit_log, types, 1, before, 256, seqs, &n,
						err)) < 0)
			break;
		for (size_t i = 0; i < n && *full_r == 0; i++) {
			pv_buf_reset(&leaf);
			if ((r = tlog_leaf(ar->audit_log, seqs[i], &leaf, err)) < 0 ||
			    (r = auditlog_leaf_parse(leaf.data, leaf.len, seqs[i], &e, err)) < 0)
				break;
			if (*any_r == 0)
				*any_r = e.time;
			if (strstr(e.object, "full=yes") != NULL)
				*full_r = e.time;
		}
		seen += n;
		before = n > 0 ? seqs[n - 1] : 0;
	} while (r == PV_OK && *full_r == 0 && n == 256 && seen < 4096);
	pv_buf_free(&leaf);
	return r;
}
