/* popvault serve [--listen ADDR:PORT] [--tls-cert F --tls-key F] [--plain-http]
 *                [--web-root DIR] [--config F] [--metrics-token-file F]
 *       popvault serve --print-routes   (not in --help: for tests/e2e/api_matrix.t)
 * The web UI and JSON API (archiver/http/, docs/api.md), in the
 * foreground until SIGINT or SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/cli/cli.h"
#include "archiver/http/app.h"
#include "archiver/http/router.h"
#include "archiver/http/server.h"
#include "archiver/http/tls.h"
#include "archiver/lib/sdnotify.h"
#include "archiver/lib/config.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/hex.h"

#define SHARE_WEB_ROOT "/usr/share/popvault/web-static"

struct listen_addr {
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN + 2];
	unsigned port;
	bool loopback;
};

/* "ADDR:PORT" or "[V6ADDR]:PORT", numeric addresses only. */
static int parse_listen(const char *s, struct listen_addr *a, struct pv_error *err)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	size_t hl = colon ? (size_t)(colon - s) : 0;
	char *end;

	memset(a, 0, sizeof(*a));
	if (colon == NULL || hl == 0 || hl >= sizeof(host) || colon[1] == '\0')
		return pv_fail(err, PV_EUSAGE, "--listen wants ADDR:PORT, e.g. 127.0.0.1:8443");
	memcpy(host, s, hl);
	host[hl] = '\0';
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end != '\0' || port > 65535 || colon[1] == '-' || colon[1] == '+')
		return pv_fail(err, PV_EUSAGE, "--listen: bad port '%s'", colon + 1);
	a->port = (unsigned)port;
	if (host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->ss;
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) != 1)
			return pv_fail(err, PV_EUSAGE, "--listen: bad IPv6 address '%s'", host + 1);
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		a->loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
		memmove(a->host, host + 1, strlen(host + 1) + 1);
		return PV_OK;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) != 1)
		return pv_fail(err, PV_EUSAGE, "--listen: '%s' is not a numeric address "
					       "(use [..] for IPv6)", host);
	v4->sin_family = AF_INET;
	v4->sin_port = htons((uint16_t)port);
	a->loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
	memcpy(a->host, host, hl + 1);
	return PV_OK;
}

/* --web-root, else web-static/ beside the directory of the binary (the
 * source tree: build/popvault), else the installed SHARE_WEB_ROOT. */
static void default_web_root(char *out, size_t n)
{
	char exe[PATH_MAX];
	struct stat st;
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0) {
		exe[len] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(out, n, "%s/../web-static", exe) < n &&
			    stat(out, &st) == 0 && S_ISDIR(st.st_mode))
				return;
		}
	}
	snprintf(out, n, "%s", SHARE_WEB_ROOT);
}

/* A timeout that the environment may shorten (tests), never lengthen. */
static int64_t env_seconds(const char *name, int64_t max)
{
	const char *v = getenv(name);
	char *end;
	if (v == NULL || v[0] == '\0')
		return max;
	errno = 0;
	long long s = strtoll(v, &end, 10);
	return errno == 0 && *end == '\0' && s >= 1 && s < max ? s : max;
}

/* The route table, one JSON object a line: what tests/e2e/api_matrix.t
 * builds the role matrix from. */
static void print_routes(void)
{
	static const struct {
		unsigned bit;
		const char *name;
	} roles[] = {{HTTP_ROLE_ADMIN, "admin"},
		     {HTTP_ROLE_LEGAL, "legal"},
		     {HTTP_ROLE_COMPLIANCE, "compliance"}};
	for (size_t i = 0; i < http_routes_count; i++) {
		const struct http_route *rt = &http_routes[i];
		json_t *rl = json_array();
		for (size_t k = 0; k < sizeof(roles) / sizeof(roles[0]); k++)
			if (!(rt->flags & HTTP_PUBLIC) && (rt->roles & roles[k].bit))
				json_array_append_new(rl, json_string(roles[k].name));
		json_t *o = json_pack("{s:s, s:s, s:o, s:b, s:b, s:b, s:b}", "method", rt->method,
				      "pattern", rt->pattern, "roles", rl, "public",
				      (rt->flags & HTTP_PUBLIC) != 0, "json_body",
				      (rt->flags & HTTP_JSON_BODY) != 0, "bearer",
				      (rt->flags & HTTP_BEARER) != 0, "static",
				      (rt->flags & HTTP_STATIC) != 0);
		char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (line != NULL)
			puts(line);
		free(line);
		json_decref(o);
	}
	fflush(stdout);
}

/* --metrics-token-file F: the scrape token's SHA-256, 64 hex digits (the
 * server never holds the token itself). */
static int read_token_hash(const char *path, unsigned char out[32], struct pv_error *err)
{
	char *text = NULL;
	int r = pv_read_secret_file(path, &text, err);
	if (r < 0)
		return r;
	if (strlen(text) != 64 || pv_unhex(text, 64, out, 32) != 0)
		r = pv_fail(err, PV_EUSAGE, "%s: want the token's SHA-256 as 64 hex digits "
					    "(printf %%s TOKEN | sha256sum)", path);
	pv_secret_free(&text);
	return r;
}

static int run(struct cli_ctx *ctx, const struct listen_addr *la, const char *cert,
	       const char *key, const char *web_root, const unsigned char *token_hash,
	       struct pv_error *err)
{
	struct http_config hc = {ctx->data_dir, web_root, cert != NULL,
				 env_seconds("POPVAULT_SESSION_IDLE_S", PV_HTTP_SESSION_IDLE_S),
				 env_seconds("POPVAULT_SESSION_MAX_S", PV_HTTP_SESSION_MAX_S),
				 token_hash};
	struct http_server_config sc = {(const struct sockaddr *)&la->ss, cert, key,
					env_seconds("POPVAULT_HTTP_REQUEST_S",
						    PV_HTTP_REQUEST_TIME_MAX_S)};
	struct http_app *app = NULL;
	struct http_server *srv = NULL;
	sigset_t stop;
	int r, sig = 0;

	/* Every thread the server starts inherits this mask; only sigwait
	 * below takes the signals. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	json_object_seed(0);
	if ((r = http_app_new(&hc, &app, err)) < 0 ||
	    (r = http_server_start(app, &sc, &srv, err)) < 0) {
		http_app_free(&app);
		return r;
	}
	bool v6 = la->ss.ss_family == AF_INET6;
	printf("popvault: serving %s://%s%s%s:%u/ (web root %s)\n", cert ? "https" : "http",
	       v6 ? "[" : "", la->host, v6 ? "]" : "", http_server_port(srv), web_root);
	fflush(stdout);
	/* systemd (Type=notify): ready once listening, then a watchdog ping
	 * at half the interval it asks for; no-ops outside systemd. */
	(void)pv_sd_notifyf(NULL, "READY=1\nSTATUS=serving on port %u", http_server_port(srv));
	uint64_t wd_us = pv_sd_watchdog_usec();
	for (;;) {
		if (wd_us == 0) {
			if (sigwait(&stop, &sig) == 0)
				break;
			continue;
		}
		struct timespec ts = {(time_t)(wd_us / 2 / 1000000), (long)(wd_us / 2 % 1000000) * 1000};
		if ((sig = sigtimedwait(&stop, NULL, &ts)) > 0)
			break;
		(void)pv_sd_notify("WATCHDOG=1", NULL);
	}
	(void)pv_sd_notify("STOPPING=1", NULL);
	printf("popvault: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
	fflush(stdout);
	http_server_stop(&srv);
	http_app_free(&app);
	return PV_OK;
}

int cli_serve(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"listen", CLI_VALUE, NULL},     {"tls-cert", CLI_VALUE, NULL},
				 {"tls-key", CLI_VALUE, NULL},    {"plain-http", CLI_FLAG, NULL},
				 {"web-root", CLI_VALUE, NULL},   {"config", CLI_VALUE, NULL},
				 {"print-routes", CLI_FLAG, NULL},
				 {"metrics-token-file", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 8, {0}, 0, false};
	unsigned char token_hash[32];
	const struct cli_command *cmd = cli_find_command("serve");
	const char *tls_cert, *tls_key;
	char *cert = NULL, *key = NULL, web_root[PATH_MAX];
	struct listen_addr la;
	struct pv_config cfg;
	bool plain, created = false;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	tls_cert = cli_opt(&args, "tls-cert");
	tls_key = cli_opt(&args, "tls-key");
	plain = cli_opt(&args, "plain-http") != NULL;
	if (args.n_pos != 0)
		return pv_fail(err, PV_EUSAGE, "serve takes no arguments");
	if (cli_opt(&args, "print-routes") != NULL) {
		print_routes();
		return PV_OK;
	}
	const char *token_file = cli_opt(&args, "metrics-token-file");
	if (token_file != NULL && (r = read_token_hash(token_file, token_hash, err)) < 0)
		return r;
	if ((tls_cert == NULL) != (tls_key == NULL))
		return pv_fail(err, PV_EUSAGE, "--tls-cert and --tls-key go together");
	if (plain && tls_cert != NULL)
		return pv_fail(err, PV_EUSAGE, "--plain-http and --tls-cert exclude each other");
	if ((r = cli_opt(&args, "config") ? pv_config_load_file(cli_opt(&args, "config"), &cfg, err)
					  : pv_config_load(ctx->data_dir, &cfg, err)) < 0)
		return r;
	const char *listen = cli_opt(&args, "listen") ? cli_opt(&args, "listen") : cfg.listen;
	if ((r = parse_listen(listen, &la, err)) < 0)
		return r;
	/* Sessions and passwords in clear only where nobody else can listen. */
	if (plain && !la.loopback)
		return pv_fail(err, PV_EUSAGE, "--plain-http only on a loopback address (127.0.0.1, "
					       "[::1]); use HTTPS for %s", la.host);
	if (cli_opt(&args, "web-root") != NULL)
		snprintf(web_root, sizeof(web_root), "%s", cli_opt(&args, "web-root"));
	else
		default_web_root(web_root, sizeof(web_root));

	if (tls_cert != NULL)
		r = http_tls_load(tls_cert, tls_key, &cert, &key, err);
	else if (!plain && (r = http_tls_self_signed(ctx->data_dir, la.host, &cert, &key, &created,
						     err)) == PV_OK && created)
		printf("popvault: made a self-signed certificate, %s/tls/cert.pem (trust it in "
		       "your browser, or give --tls-cert and --tls-key)\n", ctx->data_dir);
	/* Before any thread: the signer, then this process loses the keys. */
	struct signer *sg = NULL;
	if (r == PV_OK && (r = cli_privsep_begin(ctx, &sg, err)) == PV_OK) {
		r = run(ctx, &la, cert, key, web_root, token_file ? token_hash : NULL, err);
		cli_privsep_end(&sg);
	}
	free(cert);
	pv_secret_free(&key);
	return r;
}
