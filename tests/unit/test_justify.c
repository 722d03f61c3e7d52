/* Unit tests for archiver/archive/justify.c: the disposal-item record a
 * disposal writes before it destroys anything, its strict text form, and
 * the re-derivation verify runs from it once the content is gone — every
 * fact and every conclusion changed on its own is caught and named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/archive/justify.h"
#include "archiver/lib/clock.h"
#include "audit/auditlog.h"

static const char policy_text[] = "rule \"big\": retain 1d when size > 1MB\n"
				  "rule \"sec\": retain 7y when from ~ \"*@sec.gov\"\n"
				  "rule \"fin\": retain 30d when account = \"finance\" and has:attachment\n"
				  "rule \"look\": retain 30d then review when subject ~ \"*audit*\"\n"
				  "default: retain 6y\n";

struct world {
	struct policy *p;
	struct justification j;
	struct archive_leaf leaf;
	int64_t decided;
};

static int64_t at(const char *s)
{
	int64_t t;
	assert_int_equal(pv_clock_parse_rfc3339(s, &t), 0);
	return t;
}

/* A finance message with an attachment, disposed of 40 days after receipt
 * under rule "fin", as dispose would have recorded it. */
static void world_init(struct world *w)
{
	struct pv_error err;
	struct policy_result r;
	struct policy_message m = {.account = "finance", .from = "cfo@corp.example",
				   .subject = "Q3", .size = 286, .has_attachment = true,
				   .received_at = at("2026-01-31T10:00:00Z")};
	memset(w, 0, sizeof(*w));
	assert_int_equal(policy_parse(policy_text, strlen(policy_text), &w->p, NULL, &err), PV_OK);
	assert_int_equal(policy_evaluate_traced(w->p, &m, &r, &w->j.tests, &err), PV_OK);
	assert_string_equal(r.rule, "fin");
	w->j.disposal = 3;
	w->j.message = 18;
	w->j.leaf = 17;
	w->j.policy = 2;
	memset(w->j.policy_sha256, 'a', 64);
	snprintf(w->j.rule, sizeof(w->j.rule), "fin");
	snprintf(w->j.account, sizeof(w->j.account), "finance");
	w->j.received = m.received_at;
	w->j.size = 286;
	w->j.expires = r.expires_at;
	w->leaf = (struct archive_leaf){.kind = LEAF_MESSAGE, .version = 2, .seq = 18,
					.time = m.received_at, .has_size = true, .size = 286};
	snprintf(w->leaf.mailbox, sizeof(w->leaf.mailbox), "0123456789abcdef0123456789abcdef");
	w->decided = m.received_at + 40 * 86400;
}

static void world_free(struct world *w)
{
	policy_free(&w->p);
}

static void test_record_round_trip(void **state)
{
	(void)state;
	struct world w;
	struct justification back;
	struct pv_error err;
	char text[AUDIT_OBJECT_MAX + 1];
	world_init(&w);
	assert_int_equal(justify_format(&w.j, text, sizeof(text), &err), PV_OK);
	char want[512];
	snprintf(want, sizeof(want),
		 "disposal=3 message=18 leaf=17 policy=2 policy-sha256=%s rule=fin account=finance"
		 " received=2026-01-31T10:00:00Z size=286 tests=2:4 expires=2026-03-02T10:00:00Z",
		 w.j.policy_sha256);
	assert_string_equal(text, want);
	assert_int_equal(justify_parse(text, &back, &err), PV_OK);
	assert_memory_equal(&back, &w.j, sizeof(back));
	world_free(&w);
}

static void test_record_must_be_canonical(void **state)
{
	(void)state;
	struct world w;
	struct justification back;
	struct pv_error err;
	char text[AUDIT_OBJECT_MAX + 1], bad[AUDIT_OBJECT_MAX + 1];
	static const struct {
		const char *from, *to;
	} edits[] = {
		{"size=286", "size=0286"},
		{"size=286", "size=+286"},
		{"tests=2:4", "tests=2:5"},          /* a bit past the last test */
		{"tests=2:4", "tests=02:4"},
		{"tests=2:4", "tests=2:04"},
		{" rule=fin", "  rule=fin"},
		{"received=2026-01-31T10:00:00Z", "received=2026-01-31T10:00:00+00:00"},
		{"expires=2026-03-02T10:00:00Z", "expires="},
		{"disposal=3 message=18", "message=18 disposal=3"},
		{"account=finance", "account=finance extra=1"},
	};
	world_init(&w);
	assert_int_equal(justify_format(&w.j, text, sizeof(text), &err), PV_OK);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const char *p = strstr(text, edits[i].from);
		assert_non_null(p);
		snprintf(bad, sizeof(bad), "%.*s%s%s", (int)(p - text), text, edits[i].to,
			 p + strlen(edits[i].from));
		assert_int_equal(justify_parse(bad, &back, &err), PV_EINTEGRITY);
	}
	world_free(&w);
}

static void expect_field(struct world *w, const char *mailbox, const char *field)
{
	struct pv_error err;
	assert_int_equal(justify_rederive(&w->j, &w->leaf, mailbox, w->p, w->decided, &err),
			 PV_EINTEGRITY);
	if (strncmp(err.msg, field, strlen(field)) != 0)
		fail_msg("wanted '%s: ...', got '%s'", field, err.msg);
}

/* The re-derivation accepts the honest record and names what changed. */
static void test_rederive_names_what_was_changed(void **state)
{
	(void)state;
	struct world w;
	struct pv_error err;
	const char *mb = "0123456789abcdef0123456789abcdef";
	world_init(&w);
	assert_int_equal(justify_rederive(&w.j, &w.leaf, mb, w.p, w.decided, &err), PV_OK);
	world_free(&w);

	/* the facts: each must be what the leaf signs */
	world_init(&w), w.j.received -= 86400 * 400;
	expect_field(&w, mb, "received");
	world_free(&w);
	world_init(&w);
	expect_field(&w, "ffffffffffffffffffffffffffffffff", "account");
	world_free(&w);
	world_init(&w), w.j.size = 5000000, w.leaf.size = 286;
	expect_field(&w, mb, "size");
	world_free(&w);
	/* a v1 leaf has no size: then the record's size is what is replayed,
	 * and a size that changes the rule does not fit the recorded tests */
	world_init(&w), w.leaf.has_size = false, w.j.size = 5000000;
	expect_field(&w, mb, "tests");
	world_free(&w);
	/* the conclusions */
	world_init(&w), snprintf(w.j.rule, sizeof(w.j.rule), "big");
	expect_field(&w, mb, "rule");
	world_free(&w);
	world_init(&w), w.j.expires -= 86400;
	expect_field(&w, mb, "expires");
	world_free(&w);
	world_init(&w), w.decided = w.j.expires - 1; /* decided before it expired */
	expect_field(&w, mb, "expires");
	world_free(&w);
	/* a recorded test outcome flipped: sec would match with one test left over */
	world_init(&w), w.j.tests.bits[0] ^= 0x80;
	expect_field(&w, mb, "tests");
	world_free(&w);
	/* the leaf of another message */
	world_init(&w), w.leaf.seq = 19;
	expect_field(&w, mb, "leaf");
	world_free(&w);
}

/* A "then review" rule never justifies a disposal, nor does forever. */
static void test_review_rule_is_no_justification(void **state)
{
	(void)state;
	struct world w;
	struct pv_error err;
	struct policy_result r;
	struct policy_message m = {.account = "main", .from = "a@corp.example", .subject = "audit 2025",
				   .size = 286, .received_at = at("2026-01-31T10:00:00Z")};
	world_init(&w);
	assert_int_equal(policy_evaluate_traced(w.p, &m, &r, &w.j.tests, &err), PV_OK);
	assert_string_equal(r.rule, "look");
	snprintf(w.j.rule, sizeof(w.j.rule), "look");
	snprintf(w.j.account, sizeof(w.j.account), "main");
	w.j.expires = r.expires_at;
	assert_int_equal(justify_rederive(&w.j, &w.leaf, "0123456789abcdef0123456789abcdef", w.p,
					  w.decided, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "review"));
	world_free(&w);
}

static void test_tombstone_must_match_the_record(void **state)
{
	(void)state;
	struct world w;
	struct pv_error err;
	struct archive_leaf t = {.kind = LEAF_TOMBSTONE, .version = 1, .seq = 18, .policy = 2};
	world_init(&w);
	justify_tombstone_reason(w.j.expires, w.j.rule, t.reason, sizeof(t.reason));
	assert_string_equal(t.reason, "expired 2026-03-02T10:00:00Z under rule fin");
	assert_int_equal(justify_check_tombstone(&w.j, &t, &err), PV_OK);
	t.policy = 1;
	assert_int_equal(justify_check_tombstone(&w.j, &t, &err), PV_EINTEGRITY);
	t.policy = 2;
	justify_tombstone_reason(w.j.expires, "default", t.reason, sizeof(t.reason));
	assert_int_equal(justify_check_tombstone(&w.j, &t, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "tombstone"));
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_record_must_be_canonical),
		cmocka_unit_test(test_rederive_names_what_was_changed),
		cmocka_unit_test(test_review_rule_is_no_justification),
		cmocka_unit_test(test_tombstone_must_match_the_record),
	};
	return cmocka_run_group_tests_name("justify", tests, NULL, NULL);
}
