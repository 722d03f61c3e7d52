/* Signing in and out (ARCHITECTURE.md §8 contract), and who am I. */
#include <stdio.h>

#include "archiver/archive/users.h"
#include "archiver/http/app.h"
#include "archiver/http/auth.h"
#include "archiver/http/handlers.h"
#include "archiver/lib/clock.h"

/* One answer for a wrong password and an unknown user (auth.h). */
#define WRONG "wrong user name or password"

/* The outcomes that say "not now" (throttled, busy) or failed. */
static int not_now(struct http_request *rq, struct http_response *rs, enum auth_outcome out,
		   int64_t retry)
{
	char secs[32];
	if (out == AUTH_THROTTLED) {
		snprintf(secs, sizeof(secs), "%lld", (long long)retry);
		(void)http_response_header(rs, "Retry-After", secs);
		return http_reply_error(rs, 429, "too_many_requests",
					"too many failed attempts; try again in %lld s",
					(long long)retry);
	}
	if (out == AUTH_BUSY) {
		(void)http_response_header(rs, "Retry-After", "1");
		return http_reply_error(rs, 503, "unavailable", "too many sign-ins at once; retry");
	}
	return rq->err.code < 0 ? rq->err.code : PV_ERR;
}

/* The answers every sign-in step shares: AUTH_OK is the caller's. */
static int refused(struct http_request *rq, struct http_response *rs, enum auth_outcome out,
		   int64_t retry)
{
	switch (out) {
	case AUTH_DENIED: return http_reply_error(rs, 401, "unauthorized", WRONG);
	case AUTH_TOTP_NEEDED:
		return http_reply_error(rs, 401, "totp_required", "a one-time code is required");
	case AUTH_TOTP_UNENROLLED:
		return http_reply_error(rs, 401, "totp_not_enrolled",
					"your role requires a second factor: set one up with an "
					"authenticator app (POST /api/v1/session/totp), then sign "
					"in with its code");
	case AUTH_PASSWORD_ONCE:
		return http_reply_error(rs, 401, "password_change_required",
					"this password was set for you and works once: sign in "
					"with a new password of your own (new_password)");
	case AUTH_BAD_NEW_PASSWORD:
		return http_reply_error(rs, 400, "bad_request", "new password: %s", rq->err.msg);
	case AUTH_NOT_APPROVED:
		return http_reply_error(rs, 401, "access_not_approved",
					"an administrator set up this account: it opens once a "
					"compliance officer approves it");
	case AUTH_ACCESS_REFUSED:
		return http_reply_error(rs, 401, "access_refused",
					"the request to open this account was refused (or "
					"withdrawn): it stays shut until an administrator asks "
					"again");
	case AUTH_HAS_TOTP:
		return http_reply_error(rs, 409, "conflict",
					"you have a second factor: sign in with it and set up "
					"another from your account");
	case AUTH_OK:
	case AUTH_THROTTLED:
	case AUTH_BUSY:
	case AUTH_FAILED: break;
	}
	return not_now(rq, rs, out, retry);
}

int h_session_create(struct http_request *rq, struct http_response *rs)
{
	const char *user, *password, *totp = NULL, *new_password = NULL;
	unsigned char token[SESSION_TOKEN_BYTES];
	int64_t retry = 0;
	enum auth_outcome out;

	if (http_json_unpack(rq, "{s:s, s:s, s?s, s?s}", "user", &user, "password", &password,
			     "totp", &totp, "new_password", &new_password) < 0)
		return PV_EUSAGE;
	switch ((out = auth_sign_in(rq, user, password, totp, new_password, token, &retry))) {
	case AUTH_OK:
		if (auth_set_cookie(rq, rs, token) < 0)
			return PV_ERR;
		return http_reply_json(rs, 200, json_pack("{s:s, s:s, s:s}", "user",
							  rq->session->user, "role", rq->session->role,
							  "csrf", rq->session->csrf));
	default: return refused(rq, rs, out, retry);
	}
}

static int reply_enrolment(struct http_response *rs, const char *user,
			   struct archive_totp_enrolment *e)
{
	int r = http_reply_json(rs, 201, json_pack("{s:s, s:s, s:s}", "user", user, "uri", e->uri,
						   "secret", e->secret));
	archive_totp_enrolment_wipe(e);
	return r;
}

int h_session_totp(struct http_request *rq, struct http_response *rs)
{
	const char *user, *password;
	struct archive_totp_enrolment e;
	int64_t retry = 0;
	enum auth_outcome out;
	if (http_json_unpack(rq, "{s:s, s:s}", "user", &user, "password", &password) < 0)
		return PV_EUSAGE;
	if ((out = auth_begin_totp(rq, user, password, &e, &retry)) != AUTH_OK)
		return refused(rq, rs, out, retry);
	return reply_enrolment(rs, user, &e);
}

int h_session_delete(struct http_request *rq, struct http_response *rs)
{
	if (auth_sign_out(rq, &rq->err) < 0)
		return rq->err.code;
	if (auth_clear_cookie(rq, rs) < 0)
		return PV_ERR;
	return http_reply_json(rs, 200, json_pack("{s:b}", "signed_out", 1));
}

int h_me(struct http_request *rq, struct http_response *rs)
{
	const struct http_session *s = rq->session;
	char created[PV_RFC3339_LEN], expires[PV_RFC3339_LEN];
	struct user u;
	int r;
	if ((r = archive_user_get(rq->ar, s->user, &u, &rq->err)) < 0)
		return r;
	pv_clock_format_rfc3339(s->created_ms / 1000, created);
	pv_clock_format_rfc3339(s->expires_ms / 1000, expires);
	return http_reply_json(rs, 200, json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:s, s:I}}", "user",
						  s->user, "role", s->role, "csrf", s->csrf, "totp",
						  u.totp, "session", "created", created, "expires",
						  expires, "idle_timeout_s",
						  (json_int_t)rq->app->session_idle_s));
}

/* A new second factor for oneself, with the password (a session left open
 * must not be enough to put another in place): kept aside until a code
 * from it comes (PUT). The one in force stays until then. */
int h_me_totp_begin(struct http_request *rq, struct http_response *rs)
{
	const char *password;
	char user[USER_NAME_MAX + 1];
	struct archive_totp_enrolment e;
	int64_t retry = 0;
	enum auth_outcome out;
	if (http_json_unpack(rq, "{s:s}", "password", &password) < 0)
		return PV_EUSAGE;
	snprintf(user, sizeof(user), "%s", rq->session->user);
	out = auth_recheck_password(rq, password, &retry);
	if (out == AUTH_DENIED)
		return http_reply_error(rs, 403, "forbidden", "the password is wrong");
	if (out != AUTH_OK)
		return not_now(rq, rs, out, retry);
	if (archive_user_totp_begin(rq->ar, rq->actor, user, &e, &rq->err) < 0)
		return rq->err.code;
	return reply_enrolment(rs, user, &e);
}

int h_me_totp_confirm(struct http_request *rq, struct http_response *rs)
{
	const char *code;
	int64_t retry = 0;
	enum auth_outcome out;
	if (http_json_unpack(rq, "{s:s}", "code", &code) < 0)
		return PV_EUSAGE;
	out = auth_confirm_totp(rq, code, &retry);
	/* Not 401: the session is fine, the code is not. */
	if (out == AUTH_DENIED)
		return http_reply_error(rs, 400, "bad_request", "the one-time code is wrong or used:"
					" enter the six digits the app shows now");
	if (out == AUTH_FAILED && rq->err.code == PV_ENOTFOUND)
		return http_reply_error(rs, 409, "conflict", "no second factor is being set up");
	if (out != AUTH_OK)
		return not_now(rq, rs, out, retry);
	return http_reply_json(rs, 200, json_pack("{s:s, s:b}", "user", rq->session->user, "totp",
						  1));
}

/* One's own password, with the current one (a session left open on a
 * desk must not be enough). Every session of the user ends with it, this
 * one too: the answer clears its cookie. */
int h_me_password(struct http_request *rq, struct http_response *rs)
{
	const char *current, *next;
	char user[USER_NAME_MAX + 1];
	int64_t retry = 0;
	enum auth_outcome out;
	int r;

	if (http_json_unpack(rq, "{s:s, s:s}", "current", &current, "new", &next) < 0)
		return PV_EUSAGE;
	snprintf(user, sizeof(user), "%s", rq->session->user);
	out = auth_recheck_password(rq, current, &retry);
	if (out == AUTH_DENIED)
		return http_reply_error(rs, 403, "forbidden", "the current password is wrong");
	if (out != AUTH_OK)
		return not_now(rq, rs, out, retry);
	if ((r = archive_user_passwd(rq->ar, rq->actor, user, next, false, &rq->err)) < 0)
		return r;
	if (auth_clear_cookie(rq, rs) < 0)
		return PV_ERR;
	return http_reply_json(rs, 200, json_pack("{s:s, s:b}", "user", user, "signed_out", 1));
}
