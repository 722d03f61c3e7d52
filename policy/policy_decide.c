/* The disposal decision for one message: pure, the time is passed in.
 * Order matters: a hold beats everything (ARCHITECTURE.md §6), then forever,
 * then the expiry, then the rule's action. */
#include "policy/policy.h"

#include <stdio.h>

enum policy_verdict policy_decide(const struct policy_disposal_input *in, int64_t now,
				  struct policy_decision *d)
{
	char when[POLICY_TIME_LEN];

	d->verdict = POLICY_VERDICT_KEEP;
	if (in->n_holds > 0) {
		const char *matter = in->holds != NULL && in->holds[0] != NULL ? in->holds[0] : "?";
		d->reason = POLICY_REASON_HELD;
		if (in->n_holds == 1)
			snprintf(d->text, sizeof(d->text), "held by matter %.120s", matter);
		else
			snprintf(d->text, sizeof(d->text), "held by matter %.120s and %zu more",
				 matter, in->n_holds - 1);
		return d->verdict;
	}
	if (in->forever || in->expires_at == POLICY_NEVER) {
		d->reason = POLICY_REASON_FOREVER;
		snprintf(d->text, sizeof(d->text), "retained forever");
		return d->verdict;
	}
	policy_format_time(in->expires_at, when);
	if (now < in->expires_at) {
		d->reason = POLICY_REASON_NOT_EXPIRED;
		snprintf(d->text, sizeof(d->text), "not expired until %s", when);
		return d->verdict;
	}
	if (in->action == POLICY_ACTION_REVIEW) {
		d->reason = POLICY_REASON_REVIEW;
		snprintf(d->text, sizeof(d->text), "review required (expired %s)", when);
		return d->verdict;
	}
	d->verdict = POLICY_VERDICT_DISPOSE;
	d->reason = POLICY_REASON_EXPIRED;
	snprintf(d->text, sizeof(d->text), "expired %s", when);
	return d->verdict;
}
