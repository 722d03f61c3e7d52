#include "archiver/archive/status.h"

#include <string.h>

int archive_status(struct archive *ar, struct archive_status *st, struct pv_error *err)
{
	uint64_t n;
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = stats_counts(ar->cat->db, &st->counts, err)) < 0)
		return r;
	if (tlog_size(ar->archive_log, &n, NULL) == PV_OK)
		st->archive_log_size = (int64_t)n;
	if (tlog_size(ar->audit_log, &n, NULL) == PV_OK)
		st->audit_log_size = (int64_t)n;
	(void)indexer_status(ar, &st->index, NULL); /* zero when it cannot tell */
	return stats_last_runs(ar->cat->db, &st->runs, &st->n_runs, err);
}

void archive_status_free(struct archive_status *st)
{
	stats_runs_free(&st->runs, st->n_runs);
	st->n_runs = 0;
}
