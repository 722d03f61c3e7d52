/* popvault policy check FILE | set FILE | show [--version N] | list | dry-run
 *                | propose FILE | approve ID | reject ID */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/archive/approvals.h"
#include "archiver/archive/policies.h"

/* Reads FILE (at most PV_POLICY_FILE_MAX bytes). */
static int read_file(const char *path, bool setting, unsigned char **text_r, size_t *len_r,
		     struct pv_error *err)
{
	int r = pv_read_file(path, PV_POLICY_FILE_MAX, text_r, len_r, err);
	if (r == PV_ELIMIT)
		return pv_fail(err, PV_ERR, "%s: a policy file is at most %d bytes (256 KiB)%s", path,
			       PV_POLICY_FILE_MAX, setting ? "; nothing was changed" : "");
	return r;
}

/* Every parse error goes to stderr as "FILE: line L, column C: ...", and
 * err says how many there were. */
static int report_diags(const char *path, bool setting, const struct policy_diags *diags, int r,
			struct pv_error *err)
{
	for (size_t i = 0; i < diags->count; i++) {
		if (diags->item[i].line == 0)
			fprintf(stderr, "%s: %s\n", path, diags->item[i].msg);
		else
			fprintf(stderr, "%s: line %u, column %u: %s\n", path, diags->item[i].line,
				diags->item[i].column, diags->item[i].msg);
	}
	if (diags->truncated)
		fprintf(stderr, "%s: (more errors not shown)\n", path);
	return pv_fail(err, r, "%s: %zu error%s%s%s", path, diags->count,
		       diags->count == 1 ? "" : "s", diags->truncated ? " or more" : "",
		       setting ? "; nothing was changed" : "");
}

static int policy_check(struct cli_ctx *ctx, const char *path, struct pv_error *err)
{
	struct policy_diags *diags = calloc(1, sizeof(*diags));
	struct policy_summary sum;
	unsigned char *text = NULL;
	size_t len;
	int r;

	if (diags == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if ((r = read_file(path, false, &text, &len, err)) < 0)
		goto out;
	if ((r = archive_policy_check(text, len, diags, &sum, err)) < 0) {
		r = report_diags(path, false, diags, r, err);
		goto out;
	}
	if (ctx->json)
		printf("{\"ok\": true, \"rules\": %zu, \"sha256\": \"%s\"}\n", sum.rules, sum.sha256);
	else
		printf("%s: ok, %zu rule%s (default included), sha256 %s\n", path, sum.rules,
		       sum.rules == 1 ? "" : "s", sum.sha256);
out:
	free(text);
	free(diags);
	return r;
}

int cli_policy_print_set(const struct cli_ctx *ctx, const struct policy_set_result *res,
			 bool nested, struct pv_error *err)
{
	const struct retention_reapply_stats *rs = &res->reapply;
	struct policy_impact_row total;
	int r = PV_OK;
	policy_impact_total(res->impact, &total);
	if (ctx->json) {
		printf("{\"version\": %lld, \"sha256\": \"%s\", \"evaluated\": %llu, \"changed\": %llu,"
		       " \"rewrapped\": %llu, \"unreadable\": %llu, \"impact\": [",
		       (long long)res->version, res->sha256, (unsigned long long)rs->evaluated,
		       (unsigned long long)rs->changed, (unsigned long long)rs->rewrapped,
		       (unsigned long long)rs->unreadable);
		for (size_t i = 0; i < policy_impact_rows(res->impact); i++) {
			const struct policy_impact_row *row = policy_impact_row(res->impact, i);
			printf("%s{\"rule\": ", i ? ", " : "");
			json_print_str(stdout, row->rule);
			printf(", \"messages\": %llu, \"shorter\": %llu, \"longer\": %llu, \"unchanged\": %llu,"
			       " \"reclassified\": %llu, \"newly_due\": %llu}",
			       (unsigned long long)row->messages, (unsigned long long)row->shorter,
			       (unsigned long long)row->longer, (unsigned long long)row->unchanged,
			       (unsigned long long)row->reclassified, (unsigned long long)row->newly_due);
		}
		printf(nested ? "]}" : "]}\n");
	} else {
		struct pv_buf out;
		pv_buf_init(&out, 1 << 20);
		printf("policy version %lld set (sha256 %s)\n", (long long)res->version, res->sha256);
		printf("%llu message%s re-evaluated: %llu changed, %llu moved to another key bucket\n\n",
		       (unsigned long long)rs->evaluated, rs->evaluated == 1 ? "" : "s",
		       (unsigned long long)rs->changed, (unsigned long long)rs->rewrapped);
		if ((r = policy_impact_format(res->impact, &out, err)) == PV_OK)
			fputs(pv_buf_str(&out), stdout);
		pv_buf_free(&out);
		if (total.newly_due > 0)
			printf("\n%llu message%s expired under this version: `popvault dispose --dry-run`"
			       " lists them\n", (unsigned long long)total.newly_due,
			       total.newly_due == 1 ? " is" : "s are");
	}
	if (rs->unreadable > 0) {
		fprintf(stderr, "popvault: warning: %llu message%s could not be read and keep%s old "
				"retention (content missing or damaged; run popvault verify):",
			(unsigned long long)rs->unreadable, rs->unreadable == 1 ? "" : "s",
			rs->unreadable == 1 ? "s its" : " their");
		for (uint64_t i = 0; i < rs->unreadable && i < RETENTION_UNREADABLE_LIST; i++)
			fprintf(stderr, " %lld", (long long)rs->unreadable_ids[i]);
		fprintf(stderr, "%s\n", rs->unreadable > RETENTION_UNREADABLE_LIST ? " ..." : "");
	}
	return r;
}

static int policy_set(struct cli_ctx *ctx, struct archive *ar, const char *path,
		      struct pv_error *err)
{
	struct policy_diags *diags = calloc(1, sizeof(*diags));
	struct policy_set_result res;
	unsigned char *text = NULL;
	size_t len;
	int r;

	memset(&res, 0, sizeof(res));
	if (diags == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if ((r = read_file(path, true, &text, &len, err)) < 0)
		goto out;
	/* Audited inside, in the transaction that stores the version. */
	r = archive_policy_set(ar, ctx->actor, text, len, diags, &res, err);
	if (r < 0 && res.invalid)
		r = report_diags(path, true, diags, r, err);
	else if (r == PV_OK && res.unchanged)
		printf("policy unchanged: %s is identical to version %lld\n", path,
		       (long long)res.version);
	else if (r == PV_OK)
		r = cli_policy_print_set(ctx, &res, false, err);
out:
	policy_set_result_free(&res);
	free(text);
	free(diags);
	return r;
}

/* popvault policy propose FILE: a version that shortens retention waits
 * for a second person; one that does not is set at once. */
static void print_preview(const struct cli_ctx *ctx, const struct policy_preview *pv)
{
	struct policy_impact_row total;
	policy_impact_total(pv->impact, &total);
	if (ctx->json) {
		printf("\"shortens\": %s, \"messages\": %llu, \"changed\": %llu, \"earlier\": %llu,"
		       " \"due_now\": %llu, \"newly_due\": %llu", pv->shortens ? "true" : "false",
		       (unsigned long long)pv->messages, (unsigned long long)pv->changed,
		       (unsigned long long)pv->earlier, (unsigned long long)pv->due_now,
		       (unsigned long long)total.newly_due);
		return;
	}
	struct pv_buf out;
	pv_buf_init(&out, 1 << 20);
	printf("against policy version %lld: %llu of %llu messages would change class or expiry, "
	       "%llu expire earlier, %llu become due for disposal (%llu due in all)\n",
	       (long long)pv->base_version, (unsigned long long)pv->changed,
	       (unsigned long long)pv->messages, (unsigned long long)pv->earlier,
	       (unsigned long long)total.newly_due, (unsigned long long)pv->due_now);
	if (pv->rules.shortens)
		printf("the rules shorten retention: %s\n", pv->rules.why);
	if (policy_impact_format(pv->impact, &out, NULL) == PV_OK)
		fputs(pv_buf_str(&out), stdout);
	pv_buf_free(&out);
}

static int policy_propose(struct cli_ctx *ctx, struct archive *ar, const char *path,
			  const struct cli_args *args, struct pv_error *err)
{
	struct policy_diags *diags = calloc(1, sizeof(*diags));
	const char *role = cli_opt(args, "as-role") ? cli_opt(args, "as-role") : "admin";
	struct approval_proposal res;
	unsigned char *text = NULL;
	size_t len;
	int r;

	memset(&res, 0, sizeof(res));
	if (diags == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if ((r = read_file(path, true, &text, &len, err)) < 0)
		goto out;
	r = approval_propose(ar, ctx->actor, role, APPROVAL_POLICY, text, len, cli_opt(args, "reason"),
			     diags, &res, err);
	if (r < 0 && (res.preview.invalid || res.set.invalid)) {
		r = report_diags(path, true, diags, r, err);
	} else if (r == PV_OK && res.applied) {
		if (!ctx->json)
			printf("%s shortens no retention: no approval needed, set at once\n", path);
		r = cli_policy_print_set(ctx, &res.set, false, err);
	} else if (r == PV_OK && ctx->json) {
		printf("{\"approval\": %lld, \"sha256\": \"%s\", \"base\": %lld, ", (long long)res.id,
		       res.preview.sha256, (long long)res.preview.base_version);
		print_preview(ctx, &res.preview);
		puts("}");
	} else if (r == PV_OK) {
		print_preview(ctx, &res.preview);
		printf("\n%s shortens retention: proposed as approval %lld; it takes effect once "
		       "another user with another role approves it:\n"
		       "  popvault approvals approve %lld --as-role compliance --reason TEXT\n",
		       path, (long long)res.id, (long long)res.id);
	}
out:
	approval_proposal_free(&res);
	free(text);
	free(diags);
	return r;
}

static int policy_show(struct cli_ctx *ctx, struct archive *ar, const struct cli_args *args,
		       struct pv_error *err)
{
	struct policy_version_info info;
	unsigned char *text;
	size_t len;
	long long v;
	int r;

	if ((r = cli_opt_int(args, "version", 0, 1, INT64_MAX, &v, err)) < 0 ||
	    (r = archive_policy_get(ar, v, &text, &len, &info, err)) < 0)
		return r;
	if (ctx->json) {
		char t[PV_RFC3339_LEN];
		pv_clock_format_rfc3339(info.created_at, t);
		printf("{\"version\": %lld, \"sha256\": \"%s\", \"created_at\": \"%s\", \"actor\": ",
		       (long long)info.version, info.sha256, t);
		json_print_str(stdout, info.actor);
		printf(", \"text\": ");
		json_print_strn(stdout, (const char *)text, len);
		printf("}\n");
	} else {
		fwrite(text, 1, len, stdout); /* exactly the stored file */
	}
	free(text);
	return PV_OK;
}

struct list_state {
	bool json;
	int n;
	int64_t current;
};

static int print_version(void *ctx, const struct policy_version_info *v)
{
	struct list_state *st = ctx;
	char t[PV_RFC3339_LEN];
	pv_clock_format_rfc3339(v->created_at, t);
	if (st->json) {
		printf("%s{\"version\": %lld, \"sha256\": \"%s\", \"created_at\": \"%s\", \"actor\": ",
		       st->n ? ", " : "", (long long)v->version, v->sha256, t);
		json_print_str(stdout, v->actor);
		putchar('}');
	} else {
		if (st->n == 0)
			printf("%-8s %-20s %-16s %s\n", "VERSION", "SET", "BY", "SHA-256");
		printf("%-8lld %-20s %-16s %s%s\n", (long long)v->version, t, v->actor, v->sha256,
		       v->version == st->current ? "  (in force)" : "");
	}
	st->n++;
	return PV_OK;
}

int cli_policy(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"version", CLI_VALUE, NULL},
				 {"reason", CLI_VALUE, NULL},
				 {"as-role", CLI_VALUE, NULL},
				 {"break-glass", CLI_FLAG, NULL}};
	struct cli_args args = {opts, 4, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("policy");
	struct archive *ar = NULL;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos < 1)
		return pv_fail(err, PV_EUSAGE, "policy needs check, set, show, list, dry-run, propose, "
					       "approve or reject");
	const char *sub = args.pos[0];
	bool decide = strcmp(sub, "approve") == 0 || strcmp(sub, "reject") == 0;
	bool propose = strcmp(sub, "propose") == 0;
	bool with_file = strcmp(sub, "check") == 0 || strcmp(sub, "set") == 0 || propose;
	if (!with_file && !decide && strcmp(sub, "show") != 0 && strcmp(sub, "list") != 0 &&
	    strcmp(sub, "dry-run") != 0)
		return pv_fail(err, PV_EUSAGE, "unknown policy command '%s'", sub);
	if (args.n_pos != (with_file || decide ? 2 : 1))
		return pv_fail(err, PV_EUSAGE, with_file ? "policy %s needs exactly one FILE"
					       : decide ? "policy %s needs exactly one approval ID"
							: "policy %s takes no arguments", sub);
	if (cli_opt(&args, "version") != NULL && strcmp(sub, "show") != 0)
		return pv_fail(err, PV_EUSAGE, "--version goes with policy show");
	if (!decide && !propose && (cli_opt(&args, "reason") || cli_opt(&args, "as-role")))
		return pv_fail(err, PV_EUSAGE, "--reason and --as-role go with propose, approve and "
					       "reject");
	if (!decide && cli_opt(&args, "break-glass"))
		return pv_fail(err, PV_EUSAGE, "--break-glass goes with policy approve");
	if (decide)
		return cli_approval_decide(ctx, &args, args.pos[1], strcmp(sub, "approve") == 0, err);
	if (strcmp(sub, "check") == 0) /* needs no archive */
		return policy_check(ctx, args.pos[1], err);
	if (strcmp(sub, "dry-run") == 0)
		return cli_dispose_report(ctx, true, err);
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	if (strcmp(sub, "set") == 0) {
		r = policy_set(ctx, ar, args.pos[1], err);
	} else if (propose) {
		r = policy_propose(ctx, ar, args.pos[1], &args, err);
	} else if (strcmp(sub, "show") == 0) {
		r = policy_show(ctx, ar, &args, err);
	} else {
		struct list_state st = {ctx->json, 0, 0};
		if (ctx->json)
			putchar('[');
		r = archive_policy_list(ar, &st.current, print_version, &st, err);
		if (ctx->json)
			puts("]");
		else if (st.n == 0)
			puts("no policy set: mail is kept 6 years (set one with 'popvault policy set FILE')");
	}
	archive_close(&ar);
	return r;
}
