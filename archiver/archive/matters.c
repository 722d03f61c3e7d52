#include "archiver/archive/matters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/search.h"
#include "archiver/lib/utf8.h"

/* One line of text a person reads: UTF-8 without controls or bidi
 * controls (and without '/' and '\' when it is a path segment). */
static bool plain_text(const char *s, bool segment)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), k;
	uint32_t cp;
	for (size_t i = 0; i < len; i += k)
		if ((k = pv_utf8_decode(p + i, len - i, &cp)) == 0 || cp < 0x20 ||
		    (cp >= 0x7F && cp < 0xA0) || pv_utf8_is_bidi_control(cp) ||
		    (segment && (cp == '/' || cp == '\\')))
			return false;
	return true;
}

int matter_name_check(const char *what, const char *name, size_t max, struct pv_error *err)
{
	size_t n = strlen(name);
	if (n == 0 || n > max || name[0] == ' ' || name[n - 1] == ' ' || !plain_text(name, true) ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return pv_fail(err, PV_EUSAGE,
			       "%s name is 1-%zu bytes of text without control characters, bidi "
			       "controls, '/', '\\' or surrounding spaces", what, max);
	return PV_OK;
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static int db_fail(sqlite3 *db, struct pv_error *err)
{
	return pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
}

/* The matter columns and its counts, for SELECT ... FROM matters m. */
#define MATTER_COLUMNS                                                                          \
	"m.id, m.name, m.description, m.created_at, m.created_by,"                              \
	" (SELECT count(*) FROM matter_searches s WHERE s.matter_id = m.id),"                   \
	" (SELECT count(*) FROM holds h WHERE h.name = m.name OR h.name IN"                     \
	"   (SELECT hold_name FROM matter_holds l WHERE l.matter_id = m.id)),"                  \
	" (SELECT count(*) FROM export_jobs e WHERE e.matter = m.name)"

static void matter_row(sqlite3_stmt *st, struct matter *m)
{
	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(st, 0);
	copy_col(m->name, sizeof(m->name), st, 1);
	copy_col(m->description, sizeof(m->description), st, 2);
	m->created_at = sqlite3_column_int64(st, 3);
	copy_col(m->created_by, sizeof(m->created_by), st, 4);
	m->searches = sqlite3_column_int64(st, 5);
	m->holds = sqlite3_column_int64(st, 6);
	m->exports = sqlite3_column_int64(st, 7);
}

int archive_matter_get(struct archive *ar, const char *name, struct matter *m_r,
		       struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT " MATTER_COLUMNS " FROM matters m WHERE m.name = ?", &st,
				err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		matter_row(st, m_r);
	else if (rc == SQLITE_DONE)
		r = pv_fail(err, PV_ENOTFOUND, "no matter named '%s'", name);
	else
		r = db_fail(db, err);
	sqlite3_finalize(st);
	return r;
}

int archive_matter_each(struct archive *ar, int (*fn)(void *ctx, const struct matter *m),
			void *ctx, struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	struct matter *m = malloc(sizeof(*m));
	int r = m ? catalog_prepare(db, "SELECT " MATTER_COLUMNS " FROM matters m ORDER BY m.name",
				    &st, err)
		  : pv_fail(err, PV_ERR, "out of memory");
	if (r < 0) {
		free(m);
		return r;
	}
	int rc;
	while (r == PV_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		matter_row(st, m);
		r = fn(ctx, m);
	}
	if (r == PV_OK && rc != SQLITE_DONE)
		r = db_fail(db, err);
	sqlite3_finalize(st);
	free(m);
	return r;
}

/* Runs one INSERT (params bound by bind) inside the open transaction:
 * PV_EEXISTS on a unique key. */
static int insert(sqlite3 *db, sqlite3_stmt *st, const char *what, const char *name,
		  struct pv_error *err)
{
	int rc = sqlite3_step(st), r = PV_OK;
	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		r = pv_fail(err, PV_EEXISTS, "%s named '%s' exists", what, name);
	else if (rc != SQLITE_DONE)
		r = db_fail(db, err);
	sqlite3_finalize(st);
	return r;
}

int archive_matter_create(struct archive *ar, const char *actor, const char *name,
			  const char *description, int64_t now, struct matter *m_r,
			  struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	char *personal = NULL;
	int r;

	if (description == NULL)
		description = "";
	if ((r = matter_name_check("a matter", name, PV_MATTER_NAME_MAX, err)) < 0)
		return r;
	if (strlen(description) > PV_MATTER_DESCRIPTION_MAX || !plain_text(description, false))
		return pv_fail(err, PV_EUSAGE, "a description is at most %d bytes of one-line text",
			       PV_MATTER_DESCRIPTION_MAX);
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = catalog_prepare(db, "INSERT INTO matters (name, description, created_at, created_by)"
				     " VALUES (?, ?, ?, ?)", &st, err)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, description, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_text(st, 4, actor, -1, SQLITE_STATIC);
	if ((r = insert(db, st, "a matter", name, err)) < 0)
		goto out;
	int64_t id = sqlite3_last_insert_rowid(db);
	if (asprintf(&personal, "matter: %s\ndescription: %s", name, description) < 0) {
		personal = NULL;
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	if ((r = archive_auditf(ar, actor, AUDIT_MATTER, "ok", personal, err, "matter=%lld",
				(long long)id)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		goto out;
	free(personal);
	return m_r ? archive_matter_get(ar, name, m_r, err) : PV_OK;
out:
	catalog_rollback(ar->cat);
	free(personal);
	return r;
}

int archive_matter_search_add(struct archive *ar, const char *actor, const char *matter,
			      const char *name, const char *query, int64_t now,
			      struct matter_search *s_r, struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	struct matter m;
	char *personal = NULL;
	int r;

	if ((r = matter_name_check("a search", name, PV_MATTER_SEARCH_NAME_MAX, err)) < 0 ||
	    (r = archive_search_check(query, NULL, err)) < 0 ||
	    (r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = archive_matter_get(ar, matter, &m, err)) < 0 ||
	    (r = catalog_prepare(db, "INSERT INTO matter_searches (matter_id, name, query,"
				     " created_at, created_by) VALUES (?, ?, ?, ?, ?)", &st, err)) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, m.id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, query, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_text(st, 5, actor, -1, SQLITE_STATIC);
	if ((r = insert(db, st, "a saved search", name, err)) < 0)
		goto out;
	if (asprintf(&personal, "matter: %s\nsearch: %s\nquery: %s", matter, name, query) < 0) {
		personal = NULL;
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	/* the object names the search by its position, not its (personal) name */
	if ((r = archive_auditf(ar, actor, AUDIT_MATTER, "ok", personal, err,
				"matter=%lld search=%lld", (long long)m.id,
				(long long)m.searches + 1)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		goto out;
	free(personal);
	if (s_r != NULL) {
		memset(s_r, 0, sizeof(*s_r));
		snprintf(s_r->name, sizeof(s_r->name), "%s", name);
		snprintf(s_r->query, sizeof(s_r->query), "%s", query);
		s_r->created_at = now;
		snprintf(s_r->created_by, sizeof(s_r->created_by), "%s", actor);
	}
	return PV_OK;
out:
	catalog_rollback(ar->cat);
	free(personal);
	return r;
}

int archive_matter_searches(struct archive *ar, const struct matter *m,
			    int (*fn)(void *ctx, const struct matter_search *s), void *ctx,
			    struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	struct matter_search *s = malloc(sizeof(*s));
	int r = s ? catalog_prepare(db, "SELECT name, query, created_at, created_by FROM"
					" matter_searches WHERE matter_id = ? ORDER BY name", &st, err)
		  : pv_fail(err, PV_ERR, "out of memory");
	if (r < 0) {
		free(s);
		return r;
	}
	sqlite3_bind_int64(st, 1, m->id);
	int rc;
	while (r == PV_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(s, 0, sizeof(*s));
		copy_col(s->name, sizeof(s->name), st, 0);
		copy_col(s->query, sizeof(s->query), st, 1);
		s->created_at = sqlite3_column_int64(st, 2);
		copy_col(s->created_by, sizeof(s->created_by), st, 3);
		r = fn(ctx, s);
	}
	if (r == PV_OK && rc != SQLITE_DONE)
		r = db_fail(db, err);
	sqlite3_finalize(st);
	free(s);
	return r;
}

/* hold_each's rows of one matter. */
struct of_matter {
	struct archive *ar;
	const struct matter *m;
	int (*fn)(void *ctx, const struct hold *h);
	void *ctx;
	struct pv_error *err;
};

static int hold_of_matter(void *ctx, const struct hold *h)
{
	struct of_matter *o = ctx;
	char owner[PV_MATTER_NAME_MAX + 1];
	int r = archive_matter_of_hold(o->ar, h->name, owner, sizeof(owner), o->err);
	if (r < 0)
		return r;
	return strcmp(owner, o->m->name) == 0 ? o->fn(o->ctx, h) : 0;
}

int archive_matter_holds(struct archive *ar, const struct matter *m,
			 int (*fn)(void *ctx, const struct hold *h), void *ctx,
			 struct pv_error *err)
{
	struct of_matter o = {ar, m, fn, ctx, err};
	return hold_each(ar, true, hold_of_matter, &o, err);
}

int archive_matter_of_hold(struct archive *ar, const char *hold_name, char *out, size_t n,
			   struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	/* its own name first, then the matter it was placed for */
	int r = catalog_prepare(db, "SELECT name, 0 FROM matters WHERE name = ?1 UNION ALL"
				    " SELECT m.name, 1 FROM matter_holds l JOIN matters m"
				    " ON m.id = l.matter_id WHERE l.hold_name = ?1 ORDER BY 2 LIMIT 1",
				&st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, hold_name, -1, SQLITE_STATIC);
	out[0] = '\0';
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		copy_col(out, n, st, 0);
	else if (rc != SQLITE_DONE)
		r = db_fail(db, err);
	sqlite3_finalize(st);
	return r;
}

int archive_matter_hold_add(struct archive *ar, const char *actor, const char *matter,
			    const char *name, const char *query, const char *note, int64_t now,
			    int64_t *members_r, struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	struct matter m;
	sqlite3_stmt *st;
	bool linked = false;
	int r;

	if (matter == NULL)
		return hold_add(ar, name, query, note, actor, now, members_r, err);
	if ((r = archive_matter_get(ar, matter, &m, err)) < 0 ||
	    (r = hold_validate(name, query, note, err)) < 0)
		return r;
	/* The link first (hold_add has its own transaction); taken back if
	 * the hold is not placed. */
	if (strcmp(name, m.name) != 0) {
		if ((r = catalog_prepare(db, "INSERT OR IGNORE INTO matter_holds (matter_id, hold_name)"
					     " VALUES (?, ?)", &st, err)) < 0)
			return r;
		sqlite3_bind_int64(st, 1, m.id);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = db_fail(db, err);
		linked = sqlite3_changes(db) > 0;
		sqlite3_finalize(st);
		if (r < 0)
			return r;
	}
	r = hold_add(ar, name, query, note, actor, now, members_r, err);
	if (r < 0 && linked &&
	    catalog_prepare(db, "DELETE FROM matter_holds WHERE matter_id = ? AND hold_name = ?",
			    &st, NULL) == PV_OK) {
		sqlite3_bind_int64(st, 1, m.id);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		(void)sqlite3_step(st);
		sqlite3_finalize(st);
	}
	return r;
}
