#ifndef PV_ARCHIVE_VOUCH_H
#define PV_ARCHIVE_VOUCH_H

/* Who could sign in as whom: whoever set a user's password (making the
 * user, a reset) can sign in as them until someone else sets it again;
 * a user's own change proves nothing (their maker may be signed in as
 * them). Every setting is recorded in order (store/users.h user_vouch,
 * table user_vouches); this reads it for the two-person rule
 * (approvals.h): an approver must be a second person. */

#include <stdbool.h>

#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"
#include "audit/auditlog.h"

/* Whether user name is a second person to actor `other` (a proposer, or
 * the web user an approval would let in): not when one web user set the
 * passwords of both (or of one, the other), directly or through users
 * they set up. Each chain starts at its end's last setter and goes back:
 * the setter's own last setter *before* they set it, and so on (two
 * accounts that reset each other's passwords do not hide who made them;
 * one reset since by someone else is no longer its old setter's).
 * *independent_r false then, via_r the user both chains reach (or "a
 * chain of more than 16 users"). */
int archive_user_independent(struct archive *ar, const char *name, const char *other,
			     bool *independent_r, char via_r[AUDIT_ACTOR_MAX + 1],
			     struct pv_error *err);

#endif
