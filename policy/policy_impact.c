/* Impact of a new policy version: for the messages each new rule governs,
 * how their expiry moved. Streaming: one policy_impact_add() per message,
 * so the catalog can be walked without holding it in memory. */
#include "policy/policy_int.h"

#include <stdlib.h>
#include <string.h>

struct policy_impact {
	const struct policy *policy;
	int64_t now;
	size_t n_rows;
	struct policy_impact_row *rows;
};

int policy_impact_new(const struct policy *new_policy, int64_t now,
		      struct policy_impact **imp_r, struct pv_error *err)
{
	struct policy_impact *imp = calloc(1, sizeof(*imp));
	*imp_r = NULL;
	if (imp == NULL || (imp->rows = calloc(new_policy->n_rules, sizeof(*imp->rows))) == NULL) {
		free(imp);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	imp->policy = new_policy;
	imp->now = now;
	imp->n_rows = new_policy->n_rules;
	for (size_t i = 0; i < imp->n_rows; i++)
		imp->rows[i].rule = new_policy->rules[i].name;
	*imp_r = imp;
	return PV_OK;
}

static int64_t expiry_of(const struct policy_result *r)
{
	return r->forever ? POLICY_NEVER : r->expires_at;
}

int policy_impact_add(struct policy_impact *imp, const struct policy_result *old,
		      const struct policy_result *new_r, struct pv_error *err)
{
	if (new_r->rule_index >= imp->n_rows ||
	    new_r->rule != imp->policy->rules[new_r->rule_index].name)
		return pv_fail(err, PV_ERR, "impact: result is not from the new policy");
	struct policy_impact_row *row = &imp->rows[new_r->rule_index];
	int64_t ne = expiry_of(new_r);

	row->messages++;
	if (old == NULL) {
		row->unevaluated++;
		if (ne <= imp->now)
			row->newly_due++;
		return PV_OK;
	}
	int64_t oe = expiry_of(old);
	if (ne < oe)
		row->shorter++;
	else if (ne > oe)
		row->longer++;
	else
		row->unchanged++;
	if (old->rule == NULL || strcmp(old->rule, new_r->rule) != 0)
		row->reclassified++;
	if (ne <= imp->now && oe > imp->now)
		row->newly_due++;
	return PV_OK;
}

size_t policy_impact_rows(const struct policy_impact *imp)
{
	return imp->n_rows;
}

const struct policy_impact_row *policy_impact_row(const struct policy_impact *imp, size_t i)
{
	return i < imp->n_rows ? &imp->rows[i] : NULL;
}

void policy_impact_total(const struct policy_impact *imp, struct policy_impact_row *t)
{
	memset(t, 0, sizeof(*t));
	t->rule = "total";
	for (size_t i = 0; i < imp->n_rows; i++) {
		const struct policy_impact_row *r = &imp->rows[i];
		t->messages += r->messages;
		t->shorter += r->shorter;
		t->longer += r->longer;
		t->unchanged += r->unchanged;
		t->unevaluated += r->unevaluated;
		t->reclassified += r->reclassified;
		t->newly_due += r->newly_due;
	}
}

static int format_row(struct pv_buf *out, int width, const struct policy_impact_row *r,
		      struct pv_error *err)
{
	return pv_buf_printf(out, err, "%-*s %10llu %10llu %10llu %10llu %12llu %10llu\n", width,
			     r->rule, (unsigned long long)r->messages,
			     (unsigned long long)r->shorter, (unsigned long long)r->longer,
			     (unsigned long long)r->unchanged, (unsigned long long)r->reclassified,
			     (unsigned long long)r->newly_due);
}

int policy_impact_format(const struct policy_impact *imp, struct pv_buf *out,
			 struct pv_error *err)
{
	struct policy_impact_row total;
	int width = 5;
	for (size_t i = 0; i < imp->n_rows; i++) {
		int w = (int)strlen(imp->rows[i].rule);
		width = w > width ? w : width;
	}
	int r = pv_buf_printf(out, err, "%-*s %10s %10s %10s %10s %12s %10s\n", width, "rule",
			      "messages", "shorter", "longer", "unchanged", "reclassified",
			      "due-now");
	for (size_t i = 0; r == 0 && i < imp->n_rows; i++)
		r = format_row(out, width, &imp->rows[i], err);
	policy_impact_total(imp, &total);
	if (r == 0)
		r = format_row(out, width, &total, err);
	return r;
}

void policy_impact_free(struct policy_impact **imp)
{
	if (imp == NULL || *imp == NULL)
		return;
	free((*imp)->rows);
	free(*imp);
	*imp = NULL;
}
