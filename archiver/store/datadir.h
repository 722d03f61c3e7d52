#ifndef PV_DATADIR_H
#define PV_DATADIR_H

/* An open data directory: its config, catalog, keyring and the two Merkle
 * logs with their signing keys. Commands open one archive, work through it,
 * and close it.
 *
 * The signing keys are either loaded from DIR/keys/sign (short commands,
 * tests) or, when the process has a key source (archive_set_key_source:
 * the signer process of archiver/signer), remote keys of that signer: the
 * archive then holds no seed, and its checkpoints are reserved inside
 * transactions and signed right after each commit (audit/checkpoint.h,
 * checkpoint_seal), by a hook on the catalog's commits and by
 * archive_seal where an action must not go on unsigned. */

#include <stdbool.h>
#include <stddef.h>

#include "archiver/lib/config.h"
#include "archiver/lib/error.h"
#include "archiver/lib/progress.h"
#include "archiver/store/catalog.h"
#include "archiver/store/keyring.h"
#include "archiver/store/packstore.h"
#include "audit/note.h"
#include "audit/tlog.h"

struct search_backend;

struct archive {
	char dir[2048];
	struct pv_config cfg;
	struct catalog *cat;
	struct keyring *kr;
	struct packstore *packs;  /* where sealed packs are kept (store/packstore.h) */
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
	void *signer_conn;  /* the key source's connection, NULL for local keys */
	/* The search index (archive/search_open.h), opened at first use, and
	 * how to close it (set by the archive layer that opened it: this
	 * layer does not reach up to the backends). */
	struct search_backend *search;
	void (*search_close)(struct search_backend **b);
	bool sealing;       /* the commit hook is signing (it commits too) */
};

/* Remote keys for the archives this process opens (see the top). open
 * makes one connection per archive; key returns the remote key of log
 * "archive" or "audit" whose vkey the log's current key epoch records
 * (freed with keys_free; PV_ENOTFOUND when the signer does not hold it);
 * close ends the connection. */
struct archive_key_source {
	int (*open)(void *ctx, void **conn_r, struct pv_error *err);
	int (*key)(void *conn, const char *log, const char *vkey, struct note_signer **key_r,
		   struct pv_error *err);
	void (*close)(void *conn);
	void *ctx;
	int keep_fd; /* a descriptor a forked child must keep open to use it; -1 none */
};
/* Process-wide; set before any archive is opened (and before threads),
 * NULL to go back to key files. src must outlive every archive. */
void archive_set_key_source(const struct archive_key_source *src);
/* The key source's keep_fd, -1 without one: a forked child that closes
 * what it inherited (the indexer) keeps this one. */
int archive_key_source_fd(void);

/* Names of the two logs, and their origins: "<config origin>/<name>". */
#define ARCHIVE_LOG "archive"
#define AUDIT_LOG "audit"

/* Creates both logs with their keys and signed genesis checkpoints (init).
 * Appends "vkey\n" per log to vkeys_r. */
int archive_create_logs(struct db *db, const char *data_dir, const char *origin,
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
 * inside the caller's transaction if one is open (with remote keys:
 * reserves it, see the top). */
int archive_sign_checkpoint(struct archive *ar, struct tlog *t, struct pv_error *err);
/* Signs every reserved checkpoint of both logs now (checkpoint_seal;
 * with remote keys, fails when the signer refuses or is gone). Call it
 * outside a transaction, or in one that has not appended to the logs,
 * before anything that must not happen unsigned (a DELE upstream, keys
 * destroyed, a bundle written). Local keys sign as they go: then it only
 * signs what a signer process left reserved (archive_open does too). */
int archive_seal(struct archive *ar, struct pv_error *err);
/* On a catalog shared by several harvesters (PostgreSQL), a key that is
 * not its log's current one was most likely rotated on another machine:
 * errors say so, and what to run. archive_key_hint prefixes err with
 * ARCHIVE_KEY_HINT when a key this handle holds is no longer its log's
 * current one (a catalog read; called on failure paths only). */
#define ARCHIVE_KEY_HINT                                                                          \
	"this machine's signing key is not the log's current key; if it was rotated on "          \
	"another harvester (checkpoint --rotate-key --identity-out FILE), install the new "        \
	"identity here with 'popvault identity update FILE --passphrase-file P'"
void archive_key_hint(struct archive *ar, struct pv_error *err);
/* The directory of the log keys: DIR/keys/sign. */
void archive_sign_dir(const char *data_dir, char *out, size_t n);
/* The signer of log t. */
const struct note_signer *archive_signer(const struct archive *ar, const struct tlog *t);

#endif
