#include "archiver/archive/justify.h"

#include <stdio.h>
#include <string.h>

#include "archiver/archive/evidence.h"
#include "archiver/lib/clock.h"

int justify_format(const struct justification *j, char *out, size_t n, struct pv_error *err)
{
	char rt[PV_RFC3339_LEN], et[PV_RFC3339_LEN], tests[POLICY_TRACE_TEXT_MAX];
	if (policy_trace_format(&j->tests, tests, sizeof(tests)) != PV_OK)
		return pv_fail(err, PV_ELIMIT, "message %lld: too many content tests",
			       (long long)j->message);
	pv_clock_format_rfc3339(j->received, rt);
	pv_clock_format_rfc3339(j->expires, et);
	int k = snprintf(out, n,
			 "disposal=%lld message=%lld leaf=%lld policy=%lld policy-sha256=%s rule=%s"
			 " account=%s received=%s size=%llu tests=%s expires=%s",
			 (long long)j->disposal, (long long)j->message, (long long)j->leaf,
			 (long long)j->policy, j->policy_sha256, j->rule, j->account, rt,
			 (unsigned long long)j->size, tests, et);
	if (k < 0 || (size_t)k >= n)
		return pv_fail(err, PV_ELIMIT, "message %lld: justification too long",
			       (long long)j->message);
	return PV_OK;
}

static bool time_field(const char *object, const char *key, int64_t *t_r)
{
	char s[PV_RFC3339_LEN + 8];
	return evidence_field(object, key, s, sizeof(s)) && pv_clock_parse_rfc3339(s, t_r) == 0;
}

int justify_parse(const char *object, struct justification *j, struct pv_error *err)
{
	char tests[POLICY_TRACE_TEXT_MAX], again[AUDIT_OBJECT_MAX + 1];
	int64_t size;
	memset(j, 0, sizeof(*j));
	if (!evidence_field_int(object, "disposal", &j->disposal) ||
	    !evidence_field_int(object, "message", &j->message) ||
	    !evidence_field_int(object, "leaf", &j->leaf) ||
	    !evidence_field_int(object, "policy", &j->policy) ||
	    !evidence_field(object, "policy-sha256", j->policy_sha256, sizeof(j->policy_sha256)) ||
	    !evidence_field(object, "rule", j->rule, sizeof(j->rule)) ||
	    !evidence_field(object, "account", j->account, sizeof(j->account)) ||
	    !time_field(object, "received", &j->received) ||
	    !evidence_field_int(object, "size", &size) ||
	    !evidence_field(object, "tests", tests, sizeof(tests)) ||
	    policy_trace_parse(tests, strlen(tests), &j->tests) != PV_OK ||
	    !time_field(object, "expires", &j->expires))
		return pv_fail(err, PV_EINTEGRITY, "malformed disposal-item record");
	j->size = (uint64_t)size;
	/* Canonical: formatting it again gives the same text. */
	if (justify_format(j, again, sizeof(again), NULL) != PV_OK || strcmp(again, object) != 0)
		return pv_fail(err, PV_EINTEGRITY, "disposal-item record is not in canonical form");
	return PV_OK;
}

int justify_rederive(const struct justification *j, const struct archive_leaf *leaf,
		     const char *mailbox, const struct policy *p, int64_t decided_at,
		     struct pv_error *err)
{
	char t1[PV_RFC3339_LEN], t2[PV_RFC3339_LEN];
	struct policy_result r;
	struct pv_error e;

	if (leaf->kind != LEAF_MESSAGE || leaf->seq != j->message)
		return pv_fail(err, PV_EINTEGRITY, "leaf: archive leaf %lld is not this message's",
			       (long long)j->leaf);
	if (leaf->time != j->received) {
		pv_clock_format_rfc3339(leaf->time, t1);
		pv_clock_format_rfc3339(j->received, t2);
		return pv_fail(err, PV_EINTEGRITY, "received: the record says %s, its archive leaf %s",
			       t2, t1);
	}
	if (strcmp(leaf->mailbox, mailbox) != 0)
		return pv_fail(err, PV_EINTEGRITY, "account: the record says '%s', which is not the "
						   "mailbox its archive leaf names", j->account);
	if (leaf->has_size && leaf->size != j->size)
		return pv_fail(err, PV_EINTEGRITY, "size: the record says %llu bytes, its archive leaf "
						   "%llu", (unsigned long long)j->size,
			       (unsigned long long)leaf->size);
	struct policy_message facts = {.account = j->account, .size = j->size,
				       .received_at = j->received};
	if (policy_evaluate_replay(p, &facts, &j->tests, &r, &e) < 0)
		return pv_fail(err, PV_EINTEGRITY, "tests: policy version %lld does not lead to rule "
						   "'%s' with these facts and content tests (%s)",
			       (long long)j->policy, j->rule, e.msg);
	if (strcmp(r.rule, j->rule) != 0)
		return pv_fail(err, PV_EINTEGRITY, "rule: policy version %lld gives rule '%s' to these "
						   "facts and content tests, not '%s'",
			       (long long)j->policy, r.rule, j->rule);
	if (r.forever || r.action != POLICY_ACTION_DISPOSE)
		return pv_fail(err, PV_EINTEGRITY, "rule: '%s' of policy version %lld %s",
			       j->rule, (long long)j->policy,
			       r.forever ? "retains forever" : "asks for a review, not disposal");
	if (r.expires_at != j->expires) {
		pv_clock_format_rfc3339(r.expires_at, t1);
		pv_clock_format_rfc3339(j->expires, t2);
		return pv_fail(err, PV_EINTEGRITY, "expires: the record says %s, rule '%s' gives %s",
			       t2, j->rule, t1);
	}
	if (j->expires > decided_at) {
		pv_clock_format_rfc3339(j->expires, t1);
		pv_clock_format_rfc3339(decided_at, t2);
		return pv_fail(err, PV_EINTEGRITY, "expires: %s, after the disposal was decided (%s)",
			       t1, t2);
	}
	return PV_OK;
}

void justify_tombstone_reason(int64_t expires, const char *rule, char *out, size_t n)
{
	char t[PV_RFC3339_LEN];
	pv_clock_format_rfc3339(expires, t);
	snprintf(out, n, "expired %s under rule %s", t, rule);
}

int justify_check_tombstone(const struct justification *j, const struct archive_leaf *tomb,
			    struct pv_error *err)
{
	char want[256];
	if (tomb->policy != j->policy)
		return pv_fail(err, PV_EINTEGRITY, "tombstone: it names policy version %lld, the "
						   "disposal's record %lld",
			       (long long)tomb->policy, (long long)j->policy);
	justify_tombstone_reason(j->expires, j->rule, want, sizeof(want));
	if (strcmp(tomb->reason, want) != 0)
		return pv_fail(err, PV_EINTEGRITY, "tombstone: its reason '%.120s' is not the "
						   "disposal's record ('%s')",
			       tomb->reason, want);
	return PV_OK;
}
