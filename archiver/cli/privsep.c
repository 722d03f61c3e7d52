/* Privilege separation of the long-running commands (harvest, serve,
 * checkpoint when it signs): the signer process holds the log keys, and
 * this process, with every process it starts, cannot open them
 * (archiver/signer/signer.h, ARCHITECTURE.md §2 "Processes"). */
#include "archiver/cli/cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "archiver/lib/log.h"
#include "archiver/signer/signer.h"

static int privsep(struct cli_ctx *ctx, bool hide, bool quiet, struct signer **sg_r,
		   struct pv_error *err)
{
	const char *why = NULL;
	int r;
	/* Spawned by a command that has a signer already (serve's "harvest
	 * now"): use that one; this process could not read the keys anyway. */
	if ((r = signer_attach_env(sg_r, err)) != PV_ENOTFOUND) {
		if (r == PV_OK)
			signer_use(*sg_r);
		return r;
	}
	if ((r = signer_start(ctx->data_dir, sg_r, err)) < 0)
		return r;
	if (hide && (r = signer_hide_keys(ctx->data_dir, &why, err)) < 0) {
		signer_free(sg_r);
		return r;
	}
	if (hide && r == 1)
		pv_log(quiet ? PV_LOG_DEBUG : PV_LOG_WARN, "privsep.keys",
		       "the signing keys stay readable to this process (%s): only the signer uses "
		       "them, but a compromise of this process could read them",
		       why);
	signer_use(*sg_r);
	return PV_OK;
}

int cli_privsep_begin(struct cli_ctx *ctx, struct signer **sg_r, struct pv_error *err)
{
	return privsep(ctx, true, false, sg_r, err);
}

int cli_privsep_begin_keys(struct cli_ctx *ctx, struct signer **sg_r, struct pv_error *err)
{
	return privsep(ctx, false, false, sg_r, err);
}

/* The short commands that sign, and whether they may lose the keys. */
static const struct {
	const char *name;
	bool hide;
} short_signing[] = {
	{"account", true}, {"stats", true},  {"search", true},    {"reindex", true},
	{"show", true},    {"export", true}, {"anchor", true},    {"audit", true},
	{"policy", true},  {"hold", true},   {"dispose", true},   {"approvals", true},
	{"user", true},    {"backup", false}, {"migrate", true},  {"identity", false},
};

int cli_privsep_short(struct cli_ctx *ctx, const char *command, int argc, char **argv,
		      struct signer **sg_r, struct pv_error *err)
{
	char sign_dir[4200];
	struct stat st;
	*sg_r = NULL;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return PV_OK;
	/* Without both seeds (a copy made to be checked with the public keys
	 * alone) it runs as before: what needs no signature works, and what
	 * does says which key is missing. */
	static const char *const seeds[] = {"archive.key", "audit.key"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(sign_dir, sizeof(sign_dir), "%s/keys/sign/%s", ctx->data_dir, seeds[i]);
		if (stat(sign_dir, &st) != 0 || !S_ISREG(st.st_mode))
			return PV_OK;
	}
	for (size_t i = 0; i < sizeof(short_signing) / sizeof(short_signing[0]); i++)
		if (strcmp(short_signing[i].name, command) == 0)
			return privsep(ctx, short_signing[i].hide, true, sg_r, err);
	return PV_OK;
}

void cli_privsep_end(struct signer **sg)
{
	signer_use(NULL);
	signer_free(sg);
}
