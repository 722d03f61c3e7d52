#include "archiver/pop3/dot.h"

#include <string.h>

enum {
	DOT_LINE_START, /* next byte starts a line */
	DOT_MID,        /* inside a line */
	DOT_DOT,        /* a '.' began the line: stuffed dot or terminator */
	DOT_DOT_CR,     /* ".\r" began the line: terminator if LF follows */
	DOT_DONE,
};

void pop3_dot_init(struct pop3_dot *d, bool bare_lf)
{
	d->state = DOT_LINE_START;
	d->lf_ends = bare_lf;
	d->prev_cr = false;
	d->bare_lfs = 0;
}

bool pop3_dot_done(const struct pop3_dot *d)
{
	return d->state == DOT_DONE;
}

bool pop3_dot_at_line_start(const struct pop3_dot *d)
{
	return d->state == DOT_LINE_START || d->state == DOT_DONE;
}

int pop3_dot_feed(struct pop3_dot *d, const unsigned char *in, size_t n,
		  pop3_dot_emit_fn *emit, void *ctx, size_t *used_r)
{
	size_t i = 0, run = 0; /* in[run..i) is waiting to be emitted */
	int r;

#define FLUSH()                                                   \
	do {                                                      \
		if (i > run && (r = emit(ctx, in + run, i - run)) < 0) { \
			*used_r = run;                            \
			return r;                                 \
		}                                                 \
		run = i;                                          \
	} while (0)

	while (i < n && d->state != DOT_DONE) {
		unsigned char c = in[i];
		switch (d->state) {
		case DOT_LINE_START:
			d->prev_cr = false;
			if (c == '.') {
				FLUSH();
				d->state = DOT_DOT;
				run = ++i; /* the dot is not passed on */
			} else {
				d->state = DOT_MID; /* c is read there */
			}
			break;
		case DOT_MID: {
			const unsigned char *lf = memchr(in + i, '\n', n - i);
			if (lf == NULL) {
				d->prev_cr = in[n - 1] == '\r';
				i = n;
				break;
			}
			size_t k = (size_t)(lf - in);
			bool crlf = k > i ? in[k - 1] == '\r' : d->prev_cr;
			i = k + 1;
			if (!crlf)
				d->bare_lfs++; /* in[k - 1] (or prev_cr) was passed on: no CR held back */
			d->prev_cr = false;
			if (crlf || d->lf_ends)
				d->state = DOT_LINE_START;
			/* else a bare LF in a CRLF reply: data, the line goes on */
			break;
		}
		case DOT_DOT:
			if (c == '\r') {
				d->state = DOT_DOT_CR; /* hold the CR back */
				run = ++i;
			} else if (c == '\n' && d->lf_ends) {
				d->state = DOT_DONE; /* ".LF": bare-LF server */
				run = ++i;
			} else if (c == '\n') {
				/* ".LF" in a CRLF reply: data, dot and all (a
				 * stuffing server would have sent ".."). */
				if ((r = emit(ctx, (const unsigned char *)".", 1)) < 0) {
					*used_r = i;
					return r;
				}
				d->state = DOT_MID;
			} else {
				/* RFC 1939 §3: strip the first dot; c is data. */
				d->state = DOT_MID;
			}
			break;
		case DOT_DOT_CR:
			if (c == '\n') {
				d->state = DOT_DONE;
				run = ++i;
			} else {
				/* The line was ".\r<c>...": pass the held CR on. */
				if ((r = emit(ctx, (const unsigned char *)"\r", 1)) < 0) {
					*used_r = i;
					return r;
				}
				d->prev_cr = true;
				d->state = DOT_MID;
			}
			break;
		}
	}
	FLUSH();
#undef FLUSH
	*used_r = i;
	return PV_OK;
}
