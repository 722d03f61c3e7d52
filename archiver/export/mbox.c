#include "archiver/export/mbox.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char FROM_[] = "From ";
#define FROM_LEN 5

static const char GTS[] = ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>";

/* n '>' without holding them: a hostile line of a million '>' costs nothing. */
static int put_gts(mbox_out_fn out, void *ctx, uint64_t n, struct pv_error *err)
{
	int r;
	while (n > 0) {
		size_t k = n > sizeof(GTS) - 1 ? sizeof(GTS) - 1 : (size_t)n;
		if ((r = out(ctx, GTS, k, err)) != 0)
			return r;
		n -= k;
	}
	return 0;
}

int mbox_from_line(const char *sender, int64_t t, char *out, size_t cap, struct pv_error *err)
{
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	time_t tt = (time_t)t;
	if (sender[0] == '\0')
		return pv_fail(err, PV_ERR, "mbox: empty sender");
	for (const char *s = sender; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return pv_fail(err, PV_ERR, "mbox: sender '%s' is not one word", sender);
	if (gmtime_r(&tt, &tm) == NULL)
		return pv_fail(err, PV_ERR, "mbox: time out of range");
	/* asctime(3) layout, always in the C locale. */
	int n = snprintf(out, cap, "From %s %s %s %2d %02d:%02d:%02d %d\n", sender, wd[tm.tm_wday],
			 mon[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 tm.tm_year + 1900);
	if (n < 0 || (size_t)n >= cap || (size_t)n > PV_EXPORT_FROM_LINE_MAX)
		return pv_fail(err, PV_ERR, "mbox: From_ line too long");
	return n;
}

/* --- writing ------------------------------------------------------------ */

static int q_emit(struct mbox_quote *q, const void *p, size_t n, struct pv_error *err)
{
	if (n == 0)
		return 0;
	q->last_nl = ((const char *)p)[n - 1] == '\n';
	q->empty = false;
	return q->out(q->ctx, p, n, err);
}

/* Writes what was held back at the start of a line, unquoted. */
static int q_flush(struct mbox_quote *q, struct pv_error *err)
{
	int r;
	if (q->gts > 0) {
		if ((r = put_gts(q->out, q->ctx, q->gts, err)) != 0)
			return r;
		q->last_nl = false;
		q->empty = false;
	}
	r = q_emit(q, FROM_, q->matched, err);
	q->gts = 0;
	q->matched = 0;
	return r;
}

int mbox_quote_begin(struct mbox_quote *q, const char *from_line, mbox_out_fn out, void *ctx,
		     struct pv_error *err)
{
	memset(q, 0, sizeof(*q));
	q->out = out;
	q->ctx = ctx;
	q->sol = true;
	q->empty = true;
	return out(ctx, from_line, strlen(from_line), err);
}

int mbox_quote_feed(struct mbox_quote *q, const void *data, size_t len, struct pv_error *err)
{
	const unsigned char *p = data, *end = p + len;
	int r;
	while (p < end) {
		if (!q->sol) {
			const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
			const unsigned char *stop = nl ? nl + 1 : end;
			if ((r = q_emit(q, p, (size_t)(stop - p), err)) != 0)
				return r;
			p = stop;
			q->sol = nl != NULL;
			continue;
		}
		if (q->matched == 0 && *p == '>') {
			q->gts++;
			p++;
		} else if (*p == (unsigned char)FROM_[q->matched]) {
			p++;
			if (++q->matched == FROM_LEN) {
				/* ^>*From : one '>' more (the mboxrd rule). */
				if ((r = put_gts(q->out, q->ctx, q->gts + 1, err)) != 0)
					return r;
				q->gts = 0;
				q->matched = 0;
				if ((r = q_emit(q, FROM_, FROM_LEN, err)) != 0)
					return r;
				q->sol = false;
			}
		} else {
			/* Not a From_ line: what was held goes out as it was; the
			 * byte itself is handled as mid-line (a '\n' ends the line). */
			if ((r = q_flush(q, err)) != 0)
				return r;
			q->sol = false;
		}
	}
	return 0;
}

int mbox_quote_end(struct mbox_quote *q, struct pv_error *err)
{
	int r;
	if ((r = q_flush(q, err)) != 0)
		return r;
	if (!q->empty && !q->last_nl && (r = q->out(q->ctx, "\n", 1, err)) != 0)
		return r;
	return q->out(q->ctx, "\n", 1, err);
}

/* --- reading ------------------------------------------------------------ */

enum { R_SOL, R_MID, R_FROM };

void mbox_reader_init(struct mbox_reader *r, const struct mbox_reader_cb *cb)
{
	memset(r, 0, sizeof(*r));
	r->cb = *cb;
	r->state = R_SOL;
}

static int r_data(struct mbox_reader *r, const void *p, size_t n, struct pv_error *err)
{
	if (n == 0)
		return 0;
	if (!r->in_record)
		return pv_fail(err, PV_EINTEGRITY, "mbox: text before the first From_ line");
	return r->cb.data(r->cb.ctx, p, n, err);
}

static int r_flush(struct mbox_reader *r, struct pv_error *err)
{
	int rc;
	if (r->pending_empty) {
		r->pending_empty = false;
		if ((rc = r_data(r, "\n", 1, err)) != 0)
			return rc;
	}
	return 0;
}

static int r_gts(struct mbox_reader *r, uint64_t n, struct pv_error *err)
{
	if (n > 0 && !r->in_record)
		return pv_fail(err, PV_EINTEGRITY, "mbox: text before the first From_ line");
	return put_gts(r->cb.data, r->cb.ctx, n, err);
}

/* A line start that turned out not to be special: give back what was held. */
static int r_unhold(struct mbox_reader *r, struct pv_error *err)
{
	int rc;
	if ((rc = r_flush(r, err)) != 0 || (rc = r_gts(r, r->gts, err)) != 0 ||
	    (rc = r_data(r, FROM_, r->matched, err)) != 0)
		return rc;
	r->gts = 0;
	r->matched = 0;
	return 0;
}

static int r_end(struct mbox_reader *r, struct pv_error *err)
{
	if (!r->in_record)
		return 0;
	r->in_record = false;
	return r->cb.end(r->cb.ctx, err);
}

int mbox_reader_feed(struct mbox_reader *r, const void *data, size_t len, struct pv_error *err)
{
	const unsigned char *p = data, *end = p + len;
	int rc;
	while (p < end) {
		if (r->state == R_MID || r->state == R_FROM) {
			const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
			const unsigned char *stop = nl ? nl + 1 : end;
			if (r->state == R_MID) {
				if ((rc = r_data(r, p, (size_t)(stop - p), err)) != 0)
					return rc;
			} else {
				size_t k = (size_t)((nl ? nl : end) - p);
				if (k > sizeof(r->from) - r->from_len)
					return pv_fail(err, PV_EINTEGRITY,
						       "mbox: From_ line %llu is over %d bytes",
						       (unsigned long long)r->records + 1,
						       PV_EXPORT_FROM_LINE_MAX);
				memcpy(r->from + r->from_len, p, k);
				r->from_len += k;
				if (nl != NULL) {
					r->records++;
					r->in_record = true;
					if ((rc = r->cb.begin(r->cb.ctx, r->from, r->from_len, err)) != 0)
						return rc;
				}
			}
			p = stop;
			if (nl != NULL)
				r->state = R_SOL;
			continue;
		}
		if (r->matched == 0 && *p == '>') {
			r->gts++;
			p++;
		} else if (*p == (unsigned char)FROM_[r->matched]) {
			p++;
			if (++r->matched < FROM_LEN)
				continue;
			if (r->gts == 0) {
				/* A separator: the empty line before it is its own. */
				r->pending_empty = false;
				r->matched = 0;
				if ((rc = r_end(r, err)) != 0)
					return rc;
				memcpy(r->from, FROM_, FROM_LEN);
				r->from_len = FROM_LEN;
				r->state = R_FROM;
			} else {
				/* ^>+From : one '>' less. */
				if ((rc = r_flush(r, err)) != 0 || (rc = r_gts(r, r->gts - 1, err)) != 0 ||
				    (rc = r_data(r, FROM_, FROM_LEN, err)) != 0)
					return rc;
				r->gts = 0;
				r->matched = 0;
				r->state = R_MID;
			}
		} else if (r->gts == 0 && r->matched == 0 && *p == '\n') {
			if ((rc = r_flush(r, err)) != 0)
				return rc;
			r->pending_empty = true;
			p++;
		} else {
			if ((rc = r_unhold(r, err)) != 0)
				return rc;
			r->state = R_MID;
		}
	}
	return 0;
}

int mbox_reader_finish(struct mbox_reader *r, struct pv_error *err)
{
	int rc;
	if (r->state == R_FROM) {
		/* A From_ line at the very end without its '\n': an empty record. */
		r->records++;
		r->in_record = true;
		if ((rc = r->cb.begin(r->cb.ctx, r->from, r->from_len, err)) != 0)
			return rc;
	} else if (r->state == R_SOL && (r->gts > 0 || r->matched > 0)) {
		if ((rc = r_unhold(r, err)) != 0)
			return rc;
	}
	r->pending_empty = false; /* the blank line after the last message */
	r->state = R_SOL;
	return r_end(r, err);
}
