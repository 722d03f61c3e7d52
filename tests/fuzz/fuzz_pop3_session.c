/* libFuzzer target: a whole POP3 session of the harvester's client
 * (archiver/pop3/pop3.h) against a hostile server (issue 16, "Fuzzing
 * that lasts"). The first two input bytes choose the session (TLS mode,
 * auth mode, size cap); the rest is everything the server sends, written
 * into the server's end of a socketpair before the client starts, then
 * EOF. The client connects, logs in, lists, RETRs every listed message
 * (at most MSGS_MAX) pipelined, DELEs those that arrived whole, QUITs.
 *
 * Besides crashes, leaks and undefined behaviour, it checks what matters:
 * - nothing but CAPA and STLS is sent in clear when STLS was required,
 *   and no TLS session comes up (no input can complete a handshake);
 * - SCRAM never succeeds (the server's proof cannot be forged);
 * - in auto mode without TLS the password goes out in no form (itself,
 *   base64, the PLAIN blob);
 * - a message's sink never gets more than the cap, its completion fires
 *   once, in order, and says complete only when every byte arrived;
 * - DELE goes out only for messages that arrived whole (what the
 *   harvest would have committed). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/random.h"
#include "archiver/pop3/pop3.h"

#define MSGS_MAX 16
/* What the server sends must fit the socketpair's buffer (written before
 * the client runs, single-threaded). */
#define STREAM_MAX (64 * 1024)

static const char PASSWORD[] = "s3cret-Pw!";
/* base64 of the password, and of PLAIN's "\0alice\0s3cret-Pw!". */
static const char PASSWORD_B64[] = "czNjcmV0LVB3IQ==";
static const char PLAIN_B64[] = "AGFsaWNlAHMzY3JldC1QdyE=";

struct run {
	uint64_t cap;
	uint32_t nums[MSGS_MAX];
	size_t n;
	size_t next_done;    /* the message whose reply is being read */
	bool begun[MSGS_MAX];
	uint64_t got[MSGS_MAX];
	bool whole[MSGS_MAX];
};

static int on_begin(void *ctx, uint32_t msgnum, const struct pop3_retr_result *res)
{
	struct run *r = ctx;
	size_t i = r->next_done;
	(void)res;
	/* Replies are taken in the order the RETRs went out. */
	if (i >= r->n || r->nums[i] != msgnum || r->begun[i])
		abort();
	r->begun[i] = true;
	return 0;
}

static int on_data(void *ctx, uint32_t msgnum, const unsigned char *d, size_t len)
{
	struct run *r = ctx;
	size_t i = r->next_done;
	(void)d;
	if (i >= r->n || !r->begun[i] || r->nums[i] != msgnum || len == 0)
		abort();
	r->got[i] += len;
	if (r->got[i] > r->cap)
		abort(); /* the sink never exceeds the cap */
	return 0;
}

static int on_done(void *ctx, const struct pop3_retr_result *res, const struct pv_error *err)
{
	struct run *r = ctx;
	size_t i = r->next_done;
	/* Once per message, in order. */
	if (i >= r->n || r->nums[i] != res->msgnum)
		abort();
	r->next_done++;
	if (res->complete != (err == NULL) || res->bytes > r->cap ||
	    res->bytes != (r->begun[i] ? r->got[i] : 0) ||
	    (res->complete && (res->status != 0 || !res->retrieved || !r->begun[i])) ||
	    res->crlf_bytes < res->bytes)
		abort();
	r->whole[i] = res->complete;
	return 0;
}

/* True when hay[0..n) contains the NUL-terminated needle. */
static bool has(const unsigned char *hay, size_t n, const char *needle)
{
	return n > 0 && memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* What the client sent, read from the server's end after it closed. */
static void drain(int fd, struct pv_buf *out)
{
	unsigned char buf[4096];
	for (;;) {
		ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (k <= 0)
			break;
		(void)pv_buf_append(out, buf, (size_t)k, NULL);
	}
}

/* With STLS required, the client's clear text is CAPA and STLS lines,
 * then at most a TLS record (binary). */
static void check_clear_text(const unsigned char *o, size_t n)
{
	size_t i = 0;
	while (i < n && o[i] >= 0x20 && o[i] < 0x7f) {
		const unsigned char *crlf = memmem(o + i, n - i, "\r\n", 2);
		if (crlf == NULL)
			abort(); /* a command is always sent whole */
		size_t len = (size_t)(crlf - (o + i));
		if (!(len == 4 && memcmp(o + i, "CAPA", 4) == 0) &&
		    !(len == 4 && memcmp(o + i, "STLS", 4) == 0))
			abort();
		i += len + 2;
	}
	if (i < n && o[i] != 0x16) /* TLS handshake record */
		abort();
}

/* Every "DELE n" line the client sent names a message that arrived whole. */
static void check_deles(const unsigned char *o, size_t n, const struct run *r, bool dele_sent)
{
	if (n == 0)
		return;
	const unsigned char *p = o, *end = o + n;
	while (p < end && (p = memmem(p, (size_t)(end - p), "DELE ", 5)) != NULL) {
		if (p == o || p[-1] == '\n') {
			if (!dele_sent)
				abort();
			unsigned long v = strtoul((const char *)p + 5, NULL, 10);
			bool ok = false;
			for (size_t i = 0; i < r->n; i++)
				ok = ok || (r->nums[i] == v && r->whole[i]);
			if (!ok)
				abort();
		}
		p += 5;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum pop3_tls_mode tls_modes[4] = {POP3_TLS_NONE, POP3_TLS_STARTTLS,
							POP3_TLS_IMPLICIT, POP3_TLS_NONE};
	static const enum pop3_auth_mode auth_modes[] = {
		POP3_AUTH_AUTO,     POP3_AUTH_USER,          POP3_AUTH_APOP,
		POP3_AUTH_PLAIN,    POP3_AUTH_LOGIN,         POP3_AUTH_CRAM_MD5,
		POP3_AUTH_SCRAM_SHA_256, POP3_AUTH_XOAUTH2, POP3_AUTH_AUTO};
	static const unsigned char seed[32] = {1};
	if (size < 2)
		return 0;
	enum pop3_tls_mode tls = tls_modes[data[0] & 3];
	enum pop3_auth_mode mode = auth_modes[(data[0] >> 2) % (sizeof(auth_modes) /
								 sizeof(auth_modes[0]))];
	struct run r = {.cap = 1 + (uint64_t)data[1] * 37};
	const uint8_t *stream = data + 2;
	size_t len = size - 2 < STREAM_MAX ? size - 2 : STREAM_MAX;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (len > 0 && send(sv[0], stream, len, MSG_NOSIGNAL) != (ssize_t)len)
		abort();
	shutdown(sv[0], SHUT_WR);
	pv_random_seed_for_tests(seed); /* the SCRAM nonce: reproducible runs */

	/* insecure: no CA store to load on every run; no input can finish a
	 * TLS handshake either way. */
	struct pop3_config cfg = {.host = "pop.test", .tls = tls, .insecure = true,
				  .io_timeout_ms = 200, .session_timeout_ms = 2000};
	struct pop3_client *c = NULL;
	struct pv_error err;
	bool dele_sent = false;
	if (pop3_connect_fd(sv[1], &cfg, &c, &err) == 0) {
		if (tls != POP3_TLS_NONE || pop3_tls(c)->active)
			abort();
		struct pop3_auth a = {mode, "alice", PASSWORD, NULL};
		int lr = pop3_login(c, &a, &err);
		if (lr == 0 && pop3_auth_used(c) == POP3_AUTH_SCRAM_SHA_256)
			abort(); /* accepted without the server's proof */
		struct pop3_mailbox *mb = NULL;
		if (lr == 0 && pop3_scan(c, &mb, &err) == 0) {
			if (mb->count > PV_POP3_MAILBOX_MAX_MESSAGES)
				abort();
			for (size_t i = 0; i < mb->count && r.n < MSGS_MAX; i++)
				r.nums[r.n++] = mb->msgs[i].num;
			struct pop3_retr_handler h = {on_begin, on_data, on_done, &r};
			int rr = pop3_retr_many(c, r.nums, r.n, r.cap, &h, &err);
			if (rr == 0 && (r.next_done != r.n || !pop3_alive(c)))
				abort(); /* every message reached gets its done */
			uint32_t del[MSGS_MAX];
			int st[MSGS_MAX];
			size_t nd = 0;
			for (size_t i = 0; i < r.next_done; i++)
				if (r.whole[i])
					del[nd++] = r.nums[i];
			if (rr == 0 && nd > 0) {
				dele_sent = true;
				(void)pop3_dele_many(c, del, nd, st, &err);
			}
		}
		pop3_mailbox_free(&mb);
		(void)pop3_quit(c, &err);
	}
	pop3_client_free(&c);

	struct pv_buf out;
	pv_buf_init(&out, 16u << 20);
	drain(sv[0], &out);
	close(sv[0]);
	if (tls == POP3_TLS_STARTTLS)
		check_clear_text(out.data, out.len);
	if (tls == POP3_TLS_IMPLICIT && out.len > 0 && out.data[0] != 0x16)
		abort(); /* nothing before the TLS handshake */
	if ((mode == POP3_AUTH_AUTO || tls != POP3_TLS_NONE) &&
	    (has(out.data, out.len, PASSWORD) || has(out.data, out.len, PASSWORD_B64) ||
	     has(out.data, out.len, PLAIN_B64)))
		abort(); /* a secret in clear */
	check_deles(out.data, out.len, &r, dele_sent);
	pv_buf_free(&out);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}
