/* popvault verify [--full | --sample N] [--checkpoint FILE] [--tsa-ca FILE] [--tsa-crl FILE]
 *                 [--witness VKEY]... [--witness-quorum K] [--json] */
#include <stdio.h>
#include <stdlib.h>

#include <string.h>
#include <unistd.h>

#include "archiver/cli/cli.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/progress.h"
#include "archiver/archive/verify.h"

/* --witness VKEY (repeatable): the witnesses verify checks cosignatures
 * with, instead of popvault.conf's [witnesses]. */
struct witness_keys {
	struct pv_witness_config w[PV_WITNESSES_MAX];
	size_t n;
};

static int witness_key(void *ctx, const char *key, size_t len, struct pv_error *err)
{
	struct witness_keys *k = ctx;
	struct cosig_verifier v;
	int r = cosig_verifier_parse(key, len, &v, err);
	if (r < 0)
		return r;
	if (k->n >= PV_WITNESSES_MAX)
		return pv_fail(err, PV_EUSAGE, "more than %d witnesses", PV_WITNESSES_MAX);
	memset(&k->w[k->n], 0, sizeof(k->w[k->n]));
	snprintf(k->w[k->n++].vkey, sizeof(k->w[0].vkey), "%.*s", (int)len, key);
	return 0;
}

/* What verify found about the anchors of each log (anchor.h). */
static void print_anchors(const struct cli_ctx *ctx, const struct archive *ar,
			  const struct verify_report *rep)
{
	static const char *const names[2] = {"archive", "audit"};
	int64_t now = pv_clock_now();
	for (int i = 0; i < 2; i++) {
		const struct verify_anchor_log *l = &rep->anchors.log[i];
		char t[PV_RFC3339_LEN];
		if (ctx->json) {
			printf("%s\"%s\": {\"timestamps\": %llu, \"anchored_size\": %llu, "
			       "\"anchored_time\": %lld, \"anchored_age_s\": %lld, "
			       "\"cosignatures\": %llu, \"witnessed_size\": %llu, "
			       "\"witnessed_time\": %lld, \"witnessed_by\": %llu}",
			       i ? ", " : "", names[i], (unsigned long long)l->tokens,
			       (unsigned long long)l->newest_size, (long long)l->newest_time,
			       l->newest_time < 0 ? -1LL : (long long)(now - l->newest_time),
			       (unsigned long long)l->cosignatures, (unsigned long long)l->witnessed_size,
			       (long long)l->witnessed_time, (unsigned long long)l->witnessed_count);
			continue;
		}
		if (l->witnessed_time >= 0) {
			pv_clock_format_rfc3339(l->witnessed_time, t);
			printf("witnessed:   %s log at %llu entries, cosigned by %llu of %zu witnesses "
			       "(quorum %u), the newest at %s (%lld min ago)\n", names[i],
			       (unsigned long long)l->witnessed_size,
			       (unsigned long long)l->witnessed_count, ar->cfg.n_witnesses,
			       rep->anchors.quorum, t, (long long)(now - l->witnessed_time) / 60);
		}
		if (l->newest_time < 0) {
			if (ar->cfg.tsa_url[0] != '\0')
				printf("warning: the %s log has no good RFC 3161 time-stamp (popvault "
				       "anchor)\n", names[i]);
			continue;
		}
		pv_clock_format_rfc3339(l->newest_time, t);
		printf("anchored:    %s log at %llu entries, time-stamped %s (%lld min ago); %llu "
		       "time-stamp%s checked\n", names[i], (unsigned long long)l->newest_size, t,
		       (long long)(now - l->newest_time) / 60, (unsigned long long)l->tokens,
		       l->tokens == 1 ? "" : "s");
		if (now - l->newest_time > (int64_t)ar->cfg.anchor_stale_s)
			printf("warning: the %s log's newest time-stamp is %lld hours old (is the TSA "
			       "reachable?)\n", names[i], (long long)(now - l->newest_time) / 3600);
	}
	const struct verify_anchor_report *a = &rep->anchors;
	if (ctx->json) {
		printf(", \"revocation_checked\": %llu, \"crl_time\": %lld",
		       (unsigned long long)a->revocation_checked, (long long)a->crl_time);
	} else if (a->revocation_checked > 0) {
		char t[PV_RFC3339_LEN];
		pv_clock_format_rfc3339(a->crl_time, t);
		printf("revocation:  %llu time-stamp%s checked against the TSA CA's CRL of %s\n",
		       (unsigned long long)a->revocation_checked,
		       a->revocation_checked == 1 ? "" : "s", t);
	}
}

/* --OPT FILE, readable, replaces a path of popvault.conf for this run. */
static int path_option(const struct cli_args *args, const char *opt, char *dst, size_t n,
		       struct pv_error *err)
{
	const char *v = cli_opt(args, opt);
	if (v == NULL)
		return PV_OK;
	if (access(v, R_OK) != 0)
		return pv_fail(err, PV_EUSAGE, "--%s %s: cannot be read", opt, v);
	if ((size_t)snprintf(dst, n, "%s", v) >= n)
		return pv_fail(err, PV_EUSAGE, "--%s: path too long", opt);
	return PV_OK;
}

struct lines {
	FILE *out;
	struct pv_meter *meter; /* NULL: no progress line */
};

/* A problem or note: the progress line makes way for it, then comes back. */
static void print_line(void *ctx, const char *line)
{
	struct lines *l = ctx;
	if (l->meter != NULL)
		pv_meter_clear(l->meter);
	fputs(line, l->out);
	fputc('\n', l->out);
	fflush(l->out);
}

int cli_verify(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"full", CLI_FLAG, NULL}, {"checkpoint", CLI_VALUE, NULL},
				 {"tsa-ca", CLI_VALUE, NULL}, {"tsa-crl", CLI_VALUE, NULL},
				 {"witness", CLI_VALUE, NULL}, {"witness-quorum", CLI_VALUE, NULL},
				 {"sample", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 7, {0}, 0, false};
	struct witness_keys wk = {.n = 0};
	long long quorum = 0, sample;
	size_t n_given = 0;
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
	if ((r = cli_key_options(argc, argv, "witness", witness_key, &wk, &n_given, err)) < 0 ||
	    (r = cli_opt_int(&args, "witness-quorum", 0, 1, PV_WITNESSES_MAX, &quorum, err)) < 0 ||
	    (r = cli_opt_int(&args, "sample", 0, 1, 1000000, &sample, err)) < 0)
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
	/* --tsa-ca and --tsa-crl replace [anchor] tsa_ca_file and
	 * tsa_crl_file for this run. */
	if ((r = path_option(&args, "tsa-ca", ar->cfg.tsa_ca_file, sizeof(ar->cfg.tsa_ca_file),
			     err)) < 0 ||
	    (r = path_option(&args, "tsa-crl", ar->cfg.tsa_crl_file, sizeof(ar->cfg.tsa_crl_file),
			     err)) < 0) {
		free(known);
		archive_close(&ar);
		return r;
	}
	/* --witness replaces [witnesses] (all of them must have cosigned unless
	 * --witness-quorum says how many); --witness-quorum replaces quorum. */
	if (wk.n > 0) {
		memcpy(ar->cfg.witnesses, wk.w, sizeof(wk.w));
		ar->cfg.n_witnesses = wk.n;
		ar->cfg.witness_quorum = (uint32_t)wk.n;
	}
	if (quorum > 0)
		ar->cfg.witness_quorum = (uint32_t)quorum;
	if (ar->cfg.witness_quorum > ar->cfg.n_witnesses) {
		r = pv_fail(err, PV_EUSAGE, "--witness-quorum %u: only %zu witnesses",
			    ar->cfg.witness_quorum, ar->cfg.n_witnesses);
		free(known);
		archive_close(&ar);
		return r;
	}
	const char *notes[1] = {(const char *)known};
	size_t lens[1] = {known_len};
	bool full = cli_opt(&args, "full") != NULL;
	struct pv_meter meter;
	struct lines lines = {ctx->json ? stderr : stdout, NULL};
	if (cli_progress_wanted(ctx)) {
		const char *label = full ? "verify --full" : sample ? "verify --sample" : "verify";
		pv_meter_init(&meter, stderr, label, "messages");
		lines.meter = &meter;
		ar->progress = pv_meter_progress(&meter);
	}
	/* Problems as they are found; the run is audited inside. */
	if (sample != 0)
		r = archive_verify_sample(ar, ctx->actor, (uint32_t)sample, print_line, &lines,
					  &sum, err);
	else
		r = archive_verify(ar, ctx->actor, full, notes, lens, known ? 1 : 0, print_line,
				   &lines, &sum, err);
	if (lines.meter != NULL)
		pv_meter_end(lines.meter);
	free(known);
	if (!sum.ran) {
		archive_close(&ar);
		return r;
	}
	const struct verify_report *rep = &sum.rep;
	bool gap = sum.heartbeat_gap, ok = sum.ok;
	if (ctx->json) {
		printf("{\"ok\": %s, \"problems\": %lld, \"messages\": %lld, \"disposed\": %lld, "
		       "\"blobs_checked\": %lld, \"blobs_decrypted\": %lld, \"orphan_blobs\": %lld, "
		       "\"archive_log_size\": %llu, \"audit_log_size\": %llu, "
		       "\"archive_checkpoints\": %llu, \"audit_checkpoints\": %llu, "
		       "\"heartbeat_age_s\": %lld, \"heartbeat_gap\": %s, \"heartbeat_gaps\": %llu, "
		       "\"audit_entries\": %llu, \"anchors\": {",
		       ok ? "true" : "false", (long long)rep->problems, (long long)rep->messages,
		       (long long)rep->disposed, (long long)rep->blobs_checked,
		       (long long)rep->blobs_decrypted, (long long)rep->orphan_blobs,
		       (unsigned long long)rep->archive_leaves, (unsigned long long)rep->audit_leaves,
		       (unsigned long long)rep->archive_checkpoints,
		       (unsigned long long)rep->audit_checkpoints, (long long)rep->latest_checkpoint_age_s,
		       gap ? "true" : "false", (unsigned long long)rep->audit.gaps,
		       (unsigned long long)rep->audit.entries);
		print_anchors(ctx, ar, rep);
		printf("}}\n");
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
		print_anchors(ctx, ar, rep);
		puts(ok ? "verify: OK" : "verify: FAILED");
	}
	if (!sum.recorded)
		fprintf(stderr, "popvault: this verify run could not be recorded: %s\n", sum.record_error);
	archive_close(&ar);
	return r;
}
