#ifndef PV_BUNDLE_TRUST_H
#define PV_BUNDLE_TRUST_H

/* What ties a bundle to what its recipient already trusts, written and
 * checked the same way for every bundle kind (audit/auditbundle.h,
 * archiver/export/ediscovery.h), in the kind's own directories:
 *
 *   <dir>/checkpoints/<A>       a checkpoint of the log kept in <dir>, of size
 *                               A, that an earlier bundle carried (a recipient
 *                               keeps one: verify-bundle --last-checkpoint)
 *   <dir>/consistency/<A>-<N>   the RFC 9162 §2.1.4 consistency proof from it
 *                               to the bundle's own checkpoint of size N
 *   <dir>/rotations/<I>         a rotation note (audit/keys.h: the old key
 *                               signs its successor) that is leaf I of the log
 *   <dir>/rotations/<I>.proof   and its RFC 9162 §2.1.3 inclusion proof in the
 *                               bundle's tree of size N
 *   <prefix>/<E>                a log's rotation notes by epoch E (1, 2, ...),
 *                               for a verifier to follow from the key it holds
 *   trust/vkeys                 each epoch's verifier key, one a line: a
 *                               reminder only, never trusted by a verifier
 *
 * A proof member is one standard base64 hash a line. Writing is
 * bundle_trust_write.c; checking, trusting only the keys a verifier was
 * given, is bundle_trust_check.c. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "audit/bundle_write.h"
#include "audit/merkle.h"
#include "audit/tlog.h"

/* --- writing ------------------------------------------------------------------------ */

/* The tree sizes to anchor, ascending, unique. */
struct bundle_anchors {
	uint64_t *audit;   /* of the audit log */
	uint64_t *archive; /* of the archive log */
	size_t n_audit, n_archive;
};

/* Which earlier exports bundle_anchors_find looks at. */
#define BUNDLE_ANCHOR_AUDIT_EXPORTS 1u /* audit bundles: their final size */
#define BUNDLE_ANCHOR_EXPORTS 2u       /* eDiscovery: audit size, and the archive
					* size the event names */

/* The checkpoints the newest PV_BUNDLE_ANCHORS_MAX earlier exports (audit
 * events before seq `before`, of the kinds in flags) carried, none 0, and
 * `also` (one more audit size, UINT64_MAX for none). Free with
 * bundle_anchors_free. */
int bundle_anchors_find(struct tlog *audit, uint64_t before, unsigned flags, uint64_t also,
			struct bundle_anchors *a_r, struct pv_error *err);
void bundle_anchors_free(struct bundle_anchors *a);

/* <dir>/checkpoints/<A> for each size A of sizes[0..n) that log t stored a
 * checkpoint of, and when 0 < A < size <dir>/consistency/<A>-<size>. Sizes
 * above `size` are skipped. */
int bundle_trust_add_anchors(struct bundle_writer *w, struct tlog *t, const char *dir,
			     const uint64_t *sizes, size_t n, uint64_t size, struct pv_error *err);

/* <prefix>/<E>: the rotation note of each epoch E >= 1 of log t. */
int bundle_trust_add_rotation_chain(struct bundle_writer *w, struct tlog *t, const char *prefix,
				    struct pv_error *err);

/* <dir>/rotations/<I> and <I>.proof: each rotation note of log t that is
 * leaf I < size of log `record`, and its inclusion proof in record's tree
 * of that size. */
int bundle_trust_add_logged_rotations(struct bundle_writer *w, struct tlog *t,
				      struct tlog *record, const char *dir, uint64_t size,
				      struct pv_error *err);

/* Appends each epoch's verifier key of log t, a line each (trust/vkeys). */
int bundle_trust_vkeys(struct tlog *t, struct pv_buf *out, struct pv_error *err);

/* A proof member: hashes[0..n), one base64 hash a line. */
int bundle_trust_add_proof(struct bundle_writer *w, const char *name, const merkle_hash *hashes,
			   size_t n, struct pv_error *err);

#endif
