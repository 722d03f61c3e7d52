#ifndef PV_ARCHIVE_USERS_H
#define PV_ARCHIVE_USERS_H

/* Managing web users (store/users.h): `popvault user` and the web API's
 * /api/v1/users call these. Each change is audited inside, in the same
 * transaction as the change: the entry and the change land together or
 * not at all (a failed append changes nothing). Listing is not audited. */

#include <stdbool.h>

#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"
#include "archiver/store/users.h"

/* Adds user name with role and password (user_validate checks both name
 * and role first), or, when an active user has the name and replace is
 * set, changes its role and password. Audited as "user-add" or
 * "user-change" ("user=NAME role=ROLE"); *changed_r (may be NULL) says
 * which. The password is only hashed; the caller wipes its copy. */
int archive_user_add(struct archive *ar, const char *actor, const char *name, const char *role,
		     const char *password, bool replace, bool *changed_r, struct pv_error *err);

/* Retires the active user name ("user-remove"); PV_ENOTFOUND if none. */
int archive_user_remove(struct archive *ar, const char *actor, const char *name,
			struct pv_error *err);

/* Calls fn for every active user in name order (a non-zero return stops). */
int archive_user_list(struct archive *ar, int (*fn)(void *ctx, const struct user *u), void *ctx,
		      struct pv_error *err);

#endif
