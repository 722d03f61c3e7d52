/* popvault serve [--listen ADDR:PORT] [--tls-cert F --tls-key F] [--plain-http]
 *                [--web-root DIR] [--config F] [--metrics-token-file F] [--web-only]
 *       popvault serve --print-routes   (not in --help: for tests/e2e/api_matrix.t)
 *       popvault serve --seccomp-selftest ROLE   (not in --help: tests/e2e/seccomp.t)
 * The appliance (archiver/service/service.h): the web UI and JSON API
 * (archiver/http/, docs/api.md), the harvest scheduler, the indexer and
 * the scheduled work, in the foreground until SIGINT or SIGTERM. This
 * file parses the options. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/cli/cli.h"
#include "archiver/http/app.h"
#include "archiver/http/router.h"
#include "archiver/http/tls.h"
#include "archiver/lib/config.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/service/service.h"
#include "archiver/signer/signer.h"

#define SHARE_WEB_ROOT "/usr/share/popvault/web-static"

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

int cli_serve(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"listen", CLI_VALUE, NULL},     {"tls-cert", CLI_VALUE, NULL},
				 {"tls-key", CLI_VALUE, NULL},    {"plain-http", CLI_FLAG, NULL},
				 {"web-root", CLI_VALUE, NULL},   {"config", CLI_VALUE, NULL},
				 {"print-routes", CLI_FLAG, NULL},
				 {"metrics-token-file", CLI_VALUE, NULL},
				 {"web-only", CLI_FLAG, NULL},
				 {"seccomp-selftest", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 10, {0}, 0, false};
	char config_path[PATH_MAX];
	unsigned char token_hash[32];
	const struct cli_command *cmd = cli_find_command("serve");
	const char *tls_cert, *tls_key;
	char *cert = NULL, *key = NULL, web_root[PATH_MAX];
	struct cli_listen la;
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
	/* Hidden, for tests/e2e/seccomp.t: a part of this role makes a call
	 * its filter forbids, once (lib/sandbox.h). */
	const char *selftest = cli_opt(&args, "seccomp-selftest");
	enum pv_role selftest_role = selftest != NULL ? pv_role_by_name(selftest) : PV_ROLE_N;
	if (selftest != NULL && (selftest_role == PV_ROLE_N || selftest_role == PV_ROLE_SUPERVISOR ||
				 selftest_role == PV_ROLE_SIGNER || selftest_role == PV_ROLE_PARSER))
		return pv_fail(err, PV_EUSAGE, "--seccomp-selftest: no part has the role '%s'",
			       selftest);
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
	if (cli_opt(&args, "config") != NULL)
		snprintf(config_path, sizeof(config_path), "%s", cli_opt(&args, "config"));
	else
		snprintf(config_path, sizeof(config_path), "%s/popvault.conf", ctx->data_dir);
	if ((r = pv_config_load_for_serve(ctx->data_dir, config_path, &cfg, err)) < 0)
		return r;
	const char *listen = cli_opt(&args, "listen") ? cli_opt(&args, "listen") : cfg.listen;
	if ((r = cli_parse_listen(listen, &la, err)) < 0 && cli_opt(&args, "listen") == NULL) {
		/* From the file, not the command line: said so, without the usage. */
		char why[PV_ERROR_MSG_MAX];
		const char *w = err->msg + (strncmp(err->msg, "--listen", 8) == 0 ? 8 : 0);
		snprintf(why, sizeof(why), "%s", w + strspn(w, ": "));
		return pv_fail(err, PV_ERR, "%s: [serve] listen = %s: %s", config_path, listen, why);
	}
	if (r < 0)
		return r;
	/* Sessions and passwords in clear only where nobody else can listen. */
	if (plain && !la.loopback)
		return pv_fail(err, PV_EUSAGE, "--plain-http only on a loopback address (127.0.0.1, "
					       "[::1]); use HTTPS for %s", la.host);
	if (cli_opt(&args, "web-root") != NULL)
		snprintf(web_root, sizeof(web_root), "%s", cli_opt(&args, "web-root"));
	else
		default_web_root(web_root, sizeof(web_root));

	if (tls_cert != NULL && (r = http_tls_load(tls_cert, tls_key, &cert, &key, err)) == PV_OK) {
		bool ours;
		int left = http_tls_days_left(cert, &ours);
		if (left != INT_MIN && left <= PV_HTTP_TLS_RENEW_DAYS)
			pv_log(PV_LOG_WARN, "tls.expiry", "the certificate %s %s %d days%s: renew it "
			       "(browsers refuse an expired one)", tls_cert,
			       left < 0 ? "expired" : "expires in", left < 0 ? -left : left,
			       left < 0 ? " ago" : "");
	}
	else if (!plain && (r = http_tls_self_signed(ctx->data_dir, la.host, &cert, &key, &created,
						     err)) == PV_OK && created)
		printf("popvault: made a self-signed certificate, %s/tls/cert.pem (trust it in "
		       "your browser, or give --tls-cert and --tls-key)\n", ctx->data_dir);
	struct service_opts so = {
		.data_dir = ctx->data_dir,
		.config_path = config_path,
		.cfg = &cfg,
		.addr = (const struct sockaddr *)&la.ss,
		.addr_len = la.ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							: sizeof(struct sockaddr_in),
		.host = la.host,
		.cert_pem = cert,
		.key_pem = key,
		.web_root = web_root,
		.metrics_token_sha256 = token_file ? token_hash : NULL,
		.session_idle_s = env_seconds("POPVAULT_SESSION_IDLE_S", PV_HTTP_SESSION_IDLE_S),
		.session_max_s = env_seconds("POPVAULT_SESSION_MAX_S", PV_HTTP_SESSION_MAX_S),
		.request_time_max_s = env_seconds("POPVAULT_HTTP_REQUEST_S", PV_HTTP_REQUEST_TIME_MAX_S),
		.heartbeat_s = env_seconds("POPVAULT_HEARTBEAT_S", ARCHIVE_HEARTBEAT_S),
		.anchor_max_s = env_seconds("POPVAULT_ANCHOR_S", 7 * 86400),
		.anchor_check_s = env_seconds("POPVAULT_ANCHOR_CHECK_S", SVC_ANCHOR_CHECK_S),
		.tls_self_signed = tls_cert == NULL && !plain,
		.tls_check_s = env_seconds("POPVAULT_TLS_CHECK_S", SVC_TLS_CHECK_S),
		.web_only = cli_opt(&args, "web-only") != NULL,
		.seccomp_selftest = selftest_role,
	};
	/* While it runs: a migrate waits for it to stop. Not fatal when the
	 * file cannot be made (a read-only copy): nothing to keep out then. */
	int serve_lock = -1;
	struct pv_error le;
	if (r == PV_OK && pv_lock_take(ctx->data_dir, CLI_SERVE_LOCK, false, &serve_lock, &le) < 0)
		pv_log(PV_LOG_DEBUG, "serve.lock", "%s", le.msg);
	/* One scheduler a data directory: a second serve would harvest, sign
	 * heartbeats, verify and propose disposals beside the first. */
	int sched_lock = -1;
	int lr = r == PV_OK && !so.web_only
			 ? pv_lock_take(ctx->data_dir, CLI_SERVE_SCHEDULER_LOCK, true, &sched_lock, &le)
			 : PV_OK;
	if (lr == PV_ETEMP)
		r = pv_fail(err, PV_ERR, "another popvault serve runs on %s (its scheduler: harvests, "
			    "heartbeats, verify, disposal proposals): stop it, or run this one with "
			    "--web-only", ctx->data_dir);
	else if (lr < 0) /* a read-only copy: nothing to keep out */
		pv_log(PV_LOG_WARN, "serve.lock", "%s (a second serve here would not be refused)",
		       le.msg);
	/* Before any thread or child: the signer, then this process (and every
	 * part it forks) loses the log keys. */
	struct signer *sg = NULL;
	if (r == PV_OK && (r = cli_privsep_begin(ctx, &sg, err)) == PV_OK) {
		so.signer_pid = signer_pid(sg);
		r = service_run(&so, err);
		cli_privsep_end(&sg);
	}
	if (serve_lock >= 0)
		close(serve_lock);
	if (sched_lock >= 0)
		close(sched_lock);
	free(cert);
	pv_secret_free(&key);
	return r;
}
