/* popvault approvals [list [--all]] | show ID | approve ID | reject ID
 * (and policy approve|reject ID): the two-person rule on the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/approvals.h"
#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/number.h"

static int parse_id(const char *s, int64_t *id_r, struct pv_error *err)
{
	uint64_t v;
	if (pv_parse_u64(s, strlen(s), 1, INT64_MAX, 0, &v) != 0)
		return pv_fail(err, PV_EUSAGE, "'%s' is not an approval number", s);
	*id_r = (int64_t)v;
	return PV_OK;
}

static void json_opt(const char *key, const char *v, bool last)
{
	printf("\"%s\": ", key);
	if (v[0])
		json_print_str(stdout, v);
	else
		fputs("null", stdout);
	fputs(last ? "" : ", ", stdout);
}

static void json_time(const char *key, int64_t t)
{
	char s[PV_RFC3339_LEN];
	pv_clock_format_rfc3339(t, s);
	if (t)
		printf("\"%s\": \"%s\", ", key, s);
	else
		printf("\"%s\": null, ", key);
}

static void print_row_json(const struct approval_row *a)
{
	printf("{\"id\": %lld, \"kind\": \"%s\", \"state\": \"%s\", \"summary\": ", (long long)a->id,
	       a->kind, a->state);
	json_print_str(stdout, a->summary);
	printf(", \"sha256\": \"%s\", ", a->payload_sha256);
	json_opt("proposer", a->proposer, false);
	json_opt("proposer_role", a->proposer_role, false);
	json_opt("reason", a->reason, false);
	json_time("created_at", a->created_at);
	json_opt("decided_by", a->decided_by, false);
	json_opt("decided_role", a->decided_role, false);
	json_opt("decision_reason", a->decision_reason, false);
	json_time("decided_at", a->decided_at);
	printf("\"break_glass\": %s, ", a->break_glass ? "true" : "false");
	json_opt("result", a->result, true);
	putchar('}');
}

static void print_row_text(const struct approval_row *a)
{
	char t[PV_RFC3339_LEN];
	pv_clock_format_rfc3339(a->created_at, t);
	printf("approval %lld: %s, %s\n  %s\n  proposed: %s by %s as %s%s%s\n", (long long)a->id,
	       a->kind, a->state, a->summary, t, a->proposer, a->proposer_role,
	       a->reason[0] ? ": " : "", a->reason);
	if (a->decided_at) {
		pv_clock_format_rfc3339(a->decided_at, t);
		printf("  %s: %s by %s as %s%s%s%s\n", a->state, t, a->decided_by, a->decided_role,
		       a->break_glass ? " (BREAK-GLASS)" : "", a->decision_reason[0] ? ": " : "",
		       a->decision_reason);
	}
	if (a->result[0])
		printf("  result:   %s\n", a->result);
}

struct list_state {
	bool json;
	int n;
};

static int print_one(void *ctx, const struct approval_row *a)
{
	struct list_state *st = ctx;
	if (st->json) {
		fputs(st->n ? ", " : "", stdout);
		print_row_json(a);
	} else {
		fputs(st->n ? "\n" : "", stdout);
		print_row_text(a);
	}
	st->n++;
	return 0;
}

static int list(struct cli_ctx *ctx, struct archive *ar, bool all, struct pv_error *err)
{
	struct list_state st = {ctx->json, 0};
	if (ctx->json)
		putchar('[');
	int r = approval_list(ar, all ? NULL : "pending", 0, 0, print_one, &st, NULL, err);
	if (ctx->json)
		puts("]");
	else if (st.n == 0)
		puts(all ? "no approvals" : "no pending approvals");
	return r;
}

static int show(struct cli_ctx *ctx, struct archive *ar, const char *arg, struct pv_error *err)
{
	struct approval_row a;
	int64_t id;
	int r;
	if ((r = parse_id(arg, &id, err)) < 0 || (r = approval_get(ar, id, true, &a, err)) < 0)
		return r;
	if (ctx->json) {
		print_row_json(&a);
		putchar('\n');
	} else {
		print_row_text(&a);
		printf("--- what is proposed (sha256 %s):\n", a.payload_sha256);
		fwrite(a.payload, 1, a.payload_len, stdout);
		if (a.payload_len > 0 && a.payload[a.payload_len - 1] != '\n')
			putchar('\n');
	}
	approval_row_free(&a);
	return PV_OK;
}

/* What an approval did, as the command that used to do it printed it. */
static int print_outcome(const struct cli_ctx *ctx, const struct approval_outcome *o, bool approve,
			 struct pv_error *err)
{
	const struct approval_row *a = &o->row;
	int r = PV_OK;
	if (ctx->json) {
		printf("{\"approval\": ");
		print_row_json(a);
		if (approve && strcmp(a->kind, "policy") == 0) {
			printf(", \"policy\": ");
			r = cli_policy_print_set(ctx, &o->set, true, err);
		} else if (o->run.completed) {
			printf(", \"disposal\": ");
			cli_dispose_print_run(ctx, &o->run, false, true);
		}
		puts("}");
		return r;
	}
	if (!approve)
		printf("approval %lld rejected: %s\n", (long long)a->id, a->summary);
	else if (strcmp(a->kind, "policy") == 0)
		r = cli_policy_print_set(ctx, &o->set, false, err);
	else if (strcmp(a->kind, "hold-release") == 0)
		printf("hold '%.*s' released (approval %lld): its messages follow the retention "
		       "policy again\n", (int)a->payload_len, (const char *)a->payload,
		       (long long)a->id);
	else if (strcmp(a->kind, "user-access") == 0)
		printf("%.*s may sign in (approval %lld)\n", (int)a->payload_len,
		       (const char *)a->payload, (long long)a->id);
	else if (o->run.completed)
		cli_dispose_print_run(ctx, &o->run, false, false);
	return r;
}

int cli_approval_decide(struct cli_ctx *ctx, const struct cli_args *args, const char *arg,
			bool approve, struct pv_error *err)
{
	const char *role = cli_opt(args, "as-role"), *reason = cli_opt(args, "reason");
	bool glass = cli_opt(args, "break-glass") != NULL;
	struct approval_outcome out;
	struct archive *ar = NULL;
	int64_t id;
	int r;

	memset(&out, 0, sizeof(out));
	if ((r = parse_id(arg, &id, err)) < 0)
		return r;
	if (glass && !approve)
		return pv_fail(err, PV_EUSAGE, "--break-glass goes with approve");
	if (approve && !glass && role == NULL)
		return pv_fail(err, PV_EUSAGE, "say which role you approve as: --as-role compliance|legal "
					       "(or, alone on this appliance, --break-glass --reason TEXT)");
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	r = approval_decide(ar, ctx->actor, role, id, approve, reason, glass, &out, err);
	archive_close(&ar);
	if (out.row.id != 0) {
		int pr = print_outcome(ctx, &out, approve, err);
		r = r < 0 ? r : pr;
	}
	if (glass && out.row.id != 0 && out.row.break_glass)
		fprintf(stderr, "popvault: WARNING: break-glass: approval %lld (%s) was approved by %s "
				"without a second person; the audit log records it as a break-glass "
				"entry\n", (long long)id, out.row.kind, ctx->actor);
	approval_outcome_free(&out);
	return r;
}

int cli_approvals(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"all", CLI_FLAG, NULL},
				 {"as-role", CLI_VALUE, NULL},
				 {"reason", CLI_VALUE, NULL},
				 {"break-glass", CLI_FLAG, NULL}};
	struct cli_args args = {opts, 4, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("approvals");
	struct archive *ar = NULL;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	const char *sub = args.n_pos > 0 ? args.pos[0] : "list";
	bool list_cmd = strcmp(sub, "list") == 0, decide = strcmp(sub, "approve") == 0 ||
							   strcmp(sub, "reject") == 0;
	if (!list_cmd && !decide && strcmp(sub, "show") != 0)
		return pv_fail(err, PV_EUSAGE, "unknown approvals command '%s'", sub);
	if (args.n_pos != (list_cmd ? (args.n_pos ? 1 : 0) : 2))
		return pv_fail(err, PV_EUSAGE, list_cmd ? "approvals list takes no arguments"
							: "approvals %s needs exactly one ID", sub);
	if (!list_cmd && cli_opt(&args, "all"))
		return pv_fail(err, PV_EUSAGE, "--all goes with approvals list");
	if (!decide && (cli_opt(&args, "as-role") || cli_opt(&args, "reason") ||
			cli_opt(&args, "break-glass")))
		return pv_fail(err, PV_EUSAGE, "--as-role, --reason and --break-glass go with approve "
					       "and reject");
	if (decide)
		return cli_approval_decide(ctx, &args, args.pos[1], strcmp(sub, "approve") == 0, err);
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	r = list_cmd ? list(ctx, ar, cli_opt(&args, "all") != NULL, err)
		     : show(ctx, ar, args.pos[1], err);
	archive_close(&ar);
	return r;
}
