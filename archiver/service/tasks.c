/* serve's scheduled work, each run a short process of its own, as the
 * "system" actor: heartbeats, disposal proposals, verify, anchors. */
#include <stdio.h>
#include <string.h>

#include "archiver/archive/anchor.h"
#include "archiver/archive/approvals.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/verify.h"
#include "archiver/lib/log.h"
#include "archiver/service/service_int.h"

#define ACTOR "system"

/* Both logs get a time-stamped checkpoint even when idle (ARCHITECTURE.md
 * §4), so a gap in the evidence shows whenever the appliance was down. */
int svc_heartbeat_main(struct service *sv)
{
	struct archive *ar = NULL;
	struct pv_error err;
	int r;
	if ((r = archive_open(sv->o->data_dir, &ar, &err)) == PV_OK &&
	    (r = archive_heartbeat(ar, ar->archive_log, ACTOR, &err)) == PV_OK)
		r = archive_heartbeat(ar, ar->audit_log, ACTOR, &err);
	archive_close(&ar);
	if (r < 0) {
		pv_log(PV_LOG_ERROR, "heartbeat", "cannot sign the heartbeat checkpoints: %s", err.msg);
		return 1;
	}
	pv_log(PV_LOG_DEBUG, "heartbeat", "both logs' heartbeat checkpoints signed");
	return 0;
}

/* What is due is proposed, never destroyed: a disposal run waits for a
 * person's approval (the two-person rule, approvals.h). Proposed with the
 * admin's role, so a compliance officer or legal approves it. */
int svc_dispose_main(struct service *sv)
{
	struct archive *ar = NULL;
	struct approval_proposal res;
	struct pv_error err;
	int r;

	memset(&res, 0, sizeof(res));
	if ((r = archive_open(sv->o->data_dir, &ar, &err)) == PV_OK)
		r = approval_propose(ar, ACTOR, "admin", APPROVAL_DISPOSE, NULL, 0,
				     "scheduled by popvault serve", NULL, &res, &err);
	archive_close(&ar);
	if (r == PV_OK && res.id != 0)
		pv_log(PV_LOG_INFO, "dispose.proposed", "disposal run proposed as approval %lld: %zu "
		       "message%s due; nothing is destroyed until a compliance officer or legal "
		       "approves it", (long long)res.id, res.frozen, res.frozen == 1 ? "" : "s");
	else if (r == PV_OK)
		pv_log(PV_LOG_DEBUG, "dispose", "nothing is due");
	else if (res.conflict)
		pv_log(PV_LOG_INFO, "dispose", "not proposed: %s", err.msg);
	else
		pv_log(PV_LOG_ERROR, "dispose", "cannot propose a disposal run: %s", err.msg);
	approval_proposal_free(&res);
	return r < 0 && !res.conflict ? 1 : 0;
}

static void problem_line(void *ctx, const char *line)
{
	(void)ctx;
	pv_log(PV_LOG_WARN, "verify", "%s", line);
}

/* A sample often, everything now and then; the run is audited inside. */
int svc_verify_main(struct service *sv, bool full)
{
	struct archive *ar = NULL;
	struct verify_summary sum;
	struct pv_error err;

	/* Its outcome is in sum (sum.ran: whether it could run at all). */
	memset(&sum, 0, sizeof(sum));
	if (archive_open_for_verify(sv->o->data_dir, &ar, &err) == PV_OK)
		(void)(full ? archive_verify(ar, ACTOR, true, NULL, NULL, 0, problem_line, NULL, &sum,
					     &err)
			    : archive_verify_sample(ar, ACTOR, sv->cfg.verify_sample, problem_line,
						    NULL, &sum, &err));
	archive_close(&ar);
	if (!sum.ran) {
		pv_log(PV_LOG_ERROR, "verify", "the %s verify could not run: %s",
		       full ? "full" : "sample", err.msg);
		return 1;
	}
	if (sum.ok)
		pv_log(PV_LOG_INFO, "verify", "%s verify: ok (%lld messages, %lld decrypted and "
		       "checked)", full ? "full" : "sample", (long long)sum.rep.messages,
		       (long long)sum.rep.blobs_decrypted);
	else
		pv_log(PV_LOG_ERROR, "verify", "%s verify FAILED: %lld integrity problems (see "
		       "popvault verify)", full ? "full" : "sample", (long long)sum.rep.problems);
	if (!sum.recorded)
		pv_log(PV_LOG_ERROR, "verify", "the run could not be recorded: %s", sum.record_error);
	return sum.ok ? 0 : 3;
}

int64_t svc_anchor_interval_s(const struct service *sv)
{
	const struct pv_config *c = &sv->archive_cfg;
	int64_t s = pv_config_anchors(c) ? (int64_t)c->anchor_interval_s : 0;
	if (s > 0 && sv->o->anchor_max_s > 0 && sv->o->anchor_max_s < s)
		s = sv->o->anchor_max_s;
	return s;
}

/* A TSA or a witness that cannot be reached fails nothing else: each
 * attempt is recorded and audited inside, and staleness shows in status. */
int svc_anchor_main(struct service *sv)
{
	struct archive *ar = NULL;
	struct pv_error err;
	const char *why = NULL;
	int r;
	if ((r = archive_open(sv->o->data_dir, &ar, &err)) == PV_OK &&
	    (r = archive_anchor_due(ar, svc_anchor_interval_s(sv), &why, &err)) == PV_OK &&
	    why != NULL)
		r = archive_anchor_all(ar, ACTOR, &err);
	archive_close(&ar);
	if (r < 0) {
		pv_log(r == PV_EINTEGRITY ? PV_LOG_ERROR : PV_LOG_WARN, "anchor",
		       "anchoring the logs' checkpoints failed: %s", err.msg);
		return r == PV_EINTEGRITY ? 3 : 1;
	}
	if (why != NULL)
		pv_log(PV_LOG_INFO, "anchor", "both logs' checkpoints anchored (%s)",
		       strcmp(why, "disposal") == 0 ? "after a disposal run" : "their interval");
	return 0;
}
