#include "archiver/archive/users.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/user_access.h"
#include "archiver/lib/clock.h"

#define TOTP_ISSUER "popvault"

/* After a change in the caller's transaction: when admins must use a
 * second factor, at least one admin who can sign in has one enrolled.
 * Otherwise every admin, and with them whoever could enrol one in the
 * web, would be locked out: refused (HTTP 409). */
static int admins_can_sign_in(struct db *db, struct pv_error *err)
{
	bool required;
	int64_t n = 0;
	int r = user_totp_role_required(db, "admin", &required, err);
	if (r < 0 || !required)
		return r;
	if ((r = db_query_int(db, "SELECT count(*) FROM users WHERE role = 'admin' AND"
				  " removed_at IS NULL AND totp_secret IS NOT NULL", &n, err)) < 0)
		return r;
	if (n == 0)
		return pv_fail(err, PV_EEXISTS, "admins must use a second factor and no admin would "
			       "have one enrolled (set up your own first: Your account, Second "
			       "factor)");
	return PV_OK;
}

/* In the caller's transaction: actor set name's password (making the
 * user, or a reset), and so can sign in as name. A user's own change
 * (web:NAME) vouches for nothing: a puppet account whose password its
 * maker changes while signed in as it stays his. A role or a second
 * factor set by someone else gives them no password. */
static int vouch(struct archive *ar, const char *actor, const char *name, struct pv_error *err)
{
	if (strncmp(actor, "web:", 4) == 0 && strcmp(actor + 4, name) == 0)
		return PV_OK;
	return user_vouch(ar->cat->conn, name, actor, pv_clock_now(), err);
}

/* Whether actor setting name's password makes it one-time: asked for, or
 * a web user setting another's (archive_user_add). */
static bool password_once(const char *actor, const char *name, bool one_time)
{
	return one_time || (strncmp(actor, "web:", 4) == 0 && strcmp(actor + 4, name) != 0);
}

/* What set_user may do with an active user of the name. */
enum user_exists { ADD_ONLY, ADD_OR_REPLACE, REPLACE_ONLY };

/* archive_user_add and archive_user_reset. */
static int set_user(struct archive *ar, const char *actor, const char *name, const char *role,
		    const char *password, enum user_exists mode, bool one_time, bool *changed_r,
		    struct pv_error *err)
{
	bool changed = false, once = password_once(actor, name, one_time);
	char hash[USER_PWHASH_MAX];
	struct user u;
	int r;
	/* Hashed first: the writers' lock is not held for Argon2id's time. */
	if ((r = user_validate(name, role, err)) < 0 ||
	    (r = user_password_hash(name, password, hash, err)) < 0)
		return r;
	if ((r = catalog_begin(ar->cat, err)) < 0) {
		sodium_memzero(hash, sizeof(hash));
		return r;
	}
	/* (A user removed meanwhile is not made again by a change.) */
	if ((mode == REPLACE_ONLY && (r = user_get(ar->cat->conn, name, &u, err)) < 0) ||
	    (r = user_set_hash(ar->cat->conn, name, role, hash, mode != ADD_ONLY, pv_clock_now(),
			       &changed, err)) < 0 ||
	    (r = user_set_password_once(ar->cat->conn, name, once, err)) < 0 ||
	    (r = vouch(ar, actor, name, err)) < 0 || (r = admins_can_sign_in(ar->cat->conn, err)) < 0 ||
	    (r = archive_auditf(ar, actor, changed ? AUDIT_USER_CHANGE : AUDIT_USER_ADD, "ok", NULL,
				err, "user=%s role=%s%s", name, role,
				once ? " password=one-time" : "")) < 0 ||
	    (r = user_access_after_change(ar, actor, name, true, true, err)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
	sodium_memzero(hash, sizeof(hash));
	if (r == PV_OK && changed_r != NULL)
		*changed_r = changed;
	return r;
}

int archive_user_add(struct archive *ar, const char *actor, const char *name, const char *role,
		     const char *password, bool replace, bool one_time, bool *changed_r,
		     struct pv_error *err)
{
	return set_user(ar, actor, name, role, password, replace ? ADD_OR_REPLACE : ADD_ONLY,
			one_time, changed_r, err);
}

int archive_user_reset(struct archive *ar, const char *actor, const char *name, const char *role,
		       const char *password, struct pv_error *err)
{
	return set_user(ar, actor, name, role, password, REPLACE_ONLY, false, NULL, err);
}

int archive_user_remove(struct archive *ar, const char *actor, const char *name,
			struct pv_error *err)
{
	int r;
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = user_access_before_remove(ar, actor, name, err)) < 0 ||
	    (r = user_retire(ar->cat->conn, name, pv_clock_now(), err)) < 0 ||
	    (r = admins_can_sign_in(ar->cat->conn, err)) < 0 ||
	    (r = archive_auditf(ar, actor, AUDIT_USER_REMOVE, "ok", NULL, err, "user=%s", name)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
	return r;
}

int archive_user_list(struct archive *ar, int (*fn)(void *ctx, const struct user *u), void *ctx,
		      struct pv_error *err)
{
	return user_each(ar->cat->conn, fn, ctx, err);
}

int archive_user_get(struct archive *ar, const char *name, struct user *u_r,
		     struct pv_error *err)
{
	return user_get(ar->cat->conn, name, u_r, err);
}

/* archive_user_passwd, only while name's changed_at is was (>= 0); *u_r
 * (may be NULL): the user as the change left them. */
static int set_password(struct archive *ar, const char *actor, const char *name,
			const char *password, bool one_time, int64_t was, struct user *u_r,
			struct pv_error *err)
{
	bool once = password_once(actor, name, one_time);
	char hash[USER_PWHASH_MAX];
	/* Hashed first: the writers' lock is not held for Argon2id's time. */
	int r = user_password_hash(name, password, hash, err);
	if (r == PV_OK && (r = catalog_begin(ar->cat, err)) < 0)
		sodium_memzero(hash, sizeof(hash));
	if (r < 0)
		return r;
	if ((r = user_store_password_hash(ar->cat->conn, name, hash, pv_clock_now(), was, err)) <
		    0 ||
	    (r = user_set_password_once(ar->cat->conn, name, once, err)) < 0 ||
	    (r = vouch(ar, actor, name, err)) < 0 ||
	    (r = archive_auditf(ar, actor, AUDIT_USER_CHANGE, "ok", NULL, err,
				"user=%s password=%s", name, once ? "one-time" : "changed")) < 0 ||
	    (r = user_access_after_change(ar, actor, name, true, false, err)) < 0 ||
	    (u_r != NULL && (r = user_get(ar->cat->conn, name, u_r, err)) < 0) ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
	sodium_memzero(hash, sizeof(hash));
	return r;
}

int archive_user_passwd(struct archive *ar, const char *actor, const char *name,
			const char *password, bool one_time, struct pv_error *err)
{
	return set_password(ar, actor, name, password, one_time, -1, NULL, err);
}

int archive_user_passwd_own(struct archive *ar, const char *name, const char *password,
			    int64_t was_changed_at, struct user *u_r, struct pv_error *err)
{
	char actor[AUDIT_ACTOR_MAX + 1];
	snprintf(actor, sizeof(actor), "web:%s", name);
	return set_password(ar, actor, name, password, false, was_changed_at, u_r, err);
}

int archive_user_set_role(struct archive *ar, const char *actor, const char *name,
			  const char *role, struct pv_error *err)
{
	int r;
	if ((r = user_validate(name, role, err)) < 0 || (r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = user_set_role(ar->cat->conn, name, role, pv_clock_now(), err)) < 0 ||
	    (r = admins_can_sign_in(ar->cat->conn, err)) < 0 ||
	    (r = archive_auditf(ar, actor, AUDIT_USER_CHANGE, "ok", NULL, err, "user=%s role=%s",
				name, role)) < 0 ||
	    (r = user_access_after_change(ar, actor, name, false, true, err)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
	return r;
}

void archive_totp_enrolment_wipe(struct archive_totp_enrolment *e)
{
	sodium_memzero(e, sizeof(*e));
}

/* otpauth://totp/ISSUER:NAME?secret=...: the key URI format every
 * authenticator app reads (as a QR code or pasted). A name is
 * [A-Za-z0-9._@-]: only '@' needs escaping. */
static void enrolment_uri(const char *name, struct archive_totp_enrolment *e)
{
	char label[3 * USER_NAME_MAX + 1];
	size_t o = 0;
	for (const char *p = name; *p && o + 4 < sizeof(label); p++)
		o += (size_t)snprintf(label + o, sizeof(label) - o, *p == '@' ? "%%40" : "%c", *p);
	snprintf(e->uri, sizeof(e->uri),
		 "otpauth://totp/" TOTP_ISSUER ":%s?secret=%s&issuer=" TOTP_ISSUER
		 "&algorithm=SHA1&digits=%d&period=%d",
		 label, e->secret, TOTP_DIGITS, TOTP_STEP_S);
}

/* A fresh secret for name, in force (the command line's enrolment) or kept
 * aside (a set-up), audited as `what` first, shown once in *e_r. */
static int fresh_secret(struct archive *ar, const char *actor, const char *name, bool pending,
			struct archive_totp_enrolment *e_r, struct pv_error *err)
{
	unsigned char secret[TOTP_SECRET_BYTES];
	int r;
	memset(e_r, 0, sizeof(*e_r));
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = archive_auditf(ar, actor, AUDIT_USER_CHANGE, "ok", NULL, err, "user=%s totp=%s",
				name, pending ? "setting-up" : "enrolled")) < 0 ||
	    (r = (pending ? user_totp_begin : user_totp_enrol)(ar->cat->conn, ar->kr, name, secret,
							       err)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0) {
		catalog_rollback(ar->cat);
	} else {
		totp_base32(secret, sizeof(secret), e_r->secret);
		enrolment_uri(name, e_r);
	}
	sodium_memzero(secret, sizeof(secret));
	return r;
}

int archive_user_totp_enrol(struct archive *ar, const char *actor, const char *name,
			    struct archive_totp_enrolment *e_r, struct pv_error *err)
{
	return fresh_secret(ar, actor, name, false, e_r, err);
}

int archive_user_totp_begin(struct archive *ar, const char *actor, const char *name,
			    struct archive_totp_enrolment *e_r, struct pv_error *err)
{
	return fresh_secret(ar, actor, name, true, e_r, err);
}

int archive_user_totp_confirm(struct archive *ar, const char *actor, const char *name,
			      const char *code, struct pv_error *err)
{
	unsigned char secret[TOTP_SECRET_BYTES];
	bool pending = false;
	uint64_t step = 0;
	struct user u;
	int r;
	/* The secret is read under the writers' lock: one set up anew
	 * meanwhile is the one the code must come from. */
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = user_get(ar->cat->conn, name, &u, err)) == PV_OK &&
	    (r = user_totp_pending_get(ar->cat->conn, ar->kr, u.id, &pending, secret, err)) ==
		    PV_OK) {
		if (!pending)
			r = pv_fail(err, PV_ENOTFOUND, "no second factor is being set up for %s",
				    name);
		/* A new secret has no codes used yet: the steps taken by the
		 * one in force (a sign-in a moment ago) do not count against it;
		 * confirming then makes its step the last one taken. Being
		 * set up, its code is used once: the secret goes with it. */
		else if (code == NULL ||
			 (step = totp_verify(secret, sizeof(secret), code, pv_clock_now(), 0)) == 0)
			r = pv_fail(err, PV_EAUTH, "wrong one-time code");
	}
	if (r < 0 ||
	    (r = archive_auditf(ar, actor, AUDIT_USER_CHANGE, "ok", NULL, err,
				"user=%s totp=enrolled", name)) < 0 ||
	    (r = user_totp_confirm(ar->cat->conn, ar->kr, &u, secret, step, err)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
	sodium_memzero(secret, sizeof(secret));
	return r;
}

int archive_user_totp_remove(struct archive *ar, const char *actor, const char *name,
			     struct pv_error *err)
{
	int r;
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = user_totp_remove(ar->cat->conn, name, err)) < 0 ||
	    (r = admins_can_sign_in(ar->cat->conn, err)) < 0 ||
	    (r = archive_auditf(ar, actor, AUDIT_USER_CHANGE, "ok", NULL, err,
				"user=%s totp=removed", name)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
	return r;
}

int archive_totp_required_roles(struct archive *ar, char roles_r[USER_TOTP_ROLES_MAX],
				struct pv_error *err)
{
	return user_totp_required_roles(ar->cat->conn, roles_r, err);
}

/* In the caller's transaction: the sessions of users of the roles in
 * `set` ("legal,compliance") who have no second factor end, as a fresh
 * sign-in of theirs would now ask for one. */
static int end_sessions_without_totp(struct db *db, const char *set, struct pv_error *err)
{
	char roles[USER_TOTP_ROLES_MAX];
	int r = PV_OK;
	snprintf(roles, sizeof(roles), "%s", set);
	for (char *save = NULL, *role = strtok_r(roles, ",", &save); role != NULL && r == PV_OK;
	     role = strtok_r(NULL, ",", &save))
		r = user_end_sessions_without_totp(db, role, pv_clock_now(), err);
	return r;
}

int archive_totp_require(struct archive *ar, const char *actor, const char *roles,
			 char roles_r[USER_TOTP_ROLES_MAX], struct pv_error *err)
{
	char set[USER_TOTP_ROLES_MAX];
	int r;
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = user_totp_require(ar->cat->conn, roles, set, err)) < 0 ||
	    (r = end_sessions_without_totp(ar->cat->conn, set, err)) < 0 ||
	    (r = admins_can_sign_in(ar->cat->conn, err)) < 0 ||
	    (r = archive_auditf(ar, actor, AUDIT_USER_CHANGE, "ok", NULL, err,
				"totp-required=%s", set[0] ? set : "none")) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
	else if (roles_r != NULL)
		memcpy(roles_r, set, sizeof(set));
	return r;
}
