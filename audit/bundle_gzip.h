#ifndef PV_BUNDLE_GZIP_H
#define PV_BUNDLE_GZIP_H

/* The gzip stream of a .tar.gz bundle (bundle_write.c hands it the tar
 * that libarchive writes), compressed on a thread of its own so that it
 * runs beside the work that produces the tar (reading, decrypting and
 * hashing the messages of an export).
 *
 * Deflate with Huffman coding only: LZ77 matching hardly pays on mail.
 * Measured on the bench's generated mix: 74% of the size at 188 MB/s,
 * against 72% at 47 MB/s for zlib's fastest level (and 70% at 34 MB/s
 * for its default). The mail itself may be stored instead
 * (bundle_gzip_compress): it is mostly base64 of attachments that are
 * compressed already, and Huffman coding them took an export more time
 * than everything else together. One gzip member, readable by any gzip
 * reader. Memory: a few buffers of BUNDLE_GZIP_CHUNK.
 *
 * A .zip's bytes take the same thread without gzip (bundle_gzip_open with
 * gzip false): libarchive frames and deflates them itself, and the thread
 * hashes and writes them as they come, so that the file's SHA-256 and its
 * writes run beside the export as they do for a .tar.gz (they were a
 * third of the .zip export's main thread). Either way the file is
 * written behind (lib/pagecache.h): it leaves the page cache as it grows,
 * and a write-out that fails fails the bundle. */

#include <stdbool.h>
#include <stddef.h>

#include "archiver/lib/error.h"
#include "archiver/lib/sha256.h"

#define BUNDLE_GZIP_CHUNK (1024 * 1024)

struct bundle_gzip;

/* Starts the stream and its thread; fd is written to (not closed), and
 * every byte written to it goes through file_hash too (the thread's until
 * bundle_gzip_close returns). gzip false: the bytes go to fd unchanged. */
int bundle_gzip_open(int fd, bool gzip, struct pv_sha256 *file_hash, struct bundle_gzip **g_r,
		     struct pv_error *err);
/* Bytes written from now on are Huffman coded (on: the default) or go
 * into stored blocks (off). The switch lands at a block boundary near
 * this point of the stream. Nothing without gzip. */
void bundle_gzip_compress(struct bundle_gzip *g, bool on);
/* Copies n bytes in; a failure of the thread (compression, a write)
 * shows here or in bundle_gzip_close. */
int bundle_gzip_write(struct bundle_gzip *g, const void *p, size_t n, struct pv_error *err);
/* Ends the stream: everything compressed and written (not synced). Frees
 * g in every case. */
int bundle_gzip_close(struct bundle_gzip **g, struct pv_error *err);
/* Stops the thread, drops what was not written, frees (NULL is fine). */
void bundle_gzip_abort(struct bundle_gzip **g);

#endif
