/* popvault backup --out DIR [--with-keys --passphrase-file F] [--json]
 * popvault restore DIR [--data NEWDIR] [--passphrase-file F | --keys DIR]
 *                  [--checkpoint F]... [--json]
 * (archiver/archive/backup.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/backup.h"
#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/progress.h"

static void print_summary(const struct cli_ctx *ctx, const char *verb, const char *dir,
			  const struct backup_summary *s)
{
	if (ctx->json) {
		printf("{\"dir\": ");
		json_print_str(stdout, dir);
		printf(", \"files\": %llu, \"bytes\": %llu, \"blobs\": %llu, \"linked\": %llu, "
		       "\"packs\": %llu, \"records\": %llu, \"keys\": %s, \"archive_size\": %llu, \"audit_size\": %llu, "
		       "\"manifest_sha256\": \"%s\"}\n",
		       (unsigned long long)s->files, (unsigned long long)s->bytes,
		       (unsigned long long)s->blobs, (unsigned long long)s->linked,
		       (unsigned long long)s->packs, (unsigned long long)s->records,
		       s->keys ? "true" : "false", (unsigned long long)s->archive_size,
		       (unsigned long long)s->audit_size, s->manifest_sha256);
		return;
	}
	printf("%s %s: %llu files, %llu bytes (%llu blobs%s, %llu packs), keys %s\n"
	       "covers the archive log up to %llu entries and the audit log up to %llu\n"
	       "manifest SHA-256 %s\n",
	       verb, dir, (unsigned long long)s->files, (unsigned long long)s->bytes,
	       (unsigned long long)s->blobs, s->linked ? ", hard-linked where possible" : "",
	       (unsigned long long)s->packs,
	       s->keys ? "included (encrypted)" : "not included",
	       (unsigned long long)s->archive_size, (unsigned long long)s->audit_size,
	       s->manifest_sha256);
}

static int read_passphrase(const struct cli_args *args, char **pass_r, struct pv_error *err)
{
	const char *f = cli_opt(args, "passphrase-file");
	*pass_r = NULL;
	return f ? pv_read_secret_file(f, pass_r, err) : PV_OK;
}

int cli_backup(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"out", CLI_VALUE, NULL},
				 {"with-keys", CLI_FLAG, NULL},
				 {"passphrase-file", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 3, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("backup");
	struct archive *ar = NULL;
	struct backup_summary sum;
	char *pass = NULL;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	const char *out = cli_opt(&args, "out");
	bool keys = cli_opt(&args, "with-keys") != NULL;
	if (args.n_pos != 0 || out == NULL)
		return pv_fail(err, PV_EUSAGE, "backup wants --out DIR and no arguments");
	if (keys != (cli_opt(&args, "passphrase-file") != NULL))
		return pv_fail(err, PV_EUSAGE, "--with-keys and --passphrase-file go together");
	if ((r = read_passphrase(&args, &pass, err)) < 0)
		return r;
	if ((r = archive_open(ctx->data_dir, &ar, err)) == PV_OK) {
		struct pv_meter meter;
		bool meter_on = cli_progress_wanted(ctx);
		if (meter_on) {
			pv_meter_init(&meter, stderr, "backup", "files");
			ar->progress = pv_meter_progress(&meter);
		}
		r = archive_backup(ar, ctx->actor, out, pass, pass ? strlen(pass) : 0,
				   &backup_kdf_default, &sum, err);
		if (meter_on)
			pv_meter_end(&meter);
		archive_close(&ar);
	}
	pv_secret_free(&pass);
	if (r == PV_OK)
		print_summary(ctx, "backed up to", out, &sum);
	return r;
}

static void print_line(void *ctx, const char *line)
{
	fputs(line, ctx);
	fputc('\n', ctx);
}

int cli_restore(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"passphrase-file", CLI_VALUE, NULL},
				 {"keys", CLI_VALUE, NULL},
				 {"checkpoint", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 3, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("restore");
	struct backup_summary sum;
	struct verify_report rep;
	unsigned char *known = NULL;
	size_t known_len = 0;
	char *pass = NULL;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 1)
		return pv_fail(err, PV_EUSAGE, "restore wants the backup directory");
	const char *cp_file = cli_opt(&args, "checkpoint");
	if (cp_file != NULL && (r = pv_read_file(cp_file, PV_NOTE_MAX, &known, &known_len, err)) < 0)
		return r;
	if ((r = read_passphrase(&args, &pass, err)) == PV_OK) {
		const char *notes[1] = {(const char *)known};
		size_t lens[1] = {known_len};
		r = archive_restore(args.pos[0], ctx->data_dir, ctx->actor, pass,
				    pass ? strlen(pass) : 0, cli_opt(&args, "keys"), notes, lens,
				    known ? 1 : 0, print_line, ctx->json ? stderr : stdout, &sum, &rep,
				    err);
	}
	pv_secret_free(&pass);
	free(known);
	if (r == PV_OK)
		print_summary(ctx, "restored into", ctx->data_dir, &sum);
	if (r == PV_OK && !ctx->json)
		printf("verify --full: OK (%lld messages, %lld blobs decrypted and checked)\n",
		       (long long)rep.messages, (long long)rep.blobs_decrypted);
	return r;
}
