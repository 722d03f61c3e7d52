#include "archiver/store/user_totp.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/fsutil.h"
#include "archiver/lib/hex.h"
#include "archiver/store/catalog.h"
#include "archiver/lib/db.h"
#include "archiver/store/users.h"

#define META_KEY "totp_required_roles"

static const char *const roles[] = {"admin", "legal", "compliance"};

/* What a sealed secret is bound to besides its user: in force, or being
 * set up (moved from one column to the other it does not open). */
#define AD_ENROLLED "user totp"
#define AD_PENDING "user totp pending"

/* Seals hex bound to user (id, name) and use. */
static int seal_as(struct keyring *kr, const char *use, int64_t id, const char *name,
		   const char *hex, unsigned char **sealed_r, size_t *len_r, struct pv_error *err)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	const char *ad[] = {use, ids, name};
	return keyring_seal_secret(kr, ad, 3, hex, sealed_r, len_r, err);
}

static int seal_for(struct keyring *kr, int64_t id, const char *name, const char *hex,
		    unsigned char **sealed_r, size_t *len_r, struct pv_error *err)
{
	return seal_as(kr, AD_ENROLLED, id, name, hex, sealed_r, len_r, err);
}

/* Steps a statement that returns no row and finalizes it; *changes_r
 * gets the rows it changed. */
static int run(struct db_stmt **st, int64_t *changes_r, struct pv_error *err)
{
	int r = db_step(*st, err);
	*changes_r = db_changes(*st);
	db_finalize(st);
	return r < 0 ? r : PV_OK;
}

static int store_sealed(struct db *db, int64_t id, const unsigned char *sealed, size_t len,
			struct pv_error *err)
{
	struct db_stmt *st;
	int64_t changed;
	int r = db_prepare(db, "UPDATE users SET totp_secret = ? WHERE id = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_blob(st, 1, sealed, len);
	db_bind_int64(st, 2, id);
	return run(&st, &changed, err);
}

/* secret sealed for user (id, name) into column `use` names: the second
 * factor in force (totp_secret, and then nothing is being set up) or the
 * one being set up (totp_pending). */
static int store_secret(struct db *db, struct keyring *kr, const char *use, int64_t id,
			const char *name, const unsigned char secret[TOTP_SECRET_BYTES],
			struct pv_error *err)
{
	char hex[2 * TOTP_SECRET_BYTES + 1];
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	bool pending = strcmp(use, AD_PENDING) == 0;
	struct db_stmt *st;
	int64_t changed;
	int r;

	pv_hex(secret, TOTP_SECRET_BYTES, hex);
	r = seal_as(kr, use, id, name, hex, &sealed, &sealed_len, err);
	sodium_memzero(hex, sizeof(hex));
	if (r == PV_OK &&
	    (r = db_prepare(db, pending ? "UPDATE users SET totp_pending = ? WHERE id = ?"
					: "UPDATE users SET totp_secret = ?, totp_pending = NULL"
					  " WHERE id = ?",
			    &st, err)) == PV_OK) {
		db_bind_blob(st, 1, sealed, sealed_len);
		db_bind_int64(st, 2, id);
		r = run(&st, &changed, err);
	}
	free(sealed);
	return r;
}

/* A fresh secret for active user name, stored as `use` says. */
static int fresh_secret(struct db *db, struct keyring *kr, const char *use, const char *name,
			unsigned char secret_r[TOTP_SECRET_BYTES], struct pv_error *err)
{
	struct user u;
	int r;
	if ((r = user_get(db, name, &u, err)) < 0)
		return r;
	randombytes_buf(secret_r, TOTP_SECRET_BYTES);
	if ((r = store_secret(db, kr, use, u.id, name, secret_r, err)) < 0)
		sodium_memzero(secret_r, TOTP_SECRET_BYTES);
	return r;
}

int user_totp_enrol(struct db *db, struct keyring *kr, const char *name,
		    unsigned char secret_r[TOTP_SECRET_BYTES], struct pv_error *err)
{
	return fresh_secret(db, kr, AD_ENROLLED, name, secret_r, err);
}

int user_totp_begin(struct db *db, struct keyring *kr, const char *name,
		    unsigned char secret_r[TOTP_SECRET_BYTES], struct pv_error *err)
{
	return fresh_secret(db, kr, AD_PENDING, name, secret_r, err);
}

int user_totp_confirm(struct db *db, struct keyring *kr, const struct user *u,
		      const unsigned char secret[TOTP_SECRET_BYTES], uint64_t step,
		      struct pv_error *err)
{
	struct db_stmt *st;
	int64_t changed;
	int r;
	if ((r = store_secret(db, kr, AD_ENROLLED, u->id, u->name, secret, err)) < 0 ||
	    (r = db_prepare(db, "UPDATE users SET totp_last_step = ? WHERE id = ?", &st, err)) < 0)
		return r;
	db_bind_int64(st, 1, (int64_t)step);
	db_bind_int64(st, 2, u->id);
	return run(&st, &changed, err);
}

int user_totp_upgrade_secrets(struct db *db, struct keyring *kr, int *changed_r,
			      struct pv_error *err)
{
	struct db_stmt *st;
	*changed_r = 0;
	int r = db_prepare(db, "SELECT id, name, totp_secret FROM users"
			       " WHERE totp_secret IS NOT NULL", &st, err);
	if (r < 0)
		return r;
	while (r == PV_OK && (r = db_step(st, err)) == DB_ROW) {
		size_t old_len;
		const unsigned char *old = db_column_blob(st, 2, &old_len);
		r = PV_OK;
		unsigned char *sealed = NULL;
		size_t len = 0;
		char *hex = NULL;
		if (keyring_sealed_bound(old, old_len))
			continue;
		if (keyring_open_unbound(kr, old, old_len, &hex, err) < 0) {
			pv_error_clear(err); /* user_totp_get says so when it is used */
			continue;
		}
		int64_t id = db_column_int64(st, 0);
		r = seal_for(kr, id, db_column_text(st, 1), hex, &sealed, &len, err);
		pv_secret_free(&hex);
		if (r == PV_OK && (r = store_sealed(db, id, sealed, len, err)) == PV_OK)
			(*changed_r)++;
		free(sealed);
	}
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

int user_totp_remove(struct db *db, const char *name, struct pv_error *err)
{
	struct db_stmt *st;
	int64_t changed;
	int r = db_prepare(db, "UPDATE users SET totp_secret = NULL, totp_pending = NULL"
			       " WHERE name = ? AND removed_at IS NULL AND (totp_secret IS NOT NULL"
			       " OR totp_pending IS NOT NULL)", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, name, -1);
	if ((r = run(&st, &changed, err)) == PV_OK && changed == 0)
		r = pv_fail(err, PV_ENOTFOUND, "user '%s' has no second factor", name);
	return r;
}

/* user_id's secret in column `use` names (AD_ENROLLED: totp_secret,
 * AD_PENDING: totp_pending): *found_r, the secret, the last step taken. */
static int open_column(struct db *db, struct keyring *kr, const char *use, int64_t user_id,
		       bool *found_r, unsigned char secret_r[TOTP_SECRET_BYTES],
		       uint64_t *last_step_r, struct pv_error *err)
{
	bool pending = strcmp(use, AD_PENDING) == 0;
	struct db_stmt *st;
	char *hex = NULL;
	int r = db_prepare(db, pending ? "SELECT totp_pending, totp_last_step, name FROM users"
					 " WHERE id = ?"
				       : "SELECT totp_secret, totp_last_step, name FROM users"
					 " WHERE id = ?",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, user_id);
	*found_r = false;
	if ((r = db_step(st, err)) != DB_ROW) {
		db_finalize(&st);
		return r < 0 ? r : pv_fail(err, PV_ENOTFOUND, "no such user");
	}
	r = PV_OK;
	*last_step_r = (uint64_t)db_column_int64(st, 1);
	if (!db_column_is_null(st, 0)) {
		char ids[24];
		size_t len;
		const unsigned char *sealed = db_column_blob(st, 0, &len);
		const char *name = db_column_text(st, 2);
		snprintf(ids, sizeof(ids), "%lld", (long long)user_id);
		const char *ad[] = {use, ids, name};
		r = keyring_open_secret(kr, ad, 3, sealed, len, &hex, err);
		if (r == PV_EINTEGRITY)
			pv_error_prefix(err, "user %s: second factor%s", name,
					pending ? " being set up" : "");
		if (r == PV_OK && (strlen(hex) != 2 * TOTP_SECRET_BYTES ||
				   pv_unhex(hex, strlen(hex), secret_r, TOTP_SECRET_BYTES) != 0))
			r = pv_fail(err, PV_EINTEGRITY, "a sealed TOTP secret is malformed");
		*found_r = r == PV_OK;
		if (r < 0) /* nothing half-decoded is left behind */
			sodium_memzero(secret_r, TOTP_SECRET_BYTES);
		pv_secret_free(&hex);
	}
	db_finalize(&st);
	return r;
}

int user_totp_get(struct db *db, struct keyring *kr, int64_t user_id, bool *enrolled_r,
		  unsigned char secret_r[TOTP_SECRET_BYTES], uint64_t *last_step_r,
		  struct pv_error *err)
{
	return open_column(db, kr, AD_ENROLLED, user_id, enrolled_r, secret_r, last_step_r, err);
}

int user_totp_pending_get(struct db *db, struct keyring *kr, int64_t user_id, bool *pending_r,
			  unsigned char secret_r[TOTP_SECRET_BYTES], struct pv_error *err)
{
	uint64_t unused;
	return open_column(db, kr, AD_PENDING, user_id, pending_r, secret_r, &unused, err);
}

int user_totp_claim_step(struct db *db, int64_t user_id, uint64_t step, struct pv_error *err)
{
	struct db_stmt *st;
	int64_t changed;
	int r = db_prepare(db, "UPDATE users SET totp_last_step = ?1 WHERE id = ?2"
			       " AND totp_last_step < ?1", &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, (int64_t)step);
	db_bind_int64(st, 2, user_id);
	if ((r = run(&st, &changed, err)) == PV_OK && changed == 0)
		r = pv_fail(err, PV_EAUTH, "this one-time code was used already");
	return r;
}

int user_totp_required_roles(struct db *db, char out[USER_TOTP_ROLES_MAX], struct pv_error *err)
{
	char *v = NULL;
	int r = catalog_meta_get(db, META_KEY, &v, err);
	out[0] = '\0';
	if (r == PV_ENOTFOUND)
		return PV_OK;
	if (r == PV_OK)
		snprintf(out, USER_TOTP_ROLES_MAX, "%s", v);
	free(v);
	return r;
}

int user_totp_require(struct db *db, const char *list, char out_r[USER_TOTP_ROLES_MAX],
		      struct pv_error *err)
{
	bool want[3] = {false, false, false};
	char norm[USER_TOTP_ROLES_MAX] = "";
	const char *p = list;

	if (strcmp(list, "none") != 0) {
		while (*p) {
			size_t n = strcspn(p, ",");
			size_t i = 0;
			for (; i < 3; i++)
				if (strlen(roles[i]) == n && strncmp(p, roles[i], n) == 0)
					break;
			if (i == 3)
				return pv_fail(err, PV_EUSAGE, "roles are admin, legal and compliance "
							       "(comma-separated), or none");
			want[i] = true;
			p += n + (p[n] == ',');
		}
	}
	for (size_t i = 0; i < 3; i++)
		if (want[i])
			snprintf(norm + strlen(norm), sizeof(norm) - strlen(norm), "%s%s",
				 norm[0] ? "," : "", roles[i]);
	int r = catalog_meta_set(db, META_KEY, norm, err);
	if (r == PV_OK && out_r != NULL)
		memcpy(out_r, norm, sizeof(norm));
	return r;
}

int user_totp_role_required(struct db *db, const char *role, bool *required_r,
			    struct pv_error *err)
{
	char list[USER_TOTP_ROLES_MAX];
	int r = user_totp_required_roles(db, list, err);
	*required_r = false;
	if (r < 0)
		return r;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		if (strlen(role) == n && strncmp(p, role, n) == 0)
			*required_r = true;
		p += n + (p[n] == ',');
	}
	return PV_OK;
}
