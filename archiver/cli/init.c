/* popvault init [--origin NAME]: the data directory, its config, catalog and keys. */
#include <stdio.h>
#include <unistd.h>

#include "archiver/archive/checkpoints.h"
#include "archiver/archive/init.h"
#include "archiver/cli/cli.h"
#include "archiver/lib/config.h"
#include "archiver/lib/limits.h"
#include "archiver/store/catalog.h"

/* The signed genesis checkpoints, so an officer can pin both logs at size 0. */
static void print_genesis(struct archive *ar)
{
	static const char *const logs[] = {ARCHIVE_LOG, AUDIT_LOG};
	struct pv_buf note;
	pv_buf_init(&note, PV_NOTE_MAX);
	for (size_t i = 0; i < 2; i++) {
		pv_buf_reset(&note);
		if (archive_checkpoint_latest(ar, logs[i], &note, NULL) == PV_OK)
			printf("\nGenesis checkpoint of the %s log:\n%s", logs[i], pv_buf_str(&note));
	}
	pv_buf_free(&note);
}

int cli_init(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"origin", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 1, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("init");
	struct archive *ar = NULL;
	struct pv_config cfg;
	struct pv_buf vkeys;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "init takes no arguments");
	pv_config_defaults(&cfg);
	const char *origin = cli_opt(&args, "origin");
	if (origin == NULL) {
		char host[200];
		if (gethostname(host, sizeof(host)) == 0 && host[0] != '\0')
			snprintf(cfg.origin, sizeof(cfg.origin), "%.200s/popvault", host);
		origin = cfg.origin;
	}
	pv_buf_init(&vkeys, 4096);
	if ((r = archive_init_create(ctx->data_dir, origin, &vkeys, err)) < 0) {
		pv_buf_free(&vkeys);
		return r;
	}
	printf("initialised %s (origin %s, schema %d)\n\n"
	       "Verifier keys — keep a copy off this machine (print it, mail it to your\n"
	       "compliance officer): with them anyone can check the logs offline.\n\n%s",
	       ctx->data_dir, origin, catalog_schema_version(), pv_buf_str(&vkeys));
	pv_buf_free(&vkeys);
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	print_genesis(ar);
	/* Audited inside: the log's first entries. */
	if ((r = archive_init_policy(ar, ctx->actor, err)) == PV_OK)
		printf("\nRetention policy version 1: mail is kept 6 years, then disposed of\n"
		       "('popvault policy show' prints it, 'popvault policy set FILE' changes it).\n");
	archive_close(&ar);
	return r;
}
