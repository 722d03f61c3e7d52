#ifndef PV_TLOG_PROOF_H
#define PV_TLOG_PROOF_H

/* C2SP tlog-proof (c2sp.org/tlog-proof@v1): an offline-verifiable proof
 * that an entry is in a log.
 *
 *   c2sp.org/tlog-proof@v1
 *   extra <base64>            (optional, unauthenticated)
 *   index <decimal>
 *   <base64 hash>             (0..PV_PROOF_HASHES_MAX, leaf sibling first)
 *   <empty line>
 *   <signed checkpoint note, verbatim>
 *
 * Verifying needs nothing but the proof text, the entry bytes and the
 * log's verifier key. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/tlog.h"

struct tlog_proof {
	bool has_extra;
	uint8_t *extra; /* malloc'ed (NULL when extra_len is 0) */
	size_t extra_len;
	uint64_t index;
	merkle_hash hashes[PV_PROOF_HASHES_MAX];
	size_t n_hashes;
	const char *checkpoint; /* points into the parsed text */
	size_t checkpoint_len;
};

/* Writes the proof of leaf `index` against a checkpoint note of log t
 * (normally its latest). The checkpoint must be for t's origin, cover the
 * index and match the log's tree at its size. extra may be NULL. */
int tlog_proof_create(struct tlog *t, uint64_t index, const char *checkpoint_note, size_t note_len,
		      const void *extra, size_t extra_len, struct pv_buf *out,
		      struct pv_error *err);

/* Parses proof text (at most PV_TLOG_PROOF_MAX bytes). p_r->checkpoint
 * points into text, which must outlive it. Free with tlog_proof_free. */
int tlog_proof_parse(const char *text, size_t len, struct tlog_proof *p_r,
		     struct pv_error *err) PV_WARN_UNUSED;
void tlog_proof_free(struct tlog_proof *p);

/* Verifies that `entry` is leaf p.index of the log whose key is `vkey`:
 * parses the proof, opens the checkpoint with vkey (origin == key name),
 * and checks the inclusion proof. cp_r and p_r (both may be NULL) get the
 * checkpoint and the parsed proof (free p_r with tlog_proof_free). */
int tlog_proof_verify(const char *text, size_t len, const void *entry, size_t entry_len,
		      const char *vkey, struct checkpoint *cp_r, struct tlog_proof *p_r,
		      struct pv_error *err) PV_WARN_UNUSED;

#endif
