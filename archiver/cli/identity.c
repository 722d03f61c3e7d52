/* popvault identity export --out FILE --passphrase-file P: the archive's
 * identity (archive/identity.h) for another harvester to join with
 * `init --catalog URL --join FILE --passphrase-file P`. */
#include <stdio.h>
#include <string.h>

#include "archiver/archive/identity.h"
#include "archiver/cli/cli.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/secret.h"

int cli_identity(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"out", CLI_VALUE, NULL}, {"passphrase-file", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 2, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("identity");
	struct archive *ar = NULL;
	char *pass = NULL;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	const char *out = cli_opt(&args, "out"), *pf = cli_opt(&args, "passphrase-file");
	if (args.n_pos != 1 || strcmp(args.pos[0], "export") != 0 || out == NULL || pf == NULL)
		return pv_fail(err, PV_EUSAGE, "identity export wants --out FILE and "
					       "--passphrase-file F");
	if ((r = pv_read_secret_file(pf, &pass, err)) < 0)
		return r;
	if ((r = archive_open(ctx->data_dir, &ar, err)) == PV_OK) {
		r = archive_identity_export(ar, ctx->actor, out, pass, strlen(pass),
					    &backup_kdf_default, err);
		archive_close(&ar);
	}
	pv_secret_free(&pass);
	if (r == PV_OK)
		printf("identity of this archive written to %s (sealed to the passphrase)\n"
		       "On another machine: popvault init --data DIR --catalog URL --join %s "
		       "--passphrase-file F\nKeep it as you keep the keys: with it and the "
		       "passphrase, anyone can sign this archive's logs.\n", out, out);
	return r;
}
