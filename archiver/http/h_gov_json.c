/* JSON forms shared by the governance handlers (h_gov.h). */
#include <stdio.h>
#include <string.h>

#include "archiver/http/h_gov.h"
#include "archiver/http/handlers.h"
#include "archiver/http/legal_json.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"

json_t *gov_json_opt(const char *s)
{
	json_t *j = s != NULL && s[0] != '\0' ? legal_json_text(s) : NULL;
	return j != NULL ? j : json_null();
}

const char *gov_role(const struct http_request *rq)
{
	return rq->session != NULL ? rq->session->role : "";
}

static json_t *roles_json(unsigned roles)
{
	static const char *const names[] = {"admin", "legal", "compliance"};
	json_t *a = json_array();
	for (unsigned i = 0; a != NULL && i < 3; i++)
		if (roles & (1u << i))
			json_array_append_new(a, json_string(names[i]));
	return a;
}

json_t *gov_json_approval(const struct approval_row *row)
{
	const struct approval_rule *rule = approval_rule_named(row->kind);
	return json_pack("{s:I, s:s, s:s, s:o, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
			 " s:b, s:o, s:o}",
			 "id", (json_int_t)row->id, "kind", row->kind, "state", row->state,
			 "summary", legal_json_text(row->summary), "sha256", row->payload_sha256, "proposer",
			 row->proposer, "proposer_role", row->proposer_role, "reason",
			 gov_json_opt(row->reason), "created", h_json_time(row->created_at),
			 "decided_by", gov_json_opt(row->decided_by), "decided_role",
			 gov_json_opt(row->decided_role), "decision_reason",
			 gov_json_opt(row->decision_reason), "decided",
			 h_json_time(row->decided_at), "result", gov_json_opt(row->result),
			 "break_glass", row->break_glass, "approvers",
			 roles_json(rule ? rule->approvers : 0), "proposers",
			 roles_json(rule ? rule->proposers : 0));
}

json_t *gov_json_entry(const struct audit_entry *e, const char *personal, size_t plen)
{
	char commit[2 * AUDIT_COMMIT_LEN + 1];
	json_t *p = personal != NULL ? json_stringn(personal, plen) : NULL;
	if (e->has_commit)
		pv_hex(e->commit, AUDIT_COMMIT_LEN, commit);
	return json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:o, s:o}", "seq", (json_int_t)e->seq,
			 "time", e->time >= 0 ? h_json_time(e->time) : json_null(), "actor",
			 e->actor, "type", e->type, "object", e->object, "outcome", e->outcome,
			 "commit", e->has_commit ? json_string(commit) : json_null(), "personal",
			 p != NULL ? p : json_null());
}

json_t *gov_json_diags(const struct policy_diags *d)
{
	json_t *errors = json_array();
	for (size_t i = 0; errors != NULL && i < d->count; i++)
		json_array_append_new(errors, json_pack("{s:i, s:i, s:s}", "line",
							(int)d->item[i].line, "column",
							(int)d->item[i].column, "message",
							d->item[i].msg));
	return json_pack("{s:b, s:o, s:b}", "ok", 0, "errors", errors ? errors : json_null(),
			 "truncated", d->truncated);
}

json_t *gov_json_preview(const struct policy_preview *pv)
{
	struct policy_impact_row total;
	json_t *by_class = json_array(), *by_month = json_array();
	policy_impact_total(pv->impact, &total);
	for (size_t i = 0; by_class != NULL && i < policy_impact_rows(pv->impact); i++) {
		const struct policy_impact_row *r = policy_impact_row(pv->impact, i);
		json_array_append_new(by_class, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
							  "class", r->rule, "messages",
							  (json_int_t)r->messages, "shorter",
							  (json_int_t)r->shorter, "longer",
							  (json_int_t)r->longer, "unchanged",
							  (json_int_t)r->unchanged, "reclassified",
							  (json_int_t)r->reclassified, "newly_due",
							  (json_int_t)r->newly_due));
	}
	for (size_t i = 0; by_month != NULL && i < pv->n_months; i++)
		json_array_append_new(by_month, json_pack("{s:s, s:I, s:I}", "month",
							  pv->months[i].month, "before",
							  (json_int_t)pv->months[i].before, "after",
							  (json_int_t)pv->months[i].after));
	return json_pack("{s:b, s:s, s:I, s:b, s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
			 "ok", 1, "sha256", pv->sha256, "base_version", (json_int_t)pv->base_version,
			 "unchanged", pv->unchanged, "shortens", pv->shortens, "why",
			 pv->rules.shortens ? json_string(pv->rules.why)
			 : pv->earlier > 0  ? json_string("messages would expire earlier")
					    : json_null(),
			 "messages", (json_int_t)pv->messages, "changed", (json_int_t)pv->changed,
			 "earlier", (json_int_t)pv->earlier, "reclassified",
			 (json_int_t)total.reclassified, "newly_due", (json_int_t)total.newly_due,
			 "due_now", (json_int_t)pv->due_now, "unreadable", (json_int_t)pv->unreadable,
			 "by_class", by_class ? by_class : json_null(), "by_month",
			 by_month ? by_month : json_null());
}

json_t *gov_json_plan(const struct dispose_plan *p)
{
	return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "planned", h_json_time(p->now),
			 "policy_version", (json_int_t)p->policy_version, "due", (json_int_t)p->due,
			 "held", (json_int_t)p->held, "review", (json_int_t)p->review, "blocked",
			 (json_int_t)p->blocked, "missing", (json_int_t)p->missing, "pending",
			 (json_int_t)p->pending);
}

int gov_query_time(struct http_request *rq, const char *name, bool until, int64_t def,
		   int64_t *t_r)
{
	char v[40];
	int r = http_query_get(rq, name, v, sizeof(v), &rq->err);
	*t_r = def;
	if (r == PV_ENOTFOUND)
		return PV_OK;
	if (r < 0 || (r = archive_audit_time(v, until, t_r, &rq->err)) < 0)
		return pv_error_prefix(&rq->err, "%s", name);
	return PV_OK;
}
