#ifndef PV_HARVEST_RUNS_H
#define PV_HARVEST_RUNS_H

/* One row per finished harvest of an account (harvest_runs, catalog
 * migration 1): when it ran and how it went, for `popvault stats`. The
 * evidence of a harvest is its audit entries; these rows are a summary. */

#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/db.h"

struct harvest_run {
	int64_t account_id;
	int64_t started_at, finished_at; /* unix seconds */
	int64_t fetched, deleted, residue;
	const char *outcome;             /* "ok" or the error that ended it */
};

/* Appends run (autocommit, or inside the caller's transaction). */
int harvest_runs_add(struct db *db, const struct harvest_run *run, struct pv_error *err);

#endif
