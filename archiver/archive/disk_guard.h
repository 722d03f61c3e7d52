#ifndef PV_DISK_GUARD_H
#define PV_DISK_GUARD_H

/* The low-disk stop of the harvest daemons (harvest/scheduler.h): when the
 * data directory's file system has less than PV_DATA_DISK_RESERVE free,
 * harvesting stops cleanly, and starts again by itself once there is room.
 * Each change is one audit entry by "system": harvest-pause when it stops,
 * harvest-resume when it goes on (object "reason=disk-low free=N
 * reserve=N"). The newest of the two is the state that `stats`, the
 * status API and /metrics show, whichever process asks. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"

struct disk_guard_state {
	bool paused;   /* the newest entry is a harvest-pause */
	int64_t since; /* its time (unix seconds); 0 when none */
};

/* The state from the audit log (never paused when neither entry exists). */
int disk_guard_state(struct archive *ar, struct disk_guard_state *st_r, struct pv_error *err);

/* Records a change: paused (harvest-pause) or not (harvest-resume), with
 * the free bytes seen and the reserve. */
int disk_guard_record(struct archive *ar, bool paused, long long free_bytes, long long reserve,
		      struct pv_error *err);

/* True when free_bytes is below the reserve (was_paused false), or still
 * below the reserve plus an eighth (was_paused true: no flapping at the
 * edge). An unknown free (-1) keeps the state. */
bool disk_guard_low(long long free_bytes, long long reserve, bool was_paused);

#endif
