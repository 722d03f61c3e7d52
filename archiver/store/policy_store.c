#include "archiver/store/policy_store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/hex.h"
#include "archiver/store/catalog.h"

const char policy_store_initial_text[] =
	"# popvault retention policy, version 1 (set by popvault init).\n"
	"# The first matching rule wins, top to bottom; the default rule comes\n"
	"# last and takes everything else. Change it with `popvault policy set\n"
	"# FILE`; see policy/README.md for the language. For example:\n"
	"#   rule \"sec-7y\": retain 7y then review when from ~ \"*@sec.gov\"\n"
	"default: retain 6y\n";

#define INFO_COLUMNS "version, sha256, created_at, actor"

static void row_info(sqlite3_stmt *st, int col, struct policy_version_info *v)
{
	const unsigned char *t;
	memset(v, 0, sizeof(*v));
	v->version = sqlite3_column_int64(st, col);
	t = sqlite3_column_text(st, col + 1);
	snprintf(v->sha256, sizeof(v->sha256), "%s", t ? (const char *)t : "");
	v->created_at = sqlite3_column_int64(st, col + 2);
	t = sqlite3_column_text(st, col + 3);
	snprintf(v->actor, sizeof(v->actor), "%s", t ? (const char *)t : "");
}

int policy_store_current(sqlite3 *db, struct policy_version_info *info, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT " INFO_COLUMNS " FROM policy_versions"
				    " ORDER BY version DESC LIMIT 1", &st, err);
	if (r < 0)
		return r;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_info(st, 0, info);
	else if (rc == SQLITE_DONE)
		r = pv_fail(err, PV_ENOTFOUND, "no retention policy has been set");
	else
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

int policy_store_get(sqlite3 *db, int64_t version, unsigned char **text_r, size_t *len_r,
		     struct policy_version_info *info_r, struct pv_error *err)
{
	struct policy_version_info info;
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT " INFO_COLUMNS ", text FROM policy_versions"
				    " WHERE version = ?", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, version);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE
			    ? pv_fail(err, PV_ENOTFOUND, "there is no policy version %lld", (long long)version)
			    : pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return r;
	}
	row_info(st, 0, &info);
	size_t len = (size_t)sqlite3_column_bytes(st, 4);
	const void *p = sqlite3_column_blob(st, 4);
	unsigned char *text = malloc(len + 1);
	if (text == NULL) {
		sqlite3_finalize(st);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	if (len > 0)
		memcpy(text, p, len);
	text[len] = '\0';
	sqlite3_finalize(st);

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

int policy_store_add(sqlite3 *db, const unsigned char *text, size_t len, const char *actor,
		     int64_t now, int64_t *version_r, struct pv_error *err)
{
	char hex[POLICY_SHA256_HEX_LEN];
	unsigned char h[crypto_hash_sha256_BYTES];
	sqlite3_stmt *st;

	crypto_hash_sha256(h, text, len);
	pv_hex(h, sizeof(h), hex);
	int r = catalog_prepare(db,
				"INSERT INTO policy_versions (version, text, sha256, created_at, actor)"
				" VALUES ((SELECT coalesce(max(version), 0) + 1 FROM policy_versions),"
				" ?, ?, ?, ?) RETURNING version",
				&st, err);
	if (r < 0)
		return r;
	sqlite3_bind_blob(st, 1, text, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_text(st, 4, actor, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*version_r = sqlite3_column_int64(st, 0);
	else
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

int policy_store_each(sqlite3 *db, int (*fn)(void *ctx, const struct policy_version_info *v),
		      void *ctx, struct pv_error *err)
{
	struct policy_version_info v;
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT " INFO_COLUMNS " FROM policy_versions ORDER BY version",
				&st, err);
	if (r < 0)
		return r;
	while (r == PV_OK && sqlite3_step(st) == SQLITE_ROW) {
		row_info(st, 0, &v);
		r = fn(ctx, &v);
	}
	sqlite3_finalize(st);
	return r;
}
