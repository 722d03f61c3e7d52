#include "archiver/store/bates_store.h"

#include <stdio.h>

/* Steps a statement that returns no row, then finalizes it. */
static int step_done(struct db_stmt **st, struct pv_error *err)
{
	int r = db_step(*st, err);
	db_finalize(st);
	return r < 0 ? r : PV_OK;
}

int bates_store_matter_get(struct db *db, const char *matter, char *prefix_r, size_t prefix_cap,
			   int64_t *start_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT bates_prefix, bates_start FROM export_matters"
			       " WHERE name = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, matter, -1);
	int rc = db_step(st, err);
	if (rc == DB_ROW) {
		const char *p = db_column_text(st, 0);
		snprintf(prefix_r, prefix_cap, "%s", p ? p : "");
		*start_r = db_column_int64(st, 1);
	} else if (rc == DB_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "no matter '%s'", matter);
	} else {
		r = rc;
	}
	db_finalize(&st);
	return r;
}

int bates_store_matter_add(struct db *db, const char *matter, const char *prefix, int64_t start,
			   const char *actor, int64_t now, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "INSERT INTO export_matters (name, bates_prefix, bates_start,"
			       " created_at, actor) VALUES (?, ?, ?, ?, ?)", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, matter, -1);
	db_bind_text(st, 2, prefix, -1);
	db_bind_int64(st, 3, start);
	db_bind_int64(st, 4, now);
	db_bind_text(st, 5, actor, -1);
	return step_done(&st, err);
}

/* One past the matter's highest number, at least first. */
static int next_free(struct db *db, const char *matter, int64_t first, int64_t *next_r,
		     struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT max(number) + 1 FROM export_bates WHERE matter = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, matter, -1);
	*next_r = first;
	if ((r = db_step(st, err)) == DB_ROW && !db_column_is_null(st, 0) &&
	    db_column_int64(st, 0) > first)
		*next_r = db_column_int64(st, 0);
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

int bates_store_assign(struct db *db, const char *matter, int64_t first, int64_t max,
		       const int64_t *ids, size_t n, int64_t now, int64_t *numbers,
		       size_t *new_r, struct pv_error *err)
{
	struct db_stmt *get = NULL, *put = NULL;
	int64_t next;
	size_t fresh = 0;
	int r;

	/* Two writers numbering at once would hand out the same number:
	 * the caller's db_begin makes them queue (on both engines). */
	if (!db_in_transaction(db))
		return pv_fail(err, PV_ERR, "Bates numbers are assigned inside a write transaction");
	if ((r = next_free(db, matter, first, &next, err)) < 0)
		return r;
	if ((r = db_prepare(db, "SELECT number FROM export_bates WHERE matter = ?"
				" AND message_id = ?", &get, err)) < 0 ||
	    (r = db_prepare(db, "INSERT INTO export_bates (matter, message_id, number,"
				" assigned_at) VALUES (?, ?, ?, ?)", &put, err)) < 0)
		goto out;
	db_bind_text(get, 1, matter, -1);
	db_bind_text(put, 1, matter, -1);
	for (size_t i = 0; i < n; i++) {
		db_bind_int64(get, 2, ids[i]);
		int rc = db_step(get, err);
		if (rc == DB_ROW)
			numbers[i] = db_column_int64(get, 0);
		db_reset(get);
		if (rc == DB_ROW)
			continue;
		if (rc < 0) {
			r = rc;
			goto out;
		}
		if (next > max) {
			r = pv_fail(err, PV_ELIMIT, "matter '%s' has run out of Bates numbers", matter);
			goto out;
		}
		numbers[i] = next++;
		db_bind_int64(put, 2, ids[i]);
		db_bind_int64(put, 3, numbers[i]);
		db_bind_int64(put, 4, now);
		rc = db_step(put, err);
		db_reset(put);
		if (rc < 0) {
			r = rc;
			goto out;
		}
		fresh++;
	}
	if (new_r != NULL)
		*new_r = fresh;
out:
	db_finalize(&get);
	db_finalize(&put);
	return r;
}

int bates_store_lookup(struct db *db, const char *matter, int64_t id, int64_t *number_r,
		       struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT number FROM export_bates WHERE matter = ?"
			       " AND message_id = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, matter, -1);
	db_bind_int64(st, 2, id);
	int rc = db_step(st, err);
	*number_r = rc == DB_ROW ? db_column_int64(st, 0) : -1;
	if (rc < 0)
		r = rc;
	db_finalize(&st);
	return r;
}

int bates_store_disposed(struct db *db, const char *matter, bates_store_disposed_fn fn, void *ctx,
			 struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT b.message_id, b.number FROM export_bates b"
			       " JOIN messages m ON m.id = b.message_id"
			       " WHERE b.matter = ? AND m.disposed_at IS NOT NULL"
			       " ORDER BY b.message_id", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, matter, -1);
	int rc = DB_DONE;
	while (r == 0 && (rc = db_step(st, err)) == DB_ROW)
		r = fn(ctx, db_column_int64(st, 0), db_column_int64(st, 1));
	if (r == 0 && rc < 0)
		r = rc;
	db_finalize(&st);
	return r;
}
