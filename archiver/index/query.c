#include "archiver/index/query.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "archiver/index/text.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/utf8.h"

static const struct {
	const char *name;
	enum index_query_field field;
} fields[] = {
	{"from", IQF_FROM}, {"to", IQF_TO}, {"cc", IQF_CC}, {"bcc", IQF_BCC},
	{"participant", IQF_PARTICIPANT}, {"subject", IQF_SUBJECT}, {"body", IQF_BODY},
	{"filename", IQF_FILENAME}, {"has", IQF_HAS_ATTACHMENT}, {"before", IQF_BEFORE},
	{"after", IQF_AFTER}, {"on", IQF_ON}, {"larger", IQF_LARGER},
	{"smaller", IQF_SMALLER}, {"account", IQF_ACCOUNT}, {"message-id", IQF_MESSAGE_ID},
};

struct parser {
	const char *q;
	size_t len, pos;
	struct index_query *out;
	struct pv_error *err;
	int depth;
	int status;
	const char *after; /* the last operator read, for "expected a term after" */
};

/* ---- lexing ------------------------------------------------------------ */

static size_t column(const struct parser *p, size_t off)
{
	size_t c = 1;
	for (size_t i = 0; i < off && i < p->len; i++)
		c += ((unsigned char)p->q[i] & 0xC0) != 0x80;
	return c;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static bool ends_word(char c)
{
	return c == '\0' || is_space(c) || c == '(' || c == ')' || c == '"';
}

static void skip_space(struct parser *p)
{
	while (p->pos < p->len && is_space(p->q[p->pos]))
		p->pos++;
}

static size_t word_end(const struct parser *p, size_t at)
{
	while (at < p->len && !ends_word(p->q[at]))
		at++;
	return at;
}

/* Is an operator keyword (AND, OR, NOT: capitals, a whole word) at pos? */
static bool keyword(const struct parser *p, const char *kw)
{
	size_t n = strlen(kw);
	return p->len - p->pos >= n && memcmp(p->q + p->pos, kw, n) == 0 &&
		ends_word(p->q[p->pos + n]);
}

static void *fail(struct parser *p, int code, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void *fail(struct parser *p, int code, size_t at, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->status == PV_OK)
		p->status = pv_fail(p->err, code, "column %zu: %s", column(p, at), msg);
	return NULL;
}

/* ---- nodes ------------------------------------------------------------- */

static void node_free(struct index_query_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

static struct index_query_node *node_new(struct parser *p, enum index_query_op op, size_t at)
{
	struct index_query_node *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		if (p->status == PV_OK)
			p->status = pv_fail(p->err, PV_ERR, "out of memory");
		return NULL;
	}
	n->op = op;
	n->column = column(p, at);
	return n;
}

/* Room for more kids in n; when there is none, k is freed and the
 * parser fails (out of memory). */
static bool reserve(struct parser *p, struct index_query_node *n, size_t more,
		    struct index_query_node *k)
{
	struct index_query_node **v = realloc(n->kids, (n->nkids + more) * sizeof(*v));
	if (v == NULL) {
		node_free(k);
		if (p->status == PV_OK)
			p->status = pv_fail(p->err, PV_ERR, "out of memory");
		return false;
	}
	n->kids = v;
	return true;
}

static bool add_kid(struct parser *p, struct index_query_node *n, struct index_query_node *k)
{
	if (!reserve(p, n, 1, k))
		return false;
	n->kids[n->nkids++] = k;
	return true;
}

/* Adds k to n, merging a group of n's own operator into n: a OR (b OR c)
 * is one OR of three. Nesting costs SQLite and FTS5 parser stack (see
 * PV_QUERY_NEST_MAX); merging keeps only what cannot be merged away. */
static bool add_flat(struct parser *p, struct index_query_node *n, struct index_query_node *k)
{
	if (k->op != n->op || n->op == IQ_NOT)
		return add_kid(p, n, k);
	if (!reserve(p, n, k->nkids, k))
		return false;
	memcpy(n->kids + n->nkids, k->kids, k->nkids * sizeof(*n->kids));
	n->nkids += k->nkids;
	k->nkids = 0;
	node_free(k);
	return true;
}

static struct index_query_node *term(struct parser *p, enum index_query_field f,
	const char *s, size_t n, size_t at)
{
	if (++p->out->terms > PV_QUERY_TERMS_MAX)
		return fail(p, PV_EUSAGE, at, "more than %d terms", PV_QUERY_TERMS_MAX);
	struct index_query_node *t = node_new(p, IQ_TERM, at);
	if (t == NULL)
		return NULL;
	t->field = f;
	t->text = strndup(s, n);
	if (t->text == NULL) {
		node_free(t);
		p->status = pv_fail(p->err, PV_ERR, "out of memory");
		return NULL;
	}
	return t;
}

/* ---- values -------------------------------------------------------------- */

/* A quoted phrase at pos (on the '"'): \" and \\ are escapes. Returns a
 * malloc'd string, *n_r its length. */
static char *quoted(struct parser *p, size_t *n_r)
{
	size_t open = p->pos, o = 0;
	char *s = malloc(p->len - p->pos + 1);
	if (s == NULL) {
		p->status = pv_fail(p->err, PV_ERR, "out of memory");
		return NULL;
	}
	for (size_t i = open + 1; i < p->len; i++) {
		char c = p->q[i];
		if (c == '\\' && i + 1 < p->len && (p->q[i + 1] == '"' || p->q[i + 1] == '\\')) {
			s[o++] = p->q[++i];
		} else if (c == '"') {
			p->pos = i + 1;
			s[o] = '\0';
			*n_r = o;
			return s;
		} else {
			s[o++] = c;
		}
	}
	free(s);
	return fail(p, PV_EUSAGE, p->len, "expected '\"' to close the quote at column %zu",
		column(p, open));
}

static bool parse_size(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;
	size_t i = 0;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (i == 0)
		return false;
	int shift = 0;
	if (i < n) {
		switch (s[i]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: return false;
		}
		i++;
		if (i < n && (s[i] == 'b' || s[i] == 'B'))
			i++;
	}
	if (i != n || v > (INT64_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

static struct index_query_node *parse_or(struct parser *p, enum index_query_field def);

/* "( ... )" whose '(' is at `open`: a group whose bare words search def. */
static struct index_query_node *parse_group(struct parser *p, size_t open,
					    enum index_query_field def)
{
	p->pos = open + 1;
	if (++p->depth > PV_QUERY_DEPTH_MAX)
		return fail(p, PV_EUSAGE, open, "nested more than %d deep", PV_QUERY_DEPTH_MAX);
	p->after = "(";
	struct index_query_node *g = parse_or(p, def);
	p->depth--;
	if (g == NULL)
		return NULL;
	skip_space(p);
	if (p->pos >= p->len || p->q[p->pos] != ')') {
		node_free(g);
		return fail(p, PV_EUSAGE, p->pos, "expected ')' to close '(' at column %zu",
			    column(p, open));
	}
	p->pos++;
	return g;
}

/* field:value, with the word starting at `at`, the ':' at `colon`. */
static struct index_query_node *field_term(struct parser *p, enum index_query_field f,
	const char *fname, size_t at, size_t colon)
{
	size_t vstart = colon + 1, vend = word_end(p, vstart);
	char *val = NULL;
	size_t vn = vend - vstart;
	p->pos = vend;
	if (vn == 0 && vstart < p->len && p->q[vstart] == '(') {
		if (!index_query_field_is_text(f))
			return fail(p, PV_EUSAGE, vstart, "expected a value after '%s:', not a group", fname);
		return parse_group(p, vstart, f);
	}
	if (vn == 0 && vstart < p->len && p->q[vstart] == '"') {
		p->pos = vstart;
		val = quoted(p, &vn);
		if (val == NULL)
			return NULL;
	} else if (vn == 0) {
		return fail(p, PV_EUSAGE, vstart, "expected a value after '%s:'", fname);
	} else {
		val = strndup(p->q + vstart, vn);
		if (val == NULL) {
			p->status = pv_fail(p->err, PV_ERR, "out of memory");
			return NULL;
		}
	}
	struct index_query_node *t = NULL;
	int64_t num = 0;
	if (f == IQF_HAS_ATTACHMENT) {
		if (strcasecmp(val, "attachment") != 0)
			fail(p, PV_EUSAGE, vstart, "expected 'attachment' after '%s:'", fname);
	} else if (f == IQF_BEFORE || f == IQF_AFTER || f == IQF_ON) {
		if (vn != 10 || pv_clock_parse_rfc3339(val, &num) < 0)
			fail(p, PV_EUSAGE, vstart, "expected a date as YYYY-MM-DD after '%s:'", fname);
	} else if (f == IQF_LARGER || f == IQF_SMALLER) {
		if (!parse_size(val, vn, &num))
			fail(p, PV_EUSAGE, vstart, "expected a size such as 500K or 10M after '%s:'",
				fname);
	} else if (f == IQF_MESSAGE_ID && vn >= 2 && val[0] == '<' && val[vn - 1] == '>') {
		memmove(val, val + 1, vn - 2);
		vn -= 2;
		val[vn] = '\0';
	}
	if (p->status == PV_OK && vn == 0 && f != IQF_HAS_ATTACHMENT)
		fail(p, PV_EUSAGE, vstart, "expected a value after '%s:'", fname);
	if (p->status == PV_OK)
		t = term(p, f, val, vn, at);
	if (t != NULL)
		t->num = num;
	free(val);
	return t;
}

static struct index_query_node *parse_primary(struct parser *p, enum index_query_field def)
{
	skip_space(p);
	size_t at = p->pos;
	if (at >= p->len) {
		if (p->after)
			return fail(p, PV_EUSAGE, at, "expected a term after '%s'", p->after);
		return fail(p, PV_EUSAGE, at, "expected a term");
	}
	char c = p->q[at];
	if (keyword(p, "AND") || keyword(p, "OR"))
		return fail(p, PV_EUSAGE, at, "expected a term before '%s'",
			keyword(p, "OR") ? "OR" : "AND");
	if (c == ')') {
		if (p->after)
			return fail(p, PV_EUSAGE, at, "expected a term after '%s'", p->after);
		return fail(p, PV_EUSAGE, at, "unexpected ')'");
	}
	if (c == '(') {
		return parse_group(p, at, def);
	}
	if (c == '"') {
		size_t n;
		char *s = quoted(p, &n);
		if (s == NULL)
			return NULL;
		struct index_query_node *t = term(p, def, s, n, at);
		free(s);
		return t;
	}
	size_t end = word_end(p, at);
	const char *colon = memchr(p->q + at, ':', end - at);
	if (colon != NULL) {
		size_t cn = (size_t)(colon - (p->q + at)), i = 0;
		while (i < cn && (g_ascii_isalpha(p->q[at + i]) || (i > 0 && p->q[at + i] == '-')))
			i++;
		if (cn > 0 && i == cn) {
			char name[16];
			if (cn < sizeof(name)) {
				for (i = 0; i < cn; i++)
					name[i] = g_ascii_tolower(p->q[at + i]);
				name[cn] = '\0';
				for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
					if (strcmp(fields[i].name, name) == 0)
						return field_term(p, fields[i].field, fields[i].name, at,
							(size_t)(colon - p->q));
			}
			char shown[40];
			snprintf(shown, sizeof(shown), "%.*s", cn > 32 ? 32 : (int)cn, p->q + at);
			return fail(p, PV_EUSAGE, at,
				"unknown field '%s:' (put it in quotes to search for the text)", shown);
		}
	}
	p->pos = end;
	return term(p, def, p->q + at, end - at, at);
}

static struct index_query_node *parse_unary(struct parser *p, enum index_query_field def)
{
	skip_space(p);
	size_t at = p->pos;
	bool neg = false;
	if (keyword(p, "NOT")) {
		p->pos += 3;
		p->after = "NOT";
		neg = true;
	} else if (at < p->len && p->q[at] == '-') {
		if (at + 1 >= p->len || is_space(p->q[at + 1]) || p->q[at + 1] == ')')
			return fail(p, PV_EUSAGE, at + 1, "expected a term after '-'");
		p->pos++;
		p->after = "-";
		neg = true;
	}
	if (!neg)
		return parse_primary(p, def);
	if (++p->depth > PV_QUERY_DEPTH_MAX)
		return fail(p, PV_EUSAGE, at, "nested more than %d deep", PV_QUERY_DEPTH_MAX);
	struct index_query_node *k = parse_unary(p, def);
	p->depth--;
	if (k == NULL)
		return NULL;
	if (k->op == IQ_NOT) { /* NOT NOT x is x */
		struct index_query_node *x = k->kids[0];
		k->nkids = 0;
		node_free(k);
		return x;
	}
	struct index_query_node *n = node_new(p, IQ_NOT, at);
	if (n == NULL || !add_kid(p, n, k)) {
		if (n == NULL)
			node_free(k);
		node_free(n);
		return NULL;
	}
	return n;
}

/* Builds an n-ary node from a sequence joined by `op`. */
static struct index_query_node *parse_seq(struct parser *p, enum index_query_field def,
	enum index_query_op op)
{
	size_t at = p->pos;
	struct index_query_node *first = op == IQ_OR ? parse_seq(p, def, IQ_AND) : parse_unary(p, def);
	if (first == NULL)
		return NULL;
	struct index_query_node *n = NULL;
	for (;;) {
		skip_space(p);
		if (p->pos >= p->len || p->q[p->pos] == ')')
			break;
		if (op == IQ_OR) {
			if (!keyword(p, "OR"))
				break;
			p->pos += 2;
			p->after = "OR";
		} else {
			if (keyword(p, "OR"))
				break;
			if (keyword(p, "AND")) {
				p->pos += 3;
				p->after = "AND";
			}
		}
		struct index_query_node *k = op == IQ_OR ? parse_seq(p, def, IQ_AND) : parse_unary(p, def);
		if (k == NULL)
			goto fail;
		if (n == NULL) {
			n = node_new(p, op, at);
			if (n == NULL || !add_flat(p, n, first)) {
				if (n == NULL)
					node_free(first);
				first = NULL;
				node_free(k);
				goto fail;
			}
			first = NULL;
		}
		if (!add_flat(p, n, k))
			goto fail;
	}
	return n ? n : first;
fail:
	node_free(first);
	node_free(n);
	return NULL;
}

static struct index_query_node *parse_or(struct parser *p, enum index_query_field def)
{
	return parse_seq(p, def, IQ_OR);
}

static bool valid_utf8(const char *q, size_t len, size_t *bad_r)
{
	const unsigned char *s = (const unsigned char *)q;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = pv_utf8_decode(s + i, len - i, &cp);
		if (n == 0) {
			*bad_r = i;
			return false;
		}
		i += n;
	}
	return true;
}

/* The first operator (AND, OR, NOT), in query order, with more than
 * PV_QUERY_NEST_MAX operators above it and itself; NULL if none. */
static const struct index_query_node *too_deep(const struct index_query_node *n, int depth)
{
	if (n->op == IQ_TERM)
		return NULL;
	if (depth > PV_QUERY_NEST_MAX)
		return n;
	for (size_t i = 0; i < n->nkids; i++) {
		const struct index_query_node *k = too_deep(n->kids[i], depth + 1);
		if (k != NULL)
			return k;
	}
	return NULL;
}

size_t index_query_error_column(const struct pv_error *err)
{
	static const char prefix[] = "column ";
	const char *m = err->msg;
	size_t c = 0, i = sizeof(prefix) - 1;
	if (strncmp(m, prefix, i) != 0 || m[i] < '1' || m[i] > '9')
		return 0;
	for (; m[i] >= '0' && m[i] <= '9' && c <= PV_QUERY_MAX; i++)
		c = c * 10 + (size_t)(m[i] - '0');
	return m[i] == ':' && c <= PV_QUERY_MAX ? c : 0;
}

int index_query_parse(const char *q, struct index_query **query_r, struct pv_error *err)
{
	*query_r = NULL;
	size_t len = strnlen(q, PV_QUERY_MAX + 1), bad;
	if (len > PV_QUERY_MAX)
		return pv_fail(err, PV_EUSAGE, "query longer than %d bytes", PV_QUERY_MAX);
	struct parser p = {.q = q, .len = len, .err = err};
	if (!valid_utf8(q, len, &bad))
		return pv_fail(err, PV_EUSAGE, "column %zu: invalid UTF-8", column(&p, bad));
	p.out = calloc(1, sizeof(*p.out));
	if (p.out == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	skip_space(&p);
	if (p.pos < p.len) {
		p.out->root = parse_or(&p, IQF_ANY);
		skip_space(&p);
		if (p.status == PV_OK && p.pos < p.len) /* only a stray ')' stops parse_or early */
			fail(&p, PV_EUSAGE, p.pos, "unexpected ')'");
	}
	const struct index_query_node *past;
	if (p.status == PV_OK && p.out->root != NULL && (past = too_deep(p.out->root, 1)) != NULL)
		p.status = pv_fail(err, PV_EUSAGE,
				   "column %zu: operators nested more than %d deep (a group in a "
				   "group of another operator, or under NOT, is one level deeper; "
				   "a group of the same operator is not)",
				   past->column, PV_QUERY_NEST_MAX);
	if (p.status != PV_OK) {
		index_query_free(&p.out);
		return p.status;
	}
	*query_r = p.out;
	return PV_OK;
}

void index_query_free(struct index_query **q)
{
	if (*q == NULL)
		return;
	node_free((*q)->root);
	free(*q);
	*q = NULL;
}

/* ---- compiling ------------------------------------------------------------ */

struct comp {
	struct index_query_sql *sql;
	struct pv_error *err;
	int r;
};

static void out(struct comp *c, struct pv_buf *b, const char *s)
{
	if (c->r == PV_OK)
		c->r = pv_buf_append_str(b, s, c->err);
}

static void param(struct comp *c, bool is_text, const char *text, int64_t num)
{
	if (c->r != PV_OK)
		return;
	struct index_query_sql *s = c->sql;
	struct index_query_param *v = realloc(s->params, (s->nparams + 1) * sizeof(*v));
	if (v == NULL) {
		c->r = pv_fail(c->err, PV_ERR, "out of memory");
		return;
	}
	s->params = v;
	v[s->nparams] = (struct index_query_param){is_text, NULL, num};
	if (is_text && (v[s->nparams].text = strdup(text)) == NULL) {
		c->r = pv_fail(c->err, PV_ERR, "out of memory");
		return;
	}
	s->nparams++;
}

static bool pure(const struct index_query_node *n);

static bool neg_pure(const struct index_query_node *n)
{
	return n->op == IQ_NOT && pure(n->kids[0]);
}

/* Expressible as one FTS5 expression (FTS5's NOT is binary: "a NOT b"). */
static bool pure(const struct index_query_node *n)
{
	size_t pos = 0;
	switch (n->op) {
	case IQ_TERM:
		return index_query_field_is_text(n->field);
	case IQ_NOT:
		return false;
	case IQ_OR:
		for (size_t i = 0; i < n->nkids; i++)
			if (!pure(n->kids[i]))
				return false;
		return true;
	case IQ_AND:
		for (size_t i = 0; i < n->nkids; i++) {
			if (pure(n->kids[i]))
				pos++;
			else if (!neg_pure(n->kids[i]))
				return false;
		}
		return pos > 0;
	}
	return false;
}

int index_query_fts_quote(struct pv_buf *b, const char *text, struct pv_error *err)
{
	if (pv_buf_append(b, "\"", 1, err) < 0)
		return PV_ERR;
	for (const char *s = text; *s; s++) /* FTS5: "" inside a string is one " */
		if (pv_buf_append(b, s, 1, err) < 0 ||
		    (*s == '"' && pv_buf_append(b, "\"", 1, err) < 0))
			return PV_ERR;
	return pv_buf_append(b, "\"", 1, err);
}

/* A bare word searches every column: a column filter makes FTS5 read
 * positions, not only which documents (measured: a common word counted in
 * 7 ms, in 13 ms restricted to all columns but one). Column `every`
 * holds one token in every document (INDEX_EVERY_TOKEN); a bare word that
 * could be it skips that column (every_safe). */
static const char *const columns[] = {
	[IQF_ANY] = "",
	[IQF_FROM] = "{hfrom} : ", [IQF_TO] = "{hto} : ",
	[IQF_CC] = "{hcc} : ", [IQF_BCC] = "{hbcc} : ",
	[IQF_PARTICIPANT] = "{hfrom hto hcc hbcc} : ", [IQF_SUBJECT] = "{subject} : ",
	[IQF_BODY] = "{body} : ", [IQF_FILENAME] = "{filename ctype} : ",
};

static void fts(struct comp *c, const struct index_query_node *n, struct pv_buf *b);

/* AND of the pure kids and "NOT" of the negated pure kids selected by use[]. */
static void fts_and(struct comp *c, const struct index_query_node *n, const bool *use,
	struct pv_buf *b)
{
	bool first = true;
	out(c, b, "(");
	for (size_t i = 0; i < n->nkids; i++) {
		if (!use[i] || !pure(n->kids[i]))
			continue;
		if (!first)
			out(c, b, " AND ");
		fts(c, n->kids[i], b);
		first = false;
	}
	for (size_t i = 0; i < n->nkids; i++) {
		if (!use[i] || !neg_pure(n->kids[i]))
			continue;
		out(c, b, " NOT ");
		fts(c, n->kids[i]->kids[0], b);
	}
	out(c, b, ")");
}

/* Whether text's tokens cannot be INDEX_EVERY_TOKEN: that token is ASCII
 * digits, which no folding of the tokenizer makes from other characters. */
static bool every_safe(const char *text)
{
	return strstr(text, INDEX_EVERY_TOKEN) == NULL;
}

static void fts(struct comp *c, const struct index_query_node *n, struct pv_buf *b)
{
	if (n->op == IQ_TERM) {
		out(c, b, n->field == IQF_ANY && !every_safe(n->text) ? "- {every} : "
								      : columns[n->field]);
		const char *t = n->text;
		size_t tn = strlen(t);
		struct pv_buf split;
		pv_buf_init(&split, 2 * tn + 16);
		if (c->r == PV_OK && index_text_has_cjk(t, tn)) { /* as the index was written */
			c->r = index_text_cjk_split(t, tn, &split, c->err);
			t = pv_buf_str(&split);
		}
		if (c->r == PV_OK)
			c->r = index_query_fts_quote(b, t, c->err);
		pv_buf_free(&split);
	} else if (n->op == IQ_OR) {
		out(c, b, "(");
		for (size_t i = 0; i < n->nkids; i++) {
			if (i > 0)
				out(c, b, " OR ");
			fts(c, n->kids[i], b);
		}
		out(c, b, ")");
	} else {
		bool use[PV_QUERY_TERMS_MAX + 1];
		for (size_t i = 0; i < n->nkids; i++)
			use[i] = true;
		fts_and(c, n, use, b);
	}
}

static void in_fts(struct comp *c, struct pv_buf *b, const struct pv_buf *expr)
{
	out(c, b, "d.key IN (SELECT rowid FROM idx_fts WHERE idx_fts MATCH ?)");
	param(c, true, pv_buf_str(expr), 0);
}

static void sql(struct comp *c, const struct index_query_node *n, struct pv_buf *b);

static void predicate(struct comp *c, const struct index_query_node *n, struct pv_buf *b)
{
	switch (n->field) {
	case IQF_HAS_ATTACHMENT:
		out(c, b, "d.has_attachment = 1");
		break;
	case IQF_BEFORE:
		out(c, b, "d.date < ?");
		param(c, false, NULL, n->num);
		break;
	case IQF_AFTER:
		out(c, b, "d.date >= ?");
		param(c, false, NULL, n->num);
		break;
	case IQF_ON:
		out(c, b, "(d.date >= ? AND d.date < ?)");
		param(c, false, NULL, n->num);
		param(c, false, NULL, n->num + 86400);
		break;
	case IQF_LARGER:
		out(c, b, "d.size > ?");
		param(c, false, NULL, n->num);
		break;
	case IQF_SMALLER:
		out(c, b, "d.size < ?");
		param(c, false, NULL, n->num);
		break;
	case IQF_ACCOUNT:
		out(c, b, "d.account = ?");
		param(c, true, n->text, 0);
		break;
	case IQF_MESSAGE_ID:
		out(c, b, "d.message_id = ?");
		param(c, true, n->text, 0);
		break;
	default:
		c->r = pv_fail(c->err, PV_ERR, "internal: text field as predicate");
	}
}

/* AND/OR: the kids FTS5 can take go into one MATCH, the rest stay SQL. */
static void sql_list(struct comp *c, const struct index_query_node *n, struct pv_buf *b)
{
	bool use[PV_QUERY_TERMS_MAX + 1];
	size_t nuse = 0, npos = 0;
	for (size_t i = 0; i < n->nkids; i++) {
		bool p = pure(n->kids[i]);
		use[i] = p || (n->op == IQ_AND && neg_pure(n->kids[i]));
		nuse += use[i];
		npos += p;
	}
	if (npos == 0 || (n->op == IQ_OR && nuse < 2))
		for (size_t i = 0; i < n->nkids; i++)
			use[i] = false;
	const char *sep = n->op == IQ_AND ? " AND " : " OR ";
	bool first = true;
	out(c, b, "(");
	if (npos > 0 && (n->op == IQ_AND || nuse >= 2)) {
		struct pv_buf e;
		pv_buf_init(&e, 4 * PV_QUERY_MAX + 1024);
		if (n->op == IQ_AND) {
			fts_and(c, n, use, &e);
		} else {
			out(c, &e, "(");
			for (size_t i = 0, k = 0; i < n->nkids; i++)
				if (use[i]) {
					out(c, &e, k++ ? " OR " : "");
					fts(c, n->kids[i], &e);
				}
			out(c, &e, ")");
		}
		in_fts(c, b, &e);
		pv_buf_free(&e);
		first = false;
	}
	for (size_t i = 0; i < n->nkids; i++) {
		if (use[i])
			continue;
		if (!first)
			out(c, b, sep);
		sql(c, n->kids[i], b);
		first = false;
	}
	out(c, b, ")");
}

static void sql(struct comp *c, const struct index_query_node *n, struct pv_buf *b)
{
	if (c->r != PV_OK)
		return;
	if (pure(n)) {
		struct pv_buf e;
		pv_buf_init(&e, 4 * PV_QUERY_MAX + 1024);
		fts(c, n, &e);
		in_fts(c, b, &e);
		pv_buf_free(&e);
	} else if (n->op == IQ_TERM) {
		predicate(c, n, b);
	} else if (n->op == IQ_NOT) {
		out(c, b, "NOT (");
		sql(c, n->kids[0], b);
		out(c, b, ")");
	} else {
		sql_list(c, n, b);
	}
}

int64_t index_query_key(int64_t date, int64_t id)
{
	const int64_t half = (int64_t)1 << 33;
	if (date < -half)
		date = -half;
	if (date >= half)
		date = half - 1;
	return ((date + half) << INDEX_KEY_ID_BITS) | (id & (INDEX_KEY_ID_MAX - 1));
}

static bool is_date(const struct index_query_node *n)
{
	return n->op == IQ_TERM &&
	       (n->field == IQF_BEFORE || n->field == IQF_AFTER || n->field == IQF_ON);
}

/* A date term of the top level narrows the sort-key range. */
static void narrow(struct index_query_sql *s, const struct index_query_node *n)
{
	int64_t lo = INT64_MIN, hi = INT64_MAX;
	if (n->field == IQF_AFTER || n->field == IQF_ON)
		lo = index_query_key(n->num, 0);
	if (n->field == IQF_BEFORE)
		hi = index_query_key(n->num, 0);
	if (n->field == IQF_ON)
		hi = index_query_key(n->num + 86400, 0);
	if (lo > s->lo)
		s->lo = lo;
	if (hi < s->hi)
		s->hi = hi;
}

int index_query_compile(const struct index_query *q, struct index_query_sql *s,
	struct pv_error *err)
{
	memset(s, 0, sizeof(*s));
	s->lo = INT64_MIN;
	s->hi = INT64_MAX;
	pv_buf_init(&s->where, 16 * PV_QUERY_MAX + 4096);
	struct comp c = {.sql = s, .err = err};
	const struct index_query_node *n = q->root;
	struct pv_buf m;
	pv_buf_init(&m, 4 * PV_QUERY_MAX + 1024);
	if (n == NULL) {
		out(&c, &s->where, "1");
	} else if (pure(n)) {
		fts(&c, n, &m);
		out(&c, &s->where, "1");
	} else if (neg_pure(n)) {
		/* every document but these: the FTS index alone answers it */
		out(&c, &m, "({every} : \"" INDEX_EVERY_TOKEN "\" NOT ");
		fts(&c, n->kids[0], &m);
		out(&c, &m, ")");
		out(&c, &s->where, "1");
	} else if (is_date(n)) {
		narrow(s, n);
		out(&c, &s->where, "1");
	} else if (n->op == IQ_AND) {
		/* The top-level AND drives the search from the FTS index when it
		 * can (with the token every document has when it only excludes),
		 * its dates as a range of sort keys. */
		bool use[PV_QUERY_TERMS_MAX + 1], any = false, neg = false;
		for (size_t i = 0; i < n->nkids; i++) {
			use[i] = pure(n->kids[i]) || neg_pure(n->kids[i]);
			any |= pure(n->kids[i]);
			neg |= neg_pure(n->kids[i]);
			if (is_date(n->kids[i]))
				narrow(s, n->kids[i]);
		}
		if (any) {
			fts_and(&c, n, use, &m);
		} else if (neg) {
			out(&c, &m, "({every} : \"" INDEX_EVERY_TOKEN "\"");
			for (size_t i = 0; i < n->nkids; i++)
				if (use[i]) {
					out(&c, &m, " NOT ");
					fts(&c, n->kids[i]->kids[0], &m);
				}
			out(&c, &m, ")");
		}
		bool first = true;
		for (size_t i = 0; i < n->nkids; i++) {
			if (((any || neg) && use[i]) || is_date(n->kids[i]))
				continue;
			out(&c, &s->where, first ? "" : " AND ");
			sql(&c, n->kids[i], &s->where);
			first = false;
		}
		if (first)
			out(&c, &s->where, "1");
	} else {
		sql(&c, n, &s->where);
	}
	if (c.r == PV_OK && m.len > 0 && (s->match = strdup(pv_buf_str(&m))) == NULL)
		c.r = pv_fail(err, PV_ERR, "out of memory");
	pv_buf_free(&m);
	return c.r;
}

void index_query_sql_free(struct index_query_sql *s)
{
	for (size_t i = 0; i < s->nparams; i++)
		free(s->params[i].text);
	free(s->params);
	free(s->match);
	pv_buf_free(&s->where);
	memset(s, 0, sizeof(*s));
}
