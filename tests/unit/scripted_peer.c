#include "tests/unit/scripted_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct sp_peer {
	pthread_t thread;
	const struct sp_step *script;
	int fd;
	int listen_fd;
	const struct sp_io *io;
	void *io_ctx;
	char failure[512];
};

static long raw_read(void *ctx, void *buf, size_t n)
{
	return recv(*(int *)ctx, buf, n, 0);
}

static long raw_write(void *ctx, const void *buf, size_t n)
{
	return send(*(int *)ctx, buf, n, MSG_NOSIGNAL);
}

static const struct sp_io raw_io = {raw_read, raw_write};

int sp_fail(struct sp_peer *p, const char *fmt, ...)
{
	if (p->failure[0] == '\0') {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->failure, sizeof(p->failure), fmt, ap);
		va_end(ap);
		if (p->failure[0] == '\0')
			snprintf(p->failure, sizeof(p->failure), "failed");
	}
	return -1;
}

int sp_fd(const struct sp_peer *p)
{
	return p->fd;
}

void sp_set_io(struct sp_peer *p, const struct sp_io *io, void *ctx)
{
	p->io = io;
	p->io_ctx = ctx;
}

/* Byte by byte: the peer must never read past a line (after STLS the next
 * bytes are a TLS handshake). */
int sp_read_line(struct sp_peer *p, char *buf, size_t size, size_t *len_r)
{
	size_t n = 0;
	while (n + 1 < size) {
		long r = p->io->read(p->io_ctx, buf + n, 1);
		if (r <= 0)
			break;
		if (buf[n++] == '\n') {
			buf[n] = '\0';
			*len_r = n;
			return 0;
		}
	}
	buf[n] = '\0';
	*len_r = n;
	return -1;
}

int sp_write(struct sp_peer *p, const void *d, size_t n)
{
	const char *c = d;
	while (n > 0) {
		long r = p->io->write(p->io_ctx, c, n);
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static void show(const char *s, size_t n, char *out, size_t size)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r')
			k += (size_t)snprintf(out + k, size - k, "\\r");
		else if (c == '\n')
			k += (size_t)snprintf(out + k, size - k, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			k += (size_t)snprintf(out + k, size - k, "\\x%02x", c);
		else
			out[k++] = (char)c;
	}
	out[k] = '\0';
}

static void play(struct sp_peer *p)
{
	char line[65536], a[160], b[160];
	size_t len;
	for (const struct sp_step *s = p->script; s->op != SP_OP_END; s++) {
		size_t step = (size_t)(s - p->script);
		switch (s->op) {
		case SP_OP_SEND:
			if (sp_write(p, s->data, s->len) < 0) {
				sp_fail(p, "step %zu: send failed: %s", step, strerror(errno));
				return;
			}
			break;
		case SP_OP_EXPECT:
			if (sp_read_line(p, line, sizeof(line), &len) < 0) {
				show(line, len, a, sizeof(a));
				show(s->data, s->len, b, sizeof(b));
				sp_fail(p, "step %zu: expected \"%s\", got EOF after \"%s\"", step, b, a);
				return;
			}
			if (len != s->len || memcmp(line, s->data, len) != 0) {
				show(line, len, a, sizeof(a));
				show(s->data, s->len, b, sizeof(b));
				sp_fail(p, "step %zu: expected \"%s\", got \"%s\"", step, b, a);
				return;
			}
			break;
		case SP_OP_EXPECT_EOF: {
			char c;
			long r = p->io->read(p->io_ctx, &c, 1);
			if (r > 0) {
				sp_read_line(p, line + 1, sizeof(line) - 1, &len);
				line[0] = c;
				show(line, len + 1, a, sizeof(a));
				sp_fail(p, "step %zu: expected EOF, got \"%s\"", step, a);
				return;
			}
			if (r < 0) {
				sp_fail(p, "step %zu: no EOF: %s", step, strerror(errno));
				return;
			}
			break;
		}
		case SP_OP_CALL:
			if (s->fn(p, s->arg) != 0) {
				sp_fail(p, "step %zu: call failed", step);
				return;
			}
			break;
		case SP_OP_END:
			break;
		}
	}
}

static void set_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = 10};
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void *run(void *arg)
{
	struct sp_peer *p = arg;
	if (p->listen_fd >= 0) {
		p->fd = accept(p->listen_fd, NULL, NULL);
		if (p->fd < 0) {
			sp_fail(p, "accept: %s", strerror(errno));
			return NULL;
		}
		set_timeouts(p->fd);
	}
	play(p);
	shutdown(p->fd, SHUT_RDWR);
	return NULL;
}

static struct sp_peer *new_peer(const struct sp_step *script)
{
	struct sp_peer *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->script = script;
	p->fd = -1;
	p->listen_fd = -1;
	p->io = &raw_io;
	p->io_ctx = &p->fd;
	return p;
}

struct sp_peer *sp_start(const struct sp_step *script, int *fd_r)
{
	int sv[2];
	struct sp_peer *p = new_peer(script);
	if (p == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(p);
		return NULL;
	}
	p->fd = sv[0];
	set_timeouts(p->fd);
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		close(sv[0]);
		close(sv[1]);
		free(p);
		return NULL;
	}
	*fd_r = sv[1];
	return p;
}

struct sp_peer *sp_start_tcp(const struct sp_step *script, uint16_t *port_r)
{
	struct sp_peer *p = new_peer(script);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	if (p == NULL)
		return NULL;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(p->listen_fd, 1) < 0 ||
	    getsockname(p->listen_fd, (struct sockaddr *)&sa, &sl) < 0 ||
	    pthread_create(&p->thread, NULL, run, p) != 0) {
		if (p->listen_fd >= 0)
			close(p->listen_fd);
		free(p);
		return NULL;
	}
	*port_r = ntohs(sa.sin_port);
	return p;
}

int sp_finish(struct sp_peer **pp, char *msg, size_t msg_size)
{
	struct sp_peer *p = *pp;
	if (p == NULL) {
		snprintf(msg, msg_size, "no peer");
		return -1;
	}
	pthread_join(p->thread, NULL);
	if (p->fd >= 0)
		close(p->fd);
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	snprintf(msg, msg_size, "%s", p->failure);
	int r = p->failure[0] != '\0' ? -1 : 0;
	free(p);
	*pp = NULL;
	return r;
}
