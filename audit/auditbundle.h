#ifndef PV_AUDITBUNDLE_H
#define PV_AUDITBUNDLE_H

/* Audit-log export bundles (kind "audit", on audit/bundle.h):
 *
 *   BUNDLE, VERIFY.md           kind; how to check everything by hand
 *   trust/vkeys                 the log's verifier keys, every epoch
 *                               (informational: never trusted by the verifier)
 *   audit/checkpoint            the final signed checkpoint, size N: its
 *                               last leaf N-1 is this export's own event
 *   audit/checkpoints/<a>       earlier checkpoints: the one at the start of
 *                               the range, and the final one of every earlier
 *                               audit export (a recipient's "last checkpoint")
 *   audit/consistency/<a>-<N>   RFC 9162 consistency proof from each of those
 *                               to the final one, one base64 hash per line
 *   audit/rotations/<i>         each logged rotation of the audit key: the note
 *                               the old key signed (leaf i of the log), and
 *   audit/rotations/<i>.proof   its RFC 9162 inclusion proof in the final tree;
 *                               the verifier follows them from the key it holds
 *   audit/tree-proof            how the included leaves rebuild the final root:
 *                                 popvault/tree-proof/v1
 *                                 size N
 *                                 leaves LO HI        (leaves LO..HI-1, then N-1)
 *                                 left L <b64>        compact range of [0, LO):
 *                                                     complete subtrees of height L,
 *                                                     largest first
 *                                 right L <b64>       compact range of [HI, N-1),
 *                                                     left to right
 *   audit/leaves                the leaf bytes, each as a 2-byte big-endian
 *                               length and the bytes (C2SP tlog-tiles entry
 *                               encoding): LO..HI-1, then N-1
 *   audit/entries.jsonl         one JSON object per included leaf
 *   audit/entries.csv           the same for spreadsheets (header row first)
 *   audit/personal.jsonl        the side data of those entries (omitted with
 *                               personal = false): seq, salt, data
 *   audit/timestamps/...        RFC 3161 time-stamps of earlier checkpoints
 *                               (bundle_external.h), each also an anchor
 *   MANIFEST.sha256, MANIFEST.note  (audit/bundle.h; signed by the audit key)
 *
 * The range [LO, HI) holds the entries from `since` to `until`; with no
 * `until`, HI = N-1 and the leaves are simply LO..N-1. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/progress.h"
#include "audit/bundle_external.h"
#include "audit/bundle_read.h"
#include "audit/bundle_write.h"
#include "audit/note.h"
#include "audit/tlog.h"

#define AUDITBUNDLE_KIND "audit"

struct auditbundle_opts {
	const char *out;      /* ends in .tar.gz, .tgz or .zip; must not exist */
	const char *actor;    /* who exports (recorded in the export event) */
	int64_t since, until; /* unix seconds, INT64_MIN / INT64_MAX when open */
	bool personal;        /* include the side data */
	struct pv_progress progress; /* entries written of the range (may be empty) */
	const struct bundle_external *external; /* the log's outside evidence; NULL none */
};

struct auditbundle_summary {
	uint64_t lo, hi;   /* the range of entries */
	uint64_t size;     /* N: the final checkpoint's size */
	uint64_t entries;  /* leaves in the bundle (hi - lo + 1) */
	uint64_t personal; /* side-data records included */
};

/* Records the export (an "audit-export" event, fail closed: nothing is
 * written if that fails), then writes the bundle, streamed, whose final
 * checkpoint covers that event. If writing fails after the event, a
 * second event records the failure (best effort) and no file is left. */
int auditbundle_export(struct tlog *audit, const struct note_signer *key,
		       const struct auditbundle_opts *o, struct auditbundle_summary *sum_r,
		       struct pv_error *err);

/* Verifies an audit bundle offline, trusting only keys[0..nkeys): the
 * signatures of the checkpoints and the manifest, the manifest against
 * every member, the final root recomputed from the leaves, every earlier
 * checkpoint by root or consistency proof, each leaf's seq, the JSON
 * Lines, CSV and personal data against the leaves, and the export event.
 * last_cp (may be NULL): a checkpoint note the verifier kept from before;
 * the bundle must extend it. pol (may be NULL): what outside evidence
 * must show (bundle_external.h). Every problem goes to rep; returns 0 when
 * there was none, PV_EINTEGRITY when there was, another status for an
 * error that stopped the check (err). */
int auditbundle_verify(struct bundle *b, const struct note_verifier *keys, size_t nkeys,
		       const char *last_cp, size_t last_len, const struct bundle_policy *pol,
		       struct bundle_report *rep, struct pv_error *err) PV_WARN_UNUSED;

#endif
