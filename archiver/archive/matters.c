#include "archiver/archive/matters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/search.h"
#include "archiver/lib/log.h"
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

static void copy_col(char *dst, size_t n, struct db_stmt *st, int col)
{
	const char *t = db_column_text(st, col);
	snprintf(dst, n, "%s", t ? t : "");
}

/* The matter columns and its counts, for SELECT ... FROM matters m. */
#define MATTER_COLUMNS                                                                          \
	"m.id, m.name, m.description, m.created_at, m.created_by,"                              \
	" (SELECT count(*) FROM matter_searches s WHERE s.matter_id = m.id),"                   \
	" (SELECT count(*) FROM holds h WHERE h.name = m.name OR h.name IN"                     \
	"   (SELECT hold_name FROM matter_holds l WHERE l.matter_id = m.id)),"                  \
	" (SELECT count(*) FROM export_jobs e WHERE e.matter = m.name)"

static void matter_row(struct db_stmt *st, struct matter *m)
{
	memset(m, 0, sizeof(*m));
	m->id = db_column_int64(st, 0);
	copy_col(m->name, sizeof(m->name), st, 1);
	copy_col(m->description, sizeof(m->description), st, 2);
	m->created_at = db_column_int64(st, 3);
	copy_col(m->created_by, sizeof(m->created_by), st, 4);
	m->searches = db_column_int64(st, 5);
	m->holds = db_column_int64(st, 6);
	m->exports = db_column_int64(st, 7);
}

int archive_matter_get(struct archive *ar, const char *name, struct matter *m_r,
		       struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(ar->cat->conn, "SELECT " MATTER_COLUMNS " FROM matters m"
					  " WHERE m.name = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, name, -1);
	int rc = db_step(st, err);
	if (rc == DB_ROW)
		matter_row(st, m_r);
	else if (rc < 0)
		r = rc;
	else
		r = pv_fail(err, PV_ENOTFOUND, "no matter named '%s'", name);
	db_finalize(&st);
	return r;
}

int archive_matter_each(struct archive *ar, int (*fn)(void *ctx, const struct matter *m),
			void *ctx, struct pv_error *err)
{
	struct db_stmt *st;
	struct matter *m = malloc(sizeof(*m));
	int r = m ? db_prepare(ar->cat->conn, "SELECT " MATTER_COLUMNS " FROM matters m"
					      " ORDER BY m.name", &st, err)
		  : pv_fail(err, PV_ERR, "out of memory");
	if (r < 0) {
		free(m);
		return r;
	}
	int rc = DB_DONE;
	while (r == PV_OK && (rc = db_step(st, err)) == DB_ROW) {
		matter_row(st, m);
		r = fn(ctx, m);
	}
	if (r == PV_OK && rc < 0)
		r = rc;
	db_finalize(&st);
	free(m);
	return r;
}

/* Runs one INSERT ... ON CONFLICT DO NOTHING RETURNING (params bound)
 * inside the open transaction and finalizes it: PV_EEXISTS when no row
 * came back (the name is taken); *id_r (may be NULL) gets the row's. */
static int insert(struct db_stmt **st, const char *what, const char *name, int64_t *id_r,
		  struct pv_error *err)
{
	int rc = db_step(*st, err), r = PV_OK;
	if (rc == DB_ROW && id_r != NULL)
		*id_r = db_column_int64(*st, 0);
	else if (rc == DB_DONE)
		r = pv_fail(err, PV_EEXISTS, "%s named '%s' exists", what, name);
	else if (rc < 0)
		r = rc;
	db_finalize(st);
	return r;
}

int archive_matter_create(struct archive *ar, const char *actor, const char *name,
			  const char *description, int64_t now, struct matter *m_r,
			  struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct db_stmt *st;
	char *personal = NULL;
	int64_t id = 0;
	int r;

	if (description == NULL)
		description = "";
	if ((r = matter_name_check("a matter", name, PV_MATTER_NAME_MAX, err)) < 0)
		return r;
	if (strlen(description) > PV_MATTER_DESCRIPTION_MAX || !plain_text(description, false))
		return pv_fail(err, PV_EUSAGE, "a description is at most %d bytes of one-line text",
			       PV_MATTER_DESCRIPTION_MAX);
	if ((r = db_begin(db, err)) < 0)
		return r;
	if ((r = db_prepare(db, "INSERT INTO matters (name, description, created_at, created_by)"
				" VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id", &st,
			    err)) < 0)
		goto out;
	db_bind_text(st, 1, name, -1);
	db_bind_text(st, 2, description, -1);
	db_bind_int64(st, 3, now);
	db_bind_text(st, 4, actor, -1);
	if ((r = insert(&st, "a matter", name, &id, err)) < 0)
		goto out;
	if (asprintf(&personal, "matter: %s\ndescription: %s", name, description) < 0) {
		personal = NULL;
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	if ((r = archive_auditf(ar, actor, AUDIT_MATTER, "ok", personal, err, "matter=%lld",
				(long long)id)) < 0 ||
	    (r = db_commit(db, err)) < 0)
		goto out;
	free(personal);
	return m_r ? archive_matter_get(ar, name, m_r, err) : PV_OK;
out:
	db_rollback(db);
	free(personal);
	return r;
}

int archive_matter_search_add(struct archive *ar, const char *actor, const char *matter,
			      const char *name, const char *query, int64_t now,
			      struct matter_search *s_r, struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct db_stmt *st;
	struct matter m;
	char *personal = NULL;
	int r;

	if ((r = matter_name_check("a search", name, PV_MATTER_SEARCH_NAME_MAX, err)) < 0 ||
	    (r = archive_search_check(query, NULL, err)) < 0 ||
	    (r = db_begin(db, err)) < 0)
		return r;
	if ((r = archive_matter_get(ar, matter, &m, err)) < 0 ||
	    (r = db_prepare(db, "INSERT INTO matter_searches (matter_id, name, query,"
				" created_at, created_by) VALUES (?, ?, ?, ?, ?)"
				" ON CONFLICT DO NOTHING RETURNING matter_id", &st, err)) < 0)
		goto out;
	db_bind_int64(st, 1, m.id);
	db_bind_text(st, 2, name, -1);
	db_bind_text(st, 3, query, -1);
	db_bind_int64(st, 4, now);
	db_bind_text(st, 5, actor, -1);
	if ((r = insert(&st, "a saved search", name, NULL, err)) < 0)
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
	    (r = db_commit(db, err)) < 0)
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
	db_rollback(db);
	free(personal);
	return r;
}

int archive_matter_searches(struct archive *ar, const struct matter *m,
			    int (*fn)(void *ctx, const struct matter_search *s), void *ctx,
			    struct pv_error *err)
{
	struct db_stmt *st;
	struct matter_search *s = malloc(sizeof(*s));
	int r = s ? db_prepare(ar->cat->conn, "SELECT name, query, created_at, created_by FROM"
					      " matter_searches WHERE matter_id = ? ORDER BY name",
			       &st, err)
		  : pv_fail(err, PV_ERR, "out of memory");
	if (r < 0) {
		free(s);
		return r;
	}
	db_bind_int64(st, 1, m->id);
	int rc = DB_DONE;
	while (r == PV_OK && (rc = db_step(st, err)) == DB_ROW) {
		memset(s, 0, sizeof(*s));
		copy_col(s->name, sizeof(s->name), st, 0);
		copy_col(s->query, sizeof(s->query), st, 1);
		s->created_at = db_column_int64(st, 2);
		copy_col(s->created_by, sizeof(s->created_by), st, 3);
		r = fn(ctx, s);
	}
	if (r == PV_OK && rc < 0)
		r = rc;
	db_finalize(&st);
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
	struct db_stmt *st;
	/* its own name first, then the matter it was placed for */
	int r = db_prepare(ar->cat->conn,
			   "SELECT name, 0 FROM matters WHERE name = ?1 UNION ALL"
			   " SELECT m.name, 1 FROM matter_holds l JOIN matters m"
			   " ON m.id = l.matter_id WHERE l.hold_name = ?1 ORDER BY 2 LIMIT 1",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, hold_name, -1);
	out[0] = '\0';
	int rc = db_step(st, err);
	if (rc == DB_ROW)
		copy_col(out, n, st, 0);
	else if (rc < 0)
		r = rc;
	db_finalize(&st);
	return r;
}

int archive_matter_hold_add(struct archive *ar, const char *actor, const char *matter,
			    const char *name, const char *query, const char *note, int64_t now,
			    int64_t *members_r, struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct matter m;
	struct db_stmt *st;
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
		if ((r = db_prepare(db, "INSERT INTO matter_holds (matter_id, hold_name)"
					" VALUES (?, ?) ON CONFLICT DO NOTHING", &st, err)) < 0)
			return r;
		db_bind_int64(st, 1, m.id);
		db_bind_text(st, 2, name, -1);
		int rc = db_step(st, err);
		linked = rc == DB_DONE && db_changes(st) > 0;
		db_finalize(&st);
		if (rc < 0)
			return rc;
	}
	r = hold_add(ar, name, query, note, actor, now, members_r, err);
	if (r < 0 && linked &&
	    db_prepare(db, "DELETE FROM matter_holds WHERE matter_id = ? AND hold_name = ?", &st,
		       NULL) == PV_OK) {
		db_bind_int64(st, 1, m.id);
		db_bind_text(st, 2, name, -1);
		if (db_step(st, NULL) < 0) /* best effort: the link only names the matter */
			pv_log(PV_LOG_WARN, "matter", "matter %lld keeps a link to hold '%s' that "
			       "was not placed", (long long)m.id, name);
		db_finalize(&st);
	}
	return r;
}
