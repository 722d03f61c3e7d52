#include "archiver/store/users.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/lib/db.h"

/* Argon2id at libsodium's "interactive" cost: 64 MiB and about 0.1 s a
 * check here, so a sign-in stays quick and a stolen catalog stays costly. */
static unsigned long long pwhash_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t pwhash_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
#define USER_PWHASH_OPS pwhash_ops
#define USER_PWHASH_MEM pwhash_mem

void user_pwhash_cost_for_tests(void)
{
	pwhash_ops = crypto_pwhash_OPSLIMIT_MIN;
	pwhash_mem = crypto_pwhash_MEMLIMIT_MIN;
}

void user_pwhash_cost_default_for_tests(void)
{
	pwhash_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	pwhash_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
}

static const char *const roles[] = {"admin", "legal", "compliance", NULL};

int user_validate(const char *name, const char *role, struct pv_error *err)
{
	size_t n = strlen(name);
	if (n == 0 || n > USER_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") != n ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0) /* a path segment of the API */
		return pv_fail(err, PV_EUSAGE, "a user name is 1-%d letters, digits, '.', '_', '@' or '-'"
			       " (not . or ..)", USER_NAME_MAX);
	for (const char *const *r = roles; *r; r++)
		if (strcmp(role, *r) == 0)
			return PV_OK;
	return pv_fail(err, PV_EUSAGE, "--role must be admin, legal or compliance");
}

int user_password_check(const char *name, const char *password, struct pv_error *err)
{
	static const char *const product = "popvault";
	size_t n = strlen(password), distinct = 0;
	bool seen[256] = {false};
	if (n < USER_PASSWORD_MIN)
		return pv_fail(err, PV_EUSAGE, "the password must have at least %d characters",
			       USER_PASSWORD_MIN);
	for (size_t i = 0; i < n; i++)
		if (!seen[(unsigned char)password[i]]) {
			seen[(unsigned char)password[i]] = true;
			distinct++;
		}
	if (distinct < 5)
		return pv_fail(err, PV_EUSAGE, "the password repeats too few characters (%zu different,"
			       " at least 5)", distinct);
	if ((strlen(name) >= 3 && strcasestr(password, name) != NULL) ||
	    strcasestr(password, product) != NULL)
		return pv_fail(err, PV_EUSAGE, "the password must not hold the user's name or '%s'",
			       product);
	return PV_OK;
}

/* The id of the active user name, 0 when there is none. */
static int active_id(struct db *db, const char *name, int64_t *id_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT id FROM users WHERE name = ? AND removed_at IS NULL", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, name, -1);
	*id_r = 0;
	if ((r = db_step(st, err)) == DB_ROW)
		*id_r = db_column_int64(st, 0);
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

/* Steps a statement that returns no row; PV_ENOTFOUND (naming the user)
 * when it changed none and that matters. Finalizes it. */
static int run(struct db_stmt **st, const char *name, bool must_change, struct pv_error *err)
{
	int r = db_step(*st, err);
	if (r == DB_DONE && must_change && db_changes(*st) == 0)
		r = pv_fail(err, PV_ENOTFOUND, "no user named '%s'", name);
	db_finalize(st);
	return r < 0 ? r : PV_OK;
}

/* changed_at moves strictly forward: to now, or one past its last value
 * (two changes in one second still end the sessions between). Written
 * with CASE: max(a, b) is SQLite's, greatest(a, b) PostgreSQL's. */
#define CHANGED_AT_NEXT(now)                                                        \
	"CASE WHEN coalesce(changed_at, 0) + 1 > " now " THEN coalesce(changed_at, 0) + 1" \
	" ELSE " now " END"

int user_set_hash(struct db *db, const char *name, const char *role, const char *hash,
		  bool replace, int64_t now, bool *changed_r, struct pv_error *err)
{
	struct db_stmt *st;
	int64_t id = 0;
	int r;
	if ((r = active_id(db, name, &id, err)) < 0)
		return r;
	if (id != 0 && !replace)
		return pv_fail(err, PV_ERR, "a user named '%s' exists (use --replace to change it)",
			       name);
	*changed_r = id != 0;
	/* A change ends the sessions (changed_at strictly forward) and what
	 * was being set up with the old password. */
	if ((r = db_prepare(db, id != 0 ? "UPDATE users SET role = ?1, password_hash = ?2,"
					  " changed_at = " CHANGED_AT_NEXT("?3") ","
					  " totp_pending = NULL WHERE id = ?4"
					: "INSERT INTO users (role, password_hash, created_at, name)"
					  " VALUES (?1, ?2, ?3, ?4)",
			    &st, err)) < 0)
		return r;
	db_bind_text(st, 1, role, -1);
	db_bind_text(st, 2, hash, -1);
	db_bind_int64(st, 3, now > 0 ? now : 1);
	if (id != 0)
		db_bind_int64(st, 4, id);
	else
		db_bind_text(st, 4, name, -1);
	return run(&st, name, false, err);
}

int user_set(struct db *db, const char *name, const char *role, const char *password, bool replace,
	     int64_t now, bool *changed_r, struct pv_error *err)
{
	char hash[USER_PWHASH_MAX];
	int r = user_password_hash(name, password, hash, err);
	if (r == PV_OK)
		r = user_set_hash(db, name, role, hash, replace, now, changed_r, err);
	sodium_memzero(hash, sizeof(hash));
	return r;
}

int user_retire(struct db *db, const char *name, int64_t now, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "UPDATE users SET removed_at = ? WHERE name = ? AND removed_at IS NULL",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, now);
	db_bind_text(st, 2, name, -1);
	return run(&st, name, true, err);
}

static void row_to_user(struct db_stmt *st, struct user *u)
{
	const char *name = db_column_text(st, 1), *role = db_column_text(st, 2);
	memset(u, 0, sizeof(*u));
	u->id = db_column_int64(st, 0);
	snprintf(u->name, sizeof(u->name), "%s", name ? name : "");
	snprintf(u->role, sizeof(u->role), "%s", role ? role : "");
	u->created_at = db_column_int64(st, 3);
	u->changed_at = db_column_int64(st, 4);
	u->password_once = db_column_int64(st, 5) != 0;
	u->access_approval = db_column_int64(st, 6);
	const char *access = db_column_text(st, 7);
	/* (an approval row is never deleted; without one the account waits) */
	snprintf(u->access_state, sizeof(u->access_state), "%s",
		 access && access[0] ? access : u->access_approval ? "pending" : "");
}

/* row_to_user's columns; user_each and user_get add the second factor's. */
#define USER_BASE_COLUMNS \
	"id, name, role, created_at, coalesce(changed_at, 0), password_once, access_approval," \
	" coalesce((SELECT state FROM approvals WHERE approvals.id = users.access_approval), '')"
#define USER_COLUMNS \
	USER_BASE_COLUMNS ", totp_secret IS NOT NULL, totp_pending IS NOT NULL," \
			  " coalesce(vouched_by, '')"

static void row_to_user_totp(struct db_stmt *st, struct user *u)
{
	const char *by = db_column_text(st, 10);
	row_to_user(st, u);
	u->totp = db_column_int64(st, 8) != 0;
	u->totp_pending = db_column_int64(st, 9) != 0;
	snprintf(u->set_by, sizeof(u->set_by), "%s", by ? by : "");
}

int user_each(struct db *db, int (*fn)(void *ctx, const struct user *u), void *ctx,
	      struct pv_error *err)
{
	struct db_stmt *st;
	struct user u;
	int r = db_prepare(db, "SELECT " USER_COLUMNS
			       " FROM users WHERE removed_at IS NULL ORDER BY name", &st, err);
	if (r < 0)
		return r;
	while ((r = db_step(st, err)) == DB_ROW) {
		row_to_user_totp(st, &u);
		if ((r = fn(ctx, &u)) != 0)
			break;
	}
	db_finalize(&st);
	return r == DB_DONE ? PV_OK : r;
}

int user_get(struct db *db, const char *name, struct user *u_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT " USER_COLUMNS
			       " FROM users WHERE name = ? AND removed_at IS NULL", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, name, -1);
	if ((r = db_step(st, err)) == DB_ROW) {
		row_to_user_totp(st, u_r);
		r = PV_OK;
	} else if (r == DB_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "no user named '%s'", name);
	}
	db_finalize(&st);
	return r;
}

int user_set_role(struct db *db, const char *name, const char *role, int64_t now,
		  struct pv_error *err)
{
	struct db_stmt *st;
	int r;
	if ((r = user_validate(name, role, err)) < 0 ||
	    (r = db_prepare(db, "UPDATE users SET role = ?1, changed_at = " CHANGED_AT_NEXT("?2")
				" WHERE name = ?3 AND removed_at IS NULL", &st, err)) < 0)
		return r;
	db_bind_text(st, 1, role, -1);
	db_bind_int64(st, 2, now > 0 ? now : 1);
	db_bind_text(st, 3, name, -1);
	return run(&st, name, true, err);
}

/* A hash of a password nobody has, checked when the name is unknown so the
 * answer takes as long as for a real user. Made once, by whichever thread
 * signs in first. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy_hash(void)
{
	unsigned char pw[16];
	randombytes_buf(pw, sizeof(pw));
	if (crypto_pwhash_str(dummy_hash, (const char *)pw, sizeof(pw), USER_PWHASH_OPS,
			      USER_PWHASH_MEM) != 0)
		dummy_hash[0] = '\0';
}

void user_check_prepare(void)
{
	pthread_once(&dummy_once, make_dummy_hash);
}

_Static_assert(USER_PWHASH_MAX == crypto_pwhash_STRBYTES, "the hash's size");

/* hash as the user's password. changed_at 0: a rehash, not a change (what
 * is being set up stays). was >= 0: only if the user's changed_at is still
 * that (PV_EAUTH otherwise). ?4 is first compared with changed_at:
 * PostgreSQL then takes it as a bigint, not the integer of "?4 < 0". */
static int store_hash_str(struct db *db, int64_t id, const char *hash, int64_t changed_at,
			  int64_t was, struct pv_error *err)
{
	struct db_stmt *st;
	int r;
	if ((r = db_prepare(db, changed_at ? "UPDATE users SET password_hash = ?1,"
					     " changed_at = " CHANGED_AT_NEXT("?2") ","
					     " totp_pending = NULL WHERE id = ?3"
					     " AND (coalesce(changed_at, 0) = ?4 OR ?4 < 0)"
					   : "UPDATE users SET password_hash = ?1 WHERE id = ?2",
			    &st, err)) < 0)
		return r;
	db_bind_text(st, 1, hash, -1);
	if (changed_at) {
		db_bind_int64(st, 2, changed_at);
		db_bind_int64(st, 4, was);
	}
	db_bind_int64(st, changed_at ? 3 : 2, id);
	if ((r = db_step(st, err)) > 0)
		r = PV_OK;
	if (r == PV_OK && changed_at && db_changes(st) == 0)
		r = pv_fail(err, PV_EAUTH, "the password was changed meanwhile");
	db_finalize(&st);
	return r;
}

static int make_hash(const char *password, char hash[USER_PWHASH_MAX], struct pv_error *err)
{
	if (crypto_pwhash_str(hash, password, strlen(password), USER_PWHASH_OPS, USER_PWHASH_MEM) != 0)
		return pv_fail(err, PV_ERR, "out of memory while hashing the password");
	return PV_OK;
}

int user_password_hash(const char *name, const char *password, char hash_r[USER_PWHASH_MAX],
		       struct pv_error *err)
{
	int r = user_password_check(name, password, err);
	return r < 0 ? r : make_hash(password, hash_r, err);
}

int user_store_password_hash(struct db *db, const char *name, const char *hash, int64_t now,
			     int64_t was_changed_at, struct pv_error *err)
{
	int64_t id = 0;
	int r;
	if ((r = active_id(db, name, &id, err)) < 0)
		return r;
	if (id == 0)
		return pv_fail(err, PV_ENOTFOUND, "no user named '%s'", name);
	return store_hash_str(db, id, hash, now > 0 ? now : 1, was_changed_at, err);
}

int user_set_password(struct db *db, const char *name, const char *password, int64_t now,
		      struct pv_error *err)
{
	char hash[USER_PWHASH_MAX];
	int r = user_password_hash(name, password, hash, err);
	if (r == PV_OK)
		r = user_store_password_hash(db, name, hash, now, -1, err);
	sodium_memzero(hash, sizeof(hash));
	return r;
}

int user_check_password(struct db *db, const char *name, const char *password, struct user *u_r,
			struct pv_error *err)
{
	char hash[crypto_pwhash_STRBYTES] = "";
	struct db_stmt *st;
	bool found = false;
	int r = db_prepare(db, "SELECT " USER_BASE_COLUMNS ", password_hash FROM users"
			       " WHERE name = ? AND removed_at IS NULL", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, name, -1);
	if ((r = db_step(st, err)) == DB_ROW) {
		const char *h = db_column_text(st, 8);
		row_to_user(st, u_r);
		found = h != NULL && strlen(h) < sizeof(hash);
		if (found)
			memcpy(hash, h, strlen(h) + 1);
	}
	/* No statement stays open during the slow hash: a reader would hold
	 * back WAL checkpoints for its whole duration. */
	db_finalize(&st);
	if (r < 0)
		return r;
	if (!found) {
		pthread_once(&dummy_once, make_dummy_hash);
		if (dummy_hash[0] != '\0') {
			int same = crypto_pwhash_str_verify(dummy_hash, password, strlen(password));
			(void)same; /* nobody knows it: only the time spent matters */
		}
		return pv_fail(err, PV_EAUTH, "wrong user name or password");
	}
	r = PV_OK;
	if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
		r = pv_fail(err, PV_EAUTH, "wrong user name or password");
	else if (crypto_pwhash_str_needs_rehash(hash, USER_PWHASH_OPS, USER_PWHASH_MEM) != 0) {
		/* Best effort: the password was right; a busy or read-only
		 * catalog only means the next sign-in tries again. */
		char fresh[USER_PWHASH_MAX];
		if (make_hash(password, fresh, NULL) == PV_OK)
			(void)store_hash_str(db, u_r->id, fresh, 0, -1, NULL);
		sodium_memzero(fresh, sizeof(fresh));
	}
	sodium_memzero(hash, sizeof(hash));
	return r;
}

int user_end_sessions_without_totp(struct db *db, const char *role, int64_t now,
				   struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "UPDATE users SET changed_at = " CHANGED_AT_NEXT("?1")
			       " WHERE role = ?2 AND removed_at IS NULL AND totp_secret IS NULL",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, now > 0 ? now : 1);
	db_bind_text(st, 2, role, -1);
	return run(&st, role, false, err);
}

int user_set_password_once(struct db *db, const char *name, bool once, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "UPDATE users SET password_once = ? WHERE name = ?"
			       " AND removed_at IS NULL", &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, once);
	db_bind_text(st, 2, name, -1);
	return run(&st, name, true, err);
}

int user_set_access_approval(struct db *db, const char *name, int64_t id, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "UPDATE users SET access_approval = ? WHERE name = ?"
			       " AND removed_at IS NULL", &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, id);
	db_bind_text(st, 2, name, -1);
	return run(&st, name, true, err);
}

int user_vouch(struct db *db, const char *name, const char *actor, int64_t now,
	       struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "UPDATE users SET vouched_by = ? WHERE name = ? AND removed_at IS NULL",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, actor, -1);
	db_bind_text(st, 2, name, -1);
	if ((r = run(&st, name, true, err)) < 0 ||
	    (r = db_prepare(db, "INSERT INTO user_vouches (name, actor, at) VALUES (?, ?, ?)", &st,
			    err)) < 0)
		return r;
	db_bind_text(st, 1, name, -1);
	db_bind_text(st, 2, actor, -1);
	db_bind_int64(st, 3, now > 0 ? now : 1);
	return run(&st, name, false, err);
}

int user_vouch_before(struct db *db, const char *name, int64_t before, bool untimed_only,
		      int64_t *id_r, bool *timed_r, char *actor, size_t n, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, untimed_only ? "SELECT id, at, actor FROM user_vouches WHERE name = ?1"
					      " AND id < ?2 AND at = 0 ORDER BY id DESC LIMIT 1"
					    : "SELECT id, at, actor FROM user_vouches WHERE name = ?1"
					      " AND id < ?2 ORDER BY id DESC LIMIT 1",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, name, -1);
	db_bind_int64(st, 2, before);
	int rc = db_step(st, err);
	if (rc == DB_ROW) {
		*id_r = db_column_int64(st, 0);
		*timed_r = db_column_int64(st, 1) != 0;
		snprintf(actor, n, "%s", db_column_text(st, 2));
	} else {
		r = rc < 0 ? rc : pv_fail(err, PV_ENOTFOUND, "nobody set %s's password", name);
	}
	db_finalize(&st);
	return r;
}
