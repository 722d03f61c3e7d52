#ifndef PV_VERIFY_H
#define PV_VERIFY_H

/* `popvault verify` (DESIGN.md §4): recomputes both Merkle logs from their
 * stored entries, checks every checkpoint signature and consistency (via
 * audit/tlog_verify), then every catalog row against its archive leaf and
 * every blob against its hash; with `full`, every blob is also decrypted and
 * authenticated and its plaintext checked against the catalog hash and the
 * leaf's salted commitment. Content that is missing without a disposal
 * record is reported as unauthorised deletion. The search index is never
 * consulted. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

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
};

/* known_notes: checkpoint notes kept off the box (--checkpoint FILE): the
 * logs must be consistent with them. Problems are printed to `out` one per
 * line as they are found; returns PV_EINTEGRITY when there was any. */
int verify_archive(struct archive *ar, bool full, const char *const *known_notes,
		   const size_t *known_lens, size_t n_known, FILE *out, struct verify_report *rep,
		   struct pv_error *err) PV_WARN_UNUSED;

#endif
