#ifndef PV_ARCHIVE_USER_ACCESS_H
#define PV_ARCHIVE_USER_ACCESS_H

/* An admin does not read mail (DESIGN.md §8), nor acts as the second
 * person of the two-person rule. Whoever sets a user's password can sign
 * in as that user, so opening an account of a guarded role in the web
 * takes two people: when a web user other than the user themselves makes
 * a legal or compliance account, gives an account one of those roles, or
 * sets the password of such a user, the account waits
 * (users.access_approval) for a compliance officer's approval of kind
 * user-access (approvals.h) before anyone can sign in with it. The
 * approver sees who asked, for which account and what changed; a second
 * person who knows the legal and compliance teams can refuse an account
 * nobody asked for, and must not be one who set up the admin or the
 * account (vouch.h). Granting is audited in the approver's name. (A real
 * user's first sign-in taken by whoever set its password is not
 * prevented: that user then cannot sign in, and says so.) The first
 * compliance officer comes from the shell.
 *
 * The command line is root's, who holds every key: a change there clears
 * the wait. A user's own password change leaves it as it is. A new request
 * withdraws the one before; removing the user, or making them an admin,
 * withdraws theirs. */

#include <stdbool.h>

#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"

/* In the caller's open transaction, after actor changed user name:
 * set_password (a password set) or set_role (a role set, or the user
 * added). Proposes, withdraws or clears as above; audited. */
int user_access_after_change(struct archive *ar, const char *actor, const char *name,
			     bool set_password, bool set_role, struct pv_error *err);

/* In the caller's open transaction, before user name is removed: the
 * approval their access waits for, if pending, is withdrawn. */
int user_access_before_remove(struct archive *ar, const char *actor, const char *name,
			      struct pv_error *err);

#endif
