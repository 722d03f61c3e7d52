/* `popvault identity update FILE` (identity.h): a harvester takes the
 * log keys another harvester of the same archive rotated. */
#include "archiver/archive/identity_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/lib/config.h"
#include "archiver/lib/fsutil.h"
#include "archiver/store/catalog.h"
#include "archiver/store/keyring.h"
#include "audit/keys.h"

/* The identity's origin and secrets key are data_dir's: the same archive. */
static int same_archive(const char *data_dir, const char *origin,
			const struct backup_key_file *secrets, struct pv_error *err)
{
	struct pv_config cfg;
	char path[4096];
	unsigned char *mine = NULL;
	size_t len = 0;
	int r;
	if ((r = pv_config_load(data_dir, &cfg, err)) < 0)
		return r;
	if (strcmp(cfg.origin, origin) != 0)
		return pv_fail(err, PV_EINTEGRITY, "that identity is another archive's (origin %s; "
						   "this archive's is %s): nothing changed",
			       origin, cfg.origin);
	if ((size_t)snprintf(path, sizeof(path), "%s/keys/secrets.key", data_dir) >= sizeof(path))
		return pv_fail(err, PV_ERR, "data directory path too long");
	if ((r = pv_read_file(path, KEYRING_KEY_BYTES + 1, &mine, &len, err)) < 0)
		return r;
	if (len != secrets->len || sodium_memcmp(mine, secrets->data, len) != 0)
		r = pv_fail(err, PV_EINTEGRITY, "that identity's secrets key is not this archive's: "
						"it is another archive's identity; nothing changed");
	sodium_memzero(mine, len);
	free(mine);
	return r;
}

/* 0 when s is log t's current key; PV_EINTEGRITY saying what it is else
 * (an older epoch's key: a file from before a later rotation). */
static int check_current(struct tlog *t, const struct note_signer *s, struct pv_error *err)
{
	struct tlog_epoch_row cur, ep;
	struct pv_buf vkey;
	int r;
	tlog_epoch_row_init(&cur);
	tlog_epoch_row_init(&ep);
	pv_buf_init(&vkey, NOTE_VKEY_MAX);
	if ((r = tlog_epoch_get(t, UINT32_MAX, &cur, err)) < 0 || (r = keys_vkey(s, &vkey, err)) < 0)
		goto out;
	if (strcmp(pv_buf_str(&vkey), cur.vkey) == 0)
		goto out;
	r = pv_fail(err, PV_EINTEGRITY, "the identity's %s key is no key of this archive's %s log; "
					"nothing changed", tlog_name(t), tlog_name(t));
	for (uint32_t e = cur.epoch; e-- > 0;) {
		struct pv_error e2;
		if (tlog_epoch_get(t, e, &ep, &e2) == PV_OK && strcmp(pv_buf_str(&vkey), ep.vkey) == 0) {
			r = pv_fail(err, PV_EINTEGRITY,
				    "the identity's %s key is an older one (epoch %u; the catalog's "
				    "current key is epoch %u's): a file written before a later "
				    "rotation; use the file the latest rotation wrote; nothing changed",
				    tlog_name(t), e, cur.epoch);
			break;
		}
	}
out:
	pv_buf_free(&vkey);
	tlog_epoch_row_free(&cur);
	tlog_epoch_row_free(&ep);
	return r;
}

/* Whether <dir>/<log>.key is s already. */
static bool installed(const char *dir, const char *log, const struct note_signer *s)
{
	struct note_signer *cur = NULL;
	struct pv_error e;
	bool same = keys_file_read(dir, log, false, &cur, &e) == PV_OK &&
		    sodium_memcmp(cur->pk, s->pk, sizeof(s->pk)) == 0 && strcmp(cur->name, s->name) == 0;
	keys_free(&cur);
	return same;
}

/* The file's seeds, each checked against the catalog; want[i]: log i's
 * differs from the installed one. */
static int check_seeds(const char *data_dir, const char *sign_dir,
		       const struct backup_key_files *k, struct note_signer *s[2], bool want[2],
		       struct pv_error *err)
{
	struct catalog *cat = NULL;
	char name[64];
	int r;
	if ((r = catalog_open(data_dir, 0, &cat, err)) < 0)
		return r;
	if (cat->db != NULL)
		r = pv_fail(err, PV_EUSAGE, "this archive's catalog is a SQLite file: no other "
					    "harvester shares its keys, there is nothing to update");
	for (size_t i = 0; r == PV_OK && i < 2; i++) {
		struct tlog *t = NULL;
		snprintf(name, sizeof(name), "%s.key", identity_logs[i]);
		const struct backup_key_file *f = identity_find(k, name);
		if ((r = keys_parse(f->data, f->len, &s[i], err)) < 0) {
			pv_error_prefix(err, "the identity's %s", name);
			break;
		}
		if ((r = tlog_open(cat->conn, identity_logs[i], &t, err)) == PV_OK &&
		    (r = check_current(t, s[i], err)) == PV_OK)
			want[i] = !installed(sign_dir, identity_logs[i], s[i]);
		tlog_free(&t);
	}
	catalog_close(&cat);
	return r;
}

int archive_identity_update(const char *data_dir, const char *identity_path,
			    const char *passphrase, size_t pass_len, const char *actor,
			    int *changed_r, struct pv_error *err)
{
	struct backup_key_files k = {0};
	const struct backup_key_file *secrets = NULL;
	struct note_signer *s[2] = {NULL, NULL};
	bool want[2] = {false, false};
	char origin[IDENTITY_ORIGIN_MAX], sign_dir[4096], host[256] = "", which[32] = "";
	struct archive *ar = NULL;
	int r;

	*changed_r = 0;
	archive_sign_dir(data_dir, sign_dir, sizeof(sign_dir));
	if ((r = identity_read(identity_path, passphrase, pass_len, &k, origin, &secrets, err)) < 0)
		return r;
	if ((r = same_archive(data_dir, origin, secrets, err)) == PV_OK)
		r = check_seeds(data_dir, sign_dir, &k, s, want, err);
	backup_key_files_free(&k);
	/* Each in one rename: a crash leaves every log with its old key or
	 * its new one, and running this again finishes. */
	for (size_t i = 0; r == PV_OK && i < 2; i++) {
		if (!want[i])
			continue;
		if ((r = keys_file_install(sign_dir, identity_logs[i], s[i], err)) < 0)
			break;
		(*changed_r)++;
		snprintf(which + strlen(which), sizeof(which) - strlen(which), "%s%s",
			 which[0] ? "," : "", identity_logs[i]);
	}
	/* The entry needs the new keys: this machine's old audit key could
	 * no longer sign it. */
	if (r == PV_OK && *changed_r > 0 && (r = archive_open(data_dir, &ar, err)) == PV_OK) {
		(void)gethostname(host, sizeof(host) - 1);
		r = archive_auditf(ar, actor, AUDIT_IDENTITY_UPDATE, "ok", NULL, err,
				   "site=%s:%s keys=archive:%08x,audit:%08x installed=%s", host,
				   data_dir, s[0]->id, s[1]->id, which);
		archive_close(&ar);
	}
	keys_free(&s[0]);
	keys_free(&s[1]);
	return r;
}
