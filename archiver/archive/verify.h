#ifndef PV_VERIFY_H
#define PV_VERIFY_H

/* `popvault verify` (ARCHITECTURE.md §4): recomputes both Merkle logs from their
 * stored entries, checks every checkpoint signature and consistency (via
 * audit/tlog_verify), then every catalog row against its archive leaf and
 * every blob against its hash; with `full`, every blob is also decrypted and
 * authenticated and its plaintext checked against the catalog hash and the
 * leaf's salted commitment. Content that is missing without a disposal
 * record is reported as unauthorised deletion. The search index is never
 * consulted. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/archive/verify_anchors.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"
#include "audit/auditlog.h"

struct verify_report {
	uint64_t archive_leaves, audit_leaves;
	uint64_t archive_checkpoints, audit_checkpoints;
	int64_t messages, disposed, blobs_checked, blobs_decrypted, orphan_blobs;
	int64_t problems;
	int64_t latest_checkpoint_age_s; /* -1 when unknown */
	struct auditlog_check_report audit; /* entries, personal data, heartbeat gaps */
	struct verify_anchor_report anchors; /* time-stamps and cosignatures (anchor.h) */
};

/* Problems ("FAIL: ...") and notes ("note: ...") go to the caller one line
 * at a time, as they are found (no newline; at most VERIFY_LINE_MAX - 1
 * bytes). */
#define VERIFY_LINE_MAX (PV_ERROR_MSG_MAX + 256)
typedef void (*verify_line_fn)(void *ctx, const char *line);

/* known_notes: checkpoint notes kept off the box (--checkpoint FILE): the
 * logs must be consistent with them. So must every checkpoint a TSA
 * stamped or a witness cosigned (verify_anchors.h; the TSA CA, witness
 * keys and quorum come from ar->cfg). line (may be NULL) gets each problem
 * and note; returns PV_EINTEGRITY when there was any problem. The messages
 * checked so far go to ar->progress. */
int verify_archive(struct archive *ar, bool full, const char *const *known_notes,
		   const size_t *known_lens, size_t n_known, verify_line_fn line, void *line_ctx,
		   struct verify_report *rep, struct pv_error *err) PV_WARN_UNUSED;

/* ---- the operation front ends call (`popvault verify`, the web API) ---- */

struct verify_summary {
	struct verify_report rep;
	bool ran;           /* the checks ran to the end: rep is complete */
	bool ok;            /* ran and found no problem */
	bool heartbeat_gap; /* the newest checkpoint is older than AUDITLOG_HEARTBEAT_GAP_S */
	bool recorded;      /* the run's audit entry was appended */
	char record_error[PV_ERROR_MSG_MAX]; /* why not, when ran and !recorded */
};

/* Runs verify_archive, then records the run and its outcome as a "verify"
 * audit entry ("full=yes|no problems=N archive-size=N audit-size=N";
 * outcome "ok" or "failed: integrity problems found"). A verify hands out
 * no archived content, so its entry follows the run (ARCHITECTURE.md §5).
 * Returns PV_OK; PV_EINTEGRITY when problems were found (sum_r->ran set);
 * or the error that stopped the checks (sum_r->ran not set). When the run
 * cannot be recorded, sum_r->recorded is false with record_error, and a
 * run that found no problem returns the audit error instead of PV_OK
 * (except without a signing key here: a copy verified elsewhere). */
int archive_verify(struct archive *ar, const char *actor, bool full,
		   const char *const *known_notes, const size_t *known_lens, size_t n_known,
		   verify_line_fn line, void *line_ctx, struct verify_summary *sum_r,
		   struct pv_error *err) PV_WARN_UNUSED;

/* The same checks of both logs, every checkpoint and every catalog row
 * against its leaf, but the content of a random sample only: about
 * `sample` messages (each one with the chance sample / messages), each
 * decrypted and checked against its commitment as with full; the others'
 * blobs are not read. What `popvault serve` runs often (a full verify
 * reads every byte of the archive). Audited as a verify whose object adds
 * "sample=N decrypted=N". sample 0: PV_EUSAGE. */
int archive_verify_sample(struct archive *ar, const char *actor, uint32_t sample,
			  verify_line_fn line, void *line_ctx, struct verify_summary *sum_r,
			  struct pv_error *err) PV_WARN_UNUSED;

#endif
