#ifndef PV_INGEST_H
#define PV_INGEST_H

/* Archiving what one harvest session receives (ARCHITECTURE.md §3).
 *
 * Per message, as it arrives: ingest_begin, ingest_write piece by piece,
 * then ingest_end. The bytes are hashed (SHA-256, and the salted
 * commitment of the archive leaf) and sealed under a fresh key
 * (store/record.h) on the way; once the message is whole it is looked up
 * in the ledger (archived before?), given its retention under the policy
 * in force (from the policy's facts of its first bytes, still in memory:
 * nothing is read back, no body text is extracted) and appended to its
 * bucket's pack (store/pack.h). Nothing is durable yet, and nothing is
 * indexed: the indexer (indexer.h) does that after the commit, off the
 * path to DELE.
 *
 * Group commit, ingest_commit, for every message ended since the last one:
 * the packs synced (one fdatasync each), the message keys wrapped under
 * their bucket keys, then ONE SQLite transaction holding the catalog rows,
 * the ledger rows (committed), the archive-log leaves, a signed checkpoint,
 * the harvest-batch audit entry and whatever the caller adds (the
 * upstream-delete entry). Only after it returns 0 may those messages be
 * deleted upstream. If it fails, nothing of the batch is committed and its
 * records are cut off the packs again.
 *
 * One struct ingest per session and thread; it owns the session's packs
 * (and their locks) until ingest_free. */

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/sha256.h"
#include "archiver/lib/error.h"
#include "archiver/store/accounts.h"
#include "archiver/store/datadir.h"
#include "archiver/store/blob.h"
#include "archiver/store/ledger.h"

struct ingest;

/* ---- a message's digests ----
 * SHA-256, computed as the bytes arrive by whichever thread reads them
 * (harvest/pipeline.c: the network reader, while the sealer thread
 * seals), and from it the salted commitment of its v3 archive leaf
 * (leaf_commit.h, keyed by a fresh random salt). */
struct ingest_hasher {
	struct pv_sha256 sha;
	unsigned char salt[BLOB_SALT_BYTES];
	uint64_t size;
};
struct ingest_digest {
	unsigned char sha256[BLOB_HASH_BYTES], commit[BLOB_HASH_BYTES];
	unsigned char salt[BLOB_SALT_BYTES]; /* secret: wiped by ingest_end_hashed */
	uint64_t size;
};
int ingest_hash_begin(struct ingest_hasher *h, struct pv_error *err);
void ingest_hash_update(struct ingest_hasher *h, const void *data, size_t len);
void ingest_hash_end(struct ingest_hasher *h, struct ingest_digest *d_r);
void ingest_hash_abort(struct ingest_hasher *h);

int ingest_new(struct archive *ar, const struct account *a, struct ingest **in_r,
	       struct pv_error *err);
/* Drops what is not committed (records cut off the packs), frees. */
void ingest_free(struct ingest **in);
/* The packs of this data directory after a session (after ingest_free,
 * which seals the session's own): an empty one a killed session left is
 * removed; with an object store, an unsealed one nobody writes (a killed
 * session's) is sealed, every sealed one uploaded and the local files of
 * stored ones dropped. Every session's end calls it, also one that
 * ingested nothing (its lease refused, an empty mailbox), so that with
 * several harvesters on one archive what this machine harvested reaches
 * the store for the others to read. Failures are logged and tried again
 * next time. */
void ingest_settle_packs(struct archive *ar);

/* ---- one message ---- */

int ingest_begin(struct ingest *in, struct pv_error *err);
/* Hashes and seals. */
int ingest_write(struct ingest *in, const void *data, size_t len, struct pv_error *err);
/* Only seals: the caller hashes (ingest_hash_*) and ends with
 * ingest_end_hashed. */
int ingest_seal(struct ingest *in, const void *data, size_t len, struct pv_error *err);
/* Forgets the message in progress (cut short, over the cap, ...). */
void ingest_abort(struct ingest *in);

struct ingest_msg {
	uint32_t msgnum;                  /* the caller's, untouched */
	char uidl[LEDGER_UIDL_MAX + 1];   /* ledger key: the UIDL, or "sha256:<hex>" */
	unsigned char sha256[32];         /* of the message */
	uint64_t size;                    /* bytes */
	int64_t message_id;               /* archive id, once committed */
};

/* Ends the message. uidl: the server's, or NULL when it has none. When the
 * same account, UIDL and content is archived already (or earlier in this
 * batch), nothing is kept and *archived_before_r is true: the caller
 * deletes it upstream without archiving it twice. msg_r gets what the
 * message is. */
/* The time a message received now is received at: the clock, but never
 * before the latest time the audit log held when the session began (a
 * clock that stepped back years would date mail, and dispose of it, years
 * early; one that was ahead and came back errs the safe way). */
int64_t ingest_now(const struct ingest *in);

int ingest_end(struct ingest *in, uint32_t msgnum, const char *uidl, int64_t received_at,
	       bool *archived_before_r, struct ingest_msg *msg_r, struct pv_error *err);
/* The same with the digests of what went through ingest_seal (d->salt is
 * wiped). */
int ingest_end_hashed(struct ingest *in, uint32_t msgnum, const char *uidl, int64_t received_at,
		      struct ingest_digest *d, bool *archived_before_r, struct ingest_msg *msg_r,
		      struct pv_error *err);

/* Messages ended and not yet committed. */
size_t ingest_pending(const struct ingest *in);
/* Forgets them (and the message in progress): their records are cut off
 * the packs again. */
void ingest_discard(struct ingest *in);

/* The session's prepared ledger statements, for the caller's part of a
 * group commit (ledger states after DELE). */
struct ledger_stmts *ingest_ledger(struct ingest *in);

/* ---- group commit ---- */

/* The caller's part of the transaction, run after the batch's rows and
 * before COMMIT (may be NULL); batch: the messages being committed, ids
 * filled. */
typedef int ingest_extra_fn(void *ctx, const struct ingest_msg *batch, size_t n,
			    struct pv_error *err);

/* Commits every pending message (and extra, even when none is pending).
 * *done_r (may be NULL) points at the committed messages, message ids
 * filled, valid until the next call; *n_done_r their count. */
int ingest_group_commit(struct ingest *in, ingest_extra_fn *extra, void *extra_ctx,
			const struct ingest_msg **done_r, size_t *n_done_r, struct pv_error *err);

/* ---- messages whose PVB1 blob files are written already ----
 * (archives from before packs, imports, tests): the same group commit for
 * them, blob files synced first. Retention is decided from the plaintext
 * when the caller kept it, else from the first PV_INGEST_READBACK_MAX bytes
 * read back from the blob; the indexer (indexer.h) indexes them after. */
struct ingest_item {
	uint32_t msgnum;                  /* the caller's, untouched */
	char uidl[LEDGER_UIDL_MAX + 1];   /* ledger key: UIDL or "sha256:<hex>" */
	struct blob_info blob;            /* key and salt are wiped by ingest_commit */
	int64_t received_at;
	/* The plaintext when the caller kept it (small messages), else NULL:
	 * ingest then reads the blob back. Borrowed for the call. */
	const unsigned char *plain;
	size_t plain_len;
	int64_t message_id;               /* out: the archive id */
};

int ingest_commit(struct archive *ar, const struct account *a, struct ingest_item *items, size_t n,
		  struct pv_error *err);

#endif
