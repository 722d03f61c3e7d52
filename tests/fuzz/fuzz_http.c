/* libFuzzer target for the HTTP layer (archiver/http) without sockets: the
 * router, the request parsing (target, query, cookies, JSON bodies) and
 * every handler, against a real data directory made at start, with a
 * signed-in session whose cookie and CSRF token the seeds carry.
 *
 * An input is a request as text (any bytes):
 *   METHOD\n TARGET\n (Name: value\n)* \n BODY
 *
 * Findings: crashes, leaks, UB, and these oracles: every answer has a
 * status from 100 to 599 and the security headers; a JSON answer parses,
 * and an error is {"error": {"code", "message"}}; no answer carries bytes
 * of a file outside the web root (that no input carried: the archive keeps
 * what inputs stored); nothing under /api/ but the sign-in and
 * a public route succeeds without the session cookie. */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "archiver/cli/cli.h"
#include "archiver/http/app.h"
#include "archiver/http/router.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/log.h"
#include "archiver/store/sessions.h"
#include "archiver/store/users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The seeds' session: token = 32 bytes of 'A'; its CSRF token is
 * BLAKE2b-256 keyed by the token over "popvault/csrf/v1". */
#define TOKEN_BYTE 'A'

static char dir[64];
static struct http_app *app;
static struct user alice;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	http_app_free(&app);
	if (dir[0] != '\0')
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

static void setup(void)
{
	char data[128], web[128], path[256];
	struct cli_ctx ctx = {.actor = "cli:fuzz"};
	struct archive *ar = NULL;
	struct pv_error err;
	bool changed;

	if (sodium_init() < 0)
		abort();
	user_pwhash_cost_for_tests();
	json_object_seed(1);
	pv_log_set_level((enum pv_log_level)(PV_LOG_ERROR + 1)); /* quiet */
	snprintf(dir, sizeof(dir), "/tmp/pv-fuzz-http-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(cleanup);
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
		abort();
	snprintf(path, sizeof(path), "%s/index.html", web);
	write_file(path, "<!doctype html><title>popvault</title>\n");
	snprintf(path, sizeof(path), "%s/app.0123abcd.css", web);
	write_file(path, "body{}\n");
	snprintf(path, sizeof(path), "%s/.hidden", web);
	write_file(path, "SECRET-HIDDEN\n");
	snprintf(path, sizeof(path), "%s/out", web);
	if (symlink("/etc/passwd", path) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/conf", web);
	if (symlink("../data/popvault.conf", path) < 0)
		abort();
	if (archive_open(data, &ar, &err) < 0 ||
	    user_set(ar->cat->conn, "alice", "legal", "fuzz password 1", false, 1, &changed, &err) < 0 ||
	    user_set(ar->cat->conn, "adam", "admin", "fuzz password 1", false, 1, &changed, &err) < 0 ||
	    user_check_password(ar->cat->conn, "alice", "fuzz password 1", &alice, &err) < 0)
		abort();
	archive_close(&ar);
	struct http_config cfg = {data, web, true, PV_HTTP_SESSION_IDLE_S, PV_HTTP_SESSION_MAX_S,
				  NULL, NULL};
	if (http_app_new(&cfg, &app, &err) < 0)
		abort();
	/* Single-threaded: the one pooled archive serves every input. Its
	 * durability does not matter here, its speed does. */
	if (app->n_idle != 1 ||
	    sqlite3_exec(app->idle[0]->cat->db, "PRAGMA synchronous=OFF", NULL, NULL, NULL) != 0)
		abort();
}

/* The seeds' session exists at the start of every input (a seed signs out). */
static void ensure_session(void)
{
	unsigned char token[SESSION_TOKEN_BYTES], hash[SESSION_HASH_BYTES];
	struct web_session s;
	memset(token, TOKEN_BYTE, sizeof(token));
	session_token_hash(token, hash);
	struct db *db = app->idle[0]->cat->conn;
	if (session_find(db, hash, &s, NULL) == PV_ENOTFOUND &&
	    session_create(db, hash, &alice, pv_clock_now_ms(), PV_HTTP_SESSIONS_PER_USER_MAX,
			   NULL) < 0)
		abort();
}

/* The next line of [*p, end) as a NUL-terminated copy (NULL at the end). */
static char *next_line(const char **p, const char *end)
{
	if (*p >= end)
		return NULL;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = strndup(*p, n);
	if (s == NULL)
		abort();
	*p += n + (nl != NULL);
	return s;
}

static void check_answer(const struct http_request *rq, struct http_response *rs, bool cookie,
			 const void *input, size_t input_len)
{
	if (rs->status < 100 || rs->status > 599 ||
	    http_response_get_header(rs, "Content-Security-Policy") == NULL ||
	    http_response_get_header(rs, "X-Content-Type-Options") == NULL)
		abort();
	struct pv_buf all;
	pv_buf_init(&all, 1 << 20);
	if (rs->stream.read != NULL) {
		char buf[8192];
		for (uint64_t pos = 0;;) {
			ssize_t n = rs->stream.read(rs->stream.ctx, pos, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (pv_buf_append(&all, buf, (size_t)n, NULL) < 0)
				abort();
			pos += (uint64_t)n;
		}
	} else if (pv_buf_append(&all, rs->body.data, rs->body.len, NULL) < 0) {
		abort();
	}
	/* Bytes of a file outside the web root, or of a hidden one, unless a
	 * request carried them: error messages may quote this one, and the
	 * archive keeps what earlier ones stored (a matter named
	 * "root:x:0:0:" is listed later), so a marker any input carried is
	 * no evidence for the rest of the run. */
	static const char *const outside[] = {"root:x:0:0:", "[archive]", "SECRET-HIDDEN"};
	static bool carried[sizeof(outside) / sizeof(outside[0])];
	const char *s = pv_buf_str(&all);
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		carried[i] |= memmem(input, input_len, outside[i], strlen(outside[i])) != NULL;
		if (strstr(s, outside[i]) != NULL && !carried[i])
			abort();
	}
	const char *ct = http_response_get_header(rs, "Content-Type");
	if (ct != NULL && strcmp(ct, "application/json") == 0) {
		json_t *j = json_loadb(s, all.len, 0, NULL);
		if (j == NULL)
			abort();
		if (rs->status >= 400) {
			json_t *e = json_object_get(j, "error");
			if (json_object_size(j) != 1 || json_object_size(e) != 2 ||
			    !json_is_string(json_object_get(e, "code")) ||
			    !json_is_string(json_object_get(e, "message")))
				abort();
		}
		json_decref(j);
	}
	if (!cookie && rs->status < 300 && strncmp(rq->path, "/api/", 5) == 0 &&
	    strcmp(rq->path, "/api/v1/session") != 0)
		abort(); /* an API answer without a session */
	pv_buf_free(&all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_header headers[32];
	char *lines[32];
	size_t n_headers = 0, n_lines = 0;
	bool cookie = false;
	const char *p = (const char *)data, *end = p + size;

	if (app == NULL)
		setup();
	ensure_session();
	char *method = next_line(&p, end);
	char *target = next_line(&p, end);
	if (method == NULL || target == NULL) {
		free(method);
		return 0;
	}
	for (char *l; n_headers < 32 && (l = next_line(&p, end)) != NULL;) {
		char *colon = strchr(l, ':');
		if (l[0] == '\0' || colon == NULL) {
			free(l);
			break; /* the blank line before the body */
		}
		*colon = '\0';
		const char *v = colon + 1 + strspn(colon + 1, " \t");
		lines[n_lines++] = l;
		headers[n_headers++] = (struct http_header){l, v};
		cookie |= strcasecmp(l, "Cookie") == 0;
	}
	struct http_request rq = {.method = method, .target = target, .headers = headers,
				  .n_headers = n_headers,
				  .body = p < end ? (const unsigned char *)p : NULL,
				  .body_len = (size_t)(end - p), .peer = "192.0.2.9", .app = app};
	struct http_response rs;
	http_response_init(&rs);
	http_dispatch(&rq, &rs);
	check_answer(&rq, &rs, cookie, data, size);
	http_response_free(&rs);
	for (size_t i = 0; i < n_lines; i++)
		free(lines[i]);
	free(method);
	free(target);
	return 0;
}
