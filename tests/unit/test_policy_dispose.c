/* Unit tests for disposal decisions and the impact report of a new policy
 * version (policy/policy.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/clock.h"
#include "policy/policy.h"

static int64_t at(const char *rfc3339)
{
	int64_t t;
	assert_int_equal(pv_clock_parse_rfc3339(rfc3339, &t), 0);
	return t;
}

static struct policy *parse_ok(const char *text)
{
	struct policy *p = NULL;
	struct pv_error err = {0};
	int r = policy_parse(text, strlen(text), &p, NULL, &err);
	if (r != 0)
		print_error("unexpected parse error: %s\n", err.msg);
	assert_int_equal(r, PV_OK);
	return p;
}

static void test_hold_beats_every_rule(void **state)
{
	(void)state;
	const char *one[] = {"acme-v-us"};
	const char *three[] = {"acme-v-us", "sec-inquiry", "audit-2025"};
	struct policy_decision d;
	struct policy_disposal_input in = {
		.expires_at = at("2020-01-01T00:00:00Z"),
		.action = POLICY_ACTION_DISPOSE,
		.holds = one,
		.n_holds = 1,
	};
	int64_t now = at("2026-01-01T00:00:00Z");

	/* Expired, rule says dispose, but held: kept. */
	assert_int_equal(policy_decide(&in, now, &d), POLICY_VERDICT_KEEP);
	assert_int_equal(d.verdict, POLICY_VERDICT_KEEP);
	assert_int_equal(d.reason, POLICY_REASON_HELD);
	assert_string_equal(d.text, "held by matter acme-v-us");
	in.holds = three;
	in.n_holds = 3;
	assert_int_equal(policy_decide(&in, now, &d), POLICY_VERDICT_KEEP);
	assert_string_equal(d.text, "held by matter acme-v-us and 2 more");
	/* A hold is named before "forever" too. */
	in.forever = true;
	assert_int_equal(policy_decide(&in, now, &d), POLICY_VERDICT_KEEP);
	assert_int_equal(d.reason, POLICY_REASON_HELD);
	/* Released: the rule decides again. */
	in.forever = false;
	in.n_holds = 0;
	in.holds = NULL;
	assert_int_equal(policy_decide(&in, now, &d), POLICY_VERDICT_DISPOSE);
	assert_int_equal(d.reason, POLICY_REASON_EXPIRED);
	assert_string_equal(d.text, "expired 2020-01-01T00:00:00Z");
}

static void test_expiry_boundary_and_reasons(void **state)
{
	(void)state;
	struct policy_decision d;
	int64_t exp = at("2031-01-31T10:00:00Z");
	struct policy_disposal_input in = {.expires_at = exp, .action = POLICY_ACTION_DISPOSE};

	assert_int_equal(policy_decide(&in, exp - 1, &d), POLICY_VERDICT_KEEP);
	assert_int_equal(d.reason, POLICY_REASON_NOT_EXPIRED);
	assert_string_equal(d.text, "not expired until 2031-01-31T10:00:00Z");
	/* Expiry is the first second at which disposal is allowed. */
	assert_int_equal(policy_decide(&in, exp, &d), POLICY_VERDICT_DISPOSE);
	assert_int_equal(policy_decide(&in, exp + 1, &d), POLICY_VERDICT_DISPOSE);

	/* "then review": expired mail waits for a person. */
	in.action = POLICY_ACTION_REVIEW;
	assert_int_equal(policy_decide(&in, exp, &d), POLICY_VERDICT_KEEP);
	assert_int_equal(d.reason, POLICY_REASON_REVIEW);
	assert_string_equal(d.text, "review required (expired 2031-01-31T10:00:00Z)");
	assert_int_equal(policy_decide(&in, exp - 1, &d), POLICY_VERDICT_KEEP);
	assert_int_equal(d.reason, POLICY_REASON_NOT_EXPIRED);

	/* Forever never expires, whatever the clock says. */
	struct policy_disposal_input f = {.forever = true, .expires_at = POLICY_NEVER};
	assert_int_equal(policy_decide(&f, INT64_MAX, &d), POLICY_VERDICT_KEEP);
	assert_int_equal(d.reason, POLICY_REASON_FOREVER);
	assert_string_equal(d.text, "retained forever");
	/* A forever result stored as its expiry alone is still forever. */
	struct policy_disposal_input g = {.expires_at = POLICY_NEVER};
	assert_int_equal(policy_decide(&g, INT64_MAX, &d), POLICY_VERDICT_KEEP);
	assert_int_equal(d.reason, POLICY_REASON_FOREVER);
}

static void test_evaluate_then_decide(void **state)
{
	(void)state;
	struct policy *p = parse_ok("rule \"sec-7y\": retain 7y then review when from ~ \"*@sec.gov\"\n"
				    "default: retain 6y\n");
	struct policy_message m = {.from = "x@sec.gov", .received_at = at("2020-02-29T12:00:00Z")};
	struct policy_result r;
	struct policy_decision d;
	struct pv_error err;
	assert_int_equal(policy_evaluate(p, &m, &r, &err), PV_OK);
	struct policy_disposal_input in = {.forever = r.forever, .expires_at = r.expires_at,
					   .action = r.action};
	assert_int_equal(policy_decide(&in, at("2027-02-28T11:59:59Z"), &d), POLICY_VERDICT_KEEP);
	assert_string_equal(d.text, "not expired until 2027-02-28T12:00:00Z");
	assert_int_equal(policy_decide(&in, at("2027-02-28T12:00:00Z"), &d), POLICY_VERDICT_KEEP);
	assert_int_equal(d.reason, POLICY_REASON_REVIEW);

	m.from = "y@example.com";
	assert_int_equal(policy_evaluate(p, &m, &r, &err), PV_OK);
	in = (struct policy_disposal_input){.expires_at = r.expires_at, .action = r.action};
	assert_int_equal(policy_decide(&in, at("2026-02-28T12:00:00Z"), &d), POLICY_VERDICT_DISPOSE);
	policy_free(&p);
}

struct fixture_msg {
	const char *from;
	bool attachment;
	const char *received;
};

static void test_impact_of_a_new_version(void **state)
{
	(void)state;
	struct policy *old = parse_ok("rule \"sec-7y\": retain 7y when from ~ \"*@sec.gov\"\n"
				      "default: retain 6y\n");
	struct policy *new = parse_ok("rule \"sec\": retain 3y when from ~ \"*@sec.gov\"\n"
				      "rule \"attach\": retain forever when has:attachment\n"
				      "rule \"unused\": retain 1d when subject = \"never seen\"\n"
				      "default: retain 6y\n");
	static const struct fixture_msg msgs[] = {
		{"a@sec.gov", false, "2020-01-01T00:00:00Z"},  /* 7y -> 3y: shorter, due now */
		{"b@sec.gov", false, "2024-06-01T00:00:00Z"},  /* 7y -> 3y: shorter, not due */
		{"c@sec.gov", true, "2024-06-01T00:00:00Z"},   /* first match still "sec" */
		{"d@example.com", true, "2024-06-01T00:00:00Z"},/* 6y -> forever: longer */
		{"e@example.com", false, "2024-06-01T00:00:00Z"},/* default -> default */
		{"f@example.com", false, "2018-06-01T00:00:00Z"},/* due before and after */
	};
	int64_t now = at("2025-01-01T00:00:00Z");
	struct policy_impact *imp;
	struct pv_error err;
	assert_int_equal(policy_impact_new(new, now, &imp, &err), PV_OK);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct policy_message m = {.from = msgs[i].from, .has_attachment = msgs[i].attachment,
					   .received_at = at(msgs[i].received)};
		struct policy_result ro, rn;
		assert_int_equal(policy_evaluate(old, &m, &ro, &err), PV_OK);
		assert_int_equal(policy_evaluate(new, &m, &rn, &err), PV_OK);
		assert_int_equal(policy_impact_add(imp, &ro, &rn, &err), PV_OK);
	}
	/* One message archived before any policy: no old result. */
	struct policy_message m = {.from = "g@sec.gov", .received_at = at("2021-01-01T00:00:00Z")};
	struct policy_result rn;
	assert_int_equal(policy_evaluate(new, &m, &rn, &err), PV_OK);
	assert_int_equal(policy_impact_add(imp, NULL, &rn, &err), PV_OK);

	assert_int_equal(policy_impact_rows(imp), 4);
	const struct policy_impact_row *sec = policy_impact_row(imp, 0);
	assert_string_equal(sec->rule, "sec");
	assert_int_equal(sec->messages, 4);
	assert_int_equal(sec->shorter, 3);
	assert_int_equal(sec->longer, 0);
	assert_int_equal(sec->unchanged, 0);
	assert_int_equal(sec->unevaluated, 1);
	assert_int_equal(sec->reclassified, 3); /* "sec-7y" -> "sec" */
	assert_int_equal(sec->newly_due, 2);    /* a@ (2023) and g@ (2024) */
	const struct policy_impact_row *att = policy_impact_row(imp, 1);
	assert_string_equal(att->rule, "attach");
	assert_int_equal(att->messages, 1);
	assert_int_equal(att->longer, 1);
	assert_int_equal(att->reclassified, 1);
	assert_int_equal(att->newly_due, 0);
	const struct policy_impact_row *unused = policy_impact_row(imp, 2);
	assert_int_equal(unused->messages, 0);
	const struct policy_impact_row *def = policy_impact_row(imp, 3);
	assert_string_equal(def->rule, "default");
	assert_int_equal(def->messages, 2);
	assert_int_equal(def->unchanged, 2);
	assert_int_equal(def->reclassified, 0);
	assert_int_equal(def->newly_due, 0); /* f@ was already due under the old policy */
	assert_null(policy_impact_row(imp, 4));

	struct policy_impact_row total;
	policy_impact_total(imp, &total);
	assert_string_equal(total.rule, "total");
	assert_int_equal(total.messages, 7);
	assert_int_equal(total.shorter + total.longer + total.unchanged + total.unevaluated, 7);
	assert_int_equal(total.newly_due, 2);

	struct pv_buf out;
	pv_buf_init(&out, 64 * 1024);
	assert_int_equal(policy_impact_format(imp, &out, &err), PV_OK);
	const char *s = pv_buf_str(&out);
	assert_non_null(strstr(s, "rule      messages    shorter     longer  unchanged reclassified    due-now\n"));
	assert_non_null(strstr(s, "\nsec              4          3          0          0            3          2\n"));
	assert_non_null(strstr(s, "\ntotal            7          3          1          2            4          2\n"));
	pv_buf_free(&out);

	/* A result from another policy is refused, not miscounted. */
	struct policy_result ro;
	assert_int_equal(policy_evaluate(old, &m, &ro, &err), PV_OK);
	assert_int_equal(policy_impact_add(imp, NULL, &ro, &err), PV_ERR);
	struct policy_result forged = rn;
	forged.rule_index = 99;
	assert_int_equal(policy_impact_add(imp, NULL, &forged, &err), PV_ERR);

	policy_impact_free(&imp);
	assert_null(imp);
	policy_impact_free(&imp);
	policy_free(&old);
	policy_free(&new);
}

static void test_impact_forever_comparisons(void **state)
{
	(void)state;
	struct policy *p = parse_ok("default: retain 1y\n");
	struct policy_impact *imp;
	struct pv_error err;
	assert_int_equal(policy_impact_new(p, 0, &imp, &err), PV_OK);
	struct policy_message m = {.received_at = 1000};
	struct policy_result rn, forever = {.rule = "default", .forever = true,
					    .expires_at = POLICY_NEVER};
	assert_int_equal(policy_evaluate(p, &m, &rn, &err), PV_OK);
	/* forever -> 1y is shorter. */
	assert_int_equal(policy_impact_add(imp, &forever, &rn, &err), PV_OK);
	/* Same class, same expiry: unchanged and not reclassified. */
	assert_int_equal(policy_impact_add(imp, &rn, &rn, &err), PV_OK);
	const struct policy_impact_row *row = policy_impact_row(imp, 0);
	assert_int_equal(row->shorter, 1);
	assert_int_equal(row->unchanged, 1);
	assert_int_equal(row->reclassified, 0);
	policy_impact_free(&imp);
	policy_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_beats_every_rule),
		cmocka_unit_test(test_expiry_boundary_and_reasons),
		cmocka_unit_test(test_evaluate_then_decide),
		cmocka_unit_test(test_impact_of_a_new_version),
		cmocka_unit_test(test_impact_forever_comparisons),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
