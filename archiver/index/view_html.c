/* What a reader is shown of a message as HTML (mime.h
 * index_mime_view_html): one function, so that it runs the same in the
 * parser sandbox and anywhere else. */
#include "archiver/index/mime.h"

#include "archiver/index/sanitize.h"
#include "archiver/index/text.h"
#include "archiver/lib/limits.h"

static const unsigned char *bytes(const struct pv_buf *b)
{
	return b->data ? b->data : (const unsigned char *)"";
}

/* The HTML body as sanitised UTF-8 into out; *found_r false when none. */
static int html_body(const unsigned char *raw, size_t len, const struct index_parts *ps,
		     struct pv_buf *out, bool *found_r, struct pv_error *err)
{
	const struct index_part *p = index_parts_html_body(ps);
	struct pv_buf dec, utf8;
	int r;
	*found_r = p != NULL;
	if (p == NULL)
		return PV_OK;
	pv_buf_init(&dec, PV_VIEW_RAW_MAX);
	pv_buf_init(&utf8, 3 * (p->end - p->start) + 16);
	r = index_mime_part_decode(raw, len, p, &dec, err);
	if (r == PV_OK || r == PV_ELIMIT)
		r = index_text_to_utf8(p->charset, (const char *)bytes(&dec), dec.len, &utf8, err);
	if (r == PV_OK || r == PV_ELIMIT)
		r = index_html_sanitize((const char *)bytes(&utf8), utf8.len, out, err);
	pv_buf_free(&dec);
	pv_buf_free(&utf8);
	return r;
}

int index_mime_view_html(const unsigned char *raw, size_t len, struct pv_buf *out,
			 bool *had_html_r, struct pv_error *err)
{
	struct index_parts ps;
	struct pv_buf text;
	bool found = false;
	int r = index_mime_parts(raw, len, &ps, err);
	if (r == PV_OK)
		r = html_body(raw, len, &ps, out, &found, err);
	index_parts_free(&ps);
	if (r == PV_OK && !found) {
		pv_buf_init(&text, 4 * PV_INDEX_RAW_MAX);
		size_t n = len < PV_INDEX_RAW_MAX ? len : PV_INDEX_RAW_MAX;
		if ((r = index_mime_show(raw, n, &text, err)) == PV_OK)
			r = index_text_to_html((const char *)bytes(&text), text.len, out, err);
		pv_buf_free(&text);
	}
	if (had_html_r != NULL)
		*had_html_r = found;
	return r;
}
