#include "archiver/archive/users.h"

#include "archiver/archive/audit_hook.h"
#include "archiver/lib/clock.h"

int archive_user_add(struct archive *ar, const char *actor, const char *name, const char *role,
		     const char *password, bool replace, bool *changed_r, struct pv_error *err)
{
	bool changed = false;
	int r;
	if ((r = user_validate(name, role, err)) < 0 || (r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = user_set(ar->cat->db, name, role, password, replace, pv_clock_now(), &changed,
			  err)) < 0 ||
	    (r = archive_auditf(ar, actor, changed ? AUDIT_USER_CHANGE : AUDIT_USER_ADD, "ok", NULL,
				err, "user=%s role=%s", name, role)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
	if (r == PV_OK && changed_r != NULL)
		*changed_r = changed;
	return r;
}

int archive_user_remove(struct archive *ar, const char *actor, const char *name,
			struct pv_error *err)
{
	int r;
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = user_retire(ar->cat->db, name, pv_clock_now(), err)) < 0 ||
	    (r = archive_auditf(ar, actor, AUDIT_USER_REMOVE, "ok", NULL, err, "user=%s", name)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
	return r;
}

int archive_user_list(struct archive *ar, int (*fn)(void *ctx, const struct user *u), void *ctx,
		      struct pv_error *err)
{
	return user_each(ar->cat->db, fn, ctx, err);
}
