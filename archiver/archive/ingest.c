#include "archiver/archive/ingest.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/policies.h"
#include "archiver/archive/retention.h"
#include "archiver/index/mime.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/lib/random.h"
#include "archiver/lib/sha256.h"
#include "archiver/store/leaf.h"
#include "archiver/store/leaf_commit.h"
#include "archiver/store/pack.h"
#include "archiver/store/record.h"
#include "audit/tlog.h"

/* One message ready for the catalog. */
struct row {
	struct ingest_msg msg;
	struct blob_loc loc;
	unsigned char commit[BLOB_HASH_BYTES];
	unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES]; /* wiped once wrapped */
	int64_t received_at;
	struct retention ret;
	int64_t bucket_id;
	unsigned char wrapped[KEYRING_WRAPPED_BYTES];
};

static void row_clear(struct row *w)
{
	sodium_memzero(w, sizeof(*w));
}

/* Retention for one batch: the policy in force, looked up once per batch
 * (not per message), and the buckets its messages went to. */
#define DECIDER_BUCKETS 16
struct decider {
	struct policy *policy; /* NULL: none stored, the built-in retention */
	int64_t version;
	char sha[POLICY_SHA256_HEX_LEN];
	bool fresh;            /* checked against the catalog for this batch */
	struct {
		char class_name[128], month[32];
		int64_t id;
	} memo[DECIDER_BUCKETS];
	size_t n_memo;
};

static void decider_batch_done(struct decider *d)
{
	d->fresh = false;
	d->n_memo = 0; /* a bucket key may be destroyed between batches */
}

static void decider_free(struct decider *d)
{
	policy_free(&d->policy);
}

static int decider_refresh(struct decider *d, struct db *db, struct pv_error *err)
{
	struct policy_version_info info;
	if (d->fresh)
		return PV_OK;
	int r = policy_store_current(db, &info, err);
	if (r == PV_ENOTFOUND) {
		policy_free(&d->policy);
		d->version = 0;
		r = PV_OK;
	} else if (r == PV_OK && (d->policy == NULL || d->version != info.version ||
				  strcmp(d->sha, info.sha256) != 0)) {
		policy_free(&d->policy);
		if ((r = policy_version_load(db, info.version, &d->policy, NULL, err)) == PV_OK) {
			d->version = info.version;
			memcpy(d->sha, info.sha256, sizeof(d->sha));
		}
	}
	d->fresh = r == PV_OK;
	return r;
}

/* The live bucket of ret, remembered for the batch. */
static int decider_bucket(struct decider *d, struct archive *ar, const struct retention *ret,
			  int64_t *id_r, struct pv_error *err)
{
	char month[32], label[RETENTION_BUCKET_LABEL_MAX];
	retention_bucket_month(ret, month);
	for (size_t i = 0; i < d->n_memo; i++)
		if (strcmp(d->memo[i].class_name, ret->class_name) == 0 &&
		    strcmp(d->memo[i].month, month) == 0) {
			*id_r = d->memo[i].id;
			return PV_OK;
		}
	int r = retention_bucket(ar, ret, id_r, label, err);
	if (r == PV_OK && d->n_memo < DECIDER_BUCKETS) {
		snprintf(d->memo[d->n_memo].class_name, sizeof(d->memo[0].class_name), "%s",
			 ret->class_name);
		snprintf(d->memo[d->n_memo].month, sizeof(d->memo[0].month), "%s", month);
		d->memo[d->n_memo++].id = *id_r;
	}
	return r;
}

/* Whether the decider's policy may need a message's content: else its
 * head is not kept (a copy and a wipe of up to PV_INGEST_READBACK_MAX
 * bytes per message, for nothing, under init's policy). */
static bool decider_reads_content(const struct decider *d)
{
	return d->policy != NULL && policy_reads_content(d->policy);
}

/* Decides a message's retention under the decider's policy (refreshed by
 * the caller) and picks its live bucket. When the account, size and time
 * decide it whatever the content (no stored policy, a policy of facts
 * only, or a rule of facts that matches first), the content is not
 * parsed: that parse was a sixth of the sealer's time. Otherwise from the
 * policy's facts (index_mime_facts: headers and MIME structure, no body
 * text) of its first bytes (raw, len; the message is w->msg.size bytes;
 * raw NULL: not kept, as the policy reads no content). The full-text
 * index is not made here: the indexer (indexer.h) extracts and indexes it
 * after the commit, off the path to DELE. */
static int decide(struct decider *d, struct archive *ar, const struct account *a,
		  const unsigned char *raw, size_t len, struct row *w, struct pv_error *err)
{
	struct retention_message rm;
	struct policy_result res;
	struct index_doc facts;
	int r;
	if (d->policy == NULL) {
		r = retention_builtin(w->received_at, &w->ret, err);
	} else if ((r = retention_message_init(&rm, a->name, NULL, w->msg.size, w->received_at,
					       err)) == PV_OK) {
		r = policy_evaluate_facts(d->policy, &rm.m, &res, err);
		retention_message_free(&rm);
		if (r == PV_OK)
			retention_from_result(&res, d->version, &w->ret);
	}
	if (r == PV_ENOTFOUND && raw == NULL)
		return pv_fail(err, PV_ERR, "ingest: the policy reads the content, which was not kept");
	if (r == PV_ENOTFOUND) {
		if ((r = index_mime_facts(raw, len, &facts, err)) == PV_OK &&
		    (r = retention_message_init(&rm, a->name, &facts, w->msg.size, w->received_at,
						err)) == PV_OK) {
			r = retention_evaluate(d->policy, d->version, &rm.m, &w->ret, NULL, err);
			retention_message_free(&rm);
		}
		index_doc_free(&facts);
	}
	if (r < 0)
		return r;
	return decider_bucket(d, ar, &w->ret, &w->bucket_id, err);
}

/* The statements a group commit runs per message, prepared once. */
struct stmts {
	struct db_stmt *insert;
	struct ledger_stmts *ledger;
};

static void stmts_free(struct stmts *st)
{
	db_finalize(&st->insert);
	ledger_stmts_free(&st->ledger);
}

/* Message ids are the archive order from 1 without a gap (verify reports
 * a gap as rows deleted). SQLite's AUTOINCREMENT gives that: a rolled
 * back insert takes its number back. A PostgreSQL identity does not (a
 * harvest killed mid-commit, on any machine, would leave a gap), so there
 * the id is the next one, read inside the group commit's transaction,
 * which holds the writers' lock: two harvesters never take one id. */
#define INSERT_MESSAGE_COLUMNS                                                            \
	"account_id, uidl, sha256, size, received_at, blob, bucket_id, wrapped_key,"      \
	" leaf_index, retention_class, expires_at, policy_version, pack_id, pack_offset," \
	" pack_length"

static int stmts_prepare(struct stmts *st, struct db *db, struct pv_error *err)
{
	static const char sqlite_sql[] =
		"INSERT INTO messages (" INSERT_MESSAGE_COLUMNS ")"
		" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id";
	static const char pg_sql[] =
		"INSERT INTO messages (id, " INSERT_MESSAGE_COLUMNS ")"
		" VALUES ((SELECT coalesce(max(id), 0) + 1 FROM messages),"
		" ?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id";
	int r;
	if ((r = db_prepare(db, db_kind(db) == DB_POSTGRES ? pg_sql : sqlite_sql, &st->insert,
			    err)) < 0 ||
	    (r = ledger_stmts_new(db, &st->ledger, err)) < 0)
		stmts_free(st);
	return r;
}

/* Every parameter is bound each time: a statement keeps the last row's. */
static int insert_message(struct db_stmt *st, const struct account *a, const struct row *w,
			  uint64_t leaf_index, int64_t *id_r, struct pv_error *err)
{
	db_reset(st);
	db_bind_int64(st, 1, a->id);
	if (strncmp(w->msg.uidl, "sha256:", 7) != 0)
		db_bind_text(st, 2, w->msg.uidl, -1);
	else
		db_bind_null(st, 2);
	db_bind_blob(st, 3, w->msg.sha256, 32);
	db_bind_int64(st, 4, (int64_t)w->msg.size);
	db_bind_int64(st, 5, w->received_at);
	db_bind_text(st, 6, w->loc.id, -1);
	db_bind_int64(st, 7, w->bucket_id);
	db_bind_blob(st, 8, w->wrapped, sizeof(w->wrapped));
	db_bind_int64(st, 9, (int64_t)leaf_index);
	db_bind_text(st, 10, w->ret.class_name, -1);
	if (!w->ret.forever)
		db_bind_int64(st, 11, w->ret.expires_at);
	else
		db_bind_null(st, 11);
	db_bind_int64(st, 12, w->ret.policy_version);
	if (w->loc.pack_id != 0) {
		db_bind_int64(st, 13, w->loc.pack_id);
		db_bind_int64(st, 14, (int64_t)w->loc.offset);
		db_bind_int64(st, 15, (int64_t)w->loc.length);
	} else { /* a PVB1 blob file */
		db_bind_null(st, 13);
		db_bind_null(st, 14);
		db_bind_null(st, 15);
	}
	int r = db_step(st, err);
	if (r == DB_ROW)
		*id_r = db_column_int64(st, 0);
	else if (r == DB_DONE)
		r = pv_fail(err, PV_ERR, "no id for the new message");
	db_reset(st);
	return r < 0 ? pv_error_prefix(err, "catalog") : PV_OK;
}

/* Wraps every row's key under its bucket's key, one key lookup per bucket,
 * and wipes the keys. */
static int wrap_keys(struct keyring *kr, struct row *w, size_t n, struct pv_error *err)
{
	struct keyring_wrap_item *items = calloc(n ? n : 1, sizeof(*items));
	bool *done = calloc(n ? n : 1, sizeof(*done));
	int r = items && done ? PV_OK : pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		size_t k = 0;
		if (done[i])
			continue;
		for (size_t j = i; j < n; j++)
			if (!done[j] && w[j].bucket_id == w[i].bucket_id) {
				items[k++] = (struct keyring_wrap_item){w[j].loc.id, w[j].key, w[j].salt,
									w[j].wrapped};
				done[j] = true;
			}
		r = keyring_wrap_many(kr, w[i].bucket_id, items, k, err);
	}
	for (size_t i = 0; i < n; i++) {
		sodium_memzero(w[i].key, sizeof(w[i].key));
		sodium_memzero(w[i].salt, sizeof(w[i].salt));
	}
	free(items);
	free(done);
	return r;
}

/* After a failed COMMIT: may the transaction have committed? Not while
 * it is still open. SQLite: disk full or busy means the commit frame
 * never reached the WAL; any other failure (an fsync error) may have
 * committed it. PostgreSQL: a failure there may be a lost connection
 * after the server committed, so yes. */
static bool commit_maybe_done(struct db *db)
{
	sqlite3 *h = db_sqlite(db);
	if (db_in_transaction(db))
		return false;
	if (h != NULL) {
		int rc = sqlite3_extended_errcode(h) & 0xff;
		return rc != SQLITE_FULL && rc != SQLITE_BUSY;
	}
	return true;
}

/* The group commit proper (ARCHITECTURE.md §3 (group commit)): keys wrapped, then one
 * transaction. *maybe_committed_r turns true once COMMIT was attempted:
 * after a failure from there on, the batch may be in the catalog. */
static int commit_rows(struct archive *ar, const struct account *a, struct stmts *st,
		       struct row *w, size_t n, ingest_extra_fn *extra, void *extra_ctx,
		       bool *maybe_committed_r, struct pv_error *err)
{
	struct pv_buf *leaves = calloc(n ? n : 1, sizeof(*leaves));
	struct tlog_entry *entries = calloc(n ? n : 1, sizeof(*entries));
	struct ingest_msg *msgs = calloc(n ? n : 1, sizeof(*msgs));
	char mailbox[33];
	uint64_t size, first;
	int r = PV_OK;

	*maybe_committed_r = false;
	if (leaves == NULL || entries == NULL || msgs == NULL) {
		free(leaves);
		free(entries);
		free(msgs);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	keyring_mailbox_id(ar->kr, a->name, mailbox);
	/* Bucket keys are durable in the keyring before any row refers to them. */
	if ((r = wrap_keys(ar->kr, w, n, err)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		pv_buf_init(&leaves[i], LEAF_MAX);
	if ((r = catalog_begin(ar->cat, err)) < 0)
		goto out;
	if ((r = tlog_size(ar->archive_log, &size, err)) < 0)
		goto rollback;
	for (size_t i = 0; i < n; i++) {
		struct archive_leaf leaf = {.kind = LEAF_MESSAGE, .time = w[i].received_at,
					    .size = w[i].msg.size};
		int64_t id = 0;
		if ((r = insert_message(st->insert, a, &w[i], size + i, &id, err)) < 0 ||
		    (r = ledger_stmts_insert(st->ledger, a->id, w[i].msg.uidl, w[i].msg.sha256, id,
					     w[i].received_at, err)) < 0)
			goto rollback;
		w[i].msg.message_id = id;
		msgs[i] = w[i].msg;
		leaf.seq = id;
		memcpy(leaf.mailbox, mailbox, sizeof(mailbox));
		snprintf(leaf.class_name, sizeof(leaf.class_name), "%s", w[i].ret.class_name);
		memcpy(leaf.ct, w[i].loc.id, sizeof(leaf.ct));
		pv_hex(w[i].commit, 32, leaf.commit);
		if ((r = archive_leaf_format(&leaf, &leaves[i], err)) < 0)
			goto rollback;
		entries[i].data = leaves[i].data;
		entries[i].len = leaves[i].len;
	}
	if (n > 0) {
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
		if ((r = archive_auditf(ar, "system", AUDIT_HARVEST_BATCH, "ok", NULL, err,
					"account=%s messages=%lld-%lld count=%zu archive-size=%llu",
					a->name, (long long)w[0].msg.message_id,
					(long long)w[n - 1].msg.message_id, n,
					(unsigned long long)(size + n))) < 0)
			goto rollback;
	}
	if (extra != NULL && (r = extra(extra_ctx, msgs, n, err)) < 0)
		goto rollback;
	*maybe_committed_r = true;
	if ((r = db_exec(ar->cat->conn, "COMMIT", err)) < 0) {
		if (!commit_maybe_done(ar->cat->conn))
			*maybe_committed_r = false;
		catalog_rollback(ar->cat);
	}
	goto out;
rollback:
	catalog_rollback(ar->cat);
out:
	for (size_t i = 0; i < n; i++)
		pv_buf_free(&leaves[i]);
	free(leaves);
	free(entries);
	free(msgs);
	return r;
}

/* ---- a harvest session ---- */

struct ingest {
	struct archive *ar;
	const struct account *a;
	struct record_sealer *seal;
	struct pack_set *packs;
	struct stmts st;
	struct decider dec;
	/* The message being received. */
	unsigned char key[BLOB_KEY_BYTES];
	struct ingest_hasher hash; /* for ingest_write */
	uint64_t size;
	struct pv_buf head; /* its first PV_INGEST_READBACK_MAX bytes, when kept */
	bool keep_head;     /* the policy of its batch reads content */
	/* Ended, not committed. */
	struct row *rows;
	size_t n, cap;
	/* What the last group commit committed. */
	struct ingest_msg *done;
	size_t n_done, cap_done;
	/* The latest time the audit log has recorded, when the session began
	 * (ingest_now). */
	int64_t time_floor;
};

int ingest_new(struct archive *ar, const struct account *a, struct ingest **in_r,
	       struct pv_error *err)
{
	struct ingest *in = calloc(1, sizeof(*in));
	int r;
	if (in == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	in->ar = ar;
	in->a = a;
	pv_buf_init(&in->head, PV_INGEST_READBACK_MAX);
	if ((r = record_sealer_new(ar->dir, &in->seal, err)) < 0 ||
	    (r = pack_set_new(ar->dir, ar->cat->conn, &in->packs, err)) < 0 ||
	    (r = stmts_prepare(&in->st, ar->cat->conn, err)) < 0) {
		ingest_free(&in);
		return r;
	}
	if (packstore_remote(ar->packs))
		pack_set_seal_at_end(in->packs);
	/* ingest_now's floor. */
	if ((r = db_query_int(ar->cat->conn, "SELECT coalesce(max(time), 0) FROM audit_event",
			      &in->time_floor, err)) < 0) {
		ingest_free(&in);
		return r;
	}
	*in_r = in;
	return PV_OK;
}

static void drop_rows(struct ingest *in)
{
	for (size_t i = 0; i < in->n; i++)
		row_clear(&in->rows[i]);
	in->n = 0;
}

void ingest_settle_packs(struct archive *ar)
{
	/* The packs sealed just now go to the pack store (store/packstore.h):
	 * after the session's DELEs and QUIT, which needed only their local,
	 * durable copy; a pack leaves the data directory only once the store
	 * confirmed it. One that fails stays, for the next session. */
	/* A pack left empty by a session killed before its first commit. */
	struct pv_error pe;
	int64_t emptied;
	if (pack_remove_empty(ar->packs, ar->cat->conn, &emptied, &pe) < 0)
		pv_log(PV_LOG_WARN, "pack.kept", "%s (tried again at the next harvest)", pe.msg);
	if (packstore_remote(ar->packs)) {
		struct pv_error e;
		int64_t stored, failed;
		if (packstore_flush(ar->packs, &stored, &failed, &e) < 0)
			pv_log(PV_LOG_WARN, "store.upload", "%s (retried at the next harvest)", e.msg);
		/* and the local file of one a killed session had stored */
		else if (packstore_drop_stored_files(ar->packs, &stored, &e) < 0)
			pv_log(PV_LOG_WARN, "store.upload", "%s (tried again at the next harvest)", e.msg);
	}
}

void ingest_free(struct ingest **inp)
{
	struct ingest *in = *inp;
	if (in == NULL)
		return;
	ingest_abort(in);
	drop_rows(in);
	pack_set_free(&in->packs); /* cuts off what was not committed */
	record_sealer_free(&in->seal);
	stmts_free(&in->st);
	decider_free(&in->dec);
	pv_buf_free_secret(&in->head);
	free(in->rows);
	free(in->done);
	free(in);
	*inp = NULL;
}

int ingest_hash_begin(struct ingest_hasher *h, struct pv_error *err)
{
	pv_random_bytes(h->salt, sizeof(h->salt));
	h->size = 0;
	return pv_sha256_init(&h->sha, err);
}

void ingest_hash_update(struct ingest_hasher *h, const void *data, size_t len)
{
	pv_sha256_update(&h->sha, data, len);
	h->size += len;
}

void ingest_hash_end(struct ingest_hasher *h, struct ingest_digest *d)
{
	pv_sha256_final(&h->sha, d->sha256);
	leaf_commit_of_sha256(h->salt, d->sha256, d->commit);
	memcpy(d->salt, h->salt, sizeof(d->salt));
	d->size = h->size;
	ingest_hash_abort(h);
}

void ingest_hash_abort(struct ingest_hasher *h)
{
	pv_sha256_abort(&h->sha);
	sodium_memzero(h->salt, sizeof(h->salt));
	h->size = 0;
}

int64_t ingest_now(const struct ingest *in)
{
	int64_t now = pv_clock_now();
	return now > in->time_floor ? now : in->time_floor;
}

int ingest_begin(struct ingest *in, struct pv_error *err)
{
	int r;
	ingest_abort(in);
	/* The policy is looked up when a batch's first message begins (and
	 * kept until it is decided, a commit between notwithstanding): it
	 * says whether the head must be kept for its facts. */
	if ((r = decider_refresh(&in->dec, in->ar->cat->conn, err)) < 0)
		return r;
	in->keep_head = decider_reads_content(&in->dec);
	pv_random_bytes(in->key, sizeof(in->key));
	if ((r = ingest_hash_begin(&in->hash, err)) < 0)
		return r;
	return record_begin(in->seal, in->key, err);
}

int ingest_seal(struct ingest *in, const void *data, size_t len, struct pv_error *err)
{
	in->size += len;
	size_t room = in->keep_head ? in->head.max - in->head.len : 0;
	if (room > 0 && pv_buf_append(&in->head, data, len < room ? len : room, err) < 0)
		return PV_ERR;
	return record_write(in->seal, data, len, err);
}

int ingest_write(struct ingest *in, const void *data, size_t len, struct pv_error *err)
{
	ingest_hash_update(&in->hash, data, len);
	return ingest_seal(in, data, len, err);
}

void ingest_abort(struct ingest *in)
{
	ingest_hash_abort(&in->hash);
	record_abort(in->seal);
	sodium_memzero(in->key, sizeof(in->key));
	if (in->head.data != NULL)
		sodium_memzero(in->head.data, in->head.len);
	pv_buf_reset(&in->head);
	in->size = 0;
}

static bool pending_has(const struct ingest *in, const char *uidl, const unsigned char sha[32])
{
	for (size_t i = 0; i < in->n; i++)
		if (strcmp(in->rows[i].msg.uidl, uidl) == 0 &&
		    memcmp(in->rows[i].msg.sha256, sha, 32) == 0)
			return true;
	return false;
}

int ingest_end(struct ingest *in, uint32_t msgnum, const char *uidl, int64_t received_at,
	       bool *archived_before_r, struct ingest_msg *msg_r, struct pv_error *err)
{
	struct ingest_digest d;
	ingest_hash_end(&in->hash, &d);
	return ingest_end_hashed(in, msgnum, uidl, received_at, &d, archived_before_r, msg_r, err);
}

int ingest_end_hashed(struct ingest *in, uint32_t msgnum, const char *uidl, int64_t received_at,
		      struct ingest_digest *d, bool *archived_before_r, struct ingest_msg *msg_r,
		      struct pv_error *err)
{
	struct row w;
	char state[16];
	uint64_t len;
	int64_t id;
	int r;

	memset(&w, 0, sizeof(w));
	*archived_before_r = false;
	if (d->size != in->size) {
		r = pv_fail(err, PV_ERR, "ingest: %llu bytes hashed, %llu sealed",
			    (unsigned long long)d->size, (unsigned long long)in->size);
		goto fail;
	}
	if ((r = record_end(in->seal, w.loc.id, &len, err)) < 0)
		goto fail;
	memcpy(w.msg.sha256, d->sha256, sizeof(w.msg.sha256));
	memcpy(w.commit, d->commit, sizeof(w.commit));
	w.msg.msgnum = msgnum;
	w.msg.size = in->size;
	w.received_at = received_at;
	if (uidl != NULL) {
		snprintf(w.msg.uidl, sizeof(w.msg.uidl), "%s", uidl);
	} else {
		memcpy(w.msg.uidl, "sha256:", 7);
		pv_hex(w.msg.sha256, 32, w.msg.uidl + 7);
	}
	*msg_r = w.msg;
	/* Already archived (same account, UIDL and content)? Then it is not
	 * archived twice: it is a leftover of an earlier session to delete. */
	r = ledger_stmts_find(in->st.ledger, in->a->id, w.msg.uidl, w.msg.sha256, &id, state, err);
	if (r == PV_OK || (r == PV_ENOTFOUND && pending_has(in, w.msg.uidl, w.msg.sha256))) {
		*archived_before_r = true;
		r = PV_OK;
		goto fail;
	}
	if (r != PV_ENOTFOUND)
		goto fail;
	memcpy(w.key, in->key, sizeof(w.key));
	memcpy(w.salt, d->salt, sizeof(w.salt));
	if ((r = decide(&in->dec, in->ar, in->a,
			!in->keep_head ? NULL
			: in->head.data ? in->head.data : (const unsigned char *)"",
			in->head.len, &w, err)) < 0 ||
	    (r = pack_set_append(in->packs, w.bucket_id, in->seal, &w.loc, err)) < 0) {
		row_clear(&w);
		goto fail;
	}
	ingest_abort(in); /* wipes what is left of this message */
	sodium_memzero(d->salt, sizeof(d->salt));
	if (in->n == in->cap) {
		size_t cap = in->cap ? 2 * in->cap : 64;
		struct row *v = realloc(in->rows, cap * sizeof(*v));
		if (v == NULL) {
			row_clear(&w);
			return pv_fail(err, PV_ERR, "out of memory");
		}
		in->rows = v;
		in->cap = cap;
	}
	in->rows[in->n++] = w;
	sodium_memzero(&w, sizeof(w));
	return PV_OK;
fail:
	ingest_abort(in);
	sodium_memzero(d->salt, sizeof(d->salt));
	return r;
}

size_t ingest_pending(const struct ingest *in)
{
	return in->n;
}

struct ledger_stmts *ingest_ledger(struct ingest *in)
{
	return in->st.ledger;
}

void ingest_discard(struct ingest *in)
{
	ingest_abort(in);
	drop_rows(in);
	(void)pack_set_rollback(in->packs, NULL);
}

int ingest_group_commit(struct ingest *in, ingest_extra_fn *extra, void *extra_ctx,
			const struct ingest_msg **done_r, size_t *n_done_r, struct pv_error *err)
{
	bool maybe_committed;
	int r;

	in->n_done = 0;
	if (done_r != NULL)
		*done_r = in->done;
	if (n_done_r != NULL)
		*n_done_r = 0;
	if (in->n == 0 && extra == NULL)
		return PV_OK;
	if (in->cap_done < in->n) {
		struct ingest_msg *v = realloc(in->done, in->n * sizeof(*v));
		if (v == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		in->done = v;
		in->cap_done = in->n;
	}
	/* 1. The records durable (one fdatasync per pack written to). */
	if ((r = pack_set_sync(in->packs, err)) < 0) {
		pack_set_abandon(in->packs); /* fsync failed: trust nothing of it */
		drop_rows(in);
		return r;
	}
	/* 2. Keys wrapped, one transaction. */
	r = commit_rows(in->ar, in->a, &in->st, in->rows, in->n, extra, extra_ctx, &maybe_committed,
			err);
	decider_batch_done(&in->dec);
	if (r == PV_OK) {
		pack_set_committed(in->packs);
		for (size_t i = 0; i < in->n; i++)
			in->done[i] = in->rows[i].msg;
		in->n_done = in->n;
	} else if (maybe_committed) {
		pack_set_abandon(in->packs);
	} else {
		(void)pack_set_rollback(in->packs, NULL);
	}
	drop_rows(in);
	/* Committed; signed before the caller may DELE anything (invariant 1).
	 * A refusal leaves the batch archived and upstream: the next session
	 * deletes it without archiving it twice. */
	if (r == PV_OK && (r = archive_seal(in->ar, err)) < 0)
		in->n_done = 0;
	if (done_r != NULL)
		*done_r = in->done;
	if (n_done_r != NULL)
		*n_done_r = in->n_done;
	return r;
}

/* ---- PVB1 blob files written already ---- */

int ingest_commit(struct archive *ar, const struct account *a, struct ingest_item *items, size_t n,
		  struct pv_error *err)
{
	struct row *w = calloc(n ? n : 1, sizeof(*w));
	struct decider dec;
	struct stmts st = {NULL, NULL};
	struct pv_buf back;
	bool maybe_committed;
	int r = PV_OK;

	if (w == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	memset(&dec, 0, sizeof(dec));
	pv_buf_init(&back, PV_INGEST_READBACK_MAX);
	/* 1. Blob files and their directory entries durable. */
	if ((r = blob_sync(ar->dir, err)) < 0)
		goto out;
	/* 2. Retention and buckets, from the kept plaintext or read back. */
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		const struct ingest_item *it = &items[i];
		const unsigned char *raw = it->plain;
		size_t len = it->plain_len;
		memcpy(w[i].loc.id, it->blob.id, sizeof(w[i].loc.id));
		memcpy(w[i].msg.uidl, it->uidl, sizeof(w[i].msg.uidl));
		memcpy(w[i].msg.sha256, it->blob.sha256, 32);
		memcpy(w[i].commit, it->blob.commit, sizeof(w[i].commit));
		memcpy(w[i].key, it->blob.key, sizeof(w[i].key));
		memcpy(w[i].salt, it->blob.salt, sizeof(w[i].salt));
		w[i].msg.msgnum = it->msgnum;
		w[i].msg.size = it->blob.size;
		w[i].received_at = it->received_at;
		if (raw == NULL) {
			pv_buf_reset(&back);
			if ((r = blob_read(ar->dir, it->blob.id, it->blob.key, it->blob.sha256,
					   blob_sink_prefix, &back, err)) < 0)
				break;
			raw = back.data ? back.data : (const unsigned char *)"";
			len = back.len;
		}
		if ((r = decider_refresh(&dec, ar->cat->conn, err)) == PV_OK)
			r = decide(&dec, ar, a, raw, len, &w[i], err);
	}
	/* 3. One transaction. */
	if (r == PV_OK && (r = stmts_prepare(&st, ar->cat->conn, err)) == PV_OK &&
	    (r = commit_rows(ar, a, &st, w, n, NULL, NULL, &maybe_committed, err)) == PV_OK &&
	    (r = archive_seal(ar, err)) == PV_OK)
		for (size_t i = 0; i < n; i++)
			items[i].message_id = w[i].msg.message_id;
out:
	stmts_free(&st);
	decider_free(&dec);
	for (size_t i = 0; i < n; i++) {
		row_clear(&w[i]);
		sodium_memzero(items[i].blob.key, sizeof(items[i].blob.key));
		sodium_memzero(items[i].blob.salt, sizeof(items[i].blob.salt));
	}
	pv_buf_free_secret(&back);
	free(w);
	return r;
}
