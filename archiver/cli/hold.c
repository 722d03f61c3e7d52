/* popvault hold add NAME --query Q [--note TEXT] | list [--all] | release NAME
 * (a release is proposed: it takes effect once a second person approves it) */
#include <stdio.h>
#include <string.h>

#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/lib/clock.h"
#include "archiver/archive/approvals.h"
#include "archiver/archive/holds.h"

struct list_state {
	bool json;
	int n;
};

static int print_hold(void *ctx, const struct hold *h)
{
	struct list_state *st = ctx;
	char t[PV_RFC3339_LEN], rt[PV_RFC3339_LEN];
	pv_clock_format_rfc3339(h->created_at, t);
	pv_clock_format_rfc3339(h->released_at, rt);
	if (st->json) {
		printf("%s{\"name\": ", st->n ? ", " : "");
		json_print_str(stdout, h->name);
		printf(", \"query\": ");
		json_print_str(stdout, h->query);
		printf(", \"note\": ");
		json_print_str(stdout, h->note);
		printf(", \"placed_at\": \"%s\", \"placed_by\": ", t);
		json_print_str(stdout, h->actor);
		printf(", \"messages\": %lld, \"released_at\": ", (long long)h->members);
		if (h->released_at) {
			printf("\"%s\", \"released_by\": ", rt);
			json_print_str(stdout, h->released_by);
		} else {
			printf("null, \"released_by\": null");
		}
		putchar('}');
	} else {
		printf("%s%s\n  query:    %s\n", st->n ? "\n" : "", h->name, h->query);
		if (h->note[0])
			printf("  note:     %s\n", h->note);
		printf("  placed:   %s by %s\n  messages: %lld held so far (later mail matching the "
		       "query is held too)\n", t, h->actor, (long long)h->members);
		if (h->released_at)
			printf("  released: %s by %s\n", rt, h->released_by);
	}
	st->n++;
	return PV_OK;
}

int cli_hold(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"query", CLI_VALUE, NULL},
				 {"note", CLI_VALUE, NULL},
				 {"all", CLI_FLAG, NULL},
				 {"reason", CLI_VALUE, NULL},
				 {"as-role", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 5, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("hold");
	struct archive *ar = NULL;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos < 1)
		return pv_fail(err, PV_EUSAGE, "hold needs add, list or release");
	const char *sub = args.pos[0];
	bool add = strcmp(sub, "add") == 0, list = strcmp(sub, "list") == 0;
	if (!add && !list && strcmp(sub, "release") != 0)
		return pv_fail(err, PV_EUSAGE, "unknown hold command '%s'", sub);
	if (args.n_pos != (list ? 1 : 2))
		return pv_fail(err, PV_EUSAGE, list ? "hold list takes no arguments"
						    : "hold %s needs exactly one NAME", sub);
	if (!add && (cli_opt(&args, "query") || cli_opt(&args, "note")))
		return pv_fail(err, PV_EUSAGE, "--query and --note go with hold add");
	if (!list && cli_opt(&args, "all"))
		return pv_fail(err, PV_EUSAGE, "--all goes with hold list");
	if ((add || list) && (cli_opt(&args, "reason") || cli_opt(&args, "as-role")))
		return pv_fail(err, PV_EUSAGE, "--reason and --as-role go with hold release");
	if (add && (r = hold_validate(args.pos[1], cli_opt(&args, "query"), cli_opt(&args, "note"),
				      err)) < 0)
		return r;
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	if (add) {
		int64_t members = 0;
		r = hold_add(ar, args.pos[1], cli_opt(&args, "query"), cli_opt(&args, "note"),
			     ctx->actor, pv_clock_now(), &members, err);
		if (r == PV_OK && ctx->json) {
			printf("{\"placed\": ");
			json_print_str(stdout, args.pos[1]);
			printf(", \"messages\": %lld}\n", (long long)members);
		} else if (r == PV_OK) {
			printf("hold '%s' placed: %lld message%s held now; later mail matching the query "
			       "is held too\n", args.pos[1], (long long)members, members == 1 ? "" : "s");
		}
	} else if (list) {
		struct list_state st = {ctx->json, 0};
		if (ctx->json)
			putchar('[');
		r = hold_each(ar, cli_opt(&args, "all") != NULL, print_hold, &st, err);
		if (ctx->json)
			puts("]");
		else if (st.n == 0)
			puts("no active holds");
	} else {
		/* The two-person rule: proposed, released once approved. */
		struct approval_proposal res;
		const char *role = cli_opt(&args, "as-role") ? cli_opt(&args, "as-role") : "legal";
		r = approval_propose(ar, ctx->actor, role, APPROVAL_HOLD_RELEASE, args.pos[1],
				     strlen(args.pos[1]), cli_opt(&args, "reason"), NULL, &res, err);
		if (r == PV_OK && ctx->json)
			printf("{\"approval\": %lld, \"state\": \"pending\"}\n", (long long)res.id);
		else if (r == PV_OK)
			printf("release of hold '%s' proposed as approval %lld: the hold stays in force "
			       "until another user with another role approves it:\n"
			       "  popvault approvals approve %lld --as-role compliance --reason TEXT\n",
			       args.pos[1], (long long)res.id, (long long)res.id);
		approval_proposal_free(&res);
	}
	archive_close(&ar);
	return r;
}
