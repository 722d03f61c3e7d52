#ifndef PV_HARVEST_H
#define PV_HARVEST_H

/* One harvest of one account (ARCHITECTURE.md §3): connect, list, RETR
 * (pipelined) straight into encrypted blobs, group-commit each chunk, and
 * only then DELE it; QUIT is the commit; after any local failure the
 * connection is dropped without QUIT. Afterwards a fresh session proves
 * that what was deleted is gone; residue is reported.
 *
 * A message that ends a session (the connection dies in its RETR, or on
 * a server with EXPIRE (any value but NEVER, or one that does not parse)
 * it was retrieved but could not be archived, so QUIT
 * would expire it) is left upstream and reported, and the harvest goes on
 * in a fresh session without it (at most 3 sessions), so one broken
 * message does not hold the rest of the mailbox hostage. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/store/accounts.h"
#include "archiver/store/datadir.h"

struct harvest_summary {
	int64_t listed;      /* messages upstream at the start */
	int64_t fetched;     /* newly archived */
	int64_t reconciled;  /* already archived, found upstream again, deleted now */
	int64_t deleted;     /* deletes committed by QUIT +OK and not seen again
			      * (unchecked: acknowledged, see verified_gone) */
	int64_t residue;     /* QUIT said +OK, still upstream */
	int64_t skipped;     /* left upstream on purpose (over the size cap, kept) */
	int64_t failed;      /* per-message failures (left upstream) */
	int64_t remaining;   /* upstream after the session (-1: unknown) */
	int64_t bytes;       /* plaintext bytes archived */
	bool verified_gone;  /* a fresh session checked the deletes (not done when
			      * nothing was deleted, without UIDL, or under
			      * LOGIN-DELAY: the next harvest settles them) */
	uint32_t login_delay_s; /* the server's LOGIN-DELAY (RFC 2449 §6.8), 0 if
				 * none: the least time before the next login */
	struct pv_buf errors; /* one human line per problem, '\n'-separated */
};

void harvest_summary_init(struct harvest_summary *s);
void harvest_summary_free(struct harvest_summary *s);

struct harvest_opts {
	bool progress; /* print progress on a terminal */
};

/* Async-signal-safe: every harvest of this process finishes the chunk in
 * hand (committed, then DELEd), sends QUIT so those deletions take effect,
 * and returns PV_ETEMP ("stopped on request") without fetching the rest.
 * For SIGTERM/SIGINT handlers; there is no way back. */
void harvest_request_stop(void);

/* Returns 0 when the harvest completed (per-message problems are counted
 * and listed in s->errors); negative when it could not run or was aborted
 * (nothing unsafe happened: see the invariants). PV_ETEMP means "try again
 * later": [IN-USE], [LOGIN-DELAY], [SYS/TEMP], the network, a QUIT
 * without +OK. The counts in s are valid in every case. */
int harvest_account(struct archive *ar, const struct account *a, const struct harvest_opts *o,
		    struct harvest_summary *s, struct pv_error *err);

#endif
