/* popvault harvest [--account NAME] [--once] [--interval SECONDS] [--wait] [--json]
 * The work is archiver/harvest/scheduler.h; this file parses the options
 * and prints what each harvest did. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/harvest/harvest.h"
#include "archiver/harvest/scheduler.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/lib/sandbox.h"

/* Between harvests of an account in the daemon loop. */
#define HARVEST_INTERVAL_S 300

struct totals {
	int64_t fetched, deleted, residue, remaining, skipped, failed, reconciled, bytes;
	int sessions, sessions_failed;
	char first_failure[PV_ERROR_MSG_MAX + 80];
	struct pv_buf errors;
};

struct printer {
	const struct cli_ctx *ctx;
	bool once;
	bool printed; /* --once --json: the summary is out */
	struct totals t;
};

static void print_session(const struct harvest_result *res)
{
	const struct account *a = res->a;
	const struct harvest_summary *s = &res->s;
	if (res->status < 0) {
		printf("%s: session failed: %s\n", a->name, res->err.msg);
		if (s->fetched == 0 && s->reconciled == 0)
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

/* The error list as JSON strings, one per line of text. */
static void print_json_errors(const char *p)
{
	int first = 1;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		printf("%s", first ? "" : ", ");
		json_print_strn(stdout, p, n);
		first = 0;
		p += n + (nl != NULL);
	}
}

static void print_counts(const struct totals *t)
{
	printf("\"fetched\": %lld, \"deleted\": %lld, \"reconciled\": %lld, \"residue\": %lld, "
	       "\"remaining\": %lld, \"skipped\": %lld, \"failed\": %lld, \"bytes\": %lld, "
	       "\"sessions\": %d, \"sessions_failed\": %d, \"errors\": [",
	       (long long)t->fetched, (long long)t->deleted, (long long)t->reconciled,
	       (long long)t->residue, (long long)t->remaining, (long long)t->skipped,
	       (long long)t->failed, (long long)t->bytes, t->sessions, t->sessions_failed);
	print_json_errors(pv_buf_str(&t->errors));
	printf("]");
}

static void add(struct totals *t, const struct harvest_result *res)
{
	const struct harvest_summary *s = &res->s;
	t->fetched += s->fetched;
	t->deleted += s->deleted;
	t->residue += s->residue;
	t->skipped += s->skipped;
	t->failed += s->failed;
	t->reconciled += s->reconciled;
	t->bytes += s->bytes;
	if (s->remaining > 0)
		t->remaining += s->remaining;
	t->sessions++;
	pv_buf_append(&t->errors, s->errors.data, s->errors.len, NULL);
	if (res->status < 0) {
		if (t->sessions_failed++ == 0)
			snprintf(t->first_failure, sizeof(t->first_failure), "%s: %s", res->a->name,
				 res->err.msg);
		pv_buf_printf(&t->errors, NULL, "%s: session failed: %s\n", res->a->name,
			      res->err.msg);
	}
}

static void on_result(void *ctx, const struct harvest_result *res)
{
	struct printer *p = ctx;
	if (p->once) {
		add(&p->t, res);
		if (!p->ctx->json)
			print_session(res);
		return;
	}
	/* The daemon reports each harvest as it ends: one line, or one JSON
	 * object per line. */
	if (p->ctx->json) {
		struct totals one = {0};
		pv_buf_init(&one.errors, 1024 * 1024);
		add(&one, res);
		printf("{\"account\": ");
		json_print_strn(stdout, res->a->name, strlen(res->a->name));
		printf(", \"ok\": %s, \"next_in_s\": %lld, ", res->status < 0 ? "false" : "true",
		       (long long)res->next_in_s);
		print_counts(&one);
		puts("}");
		pv_buf_free(&one.errors);
	} else {
		print_session(res);
	}
	fflush(stdout);
}

/* --once --json: the summary goes out as soon as the harvests end (the
 * index may still be catching up: the command returns when it has). */
static void on_harvested(void *ctx)
{
	struct printer *p = ctx;
	if (!p->once || !p->ctx->json || p->printed)
		return;
	printf("{");
	print_counts(&p->t);
	puts("}");
	fflush(stdout);
	p->printed = true;
}

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

int cli_harvest(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"account", CLI_VALUE, NULL},
				 {"once", CLI_FLAG, NULL},
				 {"interval", CLI_VALUE, NULL},
				 {"wait", CLI_FLAG, NULL}};
	struct cli_args args = {opts, 4, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("harvest");
	long long interval;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "harvest takes no arguments");
	if ((r = cli_opt_int(&args, "interval", HARVEST_INTERVAL_S, 1, 86400, &interval, err)) < 0)
		return r;

	struct printer p = {.ctx = ctx, .once = cli_opt(&args, "once") != NULL};
	pv_buf_init(&p.t.errors, 1024 * 1024);
	struct harvest_sched_opts so = {
		.data_dir = ctx->data_dir,
		.only = cli_opt(&args, "account"),
		.once = p.once,
		.interval_s = interval,
		.progress = !ctx->json,
		.stop = &stop_requested,
		.on_result = on_result,
		.on_harvested = on_harvested,
		.ctx = &p,
		/* The daemon stops before the disk is full; a harvest started by
		 * hand goes as far as the disk does (ENOSPC loses nothing). */
		.disk_reserve = p.once ? 0 : PV_DATA_DISK_RESERVE,
		.lock_wait_s = cli_opt(&args, "wait") ? PV_HARVEST_LOCK_WAIT_S : 0,
	};
	struct signer *sg = NULL;
	if ((r = cli_privsep_begin(ctx, &sg, err)) < 0) {
		pv_buf_free(&p.t.errors);
		return r;
	}
	/* What a harvest may do (lib/sandbox.h), for it, its sessions and
	 * its indexer; serve's "harvest now" runs under the web's too. */
	if ((r = pv_sandbox_role(PV_ROLE_HARVEST, err)) < 0) {
		pv_buf_free(&p.t.errors);
		cli_privsep_end(&sg);
		return r;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	r = harvest_schedule(&so, err);
	if (r == PV_OK && p.once) {
		on_harvested(&p);
		if (p.t.sessions_failed == 1)
			r = pv_fail(err, PV_ERR, "harvest of %s", p.t.first_failure);
		else if (p.t.sessions_failed > 1)
			r = pv_fail(err, PV_ERR, "%d of %d accounts failed; the first: %s",
				    p.t.sessions_failed, p.t.sessions, p.t.first_failure);
	}
	fflush(stdout);
	pv_buf_free(&p.t.errors);
	cli_privsep_end(&sg);
	return r;
}
