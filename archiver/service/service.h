#ifndef PV_SERVICE_H
#define PV_SERVICE_H

/* popvault serve: the appliance, one process per part (DESIGN.md §2's
 * process plan; ARCHITECTURE.md §8). A supervisor process forks them and
 * does nothing else:
 *
 *   web        the HTTPS server and JSON API (archiver/http), on a socket
 *              the supervisor bound, so a restarted web keeps the port
 *   harvest    the harvest scheduler (harvest/scheduler.h): every account
 *              every [harvest] interval, bounded parallelism, backoff,
 *              never two sessions on one mailbox, each session a process
 *              of its own; stops below the disk reserve (disk_guard.h)
 *   indexer    follows the catalog into the search index (indexer.h)
 *   heartbeat  both logs' heartbeat checkpoints, every 15 minutes
 *   dispose    proposes a disposal run of what is due (the two-person
 *              rule decides: approvals.h), every [serve] dispose_interval
 *   verify     a verify of a sample, every [serve] verify_interval, and a
 *              full verify every [serve] verify_full_interval
 *   anchor     both logs' checkpoints to the TSA and witnesses configured,
 *              every [anchor] interval and soon after a disposal run
 *              (archive_anchor_due, looked at every SVC_ANCHOR_CHECK_S)
 *
 * The first three run all the time; a child that dies is logged and
 * started again after 1 s, doubling up to a minute while it keeps dying.
 * The others are short processes the supervisor forks when due.
 *
 * Signals: SIGTERM or SIGINT stop every child (each harvest finishes the
 * batch in hand and QUITs, as `harvest` does) and return once all have
 * ended; SIGHUP reads the config file again and tells the web and the
 * scheduler (a new interval plans each account again; the listening
 * address and the TLS files stay until a restart). Under systemd
 * (Type=notify): READY=1 once the web listens, STATUS= with the last
 * harvest, WATCHDOG=1 at half of WatchdogSec, RELOADING=1 around a
 * reload, STOPPING=1 (lib/sdnotify.h).
 *
 * With web_only, only the web runs (a second front end, or the API's
 * tests): nothing is harvested, indexed, signed or verified on a
 * schedule. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "archiver/lib/config.h"
#include "archiver/lib/error.h"
#include "archiver/lib/sandbox.h"

/* How often the anchor part looks whether anchoring is due (at most its
 * interval): a disposal's record is anchored within this. */
#define SVC_ANCHOR_CHECK_S 300
/* How often serve looks whether its self-signed certificate nears its end. */
#define SVC_TLS_CHECK_S (12 * 3600)

struct service_opts {
	const char *data_dir;
	const char *config_path;      /* read again on SIGHUP */
	const struct pv_config *cfg;  /* as read at the start */
	const struct sockaddr *addr;  /* where the web listens (port 0: any free one) */
	socklen_t addr_len;
	const char *host;             /* addr's host as shown ("127.0.0.1", "::1") */
	const char *cert_pem;         /* HTTPS with these; NULL: plain HTTP */
	const char *key_pem;
	/* They are serve's own self-signed pair (http_tls_self_signed): made
	 * again while it runs when it nears its end, checked every
	 * tls_check_s (SVC_TLS_CHECK_S; tests shorten it). */
	bool tls_self_signed;
	int64_t tls_check_s;
	const char *web_root;
	const unsigned char *metrics_token_sha256; /* NULL: none */
	int64_t session_idle_s, session_max_s, request_time_max_s;
	int64_t heartbeat_s;          /* ARCHIVE_HEARTBEAT_S; tests shorten it */
	int64_t anchor_max_s;         /* at most this between anchors (tests shorten it) */
	int64_t anchor_check_s;       /* SVC_ANCHOR_CHECK_S; tests shorten it */
	bool web_only;
	/* Hidden --seccomp-selftest (tests/e2e/seccomp.t): the first part of
	 * this role tries a call its filter forbids; PV_ROLE_N: none. */
	enum pv_role seccomp_selftest;
	pid_t signer_pid;             /* the signer serve forked (0: none): its end stops serve */
};

/* Runs the appliance until SIGTERM or SIGINT. Prints "popvault: serving
 * URL (web root DIR)" once the web listens. Returns 0 after a clean stop;
 * an error when the socket cannot be bound or the web does not start. */
int service_run(const struct service_opts *o, struct pv_error *err);

#endif
