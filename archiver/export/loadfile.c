#include "archiver/export/loadfile.h"

#include <string.h>

#include "archiver/lib/utf8.h"

struct dialect {
	const char *quote, *sep, *newline;
	size_t qlen;
	/* what a quote inside a value becomes; NULL: it is doubled */
	const char *quote_in_value;
};

/* Concordance and Relativity have no escape for their þ quote (a doubled
 * one is not read back as one þ), so a þ in a value is replaced. */
static const struct dialect dialects[] = {
	[LOADFILE_DAT] = {LOADFILE_DAT_QUOTE, LOADFILE_DAT_SEP, LOADFILE_DAT_NEWLINE, 2,
			  LOADFILE_DAT_QUOTE_STANDIN},
	[LOADFILE_CSV] = {"\"", ",", " ", 1, NULL},
};

static int field(const struct dialect *d, bool csv, const char *s, struct pv_buf *out,
		 struct pv_error *err)
{
	size_t n = s ? strlen(s) : 0, run = 0;
	int r = pv_buf_append(out, d->quote, d->qlen, err);
	if (r == 0 && csv && n > 0 && strchr("=+-@\t\r", s[0]) != NULL)
		r = pv_buf_append(out, "'", 1, err);
	for (size_t i = 0; r == 0 && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *rep = NULL;
		size_t rl = 0, skip = 1;
		uint32_t cp;
		size_t k;
		if (n - i >= d->qlen && memcmp(s + i, d->quote, d->qlen) == 0) {
			if (d->quote_in_value != NULL) {
				rep = d->quote_in_value;
				skip = d->qlen;
			} else { /* doubled */
				if ((r = pv_buf_append(out, s + run, i + d->qlen - run, err)) == 0)
					r = pv_buf_append(out, d->quote, d->qlen, err);
				i += d->qlen - 1;
				run = i + 1;
				continue;
			}
		} else if (c >= 0x80 && (k = pv_utf8_decode((const unsigned char *)s + i, n - i, &cp)) > 0 &&
			   pv_utf8_is_bidi_control(cp)) {
			rep = ""; /* values are shown to people: see utf8.h */
			skip = k;
		} else if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
			rep = d->newline;
			skip = 2;
		} else if (c == '\r' || c == '\n') {
			rep = d->newline;
		} else if (c < 0x20 || c == 0x7f) {
			rep = " ";
		} else {
			continue;
		}
		rl = strlen(rep);
		if ((r = pv_buf_append(out, s + run, i - run, err)) == 0)
			r = pv_buf_append(out, rep, rl, err);
		i += skip - 1;
		run = i + 1;
	}
	if (r == 0)
		r = pv_buf_append(out, s + run, n - run, err);
	if (r == 0)
		r = pv_buf_append(out, d->quote, d->qlen, err);
	return r;
}

int loadfile_row(enum loadfile_kind kind, const char *const *fields, size_t n,
		 struct pv_buf *out, struct pv_error *err)
{
	const struct dialect *d = &dialects[kind];
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (i > 0)
			r = pv_buf_append_str(out, d->sep, err);
		if (r == 0)
			r = field(d, kind == LOADFILE_CSV, fields[i], out, err);
	}
	return r < 0 ? r : pv_buf_append(out, "\r\n", 2, err);
}

void loadfile_fields_init(struct loadfile_fields *f, size_t max_line)
{
	memset(f, 0, sizeof(*f));
	pv_buf_init(&f->buf, max_line + PV_EXPORT_LOADFILE_FIELDS_MAX);
}

void loadfile_fields_free(struct loadfile_fields *f)
{
	pv_buf_free(&f->buf);
	f->n = 0;
}

int loadfile_parse(enum loadfile_kind kind, const char *line, size_t len,
		   struct loadfile_fields *f, struct pv_error *err)
{
	const struct dialect *d = &dialects[kind];
	const char *p = line, *end = line + len;
	int r;
	pv_buf_reset(&f->buf);
	f->n = 0;
	for (;;) {
		if (f->n == PV_EXPORT_LOADFILE_FIELDS_MAX)
			return pv_fail(err, PV_EINTEGRITY, "more than %d fields",
				       PV_EXPORT_LOADFILE_FIELDS_MAX);
		if ((size_t)(end - p) < d->qlen || memcmp(p, d->quote, d->qlen) != 0)
			return pv_fail(err, PV_EINTEGRITY, "field %zu is not quoted", f->n + 1);
		p += d->qlen;
		f->off[f->n] = f->buf.len;
		for (;;) {
			const char *q = p;
			while (q < end && ((size_t)(end - q) < d->qlen || memcmp(q, d->quote, d->qlen) != 0))
				q++;
			if (q == end)
				return pv_fail(err, PV_EINTEGRITY, "field %zu is not closed", f->n + 1);
			if ((r = pv_buf_append(&f->buf, p, (size_t)(q - p), err)) < 0)
				return r;
			p = q + d->qlen;
			if ((size_t)(end - p) >= d->qlen && memcmp(p, d->quote, d->qlen) == 0) {
				if ((r = pv_buf_append(&f->buf, d->quote, d->qlen, err)) < 0)
					return r;
				p += d->qlen;
				continue;
			}
			break;
		}
		f->len[f->n] = f->buf.len - f->off[f->n];
		if ((r = pv_buf_append(&f->buf, "", 1, err)) < 0)
			return r;
		f->n++;
		if (p == end)
			return 0;
		size_t sl = strlen(d->sep);
		if ((size_t)(end - p) < sl || memcmp(p, d->sep, sl) != 0)
			return pv_fail(err, PV_EINTEGRITY, "text after field %zu", f->n);
		p += sl;
	}
}
