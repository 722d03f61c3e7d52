#ifndef PV_STORE_STATS_SYSTEM_H
#define PV_STORE_STATS_SYSTEM_H

/* The figures of the status page and /metrics (archiver/archive/status.h)
 * beyond stats.h's counts: each active account's harvest record, the
 * archive's growth per day and the search index's lag. Read-only, no
 * message content. */

#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/db.h"
#include "archiver/lib/error.h"

struct stats_account {
	char *name;               /* malloc'ed */
	int64_t runs_ok, runs_failed; /* recorded harvests by outcome */
	int64_t last_success;     /* start of the newest successful run, 0: none */
	int64_t last_success_finished; /* and its end, 0: none */
	int64_t created_at;       /* when the account was added */
	int64_t harvest_interval_s; /* its own harvest interval, 0: serve's config */
	int64_t residue;          /* messages deleted upstream yet still there */
	/* The newest run; last_started 0: none yet. */
	int64_t last_started, last_finished, last_fetched, last_deleted, last_residue;
	char *last_outcome;       /* malloc'ed; "ok" or the error; "" when none */
};

/* One entry per active account, in name order; *accounts_r (NULL when
 * none) is owned by the caller: stats_accounts_free, also after an error. */
int stats_accounts(struct db *db, struct stats_account **accounts_r, size_t *n_r,
		   struct pv_error *err);
void stats_accounts_free(struct stats_account **accounts, size_t n);

/* Messages archived per UTC day (by received_at; disposed ones included)
 * and their bytes, for the n days ending with the day of `now`:
 * messages_r[0] and bytes_r[0] are the oldest day, [n - 1] today. */
int stats_growth(struct db *db, int64_t now, size_t n, int64_t *messages_r, int64_t *bytes_r,
		 struct pv_error *err);

/* Archived, undisposed messages that are not in the search index. */
int stats_index_lag(struct db *db, int64_t *lag_r, struct pv_error *err);

#endif
