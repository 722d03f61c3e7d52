#ifndef PV_STORE_APPROVALS_H
#define PV_STORE_APPROVALS_H

/* The approvals table (catalog migration 7): storage only. What may be
 * proposed, who may approve it and what an approval does live in
 * archiver/archive/approvals.h. A row is a proposal (kind, payload,
 * proposer, role, reason); it is decided once (approved or rejected, by
 * whom, with which role and why); after that only `result` (what the
 * approval did) may still be written. Triggers refuse anything else, and
 * deletion. Written against lib/db.h: runs on SQLite and PostgreSQL. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/db.h"

#define APPROVAL_ACTOR_MAX 127
#define APPROVAL_ROLE_MAX 15
#define APPROVAL_SUMMARY_MAX 511
#define APPROVAL_RESULT_MAX 255

struct approval_row {
	int64_t id;
	char kind[16];                 /* "policy", "hold-release", "dispose", "user-access" */
	char state[16];                /* "pending", "approved", "rejected" */
	unsigned char *payload;        /* malloc'ed (NUL after payload_len), or NULL */
	size_t payload_len;
	char payload_sha256[65];
	int64_t base;                  /* policy: the version in force when proposed */
	char summary[APPROVAL_SUMMARY_MAX + 1];
	char proposer[APPROVAL_ACTOR_MAX + 1];
	char proposer_role[APPROVAL_ROLE_MAX + 1];
	char reason[PV_APPROVAL_REASON_MAX + 1];
	int64_t created_at;
	char decided_by[APPROVAL_ACTOR_MAX + 1];   /* "" while pending */
	char decided_role[APPROVAL_ROLE_MAX + 1];
	char decision_reason[PV_APPROVAL_REASON_MAX + 1];
	int64_t decided_at;            /* 0 while pending */
	bool break_glass;
	char result[APPROVAL_RESULT_MAX + 1];
};

/* Frees the payload (the rest is inline). */
void approval_row_free(struct approval_row *row);

/* Stores row (kind, payload, payload_sha256, base, summary, proposer,
 * proposer_role, reason, created_at) as a pending proposal, inside the
 * caller's transaction if one is open; *id_r gets its id. */
int approval_store_add(struct db *db, const struct approval_row *row, int64_t *id_r,
		       struct pv_error *err);

/* Row id (with its payload when with_payload; free with approval_row_free).
 * PV_ENOTFOUND when there is none. */
int approval_store_get(struct db *db, int64_t id, bool with_payload, struct approval_row *row_r,
		       struct pv_error *err);

/* Decides pending row id: state "approved" or "rejected", who, their role,
 * why, when, whether by break-glass, and the result (may be NULL).
 * PV_ERR when it is not pending (any more). */
int approval_store_decide(struct db *db, int64_t id, const char *state, const char *by,
			  const char *role, const char *reason, int64_t at, bool break_glass,
			  const char *result, struct pv_error *err);

/* Writes the result of a decided row (what its approval did). */
int approval_store_set_result(struct db *db, int64_t id, const char *result, struct pv_error *err);

/* Whether a pending row of kind has exactly this payload (a second release
 * of the same hold), or (payload NULL) any pending row of kind; *id_r
 * gets its id, 0 when none. */
int approval_store_pending(struct db *db, const char *kind, const void *payload, size_t len,
			   int64_t *id_r, struct pv_error *err);

/* Calls fn for the rows in state (NULL: every state; "decided": every
 * state but pending), newest first,
 * skipping offset and passing at most limit (0: all), without payloads.
 * *total_r (may be NULL) gets how many rows are in that state. A non-zero
 * return of fn stops and is returned. */
int approval_store_each(struct db *db, const char *state, uint64_t offset, uint64_t limit,
			int (*fn)(void *ctx, const struct approval_row *row), void *ctx,
			uint64_t *total_r, struct pv_error *err);

#endif
