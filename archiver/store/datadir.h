#ifndef PV_DATADIR_H
#define PV_DATADIR_H

/* An open data directory: its config, catalog, keyring and the two Merkle
 * logs with their signing keys. Commands open one archive, work through it,
 * and close it. */

#include "archiver/lib/config.h"
#include "archiver/lib/error.h"
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
};

/* Names of the two logs, and their origins: "<config origin>/<name>". */
#define ARCHIVE_LOG "archive"
#define AUDIT_LOG "audit"

/* Creates both logs with their keys and signed genesis checkpoints (init).
 * Appends "vkey\n" per log to vkeys_r. */
int archive_create_logs(sqlite3 *db, const char *data_dir, const char *origin,
			struct pv_buf *vkeys_r, struct pv_error *err);

/* Opens DIR (config, catalog with pending migrations, keyring). */
int archive_open(const char *data_dir, struct archive **ar_r, struct pv_error *err);
void archive_close(struct archive **ar);

/* Signs a checkpoint of log t (archive_log or audit_log) with its key,
 * inside the caller's transaction if one is open. */
int archive_sign_checkpoint(struct archive *ar, struct tlog *t, struct pv_error *err);
/* The signer of log t. */
const struct note_signer *archive_signer(const struct archive *ar, const struct tlog *t);

#endif
