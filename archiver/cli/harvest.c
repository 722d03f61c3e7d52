/* popvault harvest [--account NAME] [--once] [--json] */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/harvest/harvest.h"
#include "archiver/harvest/indexer.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/log.h"
#include "archiver/store/accounts.h"
#include "archiver/store/archive.h"

/* Between passes of the daemon loop. */
#define HARVEST_INTERVAL_S 300

struct totals {
	int64_t fetched, deleted, residue, remaining, skipped, failed, reconciled, bytes;
	int sessions_failed;
	struct pv_buf errors;
};

/* One harvest at a time per data directory; two would race on mailboxes. */
static int take_lock(const char *dir, int *fd_r, struct pv_error *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/harvest.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return pv_fail(err, PV_ERR, "open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return pv_fail(err, PV_ERR, "another harvest is running on %s", dir);
	}
	*fd_r = fd;
	return PV_OK;
}

/* Temp blobs of a harvest that was killed: never committed, so garbage. */
static void clean_tmp(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/tmp", dir);
	DIR *d = opendir(path);
	struct dirent *e;
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "blob-", 5) == 0 && unlinkat(dirfd(d), e->d_name, 0) == 0)
			pv_log(PV_LOG_DEBUG, "harvest.cleanup", "removed %s", e->d_name);
	closedir(d);
}

struct pass {
	struct cli_ctx *ctx;
	struct archive *ar;
	const char *only;
	struct totals *t;
	int found;
};

static void print_session(const struct cli_ctx *ctx, const struct account *a,
			  const struct harvest_summary *s, int r, const struct pv_error *err)
{
	if (ctx->json)
		return;
	if (r < 0) {
		printf("%s: session failed: %s\n", a->name, err->msg);
		if (s->fetched == 0)
			return;
	}
	printf("%s: %lld listed, %lld archived (%lld bytes)", a->name, (long long)s->listed,
	       (long long)s->fetched, (long long)s->bytes);
	if (s->reconciled)
		printf(", %lld already archived", (long long)s->reconciled);
	if (a->keep_upstream)
		printf(", kept upstream (--keep-upstream)");
	else
		printf(", %lld deleted upstream%s", (long long)s->deleted,
		       s->verified_gone ? " (checked gone)" : "");
	if (s->residue)
		printf(", %lld STILL UPSTREAM after delete", (long long)s->residue);
	if (s->skipped + s->failed)
		printf(", %lld left upstream with problems", (long long)(s->skipped + s->failed));
	if (s->remaining >= 0)
		printf("; %lld messages remain upstream", (long long)s->remaining);
	putchar('\n');
}

/* For 'stats': when each account last ran and how it went. */
static void record_run(struct archive *ar, const struct account *a, int64_t started,
		       const struct harvest_summary *s, const char *outcome)
{
	sqlite3_stmt *st;
	if (catalog_prepare(ar->cat->db,
			    "INSERT INTO harvest_runs (account_id, started_at, finished_at, fetched,"
			    " deleted, residue, outcome) VALUES (?,?,?,?,?,?,?)",
			    &st, NULL) < 0)
		return;
	sqlite3_bind_int64(st, 1, a->id);
	sqlite3_bind_int64(st, 2, started);
	sqlite3_bind_int64(st, 3, pv_clock_now());
	sqlite3_bind_int64(st, 4, s->fetched);
	sqlite3_bind_int64(st, 5, s->deleted);
	sqlite3_bind_int64(st, 6, s->residue);
	sqlite3_bind_text(st, 7, outcome, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		pv_log(PV_LOG_WARN, "harvest.run", "cannot record the run: %s",
		       sqlite3_errmsg(ar->cat->db));
	sqlite3_finalize(st);
}

static int harvest_one(void *vp, const struct account *a)
{
	struct pass *p = vp;
	struct harvest_summary s;
	struct harvest_opts o = {.progress = !p->ctx->json};
	struct pv_error err = {0};

	if (p->only != NULL && strcmp(p->only, a->name) != 0)
		return PV_OK;
	p->found++;
	harvest_summary_init(&s);
	int64_t started = pv_clock_now();
	int r = harvest_account(p->ar, a, &o, &s, &err);
	record_run(p->ar, a, started, &s, r < 0 ? err.msg : "ok");
	print_session(p->ctx, a, &s, r, &err);
	struct totals *t = p->t;
	t->fetched += s.fetched;
	t->deleted += s.deleted;
	t->residue += s.residue;
	t->skipped += s.skipped;
	t->failed += s.failed;
	t->reconciled += s.reconciled;
	t->bytes += s.bytes;
	if (s.remaining > 0)
		t->remaining += s.remaining;
	pv_buf_append(&t->errors, s.errors.data, s.errors.len, NULL);
	if (r < 0) {
		t->sessions_failed++;
		pv_buf_printf(&t->errors, NULL, "%s: session failed: %s\n", a->name, err.msg);
	}
	harvest_summary_free(&s);
	return PV_OK;
}

static void print_totals(const struct cli_ctx *ctx, const struct totals *t)
{
	if (!ctx->json)
		return;
	printf("{\"fetched\": %lld, \"deleted\": %lld, \"reconciled\": %lld, \"residue\": %lld, "
	       "\"remaining\": %lld, \"skipped\": %lld, \"failed\": %lld, \"bytes\": %lld, \"errors\": [",
	       (long long)t->fetched, (long long)t->deleted, (long long)t->reconciled,
	       (long long)t->residue, (long long)t->remaining, (long long)t->skipped,
	       (long long)t->failed, (long long)t->bytes);
	const char *p = pv_buf_str(&t->errors);
	int first = 1;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		printf("%s", first ? "" : ", ");
		json_print_strn(stdout, p, n);
		first = 0;
		p += n + (nl != NULL);
	}
	puts("]}");
}

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

int cli_harvest(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"account", CLI_VALUE, NULL}, {"once", CLI_FLAG, NULL}};
	struct cli_args args = {opts, 2, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("harvest");
	struct archive *ar = NULL;
	int lock_fd = -1, r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) < 0)
		return r;
	if (args.help) {
		fputs(cmd->usage, stdout);
		return 1;
	}
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "harvest takes no arguments");
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	if ((r = take_lock(ar->dir, &lock_fd, err)) < 0) {
		archive_close(&ar);
		return r;
	}
	clean_tmp(ar->dir);
	const char *only = cli_opt(&args, "account");
	bool once = cli_opt(&args, "once") != NULL;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	do {
		struct totals t = {0};
		pv_buf_init(&t.errors, 1024 * 1024);
		struct pass p = {ctx, ar, only, &t, 0};
		r = account_each(ar->cat->db, harvest_one, &p, err);
		/* Newly archived mail becomes searchable now (the index is derived). */
		struct pv_error ierr;
		if (indexer_catch_up(ar, NULL, NULL, &ierr) < 0)
			pv_log(PV_LOG_WARN, "index", "indexing after harvest failed: %s", ierr.msg);
		if (r == PV_OK && only != NULL && p.found == 0)
			r = pv_fail(err, PV_ENOTFOUND, "no account named '%s'", only);
		if (r == PV_OK)
			print_totals(ctx, &t);
		if (r == PV_OK && t.sessions_failed > 0)
			r = pv_fail(err, PV_ERR, "%d of %d harvest sessions failed", t.sessions_failed, p.found);
		pv_buf_free(&t.errors);
		fflush(stdout);
		for (int i = 0; !once && !stop_requested && i < HARVEST_INTERVAL_S; i++)
			sleep(1);
	} while (!once && !stop_requested);
	close(lock_fd);
	archive_close(&ar);
	return r;
}
