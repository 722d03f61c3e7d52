#include "archiver/http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "archiver/http/router.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/log.h"

/* GnuTLS priorities: TLS 1.2 and 1.3 only, AEAD ciphers only. */
#define TLS_PRIORITIES \
	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:" \
	"+CHACHA20-POLY1305:-MAC-ALL:+AEAD:%SERVER_PRECEDENCE"

/* One TCP connection (libmicrohttpd's socket context). */
struct conn {
	struct conn *prev, *next;
	int fd;
	int64_t deadline_ms; /* monotonic; the current request must be in by then; 0: none */
	bool cut;
	char peer[INET6_ADDRSTRLEN];
};

/* One request (libmicrohttpd's request context, made when its request
 * line arrives). */
struct req {
	struct conn *conn;
	char *target;
	bool started; /* headers seen */
	struct pv_buf body;
};

struct http_server {
	struct MHD_Daemon *d;
	struct http_app *app;
	void (*dispatch)(void *ctx, struct http_request *rq, struct http_response *rs);
	void *dispatch_ctx;
	int64_t request_ms;
	uint16_t port;

	pthread_mutex_t lock; /* conns, stopping */
	pthread_cond_t wake;
	struct conn *conns;
	bool stopping;
	pthread_t watchdog;
	bool watchdog_running;
	bool borrowed_socket; /* listen_fd is its owner's (serve's supervisor) */
};

/* --- connections and the slowloris watchdog -------------------------------- */

static void set_deadline(struct http_server *srv, struct conn *c, int64_t deadline_ms)
{
	pthread_mutex_lock(&srv->lock);
	c->deadline_ms = deadline_ms;
	pthread_mutex_unlock(&srv->lock);
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	struct conn *c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(
			mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *addr = MHD_get_connection_info(
			mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return; /* no watchdog for it: the idle timeout still applies */
		c->fd = fd ? fd->connect_fd : -1;
		snprintf(c->peer, sizeof(c->peer), "?");
		if (addr != NULL && addr->client_addr != NULL) {
			const struct sockaddr *sa = addr->client_addr;
			if (sa->sa_family == AF_INET)
				inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->peer,
					  sizeof(c->peer));
			else if (sa->sa_family == AF_INET6)
				inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
					  c->peer, sizeof(c->peer));
		}
		c->deadline_ms = pv_clock_monotonic_ms() + srv->request_ms;
		pthread_mutex_lock(&srv->lock);
		c->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = c;
		srv->conns = c;
		pthread_mutex_unlock(&srv->lock);
		*socket_context = c;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && c != NULL) {
		/* libmicrohttpd closes the socket after this returns, so the
		 * watchdog (under the same lock) never touches a reused fd. */
		pthread_mutex_lock(&srv->lock);
		if (c->prev)
			c->prev->next = c->next;
		else
			srv->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		pthread_mutex_unlock(&srv->lock);
		free(c);
		*socket_context = NULL;
	}
}

/* libmicrohttpd's idle timeout restarts with every byte; a client sending
 * one a second would hold its connection forever. This cuts any
 * connection whose request is not in by its deadline: shutdown() makes
 * the connection's own thread see the end and close it. */
static void *watchdog(void *arg)
{
	struct http_server *srv = arg;
	pthread_mutex_lock(&srv->lock);
	while (!srv->stopping) {
		int64_t now = pv_clock_monotonic_ms();
		for (struct conn *c = srv->conns; c; c = c->next)
			if (c->deadline_ms != 0 && now > c->deadline_ms && !c->cut && c->fd >= 0) {
				c->cut = true;
				shutdown(c->fd, SHUT_RDWR);
				pv_log(PV_LOG_INFO, "http.slow", "cut a connection from %s: its "
				       "request did not arrive in time", c->peer);
			}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 250 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&srv->wake, &srv->lock, &until);
	}
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* --- requests ----------------------------------------------------------------- */

static struct conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
	struct req *q = calloc(1, sizeof(*q));
	(void)cls;
	if (q == NULL || (q->target = strdup(uri)) == NULL) {
		free(q);
		return NULL;
	}
	q->conn = conn_of(mc);
	pv_buf_init(&q->body, PV_HTTP_BODY_MAX);
	return q;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct req *q = *req_cls;
	(void)toe;
	if (q != NULL) {
		pv_buf_free(&q->body);
		free(q->target);
		free(q);
		*req_cls = NULL;
	}
	/* The next request on this connection has its own deadline. */
	struct conn *c = conn_of(mc);
	if (c != NULL)
		set_deadline(srv, c, pv_clock_monotonic_ms() + srv->request_ms);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *s = cls;
	ssize_t n = s->read(s->ctx, pos, buf, max);
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_free(void *cls)
{
	struct http_stream *s = cls;
	if (s->done)
		s->done(s->ctx);
	free(s);
}

static enum MHD_Result send_response(struct MHD_Connection *mc, struct http_response *rs)
{
	struct MHD_Response *resp = NULL;
	if (rs->stream.read != NULL) {
		struct http_stream *s = malloc(sizeof(*s));
		if (s != NULL) {
			*s = rs->stream;
			resp = MHD_create_response_from_callback(
				rs->stream.size < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)rs->stream.size,
				32 * 1024, stream_read, s, stream_free);
			if (resp != NULL)
				memset(&rs->stream, 0, sizeof(rs->stream)); /* MHD owns it now */
			else
				free(s);
		}
	} else {
		resp = MHD_create_response_from_buffer(rs->body.len, rs->body.data,
						       MHD_RESPMEM_MUST_COPY);
	}
	if (resp == NULL)
		return MHD_NO;
	for (size_t i = 0; i < rs->n_headers; i++)
		if (MHD_add_response_header(resp, rs->headers[i].name, rs->headers[i].value) != MHD_YES)
			pv_log(PV_LOG_WARN, "http.header", "header %s not sent", rs->headers[i].name);
	enum MHD_Result ret = MHD_queue_response(mc, (unsigned)rs->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

struct header_list {
	struct http_header *h;
	size_t n, max;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct header_list *l = cls;
	(void)kind;
	if (l->n == l->max)
		return MHD_NO;
	l->h[l->n++] = (struct http_header){key, value ? value : ""};
	return MHD_YES;
}

/* An answer given before the router, from what the headers announce. */
static enum MHD_Result reject_early(struct http_server *srv, struct MHD_Connection *mc,
				    struct req *q, const char *method)
{
	const char *te = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Transfer-Encoding");
	const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
	const union MHD_ConnectionInfo *hs =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	int status = 0;
	const char *code = NULL, *msg = NULL;

	if (hs != NULL && hs->header_size > PV_HTTP_HEADER_MAX) {
		status = 431, code = "headers_too_large", msg = "the request headers are too large";
	} else if (strlen(q->target) > PV_HTTP_TARGET_MAX) {
		status = 414, code = "uri_too_long", msg = "the request target is too long";
	} else if (te != NULL) {
		status = 411, code = "length_required",
		msg = "a body needs a Content-Length (no chunked uploads)";
	} else if (cl != NULL && (strspn(cl, "0123456789") != strlen(cl) || strlen(cl) > 12 ||
				  strtoull(cl, NULL, 10) > PV_HTTP_BODY_MAX)) {
		status = 413, code = "too_large", msg = "the body is too large";
	}
	if (status == 0)
		return MHD_YES;
	struct http_request rq = {.method = method, .target = q->target, .app = srv->app,
				  .peer = q->conn ? q->conn->peer : "?"};
	struct http_response rs;
	http_response_init(&rs);
	http_reject(&rq, &rs, status, code, msg);
	pv_log(PV_LOG_INFO, "http.request", "refused before reading: %d %s", status, code);
	enum MHD_Result ret = send_response(mc, &rs);
	http_response_free(&rs);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct http_server *srv = cls;
	struct req *q = *req_cls;
	(void)url;
	(void)version;

	if (q == NULL)
		return MHD_NO; /* out of memory when the request line came */
	if (!q->started) {
		q->started = true;
		return reject_early(srv, mc, q, method);
	}
	if (*upload_size > 0) {
		/* Cannot pass the cap: Content-Length was checked, and
		 * libmicrohttpd reads no more than it says. */
		if (pv_buf_append(&q->body, upload, *upload_size, NULL) < 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (q->conn != NULL)
		set_deadline(srv, q->conn, 0);

	int n = MHD_get_connection_values(mc, MHD_HEADER_KIND, NULL, NULL);
	struct header_list hl = {calloc(n > 0 ? (size_t)n : 1, sizeof(struct http_header)), 0,
				 n > 0 ? (size_t)n : 0};
	if (hl.h == NULL)
		return MHD_NO;
	MHD_get_connection_values(mc, MHD_HEADER_KIND, collect_header, &hl);
	struct http_request rq = {.method = method, .target = q->target, .headers = hl.h,
				  .n_headers = hl.n, .body = q->body.len ? q->body.data : NULL,
				  .body_len = q->body.len, .app = srv->app,
				  .peer = q->conn ? q->conn->peer : "?"};
	struct http_response rs;
	http_response_init(&rs);
	if (srv->dispatch != NULL)
		srv->dispatch(srv->dispatch_ctx, &rq, &rs);
	else
		http_dispatch(&rq, &rs);
	enum MHD_Result ret = send_response(mc, &rs);
	http_response_free(&rs);
	free(hl.h);
	return ret;
}

static void on_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void on_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	pv_log(PV_LOG_INFO, "http.mhd", "%s", msg);
}

/* --- start and stop ----------------------------------------------------------- */

int http_server_start(struct http_app *app, const struct http_server_config *cfg,
		      struct http_server **srv_r, struct pv_error *err)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	struct MHD_OptionItem o[24];
	int n = 0;

	if (srv == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (cfg->request_time_max_s < 1 || cfg->request_time_max_s > PV_HTTP_REQUEST_TIME_MAX_S) {
		free(srv);
		return pv_fail(err, PV_EUSAGE, "request deadline must be 1..%d s",
			       PV_HTTP_REQUEST_TIME_MAX_S);
	}
	srv->app = app;
	srv->dispatch = cfg->dispatch;
	srv->dispatch_ctx = cfg->dispatch_ctx;
	srv->request_ms = cfg->request_time_max_s * 1000;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->wake, NULL);

#define OPT(opt, v, p) (o[n++] = (struct MHD_OptionItem){(opt), (intptr_t)(v), (void *)(p)})
	OPT(MHD_OPTION_EXTERNAL_LOGGER, on_log, srv); /* first, or MHD logs some itself */
	if (cfg->addr != NULL)
		OPT(MHD_OPTION_SOCK_ADDR, 0, cfg->addr);
	else
		OPT(MHD_OPTION_LISTEN_SOCKET, cfg->listen_fd, NULL);
	OPT(MHD_OPTION_THREAD_POOL_SIZE, PV_HTTP_THREADS, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, PV_HTTP_CONNECTIONS_MAX, NULL);
	OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, PV_HTTP_PER_IP_CONNECTIONS_MAX, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, PV_HTTP_CONN_MEMORY, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, PV_HTTP_IDLE_TIMEOUT_S, NULL);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv);
	OPT(MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL);
	OPT(MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, NULL);
	if (cfg->cert_pem != NULL) {
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, cfg->cert_pem);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, cfg->key_pem);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, TLS_PRIORITIES);
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT

	/* A borrowed socket is given back at the stop (MHD_quiesce_daemon,
	 * which needs the ITC): stopping with it, MHD would shut the socket
	 * down for every process holding it, and the web started again by
	 * serve's supervisor would listen on a dead one. */
	srv->borrowed_socket = cfg->addr == NULL;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
			 (srv->borrowed_socket ? MHD_USE_ITC : 0) | (cfg->cert_pem ? MHD_USE_TLS : 0) |
			 (cfg->addr != NULL && cfg->addr->sa_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	srv->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, o,
				  MHD_OPTION_END);
	if (srv->d == NULL) {
		http_server_stop(&srv);
		return pv_fail(err, PV_ERR, "cannot start the HTTP server (address in use, or a bad "
				    "certificate or key; see the messages above)");
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : 0;
	if (srv->port == 0 && cfg->addr == NULL) {
		struct sockaddr_storage ss = {0};
		socklen_t len = sizeof(ss);
		if (getsockname(cfg->listen_fd, (struct sockaddr *)&ss, &len) == 0)
			srv->port = ntohs(ss.ss_family == AF_INET6
						  ? ((struct sockaddr_in6 *)&ss)->sin6_port
						  : ((struct sockaddr_in *)&ss)->sin_port);
	}
	if (pthread_create(&srv->watchdog, NULL, watchdog, srv) != 0) {
		http_server_stop(&srv);
		return pv_fail(err, PV_ERR, "cannot start a thread");
	}
	srv->watchdog_running = true;
	*srv_r = srv;
	return PV_OK;
}

uint16_t http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void http_server_stop(struct http_server **srvp)
{
	struct http_server *srv = *srvp;
	if (srv == NULL)
		return;
	MHD_socket given_back = MHD_INVALID_SOCKET;
	if (srv->d != NULL && srv->borrowed_socket)
		given_back = MHD_quiesce_daemon(srv->d);
	if (srv->d != NULL)
		MHD_stop_daemon(srv->d);
	/* Only after the stop (microhttpd.h): its threads may use it till then.
	 * This process's copy only. */
	if (given_back != MHD_INVALID_SOCKET)
		close(given_back);
	pthread_mutex_lock(&srv->lock);
	srv->stopping = true;
	pthread_cond_signal(&srv->wake);
	pthread_mutex_unlock(&srv->lock);
	if (srv->watchdog_running)
		pthread_join(srv->watchdog, NULL);
	pthread_cond_destroy(&srv->wake);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	*srvp = NULL;
}
