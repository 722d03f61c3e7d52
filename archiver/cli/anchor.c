/* popvault anchor [--log archive|audit] [--tsa URL --tsa-ca FILE] [--no-tsa]
 *                 [--no-witnesses] [--json] */
#include <stdio.h>
#include <string.h>

#include "archiver/archive/anchor.h"
#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/lib/clock.h"

static void print_result(const struct cli_ctx *ctx, const struct anchor_result *res, bool first)
{
	if (ctx->json) {
		printf("%s{\"log\": \"%s\", \"size\": %llu, \"checkpoint\": %llu, \"parties\": [",
		       first ? "" : ", ", res->log, (unsigned long long)res->size,
		       (unsigned long long)res->checkpoint_seq);
		for (size_t i = 0; i < res->n_parties; i++) {
			const struct anchor_party *p = &res->parties[i];
			printf("%s{\"party\": ", i ? ", " : "");
			json_print_str(stdout, p->name);
			printf(", \"ok\": %s, \"time\": %lld, \"detail\": ", p->status ? "false" : "true",
			       (long long)p->time);
			json_print_str(stdout, p->detail);
			printf(", \"error\": ");
			json_print_str(stdout, p->error);
			putchar('}');
		}
		printf("]}");
		return;
	}
	printf("%s log, checkpoint %llu (%llu entries):\n", res->log,
	       (unsigned long long)res->checkpoint_seq, (unsigned long long)res->size);
	for (size_t i = 0; i < res->n_parties; i++) {
		const struct anchor_party *p = &res->parties[i];
		if (p->status == PV_OK)
			printf("  %s: ok, %s\n", p->name, p->detail);
		else
			printf("  %s: FAILED: %s\n", p->name, p->error);
	}
}

int cli_anchor(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"log", CLI_VALUE, NULL},     {"tsa", CLI_VALUE, NULL},
				 {"tsa-ca", CLI_VALUE, NULL},  {"no-tsa", CLI_FLAG, NULL},
				 {"no-witnesses", CLI_FLAG, NULL}};
	struct cli_args args = {opts, 5, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("anchor");
	const char *logs[2] = {ARCHIVE_LOG, AUDIT_LOG};
	struct archive *ar = NULL;
	struct anchor_result res;
	struct pv_error e;
	size_t n = 2;
	int r, first = PV_OK;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "anchor takes no arguments");
	const char *log = cli_opt(&args, "log");
	if (log != NULL) {
		if (strcmp(log, ARCHIVE_LOG) != 0 && strcmp(log, AUDIT_LOG) != 0)
			return pv_fail(err, PV_EUSAGE, "--log must be archive or audit");
		logs[0] = log;
		n = 1;
	}
	struct anchor_opts o = {cli_opt(&args, "tsa"), cli_opt(&args, "tsa-ca"),
				cli_opt(&args, "no-tsa") != NULL,
				cli_opt(&args, "no-witnesses") != NULL};
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	if (ctx->json)
		printf("{\"logs\": [");
	for (size_t i = 0; i < n; i++) {
		r = archive_anchor(ar, logs[i], ctx->actor, &o, &res, &e);
		if (r == PV_EUSAGE && res.n_parties == 0) {
			first = r;
			*err = e;
			break;
		}
		print_result(ctx, &res, i == 0);
		if (r < 0 && first == PV_OK) {
			first = r;
			*err = e;
		}
	}
	if (ctx->json)
		printf("]}\n");
	archive_close(&ar);
	return first;
}
