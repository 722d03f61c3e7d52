/* libFuzzer target for the MIME indexer (archiver/index/mime, html, text):
 * any bytes as a stored message. Crashes, leaks, UB and timeouts are
 * findings, plus oracles: every extracted string is clean UTF-8 (cleaning
 * it again changes nothing), the caps of limits.h hold, and `show`
 * renders; the parts of the web view lie inside the message and decode.
 * Seeds: tests/data/mime/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/index/html.h"
#include "archiver/index/mime.h"
#include "archiver/index/text.h"
#include "archiver/lib/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_clean(const struct pv_buf *b, bool lines)
{
	struct pv_buf c;
	pv_buf_init(&c, b->len * 3 + 16);
	if (index_text_clean((const char *)b->data, b->len, lines, &c, NULL) != PV_OK ||
	    c.len != b->len || (b->len && memcmp(c.data, b->data, b->len) != 0))
		abort();
	pv_buf_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct index_doc d;
	struct pv_error err;
	if (index_mime_extract(data, size, &d, &err) != PV_OK)
		abort();
	check_clean(&d.from, false);
	check_clean(&d.to, false);
	check_clean(&d.cc, false);
	check_clean(&d.bcc, false);
	check_clean(&d.subject, false);
	check_clean(&d.subject_more, true);
	check_clean(&d.message_id, false);
	check_clean(&d.body, true);
	check_clean(&d.filenames, true);
	check_clean(&d.types, true);
	if (d.parts > PV_MIME_PARTS_MAX || d.body.len > PV_INDEX_TEXT_MAX ||
	    d.subject.len > PV_MIME_FIELD_MAX)
		abort();
	for (size_t i = 0; i < d.nhidden; i++)
		if (d.hidden[i].start > d.hidden[i].end || d.hidden[i].end > d.body.len)
			abort();
	struct pv_buf out;
	pv_buf_init(&out, 64u << 20);
	if (index_doc_show(&d, &out, &err) != PV_OK)
		abort();
	check_clean(&out, true);
	pv_buf_free(&out);
	index_doc_free(&d);

	/* the parts of the web view: numbered in order, inside the message,
	 * each decodable */
	struct index_parts ps;
	if (index_mime_parts(data, size, &ps, &err) != PV_OK)
		abort();
	for (size_t i = 0; i < ps.n; i++) {
		struct pv_buf part;
		if (ps.v[i].n != i + 1 || ps.v[i].start > ps.v[i].end || ps.v[i].end > size)
			abort();
		pv_buf_init(&part, size + 16);
		if (index_mime_part_decode(data, size, &ps.v[i], &part, &err) != PV_OK)
			abort();
		pv_buf_free(&part);
	}
	const struct index_part *hb = index_parts_html_body(&ps);
	if (hb != NULL && (hb->attachment || hb->in_message))
		abort();
	index_parts_free(&ps);

	/* the same bytes as an HTML body and as text in a few charsets */
	static const char *const charsets[] = {
		NULL, "utf-8", "iso-8859-1", "iso-2022-jp", "koi8-r", "gb2312", "x-bogus",
	};
	struct pv_buf t;
	pv_buf_init(&t, 3 * size + 16);
	const char *cs = charsets[size % (sizeof(charsets) / sizeof(charsets[0]))];
	if (index_text_to_utf8(cs, (const char *)data, size, &t, NULL) == PV_OK) {
		struct pv_buf h;
		pv_buf_init(&h, t.len + 16);
		if (index_html_to_text((const char *)t.data, t.len, &h, NULL) != PV_OK)
			abort();
		check_clean(&h, true);
		pv_buf_free(&h);
	}
	pv_buf_free(&t);
	return 0;
}
