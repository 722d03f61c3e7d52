#ifndef PV_INDEX_MIME_H
#define PV_INDEX_MIME_H

/* What the index and retention policies know of one message, extracted
 * from its exact bytes in one pass (ingest parses each message once, and
 * search and policy cannot read hostile mail two ways).
 *
 * The MIME structure (boundaries, nesting) is walked here, in one linear
 * pass over the bytes with hard caps from limits.h; GMime 3 decodes the
 * pieces: RFC 2047 words, addresses, dates, Message-IDs, RFC 2231
 * parameters, base64/quoted-printable/uuencode, charsets. GMime's own
 * parser is not used for the structure because it keeps every header and
 * part as an object: measured with GMime 3.2.13, 10 MB of small header
 * fields cost it ~500 MB and 100,000 parts ~200 MB before a single cap
 * could apply (its depth cap of 1024 alone does not bound memory).
 *
 * Hostile or broken mail never fails extraction: whatever headers and text
 * can be recovered are returned, and `truncated` says which cap cut what.
 * Only running out of memory is an error. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

/* Bits of index_doc.truncated: which cap was reached. */
#define INDEX_TRUNC_DEPTH 0x01  /* parts nested deeper than PV_MIME_DEPTH_MAX skipped */
#define INDEX_TRUNC_PARTS 0x02  /* parts after PV_MIME_PARTS_MAX skipped */
#define INDEX_TRUNC_HEADER 0x04 /* header fields past PV_MIME_HEADER_MAX/FIELD_MAX cut */
#define INDEX_TRUNC_TEXT 0x08   /* text past PV_INDEX_TEXT_MAX not indexed */
#define INDEX_TRUNC_TIME 0x10   /* PV_MIME_TIME_MAX_MS ran out */

struct index_range {
	size_t start, end;
};

/* A header field as a retention policy tests it (policy.h struct
 * policy_header): name as written, value unfolded, RFC 2047-decoded. */
struct index_field {
	char *name, *value;
};

/* Bare addr-specs ("alice@example.com", no display name, no brackets). */
struct index_addrs {
	char **v;
	size_t n, cap;
};

/* Every string is clean UTF-8 (archiver/index/text.h), NUL-terminated,
 * "" when absent; header-derived ones are single lines. */
struct index_doc {
	struct pv_buf from, to, cc, bcc; /* "Name <addr>, addr, ..."; repeated
	                                    fields are all kept */
	struct pv_buf subject;           /* the first Subject field */
	struct pv_buf subject_more;      /* further Subject fields, one a line */
	struct pv_buf message_id;        /* first Message-ID, without <> */
	int64_t date;                    /* unix seconds, when date_known */
	bool date_known;                 /* false: no Date field or unparseable */
	struct pv_buf body;              /* text parts, HTML as text, attachment
	                                    text, headers of attached messages */
	struct pv_buf filenames;         /* one line per attachment (may be empty) */
	struct pv_buf types;             /* its content type, same line order */
	bool has_attachment;
	unsigned parts;                  /* MIME entities walked */
	unsigned truncated;              /* INDEX_TRUNC_* bits */
	/* Ranges of body that `show` leaves out (attachment text, the
	 * alternatives not chosen); private to mime.c. */
	struct index_range *hidden;
	size_t nhidden, hidden_cap;
	/* What retention policies test (archiver/archive/retention.h), made
	 * by the same parse as the fields above, so that search and policy
	 * read hostile mail the same way: the addr-spec of every mailbox in
	 * from/to/cc/bcc, in order, groups flattened, each field parsed on its
	 * own; and the first PV_RETENTION_HEADERS_MAX fields of the top-level
	 * header in order, trimmed (the policy's subject is `subject`). */
	struct index_addrs addr_from, addr_to, addr_cc, addr_bcc;
	struct index_field *fields;
	size_t nfields;
};

/* Extracts raw[0..len) into *doc_r (initialised here; free it with
 * index_doc_free, also after an error). Returns 0, or PV_ERR when out of
 * memory. */
int index_mime_extract(const unsigned char *raw, size_t len, struct index_doc *doc_r,
	struct pv_error *err);

/* The same walk for what retention policies test (addresses, header
 * fields, subject, attachments: the policy's facts), without decoding any
 * body text (no text, HTML or PDF extraction; body stays empty). Ingest
 * and everything that re-derives a retention decision use this, so they
 * read a message the same way; the indexer extracts the rest later. */
int index_mime_facts(const unsigned char *raw, size_t len, struct index_doc *doc_r,
	struct pv_error *err);

/* An empty doc with every buffer at its maximum (what extraction starts
 * from); free with index_doc_free. */
void index_doc_init(struct index_doc *doc);
void index_doc_free(struct index_doc *doc);

/* Appends a readable rendering for `popvault show`: From, To, Cc, Bcc,
 * Date (RFC 3339 UTC, or "unknown"), Subject, Message-ID, Attachments, a
 * blank line, then the text body (the plain alternative when there is
 * one, HTML reduced to text otherwise; no attachment text). Clean UTF-8,
 * safe to print on a terminal; the header lines (values and file names)
 * hold no bidi controls (lib/utf8.h). */
int index_mime_show(const unsigned char *raw, size_t len, struct pv_buf *out,
	struct pv_error *err);

/* The same rendering from an extracted doc. */
int index_doc_show(const struct index_doc *doc, struct pv_buf *out, struct pv_error *err);

/* The MIME parts of a message, for viewing them one by one (the web
 * API's /parts): every leaf entity, in message order, and every attached
 * message (message/rfc822 with a file name or an attachment disposition)
 * as one part before its own parts. The walk is the one above, with the
 * same caps; no text is extracted. Numbers start at 1. */
struct index_part {
	unsigned n;
	char type[160];     /* "text/html": type/subtype, lower-case */
	char charset[64];   /* the charset parameter as given, "" when none (or too long) */
	char *filename;     /* clean UTF-8 (RFC 2231/2047 decoded), NULL when none */
	bool attachment;    /* a disposition "attachment" or a file name */
	bool in_message;    /* inside an attached message */
	int encoding;       /* its Content-Transfer-Encoding (GMimeContentEncoding) */
	size_t start, end;  /* the body, still encoded, in the raw bytes */
};

struct index_parts {
	struct index_part *v;
	size_t n, cap;
	unsigned truncated; /* INDEX_TRUNC_* bits: a cap cut the walk short */
};

/* Fills *parts_r (free with index_parts_free, also after an error). Hostile
 * mail never fails; PV_ERR only when out of memory. */
int index_mime_parts(const unsigned char *raw, size_t len, struct index_parts *parts_r,
	struct pv_error *err);
void index_parts_free(struct index_parts *parts);

/* Appends part p of raw[0..len) (as index_mime_parts found it) to out with
 * its transfer encoding undone (base64 and quoted-printable leniently, as
 * the index reads them). PV_ELIMIT when out's maximum cut it. */
int index_mime_part_decode(const unsigned char *raw, size_t len, const struct index_part *p,
	struct pv_buf *out, struct pv_error *err);

/* The HTML body a reader sees: the first text/html part that is neither an
 * attachment nor inside an attached message; NULL when there is none. */
const struct index_part *index_parts_html_body(const struct index_parts *parts);

/* The message as a reader's HTML view: that body decoded, made UTF-8 and
 * sanitised (sanitize.h), or, when it has none, index_mime_show's text
 * as HTML; appended to out (whose maximum cuts it: PV_ELIMIT). *had_html_r
 * (may be NULL) says which. */
int index_mime_view_html(const unsigned char *raw, size_t len, struct pv_buf *out,
			 bool *had_html_r, struct pv_error *err);

/* PDF attachments: when path names pdftotext(1), their text is extracted
 * in a child process (archiver/index/pdf.h) and indexed; NULL (the
 * default) turns this off. Set once at start-up, before any thread. */
void index_mime_set_pdftotext(const char *path);
/* What index_mime_set_pdftotext set (NULL: PDFs by name only). */
const char *index_mime_pdftotext(void);

#endif
