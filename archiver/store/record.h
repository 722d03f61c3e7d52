#ifndef PV_RECORD_H
#define PV_RECORD_H

/* PVB2 records: one message sealed for a pack (store/pack.h), the blob
 * format since issue 12 (PVB1 files, store/blob.h, stay readable).
 *
 *   "PVB2" | secretstream header (24 B) | chunks
 *   chunk: a 4-byte big-endian word (bit 31: the record's last chunk;
 *          bits 0-30: ciphertext length) | secretstream ciphertext
 *   a chunk's plaintext: one mode byte | payload, which decodes to at
 *          most RECORD_BLOCK bytes of the message: RECORD_STORED, the
 *          bytes as they came; RECORD_ZSTD, one zstd frame of them;
 *          RECORD_B64, base64 lines as the 6-bit values of their
 *          characters (store/b64block.h: head, values); RECORD_B64_ZSTD,
 *          the same head and one zstd frame of the values
 *
 * Each RECORD_BLOCK of the message is compressed on its own and kept
 * compressed only when that saves enough. A block of base64 lines (most
 * of mail's bytes: attachments) is packed instead, which takes the
 * quarter zstd would at a fraction of its cost both ways, and its values
 * are compressed too when a sample of them compresses. The last chunk carries the secretstream FINAL tag
 * and says so in its clear length word, so a pack can be walked record by
 * record without keys; the two must agree. A record's id is the SHA-256 of
 * all its bytes (the `ct` of its archive leaf). The key is the message's
 * own random key (wrapped under its bucket key, store/keyring.h). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/store/blob.h"

#define RECORD_MAGIC "PVB2"
#define RECORD_BLOCK (64 * 1024)
#define RECORD_STORED 0
#define RECORD_ZSTD 1
#define RECORD_B64 2
#define RECORD_B64_ZSTD 3

/* ---- sealing ---- */

/* Seals one message at a time; reusable (its compression context and
 * buffers are kept between messages). The record is staged: in memory up
 * to PV_MESSAGE_SPILL_THRESHOLD bytes, beyond that in an unnamed file in
 * DIR/tmp (one per sealer, emptied when the record is placed or
 * abandoned, gone when the sealer is freed or dies), so memory does not
 * grow with message size. */
struct record_sealer;

int record_sealer_new(const char *data_dir, struct record_sealer **s_r, struct pv_error *err);
/* Abandons any record in progress; frees. */
void record_sealer_free(struct record_sealer **s);

/* Starts a record under key (the sealer keeps no copy after record_end). */
int record_begin(struct record_sealer *s, const unsigned char key[BLOB_KEY_BYTES],
		 struct pv_error *err);
/* Appends message bytes. */
int record_write(struct record_sealer *s, const void *data, size_t len, struct pv_error *err);
/* Seals the last block. id_r: hex SHA-256 of the record; len_r: its bytes.
 * The staged record then waits for record_place (or record_abort). */
int record_end(struct record_sealer *s, char id_r[BLOB_ID_LEN + 1], uint64_t *len_r,
	       struct pv_error *err);
/* Bytes of the staged record (after record_end). */
uint64_t record_staged_len(const struct record_sealer *s);
/* Writes the staged record to fd at its current position (write(2), or
 * copy_file_range from the spill file) and forgets it. On failure the
 * record stays staged; fd may hold part of it (the caller truncates). */
int record_place(struct record_sealer *s, int fd, struct pv_error *err);
/* Forgets the record in progress or staged (spill file removed). */
void record_abort(struct record_sealer *s);

/* ---- opening ---- */

/* Checks a record that lies at [off, off + len) of fd: its bytes must
 * hash to id (before a byte is trusted), every chunk authenticate, the
 * FINAL tag end it exactly; then streams the message to sink (may be
 * NULL). expect_sha256 (may be NULL): the message's SHA-256 must match.
 * PV_EINTEGRITY on any mismatch, including a record cut short by the end
 * of the file. what names the record in messages ("pack 3 record at
 * 4096"). */
int record_open(int fd, uint64_t off, uint64_t len, const char *id,
		const unsigned char key[BLOB_KEY_BYTES], const unsigned char *expect_sha256,
		blob_sink_fn sink, void *ctx, const char *what, struct pv_error *err) PV_WARN_UNUSED;

/* record_open for a reader that takes the message into a buffer (its
 * first into->max bytes) and throws the buffer away on an error: the
 * bytes are not hashed against the record's id first. Every chunk must
 * authenticate under key, which was wrapped for this id alone, and the
 * whole message must hash to expect_sha256 (required), so no other bytes
 * are accepted; only a re-encryption of the very same message by a
 * holder of its key would be, which verify's hash of the id finds. Hashing
 * the ciphertext as well cost the indexer a twentieth of its CPU. On an
 * error *into is emptied (the sink had the chunks before the bad one). */
int record_read_into(int fd, uint64_t off, uint64_t len, const unsigned char key[BLOB_KEY_BYTES],
		     const unsigned char expect_sha256[32], struct pv_buf *into, const char *what,
		     struct pv_error *err) PV_WARN_UNUSED;

/* Frees the calling thread's decompression context, which record_open
 * keeps between calls: a thread that read records calls it before it
 * ends. */
void record_thread_release(void);

/* Only the hash of the record's bytes against id (no key needed). */
int record_check_hash(int fd, uint64_t off, uint64_t len, const char *id, const char *what,
		      struct pv_error *err) PV_WARN_UNUSED;

/* Walks the chunk words of a record starting at off, without a key:
 * *len_r gets its length. PV_EINTEGRITY when no whole record starts there
 * (bad magic, or cut short before file_size: a torn tail). */
int record_measure(int fd, uint64_t off, uint64_t file_size, uint64_t *len_r);

#endif
