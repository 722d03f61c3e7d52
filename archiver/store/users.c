#include "archiver/store/users.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/store/catalog.h"

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

static const char *const roles[] = {"admin", "legal", "compliance", NULL};

int user_validate(const char *name, const char *role, struct pv_error *err)
{
	size_t n = strlen(name);
	if (n == 0 || n > USER_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") != n)
		return pv_fail(err, PV_EUSAGE, "a user name is 1-%d letters, digits, '.', '_', '@' or '-'",
			       USER_NAME_MAX);
	for (const char *const *r = roles; *r; r++)
		if (strcmp(role, *r) == 0)
			return PV_OK;
	return pv_fail(err, PV_EUSAGE, "--role must be admin, legal or compliance");
}

int user_set(sqlite3 *db, const char *name, const char *role, const char *password, bool replace,
	     int64_t now, bool *changed_r, struct pv_error *err)
{
	char hash[crypto_pwhash_STRBYTES];
	sqlite3_stmt *st;
	int64_t id = 0;
	int r;

	if (strlen(password) < USER_PASSWORD_MIN)
		return pv_fail(err, PV_EUSAGE, "the password must have at least %d characters",
			       USER_PASSWORD_MIN);
	if (crypto_pwhash_str(hash, password, strlen(password), USER_PWHASH_OPS, USER_PWHASH_MEM) != 0)
		return pv_fail(err, PV_ERR, "out of memory while hashing the password");
	if ((r = catalog_prepare(db, "SELECT id FROM users WHERE name = ? AND removed_at IS NULL",
				 &st, err)) < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (id != 0 && !replace)
		return pv_fail(err, PV_ERR, "a user named '%s' exists (use --replace to change it)", name);
	*changed_r = id != 0;
	if ((r = catalog_prepare(db, id != 0 ? "UPDATE users SET role = ?, password_hash = ?,"
					       " changed_at = ? WHERE id = ?"
					     : "INSERT INTO users (role, password_hash, created_at, name)"
					       " VALUES (?, ?, ?, ?)",
				 &st, err)) < 0)
		return r;
	sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if (id != 0)
		sqlite3_bind_int64(st, 4, id);
	else
		sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sodium_memzero(hash, sizeof(hash));
	return r;
}

int user_retire(sqlite3 *db, const char *name, int64_t now, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "UPDATE users SET removed_at = ? WHERE name = ? AND removed_at IS NULL",
				&st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	else if (sqlite3_changes(db) == 0)
		r = pv_fail(err, PV_ENOTFOUND, "no user named '%s'", name);
	sqlite3_finalize(st);
	return r;
}

static void row_to_user(sqlite3_stmt *st, struct user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(st, 0);
	snprintf(u->name, sizeof(u->name), "%s", (const char *)sqlite3_column_text(st, 1));
	snprintf(u->role, sizeof(u->role), "%s", (const char *)sqlite3_column_text(st, 2));
	u->created_at = sqlite3_column_int64(st, 3);
	u->changed_at = sqlite3_column_int64(st, 4);
}

#define USER_COLUMNS \
	"id, name, role, created_at, coalesce(changed_at, 0), totp_secret IS NOT NULL"

int user_each(sqlite3 *db, int (*fn)(void *ctx, const struct user *u), void *ctx,
	      struct pv_error *err)
{
	sqlite3_stmt *st;
	struct user u;
	int r = catalog_prepare(db, "SELECT " USER_COLUMNS
				    " FROM users WHERE removed_at IS NULL ORDER BY name", &st, err);
	if (r < 0)
		return r;
	while (r == PV_OK && sqlite3_step(st) == SQLITE_ROW) {
		row_to_user(st, &u);
		u.totp = sqlite3_column_int(st, 5) != 0;
		r = fn(ctx, &u);
	}
	sqlite3_finalize(st);
	return r;
}

int user_get(sqlite3 *db, const char *name, struct user *u_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT " USER_COLUMNS
				    " FROM users WHERE name = ? AND removed_at IS NULL", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row_to_user(st, u_r);
		u_r->totp = sqlite3_column_int(st, 5) != 0;
	} else if (rc == SQLITE_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "no user named '%s'", name);
	} else {
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return r;
}

int user_set_role(sqlite3 *db, const char *name, const char *role, int64_t now,
		  struct pv_error *err)
{
	sqlite3_stmt *st;
	int r;
	if ((r = user_validate(name, role, err)) < 0 ||
	    (r = catalog_prepare(db, "UPDATE users SET role = ?1,"
				     " changed_at = max(coalesce(changed_at, 0) + 1, ?2)"
				     " WHERE name = ?3 AND removed_at IS NULL", &st, err)) < 0)
		return r;
	sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now > 0 ? now : 1);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	else if (sqlite3_changes(db) == 0)
		r = pv_fail(err, PV_ENOTFOUND, "no user named '%s'", name);
	sqlite3_finalize(st);
	return r;
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

/* changed_at 0: a rehash, not a change. Otherwise changed_at moves strictly
 * forward (two changes in one second still end the sessions between). */
void user_check_prepare(void)
{
	pthread_once(&dummy_once, make_dummy_hash);
}

static int store_hash(sqlite3 *db, int64_t id, const char *password, int64_t changed_at,
		      struct pv_error *err)
{
	char hash[crypto_pwhash_STRBYTES];
	sqlite3_stmt *st;
	int r;
	if (crypto_pwhash_str(hash, password, strlen(password), USER_PWHASH_OPS, USER_PWHASH_MEM) != 0)
		return pv_fail(err, PV_ERR, "out of memory while hashing the password");
	if ((r = catalog_prepare(db, changed_at ? "UPDATE users SET password_hash = ?1,"
						  " changed_at = max(coalesce(changed_at, 0) + 1, ?2)"
						  " WHERE id = ?3"
						: "UPDATE users SET password_hash = ?1 WHERE id = ?3",
				 &st, err)) == PV_OK) {
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		if (changed_at)
			sqlite3_bind_int64(st, 2, changed_at);
		sqlite3_bind_int64(st, 3, id);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	sodium_memzero(hash, sizeof(hash));
	return r;
}

int user_set_password(sqlite3 *db, const char *name, const char *password, int64_t now,
		      struct pv_error *err)
{
	sqlite3_stmt *st;
	int64_t id = 0;
	int r;
	if (strlen(password) < USER_PASSWORD_MIN)
		return pv_fail(err, PV_EUSAGE, "the password must have at least %d characters",
			       USER_PASSWORD_MIN);
	if ((r = catalog_prepare(db, "SELECT id FROM users WHERE name = ? AND removed_at IS NULL",
				 &st, err)) < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (id == 0)
		return pv_fail(err, PV_ENOTFOUND, "no user named '%s'", name);
	return store_hash(db, id, password, now > 0 ? now : 1, err);
}

int user_check_password(sqlite3 *db, const char *name, const char *password, struct user *u_r,
			struct pv_error *err)
{
	char hash[crypto_pwhash_STRBYTES] = "";
	sqlite3_stmt *st;
	bool found = false;
	int r = catalog_prepare(db, "SELECT id, name, role, created_at, coalesce(changed_at, 0),"
				    " password_hash FROM users WHERE name = ? AND removed_at IS NULL",
				&st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 5);
		row_to_user(st, u_r);
		found = h != NULL && strlen(h) < sizeof(hash);
		if (found)
			memcpy(hash, h, strlen(h) + 1);
	}
	/* No statement stays open during the slow hash: a reader would hold
	 * back WAL checkpoints for its whole duration. */
	sqlite3_finalize(st);
	if (!found) {
		pthread_once(&dummy_once, make_dummy_hash);
		if (dummy_hash[0] != '\0') {
			int same = crypto_pwhash_str_verify(dummy_hash, password, strlen(password));
			(void)same; /* nobody knows it: only the time spent matters */
		}
		return pv_fail(err, PV_EAUTH, "wrong user name or password");
	}
	if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
		r = pv_fail(err, PV_EAUTH, "wrong user name or password");
	else if (crypto_pwhash_str_needs_rehash(hash, USER_PWHASH_OPS, USER_PWHASH_MEM) != 0)
		/* Best effort: the password was right; a busy or read-only
		 * catalog only means the next sign-in tries again. */
		(void)store_hash(db, u_r->id, password, 0, NULL);
	sodium_memzero(hash, sizeof(hash));
	return r;
}
