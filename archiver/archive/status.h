#ifndef PV_ARCHIVE_STATUS_H
#define PV_ARCHIVE_STATUS_H

/* The state of the archive at a glance (`popvault stats`, the status page
 * of the web API): counts, bytes, the sizes of both logs and the last
 * harvest of each account. Counts and sizes only, no message content: not
 * audited, like reading a checkpoint. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/archive/anchor.h"
#include "archiver/archive/disk_guard.h"
#include "archiver/archive/indexer.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"
#include "audit/auditlog.h"
#include "archiver/store/stats.h"
#include "archiver/store/stats_system.h"

struct archive_status {
	struct stats_counts counts;
	int64_t archive_log_size; /* entries; 0 when it cannot be read */
	int64_t audit_log_size;
	struct indexer_status index; /* how far the search index trails the archive */
	struct stats_run *runs;   /* the newest run per active account, by name */
	size_t n_runs;
	struct anchor_status anchors[2]; /* archive, audit: time-stamps, witnesses */
	struct disk_guard_state harvest_pause; /* harvests stopped for a low disk */
	int64_t data_free_bytes;  /* free to us in the data directory; -1 unknown */
};

/* Fills *st_r (owned by the caller: archive_status_free, also after an
 * error). */
int archive_status(struct archive *ar, struct archive_status *st_r, struct pv_error *err);
void archive_status_free(struct archive_status *st);

/* ---- the dashboard and /metrics (GET /api/v1/status, GET /metrics) ---- */

/* Days of growth shown (a month, for a chart). */
#define ARCHIVE_GROWTH_DAYS 30

struct archive_log_status {
	int64_t size;            /* entries */
	int64_t checkpoint_time; /* of the latest signed checkpoint; -1 unknown */
	struct anchor_status anchor; /* its anchors outside the box (anchor.h) */
};

struct archive_system_status {
	struct stats_counts counts;
	struct stats_account *accounts; /* every active account, by name */
	size_t n_accounts;
	int64_t growth_day0;            /* unix day (time / 86400) of growth[0] */
	int64_t growth_messages[ARCHIVE_GROWTH_DAYS], growth_bytes[ARCHIVE_GROWTH_DAYS];
	int64_t index_lag;              /* messages not in the search index */
	int64_t index_lag_s;            /* age of the oldest of them (0: none; -1 unknown) */
	int64_t index_segments;         /* FTS5 segments (1: merged; -1: none to tell) */
	struct archive_log_status archive_log, audit_log;
	int64_t verify_time;            /* the newest "verify" entry; -1: none */
	char verify_outcome[AUDIT_OUTCOME_MAX + 1];
	bool verify_full;
	uint64_t heartbeat_gaps;        /* auditlog_index_gaps over AUDITLOG_HEARTBEAT_GAP_S */
	int64_t last_audit_entry;       /* -1: none */
	int64_t pending_approvals;      /* proposals awaiting a second person */
	int64_t data_free_bytes;        /* free to us in the data directory; -1 unknown */
	struct disk_guard_state harvest_pause; /* harvests stopped for a low disk */
	int64_t now;                    /* when it was taken (unix seconds) */
};

/* Fills *st_r (archive_system_status_free, also after an error). Counts,
 * times and sizes only: not audited. */
int archive_system_status(struct archive *ar, struct archive_system_status *st_r,
			  struct pv_error *err);
void archive_system_status_free(struct archive_system_status *st);

/* When verify last ran (any kind: full, plain or a sample) and when it
 * last ran in full, from the audit log's verify entries (0: never; only
 * the newest few thousand are looked at). For serve's schedule. */
int archive_last_verifies(struct archive *ar, int64_t *any_r, int64_t *full_r,
			  struct pv_error *err);

#endif
