#ifndef PV_TLOG_VERIFY_H
#define PV_TLOG_VERIFY_H

/* Whole-log verification (ARCHITECTURE.md §4 `verify`, ARCHITECTURE.md §4). Trusts
 * nothing stored except the entry bytes it rehashes:
 *   - key epochs: epoch 0 is the pinned vkey (when given); each later
 *     epoch's rotation note is signed by the previous key, names both keys
 *     and the tree at rotation, and is stored as the leaf it claims to be;
 *   - every checkpoint row 0..n-1 exists, is signed by the key of its own
 *     epoch (a newer key signing an old epoch is refused), matches its row
 *     and never shrinks. A time line earlier than the one before it is a
 *     clock that stepped back (reported in rep, not a problem: signing
 *     keeps times from going back since issue 16, older logs may have
 *     such steps);
 *   - every leaf row 0..size-1 exists, none beyond; every stored tile hash
 *     (leaf hashes and the interior hashes at levels 8, 16, ...) equals the
 *     hash recomputed from the entry bytes; no tile is missing or extra;
 *   - every claimed tree (checkpoints, rotation notes, known checkpoints
 *     from outside) has exactly the recomputed root at its size, and
 *     consecutive checkpoints are consistent (RFC 9162 proofs from the
 *     verified tiles).
 * known_notes are checkpoints kept off the box (an officer's export, an
 * email, a witness): with them, truncating the log and re-signing with the
 * same key is detected; without them it is not (ARCHITECTURE.md §4).
 *
 * Returns 0, or PV_EINTEGRITY with what is wrong and where in err (the
 * first problem found), or another status for I/O errors. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "audit/merkle.h"
#include "audit/tlog.h"

struct tlog_verify_report {
	uint64_t size;        /* leaves rehashed */
	merkle_hash root;     /* root of the whole log */
	uint64_t checkpoints; /* checkpoint notes verified */
	uint32_t epochs;      /* key epochs verified */
	uint64_t known;       /* outside checkpoints confirmed */
	bool pinned;          /* epoch 0 matched pinned_vkey */
	uint64_t latest_size; /* size of the latest signed checkpoint */
	int64_t latest_time;  /* its time line, -1 when none */
	/* timed checkpoints dated before the timed one before them */
	uint64_t time_steps;
	uint64_t step_seq;         /* the first of them */
	int64_t step_from, step_to; /* its predecessor's time and its own */
	/* Checkpoint rows reserved and not yet signed (audit/checkpoint.h);
	 * only the last rows may be: from seq reserved_from on, the last of
	 * size reserved_size. Their trees are checked like the others'. */
	uint64_t reserved, reserved_from, reserved_size;
};

int tlog_verify(struct tlog *t, const char *pinned_vkey, const char *const *known_notes,
		const size_t *known_lens, size_t n_known, struct tlog_verify_report *rep,
		struct pv_error *err) PV_WARN_UNUSED;

#endif
