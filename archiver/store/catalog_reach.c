#include "archiver/store/catalog_reach.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/db.h"
#include "archiver/store/catalog_url.h"

/* The catalog file read directly, as catalog_open does, read-only. */
static bool sqlite_store_remote(const char *data_dir)
{
	char path[4096];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool remote = false;
	snprintf(path, sizeof(path), "%s/catalog.db", data_dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT 1 FROM pack_store WHERE id = 1", -1, &st, NULL) == SQLITE_OK)
		remote = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return remote;
}

static int server_reach(const char *url, struct catalog_reach *r, struct pv_error *err)
{
	struct db *db = NULL;
	struct db_stmt *st = NULL;
	char host[1024];
	bool is_unix = false;
	int rc = db_open(url, 0, &db, err);
	if (rc < 0)
		return rc;
	if ((rc = db_server(db, host, sizeof(host), &is_unix, &r->port, err)) == PV_OK) {
		r->net = is_unix ? PV_CATNET_UNIX : PV_CATNET_TCP;
		/* No pack_store table yet (a catalog before migration 15 is
		 * migrated by the first archive_open): no object store. */
		if (db_prepare(db, "SELECT 1 FROM pack_store WHERE id = 1", &st, NULL) == PV_OK)
			r->store_remote = db_step(st, NULL) == DB_ROW;
	}
	db_finalize(&st);
	db_close(&db);
	return rc;
}

int catalog_reach_at(const char *data_dir, struct catalog_reach *r, struct pv_error *err)
{
	char *url = NULL;
	memset(r, 0, sizeof(*r));
	int rc = catalog_url_read(data_dir, &url, err);
	if (rc < 0)
		return rc;
	if (url == NULL) {
		r->store_remote = sqlite_store_remote(data_dir);
		return PV_OK;
	}
	rc = server_reach(url, r, err);
	free(url);
	return rc;
}

int catalog_reach_sandbox(const char *data_dir, struct pv_error *err)
{
	struct catalog_reach r;
	pv_sandbox_store_net(false);
	pv_sandbox_catalog_net(PV_CATNET_NONE, 0);
	int rc = catalog_reach_at(data_dir, &r, err);
	if (rc < 0)
		return pv_error_prefix(err, "cannot tell how to reach the catalog");
	pv_sandbox_store_net(r.store_remote);
	pv_sandbox_catalog_net(r.net, r.port);
	return PV_OK;
}
