#include "archiver/archive/approvals.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/dispose_frozen.h"
#include "archiver/archive/holds.h"
#include "archiver/archive/vouch.h"
#include "archiver/store/users.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/utf8.h"

#define ADMIN APPROVAL_ROLE_ADMIN
#define LEGAL APPROVAL_ROLE_LEGAL
#define COMPLIANCE APPROVAL_ROLE_COMPLIANCE

/* The one table of the two-person rule (see approvals.h). */
const struct approval_rule approval_rules[] = {
	{APPROVAL_POLICY, "policy", ADMIN, COMPLIANCE,
	 "a policy version that shortens retention"},
	{APPROVAL_HOLD_RELEASE, "hold-release", LEGAL, LEGAL | COMPLIANCE, "releasing a legal hold"},
	{APPROVAL_DISPOSE, "dispose", ADMIN | COMPLIANCE, COMPLIANCE | LEGAL, "a disposal run"},
	{APPROVAL_USER_ACCESS, "user-access", ADMIN, COMPLIANCE,
	 "a legal or compliance account an admin opened (made, given the role, or its password set)"},
};
const size_t approval_rules_count = sizeof(approval_rules) / sizeof(approval_rules[0]);

static const char *const role_names[] = {"admin", "legal", "compliance"};

const struct approval_rule *approval_rule_of(enum approval_kind kind)
{
	for (size_t i = 0; i < approval_rules_count; i++)
		if (approval_rules[i].kind == kind)
			return &approval_rules[i];
	return NULL;
}

const struct approval_rule *approval_rule_named(const char *name)
{
	for (size_t i = 0; i < approval_rules_count; i++)
		if (strcmp(approval_rules[i].name, name) == 0)
			return &approval_rules[i];
	return NULL;
}

unsigned approval_role_bit(const char *role)
{
	for (unsigned i = 0; role != NULL && i < 3; i++)
		if (strcmp(role, role_names[i]) == 0)
			return 1u << i;
	return 0;
}

void approval_roles_text(unsigned roles, char *out, size_t n)
{
	size_t count = 0, k = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < 3; i++)
		count += (roles >> i) & 1u;
	for (unsigned i = 0; i < 3; i++) {
		if (!((roles >> i) & 1u))
			continue;
		size_t used = strlen(out);
		snprintf(out + used, n - used, "%s%s", k == 0 ? "" : k + 1 == count ? " or " : ", ",
			 role_names[i]);
		k++;
	}
}

int approval_reason_check(const char *reason, bool required, struct pv_error *err)
{
	if (reason == NULL || reason[0] == '\0') {
		if (required)
			return pv_fail(err, PV_EUSAGE, "a reason is required");
		return PV_OK;
	}
	if (strlen(reason) > PV_APPROVAL_REASON_MAX || !pv_utf8_printable(reason))
		return pv_fail(err, PV_EUSAGE, "a reason is at most %d bytes of one-line text",
			       PV_APPROVAL_REASON_MAX);
	return PV_OK;
}

void approval_proposal_free(struct approval_proposal *p)
{
	policy_preview_free(&p->preview);
	policy_set_result_free(&p->set);
	dispose_run_free(&p->plan);
}

void approval_outcome_free(struct approval_outcome *o)
{
	approval_row_free(&o->row);
	policy_set_result_free(&o->set);
	dispose_run_free(&o->run);
}

static void payload_hash(const void *p, size_t len, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, p, len);
	pv_hex(h, sizeof(h), out);
}

/* ---- proposing -------------------------------------------------------- */

static int prepare_policy(struct archive *ar, const char *actor, const void *text, size_t len,
			  struct policy_diags *diags, struct approval_proposal *res,
			  struct approval_row *row, struct pv_error *err)
{
	struct policy_preview *pv = &res->preview;
	int r = archive_policy_preview(ar, text, len, diags, pv, err);
	if (r < 0)
		return r;
	if (pv->unchanged)
		return pv_fail(err, PV_EUSAGE, "this text is the policy version in force (%lld)",
			       (long long)pv->base_version);
	if (!pv->shortens) { /* nothing to approve: set it now, audited */
		res->applied = true;
		return archive_policy_set(ar, actor, text, len, diags, &res->set, err);
	}
	row->base = pv->base_version;
	if (pv->rules.shortens)
		snprintf(row->summary, sizeof(row->summary),
			 "policy sha256 %.16s (in force: version %lld) shortens retention: %.300s; "
			 "%llu messages would expire earlier, %llu be due now",
			 pv->sha256, (long long)pv->base_version, pv->rules.why,
			 (unsigned long long)pv->earlier, (unsigned long long)pv->due_now);
	else
		snprintf(row->summary, sizeof(row->summary),
			 "policy sha256 %.16s (in force: version %lld): %llu messages would expire "
			 "earlier, %llu be due now", pv->sha256, (long long)pv->base_version,
			 (unsigned long long)pv->earlier, (unsigned long long)pv->due_now);
	return PV_OK;
}

static int prepare_hold(struct archive *ar, const char *name, struct approval_proposal *res,
			struct approval_row *row, struct pv_error *err)
{
	int64_t id, members, pending;
	int r;
	if ((r = hold_active(ar->cat->conn, name, &id, &members, err)) < 0 ||
	    (r = approval_pending_release(ar, name, &pending, err)) < 0)
		return r;
	if (pending != 0 && (res->conflict = true))
		return pv_fail(err, PV_ERR, "the release of hold '%s' is already proposed (approval "
					    "%lld)", name, (long long)pending);
	snprintf(row->summary, sizeof(row->summary), "release hold '%s' (hold %lld, %lld messages "
		 "recorded)", name, (long long)id, (long long)members);
	return PV_OK;
}

static int prepare_dispose(struct archive *ar, const char *actor, struct approval_proposal *res,
			   struct pv_buf *plan, struct approval_row *row, struct pv_error *err)
{
	const struct dispose_plan *p = &res->plan.plan;
	int64_t pending;
	int r = approval_store_pending(ar->cat->conn, "dispose", NULL, 0, &pending, err);
	if (r < 0)
		return r;
	if (pending != 0 && (res->conflict = true))
		return pv_fail(err, PV_ERR, "disposal run %lld is already proposed: approve or reject "
					    "it first", (long long)pending);
	/* A run approved earlier and cut short is finished first: its
	 * approval stands (what a hold or a policy set since covers is
	 * spared), and its messages would otherwise sit half destroyed. */
	int64_t resumed;
	if ((r = dispose_resume(ar, pv_clock_now(), actor, &resumed, err)) < 0)
		return r;
	r = dispose_freeze(ar, &res->plan, plan, &res->frozen, err);
	res->plan.res.resumed = resumed;
	if (r < 0 || res->frozen == 0)
		return r;
	int64_t first = 0, last = 0;
	for (size_t i = 0, k = 0; i < p->n && k < res->frozen; i++)
		if (p->v[i].state == DISPOSE_DUE) {
			first = k++ == 0 ? p->v[i].id : first;
			last = p->v[i].id;
		}
	snprintf(row->summary, sizeof(row->summary),
		 "dispose of %zu expired message%s (ids %lld-%lld) under policy version %lld; "
		 "%zu held, %zu for review%s", res->frozen, res->frozen == 1 ? "" : "s",
		 (long long)first, (long long)last, (long long)p->policy_version, p->held, p->review,
		 p->due > res->frozen ? "; more are due: the next run" : "");
	return PV_OK;
}

/* In the open transaction: row (its summary and base filled in) stored as
 * a proposal of rule's kind by actor with role, and audited. */
static int store_proposal(struct archive *ar, const struct approval_rule *rule, const char *actor,
			  const char *role, const void *payload, size_t len, const char *reason,
			  struct approval_row *row, int64_t *id_r, struct pv_error *err)
{
	char *personal = NULL;
	snprintf(row->kind, sizeof(row->kind), "%s", rule->name);
	row->payload = (unsigned char *)payload;
	row->payload_len = len;
	payload_hash(payload, len, row->payload_sha256);
	snprintf(row->proposer, sizeof(row->proposer), "%s", actor);
	snprintf(row->proposer_role, sizeof(row->proposer_role), "%s", role);
	snprintf(row->reason, sizeof(row->reason), "%s", reason ? reason : "");
	row->created_at = pv_clock_now();
	if (asprintf(&personal, "reason: %s\nsummary: %s", row->reason, row->summary) < 0)
		return pv_fail(err, PV_ERR, "out of memory");
	int r = approval_store_add(ar->cat->conn, row, id_r, err);
	if (r == PV_OK)
		r = archive_auditf(ar, actor, AUDIT_APPROVAL_PROPOSE, "ok", personal, err,
				   "approval=%lld kind=%s sha256=%s role=%s", (long long)*id_r,
				   rule->name, row->payload_sha256, role);
	row->payload = NULL; /* borrowed */
	free(personal);
	return r;
}

int approval_propose(struct archive *ar, const char *actor, const char *role,
		     enum approval_kind kind, const void *payload, size_t len, const char *reason,
		     struct policy_diags *diags, struct approval_proposal *res,
		     struct pv_error *err)
{
	const struct approval_rule *rule = approval_rule_of(kind);
	struct approval_row *row = calloc(1, sizeof(*row));
	struct pv_buf plan;
	char who[64];
	int r;

	memset(res, 0, sizeof(*res));
	pv_buf_init(&plan, (size_t)PV_APPROVAL_DISPOSE_MAX * 200);
	if (row == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (rule == NULL || (approval_role_bit(role) & rule->proposers) == 0) {
		approval_roles_text(rule ? rule->proposers : 0, who, sizeof(who));
		r = pv_fail(err, PV_EPERM, "%s is proposed by %s, not by %s", rule ? rule->what : "?",
			    who, role && role[0] ? role : "a user without a role");
		goto out;
	}
	if ((r = approval_reason_check(reason, false, err)) < 0)
		goto out;
	if (strlen(actor) > APPROVAL_ACTOR_MAX) {
		r = pv_fail(err, PV_EUSAGE, "actor name too long");
		goto out;
	}
	switch (kind) {
	case APPROVAL_POLICY:
		r = prepare_policy(ar, actor, payload, len, diags, res, row, err);
		break;
	case APPROVAL_HOLD_RELEASE:
		if (len == 0 || len > PV_HOLD_NAME_MAX || memchr(payload, '\0', len) != NULL) {
			r = pv_fail(err, PV_EUSAGE, "a hold name is 1-%d bytes", PV_HOLD_NAME_MAX);
			break;
		}
		char name[PV_HOLD_NAME_MAX + 1];
		memcpy(name, payload, len);
		name[len] = '\0';
		r = prepare_hold(ar, name, res, row, err);
		break;
	case APPROVAL_DISPOSE:
		r = prepare_dispose(ar, actor, res, &plan, row, err);
		if (r == PV_OK) {
			payload = plan.data;
			len = plan.len;
		}
		break;
	case APPROVAL_USER_ACCESS:
		r = pv_fail(err, PV_EUSAGE, "an account's access is asked for by adding or "
					    "changing the user, not proposed on its own");
		break;
	}
	if (r < 0 || res->applied || (kind == APPROVAL_DISPOSE && res->frozen == 0))
		goto out;
	snprintf(res->summary, sizeof(res->summary), "%s", row->summary);
	/* Audited in the transaction that stores it: no proposal without its entry. */
	if ((r = db_begin(ar->cat->conn, err)) < 0)
		goto out;
	if ((r = store_proposal(ar, rule, actor, role, payload, len, reason, row, &res->id, err)) <
		    0 ||
	    (r = db_commit(ar->cat->conn, err)) < 0) {
		db_rollback(ar->cat->conn);
		res->id = 0;
	}
out:
	free(row);
	pv_buf_free(&plan);
	return r;
}

int approval_propose_user_access_in_tx(struct archive *ar, const char *actor, const char *role,
				       const char *name, const char *summary, int64_t *id_r,
				       struct pv_error *err)
{
	const struct approval_rule *rule = approval_rule_of(APPROVAL_USER_ACCESS);
	struct approval_row *row = calloc(1, sizeof(*row));
	if (row == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	snprintf(row->summary, sizeof(row->summary), "%s", summary);
	int r = store_proposal(ar, rule, actor, role, name, strlen(name), "", row, id_r, err);
	free(row);
	return r;
}

/* ---- deciding --------------------------------------------------------- */

struct decision {
	struct archive *ar;
	const char *actor, *role, *reason;
	bool approve, break_glass;
	const struct approval_rule *rule;
	const struct approval_row *row;
	const char *result;
};

/* The audit entries of a decision and its row, inside the open transaction. */
static int record_decision(struct decision *d, struct pv_error *err)
{
	const struct approval_row *row = d->row;
	char *personal = NULL;
	int r;
	if (asprintf(&personal, "reason: %s", d->reason ? d->reason : "") < 0)
		return pv_fail(err, PV_ERR, "out of memory");
	r = d->break_glass
		    ? archive_auditf(d->ar, d->actor, AUDIT_BREAK_GLASS, "ok", personal, err,
				     "approval=%lld kind=%s proposer=%s role=%s", (long long)row->id,
				     row->kind, row->proposer, d->role)
		    : PV_OK;
	if (r == PV_OK)
		r = archive_auditf(d->ar, d->actor,
				   d->approve ? AUDIT_APPROVAL_APPROVE : AUDIT_APPROVAL_REJECT, "ok",
				   personal, err, "approval=%lld kind=%s sha256=%s proposer=%s role=%s",
				   (long long)row->id, row->kind, row->payload_sha256, row->proposer,
				   d->role);
	free(personal);
	if (r == PV_OK)
		r = approval_store_decide(d->ar->cat->conn, row->id, d->approve ? "approved" : "rejected",
					  d->actor, d->role, d->reason ? d->reason : "",
					  pv_clock_now(), d->break_glass, d->result, err);
	return r;
}

static int dispose_in_tx(void *ctx, const struct dispose_plan *plan, struct pv_error *err)
{
	struct decision *d = ctx;
	char result[APPROVAL_RESULT_MAX + 1];
	snprintf(result, sizeof(result), "disposal of %zu message%s", plan->due,
		 plan->due == 1 ? "" : "s");
	d->result = result;
	int r = record_decision(d, err);
	d->result = NULL;
	return r;
}

/* PV_EPERM unless the web user deciding is a second person to `other`
 * (vouch.h), said as "OTHER, WHAT approval N AFTER, and ACTOR ...". */
static int second_person(const struct decision *d, const char *other, const char *what,
			 const char *after, struct pv_error *err)
{
	bool independent = true;
	char via[AUDIT_ACTOR_MAX + 1];
	int r = archive_user_independent(d->ar, d->actor + 4, other, &independent, via, err);
	if (r == PV_OK && !independent)
		r = pv_fail(err, PV_EPERM, "%s, %s approval %lld%s, and %s are not two people: %s "
					   "set up both, or one the other (their passwords); have root "
					   "set %s's password at the shell (popvault user passwd)",
			    other, what, (long long)d->row->id, after, d->actor, via, d->actor + 4);
	return r;
}

/* Who may decide (approvals.h); PV_EPERM says who may. */
static int may_decide(const struct decision *d, struct pv_error *err)
{
	const struct approval_row *row = d->row;
	char who[64];
	if (d->break_glass) {
		if (strncmp(d->actor, "cli:", 4) != 0)
			return pv_fail(err, PV_EPERM, "break-glass is only for the appliance's command "
						      "line (popvault approvals approve ID --break-glass)");
		return PV_OK;
	}
	bool same_user = strcmp(d->actor, row->proposer) == 0;
	if (same_user && !d->approve)
		return PV_OK; /* withdrawing one's own proposal */
	approval_roles_text(d->rule->approvers, who, sizeof(who));
	if (same_user)
		return pv_fail(err, PV_EPERM, "you proposed approval %lld: a second person (%s, not %s) "
					      "must approve it", (long long)row->id, who,
			       row->proposer_role);
	if ((approval_role_bit(d->role) & d->rule->approvers) == 0)
		return pv_fail(err, PV_EPERM, "%s is approved by %s; the role %s may not", d->rule->what,
			       who, d->role && d->role[0] ? d->role : "(none)");
	if (strcmp(d->role, row->proposer_role) == 0)
		return pv_fail(err, PV_EPERM, "approval %lld was proposed with the role %s: it needs "
					      "a second person with another role", (long long)row->id,
			       row->proposer_role);
	/* A second person approves, not an account the proposer set up:
	 * whoever set its role, password or second factor can sign in as it.
	 * (Rejecting stops nothing from being kept.) For access, nor one who
	 * set up the account it opens (whoever did can sign in as it; the
	 * proposer may be another, in good faith). */
	if (!d->approve || strncmp(d->actor, "web:", 4) != 0)
		return PV_OK;
	char account[AUDIT_ACTOR_MAX + 1];
	int r = second_person(d, row->proposer, "who proposed", "", err);
	if (r == PV_OK && d->rule->kind == APPROVAL_USER_ACCESS) {
		snprintf(account, sizeof(account), "web:%.*s", (int)row->payload_len,
			 (const char *)row->payload);
		r = second_person(d, account, "whom", " would let in", err);
	}
	return r;
}

/* Approving a policy: its base must still be the version in force. */
static int approve_policy(struct decision *d, struct approval_outcome *out, struct pv_error *err)
{
	struct archive *ar = d->ar;
	struct policy_version_info cur;
	char result[APPROVAL_RESULT_MAX + 1];
	int r = policy_store_current(ar->cat->conn, &cur, err);
	if (r < 0 && r != PV_ENOTFOUND)
		return r;
	int64_t in_force = r == PV_OK ? cur.version : 0;
	if (in_force != d->row->base && (out->conflict = true))
		return pv_fail(err, PV_ERR, "approval %lld was proposed against policy version %lld, "
					    "but version %lld is in force now: reject it and propose "
					    "again", (long long)d->row->id, (long long)d->row->base,
			       (long long)in_force);
	if ((r = policy_parse(d->row->payload, d->row->payload_len, &out->set.policy, NULL, err)) < 0)
		return pv_fail(err, PV_EINTEGRITY, "approval %lld: the proposed policy no longer "
						   "parses", (long long)d->row->id);
	if ((r = db_begin(ar->cat->conn, err)) < 0)
		return r;
	if ((r = record_decision(d, err)) < 0 ||
	    (r = policy_set_in_tx(ar, d->row->proposer, &out->set, err)) < 0)
		goto fail;
	snprintf(result, sizeof(result), "policy version %lld set", (long long)out->set.version);
	if ((r = approval_store_set_result(ar->cat->conn, d->row->id, result, err)) < 0 ||
	    (r = db_commit(ar->cat->conn, err)) < 0)
		goto fail;
	policies_sync_store(ar);
	return PV_OK;
fail:
	db_rollback(ar->cat->conn);
	return r;
}

static int approve_hold(struct decision *d, struct pv_error *err)
{
	struct archive *ar = d->ar;
	char name[PV_HOLD_NAME_MAX + 1];
	snprintf(name, sizeof(name), "%.*s", (int)d->row->payload_len, (const char *)d->row->payload);
	d->result = "hold released";
	int r = db_begin(ar->cat->conn, err);
	if (r < 0)
		return r;
	if ((r = record_decision(d, err)) < 0 ||
	    (r = hold_release_in_tx(ar, name, d->row->proposer, pv_clock_now(), err)) < 0 ||
	    (r = db_commit(ar->cat->conn, err)) < 0)
		db_rollback(ar->cat->conn);
	else
		holds_sync_store(ar);
	return r;
}

/* Approving a user's access: they may sign in, if the account still waits
 * for this approval (not removed, nor its access asked for anew since).
 * The grant is the approver's (audited in their name, unlike the effects
 * above, which the proposer asked for: an admin asked, compliance grants). */
static int approve_user_access(struct decision *d, struct approval_outcome *out,
			       struct pv_error *err)
{
	struct archive *ar = d->ar;
	char name[USER_NAME_MAX + 1];
	struct user u;
	snprintf(name, sizeof(name), "%.*s", (int)d->row->payload_len, (const char *)d->row->payload);
	d->result = "access granted";
	int r = db_begin(ar->cat->conn, err);
	if (r < 0)
		return r;
	if ((r = user_get(ar->cat->conn, name, &u, err)) == PV_ENOTFOUND ||
	    (r == PV_OK && u.access_approval != d->row->id)) {
		out->conflict = true;
		r = pv_fail(err, PV_ERR, "approval %lld no longer stands: %s", (long long)d->row->id,
			    r == PV_OK ? "the account's access was asked for anew since"
				       : "the user was removed");
	}
	if (r < 0 || (r = record_decision(d, err)) < 0 ||
	    (r = user_set_access_approval(ar->cat->conn, name, 0, err)) < 0 ||
	    (r = archive_auditf(ar, d->actor, AUDIT_USER_CHANGE, "ok", NULL, err,
				"user=%s access=granted approval=%lld", name, (long long)d->row->id)) <
		    0 ||
	    (r = db_commit(ar->cat->conn, err)) < 0)
		db_rollback(ar->cat->conn);
	return r;
}

static int approve_dispose(struct decision *d, struct approval_outcome *out, struct pv_error *err)
{
	char result[APPROVAL_RESULT_MAX + 1];
	int r = dispose_run_frozen(d->ar, d->row->proposer, d->row->payload, d->row->payload_len,
				   dispose_in_tx, d, &out->run, err);
	if (!out->run.completed)
		return r;
	/* The decision committed with the intent; now what the run did. */
	snprintf(result, sizeof(result), "disposal %lld: %lld message%s disposed of",
		 (long long)out->run.res.disposal_id, (long long)out->run.res.disposed,
		 out->run.res.disposed == 1 ? "" : "s");
	struct pv_error e;
	if (approval_store_set_result(d->ar->cat->conn, d->row->id, result, &e) < 0 && r == PV_OK)
		r = pv_fail(err, e.code, "%s", e.msg);
	return r;
}

int approval_decide(struct archive *ar, const char *actor, const char *role, int64_t id,
		    bool approve, const char *reason, bool break_glass,
		    struct approval_outcome *out, struct pv_error *err)
{
	struct approval_row row;
	struct decision d = {ar, actor, role && role[0] ? role : "-", reason, approve, break_glass,
			     NULL, &row, NULL};
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = approval_reason_check(reason, !approve || break_glass, err)) < 0)
		return r;
	if ((r = approval_store_get(ar->cat->conn, id, true, &row, err)) < 0)
		return r;
	if ((d.rule = approval_rule_named(row.kind)) == NULL) {
		r = pv_fail(err, PV_EINTEGRITY, "approval %lld has an unknown kind", (long long)id);
		goto out;
	}
	if (strcmp(row.state, "pending") != 0) {
		out->conflict = true;
		r = pv_fail(err, PV_ERR, "approval %lld was already %s by %s", (long long)id, row.state,
			    row.decided_by);
		goto out;
	}
	if ((r = may_decide(&d, err)) < 0)
		goto out;
	if (!approve) {
		if ((r = db_begin(ar->cat->conn, err)) < 0)
			goto out;
		if ((r = record_decision(&d, err)) < 0 || (r = db_commit(ar->cat->conn, err)) < 0)
			db_rollback(ar->cat->conn);
	} else if (d.rule->kind == APPROVAL_POLICY) {
		r = approve_policy(&d, out, err);
	} else if (d.rule->kind == APPROVAL_HOLD_RELEASE) {
		r = approve_hold(&d, err);
	} else if (d.rule->kind == APPROVAL_USER_ACCESS) {
		r = approve_user_access(&d, out, err);
	} else {
		r = approve_dispose(&d, out, err);
	}
	struct pv_error e;
	if ((r == PV_OK || out->run.completed) &&
	    approval_store_get(ar->cat->conn, id, true, &out->row, &e) < 0 && r == PV_OK)
		r = pv_fail(err, e.code, "%s", e.msg);
out:
	approval_row_free(&row);
	return r;
}

int approval_withdraw_in_tx(struct archive *ar, const char *actor, const char *role, int64_t id,
			    const char *reason, struct pv_error *err)
{
	struct approval_row row;
	struct decision d = {ar, actor, role, reason, false, false, NULL, &row, NULL};
	int r = approval_store_get(ar->cat->conn, id, false, &row, err);
	if (r < 0)
		return r;
	if (strcmp(row.state, "pending") != 0)
		r = pv_fail(err, PV_ERR, "approval %lld was already %s", (long long)id, row.state);
	else
		r = record_decision(&d, err);
	approval_row_free(&row);
	return r;
}

int approval_get(struct archive *ar, int64_t id, bool with_payload, struct approval_row *row,
		 struct pv_error *err)
{
	return approval_store_get(ar->cat->conn, id, with_payload, row, err);
}

int approval_pending_release(struct archive *ar, const char *name, int64_t *id_r,
			     struct pv_error *err)
{
	return approval_store_pending(ar->cat->conn, "hold-release", name, strlen(name), id_r, err);
}

int approval_list(struct archive *ar, const char *state, uint64_t offset, uint64_t limit,
		  int (*fn)(void *ctx, const struct approval_row *row), void *ctx,
		  uint64_t *total_r, struct pv_error *err)
{
	return approval_store_each(ar->cat->conn, state, offset, limit, fn, ctx, total_r, err);
}
