#ifndef PV_STORE_INDEXER_H
#define PV_STORE_INDEXER_H

/* Feeds archived messages to the full-text index (archiver/index). The
 * index is derived data, made after the commit, never on the path to
 * DELE: the harvest's indexer process (indexer_start) follows the catalog
 * while harvests run, and every search, export, hold and disposal catches
 * up first (indexer_catch_up). Either resumes after a crash from the
 * catalog: DIR's meta key "index.through" is the highest message id up to
 * which every message was indexed (or could not be read), written in the
 * same transaction as the index rows. It can be rebuilt from the archive
 * at any time (reindex). Each message is read back through message_read,
 * so only verified bytes are indexed; at most PV_INDEX_RAW_MAX bytes of a
 * message are parsed (headers and the first parts of a huge message are
 * still found). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"

/* Indexes every archived, undisposed message after "index.through".
 * *indexed_r (may be NULL) gets the count. A message that cannot be read
 * (integrity problem) is skipped and counted in *failed_r (may be NULL);
 * verify reports it. Text is extracted outside the write transactions,
 * which stay short (a harvest's group commit never waits long for them).
 * With a listener on ar->progress, counts the pending messages first and
 * reports each one done. */
int indexer_catch_up(struct archive *ar, int64_t *indexed_r, int64_t *failed_r,
		     struct pv_error *err);

/* Merges the index until nothing is left to merge (index_merge_step's
 * policy; `full`: to one segment), in short transactions of its own:
 * what the indexer process does when idle (not full), step by step. */
int indexer_merge(struct archive *ar, bool full, struct pv_error *err);

/* Drops the index and rebuilds it from the archive, and merges it. */
int indexer_rebuild(struct archive *ar, int64_t *indexed_r, int64_t *failed_r,
		    struct pv_error *err);

/* How far behind the index is (stats, the web status): messages archived
 * and not yet indexed, and the receipt time of the oldest of them (0 when
 * none). */
struct indexer_status {
	int64_t pending;
	int64_t oldest_received_at;
	int64_t segments; /* the index's segments (1: fully merged); -1: none to tell */
};
int indexer_status(struct archive *ar, struct indexer_status *st_r, struct pv_error *err);

/* ---- the indexer process of a harvest ----
 * A child process with its own archive handle, at a lower CPU priority so
 * that the harvest (the network reader and the sealer) and the server come
 * first: it catches up, then again every PV_INDEXER_POLL_MS (and, once no
 * new mail came for a second, merges the index a short step at a time:
 * indexer_merge), until told that no more harvests will commit (or its
 * parent is gone); then it catches up a last time and exits. Killed at
 * any moment, it loses nothing: the next catch-up resumes from the
 * catalog. */
struct indexer_proc {
	pid_t pid; /* 0: not running */
	int fd;    /* write end of its pipe: closed = finish */
};

int indexer_start(const char *data_dir, struct indexer_proc *p, struct pv_error *err);
/* True while it runs (reaps it once it has exited). */
bool indexer_alive(struct indexer_proc *p);
/* Tells it to finish and waits until it has caught up and exited. PV_ERR
 * (with the reason) when it did not exit cleanly; the next catch-up then
 * does its work. */
int indexer_finish(struct indexer_proc *p, struct pv_error *err);

#endif
