#ifndef PV_ARCHIVE_VIEW_H
#define PV_ARCHIVE_VIEW_H

/* Viewing one archived message: `popvault show` and the web API's
 * /api/v1/messages/ID (meta, text, html, parts, raw, proof) call these, so
 * neither can hand out a byte unaudited.
 *
 * Each function loads the catalog row (PV_ENOTFOUND for an id that was
 * never archived: not audited, nothing to see), then appends an audit
 * entry BEFORE anything about the message leaves (ARCHITECTURE.md §1.4): when
 * the append fails, the call fails with the audit error ("audit log:
 * ...") and returns nothing — no metadata, no text, no byte to the sink.
 * The entry says what was seen:
 *   view message=ID             archive_view_text (metadata and text: `show ID`)
 *   view message=ID raw=yes     archive_view_raw (`show ID --raw`)
 *   view message=ID meta=yes    archive_view_meta
 *   view message=ID proof=yes   archive_view_proof
 *   view message=ID html=yes    archive_view_html
 *   view message=ID parts=yes   archive_view_parts
 *   download message=ID part=N  archive_view_part
 * actor: "cli:<user>" or "web:<user>".
 *
 * flags: ARCHIVE_VIEW_LIVE makes a message disposed of by policy
 * PV_ENOTFOUND like one never archived, before anything is audited (the
 * web API: an id whose content is gone is not there). Without it (the
 * CLI), the view of a disposed message is audited and its content is
 * PV_ENOTFOUND ("... disposed of on T under policy version V"), while its
 * metadata stays viewable.
 *
 * Content is read back verified (message_read: key, blob tag, SHA-256);
 * content lost without a disposal record is PV_EINTEGRITY. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/store/blob.h"
#include "archiver/store/datadir.h"

#define ARCHIVE_VIEW_LIVE 0x1u

/* The header summary of a message (decoded, clean UTF-8, one line each;
 * "" when absent). */
struct archive_message_headers {
	char *from, *to, *cc, *subject, *message_id;
	int64_t date;    /* unix seconds, when date_known */
	bool date_known;
};

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
	int64_t leaf_index;        /* its leaf in the archive log */
	/* archive_view_meta only: read from the message itself */
	struct archive_message_headers headers;
	bool has_html, has_attachment;
};

/* Frees meta's hold names and headers (the rest is inline). */
void archive_message_meta_free(struct archive_message_meta *meta);

/* The catalog's metadata and the message's header summary, HTML body and
 * attachments (read from its first PV_INDEX_RAW_MAX bytes). meta_r is
 * owned by the caller (archive_message_meta_free), also after an error. */
int archive_view_meta(struct archive *ar, const char *actor, int64_t id, unsigned flags,
		      struct archive_message_meta *meta_r, struct pv_error *err);

/* Metadata and a readable rendering (index_mime_show: From, To, Cc, Bcc,
 * Date, Subject, Message-ID, Attachments, a blank line, the text body;
 * clean UTF-8) of the first PV_INDEX_RAW_MAX bytes (*truncated_r when the
 * message is longer). text_r is initialised here; the caller frees it
 * (pv_buf_free) and meta_r (archive_message_meta_free), also after an
 * error. meta_r is filled once the view is audited, also when reading the
 * content then fails (disposed of, lost), so a front end can still say
 * what the catalog knows; before that, meta_r->id is 0. */
int archive_view_text(struct archive *ar, const char *actor, int64_t id, unsigned flags,
		      struct archive_message_meta *meta_r, struct pv_buf *text_r, bool *truncated_r,
		      struct pv_error *err);

/* Streams the exact stored bytes to sink (which may fail: its error is
 * returned). The blob file is checked against its name before the first
 * byte, each chunk is authenticated before its bytes reach the sink, and
 * the SHA-256 of the whole is compared with the catalog's at the end: a
 * mismatch there is PV_EINTEGRITY after every byte was sent, so a front
 * end streaming a download must end it as failed, not as complete. */
int archive_view_raw(struct archive *ar, const char *actor, int64_t id, unsigned flags,
		     blob_sink_fn sink, void *ctx, struct pv_error *err);

/* The message's C2SP tlog-proof (archive/proof.h) against the latest
 * archive checkpoint (a new one is signed when the latest does not cover
 * it), appended to proof_r (initialise it with at least PV_TLOG_PROOF_MAX).
 * PV_ENOTFOUND for a disposed message: the salt of its commitment went
 * with its key. */
int archive_view_proof(struct archive *ar, const char *actor, int64_t id, unsigned flags,
		       struct pv_buf *proof_r, struct pv_error *err);

/* The message as a safe HTML document for a sandboxed frame: its HTML
 * body (index_parts_html_body) converted to UTF-8 and sanitised
 * (index/sanitize.h), else its text rendering in <pre>; from its first
 * PV_VIEW_RAW_MAX bytes, at most PV_VIEW_HTML_MAX long. html_r is
 * initialised here, the caller frees it, also after an error. *had_html_r
 * (may be NULL): whether it came from an HTML body. */
int archive_view_html(struct archive *ar, const char *actor, int64_t id, unsigned flags,
		      struct pv_buf *html_r, bool *had_html_r, struct pv_error *err);

/* One MIME part as listed for a reader. */
struct archive_message_part {
	unsigned n;        /* 1-based */
	char type[160];    /* "application/pdf" */
	char charset[64];  /* "" when none */
	char *filename;    /* clean UTF-8, NULL when none */
	bool attachment, in_message;
	uint64_t size;     /* decoded bytes */
	bool cut;          /* it runs past the PV_VIEW_RAW_MAX bytes read */
};
struct archive_message_parts {
	struct archive_message_part *v;
	size_t n;
	bool complete;     /* false: the message is longer than PV_VIEW_RAW_MAX */
};
void archive_message_parts_free(struct archive_message_parts *parts);

/* The parts of the message (index_mime_parts over its first
 * PV_VIEW_RAW_MAX bytes). parts_r is owned by the caller, also after an
 * error. */
int archive_view_parts(struct archive *ar, const char *actor, int64_t id, unsigned flags,
		       struct archive_message_parts *parts_r, struct pv_error *err);

/* Part n of the message, decoded, into out (initialised here; the caller
 * frees it, also after an error), and what it is into part_r (its
 * filename owned by the caller: free it). PV_ENOTFOUND for a part number
 * the message does not have (not audited), PV_ELIMIT for one cut by
 * PV_VIEW_RAW_MAX. Audited as a download before the bytes are decoded. */
int archive_view_part(struct archive *ar, const char *actor, int64_t id, unsigned n,
		      unsigned flags, struct pv_buf *out, struct archive_message_part *part_r,
		      struct pv_error *err);

#endif
