#ifndef PV_CHECKPOINT_H
#define PV_CHECKPOINT_H

/* C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint) bodies in signed notes.
 *
 *   <origin>\n<decimal size>\n<base64 root>\n[<extension line>\n]*
 *
 * The one extension we write is "time <unix seconds>", on heartbeats (and
 * whenever CHECKPOINT_TIME is asked for): Ed25519 is deterministic, so
 * without it an idle log's heartbeat would repeat the previous note byte
 * for byte and prove nothing about when the log was alive. Other
 * extension lines are accepted as opaque (at most
 * PV_CHECKPOINT_EXT_LINES_MAX). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/tlog.h"

struct checkpoint {
	char origin[PV_KEY_NAME_MAX + 1];
	uint64_t size;
	merkle_hash root;
	int64_t time;  /* "time" extension line, or -1 when absent */
	size_t n_ext;  /* extension lines, time included */
};

#define CHECKPOINT_TIME 1u

/* Body text for (origin, size, root), plus "time <time_s>" when time_s >= 0. */
int checkpoint_format(const char *origin, uint64_t size, const merkle_hash root, int64_t time_s,
		      struct pv_buf *out, struct pv_error *err);
/* Parses a body (the note text, not the whole note). Strict: decimal
 * without leading zeros, 32-byte canonical base64 root, non-empty lines. */
int checkpoint_parse(const char *text, size_t len, struct checkpoint *cp_r,
		     struct pv_error *err) PV_WARN_UNUSED;
/* Opens a signed checkpoint note against trusted keys and parses it. The
 * origin must equal the name of a key that signed it (the log's own key;
 * witness cosignatures alone do not make a checkpoint). */
int checkpoint_open(const char *note, size_t len, const struct note_verifier *vs, size_t nv,
		    struct checkpoint *cp_r, struct pv_error *err) PV_WARN_UNUSED;

/* Signs a checkpoint of the log's current size and root with s, stores it
 * (tlog_checkpoint) and, when note_r is not NULL, appends the note to it.
 * s must be the log's current-epoch key and its name the log's origin.
 * Refuses (PV_EINTEGRITY) when the log no longer matches the latest
 * checkpoint it signed (shrunk or rewritten): a log must never sign two
 * inconsistent checkpoints. Works inside the caller's transaction.
 * flags: CHECKPOINT_TIME adds the time line. Its time (the line, and the
 * row's created_ms) is the later of now and the previous checkpoint's, so
 * checkpoint times never go backwards when the clock steps back.
 *
 * With a remote key (s->remote, the signer process) the checkpoint is
 * only reserved: its row holds the body, unsigned, and note_r gets
 * nothing. A reserved row of the same epoch that is still the latest is
 * grown instead of adding another, so a transaction reserves one row per
 * log. checkpoint_seal signs reserved rows once their leaves are
 * committed: the signer refuses any tree that does not extend the last
 * one it signed, and a tree signed before its commit could be rolled
 * back. *seq_r is the reserved row's seq. */
int checkpoint_sign(struct tlog *t, const struct note_signer *s, unsigned flags,
		    struct pv_buf *note_r, uint64_t *seq_r, struct pv_error *err);
/* Signs every reserved (unsigned) checkpoint row of t, oldest first,
 * through s's remote key (any remote handle of t's signer; each row is
 * signed by the key of its own epoch), checking that each note returned
 * is the reserved body under that key; or, for a local key, with s where
 * it is the key of the row's epoch (PV_ENOTFOUND for a row of another
 * epoch). Call it when t holds no uncommitted appends of the caller
 * (after the commit, or in a transaction that has not appended to t). A
 * no-op when nothing is reserved. *sealed_r (may be NULL) counts the rows
 * signed. */
int checkpoint_seal(struct tlog *t, const struct note_signer *s, uint64_t *sealed_r,
		    struct pv_error *err) PV_WARN_UNUSED;
/* The idle heartbeat: a fresh checkpoint with the time line, signed even
 * when the log did not grow. */
int checkpoint_heartbeat(struct tlog *t, const struct note_signer *s, struct pv_buf *note_r,
			 struct pv_error *err);

/* The latest signed checkpoint note (appended to note_r) and its parsed
 * body (cp_r may be NULL); reserved rows are skipped. PV_ENOTFOUND when
 * the log has none. Does not verify the signature: use checkpoint_open or
 * tlog_verify for that. */
int checkpoint_latest(struct tlog *t, struct pv_buf *note_r, struct checkpoint *cp_r,
		      struct pv_error *err);

/* Is `next` an acceptable successor of the already-trusted `known`? Same
 * origin, size not smaller, and the consistency proof (known.size ->
 * next.size) holds; a known empty tree must have the empty root. */
int checkpoint_check_successor(const struct checkpoint *known, const struct checkpoint *next,
			       const merkle_hash *proof, size_t proof_len,
			       struct pv_error *err) PV_WARN_UNUSED;
/* Opens both notes with vs, fetches the consistency proof from t and
 * applies checkpoint_check_successor; *next_r (may be NULL) gets the new
 * checkpoint. For checking the log's latest against one saved earlier
 * (by an officer, an email, a witness). */
int checkpoint_accept(struct tlog *t, const char *known_note, size_t known_len,
		      const char *next_note, size_t next_len, const struct note_verifier *vs,
		      size_t nv, struct checkpoint *next_r, struct pv_error *err) PV_WARN_UNUSED;

#endif
