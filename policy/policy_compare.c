/* Does a new policy version shorten any retention? (policy.h) Decided from
 * the rules alone, so it covers mail still to come as well as mail
 * archived already. */
#include "policy/policy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void policy_retention_text(const struct policy_retention *ret, char out[POLICY_RETENTION_TEXT_MAX])
{
	if (ret->forever)
		snprintf(out, POLICY_RETENTION_TEXT_MAX, "retain forever");
	else
		snprintf(out, POLICY_RETENTION_TEXT_MAX, "retain %u%c%s", (unsigned)ret->amount,
			 ret->unit, ret->action == POLICY_ACTION_REVIEW ? " then review" : "");
}

/* Shortest and longest span in days of `months` calendar months, over
 * every receipt day of a whole 400-year Gregorian cycle (the calendar
 * repeats after it), as policy_expiry counts them. */
struct span {
	uint64_t months;
	int64_t min, max;
};

static int month_span(uint64_t months, struct span *s, struct pv_error *err)
{
	const int64_t day = 86400, first = ptime_days_from_civil(2000, 1, 1);
	const int64_t cycle = 146097; /* days in 400 Gregorian years */
	struct policy_retention ret = {.unit = 'm', .amount = (uint32_t)months};
	if (months > UINT32_MAX)
		return pv_fail(err, PV_ERR, "retention of %llu months", (unsigned long long)months);
	s->months = months;
	s->min = INT64_MAX;
	s->max = 0;
	for (int64_t d = first; d < first + cycle; d++) {
		int64_t exp;
		int r = policy_expiry(d * day, &ret, &exp, err);
		if (r < 0)
			return r;
		int64_t span = exp / day - d;
		s->min = span < s->min ? span : s->min;
		s->max = span > s->max ? span : s->max;
	}
	return PV_OK;
}

struct compare {
	struct span *spans; /* computed on demand, at most one per rule of both */
	size_t n, cap;
};

static uint64_t months_of(const struct policy_retention *r)
{
	return r->unit == 'y' ? (uint64_t)r->amount * 12 : r->amount;
}

/* Fewest and most days a finite retention can last. */
static int days_of(struct compare *c, const struct policy_retention *r, int64_t *min_r,
		   int64_t *max_r, struct pv_error *err)
{
	if (r->unit == 'd') {
		*min_r = *max_r = r->amount;
		return PV_OK;
	}
	uint64_t m = months_of(r);
	size_t i = 0;
	while (i < c->n && c->spans[i].months != m)
		i++;
	if (i == c->n) {
		if (c->n == c->cap)
			return pv_fail(err, PV_ERR, "policy compare: too many durations");
		int r2 = month_span(m, &c->spans[c->n], err);
		if (r2 < 0)
			return r2;
		c->n++;
	}
	*min_r = c->spans[i].min;
	*max_r = c->spans[i].max;
	return PV_OK;
}

/* Whether a (new) can end sooner than b (old) for some message. */
static int shorter(struct compare *c, const struct policy_retention *a,
		   const struct policy_retention *b, bool *res, struct pv_error *err)
{
	int64_t amin, amax, bmin, bmax;
	int r;
	*res = false;
	if (b->forever) {
		*res = !a->forever;
		return PV_OK;
	}
	if (a->forever)
		return PV_OK;
	if (b->action == POLICY_ACTION_REVIEW && a->action == POLICY_ACTION_DISPOSE) {
		*res = true;
		return PV_OK;
	}
	if ((a->unit == 'd') == (b->unit == 'd')) {
		*res = a->unit == 'd' ? a->amount < b->amount : months_of(a) < months_of(b);
		return PV_OK;
	}
	if ((r = days_of(c, a, &amin, &amax, err)) < 0 || (r = days_of(c, b, &bmin, &bmax, err)) < 0)
		return r;
	*res = amin < bmax;
	return PV_OK;
}

/* The canonical condition text of every rule ("" for the default rule,
 * which has none and comes last). */
static int cond_texts(const struct policy *p, char ***texts_r, struct pv_error *err)
{
	char **t = calloc(p->n_rules, sizeof(*t));
	int r = t == NULL ? pv_fail(err, PV_ERR, "out of memory") : PV_OK;
	for (size_t i = 0; r == PV_OK && i < p->n_rules; i++) {
		struct pv_buf b;
		pv_buf_init(&b, 4 * PV_POLICY_FILE_MAX);
		if (p->rules[i].cond != NULL)
			r = pformat_cond(p->rules[i].cond, &b, err);
		if (r == PV_OK && (t[i] = strdup(pv_buf_str(&b))) == NULL)
			r = pv_fail(err, PV_ERR, "out of memory");
		pv_buf_free(&b);
	}
	*texts_r = t;
	return r;
}

static void texts_free(char **t, size_t n)
{
	for (size_t i = 0; t != NULL && i < n; i++)
		free(t[i]);
	free(t);
}

/* For each rule of `a`, the first rule of `b` with the same condition
 * (SIZE_MAX when none). The default rules match each other. */
static int first_same(char **a, size_t na, char **b, size_t nb, size_t **out_r,
		      struct pv_error *err)
{
	size_t *out = malloc((na ? na : 1) * sizeof(*out));
	if (out == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < na; i++) {
		out[i] = SIZE_MAX;
		for (size_t k = 0; k < nb && out[i] == SIZE_MAX; k++)
			if (strcmp(a[i], b[k]) == 0)
				out[i] = k;
	}
	*out_r = out;
	return PV_OK;
}

int policy_compare(const struct policy *old_p, const struct policy *new_p,
		   struct policy_shortening *res, struct pv_error *err)
{
	char **ot = NULL, **nt = NULL;
	size_t *new_in_old = NULL, *old_in_new = NULL;
	struct compare c = {NULL, 0, old_p->n_rules + new_p->n_rules};
	int r;

	memset(res, 0, sizeof(*res));
	if ((c.spans = calloc(c.cap, sizeof(*c.spans))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if ((r = cond_texts(old_p, &ot, err)) < 0 || (r = cond_texts(new_p, &nt, err)) < 0 ||
	    (r = first_same(nt, new_p->n_rules, ot, old_p->n_rules, &new_in_old, err)) < 0 ||
	    (r = first_same(ot, old_p->n_rules, nt, new_p->n_rules, &old_in_new, err)) < 0)
		goto out;
	for (size_t i = 0; i < old_p->n_rules && r == PV_OK; i++) {
		for (size_t j = 0; j < new_p->n_rules && r == PV_OK; j++) {
			/* Mail whose first new match is j matches old rule
			 * new_in_old[j]; if that comes before i, i never took it. */
			if ((new_in_old[j] != SIZE_MAX && new_in_old[j] < i) ||
			    (old_in_new[i] != SIZE_MAX && old_in_new[i] < j))
				continue;
			const struct prule *o = &old_p->rules[i], *n = &new_p->rules[j];
			bool s;
			if ((r = shorter(&c, &n->ret, &o->ret, &s, err)) < 0 || !s)
				continue;
			if (res->pairs++ == 0) {
				char ow[POLICY_RETENTION_TEXT_MAX], nw[POLICY_RETENTION_TEXT_MAX];
				policy_retention_text(&o->ret, ow);
				policy_retention_text(&n->ret, nw);
				if (strcmp(o->name, n->name) == 0)
					snprintf(res->why, sizeof(res->why), "rule '%s' goes from %s to %s",
						 o->name, ow, nw);
				else
					snprintf(res->why, sizeof(res->why),
						 "mail that rule '%s' (%s) kept may now fall to rule '%s' (%s)",
						 o->name, ow, n->name, nw);
			}
		}
	}
	res->shortens = res->pairs > 0;
out:
	texts_free(ot, old_p->n_rules);
	texts_free(nt, new_p->n_rules);
	free(new_in_old);
	free(old_in_new);
	free(c.spans);
	return r;
}
