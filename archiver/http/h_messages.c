/* One message (legal): GET /api/v1/messages/{id} and its /text, /html,
 * /parts, /parts/{n}, /raw and /proof. The archive's view functions audit
 * each before anything leaves; ARCHIVE_VIEW_LIVE makes a disposed message
 * a 404 like one never archived. */
#include <stdio.h>

#include "archiver/archive/view.h"
#include "archiver/http/handlers.h"
#include "archiver/http/legal_json.h"

/* The HTML answer may only be shown in a sandboxed frame; these make the
 * browser treat it so even when opened on its own. */
#define SANDBOX_CSP                                                                              \
	"sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; " \
	"form-action 'none'; frame-ancestors 'self'"

/* A message larger than this cannot have been archived (the harvest's
 * size cap is configurable; the blob bounds what is read in any case). */
#define RAW_READ_MAX ((size_t)1 << 40)

static int message_id(struct http_request *rq, int64_t *id_r)
{
	return http_param_int(rq, 0, 1, INT64_MAX, id_r, &rq->err);
}

int h_message(struct http_request *rq, struct http_response *rs)
{
	struct archive_message_meta meta;
	int64_t id;
	int r;
	if ((r = message_id(rq, &id)) < 0)
		return r;
	r = archive_view_meta(rq->ar, rq->actor, id, ARCHIVE_VIEW_LIVE, &meta, &rq->err);
	if (r == PV_OK)
		r = http_reply_json(rs, 200, legal_json_meta(&meta));
	archive_message_meta_free(&meta);
	return legal_json_fail(rq, rs, r);
}

int h_message_text(struct http_request *rq, struct http_response *rs)
{
	struct archive_message_meta meta;
	struct pv_buf text;
	bool truncated;
	int64_t id;
	int r;
	if ((r = message_id(rq, &id)) < 0)
		return r;
	r = archive_view_text(rq->ar, rq->actor, id, ARCHIVE_VIEW_LIVE, &meta, &text, &truncated,
			      &rq->err);
	/* the rendering's header lines carry no bidi controls (index_mime_show) */
	if (r == PV_OK)
		r = http_reply_json(rs, 200, json_pack("{s:I, s:s%, s:b}", "id", (json_int_t)id,
						       "text", pv_buf_str(&text), text.len,
						       "truncated", truncated));
	archive_message_meta_free(&meta);
	pv_buf_free(&text);
	return legal_json_fail(rq, rs, r);
}

int h_message_html(struct http_request *rq, struct http_response *rs)
{
	struct pv_buf html;
	int64_t id;
	int r;
	if ((r = message_id(rq, &id)) < 0)
		return r;
	r = archive_view_html(rq->ar, rq->actor, id, ARCHIVE_VIEW_LIVE, &html, NULL, &rq->err);
	if (r < 0) {
		pv_buf_free(&html);
		return legal_json_fail(rq, rs, r);
	}
	if (http_response_header(rs, "Content-Security-Policy", SANDBOX_CSP) < 0 ||
	    http_response_header(rs, "Content-Disposition", "inline") < 0 ||
	    http_response_header(rs, "X-Content-Type-Options", "nosniff") < 0) {
		pv_buf_free(&html);
		return PV_ERR;
	}
	return legal_reply_buffer(rs, 200, "text/html; charset=utf-8", &html);
}

int h_message_parts(struct http_request *rq, struct http_response *rs)
{
	struct archive_message_parts ps;
	int64_t id;
	int r;
	if ((r = message_id(rq, &id)) < 0)
		return r;
	if ((r = archive_view_parts(rq->ar, rq->actor, id, ARCHIVE_VIEW_LIVE, &ps, &rq->err)) < 0) {
		archive_message_parts_free(&ps);
		return legal_json_fail(rq, rs, r);
	}
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < ps.n; i++)
		if (json_array_append_new(a, legal_json_part(&ps.v[i])) < 0) {
			json_decref(a);
			a = NULL;
		}
	json_t *body = json_pack("{s:I, s:b, s:o}", "id", (json_int_t)id, "complete", ps.complete,
				 "parts", a);
	archive_message_parts_free(&ps);
	return http_reply_json(rs, 200, body);
}

int h_message_part(struct http_request *rq, struct http_response *rs)
{
	struct archive_message_part part;
	struct pv_buf out;
	char fallback[48];
	int64_t id, n;
	int r;
	if ((r = message_id(rq, &id)) < 0 ||
	    (r = http_param_int(rq, 1, 1, PV_MIME_PARTS_MAX, &n, &rq->err)) < 0)
		return r;
	r = archive_view_part(rq->ar, rq->actor, id, (unsigned)n, ARCHIVE_VIEW_LIVE, &out, &part,
			      &rq->err);
	if (r < 0) {
		pv_buf_free(&out);
		return legal_json_fail(rq, rs, r);
	}
	snprintf(fallback, sizeof(fallback), "part-%lld.bin", (long long)n);
	r = legal_attachment(rs, part.filename, fallback);
	free(part.filename);
	if (r < 0 || http_response_header(rs, "Content-Security-Policy", SANDBOX_CSP) < 0) {
		pv_buf_free(&out);
		return PV_ERR;
	}
	return legal_reply_buffer(rs, 200, "application/octet-stream", &out);
}

static int collect(void *ctx, const unsigned char *data, size_t len, struct pv_error *err)
{
	return pv_buf_append(ctx, data, len, err);
}

int h_message_raw(struct http_request *rq, struct http_response *rs)
{
	struct pv_buf raw;
	char name[48];
	int64_t id;
	int r;
	if ((r = message_id(rq, &id)) < 0)
		return r;
	/* Whole and checked against its SHA-256 before the first byte goes. */
	pv_buf_init(&raw, RAW_READ_MAX);
	if ((r = archive_view_raw(rq->ar, rq->actor, id, ARCHIVE_VIEW_LIVE, collect, &raw,
				  &rq->err)) < 0) {
		pv_buf_free(&raw);
		return legal_json_fail(rq, rs, r);
	}
	snprintf(name, sizeof(name), "message-%lld.eml", (long long)id);
	if (legal_attachment(rs, name, name) < 0) {
		pv_buf_free(&raw);
		return PV_ERR;
	}
	return legal_reply_buffer(rs, 200, "message/rfc822", &raw);
}

int h_message_proof(struct http_request *rq, struct http_response *rs)
{
	struct pv_buf proof;
	char name[48];
	int64_t id;
	int r;
	if ((r = message_id(rq, &id)) < 0)
		return r;
	pv_buf_init(&proof, PV_TLOG_PROOF_MAX);
	if ((r = archive_view_proof(rq->ar, rq->actor, id, ARCHIVE_VIEW_LIVE, &proof, &rq->err)) < 0) {
		pv_buf_free(&proof);
		return legal_json_fail(rq, rs, r);
	}
	snprintf(name, sizeof(name), "message-%lld.tlog-proof", (long long)id);
	if (legal_attachment(rs, name, name) < 0) {
		pv_buf_free(&proof);
		return PV_ERR;
	}
	return legal_reply_buffer(rs, 200, "text/plain; charset=utf-8", &proof);
}
