/* popvault stats [--json] */
#include <stdio.h>
#include <string.h>

#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/lib/clock.h"
#include "archiver/store/datadir.h"

struct counts {
	int64_t messages, disposed, bytes, accounts, upstream_pending, residue;
};

static int count(struct archive *ar, struct counts *c, struct pv_error *err)
{
	int r;
	if ((r = catalog_query_int(ar->cat->db, "SELECT count(*) FROM messages WHERE disposed_at IS NULL",
				   &c->messages, err)) < 0 ||
	    (r = catalog_query_int(ar->cat->db, "SELECT count(*) FROM messages WHERE disposed_at IS NOT NULL",
				   &c->disposed, err)) < 0 ||
	    (r = catalog_query_int(ar->cat->db,
				   "SELECT coalesce(sum(size), 0) FROM messages WHERE disposed_at IS NULL",
				   &c->bytes, err)) < 0 ||
	    (r = catalog_query_int(ar->cat->db, "SELECT count(*) FROM accounts WHERE removed_at IS NULL",
				   &c->accounts, err)) < 0 ||
	    (r = catalog_query_int(ar->cat->db,
				   "SELECT count(*) FROM upstream WHERE state IN ('committed','dele-sent','quit-ok')",
				   &c->upstream_pending, err)) < 0 ||
	    (r = catalog_query_int(ar->cat->db, "SELECT count(*) FROM upstream WHERE state = 'residue'",
				   &c->residue, err)) < 0)
		return r;
	return PV_OK;
}

static int print_runs(struct archive *ar, bool json, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(ar->cat->db,
				"SELECT a.name, r.started_at, r.fetched, r.deleted, r.residue, r.outcome"
				" FROM accounts a JOIN harvest_runs r ON r.id ="
				" (SELECT max(id) FROM harvest_runs WHERE account_id = a.id)"
				" WHERE a.removed_at IS NULL ORDER BY a.name",
				&st, err);
	if (r < 0)
		return r;
	int n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		char t[PV_RFC3339_LEN];
		pv_clock_format_rfc3339(sqlite3_column_int64(st, 1), t);
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *outcome = (const char *)sqlite3_column_text(st, 5);
		if (json) {
			printf("%s{\"account\": ", n ? ", " : "");
			json_print_str(stdout, name);
			printf(", \"time\": \"%s\", \"fetched\": %lld, \"deleted\": %lld, \"residue\": %lld, "
			       "\"outcome\": ", t, sqlite3_column_int64(st, 2),
			       sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4));
			json_print_str(stdout, outcome ? outcome : "");
			putchar('}');
		} else {
			if (n == 0)
				puts("Last harvest per account:");
			printf("  %-20s %s  %lld archived, %lld deleted%s  %s\n", name, t,
			       sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
			       sqlite3_column_int64(st, 4) ? " (residue!)" : "", outcome ? outcome : "");
		}
		n++;
	}
	sqlite3_finalize(st);
	return PV_OK;
}

static void stats_log_sizes(struct archive *ar, int64_t *archive_r, int64_t *audit_r)
{
	uint64_t n;
	if (tlog_size(ar->archive_log, &n, NULL) == PV_OK)
		*archive_r = (int64_t)n;
	if (tlog_size(ar->audit_log, &n, NULL) == PV_OK)
		*audit_r = (int64_t)n;
}

int cli_stats(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_args args = {NULL, 0, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("stats");
	struct archive *ar = NULL;
	struct counts c = {0};
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "stats takes no arguments");
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	if ((r = count(ar, &c, err)) < 0)
		goto out;
	int64_t archive_log = 0, audit_log = 0;
	stats_log_sizes(ar, &archive_log, &audit_log);
	if (ctx->json) {
		printf("{\"messages\": %lld, \"disposed\": %lld, \"bytes\": %lld, \"accounts\": %lld, "
		       "\"upstream_pending_delete\": %lld, \"upstream_residue\": %lld, "
		       "\"archive_log_size\": %lld, \"audit_log_size\": %lld, \"last_runs\": [",
		       (long long)c.messages, (long long)c.disposed, (long long)c.bytes,
		       (long long)c.accounts, (long long)c.upstream_pending, (long long)c.residue,
		       (long long)archive_log, (long long)audit_log);
		r = print_runs(ar, true, err);
		puts("]}");
	} else {
		printf("Messages archived:   %lld (%lld bytes)\nMessages disposed:   %lld\n"
		       "Accounts:            %lld\nArchive log entries: %lld\nAudit log entries:   %lld\n",
		       (long long)c.messages, (long long)c.bytes, (long long)c.disposed,
		       (long long)c.accounts, (long long)archive_log, (long long)audit_log);
		if (c.upstream_pending)
			printf("Archived but not yet confirmed deleted upstream: %lld\n",
			       (long long)c.upstream_pending);
		if (c.residue)
			printf("Deleted but STILL UPSTREAM (residue): %lld\n", (long long)c.residue);
		r = print_runs(ar, false, err);
	}
out:
	archive_close(&ar);
	return r;
}
