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
 * they set up. Every web user who set an account's password counts, back
 * to its last setting at the shell (root's: it went to the real user),
 * each with whoever could sign in as them when they set it: a reset by
 * another admin in good faith hands the password to whoever asked, the
 * account's maker too, and two accounts that reset each other's do not
 * hide who made them. *independent_r false then, via_r the user both
 * reach (or "more users than can be followed"). */
int archive_user_independent(struct archive *ar, const char *name, const char *other,
			     bool *independent_r, char via_r[AUDIT_ACTOR_MAX + 1],
			     struct pv_error *err);

#endif
