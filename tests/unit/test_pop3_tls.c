/* Unit tests for the POP3 client's TLS: a real OpenSSL server in the
 * scripted peer's thread, certificates made by the openssl tool in a
 * temporary directory (a CA, a cert for localhost/127.0.0.1, one for
 * another name, and an unrelated CA). */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "archiver/pop3/pop3.h"
#include "tests/unit/scripted_peer.h"

static char dir[64];

static void path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

static int make_certs(void **state)
{
	(void)state;
	char cmd[4096];
	snprintf(dir, sizeof(dir), "/tmp/pv-pop3-tls-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	const char *key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd %s\n"
		 "openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj '/CN=popvault test CA' "
		 "  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign\n"
		 "openssl req -x509 %s -keyout other.key -out other.pem -days 2 -subj '/CN=other CA' "
		 "  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign\n"
		 "for n in good wrong; do\n"
		 "  openssl req %s -keyout $n.key -out $n.csr -subj /CN=$n\n"
		 "done\n"
		 "echo 'subjectAltName=DNS:localhost,IP:127.0.0.1' > good.ext\n"
		 "echo 'subjectAltName=DNS:wrong.example' > wrong.ext\n"
		 "for n in good wrong; do\n"
		 "  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
		 "    -extfile $n.ext -out $n.pem\n"
		 "done\n",
		 dir, key, key, key);
	char script[128], run[256];
	path(script, sizeof(script), "make.sh");
	FILE *f = fopen(script, "w");
	if (f == NULL || fputs(cmd, f) < 0 || fclose(f) != 0)
		return -1;
	snprintf(run, sizeof(run), "sh '%s' >/dev/null 2>&1", script);
	return system(run) == 0 ? 0 : -1;
}

static int remove_certs(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- the TLS side of the peer ---- */

struct tls_srv {
	const char *cert; /* file name in dir */
	int max_version;  /* 0: any */
	SSL_CTX *ctx;
	SSL *ssl;
	bool accepted;
};

static long tls_read(void *ctx, void *buf, size_t n)
{
	size_t got = 0;
	return SSL_read_ex(ctx, buf, n, &got) == 1 ? (long)got : -1;
}

static long tls_write(void *ctx, const void *buf, size_t n)
{
	size_t put = 0;
	return SSL_write_ex(ctx, buf, n, &put) == 1 ? (long)put : -1;
}

static const struct sp_io tls_io = {tls_read, tls_write};

/* Handshake; on failure the script goes on with raw I/O (it should end). */
static int tls_accept(struct sp_peer *p, void *arg)
{
	struct tls_srv *t = arg;
	char cert[128], key[128], name[64];
	snprintf(name, sizeof(name), "%s.pem", t->cert);
	path(cert, sizeof(cert), name);
	snprintf(name, sizeof(name), "%s.key", t->cert);
	path(key, sizeof(key), name);
	t->ctx = SSL_CTX_new(TLS_server_method());
	if (t->ctx == NULL || SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1)
		return sp_fail(p, "server TLS setup failed");
	if (t->max_version != 0) {
		SSL_CTX_set_security_level(t->ctx, 0);
		SSL_CTX_set_cipher_list(t->ctx, "DEFAULT:@SECLEVEL=0");
		SSL_CTX_set_min_proto_version(t->ctx, 0);
		SSL_CTX_set_max_proto_version(t->ctx, t->max_version);
	}
	t->ssl = SSL_new(t->ctx);
	SSL_set_fd(t->ssl, sp_fd(p));
	if (SSL_accept(t->ssl) == 1) {
		t->accepted = true;
		sp_set_io(p, &tls_io, t->ssl);
	}
	ERR_clear_error();
	return 0;
}

static void tls_srv_free(struct tls_srv *t)
{
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
}

static void finish(struct sp_peer **peer)
{
	char msg[512];
	if (sp_finish(peer, msg, sizeof(msg)) != 0)
		fail_msg("scripted peer: %s", msg);
}

static int connect_pair(const struct sp_step *script, struct sp_peer **peer, const char *host,
			const char *ca, bool insecure, enum pop3_tls_mode mode,
			struct pop3_client **c, struct pv_error *err)
{
	int fd;
	char ca_path[128];
	path(ca_path, sizeof(ca_path), ca != NULL ? ca : "");
	struct pop3_config cfg = {.host = host, .tls = mode, .insecure = insecure,
				  .ca_file = ca != NULL ? ca_path : NULL, .io_timeout_ms = 5000};
	*peer = sp_start(script, &fd);
	assert_non_null(*peer);
	return pop3_connect_fd(fd, &cfg, c, err);
}

#define GREET_CAPA SP_SEND("+OK ready\r\n"), SP_EXPECT("CAPA\r\n"), \
	SP_SEND("+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n")

static void test_tls_good_cert_accepted_over_tcp(void **state)
{
	(void)state;
	struct tls_srv t = {.cert = "good"};
	const struct sp_step script[] = {
		SP_CALL(tls_accept, &t), GREET_CAPA,
		SP_EXPECT("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"), SP_SEND("+OK\r\n"),
		SP_EXPECT("CAPA\r\n"), SP_SEND("+OK\r\n.\r\n"),
		SP_EXPECT("QUIT\r\n"), SP_SEND("+OK\r\n"), SP_END};
	uint16_t port;
	char ca[128];
	struct pop3_client *c = NULL;
	struct pv_error err;
	struct sp_peer *peer = sp_start_tcp(script, &port);
	assert_non_null(peer);
	path(ca, sizeof(ca), "ca.pem");
	struct pop3_config cfg = {.host = "localhost", .port = port, .tls = POP3_TLS_IMPLICIT,
				  .ca_file = ca, .io_timeout_ms = 5000};
	struct pop3_auth a = {POP3_AUTH_AUTO, "alice", "secret", NULL};
	if (pop3_open(&cfg, &a, &c, &err) != 0)
		fail_msg("pop3_open: %s", err.msg);
	const struct pop3_tls_info *ti = pop3_tls(c);
	assert_true(ti->active);
	assert_true(ti->verified);
	assert_true(strcmp(ti->version, "TLSv1.3") == 0 || strcmp(ti->version, "TLSv1.2") == 0);
	/* Over TLS, auto may use PLAIN. */
	assert_int_equal(pop3_auth_used(c), POP3_AUTH_PLAIN);
	assert_int_equal(pop3_quit(c, &err), 0);
	pop3_client_free(&c);
	finish(&peer);
	tls_srv_free(&t);
}

static void test_tls_ip_address_verified(void **state)
{
	(void)state;
	struct tls_srv t = {.cert = "good"};
	const struct sp_step script[] = {SP_CALL(tls_accept, &t), GREET_CAPA, SP_END};
	struct sp_peer *peer;
	struct pop3_client *c = NULL;
	struct pv_error err;
	if (connect_pair(script, &peer, "127.0.0.1", "ca.pem", false, POP3_TLS_IMPLICIT, &c, &err) != 0)
		fail_msg("connect: %s", err.msg);
	assert_true(pop3_tls(c)->verified);
	pop3_client_free(&c);
	finish(&peer);
	tls_srv_free(&t);
}

static void test_tls_hostname_mismatch_rejected(void **state)
{
	(void)state;
	const char *hosts[] = {"localhost", "127.0.0.1", "example"};
	for (size_t i = 0; i < 3; i++) {
		struct tls_srv t = {.cert = "wrong"};
		const struct sp_step script[] = {SP_CALL(tls_accept, &t), SP_END};
		struct sp_peer *peer;
		struct pop3_client *c = NULL;
		struct pv_error err;
		assert_int_equal(connect_pair(script, &peer, hosts[i], "ca.pem", false,
					      POP3_TLS_IMPLICIT, &c, &err), PV_ERR);
		assert_null(c);
		assert_non_null(strstr(err.msg, "mismatch"));
		print_message("# %s\n", err.msg);
		finish(&peer);
		assert_false(t.accepted);
		tls_srv_free(&t);
	}
}

static void test_tls_unknown_ca_rejected(void **state)
{
	(void)state;
	/* A CA file that does not hold the issuer, then the system store. */
	const char *cas[] = {"other.pem", NULL};
	for (size_t i = 0; i < 2; i++) {
		struct tls_srv t = {.cert = "good"};
		const struct sp_step script[] = {SP_CALL(tls_accept, &t), SP_END};
		struct sp_peer *peer;
		struct pop3_client *c = NULL;
		struct pv_error err;
		assert_int_equal(connect_pair(script, &peer, "localhost", cas[i], false,
					      POP3_TLS_IMPLICIT, &c, &err), PV_ERR);
		assert_non_null(strstr(err.msg, "not accepted"));
		print_message("# %s\n", err.msg);
		finish(&peer);
		assert_false(t.accepted);
		tls_srv_free(&t);
	}
}

static void test_tls_insecure_accepts_but_reports_unverified(void **state)
{
	(void)state;
	struct tls_srv t = {.cert = "wrong"};
	const struct sp_step script[] = {SP_CALL(tls_accept, &t), GREET_CAPA, SP_END};
	struct sp_peer *peer;
	struct pop3_client *c = NULL;
	struct pv_error err;
	if (connect_pair(script, &peer, "localhost", "other.pem", true, POP3_TLS_IMPLICIT, &c,
			 &err) != 0)
		fail_msg("connect: %s", err.msg);
	assert_true(pop3_tls(c)->active);
	assert_false(pop3_tls(c)->verified);
	pop3_client_free(&c);
	finish(&peer);
	tls_srv_free(&t);
}

/* Reads what the client sends over TLS until it closes; anything at all
 * fails the script, with the first line shown. */
static int tls_expect_eof(struct sp_peer *p, void *arg)
{
	struct tls_srv *t = arg;
	char buf[256];
	size_t got = 0;
	if (SSL_read_ex(t->ssl, buf, sizeof(buf) - 1, &got) == 1 && got > 0) {
		buf[got] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
		return sp_fail(p, "client sent \"%s\" instead of closing", buf);
	}
	ERR_clear_error();
	return 0;
}

/* The client must start SCRAM-SHA-256 (its nonce is random); the peer
 * then hangs up. */
static int tls_expect_scram(struct sp_peer *p, void *arg)
{
	char line[1024];
	size_t len;
	(void)arg;
	if (sp_read_line(p, line, sizeof(line), &len) < 0)
		return sp_fail(p, "client closed instead of starting SCRAM");
	if (strncmp(line, "AUTH SCRAM-SHA-256 ", 19) != 0)
		return sp_fail(p, "client sent \"%.60s\" instead of AUTH SCRAM-SHA-256", line);
	return 0;
}

/* Issue 16 finding 7: over TLS whose certificate is not verified
 * (--insecure-skip-verify) anyone in the path may be the server, so auto
 * must not hand it the password (PASS, AUTH PLAIN, AUTH LOGIN): only an
 * explicit --auth sends it there, as in clear text. */
static void test_auto_over_unverified_tls_sends_no_password(void **state)
{
	(void)state;
	const char *capas[] = {"+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n", "+OK\r\nUSER\r\n.\r\n",
			       "+OK\r\nSASL LOGIN\r\n.\r\n"};
	for (size_t i = 0; i < sizeof(capas) / sizeof(capas[0]); i++) {
		struct tls_srv t = {.cert = "wrong"};
		const struct sp_step script[] = {
			SP_CALL(tls_accept, &t), SP_SEND("+OK ready\r\n"), SP_EXPECT("CAPA\r\n"),
			{SP_OP_SEND, capas[i], strlen(capas[i]), NULL, NULL},
			SP_CALL(tls_expect_eof, &t), SP_END};
		struct sp_peer *peer;
		struct pop3_client *c = NULL;
		struct pv_error err;
		struct pop3_auth a = {POP3_AUTH_AUTO, "alice", "secret", NULL};
		if (connect_pair(script, &peer, "localhost", NULL, true, POP3_TLS_IMPLICIT, &c,
				 &err) != 0)
			fail_msg("connect: %s", err.msg);
		assert_false(pop3_tls(c)->verified);
		assert_int_equal(pop3_login(c, &a, &err), PV_ERR);
		print_message("# %s\n", err.msg);
		assert_non_null(strstr(err.msg, "--auth"));
		assert_non_null(strstr(err.msg, "not verified"));
		pop3_client_free(&c);
		finish(&peer);
		tls_srv_free(&t);
	}
}

/* The same server with its certificate verified: auto uses PLAIN. And
 * unverified, a mechanism that does not reveal the password (SCRAM) is
 * still chosen by auto; an explicit --auth plain is obeyed. */
static void test_unverified_tls_auto_scram_and_explicit_plain(void **state)
{
	(void)state;
	struct tls_srv t = {.cert = "wrong"}, t2 = {.cert = "wrong"};
	const struct sp_step script[] = {
		SP_CALL(tls_accept, &t), SP_SEND("+OK ready\r\n"), SP_EXPECT("CAPA\r\n"),
		SP_SEND("+OK\r\nUSER\r\nSASL PLAIN SCRAM-SHA-256\r\n.\r\n"),
		SP_CALL(tls_expect_scram, &t), SP_END};
	const struct sp_step script2[] = {
		SP_CALL(tls_accept, &t2), GREET_CAPA,
		SP_EXPECT("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"), SP_SEND("+OK\r\n"),
		SP_EXPECT("CAPA\r\n"), SP_SEND("+OK\r\n.\r\n"), SP_END};
	struct sp_peer *peer;
	struct pop3_client *c = NULL;
	struct pv_error err;
	struct pop3_auth a = {POP3_AUTH_AUTO, "alice", "secret", NULL};
	if (connect_pair(script, &peer, "localhost", NULL, true, POP3_TLS_IMPLICIT, &c, &err) != 0)
		fail_msg("connect: %s", err.msg);
	assert_int_not_equal(pop3_login(c, &a, &err), 0); /* the peer cancels SCRAM */
	pop3_client_free(&c);
	finish(&peer);
	tls_srv_free(&t);

	a.mode = POP3_AUTH_PLAIN;
	if (connect_pair(script2, &peer, "localhost", NULL, true, POP3_TLS_IMPLICIT, &c, &err) != 0)
		fail_msg("connect: %s", err.msg);
	if (pop3_login(c, &a, &err) != 0)
		fail_msg("login: %s", err.msg);
	assert_int_equal(pop3_auth_used(c), POP3_AUTH_PLAIN);
	pop3_client_free(&c);
	finish(&peer);
	tls_srv_free(&t2);
}

static void test_tls_below_1_2_refused(void **state)
{
	(void)state;
	struct tls_srv t = {.cert = "good", .max_version = TLS1_1_VERSION};
	const struct sp_step script[] = {SP_CALL(tls_accept, &t), SP_END};
	struct sp_peer *peer;
	struct pop3_client *c = NULL;
	struct pv_error err;
	assert_int_equal(connect_pair(script, &peer, "localhost", "ca.pem", false, POP3_TLS_IMPLICIT,
				      &c, &err), PV_ERR);
	print_message("# %s\n", err.msg);
	finish(&peer);
	assert_false(t.accepted);
	tls_srv_free(&t);
}

static void test_stls_upgrade_forgets_clear_capa(void **state)
{
	(void)state;
	/* In clear the server offers no SASL; after STLS it does. The
	 * capabilities seen in clear must be forgotten (RFC 2595 §4). */
	struct tls_srv t = {.cert = "good"};
	const struct sp_step script[] = {
		SP_SEND("+OK ready\r\n"), SP_EXPECT("CAPA\r\n"),
		SP_SEND("+OK\r\nSTLS\r\nPIPELINING\r\nEXPIRE NEVER\r\n.\r\n"),
		SP_EXPECT("STLS\r\n"), SP_SEND("+OK Begin TLS negotiation now.\r\n"),
		SP_CALL(tls_accept, &t), SP_EXPECT("CAPA\r\n"),
		SP_SEND("+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n"),
		SP_EXPECT("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"), SP_SEND("+OK\r\n"),
		SP_EXPECT("CAPA\r\n"), SP_SEND("+OK\r\n.\r\n"), SP_END};
	struct sp_peer *peer;
	struct pop3_client *c = NULL;
	struct pv_error err;
	struct pop3_auth a = {POP3_AUTH_AUTO, "alice", "secret", NULL};
	if (connect_pair(script, &peer, "localhost", "ca.pem", false, POP3_TLS_STARTTLS, &c, &err) != 0)
		fail_msg("connect: %s", err.msg);
	assert_true(pop3_tls(c)->verified);
	assert_false(pop3_caps(c)->pipelining);
	assert_false(pop3_caps(c)->expire);
	assert_true(pop3_caps(c)->sasl & POP3_SASL_PLAIN);
	if (pop3_login(c, &a, &err) != 0)
		fail_msg("login: %s", err.msg);
	pop3_client_free(&c);
	finish(&peer);
	tls_srv_free(&t);
}

static void test_stls_bad_cert_never_sends_credentials(void **state)
{
	(void)state;
	struct tls_srv t = {.cert = "wrong"};
	const struct sp_step script[] = {
		SP_SEND("+OK ready\r\n"), SP_EXPECT("CAPA\r\n"), SP_SEND("+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
		SP_EXPECT("STLS\r\n"), SP_SEND("+OK\r\n"), SP_CALL(tls_accept, &t), SP_END};
	struct sp_peer *peer;
	struct pop3_client *c = NULL;
	struct pv_error err;
	assert_int_equal(connect_pair(script, &peer, "localhost", "ca.pem", false, POP3_TLS_STARTTLS,
				      &c, &err), PV_ERR);
	assert_null(c);
	finish(&peer);
	tls_srv_free(&t);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_good_cert_accepted_over_tcp),
		cmocka_unit_test(test_tls_ip_address_verified),
		cmocka_unit_test(test_tls_hostname_mismatch_rejected),
		cmocka_unit_test(test_tls_unknown_ca_rejected),
		cmocka_unit_test(test_tls_insecure_accepts_but_reports_unverified),
		cmocka_unit_test(test_tls_below_1_2_refused),
		cmocka_unit_test(test_auto_over_unverified_tls_sends_no_password),
		cmocka_unit_test(test_unverified_tls_auto_scram_and_explicit_plain),
		cmocka_unit_test(test_stls_upgrade_forgets_clear_capa),
		cmocka_unit_test(test_stls_bad_cert_never_sends_credentials),
	};
	return cmocka_run_group_tests_name("pop3_tls", tests, make_certs, remove_certs);
}
