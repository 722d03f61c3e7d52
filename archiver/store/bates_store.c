#include "archiver/store/bates_store.h"

#include <stdio.h>

#include "archiver/store/catalog.h"

int bates_store_matter_get(sqlite3 *db, const char *matter, char *prefix_r, size_t prefix_cap,
			   int64_t *start_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT bates_prefix, bates_start FROM export_matters"
				    " WHERE name = ?", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, matter, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(prefix_r, prefix_cap, "%s", (const char *)sqlite3_column_text(st, 0));
		*start_r = sqlite3_column_int64(st, 1);
	} else if (rc == SQLITE_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "no matter '%s'", matter);
	} else {
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return r;
}

int bates_store_matter_add(sqlite3 *db, const char *matter, const char *prefix, int64_t start,
			   const char *actor, int64_t now, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "INSERT INTO export_matters (name, bates_prefix, bates_start,"
				    " created_at, actor) VALUES (?, ?, ?, ?, ?)", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, matter, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, start);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_text(st, 5, actor, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

int bates_store_assign(sqlite3 *db, const char *matter, int64_t first, int64_t max,
		       const int64_t *ids, size_t n, int64_t now, int64_t *numbers,
		       size_t *new_r, struct pv_error *err)
{
	sqlite3_stmt *get = NULL, *put = NULL;
	int64_t next = first;
	size_t fresh = 0;
	int r;

	if ((r = catalog_prepare(db, "SELECT max(number) + 1 FROM export_bates WHERE matter = ?",
				 &get, err)) < 0)
		return r;
	sqlite3_bind_text(get, 1, matter, -1, SQLITE_STATIC);
	if (sqlite3_step(get) == SQLITE_ROW && sqlite3_column_type(get, 0) != SQLITE_NULL &&
	    sqlite3_column_int64(get, 0) > next)
		next = sqlite3_column_int64(get, 0);
	sqlite3_finalize(get);
	get = NULL;
	if ((r = catalog_prepare(db, "SELECT number FROM export_bates WHERE matter = ?"
				     " AND message_id = ?", &get, err)) < 0 ||
	    (r = catalog_prepare(db, "INSERT INTO export_bates (matter, message_id, number,"
				     " assigned_at) VALUES (?, ?, ?, ?)", &put, err)) < 0)
		goto out;
	sqlite3_bind_text(get, 1, matter, -1, SQLITE_STATIC);
	sqlite3_bind_text(put, 1, matter, -1, SQLITE_STATIC);
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(get, 2, ids[i]);
		int rc = sqlite3_step(get);
		if (rc == SQLITE_ROW) {
			numbers[i] = sqlite3_column_int64(get, 0);
			sqlite3_reset(get);
			continue;
		}
		sqlite3_reset(get);
		if (rc != SQLITE_DONE) {
			r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
			goto out;
		}
		if (next > max) {
			r = pv_fail(err, PV_ELIMIT, "matter '%s' has run out of Bates numbers", matter);
			goto out;
		}
		numbers[i] = next++;
		sqlite3_bind_int64(put, 2, ids[i]);
		sqlite3_bind_int64(put, 3, numbers[i]);
		sqlite3_bind_int64(put, 4, now);
		rc = sqlite3_step(put);
		sqlite3_reset(put);
		if (rc != SQLITE_DONE) {
			r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
			goto out;
		}
		fresh++;
	}
	if (new_r != NULL)
		*new_r = fresh;
out:
	sqlite3_finalize(get);
	sqlite3_finalize(put);
	return r;
}

int bates_store_lookup(sqlite3 *db, const char *matter, int64_t id, int64_t *number_r,
		       struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT number FROM export_bates WHERE matter = ?"
				    " AND message_id = ?", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, matter, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	int rc = sqlite3_step(st);
	*number_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

int bates_store_disposed(sqlite3 *db, const char *matter, bates_store_disposed_fn fn, void *ctx,
			 struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT b.message_id, b.number FROM export_bates b"
				    " JOIN messages m ON m.id = b.message_id"
				    " WHERE b.matter = ? AND m.disposed_at IS NOT NULL"
				    " ORDER BY b.message_id", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, matter, -1, SQLITE_STATIC);
	int rc = SQLITE_DONE;
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		r = fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
	if (r == 0 && rc != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}
