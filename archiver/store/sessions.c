#include "archiver/store/sessions.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/lib/db.h"

/* Alive: the user is active, with the role and password of the sign-in. */
#define SESSION_ALIVE                                                                      \
	"u.removed_at IS NULL AND u.role = s.role AND coalesce(u.changed_at, 0) = " \
	"s.user_changed_at"

void session_token_hash(const unsigned char token[SESSION_TOKEN_BYTES],
			unsigned char hash_r[SESSION_HASH_BYTES])
{
	crypto_hash_sha256(hash_r, token, SESSION_TOKEN_BYTES);
}

/* Steps a statement that returns no row and finalizes it; *changes_r
 * (may be NULL) gets the rows it changed. */
static int run(struct db_stmt **st, int64_t *changes_r, struct pv_error *err)
{
	int r = db_step(*st, err);
	if (changes_r != NULL)
		*changes_r = db_changes(*st);
	db_finalize(st);
	return r < 0 ? r : PV_OK;
}

int session_create(struct db *db, const unsigned char hash[SESSION_HASH_BYTES], const struct user *u,
		   int64_t now_ms, int max_per_user, struct pv_error *err)
{
	struct db_stmt *st;
	int r;
	if ((r = db_prepare(db, "INSERT INTO web_sessions (token_hash, user_id, role,"
				" user_changed_at, created_ms, last_seen_ms) VALUES (?, ?, ?, ?, ?, ?)",
			    &st, err)) < 0)
		return r;
	db_bind_blob(st, 1, hash, SESSION_HASH_BYTES);
	db_bind_int64(st, 2, u->id);
	db_bind_text(st, 3, u->role, -1);
	db_bind_int64(st, 4, u->changed_at);
	db_bind_int64(st, 5, now_ms);
	db_bind_int64(st, 6, now_ms);
	if ((r = run(&st, NULL, err)) < 0)
		return r;
	/* keeps the newest max_per_user (LIMIT -1 OFFSET n is SQLite's only) */
	if ((r = db_prepare(db, "DELETE FROM web_sessions WHERE user_id = ?1 AND token_hash NOT IN"
				" (SELECT token_hash FROM web_sessions WHERE user_id = ?1"
				"  ORDER BY created_ms DESC, token_hash LIMIT ?2)",
			    &st, err)) < 0)
		return r;
	db_bind_int64(st, 1, u->id);
	db_bind_int64(st, 2, max_per_user);
	return run(&st, NULL, err);
}

int session_find(struct db *db, const unsigned char hash[SESSION_HASH_BYTES],
		 struct web_session *s_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT s.user_id, u.name, s.role, s.created_ms, s.last_seen_ms"
			       " FROM web_sessions s JOIN users u ON u.id = s.user_id"
			       " WHERE s.token_hash = ? AND " SESSION_ALIVE,
			   &st, err);
	if (r < 0)
		return r;
	db_bind_blob(st, 1, hash, SESSION_HASH_BYTES);
	if ((r = db_step(st, err)) == DB_ROW) {
		const char *user = db_column_text(st, 1), *role = db_column_text(st, 2);
		memset(s_r, 0, sizeof(*s_r));
		s_r->user_id = db_column_int64(st, 0);
		snprintf(s_r->user, sizeof(s_r->user), "%s", user ? user : "");
		snprintf(s_r->role, sizeof(s_r->role), "%s", role ? role : "");
		s_r->created_ms = db_column_int64(st, 3);
		s_r->last_seen_ms = db_column_int64(st, 4);
		r = PV_OK;
	} else if (r == DB_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "no such session");
	}
	db_finalize(&st);
	return r;
}

int session_touch(struct db *db, const unsigned char hash[SESSION_HASH_BYTES], int64_t now_ms,
		  struct pv_error *err)
{
	struct db_stmt *st;
	/* never back: a WHERE, not max(a, b) (SQLite's only) */
	int r = db_prepare(db, "UPDATE web_sessions SET last_seen_ms = ?1"
			       " WHERE token_hash = ?2 AND last_seen_ms < ?1",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, now_ms);
	db_bind_blob(st, 2, hash, SESSION_HASH_BYTES);
	return run(&st, NULL, err);
}

int session_delete(struct db *db, const unsigned char hash[SESSION_HASH_BYTES],
		   struct pv_error *err)
{
	struct db_stmt *st;
	int64_t changed = 0;
	int r = db_prepare(db, "DELETE FROM web_sessions WHERE token_hash = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_blob(st, 1, hash, SESSION_HASH_BYTES);
	if ((r = run(&st, &changed, err)) == PV_OK && changed == 0)
		r = pv_fail(err, PV_ENOTFOUND, "no such session");
	return r;
}

int session_prune(struct db *db, int64_t idle_before_ms, int64_t created_before_ms,
		  struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "DELETE FROM web_sessions WHERE last_seen_ms < ?1 OR created_ms < ?2"
			       " OR token_hash NOT IN (SELECT s.token_hash FROM web_sessions s"
			       "  JOIN users u ON u.id = s.user_id WHERE " SESSION_ALIVE ")",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, idle_before_ms);
	db_bind_int64(st, 2, created_before_ms);
	return run(&st, NULL, err);
}
