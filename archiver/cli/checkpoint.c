/* popvault checkpoint [--log archive|audit] [--vkey] [--heartbeat] [--witnessed]
 *                     [--rotate-key [--identity-out FILE --passphrase-file P]] */
#include <stdio.h>
#include <string.h>

#include "archiver/cli/cli.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/secret.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/checkpoints.h"
#include "archiver/archive/identity.h"

/* --rotate-key: on an archive shared by several harvesters, with the new
 * identity written for them (identity.h). Audited inside. */
static int rotate(struct cli_ctx *ctx, struct archive *ar, struct tlog *t, const char *out,
		  const char *pf, struct pv_buf *note, struct pv_error *err)
{
	char *pass = NULL;
	int r;
	if (out == NULL)
		return archive_rotate_key(ar, t, ctx->actor, note, err);
	if ((r = pv_read_secret_file(pf, &pass, err)) < 0)
		return r;
	r = archive_identity_rotate(ar, t, ctx->actor, out, pass, strlen(pass),
				    &backup_kdf_default, note, err);
	pv_secret_free(&pass);
	return r;
}

int cli_checkpoint(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"log", CLI_VALUE, NULL},	   {"vkey", CLI_FLAG, NULL},
				 {"heartbeat", CLI_FLAG, NULL},    {"rotate-key", CLI_FLAG, NULL},
				 {"witnessed", CLI_FLAG, NULL},    {"identity-out", CLI_VALUE, NULL},
				 {"passphrase-file", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 7, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("checkpoint");
	struct archive *ar = NULL;
	struct pv_buf note;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	const char *log = cli_opt(&args, "log") ? cli_opt(&args, "log") : ARCHIVE_LOG;
	const char *out = cli_opt(&args, "identity-out"), *pf = cli_opt(&args, "passphrase-file");
	bool rotating = cli_opt(&args, "rotate-key") != NULL;
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "checkpoint takes no arguments");
	if (strcmp(log, ARCHIVE_LOG) != 0 && strcmp(log, AUDIT_LOG) != 0)
		return pv_fail(err, PV_EUSAGE, "--log must be archive or audit");
	if ((out != NULL || pf != NULL) && (!rotating || out == NULL || pf == NULL))
		return pv_fail(err, PV_EUSAGE, "--identity-out FILE and --passphrase-file P go "
					       "together, with --rotate-key");
	/* Signing goes through the signer process; reading needs no key. The
	 * new identity is read from the key directory after the rotation. */
	struct signer *sg = NULL;
	if (rotating && out != NULL)
		r = cli_privsep_begin_keys(ctx, &sg, err);
	else if (rotating || cli_opt(&args, "heartbeat") != NULL)
		r = cli_privsep_begin(ctx, &sg, err);
	if (r < 0)
		return r;
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0) {
		cli_privsep_end(&sg);
		return r;
	}
	struct tlog *t = archive_log_named(ar, log);
	pv_buf_init(&note, PV_NOTE_MAX);
	if (rotating) {
		if ((r = rotate(ctx, ar, t, out, pf, &note, err)) == PV_OK)
			printf("%s log: new key %s\n(the old key signed the rotation, which is "
			       "logged; its seed is destroyed.\nKeep the new verifier key with the "
			       "old one, off this machine.)\n",
			       tlog_name(t), pv_buf_str(&note));
		if (r == PV_OK && out != NULL)
			printf("The new identity is in %s (sealed to the passphrase). On every "
			       "other harvester:\n  popvault --data DIR identity update %s "
			       "--passphrase-file F\nUntil then they refuse to sign, and harvest "
			       "nothing.\n", out, out);
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
