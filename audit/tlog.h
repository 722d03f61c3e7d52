#ifndef PV_TLOG_H
#define PV_TLOG_H

/* An append-only RFC 6962 Merkle log stored in the caller's database
 * (archiver/lib/db.h: SQLite or PostgreSQL, the catalog's connection). Several logs ("archive", "audit") share one database; each has
 * a name (a short identifier) and an origin (the checkpoint origin line and
 * signing-key name, e.g. "mx1.example/popvault/audit").
 *
 * Storage (tables prefixed tlog_, tlog_schema_sql):
 *   tlog_log         one row per log: name, origin, size
 *   tlog_leaf        the entry bytes, one row per leaf
 *   tlog_tile        C2SP tlog-tiles hash tiles: tile (L, N) holds up to 256
 *                    hashes of tree level 8L; partial tiles grow in place.
 *                    Level-0 tiles are the leaf hashes.
 *   tlog_checkpoint  every signed checkpoint, numbered 0, 1, 2... per log
 *   tlog_epoch       signing-key epochs: vkey, rotation note, first checkpoint
 * Nothing here trusts itself: tlog_verify recomputes every hash from the
 * entry bytes.
 *
 * Transactions: every writing call works inside the caller's open
 * transaction (as a SAVEPOINT, rolled back on error) or, when the
 * connection is in autocommit mode, in its own db_begin ... db_commit (the
 * one writer's lock on both engines).
 * So a harvester can write catalog rows, leaves and the signed checkpoint
 * and commit them once. Reads see the caller's uncommitted writes.
 *
 * A handle holds prepared statements on db: free it before closing db.
 * It caches nothing between calls, so a rolled-back transaction never
 * leaves it stale. Not thread-safe (one handle per thread). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/db.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "audit/merkle.h"
#include "audit/note.h"

struct tlog;

struct tlog_entry {
	const void *data;
	size_t len; /* 0 .. PV_TLOG_ENTRY_MAX */
};

/* The DDL of the tlog_ tables (CREATE ... IF NOT EXISTS), SQLite's
 * dialect. A data directory gets them from catalog migration 5
 * (archiver/store/migrations.h), which runs this text: it is frozen, a
 * change is a new migration; PostgreSQL's twin is migrations_pg.c's step
 * 5. Every function below needs the tables. */
extern const char tlog_schema_sql[];

/* Registers a new, empty log. name: [a-z0-9_-]{1,PV_TLOG_NAME_MAX};
 * origin: a valid note key name. PV_ERR if the name is taken. */
int tlog_create(struct db *db, const char *name, const char *origin, struct pv_error *err);

/* Opens an existing log; PV_ENOTFOUND if there is none by that name.
 * Free with tlog_free (before db is closed). */
int tlog_open(struct db *db, const char *name, struct tlog **t_r, struct pv_error *err);
void tlog_free(struct tlog **t);

const char *tlog_name(const struct tlog *t);
const char *tlog_origin(const struct tlog *t);
struct db *tlog_db(const struct tlog *t);

/* The recorded number of leaves. */
int tlog_size(struct tlog *t, uint64_t *size_r, struct pv_error *err);

/* Appends n entries as leaves size, size+1, ...; *first_r (may be NULL)
 * gets the index of the first. All or nothing. */
int tlog_append(struct tlog *t, const struct tlog_entry *entries, size_t n, uint64_t *first_r,
		struct pv_error *err);

/* Root of the tree of the first `size` leaves (size <= tlog_size). */
int tlog_root(struct tlog *t, uint64_t size, merkle_hash root_r, struct pv_error *err);
/* tlog_root, remembered for the last size asked until something is
 * appended through t (an export proves every message against one
 * checkpoint: the root is computed once). */
int tlog_root_cached(struct tlog *t, uint64_t size, merkle_hash root_r, struct pv_error *err);
/* MTH(D[lo:hi]) from the stored hashes (hi <= size; lo a multiple of the
 * largest power of two not above hi - lo: a complete subtree, or a range
 * the RFC 9162 recursion visits). For compact-range proofs in exports. */
int tlog_range_hash(struct tlog *t, uint64_t lo, uint64_t hi, merkle_hash out,
		    struct pv_error *err);
/* Stored leaf hash, and entry bytes (appended to out; out's max should be
 * at least PV_TLOG_ENTRY_MAX). PV_ENOTFOUND past the end. */
int tlog_leaf_hash(struct tlog *t, uint64_t index, merkle_hash hash_r, struct pv_error *err);
int tlog_leaf(struct tlog *t, uint64_t index, struct pv_buf *out, struct pv_error *err);

/* Proofs from the stored hashes: inclusion of leaf `index` in the tree of
 * `size` leaves, and consistency of size1 with size2 (0 < size1 <= size2).
 * proof_r must hold PV_PROOF_HASHES_MAX hashes. */
int tlog_inclusion_proof(struct tlog *t, uint64_t index, uint64_t size, merkle_hash *proof_r,
			 size_t *len_r, struct pv_error *err);
int tlog_consistency_proof(struct tlog *t, uint64_t size1, uint64_t size2, merkle_hash *proof_r,
			   size_t *len_r, struct pv_error *err);
/* While on, tlog_inclusion_proof keeps the hashes of the complete
 * subtrees it computes (a fixed number of them, about 48 KB) and the tiles
 * it read, from one proof to the next: an export proves thousands of
 * neighbouring leaves against one checkpoint, and their proofs share all
 * but a few hashes. A complete subtree of an append-only log never
 * changes, but a rolled-back append would leave hashes of leaves that are
 * gone: turn it on only while this process appends nothing to t (an
 * append through t empties it). Off frees them. */
int tlog_proof_memo(struct tlog *t, bool on, struct pv_error *err);

/* --- storage for the other audit/ modules (checkpoint, keys, tlog_verify) */

/* Raw read of tile (level, index): appends its bytes (32 per hash) to out.
 * PV_ENOTFOUND when absent. For verification and export. */
int tlog_tile_get(struct tlog *t, unsigned level, uint64_t index, struct pv_buf *out,
		  struct pv_error *err);
/* Number of stored tiles at a level, and of stored leaf rows. */
int tlog_tile_count(struct tlog *t, unsigned level, uint64_t *count_r, struct pv_error *err);
int tlog_leaf_count(struct tlog *t, uint64_t *count_r, struct pv_error *err);

/* Iterates stored leaf rows in index order from `from`: fn gets each
 * row's index and bytes; a non-zero return stops and is returned. */
typedef int (*tlog_leaf_fn)(void *ctx, uint64_t index, const void *data, size_t len);
int tlog_leaf_scan(struct tlog *t, uint64_t from, tlog_leaf_fn fn, void *ctx,
		   struct pv_error *err);

struct tlog_checkpoint_row {
	uint64_t seq;
	uint64_t size;
	merkle_hash root;
	uint32_t epoch;
	int64_t created_ms;
	struct pv_buf note; /* the signed note text; tlog_checkpoint_row_free */
};

void tlog_checkpoint_row_init(struct tlog_checkpoint_row *row);
void tlog_checkpoint_row_free(struct tlog_checkpoint_row *row);
/* Stores a signed checkpoint as the next seq (returned in *seq_r). */
int tlog_checkpoint_insert(struct tlog *t, uint64_t size, const merkle_hash root, uint32_t epoch,
			   int64_t created_ms, const char *note, size_t len, uint64_t *seq_r,
			   struct pv_error *err);
/* The row with this seq, or (seq == UINT64_MAX) the latest; PV_ENOTFOUND
 * if none. */
int tlog_checkpoint_get(struct tlog *t, uint64_t seq, struct tlog_checkpoint_row *row,
			struct pv_error *err);
/* The latest signed checkpoint of the largest size not above `size`;
 * PV_ENOTFOUND if none. */
int tlog_checkpoint_at_most(struct tlog *t, uint64_t size, struct tlog_checkpoint_row *row,
			    struct pv_error *err);
/* The signed checkpoint with the highest seq; PV_ENOTFOUND if none. Rows
 * after it are reserved, not yet signed (checkpoint.h, remote keys). */
int tlog_checkpoint_latest_signed(struct tlog *t, struct tlog_checkpoint_row *row,
				  struct pv_error *err);
/* Whether the row holds a signed note, not a reserved body. */
bool tlog_checkpoint_row_signed(const struct tlog_checkpoint_row *row);
/* Rewrites row seq's size, root, time and note (a reserved row grown or
 * signed). PV_ENOTFOUND when there is no such row. */
int tlog_checkpoint_replace(struct tlog *t, uint64_t seq, uint64_t size, const merkle_hash root,
			    int64_t created_ms, const char *note, size_t len, struct pv_error *err);
/* Number of checkpoint rows and the highest seq + 1 (equal unless rows
 * were deleted). */
int tlog_checkpoint_count(struct tlog *t, uint64_t *count_r, uint64_t *next_seq_r,
			  struct pv_error *err);

struct tlog_epoch_row {
	uint32_t epoch;
	char vkey[NOTE_VKEY_MAX + 1];
	uint64_t first_seq;  /* first checkpoint signed with this key */
	struct pv_buf note;  /* rotation note signed by the previous key; empty for epoch 0 */
	char record_log[PV_TLOG_NAME_MAX + 1]; /* log holding the note as a leaf */
	uint64_t record_index;
};

void tlog_epoch_row_init(struct tlog_epoch_row *row);
void tlog_epoch_row_free(struct tlog_epoch_row *row);
/* Adds the next epoch (0 for a new log). note may be NULL for epoch 0. */
int tlog_epoch_insert(struct tlog *t, const struct tlog_epoch_row *row, struct pv_error *err);
/* Epoch by number, or (epoch == UINT32_MAX) the current one. */
int tlog_epoch_get(struct tlog *t, uint32_t epoch, struct tlog_epoch_row *row,
		   struct pv_error *err);

/* Transaction helper shared by the audit/ modules (see the top comment). */
struct tlog_tx {
	struct db *db;
	int own; /* 1: we issued BEGIN; 0: a SAVEPOINT inside the caller's */
};
int tlog_tx_begin(struct db *db, struct tlog_tx *tx, struct pv_error *err);
/* Commits (ok) or rolls back; returns r when r < 0, else the commit result. */
int tlog_tx_end(struct tlog_tx *tx, int r, struct pv_error *err);

#endif
