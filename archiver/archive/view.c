#include "archiver/archive/view.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/holds.h"
#include "archiver/archive/proof.h"
#include "archiver/index/mime.h"
#include "archiver/index/sandbox.h"
#include "archiver/index/sanitize.h"
#include "archiver/index/text.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/store/message.h"

static void headers_free(struct archive_message_headers *h)
{
	free(h->from);
	free(h->to);
	free(h->cc);
	free(h->subject);
	free(h->message_id);
	memset(h, 0, sizeof(*h));
}

void archive_message_meta_free(struct archive_message_meta *meta)
{
	hold_names_free(&meta->holds, meta->n_holds);
	meta->n_holds = 0;
	headers_free(&meta->headers);
}

void archive_message_parts_free(struct archive_message_parts *parts)
{
	for (size_t i = 0; i < parts->n; i++)
		free(parts->v[i].filename);
	free(parts->v);
	memset(parts, 0, sizeof(*parts));
}

/* Loads id: PV_ENOTFOUND when it was never archived, or (with
 * ARCHIVE_VIEW_LIVE) was disposed of. Nothing is audited. */
static int load(struct archive *ar, int64_t id, unsigned flags, struct stored_message *m_r,
		struct pv_error *err)
{
	int r = message_load(ar->cat->conn, id, m_r, err);
	if (r == PV_OK && (flags & ARCHIVE_VIEW_LIVE) && m_r->disposed_at != 0)
		return message_read(ar, m_r, NULL, NULL, err); /* says when and why, PV_ENOTFOUND */
	return r;
}

/* Loads id and audits the view (`what`: "" or " raw=yes", ...) first. */
static int open_view(struct archive *ar, const char *actor, int64_t id, unsigned flags,
		     const char *what, struct stored_message *m_r, struct pv_error *err)
{
	int r = load(ar, id, flags, m_r, err);
	if (r < 0)
		return r;
	return archive_auditf(ar, actor, AUDIT_VIEW, "ok", NULL, err, "message=%lld%s",
			      (long long)id, what);
}

/* The first max bytes of m into b (initialised here); *cut_r: there is more. */
static int read_prefix(struct archive *ar, const struct stored_message *m, size_t max,
		       struct pv_buf *b, bool *cut_r, struct pv_error *err)
{
	pv_buf_init(b, max);
	int r = message_read(ar, m, blob_sink_prefix, b, err);
	if (cut_r != NULL)
		*cut_r = m->size > max;
	return r;
}

static const unsigned char *bytes(const struct pv_buf *b)
{
	return b->data ? b->data : (const unsigned char *)"";
}

static int fill_meta(struct archive *ar, const struct stored_message *m,
		     struct archive_message_meta *meta, struct pv_error *err)
{
	meta->id = m->id;
	snprintf(meta->account, sizeof(meta->account), "%s", m->account);
	snprintf(meta->uidl, sizeof(meta->uidl), "%s", m->uidl);
	meta->received_at = m->received_at;
	meta->size = m->size;
	pv_hex(m->sha256, sizeof(m->sha256), meta->sha256);
	snprintf(meta->retention_class, sizeof(meta->retention_class), "%s", m->class_name);
	meta->expires_at = m->expires_at;
	meta->policy_version = m->policy_version;
	meta->disposed_at = m->disposed_at;
	meta->leaf_index = m->leaf_index;
	return hold_names_of(ar->cat->conn, m->id, &meta->holds, &meta->n_holds, err);
}

/* The parsing of a message for a reader, in the parser sandbox
 * (index/sandbox.h): this process may serve the network. */
static int sandboxed(struct index_sandbox **sb, struct pv_error *err)
{
	return index_sandbox_new(NULL, sb, err);
}

/* The header summary and what the message holds, from its first bytes. */
static int fill_headers(struct archive *ar, const struct stored_message *m,
			struct archive_message_meta *meta, struct pv_error *err)
{
	struct archive_message_headers *h = &meta->headers;
	struct index_sandbox *sb = NULL;
	struct pv_buf raw;
	struct index_doc d;
	bool has_html = false;
	int r = read_prefix(ar, m, PV_INDEX_RAW_MAX, &raw, NULL, err);
	if (r < 0 || (r = sandboxed(&sb, err)) < 0) {
		pv_buf_free(&raw);
		return r;
	}
	if ((r = index_sandbox_meta(sb, bytes(&raw), raw.len, &d, &has_html, err)) == PV_OK) {
		h->from = strdup(pv_buf_str(&d.from));
		h->to = strdup(pv_buf_str(&d.to));
		h->cc = strdup(pv_buf_str(&d.cc));
		h->subject = strdup(pv_buf_str(&d.subject));
		h->message_id = strdup(pv_buf_str(&d.message_id));
		h->date = d.date;
		h->date_known = d.date_known;
		meta->has_attachment = d.has_attachment;
		meta->has_html = has_html;
		if (!h->from || !h->to || !h->cc || !h->subject || !h->message_id)
			r = pv_fail(err, PV_ERR, "out of memory");
	}
	index_doc_free(&d);
	index_sandbox_free(&sb);
	pv_buf_free(&raw);
	return r;
}

int archive_view_meta(struct archive *ar, const char *actor, int64_t id, unsigned flags,
		      struct archive_message_meta *meta_r, struct pv_error *err)
{
	struct stored_message m;
	int r;
	memset(meta_r, 0, sizeof(*meta_r));
	if ((r = open_view(ar, actor, id, flags, " meta=yes", &m, err)) < 0 ||
	    (r = fill_meta(ar, &m, meta_r, err)) < 0)
		return r;
	if (m.disposed_at != 0) /* what the catalog knows is all there is */
		return PV_OK;
	return fill_headers(ar, &m, meta_r, err);
}

int archive_view_text(struct archive *ar, const char *actor, int64_t id, unsigned flags,
		      struct archive_message_meta *meta_r, struct pv_buf *text_r, bool *truncated_r,
		      struct pv_error *err)
{
	struct stored_message m;
	struct pv_buf raw;
	int r;

	memset(meta_r, 0, sizeof(*meta_r));
	pv_buf_init(text_r, 4 * PV_INDEX_RAW_MAX);
	*truncated_r = false;
	if ((r = open_view(ar, actor, id, flags, "", &m, err)) < 0 ||
	    (r = fill_meta(ar, &m, meta_r, err)) < 0)
		return r;
	struct index_sandbox *sb = NULL;
	if ((r = read_prefix(ar, &m, PV_INDEX_RAW_MAX, &raw, truncated_r, err)) == PV_OK &&
	    (r = sandboxed(&sb, err)) == PV_OK)
		r = index_sandbox_show(sb, bytes(&raw), raw.len, text_r, err);
	index_sandbox_free(&sb);
	pv_buf_free(&raw);
	return r;
}

int archive_view_raw(struct archive *ar, const char *actor, int64_t id, unsigned flags,
		     blob_sink_fn sink, void *ctx, struct pv_error *err)
{
	struct stored_message m;
	int r = open_view(ar, actor, id, flags, " raw=yes", &m, err);
	if (r < 0)
		return r;
	return message_read(ar, &m, sink, ctx, err);
}

int archive_view_proof(struct archive *ar, const char *actor, int64_t id, unsigned flags,
		       struct pv_buf *proof_r, struct pv_error *err)
{
	struct stored_message m;
	struct pv_buf note;
	uint8_t salt[BLOB_SALT_BYTES];
	int r;

	if ((r = open_view(ar, actor, id, flags, " proof=yes", &m, err)) < 0 ||
	    (r = message_commit_salt(ar, &m, salt, err)) < 0)
		return r;
	pv_buf_init(&note, PV_NOTE_MAX);
	if ((r = proof_checkpoint_covering(ar, m.leaf_index, &note, NULL, err)) == PV_OK)
		r = proof_message(ar, m.id, m.leaf_index, salt, (const char *)note.data, note.len,
				  proof_r, NULL, NULL, err);
	sodium_memzero(salt, sizeof(salt));
	pv_buf_free(&note);
	return r;
}

int archive_view_html(struct archive *ar, const char *actor, int64_t id, unsigned flags,
		      struct pv_buf *html_r, bool *had_html_r, struct pv_error *err)
{
	struct stored_message m;
	struct index_sandbox *sb = NULL;
	struct pv_buf raw;
	bool found = false;
	int r;

	pv_buf_init(html_r, PV_VIEW_HTML_MAX);
	if ((r = open_view(ar, actor, id, flags, " html=yes", &m, err)) < 0)
		return r;
	if ((r = read_prefix(ar, &m, PV_VIEW_RAW_MAX, &raw, NULL, err)) == PV_OK &&
	    (r = sandboxed(&sb, err)) == PV_OK)
		r = index_sandbox_html(sb, bytes(&raw), raw.len, html_r, &found, err);
	index_sandbox_free(&sb);
	pv_buf_free(&raw);
	if (had_html_r != NULL)
		*had_html_r = found;
	if (r < 0)
		pv_buf_reset(html_r);
	return r;
}

/* The parts of raw with their decoded sizes. */
static int list_parts(const struct pv_buf *raw, bool cut, struct archive_message_parts *out,
		      struct index_parts *ps, struct pv_error *err)
{
	int r = index_mime_parts(bytes(raw), raw->len, ps, err);
	if (r < 0)
		return r;
	if (ps->n > 0 && (out->v = calloc(ps->n, sizeof(*out->v))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	out->complete = !cut;
	for (size_t i = 0; i < ps->n; i++) {
		const struct index_part *p = &ps->v[i];
		struct archive_message_part *q = &out->v[out->n++];
		struct pv_buf dec;
		q->n = p->n;
		memcpy(q->type, p->type, sizeof(q->type));
		memcpy(q->charset, p->charset, sizeof(q->charset));
		q->attachment = p->attachment;
		q->in_message = p->in_message;
		q->cut = cut && p->end == raw->len;
		if (p->filename != NULL && (q->filename = strdup(p->filename)) == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		pv_buf_init(&dec, PV_VIEW_RAW_MAX);
		r = index_mime_part_decode(bytes(raw), raw->len, p, &dec, err);
		q->size = dec.len;
		pv_buf_free(&dec);
		if (r < 0 && r != PV_ELIMIT)
			return r;
	}
	return PV_OK;
}

int archive_view_parts(struct archive *ar, const char *actor, int64_t id, unsigned flags,
		       struct archive_message_parts *parts_r, struct pv_error *err)
{
	struct stored_message m;
	struct pv_buf raw;
	struct index_parts ps = {0};
	bool cut = false;
	int r;

	memset(parts_r, 0, sizeof(*parts_r));
	if ((r = open_view(ar, actor, id, flags, " parts=yes", &m, err)) < 0)
		return r;
	if ((r = read_prefix(ar, &m, PV_VIEW_RAW_MAX, &raw, &cut, err)) == PV_OK)
		r = list_parts(&raw, cut, parts_r, &ps, err);
	index_parts_free(&ps);
	pv_buf_free(&raw);
	if (r < 0)
		archive_message_parts_free(parts_r);
	return r;
}

int archive_view_part(struct archive *ar, const char *actor, int64_t id, unsigned n,
		      unsigned flags, struct pv_buf *out, struct archive_message_part *part_r,
		      struct pv_error *err)
{
	struct stored_message m;
	struct pv_buf raw;
	struct index_parts ps = {0};
	bool cut = false;
	int r;

	memset(part_r, 0, sizeof(*part_r));
	pv_buf_init(out, PV_VIEW_RAW_MAX);
	/* The part list comes from the content: read it first (nothing leaves
	 * before the download is recorded). */
	if ((r = load(ar, id, flags, &m, err)) < 0)
		return r;
	if ((r = read_prefix(ar, &m, PV_VIEW_RAW_MAX, &raw, &cut, err)) < 0 ||
	    (r = index_mime_parts(bytes(&raw), raw.len, &ps, err)) < 0)
		goto out;
	if (n == 0 || n > ps.n) {
		r = pv_fail(err, PV_ENOTFOUND, "message %lld has no part %u", (long long)id, n);
		goto out;
	}
	const struct index_part *p = &ps.v[n - 1];
	if (cut && p->end == raw.len) {
		r = pv_fail(err, PV_ELIMIT, "part %u runs past the first %d MiB of the message; "
			    "download the whole message", n, PV_VIEW_RAW_MAX >> 20);
		goto out;
	}
	part_r->n = n;
	memcpy(part_r->type, p->type, sizeof(part_r->type));
	memcpy(part_r->charset, p->charset, sizeof(part_r->charset));
	part_r->attachment = p->attachment;
	part_r->in_message = p->in_message;
	if (p->filename != NULL && (part_r->filename = strdup(p->filename)) == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	if ((r = archive_auditf(ar, actor, AUDIT_DOWNLOAD, "ok", NULL, err, "message=%lld part=%u",
				(long long)id, n)) == PV_OK)
		r = index_mime_part_decode(bytes(&raw), raw.len, p, out, err);
	part_r->size = out->len;
out:
	index_parts_free(&ps);
	pv_buf_free(&raw);
	if (r < 0) {
		pv_buf_reset(out);
		free(part_r->filename);
		part_r->filename = NULL;
	}
	return r;
}
