/* popvault verify-bundle FILE --vkey VKEY [--vkey VKEY] [--last-checkpoint F]
 *                       [--tsa-ca FILE [--tsa-crl FILE]] [--witness VKEY]...
 *                       [--witness-quorum K]
 *
 * Offline: no data directory, no configuration. Trusts only the keys given
 * on the command line (never keys inside the bundle). The bundle's BUNDLE
 * member names its kind; each kind has its verifier in the table below
 * (add a row for a new kind). Exit 3 when anything fails. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/export/ediscovery.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "audit/auditbundle.h"
#include "audit/bundle.h"

typedef int (*bundle_verify_fn)(struct bundle *b, const struct note_verifier *keys, size_t nkeys,
				const char *last_cp, size_t last_len,
				const struct bundle_policy *pol, struct bundle_report *rep,
				struct pv_error *err);

static const struct {
	const char *kind;
	bundle_verify_fn verify;
} verifiers[] = {
	{AUDITBUNDLE_KIND, auditbundle_verify},
	{EDISCOVERY_KIND, ediscovery_verify},
};

#define LINES_PRINTED_MAX 500

struct out {
	bool json;
	uint64_t printed;
	struct pv_buf problems; /* JSON array items, for --json */
};

static void line_cb(void *ctx, bool problem, const char *msg)
{
	struct out *o = ctx;
	struct pv_error err;
	if (o->printed++ >= LINES_PRINTED_MAX)
		return;
	if (!o->json) {
		printf("%s%s\n", problem ? "FAIL: " : "", msg);
		return;
	}
	if (!problem)
		return;
	if (o->problems.len > 0)
		(void)pv_buf_append_str(&o->problems, ", ", &err);
	/* A JSON string by hand: the messages are ASCII we wrote. */
	(void)pv_buf_append_str(&o->problems, "\"", &err);
	for (const char *p = msg; *p; p++) {
		if (*p == '"' || *p == '\\')
			(void)pv_buf_printf(&o->problems, &err, "\\%c", *p);
		else if ((unsigned char)*p < 0x20)
			(void)pv_buf_printf(&o->problems, &err, "\\u%04x", *p);
		else
			(void)pv_buf_append(&o->problems, p, 1, &err);
	}
	(void)pv_buf_append_str(&o->problems, "\"", &err);
}

int cli_verify_bundle(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"vkey", CLI_VALUE, NULL}, {"last-checkpoint", CLI_VALUE, NULL},
				 {"tsa-ca", CLI_VALUE, NULL}, {"tsa-crl", CLI_VALUE, NULL},
				 {"witness", CLI_VALUE, NULL}, {"witness-quorum", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 6, {0}, 0, false};
	struct cli_keys wk = {0};
	long long quorum;
	struct bundle_policy pol = {NULL, NULL, 0, 0, NULL};
	const struct cli_command *cmd = cli_find_command("verify-bundle");
	struct cli_keys vk = {0};
	size_t given;
	struct bundle *b = NULL;
	struct out o = {ctx->json, 0, {0}};
	struct bundle_report rep = {line_cb, &o, 0, 0};
	unsigned char *last = NULL;
	size_t last_len = 0;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 1)
		return pv_fail(err, PV_EUSAGE, "verify-bundle needs one bundle FILE");
	if ((r = cli_key_options(argc, argv, "vkey", cli_note_key, &vk, &given, err)) < 0)
		return r;
	if ((r = cli_key_options(argc, argv, "witness", cli_cosig_key, &wk, &given, err)) < 0 ||
	    (r = cli_opt_int(&args, "witness-quorum", (long long)wk.n, 1, CLI_KEYS_MAX, &quorum,
			     err)) < 0)
		return r;
	if ((size_t)quorum > wk.n)
		return pv_fail(err, PV_EUSAGE, "--witness-quorum %lld: only %zu --witness keys given",
			       quorum, wk.n);
	pol.witnesses = wk.cosig;
	pol.n_witnesses = wk.n;
	pol.quorum = (unsigned)quorum;
	const struct note_verifier *keys = vk.note;
	size_t nkeys = vk.n;
	if (nkeys == 0)
		return pv_fail(err, PV_EUSAGE,
			       "verify-bundle needs --vkey VKEY: the verifier key you hold (printed "
			       "by popvault init); keys inside the bundle are never trusted");
	if ((pol.tsa_ca_file = cli_opt(&args, "tsa-ca")) != NULL &&
	    (r = pv_cert_file_check("--tsa-ca", pol.tsa_ca_file, err)) < 0)
		return r;
	if ((pol.tsa_crl_file = cli_opt(&args, "tsa-crl")) != NULL) {
		if (pol.tsa_ca_file == NULL)
			return pv_fail(err, PV_EUSAGE, "--tsa-crl goes with --tsa-ca (the CRL is "
						       "checked with the TSA's CA certificate)");
		if (access(pol.tsa_crl_file, R_OK) != 0)
			return pv_fail(err, PV_EUSAGE, "--tsa-crl %s: cannot be read",
				       pol.tsa_crl_file);
	}
	const char *lf = cli_opt(&args, "last-checkpoint");
	if (lf != NULL && (r = pv_read_file(lf, PV_NOTE_MAX, &last, &last_len, err)) < 0)
		return r;
	pv_buf_init(&o.problems, 1024 * 1024);
	/* The lists that grow with the bundle (members, messages) are big
	 * blocks: mapped on their own, they grow in place and go back to the
	 * system when freed, instead of leaving copies behind in the heap
	 * (glibc raises this threshold as such blocks are freed). */
	(void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	r = bundle_open_file(args.pos[0], &b, err);
	if (r == PV_EINTEGRITY || r == PV_ELIMIT) {
		bundle_problem(&rep, "%s", err->msg);
	} else if (r < 0) {
		goto out;
	} else {
		const char *kind = bundle_kind(b);
		bundle_verify_fn fn = NULL;
		for (size_t i = 0; kind && i < sizeof(verifiers) / sizeof(*verifiers); i++)
			if (strcmp(kind, verifiers[i].kind) == 0)
				fn = verifiers[i].verify;
		if (fn == NULL) {
			bundle_problem(&rep, "%s: %s", args.pos[0],
				       kind ? "a bundle of a kind this popvault does not know"
					    : "not a popvault bundle (no valid BUNDLE member)");
			if (kind == NULL && bundle_check_manifest(b, keys, nkeys, NULL, &rep) != 0) {
				/* the manifest problems are reported too */
			}
		} else {
			bundle_info(&rep, "%s: a popvault %s bundle", args.pos[0], kind);
			r = fn(b, keys, nkeys, (const char *)last, last_len, &pol, &rep, err);
			if (r < 0 && r != PV_EINTEGRITY)
				goto out;
		}
	}
	if (o.printed > LINES_PRINTED_MAX && !ctx->json)
		printf("(%llu more lines not shown)\n",
		       (unsigned long long)(o.printed - LINES_PRINTED_MAX));
	if (ctx->json)
		printf("{\"ok\": %s, \"kind\": %s%s%s, \"problems\": %llu, \"warnings\": %llu, "
		       "\"failures\": [%s]}\n",
		       rep.problems ? "false" : "true", b && bundle_kind(b) ? "\"" : "",
		       b && bundle_kind(b) ? bundle_kind(b) : "null", b && bundle_kind(b) ? "\"" : "",
		       (unsigned long long)rep.problems, (unsigned long long)rep.warnings,
		       pv_buf_str(&o.problems));
	else
		printf("verify-bundle: %s\n", rep.problems ? "FAILED" : "OK");
	r = rep.problems ? pv_fail(err, PV_EINTEGRITY, "%s does not verify: %llu problem%s",
				   args.pos[0], (unsigned long long)rep.problems,
				   rep.problems == 1 ? "" : "s")
			 : 0;
out:
	bundle_free(&b);
	free(last);
	pv_buf_free(&o.problems);
	return r;
}
