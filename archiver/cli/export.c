/* popvault export QUERY --out FILE [--matter NAME] [--bates-prefix P]
 *                 [--bates-start N] [--json] */
#include <stdio.h>

#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/export/export.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/progress.h"
#include "archiver/store/datadir.h"

/* export_run reports two passes over the messages as one count
 * (export.h): proofs, mbox and load files, then the .eml files. The line
 * says which pass runs; the rate and ETA are over both. */
static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct pv_meter *m = ctx;
	m->label = done * 2 <= total ? "export (proofs, mbox, load files)" : "export (.eml files)";
	pv_meter_update(m, done, total);
}

int cli_export(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"out", CLI_VALUE, NULL},
				 {"matter", CLI_VALUE, NULL},
				 {"bates-prefix", CLI_VALUE, NULL},
				 {"bates-start", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 4, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("export");
	struct archive *ar = NULL;
	struct export_summary sum;
	struct pv_meter meter;
	bool meter_on = cli_progress_wanted(ctx);
	long long start;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 1)
		return pv_fail(err, PV_EUSAGE, "export needs one QUERY (quote it)");
	if (cli_opt(&args, "out") == NULL)
		return pv_fail(err, PV_EUSAGE, "export needs --out FILE (.zip or .tar.gz)");
	if ((r = cli_opt_int(&args, "bates-start", -1, 0, PV_EXPORT_BATES_NUMBER_MAX, &start, err)) < 0)
		return r;
	struct export_opts o = {
		.query = args.pos[0],
		.out = cli_opt(&args, "out"),
		.matter = cli_opt(&args, "matter"),
		.bates_prefix = cli_opt(&args, "bates-prefix"),
		.bates_start = start,
		.actor = ctx->actor,
		.progress = meter_on ? show_progress : NULL,
		.progress_ctx = &meter,
	};
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	if (meter_on)
		pv_meter_init(&meter, stderr, "export", "steps");
	r = export_run(ar, &o, &sum, err);
	archive_close(&ar);
	if (meter_on)
		pv_meter_end(&meter);
	if (r < 0)
		return r;
	if (ctx->json) {
		printf("{\"out\": ");
		json_print_str(stdout, o.out);
		printf(", \"messages\": %llu, \"disposed\": %llu, \"new_bates\": %llu, "
		       "\"bates_first\": ", (unsigned long long)sum.messages,
		       (unsigned long long)sum.disposed, (unsigned long long)sum.new_numbers);
		json_print_str(stdout, sum.first_bates);
		printf(", \"bates_last\": ");
		json_print_str(stdout, sum.last_bates);
		printf(", \"bytes\": %llu, \"audit_seq\": %llu, \"archive_size\": %llu, "
		       "\"file_size\": %llu, \"sha256\": \"%s\"}\n", (unsigned long long)sum.bytes,
		       (unsigned long long)sum.audit_seq, (unsigned long long)sum.archive_size,
		       (unsigned long long)sum.file_size, sum.file_sha256);
		return 0;
	}
	printf("exported %llu message%s to %s", (unsigned long long)sum.messages,
	       sum.messages == 1 ? "" : "s", o.out);
	if (sum.messages > 0)
		printf(" (Bates %s to %s, %llu newly numbered)", sum.first_bates, sum.last_bates,
		       (unsigned long long)sum.new_numbers);
	printf("\n");
	if (sum.disposed > 0)
		printf("%llu matching message%s disposed of by policy: listed in disposed.csv\n",
		       (unsigned long long)sum.disposed, sum.disposed == 1 ? " was" : "s were");
	printf("sha256 %s  %llu bytes; audit entry %llu\n", sum.file_sha256,
	       (unsigned long long)sum.file_size, (unsigned long long)sum.audit_seq);
	printf("check it with: popvault verify-bundle %s --vkey ARCHIVE-VKEY --vkey AUDIT-VKEY\n", o.out);
	return 0;
}
