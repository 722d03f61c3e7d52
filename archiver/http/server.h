#ifndef PV_HTTP_SERVER_H
#define PV_HTTP_SERVER_H

/* The HTTP(S) server of `popvault serve`: libmicrohttpd with its internal
 * epoll threads (PV_HTTP_THREADS, each with its own loop), TLS 1.2+
 * through its GnuTLS, and the limits of limits.h: connections in all and
 * per address, memory per connection, header and body size, the idle
 * timeout, and a deadline for a whole request to arrive (slowloris: a
 * watchdog cuts connections that trickle). Every request that gets that
 * far is handed to http_dispatch (router.h) as a struct http_request.
 *
 * server.c is the only file that knows libmicrohttpd's types. Bodies are
 * read only up to PV_HTTP_BODY_MAX with a Content-Length (no chunked
 * uploads, no form or multipart parsing, no post-processor, no digest
 * auth). */

#include <stdint.h>
#include <sys/socket.h>

#include "archiver/http/app.h"
#include "archiver/http/http.h"
#include "archiver/lib/error.h"

struct http_server;

struct http_server_config {
	const struct sockaddr *addr; /* where to listen (port 0: any free port); NULL: */
	int listen_fd;               /* on this socket, bound and listening (serve's
				      * supervisor keeps it across restarts of the web) */
	const char *cert_pem;        /* HTTPS with these (PEM); NULL: plain HTTP */
	const char *key_pem;
	int64_t request_time_max_s;  /* 1 .. PV_HTTP_REQUEST_TIME_MAX_S */
	/* Who answers requests: NULL for http_dispatch (the app's route
	 * table); a service of its own (the witness, witness_http.h) gives
	 * its function and context, and app may then be NULL. */
	void (*dispatch)(void *ctx, struct http_request *rq, struct http_response *rs);
	void *dispatch_ctx;
};

/* Starts serving app (which must outlive the server), or cfg->dispatch. */
int http_server_start(struct http_app *app, const struct http_server_config *cfg,
		      struct http_server **srv_r, struct pv_error *err);
/* The port it listens on (the real one when 0 was asked). */
uint16_t http_server_port(const struct http_server *srv);
/* Stops accepting, ends every connection, joins the threads, frees. */
void http_server_stop(struct http_server **srv);

#endif
