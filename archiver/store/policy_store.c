#include "archiver/store/policy_store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/hex.h"
#include "archiver/lib/db.h"

const char policy_store_initial_text[] =
	"# popvault retention policy, version 1 (set by popvault init).\n"
	"# The first matching rule wins, top to bottom; the default rule comes\n"
	"# last and takes everything else. Change it with `popvault policy set\n"
	"# FILE`; see policy/README.md for the language. For example:\n"
	"#   rule \"sec-7y\": retain 7y then review when from ~ \"*@sec.gov\"\n"
	"default: retain 6y\n";

#define INFO_COLUMNS "version, sha256, created_at, actor"

static void row_info(struct db_stmt *st, int col, struct policy_version_info *v)
{
	const char *t;
	memset(v, 0, sizeof(*v));
	v->version = db_column_int64(st, col);
	t = db_column_text(st, col + 1);
	snprintf(v->sha256, sizeof(v->sha256), "%s", t ? t : "");
	v->created_at = db_column_int64(st, col + 2);
	t = db_column_text(st, col + 3);
	snprintf(v->actor, sizeof(v->actor), "%s", t ? t : "");
}

int policy_store_current(struct db *db, struct policy_version_info *info, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT " INFO_COLUMNS " FROM policy_versions"
			       " ORDER BY version DESC LIMIT 1", &st, err);
	if (r < 0)
		return r;
	int rc = db_step(st, err);
	if (rc == DB_ROW)
		row_info(st, 0, info);
	else if (rc == DB_DONE)
		r = pv_fail(err, PV_ENOTFOUND, "no retention policy has been set");
	else
		r = rc;
	db_finalize(&st);
	return r;
}

int policy_store_get(struct db *db, int64_t version, unsigned char **text_r, size_t *len_r,
		     struct policy_version_info *info_r, struct pv_error *err)
{
	struct policy_version_info info;
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT " INFO_COLUMNS ", text FROM policy_versions"
			       " WHERE version = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, version);
	int rc = db_step(st, err);
	if (rc != DB_ROW) {
		r = rc == DB_DONE
			    ? pv_fail(err, PV_ENOTFOUND, "there is no policy version %lld", (long long)version)
			    : rc;
		db_finalize(&st);
		return r;
	}
	row_info(st, 0, &info);
	size_t len;
	const void *p = db_column_blob(st, 4, &len);
	unsigned char *text = malloc(len + 1);
	if (text == NULL) {
		db_finalize(&st);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	if (len > 0)
		memcpy(text, p, len);
	text[len] = '\0';
	db_finalize(&st);

	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[POLICY_SHA256_HEX_LEN];
	crypto_hash_sha256(h, text, len);
	pv_hex(h, sizeof(h), hex);
	if (strcmp(hex, info.sha256) != 0) {
		free(text);
		return pv_fail(err, PV_EINTEGRITY,
			       "policy version %lld: stored text does not match its recorded SHA-256",
			       (long long)version);
	}
	*text_r = text;
	*len_r = len;
	if (info_r != NULL)
		*info_r = info;
	return PV_OK;
}

int policy_store_add(struct db *db, const unsigned char *text, size_t len, const char *actor,
		     int64_t now, int64_t *version_r, struct pv_error *err)
{
	char hex[POLICY_SHA256_HEX_LEN];
	unsigned char h[crypto_hash_sha256_BYTES];
	struct db_stmt *st;

	crypto_hash_sha256(h, text, len);
	pv_hex(h, sizeof(h), hex);
	int r = db_prepare(db,
			   "INSERT INTO policy_versions (version, text, sha256, created_at, actor)"
			   " VALUES ((SELECT coalesce(max(version), 0) + 1 FROM policy_versions),"
			   " ?, ?, ?, ?) RETURNING version",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_blob(st, 1, text, len);
	db_bind_text(st, 2, hex, -1);
	db_bind_int64(st, 3, now);
	db_bind_text(st, 4, actor, -1);
	int rc = db_step(st, err);
	if (rc == DB_ROW)
		*version_r = db_column_int64(st, 0);
	else
		r = rc < 0 ? rc : pv_fail(err, PV_ERR, "catalog: no version was returned");
	db_finalize(&st);
	return r;
}

int policy_store_each(struct db *db, int (*fn)(void *ctx, const struct policy_version_info *v),
		      void *ctx, struct pv_error *err)
{
	struct policy_version_info v;
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT " INFO_COLUMNS " FROM policy_versions ORDER BY version",
			   &st, err);
	if (r < 0)
		return r;
	int rc = DB_DONE;
	while (r == PV_OK && (rc = db_step(st, err)) == DB_ROW) {
		row_info(st, 0, &v);
		r = fn(ctx, &v);
	}
	if (r == PV_OK && rc < 0)
		r = rc;
	db_finalize(&st);
	return r;
}
