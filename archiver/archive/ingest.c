#include "archiver/archive/ingest.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archiver/index/index.h"
#include "archiver/index/mime.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/lib/hex.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/store/leaf.h"
#include "archiver/archive/retention.h"
#include "audit/tlog.h"

/* Everything one message needs before the transaction starts. */
struct prepared {
	struct retention ret;
	int64_t bucket_id;
	unsigned char wrapped[KEYRING_WRAPPED_BYTES];
	struct pv_buf leaf;
	struct index_doc doc; /* kept for the index when has_doc */
	bool has_doc;
};

/* Decides one message's retention from one MIME parse of it (headers and
 * structure), the parse the index gets too: kept for the index when the
 * whole message was at hand. A big message is read back from its blob,
 * only its first PV_INGEST_READBACK_MAX bytes kept. */
static int prepare_retention(struct archive *ar, const struct account *a,
			     const struct ingest_item *it, struct prepared *p, struct pv_error *err)
{
	struct pv_buf back;
	const unsigned char *raw = it->plain;
	size_t len = it->plain_len;
	int r;

	pv_buf_init(&back, PV_INGEST_READBACK_MAX);
	if (raw == NULL) {
		if ((r = blob_read(ar->dir, it->blob.id, it->blob.key, it->blob.sha256, blob_sink_prefix,
				   &back, err)) < 0) {
			pv_buf_free_secret(&back);
			return r;
		}
		raw = back.data ? back.data : (const unsigned char *)"";
		len = back.len;
	}
	if ((r = index_mime_extract(raw, len, &p->doc, err)) == PV_OK) {
		r = retention_decide_msg(ar, a, &p->doc, it->blob.size, it->received_at, &p->ret,
					 err);
		p->has_doc = it->plain != NULL && r == PV_OK;
		if (!p->has_doc)
			index_doc_free(&p->doc);
	}
	pv_buf_free_secret(&back);
	return r;
}

static int insert_message(struct archive *ar, const struct account *a, const struct ingest_item *it,
			  const struct prepared *p, uint64_t leaf_index, int64_t *id_r,
			  struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	int r;

	if ((r = catalog_prepare(db,
				 "INSERT INTO messages (account_id, uidl, sha256, size, received_at,"
				 " blob, bucket_id, wrapped_key, leaf_index, retention_class,"
				 " expires_at, policy_version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
				 &st, err)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, a->id);
	if (strncmp(it->uidl, "sha256:", 7) != 0)
		sqlite3_bind_text(st, 2, it->uidl, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, it->blob.sha256, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)it->blob.size);
	sqlite3_bind_int64(st, 5, it->received_at);
	sqlite3_bind_text(st, 6, it->blob.id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, p->bucket_id);
	sqlite3_bind_blob(st, 8, p->wrapped, sizeof(p->wrapped), SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)leaf_index);
	sqlite3_bind_text(st, 10, p->ret.class_name, -1, SQLITE_STATIC);
	if (!p->ret.forever)
		sqlite3_bind_int64(st, 11, p->ret.expires_at);
	sqlite3_bind_int64(st, 12, p->ret.policy_version);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	else
		*id_r = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	return r;
}

int ingest_commit(struct archive *ar, const struct account *a, struct ingest_item *items, size_t n,
		  struct pv_error *err)
{
	struct prepared *p = calloc(n, sizeof(*p));
	struct tlog_entry *entries = calloc(n, sizeof(*entries));
	char mailbox[33];
	uint64_t size, first;
	int r = PV_OK;

	if (p == NULL || entries == NULL) {
		free(p);
		free(entries);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	keyring_mailbox_id(ar->kr, a->name, mailbox);
	/* 1. Blob files and their directory entries durable. */
	if ((r = blob_sync(ar->dir, err)) < 0)
		goto out;
	/* 2. Retention, bucket keys (durable in the keyring before any catalog
	 * row refers to them) and wrapped message keys. */
	for (size_t i = 0; i < n; i++)
		pv_buf_init(&p[i].leaf, LEAF_MAX);
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		char label[RETENTION_BUCKET_LABEL_MAX];
		if ((r = prepare_retention(ar, a, &items[i], &p[i], err)) < 0 ||
		    (r = retention_bucket(ar, &p[i].ret, &p[i].bucket_id, label, err)) < 0)
			break;
		if ((r = keyring_wrap(ar->kr, p[i].bucket_id, items[i].blob.id, items[i].blob.key,
				      items[i].blob.salt, p[i].wrapped, err)) < 0)
			break;
	}
	if (r < 0)
		goto out;
	/* 3. One transaction: catalog rows, ledger rows, leaves, checkpoint. */
	if ((r = catalog_begin(ar->cat, err)) < 0)
		goto out;
	if ((r = tlog_size(ar->archive_log, &size, err)) < 0)
		goto rollback;
	for (size_t i = 0; i < n; i++) {
		struct archive_leaf leaf = {.kind = LEAF_MESSAGE, .time = items[i].received_at,
					    .size = items[i].blob.size};
		if ((r = insert_message(ar, a, &items[i], &p[i], size + i, &items[i].message_id, err)) < 0 ||
		    (r = ledger_insert(ar->cat->db, a->id, items[i].uidl, items[i].blob.sha256,
				       items[i].message_id, items[i].received_at, err)) < 0)
			goto rollback;
		/* Searchable as soon as it is committed (ARCHITECTURE.md §7). The index
		 * is derived: if this fails (its savepoint is rolled back), the
		 * archive commit goes on and the catch-up indexes it later. */
		struct pv_error ierr;
		if (p[i].has_doc &&
		    index_add_doc(ar->cat->db, items[i].message_id, a->name, items[i].received_at,
				  items[i].blob.size, &p[i].doc, &ierr) < 0)
			pv_log(PV_LOG_INFO, "index.defer", "message %lld will be indexed later: %s",
			       (long long)items[i].message_id, ierr.msg);
		leaf.seq = items[i].message_id;
		memcpy(leaf.mailbox, mailbox, sizeof(mailbox));
		snprintf(leaf.class_name, sizeof(leaf.class_name), "%s", p[i].ret.class_name);
		memcpy(leaf.ct, items[i].blob.id, sizeof(leaf.ct));
		pv_hex(items[i].blob.commit, 32, leaf.commit);
		if ((r = archive_leaf_format(&leaf, &p[i].leaf, err)) < 0)
			goto rollback;
		entries[i].data = p[i].leaf.data;
		entries[i].len = p[i].leaf.len;
	}
	if ((r = tlog_append(ar->archive_log, entries, n, &first, err)) < 0)
		goto rollback;
	if (first != size) {
		r = pv_fail(err, PV_EINTEGRITY, "archive log moved under us (%llu, expected %llu)",
			    (unsigned long long)first, (unsigned long long)size);
		goto rollback;
	}
	if ((r = archive_sign_checkpoint(ar, ar->archive_log, err)) < 0)
		goto rollback;
	/* The harvest entry commits with the batch (ARCHITECTURE.md §3 (group commit)). */
	if (n > 0 && (r = archive_auditf(ar, "system", AUDIT_HARVEST_BATCH, "ok", NULL, err,
				"account=%s messages=%lld-%lld count=%zu archive-size=%llu", a->name,
				(long long)items[0].message_id, (long long)items[n - 1].message_id, n,
				(unsigned long long)(size + n))) < 0)
		goto rollback;
	r = catalog_commit(ar->cat, err);
	goto out;
rollback:
	catalog_rollback(ar->cat);
out:
	for (size_t i = 0; i < n; i++) {
		pv_buf_free(&p[i].leaf);
		if (p[i].has_doc)
			index_doc_free(&p[i].doc);
		sodium_memzero(items[i].blob.key, sizeof(items[i].blob.key));
		sodium_memzero(items[i].blob.salt, sizeof(items[i].blob.salt));
	}
	sodium_memzero(p, n * sizeof(*p));
	free(p);
	free(entries);
	return r;
}
