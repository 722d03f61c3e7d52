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
};

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
		/* RFC 1939 §11: sizes count every line end as CRLF, a bare LF as two. */
		res->crlf_bytes = res->bytes + dot.bare_lfs;
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

/* ---- pipelined commands (RFC 2449 §6.6) ---- */

/* How many commands may be in flight. */
static size_t window(const struct pop3_client *c)
{
	return c->caps.pipelining ? PV_POP3_PIPELINE_WINDOW : 1;
}

enum cmd_kind { CMD_RETR, CMD_DELE };

struct cmd {
	enum cmd_kind kind;
	uint32_t msgnum;
	uint64_t size; /* RETR: its LIST size (a hint) */
};

/* Commands sent and not answered yet, oldest first. */
struct inflight {
	struct cmd v[PV_POP3_PIPELINE_WINDOW];
	size_t head, n, deles;
	uint64_t bytes; /* LIST sizes of the RETRs among them */
};

/* Command lines gathered to go out in one write (one segment, one TLS
 * record): "RETR 4294967295\r\n" is 17 bytes. */
struct outbuf {
	char d[PV_POP3_PIPELINE_WINDOW * 24];
	size_t len;
};

static void queue_cmd(struct pop3_client *c, struct inflight *q, struct outbuf *o,
		      enum cmd_kind kind, uint32_t msgnum, uint64_t size)
{
	int n = snprintf(o->d + o->len, sizeof(o->d) - o->len, "%s %u\r\n",
			 kind == CMD_RETR ? "RETR" : "DELE", (unsigned)msgnum);
	pop3_note(c, POP3_TRANSCRIPT_CLIENT, o->d + o->len, (size_t)n - 2);
	o->len += (size_t)n;
	q->v[(q->head + q->n) % PV_POP3_PIPELINE_WINDOW] = (struct cmd){kind, msgnum, size};
	q->n++;
	if (kind == CMD_DELE)
		q->deles++;
	else
		q->bytes += size;
}

static struct cmd pop_cmd(struct inflight *q)
{
	struct cmd c = q->v[q->head];
	q->head = (q->head + 1) % PV_POP3_PIPELINE_WINDOW;
	q->n--;
	if (c.kind == CMD_DELE)
		q->deles--;
	else
		q->bytes -= c.size;
	return c;
}

static int flush_cmds(struct pop3_client *c, struct outbuf *o, struct pv_error *err)
{
	int r = pop3_check_alive(c, err);
	if (r == PV_OK && o->len > 0 && (r = pop3_net_write(&c->net, o->d, o->len, err)) < 0)
		pop3_kill(c, r);
	o->len = 0;
	return r;
}

/* Reads the reply to the RETR at the head; see pop3_fetch_run. */
static int answer_retr(struct pop3_client *c, const struct pop3_fetch *f, uint32_t msgnum,
		       struct pv_error *err)
{
	struct pop3_retr_result res;
	struct pv_error merr;
	bool cb_abort;
	pv_error_clear(&merr);
	int r = read_one(c, msgnum, f->max_bytes, f->h, &res, &cb_abort, &merr);
	if (r < 0) {
		if (!cb_abort && f->h->done != NULL)
			(void)f->h->done(f->h->ctx, &res, &merr);
		if (err != NULL)
			*err = merr;
		return r;
	}
	if (f->h->done != NULL) {
		int d = f->h->done(f->h->ctx, &res, res.complete ? NULL : &merr);
		if (d < 0) {
			pv_fail(err, d, "RETR batch aborted by the caller");
			return pop3_kill(c, d);
		}
	}
	return PV_OK;
}

int pop3_fetch_run(struct pop3_client *c, const struct pop3_fetch *f, size_t *sent_r,
		   uint32_t *awaited_r, struct pv_error *err)
{
	struct inflight q = {0};
	struct outbuf o = {.len = 0};
	uint32_t nums[PV_POP3_PIPELINE_WINDOW];
	size_t w = window(c), next = 0;
	int r = PV_OK;

	*awaited_r = 0;
	for (;;) {
		/* DELEs first (small, and they free the caller's bookkeeping),
		 * but while RETRs remain at most half the window: the
		 * messages keep flowing. Refilled once at most half their
		 * share is in flight, so that they go out many to a write,
		 * not one per reply (a write wakes the server, and on
		 * loopback runs its receive path in this thread). */
		size_t share = next < f->n && w > 1 ? w / 2 : w;
		if (f->deles != NULL && q.n < w && q.deles <= share / 2) {
			size_t room = share - q.deles;
			if (room > w - q.n)
				room = w - q.n;
			size_t k = room > 0 ? f->deles(f->ctx, nums, room) : 0;
			for (size_t i = 0; i < k; i++)
				queue_cmd(c, &q, &o, CMD_DELE, nums[i], 0);
		}
		bool stop = f->stop != NULL && f->stop(f->ctx);
		/* RETRs while the window has room and the bytes announced in
		 * flight stay under PV_POP3_PIPELINE_BYTES (one always may);
		 * once half of both is free, so that refills go out many
		 * commands to a write, not one per reply. */
		bool refill = w == 1 || (q.n - q.deles <= w / 2 &&
					 q.bytes <= PV_POP3_PIPELINE_BYTES / 2);
		while (refill && !stop && next < f->n && q.n < w) {
			uint64_t size = f->sizes != NULL ? f->sizes[next] : 0;
			if (q.n > q.deles && q.bytes + size > PV_POP3_PIPELINE_BYTES)
				break;
			queue_cmd(c, &q, &o, CMD_RETR, f->msgnums[next++], size);
		}
		if ((r = flush_cmds(c, &o, err)) < 0)
			break;
		if (q.n == 0)
			break;
		struct cmd head = pop_cmd(&q);
		if (head.kind == CMD_RETR) {
			*awaited_r = head.msgnum;
			if ((r = answer_retr(c, f, head.msgnum, err)) < 0)
				break;
			*awaited_r = 0;
			continue;
		}
		char what[32];
		struct pv_error merr;
		pv_error_clear(&merr);
		snprintf(what, sizeof(what), "DELE %u", (unsigned)head.msgnum);
		int d = pop3_read_reply(c, what, false, &merr);
		if (c->dead) {
			/* Replies lost: rely on none (no QUIT will follow). */
			if (err != NULL)
				*err = merr;
			r = d < 0 ? d : PV_EPROTO;
			break;
		}
		f->dele_done(f->ctx, head.msgnum, d, d < 0 ? &merr : NULL);
	}
	*sent_r = next;
	return r;
}

int pop3_retr_many(struct pop3_client *c, const uint32_t *msgnums, size_t n,
		   uint64_t max_bytes, const struct pop3_retr_handler *h,
		   struct pv_error *err)
{
	struct pop3_fetch f = {.msgnums = msgnums, .n = n, .max_bytes = max_bytes, .h = h};
	size_t sent;
	uint32_t awaited;
	return pop3_fetch_run(c, &f, &sent, &awaited, err);
}

int pop3_dele_many(struct pop3_client *c, const uint32_t *msgnums, size_t n,
		   int *status_r, struct pv_error *err)
{
	struct inflight q = {0};
	struct outbuf o = {.len = 0};
	size_t sent = 0, got = 0, w = window(c);
	int first = PV_OK;
	for (size_t i = 0; i < n; i++)
		status_r[i] = PV_EPROTO;
	while (got < n) {
		while (sent < n && q.n < w)
			queue_cmd(c, &q, &o, CMD_DELE, msgnums[sent++], 0);
		int r = flush_cmds(c, &o, err);
		if (r < 0)
			return r;
		char what[32];
		struct pv_error merr;
		struct cmd head = pop_cmd(&q);
		snprintf(what, sizeof(what), "DELE %u", (unsigned)head.msgnum);
		r = pop3_read_reply(c, what, false, &merr);
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
