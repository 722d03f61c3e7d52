#ifndef PV_USERS_H
#define PV_USERS_H

/* Web users: a name, one role (admin, legal, compliance: ARCHITECTURE.md §8) and
 * an Argon2id password hash. Passwords are never stored, printed or
 * logged; they are wiped as soon as they are hashed. Written against
 * lib/db.h: runs on SQLite and PostgreSQL (the catalog's conn). */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/db.h"

#define USER_NAME_MAX 64
/* Below this a password is refused: it would fall to an offline guess. */
#define USER_PASSWORD_MIN 12

struct user {
	int64_t id;
	char name[USER_NAME_MAX + 1];
	char role[16];
	int64_t created_at, changed_at; /* changed_at 0: never */
	bool totp;                      /* a second factor is enrolled (user_each, user_get) */
	bool totp_pending;              /* one is being set up by the user (user_each, user_get) */
	bool password_once;             /* set by someone else: it signs in once, to choose one's own */
	char set_by[96];                /* who last set the password when not the user ("" none
					 * recorded: before migration 20, or only the user); user_each,
					 * user_get */
	int64_t access_approval;        /* the approval this account waits for before it may sign
					 * in (archive/user_access.h); 0: none */
	char access_state[12];          /* that approval's state: "pending", "rejected" ("" none) */
};

/* Checks a name ([A-Za-z0-9._@-], 1..USER_NAME_MAX) and a role. */
int user_validate(const char *name, const char *role, struct pv_error *err);
/* Checks a new password for name: at least USER_PASSWORD_MIN characters,
 * not one or a few characters repeated, not holding the user's name or
 * the product's (guessed first, NIST SP 800-63B 3.1.1.2). PV_EUSAGE. */
int user_password_check(const char *name, const char *password, struct pv_error *err);
/* Adds a user, or (when an active one has the name and replace is set)
 * changes its role and password. *changed_r tells which happened. */
int user_set(struct db *db, const char *name, const char *role, const char *password, bool replace,
	     int64_t now, bool *changed_r, struct pv_error *err);
/* The same with the password's hash (user_password_hash, made before a
 * transaction: Argon2id's time is not spent holding the writers' lock). */
int user_set_hash(struct db *db, const char *name, const char *role, const char *hash,
		  bool replace, int64_t now, bool *changed_r, struct pv_error *err);
/* Retires a user; PV_ENOTFOUND when there is no active one. */
int user_retire(struct db *db, const char *name, int64_t now, struct pv_error *err);
/* The active user name; PV_ENOTFOUND when there is none. */
int user_get(struct db *db, const char *name, struct user *u_r, struct pv_error *err);
/* Gives an active user another role, which ends their web sessions
 * (changed_at moves). PV_ENOTFOUND when there is no such user. */
int user_set_role(struct db *db, const char *name, const char *role, int64_t now,
		  struct pv_error *err);
/* Marks the password of active user name as one-time (it signs in once,
 * to choose one's own) or not. */
int user_set_password_once(struct db *db, const char *name, bool once, struct pv_error *err);
/* Ends the web sessions of the active users of role who have no second
 * factor (changed_at moves): their next sign-in asks for one. */
int user_end_sessions_without_totp(struct db *db, const char *role, int64_t now,
				   struct pv_error *err);
/* Sets the approval active user name waits for before signing in (0:
 * none; archive/user_access.h). */
int user_set_access_approval(struct db *db, const char *name, int64_t id, struct pv_error *err);
/* Records actor as who set active user name's password now: the last
 * (users.vouched_by, shown as password_set_by) and one more row of their
 * history (user_vouches). */
int user_vouch(struct db *db, const char *name, const char *actor, int64_t now,
	       struct pv_error *err);
/* Who set the password of user name (any of that name, retired too) last
 * before vouch row `before` (INT64_MAX: of all), among those recorded
 * before migration 22 only when untimed_only: *id_r its row, *timed_r
 * false for one of those (its place in time unknown), actor. PV_ENOTFOUND
 * when nobody else set it. */
int user_vouch_before(struct db *db, const char *name, int64_t before, bool untimed_only,
		      int64_t *id_r, bool *timed_r, char *actor, size_t n, struct pv_error *err);
/* Active users in name order. */
int user_each(struct db *db, int (*fn)(void *ctx, const struct user *u), void *ctx,
	      struct pv_error *err);
/* Sets a new password for an active user (popvault user passwd), which
 * also ends their web sessions (changed_at moves). PV_ENOTFOUND when there
 * is no such user, PV_EUSAGE for a short password. */
int user_set_password(struct db *db, const char *name, const char *password, int64_t now,
		      struct pv_error *err);
/* The same in two steps, so that the slow hash (Argon2id) is not made
 * inside a transaction, holding the writers' lock: hash (after
 * user_password_check), then store it, only while the user's changed_at
 * is was_changed_at (as a sign-in read it; -1: whatever it is), else
 * PV_EAUTH (a concurrent change). A password set ends what was being set
 * up as a second factor with the old one (totp_pending). */
#define USER_PWHASH_MAX 128
int user_password_hash(const char *name, const char *password, char hash_r[USER_PWHASH_MAX],
		       struct pv_error *err);
int user_store_password_hash(struct db *db, const char *name, const char *hash, int64_t now,
			     int64_t was_changed_at, struct pv_error *err);
/* Checks a password (constant time); PV_EAUTH when wrong or no such user,
 * after the same Argon2id work either way (names cannot be probed by
 * timing). For the web sign-in; safe from several threads, each with its
 * own db. A right password whose hash was made with other parameters
 * than today's is hashed again and stored (not a change: changed_at
 * stays). */
int user_check_password(struct db *db, const char *name, const char *password, struct user *u_r,
			struct pv_error *err) PV_WARN_UNUSED;

/* Makes now the hash user_check_password checks unknown names against
 * (otherwise made on first use, which would make that one answer slower). */
void user_check_prepare(void);

/* Tests and the fuzzer only: Argon2id at libsodium's minimum cost, so a
 * sign-in costs microseconds. Call before any thread starts. */
void user_pwhash_cost_for_tests(void);
/* Back to the real cost (a test that runs twice, once per backend). */
void user_pwhash_cost_default_for_tests(void);

#endif
