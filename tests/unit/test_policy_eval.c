/* Unit tests for policy evaluation: every matcher, first match wins, glob
 * edge cases and calendar-correct expiry (policy/policy.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/random.h"
#include "policy/policy.h"

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

static int64_t at(const char *rfc3339)
{
	int64_t t;
	assert_int_equal(pv_clock_parse_rfc3339(rfc3339, &t), 0);
	return t;
}

/* A plain message; tests change what they need. */
static struct policy_message msg(void)
{
	struct policy_message m = {
		.account = "main",
		.from = "alice@example.com",
		.subject = "Hello",
		.size = 1000,
		.received_at = at("2024-01-31T10:00:00Z"),
	};
	return m;
}

static const char *class_of(const struct policy *p, const struct policy_message *m)
{
	struct policy_result r;
	struct pv_error err;
	assert_int_equal(policy_evaluate(p, m, &r, &err), PV_OK);
	return r.rule;
}

/* True when the one-rule policy "rule x when COND" matches m. */
static bool matches(const char *cond, const struct policy_message *m)
{
	char text[1024];
	snprintf(text, sizeof(text), "rule \"x\": retain 1y when %s\ndefault: retain 6y\n", cond);
	struct policy *p = parse_ok(text);
	bool hit = strcmp(class_of(p, m), "x") == 0;
	policy_free(&p);
	return hit;
}

static void test_core_example_evaluates(void **state)
{
	(void)state;
	struct policy *p = parse_ok("# comments; first match wins, top to bottom\n"
				    "rule \"sec-7y\": retain 7y when from ~ \"*@sec.gov\"\n"
				    "rule \"finance\": retain 10y when account = \"finance\" and has:attachment\n"
				    "default: retain 6y\n");
	struct policy_message m = msg();
	struct policy_result r;
	struct pv_error err;

	m.from = "examiner@SEC.gov";
	assert_int_equal(policy_evaluate(p, &m, &r, &err), PV_OK);
	assert_string_equal(r.rule, "sec-7y");
	assert_int_equal(r.rule_index, 0);
	assert_false(r.forever);
	assert_int_equal(r.action, POLICY_ACTION_DISPOSE);
	assert_int_equal(r.expires_at, at("2031-01-31T10:00:00Z"));

	m.from = "cfo@example.com";
	m.account = "finance";
	m.has_attachment = true;
	assert_int_equal(policy_evaluate(p, &m, &r, &err), PV_OK);
	assert_string_equal(r.rule, "finance");
	assert_int_equal(r.expires_at, at("2034-01-31T10:00:00Z"));

	m.has_attachment = false;
	assert_int_equal(policy_evaluate(p, &m, &r, &err), PV_OK);
	assert_string_equal(r.rule, "default");
	assert_int_equal(r.rule_index, 2);
	assert_int_equal(r.expires_at, at("2030-01-31T10:00:00Z"));

	/* Both rules match: the first one wins. */
	m.has_attachment = true;
	m.from = "x@sec.gov";
	assert_string_equal(class_of(p, &m), "sec-7y");
	policy_free(&p);
}

static void test_first_match_wins_in_written_order(void **state)
{
	(void)state;
	struct policy_message m = msg();
	m.has_attachment = true;
	struct policy *a = parse_ok("rule \"one\": retain 1y when has:attachment\n"
				    "rule \"two\": retain 2y when from ~ \"*@example.com\"\n"
				    "default: retain 6y");
	struct policy *b = parse_ok("rule \"two\": retain 2y when from ~ \"*@example.com\"\n"
				    "rule \"one\": retain 1y when has:attachment\n"
				    "default: retain 6y");
	assert_string_equal(class_of(a, &m), "one");
	assert_string_equal(class_of(b, &m), "two");
	m.has_attachment = false;
	assert_string_equal(class_of(a, &m), "two");
	m.from = "bob@other.example";
	assert_string_equal(class_of(a, &m), "default");
	policy_free(&a);
	policy_free(&b);
}

static void test_account_and_subject_matchers(void **state)
{
	(void)state;
	struct policy_message m = msg();
	m.account = "Finance";
	m.subject = "Q3 Contract Renewal";
	/* '=' is exact and case-sensitive for names and text... */
	assert_true(matches("account = \"Finance\"", &m));
	assert_false(matches("account = \"finance\"", &m));
	assert_false(matches("account = \"Fin\"", &m));
	assert_true(matches("subject = \"Q3 Contract Renewal\"", &m));
	assert_false(matches("subject = \"q3 contract renewal\"", &m));
	/* ...'~' is a case-insensitive pattern. */
	assert_true(matches("account ~ \"fin*\"", &m));
	assert_true(matches("subject ~ \"*contract*\"", &m));
	assert_false(matches("subject ~ \"contract*\"", &m));
	/* A missing subject or account is the empty string. */
	m.subject = NULL;
	m.account = NULL;
	assert_true(matches("subject = \"\"", &m));
	assert_true(matches("account ~ \"*\"", &m));
	assert_false(matches("subject ~ \"?*\"", &m));
}

static void test_address_matchers(void **state)
{
	(void)state;
	const char *to[] = {"Bob@Example.COM", "carol@sub.sec.gov"};
	const char *cc[] = {"dave@cc.example"};
	const char *bcc[] = {"eve@bcc.example"};
	struct policy_message m = msg();
	m.to = to;
	m.n_to = 2;
	m.cc = cc;
	m.n_cc = 1;
	m.bcc = bcc;
	m.n_bcc = 1;

	/* Addresses compare without case, with '=' and '~'. */
	assert_true(matches("from = \"ALICE@example.com\"", &m));
	assert_false(matches("from = \"alice@example.co\"", &m));
	assert_true(matches("to = \"bob@example.com\"", &m));
	assert_true(matches("to ~ \"*@*.sec.gov\"", &m));
	assert_false(matches("to = \"dave@cc.example\"", &m));
	assert_true(matches("cc = \"dave@cc.example\"", &m));
	assert_false(matches("cc = \"bob@example.com\"", &m));
	assert_true(matches("bcc ~ \"eve@*\"", &m));
	assert_false(matches("bcc = \"alice@example.com\"", &m));
	/* recipient is any of to, cc, bcc; participant adds from. */
	assert_true(matches("recipient = \"eve@bcc.example\"", &m));
	assert_true(matches("recipient = \"dave@cc.example\"", &m));
	assert_true(matches("recipient = \"bob@example.com\"", &m));
	assert_false(matches("recipient = \"alice@example.com\"", &m));
	assert_true(matches("participant = \"alice@example.com\"", &m));
	assert_true(matches("participant = \"eve@bcc.example\"", &m));
	assert_false(matches("participant = \"mallory@example.com\"", &m));

	/* Domains: exact, case-insensitive, no subdomains unless a pattern says so. */
	assert_true(matches("from.domain = \"EXAMPLE.com\"", &m));
	assert_true(matches("to.domain = \"example.com\"", &m));
	assert_false(matches("to.domain = \"sec.gov\"", &m));
	assert_true(matches("to.domain = \"sub.sec.gov\"", &m));
	assert_true(matches("to.domain ~ \"*.sec.gov\"", &m));
	assert_true(matches("cc.domain = \"cc.example\"", &m));
	assert_true(matches("bcc.domain = \"bcc.example\"", &m));
	assert_false(matches("bcc.domain = \"cc.example\"", &m));
	assert_true(matches("recipient.domain = \"bcc.example\"", &m));
	assert_false(matches("recipient.domain = \"example.com\" and to.domain = \"cc.example\"", &m));
	assert_true(matches("participant.domain = \"example.com\"", &m));

	/* "not" over a list: no address matches. */
	assert_false(matches("not to.domain = \"example.com\"", &m));
	assert_true(matches("not to.domain = \"other.example\"", &m));

	/* The domain is after the last '@' (a quoted local part may hold one). */
	const char *odd[] = {"\"a@b\"@corp.example", "no-at-sign", NULL};
	m.to = odd;
	m.n_to = 3;
	assert_true(matches("to.domain = \"corp.example\"", &m));
	assert_false(matches("to.domain = \"b\"", &m));
	assert_false(matches("to.domain ~ \"*\" and to.domain = \"no-at-sign\"", &m));
	assert_true(matches("to = \"no-at-sign\"", &m));

	/* No sender, no recipients: address tests are false, their negation true. */
	m.from = NULL;
	m.to = NULL;
	m.n_to = 0;
	m.cc = NULL;
	m.n_cc = 0;
	m.bcc = NULL;
	m.n_bcc = 0;
	assert_false(matches("from ~ \"*\"", &m));
	assert_false(matches("participant ~ \"*\"", &m));
	assert_false(matches("recipient.domain ~ \"*\"", &m));
	assert_true(matches("not from ~ \"*\"", &m));
}

static void test_header_size_attachment_matchers(void **state)
{
	(void)state;
	const struct policy_header h[] = {
		{"List-Id", "<news.example.com>"},
		{"x-dms-class", "Contract"},
		{"X-Tag", "one"},
		{"X-Tag", "two"},
		{"X-Empty", NULL},
	};
	struct policy_message m = msg();
	m.headers = h;
	m.n_headers = 5;

	/* Names without case (RFC 5322), values like subject. */
	assert_true(matches("header \"list-id\" ~ \"*news*\"", &m));
	assert_true(matches("header \"X-DMS-Class\" = \"Contract\"", &m));
	assert_false(matches("header \"X-DMS-Class\" = \"contract\"", &m));
	assert_true(matches("header \"X-DMS-Class\" ~ \"contract\"", &m));
	/* Any of a repeated header. */
	assert_true(matches("header \"X-Tag\" = \"two\"", &m));
	assert_true(matches("header \"X-Tag\" = \"one\"", &m));
	/* Presence test; an absent header matches nothing. */
	assert_true(matches("header \"X-Empty\" ~ \"*\"", &m));
	assert_false(matches("header \"X-Missing\" ~ \"*\"", &m));
	assert_true(matches("not header \"X-Missing\" ~ \"*\"", &m));

	m.size = 10 * 1024 * 1024;
	assert_true(matches("size = 10MB", &m));
	assert_true(matches("size >= 10MB", &m));
	assert_false(matches("size > 10MB", &m));
	assert_true(matches("size > 10239KB", &m));
	assert_true(matches("size <= 10485760", &m));
	assert_false(matches("size < 10MB", &m));
	assert_true(matches("size < 1GB", &m));
	assert_true(matches("size > 0", &m));

	assert_false(matches("has:attachment", &m));
	assert_true(matches("not has:attachment", &m));
	m.has_attachment = true;
	assert_true(matches("has:attachment", &m));

	/* Connectives and precedence: not > and > or. */
	assert_true(matches("has:attachment and size > 1MB", &m));
	assert_false(matches("has:attachment and size > 1GB", &m));
	assert_true(matches("size > 1GB or has:attachment", &m));
	assert_true(matches("size > 1GB and has:attachment or size > 1MB", &m));
	assert_false(matches("size > 1GB and (has:attachment or size > 1MB)", &m));
	assert_false(matches("not has:attachment or size > 1GB", &m));
	assert_true(matches("not (has:attachment and size > 1GB)", &m));
	assert_true(matches("not not has:attachment", &m));
}

static void test_glob_edge_cases(void **state)
{
	(void)state;
	/* The example: the literal "@sec.gov" must end the address. */
	assert_true(policy_glob_match("*@sec.gov", "x@sec.gov"));
	assert_true(policy_glob_match("*@sec.gov", "X@SEC.GOV"));
	assert_false(policy_glob_match("*@sec.gov", "x@sub.sec.gov"));
	assert_false(policy_glob_match("*@sec.gov", "x@sec.gov.evil.example"));
	assert_true(policy_glob_match("*@*sec.gov", "x@sub.sec.gov"));
	/* Documented pitfall: without '@' or '.', a suffix matches more. */
	assert_true(policy_glob_match("*sec.gov", "x@notsec.gov"));
	assert_false(policy_glob_match("*.sec.gov", "x@notsec.gov"));

	assert_true(policy_glob_match("", ""));
	assert_false(policy_glob_match("", "a"));
	assert_true(policy_glob_match("*", ""));
	assert_true(policy_glob_match("***", "abc"));
	assert_false(policy_glob_match("?", ""));
	assert_true(policy_glob_match("?", "a"));
	assert_false(policy_glob_match("?", "ab"));
	assert_true(policy_glob_match("a*b*c", "aXXbYYc"));
	assert_true(policy_glob_match("a*b*c", "abc"));
	assert_false(policy_glob_match("a*b*c", "aXXbYY"));
	assert_true(policy_glob_match("*ab", "aab"));
	assert_true(policy_glob_match("*aab", "aaab"));
	assert_false(policy_glob_match("a", "A!"));
	/* Only ASCII folds; '?' is one character, not one byte. */
	assert_true(policy_glob_match("RE: ?berweisung", "re: \xC3\x9C" "berweisung"));
	assert_false(policy_glob_match("\xC3\xBC", "\xC3\x9C"));
	assert_true(policy_glob_match("?", "\xE2\x82\xAC"));
	assert_true(policy_glob_match("??", "\xF0\x9F\x93\x8E" "a"));
	assert_true(policy_glob_match("*?", "\xC3"));          /* invalid UTF-8: a byte */
	/* Backslash makes wildcards literal. */
	assert_true(policy_glob_match("\\*urgent\\*", "*URGENT*"));
	assert_false(policy_glob_match("\\*urgent\\*", "very urgent!"));
	assert_true(policy_glob_match("what\\?", "what?"));
	assert_false(policy_glob_match("what\\?", "whats"));
	assert_true(policy_glob_match("a\\\\b", "a\\b"));

	/* A hostile subject against many stars stays fast (no exponential
	 * backtracking): 100k characters, well under a second. */
	size_t n = 100000;
	char *big = malloc(n + 1);
	memset(big, 'a', n);
	big[n] = '\0';
	clock_t t0 = clock();
	assert_false(policy_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", big));
	assert_true(policy_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*", big));
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
	free(big);
}

static int64_t expiry(const char *received, uint32_t amount, char unit)
{
	struct policy_retention r = {.unit = unit, .amount = amount};
	int64_t e;
	struct pv_error err;
	assert_int_equal(policy_expiry(at(received), &r, &e, &err), PV_OK);
	return e;
}

static void test_calendar_arithmetic(void **state)
{
	(void)state;
	/* Month ends clamp; time of day is kept. */
	assert_int_equal(expiry("2024-01-31T10:00:00Z", 1, 'm'), at("2024-02-29T10:00:00Z"));
	assert_int_equal(expiry("2023-01-31T10:00:00Z", 1, 'm'), at("2023-02-28T10:00:00Z"));
	assert_int_equal(expiry("2023-03-31T23:59:59Z", 1, 'm'), at("2023-04-30T23:59:59Z"));
	assert_int_equal(expiry("2023-01-30T00:00:00Z", 1, 'm'), at("2023-02-28T00:00:00Z"));
	assert_int_equal(expiry("2023-01-28T00:00:00Z", 1, 'm'), at("2023-02-28T00:00:00Z"));
	assert_int_equal(expiry("2023-08-31T12:00:00Z", 6, 'm'), at("2024-02-29T12:00:00Z"));
	assert_int_equal(expiry("2023-12-15T00:00:00Z", 1, 'm'), at("2024-01-15T00:00:00Z"));
	assert_int_equal(expiry("2023-11-30T00:00:00Z", 3, 'm'), at("2024-02-29T00:00:00Z"));
	/* Leap days: Feb 29 + 1y = Feb 28; + 4y = Feb 29; century rules. */
	assert_int_equal(expiry("2024-02-29T08:00:00Z", 1, 'y'), at("2025-02-28T08:00:00Z"));
	assert_int_equal(expiry("2024-02-29T08:00:00Z", 4, 'y'), at("2028-02-29T08:00:00Z"));
	assert_int_equal(expiry("2024-02-29T08:00:00Z", 7, 'y'), at("2031-02-28T08:00:00Z"));
	assert_int_equal(expiry("2096-02-29T00:00:00Z", 4, 'y'), at("2100-02-28T00:00:00Z"));
	assert_int_equal(expiry("1996-02-29T00:00:00Z", 4, 'y'), at("2000-02-29T00:00:00Z"));
	assert_int_equal(expiry("2099-01-31T00:00:00Z", 13, 'm'), at("2100-02-28T00:00:00Z"));
	assert_int_equal(expiry("2024-02-29T00:00:00Z", 12, 'm'), expiry("2024-02-29T00:00:00Z", 1, 'y'));
	/* Days are 86400 s (UTC has no DST), across a leap day. */
	assert_int_equal(expiry("2024-02-28T22:00:00Z", 1, 'd'), at("2024-02-29T22:00:00Z"));
	assert_int_equal(expiry("2024-02-28T22:00:00Z", 2, 'd'), at("2024-03-01T22:00:00Z"));
	assert_int_equal(expiry("2024-01-01T00:00:00Z", 366, 'd'), at("2025-01-01T00:00:00Z"));
	/* The longest retention stays representable. */
	assert_int_equal(expiry("9999-12-31T23:59:59Z", 1000, 'y'),
			 expiry("9999-12-31T23:59:59Z", 12000, 'm'));

	char s[POLICY_TIME_LEN];
	policy_format_time(expiry("9999-12-31T23:59:59Z", 1000, 'y'), s);
	assert_string_equal(s, "10999-12-31T23:59:59Z");

	/* Before 1970 and the edges of the accepted range. */
	struct policy_retention r = {.unit = 'm', .amount = 1};
	struct pv_error err;
	int64_t e;
	assert_int_equal(policy_expiry(-1, &r, &e, &err), PV_OK);
	policy_format_time(e, s);
	assert_string_equal(s, "1970-01-31T23:59:59Z");
	assert_int_equal(policy_expiry(INT64_C(-2208988800) + 86400 * 30, &r, &e, &err), PV_OK);
	policy_format_time(e, s);
	assert_string_equal(s, "1900-02-28T00:00:00Z"); /* 1900 is not a leap year */
	assert_int_equal(policy_expiry(INT64_C(-62135596800), &r, &e, &err), PV_OK);
	policy_format_time(e, s);
	assert_string_equal(s, "0001-02-01T00:00:00Z");
	assert_int_equal(policy_expiry(INT64_C(-62135596801), &r, &e, &err), PV_ERR);
	assert_int_equal(policy_expiry(INT64_C(253402300800), &r, &e, &err), PV_ERR);
	assert_int_equal(policy_expiry(INT64_MAX, &r, &e, &err), PV_ERR);
	assert_int_equal(policy_expiry(INT64_MIN, &r, &e, &err), PV_ERR);
	/* Retentions a parsed policy cannot hold are refused. */
	struct policy_retention bad[] = {{.unit = 'd', .amount = 0}, {.unit = 'x', .amount = 1},
					 {.unit = 'y', .amount = 1001}, {.unit = 0, .amount = 1}};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(policy_expiry(0, &bad[i], &e, &err), PV_ERR);
	struct policy_retention forever = {.forever = true};
	assert_int_equal(policy_expiry(0, &forever, &e, &err), PV_OK);
	assert_int_equal(e, POLICY_NEVER);
	policy_format_time(POLICY_NEVER, s);
	assert_string_equal(s, "never");

	/* Evaluation refuses a receipt time outside the calendar. */
	struct policy *p = parse_ok("default: retain 6y");
	struct policy_message m = msg();
	struct policy_result res;
	m.received_at = INT64_MAX;
	assert_int_equal(policy_evaluate(p, &m, &res, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "outside years 1 to 9999"));
	policy_free(&p);
}

/* Add months the slow way with the C library (timegm normalises), as an
 * independent oracle: the same day, or the last day of a shorter month. */
static int64_t oracle_add_months(int64_t t, int months)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	int mday = tm.tm_mday;
	struct tm first = tm;
	first.tm_mday = 1;
	first.tm_mon += months + 1;
	first.tm_mday = 0; /* last day of the target month */
	time_t last = timegm(&first);
	struct tm lt;
	gmtime_r(&last, &lt);
	tm.tm_mon += months;
	tm.tm_mday = mday < lt.tm_mday ? mday : lt.tm_mday;
	return (int64_t)timegm(&tm);
}

static void test_calendar_matches_libc_oracle(void **state)
{
	(void)state;
	unsigned char seed[32] = {7};
	pv_random_seed_for_tests(seed);
	for (int i = 0; i < 20000; i++) {
		uint64_t rnd[2];
		pv_random_bytes(rnd, sizeof(rnd));
		/* 1970 .. 2200, and 1 .. 1300 months. */
		int64_t t = (int64_t)(rnd[0] % UINT64_C(7258118400));
		uint32_t months = (uint32_t)(rnd[1] % 1300) + 1;
		struct policy_retention r = {.unit = 'm', .amount = months};
		struct pv_error err;
		int64_t e;
		assert_int_equal(policy_expiry(t, &r, &e, &err), PV_OK);
		assert_int_equal(e, oracle_add_months(t, (int)months));
		if (months % 12 == 0) {
			struct policy_retention y = {.unit = 'y', .amount = months / 12};
			int64_t ey;
			assert_int_equal(policy_expiry(t, &y, &ey, &err), PV_OK);
			assert_int_equal(ey, e);
		}
		struct policy_retention d = {.unit = 'd', .amount = months};
		assert_int_equal(policy_expiry(t, &d, &e, &err), PV_OK);
		assert_int_equal(e, t + (int64_t)months * 86400);
		/* Our formatter agrees with the library's. */
		char a[POLICY_TIME_LEN], b[PV_RFC3339_LEN];
		policy_format_time(t, a);
		pv_clock_format_rfc3339(t, b);
		assert_string_equal(a, b);
	}
	pv_random_seed_for_tests(NULL);
}

static void test_retain_forever_and_review(void **state)
{
	(void)state;
	struct policy *p = parse_ok("rule \"keep\": retain forever when subject ~ \"*board*\"\n"
				    "rule \"look\": retain 3m then review when has:attachment\n"
				    "default: retain 1y then dispose");
	struct policy_message m = msg();
	struct policy_result r;
	struct pv_error err;
	m.subject = "Board minutes";
	assert_int_equal(policy_evaluate(p, &m, &r, &err), PV_OK);
	assert_string_equal(r.rule, "keep");
	assert_true(r.forever);
	assert_int_equal(r.expires_at, POLICY_NEVER);
	m.subject = "x";
	m.has_attachment = true;
	assert_int_equal(policy_evaluate(p, &m, &r, &err), PV_OK);
	assert_string_equal(r.rule, "look");
	assert_false(r.forever);
	assert_int_equal(r.action, POLICY_ACTION_REVIEW);
	assert_int_equal(r.expires_at, at("2024-04-30T10:00:00Z"));
	assert_string_equal(policy_action_name(r.action), "review");
	assert_string_equal(policy_action_name(POLICY_ACTION_DISPOSE), "dispose");
	policy_free(&p);
}

/* A trace recorded on the real message re-derives the same rule from the
 * signed facts alone; any change of a fact or of a recorded outcome either
 * gives another rule or does not fit. */
static void test_trace_replays_the_decision(void **state)
{
	(void)state;
	struct policy *p = parse_ok("rule \"big\": retain 1d when size > 1MB\n"
				    "rule \"sec\": retain 7y when from.domain = \"sec.gov\" or"
				    " (has:attachment and subject ~ \"*report*\")\n"
				    "rule \"fin\": retain 10y when account = \"finance\" and not has:attachment\n"
				    "default: retain 6y\n");
	struct policy_message m = msg(), facts;
	struct policy_result r, back;
	struct policy_trace tr, t2;
	struct pv_error err;
	char text[POLICY_TRACE_TEXT_MAX];

	m.has_attachment = true;
	m.subject = "Q3 report";
	assert_int_equal(policy_evaluate_traced(p, &m, &r, &tr, &err), PV_OK);
	assert_string_equal(r.rule, "sec");
	assert_int_equal(tr.n, 3); /* from.domain false, has:attachment true, subject true */
	assert_int_equal(policy_trace_format(&tr, text, sizeof(text)), PV_OK);
	assert_string_equal(text, "3:6");
	assert_int_equal(policy_trace_parse(text, strlen(text), &t2), PV_OK);
	assert_memory_equal(&t2, &tr, sizeof(tr));
	/* Facts only: no content at all. */
	facts = (struct policy_message){.account = m.account, .size = m.size,
					.received_at = m.received_at};
	assert_int_equal(policy_evaluate_replay(p, &facts, &tr, &back, &err), PV_OK);
	assert_string_equal(back.rule, "sec");
	assert_int_equal(back.expires_at, r.expires_at);
	/* A size that would have made it "big": the trace is left over. */
	facts.size = 5000000;
	assert_int_equal(policy_evaluate_replay(p, &facts, &tr, &back, &err), PV_EINTEGRITY);
	facts.size = m.size;
	/* Another received time: the same rule, another expiry. */
	facts.received_at += 86400;
	assert_int_equal(policy_evaluate_replay(p, &facts, &tr, &back, &err), PV_OK);
	assert_int_equal(back.expires_at, r.expires_at + 86400);
	facts.received_at = m.received_at;
	/* A flipped outcome re-derives another rule, or does not fit. */
	t2.bits[0] ^= 0x20; /* subject: false */
	assert_int_equal(policy_evaluate_replay(p, &facts, &t2, &back, &err), PV_OK);
	assert_string_equal(back.rule, "default");
	t2.bits[0] ^= 0x60; /* has:attachment false, subject true: one test left over */
	assert_int_equal(policy_evaluate_replay(p, &facts, &t2, &back, &err), PV_EINTEGRITY);
	/* The finance rule: account is a fact, has:attachment a content test. */
	m = msg();
	m.account = "finance";
	assert_int_equal(policy_evaluate_traced(p, &m, &r, &tr, &err), PV_OK);
	assert_string_equal(r.rule, "fin");
	facts = (struct policy_message){.account = "finance", .size = m.size,
					.received_at = m.received_at};
	assert_int_equal(policy_evaluate_replay(p, &facts, &tr, &back, &err), PV_OK);
	assert_string_equal(back.rule, "fin");
	facts.account = "main"; /* then the trace is one test too long */
	assert_int_equal(policy_evaluate_replay(p, &facts, &tr, &back, &err), PV_EINTEGRITY);
	/* Decided by facts alone: an empty trace. */
	m = msg();
	m.size = 2000000;
	assert_int_equal(policy_evaluate_traced(p, &m, &r, &tr, &err), PV_OK);
	assert_string_equal(r.rule, "big");
	assert_int_equal(tr.n, 0);
	assert_int_equal(policy_trace_format(&tr, text, sizeof(text)), PV_OK);
	assert_string_equal(text, "0");
	policy_free(&p);
}

static void test_trace_text_is_strict(void **state)
{
	(void)state;
	struct policy_trace t;
	static const char *const bad[] = {"", "00", "01", "1", "1:", "1:8x", "1:c", "2:4f", "3:A",
					  "-1", "0:", "10001:0", "5:fc", "5:f80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(policy_trace_parse(bad[i], strlen(bad[i]), &t), PV_EINTEGRITY);
	assert_int_equal(policy_trace_parse("5:f8", 4, &t), PV_OK);
	assert_int_equal(t.n, 5);
	assert_int_equal(t.bits[0], 0xf8);
	assert_int_equal(policy_trace_parse("0", 1, &t), PV_OK);
	assert_int_equal(t.n, 0);
}

/* What plain verify can say without the content: which rules the facts
 * leave possible. */
static void test_rule_possible_from_facts(void **state)
{
	(void)state;
	struct policy *p = parse_ok("rule \"big\": retain 1d when size > 1MB\n"
				    "rule \"sec\": retain 7y when from ~ \"*@sec.gov\"\n"
				    "rule \"fin\": retain 10y when account = \"finance\"\n"
				    "default: retain 6y\n");
	struct policy_message f = {.account = "main", .size = 286, .received_at = at("2024-01-31T10:00:00Z")};
	assert_false(policy_rule_possible(p, &f, 0)); /* not big */
	assert_true(policy_rule_possible(p, &f, 1));  /* content decides */
	assert_false(policy_rule_possible(p, &f, 2)); /* not finance */
	assert_true(policy_rule_possible(p, &f, 3));
	f.size = 5000000;
	assert_true(policy_rule_possible(p, &f, 0));
	assert_false(policy_rule_possible(p, &f, 1)); /* big is certain first */
	assert_false(policy_rule_possible(p, &f, 3));
	assert_false(policy_rule_possible(p, &f, 4));
	policy_free(&p);
}

/* Ingest skips the content's parse when the facts decide: the answer
 * must be policy_evaluate's for every content, and "the content decides"
 * whenever a content test could change the matching rule. */
static void test_facts_decide_only_without_content_tests(void **state)
{
	(void)state;
	struct policy *p = parse_ok("rule \"big\": retain 1d when size > 1MB\n"
				    "rule \"sec\": retain 7y when from ~ \"*@sec.gov\"\n"
				    "rule \"fin\": retain 10y when account = \"finance\" or"
				    " subject ~ \"*invoice*\"\n"
				    "default: retain 6y\n");
	struct policy_message f = {.account = "main", .size = 286,
				   .received_at = at("2024-01-31T10:00:00Z")};
	struct policy_result r, full;
	struct pv_error err;
	assert_int_equal(policy_evaluate_facts(p, &f, &r, &err), PV_ENOTFOUND); /* from? */
	f.size = 5000000;
	assert_int_equal(policy_evaluate_facts(p, &f, &r, &err), PV_OK);
	assert_string_equal(r.rule, "big");
	assert_int_equal(policy_evaluate(p, &f, &full, &err), PV_OK);
	assert_int_equal(r.expires_at, full.expires_at);
	assert_int_equal(r.rule_index, full.rule_index);
	policy_free(&p);

	/* A rule of facts before the content rules, and a content test after
	 * a decided "or": no content needed. */
	p = parse_ok("rule \"fin\": retain 10y when account = \"finance\" or"
		     " subject ~ \"*invoice*\"\n"
		     "rule \"sec\": retain 7y when from ~ \"*@sec.gov\"\n"
		     "default: retain 6y\n");
	f.account = "finance";
	assert_int_equal(policy_evaluate_facts(p, &f, &r, &err), PV_OK);
	assert_string_equal(r.rule, "fin");
	f.account = "main";
	assert_int_equal(policy_evaluate_facts(p, &f, &r, &err), PV_ENOTFOUND);
	policy_free(&p);

	/* The policy popvault init stores: the default rule only. */
	p = parse_ok("default: retain 6y\n");
	assert_int_equal(policy_evaluate_facts(p, &f, &r, &err), PV_OK);
	assert_int_equal(policy_evaluate(p, &f, &full, &err), PV_OK);
	assert_string_equal(r.rule, full.rule);
	assert_int_equal(r.expires_at, full.expires_at);
	assert_int_equal(r.action, full.action);
	policy_free(&p);
}

/* Ingest keeps no head of a message when the policy reads no content:
 * every content test, however deep in and/or/not, must count; account
 * and size tests must not. */
static void test_reads_content_finds_every_content_test(void **state)
{
	(void)state;
	static const char *const reads[] = {
		"rule \"a\": retain 1y when from ~ \"*@x.example\"\ndefault: retain 6y\n",
		"rule \"a\": retain 1y when size > 1MB and not (account = \"m\" or"
		" subject ~ \"*x*\")\ndefault: retain 6y\n",
		"rule \"a\": retain 1y when account = \"m\"\n"
		"rule \"b\": retain 2y when has:attachment\ndefault: retain 6y\n",
	};
	static const char *const facts_only[] = {
		"default: retain 6y\n",
		"rule \"a\": retain 1y when size > 1MB or not account = \"m\"\n"
		"default: retain 6y\n",
	};
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		struct policy *p = parse_ok(reads[i]);
		assert_true(policy_reads_content(p));
		policy_free(&p);
	}
	for (size_t i = 0; i < sizeof(facts_only) / sizeof(facts_only[0]); i++) {
		struct policy *p = parse_ok(facts_only[i]);
		assert_false(policy_reads_content(p));
		policy_free(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_example_evaluates),
		cmocka_unit_test(test_first_match_wins_in_written_order),
		cmocka_unit_test(test_account_and_subject_matchers),
		cmocka_unit_test(test_address_matchers),
		cmocka_unit_test(test_header_size_attachment_matchers),
		cmocka_unit_test(test_glob_edge_cases),
		cmocka_unit_test(test_calendar_arithmetic),
		cmocka_unit_test(test_calendar_matches_libc_oracle),
		cmocka_unit_test(test_retain_forever_and_review),
		cmocka_unit_test(test_trace_replays_the_decision),
		cmocka_unit_test(test_trace_text_is_strict),
		cmocka_unit_test(test_rule_possible_from_facts),
		cmocka_unit_test(test_facts_decide_only_without_content_tests),
		cmocka_unit_test(test_reads_content_finds_every_content_test),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
