#ifndef PV_READ_AHEAD_H
#define PV_READ_AHEAD_H

/* Messages read ahead, in order, on worker threads (one per CPU): an
 * export goes through every message of its set, and reading one
 * back (its record hashed, authenticated, decrypted, decompressed and
 * checked against the catalog's SHA-256, store/message.h) is half of the
 * work; the caller's thread does the rest meanwhile.
 *
 * The caller pushes messages in the order it will take them; the keyring
 * lookup and the pack store (its catalog rows, and with an object store
 * the GET of the record's bytes into a temp file) happen in
 * read_ahead_push, on the caller's thread (the only one that touches a
 * database or the network); the workers only pread what it opened, and
 * a record's fd is closed when the caller takes the next (in order: a
 * pack store with drop_after_read forgets what was read only then, never
 * pages a worker still reads). Memory is bounded: at most READ_AHEAD_WINDOW
 * messages and READ_AHEAD_BYTES of content wait; a message bigger than
 * READ_AHEAD_ONE_MAX is not read ahead: read_ahead_take hands it back
 * without content and the caller streams it with message_read. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"
#include "archiver/store/message.h"

#define READ_AHEAD_WINDOW 32
#define READ_AHEAD_BYTES (16 * 1024 * 1024)
#define READ_AHEAD_ONE_MAX (4 * 1024 * 1024)

struct read_ahead;

#define READ_AHEAD_DIGEST_BYTES 64

/* What a worker may compute over a message's bytes once it read them
 * (export: the SHA-256 a v3 leaf's commitment is made from, and the load
 * file's MD5), so that the caller's thread need not: into out; 0 or an
 * error, which read_ahead_take returns. */
typedef int (*read_ahead_digest_fn)(const unsigned char *data, size_t len,
				    uint8_t out[READ_AHEAD_DIGEST_BYTES], struct pv_error *err);

int read_ahead_new(struct archive *ar, struct read_ahead **ra_r, struct pv_error *err);
/* True while another message may be pushed without waiting. */
bool read_ahead_room(const struct read_ahead *ra);
/* Queues m (copied) with its key and salt (message_unwrap's errors);
 * digest (may be NULL) runs on the worker after it read the bytes. */
int read_ahead_push(struct read_ahead *ra, const struct stored_message *m,
		    read_ahead_digest_fn digest, struct pv_error *err);
/* The oldest message pushed, once read: *m_r, the salt of its commitment
 * and its bytes (*data_r NULL when it is too big to be read ahead: then
 * the caller reads it); message_read's errors. Valid until the next take
 * (the bytes are wiped then). */
int read_ahead_take(struct read_ahead *ra, const struct stored_message **m_r,
		    const uint8_t **salt_r, const unsigned char **data_r, size_t *len_r,
		    struct pv_error *err);
/* The digest of the message last taken: NULL when none was made (pushed
 * without one, or too big to be read ahead). Valid as its bytes are. */
const uint8_t *read_ahead_digest(const struct read_ahead *ra);
/* Stops the workers, wipes what waits, frees (NULL is fine). */
void read_ahead_free(struct read_ahead **ra);

#endif
