#ifndef PV_POP3_DOT_H
#define PV_POP3_DOT_H

/* Dot-unstuffing of a POP3 multi-line body as a stream layer (RFC 1939 §3,
 * the idea of Dovecot's istream-dot). Bytes go in as they arrive, in chunks
 * of any size; unstuffed bytes come out through a callback, in runs, with
 * line ends exactly as the server sent them. Constant memory.
 *
 * Which line end counts (issue 16, finding 8; ARCHITECTURE.md §3) is set
 * by the reply's status line:
 *  - "+OK" CRLF (every server we know): only CRLF ends a line. A bare LF
 *    inside a line is data, so "." LF is no terminator and a "." after a
 *    bare LF is no stuffing: through a server that stuffs only lines
 *    after CRLF, a sender's own "\n.\n" or "\n.\r\n" stays data and
 *    cannot end the message early (and put its tail out of step, read as
 *    the replies that follow). A line "." LF is passed on as it came: a
 *    server that stuffs would have sent "..".
 *  - "+OK" LF (an old bare-LF server): LF ends a line; ".LF" and
 *    ".CRLF" end the message.
 * The terminator is not passed on; bytes after it are left unconsumed,
 * for the next reply. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"

struct pop3_dot {
	int state;    /* private */
	bool lf_ends; /* a bare LF ends a line (bare-LF reply) */
	bool prev_cr; /* the last byte consumed was CR */
	/* LFs passed on with no CR before them: RFC 1939 §11 sizes count
	 * each as two bytes (found by the scan for line ends, so the caller
	 * need not scan the bytes again). */
	uint64_t bare_lfs;
};

/* Receives unstuffed bytes; returns 0, or a negative pv_status to stop. */
typedef int pop3_dot_emit_fn(void *ctx, const unsigned char *data, size_t len);

/* Starts a body: the first byte is at the start of a line. bare_lf: the
 * reply's status line ended in a bare LF (see above). */
void pop3_dot_init(struct pop3_dot *d, bool bare_lf);

/* Feeds in[0..n). *used_r is how many input bytes were consumed: all of
 * them, unless the terminator ended inside this chunk (then the rest
 * belongs to the next reply). Returns 0, or emit's negative status (then
 * *used_r is how far it got). Feeding after the terminator consumes
 * nothing. */
int pop3_dot_feed(struct pop3_dot *d, const unsigned char *in, size_t n,
		  pop3_dot_emit_fn *emit, void *ctx, size_t *used_r);

/* True once the terminator line has been consumed. */
bool pop3_dot_done(const struct pop3_dot *d);

/* True when the bytes emitted so far end exactly at a line end (or nothing
 * was emitted), i.e. a cut here did not happen mid-line. */
bool pop3_dot_at_line_start(const struct pop3_dot *d);

#endif
