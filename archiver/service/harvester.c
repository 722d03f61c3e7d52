/* The harvest process of serve: the scheduler `popvault harvest` runs
 * (harvest/scheduler.h), without the indexer and heartbeats (processes of
 * their own here), taking DIR/harvest.lock only while harvests run, with
 * the disk reserve, reporting each harvest to the log and the board. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "archiver/harvest/scheduler.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/service/service_int.h"

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	reload_requested = 1;
}

/* One line per harvest, as `harvest` prints it, and the newest on the
 * board for the status line. */
static void on_result(void *ctx, const struct harvest_result *res)
{
	struct service *sv = ctx;
	const struct harvest_summary *s = &res->s;
	if (res->status < 0)
		pv_log(PV_LOG_WARN, "harvest.failed", "%s: %s (%lld archived; next try in %lld s)",
		       res->a->name, res->err.msg, (long long)s->fetched, (long long)res->next_in_s);
	else
		pv_log(PV_LOG_INFO, "harvest.done", "%s: %lld listed, %lld archived (%lld bytes), "
		       "%lld deleted upstream%s, %lld remain upstream%s", res->a->name,
		       (long long)s->listed, (long long)s->fetched, (long long)s->bytes,
		       (long long)s->deleted, s->verified_gone ? " (checked gone)" : "",
		       (long long)s->remaining, s->residue ? ", RESIDUE upstream" : "");
	pv_board_lock(sv->board);
	sv->board->last_harvest_at = pv_clock_now();
	snprintf(sv->board->last_account, sizeof(sv->board->last_account), "%s", res->a->name);
	sv->board->last_fetched = s->fetched;
	sv->board->last_ok = res->status == PV_OK;
	pv_board_unlock(sv->board, true);
}

static void on_pause(void *ctx, bool paused, long long free_bytes)
{
	struct service *sv = ctx;
	pv_board_lock(sv->board);
	sv->board->paused = paused;
	sv->board->paused_free_bytes = free_bytes;
	pv_board_unlock(sv->board, true);
}

static int reload(void *ctx, int64_t *interval_s_r, unsigned *parallel_r)
{
	struct service *sv = ctx;
	struct pv_error err;
	if (svc_config_read(sv, &sv->cfg, &err) < 0) {
		pv_log(PV_LOG_ERROR, "harvest.reload", "keeping the settings in force: %s", err.msg);
		return PV_ERR;
	}
	*interval_s_r = sv->cfg.harvest_interval_s;
	*parallel_r = sv->cfg.parallel;
	return PV_OK;
}

int svc_harvest_main(struct service *sv)
{
	struct harvest_sched_opts so = {
		.data_dir = sv->o->data_dir,
		.parallel = sv->cfg.parallel,
		.interval_s = sv->cfg.harvest_interval_s,
		.stop = &stop_requested,
		.on_result = on_result,
		.ctx = sv,
		.no_indexer = true,
		.no_heartbeat = true,
		.lock_while_busy = true,
		.disk_reserve = PV_DATA_DISK_RESERVE,
		.on_pause = on_pause,
		.reload = &reload_requested,
		.reload_fn = reload,
	};
	struct sigaction sa;
	struct pv_error err;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sigset_t hup;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &hup, NULL); /* blocked till now (supervisor.c) */
	if (harvest_schedule(&so, &err) < 0) {
		pv_log(PV_LOG_ERROR, "harvest", "the harvest scheduler stopped: %s", err.msg);
		return 1;
	}
	return 0;
}
