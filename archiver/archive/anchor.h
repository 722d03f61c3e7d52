#ifndef PV_ARCHIVE_ANCHOR_H
#define PV_ARCHIVE_ANCHOR_H

/* Anchoring the logs outside the box (ARCHITECTURE.md §4, issue 17): whoever
 * holds keys/ can truncate a log and sign it again; parties the archive's
 * owner does not control make that visible.
 *
 *   - An RFC 3161 Time-Stamp Authority ([anchor] tsa_url) stamps the
 *     SHA-256 of the log's latest signed checkpoint note, exactly as stored
 *     (the log's own signature included, no cosignatures); the reply is
 *     checked (status, nonce, imprint, policy, the TSA's chain up to
 *     [anchor] tsa_ca_file) and kept beside the checkpoint (store/
 *     anchors.h). `verify` then checks every token and that each stamped
 *     checkpoint is still a prefix of the log (verify_anchors.h).
 *   - Witnesses ([witnesses]) get the same checkpoint by the C2SP
 *     tlog-witness add-checkpoint protocol (witness_client.c) and answer
 *     with cosignatures, kept the same way.
 *
 * Every attempt is recorded (anchor_attempts) and audited as an "anchor"
 * entry, success or failure, so staleness shows in stats, the status
 * page, /metrics and the audit log. A party that cannot be reached fails
 * nothing else: harvests go on.
 *
 * archive_anchor_all is what a scheduler calls (serve's anchor part, when
 * archive_anchor_due says so); `popvault anchor` calls archive_anchor per
 * log. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "archiver/store/datadir.h"
#include "audit/bundle_external.h"

/* What to ask; NULL / false fields take popvault.conf's values. */
struct anchor_opts {
	const char *tsa_url;     /* NULL: [anchor] tsa_url */
	const char *tsa_ca_file; /* NULL: [anchor] tsa_ca_file */
	bool no_tsa;             /* skip the TSA */
	bool no_witnesses;       /* skip the witnesses */
};

/* How one party answered. */
struct anchor_party {
	char name[PV_KEY_NAME_MAX + 1]; /* "tsa", or the witness's key name */
	int status;                     /* PV_OK or the failure */
	char error[PV_ERROR_MSG_MAX];   /* why, when it failed */
	int64_t time;                   /* the TSA's genTime, the cosignature's time */
	char detail[160];               /* the token's serial and policy; "" */
};

struct anchor_result {
	char log[PV_TLOG_NAME_MAX + 1];
	uint64_t size, checkpoint_seq; /* the checkpoint shown */
	struct anchor_party parties[1 + PV_WITNESSES_MAX];
	size_t n_parties;
};

/* Shows the latest checkpoint of log `name` ("archive" or "audit") to the
 * TSA and the witnesses configured (or given in o). Fills *res_r for each
 * party asked. Returns PV_OK when every party answered well; else the
 * first failure (PV_ETEMP: a party was unreachable or answered 5xx;
 * PV_EINTEGRITY: an answer did not verify, or a witness refused the
 * checkpoint; PV_EPERM: the TSA refused) with err; PV_EUSAGE when there
 * is nobody to ask. Results that verified are kept even when another
 * party failed. An audit append that fails is an error (fail closed:
 * its token is then not kept). */
int archive_anchor(struct archive *ar, const char *name, const char *actor,
		   const struct anchor_opts *o, struct anchor_result *res_r,
		   struct pv_error *err) PV_WARN_UNUSED;

/* Both logs with what popvault.conf configures, for a scheduler. PV_OK
 * when nothing is configured. Failures are recorded and audited as above;
 * the return is the first of them. */
int archive_anchor_all(struct archive *ar, const char *actor, struct pv_error *err);

/* Whether a scheduler should call archive_anchor_all now: a TSA or a
 * witness is configured, and a log was not tried for interval_s, or a
 * disposal run ended after the last attempt (its record is then vouched
 * for outside the box at once, not up to an interval later). *why_r:
 * "interval" or "disposal"; NULL when not due. */
int archive_anchor_due(struct archive *ar, int64_t interval_s, const char **why_r,
		       struct pv_error *err);

/* The outside evidence a bundle of log `name` carries (x initialised by
 * the caller with bundle_external_init): the newest time-stamps, one per
 * size, and the newest cosigned checkpoints with their cosignatures, at
 * most PV_BUNDLE_TIMESTAMPS_MAX each, of sizes <= max_size. Reading
 * stored, public evidence: not audited (the export is). */
int archive_anchor_evidence(struct archive *ar, const char *name, uint64_t max_size,
			    struct bundle_external *x, struct pv_error *err);

/* Where a log stands with its anchors, for stats, status and /metrics. */
struct anchor_status {
	int64_t tsa_time;          /* genTime of the newest time-stamp; -1 none */
	uint64_t tsa_size;         /* the log size it stamped */
	int64_t witness_time;      /* the newest cosignature's time; -1 none */
	uint64_t witness_size;
	int64_t last_attempt;      /* -1: never tried */
	int64_t last_ok;           /* -1: never succeeded */
	char last_error[PV_ERROR_MSG_MAX]; /* the party and why its last attempt failed; "" */
	bool configured;           /* a TSA or a witness is configured */
	bool stale;                /* configured, and nothing newer than [anchor] stale_after */
};

int archive_anchor_status(struct archive *ar, const char *name, struct anchor_status *st_r,
			  struct pv_error *err);

#endif
