#include "archiver/lib/buf.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pv_buf_init(struct pv_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

static int buf_reserve(struct pv_buf *b, size_t extra, struct pv_error *err)
{
	if (extra > b->max - b->len)
		return pv_fail(err, PV_ELIMIT, "buffer limit of %zu bytes exceeded", b->max);
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return PV_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	unsigned char *p = realloc(b->data, cap);
	if (p == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	b->data = p;
	b->cap = cap;
	return PV_OK;
}

int pv_buf_reserve(struct pv_buf *b, size_t n, struct pv_error *err)
{
	return buf_reserve(b, n, err);
}

int pv_buf_append(struct pv_buf *b, const void *p, size_t n, struct pv_error *err)
{
	int r = buf_reserve(b, n, err);
	if (r < 0)
		return r;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return PV_OK;
}

int pv_buf_append_str(struct pv_buf *b, const char *s, struct pv_error *err)
{
	return pv_buf_append(b, s, strlen(s), err);
}

int pv_buf_printf(struct pv_buf *b, struct pv_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return pv_fail(err, PV_ERR, "format error");
	int r = buf_reserve(b, (size_t)n, err);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return PV_OK;
}

void pv_buf_reset(struct pv_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void pv_buf_free(struct pv_buf *b)
{
	free(b->data);
	pv_buf_init(b, b->max);
}

void pv_buf_free_secret(struct pv_buf *b)
{
	if (b->data != NULL)
		sodium_memzero(b->data, b->cap);
	pv_buf_free(b);
}

const char *pv_buf_str(const struct pv_buf *b)
{
	return b->data != NULL ? (const char *)b->data : "";
}
