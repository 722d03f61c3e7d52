/* The HTTP layer without sockets (archiver/http): requests built by hand go
 * through the same router the server uses, against a real data directory.
 * Paths that must be refused, routes and their 404/405, deny by default,
 * CSRF and Origin, strict JSON, the error mapping (no internal detail
 * leaks), security headers, static files and traversal, session timeouts
 * on a controlled clock, TOTP, and the failed sign-in throttle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "archiver/cli/cli.h"
#include "archiver/http/app.h"
#include "archiver/http/handlers.h"
#include "archiver/http/router.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/log.h"
#include "archiver/lib/totp.h"
#include "archiver/store/user_totp.h"
#include "archiver/store/users.h"

#define PW "a long password"
#define HOST "pv.example:8443"

static char dir[64];
static struct http_app *app;
static int64_t fake_now_ms;

static int64_t fake_clock(void)
{
	return fake_now_ms;
}

/* --- handlers of a test route table ----------------------------------------- */

static int h_item(struct http_request *rq, struct http_response *rs)
{
	int64_t id;
	if (http_param_int(rq, 0, 1, 1000, &id, &rq->err) < 0)
		return rq->err.code;
	return http_reply_json(rs, 200, json_pack("{s:I, s:s}", "id", (json_int_t)id, "who",
						  rq->actor));
}

static int h_ok(struct http_request *rq, struct http_response *rs)
{
	(void)rq;
	return http_reply_json(rs, 200, json_pack("{s:b}", "ok", 1));
}

static int h_json(struct http_request *rq, struct http_response *rs)
{
	const char *name;
	json_int_t n = 0;
	if (http_json_unpack(rq, "{s:s, s?I}", "name", &name, "n", &n) < 0)
		return PV_EUSAGE;
	return http_reply_json(rs, 201, json_pack("{s:s, s:I}", "name", name, "n", n));
}

static int h_fail(struct http_request *rq, struct http_response *rs)
{
	(void)rs;
	const char *k = rq->params[0];
	if (strcmp(k, "notfound") == 0)
		return pv_fail(&rq->err, PV_ENOTFOUND, "no message 7");
	if (strcmp(k, "usage") == 0)
		return pv_fail(&rq->err, PV_EUSAGE, "bad query");
	if (strcmp(k, "audit") == 0)
		return pv_fail(&rq->err, PV_ERR, "audit log: disk full");
	if (strcmp(k, "temp") == 0)
		return pv_fail(&rq->err, PV_ETEMP, "locked");
	if (strcmp(k, "nostatus") == 0)
		return PV_OK; /* a handler that forgot to answer */
	return pv_fail(&rq->err, PV_ERR, "open /var/lib/popvault/secret: EIO");
}

static int h_sandboxed(struct http_request *rq, struct http_response *rs)
{
	(void)rq;
	(void)http_response_header(rs, "Content-Security-Policy", "sandbox; default-src 'none'");
	return http_reply_json(rs, 200, json_pack("{}"));
}

static const struct http_route test_routes[] = {
	{"GET", "/api/v1/items/{id}", HTTP_ROLES_ALL, 0, h_item},
	{"DELETE", "/api/v1/items/{id}", HTTP_ROLE_LEGAL, 0, h_ok},
	{"GET", "/api/v1/nobody", 0, 0, h_ok},
	{"GET", "/api/v1/admin-only", HTTP_ROLE_ADMIN, 0, h_ok},
	{"POST", "/api/v1/json", HTTP_ROLES_ALL, HTTP_JSON_BODY, h_json},
	{"GET", "/api/v1/fail/{kind}", 0, HTTP_PUBLIC, h_fail},
	{"GET", "/api/v1/sandboxed", 0, HTTP_PUBLIC, h_sandboxed},
	{"POST", "/api/v1/session", 0, HTTP_PUBLIC | HTTP_JSON_BODY | HTTP_NO_CSRF, h_session_create},
	{"GET", "/*", 0, HTTP_PUBLIC | HTTP_STATIC, h_static},
};

/* --- calling it ------------------------------------------------------------------ */

struct call {
	struct http_response rs;
	json_t *json;
};

static int call_routes(struct call *c, const struct http_route *routes, size_t n,
		       const char *method, const char *target, const char *const *hdrs,
		       const char *body)
{
	struct http_header h[16];
	size_t nh = 0;
	for (; hdrs && hdrs[2 * nh]; nh++)
		h[nh] = (struct http_header){hdrs[2 * nh], hdrs[2 * nh + 1]};
	struct http_request rq = {.method = method, .target = target, .headers = h,
				  .n_headers = nh, .body = (const unsigned char *)body,
				  .body_len = body ? strlen(body) : 0, .peer = "192.0.2.7", .app = app};
	http_response_init(&c->rs);
	if (routes)
		http_dispatch_routes(&rq, &c->rs, routes, n);
	else
		http_dispatch(&rq, &c->rs);
	c->json = c->rs.body.len ? json_loadb((const char *)c->rs.body.data, c->rs.body.len, 0, NULL)
				 : NULL;
	return c->rs.status;
}

static int call(struct call *c, const char *method, const char *target, const char *const *hdrs,
		const char *body)
{
	return call_routes(c, test_routes, sizeof(test_routes) / sizeof(test_routes[0]), method,
			   target, hdrs, body);
}

static void done(struct call *c)
{
	if (c->rs.stream.read != NULL) {
		char buf[4096];
		for (uint64_t pos = 0;;) {
			ssize_t n = c->rs.stream.read(c->rs.stream.ctx, pos, buf, sizeof(buf));
			if (n <= 0)
				break;
			pos += (uint64_t)n;
		}
	}
	http_response_free(&c->rs);
	json_decref(c->json);
}

static const char *error_code(const struct call *c)
{
	json_t *e = json_object_get(c->json, "error");
	return json_string_value(json_object_get(e, "code"));
}

static const char *hdr(const struct call *c, const char *name)
{
	return http_response_get_header(&c->rs, name);
}

/* Signs in; cookie_r gets "name=token", csrf_r the token. */
static int sign_in(const char *user, const char *pw, const char *code, char cookie_r[128],
		   char csrf_r[65])
{
	char body[256];
	struct call c;
	snprintf(body, sizeof(body), "{\"user\": \"%s\", \"password\": \"%s\"%s%s%s}", user, pw,
		 code ? ", \"totp\": \"" : "", code ? code : "", code ? "\"" : "");
	const char *h[] = {"Content-Type", "application/json", NULL};
	int status = call(&c, "POST", "/api/v1/session", h, body);
	if (status == 200) {
		const char *sc = hdr(&c, "Set-Cookie");
		snprintf(cookie_r, 128, "%.*s", (int)strcspn(sc, ";"), sc);
		snprintf(csrf_r, 65, "%s", json_string_value(json_object_get(c.json, "csrf")));
	}
	done(&c);
	return status;
}

/* --- fixture ----------------------------------------------------------------------- */

static int setup(void **state)
{
	char data[128], web[128], path[256];
	struct cli_ctx ctx = {.actor = "cli:test"};
	struct archive *ar = NULL;
	struct pv_error err;
	bool changed;
	(void)state;

	if (sodium_init() < 0)
		return -1;
	user_pwhash_cost_for_tests();
	json_object_seed(1);
	pv_log_set_level(PV_LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/pv-http-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(web, sizeof(web), "%s/web", dir);
	ctx.data_dir = data;
	char *argv[] = {"init", NULL};
	fflush(stdout);
	int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, 1);
	int r = cli_init(&ctx, 1, argv, &err);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(devnull);
	if (r < 0 || mkdir(web, 0700) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/index.html", web);
	FILE *f = fopen(path, "w");
	fputs("<!doctype html><title>popvault</title>", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/app.0123abcd.js", web);
	f = fopen(path, "w");
	fputs("export {};\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/out", web);
	if (symlink("/etc/passwd", path) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/up", web);
	if (symlink("../data/popvault.conf", path) < 0)
		return -1;
	if (archive_open(data, &ar, &err) < 0 ||
	    user_set(ar->cat->conn, "alice", "legal", PW, false, 1, &changed, &err) < 0 ||
	    user_set(ar->cat->conn, "adam", "admin", PW, false, 1, &changed, &err) < 0)
		return -1;
	archive_close(&ar);
	struct http_config cfg = {data, web, true, 600, 3600, NULL, NULL};
	return http_app_new(&cfg, &app, &err) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	http_app_free(&app);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* --- tests ------------------------------------------------------------------------- */

/* /healthz gives its reasons (accounts, upstream servers) to a monitor
 * on this machine only. */
static void test_loopback_peers(void **state)
{
	(void)state;
	assert_true(http_peer_is_loopback("127.0.0.1"));
	assert_true(http_peer_is_loopback("127.8.9.10"));
	assert_true(http_peer_is_loopback("::1"));
	assert_true(http_peer_is_loopback("::ffff:127.0.0.1"));
	assert_false(http_peer_is_loopback("192.0.2.2"));
	assert_false(http_peer_is_loopback("1127.0.0.1"));
	assert_false(http_peer_is_loopback("::ffff:10.0.0.1"));
	assert_false(http_peer_is_loopback("fd00::2"));
	assert_false(http_peer_is_loopback(NULL));
}

static void test_targets_decoded_or_refused(void **state)
{
	static const struct {
		const char *target;
		int status;
	} v[] = {
		{"/", 200}, {"/index.html", 200}, {"/%69ndex.html", 200}, {"/index.html?x=1", 200},
		{"/a/../index.html", 400}, {"/..", 400}, {"/%2e%2e/data/catalog.db", 400},
		{"/.%2E/x", 400}, {"/x%2fy", 400}, {"/x%2Fy", 400}, {"/x%5cy", 400}, {"/x\\y", 400},
		{"/x%00", 400}, {"/x%0a", 400}, {"/x%zz", 400}, {"/x%4", 400}, {"/x%e2%82", 400},
		{"/x%c0%ae", 400}, {"//etc/passwd", 400}, {"/a//b", 400}, {"/./index.html", 400},
		{"index.html", 400}, {"", 400}, {"*", 400}, {"http://h/index.html", 400},
		{"/%252e%252e/x", 404}, {"/nope", 404},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct call c;
		int st = call(&c, "GET", v[i].target, NULL, NULL);
		if (st != v[i].status)
			fail_msg("GET %s: %d, want %d", v[i].target, st, v[i].status);
		assert_non_null(hdr(&c, "Content-Security-Policy"));
		done(&c);
	}
	char longpath[PV_HTTP_PATH_MAX + 8];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	struct call c;
	assert_int_equal(call(&c, "GET", longpath, NULL, NULL), 414);
	done(&c);
}

static void test_routes_params_404_and_405(void **state)
{
	struct call c;
	(void)state;
	assert_int_equal(call(&c, "GET", "/api/v1/fail/notfound", NULL, NULL), 404);
	assert_string_equal(error_code(&c), "not_found");
	done(&c);
	assert_int_equal(call(&c, "GET", "/api/v1/items", NULL, NULL), 404);
	done(&c);
	assert_int_equal(call(&c, "GET", "/api/v1/items/4/2", NULL, NULL), 404);
	done(&c);
	assert_int_equal(call(&c, "GET", "/api/nothing", NULL, NULL), 404);
	assert_string_equal(error_code(&c), "not_found");
	assert_string_equal(hdr(&c, "Cache-Control"), "no-store");
	done(&c);
	assert_int_equal(call(&c, "PATCH", "/api/v1/items/1", NULL, NULL), 405);
	assert_string_equal(error_code(&c), "method_not_allowed");
	assert_string_equal(hdr(&c, "Allow"), "GET, HEAD, DELETE");
	done(&c);
	assert_int_equal(call(&c, "BREW", "/index.html", NULL, NULL), 405);
	assert_string_equal(hdr(&c, "Allow"), "GET, HEAD");
	done(&c);
	assert_int_equal(call(&c, "get\r\nX: y", "/index.html", NULL, NULL), 405);
	done(&c);
}

static void test_deny_by_default_and_roles(void **state)
{
	char cookie[128], csrf[65];
	struct call c;
	(void)state;
	assert_int_equal(call(&c, "GET", "/api/v1/items/7", NULL, NULL), 401);
	assert_string_equal(error_code(&c), "unauthorized");
	done(&c);
	assert_int_equal(sign_in("alice", PW, NULL, cookie, csrf), 200);
	const char *h[] = {"Cookie", cookie, NULL};
	assert_int_equal(call(&c, "GET", "/api/v1/items/7", h, NULL), 200);
	assert_int_equal(json_integer_value(json_object_get(c.json, "id")), 7);
	assert_string_equal(json_string_value(json_object_get(c.json, "who")), "web:alice");
	done(&c);
	assert_int_equal(call(&c, "HEAD", "/api/v1/items/7", h, NULL), 200);
	done(&c);
	assert_int_equal(call(&c, "GET", "/api/v1/items/x7", h, NULL), 404); /* not an id */
	done(&c);
	assert_int_equal(call(&c, "GET", "/api/v1/nobody", h, NULL), 403); /* no roles: nobody */
	assert_string_equal(error_code(&c), "forbidden");
	done(&c);
	assert_int_equal(call(&c, "GET", "/api/v1/admin-only", h, NULL), 403);
	done(&c);
	assert_int_equal(sign_in("adam", PW, NULL, cookie, csrf), 200);
	const char *ha[] = {"Cookie", cookie, NULL};
	assert_int_equal(call(&c, "GET", "/api/v1/admin-only", ha, NULL), 200);
	done(&c);
	assert_int_equal(call(&c, "GET", "/api/v1/nobody", ha, NULL), 403);
	done(&c);
	const char *hx[] = {"Cookie", cookie, "X-CSRF-Token", csrf, NULL};
	assert_int_equal(call(&c, "DELETE", "/api/v1/items/7", hx, NULL), 403); /* legal only */
	done(&c);
	const char *hb[] = {"Cookie", "__Host-popvault=zz", NULL};
	assert_int_equal(call(&c, "GET", "/api/v1/items/7", hb, NULL), 401);
	assert_non_null(strstr(hdr(&c, "Set-Cookie"), "Max-Age=0"));
	done(&c);
	char two[300];
	snprintf(two, sizeof(two), "%s; %s", cookie, cookie); /* cookie tossing */
	const char *h2[] = {"Cookie", two, NULL};
	assert_int_equal(call(&c, "GET", "/api/v1/items/7", h2, NULL), 401);
	done(&c);
}

static void test_csrf_and_origin(void **state)
{
	char cookie[128], csrf[65], wrong[65];
	struct call c;
	(void)state;
	assert_int_equal(sign_in("alice", PW, NULL, cookie, csrf), 200);
	memcpy(wrong, csrf, sizeof(wrong));
	wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
	static const struct {
		const char *origin, *site;
		bool token;
		int status;
	} v[] = {
		{NULL, NULL, false, 403},
		{NULL, NULL, true, 200},
		{"https://" HOST, NULL, true, 200},
		{"https://PV.example:8443", "same-origin", true, 200},
		{NULL, "none", true, 200},
		{"null", NULL, true, 403},
		{"http://" HOST, NULL, true, 403},
		{"https://" HOST ".evil", NULL, true, 403},
		{"https://evil.example", NULL, true, 403},
		{NULL, "same-site", true, 403},
		{NULL, "cross-site", true, 403},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *h[12];
		size_t n = 0;
		h[n++] = "Cookie", h[n++] = cookie, h[n++] = "Host", h[n++] = HOST;
		if (v[i].token)
			h[n++] = "X-CSRF-Token", h[n++] = csrf;
		if (v[i].origin)
			h[n++] = "Origin", h[n++] = v[i].origin;
		if (v[i].site)
			h[n++] = "Sec-Fetch-Site", h[n++] = v[i].site;
		h[n] = NULL;
		int st = call(&c, "DELETE", "/api/v1/items/3", h, NULL);
		if (st != v[i].status)
			fail_msg("case %zu: %d, want %d", i, st, v[i].status);
		done(&c);
	}
	const char *h[] = {"Cookie", cookie, "X-CSRF-Token", wrong, NULL};
	assert_int_equal(call(&c, "DELETE", "/api/v1/items/3", h, NULL), 403);
	assert_string_equal(error_code(&c), "csrf");
	done(&c);
	const char *h2[] = {"Cookie", cookie, "X-CSRF-Token", csrf, "X-CSRF-Token", csrf, NULL};
	assert_int_equal(call(&c, "DELETE", "/api/v1/items/3", h2, NULL), 400); /* repeated */
	done(&c);
	/* A cross-site GET changes nothing, so it is answered. */
	const char *h3[] = {"Cookie", cookie, "Sec-Fetch-Site", "cross-site", NULL};
	assert_int_equal(call(&c, "GET", "/api/v1/items/3", h3, NULL), 200);
	done(&c);
}

static void test_json_bodies_strict(void **state)
{
	char cookie[128], csrf[65];
	struct call c;
	(void)state;
	assert_int_equal(sign_in("alice", PW, NULL, cookie, csrf), 200);
	static const struct {
		const char *ctype, *body;
		int status;
		const char *code;
	} v[] = {
		{"application/json", "{\"name\": \"x\"}", 201, NULL},
		{"application/json; charset=utf-8", "{\"name\": \"x\", \"n\": 3}", 201, NULL},
		{"Application/JSON", "{\"name\": \"x\"}", 201, NULL},
		{"application/jsonx", "{\"name\": \"x\"}", 415, "unsupported_media_type"},
		{"text/plain", "{\"name\": \"x\"}", 415, "unsupported_media_type"},
		{NULL, "{\"name\": \"x\"}", 415, "unsupported_media_type"},
		{"application/json", "", 400, "bad_json"},
		{"application/json", "{\"name\": \"x\"", 400, "bad_json"},
		{"application/json", "{\"name\": \"x\"} {}", 400, "bad_json"},
		{"application/json", "{\"name\": \"x\", \"name\": \"y\"}", 400, "bad_json"},
		{"application/json", "[\"x\"]", 400, "bad_json"},
		{"application/json", "\"x\"", 400, "bad_json"},
		{"application/json", "{\"name\": \"x\\u0000y\"}", 400, "bad_json"},
		{"application/json", "{\"name\": \"\xff\"}", 400, "bad_json"},
		{"application/json", "{\"name\": \"x\", \"extra\": 1}", 400, "bad_request"},
		{"application/json", "{\"name\": 5}", 400, "bad_request"},
		{"application/json", "{\"n\": 5}", 400, "bad_request"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *h[] = {"Cookie", cookie, "X-CSRF-Token", csrf, "Content-Type", v[i].ctype,
				   NULL};
		if (v[i].ctype == NULL)
			h[4] = NULL;
		int st = call(&c, "POST", "/api/v1/json", h, v[i].body);
		if (st != v[i].status || (v[i].code && strcmp(error_code(&c), v[i].code) != 0))
			fail_msg("case %zu: %d %s", i, st, (const char *)c.rs.body.data);
		done(&c);
	}
	/* A body where none is taken. */
	const char *h[] = {"Cookie", cookie, "X-CSRF-Token", csrf, NULL};
	assert_int_equal(call(&c, "DELETE", "/api/v1/items/3", h, "{}"), 400);
	done(&c);
}

static void test_query_arguments(void **state)
{
	struct http_request rq = {0};
	struct pv_error err;
	char out[64];
	int64_t n;
	(void)state;
	rq.query = "q=from%3Aalice+OR+bob&limit=50&empty=&flag&dup=1&dup=2&bad=%zz&nul=a%00b";
	assert_int_equal(http_query_get(&rq, "q", out, sizeof(out), &err), PV_OK);
	assert_string_equal(out, "from:alice OR bob");
	assert_int_equal(http_query_get(&rq, "empty", out, sizeof(out), &err), PV_OK);
	assert_string_equal(out, "");
	assert_int_equal(http_query_get(&rq, "flag", out, sizeof(out), &err), PV_OK);
	assert_int_equal(http_query_get(&rq, "missing", out, sizeof(out), &err), PV_ENOTFOUND);
	assert_int_equal(http_query_get(&rq, "dup", out, sizeof(out), &err), PV_EUSAGE);
	assert_int_equal(http_query_get(&rq, "bad", out, sizeof(out), &err), PV_EUSAGE);
	assert_int_equal(http_query_get(&rq, "nul", out, sizeof(out), &err), PV_EUSAGE);
	assert_int_equal(http_query_get(&rq, "q", out, 5, &err), PV_EUSAGE); /* too long */
	assert_int_equal(http_query_int(&rq, "limit", 10, 0, 100, &n, &err), PV_OK);
	assert_int_equal(n, 50);
	assert_int_equal(http_query_int(&rq, "offset", 7, 0, 100, &n, &err), PV_OK);
	assert_int_equal(n, 7);
	assert_int_equal(http_query_int(&rq, "limit", 10, 0, 49, &n, &err), PV_EUSAGE);
	assert_int_equal(http_query_int(&rq, "q", 10, 0, 49, &n, &err), PV_EUSAGE);
	rq.query = "limit=99999999999999999999999&neg=-5&plus=+5";
	assert_int_equal(http_query_int(&rq, "limit", 0, 0, INT64_MAX, &n, &err), PV_EUSAGE);
	assert_int_equal(http_query_int(&rq, "neg", 0, -10, 10, &n, &err), PV_OK);
	assert_int_equal(n, -5);
	assert_int_equal(http_query_int(&rq, "plus", 0, -10, 10, &n, &err), PV_EUSAGE);
}

static void test_errors_mapped_without_leaking_internals(void **state)
{
	static const struct {
		const char *kind;
		int status;
		const char *code;
	} v[] = {{"notfound", 404, "not_found"}, {"usage", 400, "bad_request"},
		 {"audit", 503, "audit_failed"},  {"temp", 503, "unavailable"},
		 {"internal", 500, "internal"},   {"nostatus", 500, "internal"}};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char target[64];
		struct call c;
		snprintf(target, sizeof(target), "/api/v1/fail/%s", v[i].kind);
		assert_int_equal(call(&c, "GET", target, NULL, NULL), v[i].status);
		assert_string_equal(error_code(&c), v[i].code);
		assert_null(strstr((const char *)c.rs.body.data, "/var/lib"));
		assert_string_equal(hdr(&c, "X-Content-Type-Options"), "nosniff");
		assert_string_equal(hdr(&c, "Cache-Control"), "no-store");
		assert_non_null(hdr(&c, "Strict-Transport-Security"));
		if (v[i].status == 503)
			assert_non_null(hdr(&c, "Retry-After"));
		done(&c);
	}
	struct call c;
	assert_int_equal(call(&c, "GET", "/api/v1/sandboxed", NULL, NULL), 200);
	assert_string_equal(hdr(&c, "Content-Security-Policy"), "sandbox; default-src 'none'");
	assert_string_equal(hdr(&c, "Referrer-Policy"), "no-referrer");
	done(&c);
}

static void test_static_files_cached_and_contained(void **state)
{
	struct call c;
	(void)state;
	assert_int_equal(call(&c, "GET", "/", NULL, NULL), 200);
	assert_string_equal(hdr(&c, "Content-Type"), "text/html; charset=utf-8");
	assert_string_equal(hdr(&c, "Cache-Control"), "no-cache");
	char etag[64];
	snprintf(etag, sizeof(etag), "%s", hdr(&c, "ETag"));
	done(&c);
	const char *h[] = {"If-None-Match", etag, NULL};
	assert_int_equal(call(&c, "GET", "/index.html", h, NULL), 304);
	done(&c);
	char list[128];
	snprintf(list, sizeof(list), "\"other\", W/%s", etag);
	const char *hl[] = {"If-None-Match", list, NULL};
	assert_int_equal(call(&c, "GET", "/index.html", hl, NULL), 304);
	done(&c);
	const char *hn[] = {"If-None-Match", "\"other\"", NULL};
	assert_int_equal(call(&c, "GET", "/index.html", hn, NULL), 200);
	done(&c);
	assert_int_equal(call(&c, "GET", "/app.0123abcd.js", NULL, NULL), 200);
	assert_string_equal(hdr(&c, "Content-Type"), "text/javascript; charset=utf-8");
	assert_string_equal(hdr(&c, "Cache-Control"), "public, max-age=31536000, immutable");
	assert_null(strstr(hdr(&c, "Cache-Control"), "no-store"));
	done(&c);
	assert_int_equal(call(&c, "GET", "/out", NULL, NULL), 404);  /* symlink to /etc/passwd */
	done(&c);
	assert_int_equal(call(&c, "GET", "/up", NULL, NULL), 404);   /* symlink out via .. */
	done(&c);
	assert_int_equal(call(&c, "POST", "/index.html", NULL, NULL), 405);
	done(&c);
}

static void test_session_idle_and_absolute_timeouts(void **state)
{
	char cookie[128], csrf[65];
	struct call c;
	(void)state;
	fake_now_ms = pv_clock_now_ms();
	pv_clock_override(fake_clock);
	assert_int_equal(sign_in("alice", PW, NULL, cookie, csrf), 200);
	const char *h[] = {"Cookie", cookie, NULL};
	/* Active every 9 minutes (the idle timeout is 10): alive until the
	 * absolute hour is up. */
	for (int i = 1; i <= 7; i++) {
		fake_now_ms += 9 * 60 * 1000;
		assert_int_equal(call(&c, "GET", "/api/v1/items/1", h, NULL), i < 7 ? 200 : 401);
		done(&c);
	}
	assert_int_equal(sign_in("alice", PW, NULL, cookie, csrf), 200);
	fake_now_ms += 600 * 1000 - 1;
	assert_int_equal(call(&c, "GET", "/api/v1/items/1", h, NULL), 200);
	done(&c);
	fake_now_ms += 600 * 1000;
	assert_int_equal(call(&c, "GET", "/api/v1/items/1", h, NULL), 401);
	assert_non_null(strstr(hdr(&c, "Set-Cookie"), "Max-Age=0"));
	done(&c);
	pv_clock_override(NULL);
}

static void test_totp_required_once_enrolled_and_never_replayed(void **state)
{
	unsigned char secret[TOTP_SECRET_BYTES];
	char cookie[128], csrf[65], code[8];
	struct archive *ar = NULL;
	struct pv_error err;
	(void)state;
	assert_int_equal(archive_open(app->data_dir, &ar, &err), PV_OK);
	assert_int_equal(user_totp_enrol(ar->cat->conn, ar->kr, "adam", secret, &err), PV_OK);
	assert_int_equal(sign_in("adam", PW, NULL, cookie, csrf), 401);
	snprintf(code, sizeof(code), "%06u", totp_hotp(secret, sizeof(secret),
						      totp_step(pv_clock_now())));
	assert_int_equal(sign_in("adam", PW, code, cookie, csrf), 200);
	assert_int_equal(sign_in("adam", PW, code, cookie, csrf), 401);
	assert_int_equal(sign_in("adam", "wrong password!", code, cookie, csrf), 401);
	assert_int_equal(user_totp_remove(ar->cat->conn, "adam", &err), PV_OK);
	assert_int_equal(user_totp_require(ar->cat->conn, "admin", NULL, &err), PV_OK);
	struct call c;
	const char *h[] = {"Content-Type", "application/json", NULL};
	assert_int_equal(call(&c, "POST", "/api/v1/session", h,
			      "{\"user\": \"adam\", \"password\": \"" PW "\"}"), 401);
	assert_string_equal(error_code(&c), "totp_not_enrolled");
	done(&c);
	assert_int_equal(user_totp_require(ar->cat->conn, "none", NULL, &err), PV_OK);
	assert_int_equal(sign_in("adam", PW, NULL, cookie, csrf), 200);
	sodium_memzero(secret, sizeof(secret));
	archive_close(&ar);
}

static void test_failed_sign_ins_throttled_alike_for_any_name(void **state)
{
	char cookie[128], csrf[65];
	struct call c;
	(void)state;
	for (int i = 0; i < PV_HTTP_LOGIN_FREE_FAILURES_USER + 1; i++) {
		assert_int_equal(sign_in("alice", "not the password", NULL, cookie, csrf), 401);
		assert_int_equal(sign_in("nobody", "not the password", NULL, cookie, csrf), 401);
	}
	const char *h[] = {"Content-Type", "application/json", NULL};
	assert_int_equal(call(&c, "POST", "/api/v1/session", h,
			      "{\"user\": \"alice\", \"password\": \"" PW "\"}"), 429);
	assert_string_equal(error_code(&c), "too_many_requests");
	assert_string_equal(hdr(&c, "Retry-After"), "1");
	done(&c);
	assert_int_equal(call(&c, "POST", "/api/v1/session", h,
			      "{\"user\": \"nobody\", \"password\": \"x\"}"), 429);
	done(&c);
	sleep(1);
	assert_int_equal(sign_in("alice", PW, NULL, cookie, csrf), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback_peers),
		cmocka_unit_test(test_targets_decoded_or_refused),
		cmocka_unit_test(test_routes_params_404_and_405),
		cmocka_unit_test(test_deny_by_default_and_roles),
		cmocka_unit_test(test_csrf_and_origin),
		cmocka_unit_test(test_json_bodies_strict),
		cmocka_unit_test(test_query_arguments),
		cmocka_unit_test(test_errors_mapped_without_leaking_internals),
		cmocka_unit_test(test_static_files_cached_and_contained),
		cmocka_unit_test(test_session_idle_and_absolute_timeouts),
		cmocka_unit_test(test_totp_required_once_enrolled_and_never_replayed),
		cmocka_unit_test(test_failed_sign_ins_throttled_alike_for_any_name),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
