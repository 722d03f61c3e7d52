#include "archiver/store/stats.h"

#include <stdlib.h>
#include <string.h>

#include "archiver/store/catalog.h"

int stats_counts(sqlite3 *db, struct stats_counts *c, struct pv_error *err)
{
	int r;
	memset(c, 0, sizeof(*c));
	if ((r = catalog_query_int(db, "SELECT count(*) FROM messages WHERE disposed_at IS NULL",
				   &c->messages, err)) < 0 ||
	    (r = catalog_query_int(db, "SELECT count(*) FROM messages WHERE disposed_at IS NOT NULL",
				   &c->disposed, err)) < 0 ||
	    (r = catalog_query_int(db,
				   "SELECT coalesce(sum(size), 0) FROM messages WHERE disposed_at IS NULL",
				   &c->bytes, err)) < 0 ||
	    (r = catalog_query_int(db, "SELECT count(*) FROM accounts WHERE removed_at IS NULL",
				   &c->accounts, err)) < 0 ||
	    (r = catalog_query_int(db,
				   "SELECT count(*) FROM upstream WHERE state IN ('committed','dele-sent','quit-ok')",
				   &c->upstream_pending, err)) < 0 ||
	    (r = catalog_query_int(db, "SELECT count(*) FROM upstream WHERE state = 'residue'",
				   &c->upstream_residue, err)) < 0)
		return r;
	return PV_OK;
}

static char *dup_col(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);
	return strdup(s ? s : "");
}

int stats_last_runs(sqlite3 *db, struct stats_run **runs_r, size_t *n_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, r;

	*runs_r = NULL;
	*n_r = 0;
	if ((r = catalog_prepare(db,
				 "SELECT a.name, r.started_at, r.fetched, r.deleted, r.residue, r.outcome"
				 " FROM accounts a JOIN harvest_runs r ON r.id ="
				 " (SELECT max(id) FROM harvest_runs WHERE account_id = a.id)"
				 " WHERE a.removed_at IS NULL ORDER BY a.name",
				 &st, err)) < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n_r == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			struct stats_run *v = realloc(*runs_r, ncap * sizeof(*v));
			if (v == NULL)
				break;
			*runs_r = v;
			cap = ncap;
		}
		struct stats_run *run = &(*runs_r)[*n_r];
		run->account = dup_col(st, 0);
		run->started_at = sqlite3_column_int64(st, 1);
		run->fetched = sqlite3_column_int64(st, 2);
		run->deleted = sqlite3_column_int64(st, 3);
		run->residue = sqlite3_column_int64(st, 4);
		run->outcome = dup_col(st, 5);
		(*n_r)++;
		if (run->account == NULL || run->outcome == NULL)
			break;
	}
	if (rc == SQLITE_ROW)
		r = pv_fail(err, PV_ERR, "out of memory");
	else if (rc != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "database: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
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
