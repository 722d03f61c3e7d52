/* migrate --to-store: an archive's local packs into an S3 store (migrate.h). */
#include "archiver/archive/migrate.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/store/pack.h"

bool migrate_log_same(const struct migrate_log *l)
{
	return l->size_before == l->size_after &&
	       memcmp(l->root_before, l->root_after, MERKLE_HASH_LEN) == 0;
}

void migrate_root_b64(const merkle_hash root, char out[MIGRATE_ROOT_B64])
{
	sodium_bin2base64(out, MIGRATE_ROOT_B64, root, MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
}

static int log_state(struct tlog *t, uint64_t *size_r, merkle_hash root_r, struct pv_error *err)
{
	int r = tlog_size(t, size_r, err);
	return r < 0 ? r : tlog_root(t, *size_r, root_r, err);
}

/* "archive-size=N archive-root=B64 audit-size=N audit-root=B64" of the
 * logs as the run found them: what the continuity is proved against. */
static void logs_object(const struct migrate_report *rep, char *out, size_t n)
{
	char a[MIGRATE_ROOT_B64], u[MIGRATE_ROOT_B64];
	migrate_root_b64(rep->archive.root_before, a);
	migrate_root_b64(rep->audit.root_before, u);
	snprintf(out, n, "archive-size=%llu archive-root=%s audit-size=%llu audit-root=%s",
		 (unsigned long long)rep->archive.size_before, a,
		 (unsigned long long)rep->audit.size_before, u);
}

static int held_packs(struct archive *ar, int64_t *n_r, struct pv_error *err)
{
	return db_query_int(ar->cat->conn, "SELECT count(*) FROM packs WHERE legal_hold = 1 AND"
					   " stored_at IS NOT NULL AND removed_at IS NULL", n_r, err);
}

/* Is this archive's store one a migration may (still) go to? */
static int check_state(struct archive *ar, const char *url, struct migrate_report *rep,
		       struct pv_error *err)
{
	char recorded[PACKSTORE_URL_MAX], migration[16];
	bool found;
	int r = packstore_recorded(ar->cat->conn, &found, recorded, migration, err);
	if (r < 0 || !found)
		return r;
	if (strcmp(migration, "running") != 0)
		return pv_fail(err, PV_EUSAGE, "this archive already keeps its packs in %s; there is "
			       "nothing to migrate", recorded);
	if (strcmp(recorded, url) != 0)
		return pv_fail(err, PV_EUSAGE, "a migration to %s is unfinished: run migrate "
			       "--to-store with that store to finish it", recorded);
	rep->resumed = true;
	return PV_OK;
}

/* Step 2: the audit entry and the store's row, committed together. */
static int record_start(struct archive *ar, const char *actor, const char *url,
			const char *secret, const struct migrate_report *rep, struct pv_error *err)
{
	char logs[400];
	int r;
	logs_object(rep, logs, sizeof(logs));
	if ((r = db_begin(ar->cat->conn, err)) < 0)
		return r;
	if ((r = archive_auditf(ar, actor, AUDIT_STORE_MIGRATE, "ok", NULL, err,
				"store=%s packs=%lld legacy-blobs=%lld resumed=%d %s", url,
				(long long)rep->packs, (long long)rep->legacy_blobs, rep->resumed ? 1 : 0,
				logs)) < 0 ||
	    (!rep->resumed && ((r = packstore_configure(ar->cat->conn, ar->kr, url, secret, err)) < 0 ||
			       (r = packstore_set_migration(ar->cat->conn, "running", err)) < 0)) ||
	    (r = db_commit(ar->cat->conn, err)) < 0) {
		db_rollback(ar->cat->conn);
		return r;
	}
	if (rep->resumed)
		return PV_OK;
	/* From now on this archive's packs go to the store. */
	packstore_close(&ar->packs);
	return packstore_open(ar->dir, ar->cat->conn, ar->kr, &ar->packs, err);
}

static int record_done(struct archive *ar, const char *actor, const struct migrate_report *rep,
		       struct pv_error *err)
{
	char logs[400];
	int r;
	logs_object(rep, logs, sizeof(logs));
	if ((r = db_begin(ar->cat->conn, err)) < 0)
		return r;
	if ((r = archive_auditf(ar, actor, AUDIT_STORE_MIGRATE_DONE, "ok", NULL, err,
				"store=%s stored=%lld legacy-blobs=%lld %s", rep->url,
				(long long)rep->stored, (long long)rep->legacy_blobs, logs)) < 0 ||
	    (r = packstore_set_migration(ar->cat->conn, "done", err)) < 0 ||
	    (r = db_commit(ar->cat->conn, err)) < 0)
		db_rollback(ar->cat->conn);
	return r;
}

/* The logs after against before: the archive log unchanged (a migration
 * adds no message), the audit log grown by its entries only. */
static int prove_continuity(struct archive *ar, struct migrate_report *rep, struct pv_error *err)
{
	merkle_hash proof[PV_PROOF_HASHES_MAX];
	size_t n;
	int r;
	if ((r = log_state(ar->archive_log, &rep->archive.size_after, rep->archive.root_after, err)) < 0 ||
	    (r = log_state(ar->audit_log, &rep->audit.size_after, rep->audit.root_after, err)) < 0)
		return r;
	rep->archive_same = migrate_log_same(&rep->archive);
	struct pv_error e;
	rep->audit_prefix =
		tlog_consistency_proof(ar->audit_log, rep->audit.size_before, rep->audit.size_after,
				       proof, &n, &e) == PV_OK &&
		merkle_verify_consistency(rep->audit.size_before, rep->audit.size_after, proof, n,
					  rep->audit.root_before, rep->audit.root_after, &e) == PV_OK;
	if (!rep->archive_same)
		return pv_fail(err, PV_EINTEGRITY, "the archive log changed during the migration "
			       "(%llu entries before, %llu after)",
			       (unsigned long long)rep->archive.size_before,
			       (unsigned long long)rep->archive.size_after);
	if (!rep->audit_prefix)
		return pv_fail(err, PV_EINTEGRITY, "the audit log after the migration does not extend "
			       "the one before: %s", e.msg);
	return PV_OK;
}

int archive_migrate_store(struct archive *ar, const char *actor, const char *url,
			  const char *secret, struct migrate_report *rep, struct pv_error *err)
{
	int64_t emptied, left;
	int r;

	memset(rep, 0, sizeof(*rep));
	snprintf(rep->url, sizeof(rep->url), "%s", url);
	if ((r = check_state(ar, url, rep, err)) < 0 ||
	    (r = log_state(ar->archive_log, &rep->archive.size_before, rep->archive.root_before,
			   err)) < 0 ||
	    (r = log_state(ar->audit_log, &rep->audit.size_before, rep->audit.root_before, err)) < 0 ||
	    (r = packstore_pending(ar->cat->conn, &rep->packs, &rep->legacy_blobs, err)) < 0)
		return r;
	/* Step 1: a store that refuses is said before anything is recorded. */
	if ((r = packstore_probe(url, secret, err)) == PV_EUSAGE)
		return r; /* a URL or key file that does not parse: nothing was tried */
	if (r < 0) {
		char why[512];
		struct pv_error ae;
		snprintf(why, sizeof(why), "failed: %.480s", err->msg);
		if (archive_auditf(ar, actor, AUDIT_STORE_MIGRATE, why, NULL, &ae, "store=%s", url) < 0)
			pv_log(PV_LOG_WARN, "store.migrate", "%s", ae.msg);
		return r;
	}
	if ((r = record_start(ar, actor, url, secret, rep, err)) < 0)
		return r;
	/* Step 3: as a harvest's end does it, for every pack. */
	if (pack_remove_empty(ar->packs, ar->cat->conn, &emptied, err) < 0)
		pv_log(PV_LOG_WARN, "store.migrate", "%s", err->msg);
	int64_t dropped, changed;
	if ((r = packstore_flush(ar->packs, &rep->stored, &rep->failed, err)) < 0 ||
	    (r = packstore_drop_stored_files(ar->packs, &dropped, err)) < 0 ||
	    (r = packstore_sync_holds(ar->packs, &changed, err)) < 0 ||
	    (r = held_packs(ar, &rep->held, err)) < 0 ||
	    (r = packstore_pending(ar->cat->conn, &left, &rep->legacy_blobs, err)) < 0)
		return r;
	if (left > 0)
		return pv_fail(err, PV_ERR, "%lld pack%s still in the data directory, not stored "
			       "(the log says why): nothing is lost; run migrate again to finish",
			       (long long)left, left == 1 ? " is" : "s are");
	if ((r = record_done(ar, actor, rep, err)) < 0)
		return r;
	return prove_continuity(ar, rep, err);
}
