#ifndef PV_HTTP_HARVEST_JOB_H
#define PV_HTTP_HARVEST_JOB_H

/* "Harvest now" (POST /api/v1/harvest): one background harvest at a time
 * per server, run as `popvault --data DIR --json harvest --once --wait
 * [--account NAME]` in a child process of this very binary. A fresh
 * process, not a fork of the server's threads: the harvest takes its own
 * locks (DIR/harvest.lock), SQLite connections and TLS state, and its
 * invariants (harvest.h) hold whatever happens to it. A thread of the
 * server reads its output and reaps it. */

#include <jansson.h>
#include <stdbool.h>

#include "archiver/lib/error.h"

struct harvest_job;

/* A job runner for data_dir (nothing runs yet). */
int harvest_job_new(const char *data_dir, struct harvest_job **job_r, struct pv_error *err);
/* Asks a running harvest to stop (SIGTERM: it finishes the chunk in hand
 * and QUITs, harvest.h) and waits for it; then frees. */
void harvest_job_free(struct harvest_job **job);

/* Whether a harvest started here still runs. */
bool harvest_job_running(struct harvest_job *job);

/* Starts a harvest of account (NULL: every account) for user; PV_ETEMP
 * when one still runs. */
int harvest_job_start(struct harvest_job *job, const char *account, const char *user,
		      struct pv_error *err);

/* The job as GET /api/v1/harvest shows it (docs/api.md): state idle,
 * running, done or failed; account, requested_by, started, finished,
 * result (the harvest's JSON summary) and error. A new reference. */
json_t *harvest_job_json(struct harvest_job *job);

/* Whether argv and envp are those of a harvest a job for data_dir would
 * start (what the web's spawner, lib/spawner.h, lets it start): this
 * program, the fixed options, an account name, and no variable but this
 * process's own and the signer's descriptor. */
bool harvest_job_argv_ok(const char *data_dir, char *const argv[], char *const envp[]);

#endif
