#ifndef PV_INDEX_WRITER_H
#define PV_INDEX_WRITER_H

/* The index's writes (archive/indexer.h): each batch of documents, the
 * messages the parser sandbox failed on and the new high-water mark in
 * one short transaction; in the indexer process on a thread and catalog
 * connection of their own, so that extraction goes on while a batch is
 * written (issue 12: the sandboxes stood idle while the indexer's one
 * thread wrote, a quarter of its time). Batches are written in the
 * order they are handed over. */

#include <stddef.h>
#include <stdint.h>

#include "archiver/index/mime.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"

struct index_pending_doc {
	int64_t id, received_at;
	uint64_t size;
	char account[65];
	struct index_doc doc;
};

/* A message the parser sandbox failed on. */
struct index_failed_doc {
	int64_t id;
	char reason[PV_ERROR_MSG_MAX];
};

/* The catalog's meta key: every message up to this id is indexed. */
#define INDEX_THROUGH_KEY "index.through"
/* Its value (0 when none). */
int64_t index_through(struct archive *ar);

/* One batch in the caller's thread and connection: the *n documents,
 * the *n_failed failures, "index.through" raised to upto; then the
 * documents are freed and *n, *n_failed set to 0, as a hand-over leaves
 * them, whether the write worked or not. */
int index_write_batch(struct archive *ar, struct index_pending_doc *docs, size_t *n,
		      const struct index_failed_doc *failed, size_t *n_failed, int64_t upto,
		      struct pv_error *err);

struct index_writer;

/* A writer thread with its own handle on the archive of data_dir;
 * batches of at most cap documents and cap failures. */
int index_writer_start(const char *data_dir, size_t cap, struct index_writer **w_r,
		       struct pv_error *err);
/* Hands the batch over once the one before is written: the arrays
 * (cap entries each) are swapped for the writer's emptied ones, *n and
 * *n_failed set to 0; the documents are the writer's now. Returns the
 * status of the batch before (on error nothing is handed over). */
int index_writer_hand(struct index_writer *w, struct index_pending_doc **docs, size_t *n,
		      struct index_failed_doc **failed, size_t *n_failed, int64_t upto,
		      struct pv_error *err);
/* Waits until the batch handed over is written; its status. */
int index_writer_wait(struct index_writer *w, struct pv_error *err);
/* Waits, ends the thread, closes its archive. NULL-safe. */
void index_writer_free(struct index_writer **w);

#endif
