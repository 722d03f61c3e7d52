#include "archiver/store/anchors.h"

#include <stdio.h>
#include <string.h>

#include "archiver/lib/db.h"

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

/* Steps a statement that returns no row and finalizes it. */
static int run(struct db_stmt **st, struct pv_error *err)
{
	int r = db_step(*st, err);
	db_finalize(st);
	return r < 0 ? r : PV_OK;
}

static void col_text(struct db_stmt *st, int i, char *out, size_t n)
{
	const char *t = db_column_text(st, i);
	snprintf(out, n, "%s", t ? t : "");
}

static int col_blob(struct db_stmt *st, int i, struct pv_buf *out, struct pv_error *err)
{
	size_t len;
	const void *p = db_column_blob(st, i, &len);
	pv_buf_reset(out);
	return pv_buf_append(out, p ? p : "", len, err);
}

/* --- time-stamps ------------------------------------------------------------------- */

int anchors_token_insert(struct db *db, struct anchor_token_row *row, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "INSERT INTO anchor_tokens (log, checkpoint_seq, size, note,"
				    " tsa_url, token, gen_time, serial, policy, created_at)"
				    " VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, row->log, -1);
	db_bind_int64(st, 2, (int64_t)row->checkpoint_seq);
	db_bind_int64(st, 3, (int64_t)row->size);
	db_bind_blob(st, 4, row->note.data, row->note.len);
	db_bind_text(st, 5, row->tsa_url, -1);
	db_bind_blob(st, 6, row->token.data, row->token.len);
	db_bind_int64(st, 7, row->gen_time);
	db_bind_text(st, 8, row->serial, -1);
	db_bind_text(st, 9, row->policy, -1);
	db_bind_int64(st, 10, row->created_at);
	if ((r = db_step(st, err)) == DB_ROW) {
		row->id = db_column_int64(st, 0);
		r = PV_OK;
	} else if (r == DB_DONE) {
		r = pv_fail(err, PV_ERR, "catalog: no id for the new time-stamp");
	}
	db_finalize(&st);
	return r;
}

int anchors_token_each(struct db *db, const char *log, bool newest, uint64_t max_size,
		       uint64_t limit, int (*fn)(void *ctx, const struct anchor_token_row *row),
		       void *ctx, struct pv_error *err)
{
	struct db_stmt *st;
	struct anchor_token_row row;
	char sql[512];
	int r;
	snprintf(sql, sizeof(sql),
		 "SELECT id, log, checkpoint_seq, size, note, tsa_url, token, gen_time, serial,"
		 " policy, created_at FROM anchor_tokens WHERE (CAST(?1 AS text) IS NULL"
		 " OR log = ?1) AND size <= ?2 ORDER BY id %s LIMIT ?3", newest ? "DESC" : "ASC");
	if ((r = db_prepare(db, sql, &st, err)) < 0)
		return r;
	db_bind_text(st, 1, log, -1);
	db_bind_int64(st, 2, max_size > INT64_MAX ? INT64_MAX : (int64_t)max_size);
	/* no limit: INT64_MAX, not -1 (SQLite's only) */
	db_bind_int64(st, 3, limit == 0 || limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	anchor_token_row_init(&row);
	while (r == 0 && (r = db_step(st, err)) == DB_ROW) {
		row.id = db_column_int64(st, 0);
		col_text(st, 1, row.log, sizeof(row.log));
		row.checkpoint_seq = (uint64_t)db_column_int64(st, 2);
		row.size = (uint64_t)db_column_int64(st, 3);
		col_text(st, 5, row.tsa_url, sizeof(row.tsa_url));
		row.gen_time = db_column_int64(st, 7);
		col_text(st, 8, row.serial, sizeof(row.serial));
		col_text(st, 9, row.policy, sizeof(row.policy));
		row.created_at = db_column_int64(st, 10);
		if ((r = col_blob(st, 4, &row.note, err)) == 0 &&
		    (r = col_blob(st, 6, &row.token, err)) == 0)
			r = fn(ctx, &row);
	}
	anchor_token_row_free(&row);
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

/* --- cosignatures ------------------------------------------------------------------- */

int anchors_cosig_insert(struct db *db, struct anchor_cosig_row *row, bool *added_r,
			 struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "INSERT INTO cosignatures (log, checkpoint_seq, size, note,"
				    " witness, line, cosigned_at, created_at) VALUES (?,?,?,?,?,?,?,?)"
				    " ON CONFLICT (log, checkpoint_seq, witness) DO NOTHING", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, row->log, -1);
	db_bind_int64(st, 2, (int64_t)row->checkpoint_seq);
	db_bind_int64(st, 3, (int64_t)row->size);
	db_bind_blob(st, 4, row->note.data, row->note.len);
	db_bind_text(st, 5, row->witness, -1);
	db_bind_text(st, 6, row->line, -1);
	db_bind_int64(st, 7, row->cosigned_at);
	db_bind_int64(st, 8, row->created_at);
	if ((r = db_step(st, err)) >= 0) {
		if (added_r != NULL)
			*added_r = db_changes(st) == 1;
		r = PV_OK;
	}
	db_finalize(&st);
	return r;
}

int anchors_cosig_each(struct db *db, const char *log, uint64_t checkpoint_seq,
		       int (*fn)(void *ctx, const struct anchor_cosig_row *row), void *ctx,
		       struct pv_error *err)
{
	struct db_stmt *st;
	struct anchor_cosig_row row;
	int r;
	if ((r = db_prepare(db, "SELECT id, log, checkpoint_seq, size, note, witness, line,"
				     " cosigned_at, created_at FROM cosignatures"
				     " WHERE (CAST(?1 AS text) IS NULL OR log = ?1)"
				     " AND (CAST(?2 AS bigint) < 0 OR checkpoint_seq = ?2)"
				     " ORDER BY log, checkpoint_seq, witness", &st, err)) < 0)
		return r;
	db_bind_text(st, 1, log, -1);
	db_bind_int64(st, 2, checkpoint_seq > INT64_MAX ? -1 : (int64_t)checkpoint_seq);
	anchor_cosig_row_init(&row);
	while (r == 0 && (r = db_step(st, err)) == DB_ROW) {
		row.id = db_column_int64(st, 0);
		col_text(st, 1, row.log, sizeof(row.log));
		row.checkpoint_seq = (uint64_t)db_column_int64(st, 2);
		row.size = (uint64_t)db_column_int64(st, 3);
		col_text(st, 5, row.witness, sizeof(row.witness));
		col_text(st, 6, row.line, sizeof(row.line));
		row.cosigned_at = db_column_int64(st, 7);
		row.created_at = db_column_int64(st, 8);
		if ((r = col_blob(st, 4, &row.note, err)) == 0)
			r = fn(ctx, &row);
	}
	anchor_cosig_row_free(&row);
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

int anchors_cosig_witness_size(struct db *db, const char *log, const char *witness,
			       uint64_t *size_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT max(size) FROM cosignatures WHERE log = ? AND witness = ?",
				&st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, log, -1);
	db_bind_text(st, 2, witness, -1);
	if ((r = db_step(st, err)) == DB_DONE) {
		r = pv_fail(err, PV_ERR, "catalog: no row from max(size)");
	} else if (r == DB_ROW) {
		r = db_column_is_null(st, 0) ? PV_ENOTFOUND : PV_OK;
		if (r == PV_OK)
			*size_r = (uint64_t)db_column_int64(st, 0);
	}
	db_finalize(&st);
	return r;
}

int anchors_cosig_checkpoints(struct db *db, const char *log, uint64_t max_size, uint64_t *seqs,
			      size_t max, size_t *n_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r;
	*n_r = 0;
	if ((r = db_prepare(db, "SELECT DISTINCT checkpoint_seq FROM cosignatures WHERE log = ?"
				     " AND size <= ? ORDER BY checkpoint_seq DESC LIMIT ?", &st, err)) < 0)
		return r;
	db_bind_text(st, 1, log, -1);
	db_bind_int64(st, 2, max_size > INT64_MAX ? INT64_MAX : (int64_t)max_size);
	db_bind_int64(st, 3, (int64_t)max);
	while (*n_r < max && (r = db_step(st, err)) == DB_ROW)
		seqs[(*n_r)++] = (uint64_t)db_column_int64(st, 0);
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

/* --- attempts ------------------------------------------------------------------------ */

int anchors_attempt_record(struct db *db, const char *log, const char *party, int64_t now,
			   const char *error, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "INSERT INTO anchor_attempts (log, party, attempted_at, ok_at, error)"
				    " VALUES (?1, ?2, ?3,"
				    " CASE WHEN CAST(?4 AS text) IS NULL THEN CAST(?3 AS bigint) END, ?4)"
				    " ON CONFLICT (log, party) DO UPDATE SET attempted_at = ?3,"
				    " ok_at = CASE WHEN CAST(?4 AS text) IS NULL THEN CAST(?3 AS bigint)"
				    " ELSE anchor_attempts.ok_at END, error = ?4",
				&st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, log, -1);
	db_bind_text(st, 2, party, -1);
	db_bind_int64(st, 3, now);
	if (error != NULL)
		db_bind_text(st, 4, error, -1);
	return run(&st, err);
}

int anchors_attempt_each(struct db *db, const char *log,
			 int (*fn)(void *ctx, const struct anchor_attempt_row *row), void *ctx,
			 struct pv_error *err)
{
	struct db_stmt *st;
	struct anchor_attempt_row row;
	int r;
	if ((r = db_prepare(db, "SELECT log, party, attempted_at, ok_at, error FROM anchor_attempts"
				     " WHERE log = ? ORDER BY party", &st, err)) < 0)
		return r;
	db_bind_text(st, 1, log, -1);
	while (r == 0 && (r = db_step(st, err)) == DB_ROW) {
		memset(&row, 0, sizeof(row));
		col_text(st, 0, row.log, sizeof(row.log));
		col_text(st, 1, row.party, sizeof(row.party));
		row.attempted_at = db_column_int64(st, 2);
		row.ok_at = db_column_is_null(st, 3) ? -1 : db_column_int64(st, 3);
		col_text(st, 4, row.error, sizeof(row.error));
		r = fn(ctx, &row);
	}
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}
