#include "archiver/archive/init.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/policies.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/config.h"
#include "archiver/lib/fsutil.h"
#include "archiver/store/catalog.h"
#include "archiver/store/catalog_url.h"
#include "archiver/store/keyring.h"

static int dir_is_empty_or_missing(const char *dir, struct pv_error *err);

int archive_init_dir_free(const char *dir, struct pv_error *err)
{
	return dir_is_empty_or_missing(dir, err);
}

/* 1 when dir is missing or holds no archive, 0 when it does. */
static int dir_is_empty_or_missing(const char *dir, struct pv_error *err)
{
	struct stat st;
	if (stat(dir, &st) != 0)
		return errno == ENOENT ? 1 : pv_fail(err, PV_ERR, "%s: %s", dir, strerror(errno));
	char probe[4096];
	snprintf(probe, sizeof(probe), "%s/popvault.conf", dir);
	if (access(probe, F_OK) == 0)
		return 0;
	snprintf(probe, sizeof(probe), "%s/" CATALOG_URL_FILE, dir);
	if (access(probe, F_OK) == 0)
		return 0;
	snprintf(probe, sizeof(probe), "%s/catalog.db", dir);
	return access(probe, F_OK) != 0;
}

int archive_init_create(const char *data_dir, const char *origin, const char *catalog_url,
			struct pv_buf *vkeys_r, struct pv_error *err)
{
	struct pv_config cfg;
	struct catalog *cat = NULL;
	char path[4096];
	int r;

	pv_config_defaults(&cfg);
	if (origin[0] == '\0' || strlen(origin) >= sizeof(cfg.origin) ||
	    strpbrk(origin, " +\t\n") != NULL)
		return pv_fail(err, PV_EUSAGE, "--origin must be a non-empty name without spaces or '+'");
	snprintf(cfg.origin, sizeof(cfg.origin), "%s", origin);
	if ((r = dir_is_empty_or_missing(data_dir, err)) < 0)
		return r;
	if (r == 0)
		return pv_fail(err, PV_ERR, "%s already holds an archive; refusing to overwrite it",
			       data_dir);
	/* A catalog on a server: reachable, and holding no catalog yet,
	 * before anything is made. */
	if (catalog_url != NULL && (r = catalog_server_free(catalog_url, err)) < 0)
		return r;
	if ((r = pv_mkdir(data_dir, 0700, 1, err)) < 0)
		return r;
	chmod(data_dir, 0700);
	static const char *const subdirs[] = {"blobs", "keys", "tmp"};
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", data_dir, subdirs[i]);
		if ((r = pv_mkdir(path, 0700, 0, err)) < 0)
			return r;
	}
	if ((catalog_url != NULL && (r = catalog_url_write(data_dir, catalog_url, err)) < 0) ||
	    (r = pv_config_write(data_dir, &cfg, err)) < 0 ||
	    (r = keyring_create(data_dir, err)) < 0 ||
	    (r = catalog_open(data_dir, 1, &cat, err)) < 0)
		return r;
	r = archive_create_logs(cat->conn, data_dir, cfg.origin, vkeys_r, err);
	catalog_close(&cat);
	if (r < 0)
		return r;
	return pv_fsync_dir(data_dir, err);
}

int archive_init_store(struct archive *ar, const char *url, const char *secret,
		       struct pv_error *err)
{
	int r = catalog_begin(ar->cat, err);
	if (r < 0)
		return r;
	if ((r = packstore_configure(ar->cat->conn, ar->kr, url, secret, err)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0) {
		catalog_rollback(ar->cat);
		return r;
	}
	packstore_close(&ar->packs);
	return packstore_open(ar->dir, ar->cat->conn, ar->kr, &ar->packs, err);
}

int archive_init_policy(struct archive *ar, const char *actor, struct pv_error *err)
{
	struct policy *p = NULL;
	char hex[POLICY_HASH_HEX_LEN];
	int64_t version;
	int r;
	if ((r = policy_parse(policy_store_initial_text, strlen(policy_store_initial_text), &p, NULL,
			      err)) < 0 ||
	    (r = catalog_begin(ar->cat, err)) < 0)
		goto out;
	policy_hash_hex(p, hex);
	/* The audit log's first entry: who created this archive, and how. */
	if ((r = archive_auditf(ar, actor, AUDIT_INIT, "ok", NULL, err, "origin=%s schema=%d%s%s",
				ar->cfg.origin, catalog_schema_version(),
				packstore_remote(ar->packs) ? " store=" : "",
				packstore_remote(ar->packs) ? ar->packs->url : "")) < 0 ||
	    (r = archive_auditf(ar, actor, AUDIT_POLICY_SET, "ok", NULL, err,
				"version=1 sha256=%s previous=0", hex)) < 0 ||
	    (r = policy_version_add(ar->cat->conn, p, actor, pv_clock_now(), &version, err)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
out:
	policy_free(&p);
	return r;
}
