#include "archiver/http/auth.h"

#include <errno.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/users.h"
#include "archiver/http/app.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/random.h"
#include "archiver/store/user_totp.h"
#include "archiver/store/users.h"

static const char *cookie_name(const struct http_request *rq)
{
	return rq->app->tls ? "__Host-popvault" : "popvault";
}

/* Our cookie's token: 1 found, 0 none, -1 malformed or sent twice. */
static int cookie_token(const struct http_request *rq, unsigned char token[SESSION_TOKEN_BYTES])
{
	const char *h = http_header(rq, "Cookie"), *name = cookie_name(rq);
	size_t name_len = strlen(name);
	int found = 0, bad = 0;
	for (const char *p = h ? h : ""; *p;) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t len = strcspn(p, ";");
		if (len > name_len && p[name_len] == '=' && memcmp(p, name, name_len) == 0) {
			char hex[2 * SESSION_TOKEN_BYTES + 1];
			size_t vl = len - name_len - 1;
			while (vl > 0 && (p[name_len + vl] == ' ' || p[name_len + vl] == '\t'))
				vl--;
			if (found++ || vl != 2 * SESSION_TOKEN_BYTES) {
				bad = 1;
			} else {
				memcpy(hex, p + name_len + 1, vl);
				hex[vl] = '\0';
				bad |= pv_unhex(hex, vl, token, SESSION_TOKEN_BYTES) != 0;
			}
		}
		p += len + (p[len] == ';');
	}
	if (bad)
		sodium_memzero(token, SESSION_TOKEN_BYTES);
	return bad ? -1 : found;
}

static void csrf_of(const unsigned char token[SESSION_TOKEN_BYTES], char out[65])
{
	static const char ctx[] = "popvault/csrf/v1";
	unsigned char h[32];
	crypto_generichash(h, sizeof(h), (const unsigned char *)ctx, sizeof(ctx) - 1, token,
			   SESSION_TOKEN_BYTES);
	pv_hex(h, sizeof(h), out);
}

/* A short session id for the audit log: links sign-in and sign-out
 * without giving anything away. */
static void session_id(const unsigned char hash[SESSION_HASH_BYTES], char out[17])
{
	pv_hex(hash, 8, out);
}

static void fill_session(struct http_request *rq, const unsigned char token[SESSION_TOKEN_BYTES],
			 const unsigned char hash[SESSION_HASH_BYTES], int64_t user_id,
			 const char *user, const char *role, int64_t created_ms, int64_t last_seen_ms)
{
	struct http_session *s = &rq->session_buf;
	memset(s, 0, sizeof(*s));
	s->user_id = user_id;
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->role, sizeof(s->role), "%s", role);
	s->role_bit = http_role_bit(role);
	memcpy(s->token_hash, hash, SESSION_HASH_BYTES);
	csrf_of(token, s->csrf);
	s->created_ms = created_ms;
	s->last_seen_ms = last_seen_ms;
	s->expires_ms = created_ms + rq->app->session_max_s * 1000;
	rq->session = s;
	snprintf(rq->actor, sizeof(rq->actor), "web:%s", user);
}

int auth_set_cookie(const struct http_request *rq, struct http_response *rs,
		    const unsigned char token[SESSION_TOKEN_BYTES])
{
	char hex[2 * SESSION_TOKEN_BYTES + 1], v[256];
	pv_hex(token, SESSION_TOKEN_BYTES, hex);
	snprintf(v, sizeof(v), "%s=%s; Path=/; HttpOnly; SameSite=Strict%s; Max-Age=%lld",
		 cookie_name(rq), hex, rq->app->tls ? "; Secure" : "",
		 (long long)rq->app->session_max_s);
	int r = http_response_header(rs, "Set-Cookie", v);
	sodium_memzero(hex, sizeof(hex));
	sodium_memzero(v, sizeof(v));
	return r;
}

int auth_clear_cookie(const struct http_request *rq, struct http_response *rs)
{
	char v[128];
	snprintf(v, sizeof(v), "%s=; Path=/; HttpOnly; SameSite=Strict%s; Max-Age=0",
		 cookie_name(rq), rq->app->tls ? "; Secure" : "");
	return http_response_header(rs, "Set-Cookie", v);
}

int auth_load_session(struct http_request *rq, struct http_response *rs, struct pv_error *err)
{
	unsigned char token[SESSION_TOKEN_BYTES], hash[SESSION_HASH_BYTES];
	struct web_session ws;
	struct db *db = rq->ar->cat->conn;
	int c = cookie_token(rq, token), r;

	if (c == 0)
		return PV_OK;
	if (c < 0)
		return auth_clear_cookie(rq, rs) < 0 ? PV_ERR : PV_OK;
	session_token_hash(token, hash);
	if ((r = session_find(db, hash, &ws, err)) == PV_ENOTFOUND) {
		sodium_memzero(token, sizeof(token));
		pv_error_clear(err);
		return auth_clear_cookie(rq, rs) < 0 ? PV_ERR : PV_OK;
	}
	if (r < 0) {
		sodium_memzero(token, sizeof(token));
		return r;
	}
	int64_t now = pv_clock_now_ms(), idle_ms = rq->app->session_idle_s * 1000;
	if (now - ws.last_seen_ms >= idle_ms || now - ws.created_ms >= rq->app->session_max_s * 1000) {
		sodium_memzero(token, sizeof(token));
		(void)session_delete(db, hash, NULL);
		return auth_clear_cookie(rq, rs) < 0 ? PV_ERR : PV_OK;
	}
	/* Activity is written at most every minute (a quarter of the idle
	 * timeout when that is shorter), not on every request. A failure only
	 * makes the session look idle sooner. */
	int64_t every = idle_ms / 4 < 60000 ? idle_ms / 4 : 60000;
	if (now - ws.last_seen_ms >= every && session_touch(db, hash, now, NULL) == PV_OK)
		ws.last_seen_ms = now;
	fill_session(rq, token, hash, ws.user_id, ws.user, ws.role, ws.created_ms, ws.last_seen_ms);
	sodium_memzero(token, sizeof(token));
	return PV_OK;
}

/* Waits for an Argon2id slot (limits.h): false when none came in time. */
static bool argon2_enter(struct http_app *app)
{
	struct timespec until;
	pv_clock_realtime_in(PV_HTTP_ARGON2_WAIT_MS, &until);
	while (sem_timedwait(&app->argon2, &until) != 0)
		if (errno != EINTR)
			return false;
	return true;
}

/* The key a user name's failed sign-ins are counted under (ratelimit.h):
 * the name as typed, so unknown names throttle like real ones. */
#define USER_KEY_MAX (USER_NAME_MAX + 6)
static void user_key_of(const char *user, char out[USER_KEY_MAX])
{
	snprintf(out, USER_KEY_MAX, "user:%.*s", USER_NAME_MAX, user);
}

/* A failed sign-in: counted, and audited before the answer. */
static enum auth_outcome refuse(struct http_request *rq, const char *user, bool name_ok,
				const char *why, enum auth_outcome outcome, bool counts)
{
	char key[USER_NAME_MAX + 64], actor[AUDIT_ACTOR_MAX + 1];
	int64_t now_ms = pv_clock_now_ms();
	if (counts) {
		snprintf(key, sizeof(key), "ip:%s", rq->peer);
		ratelimit_failed(rq->app->fail_ip, key, now_ms);
		user_key_of(user, key);
		ratelimit_failed(rq->app->fail_user, key, now_ms);
	}
	/* A name that is not a user name (it may even be a password typed in
	 * the wrong field) is not written down. */
	snprintf(actor, sizeof(actor), "web:%s", name_ok ? user : "?");
	if (archive_auditf(rq->ar, actor, AUDIT_LOGIN_FAILED, why, NULL, &rq->err, "ip=%s",
			   rq->peer) < 0)
		return AUTH_FAILED;
	return outcome;
}

/* The second factor, when the user has one or their role needs one. */
static enum auth_outcome check_totp(struct http_request *rq, const struct user *u,
				    const char *code)
{
	unsigned char secret[TOTP_SECRET_BYTES];
	uint64_t last = 0, step;
	bool enrolled = false, required = false;
	struct db *db = rq->ar->cat->conn;

	if (user_totp_role_required(db, u->role, &required, &rq->err) < 0 ||
	    user_totp_get(db, rq->ar->kr, u->id, &enrolled, secret, &last, &rq->err) < 0)
		return AUTH_FAILED;
	if (!enrolled && code != NULL && code[0] != '\0') {
		/* The code of one being set up enrols it. */
		char actor[AUDIT_ACTOR_MAX + 1];
		snprintf(actor, sizeof(actor), "web:%s", u->name);
		int r = archive_user_totp_confirm(rq->ar, actor, u->name, code, &rq->err);
		if (r == PV_EAUTH) {
			pv_error_clear(&rq->err);
			return refuse(rq, u->name, true, "denied: wrong or used one-time code",
				      AUTH_DENIED, true);
		}
		if (r != PV_ENOTFOUND)
			return r < 0 ? AUTH_FAILED : AUTH_OK;
		pv_error_clear(&rq->err); /* nothing being set up: as without a code */
	}
	if (!enrolled && !required)
		return AUTH_OK;
	if (!enrolled)
		return refuse(rq, u->name, true, "denied: the role needs a second factor, none enrolled",
			      AUTH_TOTP_UNENROLLED, false);
	if (code == NULL || code[0] == '\0') {
		sodium_memzero(secret, sizeof(secret));
		return refuse(rq, u->name, true, "denied: one-time code missing", AUTH_TOTP_NEEDED,
			      false);
	}
	step = totp_verify(secret, sizeof(secret), code, pv_clock_now(), last);
	sodium_memzero(secret, sizeof(secret));
	if (step == 0)
		return refuse(rq, u->name, true, "denied: wrong or used one-time code", AUTH_DENIED,
			      true);
	int r = user_totp_claim_step(db, u->id, step, &rq->err);
	if (r == PV_EAUTH) /* a concurrent sign-in took the same code first */
		return refuse(rq, u->name, true, "denied: wrong or used one-time code", AUTH_DENIED,
			      true);
	return r < 0 ? AUTH_FAILED : AUTH_OK;
}

/* A transaction holding an audit entry: when it cannot begin or commit,
 * the entry is not recorded, which is what the answer must say (503
 * audit_failed), whatever SQLite's own words. */
static int audited_begin(struct archive *ar, struct pv_error *err)
{
	int r = catalog_begin(ar->cat, err);
	return r < 0 ? pv_error_prefix(err, "audit log") : r;
}

static int audited_commit(struct archive *ar, struct pv_error *err)
{
	int r = catalog_commit(ar->cat, err);
	return r < 0 ? pv_error_prefix(err, "audit log") : r;
}

/* The sign-in audited, the browser's old session ended, the new one
 * stored: one transaction. */
static enum auth_outcome open_session(struct http_request *rq, const struct user *u,
				      unsigned char token[SESSION_TOKEN_BYTES])
{
	unsigned char old[SESSION_TOKEN_BYTES], hash[SESSION_HASH_BYTES];
	struct archive *ar = rq->ar;
	int64_t now = pv_clock_now_ms();
	char sid[17];
	int r;

	pv_random_bytes(token, SESSION_TOKEN_BYTES);
	session_token_hash(token, hash);
	session_id(hash, sid);
	/* The sign-in's audit entry comes first in the transaction: when it
	 * cannot be written nothing else is tried. */
	if ((r = audited_begin(ar, &rq->err)) < 0)
		return AUTH_FAILED;
	char actor[AUDIT_ACTOR_MAX + 1];
	snprintf(actor, sizeof(actor), "web:%s", u->name);
	if ((r = archive_auditf(ar, actor, AUDIT_LOGIN, "ok", NULL, &rq->err,
				"session=%s role=%s ip=%s", sid, u->role, rq->peer)) == PV_OK &&
	    cookie_token(rq, old) == 1) {
		unsigned char old_hash[SESSION_HASH_BYTES];
		session_token_hash(old, old_hash);
		sodium_memzero(old, sizeof(old));
		if ((r = session_delete(ar->cat->conn, old_hash, &rq->err)) == PV_ENOTFOUND)
			r = PV_OK;
	}
	if (r < 0 ||
	    (r = session_prune(ar->cat->conn, now - rq->app->session_idle_s * 1000,
			       now - rq->app->session_max_s * 1000, &rq->err)) < 0 ||
	    (r = session_create(ar->cat->conn, hash, u, now, PV_HTTP_SESSIONS_PER_USER_MAX,
				&rq->err)) < 0 ||
	    (r = audited_commit(ar, &rq->err)) < 0) {
		catalog_rollback(ar->cat);
		sodium_memzero(token, SESSION_TOKEN_BYTES);
		return AUTH_FAILED;
	}
	fill_session(rq, token, hash, u->id, u->name, u->role, now, now);
	return AUTH_OK;
}

/* user's password, throttled by the name as typed and the address, in
 * an Argon2id slot; a wrong one is counted and audited (why). *u_r: the
 * user when AUTH_OK. */
static enum auth_outcome check_password(struct http_request *rq, const char *user,
					const char *password, const char *why, struct user *u_r,
					int64_t *retry_after_r)
{
	char ip_key[128], user_key[USER_KEY_MAX];
	bool name_ok = user_validate(user, "legal", NULL) == PV_OK;
	int64_t now_ms = pv_clock_now_ms(), wait;
	int r;

	/* Tracked by the name as typed, so unknown names throttle like
	 * real ones and the answer says nothing about which exist. */
	snprintf(ip_key, sizeof(ip_key), "ip:%s", rq->peer);
	user_key_of(user, user_key);
	wait = ratelimit_wait_ms(rq->app->fail_ip, ip_key, now_ms);
	int64_t wu = ratelimit_wait_ms(rq->app->fail_user, user_key, now_ms);
	if (wu > wait)
		wait = wu;
	if (wait > 0) {
		*retry_after_r = (wait + 999) / 1000;
		return AUTH_THROTTLED;
	}
	if (!argon2_enter(rq->app)) {
		*retry_after_r = 1;
		return AUTH_BUSY;
	}
	/* An invalid name is checked as "" (no user has it): the same work. */
	r = user_check_password(rq->ar->cat->conn, name_ok ? user : "", password, u_r, &rq->err);
	sem_post(&rq->app->argon2);
	if (r == PV_EAUTH) {
		pv_error_clear(&rq->err);
		return refuse(rq, user_key + 5, name_ok, why, AUTH_DENIED, true);
	}
	return r < 0 ? AUTH_FAILED : AUTH_OK;
}

/* After a whole success (password, and code when one is needed): the
 * name's failures are forgotten, not before, or a known password would
 * reset the count of wrong codes at each try. */
static void forget_failures(struct http_request *rq, const char *user)
{
	char user_key[USER_KEY_MAX];
	user_key_of(user, user_key);
	ratelimit_forget(rq->app->fail_user, user_key);
}

/* Said after the password (whoever asks knows it), before anything is
 * used up or changed: an account an admin opened that waits for approval
 * does nothing (user_access.h). Audited, not counted. */
static enum auth_outcome check_approved(struct http_request *rq, const struct user *u)
{
	if (u->access_approval == 0)
		return AUTH_OK;
	bool refused = strcmp(u->access_state, "rejected") == 0;
	return refuse(rq, u->name, true,
		      refused ? "denied: access refused" : "denied: access not approved yet",
		      refused ? AUTH_ACCESS_REFUSED : AUTH_NOT_APPROVED, false);
}

/* new_password for u, checked before anything is used up (a code's step). */
static enum auth_outcome check_new_password(struct http_request *rq, const struct user *u,
					    const char *password, const char *new_password)
{
	if (new_password == NULL) {
		if (!u->password_once)
			return AUTH_OK;
		return refuse(rq, u->name, true, "denied: a one-time password, no new one with it",
			      AUTH_PASSWORD_ONCE, false);
	}
	struct pv_error why;
	if (strcmp(new_password, password) == 0)
		pv_fail(&why, PV_EUSAGE, "the new password must differ from the %s one",
			u->password_once ? "one-time" : "current");
	else if (user_password_check(u->name, new_password, &why) == PV_OK)
		return AUTH_OK;
	/* A failed sign-in like any other (audited), then why for the answer. */
	enum auth_outcome out = refuse(rq, u->name, true, "denied: the new password is refused",
				       AUTH_BAD_NEW_PASSWORD, false);
	if (out == AUTH_BAD_NEW_PASSWORD)
		rq->err = why;
	return out;
}

enum auth_outcome auth_sign_in(struct http_request *rq, const char *user, const char *password,
			       const char *totp, const char *new_password,
			       unsigned char token_r[SESSION_TOKEN_BYTES], int64_t *retry_after_r)
{
	struct user u;
	enum auth_outcome out;
	if ((out = check_password(rq, user, password, "denied: wrong user name or password", &u,
				  retry_after_r)) != AUTH_OK ||
	    (out = check_approved(rq, &u)) != AUTH_OK ||
	    (out = check_new_password(rq, &u, password, new_password)) != AUTH_OK ||
	    (out = check_totp(rq, &u, totp)) != AUTH_OK)
		return out;
	if (new_password != NULL) {
		/* The user's own change (it ends their other sessions), only if
		 * the password checked is still theirs: of two sign-ins with
		 * one one-time password, one wins. The session opens under the
		 * user as the change left them. */
		if (!argon2_enter(rq->app)) { /* the new password's hash: a slot as for a check */
			*retry_after_r = 1;
			return AUTH_BUSY;
		}
		int r = archive_user_passwd_own(rq->ar, u.name, new_password, u.changed_at, &u,
						&rq->err);
		sem_post(&rq->app->argon2);
		if (r == PV_EAUTH) {
			pv_error_clear(&rq->err);
			return refuse(rq, user, true, "denied: the password was changed meanwhile",
				      AUTH_DENIED, true);
		}
		if (r < 0)
			return AUTH_FAILED;
	}
	if ((out = open_session(rq, &u, token_r)) == AUTH_OK)
		forget_failures(rq, user);
	return out;
}

enum auth_outcome auth_begin_totp(struct http_request *rq, const char *user, const char *password,
				  struct archive_totp_enrolment *e_r, int64_t *retry_after_r)
{
	struct user u;
	char actor[AUDIT_ACTOR_MAX + 1];
	/* The name's failures are not forgotten here: a known password must
	 * not reset the count of wrong codes. */
	enum auth_outcome out = check_password(rq, user, password,
					       "denied: wrong user name or password (second factor"
					       " set-up)",
					       &u, retry_after_r);
	if (out != AUTH_OK || (out = check_approved(rq, &u)) != AUTH_OK)
		return out;
	if (user_get(rq->ar->cat->conn, u.name, &u, &rq->err) < 0)
		return AUTH_FAILED;
	/* Said after the password, and audited like a sign-in that stops
	 * there: it tells the password was right. */
	if (u.totp)
		return refuse(rq, u.name, true, "denied: a second factor is enrolled (set-up)",
			      AUTH_HAS_TOTP, false);
	snprintf(actor, sizeof(actor), "web:%s", u.name);
	return archive_user_totp_begin(rq->ar, actor, u.name, e_r, &rq->err) < 0 ? AUTH_FAILED
										 : AUTH_OK;
}

enum auth_outcome auth_recheck_password(struct http_request *rq, const char *password,
					int64_t *retry_after_r)
{
	struct user u;
	enum auth_outcome out = check_password(rq, rq->session->user, password,
					       "denied: wrong current password (password change)",
					       &u, retry_after_r);
	if (out == AUTH_OK)
		forget_failures(rq, rq->session->user);
	return out;
}

enum auth_outcome auth_confirm_totp(struct http_request *rq, const char *code,
				    int64_t *retry_after_r)
{
	char user_key[USER_KEY_MAX];
	int64_t wait;
	user_key_of(rq->session->user, user_key);
	if ((wait = ratelimit_wait_ms(rq->app->fail_user, user_key, pv_clock_now_ms())) > 0) {
		*retry_after_r = (wait + 999) / 1000;
		return AUTH_THROTTLED;
	}
	int r = archive_user_totp_confirm(rq->ar, rq->actor, rq->session->user, code, &rq->err);
	if (r == PV_EAUTH) {
		pv_error_clear(&rq->err);
		return refuse(rq, rq->session->user, true,
			      "denied: wrong or used one-time code (second factor set-up)", AUTH_DENIED,
			      true);
	}
	return r < 0 ? AUTH_FAILED : AUTH_OK;
}

int auth_sign_out(struct http_request *rq, struct pv_error *err)
{
	struct archive *ar = rq->ar;
	char sid[17];
	int r;
	session_id(rq->session->token_hash, sid);
	if ((r = audited_begin(ar, err)) < 0)
		return r;
	if ((r = archive_auditf(ar, rq->actor, AUDIT_LOGOUT, "ok", NULL, err, "session=%s ip=%s",
				sid, rq->peer)) < 0 ||
	    (r = session_delete(ar->cat->conn, rq->session->token_hash, err)) < 0 ||
	    (r = audited_commit(ar, err)) < 0)
		catalog_rollback(ar->cat);
	return r;
}
