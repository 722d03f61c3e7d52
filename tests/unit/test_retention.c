/* Unit tests for archiver/archive/retention.c and policies.c: what a
 * policy sees of real message bytes (every matcher, end to end), rule
 * order, the version in force at archive time, stored versions that cannot
 * be edited, and a new version re-evaluating the archive (keys re-wrapped,
 * unreadable mail left alone and reported). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <glib.h>

#include "archiver/index/index.h"
#include "archiver/index/mime.h"
#include "archiver/archive/attest.h"
#include "archiver/archive/retention.h"
#include "test_dispose_fixture.h"
#include "archiver/archive/indexer.h"

static struct policy *parse_ok(const char *text)
{
	struct policy *p = NULL;
	struct pv_error err;
	fx_must(policy_parse(text, strlen(text), &p, NULL, &err), &err, "policy_parse");
	return p;
}

/* What a policy sees of raw[0..len): one MIME parse (doc), then the
 * policy's view of it (rm borrows doc). */
static void message_of(const unsigned char *raw, size_t len, struct index_doc *doc,
		       struct retention_message *rm)
{
	struct pv_error err;
	fx_must(index_mime_extract(raw, len, doc, &err), &err, "extract");
	fx_must(retention_message_init(rm, "sales", doc, len, 1, &err), &err, "init");
}

/* The class p gives raw, archived from `account`, as ingest would see it. */
static void class_of(const struct policy *p, const char *account, const char *raw, char *out,
		     size_t n)
{
	struct retention_message rm;
	struct index_doc doc;
	struct retention ret;
	struct pv_error err;
	size_t len = strlen(raw);
	fx_must(index_mime_extract((const unsigned char *)raw, len, &doc, &err), &err, "extract");
	fx_must(retention_message_init(&rm, account, &doc, len, fx_t("2026-01-10"), &err), &err,
		"retention_message_init");
	fx_must(retention_evaluate(p, 1, &rm.m, &ret, NULL, &err), &err, "evaluate");
	snprintf(out, n, "%s", ret.class_name);
	retention_message_free(&rm);
	index_doc_free(&doc);
}

static void test_header_fields_become_policy_fields(void **state)
{
	(void)state;
	static const char raw[] =
		"From \"boss@corp.example\" Mon Jan  1 00:00:00 2026\r\n" /* an mbox line */
		"From: \"Carol, Compliance\" <Carol@SEC.gov>\r\n"
		"To: Team: a@x.example, \"B\" <b@y.example>;, c@z.example\r\n"
		"Cc: one@cc.example,\r\n two@cc.example\r\n"
		"Bcc: hidden@bcc.example\r\n"
		"Subject: =?utf-8?q?Contract_=C3=A9t=C3=A9?=\r\n"
		"Subject: second subject is not the subject\r\n"
		"X-DMS-Class: con\r\n\ttract\r\n"
		"\r\n"
		"Subject: in the body, not a header\r\n";
	struct retention_message rm;
	struct index_doc doc;
	message_of((const unsigned char *)raw, strlen(raw), &doc, &rm);
	assert_string_equal(rm.m.from, "Carol@SEC.gov");
	assert_int_equal(rm.m.n_to, 3); /* the group flattened */
	assert_string_equal(rm.m.to[0], "a@x.example");
	assert_string_equal(rm.m.to[1], "b@y.example");
	assert_string_equal(rm.m.to[2], "c@z.example");
	assert_int_equal(rm.m.n_cc, 2); /* folded over two lines */
	assert_string_equal(rm.m.cc[1], "two@cc.example");
	assert_int_equal(rm.m.n_bcc, 1);
	assert_string_equal(rm.m.subject, "Contract \xc3\xa9t\xc3\xa9"); /* RFC 2047 decoded */
	assert_false(rm.m.has_attachment);
	bool found = false;
	for (size_t i = 0; i < rm.m.n_headers; i++) {
		if (strcmp(rm.m.headers[i].name, "X-DMS-Class") == 0) {
			/* unfolded (RFC 5322 2.2.3), the tab cleaned to a space */
			assert_string_equal(rm.m.headers[i].value, "con tract");
			found = true;
		}
		assert_string_not_equal(rm.m.headers[i].value, "in the body, not a header");
	}
	assert_true(found);
	retention_message_free(&rm);
	index_doc_free(&doc);
}

static const char matchers_policy[] =
	"rule \"acct\": retain 1d when account = \"finance\"\n"
	"rule \"from\": retain 2d when from = \"boss@corp.example\"\n"
	"rule \"fromglob\": retain 3d when from ~ \"*@sec.gov\"\n"
	"rule \"to\": retain 4d when to = \"t@to.example\"\n"
	"rule \"cc\": retain 5d when cc.domain = \"cc.example\"\n"
	"rule \"bcc\": retain 6d when bcc ~ \"secret*@*\"\n"
	"rule \"recipient\": retain 7d when recipient.domain = \"rcpt.example\"\n"
	"rule \"participant\": retain 8d when participant = \"p@part.example\"\n"
	"rule \"subject\": retain 9d when subject ~ \"*contract*\"\n"
	"rule \"subjecteq\": retain 10d when subject = \"Exact\"\n"
	"rule \"header\": retain 11d when header \"X-DMS-Class\" = \"contract\"\n"
	"rule \"headerglob\": retain 12d when header \"list-id\" ~ \"*\"\n"
	"rule \"big\": retain 13d when size >= 64KB\n"
	"rule \"attach\": retain 14d when has:attachment\n"
	"rule \"combo\": retain 15d when (from.domain = \"a.example\" or to.domain = \"a.example\")"
	" and not subject ~ \"*skip*\"\n"
	"default: retain 6y\n";

#define HDR(x) "Message-ID: <m@example>\r\nDate: Sat, 10 Jan 2026 10:00:00 +0000\r\n" x "\r\n"
#define PLAIN_FROM "From: x@other.example\r\nTo: y@other.example\r\n"

static void test_every_matcher_on_real_bytes(void **state)
{
	(void)state;
	static const struct {
		const char *account, *raw, *want;
	} cases[] = {
		{"finance", HDR(PLAIN_FROM "Subject: hi\r\n") "body\r\n", "acct"},
		{"sales", HDR("From: Boss <BOSS@corp.EXAMPLE>\r\nTo: y@o.example\r\n") "b\r\n", "from"},
		/* the display name is not the address */
		{"sales", HDR("From: \"boss@corp.example\" <evil@bad.example>\r\n") "b\r\n", "default"},
		{"sales", HDR("From: X@SEC.GOV\r\n") "b\r\n", "fromglob"},
		{"sales", HDR("From: x@sub.sec.gov\r\n") "b\r\n", "default"},
		{"sales", HDR("From: x@o.example\r\nTo: T@TO.example\r\n") "b\r\n", "to"},
		{"sales", HDR("From: x@o.example\r\nCc: u@o.example, v@cc.example\r\n") "b\r\n", "cc"},
		{"sales", HDR("From: x@o.example\r\nBcc: secret.agent@z.example\r\n") "b\r\n", "bcc"},
		{"sales", HDR("From: x@o.example\r\nCc: r@rcpt.example\r\n") "b\r\n", "recipient"},
		{"sales", HDR("From: x@rcpt.example\r\n") "b\r\n", "default"}, /* a sender is no recipient */
		{"sales", HDR("From: p@part.example\r\n") "b\r\n", "participant"},
		{"sales", HDR(PLAIN_FROM "Subject: Re: the CONTRACT draft\r\n") "b\r\n", "subject"},
		{"sales", HDR(PLAIN_FROM "Subject: =?iso-8859-1?q?contract_=E9t=E9?=\r\n") "b\r\n",
		 "subject"},
		{"sales", HDR(PLAIN_FROM "Subject: Exact\r\n") "b\r\n", "subjecteq"},
		{"sales", HDR(PLAIN_FROM "Subject: exact\r\n") "b\r\n", "default"},
		{"sales", HDR(PLAIN_FROM "x-dms-class: contract\r\n") "b\r\n", "header"},
		{"sales", HDR(PLAIN_FROM "List-Id: <news.lists.example>\r\n") "b\r\n", "headerglob"},
		{"sales", HDR(PLAIN_FROM "X-List-Id: <news.lists.example>\r\n") "b\r\n", "default"},
		{"sales", HDR(PLAIN_FROM "MIME-Version: 1.0\r\n"
				"Content-Type: multipart/mixed; boundary=\"b1\"\r\n")
			"--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
			"--b1\r\nContent-Type: application/pdf\r\n"
			"Content-Disposition: attachment; filename=\"a.pdf\"\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b1--\r\n",
		 "attach"},
		{"sales", HDR("From: q@a.example\r\nSubject: hello\r\n") "b\r\n", "combo"},
		{"sales", HDR("From: q@o.example\r\nTo: w@a.example\r\nSubject: hello\r\n") "b\r\n", "combo"},
		{"sales", HDR("From: q@a.example\r\nSubject: please skip\r\n") "b\r\n", "default"},
	};
	struct policy *p = parse_ok(matchers_policy);
	char got[128];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		class_of(p, cases[i].account, cases[i].raw, got, sizeof(got));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: class %s, want %s", i, got, cases[i].want);
	}
	/* size: the archived size, not the header's claim */
	char *big = malloc(70 * 1024);
	assert_non_null(big);
	int n = snprintf(big, 70 * 1024, HDR(PLAIN_FROM));
	memset(big + n, 'a', 70 * 1024 - (size_t)n - 1);
	big[70 * 1024 - 1] = '\0';
	class_of(p, "sales", big, got, sizeof(got));
	assert_string_equal(got, "big");
	free(big);
	policy_free(&p);
}

static void test_first_matching_rule_wins(void **state)
{
	(void)state;
	static const char raw[] = HDR("From: a@x.example\r\nSubject: xx\r\n") "b\r\n";
	char got[64];
	struct policy *p = parse_ok("rule \"one\": retain 1y when subject ~ \"*x*\"\n"
				    "rule \"two\": retain 2y when from.domain = \"x.example\"\n"
				    "default: retain 6y\n");
	class_of(p, "sales", raw, got, sizeof(got));
	assert_string_equal(got, "one");
	policy_free(&p);
	p = parse_ok("rule \"two\": retain 2y when from.domain = \"x.example\"\n"
		     "rule \"one\": retain 1y when subject ~ \"*x*\"\n"
		     "default: retain 6y\n");
	class_of(p, "sales", raw, got, sizeof(got));
	assert_string_equal(got, "two");
	policy_free(&p);
}

static void test_hostile_headers_are_bounded(void **state)
{
	(void)state;
	/* 3 MB of header fields with NULs and invalid UTF-8: no crash, at most
	 * PV_RETENTION_HEADERS_MAX fields, values clean single-line UTF-8. */
	size_t cap = 3 * 1024 * 1024, n = 0;
	unsigned char *raw = malloc(cap);
	assert_non_null(raw);
	static const char first[] = "Subject: bad \xff\xfe\x01 utf8\r\n";
	memcpy(raw, first, sizeof(first) - 1);
	n = sizeof(first) - 1;
	while (n + 16 < cap) {
		memcpy(raw + n, "X-A: v\0\x80\r\n", 10);
		n += 10;
	}
	struct retention_message rm;
	struct index_doc doc;
	message_of(raw, n, &doc, &rm);
	assert_true(rm.m.n_headers <= PV_RETENTION_HEADERS_MAX);
	assert_true(rm.m.n_headers > 100);
	for (size_t i = 0; i < rm.m.n_headers; i++)
		assert_null(strpbrk(rm.m.headers[i].value, "\r\n\x01"));
	assert_true(g_utf8_validate(rm.m.subject, -1, NULL)); /* the bad bytes made valid text */
	assert_null(strchr(rm.m.subject, '\x01'));
	retention_message_free(&rm);
	index_doc_free(&doc);
	/* a message with no header section at all */
	message_of((const unsigned char *)"\r\nbody", 6, &doc, &rm);
	assert_null(rm.m.from);
	assert_int_equal(rm.m.n_headers, 0);
	retention_message_free(&rm);
	index_doc_free(&doc);
	free(raw);
}

/* Hostile header sections that the policy's own header parser and the
 * index's GMime walk used to read two ways. */
struct hostile {
	const char *name, *raw, *rule, *query;
	size_t len; /* 0: strlen(raw) */
};

static const struct hostile hostile[] = {
	/* a NUL inside a field: the index's C string ended there, the policy
	 * read on (GMime takes C strings; both read it as a space now) */
	{"nul", "From: n@nul.example\r\nSubject: quarterly\0 zebracontract review\r\n\r\nb\r\n",
	 "subject ~ \"*zebracontract*\"", "subject:zebracontract",
	 sizeof("From: n@nul.example\r\nSubject: quarterly\0 zebracontract review\r\n\r\nb\r\n") - 1},
	/* RFC 2047 encoded-words, folded between two of them */
	{"enc", "From: e@enc.example\r\nSubject: =?utf-8?q?Vertr=C3=A4ge?=\r\n"
		" =?iso-8859-1?q?_f=FCr_yakpolicy?=\r\n\r\nb\r\n",
	 "subject = \"Vertr\xc3\xa4ge f\xc3\xbcr yakpolicy\"", "subject:yakpolicy", 0},
	/* a display name that spells another address, encoded */
	{"encname", "From: =?utf-8?q?boss=40corp=2Eexample?= <evil@encname.example>\r\n\r\nb\r\n",
	 "from = \"evil@encname.example\"", "from:evil@encname.example", 0},
	/* a From folded inside its quoted display name */
	{"fold", "From:\r\n \"Carol\r\n\tCompliance\" <carol@foldsec.example>\r\n\r\nb\r\n",
	 "from = \"carol@foldsec.example\"", "from:carol@foldsec.example", 0},
	/* two From fields: the policy's sender is the first, search has both,
	 * and `header "from"` sees both */
	{"dupfrom", "From: first@dupa.example\r\nFrom: second@dupb.example\r\n\r\nb\r\n",
	 "from = \"first@dupa.example\" and header \"from\" = \"second@dupb.example\"",
	 "from:first@dupa.example from:second@dupb.example", 0},
	/* two To fields, the first broken: each is parsed on its own */
	{"dupto", "From: d@dupto.example\r\nTo: \"Legal\r\nTo: counsel@quote.example\r\n\r\nb\r\n",
	 "to = \"counsel@quote.example\"", "to:counsel@quote.example", 0},
	/* a group, an obsolete "Cc :" and a folded list */
	{"group", "From: g@group.example\r\nCc : Board: a@grp.example,\r\n b@grp.example;\r\n\r\nb\r\n",
	 "cc = \"b@grp.example\"", "cc:b@grp.example", 0},
};

/* Two header sections past the caps, built at run time: a From field
 * that starts just before PV_MIME_HEADER_MAX and ends after it (the
 * policy's parser cut it at the cap: "From: boss@edge.exa"), and a From
 * after PV_RETENTION_HEADERS_MAX other fields (the policy's parser had
 * stopped counting, search had it). Both are kept whole for both now. */
static char *big_header(bool late, size_t *len_r)
{
	static const char from_edge[] = "From: boss@edge.example\r\n";
	struct pv_buf b;
	pv_buf_init(&b, 2 * PV_MIME_HEADER_MAX);
	if (late) {
		for (int i = 0; i < PV_RETENTION_HEADERS_MAX; i++)
			assert_int_equal(pv_buf_append_str(&b, "X-A: v\r\n", NULL), 0);
		assert_int_equal(pv_buf_append_str(&b, "From: late@cap.example\r\n", NULL), 0);
	} else {
		size_t start = PV_MIME_HEADER_MAX - 12; /* where the From starts */
		char fill[1024];
		memset(fill, 'a', sizeof(fill));
		while (b.len < start) {
			size_t n = start - b.len - 12; /* "X-Filler: " and CRLF */
			n = n < sizeof(fill) ? n : sizeof(fill);
			assert_int_equal(pv_buf_printf(&b, NULL, "X-Filler: %.*s\r\n", (int)n, fill), 0);
		}
		assert_int_equal(b.len, start);
		assert_int_equal(pv_buf_append_str(&b, from_edge, NULL), 0);
		assert_true(b.len > PV_MIME_HEADER_MAX);
	}
	assert_int_equal(pv_buf_append_str(&b, "\r\nb\r\n", NULL), 0);
	*len_r = b.len;
	return (char *)b.data; /* the caller frees it */
}

/* Each hostile message is archived as the harvest archives small mail
 * (plaintext kept: one MIME parse, decided and indexed in the same
 * transaction); its policy class and the search meant to find it must
 * name that message, and only it. */
static void test_policy_and_search_agree_on_hostile_headers(void **state)
{
	(void)state;
	enum { N_STATIC = sizeof(hostile) / sizeof(hostile[0]), N = N_STATIC + 2 };
	struct hostile c[N];
	int64_t ids[N];
	struct pv_buf policy;
	struct pv_error err;
	struct fx f;
	char *big[2];

	memcpy(c, hostile, sizeof(hostile));
	big[0] = big_header(false, &c[N_STATIC].len);
	c[N_STATIC] = (struct hostile){"edge", big[0], "from = \"boss@edge.example\"",
				       "from:boss@edge.example", c[N_STATIC].len};
	big[1] = big_header(true, &c[N_STATIC + 1].len);
	c[N_STATIC + 1] = (struct hostile){"late", big[1], "from = \"late@cap.example\"",
					   "from:late@cap.example", c[N_STATIC + 1].len};
	fx_init(&f);
	pv_buf_init(&policy, 64 * 1024);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(pv_buf_printf(&policy, NULL, "rule \"%s\": retain %zud when %s\n",
					       c[i].name, i + 1, c[i].rule), 0);
	assert_int_equal(pv_buf_printf(&policy, NULL, "default: retain 6y\n"), 0);
	fx_policy_store(&f, pv_buf_str(&policy));
	fx_must(index_ensure_schema(f.ar->cat->db, &err), &err, "index schema");
	for (size_t i = 0; i < N; i++)
		ids[i] = fx_archive_bytes(&f, c[i].raw, c[i].len ? c[i].len : strlen(c[i].raw),
					  fx_t("2026-01-10"), true);
	/* The index is made after the commit (issue 12); searches catch up. */
	fx_must(indexer_catch_up(f.ar, NULL, NULL, &err), &err, "index catch-up");
	for (size_t i = 0; i < N; i++) {
		struct stored_message m = fx_load(&f, ids[i]);
		if (strcmp(m.class_name, c[i].name) != 0)
			fail_msg("%s: policy class %s", c[i].name, m.class_name);
		struct index_hits hits;
		int64_t total = -1;
		fx_must(index_search(f.ar->cat->db, c[i].query, 10, 0, &hits, &total, &err), &err,
			c[i].query);
		if (total != 1 || hits.n != 1 || hits.v[0].id != ids[i])
			fail_msg("%s: search %s found %lld messages, not message %lld", c[i].name,
				 c[i].query, (long long)total, (long long)ids[i]);
		index_hits_free(&hits);
	}
	pv_buf_free(&policy);
	free(big[0]);
	free(big[1]);
	fx_free(&f);
}

/* The policy's view is made from the index's parse: its sender and
 * recipients are among the addresses search has, its subject is search's
 * subject, for every hostile case above. */
static void test_policy_reads_the_index_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		size_t len = hostile[i].len ? hostile[i].len : strlen(hostile[i].raw);
		struct retention_message rm;
		struct index_doc doc;
		message_of((const unsigned char *)hostile[i].raw, len, &doc, &rm);
		if (rm.m.from != NULL && strstr(pv_buf_str(&doc.from), rm.m.from) == NULL)
			fail_msg("%s: policy sender %s, search has %s", hostile[i].name, rm.m.from,
				 pv_buf_str(&doc.from));
		for (size_t k = 0; k < rm.m.n_to; k++)
			assert_non_null(strstr(pv_buf_str(&doc.to), rm.m.to[k]));
		for (size_t k = 0; k < rm.m.n_cc; k++)
			assert_non_null(strstr(pv_buf_str(&doc.cc), rm.m.cc[k]));
		char *subject = g_strstrip(g_strdup(pv_buf_str(&doc.subject)));
		assert_string_equal(rm.m.subject, subject);
		g_free(subject);
		retention_message_free(&rm);
		index_doc_free(&doc);
	}
}

/* verify --full classifies each message without a trace or a document:
 * then the signed facts (account, size, received time) decide alone when
 * they can, as at ingest, and the message is not parsed; when a content
 * test can change the rule, it is parsed. Either way the class and expiry
 * are the ones the traced evaluation (dispose's) gives the same bytes. */
static void test_classify_parses_only_when_content_can_decide(void **state)
{
	(void)state;
	static const char *const policies[] = {
		"rule \"big\": retain 1y when size > 100KB\ndefault: retain 6y\n",
		"rule \"sec\": retain 7y when from ~ \"*@sec.gov\"\ndefault: retain 6y\n",
		"rule \"legal\": retain 2y when account = \"legal\"\n"
		"rule \"sec\": retain 7y when from ~ \"*@sec.gov\"\ndefault: retain 6y\n",
	};
	static const char *const raws[] = {
		"From: a@sec.gov\r\nSubject: s\r\n\r\nbody\r\n",
		"From: b@example.com\r\nSubject: s\r\n\r\nbody\r\n",
	};
	static const char *const accounts[] = {"sales", "legal"};
	int64_t t = fx_t("2026-01-10");
	struct pv_error err;
	for (size_t i = 0; i < 3; i++) {
		struct policy *p = parse_ok(policies[i]);
		for (size_t k = 0; k < 2; k++)
			for (size_t a = 0; a < 2; a++) {
				const unsigned char *raw = (const unsigned char *)raws[k];
				size_t len = strlen(raws[k]);
				struct retention fast, traced;
				struct policy_trace trace;
				fx_must(attest_classify(p, 1, accounts[a], raw, len, t, &fast, NULL, NULL,
							&err), &err, "classify");
				fx_must(attest_classify(p, 1, accounts[a], raw, len, t, &traced, &trace,
							NULL, &err), &err, "classify traced");
				if (strcmp(fast.class_name, traced.class_name) != 0 ||
				    fast.expires_at != traced.expires_at)
					fail_msg("policy %zu, message %zu, account %s: '%s' against '%s' traced",
						 i, k, accounts[a], fast.class_name, traced.class_name);
			}
		/* The facts decide: the bytes are not read at all (NULL here;
		 * verify keeps none under such a policy). */
		struct retention ret;
		const char *acct = i == 2 ? "legal" : "sales";
		if (i != 1) {
			fx_must(attest_classify(p, 1, acct, NULL, 200 * 1024, t, &ret, NULL, NULL, &err),
				&err, "classify without bytes");
			assert_string_equal(ret.class_name, i == 0 ? "big" : "legal");
		}
		policy_free(&p);
	}
}

static void test_archive_time_decision_uses_version_in_force(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	/* no policy stored: the built-in six years, class default, version 0 */
	int64_t a = fx_archive(&f, HDR("From: a@sec.gov\r\nSubject: s\r\n") "b\r\n", fx_t("2024-02-29"));
	struct stored_message m = fx_load(&f, a);
	assert_string_equal(m.class_name, "default");
	assert_int_equal(m.policy_version, 0);
	assert_int_equal(m.expires_at, fx_t("2030-02-28")); /* Feb 29 + 6y */
	/* version 1 in force: its rules decide, its number is recorded */
	int64_t v1 = fx_policy_store(&f, "rule \"sec\": retain 7y then review when from ~ \"*@sec.gov\"\n"
					  "default: retain 1m\n");
	int64_t b = fx_archive(&f, HDR("From: a@sec.gov\r\nSubject: s\r\n") "b\r\n", fx_t("2025-01-31"));
	int64_t c = fx_archive(&f, HDR("From: a@o.example\r\nSubject: s\r\n") "b\r\n", fx_t("2025-01-31"));
	m = fx_load(&f, b);
	assert_string_equal(m.class_name, "sec");
	assert_int_equal(m.policy_version, v1);
	assert_int_equal(m.expires_at, fx_t("2032-01-31"));
	m = fx_load(&f, c);
	assert_string_equal(m.class_name, "default");
	assert_int_equal(m.expires_at, fx_t("2025-02-28")); /* Jan 31 + 1m */
	/* a new version is picked up by the next decision (no stale cache) */
	int64_t v2 = fx_policy_store(&f, "default: retain forever\n");
	int64_t d = fx_archive(&f, HDR("From: a@sec.gov\r\n") "b\r\n", fx_t("2025-03-01"));
	m = fx_load(&f, d);
	assert_int_equal(m.policy_version, v2);
	assert_int_equal(m.expires_at, -1);
	/* the message bytes are intact after the decision read them back */
	assert_int_equal(fx_read(&f, d, HDR("From: a@sec.gov\r\n") "b\r\n"), PV_OK);
	/* different (class, month) -> different buckets */
	assert_int_not_equal(fx_load(&f, b).bucket_id, fx_load(&f, c).bucket_id);
	fx_free(&f);
}

static void test_policy_versions_are_never_edited(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct policy_version_info info;
	unsigned char *text;
	size_t len;
	fx_init(&f);
	assert_int_equal(policy_store_current(f.ar->cat->conn, &info, &err), PV_ENOTFOUND);
	static const char t1[] = "# one\ndefault: retain 6y\n", t2[] = "default:   retain 7y # two\n";
	assert_int_equal(fx_policy_store(&f, t1), 1);
	assert_int_equal(fx_policy_store(&f, t2), 2);
	fx_must(policy_store_current(f.ar->cat->conn, &info, &err), &err, "current");
	assert_int_equal(info.version, 2);
	assert_string_equal(info.actor, "cli:test");
	fx_must(policy_store_get(f.ar->cat->conn, 1, &text, &len, &info, &err), &err, "get");
	assert_int_equal(len, strlen(t1));
	assert_memory_equal(text, t1, len); /* the exact bytes, comments and all */
	free(text);
	assert_int_equal(policy_store_get(f.ar->cat->conn, 3, &text, &len, NULL, &err), PV_ENOTFOUND);
	sqlite3 *db = f.ar->cat->db;
	assert_int_not_equal(sqlite3_exec(db, "UPDATE policy_versions SET text = 'default: retain 1d'"
					      " WHERE version = 1", NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM policy_versions WHERE version = 2", NULL,
					  NULL, NULL), SQLITE_OK);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM policy_versions"), 2);
	/* someone with the database drops the trigger and edits a version:
	 * loading it is an integrity failure, not a different policy */
	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER policy_versions_never_edited;"
					  "UPDATE policy_versions SET text = CAST('default: retain 1d\n'"
					  " AS BLOB) WHERE version = 2", NULL, NULL, NULL), SQLITE_OK);
	struct policy *p = NULL;
	assert_int_equal(policy_version_load(f.ar->cat->conn, 2, &p, NULL, &err), PV_EINTEGRITY);
	assert_null(p);
	assert_non_null(strstr(err.msg, "SHA-256"));
	fx_free(&f);
}

static void test_shorter_retention_rewraps_into_new_bucket(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct retention_reapply_stats rs;
	struct policy_impact *imp = NULL;
	static const char news[] = HDR("From: n@o.example\r\nSubject: weekly news\r\n") "n\r\n";
	static const char mail[] = HDR("From: m@o.example\r\nSubject: hello\r\n") "m\r\n";
	fx_init(&f);
	fx_policy_store(&f, "default: retain 6y\n");
	int64_t a = fx_archive(&f, news, fx_t("2026-01-10"));
	int64_t b = fx_archive(&f, mail, fx_t("2026-01-10"));
	int64_t c = fx_archive(&f, mail, fx_t("2026-02-10"));
	struct stored_message before = fx_load(&f, a);

	struct policy *p = parse_ok("rule \"news\": retain 30d when subject ~ \"*news*\"\n"
				    "default: retain 10y\n");
	fx_must(policy_impact_new(p, fx_t("2026-03-01"), &imp, &err), &err, "impact");
	fx_must(catalog_begin(f.ar->cat, &err), &err, "begin");
	int64_t v = 0;
	fx_must(policy_version_add(f.ar->cat->conn, p, "cli:test", 1, &v, &err), &err, "add");
	fx_must(retention_reapply(f.ar, p, v, false, imp, &rs, &err), &err, "reapply");
	fx_must(catalog_commit(f.ar->cat, &err), &err, "commit");
	assert_int_equal(rs.evaluated, 3);
	assert_int_equal(rs.changed, 3);
	assert_int_equal(rs.rewrapped, 3);
	assert_int_equal(rs.unreadable, 0);

	const struct policy_impact_row *r0 = policy_impact_row(imp, 0), *r1 = policy_impact_row(imp, 1);
	assert_string_equal(r0->rule, "news");
	assert_int_equal(r0->messages, 1);
	assert_int_equal(r0->shorter, 1);
	assert_int_equal(r0->reclassified, 1);
	assert_int_equal(r0->newly_due, 1); /* Jan 10 + 30d < Mar 1 */
	assert_string_equal(r1->rule, "default");
	assert_int_equal(r1->messages, 2);
	assert_int_equal(r1->longer, 2);

	struct stored_message after = fx_load(&f, a);
	assert_string_equal(after.class_name, "news");
	assert_int_equal(after.expires_at, fx_t("2026-02-09"));
	assert_int_equal(after.policy_version, v);
	assert_int_not_equal(after.bucket_id, before.bucket_id);
	assert_memory_not_equal(after.wrapped, before.wrapped, KEYRING_WRAPPED_BYTES);
	/* the leaf's class is kept for verify; the content still reads */
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM messages WHERE id = 1 AND"
				    " archived_class = 'default' AND retention_class = 'news'"), 1);
	assert_int_equal(fx_read(&f, a, news), PV_OK);
	assert_int_equal(fx_read(&f, b, mail), PV_OK);
	assert_int_equal(fx_read(&f, c, mail), PV_OK);
	/* (news, 2026-02) holds exactly the expiring message */
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM messages m JOIN buckets b ON"
				    " b.id = m.bucket_id WHERE b.class = 'news' AND b.expiry_month = '2026-02'"),
			 1);
	/* re-applying the same version changes nothing */
	fx_must(retention_reapply(f.ar, p, v, false, NULL, &rs, &err), &err, "reapply again");
	assert_int_equal(rs.changed, 0);
	assert_int_equal(rs.rewrapped, 0);
	policy_impact_free(&imp);
	policy_free(&p);
	fx_free(&f);
}

static void test_unreadable_message_keeps_its_retention(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct retention_reapply_stats rs;
	char path[4096];
	fx_init(&f);
	int64_t a = fx_archive(&f, HDR("From: a@o.example\r\n") "a\r\n", fx_t("2026-01-10"));
	int64_t b = fx_archive(&f, HDR("From: b@o.example\r\n") "b\r\n", fx_t("2026-01-10"));
	struct stored_message m = fx_load(&f, a);
	blob_path(f.dir, m.blob, path, sizeof(path));
	assert_int_equal(unlink(path), 0); /* lost by hand */
	struct policy *p = parse_ok("default: retain 1y\n");
	int64_t v = fx_policy_store(&f, "default: retain 1y\n");
	/* The warning names the message once (the store's error names it). */
	struct fx_stderr c;
	char said[4096], who[64];
	fx_stderr_capture(&c);
	int r = retention_reapply(f.ar, p, v, false, NULL, &rs, &err);
	fx_stderr_release(&c, said, sizeof(said));
	fx_must(r, &err, "reapply");
	snprintf(who, sizeof(who), "message %lld: ", (long long)a);
	char *first = strstr(said, who);
	assert_non_null(first);
	assert_null(strstr(first + 1, who));
	assert_non_null(strstr(said, "its retention stays"));
	assert_int_equal(rs.evaluated, 1);
	assert_int_equal(rs.unreadable, 1);
	assert_int_equal(rs.unreadable_ids[0], a);
	struct stored_message ma = fx_load(&f, a), mb = fx_load(&f, b);
	assert_int_equal(ma.policy_version, 0); /* untouched */
	assert_int_equal(ma.expires_at, m.expires_at);
	assert_int_equal(mb.policy_version, v);
	assert_int_equal(mb.expires_at, fx_t("2027-01-10"));
	/* only_stale: only a is still to do, and still cannot be */
	fx_must(retention_reapply(f.ar, p, v, true, NULL, &rs, &err), &err, "reapply stale");
	assert_int_equal(rs.evaluated + rs.unreadable, 1);
	policy_free(&p);
	fx_free(&f);
}

/* A new version is evaluated on the bytes, not on the catalog's size
 * (issue 19: an inflated size column moved mail into a 1-day rule). Also
 * a size column made smaller than the bytes does not make them unreadable. */
static void test_reapply_uses_the_real_size(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct retention_reapply_stats rs;
	fx_init(&f);
	int64_t a = fx_archive(&f, HDR("From: a@o.example\r\n") "a\r\n", fx_t("2026-01-10"));
	int64_t b = fx_archive(&f, HDR("From: b@o.example\r\n") "b\r\n", fx_t("2026-01-10"));
	fx_must(catalog_exec(f.ar->cat->db, "UPDATE messages SET size = 5000000 WHERE id = 1;"
					    "UPDATE messages SET size = 3 WHERE id = 2", &err),
		&err, "edit");
	static const char text[] = "rule \"big\": retain 1d when size > 1MB\n"
				   "rule \"tiny\": retain 1d when size < 10B\ndefault: retain 6y\n";
	struct policy *p = parse_ok(text);
	int64_t v = fx_policy_store(&f, text);
	fx_must(retention_reapply(f.ar, p, v, false, NULL, &rs, &err), &err, "reapply");
	assert_int_equal(rs.evaluated, 2);
	assert_int_equal(rs.unreadable, 0);
	assert_string_equal(fx_load(&f, a).class_name, "default");
	assert_string_equal(fx_load(&f, b).class_name, "default");
	policy_free(&p);
	fx_free(&f);
}

static void test_shredded_bucket_gets_a_successor(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct retention ret = {.class_name = "default", .expires_at = 0};
	char label[RETENTION_BUCKET_LABEL_MAX];
	int64_t b1, b2, b3;
	fx_init(&f);
	ret.expires_at = fx_t("2030-05-17");
	fx_must(retention_bucket(f.ar, &ret, &b1, label, &err), &err, "bucket");
	assert_string_equal(label, "2030-05");
	fx_must(retention_bucket(f.ar, &ret, &b2, label, &err), &err, "bucket again");
	assert_int_equal(b1, b2);
	fx_must(keyring_destroy_bucket(f.ar->kr, b1, &err), &err, "destroy");
	/* mail that needs (default, 2030-05) again never lands in the shredded bucket */
	fx_must(retention_bucket(f.ar, &ret, &b3, label, &err), &err, "successor");
	assert_int_not_equal(b3, b1);
	assert_string_equal(label, "2030-05+1");
	unsigned char k[BLOB_KEY_BYTES] = {1}, s[BLOB_SALT_BYTES] = {2}, w[KEYRING_WRAPPED_BYTES];
	fx_must(keyring_wrap(f.ar->kr, b3, "x", k, s, w, &err), &err, "wrap");
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM buckets WHERE expiry_month = '2030-05+1'"), 1);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_fields_become_policy_fields),
		cmocka_unit_test(test_every_matcher_on_real_bytes),
		cmocka_unit_test(test_first_matching_rule_wins),
		cmocka_unit_test(test_hostile_headers_are_bounded),
		cmocka_unit_test(test_policy_and_search_agree_on_hostile_headers),
		cmocka_unit_test(test_policy_reads_the_index_parse),
		cmocka_unit_test(test_classify_parses_only_when_content_can_decide),
		cmocka_unit_test(test_archive_time_decision_uses_version_in_force),
		cmocka_unit_test(test_policy_versions_are_never_edited),
		cmocka_unit_test(test_shorter_retention_rewraps_into_new_bucket),
		cmocka_unit_test(test_unreadable_message_keeps_its_retention),
		cmocka_unit_test(test_shredded_bucket_gets_a_successor),
		cmocka_unit_test(test_reapply_uses_the_real_size),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("retention", tests, NULL, NULL);
}
