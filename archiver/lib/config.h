#ifndef PV_CONFIG_H
#define PV_CONFIG_H

/* The bootstrap config, DIR/popvault.conf (inih format). It holds only what
 * is needed before the database opens; everything an admin edits lives in
 * SQLite, versioned and audited (ARCHITECTURE.md §9). */

#include <stdint.h>

#include "archiver/lib/error.h"

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
};

void pv_config_defaults(struct pv_config *cfg);
/* Loads DIR/popvault.conf over the defaults. Unknown keys and bad values are
 * errors naming the line. */
int pv_config_load(const char *data_dir, struct pv_config *cfg, struct pv_error *err);
/* The same from another file (serve --config F). */
int pv_config_load_file(const char *path, struct pv_config *cfg, struct pv_error *err);
/* Writes cfg as DIR/popvault.conf (fails if it exists). */
int pv_config_write(const char *data_dir, const struct pv_config *cfg, struct pv_error *err);

#endif
