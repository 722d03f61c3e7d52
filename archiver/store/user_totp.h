#ifndef PV_USER_TOTP_H
#define PV_USER_TOTP_H

/* The second factor of web users (archiver/lib/totp.h, RFC 6238): each
 * user's secret sealed under the data directory's secrets key (so the
 * catalog alone does not hold it) and bound to the user's row (id and
 * name: moved to another user it does not open), the last time step
 * accepted (so a code works once), and the roles an admin requires it for.
 * Written against lib/db.h: runs on SQLite and PostgreSQL. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/totp.h"
#include "archiver/lib/db.h"
#include "archiver/store/keyring.h"
#include "archiver/store/users.h"

/* Gives active user `name` a fresh random secret (replacing any), returned
 * in secret_r to be shown once. PV_ENOTFOUND when there is no such user. */
int user_totp_enrol(struct db *db, struct keyring *kr, const char *name,
		    unsigned char secret_r[TOTP_SECRET_BYTES], struct pv_error *err);
/* Removes the second factor of `name` (and one being set up);
 * PV_ENOTFOUND when the user has neither. */
int user_totp_remove(struct db *db, const char *name, struct pv_error *err);

/* A second factor set up by its user, in two steps: begin gives active
 * user `name` a fresh secret kept aside (sealed, bound to the user's row
 * and to being set up), returned in secret_r to be shown once; any
 * enrolled one stays in force. A code from it (the caller checks it
 * against user_totp_pending_get's secret and claims its step) makes it
 * the user's second factor: user_totp_confirm. Nobody but the user ever
 * sees it. */
int user_totp_begin(struct db *db, struct keyring *kr, const char *name,
		    unsigned char secret_r[TOTP_SECRET_BYTES], struct pv_error *err);
/* Whether user_id has a secret being set up; if so, it (wipe it after
 * use). Its codes have no history: nothing of the steps taken applies. */
int user_totp_pending_get(struct db *db, struct keyring *kr, int64_t user_id, bool *pending_r,
			  unsigned char secret_r[TOTP_SECRET_BYTES], struct pv_error *err)
	PV_WARN_UNUSED;
/* secret (user_totp_pending_get's) becomes active user u's second factor,
 * replacing any, step (the code's that confirmed it) its last step taken;
 * nothing is left being set up. */
int user_totp_confirm(struct db *db, struct keyring *kr, const struct user *u,
		      const unsigned char secret[TOTP_SECRET_BYTES], uint64_t step,
		      struct pv_error *err);

/* Whether user_id has a second factor; if so its secret (wipe it after
 * use) and the last step accepted. */
int user_totp_get(struct db *db, struct keyring *kr, int64_t user_id, bool *enrolled_r,
		  unsigned char secret_r[TOTP_SECRET_BYTES], uint64_t *last_step_r,
		  struct pv_error *err) PV_WARN_UNUSED;
/* The one-time upgrade (store/datadir.c): every TOTP secret sealed in
 * format 1 (keyring.h) sealed again bound to its user. Inside the
 * caller's transaction; *changed_r: users rewritten. */
int user_totp_upgrade_secrets(struct db *db, struct keyring *kr, int *changed_r,
			      struct pv_error *err);
/* Records step as used, only if it is past the last one: PV_EAUTH when it
 * is not (the same code again, perhaps by a concurrent sign-in). */
int user_totp_claim_step(struct db *db, int64_t user_id, uint64_t step,
			 struct pv_error *err) PV_WARN_UNUSED;

/* The roles that must sign in with a second factor: a comma-separated
 * subset of admin,legal,compliance in that order ("" for none). */
#define USER_TOTP_ROLES_MAX 32
int user_totp_required_roles(struct db *db, char out[USER_TOTP_ROLES_MAX], struct pv_error *err);
/* Sets them from a comma-separated list ("none" or "" for none); PV_EUSAGE
 * for an unknown role. out_r (may be NULL) gets the normalised list. */
int user_totp_require(struct db *db, const char *roles, char out_r[USER_TOTP_ROLES_MAX],
		      struct pv_error *err);
/* Whether role is among them. */
int user_totp_role_required(struct db *db, const char *role, bool *required_r,
			    struct pv_error *err);

#endif
