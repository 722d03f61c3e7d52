/* popvault identity export --out FILE --passphrase-file P: the archive's
 * identity (archive/identity.h) for another harvester to join with
 * `init --catalog URL --join FILE --passphrase-file P`.
 * popvault identity update FILE --passphrase-file P: the keys another
 * harvester rotated (checkpoint --rotate-key --identity-out FILE). */
#include <stdio.h>
#include <string.h>

#include "archiver/archive/identity.h"
#include "archiver/cli/cli.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/secret.h"

static int export_identity(struct cli_ctx *ctx, const char *out, const char *pass,
			   struct pv_error *err)
{
	struct archive *ar = NULL;
	int r;
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	r = archive_identity_export(ar, ctx->actor, out, pass, strlen(pass), &backup_kdf_default,
				    err);
	archive_close(&ar);
	if (r == PV_OK)
		printf("identity of this archive written to %s (sealed to the passphrase)\n"
		       "On another machine: popvault init --data DIR --catalog URL --join %s "
		       "--passphrase-file F\nKeep it as you keep the keys: with it and the "
		       "passphrase, anyone can sign this archive's logs.\n", out, out);
	return r;
}

static int update_identity(struct cli_ctx *ctx, const char *file, const char *pass,
			   struct pv_error *err)
{
	int changed = 0;
	int r = archive_identity_update(ctx->data_dir, file, pass, strlen(pass), ctx->actor,
					&changed, err);
	if (r == PV_OK && changed == 0)
		printf("this machine's keys are already the ones in %s: nothing to do\n", file);
	else if (r == PV_OK)
		printf("%d log key%s of %s installed (audited); this machine signs again.\n"
		       "Delete %s once every harvester has it.\n", changed, changed == 1 ? "" : "s",
		       file, file);
	return r;
}

int cli_identity(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"out", CLI_VALUE, NULL}, {"passphrase-file", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 2, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("identity");
	char *pass = NULL;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	const char *out = cli_opt(&args, "out"), *pf = cli_opt(&args, "passphrase-file");
	bool export = args.n_pos == 1 && strcmp(args.pos[0], "export") == 0 && out != NULL;
	bool update = args.n_pos == 2 && strcmp(args.pos[0], "update") == 0 && out == NULL;
	if (pf == NULL || (!export && !update))
		return pv_fail(err, PV_EUSAGE, "identity export wants --out FILE and "
					       "--passphrase-file F; identity update wants FILE and "
					       "--passphrase-file F");
	if ((r = pv_read_secret_file(pf, &pass, err)) < 0)
		return r;
	if (export)
		r = export_identity(ctx, out, pass, err);
	else
		r = update_identity(ctx, args.pos[1], pass, err);
	pv_secret_free(&pass);
	return r;
}
