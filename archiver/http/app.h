#ifndef PV_HTTP_APP_H
#define PV_HTTP_APP_H

/* The state one `popvault serve` shares between its worker threads: the
 * configuration, a pool of open archives (SQLite connections are not
 * shared between threads: each request borrows one archive for itself),
 * the failed sign-in counters and the Argon2id semaphore. Created before
 * the server starts, freed after it stopped. */

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>

#include "archiver/http/export_jobs.h"
#include "archiver/http/gov_jobs.h"
#include "archiver/http/ratelimit.h"
#include "archiver/lib/board.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "archiver/store/datadir.h"

struct harvest_job;

struct http_config {
	const char *data_dir;
	const char *web_root;   /* the directory of static files (web-static/) */
	bool tls;               /* served over HTTPS: HSTS, Secure cookies */
	int64_t session_idle_s; /* 1 .. PV_HTTP_SESSION_IDLE_S */
	int64_t session_max_s;  /* 1 .. PV_HTTP_SESSION_MAX_S */
	const unsigned char *metrics_token_sha256; /* 32 bytes: the scrape token's hash; NULL none */
	struct pv_board *board; /* serve's shared board (lib/board.h): /healthz; NULL none */
};

/* Archives open at most: one per worker thread, one spare. */
#define HTTP_ARCHIVES_MAX (PV_HTTP_THREADS + 1)

struct http_app {
	char data_dir[2048];
	char web_root[2048];
	int web_root_fd; /* O_PATH directory: static files are opened beneath it */
	bool tls;
	int64_t session_idle_s, session_max_s;

	pthread_mutex_t lock;
	pthread_cond_t returned;
	struct archive *idle[HTTP_ARCHIVES_MAX];
	int n_idle, n_open;

	sem_t argon2;                      /* PV_HTTP_ARGON2_CONCURRENT slots */
	struct ratelimit *fail_user, *fail_ip; /* failed sign-ins */

	bool metrics_token_set;            /* GET /metrics also takes this bearer token */
	unsigned char metrics_token_sha256[32];
	struct harvest_job *harvest;       /* "harvest now" (harvest_job.h) */
	struct export_runner *exports;     /* export jobs (export_jobs.h) */
	struct gov_jobs *gov;              /* verify runs, audit exports (gov_jobs.h) */
	struct pv_board *board;            /* from http_config */
};

/* Checks cfg (timeouts within limits.h, a readable web root) and the
 * archive (one is opened now, so a bad data directory fails here). */
int http_app_new(const struct http_config *cfg, struct http_app **app_r, struct pv_error *err);
/* Closes every archive and stops a running "harvest now" (SIGTERM, then
 * waits); the server must be stopped. */
/* Cancels and waits for running export jobs, closes every archive; the
 * server must be stopped. */
/* Waits for running verify runs and audit exports, closes every archive;
 * the server must be stopped. */
void http_app_free(struct http_app **app);

/* Borrows an archive for the calling thread until http_app_archive_put.
 * Waits when all are lent (PV_ETEMP after 10 s). */
int http_app_archive_get(struct http_app *app, struct archive **ar_r, struct pv_error *err);
/* Gives it back; discard: close it instead (after a storage error, so the
 * next request opens the catalog afresh; a read-only connection is never
 * kept either). A transaction left open is rolled back. *ar becomes NULL. */
void http_app_archive_put(struct http_app *app, struct archive **ar, bool discard);

#endif
