#ifndef PV_ARCHIVE_WITNESS_H
#define PV_ARCHIVE_WITNESS_H

/* A witness for other logs (`popvault witness serve`): C2SP tlog-witness
 * add-checkpoint, answered with C2SP tlog-cosignature/v1 (audit/cosig.h).
 * A compliance officer runs one on another machine; two appliances can
 * witness each other; any C2SP log can use one.
 *
 * It trusts a list of log keys (note verifier keys, each named after its
 * log's origin) and keeps, per origin, the checkpoint it last cosigned in
 * its state file (store/witness_state.h). It cosigns a checkpoint only
 * when the request's old size is the size it last cosigned, the checkpoint
 * is at least that big, signed by the log's key, and the consistency
 * proof from the old tree to it holds; the check and the new state are
 * one transaction, persisted before it answers. Answers, as the protocol
 * says: 200 with cosignature lines; 400 a malformed request or an old
 * size above the checkpoint's; 403 no trusted signature; 404 an unknown
 * origin; 409 (text/x.tlog.size: the size it holds) another old size than
 * its own, or the same size with another root; 422 a proof that does not
 * hold. Refusals 409 and 422 are kept in the state file as evidence. */

#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "audit/note.h"

#define WITNESS_SIZE_TYPE "text/x.tlog.size"

struct witness;

struct witness_opts {
	const char *key_file;   /* its signing key (witness_init makes it) */
	const char *state_file; /* its state (witness_init makes it) */
	const struct note_verifier *logs; /* the log keys it trusts */
	size_t n_logs;
};

/* A new witness named `name`: key file (0600, never overwritten) and an
 * empty state file. Its verifier key (C2SP vkey, type 0x04, for the logs'
 * [witnesses] and verifiers) is appended to vkey_r. */
int witness_init(const char *key_file, const char *state_file, const char *name,
		 struct pv_buf *vkey_r, struct pv_error *err);
/* Loads the key and opens the state. */
int witness_open(const struct witness_opts *o, struct witness **w_r, struct pv_error *err);
void witness_free(struct witness **w);
/* The vkey of the key in key_file (no state needed). */
int witness_key_vkey(const char *key_file, struct pv_buf *vkey_r, struct pv_error *err);

struct witness_answer {
	int status;               /* an HTTP status */
	const char *content_type; /* static */
	struct pv_buf body;
};
void witness_answer_init(struct witness_answer *a);
void witness_answer_free(struct witness_answer *a);

/* One add-checkpoint request body; fills *a (initialised by the caller).
 * Safe from several threads at once (one request at a time inside). */
void witness_add_checkpoint(struct witness *w, const uint8_t *req, size_t len,
			    struct witness_answer *a);

#endif
