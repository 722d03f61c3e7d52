#ifndef PV_ARCHIVE_VERIFY_ANCHORS_H
#define PV_ARCHIVE_VERIFY_ANCHORS_H

/* verify's look at what parties outside the box said (anchor.h): every
 * stored RFC 3161 token and witness cosignature is checked on its own
 * (the note signed by the log's key, the token's imprint and signature,
 * its TSA's chain up to [anchor] tsa_ca_file as of its genTime, and the
 * TSA's certificate against [anchor] tsa_crl_file when there is one; the
 * cosignature under the configured witness key), and the checkpoint each
 * vouches for must still be a prefix of today's log (its size at most the
 * log's, the recomputed root at that size equal to its root). A log that
 * was truncated or rewritten and signed again with the box's own key
 * fails here as soon as one such party saw the old one. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"

struct verify_anchor_log {
	uint64_t tokens;           /* time-stamps checked */
	int64_t newest_time;       /* genTime of the newest good one; -1: none */
	uint64_t newest_size;      /* the log size it stamped */
	uint64_t cosignatures;     /* cosignatures checked under a known witness key */
	int64_t witnessed_time;    /* the newest checkpoint with a quorum: its newest
				    * cosignature's time; -1: none */
	uint64_t witnessed_size;
	uint64_t witnessed_count;  /* how many witnesses cosigned that checkpoint */
};

struct verify_anchor_report {
	struct verify_anchor_log log[2]; /* archive, audit */
	bool chain_checked;              /* a TSA CA file was there to check chains */
	uint64_t revocation_checked;     /* tokens whose TSA a CRL showed standing */
	int64_t crl_time;                /* the newest CRL used; -1: none */
	unsigned quorum;                 /* witnesses a checkpoint needs (0: none asked) */
};

/* Problems and notes go to say (problem true for a problem). */
typedef void (*verify_anchor_say_fn)(void *ctx, bool problem, const char *msg);

/* Reads the TSA CA and the witness keys and quorum from ar->cfg. With a
 * quorum, a log whose checkpoints were never cosigned by that many of the
 * witnesses is a problem. Returns 0, or an error that stopped the checks. */
int verify_anchors(struct archive *ar, verify_anchor_say_fn say, void *ctx,
		   struct verify_anchor_report *rep, struct pv_error *err);

#endif
