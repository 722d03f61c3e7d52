/* The supervisor of serve (service.h): binds the web's socket, forks the
 * parts, restarts those that die, forks the scheduled work when due, and
 * takes the signals (through a signalfd: it has no threads and blocks
 * them all). It opens no archive for itself but once at the start, to
 * read when verify last ran. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/indexer.h"
#include "archiver/archive/status.h"
#include "archiver/http/tls.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/lib/sandbox.h"
#include "archiver/lib/sdnotify.h"
#include "archiver/lib/secret.h"
#include "archiver/service/service_int.h"
#include "archiver/store/catalog_reach.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

/* A part that dies is started again after RESTART_BASE_MS, doubling while
 * it keeps dying, up to RESTART_MAX_MS; one that ran RESTART_CALM_MS
 * starts from the base again. */
#define RESTART_BASE_MS 1000
#define RESTART_MAX_MS 60000
#define RESTART_CALM_MS 60000
/* The web must listen within this long of its start. */
#define READY_TIMEOUT_MS 60000
/* Scheduled work first runs this long after the start at most (the parts
 * that serve come first), unless its interval is shorter. */
#define FIRST_RUN_MAX_S 60
#define NEVER INT64_MAX

enum part_id {
	PART_WEB,
	PART_HARVEST,
	PART_INDEXER,
	PART_HEARTBEAT,
	PART_DISPOSE,
	PART_VERIFY,
	PART_VERIFY_FULL,
	PART_ANCHOR,
	PART_N
};

struct part {
	const char *name;   /* in the log; "pv-NAME" is the process name */
	bool lasting;       /* runs all the time (restarted when it dies), else scheduled */
	pid_t pid;          /* 0: not running */
	int64_t started_ms; /* monotonic */
	int failures;       /* lasting: quick deaths in a row */
	int64_t due_ms;     /* lasting: restart at; scheduled: next run; NEVER: off */
	int64_t every_s;    /* scheduled: interval (0: off) */
	int64_t last_ms;    /* scheduled: last start, 0: none yet */
};

struct sup {
	struct service sv;
	struct part p[PART_N];
	struct indexer_proc ix;
	int sigfd;
	bool stopping;
	int64_t start_ms;
	unsigned port;
	char status[256];
	enum pv_role selftest; /* --seccomp-selftest, until its part started */
	bool signer_lost;      /* the signer died: serve ends with an error */
	/* When verify last ran by the audit log at the start (unix s, 0:
	 * never): a reload plans from them, as the start did. */
	int64_t verify_any_at, verify_full_at;
	/* The self-signed pair made again while running (sv's then), and when
	 * to look next whether it nears its end. */
	char *tls_cert, *tls_key;
	int64_t tls_check_ms;
};

static const struct part parts[PART_N] = {
	[PART_WEB] = {"web", true, 0, 0, 0, 0, 0, 0},
	[PART_HARVEST] = {"harvest", true, 0, 0, 0, 0, 0, 0},
	[PART_INDEXER] = {"indexer", true, 0, 0, 0, 0, 0, 0},
	[PART_HEARTBEAT] = {"heartbeat", false, 0, 0, 0, 0, 0, 0},
	[PART_DISPOSE] = {"dispose", false, 0, 0, 0, 0, 0, 0},
	[PART_VERIFY] = {"verify", false, 0, 0, 0, 0, 0, 0},
	[PART_VERIFY_FULL] = {"verify-full", false, 0, 0, 0, 0, 0, 0},
	[PART_ANCHOR] = {"anchor", false, 0, 0, 0, 0, 0, 0},
};

int svc_config_read(const struct service *sv, struct pv_config *cfg, struct pv_error *err)
{
	return pv_config_load_for_serve(sv->o->data_dir, sv->o->config_path, cfg, err);
}

int svc_archive_config_read(const struct service *sv, struct pv_config *cfg,
			    struct pv_error *err)
{
	return pv_config_load(sv->o->data_dir, cfg, err);
}

/* ---- the children ---- */

/* In a new child: nothing of the supervisor's but what the part needs. */
static void child_setup(struct sup *s, enum part_id k)
{
	char name[16];
	sigset_t mask;
	/* The supervisor gone (killed), the part stops as on SIGTERM. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != s->sv.supervisor)
		_exit(0);
	snprintf(name, sizeof(name), "pv-%s", s->p[k].name);
	prctl(PR_SET_NAME, name);
	close(s->sigfd);
	if (k != PART_WEB)
		close(s->sv.listen_fd);
	if (s->ix.fd >= 0)
		close(s->ix.fd); /* the indexer finishes when the supervisor closes it */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	/* SIGHUP stays blocked: a reload must not end a part before it took
	 * its handler (the web waits for it, the scheduler unblocks it). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	/* Only the supervisor talks to systemd (NotifyAccess=main). */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* Each part's seccomp set (lib/sandbox.h); the indexer loads its own
 * (archive/indexer.c), as it does under `harvest` too. */
static const enum pv_role part_roles[PART_N] = {
	[PART_WEB] = PV_ROLE_WEB,         [PART_HARVEST] = PV_ROLE_HARVEST,
	[PART_INDEXER] = PV_ROLE_INDEXER, [PART_HEARTBEAT] = PV_ROLE_TASK,
	[PART_DISPOSE] = PV_ROLE_DISPOSE, [PART_VERIFY] = PV_ROLE_TASK,
	[PART_VERIFY_FULL] = PV_ROLE_TASK, [PART_ANCHOR] = PV_ROLE_ANCHOR,
};

static int part_main(struct sup *s, enum part_id k, int ready_fd)
{
	struct pv_error err;
	/* The web loads its own once its spawner is forked (web.c). */
	if (k != PART_WEB && pv_sandbox_role(part_roles[k], &err) < 0) {
		pv_log(PV_LOG_ERROR, "serve.seccomp", "the %s process cannot confine itself: %s",
		       s->p[k].name, err.msg);
		return 1;
	}
	if (k != PART_WEB) /* the web's point is once it listens (web.c) */
		pv_sandbox_selftest_point(part_roles[k]);
	switch (k) {
	case PART_WEB:
		return svc_web_main(&s->sv, ready_fd);
	case PART_HARVEST:
		return svc_harvest_main(&s->sv);
	case PART_HEARTBEAT:
		return svc_heartbeat_main(&s->sv);
	case PART_DISPOSE:
		return svc_dispose_main(&s->sv);
	case PART_VERIFY:
		return svc_verify_main(&s->sv, false);
	case PART_VERIFY_FULL:
		return svc_verify_main(&s->sv, true);
	case PART_ANCHOR:
		return svc_anchor_main(&s->sv);
	default:
		return 1;
	}
}

static int spawn(struct sup *s, enum part_id k, int ready_fd, struct pv_error *err)
{
	struct part *p = &s->p[k];
	/* --seccomp-selftest: the first start of that role's part only. */
	bool selftest = s->selftest != PV_ROLE_N && part_roles[k] == s->selftest;
	if (selftest) {
		pv_sandbox_selftest_arm(s->selftest);
		s->selftest = PV_ROLE_N;
	}
	if (k == PART_INDEXER) {
		int r = indexer_start(s->sv.o->data_dir, &s->ix, err);
		if (selftest)
			pv_sandbox_selftest_arm(PV_ROLE_N);
		if (r < 0)
			return r;
		p->pid = s->ix.pid;
	} else {
		fflush(stdout);
		fflush(stderr);
		pid_t pid = fork();
		if (pid < 0) {
			pv_sandbox_selftest_arm(PV_ROLE_N);
			return pv_fail(err, PV_ERR, "fork: %s", strerror(errno));
		}
		if (pid == 0) {
			child_setup(s, k);
			int rc = part_main(s, k, ready_fd);
			fflush(stdout);
			fflush(stderr);
#if defined(__SANITIZE_ADDRESS__)
			__lsan_do_leak_check(); /* _exit skips it */
#endif
			_exit(rc);
		}
		p->pid = pid;
	}
	if (selftest)
		pv_sandbox_selftest_arm(PV_ROLE_N); /* the child has its copy */
	p->started_ms = pv_clock_monotonic_ms();
	pv_log(PV_LOG_DEBUG, "serve.start", "the %s process started (pid %ld)", p->name,
	       (long)p->pid);
	return PV_OK;
}

static void describe(int status, char *out, size_t n)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		snprintf(out, n, "was killed by its seccomp filter (SIGSYS: a system call its role "
			 "may not make)");
	else if (WIFSIGNALED(status))
		snprintf(out, n, "was killed by signal %d", WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(out, n, "ended");
}

static void begin_stop(struct sup *s, int sig);

/* The signer (forked by serve before the supervisor began, so its
 * child) ended: nothing can be signed, and this process cannot read the
 * keys to start another. serve stops with an error, for its service
 * manager to start it again with a new signer. */
static void signer_gone(struct sup *s, pid_t pid, int status)
{
	char how[128];
	describe(status, how, sizeof(how));
	pv_log(PV_LOG_ERROR, "serve.signer", "the signer process (pid %ld) %s; nothing can be "
	       "signed without it: stopping, to be started again", (long)pid, how);
	s->signer_lost = true;
	begin_stop(s, SIGTERM);
}

/* Every child that ended: a lasting part is started again later. */
static void reap(struct sup *s)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int64_t now = pv_clock_monotonic_ms();
		char how[128];
		enum part_id k = PART_N;
		for (int i = 0; i < PART_N; i++)
			if (s->p[i].pid == pid)
				k = (enum part_id)i;
		if (k == PART_N) {
			if (pid == s->sv.o->signer_pid && !s->stopping)
				signer_gone(s, pid, status);
			continue;
		}
		struct part *p = &s->p[k];
		p->pid = 0;
		if (k == PART_INDEXER) {
			if (s->ix.fd >= 0)
				close(s->ix.fd);
			s->ix.fd = -1;
			s->ix.pid = 0;
		}
		describe(status, how, sizeof(how));
		if (s->stopping) {
			pv_log(PV_LOG_DEBUG, "serve.stop", "the %s process %s", p->name, how);
			continue;
		}
		if (!p->lasting) {
			if (WIFSIGNALED(status))
				pv_log(PV_LOG_WARN, "serve.task", "the %s run %s", p->name, how);
			continue;
		}
		p->failures = now - p->started_ms >= RESTART_CALM_MS ? 1 : p->failures + 1;
		int64_t delay = RESTART_BASE_MS;
		for (int i = 1; i < p->failures && delay < RESTART_MAX_MS; i++)
			delay *= 2;
		if (delay > RESTART_MAX_MS)
			delay = RESTART_MAX_MS;
		p->due_ms = now + delay;
		pv_log(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS ? PV_LOG_ERROR : PV_LOG_WARN,
		       "serve.restart", "the %s process (pid %ld) %s; starting it again in %lld s",
		       p->name, (long)pid, how, (long long)(delay / 1000));
	}
}

/* serve's own self-signed certificate, within PV_HTTP_TLS_RENEW_DAYS of
 * its end: made again (on disk, as a start would) and the web restarted
 * with it. Not only at a start: an appliance may run for years without
 * one, and a browser refuses an expired certificate outright. */
static void renew_tls(struct sup *s)
{
	const struct service_opts *o = s->sv.o;
	int64_t now = pv_clock_monotonic_ms();
	if (!o->tls_self_signed || s->stopping || now < s->tls_check_ms)
		return;
	s->tls_check_ms = now + o->tls_check_s * 1000;
	bool ours, created;
	int left = http_tls_days_left(s->sv.cert_pem, &ours);
	if (!ours || left > PV_HTTP_TLS_RENEW_DAYS)
		return;
	char *cert = NULL, *key = NULL;
	struct pv_error err;
	/* It says itself when it cannot make one (the old one serves on). */
	if (http_tls_self_signed(o->data_dir, o->host, &cert, &key, &created, &err) < 0) {
		pv_log(PV_LOG_ERROR, "tls.renew", "%s", err.msg);
		return;
	}
	if (strcmp(cert, s->sv.cert_pem) == 0) {
		free(cert);
		pv_secret_free(&key);
		return;
	}
	free(s->tls_cert);
	pv_secret_free(&s->tls_key);
	s->sv.cert_pem = s->tls_cert = cert;
	s->sv.key_pem = s->tls_key = key;
	/* The socket stays the supervisor's: connections wait in its backlog
	 * while the web starts again with the new pair. */
	if (s->p[PART_WEB].pid != 0) {
		pv_log(PV_LOG_WARN, "tls.renew", "the web starts again with the new certificate");
		kill(s->p[PART_WEB].pid, SIGTERM);
	}
}

/* Lasting parts due for a restart, scheduled work due to run. */
static void start_due(struct sup *s)
{
	int64_t now = pv_clock_monotonic_ms();
	struct pv_error err;
	for (int i = 0; i < PART_N; i++) {
		struct part *p = &s->p[i];
		if (p->pid != 0 || p->due_ms > now)
			continue;
		if (!p->lasting) {
			p->due_ms = now + p->every_s * 1000;
			/* One verify at a time: a sample waits for the full one. */
			if ((i == PART_VERIFY && s->p[PART_VERIFY_FULL].pid != 0) ||
			    (i == PART_VERIFY_FULL && s->p[PART_VERIFY].pid != 0)) {
				p->due_ms = now + 1000;
				continue;
			}
			p->last_ms = now;
		}
		if (spawn(s, (enum part_id)i, -1, &err) < 0) {
			pv_log(PV_LOG_ERROR, "serve.start", "cannot start the %s process: %s", p->name,
			       err.msg);
			if (p->lasting)
				p->due_ms = now + RESTART_MAX_MS;
		} else if (p->lasting) {
			p->due_ms = NEVER;
		}
	}
}

static bool any_running(const struct sup *s)
{
	for (int i = 0; i < PART_N; i++)
		if (s->p[i].pid != 0)
			return true;
	return false;
}

/* ---- the schedule ---- */

/* The next run of scheduled part k after a (re)start or reload: its
 * interval after its last run, at most FIRST_RUN_MAX_S from now when it
 * has not run yet. last_unix: when it last ran by the audit log (0:
 * unknown). */
static void plan(struct sup *s, enum part_id k, int64_t every_s, int64_t last_unix)
{
	struct part *p = &s->p[k];
	int64_t now = pv_clock_monotonic_ms();
	p->every_s = every_s;
	if (every_s <= 0 || s->sv.o->web_only) {
		p->due_ms = NEVER;
		return;
	}
	if (p->last_ms != 0) {
		p->due_ms = p->last_ms + every_s * 1000;
		return;
	}
	int64_t wait_s = every_s < FIRST_RUN_MAX_S ? every_s : FIRST_RUN_MAX_S;
	if (last_unix > 0) {
		int64_t left = last_unix + every_s - pv_clock_now();
		if (left > wait_s)
			wait_s = left;
	}
	p->due_ms = now + wait_s * 1000;
}

static void plan_all(struct sup *s, int64_t verify_any, int64_t verify_full)
{
	const struct pv_config *c = &s->sv.cfg;
	plan(s, PART_DISPOSE, c->dispose_interval_s, 0);
	plan(s, PART_VERIFY, c->verify_interval_s, verify_any);
	plan(s, PART_VERIFY_FULL, c->verify_full_interval_s, verify_full);
	/* Anchoring only when a TSA or a witness is configured; the part
	 * looks often whether it is due (an interval, or a disposal run). */
	int64_t anchor_s = svc_anchor_interval_s(&s->sv);
	if (anchor_s > 0 && s->sv.o->anchor_check_s > 0 && s->sv.o->anchor_check_s < anchor_s)
		anchor_s = s->sv.o->anchor_check_s;
	plan(s, PART_ANCHOR, anchor_s, 0);
	/* The heartbeat is signed at the start, then every 15 minutes. */
	s->p[PART_HEARTBEAT].every_s = s->sv.o->heartbeat_s;
	if (s->p[PART_HEARTBEAT].last_ms == 0)
		s->p[PART_HEARTBEAT].due_ms = s->sv.o->web_only ? NEVER : pv_clock_monotonic_ms();
	pv_board_lock(s->sv.board);
	s->sv.board->harvest_interval_s = c->harvest_interval_s;
	pv_board_unlock(s->sv.board, true);
}

/* When verify last ran, so a restart does not postpone it. */
static void last_verifies(struct sup *s, int64_t *any, int64_t *full)
{
	struct archive *ar = NULL;
	struct pv_error err;
	*any = *full = 0;
	if (s->sv.o->web_only)
		return;
	if (archive_open(s->sv.o->data_dir, &ar, &err) < 0 ||
	    archive_last_verifies(ar, any, full, &err) < 0)
		pv_log(PV_LOG_WARN, "serve.verify", "cannot tell when verify last ran: %s", err.msg);
	archive_close(&ar);
}

/* ---- systemd: status, reload, stop ---- */

static void update_status(struct sup *s)
{
	struct pv_board *b = s->sv.board;
	char text[sizeof(s->status)], harvest[160] = "";
	bool v6 = s->sv.o->addr->sa_family == AF_INET6;
	if (s->sv.o->web_only) {
		snprintf(harvest, sizeof(harvest), " (web only)");
	} else {
		pv_board_lock(b);
		if (b->paused) {
			snprintf(harvest, sizeof(harvest), "; harvest stopped: disk low (%lld MiB free)",
				 (long long)(b->paused_free_bytes >> 20));
		} else if (b->last_harvest_at > 0) {
			char hm[8] = "";
			time_t t = (time_t)b->last_harvest_at;
			struct tm tm;
			if (localtime_r(&t, &tm) != NULL)
				strftime(hm, sizeof(hm), "%H:%M", &tm);
			if (b->last_ok)
				snprintf(harvest, sizeof(harvest), "; last harvest %s %s %lld msgs", hm,
					 b->last_account, (long long)b->last_fetched);
			else
				snprintf(harvest, sizeof(harvest), "; last harvest %s %s failed", hm,
					 b->last_account);
		} else {
			snprintf(harvest, sizeof(harvest), "; no harvest yet");
		}
		pv_board_unlock(b, false);
	}
	snprintf(text, sizeof(text), "serving on %s%s%s:%u%s", v6 ? "[" : "", s->sv.o->host,
		 v6 ? "]" : "", s->port, harvest);
	if (strcmp(text, s->status) == 0)
		return;
	memcpy(s->status, text, sizeof(text));
	(void)pv_sd_notifyf(NULL, "STATUS=%s", text);
}

/* SIGHUP: the config file again; the web and the scheduler are told. */
static void reload(struct sup *s)
{
	struct pv_config cfg, archive_cfg;
	struct pv_error err;
	(void)pv_sd_notify("RELOADING=1", NULL);
	if (svc_config_read(&s->sv, &cfg, &err) < 0 ||
	    svc_archive_config_read(&s->sv, &archive_cfg, &err) < 0) {
		pv_log(PV_LOG_ERROR, "serve.reload", "keeping the configuration in force: %s", err.msg);
	} else {
		if (strcmp(cfg.listen, s->sv.cfg.listen) != 0)
			pv_log(PV_LOG_WARN, "serve.reload", "[serve] listen changed: it takes effect at "
			       "the next start");
		s->sv.cfg = cfg;
		s->sv.archive_cfg = archive_cfg;
		plan_all(s, s->verify_any_at, s->verify_full_at);
		if (s->p[PART_WEB].pid != 0)
			kill(s->p[PART_WEB].pid, SIGHUP);
		if (s->p[PART_HARVEST].pid != 0)
			kill(s->p[PART_HARVEST].pid, SIGHUP);
		pv_log(PV_LOG_INFO, "serve.reload", "configuration read again from %s: harvest every "
		       "%lld s, dispose every %lld s, verify every %lld s (full every %lld s)",
		       s->sv.o->config_path, (long long)cfg.harvest_interval_s,
		       (long long)cfg.dispose_interval_s, (long long)cfg.verify_interval_s,
		       (long long)cfg.verify_full_interval_s);
	}
	(void)pv_sd_notify("READY=1", NULL);
}

/* SIGTERM, SIGINT: every child is asked to stop (harvests finish the
 * batch in hand); the loop ends once all have. */
static void begin_stop(struct sup *s, int sig)
{
	if (!s->stopping) {
		(void)pv_sd_notify("STOPPING=1", NULL);
		printf("popvault: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
		fflush(stdout);
	}
	s->stopping = true;
	for (int i = 0; i < PART_N; i++)
		if (s->p[i].pid != 0)
			kill(s->p[i].pid, SIGTERM);
	if (s->ix.fd >= 0)
		close(s->ix.fd);
	s->ix.fd = -1;
}

static void take_signals(struct sup *s)
{
	struct signalfd_siginfo si;
	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap(s);
		else if (si.ssi_signo == SIGHUP && !s->stopping)
			reload(s);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			begin_stop(s, (int)si.ssi_signo);
	}
	reap(s); /* SIGCHLDs coalesce */
}

/* ---- start ---- */

static int bind_socket(struct sup *s, struct pv_error *err)
{
	const struct service_opts *o = s->sv.o;
	struct sockaddr_storage ss = {0};
	socklen_t len = sizeof(ss);
	int one = 1;
	int fd = socket(o->addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pv_fail(err, PV_ERR, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (o->addr->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, o->addr, o->addr_len) < 0 || listen(fd, PV_HTTP_CONNECTIONS_MAX) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		int e = errno;
		unsigned port = ntohs(o->addr->sa_family == AF_INET6
					      ? ((const struct sockaddr_in6 *)o->addr)->sin6_port
					      : ((const struct sockaddr_in *)o->addr)->sin_port);
		bool v6 = o->addr->sa_family == AF_INET6;
		close(fd);
		return pv_fail(err, PV_ERR, "cannot listen on %s%s%s:%u: %s (another popvault serve, "
			       "or another server there? [serve] listen in %s, or --listen)",
			       v6 ? "[" : "", o->host, v6 ? "]" : "", port, strerror(e),
			       o->config_path ? o->config_path : "popvault.conf");
	}
	s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						  : ((struct sockaddr_in *)&ss)->sin_port);
	s->sv.listen_fd = fd;
	return PV_OK;
}

/* The web first: serve is ready when it listens. */
static int start_web(struct sup *s, struct pv_error *err)
{
	int fds[2], r;
	char msg[PV_ERROR_MSG_MAX];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return pv_fail(err, PV_ERR, "pipe: %s", strerror(errno));
	r = spawn(s, PART_WEB, fds[1], err);
	close(fds[1]);
	if (r < 0) {
		close(fds[0]);
		return r;
	}
	struct pollfd pf = {.fd = fds[0], .events = POLLIN};
	ssize_t n = poll(&pf, 1, READY_TIMEOUT_MS) > 0 ? read(fds[0], msg, sizeof(msg) - 1) : 0;
	close(fds[0]);
	if (n > 0 && msg[0] == 'R')
		return PV_OK;
	msg[n > 0 ? n : 0] = '\0';
	kill(s->p[PART_WEB].pid, SIGKILL);
	while (waitpid(s->p[PART_WEB].pid, NULL, 0) < 0 && errno == EINTR)
		;
	s->p[PART_WEB].pid = 0;
	return pv_fail(err, PV_ERR, "%s", n > 1 ? msg + 1 : "the web process did not start");
}

static int setup(struct sup *s, const struct service_opts *o, struct pv_error *err)
{
	sigset_t sigs;
	int r;

	memset(s, 0, sizeof(*s));
	memcpy(s->p, parts, sizeof(parts));
	s->sv.o = o;
	s->sv.cfg = *o->cfg;
	s->sv.cert_pem = o->cert_pem;
	s->sv.key_pem = o->key_pem;
	s->tls_check_ms = pv_clock_monotonic_ms() + o->tls_check_s * 1000;
	s->sv.listen_fd = -1;
	s->sv.supervisor = getpid();
	s->sigfd = -1;
	s->ix.fd = -1;
	s->start_ms = pv_clock_monotonic_ms();
	s->selftest = o->seccomp_selftest;
	if ((r = svc_archive_config_read(&s->sv, &s->sv.archive_cfg, err)) < 0 ||
	    (r = pv_board_new(&s->sv.board, err)) < 0)
		return r;
	s->sv.board->harvesting = !o->web_only;
	s->sv.board->started_at = pv_clock_now();
	/* Audit appends that fail in any part are counted on the board. */
	archive_audit_board(s->sv.board);
	if ((r = bind_socket(s, err)) < 0)
		return r;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGCHLD);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sigfd < 0)
		return pv_fail(err, PV_ERR, "signalfd: %s", strerror(errno));
	/* Set up: from here on what any part may do, and no more. With an
	 * object store, the parts that read packs connect out; with the
	 * catalog on a server, the parts that open it reach that server
	 * (inherited). */
	if ((r = catalog_reach_sandbox(o->data_dir, err)) < 0)
		return r;
	return pv_sandbox_role(PV_ROLE_SUPERVISOR, err);
}

static void teardown(struct sup *s)
{
	sigset_t sigs;
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->sv.listen_fd >= 0)
		close(s->sv.listen_fd);
	if (s->ix.fd >= 0)
		close(s->ix.fd);
	archive_audit_board(NULL);
	pv_board_free(&s->sv.board);
	free(s->tls_cert);
	pv_secret_free(&s->tls_key);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGCHLD);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &sigs, NULL);
}

int service_run(const struct service_opts *o, struct pv_error *err)
{
	struct sup s;
	int r;

	setvbuf(stderr, NULL, _IOLBF, 0); /* a log line is one write, whichever process */
	if ((r = setup(&s, o, err)) < 0 || (r = start_web(&s, err)) < 0) {
		teardown(&s);
		return r;
	}
	bool v6 = o->addr->sa_family == AF_INET6;
	printf("popvault: serving %s://%s%s%s:%u/ (web root %s)\n", o->cert_pem ? "https" : "http",
	       v6 ? "[" : "", o->host, v6 ? "]" : "", s.port, o->web_root);
	fflush(stdout);
	last_verifies(&s, &s.verify_any_at, &s.verify_full_at);
	plan_all(&s, s.verify_any_at, s.verify_full_at);
	for (int i = PART_HARVEST; i <= PART_INDEXER; i++)
		s.p[i].due_ms = o->web_only ? NEVER : 0;
	s.p[PART_WEB].due_ms = NEVER;
	start_due(&s);
	update_status(&s);
	(void)pv_sd_notify("READY=1", NULL);

	uint64_t wd_us = pv_sd_watchdog_usec();
	int64_t wd_next = pv_clock_monotonic_ms();
	for (;;) {
		renew_tls(&s);
		if (!s.stopping)
			start_due(&s);
		else if (!any_running(&s))
			break;
		update_status(&s);
		int64_t now = pv_clock_monotonic_ms(), t = 1000;
		if (wd_us != 0 && now >= wd_next) {
			(void)pv_sd_notify("WATCHDOG=1", NULL);
			wd_next = now + (int64_t)(wd_us / 2000);
		}
		if (wd_us != 0 && wd_next - now < t)
			t = wd_next - now;
		for (int i = 0; i < PART_N && !s.stopping; i++)
			if (s.p[i].pid == 0 && s.p[i].due_ms - now < t)
				t = s.p[i].due_ms - now;
		if (o->tls_self_signed && s.tls_check_ms - now < t)
			t = s.tls_check_ms - now;
		struct pollfd pf = {.fd = s.sigfd, .events = POLLIN};
		if (poll(&pf, 1, t < 0 ? 0 : (int)t) > 0)
			take_signals(&s);
	}
	teardown(&s);
	if (s.signer_lost)
		return pv_fail(err, PV_ERR, "the signer process ended (see the log)");
	return PV_OK;
}
