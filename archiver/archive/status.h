#ifndef PV_ARCHIVE_STATUS_H
#define PV_ARCHIVE_STATUS_H

/* The state of the archive at a glance (`popvault stats`, the status page
 * of the web API): counts, bytes, the sizes of both logs and the last
 * harvest of each account. Counts and sizes only, no message content: not
 * audited, like reading a checkpoint. */

#include <stddef.h>
#include <stdint.h>

#include "archiver/archive/indexer.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"
#include "archiver/store/stats.h"

struct archive_status {
	struct stats_counts counts;
	int64_t archive_log_size; /* entries; 0 when it cannot be read */
	int64_t audit_log_size;
	struct indexer_status index; /* how far the search index trails the archive */
	struct stats_run *runs;   /* the newest run per active account, by name */
	size_t n_runs;
};

/* Fills *st_r (owned by the caller: archive_status_free, also after an
 * error). */
int archive_status(struct archive *ar, struct archive_status *st_r, struct pv_error *err);
void archive_status_free(struct archive_status *st);

#endif
