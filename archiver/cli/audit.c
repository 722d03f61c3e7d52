/* popvault audit list|export */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/archive/audit_trail.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/progress.h"

/* --since/--until (archive_audit_time). */
static int time_opt(const struct cli_args *args, const char *name, bool until, int64_t def,
		    int64_t *t_r, struct pv_error *err)
{
	const char *v = cli_opt(args, name);
	int r;
	*t_r = def;
	if (v != NULL && (r = archive_audit_time(v, until, t_r, err)) < 0) {
		pv_error_prefix(err, "--%s", name);
		return r;
	}
	return 0;
}

struct list_out {
	bool json;
	uint64_t n;
	struct pv_buf line;
};

static void print_text(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7F)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static int list_one(void *ctx, const struct audit_entry *e, const char *personal, size_t plen)
{
	struct list_out *o = ctx;
	struct pv_error err;
	char t[PV_RFC3339_LEN] = "-";
	if (o->json) {
		pv_buf_reset(&o->line);
		if (auditlog_entry_json(e, personal, plen, &o->line, &err) < 0)
			return 2; /* positive: stops the listing */
		fwrite(o->line.data, 1, o->line.len, stdout);
	} else {
		if (o->n == 0)
			printf("%-8s %-20s %-20s %-26s %s\n", "SEQ", "TIME", "ACTOR", "TYPE",
			       "OBJECT -> OUTCOME");
		if (e->time >= 0)
			pv_clock_format_rfc3339(e->time, t);
		printf("%-8llu %-20s %-20s %-26s ", (unsigned long long)e->seq, t, e->actor, e->type);
		print_text(e->object, strlen(e->object));
		fputs(" -> ", stdout);
		print_text(e->outcome, strlen(e->outcome));
		putchar('\n');
		if (personal != NULL) {
			fputs("         personal: ", stdout);
			print_text(personal, plen);
			putchar('\n');
		}
	}
	o->n++;
	return 0;
}

static int audit_list(struct cli_ctx *ctx, struct archive *ar, const struct cli_args *args,
		      struct pv_error *err)
{
	struct archive_audit_query q = {{INT64_MIN, INT64_MAX, cli_opt(args, "actor"),
					 cli_opt(args, "type")}, 0, 0, cli_opt(args, "object")};
	struct list_out o = {ctx->json, 0, {0}};
	int r;
	if ((r = time_opt(args, "since", false, INT64_MIN, &q.filter.since, err)) < 0 ||
	    (r = time_opt(args, "until", true, INT64_MAX, &q.filter.until, err)) < 0)
		return r;
	pv_buf_init(&o.line, 8 * (PV_TLOG_ENTRY_MAX + PV_AUDIT_PERSONAL_MAX));
	r = archive_audit_list(ar, &q, list_one, &o, NULL, err);
	pv_buf_free(&o.line);
	if (r > 0)
		r = pv_fail(err, PV_ERR, "audit list: output failed");
	if (r == 0 && !ctx->json && o.n == 0)
		puts("no audit entries match");
	return r;
}

static int audit_export(struct cli_ctx *ctx, struct archive *ar, const struct cli_args *args,
			struct pv_error *err)
{
	const char *out = cli_opt(args, "out");
	bool personal = cli_opt(args, "no-personal") == NULL;
	int64_t since, until;
	struct auditbundle_summary s;
	int r;
	if (out == NULL)
		return pv_fail(err, PV_EUSAGE, "audit export needs --out FILE (.tar.gz or .zip)");
	if ((r = time_opt(args, "since", false, INT64_MIN, &since, err)) < 0 ||
	    (r = time_opt(args, "until", true, INT64_MAX, &until, err)) < 0)
		return r;
	struct pv_meter meter;
	bool meter_on = cli_progress_wanted(ctx);
	if (meter_on) {
		pv_meter_init(&meter, stderr, "audit export", "entries");
		ar->progress = pv_meter_progress(&meter);
	}
	/* Audited inside: the export's entry first, fail closed. */
	r = archive_audit_export(ar, ctx->actor, out, since, until, personal, &s, err);
	if (meter_on)
		pv_meter_end(&meter);
	if (r < 0)
		return r;
	if (ctx->json) {
		printf("{\"out\": ");
		json_print_str(stdout, out);
		printf(", \"first\": %llu, \"end\": %llu, \"export_seq\": %llu, \"size\": %llu, "
		       "\"entries\": %llu, \"personal\": %llu}\n",
		       (unsigned long long)s.lo, (unsigned long long)s.hi,
		       (unsigned long long)(s.size - 1), (unsigned long long)s.size,
		       (unsigned long long)s.entries, (unsigned long long)s.personal);
	} else {
		printf("wrote %s: %llu audit entr%s", out, (unsigned long long)(s.hi - s.lo),
		       s.hi - s.lo == 1 ? "y" : "ies");
		if (s.hi > s.lo)
			printf(" (seq %llu to %llu)", (unsigned long long)s.lo,
			       (unsigned long long)(s.hi - 1));
		printf(" and this export (seq %llu), signed at log size %llu%s\n"
		       "check it with: popvault verify-bundle %s --vkey AUDIT-VKEY\n",
		       (unsigned long long)(s.size - 1), (unsigned long long)s.size,
		       personal ? "" : "; personal data left out", out);
	}
	return 0;
}

int cli_audit(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {
		{"since", CLI_VALUE, NULL}, {"until", CLI_VALUE, NULL},
		{"actor", CLI_VALUE, NULL}, {"type", CLI_VALUE, NULL},
		{"out", CLI_VALUE, NULL},   {"no-personal", CLI_FLAG, NULL},
		{"object", CLI_VALUE, NULL},
	};
	struct cli_args args = {opts, sizeof(opts) / sizeof(opts[0]), {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("audit");
	struct archive *ar = NULL;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 1 || (strcmp(args.pos[0], "list") != 0 && strcmp(args.pos[0], "export") != 0))
		return pv_fail(err, PV_EUSAGE, "audit needs list or export");
	bool list = strcmp(args.pos[0], "list") == 0;
	if (list && (cli_opt(&args, "out") || cli_opt(&args, "no-personal")))
		return pv_fail(err, PV_EUSAGE, "--out and --no-personal are for audit export");
	if (!list && (cli_opt(&args, "actor") || cli_opt(&args, "type") || cli_opt(&args, "object")))
		return pv_fail(err, PV_EUSAGE, "--actor, --type and --object are for audit list");
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	r = list ? audit_list(ctx, ar, &args, err) : audit_export(ctx, ar, &args, err);
	archive_close(&ar);
	return r;
}
