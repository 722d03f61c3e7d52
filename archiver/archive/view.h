#ifndef PV_ARCHIVE_VIEW_H
#define PV_ARCHIVE_VIEW_H

/* Viewing one archived message: `popvault show` and the web API's
 * /api/v1/messages/ID (meta, text, raw, proof) call these, so neither can
 * hand out a byte unaudited.
 *
 * Each function loads the catalog row (PV_ENOTFOUND for an id that was
 * never archived: not audited, nothing to see), then appends a "view"
 * audit entry BEFORE anything about the message leaves (ARCHITECTURE.md §1.4):
 * when the append fails, the call fails with the audit error ("audit log:
 * ...") and returns nothing — no metadata, no text, no byte to the sink.
 * The entry's object says what was seen:
 *   message=ID             archive_view_text (metadata and text: `show ID`)
 *   message=ID raw=yes     archive_view_raw (`show ID --raw`)
 *   message=ID meta=yes    archive_view_meta
 *   message=ID proof=yes   archive_view_proof
 * actor: "cli:<user>" or "web:<user>".
 *
 * Content is read back verified (message_read: key, blob tag, SHA-256).
 * A message disposed of by policy is PV_ENOTFOUND ("... disposed of on T
 * under policy version V"), content lost without a disposal record
 * PV_EINTEGRITY; its metadata stays viewable. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/store/blob.h"
#include "archiver/store/datadir.h"

struct archive_message_meta {
	int64_t id;
	char account[65];
	char uidl[81];             /* "" when the server gave none */
	int64_t received_at;       /* archived at, unix seconds */
	uint64_t size;             /* bytes, as stored */
	char sha256[65];           /* hex, of the exact bytes */
	char retention_class[128]; /* the policy rule that decided */
	int64_t expires_at;        /* -1: kept forever */
	int64_t policy_version;    /* the version that decided */
	int64_t disposed_at;       /* 0: not disposed of */
	char **holds;              /* active holds recorded as covering it (hold_names_of) */
	size_t n_holds;
};

/* Frees meta's hold names (the rest is inline). */
void archive_message_meta_free(struct archive_message_meta *meta);

/* The metadata alone. meta_r is owned by the caller
 * (archive_message_meta_free), also after an error. */
int archive_view_meta(struct archive *ar, const char *actor, int64_t id,
		      struct archive_message_meta *meta_r, struct pv_error *err);

/* Metadata and a readable rendering (index_mime_show: From, To, Cc, Bcc,
 * Date, Subject, Message-ID, Attachments, a blank line, the text body;
 * clean UTF-8) of the first PV_INDEX_RAW_MAX bytes (*truncated_r when the
 * message is longer). text_r is initialised here; the caller frees it
 * (pv_buf_free) and meta_r (archive_message_meta_free), also after an
 * error. meta_r is filled once the view is audited, also when reading the
 * content then fails (disposed of, lost), so a front end can still say
 * what the catalog knows; before that, meta_r->id is 0. */
int archive_view_text(struct archive *ar, const char *actor, int64_t id,
		      struct archive_message_meta *meta_r, struct pv_buf *text_r, bool *truncated_r,
		      struct pv_error *err);

/* Streams the exact stored bytes to sink (which may fail: its error is
 * returned). The blob file is checked against its name before the first
 * byte, each chunk is authenticated before its bytes reach the sink, and
 * the SHA-256 of the whole is compared with the catalog's at the end: a
 * mismatch there is PV_EINTEGRITY after every byte was sent, so a front
 * end streaming a download must end it as failed, not as complete. */
int archive_view_raw(struct archive *ar, const char *actor, int64_t id, blob_sink_fn sink,
		     void *ctx, struct pv_error *err);

/* The message's C2SP tlog-proof (archive/proof.h) against the latest
 * archive checkpoint (a new one is signed when the latest does not cover
 * it), appended to proof_r (initialise it with at least PV_TLOG_PROOF_MAX).
 * PV_ENOTFOUND for a disposed message: the salt of its commitment went
 * with its key. */
int archive_view_proof(struct archive *ar, const char *actor, int64_t id, struct pv_buf *proof_r,
		       struct pv_error *err);

#endif
