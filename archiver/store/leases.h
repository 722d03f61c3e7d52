#ifndef PV_STORE_LEASES_H
#define PV_STORE_LEASES_H

/* Mailbox leases (catalog migration 16, table mailbox_leases): when
 * several harvesters on several machines share one catalog (PostgreSQL,
 * ARCHITECTURE.md §12), at most one of them holds a POP3 session on an
 * account at a time. A lease names its holder and runs out at a time the
 * holder keeps pushing forward while its session lives (lease_take again,
 * after each committed batch); one that ran out may be taken by anyone,
 * so a harvester that died frees its mailboxes by itself. Times are the
 * caller's (unix seconds); the clocks of the machines must agree to
 * within far less than the lease's length.
 *
 * A lease only keeps sessions apart; the catalog's (account, UIDL) key
 * still keeps any message from being recorded twice should two sessions
 * ever overlap (a holder paused past its lease). */

#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/db.h"
#include "archiver/lib/error.h"

#define LEASE_HOLDER_MAX 128

/* Takes or extends the lease on account_id for holder until `until`.
 * site, when not NULL, is the start of holder naming its data directory
 * (lease_holder_make): a lease whose holder starts with it is taken too,
 * even before it runs out — it belongs to a process of this data
 * directory that died (its harvest lock keeps the live ones apart). A
 * lease held by another holder that has not run out at `now` is not
 * taken: PV_ETEMP, with that holder and its end in other_r / other_until_r
 * (either may be NULL) and in err. One statement: atomic on both engines
 * without a transaction of the caller's. */
int lease_take(struct db *db, int64_t account_id, const char *site, const char *holder, int64_t now,
	       int64_t until, char other_r[LEASE_HOLDER_MAX], int64_t *other_until_r,
	       struct pv_error *err) PV_WARN_UNUSED;

/* Gives the lease back if holder has it (nothing otherwise). */
int lease_release(struct db *db, int64_t account_id, const char *holder, struct pv_error *err)
	PV_WARN_UNUSED;

/* This process's name as a holder: "HOST:DATA_DIR pid PID #RANDOM" (the
 * random part tells apart two processes that got the same pid), and in
 * site_r its start "HOST:DATA_DIR " (data_dir cut to fit). */
int lease_holder_make(const char *data_dir, char out[LEASE_HOLDER_MAX],
		      char site_r[LEASE_HOLDER_MAX], struct pv_error *err) PV_WARN_UNUSED;

#endif
