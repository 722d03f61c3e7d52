#include "archiver/store/anchors.h"

#include <stdio.h>
#include <string.h>

#include "archiver/store/catalog.h"

void anchor_token_row_init(struct anchor_token_row *row)
{
	memset(row, 0, sizeof(*row));
	pv_buf_init(&row->note, PV_NOTE_MAX);
	pv_buf_init(&row->token, PV_HTTPC_REPLY_MAX);
}

void anchor_token_row_free(struct anchor_token_row *row)
{
	pv_buf_free(&row->note);
	pv_buf_free(&row->token);
}

void anchor_cosig_row_init(struct anchor_cosig_row *row)
{
	memset(row, 0, sizeof(*row));
	pv_buf_init(&row->note, PV_NOTE_MAX);
}

void anchor_cosig_row_free(struct anchor_cosig_row *row)
{
	pv_buf_free(&row->note);
}

static int sql_fail(sqlite3 *db, struct pv_error *err)
{
	return pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(out, n, "%s", t ? (const char *)t : "");
}

static int col_blob(sqlite3_stmt *st, int i, struct pv_buf *out, struct pv_error *err)
{
	pv_buf_reset(out);
	const void *p = sqlite3_column_blob(st, i);
	return pv_buf_append(out, p ? p : "", (size_t)sqlite3_column_bytes(st, i), err);
}

/* --- time-stamps ------------------------------------------------------------------- */

int anchors_token_insert(sqlite3 *db, struct anchor_token_row *row, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "INSERT INTO anchor_tokens (log, checkpoint_seq, size, note,"
				    " tsa_url, token, gen_time, serial, policy, created_at)"
				    " VALUES (?,?,?,?,?,?,?,?,?,?)", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, row->log, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)row->checkpoint_seq);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)row->size);
	sqlite3_bind_blob(st, 4, row->note.data, (int)row->note.len, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, row->tsa_url, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, row->token.data, (int)row->token.len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, row->gen_time);
	sqlite3_bind_text(st, 8, row->serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, row->policy, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, row->created_at);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = sql_fail(db, err);
	else
		row->id = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	return r;
}

int anchors_token_each(sqlite3 *db, const char *log, bool newest, uint64_t max_size,
		       uint64_t limit, int (*fn)(void *ctx, const struct anchor_token_row *row),
		       void *ctx, struct pv_error *err)
{
	sqlite3_stmt *st;
	struct anchor_token_row row;
	char sql[512];
	int r, rc = SQLITE_DONE;
	snprintf(sql, sizeof(sql),
		 "SELECT id, log, checkpoint_seq, size, note, tsa_url, token, gen_time, serial,"
		 " policy, created_at FROM anchor_tokens WHERE (?1 IS NULL OR log = ?1)"
		 " AND size <= ?2 ORDER BY id %s LIMIT ?3", newest ? "DESC" : "ASC");
	if ((r = catalog_prepare(db, sql, &st, err)) < 0)
		return r;
	sqlite3_bind_text(st, 1, log, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, max_size > INT64_MAX ? INT64_MAX : (sqlite3_int64)max_size);
	sqlite3_bind_int64(st, 3, limit == 0 || limit > INT64_MAX ? -1 : (sqlite3_int64)limit);
	anchor_token_row_init(&row);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		row.id = sqlite3_column_int64(st, 0);
		col_text(st, 1, row.log, sizeof(row.log));
		row.checkpoint_seq = (uint64_t)sqlite3_column_int64(st, 2);
		row.size = (uint64_t)sqlite3_column_int64(st, 3);
		col_text(st, 5, row.tsa_url, sizeof(row.tsa_url));
		row.gen_time = sqlite3_column_int64(st, 7);
		col_text(st, 8, row.serial, sizeof(row.serial));
		col_text(st, 9, row.policy, sizeof(row.policy));
		row.created_at = sqlite3_column_int64(st, 10);
		if ((r = col_blob(st, 4, &row.note, err)) == 0 &&
		    (r = col_blob(st, 6, &row.token, err)) == 0)
			r = fn(ctx, &row);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sql_fail(db, err);
	anchor_token_row_free(&row);
	sqlite3_finalize(st);
	return r;
}

/* --- cosignatures ------------------------------------------------------------------- */

int anchors_cosig_insert(sqlite3 *db, struct anchor_cosig_row *row, bool *added_r,
			 struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "INSERT OR IGNORE INTO cosignatures (log, checkpoint_seq, size,"
				    " note, witness, line, cosigned_at, created_at)"
				    " VALUES (?,?,?,?,?,?,?,?)", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, row->log, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)row->checkpoint_seq);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)row->size);
	sqlite3_bind_blob(st, 4, row->note.data, (int)row->note.len, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, row->witness, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, row->line, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, row->cosigned_at);
	sqlite3_bind_int64(st, 8, row->created_at);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = sql_fail(db, err);
	else if (added_r != NULL)
		*added_r = sqlite3_changes(db) == 1;
	sqlite3_finalize(st);
	return r;
}

int anchors_cosig_each(sqlite3 *db, const char *log, uint64_t checkpoint_seq,
		       int (*fn)(void *ctx, const struct anchor_cosig_row *row), void *ctx,
		       struct pv_error *err)
{
	sqlite3_stmt *st;
	struct anchor_cosig_row row;
	int r, rc = SQLITE_DONE;
	if ((r = catalog_prepare(db, "SELECT id, log, checkpoint_seq, size, note, witness, line,"
				     " cosigned_at, created_at FROM cosignatures"
				     " WHERE (?1 IS NULL OR log = ?1) AND (?2 < 0 OR checkpoint_seq = ?2)"
				     " ORDER BY log, checkpoint_seq, witness", &st, err)) < 0)
		return r;
	sqlite3_bind_text(st, 1, log, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, checkpoint_seq > INT64_MAX ? -1 : (sqlite3_int64)checkpoint_seq);
	anchor_cosig_row_init(&row);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		row.id = sqlite3_column_int64(st, 0);
		col_text(st, 1, row.log, sizeof(row.log));
		row.checkpoint_seq = (uint64_t)sqlite3_column_int64(st, 2);
		row.size = (uint64_t)sqlite3_column_int64(st, 3);
		col_text(st, 5, row.witness, sizeof(row.witness));
		col_text(st, 6, row.line, sizeof(row.line));
		row.cosigned_at = sqlite3_column_int64(st, 7);
		row.created_at = sqlite3_column_int64(st, 8);
		if ((r = col_blob(st, 4, &row.note, err)) == 0)
			r = fn(ctx, &row);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sql_fail(db, err);
	anchor_cosig_row_free(&row);
	sqlite3_finalize(st);
	return r;
}

int anchors_cosig_witness_size(sqlite3 *db, const char *log, const char *witness,
			       uint64_t *size_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT max(size) FROM cosignatures WHERE log = ? AND witness = ?",
				&st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, log, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, witness, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		r = sql_fail(db, err);
	else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		r = PV_ENOTFOUND;
	else
		*size_r = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return r;
}

int anchors_cosig_checkpoints(sqlite3 *db, const char *log, uint64_t max_size, uint64_t *seqs,
			      size_t max, size_t *n_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r, rc = SQLITE_DONE;
	*n_r = 0;
	if ((r = catalog_prepare(db, "SELECT DISTINCT checkpoint_seq FROM cosignatures WHERE log = ?"
				     " AND size <= ? ORDER BY checkpoint_seq DESC LIMIT ?", &st, err)) < 0)
		return r;
	sqlite3_bind_text(st, 1, log, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, max_size > INT64_MAX ? INT64_MAX : (sqlite3_int64)max_size);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n_r < max)
		seqs[(*n_r)++] = (uint64_t)sqlite3_column_int64(st, 0);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = sql_fail(db, err);
	sqlite3_finalize(st);
	return r;
}

/* --- attempts ------------------------------------------------------------------------ */

int anchors_attempt_record(sqlite3 *db, const char *log, const char *party, int64_t now,
			   const char *error, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "INSERT INTO anchor_attempts (log, party, attempted_at, ok_at, error)"
				    " VALUES (?1, ?2, ?3, CASE WHEN ?4 IS NULL THEN ?3 END, ?4)"
				    " ON CONFLICT (log, party) DO UPDATE SET attempted_at = ?3,"
				    " ok_at = CASE WHEN ?4 IS NULL THEN ?3 ELSE ok_at END, error = ?4",
				&st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, log, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, party, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = sql_fail(db, err);
	sqlite3_finalize(st);
	return r;
}

int anchors_attempt_each(sqlite3 *db, const char *log,
			 int (*fn)(void *ctx, const struct anchor_attempt_row *row), void *ctx,
			 struct pv_error *err)
{
	sqlite3_stmt *st;
	struct anchor_attempt_row row;
	int r, rc = SQLITE_DONE;
	if ((r = catalog_prepare(db, "SELECT log, party, attempted_at, ok_at, error FROM anchor_attempts"
				     " WHERE log = ? ORDER BY party", &st, err)) < 0)
		return r;
	sqlite3_bind_text(st, 1, log, -1, SQLITE_STATIC);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		col_text(st, 0, row.log, sizeof(row.log));
		col_text(st, 1, row.party, sizeof(row.party));
		row.attempted_at = sqlite3_column_int64(st, 2);
		row.ok_at = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3);
		col_text(st, 4, row.error, sizeof(row.error));
		r = fn(ctx, &row);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sql_fail(db, err);
	sqlite3_finalize(st);
	return r;
}
