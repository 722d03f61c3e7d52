#ifndef PV_BUNDLE_EXTERNAL_H
#define PV_BUNDLE_EXTERNAL_H

/* What parties outside the box said about a log's checkpoints, carried in
 * a bundle (archiver/archive/anchor.h makes it; every bundle kind writes
 * and checks it the same way) in the kind's directory of that log:
 *
 *   <dir>/timestamps/<A>.note   a signed checkpoint note of size A, exactly
 *                               as a Time-Stamp Authority stamped it
 *   <dir>/timestamps/<A>.tsr    the TSA's reply (DER TimeStampResp, RFC
 *                               3161): its imprint is SHA-256(<A>.note)
 *   <dir>/timestamps/tsa-certs.pem  the certificates those tokens carry (for
 *                               `openssl ts -verify -untrusted`; never
 *                               trusted: the verifier brings the TSA's CA)
 *   <dir>/cosigned/<A>          a signed checkpoint note of size A followed by
 *                               the cosignature lines witnesses gave it (C2SP
 *                               tlog-cosignature, audit/cosig.h)
 *   <dir>/checkpoints/<A>, <dir>/consistency/<A>-<N>
 *                               (bundle_trust.h) each such size A is also an
 *                               anchor, with the proof that the bundle's
 *                               tree of size N extends it
 *
 * A verifier given the TSA's CA (verify-bundle --tsa-ca) checks each
 * token's signature and chain as of its genTime, its imprint, that the
 * note is the log's checkpoint signed by a trusted key, and that the
 * bundle's checkpoint extends it: the log held those entries at that time
 * whoever holds its keys now. A verifier given witness keys and a quorum
 * (verify-bundle --witness, --witness-quorum) wants a cosigned checkpoint
 * that the bundle's extends, cosigned by that many of them: witnesses
 * refuse to cosign a log that forked from what they saw. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "audit/bundle_read.h"
#include "audit/bundle_trust.h"
#include "audit/bundle_write.h"
#include "audit/checkpoint.h"
#include "audit/cosig.h"

struct bundle_stamp {
	uint64_t size;
	struct pv_buf note; /* the stamped signed checkpoint note */
	struct pv_buf tsr;  /* the DER TimeStampResp */
};

struct bundle_cosigned {
	uint64_t size;
	struct pv_buf note; /* the signed note with its cosignature lines */
};

/* The outside evidence of one log a bundle carries. */
struct bundle_external {
	struct bundle_stamp *stamps; /* at most one per size */
	size_t n_stamps;
	struct pv_buf certs;         /* the tokens' certificates, PEM, each once */
	struct bundle_cosigned *cosigned; /* at most one per size */
	size_t n_cosigned;
};

void bundle_external_init(struct bundle_external *x);
void bundle_external_free(struct bundle_external *x);
/* Adds a stamp (copies note and tsr) unless one of that size is there;
 * its certificates join x->certs. */
int bundle_external_add_stamp(struct bundle_external *x, uint64_t size, const void *note,
			      size_t note_len, const void *tsr, size_t tsr_len,
			      struct pv_error *err);

/* Adds a cosigned note (copied) unless one of that size is there. */
int bundle_external_add_cosigned(struct bundle_external *x, uint64_t size, const void *note,
				 size_t len, struct pv_error *err);

/* The sizes x vouches for are anchors too (their consistency proofs):
 * adds them to a (of the audit log when audit, else of the archive log). */
int bundle_external_anchor_sizes(const struct bundle_external *x, struct bundle_anchors *a,
				 bool audit, struct pv_error *err);
/* Writes <dir>/timestamps/... and <dir>/cosigned/... for sizes <= size. */
int bundle_external_write(struct bundle_writer *w, const char *dir,
			  const struct bundle_external *x, uint64_t size, struct pv_error *err);

/* --- checking ------------------------------------------------------------------ */

/* What a verifier asks of outside evidence (verify-bundle's options). */
struct bundle_policy {
	const char *tsa_ca_file; /* NULL: time-stamps are listed, not checked */
	const struct cosig_verifier *witnesses; /* the witness keys the verifier trusts */
	size_t n_witnesses;
	unsigned quorum;         /* cosignatures a checkpoint needs; 0: none asked */
	const char *tsa_crl_file; /* the TSA CA's CRLs (tsa.h); NULL: not checked */
};

/* True for a member name bundle_external_write makes in dir. */
bool bundle_external_name(const char *name, const char *dir);

/* Checks every <dir>/timestamps/ and <dir>/cosigned/ member of b against
 * fin, the bundle's trusted checkpoint of that log, and pol (may be NULL). direct/ctx as
 * for bundle_trust_extends. Problems and findings go to rep. */
void bundle_external_check(const struct bundle *b, struct bundle_keys *k,
			   struct bundle_report *rep, const char *dir,
			   const struct checkpoint *fin, const struct bundle_policy *pol,
			   bundle_trust_direct_fn direct, void *ctx);

#endif
