#include "archiver/http/router.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "archiver/http/app.h"
#include "archiver/http/auth.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/log.h"

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
			  "img-src 'self' data:; frame-src 'self'; frame-ancestors 'none'; "
			  "form-action 'self'; base-uri 'none'; object-src 'none'";

/* Headers a request may carry once at most: the checks below read them. */
static const char *const single_headers[] = {
	"Host", "Origin", "Cookie", "Content-Type", "Content-Length", "Sec-Fetch-Site",
	"X-CSRF-Token", "Transfer-Encoding", "Authorization", NULL};

static void set_default(struct http_response *rs, const char *name, const char *value)
{
	if (http_response_get_header(rs, name) == NULL)
		(void)http_response_header(rs, name, value);
}

void http_security_headers(const struct http_request *rq, struct http_response *rs, bool api)
{
	set_default(rs, "Content-Security-Policy", csp);
	set_default(rs, "X-Content-Type-Options", "nosniff");
	set_default(rs, "Referrer-Policy", "no-referrer");
	set_default(rs, "Cross-Origin-Opener-Policy", "same-origin");
	set_default(rs, "Cross-Origin-Resource-Policy", "same-origin");
	if (rq->app != NULL && rq->app->tls)
		set_default(rs, "Strict-Transport-Security", "max-age=31536000");
	if (api)
		set_default(rs, "Cache-Control", "no-store");
}

void http_reject(struct http_request *rq, struct http_response *rs, int status, const char *code,
		 const char *message)
{
	http_reply_error(rs, status, code, "%s", message);
	if (status == 405 || status == 413 || status == 411 || status == 431 || status == 414)
		(void)http_response_header(rs, "Connection", "close");
	http_security_headers(rq, rs, true);
}

/* Does path match pattern? Fills rq->params with the {x} segments. */
static bool match(const char *pattern, const char *path, struct http_request *rq)
{
	char *buf = rq->param_buf;
	size_t used = 0;
	rq->n_params = 0;
	while (*pattern && *path) {
		if (*pattern == '{') {
			size_t len = strcspn(path, "/");
			if (len == 0 || rq->n_params == HTTP_PARAMS_MAX ||
			    used + len + 1 > sizeof(rq->param_buf))
				return false;
			memcpy(buf + used, path, len);
			buf[used + len] = '\0';
			rq->params[rq->n_params++] = buf + used;
			used += len + 1;
			pattern += strcspn(pattern, "}");
			if (*pattern == '}')
				pattern++;
			path += len;
		} else if (*pattern++ != *path++) {
			return false;
		}
	}
	return *pattern == '\0' && *path == '\0';
}

/* The method for messages and the log: only if it looks like one. */
static const char *shown_method(const char *m)
{
	size_t n = strlen(m);
	return n > 0 && n <= 16 && strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == n ? m : "?";
}

static bool is_api(const char *path)
{
	return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0;
}

static bool changes_state(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* The route for rq (NULL: none; *status_r 404 or 405 with allow filled). */
static const struct http_route *find_route(struct http_request *rq,
					   const struct http_route *routes, size_t n_routes,
					   char *allow, size_t n, int *status_r)
{
	const char *m = strcmp(rq->method, "HEAD") == 0 ? "GET" : rq->method;
	bool path_known = false;
	allow[0] = '\0';
	for (int pass = 0; pass < 2 && !path_known; pass++) {
		for (size_t i = 0; i < n_routes; i++) {
			const struct http_route *rt = &routes[i];
			bool wild = (rt->flags & HTTP_STATIC) != 0;
			if (wild != (pass == 1))
				continue;
			if (wild ? is_api(rq->path) : !match(rt->pattern, rq->path, rq))
				continue;
			if (strcmp(rt->method, m) == 0) {
				if (wild)
					rq->n_params = 0;
				return rt;
			}
			path_known = true;
			if (strstr(allow, rt->method) == NULL)
				snprintf(allow + strlen(allow), n - strlen(allow), "%s%s%s",
					 allow[0] ? ", " : "", rt->method,
					 strcmp(rt->method, "GET") == 0 ? ", HEAD" : "");
		}
	}
	*status_r = path_known ? 405 : 404;
	return NULL;
}

/* Cross-site? A browser says where a request comes from (Fetch Metadata,
 * Origin); scripts and curl say nothing and pass on to the CSRF token. */
static bool cross_site(const struct http_request *rq)
{
	const char *site = http_header(rq, "Sec-Fetch-Site");
	const char *origin = http_header(rq, "Origin");
	if (site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
		return true;
	if (origin == NULL)
		return false;
	const char *host = http_header(rq, "Host");
	const char *scheme = rq->app->tls ? "https://" : "http://";
	size_t sl = strlen(scheme);
	return host == NULL || strncasecmp(origin, scheme, sl) != 0 ||
	       strcasecmp(origin + sl, host) != 0;
}

/* Over plain HTTP (serve allows it on a loopback address only) the Host
 * must name the loopback too: localhost, 127.0.0.0/8 or [::1], with or
 * without a port. Otherwise a page whose name its owner points at
 * 127.0.0.1 (DNS rebinding) would be same-origin with the API. */
static bool loopback_host(const char *host)
{
	char name[64];
	unsigned char a[16];
	const char *port;
	if (host == NULL)
		return false;
	if (host[0] == '[') {
		const char *end = strchr(host, ']');
		if (end == NULL || (size_t)(end - host - 1) >= sizeof(name))
			return false;
		snprintf(name, sizeof(name), "%.*s", (int)(end - host - 1), host + 1);
		port = end + 1;
		if (inet_pton(AF_INET6, name, a) != 1 ||
		    memcmp(a, in6addr_loopback.s6_addr, sizeof(a)) != 0)
			return false;
	} else {
		size_t n = strcspn(host, ":");
		if (n == 0 || n >= sizeof(name))
			return false;
		snprintf(name, sizeof(name), "%.*s", (int)n, host);
		port = host + n;
		if (strcasecmp(name, "localhost") != 0 &&
		    (inet_pton(AF_INET, name, a) != 1 || a[0] != 127))
			return false;
	}
	if (*port == '\0')
		return true;
	return port[0] == ':' && port[1] != '\0' && strlen(port + 1) <= 5 &&
	       strspn(port + 1, "0123456789") == strlen(port + 1);
}

static bool csrf_ok(const struct http_request *rq)
{
	const char *t = http_header(rq, "X-CSRF-Token");
	const char *want = rq->session->csrf;
	return t != NULL && strlen(t) == strlen(want) && sodium_memcmp(t, want, strlen(want)) == 0;
}

/* "Authorization: Bearer TOKEN" with the scrape token: its SHA-256 is the
 * one the server was given (app.h). Compared in constant time. */
static bool bearer_ok(const struct http_request *rq, const char *h)
{
	unsigned char hash[crypto_hash_sha256_BYTES];
	if (!rq->app->metrics_token_set || strncmp(h, "Bearer ", 7) != 0 || h[7] == '\0')
		return false;
	crypto_hash_sha256(hash, (const unsigned char *)h + 7, strlen(h + 7));
	return sodium_memcmp(hash, rq->app->metrics_token_sha256, sizeof(hash)) == 0;
}

/* The answer for a handler's (or the router's own) failure. */
static void reply_failure(struct http_request *rq, struct http_response *rs, int r, bool *broken)
{
	const char *msg = rq->err.msg[0] ? rq->err.msg : "failed";
	switch (r) {
	case PV_EUSAGE: http_reply_error(rs, 400, "bad_request", "%s", msg); return;
	case PV_EAUTH: http_reply_error(rs, 401, "unauthorized", "%s", msg); return;
	case PV_EPERM: http_reply_error(rs, 403, "forbidden", "%s", msg); return;
	case PV_ENOTFOUND: http_reply_error(rs, 404, "not_found", "%s", msg); return;
	case PV_ELIMIT: http_reply_error(rs, 413, "too_large", "%s", msg); return;
	case PV_EEXISTS: http_reply_error(rs, 409, "conflict", "%s", msg); return;
	default: break;
	}
	/* Server side: the detail goes to the log, not to the client. */
	pv_log(PV_LOG_ERROR, "http.error", "%s %s: %s", shown_method(rq->method), rq->path, msg);
	*broken = true;
	if (strncmp(msg, "audit log", 9) == 0)
		http_reply_error(rs, 503, "audit_failed", "the action could not be recorded in the "
			"audit log, so it was not performed");
	else if (r == PV_ETEMP)
		http_reply_error(rs, 503, "unavailable", "busy; try again shortly");
	else
		http_reply_error(rs, 500, "internal", "internal error");
	if (rs->status == 503)
		(void)http_response_header(rs, "Retry-After", "5");
}

/* Everything between the route and the handler's answer. */
static void run_route(struct http_request *rq, struct http_response *rs,
		      const struct http_route *rt, bool *broken)
{
	int r, status;

	if (!(rt->flags & HTTP_STATIC)) {
		if ((r = http_app_archive_get(rq->app, &rq->ar, &rq->err)) < 0 ||
		    (r = auth_load_session(rq, rs, &rq->err)) < 0) {
			reply_failure(rq, rs, r, broken);
			return;
		}
	}
	if (rq->session != NULL)
		snprintf(rq->actor, sizeof(rq->actor), "web:%s", rq->session->user);
	const char *authz = http_header(rq, "Authorization");
	if ((rt->flags & HTTP_BEARER) && authz != NULL) {
		if (!bearer_ok(rq, authz)) {
			http_reply_error(rs, 401, "unauthorized", "wrong or unknown scrape token");
			return;
		}
		snprintf(rq->actor, sizeof(rq->actor), "web:scrape-token");
	} else if (!(rt->flags & HTTP_PUBLIC)) {
		if (rq->session == NULL) {
			http_reply_error(rs, 401, "unauthorized", "sign in first");
			return;
		}
		if ((rt->roles & rq->session->role_bit) == 0) {
			http_reply_error(rs, 403, "forbidden", "your role may not do this");
			return;
		}
	}
	if (changes_state(rq->method)) {
		if (cross_site(rq)) {
			http_reply_error(rs, 403, "cross_origin",
					 "cross-site requests may not change anything");
			return;
		}
		if (!(rt->flags & HTTP_NO_CSRF) && (rq->session == NULL || !csrf_ok(rq))) {
			http_reply_error(rs, 403, "csrf", "missing or wrong X-CSRF-Token");
			return;
		}
	}
	if (rt->flags & HTTP_JSON_BODY) {
		if (http_parse_json_body(rq, &status, &rq->err) < 0) {
			http_reply_error(rs, status, status == 415 ? "unsupported_media_type"
								   : "bad_json", "%s", rq->err.msg);
			return;
		}
	} else if (rq->body_len > 0) {
		http_reply_error(rs, 400, "bad_request", "this request takes no body");
		return;
	}
	pv_error_clear(&rq->err);
	if ((r = rt->fn(rq, rs)) < 0)
		reply_failure(rq, rs, r, broken);
	else if (rs->status < 100 || rs->status > 599)
		http_reply_error(rs, 500, "internal", "internal error");
}

void http_dispatch(struct http_request *rq, struct http_response *rs)
{
	http_dispatch_routes(rq, rs, http_routes, http_routes_count);
}

void http_dispatch_routes(struct http_request *rq, struct http_response *rs,
			  const struct http_route *routes, size_t n_routes)
{
	const struct http_route *rt = NULL;
	bool broken = false;
	char allow[64];
	int status = 0;
	int64_t t0 = pv_clock_monotonic_ms();

	rq->path[0] = '\0';
	rq->query = "";
	rq->n_params = 0;
	rq->session = NULL;
	rq->ar = NULL;
	rq->json = NULL;
	snprintf(rq->actor, sizeof(rq->actor), "web:-");
	pv_error_clear(&rq->err);

	if (http_decode_target(rq, &status, &rq->err) < 0) {
		http_reply_error(rs, status, status == 414 ? "uri_too_long" : "bad_request", "%s",
				 rq->err.msg);
		goto out;
	}
	for (const char *const *h = single_headers; *h; h++)
		if (http_header_count(rq, *h) > 1) {
			http_reply_error(rs, 400, "bad_request", "the %s header is repeated", *h);
			goto out;
		}
	if (rq->body_len > PV_HTTP_BODY_MAX) {
		http_reply_error(rs, 413, "too_large", "the body is larger than %d bytes",
				 PV_HTTP_BODY_MAX);
		goto out;
	}
	if (!rq->app->tls && !loopback_host(http_header(rq, "Host"))) {
		http_reply_error(rs, 421, "wrong_host", "over plain HTTP only a loopback name is "
				 "served (localhost, 127.0.0.1, [::1])");
		goto out;
	}
	if ((rt = find_route(rq, routes, n_routes, allow, sizeof(allow), &status)) == NULL) {
		if (status == 405) {
			http_reply_error(rs, 405, "method_not_allowed", "%s is not allowed here",
					 shown_method(rq->method));
			(void)http_response_header(rs, "Allow", allow);
		} else {
			http_reply_error(rs, 404, "not_found", "no such resource");
		}
		goto out;
	}
	run_route(rq, rs, rt, &broken);
out:
	if (rs->status == 0)
		http_reply_error(rs, 500, "internal", "internal error");
	http_security_headers(rq, rs, rt == NULL || !(rt->flags & HTTP_STATIC) ||
					      rs->status >= 400);
	json_decref(rq->json);
	rq->json = NULL;
	/* After a server-side failure (a 503 from /healthz too) the archive
	 * is closed, not pooled: SQLite may keep a connection that met a
	 * read-only or failing file read-only; the next request opens anew. */
	if (rq->ar != NULL)
		http_app_archive_put(rq->app, &rq->ar, broken || rs->status >= 500);
	pv_log(PV_LOG_INFO, "http.request", "%s %s %d %s %lldms", shown_method(rq->method),
	       rq->path[0] ? rq->path : "-", rs->status, rq->actor,
	       (long long)(pv_clock_monotonic_ms() - t0));
}
