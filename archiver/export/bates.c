#include "archiver/export/bates.h"

#include <stdio.h>
#include <string.h>

#include "archiver/lib/utf8.h"
#include "archiver/store/catalog.h"

static bool alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool bates_prefix_valid(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > PV_EXPORT_BATES_PREFIX_MAX || !alnum(p[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!alnum(p[i]) && strchr("._-", p[i]) == NULL)
			return false;
	return true;
}

bool bates_matter_valid(const char *name)
{
	size_t n = strlen(name);
	if (n > PV_EXPORT_MATTER_MAX || !pv_utf8_valid((const unsigned char *)name, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

void bates_format(const char *prefix, int64_t number, char out[BATES_LEN_MAX + 1])
{
	snprintf(out, BATES_LEN_MAX + 1, "%s%0*lld", prefix, BATES_DIGITS, (long long)number);
}

int bates_matter_open(sqlite3 *db, const char *matter, const char *prefix, int64_t start,
		      const char *actor, int64_t now, struct bates_matter *m, struct pv_error *err)
{
	sqlite3_stmt *st = NULL;
	int r;
	memset(m, 0, sizeof(*m));
	if (!bates_matter_valid(matter))
		return pv_fail(err, PV_EUSAGE, "a matter name is at most %d bytes of UTF-8 text "
					       "without control characters", PV_EXPORT_MATTER_MAX);
	if (prefix != NULL && !bates_prefix_valid(prefix))
		return pv_fail(err, PV_EUSAGE,
			       "Bates prefix '%s': 1 to %d letters, digits, '.', '_' or '-', "
			       "starting with a letter or digit", prefix, PV_EXPORT_BATES_PREFIX_MAX);
	if (start > PV_EXPORT_BATES_NUMBER_MAX)
		return pv_fail(err, PV_EUSAGE, "--bates-start is at most %lld",
			       (long long)PV_EXPORT_BATES_NUMBER_MAX);
	snprintf(m->name, sizeof(m->name), "%s", matter);
	if ((r = catalog_prepare(db, "SELECT bates_prefix, bates_start FROM export_matters"
				     " WHERE name = ?", &st, err)) < 0)
		return r;
	sqlite3_bind_text(st, 1, matter, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(m->prefix, sizeof(m->prefix), "%s", (const char *)sqlite3_column_text(st, 0));
		m->start = sqlite3_column_int64(st, 1);
		sqlite3_finalize(st);
		if (prefix != NULL && strcmp(prefix, m->prefix) != 0)
			return pv_fail(err, PV_EUSAGE,
				       "matter '%s' is numbered with Bates prefix '%s' since its first "
				       "export; its numbers cannot change", matter, m->prefix);
		if (start >= 0 && start != m->start)
			return pv_fail(err, PV_EUSAGE,
				       "matter '%s' started its Bates numbers at %lld at its first "
				       "export; its numbers cannot change", matter, (long long)m->start);
		return 0;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	snprintf(m->prefix, sizeof(m->prefix), "%s", prefix ? prefix : BATES_DEFAULT_PREFIX);
	m->start = start >= 0 ? start : BATES_DEFAULT_START;
	m->created = true;
	if ((r = catalog_prepare(db, "INSERT INTO export_matters (name, bates_prefix, bates_start,"
				     " created_at, actor) VALUES (?, ?, ?, ?, ?)", &st, err)) < 0)
		return r;
	sqlite3_bind_text(st, 1, m->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, m->prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, m->start);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_text(st, 5, actor, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	return 0;
}

int bates_assign(sqlite3 *db, const struct bates_matter *m, const int64_t *ids, size_t n,
		 int64_t now, int64_t *numbers, size_t *new_r, struct pv_error *err)
{
	sqlite3_stmt *get = NULL, *put = NULL;
	int64_t next = m->start;
	size_t fresh = 0;
	int r;

	if ((r = catalog_prepare(db, "SELECT max(number) + 1 FROM export_bates WHERE matter = ?",
				 &get, err)) < 0)
		return r;
	sqlite3_bind_text(get, 1, m->name, -1, SQLITE_STATIC);
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
	sqlite3_bind_text(get, 1, m->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(put, 1, m->name, -1, SQLITE_STATIC);
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
		if (next > PV_EXPORT_BATES_NUMBER_MAX) {
			r = pv_fail(err, PV_ELIMIT, "matter '%s' has run out of Bates numbers", m->name);
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

int bates_lookup(sqlite3 *db, const struct bates_matter *m, int64_t id, int64_t *number_r,
		 struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT number FROM export_bates WHERE matter = ?"
				    " AND message_id = ?", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, m->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	int rc = sqlite3_step(st);
	*number_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

int bates_disposed(sqlite3 *db, const struct bates_matter *m, bates_disposed_fn fn, void *ctx,
		   struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT b.message_id, b.number FROM export_bates b"
				    " JOIN messages m ON m.id = b.message_id"
				    " WHERE b.matter = ? AND m.disposed_at IS NOT NULL"
				    " ORDER BY b.message_id", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, m->name, -1, SQLITE_STATIC);
	int rc;
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		r = fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
	if (r == 0 && rc != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}
