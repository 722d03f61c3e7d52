#ifndef PV_HARVEST_PIPELINE_H
#define PV_HARVEST_PIPELINE_H

/* The two halves of one harvest session, one per core (ARCHITECTURE.md
 * §3): the session's own thread reads the network (RETR, DELE, QUIT) and
 * hands each message's bytes through a bounded queue (PV_HARVEST_QUEUE_MAX
 * bytes) to the sealer thread, which archives them (archive/ingest.h) and
 * group-commits, so neither waits for the other.
 *
 * A group commit takes whatever is whole once the batch's target of
 * messages or PIPELINE_BATCH_BYTES are waiting, the oldest has waited
 * batch_ms, or the reader is done. The target follows the server's rate:
 * what arrives in half of batch_ms, from PV_HARVEST_BATCH_START up to
 * batch_max (limits.h).
 * Each commit also carries, in its one transaction, the upstream-delete
 * audit entry for the messages it makes deletable (the batch, and those
 * found archived already) and the ledger states (dele-sent) of the DELEs
 * answered since the last one. The reader takes that list between
 * pipelined RETR slices and DELEs it: nothing is deleted before the commit
 * that covers it has returned.
 *
 * Between pipeline_start and pipeline_finish only the sealer touches the
 * archive (catalog, keyring, packs); the reader touches only the
 * connection. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/store/accounts.h"
#include "archiver/store/datadir.h"
#include "archiver/store/ledger.h"

struct pipeline;

/* A message that may be deleted upstream. */
struct pipeline_dele {
	uint32_t msgnum;
	char uidl[LEDGER_UIDL_MAX + 1]; /* its ledger key */
	unsigned char sha256[32];
	int status;                     /* the reader's: 0 when DELE said +OK */
};

/* What the sealer archived (committed) and found archived already. */
struct pipeline_totals {
	int64_t fetched, bytes, reconciled;
};

/* Starts the sealer thread for one session of account a. */
int pipeline_start(struct archive *ar, const struct account *a, struct pipeline **p_r,
		   struct pv_error *err);

/* ---- the reader (RETR callbacks) ----
 * Each returns PV_ERR (err filled with the sealer's reason) once the
 * sealer has failed: the reader then drops the connection without QUIT.
 * pipeline_data waits while the queue is full. */
int pipeline_begin(struct pipeline *p, uint32_t msgnum, struct pv_error *err);
int pipeline_data(struct pipeline *p, const void *data, size_t len, struct pv_error *err);
/* The message is whole. uidl: the server's, NULL when it has none. */
int pipeline_end(struct pipeline *p, uint32_t msgnum, const char *uidl, struct pv_error *err);
/* The message in progress is not whole (cut short, over the cap). */
void pipeline_abort(struct pipeline *p);

/* Between RETR slices: the messages committed (and audited) since the
 * last call, to DELE. *v_r stays the caller's until the next call. */
size_t pipeline_deletable(struct pipeline *p, struct pipeline_dele **v_r);
/* Their replies (status filled in): the +OK ones get ledger state
 * dele-sent with the next commit, or pipeline_flush. */
void pipeline_deleted(struct pipeline *p, const struct pipeline_dele *v, size_t n);

/* Closes the queue and waits for the sealer. keep: commit what is whole
 * (normal end, or stopped on request); else forget what is not committed
 * yet (the connection is gone). Returns the sealer's first failure. */
int pipeline_finish(struct pipeline *p, bool keep, struct pv_error *err);
/* After pipeline_finish, in the caller's thread: the ledger states of the
 * last DELEs, in one transaction (before QUIT). */
int pipeline_flush(struct pipeline *p, struct pv_error *err);
void pipeline_totals(const struct pipeline *p, struct pipeline_totals *t_r);
/* Finishes (forgetting what is not committed) if needed, frees. */
void pipeline_free(struct pipeline **p);

#endif
