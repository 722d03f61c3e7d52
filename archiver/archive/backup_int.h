#ifndef PV_ARCHIVE_BACKUP_INT_H
#define PV_ARCHIVE_BACKUP_INT_H

/* The pieces of backup.c (archiver/archive/backup_files.c): files,
 * the manifest, the encrypted key container, SQLite copies. Private to
 * backup.c and its tests. */

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/archive/backup.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/db.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"

/* ---- files ---- */

/* printf into out[n]; PV_ERR "path too long" when it does not fit. */
int backup_path(char *out, size_t n, struct pv_error *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* SHA-256 and size of a regular file, read in full; a symlink or anything
 * but a regular file is PV_EINTEGRITY. */
int backup_file_hash(const char *path, unsigned char sha256_r[32], uint64_t *size_r,
		     struct pv_error *err);
/* dst as a hard link to src when they share a file system (*linked_r
 * true), else a copy made 0600, its SHA-256 and size taken on the way
 * (backup_copy_file); dst must not exist. Not yet durable: see
 * backup_syncfs. */
int backup_link_or_copy(const char *src, const char *dst, bool *linked_r,
			unsigned char sha256_r[32], uint64_t *size_r, struct pv_error *err);
/* A copy of the first len bytes of src at dst (0600), their SHA-256 to
 * sha256_r; dst must not exist. PV_EINTEGRITY when src is shorter than
 * len. Read and written once, both sides kept out of the page cache
 * (lib/pagecache.h: gigabytes of packs would push the live catalog and
 * index out of memory). */
int backup_copy_prefix(const char *src, const char *dst, uint64_t len, unsigned char sha256_r[32],
		       struct pv_error *err);
/* p is "packs/<id>.pack" as pack_path names it (id > 0, at least 8
 * digits, zero-padded to 8 and no further): the id to *id_r (may be NULL). */
bool backup_pack_path_id(const char *p, int64_t *id_r);
/* A copy of src at dst (0600), its SHA-256 and size taken on the way (as
 * backup_copy_prefix copies); dst must not exist. */
int backup_copy_file(const char *src, const char *dst, unsigned char sha256_r[32],
		     uint64_t *size_r, struct pv_error *err);
/* Makes everything written on dir's file system durable (syncfs), once
 * for all the files copied, as blob_sync does for a harvest. */
int backup_syncfs(const char *dir, struct pv_error *err);
/* Removes path and everything under it (no symlink followed); missing is
 * fine. */
int backup_rmtree(const char *path, struct pv_error *err);
/* 1 when dir is missing, 0 when it is an empty directory; PV_ERR with the
 * reason otherwise. */
int backup_dir_unused(const char *dir, struct pv_error *err);

/* ---- the manifest (backup.h) ---- */

struct backup_file {
	char path[80]; /* relative: MANIFEST's PATH ("blobs/XX/" and 64 hex at most,
			* or "packs/<id>.pack") */
	unsigned char sha256[32];
	uint64_t size;
};

struct backup_manifest {
	char created[32];
	char origin[256];
	int schema;
	bool keys;
	struct backup_file *files;
	size_t n, cap;
};

void backup_manifest_init(struct backup_manifest *m);
void backup_manifest_free(struct backup_manifest *m);
/* Hashes dir/path and adds it. */
int backup_manifest_add(struct backup_manifest *m, const char *dir, const char *path,
			struct pv_error *err);
/* Adds path, whose SHA-256 and size the caller took as it wrote it. */
int backup_manifest_add_hashed(struct backup_manifest *m, const char *path,
			       const unsigned char sha256[32], uint64_t size, struct pv_error *err);
/* Sorts the files and writes dir/MANIFEST durably; its SHA-256 to hex_r. */
int backup_manifest_write(struct backup_manifest *m, const char *dir, char hex_r[65],
			  struct pv_error *err);
/* Reads dir/MANIFEST strictly: known header lines, every PATH one of the
 * names a backup has (no "..", no absolute path), sorted, no duplicates,
 * at most PV_BACKUP_FILES_MAX files. Its SHA-256 to hex_r. */
int backup_manifest_read(const char *dir, struct backup_manifest *m, char hex_r[65],
			 struct pv_error *err) PV_WARN_UNUSED;
/* Every file of the manifest has its size and SHA-256 in dir, and dir
 * holds no other file. PV_EINTEGRITY naming the first difference. The
 * files for which checked_later(path) is true are only looked for: their
 * caller checks them as it copies them (NULL: all are hashed here). */
int backup_manifest_check(const struct backup_manifest *m, const char *dir,
			  bool (*checked_later)(const char *path),
			  struct pv_error *err) PV_WARN_UNUSED;
/* f's bytes, as copied (SHA-256 and size), against the manifest:
 * PV_EINTEGRITY naming the file when they differ. */
int backup_file_matches(const struct backup_file *f, const unsigned char sha256[32],
			uint64_t size, struct pv_error *err);

/* ---- keys.enc ----
 * "PVKEYS1\n" | salt (16) | ops (8, big-endian) | mem (8, big-endian) |
 * secretstream header (24) | records, each a 4-byte big-endian length and
 * that many bytes of secretstream ciphertext; the last carries the FINAL
 * tag. Key: Argon2id of the passphrase with salt, ops, mem. Every record
 * has the 40 bytes before the stream header as associated data. Plaintext
 * of a record: one file, a byte giving the name's length, the name
 * ([A-Za-z0-9._-], not starting with '.'), the content. */

struct backup_key_file {
	char name[64];
	unsigned char *data; /* secret: wiped by backup_key_files_free */
	size_t len;
};

struct backup_key_files {
	struct backup_key_file f[PV_BACKUP_KEY_FILES_MAX];
	size_t n;
};

void backup_key_files_free(struct backup_key_files *k);
/* Adds a copy of data under name. */
int backup_key_files_add(struct backup_key_files *k, const char *name, const void *data,
			 size_t len, struct pv_error *err);
/* Seals k into out (max at least PV_BACKUP_KEYS_MAX). */
int backup_keys_seal(const struct backup_key_files *k, const char *passphrase, size_t pass_len,
		     const struct backup_kdf *kdf, struct pv_buf *out, struct pv_error *err);
/* Opens a container. PV_EAUTH when the passphrase is wrong (or the first
 * record was altered), PV_EINTEGRITY when anything else does not
 * authenticate or parse, PV_ELIMIT for a cost above the limits. */
int backup_keys_open(const unsigned char *in, size_t len, const char *passphrase,
		     size_t pass_len, struct backup_key_files *k_r,
		     struct pv_error *err) PV_WARN_UNUSED;

/* ---- SQLite ---- */

/* Copies the database of src into the file path (which must not exist)
 * with the online backup API in one step (one read transaction: a
 * consistent snapshot), in rollback-journal mode, fsynced. */
int backup_sqlite_to_file(sqlite3 *src, const char *path, struct pv_error *err);
/* The same for a catalog on PostgreSQL (pg): a new SQLite catalog file at
 * path, made by the SQLite migrations and filled with every table's rows
 * from one REPEATABLE READ snapshot (store/catalog_copy.h; the bucket
 * keys' rows, wrapped under the identity, with them), its search index
 * empty and marked to be rebuilt. */
int backup_catalog_from_pg(struct db *pg, const char *path, struct pv_error *err);
/* Opens the copy at path read-only (its bytes are in the manifest), as a
 * database of lib/db.h; close with backup_sqlite_close_copy. */
int backup_sqlite_open_copy(const char *path, struct db **db_r, struct pv_error *err)
	PV_WARN_UNUSED;
void backup_sqlite_close_copy(struct db **db);
/* The same into memory: the image of the database file at path, opened
 * read-only (*data_r from sqlite3_malloc: wipe, then sqlite3_free). */
int backup_sqlite_image(const char *path, unsigned char **data_r, size_t *len_r,
			struct pv_error *err);

#endif
