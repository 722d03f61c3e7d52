/* Canonical text of a parsed policy: what `policy show` can print and what
 * the round-trip fuzz target checks (format(parse(format(parse(x)))) ==
 * format(parse(x))). */
#include "policy/policy_int.h"

#include <inttypes.h>

static int fmt_string(struct pv_buf *out, const char *s, struct pv_error *err)
{
	int r = pv_buf_append(out, "\"", 1, err);
	for (; r == 0 && *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			r = pv_buf_append(out, "\\", 1, err);
		if (r == 0)
			r = pv_buf_append(out, s, 1, err);
	}
	return r == 0 ? pv_buf_append(out, "\"", 1, err) : r;
}

static int fmt_size(struct pv_buf *out, uint64_t v, struct pv_error *err)
{
	static const struct {
		const char *name;
		uint64_t mult;
	} units[] = {
		{"TB", 1024ull * 1024 * 1024 * 1024},
		{"GB", 1024ull * 1024 * 1024},
		{"MB", 1024ull * 1024},
		{"KB", 1024ull},
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (v != 0 && v % units[i].mult == 0)
			return pv_buf_printf(out, err, "%" PRIu64 "%s", v / units[i].mult, units[i].name);
	return pv_buf_printf(out, err, "%" PRIu64, v);
}

static int fmt_node(struct pv_buf *out, const struct pnode *n, struct pv_error *err);

/* A child of 'and' or 'not' that is an 'or' (or an 'and' under 'not')
 * needs parentheses; nothing else does, given not > and > or. */
static int fmt_child(struct pv_buf *out, const struct pnode *kid, bool paren,
		     struct pv_error *err)
{
	int r = paren ? pv_buf_append(out, "(", 1, err) : 0;
	if (r == 0)
		r = fmt_node(out, kid, err);
	if (r == 0 && paren)
		r = pv_buf_append(out, ")", 1, err);
	return r;
}

static int fmt_node(struct pv_buf *out, const struct pnode *n, struct pv_error *err)
{
	int r = 0;

	switch (n->kind) {
	case PN_HAS_ATTACHMENT:
		return pv_buf_append_str(out, "has:attachment", err);
	case PN_NOT:
		r = pv_buf_append_str(out, "not ", err);
		return r ? r : fmt_child(out, n->kids, n->kids->kind == PN_AND || n->kids->kind == PN_OR, err);
	case PN_AND:
	case PN_OR:
		for (const struct pnode *k = n->kids; r == 0 && k != NULL; k = k->next) {
			if (k != n->kids)
				r = pv_buf_append_str(out, n->kind == PN_AND ? " and " : " or ", err);
			if (r == 0)
				r = fmt_child(out, k, n->kind == PN_AND && k->kind == PN_OR, err);
		}
		return r;
	case PN_CMP:
		r = pv_buf_append_str(out, pfield_name(n->field, n->domain), err);
		if (r == 0 && n->header != NULL) {
			r = pv_buf_append(out, " ", 1, err);
			if (r == 0)
				r = fmt_string(out, n->header, err);
		}
		if (r == 0)
			r = pv_buf_printf(out, err, " %s ", pop_name(n->op));
		if (r == 0)
			r = n->field == PF_SIZE ? fmt_size(out, n->size, err) : fmt_string(out, n->value, err);
		return r;
	}
	return r;
}

static int fmt_retention(struct pv_buf *out, const struct policy_retention *ret,
			 struct pv_error *err)
{
	int r;
	if (ret->forever)
		return pv_buf_append_str(out, "retain forever", err);
	r = pv_buf_printf(out, err, "retain %" PRIu32 "%c", ret->amount, ret->unit);
	if (r == 0 && ret->action == POLICY_ACTION_REVIEW)
		r = pv_buf_append_str(out, " then review", err);
	return r;
}

int policy_format(const struct policy *p, struct pv_buf *out, struct pv_error *err)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < p->n_rules; i++) {
		const struct prule *rule = &p->rules[i];
		if (rule->cond == NULL) {
			r = pv_buf_append_str(out, "default: ", err);
		} else {
			r = pv_buf_append_str(out, "rule ", err);
			if (r == 0)
				r = fmt_string(out, rule->name, err);
			if (r == 0)
				r = pv_buf_append_str(out, ": ", err);
		}
		if (r == 0)
			r = fmt_retention(out, &rule->ret, err);
		if (r == 0 && rule->cond != NULL) {
			r = pv_buf_append_str(out, " when ", err);
			if (r == 0)
				r = fmt_node(out, rule->cond, err);
		}
		if (r == 0)
			r = pv_buf_append(out, "\n", 1, err);
	}
	return r;
}

int pformat_cond(const struct pnode *n, struct pv_buf *out, struct pv_error *err)
{
	return fmt_node(out, n, err);
}
