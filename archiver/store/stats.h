#ifndef PV_STORE_STATS_H
#define PV_STORE_STATS_H

/* Counts over the catalog for `popvault stats` and the status page
 * (archiver/archive/status.h). Read-only: they begin no transaction and
 * read no message content. */

#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/db.h"
#include "archiver/lib/error.h"

struct stats_counts {
	int64_t messages;         /* archived, not disposed */
	int64_t disposed;         /* disposed of by policy */
	int64_t bytes;            /* sum of the sizes of the messages not disposed */
	int64_t accounts;         /* active upstream accounts */
	int64_t upstream_pending; /* archived; deletion upstream not yet proven
	                           * (ledger states committed, dele-sent, quit-ok) */
	int64_t upstream_residue; /* deleted, yet still upstream (state residue) */
	/* With an object store (store/packstore.h): */
	int64_t packs_stored;     /* in the store, not removed */
	int64_t packs_unstored;   /* sealed, still only in the data directory */
	int64_t packs_kept;       /* every message disposed of; the store's lock keeps it */
};

int stats_counts(struct db *db, struct stats_counts *c_r, struct pv_error *err);

/* The newest harvest run of an active account. */
struct stats_run {
	char *account;      /* malloc'ed, as every string here */
	int64_t started_at; /* unix seconds */
	int64_t fetched, deleted, residue;
	char *outcome;      /* "" when none was recorded */
};

/* One run per active account that has harvested, in account name order.
 * *runs_r (NULL when there is none) is owned by the caller: stats_runs_free,
 * also after an error. */
int stats_last_runs(struct db *db, struct stats_run **runs_r, size_t *n_r, struct pv_error *err);
void stats_runs_free(struct stats_run **runs, size_t n);

#endif
