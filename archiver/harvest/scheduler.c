/* The harvest scheduler: see scheduler.h. */
#include "archiver/harvest/scheduler.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/log.h"
#include "archiver/store/datadir.h"
#include "archiver/store/harvest_runs.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/disk_guard.h"
#include "archiver/archive/indexer.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#define BACKOFF_BASE_S 60
#define BACKOFF_MAX_S 3600
/* The daemon re-reads the account list this often (accounts come and go). */
#define RELOAD_MS 30000
/* A harvest process reports at most this much (summary + its error list). */
#define RESULT_MAX (sizeof(struct wire) + 64 * 1024)

/* What a harvest process sends back through its pipe, followed by
 * errors_len bytes of its error list. Same binary on both ends. */
struct wire {
	int32_t status;
	struct pv_error err;
	int64_t listed, fetched, reconciled, deleted, residue, skipped, failed, remaining, bytes;
	uint32_t login_delay_s;
	uint8_t verified_gone;
	uint32_t errors_len;
};

struct job {
	struct account a;
	char key[600];     /* the mailbox: host:port:user */
	int failures;      /* consecutive failed harvests */
	int64_t next_due;  /* monotonic ms */
	bool ran;          /* --once: started already */
	bool present;      /* in the latest account list */
	pid_t pid;         /* the running harvest, 0 if none */
	int fd;
	struct pv_buf in;
	int64_t started;
	int64_t finished_ms;    /* monotonic ms the last harvest ended (0: none yet) */
	uint32_t login_delay_s; /* the server's LOGIN-DELAY at the last harvest */
	bool disk_stopped;      /* asked to stop for a low disk: not a failure */
};

struct sched {
	const struct harvest_sched_opts *o;
	struct job *jobs;
	size_t n, cap;
	unsigned parallel, running;
	bool index_needed, dirty_tmp, forwarded;
	bool no_index; /* no indexer: asked so */
	struct indexer_proc ix;  /* indexes what the harvests commit, meanwhile */
	int64_t loaded_at;
	int64_t heartbeat_at;    /* monotonic ms of the last heartbeat (daemon) */
	size_t found;
	int64_t interval_s;      /* o->interval_s, or what reload_fn gave */
	int lock_fd;             /* DIR/harvest.lock while held, else -1 */
	bool lock_busy_said;     /* lock_while_busy: kept back by another harvest (logged once) */
	bool paused;             /* daemon: stopped for a low disk (disk_guard.h) */
};

int64_t harvest_backoff_s(int failures, int64_t interval_s, uint32_t login_delay_s)
{
	int64_t d = interval_s;
	if (failures > 0) {
		int64_t cap = interval_s > BACKOFF_MAX_S ? interval_s : BACKOFF_MAX_S;
		d = interval_s < BACKOFF_BASE_S ? interval_s : BACKOFF_BASE_S;
		for (int i = 1; i < failures && d < cap; i++)
			d *= 2;
		if (d > cap)
			d = cap;
	}
	if (d < (int64_t)login_delay_s)
		d = login_delay_s;
	return d < 1 ? 1 : d;
}

/* An account's own interval (accounts.h), else the scheduler's. */
static int64_t job_interval(const struct sched *sc, const struct job *j)
{
	return j->a.harvest_interval_s > 0 ? j->a.harvest_interval_s : sc->interval_s;
}

/* ---- the data directory: lock, leftovers, index, run records ---- */

int harvest_lock_take(const char *dir, int *fd_r, struct pv_error *err)
{
	int r = pv_lock_take(dir, "harvest.lock", true, fd_r, err);
	if (r == PV_ETEMP)
		return pv_fail(err, PV_ETEMP, "another harvest is running on %s", dir);
	return r;
}

/* Temp blobs of a harvest that was killed: never committed, so garbage.
 * Only while no harvest runs (theirs would be in use). */
static void clean_tmp(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/tmp", dir);
	DIR *d = opendir(path);
	struct dirent *e;
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "blob-", 5) == 0 && unlinkat(dirfd(d), e->d_name, 0) == 0)
			pv_log(PV_LOG_DEBUG, "harvest.cleanup", "removed %s", e->d_name);
	closedir(d);
}

/* A harvest waiting for DIR/harvest.lock (--wait: "harvest now", or one
 * started by hand beside serve) holds DIR/harvest.want while it waits.
 * Serve's scheduler starts no round while it is held: its rounds may
 * follow each other so closely that a waiter looking every 200 ms would
 * never find the lock free. */
#define HARVEST_WANT "harvest.want"

static bool harvest_waiting(const char *dir)
{
	struct pv_error err;
	int fd = -1;
	if (pv_lock_take(dir, HARVEST_WANT, false, &fd, &err) == PV_ETEMP)
		return true;
	if (fd >= 0)
		close(fd);
	return false;
}

/* Waits up to wait_s for DIR/harvest.lock, saying so in harvest.want
 * after the first refusal (a second waiter waits without it). */
static int harvest_lock_wait(const struct harvest_sched_opts *o, int *fd_r, struct pv_error *err)
{
	int64_t until = pv_clock_monotonic_ms() + o->lock_wait_s * 1000;
	int want_fd = -1, r;
	struct pv_error werr;
	while ((r = harvest_lock_take(o->data_dir, fd_r, err)) == PV_ETEMP &&
	       pv_clock_monotonic_ms() < until && !(o->stop != NULL && *o->stop)) {
		if (want_fd < 0 && pv_lock_take(o->data_dir, HARVEST_WANT, true, &want_fd, &werr) < 0)
			want_fd = -2;
		usleep(200000);
	}
	if (want_fd >= 0)
		close(want_fd);
	return r;
}

/* lock_while_busy: the lock before a harvest starts. False while
 * another harvest holds it, or waits for it: then what is due waits, the
 * running harvests end, and the lock is let go (a round held open by
 * accounts whose sessions overlap would otherwise never let it go). */
static bool lock_for_round(struct sched *sc)
{
	struct pv_error err;
	if (harvest_waiting(sc->o->data_dir)) {
		if (!sc->lock_busy_said)
			pv_log(PV_LOG_INFO, "harvest.wait", "a harvest waits for %s/harvest.lock; "
			       "the due harvests let it go first", sc->o->data_dir);
		sc->lock_busy_said = true;
		return false;
	}
	if (sc->lock_fd >= 0)
		return true;
	if (harvest_lock_take(sc->o->data_dir, &sc->lock_fd, &err) < 0) {
		if (!sc->lock_busy_said)
			pv_log(PV_LOG_INFO, "harvest.wait", "%s; the due harvests wait for it", err.msg);
		sc->lock_busy_said = true;
		return false;
	}
	sc->lock_busy_said = false;
	clean_tmp(sc->o->data_dir); /* no harvest runs now, ours or another's */
	return true;
}

/* For 'stats': when each account last ran and how it went. */
static void record_run(struct archive *ar, const struct account *a, int64_t started,
		       const struct harvest_summary *s, const char *outcome)
{
	struct harvest_run run = {a->id, started, pv_clock_now(), s->fetched, s->deleted,
				  s->residue, outcome};
	struct pv_error err;
	if (harvest_runs_add(ar->cat->conn, &run, &err) < 0)
		pv_log(PV_LOG_WARN, "harvest.run", "cannot record the run: %s", err.msg);
}

static void run_index(struct sched *sc)
{
	struct archive *ar = NULL;
	struct pv_error err;
	sc->index_needed = false;
	/* Newly archived mail becomes searchable now (the index is derived). */
	if (archive_open(sc->o->data_dir, &ar, &err) < 0 ||
	    indexer_catch_up(ar, NULL, NULL, &err) < 0)
		pv_log(PV_LOG_WARN, "index", "indexing after harvest failed: %s", err.msg);
	archive_close(&ar);
}

/* The daemon signs both logs' heartbeats (ARCHITECTURE.md §4), so a gap in the
 * evidence shows whenever the appliance was not running. */
static void run_heartbeat(struct sched *sc, int64_t now)
{
	struct archive *ar = NULL;
	struct pv_error err;
	sc->heartbeat_at = now;
	if (archive_open(sc->o->data_dir, &ar, &err) < 0 ||
	    archive_heartbeat(ar, ar->archive_log, "system", &err) < 0 ||
	    archive_heartbeat(ar, ar->audit_log, "system", &err) < 0)
		pv_log(PV_LOG_WARN, "heartbeat", "cannot sign the heartbeat checkpoints: %s", err.msg);
	archive_close(&ar);
}

/* ---- the account list ---- */

static void job_free(struct job *j)
{
	account_clear(&j->a);
	pv_buf_free(&j->in);
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}

static int copy_account(struct account *dst, const struct account *src, struct pv_error *err)
{
	*dst = *src;
	dst->secret = malloc(src->secret_len ? src->secret_len : 1);
	if (dst->secret == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	memcpy(dst->secret, src->secret, src->secret_len);
	return PV_OK;
}

static int add_account(void *ctx, const struct account *a)
{
	struct sched *sc = ctx;
	struct pv_error err;
	struct job *j = NULL;

	if (sc->o->only != NULL && strcmp(sc->o->only, a->name) != 0)
		return PV_OK;
	sc->found++;
	for (size_t i = 0; i < sc->n && j == NULL; i++)
		if (sc->jobs[i].a.id == a->id)
			j = &sc->jobs[i];
	if (j != NULL) {
		j->present = true;
		if (j->pid != 0)
			return PV_OK; /* running: its copy stays until it ends */
		int64_t before = j->a.harvest_interval_s;
		account_clear(&j->a);
		if (copy_account(&j->a, a, &err) < 0)
			return PV_ERR;
		/* Its own interval changed (the web, meanwhile): planned anew. */
		if (j->a.harvest_interval_s != before && j->finished_ms != 0)
			j->next_due = j->finished_ms + harvest_backoff_s(j->failures, job_interval(sc, j),
									 j->login_delay_s) * 1000;
		return PV_OK;
	}
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 16;
		struct job *v = realloc(sc->jobs, cap * sizeof(*v));
		if (v == NULL)
			return PV_ERR;
		sc->jobs = v;
		sc->cap = cap;
	}
	j = &sc->jobs[sc->n];
	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->present = true;
	j->next_due = pv_clock_monotonic_ms();
	if (copy_account(&j->a, a, &err) < 0)
		return PV_ERR;
	/* The mailbox, for "never two sessions on one mailbox at once". */
	int k = snprintf(j->key, sizeof(j->key), "%s:%d:%s", a->host, a->port, a->user);
	for (int i = 0; i < k && j->key[i] != ':'; i++)
		j->key[i] = (char)tolower((unsigned char)j->key[i]);
	sc->n++;
	return PV_OK;
}

static int load_jobs(struct sched *sc, struct pv_error *err)
{
	struct archive *ar = NULL;
	int r;

	if ((r = archive_open(sc->o->data_dir, &ar, err)) < 0)
		return r;
	if (sc->parallel == 0)
		sc->parallel = sc->o->parallel ? sc->o->parallel : ar->cfg.parallel;
	if (sc->parallel == 0)
		sc->parallel = 1;
	for (size_t i = 0; i < sc->n; i++)
		sc->jobs[i].present = false;
	sc->found = 0;
	pv_error_clear(err);
	r = account_each(ar->cat->conn, add_account, sc, err);
	if (r == PV_ERR && err->msg[0] == '\0')
		pv_fail(err, PV_ERR, "out of memory");
	archive_close(&ar);
	if (r < 0)
		return r;
	/* Accounts removed meanwhile: forget them once they are not running. */
	for (size_t i = 0; i < sc->n;) {
		if (!sc->jobs[i].present && sc->jobs[i].pid == 0) {
			job_free(&sc->jobs[i]);
			sc->jobs[i] = sc->jobs[--sc->n];
		} else {
			i++;
		}
	}
	sc->loaded_at = pv_clock_monotonic_ms();
	return PV_OK;
}

/* ---- one harvest process ---- */

static void write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;
	while (n > 0) {
		ssize_t k = write(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		b += k;
		n -= (size_t)k;
	}
}

static void on_stop_signal(int sig)
{
	(void)sig;
	harvest_request_stop();
}

/* The child: its own archive handle, one harvest, the result down the pipe. */
static void child_main(const struct sched *sc, const struct job *j, int fd)
{
	const struct harvest_sched_opts *o = sc->o;
	struct harvest_opts ho = {.progress = o->progress && (sc->parallel == 1 || sc->n == 1)};
	struct harvest_summary s;
	struct archive *ar = NULL;
	struct wire w;
	int64_t started = pv_clock_now();

	/* SIGTERM/SIGINT: the harvest ends at its next chunk boundary with a
	 * QUIT, so what it committed is also deleted (harvest.h). Before the
	 * handler is in place a signal ends it like a crash: also safe. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	memset(&w, 0, sizeof(w));
	harvest_summary_init(&s);
	pv_error_clear(&w.err);
	w.status = archive_open(o->data_dir, &ar, &w.err);
	if (w.status == PV_OK) {
		w.status = harvest_account(ar, &j->a, &ho, &s, &w.err);
		record_run(ar, &j->a, started, &s, w.status < 0 ? w.err.msg : "ok");
		archive_close(&ar);
	}
	w.listed = s.listed;
	w.fetched = s.fetched;
	w.reconciled = s.reconciled;
	w.deleted = s.deleted;
	w.residue = s.residue;
	w.skipped = s.skipped;
	w.failed = s.failed;
	w.remaining = s.remaining;
	w.bytes = s.bytes;
	w.login_delay_s = s.login_delay_s;
	w.verified_gone = s.verified_gone;
	w.errors_len = (uint32_t)s.errors.len;
	write_all(fd, &w, sizeof(w));
	write_all(fd, s.errors.data, s.errors.len);
	close(fd);
	harvest_summary_free(&s);
#if defined(__SANITIZE_ADDRESS__)
	__lsan_do_leak_check(); /* _exit skips the check at exit: leaks of a harvest show here */
#endif
	_exit(0);
}

static int start_job(struct sched *sc, struct job *j, struct pv_error *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return pv_fail(err, PV_ERR, "pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return pv_fail(err, PV_ERR, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(p[0]);
		child_main(sc, j, p[1]);
	}
	close(p[1]);
	j->pid = pid;
	j->fd = p[0];
	j->ran = true;
	j->started = pv_clock_now();
	pv_buf_init(&j->in, RESULT_MAX);
	sc->running++;
	return PV_OK;
}

/* The child closed its pipe: reap it, decode its report, schedule again. */
static void finish_job(struct sched *sc, struct job *j)
{
	struct harvest_result res;
	struct wire w;
	int status = 0;
	bool died;

	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	close(j->fd);
	j->fd = -1;
	j->pid = 0;
	sc->running--;
	memset(&res, 0, sizeof(res));
	res.a = &j->a;
	harvest_summary_init(&res.s);
	died = !WIFEXITED(status) || WEXITSTATUS(status) != 0 || j->in.len < sizeof(w);
	if (!died) {
		memcpy(&w, j->in.data, sizeof(w));
		died = j->in.len != sizeof(w) + w.errors_len;
	}
	if (died) {
		res.status = PV_ERR;
		if (WIFSIGNALED(status))
			pv_fail(&res.err, PV_ERR, "the harvest process died (signal %d); nothing "
				"unsafe happened, the next harvest goes on from what was committed",
				WTERMSIG(status));
		else
			pv_fail(&res.err, PV_ERR, "the harvest process ended without a report "
				"(status %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		sc->dirty_tmp = true;
		struct archive *ar = NULL;
		struct pv_error e;
		if (archive_open(sc->o->data_dir, &ar, &e) == PV_OK)
			record_run(ar, &j->a, j->started, &res.s, res.err.msg);
		archive_close(&ar);
	} else {
		res.status = w.status;
		res.err = w.err;
		res.s.listed = w.listed;
		res.s.fetched = w.fetched;
		res.s.reconciled = w.reconciled;
		res.s.deleted = w.deleted;
		res.s.residue = w.residue;
		res.s.skipped = w.skipped;
		res.s.failed = w.failed;
		res.s.remaining = w.remaining;
		res.s.bytes = w.bytes;
		res.s.login_delay_s = w.login_delay_s;
		res.s.verified_gone = w.verified_gone != 0;
		pv_buf_append(&res.s.errors, j->in.data + sizeof(w), w.errors_len, NULL);
	}
	pv_buf_free(&j->in);
	if (res.s.fetched > 0)
		sc->index_needed = true;
	/* Stopped for a low disk: not the account's fault; due again once
	 * there is room. */
	if (!j->disk_stopped || res.status == PV_OK)
		j->failures = res.status == PV_OK ? 0 : j->failures + 1;
	j->disk_stopped = false;
	j->login_delay_s = res.s.login_delay_s;
	j->finished_ms = pv_clock_monotonic_ms();
	res.next_in_s = harvest_backoff_s(j->failures, job_interval(sc, j), res.s.login_delay_s);
	j->next_due = j->finished_ms + res.next_in_s * 1000;
	if (res.status < 0 && !sc->o->once)
		pv_log(PV_LOG_INFO, "harvest.next", "%s: next harvest in %lld s (%d failed in a row)",
		       j->a.name, (long long)res.next_in_s, j->failures);
	if (sc->o->on_result != NULL)
		sc->o->on_result(sc->o->ctx, &res);
	harvest_summary_free(&res.s);
}

static bool mailbox_busy(const struct sched *sc, const struct job *j)
{
	for (size_t i = 0; i < sc->n; i++)
		if (sc->jobs[i].pid != 0 && strcmp(sc->jobs[i].key, j->key) == 0)
			return true;
	return false;
}

static bool stopping(const struct sched *sc)
{
	return sc->o->stop != NULL && *sc->o->stop;
}

/* Starts what is due, as far as the limits allow. */
static int start_due(struct sched *sc, int64_t now, struct pv_error *err)
{
	for (size_t i = 0; i < sc->n && sc->running < sc->parallel && !stopping(sc) && !sc->paused;
	     i++) {
		struct job *j = &sc->jobs[i];
		bool due = sc->o->once ? !j->ran : j->next_due <= now;
		if (j->pid != 0 || !j->present || !due || mailbox_busy(sc, j))
			continue;
		if (sc->o->lock_while_busy && !lock_for_round(sc))
			return PV_OK;
		int r = start_job(sc, j, err);
		if (r < 0)
			return r;
	}
	return PV_OK;
}

static int poll_timeout(const struct sched *sc, int64_t now)
{
	int64_t t = 1000; /* also how often a stop request, the disk and the lock are looked at */
	if (!sc->o->once && !sc->o->no_heartbeat &&
	    sc->heartbeat_at + ARCHIVE_HEARTBEAT_S * 1000 - now < t)
		t = sc->heartbeat_at + ARCHIVE_HEARTBEAT_S * 1000 - now;
	if (!sc->o->once)
		for (size_t i = 0; i < sc->n; i++)
			if (sc->jobs[i].pid == 0 && sc->jobs[i].next_due - now < t)
				t = sc->jobs[i].next_due - now;
	/* Due harvests kept back by another's lock look again in a while,
	 * not in a loop that takes a core from the harvest they wait for. */
	if (sc->lock_busy_said && t < 200)
		t = 200;
	return t < 0 ? 0 : (int)t;
}

/* Waits for output from the running harvests; finishes those that ended. */
static void wait_some(struct sched *sc, int timeout_ms)
{
	struct pollfd *pf = calloc(sc->n + 1, sizeof(*pf));
	size_t *which = calloc(sc->n + 1, sizeof(*which));
	size_t np = 0;
	if (pf == NULL || which == NULL) {
		free(pf);
		free(which);
		usleep(100000);
		return;
	}
	for (size_t i = 0; i < sc->n; i++)
		if (sc->jobs[i].pid != 0) {
			pf[np].fd = sc->jobs[i].fd;
			pf[np].events = POLLIN;
			which[np++] = i;
		}
	int k = poll(pf, np, timeout_ms);
	for (size_t p = 0; k > 0 && p < np; p++) {
		struct job *j = &sc->jobs[which[p]];
		unsigned char buf[16384];
		if (pf[p].revents == 0)
			continue;
		ssize_t got = read(j->fd, buf, sizeof(buf));
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got > 0) {
			/* Past the cap the report is cut: decoding then fails and
			 * the harvest counts as one that ended without a report. */
			pv_buf_append(&j->in, buf, (size_t)got, NULL);
			continue;
		}
		finish_job(sc, j);
	}
	free(pf);
	free(which);
}

/* ---- serve: a reload, the disk ---- */

/* New interval and parallelism; each waiting account planned again from
 * its last harvest, the account list read again. */
static void apply_reload(struct sched *sc)
{
	const struct harvest_sched_opts *o = sc->o;
	int64_t interval = sc->interval_s;
	unsigned parallel = sc->parallel;
	struct pv_error err;
	*o->reload = 0;
	if (o->reload_fn != NULL && o->reload_fn(o->ctx, &interval, &parallel) == PV_OK) {
		sc->interval_s = interval >= 1 ? interval : sc->interval_s;
		sc->parallel = parallel >= 1 ? parallel : sc->parallel;
	}
	if (load_jobs(sc, &err) < 0)
		pv_log(PV_LOG_WARN, "harvest.accounts", "cannot re-read the accounts: %s", err.msg);
	for (size_t i = 0; i < sc->n; i++) {
		struct job *j = &sc->jobs[i];
		if (j->pid == 0 && j->finished_ms != 0)
			j->next_due = j->finished_ms + harvest_backoff_s(j->failures, job_interval(sc, j),
									 j->login_delay_s) * 1000;
	}
	pv_log(PV_LOG_INFO, "harvest.reload", "every %lld s, %u at once",
	       (long long)sc->interval_s, sc->parallel);
}

/* Audits a change of the low-disk state (disk_guard.h). */
static void record_pause(struct sched *sc, bool paused, long long free_bytes)
{
	struct archive *ar = NULL;
	struct pv_error err;
	if (archive_open(sc->o->data_dir, &ar, &err) < 0 ||
	    disk_guard_record(ar, paused, free_bytes, sc->o->disk_reserve, &err) < 0)
		pv_log(PV_LOG_WARN, "harvest.disk", "cannot record it in the audit log: %s", err.msg);
	archive_close(&ar);
}

/* The daemon looks at the disk before it starts a harvest and while they
 * run: below the reserve the harvests stop cleanly, above it they go on. */
static void check_disk(struct sched *sc)
{
	const struct harvest_sched_opts *o = sc->o;
	if (o->once || o->disk_reserve <= 0)
		return;
	long long free_bytes = pv_fs_free_bytes(o->data_dir);
	bool low = disk_guard_low(free_bytes, o->disk_reserve, sc->paused);
	if (low == sc->paused)
		return;
	sc->paused = low;
	if (low) {
		pv_log(PV_LOG_ERROR, "harvest.disk", "the data directory's file system has %lld MiB "
		       "free, under the %lld MiB reserve: harvests stop (those running finish the "
		       "batch in hand) until there is room", free_bytes >> 20,
		       (long long)(o->disk_reserve >> 20));
		for (size_t i = 0; i < sc->n; i++)
			if (sc->jobs[i].pid != 0) {
				sc->jobs[i].disk_stopped = true;
				kill(sc->jobs[i].pid, SIGTERM);
			}
	} else {
		pv_log(PV_LOG_INFO, "harvest.disk", "%lld MiB free again: harvests go on",
		       free_bytes >> 20);
		/* What waited for room is due now. */
		for (size_t i = 0; i < sc->n; i++)
			if (sc->jobs[i].pid == 0)
				sc->jobs[i].next_due = pv_clock_monotonic_ms();
	}
	record_pause(sc, low, free_bytes);
	if (o->on_pause != NULL)
		o->on_pause(o->ctx, low, free_bytes);
}

/* The state the last daemon left (so a restart neither repeats nor
 * loses the pause's audit entry). */
static void load_pause(struct sched *sc)
{
	struct archive *ar = NULL;
	struct disk_guard_state st = {false, 0};
	struct pv_error err;
	if (sc->o->once || sc->o->disk_reserve <= 0)
		return;
	if (archive_open(sc->o->data_dir, &ar, &err) < 0 || disk_guard_state(ar, &st, &err) < 0)
		pv_log(PV_LOG_WARN, "harvest.disk", "cannot read the last pause: %s", err.msg);
	archive_close(&ar);
	sc->paused = st.paused;
	if (st.paused && sc->o->on_pause != NULL)
		sc->o->on_pause(sc->o->ctx, true, pv_fs_free_bytes(sc->o->data_dir));
}

int harvest_schedule(const struct harvest_sched_opts *o, struct pv_error *err)
{
	struct sched sc = {.o = o, .heartbeat_at = INT64_MIN / 2, .ix = {0, -1},
			   .interval_s = o->interval_s, .lock_fd = -1};
	struct pv_error ierr;
	int r;

	sc.no_index = o->no_indexer;
	if (!o->lock_while_busy) {
		/* serve's scheduler holds the lock only for its rounds: a
		 * harvest by hand or "harvest now" may wait for one to end. */
		if ((r = harvest_lock_wait(o, &sc.lock_fd, err)) < 0)
			return r;
		clean_tmp(o->data_dir);
	}
	if ((r = load_jobs(&sc, err)) < 0)
		goto out;
	load_pause(&sc);
	if (o->only != NULL && sc.found == 0) {
		r = pv_fail(err, PV_ENOTFOUND, "no account named '%s'", o->only);
		goto out;
	}
	for (bool ix_tried = false;;) {
		int64_t now = pv_clock_monotonic_ms();
		if (stopping(&sc) && !sc.forwarded) {
			/* Running harvests stop at their next chunk boundary. */
			for (size_t i = 0; i < sc.n; i++)
				if (sc.jobs[i].pid != 0)
					kill(sc.jobs[i].pid, SIGTERM);
			sc.forwarded = true;
		}
		if (o->reload != NULL && *o->reload)
			apply_reload(&sc);
		if (!o->once && !o->no_heartbeat && now - sc.heartbeat_at >= ARCHIVE_HEARTBEAT_S * 1000)
			run_heartbeat(&sc, now);
		check_disk(&sc);
		if ((r = start_due(&sc, now, err)) < 0)
			break;
		/* The index follows the harvests in a process of its own (on
		 * the other core, at a lower priority): DELE never waits for it.
		 * Started after the first harvests, whose processes come first. */
		if (!ix_tried && !sc.no_index && indexer_start(o->data_dir, &sc.ix, &ierr) < 0)
			pv_log(PV_LOG_WARN, "index", "no indexer process (%s): indexing after the "
			       "harvests", ierr.msg);
		ix_tried = true;
		if (sc.running == 0) {
			if (sc.dirty_tmp && sc.lock_fd >= 0) {
				clean_tmp(o->data_dir);
				sc.dirty_tmp = false;
			}
			if (o->lock_while_busy && sc.lock_fd >= 0) {
				close(sc.lock_fd); /* between rounds, another harvest may run */
				sc.lock_fd = -1;
			}
			if (sc.index_needed && !sc.no_index && !indexer_alive(&sc.ix)) {
				run_index(&sc); /* the indexer process died: do its work */
				if (!o->once && indexer_start(o->data_dir, &sc.ix, &ierr) < 0)
					pv_log(PV_LOG_WARN, "index", "no indexer process: %s", ierr.msg);
			}
			sc.index_needed = false;
			bool all_ran = true;
			for (size_t i = 0; i < sc.n; i++)
				all_ran = all_ran && sc.jobs[i].ran;
			if ((o->once && all_ran) || stopping(&sc))
				break;
			/* The daemon picks up accounts added or removed meanwhile. */
			if (!o->once && now - sc.loaded_at >= RELOAD_MS &&
			    (r = load_jobs(&sc, err)) < 0) {
				pv_log(PV_LOG_WARN, "harvest.accounts", "cannot re-read the accounts: %s",
				       err->msg);
				sc.loaded_at = now; /* tried again in RELOAD_MS, not at once */
			}
			r = PV_OK;
		}
		wait_some(&sc, poll_timeout(&sc, pv_clock_monotonic_ms()));
	}
	/* A failure to start a harvest: let the running ones finish. */
	while (sc.running > 0)
		wait_some(&sc, 1000);
	if (o->on_harvested != NULL)
		o->on_harvested(o->ctx);
out:
	/* Every harvest has ended: the indexer catches up and exits. */
	if (sc.ix.pid != 0 && indexer_finish(&sc.ix, &ierr) < 0) {
		pv_log(PV_LOG_WARN, "index", "%s; indexing now", ierr.msg);
		run_index(&sc);
	}
	for (size_t i = 0; i < sc.n; i++)
		job_free(&sc.jobs[i]);
	free(sc.jobs);
	if (sc.lock_fd >= 0)
		close(sc.lock_fd);
	return r;
}
