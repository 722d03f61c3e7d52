#ifndef PV_MESSAGE_H
#define PV_MESSAGE_H

/* Archived messages: the catalog row, and reading the exact bytes back
 * (key unwrapped from its bucket, blob authenticated, plaintext hash checked
 * against the catalog before a byte is used — ARCHITECTURE.md §1.2). */

#include <stdint.h>

#include "archiver/lib/db.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"
#include "archiver/store/blob.h"
#include "archiver/store/keyring.h"

struct stored_message {
	int64_t id;
	int64_t account_id;
	char account[65];
	char uidl[81];
	unsigned char sha256[32];
	uint64_t size;
	int64_t received_at;
	char blob[BLOB_ID_LEN + 1]; /* "" once disposed */
	struct blob_loc loc;        /* where the content is (loc.id = blob) */
	int64_t bucket_id;
	unsigned char wrapped[KEYRING_WRAPPED_BYTES];
	size_t wrapped_len;         /* 0 once disposed */
	int64_t leaf_index;
	char class_name[128];       /* retention class now (a new policy may change it) */
	char archived_class[128];   /* the class written in its archive leaf */
	int64_t expires_at;         /* -1: retained forever */
	int64_t policy_version;
	int64_t disposed_at;        /* 0: not disposed */
};

/* PV_ENOTFOUND when there is no message with this id. */
int message_load(struct db *db, int64_t id, struct stored_message *m_r, struct pv_error *err);

/* message_load for many ids, its statement prepared once (verify and
 * export load every message). */
struct message_reader;
int message_reader_open(struct db *db, struct message_reader **mr_r, struct pv_error *err);
int message_reader_load(struct message_reader *mr, int64_t id, struct stored_message *m_r,
			struct pv_error *err);
void message_reader_close(struct message_reader **mr);
/* The size in bytes of message id as archived; PV_ENOTFOUND when there
 * is no such message. */
int message_size(struct db *db, int64_t id, uint64_t *size_r, struct pv_error *err);

/* Streams the exact stored bytes to sink. PV_ENOTFOUND (with the disposal
 * date in the message) for disposed mail; PV_EINTEGRITY when anything fails
 * to verify. */
int message_read(struct archive *ar, const struct stored_message *m, blob_sink_fn sink, void *ctx,
		 struct pv_error *err) PV_WARN_UNUSED;

/* message_read into b (its first b->max bytes), which the caller throws
 * away on an error (it is emptied): a pack's record is not hashed against
 * its id first, since every chunk authenticates under the message's key
 * and the message must hash to the catalog's SHA-256 (blob_read_into_at,
 * store/record.h record_read_into). The indexer reads so. */
struct pv_buf;
int message_read_into(struct archive *ar, const struct stored_message *m, struct pv_buf *b,
		      struct pv_error *err) PV_WARN_UNUSED;

/* message_read in steps, for reading on another thread: message_unwrap
 * reads the keyring and message_open the pack store (databases and the
 * network: the caller's thread; store/blob.h blob_open_at), then
 * message_read_key touches neither, so it may run on another thread.
 * The caller wipes key and salt and closes o (blob_opened_close). */
int message_unwrap(struct archive *ar, const struct stored_message *m,
		   unsigned char key_r[BLOB_KEY_BYTES], unsigned char salt_r[BLOB_SALT_BYTES],
		   struct pv_error *err) PV_WARN_UNUSED;
int message_open(struct archive *ar, const struct stored_message *m, struct blob_opened *o_r,
		 struct pv_error *err) PV_WARN_UNUSED;
int message_read_key(const char *data_dir, const struct blob_opened *o,
		     const struct stored_message *m, const unsigned char key[BLOB_KEY_BYTES],
		     blob_sink_fn sink, void *ctx, struct pv_error *err) PV_WARN_UNUSED;

/* The salt of the commitment to m's plaintext in its archive leaf (what a
 * tlog-proof's extra carries so the leaf can be checked against the bytes).
 * The message key is unwrapped to get it and wiped at once. The same
 * errors as message_read, without reading the blob. */
int message_commit_salt(struct archive *ar, const struct stored_message *m,
			unsigned char salt_r[BLOB_SALT_BYTES], struct pv_error *err) PV_WARN_UNUSED;

#endif
