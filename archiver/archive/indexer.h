#ifndef PV_STORE_INDEXER_H
#define PV_STORE_INDEXER_H

/* Feeds archived messages to the full-text index (archiver/index). The
 * index is derived data: it is filled right after each harvest commit
 * ("catch up": every message not yet indexed and not disposed), and can be
 * rebuilt from the archive at any time (reindex). Each message is read back
 * through message_read, so only verified bytes are indexed; at most
 * PV_INDEX_RAW_MAX bytes of a message are parsed (headers and the first
 * parts of a huge message are still found). */

#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"

/* Indexes every archived, undisposed message that is not indexed yet.
 * *indexed_r (may be NULL) gets the count. A message that cannot be read
 * (integrity problem) is skipped and counted in *failed_r (may be NULL);
 * verify reports it. */
int indexer_catch_up(struct archive *ar, int64_t *indexed_r, int64_t *failed_r,
		     struct pv_error *err);

/* Drops the index and rebuilds it from the archive. */
int indexer_rebuild(struct archive *ar, int64_t *indexed_r, int64_t *failed_r,
		    struct pv_error *err);

#endif
