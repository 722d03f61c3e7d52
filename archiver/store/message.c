#include "archiver/store/message.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/clock.h"

struct message_reader {
	sqlite3_stmt *st;
};

int message_reader_open(sqlite3 *db, struct message_reader **r_r, struct pv_error *err)
{
	*r_r = NULL; /* closing it after a failure is then harmless */
	struct message_reader *mr = calloc(1, sizeof(*mr));
	if (mr == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	int r = catalog_prepare(db,
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
	sqlite3_finalize((*mr)->st);
	free(*mr);
	*mr = NULL;
}

int message_load(sqlite3 *db, int64_t id, struct stored_message *m, struct pv_error *err)
{
	struct message_reader *mr = NULL;
	int r = message_reader_open(db, &mr, err);
	if (r == PV_OK)
		r = message_reader_load(mr, id, m, err);
	message_reader_close(&mr);
	return r;
}

int message_reader_load(struct message_reader *mr, int64_t id, struct stored_message *m,
			struct pv_error *err)
{
	sqlite3_stmt *st = mr->st;
	int r = PV_OK;
	sqlite3_reset(st);
	memset(m, 0, sizeof(*m));
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return pv_fail(err, PV_ENOTFOUND, "no message %lld", (long long)id);
	}
	m->id = sqlite3_column_int64(st, 0);
	m->account_id = sqlite3_column_int64(st, 1);
	snprintf(m->account, sizeof(m->account), "%s", (const char *)sqlite3_column_text(st, 2));
	if (sqlite3_column_type(st, 3) != SQLITE_NULL)
		snprintf(m->uidl, sizeof(m->uidl), "%s", (const char *)sqlite3_column_text(st, 3));
	if (sqlite3_column_bytes(st, 4) == 32)
		memcpy(m->sha256, sqlite3_column_blob(st, 4), 32);
	else
		r = pv_fail(err, PV_EINTEGRITY, "message %lld: malformed hash in the catalog", (long long)id);
	m->size = (uint64_t)sqlite3_column_int64(st, 5);
	m->received_at = sqlite3_column_int64(st, 6);
	if (sqlite3_column_type(st, 7) != SQLITE_NULL)
		snprintf(m->blob, sizeof(m->blob), "%s", (const char *)sqlite3_column_text(st, 7));
	m->bucket_id = sqlite3_column_int64(st, 8);
	int wl = sqlite3_column_bytes(st, 9);
	if (wl > 0 && (size_t)wl <= sizeof(m->wrapped)) {
		memcpy(m->wrapped, sqlite3_column_blob(st, 9), (size_t)wl);
		m->wrapped_len = (size_t)wl;
	}
	m->leaf_index = sqlite3_column_int64(st, 10);
	snprintf(m->class_name, sizeof(m->class_name), "%s", (const char *)sqlite3_column_text(st, 11));
	m->expires_at = sqlite3_column_type(st, 12) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 12);
	m->policy_version = sqlite3_column_int64(st, 13);
	m->disposed_at = sqlite3_column_type(st, 14) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 14);
	snprintf(m->archived_class, sizeof(m->archived_class), "%s",
		 (const char *)sqlite3_column_text(st, 15));
	memcpy(m->loc.id, m->blob, sizeof(m->loc.id));
	m->loc.pack_id = sqlite3_column_int64(st, 16); /* NULL: 0, a PVB1 file */
	m->loc.offset = (uint64_t)sqlite3_column_int64(st, 17);
	m->loc.length = (uint64_t)sqlite3_column_int64(st, 18);
	sqlite3_reset(st);
	return r;
}

int message_size(sqlite3 *db, int64_t id, uint64_t *size_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT size FROM messages WHERE id = ?", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*size_r = (uint64_t)sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		r = pv_fail(err, PV_ENOTFOUND, "no message %lld", (long long)id);
	else
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
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
	if (m->blob[0] == '\0' || m->wrapped_len == 0)
		return pv_fail(err, PV_EINTEGRITY,
			       "message %lld: content missing without a disposal record", (long long)m->id);
	int r = keyring_unwrap(ar->kr, m->bucket_id, m->blob, m->wrapped, m->wrapped_len, key, salt, err);
	if (r == PV_ENOTFOUND)
		r = pv_fail(err, PV_EINTEGRITY,
			    "message %lld: its key is gone without a disposal record", (long long)m->id);
	return r;
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
