#include "archiver/http/app.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archiver/http/harvest_job.h"
#include "archiver/lib/log.h"
#include "archiver/store/users.h"

int http_app_new(const struct http_config *cfg, struct http_app **app_r, struct pv_error *err)
{
	struct http_app *app;
	struct archive *ar = NULL;
	int r;

	if (cfg->session_idle_s < 1 || cfg->session_idle_s > PV_HTTP_SESSION_IDLE_S ||
	    cfg->session_max_s < 1 || cfg->session_max_s > PV_HTTP_SESSION_MAX_S)
		return pv_fail(err, PV_EUSAGE, "session timeouts must be 1..%d s (idle) and 1..%d s",
			       PV_HTTP_SESSION_IDLE_S, PV_HTTP_SESSION_MAX_S);
	if (strlen(cfg->data_dir) >= sizeof(app->data_dir) ||
	    strlen(cfg->web_root) >= sizeof(app->web_root))
		return pv_fail(err, PV_EUSAGE, "path too long");
	if ((app = calloc(1, sizeof(*app))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	memcpy(app->data_dir, cfg->data_dir, strlen(cfg->data_dir) + 1);
	memcpy(app->web_root, cfg->web_root, strlen(cfg->web_root) + 1);
	app->tls = cfg->tls;
	app->session_idle_s = cfg->session_idle_s;
	app->session_max_s = cfg->session_max_s;
	app->board = cfg->board;
	if (cfg->metrics_token_sha256 != NULL) {
		memcpy(app->metrics_token_sha256, cfg->metrics_token_sha256,
		       sizeof(app->metrics_token_sha256));
		app->metrics_token_set = true;
	}
	app->web_root_fd = open(cfg->web_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (app->web_root_fd < 0) {
		r = pv_fail(err, PV_EUSAGE, "web root %s: %s", cfg->web_root, strerror(errno));
		free(app);
		return r;
	}
	pthread_mutex_init(&app->lock, NULL);
	pthread_cond_init(&app->returned, NULL);
	sem_init(&app->argon2, 0, PV_HTTP_ARGON2_CONCURRENT);
	if ((r = ratelimit_new(PV_HTTP_LOGIN_TRACKED, PV_HTTP_LOGIN_FREE_FAILURES_USER,
			       PV_HTTP_LOGIN_DELAY_MAX_S * 1000LL, &app->fail_user, err)) < 0 ||
	    (r = ratelimit_new(PV_HTTP_LOGIN_TRACKED, PV_HTTP_LOGIN_FREE_FAILURES_IP,
			       PV_HTTP_LOGIN_DELAY_MAX_S * 1000LL, &app->fail_ip, err)) < 0 ||
	    (r = harvest_job_new(cfg->data_dir, &app->harvest, err)) < 0 ||
	    (r = gov_jobs_new(app->data_dir, &app->gov, err)) < 0 ||
	    (r = http_app_archive_get(app, &ar, err)) < 0 ||
	    (r = export_runner_new(app->data_dir, &app->exports, err)) < 0) {
		http_app_archive_put(app, &ar, true);
		http_app_free(&app);
		return r;
	}
	http_app_archive_put(app, &ar, false);
	user_check_prepare();
	*app_r = app;
	return PV_OK;
}

void http_app_free(struct http_app **appp)
{
	struct http_app *app = *appp;
	if (app == NULL)
		return;
	export_runner_free(&app->exports);
	gov_jobs_free(&app->gov);
	harvest_job_free(&app->harvest);
	for (int i = 0; i < app->n_idle; i++)
		archive_close(&app->idle[i]);
	ratelimit_free(&app->fail_user);
	ratelimit_free(&app->fail_ip);
	sem_destroy(&app->argon2);
	pthread_cond_destroy(&app->returned);
	pthread_mutex_destroy(&app->lock);
	close(app->web_root_fd);
	free(app);
	*appp = NULL;
}

int http_app_archive_get(struct http_app *app, struct archive **ar_r, struct pv_error *err)
{
	struct timespec until;
	int r = PV_OK;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	*ar_r = NULL;
	pthread_mutex_lock(&app->lock);
	while (app->n_idle == 0 && app->n_open >= HTTP_ARCHIVES_MAX && r == PV_OK)
		if (pthread_cond_timedwait(&app->returned, &app->lock, &until) == ETIMEDOUT)
			r = pv_fail(err, PV_ETEMP, "every archive handle is busy");
	if (r == PV_OK && app->n_idle > 0) {
		*ar_r = app->idle[--app->n_idle];
	} else if (r == PV_OK) {
		app->n_open++; /* reserved; opened outside the lock */
	}
	pthread_mutex_unlock(&app->lock);
	if (r < 0 || *ar_r != NULL)
		return r;
	if ((r = archive_open(app->data_dir, ar_r, err)) < 0) {
		pthread_mutex_lock(&app->lock);
		app->n_open--;
		pthread_cond_signal(&app->returned);
		pthread_mutex_unlock(&app->lock);
	}
	return r;
}

void http_app_archive_put(struct http_app *app, struct archive **arp, bool discard)
{
	struct archive *ar = *arp;
	if (ar == NULL)
		return;
	*arp = NULL;
	if (db_in_transaction(ar->cat->conn)) {
		pv_log(PV_LOG_ERROR, "http.bug", "a request left a transaction open; rolled back");
		db_rollback(ar->cat->conn);
	}
	/* A SQLite connection opened while the catalog file could not be
	 * written stays read-only for good, a PostgreSQL one whose server
	 * went away (a restart) fails for good: not worth keeping. */
	discard = discard || db_broken(ar->cat->conn) ||
		  (db_kind(ar->cat->conn) == DB_SQLITE &&
		   sqlite3_db_readonly(db_sqlite(ar->cat->conn), "main") == 1);
	pthread_mutex_lock(&app->lock);
	if (discard) {
		app->n_open--;
	} else {
		app->idle[app->n_idle++] = ar;
		ar = NULL;
	}
	pthread_cond_signal(&app->returned);
	pthread_mutex_unlock(&app->lock);
	archive_close(&ar);
}
