/* Unit tests for the POP3 pure layers: status lines and response codes,
 * CAPA, LIST and UIDL lines, the dot-unstuffing stream, and the SASL /
 * APOP computations against their RFCs' examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/lib/buf.h"
#include "archiver/pop3/dot.h"
#include "archiver/pop3/reply.h"
#include "archiver/pop3/sasl.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static void test_status_line_codes_mapped(void **state)
{
	(void)state;
	struct pop3_reply r;
	static const struct {
		const char *line;
		int status;
		const char *code;
	} cases[] = {
		{"-ERR [IN-USE] Mailbox is locked by another POP3 session.", PV_ETEMP, "IN-USE"},
		{"-ERR [LOGIN-DELAY] wait", PV_ETEMP, "LOGIN-DELAY"},
		{"-ERR [SYS/TEMP] Temporary authentication failure.", PV_ETEMP, "SYS/TEMP"},
		{"-ERR [AUTH] Authentication failed.", PV_EAUTH, "AUTH"},
		{"-ERR [auth] lower case", PV_EAUTH, "AUTH"},
		{"-ERR [SYS/PERM] gone", PV_EPERM, "SYS/PERM"},
		{"-ERR invalid password", PV_ERR, ""},
		{"-ERR [SYS/OTHER] unknown code", PV_ERR, "SYS/OTHER"},
		{"-ERR", PV_ERR, ""},
		{"+OK [IN-USE] codes on +OK are not errors", PV_OK, "IN-USE"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(pop3_reply_parse(cases[i].line, strlen(cases[i].line), false, &r), 0);
		assert_int_equal(pop3_reply_status(&r), cases[i].status);
		assert_string_equal(r.code, cases[i].code);
	}
	assert_int_equal(pop3_reply_parse(S("-ERR [AUTH] Authentication failed."), false, &r), 0);
	assert_int_equal(r.text_len, strlen("Authentication failed."));
	assert_memory_equal(r.text, "Authentication failed.", r.text_len);
}

static void test_resp_code_malformed_stays_text(void **state)
{
	(void)state;
	struct pop3_reply r;
	/* No closing bracket, digits, empty levels: not a code, so the text
	 * is kept whole and the status is plain PV_ERR. */
	const char *bad[] = {"-ERR [IN-USE no bracket", "-ERR [IN USE] x", "-ERR [] x",
			     "-ERR [SYS/] x", "-ERR [/TEMP] x", "-ERR [SYS/TEMP1] x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pop3_reply_parse(bad[i], strlen(bad[i]), false, &r), 0);
		assert_string_equal(r.code, "");
		assert_int_equal(pop3_reply_status(&r), PV_ERR);
		assert_int_equal(r.text_len, strlen(bad[i]) - 5);
	}
	char longcode[200] = "-ERR [";
	memset(longcode + 6, 'A', 100);
	memcpy(longcode + 106, "] x", 4);
	assert_int_equal(pop3_reply_parse(longcode, strlen(longcode), false, &r), 0);
	assert_string_equal(r.code, "");
}

static void test_status_line_garbage_is_protocol_error(void **state)
{
	(void)state;
	struct pop3_reply r;
	const char *bad[] = {"", "OK", "+OKAY", "-ERROR x", "* OK IMAP", "+ challenge", "+"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pop3_reply_parse(bad[i], strlen(bad[i]), false, &r), PV_EPROTO);
	/* Continuations only inside SASL. */
	assert_int_equal(pop3_reply_parse(S("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"),
					  true, &r), 0);
	assert_int_equal(r.kind, POP3_REPLY_CONT);
	assert_int_equal(pop3_reply_parse(S("+"), true, &r), 0);
	assert_int_equal(r.kind, POP3_REPLY_CONT);
	assert_int_equal(r.text_len, 0);
	assert_int_equal(pop3_reply_parse(S("+OK"), true, &r), 0);
	assert_int_equal(r.kind, POP3_REPLY_OK);
}

static void caps_from(struct pop3_caps *c, const char *const *lines, size_t n)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < n; i++)
		pop3_caps_parse_line(c, lines[i], strlen(lines[i]));
}

static void test_capa_garbage_tolerated(void **state)
{
	(void)state;
	struct pop3_caps c;
	/* GNU pop3d 3.15 sends "EXPIRE0" and a bare "5" (LOGIN-DELAY 5);
	 * neither may break the session, and "EXPIRE0" must still count as
	 * expiry at QUIT. */
	const char *gnu[] = {"TOP", "USER", "UIDL", "RESP-CODES", "PIPELINING", "EXPIRE0", "5",
			     "", "   ", "\x01\xff garbage", "LOGIN-DELAY", "LOGIN-DELAY x",
			     "IMPLEMENTATION GNU Mailutils\x07 3.15"};
	caps_from(&c, gnu, sizeof(gnu) / sizeof(gnu[0]));
	assert_true(c.top && c.user && c.uidl && c.resp_codes && c.pipelining);
	assert_true(c.expire);
	assert_true(c.expire_malformed);
	assert_int_equal(c.expire_days, 0);
	assert_false(c.expire_never);
	/* The bare "5" is GNU's LOGIN-DELAY 5 (a hint for the scheduler). */
	assert_true(c.login_delay && c.login_delay_malformed);
	assert_int_equal(c.login_delay_s, 5);
	assert_false(c.stls);
	assert_string_equal(c.implementation, "GNU Mailutils? 3.15");
}

static void test_capa_expire_login_delay_sasl(void **state)
{
	(void)state;
	struct pop3_caps c;
	const char *lines[] = {"EXPIRE 30 USER", "LOGIN-DELAY 900", "SASL PLAIN login Cram-MD5 SCRAM-SHA-1 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER FOO",
			       "STLS", "AUTH-RESP-CODE", "UTF8 USER"};
	caps_from(&c, lines, sizeof(lines) / sizeof(lines[0]));
	assert_true(c.expire && c.expire_per_user && !c.expire_never && !c.expire_malformed);
	assert_int_equal(c.expire_days, 30);
	assert_true(c.login_delay);
	assert_int_equal(c.login_delay_s, 900);
	assert_int_equal(c.sasl, POP3_SASL_PLAIN | POP3_SASL_LOGIN | POP3_SASL_CRAM_MD5 |
					 POP3_SASL_SCRAM_SHA_256 | POP3_SASL_XOAUTH2 |
					 POP3_SASL_OAUTHBEARER);
	assert_true(c.stls && c.auth_resp_code && c.utf8);
	const char *never[] = {"EXPIRE NEVER"};
	caps_from(&c, never, 1);
	assert_true(c.expire && c.expire_never && !c.expire_malformed);
	const char *gnu_never[] = {"EXPIRENEVER"};
	caps_from(&c, gnu_never, 1);
	assert_true(c.expire && c.expire_never && c.expire_malformed);
	const char *huge[] = {"EXPIRE 99999999999999999999999", "LOGIN-DELAY -5"};
	caps_from(&c, huge, 2);
	assert_true(c.expire && c.expire_malformed && !c.expire_never); /* taken as 0 */
	assert_false(c.login_delay);
}

/* Issue 16, finding 3: an EXPIRE line whose value does not parse was
 * ignored, i.e. read as "never expires". A server that says EXPIRE may
 * delete what a QUIT marks retrieved: a garbled value counts as 0. */
static void test_capa_garbled_expire_counts_as_expire_0(void **state)
{
	(void)state;
	struct pop3_caps c;
	const char *garbled[] = {"EXPIRE", "EXPIRE soon", "EXPIRE -1", "EXPIRE 5d",
				 "EXPIRE 99999999999999999999999", "EXPIRE5x", "EXPIRE\x01",
				 "EXPIREnow"};
	for (size_t i = 0; i < sizeof(garbled) / sizeof(garbled[0]); i++) {
		caps_from(&c, &garbled[i], 1);
		if (!(c.expire && c.expire_malformed && !c.expire_never && c.expire_days == 0))
			fail_msg("\"%s\" not taken as EXPIRE 0", garbled[i]);
		assert_true(pop3_caps_expire_at_quit(&c));
	}
	/* EXPIRE n > 0 expires too, only later; NEVER (or no EXPIRE) does not. */
	const char *five[] = {"EXPIRE 5"}, *gnu5[] = {"EXPIRE5"}, *never[] = {"EXPIRE NEVER"},
		   *gnu_never[] = {"EXPIRENEVER"}, *none[] = {"TOP"};
	caps_from(&c, five, 1);
	assert_true(pop3_caps_expire_at_quit(&c) && c.expire_days == 5 && !c.expire_malformed);
	caps_from(&c, gnu5, 1);
	assert_true(pop3_caps_expire_at_quit(&c) && c.expire_days == 5);
	caps_from(&c, never, 1);
	assert_false(pop3_caps_expire_at_quit(&c));
	caps_from(&c, gnu_never, 1);
	assert_false(pop3_caps_expire_at_quit(&c));
	caps_from(&c, none, 1);
	assert_false(pop3_caps_expire_at_quit(&c));
}

static void test_list_line_range_checked(void **state)
{
	(void)state;
	uint32_t n;
	uint64_t sz;
	assert_int_equal(pop3_parse_scan(S("1 120"), false, &n, &sz), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sz, 120);
	assert_int_equal(pop3_parse_scan(S("2 200 extra info"), false, &n, &sz), 0);
	assert_int_equal(sz, 200);
	assert_int_equal(pop3_parse_scan(S("0 10"), false, &n, &sz), PV_EPROTO);
	assert_int_equal(pop3_parse_scan(S("0 0"), true, &n, &sz), 0);
	const char *bad[] = {"", "1", "1 ", " 1 2", "-1 2", "1 -2", "1 +2", "a 2", "1 2x",
			     "99999999999 1", "1 99999999999999999999999", "1\t2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pop3_parse_scan(bad[i], strlen(bad[i]), false, &n, &sz), PV_EPROTO);
	/* A NUL inside the number must not end it early. */
	assert_int_equal(pop3_parse_scan("1\0 2", 4, false, &n, &sz), PV_EPROTO);
}

static void test_uidl_invalid_chars_rejected(void **state)
{
	(void)state;
	uint32_t n;
	char u[PV_POP3_UIDL_MAX + 1];
	assert_int_equal(pop3_parse_uidl(S("1 whqtswO00WBw418f9t5JxYwZ"), &n, u), 0);
	assert_string_equal(u, "whqtswO00WBw418f9t5JxYwZ");
	assert_int_equal(pop3_parse_uidl(S("7 !~"), &n, u), 0);
	char seventy[80] = "3 ";
	memset(seventy + 2, 'x', 70);
	assert_int_equal(pop3_parse_uidl(seventy, 72, &n, u), 0);
	assert_int_equal(strlen(u), 70);
	seventy[72] = 'x';
	assert_int_equal(pop3_parse_uidl(seventy, 73, &n, u), PV_EPROTO);
	const char *bad[] = {"1 ", "1", "1 a b", "1 caf\xc3\xa9", "1 tab\there", "0 abc",
			     "x abc", "1  abc", "1 abc "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pop3_parse_uidl(bad[i], strlen(bad[i]), &n, u), PV_EPROTO);
	assert_int_equal(pop3_parse_uidl("1 a\0b", 5, &n, u), PV_EPROTO);
	assert_int_equal(pop3_parse_uidl("1 a\x7f", 4, &n, u), PV_EPROTO);
}

static void test_greeting_timestamp(void **state)
{
	(void)state;
	char ts[128];
	assert_true(pop3_greeting_timestamp(S("POP3 server ready <1896.697170952@dbc.mtview.ca.us>"),
					    ts, sizeof(ts)));
	assert_string_equal(ts, "<1896.697170952@dbc.mtview.ca.us>");
	assert_false(pop3_greeting_timestamp(S("Dovecot ready."), ts, sizeof(ts)));
	assert_false(pop3_greeting_timestamp(S("<no-at-sign>"), ts, sizeof(ts)));
	assert_false(pop3_greeting_timestamp(S("<a b@c>"), ts, sizeof(ts)));
	assert_false(pop3_greeting_timestamp(S("<unclosed@x"), ts, sizeof(ts)));
	assert_false(pop3_greeting_timestamp(S("<1@2>"), ts, 5));
}

/* ---- dot-unstuffing ---- */

struct collect {
	struct pv_buf out;
	int calls;
	int fail_after;
};

static int collect_emit(void *ctx, const unsigned char *d, size_t n)
{
	struct collect *c = ctx;
	if (c->fail_after > 0 && ++c->calls > c->fail_after)
		return PV_ERR;
	assert_true(n > 0);
	return pv_buf_append(&c->out, d, n, NULL);
}

/* Feeds in[] in chunks of chunk bytes; returns total consumed. */
static size_t feed_chunks(const char *in, size_t n, size_t chunk, bool bare_lf,
			  struct collect *c, struct pop3_dot *d)
{
	size_t total = 0;
	pop3_dot_init(d, bare_lf);
	while (total < n && !pop3_dot_done(d)) {
		size_t k = n - total < chunk ? n - total : chunk, used;
		assert_int_equal(pop3_dot_feed(d, (const unsigned char *)in + total, k,
					       collect_emit, c, &used), 0);
		total += used;
		if (used < k)
			break;
	}
	return total;
}

/* bare_lf: the reply's "+OK" ended in a bare LF (dot.h). */
static void check_unstuff_mode(bool bare_lf, const char *in, size_t in_len, const char *want,
			       size_t want_len, size_t want_used)
{
	/* Every chunking must give the same bytes: a chunk boundary may fall
	 * anywhere, also between "." and CR or CR and LF. */
	for (size_t chunk = 1; chunk <= in_len + 1; chunk++) {
		struct collect c = {0};
		struct pop3_dot d;
		pv_buf_init(&c.out, 1 << 20);
		size_t used = feed_chunks(in, in_len, chunk, bare_lf, &c, &d);
		assert_true(pop3_dot_done(&d));
		assert_int_equal(used, want_used);
		/* The bare LFs it counted are those of what it passed on (the
		 * LIST size check counts each as two bytes). */
		uint64_t bare = 0;
		for (size_t i = 0; i < want_len; i++)
			bare += want[i] == '\n' && (i == 0 || want[i - 1] != '\r');
		assert_int_equal(d.bare_lfs, bare);
		assert_int_equal(c.out.len, want_len);
		if (want_len > 0)
			assert_memory_equal(c.out.data, want, want_len);
		pv_buf_free(&c.out);
	}
}

static void check_unstuff(const char *in, size_t in_len, const char *want, size_t want_len,
			  size_t want_used)
{
	check_unstuff_mode(false, in, in_len, want, want_len, want_used);
	check_unstuff_mode(true, in, in_len, want, want_len, want_used);
}

static void test_retr_dot_unstuffing(void **state)
{
	(void)state;
	static const char in[] = "Subject: x\r\n\r\n..leading dot\r\n...\r\n.. \r\nmid.dle\r\n"
				 ".\r\nNEXT";
	static const char want[] = "Subject: x\r\n\r\n.leading dot\r\n..\r\n. \r\nmid.dle\r\n";
	check_unstuff(in, sizeof(in) - 1, want, sizeof(want) - 1, sizeof(in) - 1 - 4);
	/* Empty body. */
	check_unstuff(".\r\n", 3, "", 0, 3);
	/* A line that is only "..": one dot. */
	check_unstuff("..\r\n.\r\n", 7, ".\r\n", 3, 7);
	/* ".\r" not followed by LF is data: a line holding a lone CR. */
	check_unstuff(".\rx\r\n.\r\n", 8, "\rx\r\n", 4, 8);
}

static void test_retr_bare_lf_kept_exact(void **state)
{
	(void)state;
	/* From a bare-LF server ("+OK" LF): bare LF lines are passed on
	 * exactly; ".\n" ends the body. */
	static const char in[] = "a\nb\r\n..c\n\n.\n";
	static const char want[] = "a\nb\r\n.c\n\n";
	check_unstuff_mode(true, in, sizeof(in) - 1, want, sizeof(want) - 1, sizeof(in) - 1);
	/* A body whose last line has no line end before CRLF.CRLF: a CR in
	 * the middle of a line is data, not a line end. */
	check_unstuff("x\ry\r\n.\r\n", 8, "x\ry\r\n", 5, 8);
}

/* Issue 16, finding 8: in a CRLF reply a bare LF is data. A sender's own
 * "\n.\n" (or "\n.\r\n"), passed unstuffed by a server that stuffs only
 * lines after CRLF, must not end the message early: the archived copy
 * would be cut, and the rest read as the replies that follow (a forged
 * "+OK" to DELE or QUIT). */
static void test_dot_bare_lf_dot_is_data_in_crlf_reply(void **state)
{
	(void)state;
	static const char in[] = "Subject: x\r\n\r\nhello\n.\n+OK forged\r\n+OK\r\n"
				 "a\n.\r\nb\r\n.\r\nNEXT";
	static const char want[] = "Subject: x\r\n\r\nhello\n.\n+OK forged\r\n+OK\r\n"
				   "a\n.\r\nb\r\n";
	check_unstuff_mode(false, in, sizeof(in) - 1, want, sizeof(want) - 1, sizeof(in) - 1 - 4);
	/* A line "." LF at a line start: data, dot kept (a stuffing server
	 * sends ".." LF, whose first dot goes). */
	check_unstuff_mode(false, ".\nx\r\n..\ny\r\n.\r\n", 14, ".\nx\r\n.\ny\r\n", 10, 14);
	/* The same bytes from a bare-LF server end at the first ".\n". */
	check_unstuff_mode(true, in, sizeof(in) - 1, "Subject: x\r\n\r\nhello\n", 20, 22);
}

static void test_dot_terminator_only_at_line_start(void **state)
{
	(void)state;
	/* "x.\r\n" is not a terminator; the stream is not done. */
	struct collect c = {0};
	struct pop3_dot d;
	size_t used;
	pv_buf_init(&c.out, 1024);
	pop3_dot_init(&d, false);
	assert_true(pop3_dot_at_line_start(&d));
	assert_int_equal(pop3_dot_feed(&d, (const unsigned char *)"x.\r\n", 4, collect_emit, &c, &used), 0);
	assert_int_equal(used, 4);
	assert_false(pop3_dot_done(&d));
	assert_true(pop3_dot_at_line_start(&d));
	assert_int_equal(pop3_dot_feed(&d, (const unsigned char *)"half", 4, collect_emit, &c, &used), 0);
	assert_false(pop3_dot_at_line_start(&d));
	assert_int_equal(c.out.len, 8);
	/* Nothing is consumed once done. */
	assert_int_equal(pop3_dot_feed(&d, (const unsigned char *)"\r\n.\r\nrest", 9, collect_emit, &c, &used), 0);
	assert_int_equal(used, 5);
	assert_true(pop3_dot_done(&d));
	assert_int_equal(pop3_dot_feed(&d, (const unsigned char *)"rest", 4, collect_emit, &c, &used), 0);
	assert_int_equal(used, 0);
	pv_buf_free(&c.out);
}

static void test_dot_emit_failure_stops(void **state)
{
	(void)state;
	struct collect c = {.fail_after = 1};
	struct pop3_dot d;
	size_t used = 99;
	pv_buf_init(&c.out, 1024);
	pop3_dot_init(&d, false);
	assert_int_equal(pop3_dot_feed(&d, (const unsigned char *)"ab\r\n..cd\r\n.\r\n", 14,
				       collect_emit, &c, &used), PV_ERR);
	assert_true(used < 14);
	assert_false(pop3_dot_done(&d));
	pv_buf_free(&c.out);
}

/* ---- SASL and APOP known answers ---- */

static void test_cram_md5_known_answer(void **state)
{
	(void)state;
	/* RFC 2195 §2 example. */
	static const char ch[] = "<1896.697170952@postoffice.reston.mci.net>";
	struct pv_buf out, b64;
	pv_buf_init(&out, 1024);
	pv_buf_init(&b64, 1024);
	assert_int_equal(pop3_sasl_cram_md5("tim", "tanstaaftanstaaf", (const unsigned char *)ch,
					    sizeof(ch) - 1, &out, NULL), 0);
	assert_string_equal(pv_buf_str(&out), "tim b913a602c7eda7a495b4e6e7334d3890");
	assert_int_equal(pop3_b64_encode(out.data, out.len, &b64, NULL), 0);
	assert_string_equal(pv_buf_str(&b64), "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
	pv_buf_free_secret(&out);
	pv_buf_free(&b64);
}

static void test_apop_known_answer(void **state)
{
	(void)state;
	/* RFC 1939 §7 example. */
	char hex[33];
	assert_int_equal(pop3_apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf", hex, NULL), 0);
	assert_string_equal(hex, "c4c9334bac560ecc979e58001b3e22fb");
}

static void test_plain_and_oauth_encodings(void **state)
{
	(void)state;
	struct pv_buf out, b64;
	pv_buf_init(&out, 1024);
	pv_buf_init(&b64, 1024);
	/* RFC 4616 §4 example: "\0tim\0tanstaaftanstaaf". */
	assert_int_equal(pop3_sasl_plain(NULL, "tim", "tanstaaftanstaaf", &out, NULL), 0);
	assert_int_equal(pop3_b64_encode(out.data, out.len, &b64, NULL), 0);
	assert_string_equal(pv_buf_str(&b64), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	pv_buf_reset(&out);
	assert_int_equal(pop3_sasl_oauthbearer("a,b=c@example.com", "TOKEN", &out, NULL), 0);
	assert_int_equal(out.len, strlen("n,a=a=2Cb=3Dc@example.com,\001auth=Bearer TOKEN\001\001"));
	assert_memory_equal(out.data, "n,a=a=2Cb=3Dc@example.com,\001auth=Bearer TOKEN\001\001", out.len);
	pv_buf_reset(&out);
	assert_int_equal(pop3_sasl_xoauth2("u@example.com", "TOKEN", &out, NULL), 0);
	assert_memory_equal(out.data, "user=u@example.com\001auth=Bearer TOKEN\001\001", out.len);
	pv_buf_free_secret(&out);
	pv_buf_free(&b64);
}

static void test_b64_decode_strict(void **state)
{
	(void)state;
	unsigned char out[64];
	size_t n;
	assert_int_equal(pop3_b64_decode(S("dGlt"), out, sizeof(out), &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pop3_b64_decode(S(""), out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);
	const char *bad[] = {"dGl", "dG l", "dGlt=", "d===", "dGlt\n", "!!!!"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pop3_b64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n), PV_EPROTO);
	assert_int_equal(pop3_b64_decode(S("dGltdGltdGlt"), out, 4, &n), PV_EPROTO);
}

/* sodium_base642bin takes any byte >= 0x80 for a digit: a server's
 * "QU\xc2B" challenge decoded to three bytes. The SASL decoder is the
 * strict one of archiver/lib/base64.h now. */
static void test_b64_decode_refuses_bytes_above_0x7f(void **state)
{
	(void)state;
	unsigned char out[64];
	size_t n = 0;
	assert_int_equal(pop3_b64_decode(S("QU\xc2" "B"), out, sizeof(out), &n), PV_EPROTO);
	assert_int_equal(pop3_b64_decode(S("\xff\xff\xff\xff"), out, sizeof(out), &n), PV_EPROTO);
	assert_int_equal(pop3_b64_decode(S("QUJD"), out, sizeof(out), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "ABC", 3);
}

/* RFC 7677 §3 example exchange. */
#define R7677_SERVER_FIRST "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
			   "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define R7677_CLIENT_FINAL "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
			   "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define R7677_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void test_scram_rfc7677_known_answer(void **state)
{
	(void)state;
	struct pop3_scram s;
	struct pv_buf out;
	pop3_scram_init(&s);
	pv_buf_init(&out, 4096);
	assert_int_equal(pop3_scram_client_first(&s, "user", "rOprNGfwEbeRWgbNEkqO", &out, NULL), 0);
	assert_string_equal(pv_buf_str(&out), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
	pv_buf_reset(&out);
	assert_int_equal(pop3_scram_client_final(&s, "pencil", S(R7677_SERVER_FIRST), &out, NULL), 0);
	assert_string_equal(pv_buf_str(&out), R7677_CLIENT_FINAL);
	assert_int_equal(pop3_scram_verify_server(&s, S(R7677_SERVER_FINAL), NULL), 0);
	pv_buf_free_secret(&out);
	pop3_scram_clear(&s);
}

static void test_scram_bad_server_signature_rejected(void **state)
{
	(void)state;
	struct pop3_scram s;
	struct pv_buf out;
	struct pv_error err;
	/* One changed character in v=, a truncated v=, an error, a missing v=. */
	const char *bad[] = {"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=",
			     "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95A==",
			     "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5n", "e=invalid-proof", "", "x=1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pop3_scram_init(&s);
		pv_buf_init(&out, 4096);
		assert_int_equal(pop3_scram_client_first(&s, "user", "rOprNGfwEbeRWgbNEkqO", &out, NULL), 0);
		assert_int_equal(pop3_scram_client_final(&s, "pencil", S(R7677_SERVER_FIRST), &out, NULL), 0);
		assert_int_equal(pop3_scram_verify_server(&s, bad[i], strlen(bad[i]), &err), PV_EAUTH);
		pv_buf_free_secret(&out);
		pop3_scram_clear(&s);
	}
	/* The right signature for another password fails too. */
	pop3_scram_init(&s);
	pv_buf_init(&out, 4096);
	assert_int_equal(pop3_scram_client_first(&s, "user", "rOprNGfwEbeRWgbNEkqO", &out, NULL), 0);
	assert_int_equal(pop3_scram_client_final(&s, "pencil2", S(R7677_SERVER_FIRST), &out, NULL), 0);
	assert_int_equal(pop3_scram_verify_server(&s, S(R7677_SERVER_FINAL), &err), PV_EAUTH);
	pv_buf_free_secret(&out);
	pop3_scram_clear(&s);
}

static void test_scram_server_first_checked(void **state)
{
	(void)state;
	const char *bad[] = {
		/* nonce does not extend ours */
		"r=XXprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		/* nonce equal to ours, not extended */
		"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		/* too few iterations, too many, not a number */
		"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",
		"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4000000000",
		"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
		/* mandatory extension, bad salt, wrong order, missing parts */
		"m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"r=rOprNGfwEbeRWgbNEkqOx,s=!!!,i=4096",
		"s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOx,i=4096",
		"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pop3_scram s;
		struct pv_buf out;
		struct pv_error err;
		pop3_scram_init(&s);
		pv_buf_init(&out, 4096);
		assert_int_equal(pop3_scram_client_first(&s, "user", "rOprNGfwEbeRWgbNEkqO", &out, NULL), 0);
		assert_int_equal(pop3_scram_client_final(&s, "pencil", bad[i], strlen(bad[i]), &out, &err),
				 PV_EPROTO);
		/* No signature to accept after a refused exchange. */
		assert_int_not_equal(pop3_scram_verify_server(&s, S(R7677_SERVER_FINAL), &err), 0);
		pv_buf_free_secret(&out);
		pop3_scram_clear(&s);
	}
}

static void test_scram_username_escaped_and_nonce_fresh(void **state)
{
	(void)state;
	struct pop3_scram s;
	struct pv_buf a, b;
	pop3_scram_init(&s);
	pv_buf_init(&a, 4096);
	pv_buf_init(&b, 4096);
	assert_int_equal(pop3_scram_client_first(&s, "a=b,c", NULL, &a, NULL), 0);
	assert_int_equal(strncmp(pv_buf_str(&a), "n,,n=a=3Db=2Cc,r=", 17), 0);
	assert_int_equal(a.len, 17 + 24);
	assert_int_equal(pop3_scram_client_first(&s, "a=b,c", NULL, &b, NULL), 0);
	assert_string_not_equal(pv_buf_str(&a), pv_buf_str(&b));
	pv_buf_free(&a);
	pv_buf_free(&b);
	pop3_scram_clear(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_line_codes_mapped),
		cmocka_unit_test(test_resp_code_malformed_stays_text),
		cmocka_unit_test(test_status_line_garbage_is_protocol_error),
		cmocka_unit_test(test_capa_garbage_tolerated),
		cmocka_unit_test(test_capa_expire_login_delay_sasl),
		cmocka_unit_test(test_capa_garbled_expire_counts_as_expire_0),
		cmocka_unit_test(test_list_line_range_checked),
		cmocka_unit_test(test_uidl_invalid_chars_rejected),
		cmocka_unit_test(test_greeting_timestamp),
		cmocka_unit_test(test_retr_dot_unstuffing),
		cmocka_unit_test(test_retr_bare_lf_kept_exact),
		cmocka_unit_test(test_dot_bare_lf_dot_is_data_in_crlf_reply),
		cmocka_unit_test(test_dot_terminator_only_at_line_start),
		cmocka_unit_test(test_dot_emit_failure_stops),
		cmocka_unit_test(test_cram_md5_known_answer),
		cmocka_unit_test(test_apop_known_answer),
		cmocka_unit_test(test_plain_and_oauth_encodings),
		cmocka_unit_test(test_b64_decode_strict),
		cmocka_unit_test(test_b64_decode_refuses_bytes_above_0x7f),
		cmocka_unit_test(test_scram_rfc7677_known_answer),
		cmocka_unit_test(test_scram_bad_server_signature_rejected),
		cmocka_unit_test(test_scram_server_first_checked),
		cmocka_unit_test(test_scram_username_escaped_and_nonce_fresh),
	};
	return cmocka_run_group_tests_name("pop3_parse", tests, NULL, NULL);
}
