#ifndef PV_PACK_H
#define PV_PACK_H

/* Pack files (ARCHITECTURE.md §4): the sealed records (store/record.h) of
 * one retention bucket, appended one after another to DIR/packs/<id>.pack
 * instead of a file per message: one open per session, sequential writes,
 * one fdatasync per pack (and of the directory when a pack was created)
 * per group commit. A pack only ever holds records of its bucket, so
 * crypto-shredding stays exact and a pack whose messages are all disposed
 * of is removed whole.
 *
 * File: "PVPACK1\n" | bucket id (8 bytes, big-endian) | records. The
 * catalog says where each message's record is (messages.pack_id,
 * pack_offset, pack_length; table packs), so reading one back is one
 * seek. Bytes past the last committed record are the uncommitted tail of
 * an interrupted harvest: the next writer truncates them, verify reports
 * them as harmless.
 *
 * One writer per pack at a time: a writer holds an exclusive flock on
 * every pack it appends to until its session ends; a pack it cannot lock
 * (another harvest process) is left alone and a new segment started.
 * Disposal removes a pack only under the same lock. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/db.h"
#include "archiver/lib/error.h"
#include "archiver/store/blob.h"
#include "archiver/store/record.h"

#define PACK_MAGIC "PVPACK1\n"
#define PACK_HEADER_BYTES 16

void pack_path(const char *data_dir, int64_t pack_id, char *out, size_t out_len);
/* The pack id a file name in DIR/packs gives ("<id>.pack"); 0 for any
 * other name. */
int64_t pack_file_id(const char *name);

/* On a PostgreSQL catalog several harvesters share the packs table, each
 * writing its packs in its own data directory until the store holds them:
 * true when the catalog is shared that way and pack_id's file is not in
 * data_dir (another machine's, or already only in the store). Always
 * false on SQLite, whose catalog is one data directory's. */
bool pack_file_elsewhere(const char *data_dir, struct db *db, int64_t pack_id);

/* ---- writing (one harvest session) ---- */

struct pack_set;

int pack_set_new(const char *data_dir, struct db *db, struct pack_set **ps_r, struct pv_error *err);
/* With a remote pack store (store/packstore.h): pack_set_free seals every
 * pack this writer committed records to (packs.sealed_at: no writer takes
 * it again), so it can be uploaded as it is. */
void pack_set_seal_at_end(struct pack_set *ps);
/* Drops what was appended and is known not to be committed, closes every
 * pack (releasing its lock), frees. */
void pack_set_free(struct pack_set **ps);

/* Appends the record staged in rec to the current pack of bucket_id
 * (opening or starting one; the bucket must be in the catalog's buckets
 * table). loc_r gets where it is (loc_r->id is the caller's to fill). Not
 * durable until pack_set_sync. */
int pack_set_append(struct pack_set *ps, int64_t bucket_id, struct record_sealer *rec,
		    struct blob_loc *loc_r, struct pv_error *err);
/* Makes everything appended so far durable: fdatasync of each pack
 * written to, fsync of DIR/packs when a pack was created. Before the
 * catalog transaction that refers to the records commits. */
int pack_set_sync(struct pack_set *ps, struct pv_error *err);
/* After that transaction committed: the appended records are the packs'
 * committed content. */
void pack_set_committed(struct pack_set *ps);
/* After that transaction was rolled back (never committed): the appended
 * records are cut off again. Use pack_set_abandon instead when the commit
 * failed (it may have committed): the packs are closed untouched, and the
 * next writer truncates only what the catalog does not refer to. */
int pack_set_rollback(struct pack_set *ps, struct pv_error *err);
void pack_set_abandon(struct pack_set *ps);

/* ---- reading ---- */

/* The record at loc: see record_open. Read from the pack's file while it
 * is in DIR/packs, else from the pack store (packstore_open_range: a
 * ranged GET). PV_ENOTFOUND when the pack is in neither. */
struct packstore;
int pack_read(struct packstore *store, const struct blob_loc *loc,
	      const unsigned char key[BLOB_KEY_BYTES], const unsigned char *expect_sha256,
	      blob_sink_fn sink, void *ctx, struct pv_error *err) PV_WARN_UNUSED;
/* pack_read into a buffer, its record read by record_read_into (no
 * hash of the id first; expect_sha256 required; *into emptied on error). */
int pack_read_into(struct packstore *store, const struct blob_loc *loc,
		   const unsigned char key[BLOB_KEY_BYTES], const unsigned char expect_sha256[32],
		   struct pv_buf *into, struct pv_error *err) PV_WARN_UNUSED;
/* The record's bytes against its id only (no key). */
int pack_check(struct packstore *store, const struct blob_loc *loc, struct pv_error *err) PV_WARN_UNUSED;
bool pack_exists(struct packstore *store, int64_t pack_id);
/* pack_read and pack_check in two steps, for readers on other threads:
 * pack_open (the store: the catalog and the network, so the caller's
 * thread) gives an fd and where the record starts in it; the _fd readers
 * only pread it, on any thread. The caller closes the fd. */
int pack_open(struct packstore *store, const struct blob_loc *loc, int *fd_r, uint64_t *at_r,
	      struct pv_error *err) PV_WARN_UNUSED;
int pack_read_fd(int fd, uint64_t at, const struct blob_loc *loc,
		 const unsigned char key[BLOB_KEY_BYTES], const unsigned char *expect_sha256,
		 blob_sink_fn sink, void *ctx, struct pv_error *err) PV_WARN_UNUSED;
int pack_check_fd(int fd, uint64_t at, const struct blob_loc *loc, struct pv_error *err) PV_WARN_UNUSED;

/* ---- disposal and verify ---- */

/* Removes every pack all of whose messages are disposed of (and that no
 * writer holds), durably, and records it in the catalog: its file, and
 * its object in the pack store (packstore_remove). One the store refuses
 * (Object Lock: before its retain-until, or under legal hold) is kept,
 * logged, counted in *refused_r, and tried again by the next call. */
int pack_remove_unused(struct packstore *store, struct db *db, int64_t *removed_r,
		       int64_t *refused_r, struct pv_error *err);

/* Removes every pack that never got a message, the same way: a harvest
 * killed after a new pack's catalog row and before its first commit
 * leaves one (a header, no records), which would otherwise never be
 * sealed, stored or disposed of. A pack a writer holds is left alone.
 * Also removes a file holding no record that no row names (a harvest
 * killed between creating a pack's file and committing its row), under
 * the writers' lock. */
int pack_remove_empty(struct packstore *store, struct db *db, int64_t *removed_r,
		      struct pv_error *err);

/* Walks every pack against the catalog: header and bucket, records laid
 * end to end with no unreferenced bytes between them, and what follows
 * the last committed record. problem() is called with harmless = false
 * for damage (a bad header, bytes between records, a pack shorter than
 * its records, a pack file the catalog does not know), with harmless =
 * true for an interrupted harvest's uncommitted tail (torn or whole
 * records). Missing packs and altered records are found per message
 * (pack_read, pack_check). */
struct pack_scan_stats {
	int64_t packs, records, tail_bytes;
};
typedef void pack_problem_fn(void *ctx, bool harmless, const char *msg);
/* since: the caller reads the catalog in a snapshot taken then (unix
 * seconds; 0: none): a pack file the catalog does not know yet that was
 * made at or after it belongs to a harvest writing meanwhile (harmless). */
int pack_scan(const char *data_dir, struct db *db, int64_t since, pack_problem_fn *problem, void *ctx,
	      struct pack_scan_stats *stats_r, struct pv_error *err);

#endif
