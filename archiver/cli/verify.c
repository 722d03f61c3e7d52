/* popvault verify [--full | --sample N] [--checkpoint FILE] [--json] */
#include <stdio.h>
#include <stdlib.h>

#include "archiver/cli/cli.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/clock.h"
#include "archiver/archive/verify.h"

static void print_line(void *ctx, const char *line)
{
	FILE *out = ctx;
	fputs(line, out);
	fputc('\n', out);
}

int cli_verify(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"full", CLI_FLAG, NULL}, {"checkpoint", CLI_VALUE, NULL},
				 {"sample", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 3, {0}, 0, false};
	long long sample;
	const struct cli_command *cmd = cli_find_command("verify");
	struct archive *ar = NULL;
	struct verify_summary sum;
	unsigned char *known = NULL;
	size_t known_len = 0;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "verify takes no arguments");
	if ((r = cli_opt_int(&args, "sample", 0, 1, 1000000, &sample, err)) < 0)
		return r;
	if (sample != 0 && (cli_opt(&args, "full") != NULL || cli_opt(&args, "checkpoint") != NULL))
		return pv_fail(err, PV_EUSAGE, "--sample goes without --full and --checkpoint");
	const char *cp_file = cli_opt(&args, "checkpoint");
	if (cp_file != NULL && (r = pv_read_file(cp_file, PV_NOTE_MAX, &known, &known_len, err)) < 0)
		return r;
	if ((r = archive_open_for_verify(ctx->data_dir, &ar, err)) < 0) {
		free(known);
		return r;
	}
	const char *notes[1] = {(const char *)known};
	size_t lens[1] = {known_len};
	/* Problems as they are found; the run is audited inside. */
	if (sample != 0)
		r = archive_verify_sample(ar, ctx->actor, (uint32_t)sample, print_line,
					  ctx->json ? stderr : stdout, &sum, err);
	else
		r = archive_verify(ar, ctx->actor, cli_opt(&args, "full") != NULL, notes, lens,
				   known ? 1 : 0, print_line, ctx->json ? stderr : stdout, &sum, err);
	free(known);
	archive_close(&ar);
	if (!sum.ran)
		return r;
	const struct verify_report *rep = &sum.rep;
	bool gap = sum.heartbeat_gap, ok = sum.ok;
	if (ctx->json) {
		printf("{\"ok\": %s, \"problems\": %lld, \"messages\": %lld, \"disposed\": %lld, "
		       "\"blobs_checked\": %lld, \"blobs_decrypted\": %lld, \"orphan_blobs\": %lld, "
		       "\"archive_log_size\": %llu, \"audit_log_size\": %llu, "
		       "\"archive_checkpoints\": %llu, \"audit_checkpoints\": %llu, "
		       "\"heartbeat_age_s\": %lld, \"heartbeat_gap\": %s, \"heartbeat_gaps\": %llu, "
		       "\"audit_entries\": %llu}\n",
		       ok ? "true" : "false", (long long)rep->problems, (long long)rep->messages,
		       (long long)rep->disposed, (long long)rep->blobs_checked,
		       (long long)rep->blobs_decrypted, (long long)rep->orphan_blobs,
		       (unsigned long long)rep->archive_leaves, (unsigned long long)rep->audit_leaves,
		       (unsigned long long)rep->archive_checkpoints,
		       (unsigned long long)rep->audit_checkpoints, (long long)rep->latest_checkpoint_age_s,
		       gap ? "true" : "false", (unsigned long long)rep->audit.gaps,
		       (unsigned long long)rep->audit.entries);
	} else {
		printf("archive log: %llu entries, %llu signed checkpoints\n"
		       "audit log:   %llu entries, %llu signed checkpoints\n"
		       "messages:    %lld in the catalog (%lld disposed by policy), %lld blobs %s\n",
		       (unsigned long long)rep->archive_leaves, (unsigned long long)rep->archive_checkpoints,
		       (unsigned long long)rep->audit_leaves, (unsigned long long)rep->audit_checkpoints,
		       (long long)rep->messages, (long long)rep->disposed, (long long)rep->blobs_checked,
		       rep->blobs_decrypted ? "decrypted and checked against their commitments"
					   : "checked against their hashes");
		if (rep->orphan_blobs)
			printf("note: %lld unreferenced blob files (left by interrupted harvests; harmless)\n",
			       (long long)rep->orphan_blobs);
		if (gap)
			printf("warning: the newest audit checkpoint is %lld minutes old; heartbeats are "
			       "due every 15 minutes (is the daemon running?)\n",
			       (long long)rep->latest_checkpoint_age_s / 60);
		for (uint64_t i = 0; i < rep->audit.gaps && i < AUDITLOG_GAPS_KEPT; i++) {
			char t1[PV_RFC3339_LEN], t2[PV_RFC3339_LEN];
			pv_clock_format_rfc3339(rep->audit.gap[i].from, t1);
			pv_clock_format_rfc3339(rep->audit.gap[i].to, t2);
			printf("warning: heartbeat gap: no audit entry for %lld minutes, from %s (seq %llu) "
			       "to %s (seq %llu)\n",
			       (long long)(rep->audit.gap[i].to - rep->audit.gap[i].from) / 60, t1,
			       (unsigned long long)rep->audit.gap[i].from_seq, t2,
			       (unsigned long long)rep->audit.gap[i].to_seq);
		}
		if (rep->audit.gaps > AUDITLOG_GAPS_KEPT)
			printf("warning: %llu heartbeat gaps in all\n", (unsigned long long)rep->audit.gaps);
		puts(ok ? "verify: OK" : "verify: FAILED");
	}
	if (!sum.recorded)
		fprintf(stderr, "popvault: this verify run could not be recorded: %s\n", sum.record_error);
	return r;
}
