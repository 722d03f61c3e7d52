/* libFuzzer target for the mboxrd reader and writer and the load-file row
 * parser (archiver/export/mbox.h, loadfile.h), which verify-bundle runs on
 * outside input. Oracles: any bytes quoted as one message and read back
 * come out identical (plus one '\n' when they did not end in one),
 * whatever the chunking; the reader never fails on what the writer wrote;
 * a parsed row formatted again parses to as many fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/export/loadfile.h"
#include "archiver/export/mbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	uint8_t *p;
	size_t len, cap;
	uint64_t records;
};

static int put(void *ctx, const void *d, size_t n, struct pv_error *err)
{
	struct sink *s = ctx;
	(void)err;
	if (s->len + n > s->cap) {
		size_t cap = (s->len + n) * 2 + 64;
		uint8_t *q = realloc(s->p, cap);
		if (q == NULL)
			abort();
		s->p = q;
		s->cap = cap;
	}
	memcpy(s->p + s->len, d, n);
	s->len += n;
	return 0;
}

static int begin(void *ctx, const char *l, size_t n, struct pv_error *err)
{
	struct sink *s = ctx;
	(void)l;
	(void)n;
	(void)err;
	s->records++;
	return 0;
}

static int end(void *ctx, struct pv_error *err)
{
	(void)ctx;
	(void)err;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_error err;
	struct sink quoted = {0}, back = {0}, raw = {0};
	struct mbox_quote q;
	struct mbox_reader r;
	size_t chunk = size ? (size_t)data[0] % 17 + 1 : 1;

	/* Any bytes as a message: the round trip is exact. */
	if (mbox_quote_begin(&q, "From F@popvault Thu Jan  1 00:00:00 1970\n", put, &quoted, &err) != 0)
		abort();
	for (size_t off = 0; off < size; off += chunk)
		if (mbox_quote_feed(&q, data + off, size - off < chunk ? size - off : chunk, &err) != 0)
			abort();
	if (mbox_quote_end(&q, &err) != 0)
		abort();
	struct mbox_reader_cb cb = {begin, put, end, &back};
	mbox_reader_init(&r, &cb);
	for (size_t off = 0; off < quoted.len; off += chunk + 3)
		if (mbox_reader_feed(&r, quoted.p + off,
				     quoted.len - off < chunk + 3 ? quoted.len - off : chunk + 3, &err) != 0)
			abort();
	if (mbox_reader_finish(&r, &err) != 0 || back.records != 1)
		abort();
	bool nl = size == 0 || data[size - 1] == '\n';
	if (back.len != size + !nl || (size > 0 && memcmp(back.p, data, size) != 0) ||
	    (!nl && back.p[size] != '\n'))
		abort();

	/* The same bytes as an mbox: no crash, no leak. */
	struct mbox_reader_cb cb2 = {begin, put, end, &raw};
	mbox_reader_init(&r, &cb2);
	if (mbox_reader_feed(&r, data, size, &err) == 0)
		(void)mbox_reader_finish(&r, &err);

	/* As a load-file row, both dialects. */
	for (int k = 0; k < 2; k++) {
		struct loadfile_fields f, g;
		struct pv_buf row;
		enum loadfile_kind kind = k ? LOADFILE_CSV : LOADFILE_DAT;
		loadfile_fields_init(&f, size + 16);
		loadfile_fields_init(&g, 8 * size + 1024);
		pv_buf_init(&row, 8 * size + 1024);
		if (loadfile_parse(kind, (const char *)data, size, &f, &err) == 0) {
			const char *v[PV_EXPORT_LOADFILE_FIELDS_MAX];
			for (size_t i = 0; i < f.n; i++)
				v[i] = loadfile_field(&f, i);
			if (loadfile_row(kind, v, f.n, &row, &err) != 0 ||
			    loadfile_parse(kind, (const char *)row.data, row.len - 2, &g, &err) != 0 ||
			    g.n != f.n)
				abort();
		}
		loadfile_fields_free(&f);
		loadfile_fields_free(&g);
		pv_buf_free(&row);
	}
	free(quoted.p);
	free(back.p);
	free(raw.p);
	return 0;
}
