#ifndef PV_DATADIR_H
#define PV_DATADIR_H

/* An open data directory: its config, catalog, keyring and the two Merkle
 * logs with their signing keys. Commands open one archive, work through it,
 * and close it. */

#include "archiver/lib/config.h"
#include "archiver/lib/error.h"
#include "archiver/lib/progress.h"
#include "archiver/store/catalog.h"
#include "archiver/store/keyring.h"
#include "audit/note.h"
#include "audit/tlog.h"

struct archive {
	char dir[2048];
	struct pv_config cfg;
	struct catalog *cat;
	struct keyring *kr;
	struct tlog *archive_log; /* one leaf per message and per tombstone */
	struct tlog *audit_log;   /* one leaf per action */
	struct note_signer *archive_key, *audit_key;
	/* archive_open_for_verify only: for the archive (0) and audit (1) log,
	 * PV_OK when its signing key loaded, PV_ENOTFOUND when the key file is
	 * missing, another status when it is not the log's current key (then
	 * the signer is NULL and signer_why says why). */
	int signer_state[2];
	char signer_why[2][PV_ERROR_MSG_MAX];
	/* Where long operations on this handle report how far they are
	 * (verify, reindex, audit export, backup; lib/progress.h): set by the
	 * front end that wants to show it, empty after archive_open. */
	struct pv_progress progress;
};

/* Names of the two logs, and their origins: "<config origin>/<name>". */
#define ARCHIVE_LOG "archive"
#define AUDIT_LOG "audit"

/* Creates both logs with their keys and signed genesis checkpoints (init).
 * Appends "vkey\n" per log to vkeys_r. */
int archive_create_logs(sqlite3 *db, const char *data_dir, const char *origin,
			struct pv_buf *vkeys_r, struct pv_error *err);

/* Opens DIR (config, catalog with pending migrations, keyring); on the
 * first open of an archive from before issue 16, binds every sealed
 * secret to its row (accounts_upgrade_secrets, user_totp_upgrade_secrets)
 * and marks the keyring so. */
int archive_open(const char *data_dir, struct archive **ar_r, struct pv_error *err);
void archive_close(struct archive **ar);
/* The same for `verify`, which checks signatures with the public keys the
 * logs record and needs no private key: a signing key file that is
 * missing or does not belong to its log leaves that signer NULL and is
 * described in signer_state/signer_why instead of failing the open. */
int archive_open_for_verify(const char *data_dir, struct archive **ar_r, struct pv_error *err);

/* Signs a checkpoint of log t (archive_log or audit_log) with its key,
 * inside the caller's transaction if one is open. */
int archive_sign_checkpoint(struct archive *ar, struct tlog *t, struct pv_error *err);
/* The signer of log t. */
const struct note_signer *archive_signer(const struct archive *ar, const struct tlog *t);

#endif
