#ifndef PV_CONFIG_H
#define PV_CONFIG_H

/* The bootstrap config, DIR/popvault.conf (inih format). It holds only what
 * is needed before the database opens; everything an admin edits lives in
 * SQLite, versioned and audited (ARCHITECTURE.md §9). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"

/* A witness the logs send their checkpoints to ([witnesses] witness =
 * VKEY URL): its cosigner key (C2SP vkey, type 0x04; its name is the
 * witness's name) and its submission prefix. */
struct pv_witness_config {
	char vkey[PV_KEY_NAME_MAX + 64];
	char url[PV_URL_MAX + 1];
};

struct pv_config {
	char origin[256];          /* log origin prefix, e.g. "mail.example.org/popvault" */
	uint64_t message_max;      /* bytes; over-limit messages stay upstream */
	uint32_t batch_max;        /* messages per group commit */
	uint32_t batch_ms;         /* milliseconds per group commit */
	uint32_t parallel;         /* accounts harvested at once */
	/* A slow or endless server (limits.h, issue 16 finding 4): */
	uint32_t io_timeout_s;     /* a read or write without progress */
	uint32_t min_rate;         /* bytes/s while waiting to read, per io_timeout_s */
	uint32_t session_max_s;    /* one POP3 session at most */
	char listen[128];          /* serve: ADDR:PORT */
	/* [anchor] (archive/anchor.h): the RFC 3161 Time-Stamp Authority, the
	 * CA its certificate must chain to, the policy to ask for ("" none),
	 * how often the scheduler anchors, and when an anchor counts as stale. */
	char tsa_url[PV_URL_MAX + 1];
	char tsa_ca_file[1024];
	char tsa_crl_file[1024]; /* CRLs of the TSA's CA; "": revocation not checked */
	char tsa_policy[128];
	uint32_t anchor_interval_s;
	uint32_t anchor_stale_s;
	struct pv_witness_config witnesses[PV_WITNESSES_MAX];
	size_t n_witnesses;
	/* [witnesses] quorum: how many of them verify requires on a
	 * checkpoint of each log (0: cosignatures are checked, not required). */
	uint32_t witness_quorum;
	int64_t harvest_interval_s; /* serve: between harvests of an account */
	/* serve's scheduled work (seconds; 0: never): disposal proposals,
	 * verify of a sample (verify_sample messages decrypted), full verify. */
	int64_t dispose_interval_s;
	int64_t verify_interval_s;
	uint32_t verify_sample;
	int64_t verify_full_interval_s;
};

/* Defaults of serve's schedule (popvault.conf(5)). */
#define PV_CONFIG_HARVEST_INTERVAL_S 300
#define PV_CONFIG_DISPOSE_INTERVAL_S 86400
#define PV_CONFIG_VERIFY_INTERVAL_S 3600
#define PV_CONFIG_VERIFY_SAMPLE 100
#define PV_CONFIG_VERIFY_FULL_INTERVAL_S (7 * 86400)

void pv_config_defaults(struct pv_config *cfg);
/* Loads DIR/popvault.conf over the defaults. Unknown keys and bad values are
 * errors naming the line. Durations are digits with an optional unit s, m,
 * h or d (seconds without one). */
int pv_config_load(const char *data_dir, struct pv_config *cfg, struct pv_error *err);
/* Whether anyone outside is configured to anchor the logs: a TSA
 * ([anchor] tsa_url) or a witness ([witnesses]). */
bool pv_config_anchors(const struct pv_config *cfg);
/* The same from another file. */
int pv_config_load_file(const char *path, struct pv_config *cfg, struct pv_error *err);
/* serve --config F: only serve's own settings ([serve], [harvest] interval
 * and parallel); any other is an error naming where it belongs (the data
 * directory's file, which every harvest reads). */
int pv_config_load_serve(const char *path, struct pv_config *cfg, struct pv_error *err);
/* serve's settings from path: pv_config_load_serve, unless path is the
 * data directory's own file (then all of it). */
int pv_config_load_for_serve(const char *data_dir, const char *path, struct pv_config *cfg,
			     struct pv_error *err);
/* A duration as the config spells it: digits with an optional unit s, m,
 * h or d ("90", "30s", "15m"), in [min, max] seconds. 0 or -1 (bad). */
int pv_parse_duration(const char *s, int64_t min, int64_t max, int64_t *seconds_r);

/* Writes cfg as DIR/popvault.conf (fails if it exists). */
int pv_config_write(const char *data_dir, const struct pv_config *cfg, struct pv_error *err);

#endif
