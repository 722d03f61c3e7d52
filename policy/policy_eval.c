/* Evaluation: the first rule whose condition holds decides. */
#include "policy/policy_int.h"

#include <stdio.h>
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

/* Content tests are answered by the message's bytes alone; account and
 * size are facts the archive leaf signs (see policy.h). */
static bool is_content_test(const struct pnode *n)
{
	return n->kind == PN_HAS_ATTACHMENT ||
	       (n->kind == PN_CMP && n->field != PF_ACCOUNT && n->field != PF_SIZE);
}

enum tri { TRI_FALSE, TRI_TRUE, TRI_UNKNOWN };

enum eval_mode {
	EVAL_FULL,    /* everything from the message */
	EVAL_RECORD,  /* the same, content tests written to a trace */
	EVAL_REPLAY,  /* content tests read back from a trace */
	EVAL_PARTIAL, /* content tests unknown (three-valued) */
};

struct ectx {
	const struct policy_message *m;
	enum eval_mode mode;
	struct policy_trace *rec;
	const struct policy_trace *play;
	uint32_t pos;
	bool bad; /* record: trace full; replay: trace ran out */
};

static bool trace_bit(const struct policy_trace *t, uint32_t i)
{
	return (t->bits[i / 8] >> (7 - i % 8)) & 1;
}

static enum tri test(const struct pnode *n, struct ectx *c)
{
	if (!is_content_test(n))
		return match_cmp(n, c->m) ? TRI_TRUE : TRI_FALSE;
	if (c->mode == EVAL_PARTIAL)
		return TRI_UNKNOWN;
	if (c->mode == EVAL_REPLAY) {
		if (c->pos >= c->play->n) {
			c->bad = true;
			return TRI_FALSE;
		}
		return trace_bit(c->play, c->pos++) ? TRI_TRUE : TRI_FALSE;
	}
	bool v = n->kind == PN_HAS_ATTACHMENT ? c->m->has_attachment : match_cmp(n, c->m);
	if (c->mode == EVAL_RECORD) {
		uint32_t i = c->rec->n;
		if (i >= POLICY_TRACE_MAX) {
			c->bad = true;
		} else {
			if (v)
				c->rec->bits[i / 8] |= (uint8_t)(0x80 >> (i % 8));
			c->rec->n++;
		}
	}
	return v ? TRI_TRUE : TRI_FALSE;
}

/* Left to right with short-circuit, so a replay takes the recorded path.
 * Recursion depth is bounded by PV_POLICY_DEPTH_MAX (checked at parse). */
static enum tri eval(const struct pnode *n, struct ectx *c)
{
	enum tri acc, t;
	switch (n->kind) {
	case PN_AND:
		acc = TRI_TRUE;
		for (const struct pnode *k = n->kids; k != NULL; k = k->next) {
			if ((t = eval(k, c)) == TRI_FALSE)
				return TRI_FALSE;
			if (t == TRI_UNKNOWN)
				acc = TRI_UNKNOWN;
		}
		return acc;
	case PN_OR:
		acc = TRI_FALSE;
		for (const struct pnode *k = n->kids; k != NULL; k = k->next) {
			if ((t = eval(k, c)) == TRI_TRUE)
				return TRI_TRUE;
			if (t == TRI_UNKNOWN)
				acc = TRI_UNKNOWN;
		}
		return acc;
	case PN_NOT:
		t = eval(n->kids, c);
		return t == TRI_UNKNOWN ? TRI_UNKNOWN : t == TRI_TRUE ? TRI_FALSE : TRI_TRUE;
	case PN_HAS_ATTACHMENT:
	case PN_CMP:
		return test(n, c);
	}
	return TRI_FALSE;
}

static int evaluate(const struct policy *p, struct ectx *c, struct policy_result *r,
		    struct pv_error *err)
{
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct prule *rule = &p->rules[i];
		/* The default rule (no condition) is last and always matches. */
		enum tri t = rule->cond != NULL ? eval(rule->cond, c) : TRI_TRUE;
		if (t == TRI_UNKNOWN)
			return PV_ENOTFOUND; /* EVAL_PARTIAL: the content decides */
		if (t == TRI_FALSE)
			continue;
		int rc = policy_expiry(c->m->received_at, &rule->ret, &r->expires_at, err);
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

int policy_evaluate(const struct policy *p, const struct policy_message *m,
		    struct policy_result *r, struct pv_error *err)
{
	struct ectx c = {.m = m, .mode = EVAL_FULL};
	return evaluate(p, &c, r, err);
}

int policy_evaluate_traced(const struct policy *p, const struct policy_message *m,
			   struct policy_result *r, struct policy_trace *trace, struct pv_error *err)
{
	struct ectx c = {.m = m, .mode = EVAL_RECORD, .rec = trace};
	memset(trace, 0, sizeof(*trace));
	int rc = evaluate(p, &c, r, err);
	if (rc == PV_OK && c.bad)
		rc = pv_fail(err, PV_ELIMIT, "more than %d content tests evaluated", POLICY_TRACE_MAX);
	return rc;
}

int policy_evaluate_replay(const struct policy *p, const struct policy_message *facts,
			   const struct policy_trace *trace, struct policy_result *r,
			   struct pv_error *err)
{
	struct ectx c = {.m = facts, .mode = EVAL_REPLAY, .play = trace};
	int rc = evaluate(p, &c, r, err);
	if (rc < 0)
		return rc;
	if (c.bad)
		return pv_fail(err, PV_EINTEGRITY, "the policy asks %u or more content tests, the record "
						   "holds %u", trace->n + 1, trace->n);
	if (c.pos != trace->n)
		return pv_fail(err, PV_EINTEGRITY, "the policy asks %u content tests, the record holds %u",
			       c.pos, trace->n);
	return PV_OK;
}

int policy_evaluate_facts(const struct policy *p, const struct policy_message *facts,
			  struct policy_result *r, struct pv_error *err)
{
	struct ectx c = {.m = facts, .mode = EVAL_PARTIAL};
	return evaluate(p, &c, r, err);
}

static bool node_reads_content(const struct pnode *n)
{
	if (is_content_test(n))
		return true;
	for (const struct pnode *k = n->kids; k != NULL; k = k->next)
		if (node_reads_content(k))
			return true;
	return false;
}

bool policy_reads_content(const struct policy *p)
{
	for (size_t i = 0; i < p->n_rules; i++)
		if (p->rules[i].cond != NULL && node_reads_content(p->rules[i].cond))
			return true;
	return false;
}

bool policy_rule_possible(const struct policy *p, const struct policy_message *facts, size_t i)
{
	struct ectx c = {.m = facts, .mode = EVAL_PARTIAL};
	if (i >= p->n_rules)
		return false;
	for (size_t j = 0; j < i; j++)
		if (p->rules[j].cond == NULL || eval(p->rules[j].cond, &c) == TRI_TRUE)
			return false;
	return p->rules[i].cond == NULL || eval(p->rules[i].cond, &c) != TRI_FALSE;
}

/* "0", or "N:HEX": N tests, their outcomes as bits, first test in the top
 * bit of the first hex digit, unused low bits zero. */
int policy_trace_format(const struct policy_trace *t, char *out, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	int k = snprintf(out, n, "%u", t->n);
	if (k < 0 || (size_t)k >= n)
		return PV_ELIMIT;
	if (t->n == 0)
		return PV_OK;
	size_t digits = (t->n + 3) / 4, o = (size_t)k;
	if (o + 1 + digits >= n)
		return PV_ELIMIT;
	out[o++] = ':';
	for (size_t d = 0; d < digits; d++) {
		uint8_t b = t->bits[d / 2];
		out[o++] = hexd[d % 2 ? b & 15 : b >> 4];
	}
	out[o] = '\0';
	return PV_OK;
}

int policy_trace_parse(const char *s, size_t len, struct policy_trace *t)
{
	size_t i = 0;
	uint64_t n = 0;
	memset(t, 0, sizeof(*t));
	if (len == 0 || (s[0] == '0' && len > 1))
		return PV_EINTEGRITY;
	while (i < len && s[i] >= '0' && s[i] <= '9' && n <= POLICY_TRACE_MAX)
		n = n * 10 + (uint64_t)(s[i++] - '0');
	if (i == 0 || n > POLICY_TRACE_MAX)
		return PV_EINTEGRITY;
	t->n = (uint32_t)n;
	if (n == 0)
		return i == len ? PV_OK : PV_EINTEGRITY;
	size_t digits = (size_t)(n + 3) / 4;
	if (len - i != digits + 1 || s[i] != ':')
		return PV_EINTEGRITY;
	for (size_t d = 0; d < digits; d++) {
		char h = s[i + 1 + d];
		int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : -1;
		if (v < 0)
			return PV_EINTEGRITY;
		t->bits[d / 2] |= (uint8_t)(d % 2 ? v : v << 4);
	}
	/* Canonical: no bit set past the last test. */
	for (uint32_t b = t->n; b < digits * 4; b++)
		if (trace_bit(t, b))
			return PV_EINTEGRITY;
	return PV_OK;
}
