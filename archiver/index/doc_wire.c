/* index_doc on the parser sandbox's pipe (sandbox.h): little-endian
 * lengths, every field bounded by what extraction itself allows. */
#include "archiver/index/sandbox.h"

#include <stdlib.h>
#include <string.h>

#include "archiver/lib/limits.h"
#include "archiver/lib/utf8.h"

#define DOC_MAGIC "PVD1"

static int put_u(struct pv_buf *o, uint64_t v, size_t n, struct pv_error *err)
{
	unsigned char b[8];
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return pv_buf_append(o, b, n, err);
}

static int put_s(struct pv_buf *o, const void *p, size_t n, struct pv_error *err)
{
	int r = put_u(o, n, 4, err);
	return r < 0 || n == 0 ? r : pv_buf_append(o, p, n, err);
}

static const struct pv_buf *doc_bufs(const struct index_doc *d, size_t i)
{
	const struct pv_buf *v[] = {&d->from,       &d->to,        &d->cc,        &d->bcc,
				    &d->subject,    &d->subject_more, &d->message_id, &d->body,
				    &d->filenames,  &d->types};
	return i < sizeof(v) / sizeof(v[0]) ? v[i] : NULL;
}

static const struct index_addrs *doc_addrs(const struct index_doc *d, size_t i)
{
	const struct index_addrs *v[] = {&d->addr_from, &d->addr_to, &d->addr_cc, &d->addr_bcc};
	return i < 4 ? v[i] : NULL;
}

int index_doc_encode(const struct index_doc *d, struct pv_buf *o, struct pv_error *err)
{
	int r = pv_buf_append(o, DOC_MAGIC, 4, err);
	for (size_t i = 0; r == 0 && doc_bufs(d, i) != NULL; i++)
		r = put_s(o, doc_bufs(d, i)->data, doc_bufs(d, i)->len, err);
	if (r == 0 && (r = put_u(o, (uint64_t)d->date, 8, err)) == 0 &&
	    (r = put_u(o, d->date_known, 1, err)) == 0 &&
	    (r = put_u(o, d->has_attachment, 1, err)) == 0 && (r = put_u(o, d->parts, 4, err)) == 0 &&
	    (r = put_u(o, d->truncated, 4, err)) == 0)
		r = put_u(o, d->nhidden, 4, err);
	for (size_t i = 0; r == 0 && i < d->nhidden; i++)
		if ((r = put_u(o, d->hidden[i].start, 8, err)) == 0)
			r = put_u(o, d->hidden[i].end, 8, err);
	for (size_t i = 0; r == 0 && i < 4; i++) {
		const struct index_addrs *a = doc_addrs(d, i);
		r = put_u(o, a->n, 4, err);
		for (size_t k = 0; r == 0 && k < a->n; k++)
			r = put_s(o, a->v[k], strlen(a->v[k]), err);
	}
	if (r == 0)
		r = put_u(o, d->nfields, 4, err);
	for (size_t i = 0; r == 0 && i < d->nfields; i++)
		if ((r = put_s(o, d->fields[i].name, strlen(d->fields[i].name), err)) == 0)
			r = put_s(o, d->fields[i].value, strlen(d->fields[i].value), err);
	return r;
}

struct in {
	const unsigned char *p;
	size_t len, off;
	bool bad;
};

static uint64_t get_u(struct in *i, size_t n)
{
	uint64_t v = 0;
	if (i->bad || n > i->len - i->off) {
		i->bad = true;
		return 0;
	}
	for (size_t k = 0; k < n; k++)
		v |= (uint64_t)i->p[i->off + k] << (8 * k);
	i->off += n;
	return v;
}

/* A string of at most max bytes, UTF-8 without NUL. */
static const char *get_s(struct in *i, size_t max, size_t *n_r)
{
	uint64_t n = get_u(i, 4);
	if (i->bad || n > max || n > i->len - i->off) {
		i->bad = true;
		return NULL;
	}
	const char *s = (const char *)i->p + i->off;
	if (memchr(s, '\0', (size_t)n) != NULL || !pv_utf8_valid((const unsigned char *)s, (size_t)n)) {
		i->bad = true;
		return NULL;
	}
	i->off += (size_t)n;
	*n_r = (size_t)n;
	return s;
}

static char *dup_s(struct in *i, size_t max)
{
	size_t n = 0;
	const char *s = get_s(i, max, &n);
	char *c = s != NULL ? malloc(n + 1) : NULL;
	if (c != NULL) {
		memcpy(c, s, n);
		c[n] = '\0';
	} else if (s != NULL) {
		i->bad = true;
	}
	return c;
}

/* A count of items each taking at least `each` bytes: no more than fit. */
static size_t get_count(struct in *i, size_t each)
{
	uint64_t n = get_u(i, 4);
	if (n > (i->len - i->off) / each) {
		i->bad = true;
		return 0;
	}
	return (size_t)n;
}

int index_doc_decode(const unsigned char *in, size_t len, struct index_doc *d,
		     struct pv_error *err)
{
	struct in i = {in, len, 0, false};
	if (len < 4 || memcmp(in, DOC_MAGIC, 4) != 0)
		return pv_fail(err, PV_EPROTO, "the parser's answer is not a document");
	i.off = 4;
	for (size_t k = 0; !i.bad && doc_bufs(d, k) != NULL; k++) {
		struct pv_buf *b = (struct pv_buf *)doc_bufs(d, k);
		size_t n = 0;
		const char *s = get_s(&i, b->max, &n);
		if (s != NULL && n > 0 && pv_buf_append(b, s, n, NULL) != 0)
			i.bad = true;
	}
	d->date = (int64_t)get_u(&i, 8);
	d->date_known = get_u(&i, 1) != 0;
	d->has_attachment = get_u(&i, 1) != 0;
	d->parts = (unsigned)get_u(&i, 4);
	d->truncated = (unsigned)get_u(&i, 4);
	size_t nh = get_count(&i, 16);
	if (!i.bad && nh > 0) {
		if ((d->hidden = calloc(nh, sizeof(*d->hidden))) == NULL)
			i.bad = true;
		else
			d->hidden_cap = nh;
	}
	for (size_t k = 0; !i.bad && k < nh; k++) {
		uint64_t s = get_u(&i, 8), e = get_u(&i, 8);
		if (s >= e || e > d->body.len)
			i.bad = true;
		d->hidden[d->nhidden++] = (struct index_range){(size_t)s, (size_t)e};
	}
	for (size_t k = 0; !i.bad && k < 4; k++) {
		struct index_addrs *a = (struct index_addrs *)doc_addrs(d, k);
		size_t n = get_count(&i, 4);
		if (i.bad || n == 0)
			continue;
		if ((a->v = calloc(n, sizeof(*a->v))) == NULL) {
			i.bad = true;
			break;
		}
		a->cap = n;
		for (size_t m = 0; !i.bad && m < n; m++)
			if ((a->v[a->n] = dup_s(&i, PV_MIME_HEADER_MAX)) != NULL)
				a->n++;
	}
	size_t nf = i.bad ? 0 : get_count(&i, 8);
	if (!i.bad && nf > 0 && (d->fields = calloc(nf, sizeof(*d->fields))) == NULL)
		i.bad = true;
	for (size_t k = 0; !i.bad && k < nf; k++) {
		char *name = dup_s(&i, PV_MIME_HEADER_MAX), *value = dup_s(&i, PV_MIME_HEADER_MAX);
		if (name == NULL || value == NULL) {
			free(name);
			free(value);
			break;
		}
		d->fields[d->nfields++] = (struct index_field){name, value};
	}
	if (i.bad || i.off != len)
		return pv_fail(err, PV_EPROTO, "the parser's answer is malformed (at byte %zu of %zu)",
			       i.off, len);
	return 0;
}
