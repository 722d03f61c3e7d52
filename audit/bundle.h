#ifndef PV_BUNDLE_H
#define PV_BUNDLE_H

/* Signed export bundles (ARCHITECTURE.md §5, §7; ARCHITECTURE.md §7): a .tar.gz or
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
 * Entries are regular files; a reader also accepts directories (a bundle
 * packed again by another tool) named by the same rule. No entry is
 * set-id, sticky or writable by group or others. Nothing comes before or
 * after the archive but the zeros that pad a tar, and the file reads as
 * one format only (tar and unzip must show what the verifier checked).
 *
 * Shared by every bundle kind, one job a file:
 *   bundle.c           this header: reports, member names, the manifest note
 *   bundle_write.h     the writer (bundle_write.c)
 *   bundle_read.h      a reader that never trusts the archive: the first
 *                      pass hashes every member and keeps the small ones in
 *                      memory (bundle_read.c, over bundle_source.c), later
 *                      passes stream members again and fail if one changed
 *                      in between (bundle_stream.c); the manifest check
 *                      (bundle_manifest.c)
 *   bundle_trust.h     what ties a bundle to the keys a verifier holds and
 *                      to the checkpoints it saw before: anchors, consistency
 *                      proofs, key rotations (written and checked)
 * libarchive's types stay inside bundle_write.c and bundle_source.c (its
 * `struct archive` would clash with archiver/store/datadir.h). Memory is
 * bounded by the PV_BUNDLE_* limits. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"

#define BUNDLE_MAGIC "popvault-bundle/v1"
#define BUNDLE_MANIFEST_MAGIC "popvault/bundle-manifest/v1"
#define BUNDLE_KIND_MAX 32
#define BUNDLE_KIND_FILE "BUNDLE"
#define BUNDLE_MANIFEST "MANIFEST.sha256"
#define BUNDLE_MANIFEST_NOTE "MANIFEST.note"
/* Room for the text MANIFEST.note signs (bundle_manifest_text). */
#define BUNDLE_MANIFEST_TEXT_MAX (sizeof(BUNDLE_MANIFEST_MAGIC) + BUNDLE_KIND_MAX + 64 + 24)

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
/* True for a kind: 1..BUNDLE_KIND_MAX bytes of [a-z0-9-]. */
bool bundle_kind_valid(const char *kind, size_t len);
/* The text MANIFEST.note signs, for the kind and the lower-case hex
 * SHA-256 of MANIFEST.sha256, into out (BUNDLE_MANIFEST_TEXT_MAX bytes). */
void bundle_manifest_text(const char *kind, const char *sha256_hex,
			  char out[BUNDLE_MANIFEST_TEXT_MAX]);

#endif
