#ifndef PV_DISPOSE_FROZEN_H
#define PV_DISPOSE_FROZEN_H

/* Disposal under the two-person rule (approvals.h): a run is proposed as a
 * frozen plan — the messages due now, with the rule, policy version and
 * expiry that make them due — and carried out only once a second person
 * approves it, re-checking every item then: only what the frozen plan
 * lists, and only what is still due and not held, is disposed of.
 *
 * A frozen plan is text (its SHA-256 goes into the audit log):
 *
 *   popvault/disposal-plan/v1
 *   policy <version in force>
 *   holds <hex SHA-256 of the hold state, dispose.h>
 *   planned <unix seconds>
 *   <message id> <policy version> <expires_at, unix seconds> <rule>
 *   ...                                  (one line per message, by id)
 */

#include <stddef.h>
#include <stdint.h>

#include "archiver/archive/dispose.h"
#include "archiver/lib/buf.h"

struct dispose_frozen_item {
	int64_t id, policy_version, expires_at;
	char rule[128];
};

/* Plans now (as a dry run: nothing changes, nothing is audited) and
 * appends the frozen plan of the due messages, at most
 * PV_APPROVAL_DISPOSE_MAX of them (the first by id), to out; *frozen_r
 * gets how many it lists. run_r holds the plan (dispose_run_free, also
 * after an error). PV_EINTEGRITY, with the plan, when expired messages lost
 * their content without a disposal record (as archive_dispose). */
int dispose_freeze(struct archive *ar, struct dispose_run *run_r, struct pv_buf *out,
		   size_t *frozen_r, struct pv_error *err);

/* Parses a frozen plan strictly (ids ascending); *v_r is malloc'ed. */
int dispose_frozen_parse(const void *text, size_t len, struct dispose_frozen_item **v_r,
			 size_t *n_r, struct pv_error *err) PV_WARN_UNUSED;

/* Carries out an approved frozen plan: finishes interrupted runs, catches
 * the index up, plans anew at now, and keeps due only the items the
 * frozen plan lists with the same rule, policy version and expiry (the
 * others are blocked: "not in the approved plan" or "changed since it was
 * approved"). Then, in the plan's transaction, in_tx (the approval's own
 * rows and audit entries; a failure there rolls everything back) and
 * dispose_execute (the intent, audited, before anything is destroyed).
 * actor is recorded on the disposal. run_r as archive_dispose. */
int dispose_run_frozen(struct archive *ar, const char *actor, const void *frozen, size_t len,
		       int (*in_tx)(void *ctx, const struct dispose_plan *plan, struct pv_error *err),
		       void *ctx, struct dispose_run *run_r, struct pv_error *err);

#endif
