#ifndef PV_HARVEST_H
#define PV_HARVEST_H

/* One harvest session for one account (DESIGN.md §3): connect, list, RETR
 * (pipelined) straight into encrypted blobs, group-commit each batch, and
 * only then DELE it; QUIT is the commit; after any local failure the
 * connection is dropped without QUIT. Afterwards a fresh session proves
 * that what was deleted is gone; residue is reported. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/store/accounts.h"
#include "archiver/store/archive.h"

struct harvest_summary {
	int64_t listed;      /* messages upstream at the start */
	int64_t fetched;     /* newly archived */
	int64_t reconciled;  /* already archived, found upstream again, deleted now */
	int64_t deleted;     /* deletes committed by QUIT +OK and not seen again */
	int64_t residue;     /* QUIT said +OK, still upstream */
	int64_t skipped;     /* left upstream on purpose (over the size cap, kept) */
	int64_t failed;      /* per-message failures (left upstream) */
	int64_t remaining;   /* upstream after the session (-1: unknown) */
	int64_t bytes;       /* plaintext bytes archived */
	bool verified_gone;  /* a fresh session checked the deletes */
	struct pv_buf errors; /* one human line per problem, '\n'-separated */
};

void harvest_summary_init(struct harvest_summary *s);
void harvest_summary_free(struct harvest_summary *s);

struct harvest_opts {
	bool progress; /* print progress on a terminal */
};

/* Returns 0 when the session completed (per-message problems are counted
 * and listed in s->errors); negative when the session could not run or was
 * aborted (nothing unsafe happened: see the invariants). */
int harvest_account(struct archive *ar, const struct account *a, const struct harvest_opts *o,
		    struct harvest_summary *s, struct pv_error *err);

#endif
