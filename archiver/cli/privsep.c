/* Privilege separation of the long-running commands (harvest, serve,
 * checkpoint when it signs): the signer process holds the log keys, and
 * this process, with every process it starts, cannot open them
 * (archiver/signer/signer.h, ARCHITECTURE.md §2 "Processes"). */
#include "archiver/cli/cli.h"

#include "archiver/lib/log.h"
#include "archiver/signer/signer.h"

int cli_privsep_begin(struct cli_ctx *ctx, struct signer **sg_r, struct pv_error *err)
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
	if ((r = signer_hide_keys(ctx->data_dir, &why, err)) < 0) {
		signer_free(sg_r);
		return r;
	}
	if (r == 1)
		pv_log(PV_LOG_WARN, "privsep.keys",
		       "the signing keys stay readable to this process (%s): only the signer uses "
		       "them, but a compromise of this process could read them",
		       why);
	signer_use(*sg_r);
	return PV_OK;
}

void cli_privsep_end(struct signer **sg)
{
	signer_use(NULL);
	signer_free(sg);
}
