#ifndef PV_EXPORT_EXPORT_H
#define PV_EXPORT_EXPORT_H

/* Writing eDiscovery bundles (layout in ediscovery.h; ARCHITECTURE.md §7).
 *
 * export_run, in order:
 *  1. catches the search index up and resolves the query to message ids;
 *  2. in one catalog transaction: loads the messages, gives Bates numbers
 *     (bates.h), picks the archive checkpoint covering them (signing one
 *     if needed), and appends the "export" audit event with its signed
 *     audit checkpoint (ARCHITECTURE.md §1.4: recorded before any content
 *     leaves; nothing is written when that fails). The event names the
 *     SHA-256 of export/message-set, not of the bundle file: a file cannot
 *     contain its own hash, and the set (ids, Bates numbers, leaf indexes,
 *     sizes, SHA-256 of each message) is what the bundle delivers;
 *  3. streams the bundle in two passes over the messages, in Bates order:
 *     first each one's proof, then its content read back verified
 *     (message_read: blob tag and hash) and checked against its leaf
 *     commitment into the mbox and the load files; then the .eml files,
 *     unquoted from the mbox's staging file (read again, not the
 *     archive), each checked against its SHA-256 again as it goes in.
 *     Signs the manifest with the archive key;
 *  4. appends an "export-done" event naming the final file's SHA-256 and
 *     size (so the audit log also binds the exact file delivered), or on
 *     failure an "export" event with outcome "failed: ..." (best effort)
 *     and no file is left.
 *
 * Memory: per message ~100 bytes (id, Bates number, hashes) plus the
 * writer's member list; contents are streamed through staging files
 * (audit/bundle.h), so message size and count do not matter otherwise.
 * Disk beside the bundle meanwhile: the mail once (the mbox's staging
 * file, unlinked). */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/export/bates.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"


struct export_opts {
	const char *query;        /* search query (index/query.h) */
	const char *out;          /* .tar.gz, .tgz or .zip; must not exist */
	const char *matter;       /* NULL or "": exports without a matter */
	const char *bates_prefix; /* NULL: the matter's, or BATES_DEFAULT_PREFIX */
	int64_t bates_start;      /* < 0: the matter's, or BATES_DEFAULT_START */
	const char *actor;        /* who exports, for the audit log */
	/* Called after each message (may be NULL). */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
	/* Asked after each message (may be NULL; progress_ctx): true stops the
	 * export as a failure, "cancelled" (no file is left, the failure is
	 * recorded as any other). */
	bool (*cancelled)(void *ctx);
	/* Set: sum->ids gets the ids of the messages whose content the
	 * bundle holds (a bundle kept in DIR/exports/: disposal finds it). */
	bool keep_ids;
};

struct export_summary {
	uint64_t messages;      /* exported */
	uint64_t disposed;      /* matching but disposed of: listed only */
	uint64_t new_numbers;   /* Bates numbers given by this export */
	uint64_t bytes;         /* of the messages */
	char first_bates[BATES_LEN_MAX + 1], last_bates[BATES_LEN_MAX + 1];
	uint64_t audit_seq;     /* the export event */
	uint64_t archive_size;  /* archive/checkpoint's tree size */
	uint64_t file_size;     /* of the bundle */
	char file_sha256[65];   /* hex */
	int64_t *ids;           /* with keep_ids, ascending (malloc'ed: the caller frees) */
	size_t n_ids;
};

/* See above. PV_EUSAGE for a bad query, matter, prefix or output name. */
int export_run(struct archive *ar, const struct export_opts *o, struct export_summary *sum_r,
	       struct pv_error *err);

/* VERIFY.md for a bundle (export_verifymd.c). */
int export_verify_md(const char *archive_origin, const char *audit_origin, uint64_t messages,
		     uint64_t disposed, struct pv_buf *out, struct pv_error *err);

#endif
