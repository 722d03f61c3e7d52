#ifndef PV_EXPORT_MBOX_H
#define PV_EXPORT_MBOX_H

/* mboxrd, streamed both ways (the "mboxrd" of Hall's "The application/mbox
 * Media Type", RFC 4155 appendix; qmail's mbox(5)):
 *
 *   From <sender> <asctime>\n      one separator line per message
 *   <message, quoted>              a line matching ^>*From  gets one more '>'
 *   \n                             a blank line after each message
 *
 * Unlike mboxo, the quoting is reversible: a reader removes one '>' from
 * every line matching ^>+From , so each message comes back byte for byte.
 * Messages keep their own line ends (CRLF for archived mail); the From_
 * lines and the blank line after each message are a bare LF, which is
 * what mail readers (and Python's mailbox module) look for. A message
 * whose last byte is not '\n' gets one '\n' before the blank line: the
 * reader then returns the message plus that '\n', and only the exported
 * size tells the two apart (see ediscovery.h).
 *
 * Neither side buffers a message: bytes pass through a small state
 * machine (a run of '>' is counted, not stored), so any chunking of the
 * input gives the same output. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"

/* Where quoted (or unquoted) bytes go. */
typedef int (*mbox_out_fn)(void *ctx, const void *data, size_t len, struct pv_error *err);

/* --- writing ------------------------------------------------------------ */

struct mbox_quote {
	mbox_out_fn out;
	void *ctx;
	bool sol;       /* at the start of a line */
	uint64_t gts;   /* '>' seen at the start of this line, not yet written */
	size_t matched; /* bytes of "From " matched after them */
	bool last_nl;   /* the last byte written was '\n' */
	bool empty;     /* nothing written for this message yet */
};

/* The separator line "From <sender> <asctime of t, UTC>\n" into out
 * (PV_EXPORT_FROM_LINE_MAX bytes). sender: one word, no space or control
 * character (PV_ERR otherwise). Returns the length. */
int mbox_from_line(const char *sender, int64_t t, char *out, size_t cap, struct pv_error *err);

/* Starts one message: writes from_line, then quotes what is fed. */
int mbox_quote_begin(struct mbox_quote *q, const char *from_line, mbox_out_fn out, void *ctx,
		     struct pv_error *err);
int mbox_quote_feed(struct mbox_quote *q, const void *data, size_t len, struct pv_error *err);
/* Ends the message: pending bytes, a '\n' when the message did not end in
 * one, and the blank line. */
int mbox_quote_end(struct mbox_quote *q, struct pv_error *err);

/* --- reading ------------------------------------------------------------ */

/* Callbacks of the reader: a record starts (its From_ line, "\n"
 * excluded), has unquoted bytes, ends. A non-zero return stops the reader
 * and is returned by feed/finish. */
struct mbox_reader_cb {
	int (*begin)(void *ctx, const char *from_line, size_t len, struct pv_error *err);
	int (*data)(void *ctx, const void *data, size_t len, struct pv_error *err);
	int (*end)(void *ctx, struct pv_error *err);
	void *ctx;
};

struct mbox_reader {
	struct mbox_reader_cb cb;
	int state;          /* private */
	uint64_t gts;
	size_t matched;
	bool pending_empty; /* an empty line that may be the separator's */
	bool in_record;
	uint64_t records;
	char from[PV_EXPORT_FROM_LINE_MAX];
	size_t from_len;
};

void mbox_reader_init(struct mbox_reader *r, const struct mbox_reader_cb *cb);
/* Feeds the next bytes of the mbox. PV_EINTEGRITY for data before the
 * first From_ line or a From_ line over PV_EXPORT_FROM_LINE_MAX. */
int mbox_reader_feed(struct mbox_reader *r, const void *data, size_t len, struct pv_error *err);
/* At the end of the file: ends the last record. */
int mbox_reader_finish(struct mbox_reader *r, struct pv_error *err);

#endif
