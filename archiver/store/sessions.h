#ifndef PV_SESSIONS_H
#define PV_SESSIONS_H

/* Web sessions (popvault serve, ARCHITECTURE.md §8): one row per signed-in
 * browser or script, keyed by the SHA-256 of its cookie token. The token
 * itself (SESSION_TOKEN_BYTES random bytes) is never stored, so a copy of
 * the catalog signs nobody in.
 *
 * A session is alive only while its user is active, has the role it
 * signed in with, and has not changed password since (users.changed_at):
 * removing a user or changing their role or password ends every session
 * of theirs at once, whoever made the change. The idle and absolute
 * timeouts are the caller's policy (session_find returns the times).
 * Written against lib/db.h: runs on SQLite and PostgreSQL. */

#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/db.h"
#include "archiver/store/users.h"

#define SESSION_TOKEN_BYTES 32
#define SESSION_HASH_BYTES 32

struct web_session {
	int64_t user_id;
	char user[USER_NAME_MAX + 1];
	char role[16];
	int64_t created_ms, last_seen_ms; /* unix milliseconds */
};

/* SHA-256 of a token (what the table is keyed by). */
void session_token_hash(const unsigned char token[SESSION_TOKEN_BYTES],
			unsigned char hash_r[SESSION_HASH_BYTES]);

/* Stores a session for u (its id, role and changed_at as user_check_password
 * returned them) created at now_ms; then, if u has more than max_per_user,
 * removes the oldest. Inside the caller's transaction if one is open. */
int session_create(struct db *db, const unsigned char hash[SESSION_HASH_BYTES], const struct user *u,
		   int64_t now_ms, int max_per_user, struct pv_error *err);

/* The live session with this hash: PV_ENOTFOUND when there is none, or its
 * user was removed or changed role or password since. */
int session_find(struct db *db, const unsigned char hash[SESSION_HASH_BYTES],
		 struct web_session *s_r, struct pv_error *err);

/* Records activity at now_ms (for the idle timeout). */
int session_touch(struct db *db, const unsigned char hash[SESSION_HASH_BYTES], int64_t now_ms,
		  struct pv_error *err);

/* Ends one session; PV_ENOTFOUND when there was none. */
int session_delete(struct db *db, const unsigned char hash[SESSION_HASH_BYTES],
		   struct pv_error *err);

/* Deletes every session idle since before idle_before_ms, created before
 * created_before_ms, or no longer alive (see session_find). */
int session_prune(struct db *db, int64_t idle_before_ms, int64_t created_before_ms,
		  struct pv_error *err);

#endif
