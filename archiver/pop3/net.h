#ifndef PV_POP3_NET_H
#define PV_POP3_NET_H

/* Transport under the POP3 client: a TCP connection (optionally TLS, via
 * OpenSSL 3) with one fixed read buffer, bounded line reads and timeouts.
 * Nothing here knows POP3 beyond "lines end in LF". The socket is
 * non-blocking; every wait is a poll() bounded by io_timeout_ms without
 * progress, by the session's deadline, and, while waiting to read, by a
 * minimum rate (pop3_net_limits). Writes never raise SIGPIPE
 * (MSG_NOSIGNAL, for TLS too). */

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"

struct pop3_tls_opts {
	const char *host;    /* name to verify (RFC 9525) and send as SNI */
	const char *ca_file; /* PEM bundle; NULL: the system store */
	bool insecure;       /* no chain or name verification at all */
};

struct pop3_tls_info {
	bool active;
	bool verified; /* chain and host name verified */
	char version[16];
	char cipher[64];
};

struct pop3_net {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int io_timeout_ms;
	int64_t deadline_ms;    /* monotonic end of the session; 0: none */
	uint32_t min_rate;      /* bytes/s while waiting to read; 0: none */
	int64_t rate_waited_ms; /* waiting to read since the window began */
	uint64_t rate_bytes;    /* bytes read since the window began */
	bool out_of_time;       /* a wait failed on the deadline or the rate */
	bool eof;
	size_t start, end; /* unread bytes are buf[start..end) */
	unsigned char buf[PV_POP3_READ_BUF];
};

/* Resolves host (getaddrinfo) and connects to the first address that
 * answers within timeout_ms overall. *fd_r is a non-blocking socket. */
int pop3_net_connect(const char *host, uint16_t port, int timeout_ms,
		     int *fd_r, struct pv_error *err);

/* Takes ownership of a connected socket. */
void pop3_net_init(struct pop3_net *n, int fd, int io_timeout_ms);

/* Limits on a slow or endless peer (issue 16, finding 4):
 * - deadline_ms (monotonic, 0: none): no wait goes past it; the call
 *   that would fails with PV_ETEMP ("session time limit").
 * - min_rate (bytes/s, 0: none): each time the connection has spent
 *   io_timeout_ms waiting to read (counted from the last write: a
 *   command's reply may take thinking time), at least
 *   min_rate * io_timeout_ms / 1000 bytes must have arrived meanwhile,
 *   or the read fails with PV_ETEMP ("server too slow"). A peer sending
 *   one byte just before each read timeout is cut after one window.
 * Either failure sets n->out_of_time. */
void pop3_net_limits(struct pop3_net *n, int64_t deadline_ms, uint32_t min_rate);

/* Closes at once: no TLS close_notify, nothing more on the wire. */
void pop3_net_close(struct pop3_net *n);

/* TLS handshake (>= TLS 1.2) on the connection. Fails with PV_EPROTO if
 * any received bytes are still unread: after STLS they would be plaintext
 * an attacker injected before the handshake (RFC 2595 §4, CVE-2011-0411
 * class). Certificate problems fail with PV_ERR naming the reason. */
int pop3_net_start_tls(struct pop3_net *n, const struct pop3_tls_opts *o,
		       struct pop3_tls_info *info_r, struct pv_error *err);

/* Reads what is available (waiting up to the timeout) into the buffer.
 * Returns the number of new bytes, 0 at end of stream, or negative. */
int pop3_net_fill(struct pop3_net *n, struct pv_error *err);

/* Unread bytes in the buffer. */
static inline size_t pop3_net_buffered(const struct pop3_net *n)
{
	return n->end - n->start;
}

/* Reads one line into out, without its LF or CRLF, NUL-terminated. The
 * line including its line end may be at most max bytes; out holds max.
 * *bare_lf_r (may be NULL): it ended in LF without CR. PV_ELIMIT when
 * longer (the stream is then out of step), PV_EPROTO when the stream
 * ends first. */
int pop3_net_read_line(struct pop3_net *n, char *out, size_t max,
		       size_t *len_r, bool *bare_lf_r, struct pv_error *err);

/* Writes all of d. */
int pop3_net_write(struct pop3_net *n, const void *d, size_t len,
		   struct pv_error *err);

#endif
