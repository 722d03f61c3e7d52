#include "archiver/store/datadir.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/store/accounts.h"
#include "archiver/store/user_totp.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/log.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"

static const struct archive_key_source *key_source;

void archive_set_key_source(const struct archive_key_source *src)
{
	key_source = src;
}

int archive_key_source_fd(void)
{
	return key_source != NULL ? key_source->keep_fd : -1;
}

void archive_sign_dir(const char *data_dir, char *out, size_t n)
{
	snprintf(out, n, "%s/" KEYS_DATA_SUBDIR, data_dir);
}

static void keys_dir(const char *data_dir, char *out, size_t n)
{
	archive_sign_dir(data_dir, out, n);
}

int archive_create_logs(struct db *db, const char *data_dir, const char *origin,
			struct pv_buf *vkeys_r, struct pv_error *err)
{
	static const char *const logs[] = {ARCHIVE_LOG, AUDIT_LOG};
	char dir[4096], log_origin[PV_KEY_NAME_MAX + 1];
	int r;

	keys_dir(data_dir, dir, sizeof(dir));
	if ((r = pv_mkdir(dir, 0700, 1, err)) < 0)
		return r;
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
	if ((r = tlog_open(ar->cat->conn, name, t_r, err)) < 0)
		return pv_error_prefix(err, "%s log", name);
	if (ar->signer_conn != NULL) {
		struct tlog_epoch_row ep;
		tlog_epoch_row_init(&ep);
		if ((r = tlog_epoch_get(*t_r, UINT32_MAX, &ep, &e)) == PV_OK)
			r = key_source->key(ar->signer_conn, name, ep.vkey, s_r, &e);
		tlog_epoch_row_free(&ep);
	} else {
		r = keys_load(dir, *t_r, s_r, &e);
	}
	if (r == PV_OK)
		return PV_OK;
	if (ar->cat->db == NULL) /* a shared catalog: the key may have moved on elsewhere */
		pv_error_prefix(&e, "%s", ARCHIVE_KEY_HINT);
	if (slot < 0)
		return pv_fail(err, r, "%s log: %s", name, e.msg);
	ar->signer_state[slot] = r;
	snprintf(ar->signer_why[slot], sizeof(ar->signer_why[slot]), "%s", e.msg);
	return PV_OK;
}

int archive_sign_checkpoint(struct archive *ar, struct tlog *t, struct pv_error *err)
{
	int r = checkpoint_sign(t, archive_signer(ar, t), 0, NULL, NULL, err);
	if (r < 0)
		archive_key_hint(ar, err);
	return r;
}

/* Whether the key this handle holds for t is no longer t's current key. */
static bool key_stale(struct archive *ar, struct tlog *t)
{
	const struct note_signer *s = archive_signer(ar, t);
	struct tlog_epoch_row ep;
	struct note_verifier v;
	struct pv_buf vkey;
	struct pv_error e;
	bool stale = false;
	if (s == NULL)
		return false;
	tlog_epoch_row_init(&ep);
	pv_buf_init(&vkey, NOTE_VKEY_MAX);
	note_signer_verifier(s, &v);
	if (tlog_epoch_get(t, UINT32_MAX, &ep, &e) == PV_OK &&
	    note_verifier_format(&v, &vkey, &e) == PV_OK)
		stale = strcmp(pv_buf_str(&vkey), ep.vkey) != 0;
	pv_buf_free(&vkey);
	tlog_epoch_row_free(&ep);
	return stale;
}

void archive_key_hint(struct archive *ar, struct pv_error *err)
{
	if (ar->cat == NULL || ar->cat->db != NULL || ar->archive_log == NULL ||
	    ar->audit_log == NULL || strstr(err->msg, ARCHIVE_KEY_HINT) != NULL)
		return;
	if (key_stale(ar, ar->archive_log) || key_stale(ar, ar->audit_log))
		pv_error_prefix(err, "%s", ARCHIVE_KEY_HINT);
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
	if ((r = accounts_upgrade_secrets(ar->cat->conn, ar->kr, &n, err)) < 0 ||
	    (r = user_totp_upgrade_secrets(ar->cat->conn, ar->kr, &t, err)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0) {
		catalog_rollback(ar->cat);
		return pv_error_prefix(err, "sealing the account secrets bound to their accounts");
	}
	if (n + t > 0 && ar->cat->db != NULL) /* SQLite's WAL; a server keeps its own files */
		sqlite3_exec(ar->cat->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	return keyring_mark_secrets_bound(ar->kr, err);
}

int archive_seal(struct archive *ar, struct pv_error *err)
{
	/* The notes stored here need not be on disk before this returns (one
	 * fsync less per action): lost in a power cut, their rows are
	 * reserved again, and the signer, whose own record of them is
	 * durable, signs the same bodies again. The leaves they cover were
	 * committed with synchronous=FULL. */
	sqlite3 *db = ar->cat->db; /* NULL on PostgreSQL: its server decides */
	bool relax = db != NULL && sqlite3_get_autocommit(db);
	int r;
	if (relax)
		(void)sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	if ((r = checkpoint_seal(ar->archive_log, ar->archive_key, NULL, err)) < 0 ||
	    (r = checkpoint_seal(ar->audit_log, ar->audit_key, NULL, err)) < 0) {
		pv_error_prefix(err, "signing checkpoints");
		archive_key_hint(ar, err);
	}
	if (relax)
		(void)sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	return r;
}

/* After every commit on the catalog (SQLite's WAL hook runs once the
 * commit is done and the write lock released, and may write): the
 * checkpoints the transaction reserved are signed now. A failure is
 * logged and left for archive_seal, which the steps that must not go on
 * unsigned call. The hook replaces SQLite's automatic WAL checkpoint, so
 * it does that too, at SQLite's default size. */
#define WAL_AUTOCHECKPOINT_PAGES 1000
static void seal_after_commit(struct archive *ar)
{
	if (!ar->sealing && ar->archive_log != NULL && ar->audit_log != NULL) {
		struct pv_error e;
		ar->sealing = true;
		if (archive_seal(ar, &e) < 0)
			pv_log(PV_LOG_WARN, "signer.seal", "%s (retried at the next commit)", e.msg);
		ar->sealing = false;
	}
}

static int on_commit(void *ctx, sqlite3 *db, const char *name, int pages)
{
	if (sqlite3_get_autocommit(db))
		seal_after_commit(ctx);
	if (pages >= WAL_AUTOCHECKPOINT_PAGES)
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

/* PostgreSQL has no WAL hook: the interface calls this after each write
 * transaction's COMMIT (db_on_commit), on the connection in autocommit
 * again, as SQLite's hook is. */
static void on_commit_pg(void *ctx)
{
	seal_after_commit(ctx);
}

/* The bucket keys are rows of the catalog (keyring_buckets): always on
 * PostgreSQL; on SQLite only in an archive restored from the backup of
 * one (backup_pg.c copies them, wrapped), never in one made on SQLite. */
static bool keys_in_catalog(struct catalog *cat)
{
	int64_t n = 0;
	struct pv_error e;
	if (cat->db == NULL)
		return true;
	return db_query_int(cat->conn, "SELECT count(*) FROM keyring_buckets", &n, &e) == PV_OK &&
	       n > 0;
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
	if (key_source != NULL) {
		if ((r = key_source->open(key_source->ctx, &ar->signer_conn, err)) < 0) {
			free(ar);
			return r;
		}
	} else {
		/* Key files from before keys/sign: moved once, by whoever reads them. */
		char legacy[4096], dir[4096];
		snprintf(legacy, sizeof(legacy), "%s/" KEYS_LEGACY_SUBDIR, data_dir);
		keys_dir(data_dir, dir, sizeof(dir));
		if ((r = keys_move_legacy(legacy, dir, err)) < 0) {
			free(ar);
			return r;
		}
	}
	if ((r = catalog_open(data_dir, 0, &ar->cat, err)) < 0 ||
	    (r = pv_config_load(data_dir, &ar->cfg, err)) < 0 ||
	    (r = keyring_open(data_dir, &ar->kr, err)) < 0 ||
	    /* A catalog on a server may be shared by several harvesters:
	     * the bucket keys are its own (keyring.h); so are they in a
	     * SQLite catalog restored from such an archive's backup. */
	    (keys_in_catalog(ar->cat) && (r = keyring_use_catalog(ar->kr, ar->cat->conn, err)) < 0) ||
	    (!for_verify && (r = bind_secrets(ar, err)) < 0) ||
	    (r = packstore_open(data_dir, ar->cat->conn, ar->kr, &ar->packs, err)) < 0 ||
	    (r = open_log(ar, ARCHIVE_LOG, &ar->archive_log, &ar->archive_key, for_verify ? 0 : -1,
			  err)) < 0 ||
	    (r = open_log(ar, AUDIT_LOG, &ar->audit_log, &ar->audit_key, for_verify ? 1 : -1,
			  err)) < 0) {
		archive_close(&ar);
		return r;
	}
	/* After every commit, what it reserved is signed: SQLite's WAL hook,
	 * PostgreSQL's the interface's commit hook. */
	if (ar->signer_conn != NULL && ar->cat->db != NULL)
		sqlite3_wal_hook(ar->cat->db, on_commit, ar);
	else if (ar->signer_conn != NULL)
		db_on_commit(ar->cat->conn, on_commit_pg, ar);
	/* What a process that died between a commit and its signature left
	 * reserved is signed now (verify only notes it). */
	struct pv_error e;
	if (archive_seal(ar, &e) < 0)
		pv_log(PV_LOG_WARN, "signer.seal", "%s", e.msg);
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
	if (ar->cat != NULL && ar->cat->db != NULL)
		sqlite3_wal_hook(ar->cat->db, NULL, NULL);
	else if (ar->cat != NULL)
		db_on_commit(ar->cat->conn, NULL, NULL);
	if (ar->search_close != NULL)
		ar->search_close(&ar->search); /* before the catalog it runs on */
	keys_free(&ar->archive_key);
	keys_free(&ar->audit_key);
	tlog_free(&ar->archive_log);
	tlog_free(&ar->audit_log);
	packstore_close(&ar->packs);
	keyring_free(&ar->kr);
	catalog_close(&ar->cat);
	if (ar->signer_conn != NULL)
		key_source->close(ar->signer_conn);
	free(ar);
	*arp = NULL;
}
