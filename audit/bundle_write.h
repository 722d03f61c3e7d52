#ifndef PV_BUNDLE_WRITE_H
#define PV_BUNDLE_WRITE_H

/* Writing a bundle (layout in bundle.h): streamed, into a temporary file
 * renamed into place only when complete and signed. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "audit/bundle.h"
#include "audit/note.h"

struct bundle_writer;
struct bundle_member;

/* Starts `path`: .tar.gz or .tgz (pax tar, gzip) or .zip, by its name
 * (PV_EUSAGE otherwise). Writes into a temporary file beside it, renamed
 * into place by bundle_writer_finish. Writes the BUNDLE member. */
int bundle_writer_open(const char *path, const char *kind, struct bundle_writer **w_r,
		       struct pv_error *err);
/* Members written after this call are compressed (on: the default) or
 * stored as they are (off: for mail, which is mostly attachments that are
 * compressed already; compressing them took most of an export's time for a
 * quarter of their size). A .zip sets it per member; a .tar.gz switches
 * its gzip stream between Huffman coding and stored blocks at a block
 * boundary near this point (bundle_gzip.h). A .zip member whose bytes
 * would end it early for a streaming reader is deflated even when off
 * (bundle_zipend.h). */
void bundle_writer_compress(struct bundle_writer *w, bool on);
/* A member from memory. */
int bundle_add(struct bundle_writer *w, const char *name, const void *data, size_t len,
	       struct pv_error *err);
/* The same when the caller has just checked data against sha256 (an
 * export's message, read back against the catalog's hash): the manifest
 * takes it as it is. */
int bundle_add_hashed(struct bundle_writer *w, const char *name, const void *data, size_t len,
		      const uint8_t sha256[32], struct pv_error *err);
/* A streamed member, for content too big for memory: staged in an
 * unlinked temporary file beside the output, then copied into the archive
 * by bundle_member_end. Several may be open at once; they land in the
 * archive in the order they end. */
int bundle_member_begin(struct bundle_writer *w, const char *name, struct bundle_member **m_r,
			struct pv_error *err);
int bundle_member_write(struct bundle_member *m, const void *data, size_t len,
			struct pv_error *err);
int bundle_member_end(struct bundle_writer *w, struct bundle_member **m, struct pv_error *err);
/* The same, and on success the staging file stays open for the caller
 * (*fd_r, rewound; the caller closes it): the bytes just copied into the
 * archive, to read again without keeping a copy of its own (an export's
 * .eml files come from its mbox). */
int bundle_member_end_keep(struct bundle_writer *w, struct bundle_member **m, int *fd_r,
			   struct pv_error *err);
/* Drops a member that will not be ended (NULL is fine). */
void bundle_member_abort(struct bundle_member **m);
/* Writes MANIFEST.sha256 and MANIFEST.note (signed by s), closes, fsyncs
 * and renames into place. Frees w in every case. */
int bundle_writer_finish(struct bundle_writer **w, const struct note_signer *s,
			 struct pv_error *err);
/* The same, and the finished file's SHA-256 and size (either may be
 * NULL): hashed as it was written, so it is not read back. */
int bundle_writer_finish_file(struct bundle_writer **w, const struct note_signer *s,
			      uint8_t sha256_r[32], uint64_t *size_r, struct pv_error *err);
/* Discards an unfinished bundle (temporary files removed). */
void bundle_writer_abort(struct bundle_writer **w);

#endif
