/* archive_backup and archive_restore (backup.h): one audited operation
 * each; the files, manifest and key container are in backup_files.c. */
#include "archiver/archive/backup.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/backup_int.h"
#include "archiver/archive/checkpoints.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "archiver/store/blob.h"
#include "archiver/store/catalog.h"
#include "archiver/store/keyring.h"
#include "archiver/store/pack.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"
#include "audit/tlog.h"

const struct backup_kdf backup_kdf_default = {crypto_pwhash_OPSLIMIT_MODERATE,
					      crypto_pwhash_MEMLIMIT_MODERATE};

static const char *const cp_files[2] = {"checkpoint-archive", "checkpoint-audit"};
static const char *const cp_logs[2] = {ARCHIVE_LOG, AUDIT_LOG};

/* ---- backup ---- */

struct bctx {
	struct archive *ar;
	const char *out;
	struct backup_manifest m;
	struct backup_summary *sum;
	int64_t *buckets; /* of the snapshot's messages not disposed of */
	size_t n_buckets;
	uint64_t copied, to_copy; /* files written and to write, for ar->progress */
	struct pv_error *err;
};

/* How many files the backup will hold, for ar->progress (counted only
 * when someone listens): the catalog, two checkpoints, the config, the
 * keys, and the blob and pack files copy_blobs and copy_packs copy (not
 * the packs an object store holds). */
static int count_files(struct bctx *b, struct db *snap, bool keys)
{
	int64_t n;
	if (b->ar->progress.fn == NULL)
		return PV_OK;
	int r = db_query_int(snap, "SELECT (SELECT count(DISTINCT blob) FROM messages"
				   " WHERE blob IS NOT NULL AND pack_id IS NULL)"
				   " + (SELECT count(*) FROM (SELECT pack_id FROM messages"
				   " WHERE pack_id IS NOT NULL AND pack_id NOT IN (SELECT id FROM"
				   " packs WHERE stored_at IS NOT NULL) GROUP BY pack_id"
				   " HAVING count(*) > count(disposed_at)) AS live)", &n, b->err);
	if (r < 0)
		return r;
	b->to_copy = (uint64_t)n + 4 + keys;
	pv_progress_report(&b->ar->progress, b->copied, b->to_copy);
	return PV_OK;
}

/* out/rel is written: into the manifest (hashed here, unless the copy
 * hashed it: sha256 and size given), and one more file done. */
static int add_file_hashed(struct bctx *b, const char *rel, const unsigned char *sha256,
			   uint64_t size)
{
	int r = sha256 != NULL ? backup_manifest_add_hashed(&b->m, rel, sha256, size, b->err)
			       : backup_manifest_add(&b->m, b->out, rel, b->err);
	if (++b->copied > b->to_copy)
		b->to_copy = b->copied;
	if (b->ar->progress.fn != NULL && b->to_copy > 1)
		pv_progress_report(&b->ar->progress, b->copied, b->to_copy);
	return r;
}

static int add_file(struct bctx *b, const char *rel)
{
	return add_file_hashed(b, rel, NULL, 0);
}

/* The snapshot's latest checkpoints, as files: what the backup covers. */
static int write_checkpoints(struct bctx *b, struct db *snap)
{
	struct pv_buf note;
	char path[4096];
	int r = PV_OK;
	pv_buf_init(&note, PV_NOTE_MAX);
	for (int i = 0; r == PV_OK && i < 2; i++) {
		struct tlog *t = NULL;
		struct checkpoint cp;
		pv_buf_reset(&note);
		if ((r = tlog_open(snap, cp_logs[i], &t, b->err)) == PV_OK &&
		    (r = checkpoint_latest(t, &note, &cp, b->err)) == PV_OK) {
			if ((r = backup_path(path, sizeof(path), b->err, "%s/%s", b->out,
					     cp_files[i])) == PV_OK)
				r = pv_write_file(path, note.data, note.len, 0600, 1, b->err);
			*(i == 0 ? &b->sum->archive_size : &b->sum->audit_size) = cp.size;
		}
		tlog_free(&t);
		if (r == PV_OK)
			r = add_file(b, cp_files[i]);
	}
	pv_buf_free(&note);
	return r;
}

/* Every blob the snapshot refers to, linked or copied. */
static int copy_blobs(struct bctx *b, struct db *snap)
{
	struct db_stmt *st = NULL;
	char src[4096], dst[4096], rel[128];
	unsigned char sha256[32];
	uint64_t size = 0;
	int r, rc = DB_DONE;
	/* Messages in packs name their record in "blob" too: only the
	 * blob files (pack_id NULL) are here. */
	if ((r = db_prepare(snap, "SELECT DISTINCT blob FROM messages WHERE blob IS NOT NULL "
				  "AND pack_id IS NULL ORDER BY blob", &st, b->err)) < 0)
		return r;
	if ((r = backup_path(dst, sizeof(dst), b->err, "%s/blobs", b->out)) == PV_OK)
		r = pv_mkdir(dst, 0700, 0, b->err);
	while (r == PV_OK && (rc = db_step(st, b->err)) == DB_ROW) {
		const char *id = db_column_text(st, 0);
		bool linked;
		if (id == NULL || strlen(id) != BLOB_ID_LEN) {
			r = pv_fail(b->err, PV_EINTEGRITY, "backup: the catalog names a blob '%s'",
				    id ? id : "");
			break;
		}
		snprintf(rel, sizeof(rel), "blobs/%.2s/%s", id, id);
		if ((r = backup_path(dst, sizeof(dst), b->err, "%s/%.8s", b->out, rel)) < 0 ||
		    (r = pv_mkdir(dst, 0700, 1, b->err)) < 0 ||
		    (r = backup_path(dst, sizeof(dst), b->err, "%s/%s", b->out, rel)) < 0)
			break;
		blob_path(b->ar->dir, id, src, sizeof(src));
		r = backup_link_or_copy(src, dst, &linked, sha256, &size, b->err);
		if (r == PV_ENOTFOUND)
			r = pv_fail(b->err, PV_ETEMP, "blob %s went away while it was copied (a "
						      "disposal ran meanwhile): run the backup again", id);
		if (r == PV_OK) {
			b->sum->blobs++;
			b->sum->linked += linked;
			/* A link is hashed here; a copy was hashed as it was made. */
			r = add_file_hashed(b, rel, linked ? NULL : sha256, size);
		}
	}
	if (r == PV_OK && rc < 0)
		r = rc;
	db_finalize(&st);
	return r;
}

/* Every pack holding a message of the snapshot not disposed of, copied up
 * to its committed length in the snapshot: the end of the last record the
 * snapshot's catalog names in it (disposed of or not: verify wants the
 * records laid end to end). A harvest may be appending past it right now;
 * those bytes are not in the snapshot, so the pack is never linked.
 * Packs in an object store (store/packstore.h) are not copied: the
 * store's locked version is their copy, and the restored catalog names
 * it (the same bucket, the same credentials). */
static int copy_packs(struct bctx *b, struct db *snap)
{
	struct db_stmt *st = NULL;
	char src[4096], dst[4096], rel[64];
	unsigned char sha256[32];
	int r, rc = DB_DONE;
	bool made = false;
	/* Live records: the rows minus those disposed of (count() skips NULLs). */
	if ((r = db_prepare(snap, "SELECT m.pack_id, max(m.pack_offset + m.pack_length),"
				  " count(*) - count(m.disposed_at)"
				  " FROM messages m WHERE m.pack_id IS NOT NULL"
				  " AND m.pack_id NOT IN (SELECT id FROM packs"
				  " WHERE stored_at IS NOT NULL)"
				  " GROUP BY m.pack_id"
				  " HAVING count(*) > count(m.disposed_at)"
				  " ORDER BY m.pack_id", &st, b->err)) < 0)
		return r;
	while (r == PV_OK && (rc = db_step(st, b->err)) == DB_ROW) {
		int64_t id = db_column_int64(st, 0);
		int64_t end = db_column_int64(st, 1);
		int64_t live = db_column_int64(st, 2);
		if (id <= 0 || end <= PACK_HEADER_BYTES) {
			r = pv_fail(b->err, PV_EINTEGRITY, "backup: the catalog names pack %lld "
							   "ending at %lld", (long long)id, (long long)end);
			break;
		}
		if (!made) {
			if ((r = backup_path(dst, sizeof(dst), b->err, "%s/packs", b->out)) < 0 ||
			    (r = pv_mkdir(dst, 0700, 0, b->err)) < 0)
				break;
			made = true;
		}
		snprintf(rel, sizeof(rel), "packs/%08lld.pack", (long long)id);
		if ((r = backup_path(dst, sizeof(dst), b->err, "%s/%s", b->out, rel)) < 0)
			break;
		pack_path(b->ar->dir, id, src, sizeof(src));
		r = backup_copy_prefix(src, dst, (uint64_t)end, sha256, b->err);
		if (r == PV_ENOTFOUND)
			r = pv_fail(b->err, PV_ETEMP, "pack %lld went away while it was copied (a "
						      "disposal ran meanwhile): run the backup again",
				    (long long)id);
		if (r == PV_OK) {
			b->sum->packs++;
			b->sum->records += (uint64_t)live;
			r = add_file_hashed(b, rel, sha256, (uint64_t)end);
		}
	}
	if (r == PV_OK && rc < 0)
		r = rc;
	db_finalize(&st);
	return r;
}

static int snapshot_buckets(struct bctx *b, struct db *snap)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(snap, "SELECT DISTINCT bucket_id FROM messages WHERE disposed_at "
				 "IS NULL", &st, b->err);
	return r < 0 ? r : db_collect_ids(&st, &b->buckets, &b->n_buckets, b->err);
}

/* The regular files of one key directory but the keyring (and its
 * journal) and the signer's state files: a restored catalog may be older
 * than the state, and the signer would then refuse to sign it; without a
 * state file it starts from the catalog's latest checkpoint. */
static bool key_file_wanted(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && strncmp(name, "keyring.db", 10) != 0 &&
	       !(n > 7 && strcmp(name + n - 7, ".signed") == 0) && strstr(name, ".tmp.") == NULL;
}

static int add_key_dir(struct backup_key_files *k, const char *dir, struct pv_error *err)
{
	char path[4096];
	struct dirent *e;
	int r = PV_OK;
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? PV_OK : pv_fail(err, PV_ERR, "%s: %s", dir, strerror(errno));
	while (r == PV_OK && (e = readdir(d)) != NULL) {
		struct stat st;
		unsigned char *data;
		size_t len;
		if (!key_file_wanted(e->d_name))
			continue;
		if ((r = backup_path(path, sizeof(path), err, "%s/%s", dir, e->d_name)) < 0)
			break;
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if ((r = pv_read_file(path, PV_BACKUP_KEY_FILE_MAX, &data, &len, err)) < 0)
			break;
		r = backup_key_files_add(k, e->d_name, data, len, err);
		sodium_memzero(data, len);
		free(data);
	}
	closedir(d);
	return r;
}

/* keys.enc: the keyring through the online backup API, the other files of
 * DIR/keys and DIR/keys/sign as they are, sealed to the passphrase. */
static int write_keys(struct bctx *b, const char *pass, size_t pass_len,
		      const struct backup_kdf *kdf)
{
	struct backup_key_files k = {0};
	struct pv_buf sealed;
	char dir[4096], path[4096];
	unsigned char *img = NULL;
	size_t img_len = 0;
	int r;

	if ((r = backup_path(dir, sizeof(dir), b->err, "%s/keys", b->ar->dir)) == PV_OK &&
	    (r = backup_path(path, sizeof(path), b->err, "%s/keyring.db", dir)) == PV_OK &&
	    (r = backup_sqlite_image(path, &img, &img_len, b->err)) == PV_OK)
		r = backup_key_files_add(&k, "keyring.db", img, img_len, b->err);
	if (img != NULL) {
		sodium_memzero(img, img_len);
		sqlite3_free(img);
	}
	/* keys/ and the log keys' own keys/sign/, flat: a restore puts them in
	 * keys/ and the first open moves the log keys (keys_move_legacy). */
	if (r == PV_OK)
		r = add_key_dir(&k, dir, b->err);
	if (r == PV_OK &&
	    (r = backup_path(dir, sizeof(dir), b->err, "%s/" KEYS_DATA_SUBDIR, b->ar->dir)) == PV_OK)
		r = add_key_dir(&k, dir, b->err);
	/* A bucket key destroyed after the catalog snapshot would leave
	 * messages the copy says are kept but cannot read. */
	for (size_t i = 0; r == PV_OK && i < b->n_buckets; i++) {
		struct keyring_bucket_info info;
		if ((r = keyring_bucket_info(b->ar->kr, b->buckets[i], &info, b->err)) == PV_OK &&
		    info.destroyed)
			r = pv_fail(b->err, PV_ETEMP, "bucket %s %s was disposed of while the backup "
						      "ran: run it again", info.class_name, info.label);
	}
	pv_buf_init(&sealed, PV_BACKUP_KEYS_MAX);
	if (r == PV_OK)
		r = backup_keys_seal(&k, pass, pass_len, kdf, &sealed, b->err);
	if (r == PV_OK)
		r = backup_path(path, sizeof(path), b->err, "%s/%s", b->out, BACKUP_KEYS);
	if (r == PV_OK)
		r = pv_write_file(path, sealed.data, sealed.len, 0600, 1, b->err);
	if (r == PV_OK)
		r = add_file(b, BACKUP_KEYS);
	pv_buf_free(&sealed);
	backup_key_files_free(&k);
	return r;
}

static int copy_all(struct bctx *b, const char *pass, size_t pass_len, const struct backup_kdf *kdf)
{
	char path[4096], src[4096];
	unsigned char sha256[32];
	uint64_t size;
	struct db *snap = NULL;
	int r;

	if ((r = backup_path(path, sizeof(path), b->err, "%s/catalog.db", b->out)) < 0 ||
	    (r = db_kind(b->ar->cat->conn) == DB_SQLITE
		     ? backup_sqlite_to_file(db_sqlite(b->ar->cat->conn), path, b->err)
		     : backup_catalog_from_pg(b->ar->cat->conn, path, b->err)) < 0 ||
	    (r = add_file(b, "catalog.db")) < 0 ||
	    (r = backup_sqlite_open_copy(path, &snap, b->err)) < 0)
		return r;
	if ((r = count_files(b, snap, pass != NULL)) == PV_OK &&
	    (r = write_checkpoints(b, snap)) == PV_OK && (r = copy_blobs(b, snap)) == PV_OK &&
	    (r = copy_packs(b, snap)) == PV_OK)
		r = snapshot_buckets(b, snap);
	backup_sqlite_close_copy(&snap);
	if (r == PV_OK &&
	    (r = backup_path(src, sizeof(src), b->err, "%s/popvault.conf", b->ar->dir)) == PV_OK &&
	    (r = backup_path(path, sizeof(path), b->err, "%s/popvault.conf", b->out)) == PV_OK &&
	    (r = backup_copy_file(src, path, sha256, &size, b->err)) == PV_OK)
		r = add_file_hashed(b, "popvault.conf", sha256, size);
	if (r == PV_OK && pass != NULL)
		r = write_keys(b, pass, pass_len, kdf);
	return r;
}

int archive_backup(struct archive *ar, const char *actor, const char *out_dir,
		   const char *passphrase, size_t passphrase_len, const struct backup_kdf *kdf,
		   struct backup_summary *sum_r, struct pv_error *err)
{
	struct bctx b = {.ar = ar, .out = out_dir, .sum = sum_r, .err = err};
	int r, unused;

	memset(sum_r, 0, sizeof(*sum_r));
	sum_r->keys = passphrase != NULL;
	if (passphrase != NULL && passphrase_len < BACKUP_PASSPHRASE_MIN)
		return pv_fail(err, PV_EUSAGE, "the passphrase must have at least %d characters",
			       BACKUP_PASSPHRASE_MIN);
	if ((unused = backup_dir_unused(out_dir, err)) < 0)
		return unused;
	if (unused == 1 && (r = pv_mkdir(out_dir, 0700, 0, err)) < 0)
		return r;
	chmod(out_dir, 0700);
	/* Audit first (DESIGN.md §1.4): the copy then holds this entry too. */
	if ((r = archive_auditf(ar, actor, AUDIT_BACKUP, "ok", NULL, err, "out=%s keys=%s", out_dir,
				passphrase ? "yes" : "no")) < 0) {
		if (unused == 1)
			rmdir(out_dir);
		return r;
	}
	backup_manifest_init(&b.m);
	pv_clock_format_rfc3339(pv_clock_now(), b.m.created);
	snprintf(b.m.origin, sizeof(b.m.origin), "%s", ar->cfg.origin);
	b.m.schema = catalog_schema_version();
	b.m.keys = passphrase != NULL;
	if ((r = copy_all(&b, passphrase, passphrase_len, kdf)) == PV_OK &&
	    (r = backup_syncfs(out_dir, err)) == PV_OK &&
	    (r = backup_manifest_write(&b.m, out_dir, sum_r->manifest_sha256, err)) == PV_OK) {
		sum_r->files = b.m.n;
		for (size_t i = 0; i < b.m.n; i++)
			sum_r->bytes += b.m.files[i].size;
		r = archive_auditf(ar, actor, AUDIT_BACKUP_DONE, "ok", NULL, err,
				   "manifest-sha256=%s files=%llu bytes=%llu archive-size=%llu "
				   "audit-size=%llu",
				   sum_r->manifest_sha256, (unsigned long long)sum_r->files,
				   (unsigned long long)sum_r->bytes,
				   (unsigned long long)sum_r->archive_size,
				   (unsigned long long)sum_r->audit_size);
		if (r < 0)
			pv_error_prefix(err, "the backup in %s is complete, but recording it failed",
					out_dir);
	} else {
		struct pv_error ignore;
		char outcome[AUDIT_OUTCOME_MAX + 1];
		snprintf(outcome, sizeof(outcome), "failed: %s", err ? err->msg : "?");
		/* Nothing half-made stays behind to be mistaken for a backup. */
		if (backup_rmtree(out_dir, &ignore) == PV_OK && unused == 0)
			pv_mkdir(out_dir, 0700, 0, &ignore);
		(void)archive_auditf(ar, actor, AUDIT_BACKUP, outcome, NULL, &ignore, "out=%s",
				     out_dir);
	}
	backup_manifest_free(&b.m);
	free(b.buckets);
	return r;
}

/* ---- restore ---- */

/* The files restore_files copies (checked against the manifest as they
 * are copied, one read each); the others are read where they are. */
static bool copied(const char *p)
{
	return strcmp(p, BACKUP_KEYS) != 0 && strncmp(p, "checkpoint-", 11) != 0;
}

static int restore_files(const struct backup_manifest *m, const char *from, const char *to,
			 struct pv_error *err)
{
	char src[4096], dst[4096];
	unsigned char sha256[32];
	uint64_t size;
	int r = PV_OK;
	for (size_t i = 0; r == PV_OK && i < m->n; i++) {
		const char *p = m->files[i].path;
		if (!copied(p))
			continue;
		if (strncmp(p, "blobs/", 6) == 0 &&
		    ((r = backup_path(dst, sizeof(dst), err, "%s/%.8s", to, p)) < 0 ||
		     (r = pv_mkdir(dst, 0700, 1, err)) < 0))
			break;
		/* packs/<id>.pack: backup_manifest_read took only the strict
		 * form; checked again before it is put in place. */
		if (strncmp(p, "packs/", 6) == 0 && !backup_pack_path_id(p, NULL)) {
			r = pv_fail(err, PV_EINTEGRITY, "backup: %s is not a pack file name", p);
			break;
		}
		if ((r = backup_path(src, sizeof(src), err, "%s/%s", from, p)) == PV_OK &&
		    (r = backup_path(dst, sizeof(dst), err, "%s/%s", to, p)) == PV_OK &&
		    (r = backup_copy_file(src, dst, sha256, &size, err)) == PV_ENOTFOUND)
			r = pv_fail(err, PV_EINTEGRITY, "backup: %s is missing", p);
		if (r == PV_OK)
			r = backup_file_matches(&m->files[i], sha256, size, err);
	}
	return r;
}

static int write_key_files(const struct backup_key_files *k, const char *stage,
			   struct pv_error *err)
{
	char path[4096];
	int r = PV_OK;
	for (size_t i = 0; r == PV_OK && i < k->n; i++) {
		if ((r = backup_path(path, sizeof(path), err, "%s/keys/%s", stage,
				     k->f[i].name)) == PV_OK)
			r = pv_write_file(path, k->f[i].data, k->f[i].len, 0600, 1, err);
	}
	return r;
}

static int restore_keys(const struct backup_manifest *m, const char *from, const char *stage,
			const char *pass, size_t pass_len, const char *keys_dir,
			struct pv_error *err)
{
	struct backup_key_files k = {0};
	char path[4096];
	int r;
	if (m->keys) {
		unsigned char *sealed;
		size_t len;
		if (pass == NULL)
			return pv_fail(err, PV_EUSAGE, "this backup's keys are encrypted: give "
						       "--passphrase-file");
		if ((r = backup_path(path, sizeof(path), err, "%s/%s", from, BACKUP_KEYS)) < 0 ||
		    (r = pv_read_file(path, PV_BACKUP_KEYS_MAX, &sealed, &len, err)) < 0)
			return r;
		r = backup_keys_open(sealed, len, pass, pass_len, &k, err);
		free(sealed);
	} else {
		/* The keys never left the machine: take them from the original
		 * data directory's keys/ (the keyring as a consistent copy). */
		DIR *d;
		struct dirent *e;
		if (keys_dir == NULL)
			return pv_fail(err, PV_EUSAGE, "this backup carries no keys (made without "
						       "--with-keys): give --keys DIR, the keys/ "
						       "directory of the archive it was made from");
		if ((d = opendir(keys_dir)) == NULL)
			return pv_fail(err, PV_ERR, "%s: %s", keys_dir, strerror(errno));
		r = PV_OK;
		while (r == PV_OK && (e = readdir(d)) != NULL) {
			struct stat st;
			unsigned char *data = NULL;
			size_t len = 0;
			bool img = strcmp(e->d_name, "keyring.db") == 0;
			if ((r = backup_path(path, sizeof(path), err, "%s/%s", keys_dir,
					     e->d_name)) < 0)
				break;
			if ((!img && !key_file_wanted(e->d_name)) || lstat(path, &st) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			r = img ? backup_sqlite_image(path, &data, &len, err)
				: pv_read_file(path, PV_BACKUP_KEY_FILE_MAX, &data, &len, err);
			if (r == PV_OK)
				r = backup_key_files_add(&k, e->d_name, data, len, err);
			if (data != NULL) {
				sodium_memzero(data, len);
				img ? sqlite3_free(data) : free(data);
			}
		}
		closedir(d);
		/* ... and the log keys from its sign/ */
		if (r == PV_OK &&
		    (r = backup_path(path, sizeof(path), err, "%s/sign", keys_dir)) == PV_OK)
			r = add_key_dir(&k, path, err);
	}
	if (r == PV_OK)
		r = write_key_files(&k, stage, err);
	backup_key_files_free(&k);
	return r;
}

/* The restored logs end at the checkpoints the manifest names. */
static int same_checkpoints(struct archive *ar, const struct pv_buf notes[2],
			    struct backup_summary *sum, struct pv_error *err)
{
	struct pv_buf note;
	int r = PV_OK;
	pv_buf_init(&note, PV_NOTE_MAX);
	for (int i = 0; r == PV_OK && i < 2; i++) {
		struct checkpoint cp;
		struct tlog *t = archive_log_named(ar, cp_logs[i]);
		pv_buf_reset(&note);
		if ((r = checkpoint_latest(t, &note, &cp, err)) < 0)
			break;
		if (note.len != notes[i].len || memcmp(note.data, notes[i].data, note.len) != 0)
			r = pv_fail(err, PV_EINTEGRITY, "the %s log's latest checkpoint in the copy is "
							"not the one %s names", cp_logs[i], cp_files[i]);
		*(i == 0 ? &sum->archive_size : &sum->audit_size) = cp.size;
	}
	pv_buf_free(&note);
	return r;
}

int archive_restore(const char *backup_dir, const char *new_dir, const char *actor,
		    const char *passphrase, size_t passphrase_len, const char *keys_dir,
		    const char *const *known_notes, const size_t *known_lens, size_t n_known,
		    verify_line_fn line, void *line_ctx, struct backup_summary *sum_r,
		    struct verify_report *rep_r, struct pv_error *err)
{
	struct backup_manifest m;
	struct archive *ar = NULL;
	struct pv_buf notes[2];
	char stage[4096], path[4096];
	const char **kn = NULL;
	size_t *kl = NULL;
	int r, unused;

	memset(sum_r, 0, sizeof(*sum_r));
	memset(rep_r, 0, sizeof(*rep_r));
	if ((unused = backup_dir_unused(new_dir, err)) < 0)
		return unused;
	if ((r = backup_manifest_read(backup_dir, &m, sum_r->manifest_sha256, err)) < 0)
		return r;
	sum_r->keys = m.keys;
	if (m.keys && keys_dir != NULL)
		r = pv_fail(err, PV_EUSAGE, "this backup has its own keys: --keys is for a backup "
					    "made without them");
	if (r == PV_OK)
		r = backup_manifest_check(&m, backup_dir, copied, err);
	for (int i = 0; i < 2; i++)
		pv_buf_init(&notes[i], PV_NOTE_MAX);
	for (int i = 0; r == PV_OK && i < 2; i++) {
		unsigned char *data;
		size_t len;
		if ((r = backup_path(path, sizeof(path), err, "%s/%s", backup_dir, cp_files[i])) ==
			    PV_OK &&
		    (r = pv_read_file(path, PV_NOTE_MAX, &data, &len, err)) == PV_OK) {
			r = pv_buf_append(&notes[i], data, len, err);
			free(data);
		}
	}
	if (r < 0)
		goto out_nostage;
	/* Build the copy beside new_dir and move it there only once it
	 * verifies: new_dir never holds half an archive. */
	if ((r = backup_path(stage, sizeof(stage), err, "%s.restoring-XXXXXX", new_dir)) < 0)
		goto out_nostage;
	if (mkdtemp(stage) == NULL) {
		r = pv_fail(err, PV_ERR, "mkdir %s: %s", stage, strerror(errno));
		goto out_nostage;
	}
	for (size_t i = 0; r == PV_OK && i < 4; i++) {
		static const char *const sub[] = {"blobs", "keys", "tmp", "packs"};
		if ((r = backup_path(path, sizeof(path), err, "%s/%s", stage, sub[i])) == PV_OK)
			r = pv_mkdir(path, 0700, 0, err);
	}
	if (r == PV_OK)
		r = restore_files(&m, backup_dir, stage, err);
	if (r == PV_OK)
		r = restore_keys(&m, backup_dir, stage, passphrase, passphrase_len, keys_dir, err);
	if (r == PV_OK)
		r = archive_open(stage, &ar, err);
	if (r == PV_OK)
		r = same_checkpoints(ar, notes, sum_r, err);
	/* The full verify, held to the manifest's checkpoints and to the
	 * ones the caller kept elsewhere. */
	if (r == PV_OK && ((kn = calloc(n_known + 2, sizeof(*kn))) == NULL ||
			   (kl = calloc(n_known + 2, sizeof(*kl))) == NULL))
		r = pv_fail(err, PV_ERR, "out of memory");
	if (r == PV_OK) {
		for (size_t i = 0; i < n_known; i++) {
			kn[i] = known_notes[i];
			kl[i] = known_lens[i];
		}
		for (int i = 0; i < 2; i++) {
			kn[n_known + i] = pv_buf_str(&notes[i]);
			kl[n_known + i] = notes[i].len;
		}
		r = verify_archive(ar, true, kn, kl, n_known + 2, line, line_ctx, rep_r, err);
		if (r == PV_EINTEGRITY)
			r = pv_fail(err, PV_EINTEGRITY, "the restored copy does not verify (%lld "
							"problems, listed above): nothing was restored",
				    (long long)rep_r->problems);
	}
	if (r == PV_OK) {
		sum_r->files = m.n;
		for (size_t i = 0; i < m.n; i++) {
			sum_r->bytes += m.files[i].size;
			sum_r->blobs += strncmp(m.files[i].path, "blobs/", 6) == 0;
			sum_r->packs += strncmp(m.files[i].path, "packs/", 6) == 0;
		}
		r = archive_auditf(ar, actor, AUDIT_RESTORE, "ok", NULL, err,
				   "from=%s manifest-sha256=%s created=%s archive-size=%llu "
				   "audit-size=%llu verified=full",
				   backup_dir, sum_r->manifest_sha256, m.created,
				   (unsigned long long)sum_r->archive_size,
				   (unsigned long long)sum_r->audit_size);
	}
	archive_close(&ar);
	if (r == PV_OK)
		r = backup_syncfs(stage, err);
	if (r == PV_OK && rename(stage, new_dir) < 0)
		r = pv_fail(err, PV_ERR, "rename %s to %s: %s", stage, new_dir, strerror(errno));
	if (r == PV_OK) {
		if ((r = backup_path(path, sizeof(path), err, "%s/..", new_dir)) == PV_OK)
			r = pv_fsync_dir(path, err);
	} else {
		struct pv_error ignore;
		(void)backup_rmtree(stage, &ignore);
	}
	free(kn);
	free(kl);
out_nostage:
	for (int i = 0; i < 2; i++)
		pv_buf_free(&notes[i]);
	backup_manifest_free(&m);
	return r;
}
