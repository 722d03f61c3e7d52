#ifndef PV_STORE_ANCHORS_H
#define PV_STORE_ANCHORS_H

/* What parties outside the box said about the logs' checkpoints (catalog
 * migration 12; archiver/archive/anchor.h decides and checks):
 *
 *   anchor_tokens    RFC 3161 time-stamps: the signed checkpoint note and
 *                    the TSA's reply, as received
 *   cosignatures     witness cosignatures (C2SP tlog-cosignature/v1): the
 *                    note and the witness's signature line
 *   anchor_attempts  per (log, party) the last attempt, the last success
 *                    and why the last attempt failed (staleness)
 *
 * Tokens and cosignatures are appended, never changed (triggers refuse
 * it); nothing here is trusted: verify re-checks every row against the
 * logs and the keys. Calls work inside the caller's transaction, if one
 * is open. Written against lib/db.h: runs on SQLite and PostgreSQL. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/db.h"

struct anchor_token_row {
	int64_t id;
	char log[PV_TLOG_NAME_MAX + 1];
	uint64_t checkpoint_seq, size;
	struct pv_buf note;  /* the signed checkpoint note (max PV_NOTE_MAX) */
	char tsa_url[PV_URL_MAX + 1];
	struct pv_buf token; /* DER TimeStampResp (max PV_HTTPC_REPLY_MAX) */
	int64_t gen_time;
	char serial[80];
	char policy[128];
	int64_t created_at;
};

struct anchor_cosig_row {
	int64_t id;
	char log[PV_TLOG_NAME_MAX + 1];
	uint64_t checkpoint_seq, size;
	struct pv_buf note;  /* the signed checkpoint note the witness saw */
	char witness[PV_KEY_NAME_MAX + 1];
	char line[PV_KEY_NAME_MAX + 256]; /* "— NAME BASE64\n" */
	int64_t cosigned_at, created_at;
};

struct anchor_attempt_row {
	char log[PV_TLOG_NAME_MAX + 1];
	char party[PV_KEY_NAME_MAX + 1]; /* "tsa" or a witness's name */
	int64_t attempted_at;
	int64_t ok_at;                   /* -1: never */
	char error[PV_ERROR_MSG_MAX];    /* "" when the last attempt succeeded */
};

void anchor_token_row_init(struct anchor_token_row *row);
void anchor_token_row_free(struct anchor_token_row *row);
void anchor_cosig_row_init(struct anchor_cosig_row *row);
void anchor_cosig_row_free(struct anchor_cosig_row *row);

/* Appends a token (row->id is ignored and set). */
int anchors_token_insert(struct db *db, struct anchor_token_row *row, struct pv_error *err);
/* The tokens of log (NULL: both), oldest first, or newest first with
 * newest; at most limit (0: all) with size <= max_size. fn gets each row
 * (borrowed for the call); its non-zero return stops and is returned. */
int anchors_token_each(struct db *db, const char *log, bool newest, uint64_t max_size,
		       uint64_t limit, int (*fn)(void *ctx, const struct anchor_token_row *row),
		       void *ctx, struct pv_error *err);

/* Appends a cosignature; one per (log, checkpoint, witness): a second for
 * the same checkpoint is ignored (*added_r false). */
int anchors_cosig_insert(struct db *db, struct anchor_cosig_row *row, bool *added_r,
			 struct pv_error *err);
/* The cosignatures of log (NULL: both), by checkpoint then witness;
 * checkpoint_seq UINT64_MAX: every checkpoint's. As anchors_token_each. */
int anchors_cosig_each(struct db *db, const char *log, uint64_t checkpoint_seq,
		       int (*fn)(void *ctx, const struct anchor_cosig_row *row), void *ctx,
		       struct pv_error *err);
/* The largest tree size `witness` cosigned for log; PV_ENOTFOUND if none. */
int anchors_cosig_witness_size(struct db *db, const char *log, const char *witness,
			       uint64_t *size_r, struct pv_error *err);
/* The checkpoint seqs of log with cosignatures, newest first, at most max
 * with size <= max_size (into seqs; *n_r how many). */
int anchors_cosig_checkpoints(struct db *db, const char *log, uint64_t max_size, uint64_t *seqs,
			      size_t max, size_t *n_r, struct pv_error *err);

/* Records an attempt now: error NULL for a success. */
int anchors_attempt_record(struct db *db, const char *log, const char *party, int64_t now,
			   const char *error, struct pv_error *err);
/* Every attempt row of log, by party. */
int anchors_attempt_each(struct db *db, const char *log,
			 int (*fn)(void *ctx, const struct anchor_attempt_row *row), void *ctx,
			 struct pv_error *err);

#endif
