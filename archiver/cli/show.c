/* popvault show ID [--raw] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/view.h"
#include "archiver/cli/cli.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"

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

static void print_meta(const struct archive_message_meta *m)
{
	char t[PV_RFC3339_LEN];
	pv_clock_format_rfc3339(m->received_at, t);
	printf("Message:   %lld\nAccount:   %s\nUIDL:      %s\nArchived:  %s\nSize:      %llu bytes\n"
	       "SHA-256:   %s\nRetention: %s",
	       (long long)m->id, m->account, m->uidl[0] ? m->uidl : "(none)", t,
	       (unsigned long long)m->size, m->sha256, m->retention_class);
	if (m->expires_at >= 0) {
		pv_clock_format_rfc3339(m->expires_at, t);
		printf(" until %s", t);
	} else {
		printf(" forever");
	}
	printf(" (policy version %lld)\n\n", (long long)m->policy_version);
}

int cli_show(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"raw", CLI_FLAG, NULL}};
	struct cli_args args = {opts, 1, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("show");
	struct archive *ar = NULL;
	struct archive_message_meta meta;
	struct pv_buf text;
	bool truncated;
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
	/* Audited inside, before any content (ARCHITECTURE.md §1.4). */
	if (cli_opt(&args, "raw") != NULL) {
		r = archive_view_raw(ar, ctx->actor, id, 0, write_out, NULL, err);
		archive_close(&ar);
		return r;
	}
	r = archive_view_text(ar, ctx->actor, id, 0, &meta, &text, &truncated, err);
	archive_close(&ar);
	if (meta.id != 0) /* also when the content is gone: what the catalog knows */
		print_meta(&meta);
	if (r == PV_OK) {
		fwrite(text.data ? text.data : (const unsigned char *)"", 1, text.len, stdout);
		if (truncated)
			printf("\n[only the first %d MB are shown; 'show %lld --raw' prints everything]\n",
			       PV_INDEX_RAW_MAX >> 20, (long long)id);
	}
	archive_message_meta_free(&meta);
	pv_buf_free(&text);
	return r;
}
