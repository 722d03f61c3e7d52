#ifndef PV_ARCHIVE_USERS_H
#define PV_ARCHIVE_USERS_H

/* Managing web users (store/users.h): `popvault user` and the web API's
 * /api/v1/users call these. Each change is audited inside, in the same
 * transaction as the change: the entry and the change land together or
 * not at all (a failed append changes nothing). Listing is not audited. */

#include <stdbool.h>

#include "archiver/lib/error.h"
#include "audit/auditlog.h"
#include "archiver/lib/totp.h"
#include "archiver/store/datadir.h"
#include "archiver/store/user_totp.h"
#include "archiver/store/users.h"

/* Adds user name with role and password (user_validate checks both name
 * and role first), or, when an active user has the name and replace is
 * set, changes its role and password. Audited as "user-add" or
 * "user-change" ("user=NAME role=ROLE", " password=one-time" after it when
 * so); *changed_r (may be NULL) says which. The password is only hashed;
 * the caller wipes its copy.
 *
 * A password set by a web user for another is always one-time: it signs
 * in once, with a new password of the user's own choosing (nobody else
 * then knows it: an admin cannot read mail as a legal user without
 * taking their password away, which they notice). one_time asks for it
 * from the command line too. A legal or compliance user's account or
 * password set in the web also waits for a compliance officer's approval
 * (user_access.h), asked for in the same transaction; so does one of
 * those roles given (archive_user_set_role, archive_user_passwd
 * likewise). */
int archive_user_add(struct archive *ar, const char *actor, const char *name, const char *role,
		     const char *password, bool replace, bool one_time, bool *changed_r,
		     struct pv_error *err);

/* A new role and password for the active user name at once, as
 * archive_user_add with replace would set them, but never adding one
 * (PV_ENOTFOUND): one audit entry and one request for access. */
int archive_user_reset(struct archive *ar, const char *actor, const char *name, const char *role,
		       const char *password, struct pv_error *err);

/* Retires the active user name ("user-remove"); PV_ENOTFOUND if none. */
int archive_user_remove(struct archive *ar, const char *actor, const char *name,
			struct pv_error *err);

/* Calls fn for every active user in name order (a non-zero return stops). */
int archive_user_list(struct archive *ar, int (*fn)(void *ctx, const struct user *u), void *ctx,
		      struct pv_error *err);

/* The active user name (with whether a second factor is enrolled);
 * PV_ENOTFOUND when there is none. Not audited. */
int archive_user_get(struct archive *ar, const char *name, struct user *u_r,
		     struct pv_error *err);

/* A new password for the active user name ("user-change", "user=NAME
 * password=changed", or password=one-time as archive_user_add says); ends
 * their web sessions. PV_ENOTFOUND, or PV_EUSAGE for a password
 * user_password_check refuses. */
int archive_user_passwd(struct archive *ar, const char *actor, const char *name,
			const char *password, bool one_time, struct pv_error *err);

/* A user's own new password as part of their sign-in (archiver/http/auth.c):
 * audited as theirs, only while their changed_at is was_changed_at (the
 * sign-in's check of the old one), else PV_EAUTH: of two sign-ins with one
 * one-time password, one changes it. *u_r: the user as the change left
 * them (the session opens with it). */
int archive_user_passwd_own(struct archive *ar, const char *name, const char *password,
			    int64_t was_changed_at, struct user *u_r, struct pv_error *err);

/* A new role for the active user name ("user-change", "user=NAME
 * role=ROLE"); ends their web sessions. PV_ENOTFOUND, PV_EUSAGE. */
int archive_user_set_role(struct archive *ar, const char *actor, const char *name,
			  const char *role, struct pv_error *err);

/* A TOTP enrolment as shown once to the user: the key URI every
 * authenticator app reads (otpauth://totp/popvault:NAME?secret=...) and
 * the base32 secret. Wipe it (archive_totp_enrolment_wipe) once shown. */
#define ARCHIVE_TOTP_URI_MAX 512
struct archive_totp_enrolment {
	char uri[ARCHIVE_TOTP_URI_MAX];
	char secret[TOTP_SECRET_B32_LEN];
};
void archive_totp_enrolment_wipe(struct archive_totp_enrolment *e);

/* Gives the active user name a fresh second factor, replacing any
 * ("user-change", "user=NAME totp=enrolled"); *e_r gets it. PV_ENOTFOUND.
 * The command line's (root holds every key anyway); the web has only the
 * user's own set-up below. */
int archive_user_totp_enrol(struct archive *ar, const char *actor, const char *name,
			    struct archive_totp_enrolment *e_r, struct pv_error *err);

/* A second factor set up by its user (user_totp.h): a fresh secret kept
 * aside for active user name, shown once in *e_r ("user-change",
 * "user=NAME totp=setting-up"); any enrolled one stays in force until
 * archive_user_totp_confirm. */
int archive_user_totp_begin(struct archive *ar, const char *actor, const char *name,
			    struct archive_totp_enrolment *e_r, struct pv_error *err);
/* code, from the secret being set up, makes it name's second factor
 * ("user-change", "user=NAME totp=enrolled"; the code's step is the last
 * one taken: the steps the old one took do not count against a new
 * secret). PV_EAUTH for a wrong code, PV_ENOTFOUND when nothing is being
 * set up (a code confirms once: the secret set up goes with it). */
int archive_user_totp_confirm(struct archive *ar, const char *actor, const char *name,
			      const char *code, struct pv_error *err);
/* Removes it, and one being set up ("user-change", "user=NAME
 * totp=removed"): the user sets up a new one at their next sign-in when
 * their role needs one. PV_ENOTFOUND when the user has neither. */
int archive_user_totp_remove(struct archive *ar, const char *actor, const char *name,
			     struct pv_error *err);

/* The roles that must sign in with a second factor (user_totp.h's list:
 * "admin,compliance", "" for none). Not audited. */
int archive_totp_required_roles(struct archive *ar, char roles_r[USER_TOTP_ROLES_MAX],
				struct pv_error *err);
/* Sets them from a comma-separated list ("none" or "" for none;
 * PV_EUSAGE for an unknown role): "user-change", "totp-required=LIST".
 * roles_r (may be NULL) gets the normalised list. */
int archive_totp_require(struct archive *ar, const char *actor, const char *roles,
			 char roles_r[USER_TOTP_ROLES_MAX], struct pv_error *err);

#endif
