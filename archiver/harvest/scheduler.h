#ifndef PV_SCHEDULER_H
#define PV_SCHEDULER_H

/* The harvest scheduler (ARCHITECTURE.md §3, last paragraph): polls every account
 * of a data directory, up to `parallel` at once, each harvest in its own
 * process with its own archive handle (SQLite BEGIN IMMEDIATE and the busy
 * timeout serialise their commits); never two sessions on one mailbox
 * (same host, port and user) at once; after a failed harvest the account
 * waits longer each time (harvest_backoff_s), and never less than the
 * server's LOGIN-DELAY. One scheduler per data directory: it holds
 * DIR/harvest.lock (flock) for its whole run, children included.
 *
 * A harvest process that dies (a signal, a crash) is reported as a failed
 * harvest; what it left behind is safe by the harvest's own invariants
 * (harvest.h), and its temporary blob files are removed once no harvest
 * runs. Newly archived mail is indexed by the indexer process
 * (indexer.h) while the harvests run; harvest_schedule returns once it has
 * caught up (on_harvested is called before that, when the harvests end). */

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "archiver/harvest/harvest.h"
#include "archiver/lib/error.h"
#include "archiver/store/accounts.h"

/* One finished harvest of one account, as reported to on_result. */
struct harvest_result {
	const struct account *a;
	int status;              /* harvest_account's return; PV_ERR if its process died */
	struct pv_error err;     /* when status < 0 */
	struct harvest_summary s;
	int64_t next_in_s;       /* daemon: seconds until this account's next harvest */
};

struct harvest_sched_opts {
	const char *data_dir;
	const char *only;        /* one account by name; NULL: all */
	bool once;               /* each account once, then return; else until *stop */
	unsigned parallel;       /* harvests at once; 0: [harvest] parallel from popvault.conf */
	int64_t interval_s;      /* daemon: between harvests of an account (>= 1), unless
				  * the account has its own (accounts.h) */
	bool progress;           /* per-message progress on a terminal (one harvest at a time) */
	volatile sig_atomic_t *stop; /* may be NULL; when set: start nothing new, return
				      * once what runs has finished */
	void (*on_result)(void *ctx, const struct harvest_result *r);
	/* May be NULL: called once every harvest has ended, before the wait
	 * for the index to catch up (a caller prints its summary then). */
	void (*on_harvested)(void *ctx);
	void *ctx;
	/* Another harvest holds DIR/harvest.lock: wait up to this long for it
	 * (a stop request ends the wait) instead of PV_ETEMP at once. */
	int64_t lock_wait_s;

	/* ---- for popvault serve (archiver/service), which runs the indexer
	 * and the heartbeats in processes of its own ---- */
	bool no_indexer;         /* no indexer process here (nor indexing after the harvests) */
	bool no_heartbeat;       /* no heartbeat checkpoints here */
	/* Hold DIR/harvest.lock only while harvests run: a `harvest --once` by
	 * hand or "harvest now" (one process of its own) may run in between,
	 * and what is due meanwhile waits for it to end. */
	bool lock_while_busy;
	/* Daemon: bytes the data directory's file system keeps free (disk_guard.h;
	 * 0: no check). Below it no harvest starts and the running ones are
	 * asked to stop (SIGTERM: each finishes the batch in hand and QUITs);
	 * above it plus an eighth they start again at once. Each change is
	 * audited (harvest-pause, harvest-resume) and told to on_pause. */
	int64_t disk_reserve;
	void (*on_pause)(void *ctx, bool paused, long long free_bytes);
	/* May be NULL: when *reload is set, reload_fn gives the interval and
	 * the parallelism anew (returning < 0 keeps the old ones), every
	 * account waiting is planned again from its last harvest, the account
	 * list is read again, and *reload is cleared. */
	volatile sig_atomic_t *reload;
	int (*reload_fn)(void *ctx, int64_t *interval_s_r, unsigned *parallel_r);
};

/* Runs the scheduler. Returns 0 when it ran (individual harvests report
 * through on_result), PV_ENOTFOUND when `only` names no account, PV_ETEMP
 * when another harvest holds the data directory, or another negative
 * status when it could not run at all. */
int harvest_schedule(const struct harvest_sched_opts *o, struct pv_error *err);

/* Takes DIR/harvest.lock (flock, not waiting) into *fd_r, for one who must
 * keep every harvest out meanwhile (migrate --to-store); close *fd_r to
 * release it. PV_ETEMP when a harvest (or serve's harvester) runs. */
int harvest_lock_take(const char *data_dir, int *fd_r, struct pv_error *err);

/* Seconds to wait before the next harvest of an account after `failures`
 * consecutive failed harvests (0: it succeeded): the interval after a
 * success; after failures min(interval, 60) s doubling up to
 * max(interval, 1 h); never less than login_delay_s. */
int64_t harvest_backoff_s(int failures, int64_t interval_s, uint32_t login_delay_s);

#endif
