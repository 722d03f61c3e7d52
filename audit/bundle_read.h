#ifndef PV_BUNDLE_READ_H
#define PV_BUNDLE_READ_H

/* Reading a bundle (layout in bundle.h) that nothing vouches for yet:
 * bundle_read.c opens it and makes the first pass, bundle_manifest.c
 * checks the signed manifest, bundle_stream.c streams members again. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "audit/bundle.h"
#include "audit/note.h"

struct bundle;

/* One a member: 56 bytes, and its name in a pool. */
struct bundle_file {
	char *name;
	uint64_t size;
	uint8_t sha256[32];
	uint8_t *data; /* the content when size <= PV_BUNDLE_SMALL_MAX, else NULL */
};

/* Reads the whole bundle once: checks every entry's name, type and mode,
 * hashes every member, keeps small ones. Failures that leave nothing to
 * check (not an archive, damaged or truncated, a bad or repeated name, a
 * link or device, a dangerous mode, a limit exceeded) are PV_EINTEGRITY
 * with the reason. A file bundle keeps its descriptor open until
 * bundle_free; a memory bundle refers to data, which must outlive it. */
int bundle_open_file(const char *path, struct bundle **b_r, struct pv_error *err);
int bundle_open_memory(const void *data, size_t len, struct bundle **b_r, struct pv_error *err);
void bundle_free(struct bundle **b);

/* The kind named by the BUNDLE member, or NULL when it is missing or
 * malformed (dispatch only: the signed manifest repeats it). */
const char *bundle_kind(const struct bundle *b);
size_t bundle_count(const struct bundle *b);
/* Members sorted by name. */
const struct bundle_file *bundle_file_at(const struct bundle *b, size_t i);
const struct bundle_file *bundle_find(const struct bundle *b, const char *name);

/* Checks MANIFEST.note against the trusted keys vs (a signature from a
 * key whose name is not `signer_name` does not count; NULL accepts any of
 * vs), its kind against the BUNDLE kind, its hash against
 * MANIFEST.sha256, and that MANIFEST.sha256 lists every other member
 * exactly once with its hash and nothing else. Every problem goes to rep;
 * returns 0 when there was none, PV_EINTEGRITY otherwise. */
int bundle_check_manifest(struct bundle *b, const struct note_verifier *vs, size_t nv,
			  const char *signer_name, struct bundle_report *rep) PV_WARN_UNUSED;

/* A member read again, streamed (several can be open at once). At the end
 * its size and SHA-256 must equal the first pass (PV_EINTEGRITY if not). */
struct bundle_stream;
int bundle_stream_open(struct bundle *b, const char *name, struct bundle_stream **s_r,
		       struct pv_error *err);
/* Reads up to n bytes; *got_r = 0 at the end. */
int bundle_stream_read(struct bundle_stream *s, void *buf, size_t n, size_t *got_r,
		       struct pv_error *err);
/* Reads exactly n bytes: returns 1, or 0 at a clean end (no byte left),
 * or PV_EINTEGRITY when the member ends inside the n bytes. */
int bundle_stream_exact(struct bundle_stream *s, void *buf, size_t n, struct pv_error *err);
/* Reads one line, "\n" included, into line (reset first; its max bounds
 * the line). Returns 1, 0 at the end, PV_ELIMIT for a longer line. A last
 * line without "\n" is returned as it is. */
int bundle_stream_line(struct bundle_stream *s, struct pv_buf *line, struct pv_error *err);
void bundle_stream_close(struct bundle_stream **s);

/* One more pass over the whole archive, in archive order: fn gets each
 * member and a stream on its content (valid during the call; reading it
 * is optional). What fn leaves unread is read after it returns, and every
 * member must hash as in the first pass (PV_EINTEGRITY if not). A non-zero
 * return from fn stops the pass and is returned. For bundles with many
 * big members (one open per member would reread the archive each time). */
typedef int (*bundle_each_fn)(void *ctx, const struct bundle_file *f, struct bundle_stream *s);
int bundle_each(struct bundle *b, bundle_each_fn fn, void *ctx, struct pv_error *err);

#endif
