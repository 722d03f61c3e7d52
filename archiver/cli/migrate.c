/* popvault migrate --to-store URL --store-key-file F: local packs into an
 * S3 store with Object Lock (archive/migrate.h); migrate --to-catalog URL:
 * DIR/catalog.db onto PostgreSQL (archive/migrate_catalog.h). Both under
 * the harvest lock, refused while serve runs. */
#include <stdio.h>
#include <unistd.h>

#include "archiver/archive/migrate.h"
#include "archiver/archive/migrate_catalog.h"
#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/harvest/scheduler.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/secret.h"

static void print_log_json(const char *name, const struct migrate_log *l, const char *same_key,
			   bool same)
{
	char before[MIGRATE_ROOT_B64], after[MIGRATE_ROOT_B64];
	migrate_root_b64(l->root_before, before);
	migrate_root_b64(l->root_after, after);
	printf(", \"%s\": {\"size_before\": %llu, \"root_before\": \"%s\", \"size_after\": %llu,"
	       " \"root_after\": \"%s\", \"%s\": %s}", name, (unsigned long long)l->size_before,
	       before, (unsigned long long)l->size_after, after, same_key, same ? "true" : "false");
}

static void print_log(const char *name, const struct migrate_log *l, const char *verdict)
{
	char before[MIGRATE_ROOT_B64], after[MIGRATE_ROOT_B64];
	migrate_root_b64(l->root_before, before);
	migrate_root_b64(l->root_after, after);
	printf("%s log before: %llu entries, root %s\n"
	       "%s log after:  %llu entries, root %s\n  %s\n",
	       name, (unsigned long long)l->size_before, before, name,
	       (unsigned long long)l->size_after, after, verdict);
}

static void print_report(const struct cli_ctx *ctx, const struct migrate_report *rep)
{
	if (ctx->json) {
		printf("{\"store\": ");
		json_print_str(stdout, rep->url);
		printf(", \"resumed\": %s, \"packs\": %lld, \"stored\": %lld, \"failed\": %lld,"
		       " \"held_packs\": %lld, \"legacy_blobs\": %lld", rep->resumed ? "true" : "false",
		       (long long)rep->packs, (long long)rep->stored, (long long)rep->failed,
		       (long long)rep->held, (long long)rep->legacy_blobs);
		print_log_json("archive_log", &rep->archive, "unchanged", rep->archive_same);
		print_log_json("audit_log", &rep->audit, "prefix", rep->audit_prefix);
		printf("}\n");
		return;
	}
	printf("%s %s: %lld pack%s stored (COMPLIANCE-locked), %lld under legal hold\n",
	       rep->resumed ? "Finished the migration to" : "Migrated to", rep->url,
	       (long long)rep->stored, rep->stored == 1 ? "" : "s", (long long)rep->held);
	if (rep->legacy_blobs > 0)
		printf("%lld message%s in legacy blob files (from before packs) stay in the data "
		       "directory's blobs/\n", (long long)rep->legacy_blobs,
		       rep->legacy_blobs == 1 ? "" : "s");
	print_log("archive", &rep->archive,
		  rep->archive_same ? "unchanged" : "CHANGED: the migration must not add messages");
	print_log("audit", &rep->audit,
		  rep->audit_prefix ? "consistent: the log before is a prefix of the log after "
				      "(consistency proof checked)"
				    : "NOT CONSISTENT with the log before");
}

static void print_catalog_report(const struct cli_ctx *ctx, const struct migrate_catalog_report *rep)
{
	if (ctx->json) {
		printf("{\"catalog\": ");
		json_print_str(stdout, rep->url);
		printf(", \"resumed\": %s, \"tables\": %zu, \"rows\": %lld, \"aside\": \""
		       MIGRATE_CATALOG_ASIDE "\", \"indexed\": %lld, \"index_failed\": %lld,"
		       " \"index_pending\": %lld", rep->resumed ? "true" : "false", rep->copy.n_tables,
		       (long long)rep->copy.rows, (long long)rep->indexed, (long long)rep->index_failed,
		       (long long)rep->index_pending);
		print_log_json("archive_log", &rep->archive, "equal", migrate_log_same(&rep->archive));
		print_log_json("audit_log", &rep->audit, "equal", migrate_log_same(&rep->audit));
		printf("}\n");
		return;
	}
	if (rep->resumed)
		printf("Finished an interrupted migration of the catalog to %s\n", rep->url);
	else
		printf("Migrated the catalog to %s: %zu tables, %lld rows copied in one transaction\n",
		       rep->url, rep->copy.n_tables, (long long)rep->copy.rows);
	print_log("archive", &rep->archive, migrate_log_same(&rep->archive)
		  ? "equal: recomputed from the PostgreSQL copy" : "DIFFERENT");
	print_log("audit", &rep->audit, migrate_log_same(&rep->audit)
		  ? "equal: recomputed from the PostgreSQL copy" : "DIFFERENT");
	printf("Search index: %lld message%s indexed on PostgreSQL, %lld unreadable, %lld pending\n",
	       (long long)rep->indexed, rep->indexed == 1 ? "" : "s", (long long)rep->index_failed,
	       (long long)rep->index_pending);
	printf("The old SQLite catalog is kept as DIR/" MIGRATE_CATALOG_ASIDE
	       ": remove it once you no longer need it.\n");
}

/* Both locks, then the move: nothing writes the catalog while it is copied. */
static int migrate_catalog(struct cli_ctx *ctx, const char *url, struct pv_error *err)
{
	struct migrate_catalog_report rep;
	int serve_fd = -1, lock_fd = -1, r;
	if ((r = pv_lock_take(ctx->data_dir, CLI_SERVE_LOCK, true, &serve_fd, err)) < 0)
		return r == PV_ETEMP ? pv_fail(err, PV_ERR, "popvault serve is running on %s: stop it, "
					       "migrate, then start it again", ctx->data_dir)
				     : r;
	if ((r = harvest_lock_take(ctx->data_dir, &lock_fd, err)) < 0) {
		close(serve_fd);
		if (r == PV_ETEMP)
			r = pv_fail(err, PV_ERR, "a harvest is running on %s: wait for it to end (stop "
				    "serve) and run migrate again; nothing was changed", ctx->data_dir);
		return r;
	}
	r = archive_migrate_catalog(ctx->data_dir, ctx->actor, url, &rep, err);
	if (r == PV_OK)
		print_catalog_report(ctx, &rep);
	close(lock_fd);
	close(serve_fd);
	return r;
}

int cli_migrate(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"to-store", CLI_VALUE, NULL}, {"store-key-file", CLI_VALUE, NULL},
				 {"to-catalog", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 3, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("migrate");
	struct migrate_report rep;
	struct archive *ar = NULL;
	char *secret = NULL;
	int lock_fd = -1, r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	const char *url = cli_opt(&args, "to-store"), *key_file = cli_opt(&args, "store-key-file");
	const char *catalog = cli_opt(&args, "to-catalog");
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "migrate takes no arguments");
	if (catalog != NULL && (url != NULL || key_file != NULL))
		return pv_fail(err, PV_EUSAGE, "migrate --to-catalog and --to-store are two runs: "
			       "one at a time");
	if (catalog != NULL)
		return migrate_catalog(ctx, catalog, err);
	if (url == NULL || key_file == NULL)
		return pv_fail(err, PV_EUSAGE, "migrate needs --to-store URL and --store-key-file F, "
			       "or --to-catalog postgresql://...");
	int serve_fd = -1;
	if ((r = pv_lock_take(ctx->data_dir, CLI_SERVE_LOCK, true, &serve_fd, err)) < 0)
		return r == PV_ETEMP ? pv_fail(err, PV_ERR, "popvault serve is running on %s: stop it, "
					       "migrate, then start it again", ctx->data_dir)
				     : r;
	if ((r = pv_read_secret_file(key_file, &secret, err)) < 0) {
		close(serve_fd);
		return r;
	}
	/* No harvest may write a pack while they move. */
	if ((r = harvest_lock_take(ctx->data_dir, &lock_fd, err)) < 0) {
		pv_secret_free(&secret);
		close(serve_fd);
		if (r == PV_ETEMP)
			r = pv_fail(err, PV_ERR, "a harvest is running on %s: wait for it to end (stop "
				    "serve) and run migrate again", ctx->data_dir);
		return r;
	}
	if ((r = archive_open(ctx->data_dir, &ar, err)) == PV_OK) {
		r = archive_migrate_store(ar, ctx->actor, url, secret, &rep, err);
		if (r == PV_OK || r == PV_EINTEGRITY)
			print_report(ctx, &rep);
	}
	archive_close(&ar);
	pv_secret_free(&secret);
	close(lock_fd);
	close(serve_fd);
	return r;
}
