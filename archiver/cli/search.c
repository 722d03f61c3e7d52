/* popvault search QUERY [--limit N] [--offset N] [--exact-total] [--json],
 * popvault reindex */
#include <stdio.h>

#include "archiver/archive/indexer.h"
#include "archiver/store/catalog.h"
#include "archiver/archive/search.h"
#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/progress.h"
#include "archiver/store/datadir.h"

#define SEARCH_LIMIT_DEFAULT 50

/* n with thousands separators ("10,000"): the way a total is read. */
static void print_count(int64_t n)
{
	char d[24];
	int len = snprintf(d, sizeof(d), "%lld", (long long)n);
	for (int i = 0; i < len; i++)
		printf("%s%c", i > 0 && (len - i) % 3 == 0 ? "," : "", d[i]);
}

static void print_hits(const struct cli_ctx *ctx, const struct archive_search_result *res,
		       int64_t limit, int64_t offset)
{
	char t[PV_RFC3339_LEN];
	const struct index_hits *hits = &res->hits;
	int64_t total = res->total;
	if (ctx->json) {
		printf("{\"total\": %lld, \"total_exact\": %s, \"limit\": %lld, \"offset\": %lld,"
		       " \"results\": [", (long long)total, res->total_exact ? "true" : "false",
		       (long long)limit, (long long)offset);
		for (size_t i = 0; i < hits->n; i++) {
			const struct index_hit *h = &hits->v[i];
			pv_clock_format_rfc3339(h->date, t);
			printf("%s{\"id\": %lld, \"date\": \"%s\", \"date_known\": %s, \"size\": %lld, "
			       "\"account\": ", i ? ", " : "", (long long)h->id, t,
			       h->date_known ? "true" : "false", (long long)h->size);
			json_print_str(stdout, h->account ? h->account : "");
			printf(", \"from\": ");
			json_print_str(stdout, h->from ? h->from : "");
			printf(", \"subject\": ");
			json_print_str(stdout, h->subject ? h->subject : "");
			printf(", \"has_attachment\": %s}", h->has_attachment ? "true" : "false");
		}
		puts("]}");
		return;
	}
	if (total == 0) {
		puts("no messages match");
		return;
	}
	for (size_t i = 0; i < hits->n; i++) {
		const struct index_hit *h = &hits->v[i];
		pv_clock_format_rfc3339(h->date, t);
		printf("%8lld  %.10s  %-28.28s  %s\n", (long long)h->id, t, h->from ? h->from : "",
		       h->subject ? h->subject : "");
	}
	int64_t shown_to = offset + (int64_t)hits->n;
	if (!res->total_exact) {
		/* the count stopped at its cap: a lower bound, said as one */
		if (hits->n == 0)
			printf("none past offset %lld", (long long)offset);
		else
			printf("showing %lld–%lld", (long long)offset + 1, (long long)shown_to);
		printf(" of more than ");
		print_count(total);
		printf(" messages (search --exact-total counts them all");
		if (hits->n > 0)
			printf("; --offset %lld for the next page", (long long)shown_to);
		puts(")");
	} else if (hits->n == 0)
		printf("%lld messages match; none past offset %lld\n", (long long)total, (long long)offset);
	else if (shown_to < total || offset > 0)
		printf("%lld–%lld of %lld messages (--offset %lld for the next page)\n",
		       (long long)offset + 1, (long long)shown_to, (long long)total, (long long)shown_to);
	else
		printf("%lld message%s\n", (long long)total, total == 1 ? "" : "s");
}

int cli_search(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"limit", CLI_VALUE, NULL}, {"offset", CLI_VALUE, NULL},
				 {"exact-total", CLI_FLAG, NULL}};
	struct cli_args args = {opts, 3, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("search");
	struct archive *ar = NULL;
	struct archive_search_result res;
	long long limit, offset;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 1)
		return pv_fail(err, PV_EUSAGE, "search needs one QUERY (quote it)");
	if ((r = cli_opt_int(&args, "limit", SEARCH_LIMIT_DEFAULT, 0, PV_SEARCH_LIMIT_MAX, &limit, err)) < 0 ||
	    (r = cli_opt_int(&args, "offset", 0, 0, INT64_MAX / 2, &offset, err)) < 0)
		return r;
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	/* Audited inside, before any result comes back (ARCHITECTURE.md §1.4). */
	r = archive_search(ar, ctx->actor, args.pos[0], NULL, offset, limit,
			   cli_opt(&args, "exact-total") ? INDEX_COUNT_ALL : PV_SEARCH_TOTAL_CAP, &res,
			   err);
	archive_close(&ar);
	if (r == PV_OK)
		print_hits(ctx, &res, limit, offset);
	archive_search_result_free(&res);
	return r;
}

int cli_reindex(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_args args = {NULL, 0, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("reindex");
	struct archive *ar = NULL;
	int64_t indexed = 0, failed = 0;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "reindex takes no arguments");
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	struct pv_meter meter;
	bool meter_on = cli_progress_wanted(ctx);
	if (meter_on) {
		pv_meter_init(&meter, stderr, "reindex", "messages");
		ar->progress = pv_meter_progress(&meter);
	}
	r = indexer_rebuild(ar, &indexed, &failed, err);
	if (meter_on)
		pv_meter_end(&meter);
	archive_close(&ar);
	if (r < 0)
		return r;
	printf("reindexed %lld messages%s\n", (long long)indexed,
	       failed ? " (some could not be read: run 'popvault verify')" : "");
	if (failed)
		return pv_fail(err, PV_EINTEGRITY, "%lld messages could not be read back", (long long)failed);
	return PV_OK;
}
