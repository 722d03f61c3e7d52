/* libFuzzer target for the policy language (policy/policy.h).
 *
 * Any input: parsing must not crash, leak or hang. Accepted input: its
 * canonical text must parse again, to the same canonical text
 * (format(parse(format(parse(x)))) == format(parse(x))), with the same
 * rules, and evaluation of a fixed message must agree between the two.
 * Seeds: tests/data/policy/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/buf.h"
#include "policy/policy.h"

static void evaluate_some(const struct policy *p, struct policy_result *r)
{
	static const char *const to[] = {"Bob@Example.com", "x@sub.sec.gov", "no-at-sign"};
	static const struct policy_header h[] = {{"List-Id", "<l.example>"}, {"X-A", "\xC3\x9C"}};
	struct policy_message m = {
		.account = "finance",
		.from = "examiner@sec.gov",
		.to = to,
		.n_to = 3,
		.subject = "Re: contract *urgent*",
		.headers = h,
		.n_headers = 2,
		.size = 10 * 1024 * 1024,
		.has_attachment = true,
		.received_at = 1709164800, /* 2024-02-29 */
	};
	if (policy_evaluate(p, &m, r, NULL) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = NULL, *q = NULL;
	struct policy_diags diags;
	struct pv_buf c1, c2;

	if (policy_parse(data, size, &p, &diags, NULL) != 0) {
		if (p != NULL || diags.count == 0)
			abort(); /* a failure always says where */
		return 0;
	}
	pv_buf_init(&c1, 4 * PV_POLICY_FILE_MAX);
	pv_buf_init(&c2, 4 * PV_POLICY_FILE_MAX);
	if (policy_format(p, &c1, NULL) != 0)
		abort();
	/* Canonical text adds spaces ("a=b" -> "a = b"), so near the cap it
	 * may outgrow it; only then is a second parse allowed to refuse. */
	if (policy_parse(c1.data, c1.len, &q, &diags, NULL) != 0) {
		if (c1.len <= PV_POLICY_FILE_MAX)
			abort();
		goto out;
	}
	if (policy_format(q, &c2, NULL) != 0 || c1.len != c2.len ||
	    memcmp(c1.data, c2.data, c1.len) != 0)
		abort();
	if (policy_rule_count(p) != policy_rule_count(q))
		abort();
	for (size_t i = 0; i < policy_rule_count(p); i++) {
		struct policy_retention a, b;
		policy_rule_retention(p, i, &a);
		policy_rule_retention(q, i, &b);
		if (strcmp(policy_rule_name(p, i), policy_rule_name(q, i)) != 0 ||
		    a.forever != b.forever || a.unit != b.unit || a.amount != b.amount ||
		    a.action != b.action)
			abort();
	}
	struct policy_result ra, rb;
	evaluate_some(p, &ra);
	evaluate_some(q, &rb);
	if (ra.rule_index != rb.rule_index || ra.expires_at != rb.expires_at)
		abort();
out:
	pv_buf_free(&c1);
	pv_buf_free(&c2);
	policy_free(&p);
	policy_free(&q);
	return 0;
}
