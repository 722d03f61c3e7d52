#ifndef PV_HTTP_ROUTER_H
#define PV_HTTP_ROUTER_H

/* The one way into the application (STYLE.md habit 13): every request,
 * whoever delivers it, goes through http_dispatch, which finds its route
 * in the one table (routes.c) and refuses, in this order:
 *   400 a target that is not a clean path (bad %-escapes, NUL or control
 *       characters, invalid UTF-8, "." / ".." / empty segments, an escaped
 *       slash), a repeated Host, Origin, Cookie, Content-Type,
 *       Content-Length, Sec-Fetch-Site or X-CSRF-Token header;
 *   413 a body over PV_HTTP_BODY_MAX;
 *   404 a path no route has (JSON, like every answer but static files);
 *   405 a method the path's routes do not have (with Allow);
 *   401 a route for signed-in users, without a live session; on a
 *       HTTP_BEARER route, an Authorization header that is not
 *       "Bearer " and the scrape token (a right one lets it through);
 *   403 a role the route does not list (deny by default: no roles, no
 *       access), a cross-site state-changing request (Origin is not this
 *       server, or Sec-Fetch-Site is neither same-origin nor none), a
 *       state-changing request without the session's X-CSRF-Token;
 *   415 a route taking JSON, sent something else; 400 malformed JSON,
 *       duplicate keys, not an object; 400 a body on a route taking none.
 * Then the handler runs with rq->ar borrowed from the pool, and every
 * answer gets the security headers (CSP, nosniff, Referrer-Policy, COOP,
 * CORP, HSTS over HTTPS; Cache-Control: no-store outside static files),
 * unless the handler set its own value. */

#include "archiver/http/http.h"

enum http_route_flag {
	HTTP_PUBLIC = 1u << 0,    /* no session needed (roles then unused) */
	HTTP_JSON_BODY = 1u << 1, /* takes an application/json object body */
	HTTP_NO_CSRF = 1u << 2,   /* state-changing without a session: sign-in only */
	HTTP_STATIC = 1u << 3,    /* a file from the web root: no archive, own caching */
	HTTP_BEARER = 1u << 4,    /* also open to "Authorization: Bearer TOKEN" with the
				   * scrape token (GET only; serve --metrics-token-file) */
};

typedef int (*http_handler_fn)(struct http_request *rq, struct http_response *rs);

struct http_route {
	const char *method;  /* GET (also answers HEAD), POST, PUT, PATCH, DELETE */
	const char *pattern; /* "/api/v1/messages/{id}": {x} is one segment;
			      * with HTTP_STATIC: any path outside /api/ */
	unsigned roles;      /* HTTP_ROLE_* allowed; ignored with HTTP_PUBLIC */
	unsigned flags;      /* enum http_route_flag */
	http_handler_fn fn;
};

/* routes.c */
extern const struct http_route http_routes[];
extern const size_t http_routes_count;

/* Answers rq into rs (initialised by the caller). Never fails: every
 * failure is an error answer. rq->app must be set. */
void http_dispatch(struct http_request *rq, struct http_response *rs);
/* The same through another table (unit tests). */
void http_dispatch_routes(struct http_request *rq, struct http_response *rs,
			  const struct http_route *routes, size_t n_routes);

/* An error answer decided outside the router (server.c: a body announced
 * too large, headers too large), with the same shape and headers. */
void http_reject(struct http_request *rq, struct http_response *rs, int status, const char *code,
		 const char *message);

/* The security headers (see above) on rs; api: also Cache-Control no-store. */
void http_security_headers(const struct http_request *rq, struct http_response *rs, bool api);

/* request.c, for the router: how often a header occurs; the path and query
 * from rq->target (status_r: 400 or 414 on failure); the JSON body
 * (status_r: 415 or 400). */
size_t http_header_count(const struct http_request *rq, const char *name);
int http_decode_target(struct http_request *rq, int *status_r, struct pv_error *err);
int http_parse_json_body(struct http_request *rq, int *status_r, struct pv_error *err);

#endif
