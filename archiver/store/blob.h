#ifndef PV_BLOB_H
#define PV_BLOB_H

/* The blob store (ARCHITECTURE.md §4): each message is compressed (zstd) and
 * encrypted under its own random key (libsodium secretstream,
 * XChaCha20-Poly1305, 64 KiB chunks), and named by the SHA-256 of the
 * ciphertext. Two formats, both readable and verifiable for good:
 *
 * - PVB2 records appended to pack files (store/record.h, store/pack.h):
 *   what the harvest writes since issue 12;
 * - PVB1 files, one per message, DIR/blobs/<2 hex>/<64 hex> (this file):
 *   archives written before. "PVB1" | secretstream header (24 B) | chunks,
 *   each a 4-byte big-endian ciphertext length and the ciphertext of up to
 *   64 KiB of one zstd stream; the last chunk carries the FINAL tag, so
 *   truncation is detected.
 *
 * blob_read_at and friends take a struct blob_loc and read either.
 *
 * The PVB1 writer below streams: plaintext goes in piece by piece, the
 * plaintext hash and the salted commitment are computed on the way; files
 * are written without fsync and blob_sync() makes every blob written so
 * far durable in one call (syncfs). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"

#define BLOB_KEY_BYTES 32
#define BLOB_SALT_BYTES 32
#define BLOB_HASH_BYTES 32
#define BLOB_ID_LEN 64 /* hex */

struct blob_info {
	char id[BLOB_ID_LEN + 1];                 /* hex SHA-256 of the ciphertext file */
	unsigned char sha256[BLOB_HASH_BYTES];    /* of the plaintext */
	unsigned char commit[BLOB_HASH_BYTES];    /* the v3 leaf's, of the plaintext (leaf_commit.h) */
	unsigned char key[BLOB_KEY_BYTES];        /* secret: wipe after wrapping */
	unsigned char salt[BLOB_SALT_BYTES];      /* secret: wipe after wrapping */
	uint64_t size;                            /* plaintext bytes */
	uint64_t stored_size;                     /* ciphertext file bytes */
};

struct blob_writer;

/* Starts a blob in DIR/tmp with a fresh random key and salt. */
int blob_writer_new(const char *data_dir, struct blob_writer **w_r, struct pv_error *err);
/* Appends plaintext. */
int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct pv_error *err);
/* Ends the stream and moves the file to its place under DIR/blobs (not yet
 * durable: see blob_sync). Fills info. The writer is freed either way. */
int blob_writer_finish(struct blob_writer **w, struct blob_info *info_r, struct pv_error *err);
/* Discards an unfinished blob (temp file removed, secrets wiped). */
void blob_writer_abort(struct blob_writer **w);

/* Makes every blob written so far durable (file data and directory entries). */
int blob_sync(const char *data_dir, struct pv_error *err);

/* Reads a blob back: checks the ciphertext hash against its id, every
 * chunk's authentication tag and the FINAL tag, and streams the plaintext to
 * sink. If expect_sha256 is not NULL, the plaintext hash must match too.
 * PV_EINTEGRITY on any mismatch, PV_ENOTFOUND when the file is missing. */
typedef int (*blob_sink_fn)(void *ctx, const unsigned char *data, size_t len,
			    struct pv_error *err);
int blob_read(const char *data_dir, const char *id, const unsigned char key[BLOB_KEY_BYTES],
	      const unsigned char *expect_sha256, blob_sink_fn sink, void *ctx,
	      struct pv_error *err) PV_WARN_UNUSED;

/* A blob_sink_fn that appends to the struct pv_buf passed as ctx up to the
 * buffer's max and drops the rest: blob_read still reads (so verifies)
 * every byte, only the first max are kept. */
int blob_sink_prefix(void *ctx, const unsigned char *data, size_t len, struct pv_error *err);

/* Checks only that a blob file exists and hashes to its id (no key needed).
 * PV_ENOTFOUND when missing, PV_EINTEGRITY when altered. */
int blob_check_hash(const char *data_dir, const char *id, struct pv_error *err) PV_WARN_UNUSED;

/* Computes a v3 leaf's salted commitment of a plaintext (leaf_commit.h). */
void blob_commitment(const unsigned char salt[BLOB_SALT_BYTES], const unsigned char *data,
		     size_t len, unsigned char out[BLOB_HASH_BYTES]);

/* Path of a blob file. */
void blob_path(const char *data_dir, const char *id, char *out, size_t out_len);
/* Removes a blob file (disposal); not an error if it is already gone.
 * (A pack record goes with its pack: pack_remove_unused.) */
int blob_remove(const char *data_dir, const char *id, struct pv_error *err);

/* Where a message's sealed bytes are: a PVB1 file of its own (pack_id 0),
 * or a PVB2 record at [offset, offset + length) of pack pack_id. */
struct blob_loc {
	char id[BLOB_ID_LEN + 1]; /* hex SHA-256 of the file or record */
	int64_t pack_id;
	uint64_t offset, length;
};

/* blob_read, blob_check_hash and "is it there" for either format; a
 * pack's record through store (store/packstore.h: its file, or a ranged
 * GET from an object store). PV_ENOTFOUND when the file or pack is
 * missing. */
struct packstore;
int blob_read_at(const char *data_dir, struct packstore *store, const struct blob_loc *loc,
		 const unsigned char key[BLOB_KEY_BYTES], const unsigned char *expect_sha256,
		 blob_sink_fn sink, void *ctx, struct pv_error *err) PV_WARN_UNUSED;
int blob_check_at(const char *data_dir, struct packstore *store, const struct blob_loc *loc,
		  struct pv_error *err) PV_WARN_UNUSED;
/* blob_read_at into a buffer (its first b->max bytes)
 * that the caller throws away on an error, which empties it: a pack's
 * record is read by record_read_into (no hash of its id first, the
 * plaintext checked against expect_sha256, required), a PVB1 blob as
 * blob_read_at reads it. */
struct pv_buf;
int blob_read_into_at(const char *data_dir, struct packstore *store, const struct blob_loc *loc,
		      const unsigned char key[BLOB_KEY_BYTES], const unsigned char expect_sha256[32],
		      struct pv_buf *b, struct pv_error *err) PV_WARN_UNUSED;
bool blob_present_at(const char *data_dir, struct packstore *store, const struct blob_loc *loc);

/* Reading on worker threads (verify's pool, export's read-ahead). The
 * pack store reads the catalog and, for an object store, the network:
 * neither may be shared between threads, so the caller's thread opens a
 * record's bytes (blob_open_at: its pack file, or what a GET fetched into
 * a temp file) and a worker then reads them with pread only
 * (blob_read_opened, blob_check_opened). A PVB1 blob (pack_id 0) opens
 * nothing: the worker reads its file from data_dir. blob_open_at's
 * errors are blob_read_at's; blob_opened_close closes what it opened
 * (fd -1: nothing; BLOB_OPENED_NONE starts a struct so). */
struct blob_opened {
	int fd;      /* -1: nothing opened */
	uint64_t at; /* where the record starts in fd */
	uint64_t drop; /* bytes from at whose pages blob_opened_close drops
			* from the page cache (the store's drop_after_read) */
};
#define BLOB_OPENED_NONE ((struct blob_opened){.fd = -1, .at = 0, .drop = 0})
int blob_open_at(struct packstore *store, const struct blob_loc *loc, struct blob_opened *o_r,
		 struct pv_error *err) PV_WARN_UNUSED;
int blob_read_opened(const char *data_dir, const struct blob_loc *loc, const struct blob_opened *o,
		     const unsigned char key[BLOB_KEY_BYTES], const unsigned char *expect_sha256,
		     blob_sink_fn sink, void *ctx, struct pv_error *err) PV_WARN_UNUSED;
int blob_check_opened(const char *data_dir, const struct blob_loc *loc, const struct blob_opened *o,
		      struct pv_error *err) PV_WARN_UNUSED;
void blob_opened_close(struct blob_opened *o);


#endif
