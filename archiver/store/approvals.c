#include "archiver/store/approvals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/db.h"

#define COLUMNS                                                                          \
	"id, kind, state, payload_sha256, base, summary, proposer, proposer_role, reason,"  \
	" created_at, decided_by, decided_role, decision_reason, decided_at, break_glass,"  \
	" result"

void approval_row_free(struct approval_row *row)
{
	free(row->payload);
	row->payload = NULL;
	row->payload_len = 0;
}

static void text_col(char *dst, size_t n, struct db_stmt *st, int col)
{
	const char *t = db_column_text(st, col);
	snprintf(dst, n, "%s", t ? t : "");
}

static void row_read(struct db_stmt *st, struct approval_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = db_column_int64(st, 0);
	text_col(r->kind, sizeof(r->kind), st, 1);
	text_col(r->state, sizeof(r->state), st, 2);
	text_col(r->payload_sha256, sizeof(r->payload_sha256), st, 3);
	r->base = db_column_int64(st, 4);
	text_col(r->summary, sizeof(r->summary), st, 5);
	text_col(r->proposer, sizeof(r->proposer), st, 6);
	text_col(r->proposer_role, sizeof(r->proposer_role), st, 7);
	text_col(r->reason, sizeof(r->reason), st, 8);
	r->created_at = db_column_int64(st, 9);
	text_col(r->decided_by, sizeof(r->decided_by), st, 10);
	text_col(r->decided_role, sizeof(r->decided_role), st, 11);
	text_col(r->decision_reason, sizeof(r->decision_reason), st, 12);
	r->decided_at = db_column_int64(st, 13);
	r->break_glass = db_column_int64(st, 14) != 0;
	text_col(r->result, sizeof(r->result), st, 15);
}

/* Steps a statement that returns no row and finalizes it; *changes_r
 * (may be NULL) gets the rows it changed. */
static int step_done(struct db_stmt **st, int64_t *changes_r, struct pv_error *err)
{
	int r = db_step(*st, err);
	if (changes_r != NULL)
		*changes_r = db_changes(*st);
	db_finalize(st);
	return r < 0 ? r : PV_OK;
}

int approval_store_add(struct db *db, const struct approval_row *row, int64_t *id_r,
		       struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "INSERT INTO approvals (kind, payload, payload_sha256, base,"
			       " summary, proposer, proposer_role, reason, created_at)"
			       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, row->kind, -1);
	db_bind_blob(st, 2, row->payload ? (const void *)row->payload : "", row->payload_len);
	db_bind_text(st, 3, row->payload_sha256, -1);
	db_bind_int64(st, 4, row->base);
	db_bind_text(st, 5, row->summary, -1);
	db_bind_text(st, 6, row->proposer, -1);
	db_bind_text(st, 7, row->proposer_role, -1);
	db_bind_text(st, 8, row->reason, -1);
	db_bind_int64(st, 9, row->created_at);
	if ((r = db_step(st, err)) == DB_ROW) {
		*id_r = db_column_int64(st, 0);
		r = PV_OK;
	} else if (r == DB_DONE) {
		r = pv_fail(err, PV_ERR, "catalog: no id for the new approval");
	}
	db_finalize(&st);
	return r;
}

int approval_store_get(struct db *db, int64_t id, bool with_payload, struct approval_row *row,
		       struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT " COLUMNS ", payload FROM approvals WHERE id = ?", &st,
			   err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, id);
	if ((r = db_step(st, err)) == DB_ROW) {
		size_t len;
		const void *p = db_column_blob(st, 16, &len);
		r = PV_OK;
		row_read(st, row);
		if (with_payload && (row->payload = malloc(len + 1)) == NULL) {
			r = pv_fail(err, PV_ERR, "out of memory");
		} else if (with_payload) {
			if (len > 0)
				memcpy(row->payload, p, len);
			row->payload[len] = '\0';
			row->payload_len = len;
		}
	} else if (r == DB_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "there is no approval %lld", (long long)id);
	}
	db_finalize(&st);
	return r;
}

int approval_store_decide(struct db *db, int64_t id, const char *state, const char *by,
			  const char *role, const char *reason, int64_t at, bool break_glass,
			  const char *result, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "UPDATE approvals SET state = ?, decided_by = ?, decided_role = ?,"
			       " decision_reason = ?, decided_at = ?, break_glass = ?, result = ?"
			       " WHERE id = ? AND state = 'pending'", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, state, -1);
	db_bind_text(st, 2, by, -1);
	db_bind_text(st, 3, role, -1);
	db_bind_text(st, 4, reason, -1);
	db_bind_int64(st, 5, at);
	db_bind_int64(st, 6, break_glass);
	if (result != NULL)
		db_bind_text(st, 7, result, -1);
	db_bind_int64(st, 8, id);
	int64_t changed = 0;
	if ((r = step_done(&st, &changed, err)) == PV_OK && changed != 1)
		r = pv_fail(err, PV_ERR, "approval %lld is not pending", (long long)id);
	return r;
}

int approval_store_set_result(struct db *db, int64_t id, const char *result, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "UPDATE approvals SET result = ? WHERE id = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, result, -1);
	db_bind_int64(st, 2, id);
	return step_done(&st, NULL, err);
}

int approval_store_pending(struct db *db, const char *kind, const void *payload, size_t len,
			   int64_t *id_r, struct pv_error *err)
{
	struct db_stmt *st;
	/* payload = ?2 first: PostgreSQL takes ?2's type (bytea) from it */
	int r = db_prepare(db, "SELECT id FROM approvals WHERE kind = ?1 AND state = 'pending'"
			       " AND (payload = ?2 OR ?2 IS NULL) ORDER BY id LIMIT 1", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, kind, -1);
	if (payload != NULL)
		db_bind_blob(st, 2, payload, len);
	r = db_step(st, err);
	*id_r = r == DB_ROW ? db_column_int64(st, 0) : 0;
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

/* The rows of state ?1: NULL every one, "decided" all but the pending. */
#define IN_STATE                                                                                   \
	" WHERE CAST(?1 AS text) IS NULL OR state = ?1 OR"                                        \
	" (CAST(?1 AS text) = 'decided' AND state <> 'pending')"

int approval_store_each(struct db *db, const char *state, uint64_t offset, uint64_t limit,
			int (*fn)(void *ctx, const struct approval_row *row), void *ctx,
			uint64_t *total_r, struct pv_error *err)
{
	struct db_stmt *st;
	int64_t total = 0;
	int r;
	if (total_r != NULL) {
		if ((r = db_prepare(db, "SELECT count(*) FROM approvals" IN_STATE, &st, err)) < 0)
			return r;
		if (state != NULL)
			db_bind_text(st, 1, state, -1);
		if ((r = db_step(st, err)) == DB_ROW)
			total = db_column_int64(st, 0);
		db_finalize(&st);
		if (r < 0)
			return r;
		*total_r = (uint64_t)total;
	}
	if ((r = db_prepare(db, "SELECT " COLUMNS " FROM approvals" IN_STATE
				" ORDER BY id DESC LIMIT ?2 OFFSET ?3", &st, err)) < 0)
		return r;
	if (state != NULL)
		db_bind_text(st, 1, state, -1);
	/* no limit: INT64_MAX, not -1 (SQLite's only) */
	db_bind_int64(st, 2, limit == 0 || limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	db_bind_int64(st, 3, offset > INT64_MAX ? INT64_MAX : (int64_t)offset);
	struct approval_row *row = malloc(sizeof(*row));
	if (row == NULL) {
		db_finalize(&st);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	while (r == PV_OK && (r = db_step(st, err)) == DB_ROW) {
		row_read(st, row);
		r = fn(ctx, row);
	}
	free(row);
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}
