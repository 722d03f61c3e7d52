/* Later passes over a bundle (bundle_read.h): members streamed again, each
 * checked to hash as in the first pass. */
#include "audit/bundle_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/sha256.h"

struct bundle_stream {
	struct bundle_source *src;
	bool borrowed; /* src belongs to bundle_each */
	const struct bundle_file *f;
	struct pv_sha256 st;
	uint64_t size;
	bool done;
	uint8_t buf[BUNDLE_IO_CHUNK];
	size_t pos, len;
};

int bundle_stream_open(struct bundle *b, const char *name, struct bundle_stream **s_r,
		       struct pv_error *err)
{
	struct bundle_stream *s;
	const char *entry;
	int r;

	*s_r = NULL;
	const struct bundle_file *f = bundle_find(b, name);
	if (f == NULL)
		return pv_fail(err, PV_ENOTFOUND, "bundle has no member %s", name);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	s->f = f;
	if ((r = pv_sha256_init(&s->st, err)) < 0) {
		free(s);
		return r;
	}
	if ((r = bundle_source_open(b->fd, b->mem, b->size, true, &s->src, err)) < 0) {
		pv_sha256_abort(&s->st);
		free(s);
		return r;
	}
	while ((r = bundle_source_next(s->src, &entry, err)) == 1)
		if (strcmp(entry, name) == 0)
			break;
	if (r <= 0) {
		if (r == 0)
			r = pv_fail(err, PV_EINTEGRITY, "bundle member %s vanished on a second read",
				    name);
		bundle_stream_close(&s);
		return r;
	}
	*s_r = s;
	return 0;
}

static int stream_fill(struct bundle_stream *s, struct pv_error *err)
{
	uint8_t sha[32];
	if (s->done)
		return 0;
	int64_t k = bundle_source_read(s->src, s->buf, sizeof(s->buf), err);
	if (k < 0)
		return (int)k;
	if (k == 0) {
		s->done = true;
		pv_sha256_final(&s->st, sha);
		if (s->size != s->f->size || sodium_memcmp(sha, s->f->sha256, 32) != 0)
			return pv_fail(err, PV_EINTEGRITY, "bundle member %s changed between reads",
				       s->f->name);
		return 0;
	}
	pv_sha256_update(&s->st, s->buf, (size_t)k);
	s->size += (uint64_t)k;
	s->pos = 0;
	s->len = (size_t)k;
	return 1;
}

int bundle_stream_read(struct bundle_stream *s, void *buf, size_t n, size_t *got_r,
		       struct pv_error *err)
{
	uint8_t *p = buf;
	size_t got = 0;
	int r;
	while (got < n) {
		if (s->pos == s->len) {
			if ((r = stream_fill(s, err)) < 0)
				return r;
			if (r == 0)
				break;
		}
		size_t k = s->len - s->pos < n - got ? s->len - s->pos : n - got;
		memcpy(p + got, s->buf + s->pos, k);
		s->pos += k;
		got += k;
	}
	*got_r = got;
	return 0;
}

int bundle_stream_exact(struct bundle_stream *s, void *buf, size_t n, struct pv_error *err)
{
	size_t got;
	int r = bundle_stream_read(s, buf, n, &got, err);
	if (r < 0)
		return r;
	if (got == n)
		return 1;
	if (got == 0)
		return 0;
	return pv_fail(err, PV_EINTEGRITY, "%s ends in the middle of a record", s->f->name);
}

int bundle_stream_line(struct bundle_stream *s, struct pv_buf *line, struct pv_error *err)
{
	int r;
	pv_buf_reset(line);
	for (;;) {
		if (s->pos == s->len) {
			if ((r = stream_fill(s, err)) < 0)
				return r;
			if (r == 0)
				return line->len > 0;
		}
		const uint8_t *nl = memchr(s->buf + s->pos, '\n', s->len - s->pos);
		size_t k = nl ? (size_t)(nl - (s->buf + s->pos)) + 1 : s->len - s->pos;
		if ((r = pv_buf_append(line, s->buf + s->pos, k, err)) < 0)
			return r == PV_ELIMIT ? pv_fail(err, PV_ELIMIT, "%s: a line is too long",
							s->f->name)
					      : r;
		s->pos += k;
		if (nl != NULL)
			return 1;
	}
}

void bundle_stream_close(struct bundle_stream **sp)
{
	struct bundle_stream *s = *sp;
	if (s == NULL)
		return;
	if (!s->borrowed)
		bundle_source_free(&s->src);
	pv_sha256_abort(&s->st);
	free(s);
	*sp = NULL;
}

int bundle_each(struct bundle *b, bundle_each_fn fn, void *ctx, struct pv_error *err)
{
	struct bundle_source *src = NULL;
	struct bundle_stream *s = NULL;
	const char *name;
	size_t seen = 0;
	int r;
	if ((r = bundle_source_open(b->fd, b->mem, b->size, true, &src, err)) < 0)
		return r;
	while ((r = bundle_source_next(src, &name, err)) == 1) {
		seen++;
		const struct bundle_file *f = bundle_find(b, name);
		if (f == NULL) {
			r = pv_fail(err, PV_EINTEGRITY, "bundle member %s appeared on a second read",
				    name);
			break;
		}
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			r = pv_fail(err, PV_ERR, "out of memory");
			break;
		}
		s->src = src;
		s->borrowed = true;
		s->f = f;
		if ((r = pv_sha256_init(&s->st, err)) < 0)
			break;
		if ((r = fn(ctx, f, s)) != 0)
			break;
		/* Drain what fn left: the hash covers the whole member. */
		while ((r = stream_fill(s, err)) == 1)
			s->pos = s->len;
		if (r < 0)
			break;
		bundle_stream_close(&s);
	}
	bundle_stream_close(&s);
	bundle_source_free(&src);
	/* Every member once, none left out (a zip's entries against its
	 * central directory). */
	if (r == 0 && seen != b->n_files)
		r = pv_fail(err, PV_EINTEGRITY, "bundle has %zu members on a second read, %zu on the "
						"first", seen, b->n_files);
	return r;
}

