#ifndef PV_HTTP_H
#define PV_HTTP_H

/* What an endpoint handler sees (STYLE.md habit 13): a request and a
 * response of our own. libmicrohttpd's types stay in server.c; tests and
 * the fuzzer build a struct http_request by hand and call http_dispatch
 * (router.h) the same way the server does.
 *
 * Before a handler runs, the router has matched its route (routes.c),
 * decoded the path, checked the session, the role, the Origin and the
 * CSRF token, the Content-Type, and parsed a JSON body strictly. A
 * handler then:
 *
 *   static int h_hold_add(struct http_request *rq, struct http_response *rs)
 *   {
 *           const char *name, *query;
 *           if (http_json_unpack(rq, "{s:s, s:s}", "name", &name, "query", &query) < 0)
 *                   return PV_EUSAGE;             // 400, rq->err says why
 *           if (archive_hold_place(rq->ar, rq->actor, name, query, &rq->err) < 0)
 *                   return rq->err.code;          // mapped to a status below
 *           return http_reply_json(rs, 201, json_pack("{s:s}", "name", name));
 *   }
 *
 * Return PV_OK once rs is filled, or a negative pv_status with rq->err
 * filled, which the router answers as JSON {"error": {"code", "message"}}:
 * PV_EUSAGE 400, PV_EAUTH 401, PV_EPERM 403, PV_ENOTFOUND 404,
 * PV_ELIMIT 413, PV_EEXISTS 409, PV_ETEMP 503, an "audit log: ..." failure 503 (the action
 * did not happen), anything else 500 (the message is logged, not sent). */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "archiver/store/datadir.h"
#include "archiver/store/sessions.h"
#include "audit/auditlog.h"

struct http_app;

struct http_header {
	const char *name;
	const char *value;
};

/* Roles (ARCHITECTURE.md §8), as bits for the route table. */
enum http_role {
	HTTP_ROLE_ADMIN = 1u << 0,
	HTTP_ROLE_LEGAL = 1u << 1,
	HTTP_ROLE_COMPLIANCE = 1u << 2,
};
#define HTTP_ROLES_ALL (HTTP_ROLE_ADMIN | HTTP_ROLE_LEGAL | HTTP_ROLE_COMPLIANCE)
/* The bit of a role name; 0 for anything else. */
unsigned http_role_bit(const char *role);

/* The signed-in user of a request. */
struct http_session {
	int64_t user_id;
	char user[USER_NAME_MAX + 1];
	char role[16];
	unsigned role_bit;
	unsigned char token_hash[SESSION_HASH_BYTES];
	char csrf[65];                /* the token state-changing requests must send */
	int64_t created_ms, last_seen_ms, expires_ms; /* unix ms; expires: the absolute timeout */
};

#define HTTP_PARAMS_MAX 4

struct http_request {
	/* Set by whoever delivers the request (server.c, a test, the fuzzer). */
	const char *method;   /* as sent: "GET", "POST", ... */
	const char *target;   /* request-target as sent: "/path?query", %-encoded */
	const struct http_header *headers;
	size_t n_headers;
	const unsigned char *body; /* NULL when none */
	size_t body_len;
	const char *peer;     /* client address as text, e.g. "127.0.0.1" */
	struct http_app *app;

	/* Set by the router before the handler runs. */
	char path[PV_HTTP_PATH_MAX + 1]; /* decoded; no "..", no NUL, no "//" */
	const char *query;               /* raw text after '?', "" when none */
	const char *params[HTTP_PARAMS_MAX]; /* the {name} segments of the pattern, decoded */
	size_t n_params;
	char param_buf[PV_HTTP_PATH_MAX + 1];
	const struct http_session *session; /* NULL: nobody signed in */
	struct http_session session_buf;
	char actor[AUDIT_ACTOR_MAX + 1]; /* "web:NAME" for archive_audit, "web:-" when anonymous */
	struct archive *ar;    /* this thread's archive (not for static files) */
	json_t *json;          /* the parsed body on HTTP_JSON_BODY routes (router owns it) */
	struct pv_error err;   /* a handler returning < 0 explains here */
};

/* A header's value (case-insensitive name), NULL when absent. The router
 * has refused requests repeating the headers it relies on. */
const char *http_header(const struct http_request *rq, const char *name);

/* The value of query argument `name` (application/x-www-form-urlencoded:
 * '+' is a space, %XX decoded) into out (size n). PV_ENOTFOUND when
 * absent; PV_EUSAGE when malformed, repeated, holding a NUL or longer than
 * n - 1 bytes. */
int http_query_get(const struct http_request *rq, const char *name, char *out, size_t n,
		   struct pv_error *err);
/* The same for a decimal integer in [min, max]; def when absent. */
int http_query_int(const struct http_request *rq, const char *name, int64_t def, int64_t min,
		   int64_t max, int64_t *out_r, struct pv_error *err);
/* Path parameter i (0-based, in pattern order) as an integer in [min, max];
 * PV_ENOTFOUND when it is not one (an id that cannot exist). */
int http_param_int(const struct http_request *rq, size_t i, int64_t min, int64_t max,
		   int64_t *out_r, struct pv_error *err);

/* Unpacks rq->json with jansson's json_unpack in strict mode: a key not
 * in fmt is an error, like a missing or mistyped one (PV_EUSAGE, rq->err
 * names it). Strings unpacked point into rq->json (valid until the
 * handler returns). */
int http_json_unpack(struct http_request *rq, const char *fmt, ...);

/* --- responses ------------------------------------------------------------ */

#define HTTP_RESPONSE_HEADERS_MAX 24

/* A body produced piece by piece (files, raw messages, downloads): read
 * fills up to max bytes at offset pos and returns how many, 0 at the end,
 * -1 on error (the connection is then cut). done frees ctx. */
struct http_stream {
	ssize_t (*read)(void *ctx, uint64_t pos, char *buf, size_t max);
	void (*done)(void *ctx);
	void *ctx;
	int64_t size; /* bytes, or -1 when unknown (sent chunked) */
};

struct http_response {
	int status;
	struct pv_buf body; /* up to PV_HTTP_RESPONSE_MAX; or stream */
	struct http_stream stream; /* stream.read set: the body comes from here */
	struct {
		char *name, *value;
	} headers[HTTP_RESPONSE_HEADERS_MAX];
	size_t n_headers;
};

void http_response_init(struct http_response *rs);
/* Frees the body, the headers and an unsent stream (its done()). */
void http_response_free(struct http_response *rs);

/* Sets a header, replacing one of the same name. Names and values with
 * CR, LF or NUL are refused (PV_EUSAGE). */
int http_response_header(struct http_response *rs, const char *name, const char *value);
/* The value of a header set on rs, NULL when none. */
const char *http_response_get_header(const struct http_response *rs, const char *name);

/* Replies with `body` as JSON (takes the reference, even on failure; a
 * NULL body, as json_pack gives on failure, is a 500). */
int http_reply_json(struct http_response *rs, int status, json_t *body);
/* Replies {"error": {"code": code, "message": ...}}. */
int http_reply_error(struct http_response *rs, int status, const char *code, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));
/* Replies with the bytes of a stream (takes ownership of st). */
int http_reply_stream(struct http_response *rs, int status, const char *content_type,
		      const struct http_stream *st);
/* Replies with size bytes of the open file fd (taken: closed when sent,
 * also on failure, PV_ERR). static.c. */
int http_reply_fd(struct http_response *rs, int status, const char *content_type, int fd,
		  int64_t size);

/* Whether peer (a struct http_request's, as text) is this machine's
 * loopback: 127.0.0.0/8, ::1, or 127.x mapped into IPv6. */
bool http_peer_is_loopback(const char *peer);

#endif
