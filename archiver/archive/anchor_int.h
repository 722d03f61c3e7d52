#ifndef PV_ARCHIVE_ANCHOR_INT_H
#define PV_ARCHIVE_ANCHOR_INT_H

/* Shared by anchor.c and the witness client (anchor.h). */

#include "archiver/archive/anchor.h"
#include "audit/tlog.h"

/* Records party p's attempt (anchor_attempts) and its "anchor" audit
 * entry, inside the caller's transaction when one is open. */
int anchor_record(struct archive *ar, const char *actor, const struct anchor_result *res,
		  const struct anchor_party *p, struct pv_error *err);

/* witness_client.c: shows cp (log t's checkpoint) to every configured
 * witness, one party each in res; keeps and records what they answer.
 * The first failure is returned. */
int anchor_witnesses(struct archive *ar, struct tlog *t, const char *actor,
		     struct anchor_result *res, const struct tlog_checkpoint_row *cp,
		     struct pv_error *err);

#endif
