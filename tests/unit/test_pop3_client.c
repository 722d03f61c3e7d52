/* Unit tests for the POP3 client against a scripted peer (a thread playing
 * a transcript on a socketpair): each test names the bug it guards. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/clock.h"
#include "archiver/pop3/pop3.h"
#include "archiver/pop3/sasl.h"
#include "tests/unit/scripted_peer.h"

/* ---- harness ---- */

struct transcript {
	struct pv_buf text;
};

static void record(void *ctx, enum pop3_transcript_dir dir, const char *line, size_t len)
{
	struct transcript *t = ctx;
	static const char *tag[] = {"C: ", "S: ", "*: "};
	pv_buf_append_str(&t->text, tag[dir], NULL);
	pv_buf_append(&t->text, line, len, NULL);
	pv_buf_append(&t->text, "\n", 1, NULL);
}

struct fixture {
	struct sp_peer *peer;
	struct pop3_client *c;
	struct pv_error err;
	struct transcript t;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	pv_buf_init(&f->t.text, 1 << 20);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pop3_client_free(&f->c);
	if (f->peer != NULL) {
		char msg[512];
		sp_finish(&f->peer, msg, sizeof(msg));
	}
	pv_buf_free(&f->t.text);
	free(f);
	return 0;
}

static int start(struct fixture *f, const struct sp_step *script, enum pop3_tls_mode tls)
{
	int fd;
	struct pop3_config cfg = {.host = "pop.test", .tls = tls, .io_timeout_ms = 5000,
				  .transcript = record, .transcript_ctx = &f->t};
	f->peer = sp_start(script, &fd);
	assert_non_null(f->peer);
	pv_error_clear(&f->err);
	return pop3_connect_fd(fd, &cfg, &f->c, &f->err);
}

static void peer_ok(struct fixture *f)
{
	char msg[512];
	pop3_client_free(&f->c); /* the peer may wait for EOF */
	if (sp_finish(&f->peer, msg, sizeof(msg)) != 0)
		fail_msg("scripted peer: %s", msg);
}

static int login_user(struct fixture *f)
{
	struct pop3_auth a = {POP3_AUTH_USER, "alice", "secret", NULL};
	return pop3_login(f->c, &a, &f->err);
}

#define GREET SP_SEND("+OK POP3 ready\r\n"), SP_EXPECT("CAPA\r\n")
#define CAPA_PIPE SP_SEND("+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\nRESP-CODES\r\n.\r\n")
#define CAPA_NOPIPE SP_SEND("+OK\r\nUSER\r\nUIDL\r\n.\r\n")
#define USERPASS SP_EXPECT("USER alice\r\n"), SP_SEND("+OK\r\n"), \
	SP_EXPECT("PASS secret\r\n"), SP_SEND("+OK logged in\r\n")
#define LOGIN_PIPE GREET, CAPA_PIPE, USERPASS, SP_EXPECT("CAPA\r\n"), CAPA_PIPE
#define LOGIN_NOPIPE GREET, CAPA_NOPIPE, USERPASS, SP_EXPECT("CAPA\r\n"), CAPA_NOPIPE

/* Collects a message's bytes; records the largest chunk. */
struct sink {
	struct pv_buf data;
	size_t max_chunk;
	int fail_at_call;
	int calls;
};

static int sink_fn(void *ctx, const unsigned char *d, size_t n)
{
	struct sink *s = ctx;
	if (s->fail_at_call > 0 && ++s->calls >= s->fail_at_call)
		return PV_ERR;
	if (n > s->max_chunk)
		s->max_chunk = n;
	return pv_buf_append(&s->data, d, n, NULL);
}

static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	pv_buf_init(&s->data, 64u << 20);
}

/* ---- session basics ---- */

static void test_login_list_uidl_quit(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		LOGIN_PIPE,
		SP_EXPECT("STAT\r\n"), SP_SEND("+OK 2 320\r\n"),
		SP_EXPECT("LIST\r\n"), SP_SEND("+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"),
		SP_EXPECT("UIDL\r\n"), SP_SEND("+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n"),
		SP_EXPECT("LIST 2\r\n"), SP_SEND("+OK 2 200\r\n"),
		SP_EXPECT("UIDL 1\r\n"), SP_SEND("+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n"),
		SP_EXPECT("NOOP\r\n"), SP_SEND("+OK\r\n"),
		SP_EXPECT("RSET\r\n"), SP_SEND("+OK\r\n"),
		SP_EXPECT("QUIT\r\n"), SP_SEND("+OK bye\r\n"),
		SP_EXPECT_EOF, SP_END};
	uint32_t count;
	uint64_t octets, size;
	char uidl[PV_POP3_UIDL_MAX + 1];
	struct pop3_mailbox *mb = NULL;

	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_auth_used(f->c), POP3_AUTH_USER);
	assert_int_equal(pop3_stat(f->c, &count, &octets, &f->err), 0);
	assert_int_equal(count, 2);
	assert_int_equal(octets, 320);
	assert_int_equal(pop3_scan(f->c, &mb, &f->err), 0);
	assert_int_equal(mb->count, 2);
	assert_true(mb->uidl_ok);
	assert_int_equal(mb->uidl_dups, 0);
	assert_int_equal(mb->msgs[1].num, 2);
	assert_int_equal(mb->msgs[1].size, 200);
	assert_string_equal(mb->msgs[1].uidl, "QhdPYR:00WBw1Ph7x7");
	pop3_mailbox_free(&mb);
	assert_null(mb);
	assert_int_equal(pop3_list_one(f->c, 2, &size, &f->err), 0);
	assert_int_equal(size, 200);
	assert_int_equal(pop3_uidl_one(f->c, 1, uidl, &f->err), 0);
	assert_string_equal(uidl, "whqtswO00WBw418f9t5JxYwZ");
	assert_int_equal(pop3_noop(f->c, &f->err), 0);
	assert_int_equal(pop3_rset(f->c, &f->err), 0);
	assert_int_equal(pop3_quit(f->c, &f->err), 0);
	assert_false(pop3_alive(f->c));
	peer_ok(f);
}

static void test_transcript_never_records_secrets(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		LOGIN_PIPE,
		SP_EXPECT("QUIT\r\n"), SP_SEND("+OK\r\n"), SP_EXPECT_EOF, SP_END};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_quit(f->c, &f->err), 0);
	const char *t = pv_buf_str(&f->t.text);
	assert_non_null(strstr(t, "C: USER alice\n"));
	assert_non_null(strstr(t, "C: PASS <redacted>\n"));
	assert_non_null(strstr(t, "S: +OK logged in\n"));
	assert_null(strstr(t, "secret"));
	peer_ok(f);
}

static void test_drop_sends_no_quit(void **state)
{
	struct fixture *f = *state;
	/* After a local failure the harvester drops: no QUIT may reach the
	 * server, or its DELEs (and EXPIRE 0 expiry) would be committed. */
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("DELE 1\r\n"), SP_SEND("+OK\r\n"),
					 SP_EXPECT_EOF, SP_END};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_dele(f->c, 1, &f->err), 0);
	pop3_drop(f->c);
	assert_false(pop3_alive(f->c));
	assert_int_equal(pop3_noop(f->c, &f->err), PV_EPROTO);
	peer_ok(f);
}

static void test_quit_unanswered_is_not_a_commit(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("QUIT\r\n"), SP_END};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_quit(f->c, &f->err), PV_EPROTO);
	assert_non_null(strstr(f->err.msg, "unknown"));
	peer_ok(f);
}

static void test_quit_err_is_not_a_commit(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("QUIT\r\n"),
					 SP_SEND("-ERR [SYS/TEMP] some deleted messages not removed\r\n"),
					 SP_END};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_quit(f->c, &f->err), PV_ETEMP);
	assert_false(pop3_alive(f->c));
	peer_ok(f);
}

static void test_greeting_err_is_mapped(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {SP_SEND("-ERR [SYS/TEMP] too busy\r\n"), SP_EXPECT_EOF, SP_END};
	assert_int_equal(start(f, script, POP3_TLS_NONE), PV_ETEMP);
	assert_null(f->c);
	assert_non_null(strstr(f->err.msg, "too busy"));
	peer_ok(f);
}

static void test_status_line_too_long(void **state)
{
	struct fixture *f = *state;
	static char greeting[700];
	memset(greeting, 'x', sizeof(greeting));
	memcpy(greeting, "+OK ", 4);
	memcpy(greeting + sizeof(greeting) - 2, "\r\n", 2);
	/* 510 bytes + CRLF is the RFC 2449 maximum: accepted. */
	static char max_ok[512];
	memset(max_ok, 'y', sizeof(max_ok));
	memcpy(max_ok, "+OK ", 4);
	memcpy(max_ok + sizeof(max_ok) - 2, "\r\n", 2);
	const struct sp_step too_long[] = {{SP_OP_SEND, greeting, sizeof(greeting), NULL, NULL},
					   SP_EXPECT_EOF, SP_END};
	const struct sp_step just_ok[] = {{SP_OP_SEND, max_ok, sizeof(max_ok), NULL, NULL},
					  SP_EXPECT("CAPA\r\n"), CAPA_PIPE, SP_END};
	assert_int_equal(start(f, too_long, POP3_TLS_NONE), PV_ELIMIT);
	peer_ok(f);
	assert_int_equal(start(f, just_ok, POP3_TLS_NONE), 0);
	peer_ok(f);
}

static void test_garbage_status_line_kills_session(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("NOOP\r\n"), SP_SEND("* OK IMAP4rev1\r\n"),
					 SP_EXPECT_EOF, SP_END};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_noop(f->c, &f->err), PV_EPROTO);
	assert_false(pop3_alive(f->c));
	peer_ok(f);
}

static void test_command_injection_refused(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {GREET, CAPA_PIPE, SP_EXPECT_EOF, SP_END};
	struct pop3_auth a = {POP3_AUTH_USER, "alice\r\nDELE 1", "secret", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &a, &f->err), PV_EUSAGE);
	struct pop3_auth b = {POP3_AUTH_USER, "alice", "pw\nDELE 1", NULL};
	assert_int_equal(pop3_login(f->c, &b, &f->err), PV_EUSAGE);
	peer_ok(f);
}

/* ---- CAPA ---- */

static void test_capa_garbage_tolerated(void **state)
{
	struct fixture *f = *state;
	/* What GNU Mailutils pop3d 3.15 was seen to send. */
	const struct sp_step script[] = {
		GREET, SP_SEND("+OK Capability list follows\r\nTOP\r\nUSER\r\nUIDL\r\nRESP-CODES\r\n"
			       "PIPELINING\r\nEXPIRE0\r\n5\r\n\x01\x02\r\n.\r\n"),
		USERPASS, SP_EXPECT("CAPA\r\n"),
		SP_SEND("+OK\r\nUSER\r\nEXPIRE 0\r\nLOGIN-DELAY 5\r\n.\r\n"),
		SP_EXPECT("QUIT\r\n"), SP_SEND("+OK\r\n"), SP_END};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	const struct pop3_caps *caps = pop3_caps(f->c);
	assert_true(caps->capa_ok);
	assert_true(caps->pipelining);
	assert_true(caps->expire);
	assert_int_equal(caps->expire_days, 0);
	assert_int_equal(login_user(f), 0);
	/* After login: the per-user values. */
	caps = pop3_caps(f->c);
	assert_true(caps->expire && !caps->expire_malformed && caps->expire_days == 0);
	assert_true(caps->login_delay);
	assert_int_equal(caps->login_delay_s, 5);
	assert_int_equal(pop3_quit(f->c, &f->err), 0);
	peer_ok(f);
}

static void test_capa_refused_assumes_rfc1939(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		GREET, SP_SEND("-ERR unknown command\r\n"), USERPASS, SP_EXPECT("CAPA\r\n"),
		SP_SEND("-ERR unknown command\r\n"), SP_EXPECT("LIST\r\n"),
		SP_SEND("+OK\r\n1 10\r\n.\r\n"), SP_EXPECT("UIDL\r\n"),
		SP_SEND("-ERR unknown command\r\n"), SP_EXPECT("RETR 1\r\n"),
		SP_SEND("+OK\r\nhi\r\n.\r\n"), SP_EXPECT("RETR 1\r\n"),
		SP_SEND("+OK\r\nhi\r\n.\r\n"), SP_END};
	struct pop3_mailbox *mb = NULL;
	struct sink s;
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_false(pop3_caps(f->c)->capa_ok);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_scan(f->c, &mb, &f->err), 0);
	assert_false(mb->uidl_ok);
	assert_false(mb->msgs[0].has_uidl);
	pop3_mailbox_free(&mb);
	sink_init(&s);
	assert_int_equal(pop3_retr(f->c, 1, 0, sink_fn, &s, NULL, &f->err), 0);
	assert_int_equal(pop3_retr(f->c, 1, 0, sink_fn, &s, NULL, &f->err), 0);
	assert_string_equal(pv_buf_str(&s.data), "hi\r\nhi\r\n");
	pv_buf_free(&s.data);
	peer_ok(f);
}

/* ---- listings ---- */

static void test_uidl_duplicates_reported(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("LIST\r\n"),
		SP_SEND("+OK\r\n1 10\r\n2 20\r\n3 30\r\n4 40\r\n5 50\r\n.\r\n"),
		SP_EXPECT("UIDL\r\n"),
		SP_SEND("+OK\r\n1 same\r\n2 other\r\n3 same\r\n4 x\r\n5 same\r\n.\r\n"), SP_END};
	struct pop3_mailbox *mb = NULL;
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_scan(f->c, &mb, &f->err), 0);
	/* Every message is still listed; none is hidden. */
	assert_int_equal(mb->count, 5);
	assert_int_equal(mb->uidl_dups, 3);
	assert_true(mb->msgs[0].uidl_dup && mb->msgs[2].uidl_dup && mb->msgs[4].uidl_dup);
	assert_false(mb->msgs[1].uidl_dup || mb->msgs[3].uidl_dup);
	assert_string_equal(mb->msgs[4].uidl, "same");
	pop3_mailbox_free(&mb);
	peer_ok(f);
}

static void test_uidl_invalid_chars_rejected_session_usable(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("LIST\r\n"), SP_SEND("+OK\r\n1 10\r\n2 20\r\n.\r\n"),
		SP_EXPECT("UIDL\r\n"), SP_SEND("+OK\r\n1 good\r\n2 has space\r\n.\r\n"),
		SP_EXPECT("NOOP\r\n"), SP_SEND("+OK\r\n"), SP_END};
	struct pop3_mailbox *mb = NULL;
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_scan(f->c, &mb, &f->err), PV_EPROTO);
	assert_null(mb);
	assert_non_null(strstr(f->err.msg, "has space"));
	/* The listing was read to its end: the session goes on in step. */
	assert_true(pop3_alive(f->c));
	assert_int_equal(pop3_noop(f->c, &f->err), 0);
	peer_ok(f);
}

static void test_listing_inconsistencies_rejected(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		LOGIN_PIPE,
		/* a message number twice in LIST */
		SP_EXPECT("LIST\r\n"), SP_SEND("+OK\r\n1 10\r\n1 20\r\n.\r\n"),
		/* a UIDL for a message LIST did not show */
		SP_EXPECT("LIST\r\n"), SP_SEND("+OK\r\n1 10\r\n.\r\n"),
		SP_EXPECT("UIDL\r\n"), SP_SEND("+OK\r\n1 a\r\n9 b\r\n.\r\n"),
		/* a malformed LIST line, with the dot-stuffed terminator-like
		 * line ".." that is data, not the end */
		SP_EXPECT("LIST\r\n"), SP_SEND("+OK\r\n1 ten\r\n..\r\n.\r\n"),
		SP_EXPECT("NOOP\r\n"), SP_SEND("+OK\r\n"), SP_END};
	struct pop3_mailbox *mb = NULL;
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_scan(f->c, &mb, &f->err), PV_EPROTO);
	assert_int_equal(pop3_scan(f->c, &mb, &f->err), PV_EPROTO);
	assert_int_equal(pop3_list_all(f->c, &mb, &f->err), PV_EPROTO);
	assert_null(mb);
	assert_int_equal(pop3_noop(f->c, &f->err), 0);
	peer_ok(f);
}

/* ---- response codes ---- */

static void test_in_use_is_temporary(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		GREET, CAPA_PIPE, SP_EXPECT("USER alice\r\n"), SP_SEND("+OK\r\n"),
		SP_EXPECT("PASS secret\r\n"),
		SP_SEND("-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n"), SP_END};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), PV_ETEMP);
	assert_non_null(strstr(f->err.msg, "locked"));
	peer_ok(f);
}

static void test_login_delay_is_temporary(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		GREET, CAPA_PIPE, SP_EXPECT("USER alice\r\n"), SP_SEND("+OK\r\n"),
		SP_EXPECT("PASS secret\r\n"), SP_SEND("-ERR [LOGIN-DELAY] wait\r\n"), SP_END};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), PV_ETEMP);
	peer_ok(f);
}

static void test_auth_code_is_auth_error(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		GREET, CAPA_PIPE, SP_EXPECT("USER alice\r\n"), SP_SEND("+OK\r\n"),
		SP_EXPECT("PASS secret\r\n"), SP_SEND("-ERR [AUTH] Authentication failed.\r\n"),
		SP_EXPECT("USER alice\r\n"), SP_SEND("+OK\r\n"),
		SP_EXPECT("PASS secret\r\n"), SP_SEND("-ERR invalid password\r\n"),
		SP_EXPECT("USER alice\r\n"), SP_SEND("-ERR [SYS/PERM] account disabled\r\n"), SP_END};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), PV_EAUTH);
	/* Without [AUTH] (RFC 3206 §4) a refusal is not proof of bad
	 * credentials: plain PV_ERR with the server's words. */
	assert_int_equal(login_user(f), PV_ERR);
	assert_non_null(strstr(f->err.msg, "invalid password"));
	assert_int_equal(login_user(f), PV_EPERM);
	assert_true(pop3_alive(f->c));
	peer_ok(f);
}

/* ---- RETR ---- */

static void test_retr_dot_unstuffing(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"),
		SP_SEND("+OK 43 octets\r\nSubject: a\r\n\r\n..dot\r\n...\r\n.\r\n"),
		SP_EXPECT("NOOP\r\n"), SP_SEND("+OK\r\n"), SP_END};
	struct sink s;
	struct pop3_retr_result res;
	sink_init(&s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_retr(f->c, 1, 1000, sink_fn, &s, &res, &f->err), 0);
	assert_true(res.complete);
	assert_int_equal(res.status, 0);
	assert_string_equal(pv_buf_str(&s.data), "Subject: a\r\n\r\n.dot\r\n..\r\n");
	assert_int_equal(res.bytes, s.data.len);
	assert_true(res.size_announced);
	assert_int_equal(res.announced_size, 43);
	assert_int_equal(pop3_noop(f->c, &f->err), 0);
	assert_non_null(strstr(pv_buf_str(&f->t.text), "bytes, complete>"));
	pv_buf_free(&s.data);
	peer_ok(f);
}

static void test_retr_bare_lf_kept_exact(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"),
		SP_SEND("+OK\nSubject: old\n\nbody\r\nmixed\n..x\n.\n"),
		SP_EXPECT("NOOP\r\n"), SP_SEND("+OK\n"), SP_END};
	struct sink s;
	sink_init(&s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	struct pop3_retr_result res;
	assert_int_equal(pop3_retr(f->c, 1, 1000, sink_fn, &s, &res, &f->err), 0);
	assert_string_equal(pv_buf_str(&s.data), "Subject: old\n\nbody\r\nmixed\n.x\n");
	/* Sizes count line ends as CRLF (RFC 1939 §11), as LIST does. */
	assert_int_equal(res.crlf_bytes, res.bytes + 4);
	assert_int_equal(pop3_noop(f->c, &f->err), 0);
	pv_buf_free(&s.data);
	peer_ok(f);
}

/* Issue 16, finding 8: a sender's "\n.\n" inside a message from a CRLF
 * server is data; taken for the end, it cut the message and its tail was
 * read as the replies that follow (here a forged "+OK" to NOOP). */
static void test_retr_crlf_reply_bare_lf_dot_is_not_the_end(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"),
		SP_SEND("+OK 28 octets\r\nhello\n.\n+OK forged\r\nrest\r\n.\r\n"),
		SP_EXPECT("NOOP\r\n"), SP_SEND("+OK real\r\n"), SP_END};
	struct sink s;
	struct pop3_retr_result res;
	sink_init(&s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_retr(f->c, 1, 1000, sink_fn, &s, &res, &f->err), 0);
	assert_true(res.complete);
	assert_string_equal(pv_buf_str(&s.data), "hello\n.\n+OK forged\r\nrest\r\n");
	assert_int_equal(res.bytes, 26);
	assert_int_equal(res.crlf_bytes, 28); /* two bare LFs counted as CRLF */
	assert_int_equal(pop3_noop(f->c, &f->err), 0);
	assert_non_null(strstr(pv_buf_str(&f->t.text), "S: +OK real"));
	pv_buf_free(&s.data);
	peer_ok(f);
}

static void test_retr_reply_cut_mid_line(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"),
					 SP_SEND("+OK\r\nSubject: a\r\n\r\npart of a li"), SP_END};
	struct sink s;
	struct pop3_retr_result res;
	sink_init(&s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_retr(f->c, 1, 1000, sink_fn, &s, &res, &f->err), PV_EPROTO);
	assert_false(res.complete);
	assert_int_equal(res.status, PV_EPROTO);
	assert_int_equal(res.bytes, s.data.len);
	assert_non_null(strstr(f->err.msg, "INCOMPLETE"));
	assert_non_null(strstr(f->err.msg, "mid-line"));
	assert_false(pop3_alive(f->c));
	assert_int_equal(pop3_noop(f->c, &f->err), PV_EPROTO);
	pv_buf_free(&s.data);
	peer_ok(f);
}

static void test_retr_missing_terminator(void **state)
{
	struct fixture *f = *state;
	/* Whole lines, then the connection ends: a message that merely looks
	 * complete must still be flagged incomplete. */
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"),
					 SP_SEND("+OK\r\nSubject: a\r\n\r\nbody\r\n"), SP_END};
	struct sink s;
	struct pop3_retr_result res;
	sink_init(&s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_retr(f->c, 1, 1000, sink_fn, &s, &res, &f->err), PV_EPROTO);
	assert_false(res.complete);
	assert_non_null(strstr(f->err.msg, "at a line end"));
	assert_false(pop3_alive(f->c));
	pv_buf_free(&s.data);
	peer_ok(f);
}

static void test_retr_over_cap_drops_connection(void **state)
{
	struct fixture *f = *state;
	/* Over the cap: PV_ELIMIT, the sink never gets more than the cap, and
	 * the connection is dropped at once (no QUIT) instead of reading the
	 * rest (issue 16, finding 4): the message stays upstream, and a
	 * session that retrieved it never QUITs (finding 3). */
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"),
		SP_SEND("+OK\r\n0123456789\r\n0123456789\r\n0123456789\r\n.\r\n"),
		SP_EXPECT_EOF, SP_END};
	struct sink s;
	struct pop3_retr_result res;
	sink_init(&s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_retr(f->c, 1, 20, sink_fn, &s, &res, &f->err), PV_ELIMIT);
	assert_false(res.complete);
	assert_int_equal(res.status, PV_ELIMIT);
	assert_true(s.data.len <= 20);
	assert_non_null(strstr(f->err.msg, "connection dropped"));
	assert_false(pop3_alive(f->c));
	pv_buf_free(&s.data);
	peer_ok(f);
}

/* A peer that streams body bytes until the client hangs up; counts them. */
struct endless {
	size_t chunk;        /* bytes per write */
	int interval_ms;     /* pause between writes */
	uint64_t sent;
	bool terminate_after; /* after max_writes, send the terminator */
	size_t max_writes;
};

static int send_endless(struct sp_peer *p, void *arg)
{
	struct endless *e = arg;
	char buf[65536];
	memset(buf, 'x', sizeof(buf)); /* one long line: body lines have no limit */
	if (sp_write(p, "+OK\r\n", 5) < 0)
		return 0;
	for (size_t n = 0; e->max_writes == 0 || n < e->max_writes; n++) {
		if (e->interval_ms > 0) {
			struct timespec ts = {e->interval_ms / 1000, (e->interval_ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
		if (sp_write(p, buf, e->chunk) < 0)
			return 0; /* the client hung up: what we want */
		e->sent += e->chunk;
	}
	if (e->terminate_after)
		(void)sp_write(p, "\r\n.\r\n", 5);
	return 0;
}

static void test_retr_endless_over_cap_not_drained(void **state)
{
	struct fixture *f = *state;
	/* Issue 16, finding 4: an over-cap message was read and thrown away
	 * for up to 1 GiB. Now the client hangs up at the cap. */
	struct endless e = {.chunk = 65536, .max_writes = 20000}; /* 1.3 GB if drained */
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"),
					 SP_CALL(send_endless, &e), SP_END};
	struct sink s;
	struct pop3_retr_result res;
	sink_init(&s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	int64_t t0 = pv_clock_monotonic_ms();
	assert_int_equal(pop3_retr(f->c, 1, 100000, sink_fn, &s, &res, &f->err), PV_ELIMIT);
	assert_true(s.data.len <= 100000);
	assert_false(pop3_alive(f->c));
	peer_ok(f);
	print_message("# peer wrote %llu bytes before the client hung up, in %lld ms\n",
		      (unsigned long long)e.sent, (long long)(pv_clock_monotonic_ms() - t0));
	/* What the socket buffers held when the client hung up, no more. */
	assert_true(e.sent < 16u * 1024 * 1024);
	pv_buf_free(&s.data);
}

/* One byte every interval_ms, forever, as message body: each byte comes
 * before the read timeout, so only a minimum rate ends it. */
static void test_trickling_server_cut_by_min_rate(void **state)
{
	struct fixture *f = *state;
	/* Issue 16, finding 4: "one byte every 119 s" held a worker forever
	 * (every byte restarted the read timeout). The window is the read
	 * timeout (1 s here); the default minimum rate (PV_POP3_MIN_RATE_BPS)
	 * wants far more than 1 byte in it. */
	struct endless e = {.chunk = 1, .interval_ms = 300, .max_writes = 40, .terminate_after = true};
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"),
					 SP_CALL(send_endless, &e), SP_END};
	int fd;
	struct pop3_config cfg = {.host = "pop.test", .tls = POP3_TLS_NONE, .io_timeout_ms = 1000};
	struct sink s;
	struct pop3_retr_result res;
	sink_init(&s);
	f->peer = sp_start(script, &fd);
	assert_non_null(f->peer);
	assert_int_equal(pop3_connect_fd(fd, &cfg, &f->c, &f->err), 0);
	assert_int_equal(login_user(f), 0);
	int64_t t0 = pv_clock_monotonic_ms();
	int r = pop3_retr(f->c, 1, 0, sink_fn, &s, &res, &f->err);
	int64_t ms = pv_clock_monotonic_ms() - t0;
	print_message("# %s (after %lld ms)\n", f->err.msg, (long long)ms);
	assert_int_equal(r, PV_ETEMP);
	assert_non_null(strstr(f->err.msg, "too slow"));
	assert_false(res.complete);
	assert_false(pop3_alive(f->c));
	assert_true(ms < 3000);
	pv_buf_free(&s.data);
	peer_ok(f);
}

/* Fast enough for the rate, but never done: the session deadline ends it. */
static void test_session_deadline_ends_endless_reply(void **state)
{
	struct fixture *f = *state;
	struct endless e = {.chunk = 8000, .interval_ms = 100, .max_writes = 100};
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"),
					 SP_CALL(send_endless, &e), SP_END};
	int fd;
	struct pop3_config cfg = {.host = "pop.test", .tls = POP3_TLS_NONE, .io_timeout_ms = 1000,
				  .session_timeout_ms = 1500};
	struct sink s;
	struct pop3_retr_result res;
	sink_init(&s);
	f->peer = sp_start(script, &fd);
	assert_non_null(f->peer);
	int64_t t0 = pv_clock_monotonic_ms();
	assert_int_equal(pop3_connect_fd(fd, &cfg, &f->c, &f->err), 0);
	assert_int_equal(login_user(f), 0);
	int r = pop3_retr(f->c, 1, 0, sink_fn, &s, &res, &f->err);
	int64_t ms = pv_clock_monotonic_ms() - t0;
	print_message("# %s (after %lld ms)\n", f->err.msg, (long long)ms);
	assert_int_equal(r, PV_ETEMP);
	assert_non_null(strstr(f->err.msg, "time limit"));
	assert_true(pop3_out_of_time(f->c));
	assert_false(pop3_alive(f->c));
	assert_true(ms >= 1400 && ms < 3000);
	pv_buf_free(&s.data);
	peer_ok(f);
}

/* LIST and UIDL of a hostile size. */
struct listing {
	const char *cmd;  /* "LIST" or "UIDL" */
	size_t entries;
	bool same_number; /* every line names message 1 */
};

static int send_listing(struct sp_peer *p, void *arg)
{
	struct listing *l = arg;
	char buf[65536];
	size_t used = 0;
	if (sp_write(p, "+OK\r\n", 5) < 0)
		return 0;
	for (size_t i = 1; i <= l->entries; i++) {
		if (used > sizeof(buf) - 64) {
			if (sp_write(p, buf, used) < 0)
				return 0; /* the client hung up */
			used = 0;
		}
		size_t k = l->same_number ? 1 : i;
		used += (size_t)snprintf(buf + used, sizeof(buf) - used,
					 strcmp(l->cmd, "LIST") == 0 ? "%zu 100\r\n" : "%zu u%zu\r\n",
					 k, i);
	}
	memcpy(buf + used, ".\r\n", 3);
	(void)sp_write(p, buf, used + 3);
	return 0;
}

static void test_list_over_cap_refused_with_clear_error(void **state)
{
	struct fixture *f = *state;
	/* Issue 16, finding 4: LIST accepted up to 10 million entries (about
	 * 2 GB with the harvest's arrays). One more than the cap is refused,
	 * the connection dropped (nothing was fetched, nothing is lost). */
	struct listing l = {"LIST", PV_POP3_MAILBOX_MAX_MESSAGES + 1u, false};
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("LIST\r\n"), SP_CALL(send_listing, &l),
					 SP_END};
	struct pop3_mailbox *mb = NULL;
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_list_all(f->c, &mb, &f->err), PV_ELIMIT);
	print_message("# %s\n", f->err.msg);
	assert_null(mb);
	assert_non_null(strstr(f->err.msg, "more than"));
	assert_false(pop3_alive(f->c));
	peer_ok(f);
}

static void test_uidl_longer_than_list_stops_reading(void **state)
{
	struct fixture *f = *state;
	/* A UIDL listing that never ends (every line names message 1) is not
	 * read to its end: it cannot be longer than LIST. */
	struct listing l = {"UIDL", 5000000, true};
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("LIST\r\n"),
					 SP_SEND("+OK\r\n1 10\r\n2 20\r\n.\r\n"),
					 SP_EXPECT("UIDL\r\n"), SP_CALL(send_listing, &l), SP_END};
	struct pop3_mailbox *mb = NULL;
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_scan(f->c, &mb, &f->err), PV_EPROTO);
	print_message("# %s\n", f->err.msg);
	assert_non_null(strstr(f->err.msg, "more lines than LIST"));
	assert_false(pop3_alive(f->c));
	peer_ok(f);
}

static void test_retr_exactly_at_cap_is_complete(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"),
					 SP_SEND("+OK\r\n12345678\r\n.\r\n"), SP_END};
	struct sink s;
	struct pop3_retr_result res;
	sink_init(&s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_retr(f->c, 1, 10, sink_fn, &s, &res, &f->err), 0);
	assert_true(res.complete);
	assert_int_equal(res.bytes, 10);
	pv_buf_free(&s.data);
	peer_ok(f);
}

static void test_retr_err_leaves_session_usable(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("RETR 9\r\n"),
					 SP_SEND("-ERR no such message\r\n"), SP_EXPECT("NOOP\r\n"),
					 SP_SEND("+OK\r\n"), SP_END};
	struct sink s;
	struct pop3_retr_result res;
	sink_init(&s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_retr(f->c, 9, 10, sink_fn, &s, &res, &f->err), PV_ERR);
	assert_false(res.complete);
	assert_int_equal(s.data.len, 0);
	assert_int_equal(pop3_noop(f->c, &f->err), 0);
	pv_buf_free(&s.data);
	peer_ok(f);
}

static void test_retr_sink_failure_drops_connection(void **state)
{
	struct fixture *f = *state;
	/* A local write failure mid-message: the reply is half read, so the
	 * connection cannot go on; it is dropped without QUIT. */
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"),
					 SP_SEND("+OK\r\nline\r\n"), SP_EXPECT_EOF, SP_END};
	struct sink s;
	struct pop3_retr_result res;
	sink_init(&s);
	s.fail_at_call = 1;
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_retr(f->c, 1, 100, sink_fn, &s, &res, &f->err), PV_ERR);
	assert_false(res.complete);
	assert_false(pop3_alive(f->c));
	pv_buf_free(&s.data);
	peer_ok(f);
}

struct big {
	size_t lines;
};

static int send_big(struct sp_peer *p, void *arg)
{
	struct big *b = arg;
	char line[1000];
	memset(line, 'a', sizeof(line));
	line[0] = '.'; /* every line stuffed */
	line[1] = '.';
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	if (sp_write(p, "+OK\r\n", 5) < 0)
		return -1;
	for (size_t i = 0; i < b->lines; i++)
		if (sp_write(p, line, sizeof(line)) < 0)
			return -1;
	return sp_write(p, ".\r\n", 3);
}

static void test_retr_streams_in_fixed_chunks(void **state)
{
	struct fixture *f = *state;
	struct big b = {5000}; /* ~5 MB */
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"), SP_CALL(send_big, &b),
					 SP_END};
	struct sink s;
	struct pop3_retr_result res;
	sink_init(&s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_retr(f->c, 1, 0, sink_fn, &s, &res, &f->err), 0);
	assert_true(res.complete);
	assert_int_equal(res.bytes, b.lines * 999);
	/* Bytes come through the fixed read buffer, never a whole message. */
	assert_true(s.max_chunk <= PV_POP3_READ_BUF);
	for (size_t i = 0; i < b.lines; i++)
		assert_int_equal(s.data.data[i * 999], '.');
	pv_buf_free(&s.data);
	peer_ok(f);
}

/* ---- pipelining ---- */

struct batch {
	struct pv_buf log;
	struct sink s;
	int abort_on_done;
};

static int b_begin(void *ctx, uint32_t n, const struct pop3_retr_result *res)
{
	struct batch *b = ctx;
	(void)res;
	return pv_buf_printf(&b->log, NULL, "begin %u;", n);
}

static int b_data(void *ctx, uint32_t n, const unsigned char *d, size_t len)
{
	struct batch *b = ctx;
	(void)n;
	return sink_fn(&b->s, d, len);
}

static int b_done(void *ctx, const struct pop3_retr_result *res, const struct pv_error *err)
{
	struct batch *b = ctx;
	pv_buf_printf(&b->log, NULL, "done %u %d %s;", res->msgnum, res->status,
		      res->complete ? "complete" : "incomplete");
	assert_true(res->complete == (err == NULL));
	return b->abort_on_done;
}

static void test_retr_many_pipelined(void **state)
{
	struct fixture *f = *state;
	/* With PIPELINING, all three RETRs are sent before any reply. */
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"), SP_EXPECT("RETR 2\r\n"), SP_EXPECT("RETR 3\r\n"),
		SP_SEND("+OK\r\none\r\n.\r\n-ERR [SYS/TEMP] busy\r\n+OK\r\nthree\r\n.\r\n"),
		SP_EXPECT("NOOP\r\n"), SP_SEND("+OK\r\n"), SP_END};
	struct batch b = {0};
	struct pop3_retr_handler h = {b_begin, b_data, b_done, &b};
	uint32_t nums[] = {1, 2, 3};
	pv_buf_init(&b.log, 4096);
	sink_init(&b.s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_retr_many(f->c, nums, 3, 100, &h, &f->err), 0);
	assert_string_equal(pv_buf_str(&b.log),
			    "begin 1;done 1 0 complete;done 2 -4 incomplete;begin 3;done 3 0 complete;");
	assert_string_equal(pv_buf_str(&b.s.data), "one\r\nthree\r\n");
	assert_int_equal(pop3_noop(f->c, &f->err), 0);
	pv_buf_free(&b.log);
	pv_buf_free(&b.s.data);
	peer_ok(f);
}

static int nothing_pending(struct sp_peer *p, void *arg)
{
	char c;
	(void)arg;
	/* A client that does not pipeline has sent nothing more yet. */
	ssize_t r = recv(sp_fd(p), &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return sp_fail(p, "client sent a command before the previous reply");
}

static void test_retr_many_without_pipelining_waits(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		LOGIN_NOPIPE, SP_EXPECT("RETR 1\r\n"), SP_CALL(nothing_pending, NULL),
		SP_SEND("+OK\r\none\r\n.\r\n"), SP_EXPECT("RETR 2\r\n"), SP_CALL(nothing_pending, NULL),
		SP_SEND("+OK\r\ntwo\r\n.\r\n"), SP_END};
	struct batch b = {0};
	struct pop3_retr_handler h = {NULL, b_data, b_done, &b};
	uint32_t nums[] = {1, 2};
	pv_buf_init(&b.log, 4096);
	sink_init(&b.s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_retr_many(f->c, nums, 2, 100, &h, &f->err), 0);
	assert_string_equal(pv_buf_str(&b.log), "done 1 0 complete;done 2 0 complete;");
	pv_buf_free(&b.log);
	pv_buf_free(&b.s.data);
	peer_ok(f);
}

static void test_retr_many_cut_reports_incomplete(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"), SP_EXPECT("RETR 2\r\n"),
		SP_SEND("+OK\r\none\r\n.\r\n+OK\r\ntw"), SP_END};
	struct batch b = {0};
	struct pop3_retr_handler h = {NULL, b_data, b_done, &b};
	uint32_t nums[] = {1, 2};
	pv_buf_init(&b.log, 4096);
	sink_init(&b.s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_retr_many(f->c, nums, 2, 100, &h, &f->err), PV_EPROTO);
	assert_string_equal(pv_buf_str(&b.log), "done 1 0 complete;done 2 -8 incomplete;");
	assert_false(pop3_alive(f->c));
	pv_buf_free(&b.log);
	pv_buf_free(&b.s.data);
	peer_ok(f);
}

static void test_pipelined_dele_replies_checked(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("DELE 1\r\n"), SP_EXPECT("DELE 2\r\n"), SP_EXPECT("DELE 3\r\n"),
		SP_SEND("+OK\r\n-ERR [SYS/TEMP] cannot delete\r\n+OK\r\n"),
		SP_EXPECT("QUIT\r\n"), SP_SEND("+OK\r\n"), SP_END};
	uint32_t nums[] = {1, 2, 3};
	int st[3];
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_dele_many(f->c, nums, 3, st, &f->err), PV_ETEMP);
	assert_int_equal(st[0], 0);
	assert_int_equal(st[1], PV_ETEMP);
	assert_int_equal(st[2], 0);
	assert_non_null(strstr(f->err.msg, "DELE 2"));
	assert_true(pop3_alive(f->c));
	assert_int_equal(pop3_quit(f->c, &f->err), 0);
	peer_ok(f);
}

static void test_pipelined_dele_connection_lost(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("DELE 1\r\n"), SP_EXPECT("DELE 2\r\n"), SP_EXPECT("DELE 3\r\n"),
		SP_SEND("+OK\r\n"), SP_END};
	uint32_t nums[] = {1, 2, 3};
	int st[3];
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_true(pop3_dele_many(f->c, nums, 3, st, &f->err) < 0);
	assert_int_equal(st[0], 0);
	assert_int_equal(st[1], PV_EPROTO);
	assert_int_equal(st[2], PV_EPROTO);
	assert_false(pop3_alive(f->c));
	peer_ok(f);
}

static void test_pipeline_window_bounded(void **state)
{
	struct fixture *f = *state;
	/* 40 DELEs: only PV_POP3_PIPELINE_WINDOW go out before replies. */
	static struct sp_step script[200];
	static char lines[40][24];
	size_t k = 0;
	const struct sp_step head[] = {LOGIN_PIPE};
	for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
		script[k++] = head[i];
	for (int i = 0; i < 40; i++)
		snprintf(lines[i], sizeof(lines[i]), "DELE %d\r\n", i + 1);
	for (int i = 0; i < PV_POP3_PIPELINE_WINDOW; i++)
		script[k++] = (struct sp_step){SP_OP_EXPECT, lines[i], strlen(lines[i]), NULL, NULL};
	script[k++] = (struct sp_step)SP_CALL(nothing_pending, NULL);
	for (int i = PV_POP3_PIPELINE_WINDOW; i < 40; i++) {
		script[k++] = (struct sp_step)SP_SEND("+OK\r\n");
		script[k++] = (struct sp_step){SP_OP_EXPECT, lines[i], strlen(lines[i]), NULL, NULL};
	}
	for (int i = 0; i < PV_POP3_PIPELINE_WINDOW; i++)
		script[k++] = (struct sp_step)SP_SEND("+OK\r\n");
	script[k++] = (struct sp_step)SP_END;
	uint32_t nums[40];
	int st[40];
	for (int i = 0; i < 40; i++)
		nums[i] = (uint32_t)i + 1;
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_dele_many(f->c, nums, 40, st, &f->err), 0);
	peer_ok(f);
}

/* ---- RETRs and DELEs in one command stream (pop3_fetch_run) ---- */

/* The caller's side: a message becomes deletable when its RETR is done
 * (in harvest, when its commit returns); DELE replies are logged. */
struct stream {
	struct batch b;
	uint32_t ready[8];
	size_t n_ready;
	int stop_after; /* stop() turns true after this many done calls; 0: never */
	int dones;
};

static int st_done(void *ctx, const struct pop3_retr_result *res, const struct pv_error *err)
{
	struct stream *t = ctx;
	b_done(&t->b, res, err);
	t->dones++;
	if (res->complete)
		t->ready[t->n_ready++] = res->msgnum;
	return PV_OK;
}

static int st_data(void *ctx, uint32_t n, const unsigned char *d, size_t len)
{
	struct stream *t = ctx;
	return b_data(&t->b, n, d, len);
}

static size_t st_deles(void *ctx, uint32_t *nums, size_t max)
{
	struct stream *t = ctx;
	size_t k = t->n_ready < max ? t->n_ready : max;
	memcpy(nums, t->ready, k * sizeof(*nums));
	memmove(t->ready, t->ready + k, (t->n_ready - k) * sizeof(*nums));
	t->n_ready -= k;
	return k;
}

static void st_dele_done(void *ctx, uint32_t msgnum, int status, const struct pv_error *err)
{
	struct stream *t = ctx;
	assert_true((status == 0) == (err == NULL));
	pv_buf_printf(&t->b.log, NULL, "dele %u %d;", msgnum, status);
}

static bool st_stop(void *ctx)
{
	struct stream *t = ctx;
	return t->stop_after > 0 && t->dones >= t->stop_after;
}

static int stream_run(struct fixture *f, struct stream *t, const uint32_t *nums,
		      const uint64_t *sizes, size_t n, size_t *sent_r, uint32_t *awaited_r)
{
	struct pop3_retr_handler h = {NULL, st_data, st_done, t};
	struct pop3_fetch fe = {.msgnums = nums, .sizes = sizes, .n = n, .max_bytes = 100,
				.h = &h, .deles = st_deles, .dele_done = st_dele_done,
				.stop = st_stop, .ctx = t};
	return pop3_fetch_run(f->c, &fe, sent_r, awaited_r, &f->err);
}

static void test_fetch_dele_goes_out_before_the_retrs_drain(void **state)
{
	struct fixture *f = *state;
	/* DELE 1 must reach the server while RETR 2 is still unanswered:
	 * the server sends message 2 only after it has read DELE 1. */
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"), SP_EXPECT("RETR 2\r\n"),
		SP_SEND("+OK\r\none\r\n.\r\n"), SP_EXPECT("DELE 1\r\n"),
		SP_SEND("+OK\r\ntwo\r\n.\r\n+OK\r\n"), SP_EXPECT("DELE 2\r\n"),
		SP_SEND("-ERR [SYS/TEMP] busy\r\n"), SP_EXPECT("NOOP\r\n"), SP_SEND("+OK\r\n"),
		SP_END};
	struct stream t = {0};
	uint32_t nums[] = {1, 2};
	size_t sent;
	uint32_t awaited;
	pv_buf_init(&t.b.log, 4096);
	sink_init(&t.b.s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(stream_run(f, &t, nums, NULL, 2, &sent, &awaited), 0);
	assert_int_equal(sent, 2);
	assert_string_equal(pv_buf_str(&t.b.log), "done 1 0 complete;done 2 0 complete;"
						  "dele 1 0;dele 2 -4;");
	assert_string_equal(pv_buf_str(&t.b.s.data), "one\r\ntwo\r\n");
	assert_int_equal(pop3_noop(f->c, &f->err), 0);
	pv_buf_free(&t.b.log);
	pv_buf_free(&t.b.s.data);
	peer_ok(f);
}

static void test_fetch_without_pipelining_one_command_at_a_time(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		LOGIN_NOPIPE, SP_EXPECT("RETR 1\r\n"), SP_CALL(nothing_pending, NULL),
		SP_SEND("+OK\r\none\r\n.\r\n"), SP_EXPECT("DELE 1\r\n"),
		SP_CALL(nothing_pending, NULL), SP_SEND("+OK\r\n"), SP_EXPECT("RETR 2\r\n"),
		SP_CALL(nothing_pending, NULL), SP_SEND("+OK\r\ntwo\r\n.\r\n"),
		SP_EXPECT("DELE 2\r\n"), SP_CALL(nothing_pending, NULL), SP_SEND("+OK\r\n"), SP_END};
	struct stream t = {0};
	uint32_t nums[] = {1, 2};
	size_t sent;
	uint32_t awaited;
	pv_buf_init(&t.b.log, 4096);
	sink_init(&t.b.s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(stream_run(f, &t, nums, NULL, 2, &sent, &awaited), 0);
	assert_string_equal(pv_buf_str(&t.b.log), "done 1 0 complete;dele 1 0;"
						  "done 2 0 complete;dele 2 0;");
	pv_buf_free(&t.b.log);
	pv_buf_free(&t.b.s.data);
	peer_ok(f);
}

static void test_fetch_connection_lost_in_dele_reply(void **state)
{
	struct fixture *f = *state;
	/* The server dies with DELE 1 unanswered: no DELE is reported, and
	 * no message is blamed for it. */
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"), SP_SEND("+OK\r\none\r\n.\r\n"),
		SP_EXPECT("DELE 1\r\n"), SP_END};
	struct stream t = {0};
	uint32_t nums[] = {1};
	size_t sent;
	uint32_t awaited = 7;
	pv_buf_init(&t.b.log, 4096);
	sink_init(&t.b.s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_true(stream_run(f, &t, nums, NULL, 1, &sent, &awaited) < 0);
	assert_int_equal(awaited, 0);
	assert_false(pop3_alive(f->c));
	assert_string_equal(pv_buf_str(&t.b.log), "done 1 0 complete;");
	pv_buf_free(&t.b.log);
	pv_buf_free(&t.b.s.data);
	peer_ok(f);
}

static void test_fetch_connection_lost_mid_pipeline_names_the_awaited(void **state)
{
	struct fixture *f = *state;
	/* Cut inside message 2's reply with RETR 3 and DELE 1 in flight. */
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"), SP_EXPECT("RETR 2\r\n"), SP_EXPECT("RETR 3\r\n"),
		SP_SEND("+OK\r\none\r\n.\r\n"), SP_EXPECT("DELE 1\r\n"), SP_SEND("+OK\r\ntw"),
		SP_END};
	struct stream t = {0};
	uint32_t nums[] = {1, 2, 3};
	size_t sent;
	uint32_t awaited;
	pv_buf_init(&t.b.log, 4096);
	sink_init(&t.b.s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_true(stream_run(f, &t, nums, NULL, 3, &sent, &awaited) < 0);
	assert_int_equal(awaited, 2);
	assert_int_equal(sent, 3);
	assert_string_equal(pv_buf_str(&t.b.log), "done 1 0 complete;done 2 -8 incomplete;");
	pv_buf_free(&t.b.log);
	pv_buf_free(&t.b.s.data);
	peer_ok(f);
}

static void test_fetch_bytes_in_flight_bounded(void **state)
{
	struct fixture *f = *state;
	/* Message 1 announces more than PV_POP3_PIPELINE_BYTES: it goes
	 * alone; the two small ones after it go together. */
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"), SP_CALL(nothing_pending, NULL),
		SP_SEND("+OK\r\none\r\n.\r\n"), SP_EXPECT("DELE 1\r\n"), SP_EXPECT("RETR 2\r\n"),
		SP_EXPECT("RETR 3\r\n"), SP_SEND("+OK\r\n+OK\r\ntwo\r\n.\r\n+OK\r\nthree\r\n.\r\n"),
		SP_EXPECT("DELE 2\r\n"), SP_EXPECT("DELE 3\r\n"), SP_SEND("+OK\r\n+OK\r\n"), SP_END};
	struct stream t = {0};
	uint32_t nums[] = {1, 2, 3};
	uint64_t sizes[] = {PV_POP3_PIPELINE_BYTES + 1, 10, 10};
	size_t sent;
	uint32_t awaited;
	pv_buf_init(&t.b.log, 4096);
	sink_init(&t.b.s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(stream_run(f, &t, nums, sizes, 3, &sent, &awaited), 0);
	assert_string_equal(pv_buf_str(&t.b.log), "done 1 0 complete;dele 1 0;done 2 0 complete;"
						  "done 3 0 complete;dele 2 0;dele 3 0;");
	pv_buf_free(&t.b.log);
	pv_buf_free(&t.b.s.data);
	peer_ok(f);
}

static void test_fetch_stop_sends_no_more_retrs(void **state)
{
	struct fixture *f = *state;
	/* One message in flight at a time (sizes), stop after the first:
	 * it is DELEd, RETR 2 never goes out. */
	const struct sp_step script[] = {
		LOGIN_PIPE, SP_EXPECT("RETR 1\r\n"), SP_CALL(nothing_pending, NULL),
		SP_SEND("+OK\r\none\r\n.\r\n"), SP_EXPECT("DELE 1\r\n"),
		SP_CALL(nothing_pending, NULL), SP_SEND("+OK\r\n"), SP_EXPECT("NOOP\r\n"),
		SP_SEND("+OK\r\n"), SP_END};
	struct stream t = {.stop_after = 1};
	uint32_t nums[] = {1, 2};
	uint64_t sizes[] = {PV_POP3_PIPELINE_BYTES, PV_POP3_PIPELINE_BYTES};
	size_t sent;
	uint32_t awaited;
	pv_buf_init(&t.b.log, 4096);
	sink_init(&t.b.s);
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(stream_run(f, &t, nums, sizes, 2, &sent, &awaited), 0);
	assert_int_equal(sent, 1);
	assert_int_equal(pop3_noop(f->c, &f->err), 0);
	pv_buf_free(&t.b.log);
	pv_buf_free(&t.b.s.data);
	peer_ok(f);
}

/* ---- STLS ---- */

static void test_stls_missing_refuses_clear(void **state)
{
	struct fixture *f = *state;
	/* No STLS in CAPA: nothing more may be sent in clear (no USER). */
	const struct sp_step script[] = {GREET, CAPA_PIPE, SP_EXPECT_EOF, SP_END};
	assert_int_equal(start(f, script, POP3_TLS_STARTTLS), PV_ERR);
	assert_null(f->c);
	assert_non_null(strstr(f->err.msg, "refusing to continue in clear"));
	peer_ok(f);
}

static void test_stls_refused_refuses_clear(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {GREET, SP_SEND("+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
					 SP_EXPECT("STLS\r\n"), SP_SEND("-ERR not now\r\n"),
					 SP_EXPECT_EOF, SP_END};
	assert_int_equal(start(f, script, POP3_TLS_STARTTLS), PV_ERR);
	assert_non_null(strstr(f->err.msg, "refusing to continue in clear"));
	peer_ok(f);
}

static void test_stls_buffered_injection_rejected(void **state)
{
	struct fixture *f = *state;
	/* A man in the middle appends a plaintext reply to the +OK; it would
	 * be read as if it came over TLS (CVE-2011-0411 class). */
	const struct sp_step script[] = {GREET, SP_SEND("+OK\r\nSTLS\r\n.\r\n"),
					 SP_EXPECT("STLS\r\n"),
					 SP_SEND("+OK Begin TLS\r\n+OK\r\nSASL PLAIN\r\n.\r\n"),
					 SP_EXPECT_EOF, SP_END};
	assert_int_equal(start(f, script, POP3_TLS_STARTTLS), PV_EPROTO);
	assert_non_null(strstr(f->err.msg, "injection"));
	peer_ok(f);
}

/* ---- SASL ---- */

static void test_cram_md5_exchange(void **state)
{
	struct fixture *f = *state;
	/* RFC 2195's example over POP3 AUTH (RFC 5034). */
	const struct sp_step script[] = {
		GREET, SP_SEND("+OK\r\nSASL CRAM-MD5 PLAIN\r\n.\r\n"),
		SP_EXPECT("AUTH CRAM-MD5\r\n"),
		SP_SEND("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
		SP_EXPECT("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
		SP_SEND("+OK\r\n"), SP_EXPECT("CAPA\r\n"), SP_SEND("+OK\r\n.\r\n"), SP_END};
	struct pop3_auth a = {POP3_AUTH_AUTO, "tim", "tanstaaftanstaaf", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &a, &f->err), 0);
	/* Auto picked CRAM-MD5 over PLAIN on a clear connection. */
	assert_int_equal(pop3_auth_used(f->c), POP3_AUTH_CRAM_MD5);
	assert_null(strstr(pv_buf_str(&f->t.text), "dGltIGI5"));
	peer_ok(f);
}

static void test_plain_initial_response_and_login(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		GREET, SP_SEND("+OK\r\nSASL PLAIN LOGIN\r\n.\r\n"),
		SP_EXPECT("AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"), SP_SEND("-ERR [AUTH] no\r\n"),
		SP_EXPECT("AUTH LOGIN\r\n"), SP_SEND("+ VXNlcm5hbWU6\r\n"), SP_EXPECT("dGlt\r\n"),
		SP_SEND("+ UGFzc3dvcmQ6\r\n"), SP_EXPECT("dGFuc3RhYWZ0YW5zdGFhZg==\r\n"),
		SP_SEND("+OK\r\n"), SP_EXPECT("CAPA\r\n"), SP_SEND("+OK\r\n.\r\n"), SP_END};
	struct pop3_auth plain = {POP3_AUTH_PLAIN, "tim", "tanstaaftanstaaf", NULL};
	struct pop3_auth login = {POP3_AUTH_LOGIN, "tim", "tanstaaftanstaaf", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &plain, &f->err), PV_EAUTH);
	assert_int_equal(pop3_login(f->c, &login, &f->err), 0);
	const char *t = pv_buf_str(&f->t.text);
	assert_non_null(strstr(t, "C: AUTH PLAIN <redacted>\n"));
	assert_null(strstr(t, "AHRpbQB0"));
	assert_null(strstr(t, "dGFuc3RhYWZ0"));
	peer_ok(f);
}

static void test_auto_refuses_password_in_clear(void **state)
{
	struct fixture *f = *state;
	/* Only USER and PLAIN offered, no TLS: auto sends nothing. */
	const struct sp_step script[] = {GREET, SP_SEND("+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"),
					 SP_EXPECT_EOF, SP_END};
	struct pop3_auth a = {POP3_AUTH_AUTO, "alice", "secret", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &a, &f->err), PV_ERR);
	peer_ok(f);
}

static void test_unadvertised_mechanism_not_tried(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {GREET, SP_SEND("+OK\r\nSASL PLAIN\r\n.\r\n"),
					 SP_EXPECT_EOF, SP_END};
	struct pop3_auth a = {POP3_AUTH_SCRAM_SHA_256, "alice", "secret", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &a, &f->err), PV_ERR);
	peer_ok(f);
}

static void test_apop_login(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		SP_SEND("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
		SP_EXPECT("CAPA\r\n"), SP_SEND("-ERR\r\n"),
		SP_EXPECT("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
		SP_SEND("+OK maildrop has 1 message (369 octets)\r\n"),
		SP_EXPECT("CAPA\r\n"), SP_SEND("-ERR\r\n"), SP_END};
	struct pop3_auth a = {POP3_AUTH_AUTO, "mrose", "tanstaaf", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &a, &f->err), 0);
	assert_int_equal(pop3_auth_used(f->c), POP3_AUTH_APOP);
	assert_non_null(strstr(pv_buf_str(&f->t.text), "C: APOP mrose <redacted>\n"));
	peer_ok(f);
}

static char long_token[400];

static void make_token(void)
{
	memset(long_token, 'T', sizeof(long_token) - 1);
	long_token[sizeof(long_token) - 1] = '\0';
}

/* Answers the empty "+ " request for the initial response, checks the
 * response decodes to expect, then plays the RFC 7628 failure. */
struct oauth_srv {
	const char *mech;
	const char *reply_to_error; /* the client's answer to the challenge */
};

static int oauth_server(struct sp_peer *p, void *arg)
{
	struct oauth_srv *o = arg;
	char line[4096], want[64];
	size_t len;
	snprintf(want, sizeof(want), "AUTH %s\r\n", o->mech);
	if (sp_read_line(p, line, sizeof(line), &len) < 0 || strcmp(line, want) != 0)
		return sp_fail(p, "expected %s, got %s", o->mech, line);
	if (sp_write(p, "+ \r\n", 4) < 0 || sp_read_line(p, line, sizeof(line), &len) < 0)
		return -1;
	unsigned char raw[4096];
	size_t raw_len;
	if (pop3_b64_decode(line, len - 2, raw, sizeof(raw), &raw_len) < 0)
		return sp_fail(p, "initial response not base64");
	raw[raw_len] = '\0';
	if (strstr((char *)raw, long_token) == NULL)
		return sp_fail(p, "token missing from the initial response");
	/* {"status":"invalid_token","scope":"mail"} */
	const char *json = "+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJtYWlsIn0=\r\n";
	if (sp_write(p, json, strlen(json)) < 0 || sp_read_line(p, line, sizeof(line), &len) < 0)
		return -1;
	if (strcmp(line, o->reply_to_error) != 0)
		return sp_fail(p, "answer to the error challenge was \"%s\"", line);
	return sp_write(p, "-ERR Authentication failed.\r\n", 29);
}

static void test_oauthbearer_failure_sends_AQ(void **state)
{
	struct fixture *f = *state;
	struct oauth_srv o = {"OAUTHBEARER", "AQ==\r\n"};
	const struct sp_step script[] = {GREET, SP_SEND("+OK\r\nSASL OAUTHBEARER XOAUTH2\r\n.\r\n"),
					 SP_CALL(oauth_server, &o), SP_END};
	struct pop3_auth a = {POP3_AUTH_OAUTHBEARER, "user@example.com", long_token, NULL};
	make_token();
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	/* The token is too long for the command line (RFC 5034 §4). */
	assert_int_equal(pop3_login(f->c, &a, &f->err), PV_EAUTH);
	assert_non_null(strstr(f->err.msg, "token rejected"));
	assert_null(strstr(pv_buf_str(&f->t.text), "TTTT"));
	assert_true(pop3_alive(f->c));
	peer_ok(f);
}

static void test_xoauth2_failure_sends_empty_line(void **state)
{
	struct fixture *f = *state;
	struct oauth_srv o = {"XOAUTH2", "\r\n"};
	const struct sp_step script[] = {GREET, SP_SEND("+OK\r\nSASL OAUTHBEARER XOAUTH2\r\n.\r\n"),
					 SP_CALL(oauth_server, &o), SP_END};
	struct pop3_auth a = {POP3_AUTH_XOAUTH2, "user@example.com", long_token, NULL};
	make_token();
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &a, &f->err), PV_EAUTH);
	peer_ok(f);
}

/* A SCRAM-SHA-256 server (RFC 5802 §3) computed here independently. */
struct scram_srv {
	const char *pass;
	enum { SCRAM_GOOD, SCRAM_BAD_SIGNATURE, SCRAM_NO_SIGNATURE } mode;
};

static void hmac(const unsigned char *k, size_t kl, const void *d, size_t n, unsigned char out[32])
{
	unsigned int len;
	HMAC(EVP_sha256(), k, (int)kl, d, n, out, &len);
}

static int send_b64_cont(struct sp_peer *p, const void *d, size_t n)
{
	struct pv_buf b;
	pv_buf_init(&b, 8192);
	pv_buf_append_str(&b, "+ ", NULL);
	pop3_b64_encode(d, n, &b, NULL);
	pv_buf_append_str(&b, "\r\n", NULL);
	int r = sp_write(p, b.data, b.len);
	pv_buf_free(&b);
	return r;
}

static int scram_server(struct sp_peer *p, void *arg)
{
	struct scram_srv *s = arg;
	char line[4096], sf[512], am[2048], cfb_copy[256];
	unsigned char raw[2048], salted[32], ck[32], sk[32], csig[32], ssig[32], skey[32];
	size_t len, raw_len;
	static const unsigned char salt[16] = "0123456789abcdef";
	unsigned int sl;

	if (sp_read_line(p, line, sizeof(line), &len) < 0 ||
	    strncmp(line, "AUTH SCRAM-SHA-256 ", 19) != 0)
		return sp_fail(p, "no AUTH SCRAM-SHA-256 with initial response: %s", line);
	if (pop3_b64_decode(line + 19, len - 21, raw, sizeof(raw) - 1, &raw_len) < 0)
		return sp_fail(p, "client-first not base64");
	raw[raw_len] = '\0';
	if (strncmp((char *)raw, "n,,n=alice,r=", 13) != 0)
		return sp_fail(p, "client-first: %s", raw);
	const char *cfb = (char *)raw + 3;
	const char *cnonce = (char *)raw + 13;
	struct pv_buf b64salt;
	pv_buf_init(&b64salt, 64);
	pop3_b64_encode(salt, sizeof(salt), &b64salt, NULL);
	snprintf(sf, sizeof(sf), "r=%.200sSERVERNONCE,s=%.64s,i=4096", cnonce, pv_buf_str(&b64salt));
	pv_buf_free(&b64salt);
	snprintf(cfb_copy, sizeof(cfb_copy), "%.250s", cfb);
	if (send_b64_cont(p, sf, strlen(sf)) < 0 || sp_read_line(p, line, sizeof(line), &len) < 0)
		return -1;
	if (pop3_b64_decode(line, len - 2, raw, sizeof(raw) - 1, &raw_len) < 0)
		return sp_fail(p, "client-final not base64");
	raw[raw_len] = '\0';
	char *proof = strstr((char *)raw, ",p=");
	if (proof == NULL)
		return sp_fail(p, "client-final has no proof");
	*proof = '\0';
	snprintf(am, sizeof(am), "%s,%s,%.1000s", cfb_copy, sf, (char *)raw);
	PKCS5_PBKDF2_HMAC(s->pass, (int)strlen(s->pass), salt, sizeof(salt), 4096, EVP_sha256(),
			  32, salted);
	hmac(salted, 32, "Client Key", 10, ck);
	EVP_Digest(ck, 32, sk, &sl, EVP_sha256(), NULL);
	hmac(sk, 32, am, strlen(am), csig);
	unsigned char want[32], got[64];
	size_t got_len;
	for (int i = 0; i < 32; i++)
		want[i] = ck[i] ^ csig[i];
	if (pop3_b64_decode(proof + 3, strlen(proof + 3), got, sizeof(got), &got_len) < 0 ||
	    got_len != 32 || memcmp(got, want, 32) != 0)
		return sp_fail(p, "client proof is wrong");
	if (s->mode == SCRAM_NO_SIGNATURE)
		return sp_write(p, "+OK\r\n", 5);
	hmac(salted, 32, "Server Key", 10, skey);
	hmac(skey, 32, am, strlen(am), ssig);
	if (s->mode == SCRAM_BAD_SIGNATURE)
		ssig[7] ^= 1;
	struct pv_buf v;
	pv_buf_init(&v, 128);
	pv_buf_append_str(&v, "v=", NULL);
	pop3_b64_encode(ssig, 32, &v, NULL);
	int r = send_b64_cont(p, v.data, v.len);
	pv_buf_free(&v);
	if (r < 0 || sp_read_line(p, line, sizeof(line), &len) < 0)
		return -1;
	if (s->mode == SCRAM_GOOD) {
		if (strcmp(line, "\r\n") != 0)
			return sp_fail(p, "expected an empty line after v=, got %s", line);
		return sp_write(p, "+OK\r\n", 5);
	}
	if (strcmp(line, "*\r\n") != 0)
		return sp_fail(p, "expected a cancel after a bad v=, got %s", line);
	return sp_write(p, "-ERR cancelled\r\n", 16);
}

static void test_scram_exchange_over_pop3(void **state)
{
	struct fixture *f = *state;
	struct scram_srv s = {"pencil", SCRAM_GOOD};
	const struct sp_step script[] = {
		GREET, SP_SEND("+OK\r\nSASL PLAIN CRAM-MD5 SCRAM-SHA-256\r\n.\r\n"),
		SP_CALL(scram_server, &s), SP_EXPECT("CAPA\r\n"), SP_SEND("+OK\r\n.\r\n"), SP_END};
	struct pop3_auth a = {POP3_AUTH_AUTO, "alice", "pencil", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &a, &f->err), 0);
	assert_int_equal(pop3_auth_used(f->c), POP3_AUTH_SCRAM_SHA_256);
	peer_ok(f);
}

static void test_scram_bad_server_signature_cancels(void **state)
{
	struct fixture *f = *state;
	struct scram_srv s = {"pencil", SCRAM_BAD_SIGNATURE};
	const struct sp_step script[] = {GREET, SP_SEND("+OK\r\nSASL SCRAM-SHA-256\r\n.\r\n"),
					 SP_CALL(scram_server, &s), SP_EXPECT_EOF, SP_END};
	struct pop3_auth a = {POP3_AUTH_SCRAM_SHA_256, "alice", "pencil", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &a, &f->err), PV_EAUTH);
	assert_non_null(strstr(f->err.msg, "signature"));
	peer_ok(f);
}

static void test_scram_ok_without_signature_rejected(void **state)
{
	struct fixture *f = *state;
	/* A server that says +OK without proving it knows the password may
	 * be an impostor: the session is not used. */
	struct scram_srv s = {"pencil", SCRAM_NO_SIGNATURE};
	const struct sp_step script[] = {GREET, SP_SEND("+OK\r\nSASL SCRAM-SHA-256\r\n.\r\n"),
					 SP_CALL(scram_server, &s), SP_EXPECT_EOF, SP_END};
	struct pop3_auth a = {POP3_AUTH_SCRAM_SHA_256, "alice", "pencil", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &a, &f->err), PV_EAUTH);
	assert_false(pop3_alive(f->c));
	peer_ok(f);
}

static void test_auto_falls_back_after_mechanism_refused(void **state)
{
	struct fixture *f = *state;
	/* CRAM-MD5 offered, but this user's password is stored hashed: the
	 * refusal moves auto on to the next method. */
	const struct sp_step script[] = {
		SP_SEND("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
		SP_EXPECT("CAPA\r\n"), SP_SEND("+OK\r\nSASL CRAM-MD5\r\n.\r\n"),
		SP_EXPECT("AUTH CRAM-MD5\r\n"), SP_SEND("+ PDEyMzRAeD4=\r\n"),
		SP_EXPECT("bXJvc2UgZWRiMzQ0MmY1ZjFkOTI2YzNiZDk1NzA0MjFhNjk0YjQ=\r\n"),
		SP_SEND("-ERR [AUTH] Authentication failed.\r\n"),
		SP_EXPECT("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"), SP_SEND("+OK\r\n"),
		SP_EXPECT("CAPA\r\n"), SP_SEND("+OK\r\n.\r\n"), SP_END};
	struct pop3_auth a = {POP3_AUTH_AUTO, "mrose", "tanstaaf", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	if (pop3_login(f->c, &a, &f->err) != 0)
		fail_msg("login: %s", f->err.msg);
	assert_int_equal(pop3_auth_used(f->c), POP3_AUTH_APOP);
	peer_ok(f);
}

static void test_auto_stops_on_in_use(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		SP_SEND("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
		SP_EXPECT("CAPA\r\n"), SP_SEND("+OK\r\nSASL CRAM-MD5\r\n.\r\n"),
		SP_EXPECT("AUTH CRAM-MD5\r\n"), SP_SEND("+ PDEyMzRAeD4=\r\n"),
		SP_EXPECT("bXJvc2UgZWRiMzQ0MmY1ZjFkOTI2YzNiZDk1NzA0MjFhNjk0YjQ=\r\n"),
		SP_SEND("-ERR [IN-USE] locked\r\n"), SP_EXPECT_EOF, SP_END};
	struct pop3_auth a = {POP3_AUTH_AUTO, "mrose", "tanstaaf", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &a, &f->err), PV_ETEMP);
	peer_ok(f);
}

static void test_auto_never_falls_back_after_bad_scram_signature(void **state)
{
	struct fixture *f = *state;
	/* The server could not prove it knows the password: it must not get
	 * a CRAM-MD5 response or an APOP digest to attack either. */
	struct scram_srv s = {"pencil", SCRAM_BAD_SIGNATURE};
	const struct sp_step script[] = {
		SP_SEND("+OK ready <1@x>\r\n"), SP_EXPECT("CAPA\r\n"),
		SP_SEND("+OK\r\nSASL SCRAM-SHA-256 CRAM-MD5\r\n.\r\n"),
		SP_CALL(scram_server, &s), SP_EXPECT_EOF, SP_END};
	struct pop3_auth a = {POP3_AUTH_AUTO, "alice", "pencil", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &a, &f->err), PV_EAUTH);
	peer_ok(f);
}

static void test_empty_mailbox_scan(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {LOGIN_PIPE, SP_EXPECT("LIST\r\n"), SP_SEND("+OK 0 messages\r\n.\r\n"),
					 SP_EXPECT("UIDL\r\n"), SP_SEND("+OK\r\n.\r\n"), SP_END};
	struct pop3_mailbox *mb = NULL;
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(login_user(f), 0);
	assert_int_equal(pop3_scan(f->c, &mb, &f->err), 0);
	assert_int_equal(mb->count, 0);
	assert_true(mb->uidl_ok);
	pop3_mailbox_free(&mb);
	peer_ok(f);
}

static void test_utf8_enabled_for_non_ascii_credentials(void **state)
{
	struct fixture *f = *state;
	/* RFC 6856 §3: UTF-8 user names only after UTF8 was accepted. */
	const struct sp_step script[] = {
		GREET, SP_SEND("+OK\r\nUSER\r\nUTF8\r\n.\r\n"), SP_EXPECT("UTF8\r\n"),
		SP_SEND("+OK\r\n"), SP_EXPECT("USER j\xc3\xbcrgen\r\n"), SP_SEND("+OK\r\n"),
		SP_EXPECT("PASS secret\r\n"), SP_SEND("+OK\r\n"), SP_EXPECT("CAPA\r\n"),
		SP_SEND("+OK\r\n.\r\n"), SP_END};
	struct pop3_auth a = {POP3_AUTH_USER, "j\xc3\xbcrgen", "secret", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &a, &f->err), 0);
	peer_ok(f);
}

static int wait_for_eof(struct sp_peer *p, void *arg)
{
	char c;
	(void)arg;
	/* Silent until the client gives up and closes. */
	return recv(sp_fd(p), &c, 1, 0) == 0 ? 0 : sp_fail(p, "client sent data or never closed");
}

static void test_silent_server_times_out(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {SP_CALL(wait_for_eof, NULL), SP_END};
	int fd;
	struct pop3_config cfg = {.host = "pop.test", .tls = POP3_TLS_NONE, .io_timeout_ms = 200};
	f->peer = sp_start(script, &fd);
	assert_non_null(f->peer);
	assert_int_equal(pop3_connect_fd(fd, &cfg, &f->c, &f->err), PV_ETEMP);
	assert_non_null(strstr(f->err.msg, "timeout"));
	peer_ok(f);
}

static void test_sasl_garbage_challenge_cancels(void **state)
{
	struct fixture *f = *state;
	const struct sp_step script[] = {
		GREET, SP_SEND("+OK\r\nSASL CRAM-MD5\r\n.\r\n"), SP_EXPECT("AUTH CRAM-MD5\r\n"),
		SP_SEND("+ not base64!\r\n"), SP_EXPECT("*\r\n"), SP_SEND("-ERR cancelled\r\n"),
		SP_END};
	struct pop3_auth a = {POP3_AUTH_CRAM_MD5, "tim", "x", NULL};
	assert_int_equal(start(f, script, POP3_TLS_NONE), 0);
	assert_int_equal(pop3_login(f->c, &a, &f->err), PV_EPROTO);
	assert_true(pop3_alive(f->c));
	peer_ok(f);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_login_list_uidl_quit),
		T(test_transcript_never_records_secrets),
		T(test_drop_sends_no_quit),
		T(test_quit_unanswered_is_not_a_commit),
		T(test_quit_err_is_not_a_commit),
		T(test_greeting_err_is_mapped),
		T(test_status_line_too_long),
		T(test_garbage_status_line_kills_session),
		T(test_command_injection_refused),
		T(test_capa_garbage_tolerated),
		T(test_capa_refused_assumes_rfc1939),
		T(test_uidl_duplicates_reported),
		T(test_uidl_invalid_chars_rejected_session_usable),
		T(test_listing_inconsistencies_rejected),
		T(test_in_use_is_temporary),
		T(test_login_delay_is_temporary),
		T(test_auth_code_is_auth_error),
		T(test_retr_dot_unstuffing),
		T(test_retr_bare_lf_kept_exact),
		T(test_retr_crlf_reply_bare_lf_dot_is_not_the_end),
		T(test_retr_reply_cut_mid_line),
		T(test_retr_missing_terminator),
		T(test_retr_over_cap_drops_connection),
		T(test_retr_endless_over_cap_not_drained),
		T(test_trickling_server_cut_by_min_rate),
		T(test_session_deadline_ends_endless_reply),
		T(test_list_over_cap_refused_with_clear_error),
		T(test_uidl_longer_than_list_stops_reading),
		T(test_retr_exactly_at_cap_is_complete),
		T(test_retr_err_leaves_session_usable),
		T(test_retr_sink_failure_drops_connection),
		T(test_retr_streams_in_fixed_chunks),
		T(test_retr_many_pipelined),
		T(test_retr_many_without_pipelining_waits),
		T(test_retr_many_cut_reports_incomplete),
		T(test_pipelined_dele_replies_checked),
		T(test_pipelined_dele_connection_lost),
		T(test_pipeline_window_bounded),
		T(test_fetch_dele_goes_out_before_the_retrs_drain),
		T(test_fetch_without_pipelining_one_command_at_a_time),
		T(test_fetch_connection_lost_in_dele_reply),
		T(test_fetch_connection_lost_mid_pipeline_names_the_awaited),
		T(test_fetch_bytes_in_flight_bounded),
		T(test_fetch_stop_sends_no_more_retrs),
		T(test_stls_missing_refuses_clear),
		T(test_stls_refused_refuses_clear),
		T(test_stls_buffered_injection_rejected),
		T(test_cram_md5_exchange),
		T(test_plain_initial_response_and_login),
		T(test_auto_refuses_password_in_clear),
		T(test_unadvertised_mechanism_not_tried),
		T(test_apop_login),
		T(test_oauthbearer_failure_sends_AQ),
		T(test_xoauth2_failure_sends_empty_line),
		T(test_scram_exchange_over_pop3),
		T(test_scram_bad_server_signature_cancels),
		T(test_scram_ok_without_signature_rejected),
		T(test_sasl_garbage_challenge_cancels),
		T(test_auto_falls_back_after_mechanism_refused),
		T(test_auto_stops_on_in_use),
		T(test_auto_never_falls_back_after_bad_scram_signature),
		T(test_empty_mailbox_scan),
		T(test_utf8_enabled_for_non_ascii_credentials),
		T(test_silent_server_times_out),
#undef T
	};
	return cmocka_run_group_tests_name("pop3_client", tests, NULL, NULL);
}
