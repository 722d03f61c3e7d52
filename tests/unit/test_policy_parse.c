/* Unit tests for the policy language: parsing, positioned errors, limits,
 * hostile input, canonical form and hash (policy/policy.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/random.h"
#include "policy/policy.h"

static const char core_text[] =
	"# comments; first match wins, top to bottom\n"
	"rule \"sec-7y\": retain 7y when from ~ \"*@sec.gov\"\n"
	"rule \"finance\": retain 10y when account = \"finance\" and has:attachment\n"
	"default: retain 6y\n";

static struct policy *parse_ok(const char *text)
{
	struct policy *p = NULL;
	struct pv_error err = {0};
	int r = policy_parse(text, strlen(text), &p, NULL, &err);
	if (r != 0)
		print_error("unexpected parse error: %s\n", err.msg);
	assert_int_equal(r, PV_OK);
	assert_non_null(p);
	return p;
}

/* Parses text that must fail; returns the status and fills err. */
static int parse_bad_len(const char *text, size_t len, struct pv_error *err,
			 struct policy_diags *d)
{
	struct policy *p = (struct policy *)1;
	int r = policy_parse(text, len, &p, d, err);
	assert_true(r < 0);
	assert_null(p);
	return r;
}

static int parse_bad(const char *text, struct pv_error *err)
{
	return parse_bad_len(text, strlen(text), err, NULL);
}

static int mismatches;

/* The first error must start with "line L, column C: " and contain want.
 * Mismatches are counted so one run reports all of them. */
static void expect_error(const char *text, unsigned line, unsigned column, const char *want)
{
	struct pv_error err = {0};
	char prefix[64];
	parse_bad(text, &err);
	snprintf(prefix, sizeof(prefix), "line %u, column %u: ", line, column);
	if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || strstr(err.msg, want) == NULL) {
		print_error("input: %s\nwant:  %s%s\ngot:   %s\n", text, prefix, want, err.msg);
		mismatches++;
	}
}

static char *format(const struct policy *p)
{
	struct pv_buf out;
	struct pv_error err;
	pv_buf_init(&out, 4 * PV_POLICY_FILE_MAX);
	assert_int_equal(policy_format(p, &out, &err), PV_OK);
	char *s = strdup(pv_buf_str(&out));
	pv_buf_free(&out);
	return s;
}

static void test_core_example_from_the_issue_parses(void **state)
{
	(void)state;
	struct policy *p = parse_ok(core_text);
	struct policy_retention r;

	assert_int_equal(policy_rule_count(p), 3);
	assert_string_equal(policy_rule_name(p, 0), "sec-7y");
	assert_string_equal(policy_rule_name(p, 1), "finance");
	assert_string_equal(policy_rule_name(p, 2), POLICY_DEFAULT_CLASS);
	policy_rule_retention(p, 0, &r);
	assert_false(r.forever);
	assert_int_equal(r.amount, 7);
	assert_int_equal(r.unit, 'y');
	assert_int_equal(r.action, POLICY_ACTION_DISPOSE);
	policy_rule_retention(p, 1, &r);
	assert_int_equal(r.amount, 10);
	policy_rule_retention(p, 2, &r);
	assert_int_equal(r.amount, 6);
	assert_int_equal(r.unit, 'y');
	assert_int_equal(policy_rule_find(p, "finance"), 1);
	assert_int_equal(policy_rule_find(p, "nope"), -1);

	/* The issue's example is already canonical, minus its comment. */
	char *canon = format(p);
	assert_string_equal(canon, strchr(core_text, '\n') + 1);
	free(canon);
	policy_free(&p);
	assert_null(p);
	policy_free(&p); /* idempotent */
}

static void test_initial_policy_keeps_everything(void **state)
{
	(void)state;
	struct policy *p = parse_ok(policy_initial_text);
	struct policy_retention r;
	assert_int_equal(policy_rule_count(p), 1);
	policy_rule_retention(p, 0, &r);
	assert_true(r.forever);
	policy_free(&p);
}

static void test_hash_is_sha256_of_exact_bytes(void **state)
{
	(void)state;
	/* Known answer: sha256("default: retain 6y\n"). */
	struct policy *p = parse_ok("default: retain 6y\n");
	char hex[POLICY_HASH_HEX_LEN];
	policy_hash_hex(p, hex);
	assert_string_equal(hex, "1c0fd2d8eb8bc09e589b8ec6ff52bd22dc7b8231c53feaea13269373832a15fc");

	/* A comment is part of the stored version: new hash, same meaning. */
	struct policy *q = parse_ok("default: retain 6y # six years\n");
	unsigned char h1[POLICY_HASH_LEN], h2[POLICY_HASH_LEN], h3[POLICY_HASH_LEN];
	policy_hash(p, h1);
	policy_hash(q, h2);
	assert_memory_not_equal(h1, h2, POLICY_HASH_LEN);
	size_t len;
	const unsigned char *src = policy_source(q, &len);
	policy_hash_bytes(src, len, h3);
	assert_memory_equal(h2, h3, POLICY_HASH_LEN);
	assert_int_equal(len, strlen("default: retain 6y # six years\n"));
	char *a = format(p), *b = format(q);
	assert_string_equal(a, b);
	free(a);
	free(b);
	policy_free(&p);
	policy_free(&q);
}

static void test_whole_language_accepted(void **state)
{
	(void)state;
	struct policy *p = parse_ok(
		"rule \"a\": retain forever when participant.domain = \"x.example\"\n"
		"rule \"b\": retain 18m then review when (to ~ \"*@a\" or cc.domain ~ \"*.b\")"
		" and not bcc = \"c@d\"\n"
		"rule \"c\": retain 90d then dispose when recipient ~ \"x\" or subject = \"S\"\n"
		"rule \"d\": retain 1y when header \"X-Class\" ~ \"a?c\" and size > 10MB"
		" and size < 2GB and size >= 500KB and size <= 1024 and size = 0\n"
		"rule \"e\": retain 1d when has:attachment and account ~ \"fin*\"\n"
		"rule \"f.g_h-1\": retain 1000y when from.domain = \"sec.gov\" or to.domain = \"t\""
		" or recipient.domain = \"r\" or participant = \"p\" or from = \"f\" or cc = \"c\""
		" or bcc.domain = \"b\"\n"
		"default: retain 6y then review\n");
	struct policy_retention r;
	assert_int_equal(policy_rule_count(p), 7);
	policy_rule_retention(p, 0, &r);
	assert_true(r.forever);
	policy_rule_retention(p, 1, &r);
	assert_int_equal(r.unit, 'm');
	assert_int_equal(r.action, POLICY_ACTION_REVIEW);
	policy_rule_retention(p, 2, &r);
	assert_int_equal(r.unit, 'd');
	assert_int_equal(r.amount, 90);
	assert_int_equal(r.action, POLICY_ACTION_DISPOSE);
	policy_rule_retention(p, 6, &r);
	assert_int_equal(r.action, POLICY_ACTION_REVIEW);
	policy_free(&p);
}

static void test_rules_may_span_lines_and_crlf_and_bom(void **state)
{
	(void)state;
	struct policy *p = parse_ok("\xEF\xBB\xBF# windows editor\r\n"
				    "rule \"a\":\r\n\tretain 7y\r\n\twhen from ~ \"*@sec.gov\"\r\n"
				    "\t  or to ~ \"*@sec.gov\"\r\n"
				    "default:\tretain 6y");
	assert_int_equal(policy_rule_count(p), 2);
	policy_free(&p);
	/* Columns after a BOM still start at 1. */
	expect_error("\xEF\xBB\xBF" "default: retain 6x", 1, 17, "bad duration '6x'");
	/* A lone CR is not a line end anyone can see in a diff. */
	expect_error("default: retain 6y\rrule", 1, 19, "control character U+000D");
}

static void test_syntax_errors_have_line_and_column(void **state)
{
	(void)state;
	const char *d = "\ndefault: retain 6y\n";
	char buf[512];

	/* The error cases the issue names. */
	snprintf(buf, sizeof(buf), "rule \"a\": retain 7y when form ~ \"x\"%s", d);
	expect_error(buf, 1, 26, "unknown field 'form'");
	snprintf(buf, sizeof(buf), "rule \"a\": retain 7x when from ~ \"x\"%s", d);
	expect_error(buf, 1, 18, "bad duration '7x'");
	snprintf(buf, sizeof(buf), "rule \"a\": retain 0y when from ~ \"x\"%s", d);
	expect_error(buf, 1, 18, "at least 1 day");
	snprintf(buf, sizeof(buf), "rule \"a\": retain 99999999999y when from ~ \"x\"%s", d);
	expect_error(buf, 1, 18, "bad duration '99999999999y': at most 1000y");
	snprintf(buf, sizeof(buf), "rule \"a\": retain 18446744073709551617d when from ~ \"x\"%s", d);
	expect_error(buf, 1, 18, "at most 1000y");
	expect_error("rule \"a\": retain 7y when from ~ \"*@sec.gov\n" "default: retain 6y\n", 1, 43,
		     "expected closing '\"' of the string opened at column 33, found end of line");
	expect_error("rule \"a\": retain 7y when from ~ \"x\"\n", 2, 1,
		     "expected the default rule (default: retain ...) as the last rule, found end of file");
	expect_error("rule \"a\": retain 7y when from ~ \"x\"", 1, 36, "expected the default rule");
	expect_error("", 1, 1, "expected the default rule");
	expect_error("# only a comment\n\n", 3, 1, "expected the default rule");

	/* Durations: units, limits, spelling. */
	expect_error("default: retain 7", 1, 17, "bad duration '7'");
	expect_error("default: retain 7Y", 1, 17, "bad duration '7Y'");
	expect_error("default: retain 7yy", 1, 17, "bad duration '7yy'");
	expect_error("default: retain 1001y", 1, 17, "at most 1000y");
	expect_error("default: retain 12001m", 1, 17, "at most 1000y");
	expect_error("default: retain 366001d", 1, 17, "at most 1000y");
	expect_error("default: retain y7", 1, 17, "expected a duration such as 7y");
	expect_error("default: keep 7y", 1, 10, "expected 'retain', found 'keep'");
	expect_error("default: retain 7y then burn", 1, 25,
		     "expected 'dispose' or 'review' after 'then', found 'burn'");
	expect_error("default: retain forever then dispose", 1, 25, "'retain forever' never expires");
	expect_error("default retain 7y", 1, 9, "expected ':' after 'default', found 'retain'");

	/* Rule structure. */
	expect_error("rule sec: retain 7y when from ~ \"x\"", 1, 6,
		     "expected a rule name in double quotes, found 'sec'");
	expect_error("rule \"a\" retain 7y when from ~ \"x\"", 1, 10, "expected ':' after the rule name");
	expect_error("rule \"a\": retain 7y\ndefault: retain 6y", 2, 1,
		     "expected 'when' and a condition (only the default rule has none), found 'default'");
	expect_error("default: retain 6y when from ~ \"x\"", 1, 20, "the default rule has no condition");
	expect_error("default: retain 6y\nrule \"a\": retain 7y when from ~ \"x\"", 2, 1,
		     "a rule after the default rule (line 1)");
	expect_error("default: retain 6y\ndefault: retain 7y", 2, 1,
		     "a second default rule after the default rule (line 1)");
	expect_error("default: retain 6y\nfrom", 2, 1,
		     "expected end of file after the default rule, found 'from'");
	expect_error("rule \"a\": retain 1y when from ~ \"x\" xor to ~ \"y\"\ndefault: retain 6y", 1, 37,
		     "expected 'and', 'or', or a new 'rule', found 'xor'");
	expect_error("retain 6y", 1, 1, "expected 'rule' or 'default', found 'retain'");

	/* Names. */
	expect_error("rule \"a\": retain 1y when from ~ \"x\"\nrule \"A\": retain 2y when to ~ \"x\"\n"
		     "default: retain 6y", 2, 6, "duplicate rule name \"A\" (first used at line 1)");
	expect_error("rule \"default\": retain 1y when from ~ \"x\"\ndefault: retain 6y", 1, 6,
		     "reserved for the default rule");
	expect_error("rule \"\": retain 1y when from ~ \"x\"\ndefault: retain 6y", 1, 6, "bad rule name");
	expect_error("rule \"a b\": retain 1y when from ~ \"x\"\ndefault: retain 6y", 1, 6, "bad rule name");
	expect_error("rule \"-a\": retain 1y when from ~ \"x\"\ndefault: retain 6y", 1, 6, "bad rule name");
	expect_error("rule \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": "
		     "retain 1y when from ~ \"x\"\ndefault: retain 6y", 1, 6, "bad rule name");

	/* Conditions. */
	expect_error("rule \"a\": retain 1y when size ~ \"big\"\ndefault: retain 6y", 1, 31,
		     "expected a comparison (=, <, <=, > or >=) after 'size', found '~'");
	expect_error("rule \"a\": retain 1y when subject > \"x\"\ndefault: retain 6y", 1, 34,
		     "expected '=' or '~' after 'subject', found '>'");
	expect_error("rule \"a\": retain 1y when size > \"10MB\"\ndefault: retain 6y", 1, 33,
		     "expected a size such as 10MB");
	expect_error("rule \"a\": retain 1y when size > 10XB\ndefault: retain 6y", 1, 33,
		     "bad size '10XB'");
	expect_error("rule \"a\": retain 1y when size > 2TB\ndefault: retain 6y", 1, 33,
		     "above the limit of 1TB");
	expect_error("rule \"a\": retain 1y when size > 99999999999999999999999\ndefault: retain 6y",
		     1, 33, "above the limit of 1TB");
	expect_error("rule \"a\": retain 1y when from = x\ndefault: retain 6y", 1, 33,
		     "expected a value in double quotes after 'from =', found 'x'");
	expect_error("rule \"a\": retain 1y when from.domain = \"a@sec.gov\"\ndefault: retain 6y", 1, 40,
		     "a domain has no '@'");
	expect_error("rule \"a\": retain 1y when subject ~ \"x\\\\\"\ndefault: retain 6y", 1, 36,
		     "pattern ends with a lone '\\'");
	expect_error("rule \"a\": retain 1y when header X ~ \"x\"\ndefault: retain 6y", 1, 33,
		     "expected a header name in double quotes");
	expect_error("rule \"a\": retain 1y when header \"X Y\" ~ \"x\"\ndefault: retain 6y", 1, 33,
		     "bad header name");
	expect_error("rule \"a\": retain 1y when header \"X:\" ~ \"x\"\ndefault: retain 6y", 1, 33,
		     "bad header name");
	expect_error("rule \"a\": retain 1y when has:attachments\ndefault: retain 6y", 1, 30,
		     "expected 'attachment' after 'has:', found 'attachments'");
	expect_error("rule \"a\": retain 1y when has attachment\ndefault: retain 6y", 1, 30,
		     "expected ':' after 'has'");
	expect_error("rule \"a\": retain 1y when (from ~ \"x\"\ndefault: retain 6y", 2, 1,
		     "expected 'and', 'or' or ')' to close the '(' at line 1, column 26, found 'default'");
	expect_error("rule \"a\": retain 1y when from ~ \"x\" and\ndefault: retain 6y", 2, 1,
		     "expected a condition such as");
	expect_error("rule \"a\": retain 1y when not\ndefault: retain 6y", 2, 1,
		     "expected a condition such as");
	expect_error("rule \"a\": retain 1y when ()\ndefault: retain 6y", 1, 27,
		     "expected a condition such as from ~ \"*@example.com\", found ')'");

	/* Characters that belong to other languages get a hint. */
	expect_error("rule \"a\": retain 1y when from ~ \"x\" && to ~ \"y\"\ndefault: retain 6y", 1, 37,
		     "unexpected character '&'; write 'and'");
	expect_error("rule \"a\": retain 1y when from != \"x\"\ndefault: retain 6y", 1, 31,
		     "unexpected character '!'; write not (FIELD = VALUE)");
	expect_error("rule \"a\": retain 1y when from ~ \"x\" || to ~ \"y\"\ndefault: retain 6y", 1, 37,
		     "unexpected character '|'; write 'or'");
	expect_error("rule \"a\": retain 1y when from ~ \"\\x\"\ndefault: retain 6y", 1, 34,
		     "unknown escape in string");
	expect_error("rule \"a\": retain 1y when from ~ \"a\tb\"\ndefault: retain 6y", 1, 35,
		     "control character U+0009 in string");
	expect_error("default: retain 6y\n\xC2\xA7", 2, 1, "unexpected character '\xC2\xA7'");
	assert_int_equal(mismatches, 0);
}

static void test_columns_count_characters_not_bytes(void **state)
{
	(void)state;
	/* "ä" is two bytes but one column, as an editor shows it. */
	expect_error("rule \"\xC3\xA4\": retain 7x when from ~ \"x\"\ndefault: retain 6y", 1, 6,
		     "bad rule name");
	expect_error("rule \"a\": retain 1y when subject ~ \"\xC3\xA4\xE2\x82\xAC\" and sise = \"\"\n"
		     "default: retain 6y", 1, 45, "unknown field 'sise'");
	/* UTF-8 in values and comments is fine. */
	struct policy *p = parse_ok("# Aufbewahrung f\xC3\xBCr \xE2\x82\xAC-Rechnungen\n"
				    "rule \"rechnung\": retain 10y when subject ~ \"*\xC3\x9C" "berweisung*\"\n"
				    "default: retain 6y");
	policy_free(&p);
}

static void test_several_errors_collected(void **state)
{
	(void)state;
	const char *text = "rule \"a\": retain 7x when form = \"x\"\n"
			   "rule \"b\" retain 1y when from = \"x\"\n"
			   "rule \"a\": retain 1y when to = \"x\"\n";
	struct pv_error err;
	struct policy_diags d;
	assert_int_equal(parse_bad_len(text, strlen(text), &err, &d), PV_ERR);
	assert_int_equal(d.count, 5);
	assert_false(d.truncated);
	unsigned want[][2] = {{1, 18}, {1, 26}, {2, 10}, {3, 6}, {4, 1}};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(d.item[i].line, want[i][0]);
		assert_int_equal(d.item[i].column, want[i][1]);
	}
	assert_non_null(strstr(d.item[4].msg, "expected the default rule"));
	assert_non_null(strstr(err.msg, "(and 4 more errors)"));
	assert_null(strstr(d.item[0].msg, "line 1")); /* positions are separate */

	/* After PV_POLICY_ERRORS_MAX the parser stops and says so. */
	struct pv_buf b;
	pv_buf_init(&b, 64 * 1024);
	for (int i = 0; i < 3 * PV_POLICY_ERRORS_MAX; i++)
		assert_int_equal(pv_buf_printf(&b, &err, "rule \"r%d\": retain 7q when from ~ \"x\"\n", i), 0);
	parse_bad_len(pv_buf_str(&b), b.len, &err, &d);
	assert_int_equal(d.count, PV_POLICY_ERRORS_MAX);
	assert_true(d.truncated);
	assert_non_null(strstr(err.msg, "more errors)"));
	pv_buf_free(&b);
}

static void test_bad_text_rejected_with_position(void **state)
{
	(void)state;
	struct pv_error err;
	struct policy_diags d;
	static const struct {
		const char *text;
		size_t len;
		unsigned line, column;
		const char *want;
	} cases[] = {
		{"default: retain 6y\nrule \"a\0\"", 28, 2, 8, "NUL byte"},
		{"\0", 1, 1, 1, "NUL byte"},
		{"# \xC3\x28\ndefault: retain 6y", 22, 1, 3, "invalid UTF-8 (byte 0xC3)"},
		{"# \xC0\xAF overlong", 13, 1, 3, "invalid UTF-8 (byte 0xC0)"},
		{"# \xED\xA0\x80 surrogate", 16, 1, 3, "invalid UTF-8 (byte 0xED)"},
		{"# \xF4\x90\x80\x80 too big", 14, 1, 3, "invalid UTF-8 (byte 0xF4)"},
		{"# \xE2\x82", 4, 1, 3, "invalid UTF-8 (byte 0xE2)"},
		{"# \xFF", 3, 1, 3, "invalid UTF-8 (byte 0xFF)"},
		/* Trojan Source: a right-to-left override in a comment. */
		{"\xC3\xA4\n# \xE2\x80\xAE hidden", 18, 2, 3, "bidirectional control character U+202E"},
		{"rule \"a\": retain 1y when from = \"\xE2\x81\xA6x\"", 37, 1, 34,
		 "bidirectional control character U+2066"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[256];
		assert_int_equal(parse_bad_len(cases[i].text, cases[i].len, &err, &d), PV_ERR);
		snprintf(want, sizeof(want), "line %u, column %u: %s", cases[i].line, cases[i].column,
			 cases[i].want);
		if (strncmp(err.msg, want, strlen(want)) != 0) {
			print_error("case %zu: want %s\ngot %s\n", i, want, err.msg);
			fail();
		}
		assert_int_equal(d.count, 1);
		assert_int_equal(d.item[0].line, cases[i].line);
	}
}

static void test_input_caps_give_clear_errors(void **state)
{
	(void)state;
	struct pv_error err;
	struct policy_diags d;
	size_t cap = PV_POLICY_FILE_MAX;
	char *text = malloc(cap + 2);

	/* Exactly at the cap: a long comment and a default rule parse. */
	memset(text, ' ', cap);
	text[0] = '#';
	memcpy(text + cap - 20, "\ndefault: retain 6y\n", 20);
	struct policy *p = NULL;
	assert_int_equal(policy_parse(text, cap, &p, &d, &err), PV_OK);
	policy_free(&p);

	/* One byte more is refused before anything else is looked at. */
	text[cap] = '\n';
	assert_int_equal(parse_bad_len(text, cap + 1, &err, &d), PV_ELIMIT);
	assert_string_equal(err.msg, "policy file is 262145 bytes, above the limit of 262144 bytes");
	assert_int_equal(d.count, 1);
	assert_int_equal(d.item[0].line, 0);
	free(text);

	/* 1 MiB of random garbage. */
	unsigned char seed[32] = {42};
	size_t mib = 1024 * 1024;
	unsigned char *junk = malloc(mib);
	pv_random_seed_for_tests(seed);
	pv_random_bytes(junk, mib);
	assert_int_equal(parse_bad_len((char *)junk, mib, &err, &d), PV_ELIMIT);
	assert_non_null(strstr(err.msg, "above the limit"));

	/* Garbage under the cap: binary, then printable, then tokens. */
	assert_int_equal(parse_bad_len((char *)junk, cap, &err, &d), PV_ERR);
	assert_non_null(strstr(err.msg, "line "));
	for (size_t i = 0; i < cap; i++)
		junk[i] = (unsigned char)(' ' + junk[i] % 95);
	assert_true(parse_bad_len((char *)junk, cap, &err, &d) < 0);
	assert_true(d.count >= 1);
	static const char *const words[] = {"rule ", "default", ":", "retain ", "7y ", "when ",
					    "from ", "~ ", "\"x\" ", "(", ")", "and ", "not ", "\n",
					    "size ", ">", "10MB ", "has", "then "};
	size_t n = 0;
	while (n < cap - 16) {
		const char *w = words[junk[n] % (sizeof(words) / sizeof(words[0]))];
		size_t l = strlen(w);
		memcpy(junk + n, w, l);
		n += l;
	}
	assert_true(parse_bad_len((char *)junk, n, &err, &d) < 0);
	pv_random_seed_for_tests(NULL);
	free(junk);
}

static void test_structure_caps(void **state)
{
	(void)state;
	struct pv_error err;
	struct policy_diags d;
	struct pv_buf b;
	struct policy *p = NULL;

	/* Nesting: PV_POLICY_DEPTH_MAX levels of '(' are fine, one more is refused. */
	for (int depth = PV_POLICY_DEPTH_MAX; depth <= PV_POLICY_DEPTH_MAX + 1; depth++) {
		pv_buf_init(&b, 4096);
		assert_int_equal(pv_buf_append_str(&b, "rule \"a\": retain 1y when ", &err), 0);
		for (int i = 0; i < depth; i++)
			assert_int_equal(pv_buf_append_str(&b, "(", &err), 0);
		assert_int_equal(pv_buf_append_str(&b, "has:attachment", &err), 0);
		for (int i = 0; i < depth; i++)
			assert_int_equal(pv_buf_append_str(&b, ")", &err), 0);
		assert_int_equal(pv_buf_append_str(&b, "\ndefault: retain 6y", &err), 0);
		int r = policy_parse(b.data, b.len, &p, &d, &err);
		if (depth == PV_POLICY_DEPTH_MAX) {
			assert_int_equal(r, PV_OK);
			policy_free(&p);
		} else {
			assert_int_equal(r, PV_ELIMIT);
			assert_non_null(strstr(err.msg, "nested deeper than"));
		}
		pv_buf_free(&b);
	}
	/* 'not not not ...' is nesting too (it recurses). */
	pv_buf_init(&b, 64 * 1024);
	assert_int_equal(pv_buf_append_str(&b, "rule \"a\": retain 1y when ", &err), 0);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(pv_buf_append_str(&b, "not ", &err), 0);
	assert_int_equal(pv_buf_append_str(&b, "has:attachment\ndefault: retain 6y", &err), 0);
	assert_int_equal(parse_bad_len((char *)b.data, b.len, &err, &d), PV_ELIMIT);
	pv_buf_free(&b);

	/* Rules: PV_POLICY_RULES_MAX including the default. */
	for (int extra = 0; extra <= 1; extra++) {
		pv_buf_init(&b, PV_POLICY_FILE_MAX);
		for (int i = 0; i < PV_POLICY_RULES_MAX - 1 + extra; i++)
			assert_int_equal(pv_buf_printf(&b, &err, "rule \"r%d\": retain 1y when has:attachment\n", i), 0);
		assert_int_equal(pv_buf_append_str(&b, "default: retain 6y\n", &err), 0);
		int r = policy_parse(b.data, b.len, &p, &d, &err);
		if (extra == 0) {
			assert_int_equal(r, PV_OK);
			assert_int_equal(policy_rule_count(p), PV_POLICY_RULES_MAX);
			policy_free(&p);
		} else {
			assert_int_equal(r, PV_ELIMIT);
			assert_non_null(strstr(err.msg, "more than 1000 rules"));
		}
		pv_buf_free(&b);
	}

	/* Conditions in the whole policy. */
	pv_buf_init(&b, PV_POLICY_FILE_MAX);
	assert_int_equal(pv_buf_append_str(&b, "rule \"a\": retain 1y when has:attachment", &err), 0);
	for (int i = 1; i <= PV_POLICY_TERMS_MAX; i++)
		assert_int_equal(pv_buf_append_str(&b, " or has:attachment", &err), 0);
	assert_int_equal(pv_buf_append_str(&b, "\ndefault: retain 6y\n", &err), 0);
	assert_int_equal(parse_bad_len((char *)b.data, b.len, &err, &d), PV_ELIMIT);
	assert_non_null(strstr(err.msg, "more than 10000 conditions"));
	pv_buf_free(&b);

	/* Strings: PV_POLICY_STRING_MAX bytes, not one more. */
	for (int extra = 0; extra <= 1; extra++) {
		pv_buf_init(&b, 8192);
		assert_int_equal(pv_buf_append_str(&b, "rule \"a\": retain 1y when subject = \"", &err), 0);
		for (int i = 0; i < PV_POLICY_STRING_MAX + extra; i++)
			assert_int_equal(pv_buf_append_str(&b, "s", &err), 0);
		assert_int_equal(pv_buf_append_str(&b, "\"\ndefault: retain 6y\n", &err), 0);
		int r = policy_parse(b.data, b.len, &p, &d, &err);
		if (extra == 0) {
			assert_int_equal(r, PV_OK);
			policy_free(&p);
		} else {
			assert_int_equal(r, PV_ELIMIT);
			assert_non_null(strstr(err.msg, "line 1, column 1061: string longer than 1024 bytes"));
		}
		pv_buf_free(&b);
	}
}

/* Each input maps to a canonical text, and the canonical text to itself. */
static void test_canonical_form(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"default:retain 006y then dispose", "default: retain 6y\n"},
		{"default: retain forever # keep", "default: retain forever\n"},
		{"rule \"a\":retain 1y then review when(from~\"x\")\ndefault: retain 2m",
		 "rule \"a\": retain 1y then review when from ~ \"x\"\ndefault: retain 2m\n"},
		{"rule \"a\": retain 1y when a.b = \"x\"", NULL},
		{"rule \"a\": retain 1y when from ~ \"a\" and (to ~ \"b\" and (cc ~ \"c\"))\ndefault: retain 1d",
		 "rule \"a\": retain 1y when from ~ \"a\" and to ~ \"b\" and cc ~ \"c\"\ndefault: retain 1d\n"},
		{"rule \"a\": retain 1y when (from ~ \"a\" or to ~ \"b\") and cc ~ \"c\"\ndefault: retain 1d",
		 "rule \"a\": retain 1y when (from ~ \"a\" or to ~ \"b\") and cc ~ \"c\"\ndefault: retain 1d\n"},
		{"rule \"a\": retain 1y when (from ~ \"a\" and to ~ \"b\") or ((cc ~ \"c\") or bcc ~ \"d\")\n"
		 "default: retain 1d",
		 "rule \"a\": retain 1y when from ~ \"a\" and to ~ \"b\" or cc ~ \"c\" or bcc ~ \"d\"\n"
		 "default: retain 1d\n"},
		{"rule \"a\": retain 1y when not (from ~ \"a\" or has:attachment) and not not (size > 1)\n"
		 "default: retain 1d",
		 "rule \"a\": retain 1y when not (from ~ \"a\" or has:attachment) and not not size > 1\n"
		 "default: retain 1d\n"},
		{"rule \"a\": retain 1y when size > 10240 or size < 10mb or size >= 1536 or size = 0"
		 " or size <= 3GiB or size = 1TB or size = 1b\ndefault: retain 1d",
		 "rule \"a\": retain 1y when size > 10KB or size < 10MB or size >= 1536 or size = 0"
		 " or size <= 3GB or size = 1TB or size = 1\ndefault: retain 1d\n"},
		{"rule \"q\": retain 1y when subject = \"say \\\"hi\\\" \\\\o/\" and header \"X-A\" ~ \"\\\\*\"\n"
		 "default: retain 1d",
		 "rule \"q\": retain 1y when subject = \"say \\\"hi\\\" \\\\o/\" and header \"X-A\" ~ \"\\\\*\"\n"
		 "default: retain 1d\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy *p = NULL, *q = NULL;
		struct pv_error err;
		if (cases[i].out == NULL) {
			assert_true(policy_parse(cases[i].in, strlen(cases[i].in), &p, NULL, &err) < 0);
			continue;
		}
		p = parse_ok(cases[i].in);
		char *c1 = format(p);
		if (strcmp(c1, cases[i].out) != 0) {
			print_error("case %zu\nwant %s\ngot  %s\n", i, cases[i].out, c1);
			fail();
		}
		q = parse_ok(c1);
		char *c2 = format(q);
		assert_string_equal(c1, c2);
		free(c1);
		free(c2);
		policy_free(&p);
		policy_free(&q);
	}
	/* A too-small output buffer is an error, not a truncated policy. */
	struct policy *p = parse_ok(core_text);
	struct pv_buf out;
	struct pv_error err;
	pv_buf_init(&out, 16);
	assert_int_equal(policy_format(p, &out, &err), PV_ELIMIT);
	pv_buf_free(&out);
	policy_free(&p);
}

static char *read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(PV_POLICY_FILE_MAX + 1);
	*len_r = fread(buf, 1, PV_POLICY_FILE_MAX + 1, f);
	fclose(f);
	return buf;
}

/* tests/data/policy: good files parse; each bad-*.policy names its error
 * on the first line ("# expect: line L, column C: message"). The same
 * files serve the `policy check` end-to-end tests. */
static void test_sample_files(void **state)
{
	(void)state;
	const char *src = getenv("POPVAULT_SRC");
	char dir[1024], path[2048];
	snprintf(dir, sizeof(dir), "%s/tests/data/policy", src != NULL ? src : ".");
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	struct dirent *de;
	int good = 0, bad = 0;
	while ((de = readdir(dp)) != NULL) {
		size_t nl = strlen(de->d_name);
		if (nl < 8 || strcmp(de->d_name + nl - 7, ".policy") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		size_t len;
		char *text = read_file(path, &len);
		struct policy *p = NULL;
		struct pv_error err = {0};
		int r = policy_parse(text, len, &p, NULL, &err);
		if (strncmp(de->d_name, "bad-", 4) == 0) {
			const char *exp = "# expect: ";
			assert_memory_equal(text, exp, strlen(exp));
			char *want = text + strlen(exp);
			*strchr(want, '\n') = '\0';
			if (r >= 0 || strncmp(err.msg, want, strlen(want)) != 0) {
				print_error("%s: want %s\ngot %s\n", de->d_name, want, err.msg);
				fail();
			}
			bad++;
		} else {
			if (r != 0)
				print_error("%s: %s\n", de->d_name, err.msg);
			assert_int_equal(r, PV_OK);
			policy_free(&p);
			good++;
		}
		free(text);
	}
	closedir(dp);
	assert_true(good >= 2);
	assert_true(bad >= 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_example_from_the_issue_parses),
		cmocka_unit_test(test_initial_policy_keeps_everything),
		cmocka_unit_test(test_hash_is_sha256_of_exact_bytes),
		cmocka_unit_test(test_whole_language_accepted),
		cmocka_unit_test(test_rules_may_span_lines_and_crlf_and_bom),
		cmocka_unit_test(test_syntax_errors_have_line_and_column),
		cmocka_unit_test(test_columns_count_characters_not_bytes),
		cmocka_unit_test(test_several_errors_collected),
		cmocka_unit_test(test_bad_text_rejected_with_position),
		cmocka_unit_test(test_input_caps_give_clear_errors),
		cmocka_unit_test(test_structure_caps),
		cmocka_unit_test(test_canonical_form),
		cmocka_unit_test(test_sample_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
