#include "archiver/archive/identity_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/backup_int.h"
#include "archiver/archive/init.h"
#include "archiver/lib/config.h"
#include "archiver/lib/fsutil.h"
#include "archiver/store/catalog.h"
#include "archiver/store/catalog_url.h"
#include "archiver/store/keyring.h"
#include "audit/keys.h"

const char *const identity_logs[2] = {ARCHIVE_LOG, AUDIT_LOG};

/* Reads dir/name into k under the same name. */
static int add_file(struct backup_key_files *k, const char *dir, const char *name,
		    struct pv_error *err)
{
	char path[4096];
	unsigned char *data;
	size_t len;
	int r;
	if ((r = backup_path(path, sizeof(path), err, "%s/%s", dir, name)) < 0 ||
	    (r = pv_read_file(path, PV_BACKUP_KEY_FILE_MAX, &data, &len, err)) < 0)
		return r;
	r = backup_key_files_add(k, name, data, len, err);
	sodium_memzero(data, len);
	free(data);
	return r;
}

/* The identity's files, each log's seed checked first to be its log's
 * current key (keys_load: a machine whose key was rotated elsewhere
 * exports nothing stale; it also finishes a rotation's last rename).
 * ids_r gets "archive:ID,audit:ID" (the keys' ids, hex). */
static int collect(struct archive *ar, struct backup_key_files *k, char *ids_r, size_t ids_n,
		   struct pv_error *err)
{
	char dir[4096], name[64];
	size_t used = 0;
	int r = backup_key_files_add(k, IDENTITY_ORIGIN, ar->cfg.origin, strlen(ar->cfg.origin),
				     err);
	if (r == PV_OK && (r = backup_path(dir, sizeof(dir), err, "%s/keys", ar->dir)) == PV_OK)
		r = add_file(k, dir, "secrets.key", err);
	if (r == PV_OK)
		archive_sign_dir(ar->dir, dir, sizeof(dir));
	for (size_t i = 0; r == PV_OK && i < 2; i++) {
		struct tlog *t = i == 0 ? ar->archive_log : ar->audit_log;
		struct note_signer *s = NULL;
		if ((r = keys_load(dir, t, &s, err)) < 0)
			break;
		used += (size_t)snprintf(ids_r + used, ids_n - used, "%s%s:%08x", i ? "," : "",
					 identity_logs[i], s->id);
		keys_free(&s);
		snprintf(name, sizeof(name), "%s.key", identity_logs[i]);
		r = add_file(k, dir, name, err);
	}
	return r;
}

/* What both ways of writing an identity refuse before anything. */
static int export_check(struct archive *ar, const char *out_path, size_t pass_len,
			struct pv_error *err)
{
	struct stat st;
	if (ar->cat->db != NULL)
		return pv_fail(err, PV_EUSAGE, "this archive's catalog is a SQLite file, which only "
					       "this machine can use: an identity is for an archive "
					       "whose catalog is on PostgreSQL (init --catalog)");
	if (pass_len < BACKUP_PASSPHRASE_MIN)
		return pv_fail(err, PV_EUSAGE, "the passphrase must have at least %d characters",
			       BACKUP_PASSPHRASE_MIN);
	if (lstat(out_path, &st) == 0 || errno != ENOENT)
		return pv_fail(err, PV_EUSAGE, "%s already exists; refusing to overwrite it", out_path);
	return PV_OK;
}

/* Collects, audits (the keys leave the box: on the record first, with
 * why, e.g. the rotation that made them), then seals and writes. */
static int export_to(struct archive *ar, const char *actor, const char *out_path,
		     const char *passphrase, size_t pass_len, const struct backup_kdf *kdf,
		     const char *why, struct pv_error *err)
{
	struct backup_key_files k = {0};
	struct pv_buf sealed;
	char ids[128] = "";
	int r;

	pv_buf_init(&sealed, PV_BACKUP_KEYS_MAX);
	if ((r = collect(ar, &k, ids, sizeof(ids), err)) < 0 ||
	    (r = archive_auditf(ar, actor, AUDIT_IDENTITY_EXPORT, "ok", NULL, err,
				"out=%s keys=%s%s%s", out_path, ids, why ? " " : "", why ? why : "")) < 0)
		goto out;
	if ((r = backup_keys_seal(&k, passphrase, pass_len, kdf, &sealed, err)) == PV_OK)
		r = pv_write_file(out_path, sealed.data, sealed.len, 0600, 1, err);
	if (r < 0) {
		struct pv_error e;
		char outcome[300];
		snprintf(outcome, sizeof(outcome), "failed: %.280s", err->msg);
		(void)archive_auditf(ar, actor, AUDIT_IDENTITY_EXPORT, outcome, NULL, &e, "out=%s",
				     out_path);
	}
out:
	pv_buf_free(&sealed);
	backup_key_files_free(&k);
	return r;
}

int archive_identity_export(struct archive *ar, const char *actor, const char *out_path,
			    const char *passphrase, size_t pass_len, const struct backup_kdf *kdf,
			    struct pv_error *err)
{
	int r = export_check(ar, out_path, pass_len, err);
	return r < 0 ? r : export_to(ar, actor, out_path, passphrase, pass_len, kdf, NULL, err);
}

int archive_identity_rotate(struct archive *ar, struct tlog *t, const char *actor,
			    const char *out_path, const char *passphrase, size_t pass_len,
			    const struct backup_kdf *kdf, struct pv_buf *vkey_r, struct pv_error *err)
{
	char why[64];
	int r;
	if ((r = export_check(ar, out_path, pass_len, err)) < 0 ||
	    (r = archive_rotate_key_any(ar, t, actor, vkey_r, err)) < 0)
		return r;
	snprintf(why, sizeof(why), "after=key-rotation log=%s", tlog_name(t));
	if ((r = export_to(ar, actor, out_path, passphrase, pass_len, kdf, why, err)) < 0)
		pv_error_prefix(err, "the %s log's key was rotated, but the new identity was not "
				     "written (write it with 'popvault identity export --out FILE' "
				     "for the other harvesters)",
				tlog_name(t));
	return r;
}

const struct backup_key_file *identity_find(const struct backup_key_files *k, const char *name)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->f[i].name, name) == 0)
			return &k->f[i];
	return NULL;
}

/* The identity's parts, all there and of the right shape. */
static int parts(const struct backup_key_files *k, char origin[IDENTITY_ORIGIN_MAX],
			  const struct backup_key_file **secrets_r, struct pv_error *err)
{
	const struct backup_key_file *o = identity_find(k, IDENTITY_ORIGIN);
	const struct backup_key_file *s = identity_find(k, "secrets.key");
	char name[64];
	if (o == NULL || s == NULL || o->len == 0 || o->len >= IDENTITY_ORIGIN_MAX ||
	    memchr(o->data, '\0', o->len) != NULL || s->len != KEYRING_KEY_BYTES)
		return pv_fail(err, PV_EINTEGRITY, "that file is not an archive identity "
						   "(identity export writes one)");
	for (size_t i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "%s.key", identity_logs[i]);
		if (identity_find(k, name) == NULL)
			return pv_fail(err, PV_EINTEGRITY, "the identity has no %s", name);
	}
	memcpy(origin, o->data, o->len);
	origin[o->len] = '\0';
	*secrets_r = s;
	return PV_OK;
}

int identity_read(const char *path, const char *passphrase, size_t pass_len,
		  struct backup_key_files *k, char origin[IDENTITY_ORIGIN_MAX],
		  const struct backup_key_file **secrets_r, struct pv_error *err)
{
	unsigned char *file = NULL;
	size_t len = 0;
	int r = pv_read_file(path, PV_BACKUP_KEYS_MAX, &file, &len, err);
	if (r < 0)
		return r;
	r = backup_keys_open(file, len, passphrase, pass_len, k, err);
	free(file);
	if (r == PV_OK && (r = parts(k, origin, secrets_r, err)) < 0)
		backup_key_files_free(k);
	return r;
}

/* The directory's files from the identity. */
static int write_dir(const char *data_dir, const char *url, const char *origin,
		     const struct backup_key_files *k, const struct backup_key_file *secrets,
		     struct pv_error *err)
{
	static const char *const subdirs[] = {"blobs", "keys", "tmp", KEYS_DATA_SUBDIR};
	struct pv_config cfg;
	char path[4096], name[64];
	int r;
	pv_config_defaults(&cfg);
	snprintf(cfg.origin, sizeof(cfg.origin), "%s", origin);
	if ((r = pv_mkdir(data_dir, 0700, 1, err)) < 0)
		return r;
	chmod(data_dir, 0700);
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if ((r = backup_path(path, sizeof(path), err, "%s/%s", data_dir, subdirs[i])) < 0 ||
		    (r = pv_mkdir(path, 0700, 0, err)) < 0)
			return r;
	}
	if ((r = catalog_url_write(data_dir, url, err)) < 0 ||
	    (r = pv_config_write(data_dir, &cfg, err)) < 0 ||
	    (r = keyring_create_with(data_dir, secrets->data, err)) < 0)
		return r;
	for (size_t i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "%s.key", identity_logs[i]);
		const struct backup_key_file *f = identity_find(k, name);
		if ((r = backup_path(path, sizeof(path), err, "%s/" KEYS_DATA_SUBDIR "/%s", data_dir,
				     name)) < 0 ||
		    (r = pv_write_file(path, f->data, f->len, 0600, 1, err)) < 0)
			return r;
	}
	return pv_fsync_dir(data_dir, err);
}

/* Each log's seed is the catalog's current key for it, and the catalog's
 * bucket keys open under the secrets key. */
static int check_against_catalog(const char *data_dir, struct pv_error *err)
{
	struct catalog *cat = NULL;
	struct keyring *kr = NULL;
	char dir[4096];
	int r;
	archive_sign_dir(data_dir, dir, sizeof(dir));
	if ((r = catalog_open(data_dir, 0, &cat, err)) < 0)
		return r;
	for (size_t i = 0; r == PV_OK && i < 2; i++) {
		struct tlog *t = NULL;
		struct note_signer *s = NULL;
		struct pv_error e;
		if ((r = tlog_open(cat->conn, identity_logs[i], &t, err)) == PV_OK &&
		    (r = keys_load(dir, t, &s, &e)) < 0)
			r = pv_fail(err, PV_EINTEGRITY, "the identity's %s key is not this catalog's "
							"(another archive's identity, or one from "
							"before a key rotation): %s", identity_logs[i], e.msg);
		keys_free(&s);
		tlog_free(&t);
	}
	if (r == PV_OK && (r = keyring_open(data_dir, &kr, err)) == PV_OK &&
	    (r = keyring_use_catalog(kr, cat->conn, err)) == PV_OK)
		r = keyring_check_identity(kr, err);
	keyring_free(&kr);
	catalog_close(&cat);
	return r;
}

/* Takes back what write_dir made: the whole directory when it made it,
 * else only its own entries (an empty directory may have been given
 * with files of someone else's in it). */
static void unmake(const char *data_dir, bool existed)
{
	static const char *const made[] = {"blobs", "keys", "tmp", "packs", CATALOG_URL_FILE,
					   "popvault.conf"};
	struct pv_error e;
	char path[4096];
	if (!existed) {
		(void)backup_rmtree(data_dir, &e);
		return;
	}
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++)
		if (backup_path(path, sizeof(path), &e, "%s/%s", data_dir, made[i]) == PV_OK)
			(void)backup_rmtree(path, &e);
}

int archive_identity_join(const char *data_dir, const char *url, const char *identity_path,
			  const char *passphrase, size_t pass_len, const char *actor,
			  char *origin_r, struct pv_error *err)
{
	struct backup_key_files k = {0};
	const struct backup_key_file *secrets = NULL;
	char origin[IDENTITY_ORIGIN_MAX], host[256] = "";
	struct archive *ar = NULL;
	bool made = false, existed;
	struct stat st;
	int r;

	if ((r = catalog_url_check(url, err)) < 0 ||
	    (r = archive_init_dir_free(data_dir, err)) < 0)
		return r;
	if (r == 0)
		return pv_fail(err, PV_ERR, "%s already holds an archive; refusing to overwrite it",
			       data_dir);
	if ((r = identity_read(identity_path, passphrase, pass_len, &k, origin, &secrets, err)) < 0)
		return r;
	/* The archive's catalog must be there: a join never makes one. */
	r = catalog_server_holds(url, err);
	if (r == PV_OK) {
		existed = stat(data_dir, &st) == 0;
		made = true;
		r = write_dir(data_dir, url, origin, &k, secrets, err);
	}
	backup_key_files_free(&k);
	if (r == PV_OK)
		r = check_against_catalog(data_dir, err);
	if (r == PV_OK && (r = archive_open(data_dir, &ar, err)) == PV_OK) {
		(void)gethostname(host, sizeof(host) - 1);
		r = archive_auditf(ar, actor, AUDIT_IDENTITY_JOIN, "ok", NULL, err,
				   "site=%s:%s origin=%s", host, data_dir, origin);
		archive_close(&ar);
	}
	if (r < 0 && made) {
		unmake(data_dir, existed);
		return r;
	}
	if (r == PV_OK && origin_r != NULL)
		snprintf(origin_r, IDENTITY_ORIGIN_MAX, "%s", origin);
	return r;
}
