/* migrate --to-catalog: DIR/catalog.db into PostgreSQL (migrate_catalog.h). */
#include "archiver/archive/migrate_catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/indexer.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/log.h"
#include "archiver/store/catalog.h"
#include "archiver/store/catalog_url.h"
#include "archiver/store/migrations_pg.h"

/* The indexer's meta key (archive/indexer.c): cleared in the copy, whose
 * search index is PostgreSQL's own and starts empty. */
#define INDEX_THROUGH_KEY "index.through"

static void path_in(const char *dir, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Size and root of log `name` on db, recomputed from its stored hashes. */
static int log_state_on(struct db *db, const char *name, uint64_t *size_r, merkle_hash root_r,
			struct pv_error *err)
{
	struct tlog *t = NULL;
	int r = tlog_open(db, name, &t, err);
	if (r == PV_OK && (r = tlog_size(t, size_r, err)) == PV_OK)
		r = tlog_root(t, *size_r, root_r, err);
	tlog_free(&t);
	return r < 0 ? pv_error_prefix(err, "%s log", name) : PV_OK;
}

/* The logs on `from` (before) and on `to` (after), and whether they match. */
static int compare_logs(struct db *from, struct db *to, struct migrate_catalog_report *rep,
			struct pv_error *err)
{
	int r;
	if ((r = log_state_on(from, ARCHIVE_LOG, &rep->archive.size_before, rep->archive.root_before,
			      err)) < 0 ||
	    (r = log_state_on(from, AUDIT_LOG, &rep->audit.size_before, rep->audit.root_before,
			      err)) < 0 ||
	    (r = log_state_on(to, ARCHIVE_LOG, &rep->archive.size_after, rep->archive.root_after,
			      err)) < 0 ||
	    (r = log_state_on(to, AUDIT_LOG, &rep->audit.size_after, rep->audit.root_after, err)) < 0)
		return r;
	rep->same = migrate_log_same(&rep->archive) && migrate_log_same(&rep->audit);
	return PV_OK;
}

static void logs_object(const struct migrate_log *archive, const struct migrate_log *audit,
			bool after, char *out, size_t n)
{
	char a[MIGRATE_ROOT_B64], u[MIGRATE_ROOT_B64];
	migrate_root_b64(after ? archive->root_after : archive->root_before, a);
	migrate_root_b64(after ? audit->root_after : audit->root_before, u);
	snprintf(out, n, "archive-size=%llu archive-root=%s audit-size=%llu audit-root=%s",
		 (unsigned long long)(after ? archive->size_after : archive->size_before), a,
		 (unsigned long long)(after ? audit->size_after : audit->size_before), u);
}

/* The type of db's newest audit entry ("" when none). */
static int last_audit_type(struct db *db, char *out, size_t n, struct pv_error *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(db, "SELECT type FROM audit_event ORDER BY seq DESC LIMIT 1", &st, err);
	out[0] = '\0';
	if (r < 0)
		return r;
	if ((r = db_step(st, err)) == DB_ROW)
		snprintf(out, n, "%s", db_column_text(st, 0));
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

/* The database at url holds a catalog: is it this archive's copy, made by
 * an earlier run killed after its COMMIT? Its logs then have exactly the
 * SQLite catalog's sizes and roots, and its audit log ends with the
 * migration's entry. */
static int is_own_copy(struct db *sqlite, struct db *pg, struct migrate_catalog_report *rep,
		       struct pv_error *err)
{
	char type[64];
	int r;
	if ((r = compare_logs(sqlite, pg, rep, err)) < 0 ||
	    (r = last_audit_type(pg, type, sizeof(type), err)) < 0)
		return r;
	if (rep->same && strcmp(type, AUDIT_CATALOG_MIGRATE) == 0)
		return PV_OK;
	if (strcmp(type, AUDIT_CATALOG_MIGRATE) == 0)
		return pv_fail(err, PV_ERR, "that PostgreSQL database holds an earlier migration's "
			       "copy that this archive has outgrown (archive log %llu entries there, "
			       "%llu here; audit log %llu, %llu): it stays on SQLite; empty that "
			       "database (drop and create it) and run migrate again",
			       (unsigned long long)rep->archive.size_after,
			       (unsigned long long)rep->archive.size_before,
			       (unsigned long long)rep->audit.size_after,
			       (unsigned long long)rep->audit.size_before);
	return pv_fail(err, PV_ERR, "that PostgreSQL database already holds a popvault catalog, "
		       "not a copy of this archive; refusing to migrate into it");
}

/* Step 2: the entry that the copy carries along. */
static int record_start(struct archive *ar, const char *actor, const char *url,
			struct pv_error *err)
{
	struct migrate_log arch = {0}, aud = {0};
	char logs[400];
	int r;
	if ((r = tlog_size(ar->archive_log, &arch.size_before, err)) < 0 ||
	    (r = tlog_root(ar->archive_log, arch.size_before, arch.root_before, err)) < 0 ||
	    (r = tlog_size(ar->audit_log, &aud.size_before, err)) < 0 ||
	    (r = tlog_root(ar->audit_log, aud.size_before, aud.root_before, err)) < 0)
		return r;
	logs_object(&arch, &aud, false, logs, sizeof(logs));
	if ((r = archive_auditf(ar, actor, AUDIT_CATALOG_MIGRATE, "ok", NULL, err, "catalog=%s %s",
				url, logs)) < 0)
		return r;
	return archive_seal(ar, err);
}

/* Set in the SQLite file once its copy has committed: a process that had
 * the archive open before the switch (a search, a hold) and writes after
 * it would put its audit entry into the file no one reads any more; every
 * entry of either log is a tlog_leaf row, so that write fails instead
 * (fail closed) and the command is run again on PostgreSQL. */
static const char seal_sql[] =
	"CREATE TRIGGER IF NOT EXISTS catalog_moved BEFORE INSERT ON tlog_leaf BEGIN SELECT RAISE(ABORT, "
	"'this catalog was moved to PostgreSQL (migrate --to-catalog): run the command again');"
	" END";

/* Step 3: schema, rows and proof in one transaction on pg, while the
 * SQLite file's write lock keeps every other writer out (the CLI commands
 * that audit: search, show, holds); its snapshot is what is copied. */
static int copy_and_prove(struct archive *ar, struct db *pg, struct migrate_catalog_report *rep,
			  struct pv_error *err)
{
	struct db *sq = ar->cat->conn;
	struct db_stmt *st = NULL;
	int r;
	if ((r = db_begin(sq, err)) < 0)
		return r;
	if ((r = db_begin(pg, err)) < 0) {
		db_rollback(sq);
		return r;
	}
	if ((r = migrations_apply_pg_in_tx(pg, &migrations_catalog_pg, err)) < 0 ||
	    (r = catalog_copy(sq, pg, &rep->copy, err)) < 0)
		goto fail;
	/* Nothing is indexed on PostgreSQL yet: its indexer starts over. */
	if ((r = db_prepare(pg, "UPDATE meta SET value = '0' WHERE key = ?", &st, err)) < 0)
		goto fail;
	db_bind_text(st, 1, INDEX_THROUGH_KEY, -1);
	r = db_step(st, err);
	db_finalize(&st);
	if (r < 0 || (r = catalog_copy_recount(sq, pg, &rep->copy, err)) < 0 ||
	    (r = compare_logs(sq, pg, rep, err)) < 0)
		goto fail;
	if (!rep->same) {
		r = pv_fail(err, PV_EINTEGRITY, "the logs recomputed from the copy differ from the "
			    "SQLite catalog's (archive %llu/%llu, audit %llu/%llu entries): nothing "
			    "was committed", (unsigned long long)rep->archive.size_before,
			    (unsigned long long)rep->archive.size_after,
			    (unsigned long long)rep->audit.size_before,
			    (unsigned long long)rep->audit.size_after);
		goto fail;
	}
	if ((r = db_commit(pg, err)) < 0)
		goto fail;
	/* Killed before this commit, the file stays writable and a rerun
	 * takes the copy only while the logs still match it. */
	if (db_exec(sq, seal_sql, err) < 0 || db_commit(sq, err) < 0) {
		db_rollback(sq);
		return pv_error_prefix(err, "the copy is committed, but sealing %s failed (run "
				       "migrate again)", ar->cat->path);
	}
	return PV_OK;
fail:
	db_rollback(pg);
	db_rollback(sq);
	return r;
}

/* Step 4: the data directory points at the server; the file is put aside. */
static int switch_over(const char *dir, const char *url, struct pv_error *err)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char from[4096], to[4096];
	int r;
	if (!catalog_url_present(dir) && (r = catalog_url_write(dir, url, err)) < 0)
		return r;
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(from, sizeof(from), "%s/catalog.db%s", dir, suffix[i]);
		snprintf(to, sizeof(to), "%s/" MIGRATE_CATALOG_ASIDE "%s", dir, suffix[i]);
		if (exists(from) && rename(from, to) != 0)
			return pv_fail(err, PV_ERR, "rename %s to %s: %s", from, to, strerror(errno));
	}
	return pv_fsync_dir(dir, err);
}

/* Step 5, on the archive now on PostgreSQL. */
static int finish(const char *dir, const char *actor, struct migrate_catalog_report *rep,
		  struct pv_error *err)
{
	struct archive *ar = NULL;
	struct indexer_status ist;
	char type[64], logs[400];
	int r;
	if ((r = archive_open(dir, &ar, err)) < 0)
		return r;
	if ((r = last_audit_type(ar->cat->conn, type, sizeof(type), err)) < 0)
		goto out;
	if (strcmp(type, AUDIT_CATALOG_MIGRATE) == 0) {
		logs_object(&rep->archive, &rep->audit, true, logs, sizeof(logs));
		if ((r = archive_auditf(ar, actor, AUDIT_CATALOG_MIGRATE_DONE, "ok", NULL, err,
					"catalog=%s tables=%zu rows=%lld resumed=%d %s", rep->url,
					rep->copy.n_tables, (long long)rep->copy.rows,
					rep->resumed ? 1 : 0, logs)) < 0)
			goto out;
	}
	if ((r = indexer_catch_up(ar, &rep->indexed, &rep->index_failed, err)) < 0 ||
	    (r = indexer_status(ar, &ist, err)) < 0)
		goto out;
	rep->index_pending = ist.pending;
out:
	archive_close(&ar);
	return r;
}

/* The archive is on PostgreSQL already: finish a run killed after its
 * switch, or refuse. */
static int resume_switched(const char *dir, const char *actor, const char *url,
			   struct migrate_catalog_report *rep, struct pv_error *err)
{
	char db_path[4096], aside[4096], *recorded = NULL;
	struct db *sq = NULL, *pg = NULL;
	int r;
	path_in(dir, "catalog.db", db_path, sizeof(db_path));
	path_in(dir, MIGRATE_CATALOG_ASIDE, aside, sizeof(aside));
	if ((r = catalog_url_read(dir, &recorded, err)) < 0)
		return r;
	bool same_url = strcmp(recorded, url) == 0;
	free(recorded);
	if (!same_url || (!exists(db_path) && !exists(aside)))
		return pv_fail(err, PV_EUSAGE, "this archive's catalog is already on PostgreSQL "
			       "(%s/" CATALOG_URL_FILE "): there is nothing to migrate", dir);
	rep->resumed = true;
	/* Both the file and the database: the switch was cut short; the
	 * database must be this file's copy. */
	if (exists(db_path)) {
		if ((r = db_open(db_path, 0, &sq, err)) < 0 || (r = db_open(url, 0, &pg, err)) < 0 ||
		    (r = is_own_copy(sq, pg, rep, err)) < 0)
			goto out;
		db_close(&sq);
		if ((r = switch_over(dir, url, err)) < 0)
			goto out;
	} else {
		char type[64];
		if ((r = db_open(url, 0, &pg, err)) < 0 ||
		    (r = last_audit_type(pg, type, sizeof(type), err)) < 0)
			goto out;
		if (strcmp(type, AUDIT_CATALOG_MIGRATE) != 0) {
			r = pv_fail(err, PV_EUSAGE, "this archive's catalog is already on PostgreSQL "
				    "(migrated; %s is the old file): there is nothing to migrate", aside);
			goto out;
		}
		if ((r = log_state_on(pg, ARCHIVE_LOG, &rep->archive.size_after,
				      rep->archive.root_after, err)) < 0 ||
		    (r = log_state_on(pg, AUDIT_LOG, &rep->audit.size_after, rep->audit.root_after,
				      err)) < 0)
			goto out;
		rep->archive.size_before = rep->archive.size_after;
		rep->audit.size_before = rep->audit.size_after;
		memcpy(rep->archive.root_before, rep->archive.root_after, MERKLE_HASH_LEN);
		memcpy(rep->audit.root_before, rep->audit.root_after, MERKLE_HASH_LEN);
		rep->same = true;
	}
	db_close(&pg);
	r = finish(dir, actor, rep, err);
out:
	db_close(&sq);
	db_close(&pg);
	return r;
}

int archive_migrate_catalog(const char *dir, const char *actor, const char *url,
			    struct migrate_catalog_report *rep, struct pv_error *err)
{
	struct archive *ar = NULL;
	struct db *pg = NULL;
	char aside[4096];
	int64_t version = 0;
	int r;

	memset(rep, 0, sizeof(*rep));
	snprintf(rep->url, sizeof(rep->url), "%s", url);
	/* Step 1: as init --catalog checks its URL. */
	if ((r = catalog_url_check(url, err)) < 0)
		return r;
	if (catalog_url_present(dir))
		return resume_switched(dir, actor, url, rep, err);
	path_in(dir, MIGRATE_CATALOG_ASIDE, aside, sizeof(aside));
	if (exists(aside))
		return pv_fail(err, PV_ERR, "%s is there (an earlier migration's old catalog?): move "
			       "it away first", aside);
	if ((r = archive_open(dir, &ar, err)) < 0)
		return r;
	if ((r = db_open(url, 0, &pg, err)) < 0 ||
	    (r = catalog_server_version(pg, &version, err)) < 0) {
		pv_error_prefix(err, "the PostgreSQL catalog");
		goto out;
	}
	if (version > 0) {
		/* Killed after the COMMIT: this is our copy (proven before that
		 * COMMIT), or it is refused; the file is sealed as it would have
		 * been, under its write lock. */
		struct db *sq = ar->cat->conn;
		if ((r = db_begin(sq, err)) < 0)
			goto out;
		if ((r = is_own_copy(sq, pg, rep, err)) < 0 || (r = db_exec(sq, seal_sql, err)) < 0 ||
		    (r = db_commit(sq, err)) < 0) {
			db_rollback(sq);
			goto out;
		}
		rep->resumed = true;
	} else if ((r = record_start(ar, actor, url, err)) < 0 ||
		   (r = copy_and_prove(ar, pg, rep, err)) < 0) {
		goto out;
	}
	db_close(&pg);
	archive_close(&ar); /* the SQLite file is closed (its WAL folded) before it moves */
	if ((r = switch_over(dir, url, err)) < 0)
		return r;
	return finish(dir, actor, rep, err);
out:
	db_close(&pg);
	archive_close(&ar);
	return r;
}
