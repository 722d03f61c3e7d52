#ifndef PV_BUNDLE_H
#define PV_BUNDLE_H

/* Signed export bundles (DESIGN.md §5, §7; integrity.md §3c): a .tar.gz or
 * .zip (libarchive, streamed) holding
 *
 *   BUNDLE            "popvault-bundle/v1\nkind <kind>\n": which verifier
 *                     applies (audit, ediscovery, ...), always first
 *   ...               the kind's own members
 *   MANIFEST.sha256   "<sha256 hex>  <name>\n" for every other member, in
 *                     archive order (`sha256sum -c MANIFEST.sha256` works
 *                     on the extracted bundle)
 *   MANIFEST.note     a C2SP signed note over
 *                     "popvault/bundle-manifest/v1\nkind <kind>\n"
 *                     "sha256 <hex of MANIFEST.sha256>\n"
 *
 * Member names: 1..PV_BUNDLE_PATH_MAX bytes of [A-Za-z0-9._+=@,-] and '/',
 * relative, no empty, "." or ".." component (safe to extract anywhere).
 *
 * This file is shared by every bundle kind: the writer, a reader that
 * never trusts the archive (two passes: the first hashes every member and
 * keeps the small ones in memory, later passes stream members again and
 * fail if one changed in between), and the manifest check. libarchive's
 * types stay inside bundle.c (its `struct archive` would clash with
 * archiver/store/datadir.h). Memory is bounded by the PV_BUNDLE_* limits. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "audit/note.h"

#define BUNDLE_MAGIC "popvault-bundle/v1"
#define BUNDLE_MANIFEST_MAGIC "popvault/bundle-manifest/v1"
#define BUNDLE_KIND_MAX 32

/* --- problems found while verifying ------------------------------------------ */

/* Verifiers report every problem they find (not only the first) and what
 * they checked. line() gets each message; problem tells which it is. */
struct bundle_report {
	void (*line)(void *ctx, bool problem, const char *msg);
	void *ctx;
	uint64_t problems;
	uint64_t warnings;
};

void bundle_problem(struct bundle_report *rep, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void bundle_info(struct bundle_report *rep, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A warning: printed like info, counted, not a failure. */
void bundle_warn(struct bundle_report *rep, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* True for a member name we write and accept (see above). */
bool bundle_name_valid(const char *name, size_t len);

/* --- writing ------------------------------------------------------------------- */

struct bundle_writer;
struct bundle_member;

/* Starts `path`: .tar.gz or .tgz (pax tar, gzip) or .zip, by its name
 * (PV_EUSAGE otherwise). Writes into a temporary file beside it, renamed
 * into place by bundle_writer_finish. Writes the BUNDLE member. */
int bundle_writer_open(const char *path, const char *kind, struct bundle_writer **w_r,
		       struct pv_error *err);
/* A member from memory. */
int bundle_add(struct bundle_writer *w, const char *name, const void *data, size_t len,
	       struct pv_error *err);
/* A streamed member, for content too big for memory: staged in an
 * unlinked temporary file beside the output, then copied into the archive
 * by bundle_member_end. Several may be open at once; they land in the
 * archive in the order they end. */
int bundle_member_begin(struct bundle_writer *w, const char *name, struct bundle_member **m_r,
			struct pv_error *err);
int bundle_member_write(struct bundle_member *m, const void *data, size_t len,
			struct pv_error *err);
int bundle_member_end(struct bundle_writer *w, struct bundle_member **m, struct pv_error *err);
/* Drops a member that will not be ended (NULL is fine). */
void bundle_member_abort(struct bundle_member **m);
/* Writes MANIFEST.sha256 and MANIFEST.note (signed by s), closes, fsyncs
 * and renames into place. Frees w in every case. */
int bundle_writer_finish(struct bundle_writer **w, const struct note_signer *s,
			 struct pv_error *err);
/* Discards an unfinished bundle (temporary files removed). */
void bundle_writer_abort(struct bundle_writer **w);

/* --- reading ------------------------------------------------------------------- */

struct bundle;

struct bundle_file {
	char *name;
	uint64_t size;
	uint8_t sha256[32];
	uint8_t *data; /* the content when size <= PV_BUNDLE_SMALL_MAX, else NULL */
	uint64_t order; /* position in the archive */
};

/* Reads the whole bundle once: checks every member's name and type,
 * hashes it, keeps small ones. Failures that leave nothing to check (not
 * an archive, damaged or truncated, a bad or repeated name, a link or
 * device, a limit exceeded) are PV_EINTEGRITY with the reason. A file
 * bundle keeps its descriptor open until bundle_free; a memory bundle
 * refers to data, which must outlive it. */
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
