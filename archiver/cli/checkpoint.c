/* popvault checkpoint [--log archive|audit] [--vkey] [--heartbeat] [--rotate-key]
 *                     [--witnessed] */
#include <stdio.h>
#include <string.h>

#include "archiver/cli/cli.h"
#include "archiver/lib/limits.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/checkpoints.h"

int cli_checkpoint(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"log", CLI_VALUE, NULL}, {"vkey", CLI_FLAG, NULL},
				 {"heartbeat", CLI_FLAG, NULL}, {"rotate-key", CLI_FLAG, NULL},
				 {"witnessed", CLI_FLAG, NULL}};
	struct cli_args args = {opts, 5, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("checkpoint");
	struct archive *ar = NULL;
	struct pv_buf note;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	const char *log = cli_opt(&args, "log") ? cli_opt(&args, "log") : ARCHIVE_LOG;
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "checkpoint takes no arguments");
	if (strcmp(log, ARCHIVE_LOG) != 0 && strcmp(log, AUDIT_LOG) != 0)
		return pv_fail(err, PV_EUSAGE, "--log must be archive or audit");
	/* Signing goes through the signer process; reading needs no key. */
	struct signer *sg = NULL;
	if ((cli_opt(&args, "rotate-key") != NULL || cli_opt(&args, "heartbeat") != NULL) &&
	    (r = cli_privsep_begin(ctx, &sg, err)) < 0)
		return r;
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0) {
		cli_privsep_end(&sg);
		return r;
	}
	struct tlog *t = archive_log_named(ar, log);
	pv_buf_init(&note, PV_NOTE_MAX);
	if (cli_opt(&args, "rotate-key") != NULL) {
		/* Audited inside (a key-rotation entry first). */
		if ((r = archive_rotate_key(ar, t, ctx->actor, &note, err)) == PV_OK)
			printf("%s log: new key %s\n(the old key signed the rotation, which is "
			       "logged; its seed is destroyed.\nKeep the new verifier key with the "
			       "old one, off this machine.)\n",
			       tlog_name(t), pv_buf_str(&note));
	} else if (cli_opt(&args, "witnessed") != NULL) {
		if ((r = archive_checkpoint_witnessed(ar, log, &note, err)) == PV_OK)
			fputs(pv_buf_str(&note), stdout);
	} else if (cli_opt(&args, "vkey") != NULL) {
		if ((r = archive_checkpoint_vkey(ar, log, &note, err)) == PV_OK)
			printf("%s\n", pv_buf_str(&note));
	} else {
		if (cli_opt(&args, "heartbeat") != NULL)
			r = archive_heartbeat(ar, t, ctx->actor, err);
		if (r == PV_OK && (r = archive_checkpoint_latest(ar, log, &note, err)) == PV_OK)
			fputs(pv_buf_str(&note), stdout);
	}
	pv_buf_free(&note);
	archive_close(&ar);
	cli_privsep_end(&sg);
	return r;
}
