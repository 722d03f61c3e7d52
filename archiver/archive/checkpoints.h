#ifndef PV_ARCHIVE_CHECKPOINTS_H
#define PV_ARCHIVE_CHECKPOINTS_H

/* The signed checkpoints and verifier keys of the two logs (`popvault
 * checkpoint`, the web API's /api/v1/checkpoints). They are public by
 * design — what a compliance officer keeps off the box to check the logs
 * against — so reading them is not audited. Signing a heartbeat and
 * rotating a key change the logs and are audited: archive_heartbeat and
 * archive_rotate_key (audit_hook.h), which take the log from
 * archive_log_named. */

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"

/* ar->archive_log for ARCHIVE_LOG ("archive"), ar->audit_log for
 * AUDIT_LOG ("audit"), NULL for any other name. */
struct tlog *archive_log_named(struct archive *ar, const char *name);

/* The latest signed checkpoint note of log `name` (C2SP signed note, with
 * its trailing newline), appended to note_r (max >= PV_NOTE_MAX), with the
 * witnesses' cosignature lines stored for it after the log's signature
 * (anchor.h). PV_EUSAGE for an unknown log, PV_ENOTFOUND when it has none. */
int archive_checkpoint_latest(struct archive *ar, const char *name, struct pv_buf *note_r,
			      struct pv_error *err);
/* The same for the newest checkpoint that witnesses cosigned (the audit
 * log's latest never is: recording the cosignature signs a newer one).
 * PV_ENOTFOUND when none was. */
int archive_checkpoint_witnessed(struct archive *ar, const char *name, struct pv_buf *note_r,
				 struct pv_error *err);

/* The verifier key the log signs with now (C2SP vkey form
 * "name+hexid+base64"), without a newline, appended to vkey_r. */
int archive_checkpoint_vkey(struct archive *ar, const char *name, struct pv_buf *vkey_r,
			    struct pv_error *err);

/* The signed checkpoints of log `name`, newest first: offset skipped, at
 * most limit (0: all) to fn, which gets each stored row (seq, size, root,
 * key epoch, time stored, the signed note; borrowed for the call). A
 * non-zero return of fn stops and is returned. *total_r: how many rows. */
struct tlog_checkpoint_row;
int archive_checkpoint_history(struct archive *ar, const char *name, uint64_t offset,
			       uint64_t limit,
			       int (*fn)(void *ctx, const struct tlog_checkpoint_row *row),
			       void *ctx, uint64_t *total_r, struct pv_error *err);

#endif
