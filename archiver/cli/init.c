/* popvault init: the data directory, its config, catalog and keys. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/cli/cli.h"
#include "archiver/lib/config.h"
#include "archiver/lib/fsutil.h"
#include "archiver/store/datadir.h"
#include "archiver/store/catalog.h"
#include "audit/checkpoint.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/store/keyring.h"
#include "archiver/archive/policies.h"
#include "archiver/lib/clock.h"

static int dir_is_empty_or_missing(const char *dir, struct pv_error *err)
{
	struct stat st;
	if (stat(dir, &st) != 0)
		return errno == ENOENT ? 1 : pv_fail(err, PV_ERR, "%s: %s", dir, strerror(errno));
	char probe[4096];
	snprintf(probe, sizeof(probe), "%s/popvault.conf", dir);
	if (access(probe, F_OK) == 0)
		return 0;
	snprintf(probe, sizeof(probe), "%s/catalog.db", dir);
	return access(probe, F_OK) != 0;
}

/* The signed genesis checkpoints, so an officer can pin both logs at size 0. */
static void print_genesis(const char *data_dir)
{
	struct archive *ar = NULL;
	struct pv_error err;
	struct pv_buf note;
	if (archive_open(data_dir, &ar, &err) < 0) {
		fprintf(stderr, "popvault: warning: %s\n", err.msg);
		return;
	}
	pv_buf_init(&note, PV_NOTE_MAX);
	struct tlog *logs[] = {ar->archive_log, ar->audit_log};
	for (size_t i = 0; i < 2; i++) {
		pv_buf_reset(&note);
		if (checkpoint_latest(logs[i], &note, NULL, &err) == PV_OK)
			printf("\nGenesis checkpoint of the %s log:\n%s", tlog_name(logs[i]),
			       pv_buf_str(&note));
	}
	pv_buf_free(&note);
	archive_close(&ar);
}

/* Policy version 1: what popvault does without a policy (keep six years,
 * then dispose), stored and audited like any later version. */
static int store_initial_policy(struct cli_ctx *ctx, struct pv_error *err)
{
	struct archive *ar = NULL;
	struct policy *p = NULL;
	char hex[POLICY_HASH_HEX_LEN];
	int64_t version;
	int r;
	if ((r = policy_parse(policy_store_initial_text, strlen(policy_store_initial_text), &p, NULL,
			      err)) < 0 ||
	    (r = archive_open(ctx->data_dir, &ar, err)) < 0 || (r = catalog_begin(ar->cat, err)) < 0)
		goto out;
	policy_hash_hex(p, hex);
	/* The audit log's first entry: who created this archive, and how. */
	if ((r = archive_auditf(ar, ctx->actor, AUDIT_INIT, "ok", NULL, err, "origin=%s schema=%d",
				ar->cfg.origin, catalog_schema_version())) < 0 ||
	    (r = archive_auditf(ar, ctx->actor, AUDIT_POLICY_SET, "ok", NULL, err,
				"version=1 sha256=%s previous=0", hex)) < 0 ||
	    (r = policy_version_add(ar->cat->db, p, ctx->actor, pv_clock_now(), &version, err)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
	else
		printf("\nRetention policy version 1: mail is kept 6 years, then disposed of\n"
		       "('popvault policy show' prints it, 'popvault policy set FILE' changes it).\n");
out:
	archive_close(&ar);
	policy_free(&p);
	return r;
}

int cli_init(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"origin", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 1, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("init");
	struct pv_config cfg;
	struct catalog *cat = NULL;
	char path[4096];
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "init takes no arguments");
	pv_config_defaults(&cfg);
	if (cli_opt(&args, "origin") != NULL) {
		const char *o = cli_opt(&args, "origin");
		if (o[0] == '\0' || strlen(o) >= sizeof(cfg.origin) || strpbrk(o, " +\t\n") != NULL)
			return pv_fail(err, PV_EUSAGE, "--origin must be a non-empty name without spaces or '+'");
		snprintf(cfg.origin, sizeof(cfg.origin), "%s", o);
	} else {
		char host[200];
		if (gethostname(host, sizeof(host)) == 0 && host[0] != '\0')
			snprintf(cfg.origin, sizeof(cfg.origin), "%.200s/popvault", host);
	}

	r = dir_is_empty_or_missing(ctx->data_dir, err);
	if (r < 0)
		return r;
	if (r == 0)
		return pv_fail(err, PV_ERR, "%s already holds an archive; refusing to overwrite it",
			       ctx->data_dir);
	if ((r = pv_mkdir(ctx->data_dir, 0700, 1, err)) < 0)
		return r;
	chmod(ctx->data_dir, 0700);
	static const char *const subdirs[] = {"blobs", "keys", "tmp"};
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", ctx->data_dir, subdirs[i]);
		if ((r = pv_mkdir(path, 0700, 0, err)) < 0)
			return r;
	}
	if ((r = pv_config_write(ctx->data_dir, &cfg, err)) < 0 ||
	    (r = keyring_create(ctx->data_dir, err)) < 0 ||
	    (r = catalog_open(ctx->data_dir, 1, &cat, err)) < 0)
		return r;
	struct pv_buf vkeys;
	pv_buf_init(&vkeys, 4096);
	r = archive_create_logs(cat->db, ctx->data_dir, cfg.origin, &vkeys, err);
	catalog_close(&cat);
	if (r < 0) {
		pv_buf_free(&vkeys);
		return r;
	}
	if ((r = pv_fsync_dir(ctx->data_dir, err)) < 0)
		return r;
	printf("initialised %s (origin %s, schema %d)\n\n"
	       "Verifier keys — keep a copy off this machine (print it, mail it to your\n"
	       "compliance officer): with them anyone can check the logs offline.\n\n%s",
	       ctx->data_dir, cfg.origin, catalog_schema_version(), pv_buf_str(&vkeys));
	pv_buf_free(&vkeys);
	print_genesis(ctx->data_dir);
	return store_initial_policy(ctx, err);
}
