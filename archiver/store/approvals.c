#include "archiver/store/approvals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/store/catalog.h"

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

static void text_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static void row_read(sqlite3_stmt *st, struct approval_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	text_col(r->kind, sizeof(r->kind), st, 1);
	text_col(r->state, sizeof(r->state), st, 2);
	text_col(r->payload_sha256, sizeof(r->payload_sha256), st, 3);
	r->base = sqlite3_column_int64(st, 4);
	text_col(r->summary, sizeof(r->summary), st, 5);
	text_col(r->proposer, sizeof(r->proposer), st, 6);
	text_col(r->proposer_role, sizeof(r->proposer_role), st, 7);
	text_col(r->reason, sizeof(r->reason), st, 8);
	r->created_at = sqlite3_column_int64(st, 9);
	text_col(r->decided_by, sizeof(r->decided_by), st, 10);
	text_col(r->decided_role, sizeof(r->decided_role), st, 11);
	text_col(r->decision_reason, sizeof(r->decision_reason), st, 12);
	r->decided_at = sqlite3_column_int64(st, 13);
	r->break_glass = sqlite3_column_int(st, 14) != 0;
	text_col(r->result, sizeof(r->result), st, 15);
}

static int step_done(sqlite3 *db, sqlite3_stmt *st, struct pv_error *err)
{
	int r = sqlite3_step(st) == SQLITE_DONE ? PV_OK
						 : pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

int approval_store_add(sqlite3 *db, const struct approval_row *row, int64_t *id_r,
		       struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "INSERT INTO approvals (kind, payload, payload_sha256, base,"
				    " summary, proposer, proposer_role, reason, created_at)"
				    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, row->kind, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, row->payload ? (const void *)row->payload : "", (int)row->payload_len,
			  SQLITE_STATIC);
	sqlite3_bind_text(st, 3, row->payload_sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, row->base);
	sqlite3_bind_text(st, 5, row->summary, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, row->proposer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, row->proposer_role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, row->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, row->created_at);
	if ((r = step_done(db, st, err)) == PV_OK)
		*id_r = sqlite3_last_insert_rowid(db);
	return r;
}

int approval_store_get(sqlite3 *db, int64_t id, bool with_payload, struct approval_row *row,
		       struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT " COLUMNS ", payload FROM approvals WHERE id = ?", &st,
				err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row_read(st, row);
		size_t len = (size_t)sqlite3_column_bytes(st, 16);
		const void *p = sqlite3_column_blob(st, 16);
		if (with_payload && (row->payload = malloc(len + 1)) == NULL) {
			r = pv_fail(err, PV_ERR, "out of memory");
		} else if (with_payload) {
			if (len > 0)
				memcpy(row->payload, p, len);
			row->payload[len] = '\0';
			row->payload_len = len;
		}
	} else if (rc == SQLITE_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "there is no approval %lld", (long long)id);
	} else {
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return r;
}

int approval_store_decide(sqlite3 *db, int64_t id, const char *state, const char *by,
			  const char *role, const char *reason, int64_t at, bool break_glass,
			  const char *result, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "UPDATE approvals SET state = ?, decided_by = ?, decided_role = ?,"
				    " decision_reason = ?, decided_at = ?, break_glass = ?, result = ?"
				    " WHERE id = ? AND state = 'pending'", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, by, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, at);
	sqlite3_bind_int(st, 6, break_glass);
	if (result != NULL)
		sqlite3_bind_text(st, 7, result, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, id);
	if ((r = step_done(db, st, err)) == PV_OK && sqlite3_changes(db) != 1)
		r = pv_fail(err, PV_ERR, "approval %lld is not pending", (long long)id);
	return r;
}

int approval_store_set_result(sqlite3 *db, int64_t id, const char *result, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "UPDATE approvals SET result = ? WHERE id = ?", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, result, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	return step_done(db, st, err);
}

int approval_store_pending(sqlite3 *db, const char *kind, const void *payload, size_t len,
			   int64_t *id_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT id FROM approvals WHERE kind = ? AND state = 'pending'"
				    " AND (?2 IS NULL OR payload = ?2) ORDER BY id LIMIT 1", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	if (payload != NULL)
		sqlite3_bind_blob(st, 2, payload, (int)len, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	*id_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

int approval_store_each(sqlite3 *db, const char *state, uint64_t offset, uint64_t limit,
			int (*fn)(void *ctx, const struct approval_row *row), void *ctx,
			uint64_t *total_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int64_t total = 0;
	int r;
	if (total_r != NULL) {
		if ((r = catalog_prepare(db, "SELECT count(*) FROM approvals WHERE ?1 IS NULL"
					     " OR state = ?1", &st, err)) < 0)
			return r;
		if (state != NULL)
			sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			total = sqlite3_column_int64(st, 0);
		else
			r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		if (r < 0)
			return r;
		*total_r = (uint64_t)total;
	}
	if ((r = catalog_prepare(db, "SELECT " COLUMNS " FROM approvals WHERE ?1 IS NULL"
				     " OR state = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3", &st, err)) < 0)
		return r;
	if (state != NULL)
		sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit);
	sqlite3_bind_int64(st, 3, offset > INT64_MAX ? INT64_MAX : (int64_t)offset);
	struct approval_row *row = malloc(sizeof(*row));
	if (row == NULL) {
		sqlite3_finalize(st);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	int rc = SQLITE_DONE;
	while (r == PV_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_read(st, row);
		r = fn(ctx, row);
	}
	if (r == PV_OK && rc != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	free(row);
	sqlite3_finalize(st);
	return r;
}
