#ifndef PV_ARCHIVE_ANCHOR_INT_H
#define PV_ARCHIVE_ANCHOR_INT_H

/* Shared by anchor.c and the witness client (anchor.h). */

#include "archiver/archive/anchor.h"
#include "audit/tlog.h"

/* Records party p's attempt (anchor_attempts) and its "anchor" audit
 * entry, inside the caller's transaction when one is open. */
int anchor_record(struct archive *ar, const char *actor, const struct anchor_result *res,
		  const struct anchor_party *p, struct pv_error *err);

#endif
