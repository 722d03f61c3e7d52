/* popvault witness init --name NAME [--data WDIR | --key F --state F]
 * popvault witness vkey [--data WDIR | --key F]
 * popvault witness serve --listen ADDR:PORT --log VKEY [--log VKEY]...
 *                        [--data WDIR | --key F --state F] [--tls-cert F --tls-key F]
 * A C2SP tlog-witness for other logs (archive/witness.h), in the
 * foreground until SIGINT or SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/witness.h"
#include "archiver/cli/cli.h"
#include "archiver/http/server.h"
#include "archiver/http/tls.h"
#include "archiver/http/witness_http.h"
#include "archiver/lib/fsutil.h"

/* The key and state files: --key/--state, else WDIR/witness.key and
 * WDIR/witness.db. */
static void paths(const struct cli_ctx *ctx, const struct cli_args *args, char *key, char *state,
		  size_t n)
{
	const char *k = cli_opt(args, "key"), *s = cli_opt(args, "state");
	if (k != NULL)
		snprintf(key, n, "%s", k);
	else
		snprintf(key, n, "%s/witness.key", ctx->data_dir);
	if (s != NULL)
		snprintf(state, n, "%s", s);
	else
		snprintf(state, n, "%s/witness.db", ctx->data_dir);
}

static int serve(const struct cli_listen *la, struct witness *w, const char *cert,
		 const char *key, size_t n_logs, struct pv_error *err)
{
	struct http_server_config sc = {.addr = (const struct sockaddr *)&la->ss,
					.listen_fd = -1,
					.cert_pem = cert,
					.key_pem = key,
					.request_time_max_s = PV_HTTP_REQUEST_TIME_MAX_S,
					.dispatch = witness_http_dispatch,
					.dispatch_ctx = w};
	struct http_server *srv = NULL;
	sigset_t stop;
	int r, sig = 0;
	/* Only sigwait below takes the signals; the server's threads inherit
	 * the mask. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = http_server_start(NULL, &sc, &srv, err)) < 0)
		return r;
	bool v6 = la->ss.ss_family == AF_INET6;
	printf("popvault: witness for %zu log key%s on %s://%s%s%s:%u/add-checkpoint\n", n_logs,
	       n_logs == 1 ? "" : "s", cert ? "https" : "http", v6 ? "[" : "", la->host,
	       v6 ? "]" : "", http_server_port(srv));
	fflush(stdout);
	while (sigwait(&stop, &sig) != 0)
		;
	printf("popvault: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
	fflush(stdout);
	http_server_stop(&srv);
	return PV_OK;
}

int cli_witness(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err)
{
	struct cli_opt opts[] = {{"name", CLI_VALUE, NULL},     {"key", CLI_VALUE, NULL},
				 {"state", CLI_VALUE, NULL},    {"listen", CLI_VALUE, NULL},
				 {"log", CLI_VALUE, NULL},      {"tls-cert", CLI_VALUE, NULL},
				 {"tls-key", CLI_VALUE, NULL}};
	struct cli_args args = {opts, 7, {0}, 0, false};
	const struct cli_command *cmd = cli_find_command("witness");
	char key[4096], state[4096];
	struct pv_buf vkey;
	int r;

	if ((r = cli_parse(ctx, cmd, argc, argv, &args, err)) != PV_OK)
		return r; /* 1: --help was printed */
	if (args.n_pos != 1)
		return pv_fail(err, PV_EUSAGE, "witness wants one of init, vkey, serve");
	paths(ctx, &args, key, state, sizeof(key));
	pv_buf_init(&vkey, NOTE_VKEY_MAX + 1);
	if (strcmp(args.pos[0], "init") == 0) {
		const char *name = cli_opt(&args, "name");
		if (name == NULL)
			return pv_fail(err, PV_EUSAGE, "witness init needs --name NAME (e.g. "
						       "witness.example.org/w1)");
		if (cli_opt(&args, "key") == NULL && cli_opt(&args, "state") == NULL &&
		    (r = pv_mkdir(ctx->data_dir, 0700, 1, err)) < 0)
			return r;
		if ((r = witness_init(key, state, name, &vkey, err)) == 0)
			printf("%s\n", pv_buf_str(&vkey));
		pv_buf_free(&vkey);
		return r;
	}
	if (strcmp(args.pos[0], "vkey") == 0) {
		if ((r = witness_key_vkey(key, &vkey, err)) == 0)
			printf("%s\n", pv_buf_str(&vkey));
		pv_buf_free(&vkey);
		return r;
	}
	if (strcmp(args.pos[0], "serve") != 0)
		return pv_fail(err, PV_EUSAGE, "witness: unknown command '%s'", args.pos[0]);

	struct cli_keys *logs = calloc(1, sizeof(*logs));
	struct witness *w = NULL;
	struct cli_listen la;
	char *cert = NULL, *tkey = NULL;
	size_t given;
	const char *tls_cert = cli_opt(&args, "tls-cert"), *tls_key = cli_opt(&args, "tls-key");
	if (logs == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (cli_opt(&args, "listen") == NULL)
		r = pv_fail(err, PV_EUSAGE, "witness serve needs --listen ADDR:PORT");
	else if ((tls_cert == NULL) != (tls_key == NULL))
		r = pv_fail(err, PV_EUSAGE, "--tls-cert and --tls-key go together");
	else if ((r = cli_parse_listen(cli_opt(&args, "listen"), &la, err)) == 0 &&
		 (r = cli_key_options(argc, argv, "log", cli_note_key, logs, &given, err)) == 0 &&
		 logs->n == 0)
		r = pv_fail(err, PV_EUSAGE, "witness serve needs --log VKEY: the verifier key of "
					    "each log it witnesses (popvault checkpoint --vkey)");
	if (r == 0 && tls_cert != NULL)
		r = http_tls_load(tls_cert, tls_key, &cert, &tkey, err);
	struct witness_opts o = {key, state, logs->note, logs->n};
	if (r == 0 && (r = witness_open(&o, &w, err)) == 0)
		r = serve(&la, w, cert, tkey, logs->n, err);
	witness_free(&w);
	free(cert);
	pv_secret_free(&tkey);
	free(logs);
	pv_buf_free(&vkey);
	return r;
}
