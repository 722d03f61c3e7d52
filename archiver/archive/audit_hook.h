#ifndef PV_AUDIT_HOOK_H
#define PV_AUDIT_HOOK_H

/* The one call commands make to record an action (ARCHITECTURE.md §1 invariant
 * 4): BEFORE the action's effect or result, fail closed.
 *
 *   if ((r = archive_audit(ar, ctx->actor, AUDIT_VIEW, "message=42", "ok",
 *                          NULL, err)) < 0)
 *           return r;          // the action must not happen
 *
 * actor: "cli:<os user>" (struct cli_ctx.actor), "web:<user>" or "system".
 * type: one of the AUDIT_* names in audit/auditlog.h.
 * object: the ids acted on, "key=value ..." ("-" when none).
 * outcome: "ok", "denied: why", "failed: why".
 * personal: NULL, or data that must not be in the shareable log itself
 * (search query text, e-mail addresses): stored in a side table, the leaf
 * holds a salted commitment to it.
 *
 * Appends the leaf and signs an audit checkpoint, inside the caller's
 * transaction when one is open on ar->cat->db (so the entry commits or
 * rolls back with the action's own rows), else in its own transaction.
 * Returns 0, or a negative pv_status with err starting "audit log: ". */

#include "archiver/lib/board.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"
#include "audit/auditlog.h"

int archive_audit(struct archive *ar, const char *actor, const char *type, const char *object,
		  const char *outcome, const char *personal, struct pv_error *err);

/* How many audit appends failed in this process since it started (each
 * one an action refused): popvault_audit_append_failures_total. With a
 * board (serve), in every process of the appliance. */
uint64_t archive_audit_failures(void);

/* serve: count failed (and time successful) appends on the board shared
 * by its processes (lib/board.h), from now on in this process and the
 * ones it forks. */
void archive_audit_board(struct pv_board *b);

/* The same with a printf-style object. */
int archive_auditf(struct archive *ar, const char *actor, const char *type, const char *outcome,
		   const char *personal, struct pv_error *err, const char *object_fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* n events appended as consecutive entries under one signed checkpoint
 * (auditlog_append_batch), inside the caller's transaction when one is
 * open: a disposal's intent and its one record per message. */
int archive_audit_batch(struct archive *ar, const struct audit_event *evs, size_t n,
			struct pv_error *err);

/* A search, audited before its results are shown (ARCHITECTURE.md §5): object
 * "results=TOTAL shown=N ids-sha256=HEX" where HEX is the SHA-256 of the
 * shown ids, each in decimal followed by "\n", in result order; the query
 * text is personal data. A total that is not exact (the count stopped at
 * its cap: there are more) is written "results=TOTAL+", e.g.
 * "results=10000+"; entries before it was (exact totals only) read as
 * they always did. */
int archive_audit_search(struct archive *ar, const char *actor, const char *query,
			 uint64_t total, bool total_exact, const int64_t *ids, size_t n_ids,
			 struct pv_error *err);

/* The idle heartbeat of log t (ARCHITECTURE.md §4): an audit entry (whose
 * checkpoint carries the time) and, for the archive log, a fresh
 * time-stamped checkpoint of it too, committed together. Run every 15
 * minutes by the harvest daemon, or `popvault checkpoint --heartbeat`. */
#define ARCHIVE_HEARTBEAT_S (15 * 60)
int archive_heartbeat(struct archive *ar, struct tlog *t, const char *actor, struct pv_error *err);

/* Rotates the signing key of log t (ar->archive_log or ar->audit_log):
 * a "key-rotation" event first, then audit/keys.h's rotation (the old key
 * signs a note naming the new one, recorded as a leaf of the audit log;
 * the old seed is destroyed). The new verifier key is appended to
 * vkey_r. Needs no open transaction. */
int archive_rotate_key(struct archive *ar, struct tlog *t, const char *actor,
		       struct pv_buf *vkey_r, struct pv_error *err);
/* Refused (PV_EUSAGE, naming --identity-out) once the archive's identity
 * was exported (archive_identity_shared): archive_identity_rotate
 * (identity.h) rotates a shared archive's key and writes the new
 * identity; it calls archive_rotate_key_any, which does not ask. */
int archive_rotate_key_any(struct archive *ar, struct tlog *t, const char *actor,
			   struct pv_buf *vkey_r, struct pv_error *err);
/* Whether the audit log holds an identity-export (only on a PostgreSQL
 * catalog: a SQLite one has none to share). */
int archive_identity_shared(struct archive *ar, bool *shared_r, struct pv_error *err);

#endif
