#include "archiver/archive/view.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/holds.h"
#include "archiver/archive/proof.h"
#include "archiver/index/mime.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/store/message.h"

void archive_message_meta_free(struct archive_message_meta *meta)
{
	hold_names_free(&meta->holds, meta->n_holds);
	meta->n_holds = 0;
}

/* Loads id and audits the view (`what`: "" or " raw=yes", ...) first. */
static int open_view(struct archive *ar, const char *actor, int64_t id, const char *what,
		     struct stored_message *m_r, struct pv_error *err)
{
	int r = message_load(ar->cat->db, id, m_r, err);
	if (r < 0)
		return r;
	return archive_auditf(ar, actor, AUDIT_VIEW, "ok", NULL, err, "message=%lld%s",
			      (long long)id, what);
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
	return hold_names_of(ar->cat->db, m->id, &meta->holds, &meta->n_holds, err);
}

int archive_view_meta(struct archive *ar, const char *actor, int64_t id,
		      struct archive_message_meta *meta_r, struct pv_error *err)
{
	struct stored_message m;
	int r;
	memset(meta_r, 0, sizeof(*meta_r));
	if ((r = open_view(ar, actor, id, " meta=yes", &m, err)) < 0)
		return r;
	return fill_meta(ar, &m, meta_r, err);
}

int archive_view_text(struct archive *ar, const char *actor, int64_t id,
		      struct archive_message_meta *meta_r, struct pv_buf *text_r, bool *truncated_r,
		      struct pv_error *err)
{
	struct stored_message m;
	struct pv_buf raw;
	int r;

	memset(meta_r, 0, sizeof(*meta_r));
	pv_buf_init(text_r, 4 * PV_INDEX_RAW_MAX);
	*truncated_r = false;
	if ((r = open_view(ar, actor, id, "", &m, err)) < 0 ||
	    (r = fill_meta(ar, &m, meta_r, err)) < 0)
		return r;
	pv_buf_init(&raw, PV_INDEX_RAW_MAX);
	if ((r = message_read(ar, &m, blob_sink_prefix, &raw, err)) == PV_OK &&
	    (r = index_mime_show(raw.data ? raw.data : (const unsigned char *)"", raw.len, text_r,
				 err)) == PV_OK)
		*truncated_r = raw.len == raw.max;
	pv_buf_free(&raw);
	return r;
}

int archive_view_raw(struct archive *ar, const char *actor, int64_t id, blob_sink_fn sink,
		     void *ctx, struct pv_error *err)
{
	struct stored_message m;
	int r = open_view(ar, actor, id, " raw=yes", &m, err);
	if (r < 0)
		return r;
	return message_read(ar, &m, sink, ctx, err);
}

int archive_view_proof(struct archive *ar, const char *actor, int64_t id, struct pv_buf *proof_r,
		       struct pv_error *err)
{
	struct stored_message m;
	struct pv_buf note;
	uint8_t salt[BLOB_SALT_BYTES];
	int r;

	if ((r = open_view(ar, actor, id, " proof=yes", &m, err)) < 0 ||
	    (r = message_commit_salt(ar, &m, salt, err)) < 0)
		return r;
	pv_buf_init(&note, PV_NOTE_MAX);
	if ((r = proof_checkpoint_covering(ar, m.leaf_index, &note, NULL, err)) == PV_OK)
		r = proof_message(ar, m.id, m.leaf_index, salt, (const char *)note.data, note.len,
				  proof_r, NULL, err);
	sodium_memzero(salt, sizeof(salt));
	pv_buf_free(&note);
	return r;
}
