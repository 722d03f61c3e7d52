#include "archiver/pop3/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "archiver/lib/clock.h"

/* Waits for events on fd until deadline (monotonic ms). */
static int wait_fd(int fd, short events, int64_t deadline, const char *what,
		   struct pv_error *err)
{
	for (;;) {
		int64_t left = deadline - pv_clock_monotonic_ms();
		if (left <= 0)
			return pv_fail(err, PV_ETEMP, "timeout while %s", what);
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return PV_OK; /* errors and hangups surface at the I/O call */
		if (r < 0 && errno != EINTR)
			return pv_fail(err, PV_ERR, "poll: %s", strerror(errno));
	}
}

static int64_t deadline_in(int ms)
{
	return pv_clock_monotonic_ms() + ms;
}

int pop3_net_connect(const char *host, uint16_t port, int timeout_ms,
		     int *fd_r, struct pv_error *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char service[8];
	int64_t deadline = deadline_in(timeout_ms);

	snprintf(service, sizeof(service), "%u", (unsigned)port);
	int g = getaddrinfo(host, service, &hints, &res);
	if (g != 0)
		return pv_fail(err, PV_ETEMP, "resolve %s: %s", host, gai_strerror(g));
	int r = pv_fail(err, PV_ETEMP, "connect %s:%u: no address", host, (unsigned)port);
	for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				a->ai_protocol);
		if (fd < 0) {
			r = pv_fail(err, PV_ERR, "socket: %s", strerror(errno));
			continue;
		}
		int e = 0;
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			e = errno;
			if (e == EINPROGRESS &&
			    wait_fd(fd, POLLOUT, deadline, "connecting", NULL) == 0) {
				socklen_t el = sizeof(e);
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
					e = errno;
			} else if (e == EINPROGRESS) {
				e = ETIMEDOUT;
			}
		}
		if (e == 0) {
			int one = 1;
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			*fd_r = fd;
			freeaddrinfo(res);
			return PV_OK;
		}
		close(fd);
		r = pv_fail(err, PV_ETEMP, "connect %s:%u: %s", host, (unsigned)port,
			    strerror(e));
		if (pv_clock_monotonic_ms() >= deadline)
			break;
	}
	freeaddrinfo(res);
	return r;
}

void pop3_net_init(struct pop3_net *n, int fd, int io_timeout_ms)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	n->fd = fd;
	n->ctx = NULL;
	n->ssl = NULL;
	n->io_timeout_ms = io_timeout_ms;
	n->deadline_ms = 0;
	n->min_rate = 0;
	n->rate_waited_ms = 0;
	n->rate_bytes = 0;
	n->out_of_time = false;
	n->eof = false;
	n->start = n->end = 0;
}

void pop3_net_limits(struct pop3_net *n, int64_t deadline_ms, uint32_t min_rate)
{
	n->deadline_ms = deadline_ms;
	n->min_rate = min_rate;
}

/* Waits for events on the connection until io_deadline, the session's
 * deadline, or (reading) the end of the rate window, whichever is first;
 * see pop3_net_limits. */
static int net_wait(struct pop3_net *n, short events, int64_t io_deadline, const char *what,
		    struct pv_error *err)
{
	bool rated = (events & POLLIN) && n->min_rate > 0;
	for (;;) {
		int64_t now = pv_clock_monotonic_ms();
		if (n->deadline_ms > 0 && now >= n->deadline_ms) {
			n->out_of_time = true;
			return pv_fail(err, PV_ETEMP, "session time limit reached while %s", what);
		}
		if (now >= io_deadline) /* silence is a timeout, not slowness */
			return pv_fail(err, PV_ETEMP, "timeout while %s", what);
		if (rated && n->rate_waited_ms >= n->io_timeout_ms) {
			/* bytes/s over the window, in integers: bytes * 1000 / ms */
			if (n->rate_bytes * 1000 < (uint64_t)n->min_rate * (uint64_t)n->rate_waited_ms) {
				n->out_of_time = true;
				return pv_fail(err, PV_ETEMP, "server too slow while %s: %llu bytes in %lld s "
					       "of waiting (at least %u bytes/s wanted)", what,
					       (unsigned long long)n->rate_bytes,
					       (long long)(n->rate_waited_ms / 1000), n->min_rate);
			}
			n->rate_waited_ms = 0;
			n->rate_bytes = 0;
		}
		int64_t until = io_deadline;
		if (n->deadline_ms > 0 && n->deadline_ms < until)
			until = n->deadline_ms;
		if (rated && now + (n->io_timeout_ms - n->rate_waited_ms) < until)
			until = now + (n->io_timeout_ms - n->rate_waited_ms);
		int64_t left = until - now;
		struct pollfd p = {.fd = n->fd, .events = events};
		int r = poll(&p, 1, left > 60000 ? 60000 : left < 1 ? 1 : (int)left);
		if (rated)
			n->rate_waited_ms += pv_clock_monotonic_ms() - now;
		if (r > 0)
			return PV_OK; /* errors and hangups surface at the I/O call */
		if (r < 0 && errno != EINTR)
			return pv_fail(err, PV_ERR, "poll: %s", strerror(errno));
	}
}

void pop3_net_close(struct pop3_net *n)
{
	SSL_free(n->ssl);
	SSL_CTX_free(n->ctx);
	n->ssl = NULL;
	n->ctx = NULL;
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
	n->start = n->end = 0;
	n->eof = true;
}

/* ---- a socket BIO that writes with MSG_NOSIGNAL ---- */

static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_fd(BIO *b)
{
	return (int)(intptr_t)BIO_get_data(b);
}

static int nosig_write(BIO *b, const char *d, int len)
{
	BIO_clear_retry_flags(b);
	ssize_t r = send(nosig_fd(b), d, (size_t)len, MSG_NOSIGNAL);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)r;
}

static int nosig_read(BIO *b, char *d, int len)
{
	BIO_clear_retry_flags(b);
	ssize_t r = recv(nosig_fd(b), d, (size_t)len, 0);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)r;
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int nosig_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void nosig_make(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				     "popvault socket");
	if (m != NULL && BIO_meth_set_write(m, nosig_write) == 1 &&
	    BIO_meth_set_read(m, nosig_read) == 1 &&
	    BIO_meth_set_ctrl(m, nosig_ctrl) == 1 &&
	    BIO_meth_set_create(m, nosig_create) == 1) {
		nosig_method = m;
		return;
	}
	BIO_meth_free(m);
}

/* ---- TLS ---- */

static int ssl_fail(struct pv_error *err, int code, const char *what)
{
	char msg[256] = "unknown error";
	unsigned long e = ERR_peek_last_error();
	if (e != 0)
		ERR_error_string_n(e, msg, sizeof(msg));
	ERR_clear_error();
	return pv_fail(err, code, "%s: %s", what, msg);
}

/* After an SSL call returned ret on the non-blocking socket: waits when
 * it wants I/O and returns 1 (retry), returns 0 for a hard TLS error, or a
 * negative status when the wait itself failed (timeout). */
static int ssl_wait(struct pop3_net *n, int ret, int64_t deadline,
		    const char *what, struct pv_error *err)
{
	int e = SSL_get_error(n->ssl, ret);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		int r = net_wait(n, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, what,
				 err);
		return r < 0 ? r : 1;
	}
	return 0;
}

int pop3_net_start_tls(struct pop3_net *n, const struct pop3_tls_opts *o,
		       struct pop3_tls_info *info_r, struct pv_error *err)
{
	struct in6_addr ip;
	bool is_ip = inet_pton(AF_INET, o->host, &ip) == 1 ||
		     inet_pton(AF_INET6, o->host, &ip) == 1;

	memset(info_r, 0, sizeof(*info_r));
	if (pop3_net_buffered(n) > 0)
		return pv_fail(err, PV_EPROTO,
			       "%zu bytes arrived before the TLS handshake (injection?)",
			       pop3_net_buffered(n));
	if (n->ssl != NULL)
		return pv_fail(err, PV_ERR, "TLS already active");
	pthread_once(&nosig_once, nosig_make);
	if (nosig_method == NULL)
		return pv_fail(err, PV_ERR, "TLS: cannot create the socket BIO");
	ERR_clear_error();
	n->ctx = SSL_CTX_new(TLS_client_method());
	if (n->ctx == NULL)
		return ssl_fail(err, PV_ERR, "TLS context");
	/* RFC 8314 §4.1 / RFC 8996: TLS 1.2 or later. */
	if (SSL_CTX_set_min_proto_version(n->ctx, TLS1_2_VERSION) != 1)
		return ssl_fail(err, PV_ERR, "TLS minimum version");
	SSL_CTX_set_mode(n->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Servers send small records (Dovecot: 4 KiB of mail each); without
	 * read-ahead OpenSSL reads each in two recv calls (header, body).
	 * With it, one recv takes whatever has arrived, up to the buffer. */
	SSL_CTX_set_read_ahead(n->ctx, 1);
	SSL_CTX_set_default_read_buffer_len(n->ctx, PV_POP3_READ_BUF);
	if (!o->insecure) {
		SSL_CTX_set_verify(n->ctx, SSL_VERIFY_PEER, NULL);
		int ok = o->ca_file != NULL
				 ? SSL_CTX_load_verify_locations(n->ctx, o->ca_file, NULL)
				 : SSL_CTX_set_default_verify_paths(n->ctx);
		if (ok != 1 && o->ca_file != NULL && access(o->ca_file, R_OK) != 0)
			return pv_fail(err, PV_ERR, "TLS: cannot read the CA file %.200s: %s",
				       o->ca_file, strerror(errno));
		if (ok != 1)
			return ssl_fail(err, PV_ERR, o->ca_file != NULL
						     ? "TLS: cannot load the CA file"
						     : "TLS: cannot load the system CA store");
	} else {
		SSL_CTX_set_verify(n->ctx, SSL_VERIFY_NONE, NULL);
	}
	n->ssl = SSL_new(n->ctx);
	BIO *bio = n->ssl != NULL ? BIO_new(nosig_method) : NULL;
	if (bio == NULL)
		return ssl_fail(err, PV_ERR, "TLS session");
	BIO_set_data(bio, (void *)(intptr_t)n->fd);
	SSL_set_bio(n->ssl, bio, bio);
	/* RFC 6066 §3: SNI carries DNS names only. */
	if (!is_ip && SSL_set_tlsext_host_name(n->ssl, o->host) != 1)
		return ssl_fail(err, PV_ERR, "TLS: SNI");
	if (!o->insecure) {
		/* RFC 9525: match the reference identity against the SAN. */
		int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(n->ssl), o->host)
			       : SSL_set1_host(n->ssl, o->host);
		if (ok != 1)
			return ssl_fail(err, PV_ERR, "TLS: host name to verify");
		SSL_set_hostflags(n->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	int64_t deadline = deadline_in(n->io_timeout_ms);
	for (;;) {
		ERR_clear_error();
		int ret = SSL_connect(n->ssl);
		if (ret == 1)
			break;
		int w = ssl_wait(n, ret, deadline, "in the TLS handshake", err);
		if (w == 1)
			continue;
		if (w < 0)
			return w;
		long v = SSL_get_verify_result(n->ssl);
		if (!o->insecure && v != X509_V_OK)
			return pv_fail(err, PV_ERR, "TLS: certificate of %s not accepted: %s",
				       o->host, X509_verify_cert_error_string(v));
		return ssl_fail(err, PV_ERR, "TLS handshake");
	}
	if (!o->insecure && SSL_get_verify_result(n->ssl) != X509_V_OK)
		return pv_fail(err, PV_ERR, "TLS: certificate not verified"); /* belt and braces */
	info_r->active = true;
	info_r->verified = !o->insecure;
	snprintf(info_r->version, sizeof(info_r->version), "%s", SSL_get_version(n->ssl));
	snprintf(info_r->cipher, sizeof(info_r->cipher), "%s",
		 SSL_CIPHER_get_name(SSL_get_current_cipher(n->ssl)));
	return PV_OK;
}

/* ---- reading and writing ---- */

int pop3_net_fill(struct pop3_net *n, struct pv_error *err)
{
	if (n->fd < 0)
		return pv_fail(err, PV_EPROTO, "connection is closed");
	if (n->start == n->end)
		n->start = n->end = 0;
	if (n->end == sizeof(n->buf)) {
		if (n->start == 0)
			return pv_fail(err, PV_ELIMIT, "read buffer full");
		memmove(n->buf, n->buf + n->start, n->end - n->start);
		n->end -= n->start;
		n->start = 0;
	}
	if (n->eof)
		return 0;
	size_t room = sizeof(n->buf) - n->end;
	int64_t deadline = deadline_in(n->io_timeout_ms);
	for (;;) {
		if (n->ssl != NULL) {
			size_t got = 0;
			ERR_clear_error();
			int ret = SSL_read_ex(n->ssl, n->buf + n->end, room, &got);
			if (ret == 1) {
				n->end += got;
				n->rate_bytes += got;
				return (int)got;
			}
			int e = SSL_get_error(n->ssl, ret);
			if (e == SSL_ERROR_ZERO_RETURN ||
			    (e == SSL_ERROR_SYSCALL && errno == 0) ||
			    (e == SSL_ERROR_SSL &&
			     ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
				/* A peer closing without close_notify is still
				 * an end: the POP3 terminator says whether a
				 * reply was whole, not TLS. */
				ERR_clear_error();
				n->eof = true;
				return 0;
			}
			int w = ssl_wait(n, ret, deadline, "reading", err);
			if (w == 1)
				continue;
			if (w < 0)
				return w;
			return ssl_fail(err, PV_ETEMP, "TLS read");
		}
		ssize_t r = recv(n->fd, n->buf + n->end, room, 0);
		if (r > 0) {
			n->end += (size_t)r;
			n->rate_bytes += (uint64_t)r;
			return (int)r;
		}
		if (r == 0) {
			n->eof = true;
			return 0;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			int w = net_wait(n, POLLIN, deadline, "reading", err);
			if (w < 0)
				return w;
			continue;
		}
		return pv_fail(err, PV_ETEMP, "read: %s", strerror(errno));
	}
}

int pop3_net_read_line(struct pop3_net *n, char *out, size_t max,
		       size_t *len_r, bool *bare_lf_r, struct pv_error *err)
{
	size_t len = 0;
	for (;;) {
		size_t avail = n->end - n->start;
		const unsigned char *p = n->buf + n->start;
		const unsigned char *lf = memchr(p, '\n', avail);
		size_t take = lf != NULL ? (size_t)(lf - p) + 1 : avail;
		if (len + take > max)
			return pv_fail(err, PV_ELIMIT, "line longer than %zu bytes", max);
		memcpy(out + len, p, take);
		len += take;
		n->start += take;
		if (lf != NULL)
			break;
		int r = pop3_net_fill(n, err);
		if (r < 0)
			return r;
		if (r == 0)
			return pv_fail(err, PV_EPROTO, len > 0
						       ? "connection closed in the middle of a line"
						       : "connection closed by the server");
	}
	len--; /* the LF */
	bool cr = len > 0 && out[len - 1] == '\r';
	if (cr)
		len--;
	if (bare_lf_r != NULL)
		*bare_lf_r = !cr;
	out[len] = '\0';
	*len_r = len;
	return PV_OK;
}

int pop3_net_write(struct pop3_net *n, const void *d, size_t len,
		   struct pv_error *err)
{
	const unsigned char *p = d;
	int64_t deadline = deadline_in(n->io_timeout_ms);
	if (n->fd < 0)
		return pv_fail(err, PV_EPROTO, "connection is closed");
	/* A new command: its reply may take thinking time again. */
	n->rate_waited_ms = 0;
	n->rate_bytes = 0;
	while (len > 0) {
		if (n->ssl != NULL) {
			size_t put = 0;
			ERR_clear_error();
			int ret = SSL_write_ex(n->ssl, p, len, &put);
			if (ret == 1) {
				p += put;
				len -= put;
				continue;
			}
			int w = ssl_wait(n, ret, deadline, "writing", err);
			if (w == 1)
				continue;
			if (w < 0)
				return w;
			return ssl_fail(err, PV_ETEMP, "TLS write");
		}
		ssize_t r = send(n->fd, p, len, MSG_NOSIGNAL);
		if (r > 0) {
			p += r;
			len -= (size_t)r;
		} else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			int w = net_wait(n, POLLOUT, deadline, "writing", err);
			if (w < 0)
				return w;
		} else {
			return pv_fail(err, PV_ETEMP, "write: %s", r < 0 ? strerror(errno) : "closed");
		}
	}
	return PV_OK;
}
