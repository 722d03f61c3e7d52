#include "archiver/store/datadir.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/store/accounts.h"
#include "archiver/store/user_totp.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"

static void keys_dir(const char *data_dir, char *out, size_t n)
{
	snprintf(out, n, "%s/keys", data_dir);
}

int archive_create_logs(sqlite3 *db, const char *data_dir, const char *origin,
			struct pv_buf *vkeys_r, struct pv_error *err)
{
	static const char *const logs[] = {ARCHIVE_LOG, AUDIT_LOG};
	char dir[4096], log_origin[PV_KEY_NAME_MAX + 1];
	int r;

	keys_dir(data_dir, dir, sizeof(dir));
	for (size_t i = 0; i < 2; i++) {
		if ((size_t)snprintf(log_origin, sizeof(log_origin), "%s/%s", origin, logs[i]) >=
		    sizeof(log_origin))
			return pv_fail(err, PV_ERR, "origin too long");
		if ((r = keys_init_log(db, dir, logs[i], log_origin, vkeys_r, err)) < 0 ||
		    (r = pv_buf_append_str(vkeys_r, "\n", err)) < 0)
			return r;
	}
	return PV_OK;
}

static int open_log(struct archive *ar, const char *name, struct tlog **t_r,
		    struct note_signer **s_r, int slot, struct pv_error *err)
{
	char dir[4096];
	struct pv_error e;
	int r;
	keys_dir(ar->dir, dir, sizeof(dir));
	if ((r = tlog_open(ar->cat->db, name, t_r, err)) < 0)
		return pv_error_prefix(err, "%s log", name);
	if ((r = keys_load(dir, *t_r, s_r, &e)) == PV_OK)
		return PV_OK;
	if (slot < 0)
		return pv_fail(err, r, "%s log: %s", name, e.msg);
	ar->signer_state[slot] = r;
	snprintf(ar->signer_why[slot], sizeof(ar->signer_why[slot]), "%s", e.msg);
	return PV_OK;
}

int archive_sign_checkpoint(struct archive *ar, struct tlog *t, struct pv_error *err)
{
	return checkpoint_sign(t, archive_signer(ar, t), 0, NULL, NULL, err);
}

const struct note_signer *archive_signer(const struct archive *ar, const struct tlog *t)
{
	return t == ar->archive_log ? ar->archive_key : ar->audit_key;
}

/* The one-time upgrade of an archive from before issue 16 (keyring.h):
 * every sealed secret of the catalog bound to its row, token commands
 * kept in clear sealed; then the keyring says so, and format 1 secrets
 * are never read again. The clear text leaves the pages (secure_delete)
 * and the WAL. */
static int bind_secrets(struct archive *ar, struct pv_error *err)
{
	bool bound;
	int n = 0, t = 0;
	int r = keyring_secrets_bound(ar->kr, &bound, err);
	if (r < 0 || bound)
		return r;
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = accounts_upgrade_secrets(ar->cat->db, ar->kr, &n, err)) < 0 ||
	    (r = user_totp_upgrade_secrets(ar->cat->db, ar->kr, &t, err)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0) {
		catalog_rollback(ar->cat);
		return pv_error_prefix(err, "sealing the account secrets bound to their accounts");
	}
	if (n + t > 0)
		sqlite3_exec(ar->cat->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	return keyring_mark_secrets_bound(ar->kr, err);
}

static int open_dir(const char *data_dir, bool for_verify, struct archive **ar_r,
		    struct pv_error *err)
{
	struct archive *ar = calloc(1, sizeof(*ar));
	int r;

	if (ar == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (strlen(data_dir) >= sizeof(ar->dir)) {
		free(ar);
		return pv_fail(err, PV_ERR, "data directory path too long");
	}
	snprintf(ar->dir, sizeof(ar->dir), "%s", data_dir);
	if ((r = catalog_open(data_dir, 0, &ar->cat, err)) < 0 ||
	    (r = pv_config_load(data_dir, &ar->cfg, err)) < 0 ||
	    (r = keyring_open(data_dir, &ar->kr, err)) < 0 ||
	    (!for_verify && (r = bind_secrets(ar, err)) < 0) ||
	    (r = open_log(ar, ARCHIVE_LOG, &ar->archive_log, &ar->archive_key, for_verify ? 0 : -1,
			  err)) < 0 ||
	    (r = open_log(ar, AUDIT_LOG, &ar->audit_log, &ar->audit_key, for_verify ? 1 : -1,
			  err)) < 0) {
		archive_close(&ar);
		return r;
	}
	*ar_r = ar;
	return PV_OK;
}

int archive_open(const char *data_dir, struct archive **ar_r, struct pv_error *err)
{
	return open_dir(data_dir, false, ar_r, err);
}

int archive_open_for_verify(const char *data_dir, struct archive **ar_r, struct pv_error *err)
{
	return open_dir(data_dir, true, ar_r, err);
}

void archive_close(struct archive **arp)
{
	struct archive *ar = *arp;
	if (ar == NULL)
		return;
	keys_free(&ar->archive_key);
	keys_free(&ar->audit_key);
	tlog_free(&ar->archive_log);
	tlog_free(&ar->audit_log);
	keyring_free(&ar->kr);
	catalog_close(&ar->cat);
	free(ar);
	*arp = NULL;
}
