#ifndef PV_APPROVALS_H
#define PV_APPROVALS_H

/* The two-person rule (DESIGN.md §8, issue 13): what destroys or exposes
 * evidence takes effect only once a second person, with another role,
 * approves it:
 *
 *   kind           proposed by          approved by          what approval does
 *   policy         admin                compliance           sets the policy version
 *   hold-release   legal                legal, compliance    releases the hold
 *   dispose        admin, compliance    compliance, legal    runs the frozen plan
 *   user-access    admin                compliance           lets a legal or compliance
 *                                                            user an admin opened sign in
 *
 * (approval_rules below is that table, the only one: the web API's route
 * table lets these roles reach the endpoints, this one decides.) The
 * approver must be another user than the proposer AND have another role
 * than the one the proposal was made with; a policy version that shortens
 * nothing needs no approval and is set at once (archive_policy_set).
 *
 * Every step is audited before it takes effect, fail closed, in the
 * transaction that records it: "approval-propose" (object "approval=N
 * kind=K sha256=HEX role=R"), "approval-approve" / "approval-reject"
 * ("approval=N kind=K proposer=A role=R"), each with the reason (and the
 * proposal's summary) as personal data; the approved effect then writes
 * its own entries (policy-set, hold-release, dispose-intent/done) in the
 * same transaction, in the proposer's name (they asked for it; the entry
 * just before names who approved it); access granted (user-change
 * access=granted) is the approver's: the admin asked, compliance grants.
 *
 * Break-glass, for an appliance with a single operator: on the command
 * line only (an actor "cli:USER"), with a reason, a proposal can be
 * approved without a second person or role; it is audited as a
 * "break-glass" entry before the approval's own, and printed as a warning.
 *
 * Actors are audit actors ("web:alice", "cli:root"); roles "admin",
 * "legal", "compliance" (the web session's role; on the command line the
 * role the operator states with --as-role). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/archive/dispose.h"
#include "archiver/archive/policies.h"
#include "archiver/lib/error.h"
#include "archiver/store/approvals.h"
#include "archiver/store/datadir.h"

enum approval_kind {
	APPROVAL_POLICY,       /* payload: the exact policy text */
	APPROVAL_HOLD_RELEASE, /* payload: the hold's name */
	APPROVAL_DISPOSE,      /* payload: the frozen plan (dispose_frozen.h) */
	APPROVAL_USER_ACCESS,  /* payload: the user's name (user_access.h; proposed by a
				* change of the user, not by approval_propose) */
};

#define APPROVAL_ROLE_ADMIN (1u << 0)
#define APPROVAL_ROLE_LEGAL (1u << 1)
#define APPROVAL_ROLE_COMPLIANCE (1u << 2)

struct approval_rule {
	enum approval_kind kind;
	const char *name;    /* "policy", "hold-release", "dispose", "user-access" (the table's kind) */
	unsigned proposers;  /* APPROVAL_ROLE_* that may propose */
	unsigned approvers;  /* APPROVAL_ROLE_* that may approve or reject */
	const char *what;    /* "a policy version that shortens retention", ... */
};

extern const struct approval_rule approval_rules[];
extern const size_t approval_rules_count;

/* The rule of a kind / of a kind's name (NULL when unknown). */
const struct approval_rule *approval_rule_of(enum approval_kind kind);
const struct approval_rule *approval_rule_named(const char *name);
/* The APPROVAL_ROLE_* bit of "admin", "legal", "compliance"; 0 otherwise. */
unsigned approval_role_bit(const char *role);
/* "compliance", "legal or compliance", ... for messages. */
void approval_roles_text(unsigned roles, char *out, size_t n);

/* A reason: 1..PV_APPROVAL_REASON_MAX bytes of UTF-8 text without control
 * characters (required = false: NULL or "" allowed). PV_EUSAGE. */
int approval_reason_check(const char *reason, bool required, struct pv_error *err);

struct approval_proposal {
	int64_t id;                    /* the approval (0 when none was needed) */
	bool applied;                  /* policy that shortens nothing: set at once */
	char summary[APPROVAL_SUMMARY_MAX + 1];
	struct policy_preview preview; /* policy: what the text would change */
	struct policy_set_result set;  /* policy, applied: as archive_policy_set */
	struct dispose_run plan;       /* dispose: the plan frozen (completed when made) */
	size_t frozen;                 /* dispose: messages in the frozen plan */
	bool conflict;                 /* refused for the state of things: a release
					* or disposal of the kind already pending */
};
void approval_proposal_free(struct approval_proposal *p);

/* Proposes `kind` with payload (policy text, hold name; ignored for
 * dispose, whose plan is made now): checks that role may propose it, the
 * payload (a policy that parses, diags may be NULL; an active hold with no
 * release pending; due messages and no other disposal pending), stores it
 * and audits "approval-propose", in one transaction. A policy text that
 * shortens nothing is set at once instead (res->applied, res->set,
 * audited as policy-set); one identical to the version in force is
 * PV_EUSAGE. Nothing due to dispose: PV_OK with res->id 0 and the plan.
 * PV_EPERM for a role that may not propose this kind; PV_EINTEGRITY with
 * res->plan for lost content (as archive_dispose). res is owned by the
 * caller (approval_proposal_free), also after an error. */
int approval_propose(struct archive *ar, const char *actor, const char *role,
		     enum approval_kind kind, const void *payload, size_t len, const char *reason,
		     struct policy_diags *diags, struct approval_proposal *res_r,
		     struct pv_error *err);

/* In the caller's open transaction: stores a proposal of kind user-access
 * for user `name` (summary as given) and audits "approval-propose";
 * *id_r gets its id. (user_access.h decides when.) */
int approval_propose_user_access_in_tx(struct archive *ar, const char *actor, const char *role,
				       const char *name, const char *summary, int64_t *id_r,
				       struct pv_error *err);

/* In the caller's open transaction: rejects pending approval id on
 * actor's behalf, with reason, audited "approval-reject" like any
 * rejection (a user-access proposal superseded by another or whose user
 * went). Not pending: PV_ERR. */
int approval_withdraw_in_tx(struct archive *ar, const char *actor, const char *role, int64_t id,
			    const char *reason, struct pv_error *err);

struct approval_outcome {
	struct approval_row row;       /* the approval after the decision, with its payload */
	struct policy_set_result set;  /* policy, approved: the version set */
	struct dispose_run run;        /* dispose, approved: the run */
	bool conflict;                 /* refused for the state of things: already
					* decided, or a policy proposed against a
					* version no longer in force */
};
void approval_outcome_free(struct approval_outcome *o);

/* Approves (approve) or rejects approval id. Approving needs another
 * user than the proposer with a role that differs from the proposal's and
 * may approve its kind (PV_EPERM, saying who may); rejecting too, except
 * that the proposer may withdraw their own proposal. reason: required to
 * reject and with break_glass. break_glass: only for a "cli:" actor;
 * approves without those checks, audited as "break-glass" first. Not
 * pending: PV_ERR ("already approved by ..."); no such id: PV_ENOTFOUND.
 * The decision, its audit entries and the approved effect commit together;
 * if anything fails nothing happened and the proposal stays pending.
 * A policy proposal whose base version is no longer in force cannot be
 * approved (PV_ERR: propose it again). A disposal carries out the frozen
 * plan (dispose_run_frozen): only its items still due and not held go;
 * lost content makes it return PV_EINTEGRITY after the run, as
 * archive_dispose does. out is owned by the caller (approval_outcome_free). */
int approval_decide(struct archive *ar, const char *actor, const char *role, int64_t id,
		    bool approve, const char *reason, bool break_glass,
		    struct approval_outcome *out_r, struct pv_error *err);

/* Reading approvals is not audited: they hold hashes, names of holds and
 * retention plans, no archived content. */
int approval_get(struct archive *ar, int64_t id, bool with_payload, struct approval_row *row_r,
		 struct pv_error *err) PV_WARN_UNUSED;
/* The pending approval that would release hold `name` (*id_r 0: none). */
int approval_pending_release(struct archive *ar, const char *name, int64_t *id_r,
			     struct pv_error *err);
/* state NULL: all; "pending", "approved", "rejected", "decided" (approved
 * or rejected). Newest first. */
int approval_list(struct archive *ar, const char *state, uint64_t offset, uint64_t limit,
		  int (*fn)(void *ctx, const struct approval_row *row), void *ctx,
		  uint64_t *total_r, struct pv_error *err);

#endif
