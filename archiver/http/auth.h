#ifndef PV_HTTP_AUTH_H
#define PV_HTTP_AUTH_H

/* Who is asking (ARCHITECTURE.md §8): sign-in with a password and, when the
 * user has one or their role requires it, a TOTP code; sessions in
 * cookies; sign-out. Every sign-in, failed sign-in and sign-out is in the
 * audit log before the answer, or does not happen (fail closed).
 *
 * The cookie: "__Host-popvault" over HTTPS (the prefix makes browsers
 * insist on Secure, Path=/ and no Domain), "popvault" on plain loopback
 * HTTP; HttpOnly, SameSite=Strict, Path=/, Max-Age the absolute timeout;
 * its value is the 256-bit session token in hex. The CSRF token is derived
 * from it (keyed BLAKE2b), so it needs no storage and dies with it. */

#include <stdint.h>

#include "archiver/http/http.h"

enum auth_outcome {
	AUTH_OK,
	AUTH_DENIED,          /* wrong name or password, or a wrong or used code */
	AUTH_TOTP_NEEDED,     /* password right; a TOTP code must come with it */
	AUTH_TOTP_UNENROLLED, /* password right; the role needs a second factor
			       * the user does not have: they set one up
			       * (auth_begin_totp), then sign in with a code */
	AUTH_PASSWORD_ONCE,   /* password right but one-time: a new one must
			       * come with it */
	AUTH_BAD_NEW_PASSWORD, /* the new password is refused: rq->err says why */
	AUTH_HAS_TOTP,        /* auth_begin_totp: a second factor is enrolled */
	AUTH_NOT_APPROVED,    /* password right; the account an admin opened waits
			       * for a compliance officer (user_access.h) */
	AUTH_ACCESS_REFUSED,  /* password right; a compliance officer refused the
			       * request to open the account */
	AUTH_THROTTLED,       /* too many failures: *retry_after_r seconds */
	AUTH_BUSY,            /* every Argon2id slot taken: retry in *retry_after_r */
	AUTH_FAILED,          /* storage or audit failure: rq->err; nobody signed in */
};

/* Signs user in from rq->peer. On AUTH_OK: a new session (the one of the
 * request's cookie, if any, is ended: no fixation), its token in token_r
 * for the cookie, rq->session set. A wrong password and an unknown user
 * take the same work and give the same outcome. Failures count against
 * the user name and the address (ratelimit.h). totp may be NULL: the code
 * of the second factor, or, for a user without one, of the one they are
 * setting up (which it then enrols). new_password may be NULL: the user's
 * own password from now on, which a one-time password needs (set once
 * the rest is right, audited as their own change). */
enum auth_outcome auth_sign_in(struct http_request *rq, const char *user, const char *password,
			       const char *totp, const char *new_password,
			       unsigned char token_r[SESSION_TOKEN_BYTES], int64_t *retry_after_r);

/* Before signing in, a user without a second factor sets one up: their
 * password as for a sign-in (throttled, counted, audited when wrong),
 * then a secret kept aside, shown once in *e_r. AUTH_HAS_TOTP when one is
 * enrolled (it is replaced signed in, with a code: never by a password
 * alone). */
struct archive_totp_enrolment;
enum auth_outcome auth_begin_totp(struct http_request *rq, const char *user, const char *password,
				  struct archive_totp_enrolment *e_r, int64_t *retry_after_r);

/* The signed-in user's own password once more (changing it asks for it):
 * AUTH_OK, or AUTH_DENIED (counted and audited as a failed sign-in),
 * AUTH_THROTTLED, AUTH_BUSY, AUTH_FAILED as above. */
enum auth_outcome auth_recheck_password(struct http_request *rq, const char *password,
					int64_t *retry_after_r);

/* The signed-in user's second factor being set up, confirmed by code
 * (archive_user_totp_confirm): AUTH_OK; AUTH_DENIED for a wrong or used
 * code, counted against the user and audited as a failed sign-in (a
 * stolen session cannot try codes without end); AUTH_THROTTLED;
 * AUTH_FAILED with rq->err (PV_ENOTFOUND: nothing being set up). */
enum auth_outcome auth_confirm_totp(struct http_request *rq, const char *code,
				    int64_t *retry_after_r);

/* Ends rq->session (audited first). */
int auth_sign_out(struct http_request *rq, struct pv_error *err);

/* Sets rq->session from the request's cookie when it names a live session
 * within its idle and absolute timeouts (and records the activity); a
 * cookie that does not is cleared in rs. Errors only for storage. */
int auth_load_session(struct http_request *rq, struct http_response *rs, struct pv_error *err);

/* Set-Cookie for a new session token, and for ending one. */
int auth_set_cookie(const struct http_request *rq, struct http_response *rs,
		    const unsigned char token[SESSION_TOKEN_BYTES]);
int auth_clear_cookie(const struct http_request *rq, struct http_response *rs);

#endif
