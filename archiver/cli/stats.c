/* popvault stats [--json] */
#include <stdio.h>

#include "archiver/archive/status.h"
#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"

static void print_runs(const struct archive_status *st, bool json)
{
	for (size_t i = 0; i < st->n_runs; i++) {
		const struct stats_run *run = &st->runs[i];
		char t[PV_RFC3339_LEN];
		pv_clock_format_rfc3339(run->started_at, t);
		if (json) {
			printf("%s{\"account\": ", i ? ", " : "");
			json_print_str(stdout, run->account);
			printf(", \"time\": \"%s\", \"fetched\": %lld, \"deleted\": %lld, \"residue\": %lld, "
			       "\"outcome\": ", t, (long long)run->fetched, (long long)run->deleted,
			       (long long)run->residue);
			json_print_str(stdout, run->outcome);
			putchar('}');
		} else {
			if (i == 0)
				puts("Last harvest per account:");
			printf("  %-20s %s  %lld archived, %lld deleted%s  %s\n", run->account, t,
			       (long long)run->fetched, (long long)run->deleted,
			       run->residue ? " (residue!)" : "", run->outcome);
		}
	}
}

/* Each log's anchors outside the box (archive/anchor.h). */
static void print_anchors(const struct archive_status *st, bool json)
{
	static const char *const names[2] = {"archive", "audit"};
	int64_t now = pv_clock_now();
	for (int i = 0; i < 2; i++) {
		const struct anchor_status *a = &st->anchors[i];
		char t[PV_RFC3339_LEN];
		int64_t newest = a->tsa_time > a->witness_time ? a->tsa_time : a->witness_time;
		if (json) {
			printf("%s\"%s\": {\"configured\": %s, \"timestamp_time\": %lld, "
			       "\"timestamp_size\": %llu, \"witnessed_time\": %lld, "
			       "\"witnessed_size\": %llu, \"age_s\": %lld, \"last_attempt\": %lld, "
			       "\"stale\": %s, \"last_error\": ",
			       i ? ", " : "", names[i], a->configured ? "true" : "false",
			       (long long)a->tsa_time, (unsigned long long)a->tsa_size,
			       (long long)a->witness_time, (unsigned long long)a->witness_size,
			       newest < 0 ? -1LL : (long long)(now - newest), (long long)a->last_attempt,
			       a->stale ? "true" : "false");
			json_print_str(stdout, a->last_error);
			putchar('}');
			continue;
		}
		if (!a->configured && newest < 0)
			continue;
		if (a->tsa_time >= 0) {
			pv_clock_format_rfc3339(a->tsa_time, t);
			printf("%-7s log time-stamped at %llu entries, %s\n", names[i],
			       (unsigned long long)a->tsa_size, t);
		}
		if (a->witness_time >= 0) {
			pv_clock_format_rfc3339(a->witness_time, t);
			printf("%-7s log witnessed at %llu entries, %s\n", names[i],
			       (unsigned long long)a->witness_size, t);
		}
		if (a->stale)
			printf("STALE: the %s log has no anchor %s (popvault anchor)\n", names[i],
			       newest < 0 ? "yet" : "newer than [anchor] stale_after");
		if (a->last_error[0])
			printf("Last anchor attempt of the %s log failed: %s\n", names[i], a->last_error);
	}
}

int cli_stats(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_args args = {NULL, 0, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("stats");
	struct archive *ar = NULL;
	struct archive_status st;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "stats takes no arguments");
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	r = archive_status(ar, &st, err);
	archive_close(&ar);
	if (r < 0) {
		archive_status_free(&st);
		return r;
	}
	const struct stats_counts *c = &st.counts;
	int64_t lag = st.index.pending ? pv_clock_now() - st.index.oldest_received_at : 0;
	if (ctx->json) {
		printf("{\"messages\": %lld, \"disposed\": %lld, \"bytes\": %lld, \"accounts\": %lld, "
		       "\"upstream_pending_delete\": %lld, \"upstream_residue\": %lld, "
		       "\"archive_log_size\": %lld, \"audit_log_size\": %lld, \"index_pending\": %lld, "
		       "\"index_lag_s\": %lld, \"data_free_bytes\": %lld, \"harvest_paused\": %s, "
		       "\"harvest_paused_since\": ",
		       (long long)c->messages, (long long)c->disposed, (long long)c->bytes,
		       (long long)c->accounts, (long long)c->upstream_pending,
		       (long long)c->upstream_residue, (long long)st.archive_log_size,
		       (long long)st.audit_log_size, (long long)st.index.pending, (long long)lag,
		       (long long)st.data_free_bytes, st.harvest_pause.paused ? "true" : "false");
		if (st.harvest_pause.paused) {
			char t[PV_RFC3339_LEN];
			pv_clock_format_rfc3339(st.harvest_pause.since, t);
			printf("\"%s\"", t);
		} else {
			printf("null");
		}
		if (st.index.segments >= 0)
			printf(", \"index_segments\": %lld", (long long)st.index.segments);
		printf(", \"packs_stored\": %lld, \"packs_unstored\": %lld, \"packs_kept\": %lld",
		       (long long)c->packs_stored, (long long)c->packs_unstored,
		       (long long)c->packs_kept);
		printf(", \"last_runs\": [");
		print_runs(&st, true);
		printf("], \"anchors\": {");
		print_anchors(&st, true);
		puts("}}");
	} else {
		printf("Messages archived:   %lld (%lld bytes)\nMessages disposed:   %lld\n"
		       "Accounts:            %lld\nArchive log entries: %lld\nAudit log entries:   %lld\n",
		       (long long)c->messages, (long long)c->bytes, (long long)c->disposed,
		       (long long)c->accounts, (long long)st.archive_log_size,
		       (long long)st.audit_log_size);
		if (c->upstream_pending)
			printf("Archived but not yet confirmed deleted upstream: %lld\n",
			       (long long)c->upstream_pending);
		if (c->upstream_residue)
			printf("Deleted but STILL UPSTREAM (residue): %lld\n", (long long)c->upstream_residue);
		if (c->packs_stored || c->packs_unstored)
			printf("Packs in the object store: %lld\n", (long long)c->packs_stored);
		if (c->packs_unstored)
			printf("Packs waiting for the object store: %lld (uploaded by the next harvest)\n",
			       (long long)c->packs_unstored);
		if (c->packs_kept)
			printf("Packs of disposed mail the store's lock still keeps: %lld (removed by a "
			       "disposal run once their lock runs out)\n", (long long)c->packs_kept);
		if (st.harvest_pause.paused) {
			char t[PV_RFC3339_LEN];
			pv_clock_format_rfc3339(st.harvest_pause.since, t);
			printf("HARVEST STOPPED since %s: the data directory's file system has %lld MiB "
			       "free, under the %lld MiB reserve; it resumes by itself once there is "
			       "room\n", t, (long long)(st.data_free_bytes >> 20),
			       (long long)(PV_DATA_DISK_RESERVE >> 20));
		}
		if (st.index.pending)
			printf("Not yet searchable: %lld (the oldest archived %lld s ago; the indexer "
			       "catches up)\n", (long long)st.index.pending, (long long)lag);
		if (st.index.segments > 1)
			printf("Search index segments: %lld (serve's indexer merges them once the newer "
			       "have grown to an eighth of the largest, reindex all at once: fewer "
			       "segments count faster)\n", (long long)st.index.segments);
		print_runs(&st, false);
		print_anchors(&st, false);
	}
	archive_status_free(&st);
	return PV_OK;
}
