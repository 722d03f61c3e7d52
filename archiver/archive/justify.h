#ifndef PV_JUSTIFY_H
#define PV_JUSTIFY_H

/* The justification of one message's disposal, written to the audit log
 * (a disposal-item entry) with the disposal's intent, before anything is
 * destroyed, and re-derived by `verify` long after the content is gone.
 * The object of the entry, one line:
 *
 *   disposal=3 message=18 leaf=17 policy=2 policy-sha256=<64 hex>
 *   rule=big account=alice received=2026-11-22T10:00:00Z size=5000000
 *   tests=0 expires=2026-11-23T10:00:00Z
 *
 * policy, policy-sha256: the version in force, by number and by the
 *   SHA-256 of its exact text (as its policy-set entry recorded it);
 * rule: the rule that matched (first match), whose action is dispose;
 * account, received, size: the facts the rule had, as the message's
 *   archive leaf signs them (the mailbox is the keyed hash of account;
 *   size is in v2 leaves) and as the content confirmed them;
 * tests: the outcome of every content test (address, subject, header,
 *   has:attachment) the evaluation asked, in order (policy.h's trace,
 *   "0" when the facts alone decided) — no content, only true/false;
 * expires: received + the rule's retention, at or before the intent.
 *
 * With the policy version's stored text and the leaf, anyone can replay
 * the evaluation and see the rule was the first match and had expired;
 * what a content test saw cannot be re-checked once the content is gone,
 * only that the recorded outcomes lead to this rule and no other. */

#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/store/leaf.h"
#include "policy/policy.h"

struct justification {
	int64_t disposal;
	int64_t message;
	int64_t leaf;               /* archive-log index of the message leaf */
	int64_t policy;
	char policy_sha256[65];
	char rule[128];
	char account[65];
	int64_t received;           /* unix seconds */
	uint64_t size;              /* bytes */
	struct policy_trace tests;
	int64_t expires;            /* unix seconds */
};

/* The disposal-item object; PV_ELIMIT when it does not fit n bytes (an
 * audit object holds AUDIT_OBJECT_MAX; the longest trace fits). */
int justify_format(const struct justification *j, char *out, size_t n, struct pv_error *err);
/* Strict: exactly the canonical object, else PV_EINTEGRITY. */
int justify_parse(const char *object, struct justification *j_r, struct pv_error *err)
	PV_WARN_UNUSED;

/* Re-derives the disposal from signed data only. leaf: the message's
 * archive leaf; mailbox: the keyed id of j->account (keyring); p: the
 * policy parsed from version j->policy's stored text, which the caller
 * checked against j->policy_sha256 and the version's policy-set entry;
 * decided_at: the time of the entry (the intent). Checks the leaf's time,
 * mailbox and size are j's facts, that replaying p on them with j's tests
 * gives j's rule, with action dispose and j's expiry, and that the expiry
 * is not after decided_at. PV_EINTEGRITY with "FIELD: why" in err. */
int justify_rederive(const struct justification *j, const struct archive_leaf *leaf,
		     const char *mailbox, const struct policy *p, int64_t decided_at,
		     struct pv_error *err) PV_WARN_UNUSED;

/* The tombstone the disposal wrote must say the same: policy j->policy,
 * reason "expired <expires> under rule <rule>". */
int justify_check_tombstone(const struct justification *j, const struct archive_leaf *tomb,
			    struct pv_error *err) PV_WARN_UNUSED;

/* The tombstone reason for an expiry and rule (record_done writes it). */
void justify_tombstone_reason(int64_t expires, const char *rule, char *out, size_t n);

#endif
