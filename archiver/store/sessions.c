#include "archiver/store/sessions.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/store/catalog.h"

/* Alive: the user is active, with the role and password of the sign-in. */
#define SESSION_ALIVE                                                                      \
	"u.removed_at IS NULL AND u.role = s.role AND coalesce(u.changed_at, 0) = " \
	"s.user_changed_at"

void session_token_hash(const unsigned char token[SESSION_TOKEN_BYTES],
			unsigned char hash_r[SESSION_HASH_BYTES])
{
	crypto_hash_sha256(hash_r, token, SESSION_TOKEN_BYTES);
}

static int step_done(sqlite3 *db, sqlite3_stmt *st, struct pv_error *err)
{
	int r = sqlite3_step(st) == SQLITE_DONE
			? PV_OK
			: pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

int session_create(sqlite3 *db, const unsigned char hash[SESSION_HASH_BYTES], const struct user *u,
		   int64_t now_ms, int max_per_user, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r;
	if ((r = catalog_prepare(db, "INSERT INTO web_sessions (token_hash, user_id, role,"
				     " user_changed_at, created_ms, last_seen_ms) VALUES (?, ?, ?, ?, ?, ?)",
				 &st, err)) < 0)
		return r;
	sqlite3_bind_blob(st, 1, hash, SESSION_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, u->id);
	sqlite3_bind_text(st, 3, u->role, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, u->changed_at);
	sqlite3_bind_int64(st, 5, now_ms);
	sqlite3_bind_int64(st, 6, now_ms);
	if ((r = step_done(db, st, err)) < 0)
		return r;
	if ((r = catalog_prepare(db, "DELETE FROM web_sessions WHERE user_id = ?1 AND token_hash IN"
				     " (SELECT token_hash FROM web_sessions WHERE user_id = ?1"
				     "  ORDER BY created_ms DESC, token_hash LIMIT -1 OFFSET ?2)",
				 &st, err)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, u->id);
	sqlite3_bind_int(st, 2, max_per_user);
	return step_done(db, st, err);
}

int session_find(sqlite3 *db, const unsigned char hash[SESSION_HASH_BYTES],
		 struct web_session *s_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT s.user_id, u.name, s.role, s.created_ms, s.last_seen_ms"
				    " FROM web_sessions s JOIN users u ON u.id = s.user_id"
				    " WHERE s.token_hash = ? AND " SESSION_ALIVE,
				&st, err);
	if (r < 0)
		return r;
	sqlite3_bind_blob(st, 1, hash, SESSION_HASH_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(s_r, 0, sizeof(*s_r));
		s_r->user_id = sqlite3_column_int64(st, 0);
		snprintf(s_r->user, sizeof(s_r->user), "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(s_r->role, sizeof(s_r->role), "%s", (const char *)sqlite3_column_text(st, 2));
		s_r->created_ms = sqlite3_column_int64(st, 3);
		s_r->last_seen_ms = sqlite3_column_int64(st, 4);
	} else if (rc == SQLITE_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "no such session");
	} else {
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return r;
}

int session_touch(sqlite3 *db, const unsigned char hash[SESSION_HASH_BYTES], int64_t now_ms,
		  struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "UPDATE web_sessions SET last_seen_ms = max(last_seen_ms, ?)"
				    " WHERE token_hash = ?",
				&st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_blob(st, 2, hash, SESSION_HASH_BYTES, SQLITE_STATIC);
	return step_done(db, st, err);
}

int session_delete(sqlite3 *db, const unsigned char hash[SESSION_HASH_BYTES],
		   struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "DELETE FROM web_sessions WHERE token_hash = ?", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_blob(st, 1, hash, SESSION_HASH_BYTES, SQLITE_STATIC);
	if ((r = step_done(db, st, err)) == PV_OK && sqlite3_changes(db) == 0)
		r = pv_fail(err, PV_ENOTFOUND, "no such session");
	return r;
}

int session_prune(sqlite3 *db, int64_t idle_before_ms, int64_t created_before_ms,
		  struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "DELETE FROM web_sessions WHERE last_seen_ms < ?1 OR created_ms < ?2"
				    " OR token_hash NOT IN (SELECT s.token_hash FROM web_sessions s"
				    "  JOIN users u ON u.id = s.user_id WHERE " SESSION_ALIVE ")",
				&st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, idle_before_ms);
	sqlite3_bind_int64(st, 2, created_before_ms);
	return step_done(db, st, err);
}
