#include "archiver/archive/user_access.h"

#include <stdio.h>
#include <string.h>

#include "archiver/archive/approvals.h"
#include "archiver/store/users.h"
#include "audit/auditlog.h"

/* The role actor acts with: a web user's own; "admin" for the command
 * line (root), or a web user gone meanwhile. */
typedef char role_name[sizeof(((struct user *)0)->role)];
static int role_of(struct archive *ar, const char *actor, role_name role, struct pv_error *err)
{
	struct user u;
	snprintf(role, sizeof(role_name), "admin");
	if (strncmp(actor, "web:", 4) != 0)
		return PV_OK;
	int r = user_get(ar->cat->conn, actor + 4, &u, err);
	if (r == PV_OK)
		snprintf(role, sizeof(role_name), "%s", u.role);
	if (r == PV_ENOTFOUND) /* (only admins change users in the web) */
		pv_error_clear(err), r = PV_OK;
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

/* The roles whose accounts an admin cannot open alone: legal reads mail;
 * compliance approves what the two-person rule holds back and reads the
 * audit trail (who read which message). What they do, for the request. */
static const char *guarded_role(const char *role)
{
	if (strcmp(role, "legal") == 0)
		return "reads mail";
	if (strcmp(role, "compliance") == 0)
		return "approves, reads the audit trail";
	return NULL;
}

/* What the approver is asked, in one line: what was set, by whom, and
 * who else set the password (signing in as the user, anyone who knew it
 * may have chosen the one they have now). */
static void describe(const char *actor, const struct user *u, bool set_password, bool set_role,
		     char *out, size_t n)
{
	char pw[384];
	if (set_password)
		snprintf(pw, sizeof(pw), "%s by %s, who can sign in with that password until %s "
			 "chooses their own", set_role ? "account and password set" : "password set",
			 actor, u->name);
	else if (u->password_once)
		snprintf(pw, sizeof(pw), "role set to %s by %s; the password is a one-time one set "
			 "by %s", u->role, actor, u->set_by[0] ? u->set_by : "someone else");
	else if (strncmp(u->set_by, "web:", 4) == 0)
		snprintf(pw, sizeof(pw), "role set to %s by %s; the password was last set by %s, then "
			 "changed at a sign-in as %s", u->role, actor, u->set_by, u->name);
	else if (u->set_by[0])
		snprintf(pw, sizeof(pw), "role set to %s by %s; the password was set at the shell "
			 "(%s)", u->role, actor, u->set_by);
	else
		snprintf(pw, sizeof(pw), "role set to %s by %s; nobody else has set the password",
			 u->role, actor);
	snprintf(out, n, "let %s sign in with the role %s (%s): %s", u->name, u->role,
		 guarded_role(u->role), pw);
}

int user_access_after_change(struct archive *ar, const char *actor, const char *name,
			     bool set_password, bool set_role, struct pv_error *err)
{
	char why[AUDIT_ACTOR_MAX + 64], summary[APPROVAL_SUMMARY_MAX + 1];
	role_name role;
	bool own = strncmp(actor, "web:", 4) == 0 && strcmp(actor + 4, name) == 0;
	struct user u;
	int64_t id = 0;
	int r;
	if (own || (!set_password && !set_role))
		return PV_OK;
	if ((r = user_get(ar->cat->conn, name, &u, err)) < 0 || (r = role_of(ar, actor, role, err)) < 0)
		return r;
	bool web = strncmp(actor, "web:", 4) == 0, guarded = guarded_role(u.role) != NULL;
	if (web && guarded) {
		/* Whoever set the password or gave the role can sign in as it: a
		 * second person approves. */
		snprintf(why, sizeof(why), "superseded: %s asked again", actor);
		describe(actor, &u, set_password, set_role, summary, sizeof(summary));
		if ((r = withdraw(ar, actor, role, &u, why, err)) < 0 ||
		    (r = approval_propose_user_access_in_tx(ar, actor, role, name, summary, &id,
							    err)) < 0)
			return r;
	} else {
		/* An admin: nothing to read or approve. From the command line:
		 * root vouches. */
		snprintf(why, sizeof(why), "superseded: %s",
			 web ? "no longer a legal or compliance user" : "set on the command line");
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
	role_name role;
	struct user u;
	int r = user_get(ar->cat->conn, name, &u, err);
	if (r == PV_ENOTFOUND)
		return PV_OK; /* the removal says so */
	if (r < 0 || (r = role_of(ar, actor, role, err)) < 0)
		return r;
	return withdraw(ar, actor, role, &u, "the user was removed", err);
}
