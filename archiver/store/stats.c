#include "archiver/store/stats.h"

#include <stdlib.h>
#include <string.h>

#include "archiver/store/stats_system.h"

int stats_counts(struct db *db, struct stats_counts *c, struct pv_error *err)
{
	int r;
	memset(c, 0, sizeof(*c));
	if ((r = db_query_int(db, "SELECT count(*) FROM messages WHERE disposed_at IS NULL",
				   &c->messages, err)) < 0 ||
	    (r = db_query_int(db, "SELECT count(*) FROM messages WHERE disposed_at IS NOT NULL",
				   &c->disposed, err)) < 0 ||
	    (r = db_query_int(db,
				   "SELECT coalesce(sum(size), 0) FROM messages WHERE disposed_at IS NULL",
				   &c->bytes, err)) < 0 ||
	    (r = db_query_int(db, "SELECT count(*) FROM accounts WHERE removed_at IS NULL",
				   &c->accounts, err)) < 0 ||
	    (r = db_query_int(db,
				   "SELECT count(*) FROM upstream WHERE state IN ('committed','dele-sent','quit-ok')",
				   &c->upstream_pending, err)) < 0 ||
	    (r = db_query_int(db, "SELECT count(*) FROM upstream WHERE state = 'residue'",
				   &c->upstream_residue, err)) < 0 ||
	    (r = db_query_int(db, "SELECT count(*) FROM packs WHERE stored_at IS NOT NULL"
				       " AND removed_at IS NULL", &c->packs_stored, err)) < 0 ||
	    (r = db_query_int(db, "SELECT count(*) FROM packs WHERE sealed_at IS NOT NULL"
				       " AND stored_at IS NULL AND removed_at IS NULL",
				   &c->packs_unstored, err)) < 0 ||
	    (r = db_query_int(db, "SELECT count(*) FROM packs p WHERE p.stored_at IS NOT NULL"
				       " AND p.removed_at IS NULL AND NOT EXISTS (SELECT 1 FROM"
				       " messages m WHERE m.pack_id = p.id AND m.disposed_at IS NULL)",
				   &c->packs_kept, err)) < 0)
		return r;
	return PV_OK;
}

/* The newest run of each account that has one: stats_accounts' record. */
int stats_last_runs(struct db *db, struct stats_run **runs_r, size_t *n_r, struct pv_error *err)
{
	struct stats_account *acc = NULL;
	size_t n_acc = 0;
	int r;

	*runs_r = NULL;
	*n_r = 0;
	if ((r = stats_accounts(db, &acc, &n_acc, err)) == PV_OK && n_acc > 0 &&
	    (*runs_r = calloc(n_acc, sizeof(**runs_r))) == NULL)
		r = pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; r == PV_OK && i < n_acc; i++) {
		if (acc[i].last_started == 0)
			continue;
		struct stats_run *run = &(*runs_r)[(*n_r)++];
		run->account = strdup(acc[i].name);
		run->started_at = acc[i].last_started;
		run->fetched = acc[i].last_fetched;
		run->deleted = acc[i].last_deleted;
		run->residue = acc[i].last_residue;
		run->outcome = strdup(acc[i].last_outcome);
		if (run->account == NULL || run->outcome == NULL)
			r = pv_fail(err, PV_ERR, "out of memory");
	}
	stats_accounts_free(&acc, n_acc);
	return r;
}

void stats_runs_free(struct stats_run **runs, size_t n)
{
	for (size_t i = 0; *runs != NULL && i < n; i++) {
		free((*runs)[i].account);
		free((*runs)[i].outcome);
	}
	free(*runs);
	*runs = NULL;
}
