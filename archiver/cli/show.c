/* popvault show ID [--raw] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/cli/cli.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/clock.h"
#include "archiver/index/mime.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/store/message.h"

static int write_out(void *ctx, const unsigned char *data, size_t len, struct pv_error *err)
{
	(void)ctx;
	if (fwrite(data, 1, len, stdout) != len)
		return pv_fail(err, PV_ERR, "write: %s", strerror(errno));
	return PV_OK;
}

int cli_parse_message_id(const char *s, int64_t *id_r, struct pv_error *err)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < 1)
		return pv_fail(err, PV_EUSAGE, "'%s' is not a message id (a positive integer)", s);
	*id_r = v;
	return PV_OK;
}

int cli_show(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"raw", CLI_FLAG, NULL}};
	struct cli_args args = {opts, 1, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("show");
	struct archive *ar = NULL;
	struct stored_message m;
	int64_t id;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 1)
		return pv_fail(err, PV_EUSAGE, "show needs one message ID");
	if ((r = cli_parse_message_id(args.pos[0], &id, err)) < 0)
		return r;
	if ((r = archive_open(ctx->data_dir, &ar, err)) < 0)
		return r;
	if ((r = message_load(ar->cat->db, id, &m, err)) < 0)
		goto out;
	/* Audit first (DESIGN.md §1.4): no entry, no content. */
	if ((r = archive_auditf(ar, ctx->actor, AUDIT_VIEW, "ok", NULL, err, "message=%lld%s",
				(long long)id, cli_opt(&args, "raw") ? " raw=yes" : "")) < 0)
		goto out;
	if (cli_opt(&args, "raw") != NULL) {
		r = message_read(ar, &m, write_out, NULL, err);
		goto out;
	}
	char t[PV_RFC3339_LEN], sha[65];
	pv_clock_format_rfc3339(m.received_at, t);
	pv_hex(m.sha256, 32, sha);
	printf("Message:   %lld\nAccount:   %s\nUIDL:      %s\nArchived:  %s\nSize:      %llu bytes\n"
	       "SHA-256:   %s\nRetention: %s",
	       (long long)m.id, m.account, m.uidl[0] ? m.uidl : "(none)", t,
	       (unsigned long long)m.size, sha, m.class_name);
	if (m.expires_at >= 0) {
		pv_clock_format_rfc3339(m.expires_at, t);
		printf(" until %s", t);
	} else {
		printf(" forever");
	}
	printf(" (policy version %lld)\n\n", (long long)m.policy_version);
	struct pv_buf raw, text;
	pv_buf_init(&raw, PV_INDEX_RAW_MAX);
	pv_buf_init(&text, 4 * PV_INDEX_RAW_MAX);
	if ((r = message_read(ar, &m, blob_sink_prefix, &raw, err)) == PV_OK &&
	    (r = index_mime_show(raw.data ? raw.data : (const unsigned char *)"", raw.len, &text, err)) == PV_OK) {
		fwrite(text.data ? text.data : (const unsigned char *)"", 1, text.len, stdout);
		if (raw.len == raw.max)
			printf("\n[only the first %d MB are shown; 'show %lld --raw' prints everything]\n",
			       PV_INDEX_RAW_MAX >> 20, (long long)m.id);
	}
	pv_buf_free(&raw);
	pv_buf_free(&text);
out:
	archive_close(&ar);
	return r;
}
