#ifndef PV_ARCHIVE_HEALTH_H
#define PV_ARCHIVE_HEALTH_H

/* Is the appliance well (GET /healthz)? Unwell, with a reason each, when:
 * - the audit log cannot be written (the catalog or its WAL read-only),
 *   or the newest append the appliance tried failed: every audited action
 *   is refused meanwhile (invariant 4);
 * - the data directory's file system is nearly full (under the reserve:
 *   harvests stop, disk_guard.h);
 * - with serve's scheduler: an account's harvest has not succeeded for
 *   three intervals (its own, else the scheduler's), counted from the end
 *   of its last successful harvest,
 *   its creation or the scheduler's start, whichever is latest.
 * Counts and times only, nothing audited (like reading a checkpoint). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"

struct archive_health_opts {
	int64_t harvest_interval_s; /* > 0: the scheduler harvests each account this often */
	int64_t harvest_since;      /* unix seconds it runs since */
	int64_t disk_reserve;       /* bytes kept free; 0: no check */
	bool audit_failing;         /* the newest audit append failed */
	bool harvest_paused;        /* the scheduler stopped for a low disk */
};

#define ARCHIVE_HEALTH_REASONS_MAX 8
#define ARCHIVE_HEALTH_REASON_LEN 256

struct archive_health {
	bool ok;
	size_t n; /* reasons, at most ARCHIVE_HEALTH_REASONS_MAX (more are not listed) */
	char reason[ARCHIVE_HEALTH_REASONS_MAX][ARCHIVE_HEALTH_REASON_LEN];
};

/* Fills *h. An error reading the catalog is itself a reason (returns
 * PV_OK); err is for failures outside the checks. */
int archive_health(struct archive *ar, const struct archive_health_opts *o,
		   struct archive_health *h, struct pv_error *err);

#endif
