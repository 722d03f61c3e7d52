#ifndef PV_BUNDLE_ZIPDIR_H
#define PV_BUNDLE_ZIPDIR_H

/* A zip bundle's central directory, checked against the entries a
 * streaming reader found one after another (bundle_source.c's first
 * pass). The stream is what verify-bundle hashes; the central directory
 * is what unzip extracts: the two must describe the same entries, in the
 * same order, or the bundle is refused. Neither side is kept in memory:
 * each folds its entries into a running SHA-256, compared at the end.
 *
 * Formats: APPNOTE.TXT 4.3.7 (local header), 4.3.9 (data descriptor),
 * 4.3.12 (central header), 4.3.14-16 (Zip64 end record, its locator, the
 * end record), 4.5.3 (Zip64 extra field). */

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "archiver/lib/error.h"

/* The compression methods a bundle may use (APPNOTE 4.4.5): what
 * popvault writes and every unzip reads. */
#define ZIPDIR_STORED 0
#define ZIPDIR_DEFLATED 8
/* A method the stream reader named but popvault never writes. */
#define ZIPDIR_OTHER 0xffff

struct zipdir_fold {
	crypto_hash_sha256_state st;
	uint64_t count;
};

void zipdir_fold_init(struct zipdir_fold *f);
/* One entry, directories included (their name ends in '/', size 0): its
 * name as stored, the file offset where its data begins (after the local
 * header), its compression method, its uncompressed size and CRC-32. */
void zipdir_fold_entry(struct zipdir_fold *f, const char *name, size_t n, uint64_t data_off,
		       unsigned method, uint64_t size, uint32_t crc);

/* Reads up to n bytes at offset off: the count (short only at the end of
 * the file), or -1. */
typedef ssize_t (*zipdir_read_fn)(void *ctx, uint64_t off, void *buf, size_t n);

/* Parses the zip's end records and central directory (file_size bytes
 * read through rd) entry by entry with two small windows, and checks:
 * one disk; the entries' local headers tile the file from offset 0 to
 * the central directory with nothing between them (local header, data,
 * data descriptor) and agree with their central entries (name, method,
 * flags, sizes, CRC-32); the directory runs exactly to the end records;
 * names popvault allows, methods stored or deflated, no encryption, no
 * extra field but Zip64, timestamps and Unix ids (nothing that gives
 * unzip another name), modes of plain files and directories not set-id,
 * sticky or writable by others; and finally that its entries fold to
 * the same count and digest as `stream`. PV_EINTEGRITY with the reason
 * otherwise (PV_ERR when memory runs out). */
int zipdir_check(zipdir_read_fn rd, void *ctx, uint64_t file_size, const struct zipdir_fold *stream,
		 struct pv_error *err) PV_WARN_UNUSED;

#endif
