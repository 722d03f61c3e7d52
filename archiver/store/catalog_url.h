#ifndef PV_CATALOG_URL_H
#define PV_CATALOG_URL_H

/* Where a data directory's catalog lives when it is not DIR/catalog.db:
 * DIR/catalog.url (mode 0600, one line), written by `init --catalog URL`,
 * naming a PostgreSQL database (ARCHITECTURE.md §12): postgresql://...,
 * postgres://... or a libpq "key=value" conninfo, never with a password
 * (libpq reads it from PGPASSFILE or ~/.pgpass). A file of its own, not a
 * popvault.conf key: catalog_open is given only the data directory (the
 * indexer, backup, the sandbox's choice, tests), serve --config may read
 * another config file, and where the catalog is belongs to the directory
 * as catalog.db itself does. */

#include <stdbool.h>

#include "archiver/lib/error.h"

#define CATALOG_URL_FILE "catalog.url"

/* Refuses (PV_EUSAGE) what is not a PostgreSQL URL or conninfo, or holds
 * a password. */
int catalog_url_check(const char *url, struct pv_error *err) PV_WARN_UNUSED;

/* DIR/catalog.url's URL, checked as above, in *url_r (malloc'ed, the
 * caller frees); *url_r NULL when there is no such file (SQLite). */
int catalog_url_read(const char *data_dir, char **url_r, struct pv_error *err) PV_WARN_UNUSED;

/* DIR/catalog.url exists: the catalog is on a server (no catalog.db, no
 * FTS5 index; the processes that open it connect out). */
bool catalog_url_present(const char *data_dir);

/* Writes DIR/catalog.url (0600, atomically; fails if it exists). */
int catalog_url_write(const char *data_dir, const char *url, struct pv_error *err)
	PV_WARN_UNUSED;

#endif
