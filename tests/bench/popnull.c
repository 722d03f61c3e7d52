/* popnull: the ceiling for the harvest benchmark. A minimal POP3 client
 * that logs in with USER/PASS, RETRs and DELEs every message with
 * pipelined commands (RFC 2449 §6.6), discards the bytes and QUITs. It
 * stores nothing, checks nothing beyond the status lines and the
 * terminating dot line (RFC 1939 §3), so what it reaches is what the
 * server and the link allow.
 *
 *   popnull HOST PORT USER PASSWORD-FILE [--tls CA-FILE] [--keep]
 *
 * --tls: implicit TLS (RFC 8314), the certificate checked against CA-FILE
 * and HOST. --keep: no DELE. Prints "messages N bytes B" (B: message
 * bytes as sent, dot-stuffed, without the terminating line). Exit 1 on
 * any error. A benchmark tool for our own loopback server, not a
 * hardened client. */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

enum {
	WINDOW = 32,          /* commands in flight; far below a socket buffer */
	RBUF = 256 * 1024,    /* read buffer */
	LINE_MAX_STATUS = 512 /* RFC 2449 §4 */
};

struct conn {
	int fd;
	SSL *ssl;
	unsigned char buf[RBUF];
	size_t start, end;
};

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("popnull: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void c_write(struct conn *c, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = c->ssl != NULL ? SSL_write(c->ssl, s, (int)n) : write(c->fd, s, n);
		if (w <= 0)
			die("write failed");
		s += w;
		n -= (size_t)w;
	}
}

/* Refill: keeps unread bytes, returns false at EOF. */
static int c_fill(struct conn *c)
{
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == sizeof(c->buf))
		die("line longer than the read buffer");
	ssize_t r = c->ssl != NULL ? SSL_read(c->ssl, c->buf + c->end, (int)(sizeof(c->buf) - c->end))
				   : read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
	if (r <= 0)
		return 0;
	c->end += (size_t)r;
	return 1;
}

/* Next line including CRLF; *len set. The pointer is valid until the next
 * call. */
static const unsigned char *c_line(struct conn *c, size_t *len)
{
	for (;;) {
		unsigned char *p = memchr(c->buf + c->start, '\n', c->end - c->start);
		if (p != NULL) {
			const unsigned char *l = c->buf + c->start;
			*len = (size_t)(p + 1 - l);
			c->start += *len;
			return l;
		}
		if (!c_fill(c))
			die("connection closed");
	}
}

static void status(struct conn *c, const char *what)
{
	size_t n;
	const unsigned char *l = c_line(c, &n);
	if (n > LINE_MAX_STATUS || n < 3 || memcmp(l, "+OK", 3) != 0)
		die("%s: %.*s", what, (int)(n > 80 ? 80 : n), (const char *)l);
}

static void cmd(struct conn *c, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void cmd(struct conn *c, const char *what, const char *fmt, ...)
{
	char line[LINE_MAX_STATUS];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		die("command too long");
	c_write(c, line, (size_t)n);
	if (what != NULL)
		status(c, what);
}

/* Reads one multi-line body up to ".\r\n"; returns its bytes. */
static unsigned long long body(struct conn *c)
{
	unsigned long long bytes = 0;
	for (;;) {
		size_t n;
		const unsigned char *l = c_line(c, &n);
		if (n == 3 && l[0] == '.' && l[1] == '\r')
			return bytes;
		bytes += n;
	}
}

static void tls_start(struct conn *c, const char *host, const char *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		die("cannot load CA file %s", ca);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	c->ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL holds a reference */
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, host) != 1 || SSL_set1_host(c->ssl, host) != 1)
		die("TLS setup failed");
	if (SSL_connect(c->ssl) != 1)
		die("TLS handshake failed: %s", ERR_reason_error_string(ERR_get_error()));
}

static int dial(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	int fd = -1;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		die("cannot resolve %s", host);
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		die("cannot connect to %s:%s", host, port);
	return fd;
}

static void read_password(const char *path, char *pw, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (f == NULL || fgets(pw, (int)cap, f) == NULL)
		die("cannot read %s", path);
	fclose(f);
	pw[strcspn(pw, "\r\n")] = '\0';
}

int main(int argc, char **argv)
{
	static struct conn c;
	const char *ca = NULL;
	int keep = 0;
	char pw[256];

	if (argc < 5)
		die("usage: popnull HOST PORT USER PASSWORD-FILE [--tls CA-FILE] [--keep]");
	for (int i = 5; i < argc; i++) {
		if (strcmp(argv[i], "--tls") == 0 && i + 1 < argc)
			ca = argv[++i];
		else if (strcmp(argv[i], "--keep") == 0)
			keep = 1;
		else
			die("unknown option %s", argv[i]);
	}
	read_password(argv[4], pw, sizeof(pw));
	c.fd = dial(argv[1], argv[2]);
	if (ca != NULL)
		tls_start(&c, argv[1], ca);
	status(&c, "greeting");
	cmd(&c, "USER", "USER %s\r\n", argv[3]);
	cmd(&c, "PASS", "PASS %s\r\n", pw);

	size_t n;
	const unsigned char *l;
	cmd(&c, NULL, "STAT\r\n");
	l = c_line(&c, &n);
	if (n <= 4 || n > LINE_MAX_STATUS || memcmp(l, "+OK ", 4) != 0)
		die("STAT failed");
	unsigned long count = strtoul((const char *)l + 4, NULL, 10);

	/* Each message costs one or two commands; keep WINDOW in flight. */
	unsigned long sent = 0, done = 0;
	unsigned long long bytes = 0;
	int per = keep ? 1 : 2;
	char out[WINDOW * 32];
	while (done < count) {
		size_t o = 0;
		while (sent < count && (sent - done) * (unsigned long)per < WINDOW) {
			sent++;
			o += (size_t)snprintf(out + o, sizeof(out) - o, "RETR %lu\r\n", sent);
			if (!keep)
				o += (size_t)snprintf(out + o, sizeof(out) - o, "DELE %lu\r\n", sent);
		}
		if (o > 0)
			c_write(&c, out, o);
		status(&c, "RETR");
		bytes += body(&c);
		if (!keep)
			status(&c, "DELE");
		done++;
	}
	cmd(&c, "QUIT", "QUIT\r\n");
	printf("messages %lu bytes %llu\n", done, bytes);
	if (c.ssl != NULL) {
		SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	close(c.fd);
	return 0;
}
