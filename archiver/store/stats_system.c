#include "archiver/store/stats_system.h"

#include <stdlib.h>
#include <string.h>


/* One pass over harvest_runs and one over the residue rows, however long
 * the history: the page and /metrics are asked often. */
static const char accounts_sql[] =
	"WITH r AS (SELECT account_id, sum(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END) AS ok,"
	"   sum(CASE WHEN coalesce(outcome, '') <> 'ok' THEN 1 ELSE 0 END) AS failed,"
	"   max(CASE WHEN outcome = 'ok' THEN started_at END) AS last_ok,"
	"   max(CASE WHEN outcome = 'ok' THEN finished_at END) AS last_ok_end, max(id) AS last_id"
	"   FROM harvest_runs GROUP BY account_id),"
	" u AS (SELECT account_id, count(*) AS n FROM upstream WHERE state = 'residue'"
	"   GROUP BY account_id)"
	" SELECT a.name, coalesce(r.ok, 0), coalesce(r.failed, 0), coalesce(r.last_ok, 0),"
	"   coalesce(u.n, 0), coalesce(l.started_at, 0), coalesce(l.finished_at, 0),"
	"   coalesce(l.fetched, 0), coalesce(l.deleted, 0), coalesce(l.residue, 0), l.outcome,"
	"   coalesce(r.last_ok_end, 0), a.created_at, coalesce(a.harvest_interval_s, 0)"
	" FROM accounts a LEFT JOIN r ON r.account_id = a.id LEFT JOIN u ON u.account_id = a.id"
	" LEFT JOIN harvest_runs l ON l.id = r.last_id"
	" WHERE a.removed_at IS NULL ORDER BY a.name";

static char *dup_col(struct db_stmt *st, int col)
{
	const char *s = db_column_text(st, col);
	return strdup(s ? s : "");
}

int stats_accounts(struct db *db, struct stats_account **out, size_t *n_r, struct pv_error *err)
{
	struct db_stmt *st;
	size_t cap = 0;
	int r;

	*out = NULL;
	*n_r = 0;
	if ((r = db_prepare(db, accounts_sql, &st, err)) < 0)
		return r;
	while ((r = db_step(st, err)) == DB_ROW) {
		if (*n_r == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			struct stats_account *v = realloc(*out, ncap * sizeof(*v));
			if (v == NULL) {
				r = pv_fail(err, PV_ERR, "out of memory");
				break;
			}
			*out = v;
			cap = ncap;
		}
		struct stats_account *a = &(*out)[(*n_r)++];
		int64_t *nums[] = {&a->runs_ok,       &a->runs_failed,  &a->last_success,
				   &a->residue,       &a->last_started, &a->last_finished,
				   &a->last_fetched,  &a->last_deleted, &a->last_residue};
		for (int i = 0; i < 9; i++)
			*nums[i] = db_column_int64(st, i + 1);
		a->last_success_finished = db_column_int64(st, 11);
		a->created_at = db_column_int64(st, 12);
		a->harvest_interval_s = db_column_int64(st, 13);
		a->name = dup_col(st, 0);
		a->last_outcome = dup_col(st, 10);
		if (a->name == NULL || a->last_outcome == NULL) {
			r = pv_fail(err, PV_ERR, "out of memory");
			break;
		}
	}
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

void stats_accounts_free(struct stats_account **accounts, size_t n)
{
	for (size_t i = 0; *accounts != NULL && i < n; i++) {
		free((*accounts)[i].name);
		free((*accounts)[i].last_outcome);
	}
	free(*accounts);
	*accounts = NULL;
}

int stats_growth(struct db *db, int64_t now, size_t n, int64_t *messages, int64_t *bytes,
		 struct pv_error *err)
{
	int64_t today = now / 86400, first = today - (int64_t)n + 1;
	struct db_stmt *st;
	int r;

	memset(messages, 0, n * sizeof(*messages));
	memset(bytes, 0, n * sizeof(*bytes));
	if ((r = db_prepare(db, "SELECT received_at / 86400 AS d, count(*), sum(size)"
				" FROM messages WHERE received_at >= ? GROUP BY d",
			    &st, err)) < 0)
		return r;
	db_bind_int64(st, 1, first * 86400);
	while ((r = db_step(st, err)) == DB_ROW) {
		int64_t d = db_column_int64(st, 0);
		if (d < first || d > today)
			continue; /* harvested "in the future": a clock that was wrong */
		messages[d - first] = db_column_int64(st, 1);
		bytes[d - first] = db_column_int64(st, 2);
	}
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

int stats_index_lag(struct db *db, int64_t *lag_r, struct pv_error *err)
{
	return db_query_int(db,
			    "SELECT count(*) FROM messages m WHERE m.disposed_at IS NULL"
			    " AND NOT EXISTS (SELECT 1 FROM idx_doc d WHERE d.id = m.id)",
			    lag_r, err);
}
