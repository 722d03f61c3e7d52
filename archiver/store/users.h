#ifndef PV_USERS_H
#define PV_USERS_H

/* Web users: a name, one role (admin, legal, compliance: DESIGN.md §8) and
 * an Argon2id password hash. Passwords are never stored, printed or
 * logged; they are wiped as soon as they are hashed. */

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"

#define USER_NAME_MAX 64
/* Below this a password is refused: it would fall to an offline guess. */
#define USER_PASSWORD_MIN 12

struct user {
	int64_t id;
	char name[USER_NAME_MAX + 1];
	char role[16];
	int64_t created_at, changed_at; /* changed_at 0: never */
};

/* Checks a name ([A-Za-z0-9._@-], 1..USER_NAME_MAX) and a role. */
int user_validate(const char *name, const char *role, struct pv_error *err);
/* Adds a user, or (when an active one has the name and replace is set)
 * changes its role and password. *changed_r tells which happened. */
int user_set(sqlite3 *db, const char *name, const char *role, const char *password, bool replace,
	     int64_t now, bool *changed_r, struct pv_error *err);
/* Retires a user; PV_ENOTFOUND when there is no active one. */
int user_retire(sqlite3 *db, const char *name, int64_t now, struct pv_error *err);
/* Active users in name order. */
int user_each(sqlite3 *db, int (*fn)(void *ctx, const struct user *u), void *ctx,
	      struct pv_error *err);
/* Checks a password (constant time); PV_EAUTH when wrong or no such user.
 * For the web sign-in. */
int user_check_password(sqlite3 *db, const char *name, const char *password, struct user *u_r,
			struct pv_error *err) PV_WARN_UNUSED;

#endif
