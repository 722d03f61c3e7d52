/* popvault dispose [--dry-run]   (and popvault policy dry-run) */
#include <stdio.h>
#include <string.h>

#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/lib/clock.h"
#include "archiver/archive/approvals.h"
#include "archiver/archive/dispose.h"

static void print_plan(const struct cli_ctx *ctx, const struct dispose_plan *plan, bool dry_run)
{
	char now[PV_RFC3339_LEN], t[PV_RFC3339_LEN];
	pv_clock_format_rfc3339(plan->now, now);
	if (ctx->json) {
		printf("{\"dry_run\": %s, \"now\": \"%s\", \"policy_version\": %lld, \"dispose\": %zu,"
		       " \"held\": %zu, \"review\": %zu, \"blocked\": %zu, \"missing\": %zu,"
		       " \"pending\": %lld, \"holds_digest\": \"%s\", \"items\": [",
		       dry_run ? "true" : "false", now, (long long)plan->policy_version, plan->due,
		       plan->held, plan->review, plan->blocked, plan->missing,
		       (long long)plan->pending, plan->holds_digest);
		for (size_t i = 0; i < plan->n; i++) {
			const struct dispose_item *it = &plan->v[i];
			pv_clock_format_rfc3339(it->expires_at, t);
			printf("%s{\"id\": %lld, \"action\": \"%s\", \"rule\": ", i ? ", " : "",
			       (long long)it->id, dispose_state_name(it->state));
			json_print_str(stdout, it->rule);
			printf(", \"policy_version\": %lld, \"expires_at\": \"%s\", \"reason\": ",
			       (long long)it->policy_version, t);
			json_print_str(stdout, it->why);
			putchar('}');
		}
		printf("]");
		return;
	}
	printf("%s at %s under policy version %lld:\n", dry_run ? "Disposal plan (dry run)" : "Disposal",
	       now, (long long)plan->policy_version);
	if (plan->n > 0)
		printf("  %-8s %-8s %-20s %-7s %-20s %s\n", "ID", "ACTION", "RULE", "POLICY", "EXPIRED",
		       "WHY");
	for (size_t i = 0; i < plan->n; i++) {
		const struct dispose_item *it = &plan->v[i];
		pv_clock_format_rfc3339(it->expires_at, t);
		printf("  %-8lld %-8s %-20s v%-6lld %-20s %s\n", (long long)it->id,
		       dispose_state_name(it->state), it->rule, (long long)it->policy_version, t,
		       it->why);
	}
	printf("%zu to dispose, %zu held, %zu review required, %zu blocked\n", plan->due, plan->held,
	       plan->review, plan->blocked);
	if (plan->pending > 0)
		printf("%lld more of an approved run that was cut short: finished first by the next "
		       "proposal or approval (messages a hold or policy set since covers are spared)\n",
		       (long long)plan->pending);
}

void cli_dispose_print_run(const struct cli_ctx *ctx, const struct dispose_run *run, bool dry_run,
			   bool nested)
{
	const struct dispose_result *res = &run->res;
	print_plan(ctx, &run->plan, dry_run);
	if (ctx->json)
		printf(", \"disposed\": %lld, \"buckets_destroyed\": %lld, \"resumed\": %lld}%s",
		       (long long)res->disposed, (long long)res->buckets_destroyed,
		       (long long)res->resumed, nested ? "" : "\n");
	else if (!dry_run)
		printf("disposed of %lld message%s (disposal %lld; %lld bucket key%s destroyed)%s\n",
		       (long long)res->disposed, res->disposed == 1 ? "" : "s",
		       (long long)res->disposal_id, (long long)res->buckets_destroyed,
		       res->buckets_destroyed == 1 ? "" : "s",
		       res->resumed ? "; an interrupted disposal was finished first" : "");
}

int cli_dispose_report(struct cli_ctx *ctx, bool dry_run, struct pv_error *err)
{
	struct archive *ar = NULL;
	struct dispose_run run;
	int r;

	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	r = archive_dispose(ar, ctx->actor, dry_run, &run, err);
	archive_close(&ar);
	if (run.completed) /* also with PV_EINTEGRITY: the plan says what is missing */
		cli_dispose_print_run(ctx, &run, dry_run, false);
	dispose_run_free(&run);
	return r;
}

/* popvault dispose: the plan of what is due now, proposed for a second
 * person's approval (the two-person rule). */
static int dispose_propose(struct cli_ctx *ctx, const struct cli_args *args, struct pv_error *err)
{
	struct archive *ar = NULL;
	struct approval_proposal res;
	const char *role = cli_opt(args, "as-role") ? cli_opt(args, "as-role") : "admin";
	int r;

	memset(&res, 0, sizeof(res));
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	r = approval_propose(ar, ctx->actor, role, APPROVAL_DISPOSE, NULL, 0, cli_opt(args, "reason"),
			     NULL, &res, err);
	/* Nothing due: packs of mail disposed of earlier that a store's
	 * Object Lock kept then may go now. */
	if (r == PV_OK && res.id == 0)
		r = dispose_remove_packs(ar, err);
	archive_close(&ar);
	if (res.plan.completed) { /* also with PV_EINTEGRITY: the plan says what is missing */
		print_plan(ctx, &res.plan.plan, true);
		if (ctx->json)
			printf(", \"approval\": %lld, \"proposed\": %zu, \"resumed\": %lld}\n",
			       (long long)res.id, res.frozen, (long long)res.plan.res.resumed);
	}
	if (!ctx->json && res.plan.res.resumed > 0)
		printf("an approved disposal run that had been cut short was finished first (the "
		       "audit trail has what it destroyed and spared)\n");
	if (r == PV_OK && !ctx->json && res.id == 0)
		printf("nothing is due: no disposal run proposed\n");
	else if (r == PV_OK && !ctx->json)
		printf("disposal run proposed as approval %lld: %zu message%s; nothing is destroyed "
		       "until another user with another role approves it:\n"
		       "  popvault approvals approve %lld --as-role compliance --reason TEXT\n",
		       (long long)res.id, res.frozen, res.frozen == 1 ? "" : "s", (long long)res.id);
	approval_proposal_free(&res);
	return r;
}

int cli_dispose(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"dry-run", CLI_FLAG, NULL},
				 {"reason", CLI_VALUE, NULL},
				 {"as-role", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 3, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("dispose");
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "dispose takes no arguments");
	if (cli_opt(&args, "dry-run") != NULL) {
		if (cli_opt(&args, "reason") || cli_opt(&args, "as-role"))
			return pv_fail(err, PV_EUSAGE, "a dry run proposes nothing: no --reason or --as-role");
		return cli_dispose_report(ctx, true, err);
	}
	return dispose_propose(ctx, &args, err);
}
