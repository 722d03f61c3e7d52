/* Evaluation: the first rule whose condition holds decides. */
#include "policy/policy_int.h"

#include <string.h>
#include <strings.h>

static bool match_text(enum pop op, const char *pattern, const char *s, bool fold)
{
	if (op == PO_GLOB)
		return policy_glob_match(pattern, s);
	return fold ? strcasecmp(pattern, s) == 0 : strcmp(pattern, s) == 0;
}

static bool match_address(const struct pnode *n, const char *addr)
{
	if (addr == NULL)
		return false;
	if (n->domain) {
		const char *at = strrchr(addr, '@');
		if (at == NULL)
			return false;
		addr = at + 1;
	}
	/* Addresses and domains compare without case (RFC 5321 §2.4 allows a
	 * case-sensitive local part, but no mail system relies on it). */
	return match_text(n->op, n->value, addr, true);
}

static bool match_list(const struct pnode *n, const char *const *list, size_t count)
{
	for (size_t i = 0; list != NULL && i < count; i++)
		if (match_address(n, list[i]))
			return true;
	return false;
}

static bool match_cmp(const struct pnode *n, const struct policy_message *m)
{
	switch (n->field) {
	case PF_ACCOUNT:
		return match_text(n->op, n->value, m->account ? m->account : "", false);
	case PF_SUBJECT:
		return match_text(n->op, n->value, m->subject ? m->subject : "", false);
	case PF_FROM:
		return match_address(n, m->from);
	case PF_TO:
		return match_list(n, m->to, m->n_to);
	case PF_CC:
		return match_list(n, m->cc, m->n_cc);
	case PF_BCC:
		return match_list(n, m->bcc, m->n_bcc);
	case PF_PARTICIPANT:
		if (match_address(n, m->from))
			return true;
		/* fall through */
	case PF_RECIPIENT:
		return match_list(n, m->to, m->n_to) || match_list(n, m->cc, m->n_cc) ||
		       match_list(n, m->bcc, m->n_bcc);
	case PF_HEADER:
		for (size_t i = 0; m->headers != NULL && i < m->n_headers; i++) {
			const struct policy_header *h = &m->headers[i];
			if (h->name != NULL && strcasecmp(h->name, n->header) == 0 &&
			    match_text(n->op, n->value, h->value ? h->value : "", false))
				return true;
		}
		return false;
	case PF_SIZE:
		switch (n->op) {
		case PO_EQ:
			return m->size == n->size;
		case PO_LT:
			return m->size < n->size;
		case PO_LE:
			return m->size <= n->size;
		case PO_GT:
			return m->size > n->size;
		case PO_GE:
			return m->size >= n->size;
		case PO_GLOB:
			return false;
		}
		return false;
	}
	return false;
}

/* Recursion depth is bounded by PV_POLICY_DEPTH_MAX (checked at parse). */
static bool eval(const struct pnode *n, const struct policy_message *m)
{
	switch (n->kind) {
	case PN_AND:
		for (const struct pnode *k = n->kids; k != NULL; k = k->next)
			if (!eval(k, m))
				return false;
		return true;
	case PN_OR:
		for (const struct pnode *k = n->kids; k != NULL; k = k->next)
			if (eval(k, m))
				return true;
		return false;
	case PN_NOT:
		return !eval(n->kids, m);
	case PN_HAS_ATTACHMENT:
		return m->has_attachment;
	case PN_CMP:
		return match_cmp(n, m);
	}
	return false;
}

int policy_evaluate(const struct policy *p, const struct policy_message *m,
		    struct policy_result *r, struct pv_error *err)
{
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct prule *rule = &p->rules[i];
		/* The default rule (no condition) is last and always matches. */
		if (rule->cond != NULL && !eval(rule->cond, m))
			continue;
		int rc = policy_expiry(m->received_at, &rule->ret, &r->expires_at, err);
		if (rc < 0)
			return rc;
		r->rule = rule->name;
		r->rule_index = i;
		r->forever = rule->ret.forever;
		r->action = rule->ret.action;
		return PV_OK;
	}
	return pv_fail(err, PV_ERR, "policy has no default rule");
}
