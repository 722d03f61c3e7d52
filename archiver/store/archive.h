#ifndef PV_ARCHIVE_H
#define PV_ARCHIVE_H

/* An open data directory: its config, catalog and keyring. Commands open
 * one archive, work through it, and close it. */

#include "archiver/lib/config.h"
#include "archiver/lib/error.h"
#include "archiver/store/catalog.h"
#include "archiver/store/keyring.h"

struct archive {
	char dir[2048];
	struct pv_config cfg;
	struct catalog *cat;
	struct keyring *kr;
};

/* Opens DIR (config, catalog with pending migrations, keyring). */
int archive_open(const char *data_dir, struct archive **ar_r, struct pv_error *err);
void archive_close(struct archive **ar);

#endif
