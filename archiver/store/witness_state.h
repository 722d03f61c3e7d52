#ifndef PV_STORE_WITNESS_STATE_H
#define PV_STORE_WITNESS_STATE_H

/* The state of a witness (archiver/archive/witness.h), a small SQLite
 * file of its own (migrations_witness): per log origin the size, root and
 * note of the checkpoint it last cosigned, and the requests it refused
 * for a conflict or a bad proof, kept as evidence. Losing this file
 * makes the witness forget what it promised: it must then be retired,
 * not restarted empty. Written against lib/db.h (the SQL runs on
 * SQLite and PostgreSQL); the file itself is SQLite's. */

#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/db.h"

/* Opens the state file (create: make it, refusing one that exists;
 * otherwise it must exist), WAL and synchronous=FULL, migrated. *db_r
 * owned by the caller (db_close). */
int witness_state_open(const char *path, int create, struct db **db_r, struct pv_error *err);

/* The log's last cosigned size and root; PV_ENOTFOUND for a log never
 * cosigned. */
int witness_state_get(struct db *db, const char *origin, uint64_t *size_r, uint8_t root_r[32],
		      struct pv_error *err);
/* Records that checkpoint (size, root, note) of origin was cosigned. */
int witness_state_put(struct db *db, const char *origin, uint64_t size, const uint8_t root[32],
		      const void *note, size_t len, int64_t now, struct pv_error *err);
/* Keeps a refused request (status 409 or 422) as evidence. */
int witness_state_refusal(struct db *db, const char *origin, int status, uint64_t old_size,
			  uint64_t size, const void *req, size_t len, int64_t now,
			  struct pv_error *err);

#endif
