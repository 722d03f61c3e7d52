#ifndef PV_BOARD_H
#define PV_BOARD_H

/* The board of `popvault serve` (archiver/service/): one page of memory
 * shared by every process of the appliance. The supervisor maps it before
 * it forks, so its children and theirs see the same page. It holds small
 * figures only, what one process must know live of another: the status
 * line (the last harvest), /healthz and /metrics (the schedule, a low-disk
 * stop, audit appends that failed anywhere). Fields under `lock` are
 * written and read with pv_board_lock held (a robust, process-shared
 * mutex: a process that dies holding it does not block the others); the
 * atomics need no lock. */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"

#define PV_BOARD_ACCOUNT_MAX 64

struct pv_board {
	pthread_mutex_t lock;
	uint64_t generation;          /* bumped with every change under the lock */

	/* the supervisor: what it runs, set at start and on a reload */
	bool harvesting;              /* the harvest scheduler runs (not --web-only) */
	int64_t harvest_interval_s;
	int64_t started_at;           /* unix seconds */

	/* the harvest scheduler */
	int64_t last_harvest_at;      /* unix seconds the newest harvest ended; 0: none */
	char last_account[PV_BOARD_ACCOUNT_MAX + 1];
	int64_t last_fetched;
	bool last_ok;
	bool paused;                  /* stopped for a low disk (disk_guard.h) */
	int64_t paused_free_bytes;

	/* every process (archive/audit_hook.c) */
	atomic_uint_fast64_t audit_failures; /* appends that failed */
	atomic_int_fast64_t audit_failed_at; /* unix seconds of the newest failure, 0: none */
	atomic_int_fast64_t audit_ok_at;     /* of the newest append that worked */
};

/* Maps a zeroed board (MAP_SHARED | MAP_ANONYMOUS) with its mutex ready. */
int pv_board_new(struct pv_board **board_r, struct pv_error *err);
/* Unmaps it in this process; *board becomes NULL. */
void pv_board_free(struct pv_board **board);

void pv_board_lock(struct pv_board *b);
/* Bumps the generation when changed, then unlocks. */
void pv_board_unlock(struct pv_board *b, bool changed);

#endif
