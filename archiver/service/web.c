/* The web process of serve: the HTTP server (archiver/http) on the
 * supervisor's socket until SIGTERM or SIGINT. */
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/index/sandbox.h"
#include "archiver/http/app.h"
#include "archiver/http/harvest_job.h"
#include "archiver/http/server.h"
#include "archiver/lib/log.h"
#include "archiver/lib/sandbox.h"
#include "archiver/lib/spawner.h"
#include "archiver/service/service_int.h"

static void say(int fd, const char *what, const char *msg)
{
	if (fd < 0)
		return;
	(void)!write(fd, what, 1);
	if (msg != NULL)
		(void)!write(fd, msg, strlen(msg));
	close(fd);
}

struct web_programs {
	const struct service *sv;
	char parser[PATH_MAX]; /* fixed before the spawner forks */
};

/* What the web's spawner may start for it: a view's parser sandbox (the
 * small popvault-parser, as the indexer runs it), or "harvest now" of
 * this data directory (this program). Runs in the spawner. */
static const char *web_may_start(void *ctx, const char *self, char *const argv[],
				 char *const envp[])
{
	const struct web_programs *wp = ctx;
	if (index_sandbox_argv_ok(argv, envp))
		return wp->parser;
	return harvest_job_argv_ok(wp->sv->o->data_dir, argv, envp) ? self : NULL;
}

static int confine_spawner(struct pv_error *err)
{
	return pv_sandbox_role(PV_ROLE_SPAWNER, err);
}

int svc_web_main(struct service *sv, int ready_fd)
{
	const struct service_opts *o = sv->o;
	struct http_config hc = {o->data_dir, o->web_root, sv->cert_pem != NULL, o->session_idle_s,
				 o->session_max_s, o->metrics_token_sha256, sv->board};
	struct http_server_config sc = {.addr = NULL,
					.listen_fd = sv->listen_fd,
					.cert_pem = sv->cert_pem,
					.key_pem = sv->key_pem,
					.request_time_max_s = o->request_time_max_s};
	struct http_app *app = NULL;
	struct http_server *srv = NULL;
	struct pv_error err;
	sigset_t sigs;
	int sig = 0;

	/* Every thread the server starts inherits this mask; only sigwait
	 * below takes the signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	json_object_seed(0);
	/* The web execs nothing itself: a spawner forked now, before its
	 * filter and its first request, starts what it may start. */
	static struct web_programs wp;
	wp.sv = sv;
	if (index_sandbox_program(wp.parser, sizeof(wp.parser), &err) < 0 ||
	    pv_spawner_start(web_may_start, &wp, confine_spawner, &err) < 0 ||
	    pv_sandbox_role(PV_ROLE_WEB, &err) < 0) {
		say(ready_fd, "E", err.msg);
		pv_log(PV_LOG_ERROR, "serve.web", "the web cannot confine itself: %s", err.msg);
		pv_spawner_stop();
		return 1;
	}
	if (http_app_new(&hc, &app, &err) < 0 || http_server_start(app, &sc, &srv, &err) < 0) {
		http_app_free(&app);
		say(ready_fd, "E", err.msg);
		pv_log(PV_LOG_ERROR, "serve.web", "the web cannot start: %s", err.msg);
		pv_spawner_stop();
		return 1;
	}
	say(ready_fd, "R", NULL);
	pv_sandbox_selftest_point(PV_ROLE_WEB);
	while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
		/* What the web takes from the config (the harvest interval that
		 * /healthz judges by) is on the board, which the supervisor
		 * has updated; the socket and the TLS files stay till a restart. */
		pv_log(PV_LOG_DEBUG, "serve.web", "reloaded: the new settings are on the board");
	http_server_stop(&srv);
	http_app_free(&app);
	pv_spawner_stop();
	return 0;
}
