/* Recursive-descent parser and validator of the policy language; the
 * grammar is in policy/README.md. Errors are collected (up to
 * PV_POLICY_ERRORS_MAX): after one, the parser skips to the next 'rule' or
 * 'default' keyword and goes on. */
#include "policy/policy_int.h"
#include "policy/policy_lex.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct pparser {
	struct plexer lx;
	struct ptoken tok;
	struct policy *pol;
	struct policy_diags *diags;
	int status;          /* first error's code, PV_OK while none */
	bool stop;           /* out of memory, too many errors or rules */
	size_t terms;
	uint32_t default_line; /* line of the default rule, 0 while none */
};

static void next(struct pparser *ps)
{
	plex_next(&ps->lx, &ps->tok);
}

__attribute__((format(printf, 5, 6)))
static void perr_at(struct pparser *ps, uint32_t line, uint32_t column, int code,
		    const char *fmt, ...)
{
	struct policy_diags *d = ps->diags;
	va_list ap;

	if (ps->status == PV_OK)
		ps->status = code;
	if (d->count >= PV_POLICY_ERRORS_MAX) {
		d->truncated = true;
		ps->stop = true;
		return;
	}
	struct policy_diag *g = &d->item[d->count++];
	g->line = line;
	g->column = column;
	va_start(ap, fmt);
	vsnprintf(g->msg, sizeof(g->msg), fmt, ap);
	va_end(ap);
}

/* "expected WHAT, found <current token>", or the lexer's own message when
 * the current token is a lexical error. */
__attribute__((format(printf, 2, 3)))
static void perr_expected(struct pparser *ps, const char *fmt, ...)
{
	const struct ptoken *t = &ps->tok;
	char what[160], found[80];
	va_list ap;

	if (t->kind == PT_ERROR) {
		perr_at(ps, t->line, t->column, t->limit ? PV_ELIMIT : PV_ERR, "%s", t->msg);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	plex_describe(t, found, sizeof(found));
	perr_at(ps, t->line, t->column, PV_ERR, "expected %s, found %s", what, found);
}

static void *palloc(struct pparser *ps, size_t n)
{
	void *p = parena_alloc(&ps->pol->arena, n);
	if (p == NULL) {
		perr_at(ps, ps->tok.line, ps->tok.column, PV_ERR, "out of memory");
		ps->stop = true;
	}
	return p;
}

static char *pstrdup(struct pparser *ps, const char *s, size_t n)
{
	char *p = palloc(ps, n + 1);
	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* ---- values ----------------------------------------------------------- */

/* Digits of a number token; false when there are none or the value passes
 * max (saturated so "99999999999y" reports as too long, not wrapped). */
static size_t number_digits(const struct ptoken *t, uint64_t max, uint64_t *v_r, bool *over_r)
{
	uint64_t v = 0;
	size_t i = 0;
	*over_r = false;
	for (; i < t->len && t->start[i] >= '0' && t->start[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(t->start[i] - '0');
		if (v > max) {
			*over_r = true;
			v = max + 1;
		}
	}
	*v_r = v;
	return i;
}

static void parse_duration(struct pparser *ps, struct policy_retention *r)
{
	const struct ptoken *t = &ps->tok;
	char shown[80];
	uint64_t v;
	bool over;
	size_t nd = number_digits(t, UINT32_MAX, &v, &over);
	char unit = nd + 1 == t->len ? t->start[nd] : 0;

	plex_describe(t, shown, sizeof(shown));
	if (unit != 'd' && unit != 'm' && unit != 'y') {
		perr_at(ps, t->line, t->column, PV_ERR,
			"bad duration %s: expected a whole number followed by d (days), "
			"m (months) or y (years)", shown);
		return;
	}
	uint64_t max = unit == 'd' ? PV_POLICY_YEARS_MAX * 366ull
		     : unit == 'm' ? PV_POLICY_YEARS_MAX * 12ull : PV_POLICY_YEARS_MAX;
	if (over || v > max) {
		perr_at(ps, t->line, t->column, PV_ELIMIT,
			"bad duration %s: at most %dy (%dm, %dd)", shown, PV_POLICY_YEARS_MAX,
			PV_POLICY_YEARS_MAX * 12, PV_POLICY_YEARS_MAX * 366);
		return;
	}
	if (v == 0) {
		perr_at(ps, t->line, t->column, PV_ERR,
			"bad duration %s: a retention must be at least 1 day", shown);
		return;
	}
	r->forever = false;
	r->unit = unit;
	r->amount = (uint32_t)v;
}

static const struct {
	const char *name;
	uint64_t mult;
} size_units[] = {
	{"", 1},
	{"B", 1},
	{"KB", 1024ull},
	{"KiB", 1024ull},
	{"MB", 1024ull * 1024},
	{"MiB", 1024ull * 1024},
	{"GB", 1024ull * 1024 * 1024},
	{"GiB", 1024ull * 1024 * 1024},
	{"TB", 1024ull * 1024 * 1024 * 1024},
	{"TiB", 1024ull * 1024 * 1024 * 1024},
};

static void parse_size(struct pparser *ps, uint64_t *size_r)
{
	const struct ptoken *t = &ps->tok;
	char shown[80];
	uint64_t v;
	bool over;
	size_t nd = number_digits(t, PV_POLICY_SIZE_LITERAL_MAX, &v, &over);
	const char *unit = t->start + nd;
	size_t ulen = t->len - nd;

	plex_describe(t, shown, sizeof(shown));
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
		if (strlen(size_units[i].name) != ulen ||
		    strncasecmp(size_units[i].name, unit, ulen) != 0)
			continue;
		if (over || v > PV_POLICY_SIZE_LITERAL_MAX / size_units[i].mult) {
			perr_at(ps, t->line, t->column, PV_ELIMIT,
				"size %s is above the limit of 1TB", shown);
			return;
		}
		*size_r = v * size_units[i].mult;
		return;
	}
	perr_at(ps, t->line, t->column, PV_ERR,
		"bad size %s: expected a whole number with an optional unit B, KB, MB, GB "
		"or TB (1KB = 1024 bytes)", shown);
}

static bool keyword(const struct ptoken *t)
{
	static const char *const words[] = {"rule", "default", "retain", "forever", "then",
					    "dispose", "review", "when", "and", "or", "not"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (plex_is(t, words[i]))
			return true;
	return false;
}

/* ---- conditions ------------------------------------------------------- */

static struct pnode *parse_or(struct pparser *ps, unsigned depth);

static struct pnode *new_node(struct pparser *ps, enum pnode_kind kind)
{
	struct pnode *n = palloc(ps, sizeof(*n));
	if (n != NULL)
		n->kind = kind;
	return n;
}

static bool count_term(struct pparser *ps)
{
	if (++ps->terms > PV_POLICY_TERMS_MAX) {
		perr_at(ps, ps->tok.line, ps->tok.column, PV_ELIMIT,
			"more than %d conditions in the policy", PV_POLICY_TERMS_MAX);
		ps->stop = true;
		return false;
	}
	return true;
}

static bool check_depth(struct pparser *ps, unsigned depth)
{
	if (depth >= PV_POLICY_DEPTH_MAX) {
		perr_at(ps, ps->tok.line, ps->tok.column, PV_ELIMIT,
			"conditions nested deeper than %d levels", PV_POLICY_DEPTH_MAX);
		return false;
	}
	return true;
}

static void check_value(struct pparser *ps, const struct pnode *n)
{
	const struct ptoken *t = &ps->tok;
	if (n->op == PO_EQ && n->domain && memchr(t->str, '@', t->str_len) != NULL) {
		perr_at(ps, t->line, t->column, PV_ERR,
			"a domain has no '@': write %s = \"example.com\", or match the "
			"address with %s ~ \"*@example.com\"",
			pfield_name(n->field, true), pfield_name(n->field, false));
		return;
	}
	if (n->op == PO_GLOB) {
		/* A lone trailing backslash escapes nothing: surely a typo. */
		size_t bs = 0;
		for (size_t i = t->str_len; i > 0 && t->str[i - 1] == '\\'; i--)
			bs++;
		if (bs % 2 == 1)
			perr_at(ps, t->line, t->column, PV_ERR,
				"pattern ends with a lone '\\': write \"\\\\\\\\\" for a literal backslash");
	}
}

static bool valid_header_name(const char *s, size_t n)
{
	/* RFC 5322 §3.6.8: field-name = 1*ftext, printable US-ASCII but ':'. */
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 || s[i] == ':')
			return false;
	return true;
}

static struct pnode *parse_comparison(struct pparser *ps)
{
	enum pfield field;
	bool domain;
	char fname[PV_POLICY_NAME_MAX];

	if (!pfield_lookup(ps->tok.start, ps->tok.len, &field, &domain)) {
		char found[80];
		plex_describe(&ps->tok, found, sizeof(found));
		perr_at(ps, ps->tok.line, ps->tok.column, PV_ERR,
			"unknown field %s: expected account, from, to, cc, bcc, recipient, "
			"participant (or one of these with .domain), subject, header \"NAME\", "
			"size or has:attachment", found);
		return NULL;
	}
	struct pnode *n = new_node(ps, PN_CMP);
	if (n == NULL || !count_term(ps))
		return NULL;
	n->field = field;
	n->domain = domain;
	snprintf(fname, sizeof(fname), "%s", pfield_name(field, domain));
	next(ps);
	if (field == PF_HEADER) {
		if (ps->tok.kind != PT_STRING) {
			perr_expected(ps, "a header name in double quotes after 'header'");
			return NULL;
		}
		if (!valid_header_name(ps->tok.str, ps->tok.str_len))
			perr_at(ps, ps->tok.line, ps->tok.column, PV_ERR,
				"bad header name: printable ASCII without spaces or ':' "
				"(RFC 5322 section 3.6.8)");
		if ((n->header = pstrdup(ps, ps->tok.str, ps->tok.str_len)) == NULL)
			return NULL;
		next(ps);
	}
	static const struct {
		enum ptok tok;
		enum pop op;
	} ops[] = {{PT_EQ, PO_EQ}, {PT_TILDE, PO_GLOB}, {PT_LT, PO_LT},
		   {PT_LE, PO_LE}, {PT_GT, PO_GT}, {PT_GE, PO_GE}};
	bool size = field == PF_SIZE, have_op = false;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (ps->tok.kind == ops[i].tok) {
			n->op = ops[i].op;
			have_op = true;
		}
	}
	/* Sizes compare; everything else is text: equal or matches a pattern. */
	if (!have_op || (size && n->op == PO_GLOB) ||
	    (!size && n->op != PO_EQ && n->op != PO_GLOB)) {
		if (size)
			perr_expected(ps, "a comparison (=, <, <=, > or >=) after 'size'");
		else
			perr_expected(ps, "'=' or '~' after '%s'", fname);
		return NULL;
	}
	next(ps);
	if (size) {
		if (ps->tok.kind != PT_NUMBER) {
			perr_expected(ps, "a size such as 10MB, 500KB or 2048");
			return NULL;
		}
		parse_size(ps, &n->size);
	} else {
		if (ps->tok.kind != PT_STRING) {
			perr_expected(ps, "a value in double quotes after '%s %s'", fname, pop_name(n->op));
			return NULL;
		}
		check_value(ps, n);
		if ((n->value = pstrdup(ps, ps->tok.str, ps->tok.str_len)) == NULL)
			return NULL;
	}
	next(ps);
	return n;
}

static struct pnode *parse_primary(struct pparser *ps, unsigned depth)
{
	const struct ptoken *t = &ps->tok;

	if (t->kind == PT_LPAREN) {
		uint32_t line = t->line, column = t->column;
		if (!check_depth(ps, depth))
			return NULL;
		next(ps);
		struct pnode *e = parse_or(ps, depth + 1);
		if (e == NULL)
			return NULL;
		if (t->kind != PT_RPAREN) {
			perr_expected(ps, "'and', 'or' or ')' to close the '(' at line %u, column %u",
				      (unsigned)line, (unsigned)column);
			return NULL;
		}
		next(ps);
		return e;
	}
	if (plex_is(t, "has")) {
		next(ps);
		if (t->kind != PT_COLON) {
			perr_expected(ps, "':' after 'has' (has:attachment)");
			return NULL;
		}
		next(ps);
		if (!plex_is(t, "attachment")) {
			perr_expected(ps, "'attachment' after 'has:'");
			return NULL;
		}
		struct pnode *n = new_node(ps, PN_HAS_ATTACHMENT);
		if (n == NULL || !count_term(ps))
			return NULL;
		next(ps);
		return n;
	}
	if (t->kind == PT_IDENT && !keyword(t))
		return parse_comparison(ps);
	perr_expected(ps, "a condition such as from ~ \"*@example.com\"");
	return NULL;
}

static struct pnode *parse_not(struct pparser *ps, unsigned depth)
{
	if (!plex_is(&ps->tok, "not"))
		return parse_primary(ps, depth);
	if (!check_depth(ps, depth))
		return NULL;
	next(ps);
	struct pnode *kid = parse_not(ps, depth + 1);
	struct pnode *n = kid != NULL ? new_node(ps, PN_NOT) : NULL;
	if (n != NULL)
		n->kids = kid;
	return n;
}

/* Appends kid to list, splicing the children of a parenthesised node of
 * the same kind: "a and (b and c)" is "a and b and c" (one canonical form). */
static void append_flat(struct pnode ***tail, struct pnode *kid, enum pnode_kind kind)
{
	if (kid->kind == kind) {
		for (struct pnode *k = kid->kids; k != NULL; k = k->next) {
			**tail = k;
			*tail = &k->next;
		}
	} else {
		kid->next = NULL;
		**tail = kid;
		*tail = &kid->next;
	}
}

static struct pnode *parse_chain(struct pparser *ps, unsigned depth, enum pnode_kind kind)
{
	const char *word = kind == PN_OR ? "or" : "and";
	struct pnode *first = kind == PN_OR ? parse_chain(ps, depth, PN_AND) : parse_not(ps, depth);
	if (first == NULL || !plex_is(&ps->tok, word))
		return first;
	struct pnode *n = new_node(ps, kind);
	if (n == NULL)
		return NULL;
	struct pnode **tail = &n->kids;
	append_flat(&tail, first, kind);
	while (plex_is(&ps->tok, word)) {
		next(ps);
		struct pnode *k = kind == PN_OR ? parse_chain(ps, depth, PN_AND) : parse_not(ps, depth);
		if (k == NULL)
			return NULL;
		append_flat(&tail, k, kind);
	}
	return n;
}

static struct pnode *parse_or(struct pparser *ps, unsigned depth)
{
	return parse_chain(ps, depth, PN_OR);
}

/* ---- rules ------------------------------------------------------------ */

static bool parse_retention(struct pparser *ps, struct policy_retention *r)
{
	const struct ptoken *t = &ps->tok;

	memset(r, 0, sizeof(*r));
	if (!plex_is(t, "retain")) {
		perr_expected(ps, "'retain'");
		return false;
	}
	next(ps);
	if (plex_is(t, "forever")) {
		r->forever = true;
	} else if (t->kind == PT_NUMBER) {
		/* A bad value is reported; the syntax is intact, so go on. */
		parse_duration(ps, r);
	} else {
		perr_expected(ps, "a duration such as 7y, 18m or 90d, or 'forever'");
		return false;
	}
	next(ps);
	r->action = POLICY_ACTION_DISPOSE;
	if (!plex_is(t, "then"))
		return true;
	uint32_t line = t->line, column = t->column;
	next(ps);
	if (plex_is(t, "dispose")) {
		r->action = POLICY_ACTION_DISPOSE;
	} else if (plex_is(t, "review")) {
		r->action = POLICY_ACTION_REVIEW;
	} else {
		perr_expected(ps, "'dispose' or 'review' after 'then'");
		return false;
	}
	if (r->forever)
		perr_at(ps, line, column, PV_ERR,
			"'retain forever' never expires, so 'then %s' cannot apply; remove it",
			policy_action_name(r->action));
	next(ps);
	return true;
}

static bool check_name(struct pparser *ps, const char *s, size_t n)
{
	const struct ptoken *t = &ps->tok;
	bool ok = n > 0 && n <= PV_POLICY_NAME_MAX;

	for (size_t i = 0; ok && i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		ok = alnum || (i > 0 && (c == '.' || c == '_' || c == '-'));
	}
	if (!ok) {
		perr_at(ps, t->line, t->column, PV_ERR,
			"bad rule name: 1 to %d letters, digits, '.', '_' or '-', starting with "
			"a letter or digit", PV_POLICY_NAME_MAX);
		return false;
	}
	if (strcasecmp(s, POLICY_DEFAULT_CLASS) == 0) {
		perr_at(ps, t->line, t->column, PV_ERR,
			"rule name \"%s\" is reserved for the default rule", s);
		return false;
	}
	for (size_t i = 0; i < ps->pol->n_rules; i++) {
		if (strcasecmp(ps->pol->rules[i].name, s) == 0) {
			perr_at(ps, t->line, t->column, PV_ERR,
				"duplicate rule name \"%s\" (first used at line %u)", s,
				(unsigned)ps->pol->rules[i].line);
			return false;
		}
	}
	return true;
}

static bool add_rule(struct pparser *ps, const struct prule *r)
{
	struct policy *pol = ps->pol;
	if (pol->n_rules >= PV_POLICY_RULES_MAX) {
		perr_at(ps, r->line, 1, PV_ELIMIT, "more than %d rules", PV_POLICY_RULES_MAX);
		ps->stop = true;
		return false;
	}
	if (pol->n_rules == pol->cap_rules) {
		size_t cap = pol->cap_rules ? pol->cap_rules * 2 : 16;
		struct prule *p = realloc(pol->rules, cap * sizeof(*p));
		if (p == NULL) {
			perr_at(ps, r->line, 1, PV_ERR, "out of memory");
			ps->stop = true;
			return false;
		}
		pol->rules = p;
		pol->cap_rules = cap;
	}
	pol->rules[pol->n_rules++] = *r;
	return true;
}

static void check_not_after_default(struct pparser *ps, const char *what)
{
	if (ps->default_line != 0)
		perr_at(ps, ps->tok.line, ps->tok.column, PV_ERR,
			"%s after the default rule (line %u): the default rule must be the "
			"last one, and there is only one", what, (unsigned)ps->default_line);
}

static bool parse_rule(struct pparser *ps)
{
	struct prule r = {.line = ps->tok.line};
	const struct ptoken *t = &ps->tok;
	size_t idx = SIZE_MAX;

	check_not_after_default(ps, "a rule");
	next(ps);
	if (t->kind != PT_STRING) {
		perr_expected(ps, "a rule name in double quotes");
		return false;
	}
	/* The rule is added now, so later duplicates are found even when this
	 * one has errors (a policy with errors is thrown away anyway). A bad
	 * name is reported, and parsing goes on to find more errors. */
	if (check_name(ps, t->str, t->str_len)) {
		if ((r.name = pstrdup(ps, t->str, t->str_len)) == NULL || !add_rule(ps, &r))
			return false;
		idx = ps->pol->n_rules - 1;
	}
	next(ps);
	if (t->kind != PT_COLON) {
		perr_expected(ps, "':' after the rule name");
		return false;
	}
	next(ps);
	if (!parse_retention(ps, &r.ret))
		return false;
	if (!plex_is(t, "when")) {
		perr_expected(ps, "'when' and a condition (only the default rule has none)");
		return false;
	}
	next(ps);
	if ((r.cond = parse_or(ps, 0)) == NULL)
		return false;
	if (idx != SIZE_MAX)
		ps->pol->rules[idx] = r;
	return true;
}

static bool parse_default(struct pparser *ps)
{
	struct prule r = {.line = ps->tok.line, .name = POLICY_DEFAULT_CLASS};
	const struct ptoken *t = &ps->tok;

	check_not_after_default(ps, "a second default rule");
	if (ps->default_line == 0)
		ps->default_line = t->line;
	next(ps);
	if (t->kind != PT_COLON) {
		perr_expected(ps, "':' after 'default'");
		return false;
	}
	next(ps);
	if (!parse_retention(ps, &r.ret))
		return false;
	if (plex_is(t, "when")) {
		perr_at(ps, t->line, t->column, PV_ERR,
			"the default rule has no condition: it applies to every message "
			"no rule above matched");
		return false;
	}
	return add_rule(ps, &r);
}

static void parse_policy(struct pparser *ps)
{
	bool after_rule = false, after_default = false;

	next(ps);
	while (!ps->stop && ps->tok.kind != PT_EOF) {
		bool ok;
		if (plex_is(&ps->tok, "rule")) {
			ok = parse_rule(ps);
			after_rule = ok;
			after_default = false;
		} else if (plex_is(&ps->tok, "default")) {
			ok = parse_default(ps);
			after_rule = false;
			after_default = ok;
		} else {
			if (after_rule)
				perr_expected(ps, "'and', 'or', or a new 'rule'");
			else if (after_default)
				perr_expected(ps, "end of file after the default rule");
			else
				perr_expected(ps, "'rule' or 'default'");
			ok = false;
		}
		if (!ok) {
			/* Resynchronise on the next statement. */
			while (ps->tok.kind != PT_EOF && !plex_is(&ps->tok, "rule") &&
			       !plex_is(&ps->tok, "default"))
				next(ps);
			after_rule = after_default = false;
		}
	}
	if (!ps->stop && ps->default_line == 0)
		perr_at(ps, ps->tok.line, ps->tok.column, PV_ERR,
			"expected the default rule (default: retain ...) as the last rule, "
			"found end of file");
}

int policy_parse(const void *text, size_t len, struct policy **policy_r,
		 struct policy_diags *diags_r, struct pv_error *err)
{
	struct policy_diags local;
	struct policy_diags *d = diags_r != NULL ? diags_r : &local;
	uint32_t line, column;
	char msg[PLEX_MSG_MAX];

	*policy_r = NULL;
	memset(d, 0, sizeof(*d));
	if (len > PV_POLICY_FILE_MAX) {
		d->count = 1;
		snprintf(d->item[0].msg, sizeof(d->item[0].msg),
			 "policy file is %zu bytes, above the limit of %d bytes", len,
			 PV_POLICY_FILE_MAX);
		return pv_fail(err, PV_ELIMIT, "%s", d->item[0].msg);
	}
	if (len > 0 && !plex_check_text(text, len, &line, &column, msg)) {
		d->count = 1;
		d->item[0].line = line;
		d->item[0].column = column;
		snprintf(d->item[0].msg, sizeof(d->item[0].msg), "%s", msg);
		return pv_fail(err, PV_ERR, "line %u, column %u: %s", (unsigned)line,
			       (unsigned)column, msg);
	}

	struct pparser ps = {.diags = d};
	ps.pol = calloc(1, sizeof(*ps.pol));
	if (ps.pol == NULL || (ps.pol->source = malloc(len > 0 ? len : 1)) == NULL) {
		policy_free(&ps.pol);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	if (len > 0)
		memcpy(ps.pol->source, text, len);
	ps.pol->source_len = len;
	plex_init(&ps.lx, (const char *)ps.pol->source, len);
	parse_policy(&ps);

	if (d->count > 0 || ps.status != PV_OK) {
		const struct policy_diag *g = &d->item[0];
		policy_free(&ps.pol);
		if (d->count > 1 || d->truncated)
			return pv_fail(err, ps.status, "line %u, column %u: %s (and %s%zu more %s)",
				       (unsigned)g->line, (unsigned)g->column, g->msg,
				       d->truncated ? "over " : "", d->count - 1,
				       d->count == 2 ? "error" : "errors");
		return pv_fail(err, ps.status, "line %u, column %u: %s", (unsigned)g->line,
			       (unsigned)g->column, g->msg);
	}
	*policy_r = ps.pol;
	return PV_OK;
}
