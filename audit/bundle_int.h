#ifndef PV_BUNDLE_INT_H
#define PV_BUNDLE_INT_H

/* Private to the bundle reader (bundle_read.c, bundle_manifest.c,
 * bundle_stream.c, bundle_source.c): the opened bundle, the archive
 * underneath it, and the manifest as parsed during the first pass. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/strpool.h"
#include "audit/bundle_read.h"

/* Bytes read from the archive at a time. */
#define BUNDLE_IO_CHUNK 65536

/* A line of MANIFEST.sha256 naming no member read so far (a member after
 * the manifest: not in a bundle we write). */
struct bundle_mrecord {
	char *name;
	uint8_t sha256[32];
	uint64_t line;
};

struct bundle {
	int fd;                /* -1 for memory */
	struct pv_strpool names; /* every member name, the manifest's too */
	const uint8_t *mem;
	uint64_t size;
	struct bundle_file *files;
	size_t n_files, cap_files;
	uint64_t kept;
	char kind[BUNDLE_KIND_MAX + 1];
	bool has_kind;
	/* MANIFEST.sha256, matched against the members as it streams past
	 * (no list of its lines is kept): what it found wrong, one problem a
	 * line (man_more: more than fit), the members it matched, and the
	 * lines waiting for a member still to come. */
	char man_error[256];
	struct pv_buf man_problems;
	uint64_t man_more, man_checked;
	struct bundle_mrecord *man;
	size_t n_man, cap_man;
	/* Members by name while the first pass runs (index into files), and
	 * which of them a manifest line named (a bit each, by index). */
	uint32_t *hidx;
	size_t hcap;
	uint8_t *listed;
	/* What the first pass leaves for bundle_check_manifest: the members
	 * no line named (but the manifest's own two), sorted. */
	const char **unlisted;
	size_t n_unlisted;
};

/* bundle_read.c: the member named name[0..n), or NULL (first pass only). */
struct bundle_file *bundle_lookup(struct bundle *b, const char *name, size_t n);

/* --- bundle_source.c: one pass over the archive (libarchive) ------------------------ */

/* A reader with its own position, so several can read one descriptor (or
 * the memory at mem when fd < 0) of size bytes at once. */
struct bundle_source;
/* PV_EINTEGRITY when the bytes are not a .tar.gz, .tar or .zip. A zip's
 * entries are read one after another (libarchive's streaming reader,
 * which keeps no central directory in memory); the first pass (again:
 * false) folds them as it goes, and bundle_source_end checks the central
 * directory, what unzip shows, against that fold (bundle_zipdir.h);
 * later passes check each member against the first pass. */
int bundle_source_open(int fd, const uint8_t *mem, uint64_t size, bool again,
		       struct bundle_source **s_r, struct pv_error *err);
/* The next regular member: 1 with its name in *name_r (valid until the
 * next call), 0 at the end. Directories are skipped; links, devices, a
 * name bundle_name_valid refuses (a directory's after its trailing '/')
 * and a set-id, sticky or group- or world-writable mode on any entry are
 * PV_EINTEGRITY. */
int bundle_source_next(struct bundle_source *s, const char **name_r, struct pv_error *err);
/* Up to n bytes of the current member: the count, 0 at its end, or
 * PV_EINTEGRITY when the archive is damaged there. */
int64_t bundle_source_read(struct bundle_source *s, void *buf, size_t n, struct pv_error *err);
/* At the end (bundle_source_next returned 0), for the first pass: only
 * padding may follow the archive (zeros after a tar's end, nothing after
 * a gzip stream or a zip's end record, nothing before a zip), the file
 * must not read as another archive format too (a tar whose last bytes end
 * a zip, a zip whose first block is a tar header), and a zip's central
 * directory must describe the entries read (bundle_zipdir.h), with
 * modes neither set-id, sticky nor writable by others: PV_EINTEGRITY. */
int bundle_source_end(struct bundle_source *s, struct pv_error *err);
void bundle_source_free(struct bundle_source **s);

/* --- bundle_manifest.c: MANIFEST.sha256 as it streams past --------------------------- */

struct bundle_manifest_state {
	char line[64 + 2 + PV_BUNDLE_PATH_MAX + 2];
	size_t len;
	uint64_t lineno;
	bool overflow;
};

/* Splits into lines and parses them into b->man; a malformed line is kept
 * in b->man_error (reported by bundle_check_manifest), not an error here. */
int bundle_manifest_feed(struct bundle *b, struct bundle_manifest_state *ms, const uint8_t *p,
			 size_t n, struct pv_error *err);
/* At the member's end. */
void bundle_manifest_end(struct bundle *b, struct bundle_manifest_state *ms);
/* At the end of the first pass: the lines still waiting, against every
 * member. */
int bundle_manifest_settle(struct bundle *b, struct pv_error *err);

#endif
