#include "archiver/archive/user_access.h"

#include <stdio.h>
#include <string.h>

#include "archiver/archive/approvals.h"
#include "archiver/store/users.h"

/* The role actor acts with: a web user's own; "admin" for the command
 * line (root). */
static int role_of(struct archive *ar, const char *actor, char role[16], struct pv_error *err)
{
	struct user u;
	snprintf(role, 16, "admin");
	if (strncmp(actor, "web:", 4) != 0)
		return PV_OK;
	int r = user_get(ar->cat->conn, actor + 4, &u, err);
	if (r == PV_OK)
		snprintf(role, 16, "%s", u.role);
	return r;
}

/* u's pending approval withdrawn by actor (why), and the wait cleared or
 * kept for the next one. */
static int withdraw(struct archive *ar, const char *actor, const char *role, const struct user *u,
		    const char *why, struct pv_error *err)
{
	if (u->access_approval == 0 || strcmp(u->access_state, "pending") != 0)
		return PV_OK;
	return approval_withdraw_in_tx(ar, actor, role, u->access_approval, why, err);
}

/* What the approver is asked, in one line. */
static void describe(const char *actor, const struct user *u, bool set_password, bool set_role,
		     char *out, size_t n)
{
	if (set_password)
		snprintf(out, n, "let %s sign in with the role legal (reads mail): %s by %s, who can "
			 "sign in with that password until %s chooses their own", u->name,
			 set_role ? "account and password set" : "password set", actor, u->name);
	else if (u->password_once)
		snprintf(out, n, "let %s sign in with the role legal (reads mail): role set to legal by "
			 "%s; the password is a one-time one set by %s", u->name, actor,
			 u->set_by[0] ? u->set_by : "someone else");
	else
		snprintf(out, n, "let %s sign in with the role legal (reads mail): role set to legal by "
			 "%s; the password is %s's own", u->name, actor, u->name);
}

int user_access_after_change(struct archive *ar, const char *actor, const char *name,
			     bool set_password, bool set_role, struct pv_error *err)
{
	char role[16], why[96], summary[APPROVAL_SUMMARY_MAX + 1];
	bool own = strncmp(actor, "web:", 4) == 0 && strcmp(actor + 4, name) == 0;
	struct user u;
	int64_t id = 0;
	int r;
	if (own || (!set_password && !set_role))
		return PV_OK;
	if ((r = user_get(ar->cat->conn, name, &u, err)) < 0 || (r = role_of(ar, actor, role, err)) < 0)
		return r;
	bool web = strncmp(actor, "web:", 4) == 0, legal = strcmp(u.role, "legal") == 0;
	if (web && legal) {
		/* Whoever set the password or made the account legal can sign
		 * in as it: a second person approves. */
		snprintf(why, sizeof(why), "superseded: %s asked again", actor);
		describe(actor, &u, set_password, set_role, summary, sizeof(summary));
		if ((r = withdraw(ar, actor, role, &u, why, err)) < 0 ||
		    (r = approval_propose_user_access_in_tx(ar, actor, role, name, summary, &id,
							    err)) < 0)
			return r;
	} else {
		/* Not legal: nothing to read. From the command line: root vouches. */
		snprintf(why, sizeof(why), "%s", web ? "superseded: no longer a legal user"
						    : "superseded: set on the command line");
		if ((r = withdraw(ar, actor, role, &u, why, err)) < 0)
			return r;
		if (u.access_approval == 0)
			return PV_OK;
	}
	return user_set_access_approval(ar->cat->conn, name, id, err);
}

int user_access_before_remove(struct archive *ar, const char *actor, const char *name,
			      struct pv_error *err)
{
	char role[16];
	struct user u;
	int r = user_get(ar->cat->conn, name, &u, err);
	if (r == PV_ENOTFOUND)
		return PV_OK; /* the removal says so */
	if (r < 0 || (r = role_of(ar, actor, role, err)) < 0)
		return r;
	return withdraw(ar, actor, role, &u, "the user was removed", err);
}
