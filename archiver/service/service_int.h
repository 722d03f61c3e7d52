#ifndef PV_SERVICE_INT_H
#define PV_SERVICE_INT_H

/* Inside archiver/service: what the supervisor shares with the parts it
 * forks. Each part's main runs in a child process set up by the
 * supervisor (signals unblocked and at their defaults, the supervisor's
 * descriptors closed, a parent-death signal, a process name) and returns
 * its exit status. */

#include <stdbool.h>
#include <sys/types.h>

#include "archiver/lib/board.h"
#include "archiver/lib/config.h"
#include "archiver/service/service.h"

struct service {
	const struct service_opts *o;
	struct pv_config cfg;    /* the config in force (read again on SIGHUP) */
	/* DIR/popvault.conf, the archive's own, which every command reads:
	 * [anchor] and [witnesses] are its (popvault.conf(5)) also when
	 * serve was given --config (the Debian unit's /etc file). */
	struct pv_config archive_cfg;
	struct pv_board *board;  /* shared with every child */
	int listen_fd;           /* the web's socket */
	pid_t supervisor;
	/* The TLS pair the web starts with: the options' until the
	 * supervisor makes its self-signed one again (then its own copies). */
	const char *cert_pem, *key_pem;
};

/* The web: serves until SIGTERM/SIGINT. ready_fd >= 0: writes "R" there
 * once it listens, or "E" and the reason when it cannot start. */
int svc_web_main(struct service *sv, int ready_fd);

/* The harvest scheduler until SIGTERM/SIGINT; SIGHUP reads the config. */
int svc_harvest_main(struct service *sv);

/* One run each of the scheduled work. */
int svc_heartbeat_main(struct service *sv);
int svc_dispose_main(struct service *sv);
int svc_verify_main(struct service *sv, bool full);
/* Shows both logs' latest checkpoints to the configured TSA and witnesses
 * (archive_anchor_all) when archive_anchor_due says so: once the
 * interval below has passed since the last attempt (a restart does not
 * anchor sooner), or after a disposal run. */
int svc_anchor_main(struct service *sv);
/* [anchor] interval (at most the test's POPVAULT_ANCHOR_S); 0 when no TSA
 * or witness is configured. */
int64_t svc_anchor_interval_s(const struct service *sv);

/* The config file of sv again (sv->o->config_path), and the data
 * directory's (sv->archive_cfg). */
int svc_config_read(const struct service *sv, struct pv_config *cfg, struct pv_error *err);
int svc_archive_config_read(const struct service *sv, struct pv_config *cfg,
			    struct pv_error *err);

#endif
