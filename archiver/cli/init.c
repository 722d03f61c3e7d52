/* popvault init [--origin NAME] [--catalog URL]: the data directory, its config,
 * catalog (DIR/catalog.db, or a PostgreSQL database) and keys. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "archiver/archive/checkpoints.h"
#include "archiver/archive/identity.h"
#include "archiver/archive/init.h"
#include "archiver/cli/cli.h"
#include "archiver/lib/config.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/secret.h"
#include "archiver/store/catalog.h"
#include "archiver/store/catalog_url.h"

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

/* init --catalog URL --join FILE --passphrase-file F: another harvester
 * of an archive (archive/identity.h). */
static int init_join(struct cli_ctx *ctx, const struct cli_args *args, struct pv_error *err)
{
	const char *url = cli_opt(args, "catalog"), *file = cli_opt(args, "join");
	const char *pf = cli_opt(args, "passphrase-file");
	char origin[IDENTITY_ORIGIN_MAX], *pass = NULL;
	int r;
	if (url == NULL || file == NULL || pf == NULL)
		return pv_fail(err, PV_EUSAGE, "--join wants --catalog URL and --passphrase-file F");
	if (cli_opt(args, "origin") != NULL || cli_opt(args, "store") != NULL)
		return pv_fail(err, PV_EUSAGE, "--join takes the archive's origin and store from "
					       "its identity and catalog: no --origin or --store");
	if ((r = catalog_url_check(url, err)) < 0 || (r = pv_read_secret_file(pf, &pass, err)) < 0)
		return r;
	r = archive_identity_join(ctx->data_dir, url, file, pass, strlen(pass), ctx->actor, origin,
				  err);
	pv_secret_free(&pass);
	if (r == PV_OK)
		printf("joined %s to the archive %s (catalog %s): it harvests into the same logs,\n"
		       "with the same keys\n", ctx->data_dir, origin, url);
	return r;
}

int cli_init(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"origin", CLI_VALUE, NULL},
				 {"store", CLI_VALUE, NULL},
				 {"store-key-file", CLI_VALUE, NULL},
				 {"catalog", CLI_VALUE, NULL},
				 {"join", CLI_VALUE, NULL},
				 {"passphrase-file", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 6, {0}, 0, false};
	char *store_secret = NULL;
	const struct cli_command *cmd = cli_find_command("init");
	struct archive *ar = NULL;
	struct pv_config cfg;
	struct pv_buf vkeys;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "init takes no arguments");
	if (cli_opt(&args, "join") != NULL || cli_opt(&args, "passphrase-file") != NULL)
		return init_join(ctx, &args, err);
	pv_config_defaults(&cfg);
	const char *origin = cli_opt(&args, "origin");
	if (origin == NULL) {
		char host[200];
		if (gethostname(host, sizeof(host)) == 0 && host[0] != '\0')
			snprintf(cfg.origin, sizeof(cfg.origin), "%.200s/popvault", host);
		origin = cfg.origin;
	}
	const char *store = cli_opt(&args, "store"), *key_file = cli_opt(&args, "store-key-file");
	if ((store == NULL) != (key_file == NULL))
		return pv_fail(err, PV_EUSAGE, "--store and --store-key-file go together");
	/* A password in the catalog URL is a usage error, before anything
	 * (archive_init_create then asks the server itself). */
	const char *catalog_url = cli_opt(&args, "catalog");
	if (catalog_url != NULL && (r = catalog_url_check(catalog_url, err)) < 0)
		return r;
	/* The store is checked before anything is made: an archive that
	 * cannot reach it is not created. */
	if (store != NULL && ((r = pv_read_secret_file(key_file, &store_secret, err)) < 0 ||
			      (r = packstore_probe(store, store_secret, err)) < 0)) {
		pv_secret_free(&store_secret);
		return r;
	}
	pv_buf_init(&vkeys, 4096);
	if ((r = archive_init_create(ctx->data_dir, origin, catalog_url, &vkeys, err)) < 0) {
		pv_buf_free(&vkeys);
		pv_secret_free(&store_secret);
		return r;
	}
	printf("initialised %s (origin %s, schema %d)\n\n"
	       "Verifier keys — keep a copy off this machine (print it, mail it to your\n"
	       "compliance officer): with them anyone can check the logs offline.\n\n%s",
	       ctx->data_dir, origin, catalog_schema_version(), pv_buf_str(&vkeys));
	pv_buf_free(&vkeys);
	r = archive_open(ctx->data_dir, &ar, err);
	if (r == PV_OK && store != NULL) {
		r = archive_init_store(ar, store, store_secret, err);
		if (r == PV_OK)
			printf("\nSealed packs are kept in %s (Object Lock, COMPLIANCE mode).\n", store);
	}
	pv_secret_free(&store_secret);
	if (r < 0) {
		archive_close(&ar);
		return r;
	}
	print_genesis(ar);
	/* Audited inside: the log's first entries. */
	if ((r = archive_init_policy(ar, ctx->actor, err)) == PV_OK)
		printf("\nRetention policy version 1: mail is kept 6 years, then disposed of\n"
		       "('popvault policy show' prints it, 'popvault policy set FILE' changes it).\n");
	archive_close(&ar);
	return r;
}
