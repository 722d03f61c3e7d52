#ifndef PV_BATES_STORE_H
#define PV_BATES_STORE_H

/* The rows behind eDiscovery Bates numbers (catalog migration 3):
 * export_matters fixes a matter's prefix and first number at its first
 * export, export_bates keeps the number each message got in a matter.
 * Rows are never changed or deleted (triggers refuse it). Which numbers
 * and prefixes are allowed is archiver/export/bates.h's business; this
 * file only reads and writes the rows, on lib/db.h (SQLite or
 * PostgreSQL). Writers work inside the caller's open transaction. */

#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/db.h"
#include "archiver/lib/error.h"

/* The stored numbering of `matter`: its prefix (cut to prefix_cap - 1
 * bytes) and first number. PV_ENOTFOUND when the matter was never
 * exported. */
int bates_store_matter_get(struct db *db, const char *matter, char *prefix_r, size_t prefix_cap,
			   int64_t *start_r, struct pv_error *err);

/* Records the numbering of a new matter (its first export, by actor at
 * now). PV_ERR when the matter exists. */
int bates_store_matter_add(struct db *db, const char *matter, const char *prefix, int64_t start,
			   const char *actor, int64_t now, struct pv_error *err);

/* Numbers for the messages ids[0..n): the one `matter` gave a message
 * before, else the next free one (one past the matter's highest number,
 * at least `first`), stored as given at `now`. numbers_r[i] is for
 * ids[i]; *new_r (may be NULL) counts the numbers given now. PV_ELIMIT
 * when a new number would pass `max` (rows written before stay in the
 * caller's transaction, which should roll back). Must run inside the
 * caller's db_begin (one writer numbers at a time, on both engines):
 * PV_ERR outside any transaction. */
int bates_store_assign(struct db *db, const char *matter, int64_t first, int64_t max,
		       const int64_t *ids, size_t n, int64_t now, int64_t *numbers_r,
		       size_t *new_r, struct pv_error *err);

/* The number `matter` gave message id, or -1 (*number_r). */
int bates_store_lookup(struct db *db, const char *matter, int64_t id, int64_t *number_r,
		       struct pv_error *err);

/* Calls fn for every message `matter` numbered that has been disposed of
 * since, in id order. A non-zero return from fn stops and is returned. */
typedef int (*bates_store_disposed_fn)(void *ctx, int64_t id, int64_t number);
int bates_store_disposed(struct db *db, const char *matter, bates_store_disposed_fn fn, void *ctx,
			 struct pv_error *err);

#endif
