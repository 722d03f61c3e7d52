/* Unit tests for archiver/index/query: the search language's grammar, its
 * error positions, its limits, and the SQL/FTS5 it compiles to (user text
 * only ever as bound parameters and quoted FTS5 strings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/index/query.h"
#include "archiver/lib/limits.h"

static const char *const field_name[] = {
	"any", "from", "to", "cc", "bcc", "participant", "subject", "body", "filename",
	"has", "before", "after", "on", "larger", "smaller", "account", "message-id",
};

/* The tree as an s-expression: (AND (from "alice") (NOT (any "x"))). */
static void show(const struct index_query_node *n, struct pv_buf *b)
{
	static const char *const ops[] = {"AND", "OR", "NOT"};
	if (n->op == IQ_TERM) {
		if (n->field == IQF_HAS_ATTACHMENT)
			pv_buf_printf(b, NULL, "(has)");
		else if (index_query_field_is_text(n->field) || n->field == IQF_ACCOUNT ||
		    n->field == IQF_MESSAGE_ID)
			pv_buf_printf(b, NULL, "(%s \"%s\")", field_name[n->field], n->text);
		else
			pv_buf_printf(b, NULL, "(%s %lld)", field_name[n->field], (long long)n->num);
		return;
	}
	pv_buf_printf(b, NULL, "(%s", ops[n->op]);
	for (size_t i = 0; i < n->nkids; i++) {
		pv_buf_append(b, " ", 1, NULL);
		show(n->kids[i], b);
	}
	pv_buf_append(b, ")", 1, NULL);
}

static void assert_tree(const char *q, const char *want)
{
	struct index_query *p;
	struct pv_error err;
	int r = index_query_parse(q, &p, &err);
	if (r != PV_OK)
		fail_msg("%s: %s", q, err.msg);
	struct pv_buf b;
	pv_buf_init(&b, 1 << 16);
	if (p->root)
		show(p->root, &b);
	if (strcmp(pv_buf_str(&b), want) != 0)
		fail_msg("%s: got %s, want %s", q, pv_buf_str(&b), want);
	pv_buf_free(&b);
	index_query_free(&p);
	assert_null(p);
}

static void assert_error(const char *q, int code, const char *want)
{
	struct index_query *p = (void *)1;
	struct pv_error err;
	int r = index_query_parse(q, &p, &err);
	if (r == PV_OK)
		fail_msg("%s: parsed", q);
	assert_int_equal(r, code);
	assert_null(p);
	if (strcmp(err.msg, want) != 0)
		fail_msg("%s: got \"%s\", want \"%s\"", q, err.msg, want);
}

static void test_every_text_operator(void **state)
{
	(void)state;
	assert_tree("alice", "(any \"alice\")");
	assert_tree("from:alice", "(from \"alice\")");
	assert_tree("to:bob@example.org", "(to \"bob@example.org\")");
	assert_tree("cc:erin", "(cc \"erin\")");
	assert_tree("bcc:boss", "(bcc \"boss\")");
	assert_tree("participant:carol", "(participant \"carol\")");
	assert_tree("subject:report", "(subject \"report\")");
	assert_tree("body:revenue", "(body \"revenue\")");
	assert_tree("filename:pdf", "(filename \"pdf\")");
	assert_tree("FROM:Alice", "(from \"Alice\")"); /* field names: any case */
}

static void test_every_other_operator(void **state)
{
	(void)state;
	assert_tree("has:attachment", "(has)");
	assert_tree("before:2024-03-05", "(before 1709596800)");
	assert_tree("after:1970-01-02", "(after 86400)");
	assert_tree("on:2024-02-29", "(on 1709164800)");
	assert_tree("larger:10", "(larger 10)");
	assert_tree("larger:500K", "(larger 512000)");
	assert_tree("smaller:10M", "(smaller 10485760)");
	assert_tree("smaller:2gb", "(smaller 2147483648)");
	assert_tree("account:sales", "(account \"sales\")");
	assert_tree("account:\"Sales Team\"", "(account \"Sales Team\")");
	assert_tree("message-id:<a@b>", "(message-id \"a@b\")");
	assert_tree("message-id:a@b", "(message-id \"a@b\")");
	assert_tree("Message-ID:\"<x y@z>\"", "(message-id \"x y@z\")");
}

static void test_phrases_and_escapes(void **state)
{
	(void)state;
	assert_tree("\"quarterly report\"", "(any \"quarterly report\")");
	assert_tree("subject:\"a b\"", "(subject \"a b\")");
	assert_tree("\"say \\\"hi\\\" \\\\ ok\"", "(any \"say \"hi\" \\ ok\")");
	assert_tree("\"\"", "(any \"\")");
	assert_tree("\"a phrase\"x", "(AND (any \"a phrase\") (any \"x\"))");
}

static void test_boolean_structure_and_precedence(void **state)
{
	(void)state;
	assert_tree("a b", "(AND (any \"a\") (any \"b\"))");
	assert_tree("a AND b", "(AND (any \"a\") (any \"b\"))");
	assert_tree("a OR b c", "(OR (any \"a\") (AND (any \"b\") (any \"c\")))");
	assert_tree("a b OR c", "(OR (AND (any \"a\") (any \"b\")) (any \"c\"))");
	assert_tree("(a OR b) c", "(AND (OR (any \"a\") (any \"b\")) (any \"c\"))");
	assert_tree("-a", "(NOT (any \"a\"))");
	assert_tree("NOT a b", "(AND (NOT (any \"a\")) (any \"b\"))");
	assert_tree("-(a OR b)", "(NOT (OR (any \"a\") (any \"b\")))");
	assert_tree("-from:x", "(NOT (from \"x\"))");
	assert_tree("--a", "(any \"a\")"); /* NOT NOT x is x */
	assert_tree("-(-a b)", "(NOT (AND (NOT (any \"a\")) (any \"b\")))");
	assert_tree("a OR b OR c", "(OR (any \"a\") (any \"b\") (any \"c\"))");
	/* a group of the operator around it is merged into it */
	assert_tree("a OR (b OR c)", "(OR (any \"a\") (any \"b\") (any \"c\"))");
	assert_tree("((a OR b)) OR c", "(OR (any \"a\") (any \"b\") (any \"c\"))");
	assert_tree("a (b (c OR d))", "(AND (any \"a\") (any \"b\") (OR (any \"c\") (any \"d\")))");
	assert_tree("a OR from:(b OR c)", "(OR (any \"a\") (from \"b\") (from \"c\"))");
	assert_tree("a and or", "(AND (any \"a\") (any \"and\") (any \"or\"))"); /* lower case: words */
	assert_tree("e-mail re-send", "(AND (any \"e-mail\") (any \"re-send\"))");
	assert_tree("  ", "");
	assert_tree("", "");
}

static void test_field_groups(void **state)
{
	(void)state;
	assert_tree("from:(alice OR bob)", "(OR (from \"alice\") (from \"bob\"))");
	assert_tree("subject:(dinner -movie)", "(AND (subject \"dinner\") (NOT (subject \"movie\")))");
	assert_tree("from:(alice subject:x)", "(AND (from \"alice\") (subject \"x\"))");
	assert_error("before:(2024-01-01)", PV_EUSAGE,
		"column 8: expected a value after 'before:', not a group");
}

static void test_combinations(void **state)
{
	(void)state;
	assert_tree("from:alice has:attachment after:2024-01-01 -subject:lunch",
		"(AND (from \"alice\") (has) (after 1704067200) (NOT (subject \"lunch\")))");
	assert_tree("(from:a OR to:a) larger:1M account:x",
		"(AND (OR (from \"a\") (to \"a\")) (larger 1048576) (account \"x\"))");
}

static void test_syntax_errors_name_position_and_expectation(void **state)
{
	(void)state;
	assert_error("from:alice AND (bob", PV_EUSAGE, "column 20: expected ')' to close '(' at column 16");
	assert_error("(a", PV_EUSAGE, "column 3: expected ')' to close '(' at column 1");
	assert_error("a)", PV_EUSAGE, "column 2: unexpected ')'");
	assert_error(")", PV_EUSAGE, "column 1: unexpected ')'");
	assert_error("()", PV_EUSAGE, "column 2: expected a term after '('");
	assert_error("a AND", PV_EUSAGE, "column 6: expected a term after 'AND'");
	assert_error("a OR", PV_EUSAGE, "column 5: expected a term after 'OR'");
	assert_error("OR a", PV_EUSAGE, "column 1: expected a term before 'OR'");
	assert_error("a OR AND b", PV_EUSAGE, "column 6: expected a term before 'AND'");
	assert_error("NOT", PV_EUSAGE, "column 4: expected a term after 'NOT'");
	assert_error("a - b", PV_EUSAGE, "column 4: expected a term after '-'");
	assert_error("from:", PV_EUSAGE, "column 6: expected a value after 'from:'");
	assert_error("from: alice", PV_EUSAGE, "column 6: expected a value after 'from:'");
	assert_error("\"open", PV_EUSAGE, "column 6: expected '\"' to close the quote at column 1");
	assert_error("before:2024-13-01", PV_EUSAGE,
		"column 8: expected a date as YYYY-MM-DD after 'before:'");
	assert_error("after:yesterday", PV_EUSAGE,
		"column 7: expected a date as YYYY-MM-DD after 'after:'");
	assert_error("on:2023-02-29", PV_EUSAGE, "column 4: expected a date as YYYY-MM-DD after 'on:'");
	assert_error("larger:big", PV_EUSAGE,
		"column 8: expected a size such as 500K or 10M after 'larger:'");
	assert_error("smaller:99999999999999999999", PV_EUSAGE,
		"column 9: expected a size such as 500K or 10M after 'smaller:'");
	assert_error("has:pdf", PV_EUSAGE, "column 5: expected 'attachment' after 'has:'");
	assert_error("form:alice", PV_EUSAGE,
		"column 1: unknown field 'form:' (put it in quotes to search for the text)");
	assert_error("message-id:<>", PV_EUSAGE, "column 12: expected a value after 'message-id:'");
	/* positions count characters, not bytes */
	assert_error("café (", PV_EUSAGE, "column 7: expected a term after '('");
	assert_error("ok \xff", PV_EUSAGE, "column 4: invalid UTF-8");
	assert_error("\xed\xa0\x80", PV_EUSAGE, "column 1: invalid UTF-8"); /* a surrogate */
}

static void test_words_with_colons_that_are_not_fields(void **state)
{
	(void)state;
	assert_tree("10:30", "(any \"10:30\")");
	assert_tree("\"re: budget\"", "(any \"re: budget\")");
	assert_tree(":x", "(any \":x\")");
}

static void test_limits(void **state)
{
	(void)state;
	char q[PV_QUERY_MAX + 2];
	memset(q, 'a', sizeof(q) - 1);
	q[sizeof(q) - 1] = '\0';
	assert_error(q, PV_EUSAGE, "query longer than 4096 bytes");

	struct pv_buf b;
	pv_buf_init(&b, PV_QUERY_MAX);
	for (int i = 0; i <= PV_QUERY_TERMS_MAX; i++)
		pv_buf_append_str(&b, "a ", NULL);
	assert_error(pv_buf_str(&b), PV_EUSAGE, "column 513: more than 256 terms");
	pv_buf_reset(&b);
	for (int i = 0; i <= PV_QUERY_DEPTH_MAX; i++)
		pv_buf_append_str(&b, "(", NULL);
	assert_error(pv_buf_str(&b), PV_EUSAGE, "column 33: nested more than 32 deep");
	pv_buf_reset(&b);
	for (int i = 0; i <= PV_QUERY_DEPTH_MAX; i++)
		pv_buf_append_str(&b, "-", NULL);
	pv_buf_append_str(&b, "x", NULL);
	assert_error(pv_buf_str(&b), PV_EUSAGE, "column 33: nested more than 32 deep");
	pv_buf_reset(&b);
	for (int i = 0; i < PV_QUERY_DEPTH_MAX; i++)
		pv_buf_append_str(&b, "(", NULL);
	pv_buf_append_str(&b, "x", NULL);
	for (int i = 0; i < PV_QUERY_DEPTH_MAX; i++)
		pv_buf_append_str(&b, ")", NULL);
	assert_tree(pv_buf_str(&b), "(any \"x\")"); /* exactly at the limit is fine */
	pv_buf_free(&b);
}

static void compile(const char *q, struct index_query_sql *sql)
{
	struct index_query *p;
	struct pv_error err;
	assert_int_equal(index_query_parse(q, &p, &err), PV_OK);
	assert_int_equal(index_query_compile(p, sql, &err), PV_OK);
	index_query_free(&p);
}

static void test_compile_pure_text_is_one_match(void **state)
{
	(void)state;
	struct index_query_sql s;
	compile("from:alice -subject:lunch (a OR body:b)", &s);
	assert_string_equal(s.match,
		"({hfrom} : \"alice\" AND (\"a\" OR {body} : \"b\") NOT {subject} : \"lunch\")");
	assert_string_equal(pv_buf_str(&s.where), "1");
	assert_int_equal(s.nparams, 0);
	index_query_sql_free(&s);

	compile("participant:x filename:y", &s);
	assert_string_equal(s.match,
		"({hfrom hto hcc hbcc} : \"x\" AND {filename ctype} : \"y\")");
	index_query_sql_free(&s);
}

static void test_compile_mixed_binds_every_value(void **state)
{
	(void)state;
	struct index_query_sql s;
	compile("alice account:sales before:2024-01-01 -has:attachment", &s);
	assert_string_equal(s.match, "(\"alice\")");
	/* the top level's dates are a range of sort keys */
	assert_string_equal(pv_buf_str(&s.where), "d.account = ? AND NOT (d.has_attachment = 1)");
	assert_true(s.lo == INT64_MIN);
	assert_true(s.hi == index_query_key(1704067200, 0));
	assert_int_equal(s.nparams, 1);
	assert_true(s.params[0].is_text);
	assert_string_equal(s.params[0].text, "sales");
	index_query_sql_free(&s);

	/* a date deeper down stays a condition */
	compile("alice OR before:2024-01-01", &s);
	assert_string_equal(pv_buf_str(&s.where),
		"(d.key IN (SELECT rowid FROM idx_fts WHERE idx_fts MATCH ?) OR d.date < ?)");
	assert_true(s.lo == INT64_MIN && s.hi == INT64_MAX);
	index_query_sql_free(&s);

	compile("alice OR larger:1K", &s);
	assert_null(s.match);
	assert_string_equal(pv_buf_str(&s.where),
		"(d.key IN (SELECT rowid FROM idx_fts WHERE idx_fts MATCH ?) OR d.size > ?)");
	assert_int_equal(s.nparams, 2);
	assert_string_equal(s.params[0].text, "\"alice\"");
	assert_int_equal(s.params[1].num, 1024);
	index_query_sql_free(&s);

	/* FTS5 has no unary NOT: every document's own token stands in */
	compile("-alice", &s);
	assert_string_equal(s.match, "({every} : \"" INDEX_EVERY_TOKEN "\" NOT \"alice\")");
	assert_string_equal(pv_buf_str(&s.where), "1");
	index_query_sql_free(&s);
	compile("-alice -from:bob after:2024-01-01 larger:1K", &s);
	assert_string_equal(s.match,
		"({every} : \"" INDEX_EVERY_TOKEN "\" NOT \"alice\" NOT {hfrom} : \"bob\")");
	assert_string_equal(pv_buf_str(&s.where), "d.size > ?");
	assert_true(s.lo == index_query_key(1704067200, 0) && s.hi == INT64_MAX);
	index_query_sql_free(&s);
	/* a bare word that could be the token every document has skips its column */
	compile("x" INDEX_EVERY_TOKEN "0", &s);
	assert_string_equal(s.match, "- {every} : \"x" INDEX_EVERY_TOKEN "0\"");
	index_query_sql_free(&s);
	compile("-(a OR larger:1K)", &s); /* not all text: SQL */
	assert_null(s.match);
	assert_string_equal(pv_buf_str(&s.where),
		"NOT ((d.key IN (SELECT rowid FROM idx_fts WHERE idx_fts MATCH ?) OR d.size > ?))");
	index_query_sql_free(&s);

	compile("", &s);
	assert_null(s.match);
	assert_string_equal(pv_buf_str(&s.where), "1");
	index_query_sql_free(&s);
}

static void test_user_text_cannot_escape_its_fts_string(void **state)
{
	(void)state;
	struct index_query_sql s;
	/* a quote inside a phrase is doubled; FTS5 reads it as text */
	compile("\"a\\\" OR \\\"b\"", &s);
	assert_string_equal(s.match, "\"a\"\" OR \"\"b\"");
	index_query_sql_free(&s);
	compile("NEAR*", &s);
	assert_string_equal(s.match, "\"NEAR*\"");
	index_query_sql_free(&s);
	compile("subject:\"{hfrom}:x ^y\"", &s);
	assert_string_equal(s.match, "{subject} : \"{hfrom}:x ^y\"");
	index_query_sql_free(&s);
	compile("account:\"'); DROP TABLE idx_doc; --\"", &s);
	assert_string_equal(pv_buf_str(&s.where), "d.account = ?");
	assert_string_equal(s.params[0].text, "'); DROP TABLE idx_doc; --");
	index_query_sql_free(&s);
}

static void test_compile_splits_cjk_terms_like_the_index(void **state)
{
	(void)state;
	struct index_query_sql s;
	compile("会議", &s);
	assert_string_equal(s.match, "\" 会  議 \"");
	index_query_sql_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_text_operator),
		cmocka_unit_test(test_every_other_operator),
		cmocka_unit_test(test_phrases_and_escapes),
		cmocka_unit_test(test_boolean_structure_and_precedence),
		cmocka_unit_test(test_field_groups),
		cmocka_unit_test(test_combinations),
		cmocka_unit_test(test_syntax_errors_name_position_and_expectation),
		cmocka_unit_test(test_words_with_colons_that_are_not_fields),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_compile_pure_text_is_one_match),
		cmocka_unit_test(test_compile_mixed_binds_every_value),
		cmocka_unit_test(test_user_text_cannot_escape_its_fts_string),
		cmocka_unit_test(test_compile_splits_cjk_terms_like_the_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
