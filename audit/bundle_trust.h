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
#include "audit/bundle_read.h"
#include "audit/bundle_write.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/note.h"
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
/* Adds sizes[0..n) to a's audit (audit true) or archive sizes, which stay
 * ascending and unique. */
int bundle_anchors_add(struct bundle_anchors *a, bool audit, const uint64_t *sizes, size_t n,
		       struct pv_error *err);

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

/* --- checking: the keys (bundle_trust_keys.c) ------------------------------------------ */

/* The keys a verifier trusts, each for a range of its log's tree sizes:
 * the keys it was given for every size, until a rotation it followed
 * retires one after its closing checkpoint; the key a rotation introduces
 * from there on. */
struct bundle_keys;

int bundle_keys_new(const struct note_verifier *given, size_t n, struct bundle_keys **k_r,
		    struct pv_error *err);
void bundle_keys_free(struct bundle_keys **k);
/* The keys trusted at tree size `size` (UINT64_MAX: the current ones), in
 * *n_r; valid until the next call. */
const struct note_verifier *bundle_keys_at(struct bundle_keys *k, uint64_t size, size_t *n_r);

/* Opens a checkpoint note with the keys trusted at its size: 1 when a
 * trusted key signed it, 0 when it only parses (err says why it is not
 * trusted), -1 when it is not a checkpoint (err). *cp_r is filled unless -1. */
int bundle_keys_open_checkpoint(struct bundle_keys *k, const uint8_t *note, size_t len,
				struct checkpoint *cp_r, struct pv_error *err);

/* Follows the rotation note `name` (note[0..len), audit/keys.h): when the
 * key it retires is trusted at the note's size and signed it, the key it
 * names is trusted from the rotation on and the old one retired. self:
 * the note is a leaf of the log whose key it rotates (then the old key
 * also signs the size one leaf later); leaf: that leaf's index, which is
 * then the note's size, or UINT64_MAX when unknown. A note by a key not
 * given is a warning (the verifier may hold a later key), a forged or
 * malformed one a problem; all go to rep. */
void bundle_keys_follow(struct bundle_keys *k, struct bundle_report *rep, const char *name,
			const uint8_t *note, size_t len, bool self, uint64_t leaf);

/* The --last-checkpoint a verifier kept, opened with the keys trusted at
 * its size: 0, or -1 after reporting why not. */
int bundle_keys_open_last(struct bundle_keys *k, struct bundle_report *rep, const char *note,
			  size_t len, struct checkpoint *cp_r);

/* --- checking: the members (bundle_trust_check.c) ------------------------------------- */

/* Member names: "<dir>/checkpoints/<A>", "<dir>/consistency/<A>-<N>",
 * "<dir>/rotations/<I>" (proof_r false) or "<dir>/rotations/<I>.proof",
 * "<prefix>/<E>" with E > 0. proof_r may be NULL. */
bool bundle_trust_anchor_name(const char *name, const char *dir, uint64_t *a_r);
bool bundle_trust_consistency_name(const char *name, const char *dir, uint64_t *a_r,
				   uint64_t *n_r);
bool bundle_trust_rotation_name(const char *name, const char *dir, uint64_t *i_r, bool *proof_r);
bool bundle_trust_chain_name(const char *name, const char *prefix, uint64_t *e_r);

/* A proof member: 0 with hashes[0..*n_r) (room for PV_PROOF_HASHES_MAX),
 * PV_ENOTFOUND when the bundle has no such member (or it was too big to
 * keep), PV_EINTEGRITY when it is malformed. */
int bundle_trust_read_proof(const struct bundle *b, const char *name, merkle_hash *hashes,
			    size_t *n_r);

/* Is the rotation note <dir>/rotations/<I> leaf I of the tree of fin, by
 * its .proof? True, or false after reporting why not. */
bool bundle_trust_check_logged(const struct bundle *b, struct bundle_report *rep,
			       const char *dir, uint64_t i, const struct checkpoint *fin);

/* Checks the caller can make itself (an audit bundle recomputes the roots
 * of the sizes its leaves cover): true when it takes cp on. */
typedef bool (*bundle_trust_direct_fn)(void *ctx, const struct checkpoint *cp, const char *what);

#define BUNDLE_TRUST_SHOWN 1  /* fin extends cp: same tree, or the proof holds */
#define BUNDLE_TRUST_DIRECT 2 /* no proof; left to the direct check */

/* Does fin, the bundle's checkpoint of the log kept in <dir>, extend cp
 * (the checkpoint `what`), by <dir>/consistency/<cp size>-<fin size>?
 * BUNDLE_TRUST_SHOWN or _DIRECT, or 0 after reporting why not. direct
 * (may be NULL) is asked before a missing proof is a problem. Prints
 * nothing on success. */
int bundle_trust_extends(const struct bundle *b, struct bundle_report *rep, const char *dir,
			 const struct checkpoint *fin, const struct checkpoint *cp, const char *what,
			 bundle_trust_direct_fn direct, void *ctx);

/* Every <dir>/checkpoints/<A> (opened with the keys trusted at A, of fin's
 * log, extended by fin) and <dir>/consistency/<A>-<N> (belonging to one of
 * them) of the bundle. */
void bundle_trust_check_anchors(const struct bundle *b, struct bundle_keys *k,
				struct bundle_report *rep, const char *dir,
				const struct checkpoint *fin, bundle_trust_direct_fn direct,
				void *ctx);

#endif
