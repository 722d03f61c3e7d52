#include "archiver/store/message.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/clock.h"

struct message_reader {
	struct db_stmt *st;
};

int message_reader_open(struct db *db, struct message_reader **r_r, struct pv_error *err)
{
	*r_r = NULL; /* closing it after a failure is then harmless */
	struct message_reader *mr = calloc(1, sizeof(*mr));
	if (mr == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	int r = db_prepare(db,
			   "SELECT m.id, m.account_id, a.name, m.uidl, m.sha256, m.size,"
			   " m.received_at, m.blob, m.bucket_id, m.wrapped_key, m.leaf_index,"
			   " m.retention_class, m.expires_at, m.policy_version, m.disposed_at,"
			   " coalesce(m.archived_class, m.retention_class),"
			   " m.pack_id, m.pack_offset, m.pack_length"
			   " FROM messages m JOIN accounts a ON a.id = m.account_id WHERE m.id = ?",
			   &mr->st, err);
	if (r < 0) {
		free(mr);
		return r;
	}
	*r_r = mr;
	return PV_OK;
}

void message_reader_close(struct message_reader **mr)
{
	if (*mr == NULL)
		return;
	db_finalize(&(*mr)->st);
	free(*mr);
	*mr = NULL;
}

int message_load(struct db *db, int64_t id, struct stored_message *m, struct pv_error *err)
{
	struct message_reader *mr = NULL;
	int r = message_reader_open(db, &mr, err);
	if (r == PV_OK)
		r = message_reader_load(mr, id, m, err);
	message_reader_close(&mr);
	return r;
}

/* A text column into a fixed field ("" for NULL). */
static void text_into(struct db_stmt *st, int i, char *out, size_t out_len)
{
	const char *v = db_column_text(st, i);
	snprintf(out, out_len, "%s", v ? v : "");
}

int message_reader_load(struct message_reader *mr, int64_t id, struct stored_message *m,
			struct pv_error *err)
{
	struct db_stmt *st = mr->st;
	size_t len;
	int r;
	db_reset(st);
	memset(m, 0, sizeof(*m));
	db_bind_int64(st, 1, id);
	if ((r = db_step(st, err)) != DB_ROW) {
		db_reset(st);
		return r < 0 ? r : pv_fail(err, PV_ENOTFOUND, "no message %lld", (long long)id);
	}
	r = PV_OK;
	m->id = db_column_int64(st, 0);
	m->account_id = db_column_int64(st, 1);
	text_into(st, 2, m->account, sizeof(m->account));
	text_into(st, 3, m->uidl, sizeof(m->uidl));
	const void *sha256 = db_column_blob(st, 4, &len);
	if (len == 32)
		memcpy(m->sha256, sha256, 32);
	else
		r = pv_fail(err, PV_EINTEGRITY, "message %lld: malformed hash in the catalog", (long long)id);
	m->size = (uint64_t)db_column_int64(st, 5);
	m->received_at = db_column_int64(st, 6);
	text_into(st, 7, m->blob, sizeof(m->blob));
	m->bucket_id = db_column_int64(st, 8);
	const void *wrapped = db_column_blob(st, 9, &len);
	if (len > 0 && len <= sizeof(m->wrapped)) {
		memcpy(m->wrapped, wrapped, len);
		m->wrapped_len = len;
	}
	m->leaf_index = db_column_int64(st, 10);
	text_into(st, 11, m->class_name, sizeof(m->class_name));
	m->expires_at = db_column_is_null(st, 12) ? -1 : db_column_int64(st, 12);
	m->policy_version = db_column_int64(st, 13);
	m->disposed_at = db_column_is_null(st, 14) ? 0 : db_column_int64(st, 14);
	text_into(st, 15, m->archived_class, sizeof(m->archived_class));
	memcpy(m->loc.id, m->blob, sizeof(m->loc.id));
	m->loc.pack_id = db_column_int64(st, 16); /* NULL: 0, a PVB1 file */
	m->loc.offset = (uint64_t)db_column_int64(st, 17);
	m->loc.length = (uint64_t)db_column_int64(st, 18);
	db_reset(st);
	return r;
}

int message_size(struct db *db, int64_t id, uint64_t *size_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT size FROM messages WHERE id = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, id);
	if ((r = db_step(st, err)) == DB_ROW) {
		*size_r = (uint64_t)db_column_int64(st, 0);
		r = PV_OK;
	} else if (r == DB_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "no message %lld", (long long)id);
	}
	db_finalize(&st);
	return r;
}

/* The unfinished disposal run holding message id, or 0. */
static int64_t being_disposed(struct db *db, int64_t id)
{
	struct db_stmt *st;
	struct pv_error e;
	int64_t run = 0;
	if (db_prepare(db, "SELECT d.id FROM disposal_items i JOIN disposals d ON d.id ="
			   " i.disposal_id WHERE i.message_id = ? AND d.state = 'intent'", &st, &e) < 0)
		return 0;
	db_bind_int64(st, 1, id);
	if (db_step(st, &e) == DB_ROW)
		run = db_column_int64(st, 0);
	db_finalize(&st);
	return run;
}

int message_unwrap(struct archive *ar, const struct stored_message *m,
		   unsigned char key[BLOB_KEY_BYTES], unsigned char salt[BLOB_SALT_BYTES],
		   struct pv_error *err)
{
	if (m->disposed_at != 0) {
		char t[PV_RFC3339_LEN];
		pv_clock_format_rfc3339(m->disposed_at, t);
		return pv_fail(err, PV_ENOTFOUND,
			       "message %lld was disposed of on %s under policy version %lld",
			       (long long)m->id, t, (long long)m->policy_version);
	}
	bool no_key = m->blob[0] == '\0' || m->wrapped_len == 0;
	int r = no_key ? PV_ENOTFOUND
		       : keyring_unwrap(ar->kr, m->bucket_id, m->blob, m->wrapped, m->wrapped_len, key,
					salt, err);
	if (r != PV_ENOTFOUND)
		return r;
	int64_t run = being_disposed(ar->cat->conn, m->id);
	if (run > 0)
		return pv_fail(err, PV_ENOTFOUND, "message %lld is being disposed of (disposal %lld, "
			       "approved, was cut short; the next disposal proposal finishes it)",
			       (long long)m->id, (long long)run);
	return pv_fail(err, PV_EINTEGRITY, no_key ? "message %lld: content missing without a disposal "
						    "record"
						  : "message %lld: its key is gone without a disposal record",
		       (long long)m->id);
}

/* A record that is gone while its message is not disposed of. */
static int missing(const struct stored_message *m, int r, struct pv_error *err)
{
	if (r == PV_ENOTFOUND && m->disposed_at == 0)
		r = pv_fail(err, PV_EINTEGRITY,
			    "message %lld: blob %s is missing without a disposal record",
			    (long long)m->id, m->blob);
	return r;
}

int message_open(struct archive *ar, const struct stored_message *m, struct blob_opened *o_r,
		 struct pv_error *err)
{
	return missing(m, blob_open_at(ar->packs, &m->loc, o_r, err), err);
}

int message_read_key(const char *data_dir, const struct blob_opened *o,
		     const struct stored_message *m, const unsigned char key[BLOB_KEY_BYTES],
		     blob_sink_fn sink, void *ctx, struct pv_error *err)
{
	return missing(m, blob_read_opened(data_dir, &m->loc, o, key, m->sha256, sink, ctx, err), err);
}

int message_read(struct archive *ar, const struct stored_message *m, blob_sink_fn sink, void *ctx,
		 struct pv_error *err)
{
	unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
	int r = message_unwrap(ar, m, key, salt, err);
	if (r == PV_OK)
		r = missing(m, blob_read_at(ar->dir, ar->packs, &m->loc, key, m->sha256, sink, ctx,
					    err), err);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(salt, sizeof(salt));
	return r;
}

int message_read_into(struct archive *ar, const struct stored_message *m, struct pv_buf *b,
		      struct pv_error *err)
{
	unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
	int r = message_unwrap(ar, m, key, salt, err);
	if (r == PV_OK)
		r = missing(m, blob_read_into_at(ar->dir, ar->packs, &m->loc, key, m->sha256, b,
						 err), err);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(salt, sizeof(salt));
	return r;
}

int message_commit_salt(struct archive *ar, const struct stored_message *m,
			unsigned char salt_r[BLOB_SALT_BYTES], struct pv_error *err)
{
	unsigned char key[BLOB_KEY_BYTES];
	int r = message_unwrap(ar, m, key, salt_r, err);
	sodium_memzero(key, sizeof(key));
	if (r < 0)
		sodium_memzero(salt_r, BLOB_SALT_BYTES);
	return r;
}
