#ifndef PV_CATALOG_REACH_H
#define PV_CATALOG_REACH_H

/* What a process of an archive must be able to reach, read from its data
 * directory before the archive is open, for the choice of its sandbox
 * (lib/sandbox.h; ARCHITECTURE.md §2 "Processes"): whether the packs are
 * in an object store, and where the catalog's server is when the
 * catalog is on PostgreSQL (DIR/catalog.url, store/catalog_url.h). */

#include <stdbool.h>

#include "archiver/lib/error.h"
#include "archiver/lib/sandbox.h"

struct catalog_reach {
	bool store_remote;       /* the catalog names an object store */
	enum pv_catalog_net net; /* PV_CATNET_NONE: a file (DIR/catalog.db) */
	unsigned port;           /* PV_CATNET_TCP: the server's port */
};

/* Reads it: a SQLite catalog read-only (nothing made or changed), a
 * PostgreSQL one through one connection of its own (libpq says where it
 * connected: a unix socket or TCP). A catalog that cannot be read says
 * "no object store" (store_remote false), as before the pack store; a
 * server that cannot be reached is an error. */
int catalog_reach_at(const char *data_dir, struct catalog_reach *r, struct pv_error *err)
	PV_WARN_UNUSED;

/* catalog_reach_at, then pv_sandbox_store_net and pv_sandbox_catalog_net
 * set from it. On an error (the server down) both stay off and the
 * error is returned: the caller stops rather than confine itself to a
 * set without its catalog. */
int catalog_reach_sandbox(const char *data_dir, struct pv_error *err) PV_WARN_UNUSED;

#endif
