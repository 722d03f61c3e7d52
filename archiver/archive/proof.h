#ifndef PV_ARCHIVE_PROOF_H
#define PV_ARCHIVE_PROOF_H

/* Inclusion proofs of archived messages (C2SP tlog-proof,
 * audit/tlog_proof.h): what an eDiscovery bundle carries for each message
 * (messages/<BATES>.tlog-proof, export/ediscovery.h) and what a single
 * message view hands out (archive_view_proof, view.h). Nothing here is
 * audited: its callers audit the export or the view first.
 *
 * A proof's extra is "salt <hex>\n" followed by the message's exact archive
 * leaf (store/leaf.h). With the message bytes a verifier recomputes the
 * leaf's salted commitment; the proof shows that leaf is in the archive log
 * under a signed checkpoint. */

#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/store/blob.h"
#include "archiver/store/datadir.h"
#include "audit/checkpoint.h"

/* The latest archive checkpoint when it covers leaf max_leaf, else a newly
 * signed one (inside the caller's transaction if one is open). The note is
 * appended to note_r (reset it first); cp_r (may be NULL) gets its body.
 * PV_EINTEGRITY when even a new checkpoint does not cover max_leaf. */
int proof_checkpoint_covering(struct archive *ar, int64_t max_leaf, struct pv_buf *note_r,
			      struct checkpoint *cp_r, struct pv_error *err);

/* Appends to out the tlog-proof of message id, whose archive leaf is
 * leaf_index, against note (an archive checkpoint covering the leaf).
 * salt: message_commit_salt (store/message.h). The leaf must be id's message leaf,
 * else PV_EINTEGRITY ("... is not its leaf"). commit_r and leaf_version_r
 * (may be NULL) get the leaf's commitment and version (how it commits:
 * store/leaf_commit.h). */
int proof_message(struct archive *ar, int64_t id, int64_t leaf_index,
		  const uint8_t salt[BLOB_SALT_BYTES], const char *note, size_t note_len,
		  struct pv_buf *out, uint8_t commit_r[32], int *leaf_version_r,
		  struct pv_error *err);

#endif
