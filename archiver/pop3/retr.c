/* RETR (streamed through the dot-unstuffing layer) and DELE, one at a time
 * or pipelined (RFC 2449 §6.6). */
#include "archiver/pop3/client_private.h"

#include <stdio.h>
#include <string.h>

#include "archiver/lib/number.h"
#include "archiver/pop3/dot.h"

struct retr_run {
	const struct pop3_retr_handler *h;
	struct pop3_retr_result *res;
	uint64_t max;
	int cb_status; /* a callback's own failure */
	bool last_cr;  /* the last byte given to the sink was CR */
};

/* RFC 1939 §11: sizes count every line end as CRLF; a bare LF as two. */
static uint64_t bare_lfs(struct retr_run *run, const unsigned char *d, size_t len)
{
	uint64_t n = 0;
	const unsigned char *p = d, *end = d + len;
	if (len == 0)
		return 0;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (p == d ? !run->last_cr : p[-1] != '\r')
			n++;
		p++;
	}
	run->last_cr = d[len - 1] == '\r';
	return n;
}

static int emit(void *ctx, const unsigned char *d, size_t len)
{
	struct retr_run *run = ctx;
	/* Over the cap: the sink never sees more than max, and the rest is
	 * not read (issue 16, finding 4: it was drained for up to 1 GiB). */
	if (len > run->max - run->res->bytes)
		return PV_ELIMIT;
	int r = run->h->data(run->h->ctx, run->res->msgnum, d, len);
	if (r < 0)
		return run->cb_status = r;
	run->res->bytes += len;
	run->res->crlf_bytes += len + bare_lfs(run, d, len);
	return PV_OK;
}

static void body_note(struct pop3_client *c, const struct pop3_retr_result *res,
		      const char *state)
{
	char note[96];
	int n = snprintf(note, sizeof(note), "<message %u body: %llu bytes, %s>",
			 (unsigned)res->msgnum, (unsigned long long)res->bytes, state);
	pop3_note(c, POP3_TRANSCRIPT_SERVER, note, n < 0 ? 0 : strnlen(note, sizeof(note)));
}

/* Reads the reply to a RETR already sent. Returns 0 when the session can
 * go on (the message's own outcome is in res and merr), negative when the
 * connection is dead; *cb_abort says a callback caused that. */
static int read_one(struct pop3_client *c, uint32_t msgnum, uint64_t max,
		    const struct pop3_retr_handler *h, struct pop3_retr_result *res,
		    bool *cb_abort, struct pv_error *merr)
{
	char what[32];
	struct pop3_dot dot;
	struct retr_run run = {.h = h, .res = res,
			       .max = max != 0 ? max : PV_MESSAGE_SIZE_DEFAULT_MAX};

	memset(res, 0, sizeof(*res));
	res->msgnum = msgnum;
	*cb_abort = false;
	snprintf(what, sizeof(what), "RETR %u", (unsigned)msgnum);
	int r = pop3_read_reply(c, what, false, merr);
	if (r < 0) {
		res->status = r;
		return c->dead ? r : PV_OK;
	}
	res->retrieved = true;
	/* "+OK 1234 octets": the size is a hint (RFC 1939 §7 example). */
	size_t k = 0;
	while (k < c->reply.text_len && c->reply.text[k] >= '0' && c->reply.text[k] <= '9')
		k++;
	res->size_announced =
		pv_parse_u64(c->reply.text, k, 0, UINT64_MAX / 2, 0, &res->announced_size) == 0;
	if (h->begin != NULL && (r = h->begin(h->ctx, msgnum, res)) < 0) {
		res->status = r;
		*cb_abort = true;
		pv_fail(merr, r, "%s: aborted by the caller", what);
		return pop3_kill(c, r);
	}
	pop3_dot_init(&dot, c->line_bare_lf);
	while (!pop3_dot_done(&dot)) {
		if (pop3_net_buffered(&c->net) == 0) {
			r = pop3_net_fill(&c->net, merr);
			if (r == 0)
				r = pv_fail(merr, PV_EPROTO,
					    "%s: connection closed before the end of the message "
					    "(%llu bytes, cut %s): message INCOMPLETE",
					    what, (unsigned long long)res->bytes,
					    pop3_dot_at_line_start(&dot) ? "at a line end"
									 : "mid-line");
			else if (r < 0)
				pv_error_prefix(merr, "%s: message INCOMPLETE", what);
			if (r < 0) {
				res->status = r;
				body_note(c, res, "INCOMPLETE");
				return pop3_kill(c, r);
			}
		}
		size_t used = 0;
		r = pop3_dot_feed(&dot, c->net.buf + c->net.start, pop3_net_buffered(&c->net),
				  emit, &run, &used);
		c->net.start += used;
		if (r < 0) {
			res->status = r;
			*cb_abort = run.cb_status < 0;
			if (*cb_abort)
				pv_fail(merr, r, "%s: aborted by the caller", what);
			else
				pv_fail(merr, PV_ELIMIT, "%s: message larger than %llu bytes; left "
					"upstream, connection dropped", what,
					(unsigned long long)run.max);
			body_note(c, res, *cb_abort ? "INCOMPLETE" : "over the size cap");
			return pop3_kill(c, r);
		}
	}
	res->complete = true;
	body_note(c, res, "complete");
	return PV_OK;
}

struct sink_adapter {
	pop3_sink_fn *sink;
	void *ctx;
};

static int adapter_data(void *ctx, uint32_t msgnum, const unsigned char *d, size_t len)
{
	struct sink_adapter *a = ctx;
	(void)msgnum;
	return a->sink(a->ctx, d, len);
}

int pop3_retr(struct pop3_client *c, uint32_t msgnum, uint64_t max_bytes,
	      pop3_sink_fn *sink, void *ctx, struct pop3_retr_result *res_r,
	      struct pv_error *err)
{
	struct pop3_retr_result local;
	struct pop3_retr_result *res = res_r != NULL ? res_r : &local;
	struct sink_adapter a = {.sink = sink, .ctx = ctx};
	struct pop3_retr_handler h = {.data = adapter_data, .ctx = &a};
	bool cb_abort;

	memset(res, 0, sizeof(*res));
	res->msgnum = msgnum;
	int r = pop3_sendf(c, err, "RETR %u", (unsigned)msgnum);
	if (r < 0) {
		res->status = r;
		return r;
	}
	r = read_one(c, msgnum, max_bytes, &h, res, &cb_abort, err);
	return r < 0 ? r : res->status;
}

/* How many commands may be in flight. */
static size_t window(const struct pop3_client *c)
{
	return c->caps.pipelining ? PV_POP3_PIPELINE_WINDOW : 1;
}

int pop3_retr_many(struct pop3_client *c, const uint32_t *msgnums, size_t n,
		   uint64_t max_bytes, const struct pop3_retr_handler *h,
		   struct pv_error *err)
{
	size_t sent = 0, got = 0, w = window(c);
	while (got < n) {
		while (sent < n && sent - got < w) {
			int r = pop3_sendf(c, err, "RETR %u", (unsigned)msgnums[sent]);
			if (r < 0)
				return r;
			sent++;
		}
		struct pop3_retr_result res;
		struct pv_error merr;
		bool cb_abort;
		pv_error_clear(&merr);
		int r = read_one(c, msgnums[got], max_bytes, h, &res, &cb_abort, &merr);
		if (r < 0) {
			if (!cb_abort && h->done != NULL)
				(void)h->done(h->ctx, &res, &merr);
			if (err != NULL)
				*err = merr;
			return r;
		}
		got++;
		if (h->done != NULL) {
			int d = h->done(h->ctx, &res, res.complete ? NULL : &merr);
			if (d < 0) {
				pv_fail(err, d, "RETR batch aborted by the caller");
				return pop3_kill(c, d);
			}
		}
	}
	return PV_OK;
}

int pop3_dele_many(struct pop3_client *c, const uint32_t *msgnums, size_t n,
		   int *status_r, struct pv_error *err)
{
	size_t sent = 0, got = 0, w = window(c);
	int first = PV_OK;
	for (size_t i = 0; i < n; i++)
		status_r[i] = PV_EPROTO;
	while (got < n) {
		while (sent < n && sent - got < w) {
			int r = pop3_sendf(c, err, "DELE %u", (unsigned)msgnums[sent]);
			if (r < 0)
				return r;
			sent++;
		}
		char what[32];
		struct pv_error merr;
		snprintf(what, sizeof(what), "DELE %u", (unsigned)msgnums[got]);
		int r = pop3_read_reply(c, what, false, &merr);
		if (c->dead) {
			if (err != NULL)
				*err = merr;
			return r;
		}
		status_r[got++] = r;
		if (r < 0 && first == PV_OK) {
			first = r;
			if (err != NULL)
				*err = merr;
		}
	}
	return first;
}
