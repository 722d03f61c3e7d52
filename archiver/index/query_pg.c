#include "archiver/index/query_pg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/index/fts_tokens.h"
#include "archiver/index/text.h"
#include "archiver/index/tsvector.h"
#include "archiver/lib/limits.h"

/* A compiled subtree: a constant, a tsquery not yet placed in the SQL
 * (so that its neighbours can join it), or SQL.
 *
 * A tsquery that matches a message holding none of its words (a NOT, or
 * an AND of NOTs) is "negative": GIN can only answer it by reading the
 * whole index, and the planner then tests every row's vector instead
 * (each read from TOAST: about 60 times FTS5's time, measured). Such a
 * part keeps its complement, a positive tsquery, and is placed as "no row
 * of the GIN index's answer to the complement" (place). A negative
 * tsquery is joined with a positive one only by &, which keeps it
 * positive. */
enum part_kind { P_FALSE, P_TRUE, P_TSQ, P_SQL };

struct part {
	enum part_kind kind;
	struct pv_buf s; /* P_TSQ: tsquery text; P_SQL: SQL */
	bool neg;        /* P_TSQ: negative; s is "!(inner)" */
	struct pv_buf inner;
};

struct comp {
	struct index_query_pg *pg;
	struct pv_error *err;
	int r;
};

#define PART_MAX (64 * PV_QUERY_MAX + 65536)

static void part_init(struct part *p, enum part_kind k)
{
	p->kind = k;
	p->neg = false;
	pv_buf_init(&p->s, PART_MAX);
	pv_buf_init(&p->inner, PART_MAX);
}

static void part_free(struct part *p)
{
	pv_buf_free(&p->s);
	pv_buf_free(&p->inner);
}

static void out(struct comp *c, struct pv_buf *b, const char *s)
{
	if (c->r == PV_OK)
		c->r = pv_buf_append_str(b, s, c->err);
}

/* A new $n for text; its number. */
static size_t param(struct comp *c, const char *text)
{
	if (c->r != PV_OK)
		return 0;
	struct index_query_pg *pg = c->pg;
	char **v = realloc(pg->params, (pg->nparams + 1) * sizeof(*v));
	if (v == NULL || (v[pg->nparams] = strdup(text)) == NULL) {
		if (v != NULL)
			pg->params = v;
		c->r = pv_fail(c->err, PV_ERR, "out of memory");
		return 0;
	}
	pg->params = v;
	return ++pg->nparams;
}

static void out_param(struct comp *c, struct pv_buf *b, const char *text, const char *cast)
{
	size_t n = param(c, text);
	if (c->r == PV_OK)
		c->r = pv_buf_printf(b, c->err, "$%zu%s", n, cast);
}

static void out_num(struct comp *c, struct pv_buf *b, int64_t v)
{
	char s[32];
	snprintf(s, sizeof(s), "%" PRId64, v);
	out_param(c, b, s, "::bigint");
}

static const enum index_column field_cols[][5] = {
	[IQF_ANY] = {0}, /* every column: field_col */
	[IQF_FROM] = {INDEX_COL_FROM}, [IQF_TO] = {INDEX_COL_TO}, [IQF_CC] = {INDEX_COL_CC},
	[IQF_BCC] = {INDEX_COL_BCC}, [IQF_PARTICIPANT] = {INDEX_COL_FROM, INDEX_COL_TO,
		INDEX_COL_CC, INDEX_COL_BCC},
	[IQF_SUBJECT] = {INDEX_COL_SUBJECT}, [IQF_BODY] = {INDEX_COL_BODY},
	[IQF_FILENAME] = {INDEX_COL_FILENAME, INDEX_COL_CTYPE},
};
static const size_t field_ncols[] = {
	[IQF_ANY] = INDEX_COLUMNS, [IQF_FROM] = 1, [IQF_TO] = 1, [IQF_CC] = 1, [IQF_BCC] = 1,
	[IQF_PARTICIPANT] = 4, [IQF_SUBJECT] = 1, [IQF_BODY] = 1, [IQF_FILENAME] = 2,
};

/* The columns of field f, the i-th. IQF_ANY: every column, in order. */
static enum index_column field_col(enum index_query_field f, size_t i)
{
	return f == IQF_ANY ? (enum index_column)i : field_cols[f][i];
}

struct tokens {
	char **v;
	size_t n;
	bool too_long;
	struct pv_error *err;
};

static int on_token(void *ctx, const char *tok, size_t n, size_t pos)
{
	(void)pos;
	struct tokens *t = ctx;
	if (n + 2 > INDEX_PG_LEXEME_MAX) /* never in a document's vector */
		t->too_long = true;
	char **v = realloc(t->v, (t->n + 1) * sizeof(*v));
	if (v == NULL)
		return pv_fail(t->err, PV_ERR, "out of memory");
	t->v = v;
	if ((v[t->n] = strndup(tok, n)) == NULL)
		return pv_fail(t->err, PV_ERR, "out of memory");
	t->n++;
	return 0;
}

/* A text term: the tsquery of its phrase in each of its columns. */
static void text_term(struct comp *c, const struct index_query_node *n, struct part *p)
{
	const char *t = n->text;
	size_t tn = strlen(t);
	struct pv_buf split;
	struct tokens toks = {NULL, 0, false, c->err};
	pv_buf_init(&split, 2 * tn + 16);
	if (c->r == PV_OK && index_text_has_cjk(t, tn)) { /* as the index was written */
		c->r = index_text_cjk_split(t, tn, &split, c->err);
		t = pv_buf_str(&split);
		tn = split.len;
	}
	if (c->r == PV_OK)
		c->r = index_fts_tokenize(t, tn, on_token, &toks, c->err);
	if (c->r == PV_OK && (toks.n == 0 || toks.too_long)) {
		part_init(p, P_FALSE); /* FTS5's empty phrase matches nothing */
	} else if (c->r == PV_OK) {
		part_init(p, P_TSQ);
		c->pg->positions |= toks.n > 1;
		size_t ncols = field_ncols[n->field];
		out(c, &p->s, ncols > 1 ? "(" : "");
		for (size_t i = 0; i < ncols; i++) {
			out(c, &p->s, i ? " | " : "");
			out(c, &p->s, toks.n > 1 && ncols > 1 ? "(" : "");
			for (size_t k = 0; k < toks.n && c->r == PV_OK; k++) {
				out(c, &p->s, k ? " <-> " : "");
				if (c->r == PV_OK)
					c->r = index_pg_lexeme(&p->s, field_col(n->field, i), toks.v[k],
						strlen(toks.v[k]), c->err);
			}
			out(c, &p->s, toks.n > 1 && ncols > 1 ? ")" : "");
		}
		out(c, &p->s, ncols > 1 ? ")" : "");
	} else {
		part_init(p, P_FALSE);
	}
	for (size_t i = 0; i < toks.n; i++)
		free(toks.v[i]);
	free(toks.v);
	pv_buf_free(&split);
}

static void predicate(struct comp *c, const struct index_query_node *n, struct part *p)
{
	part_init(p, P_SQL);
	struct pv_buf *b = &p->s;
	switch (n->field) {
	case IQF_HAS_ATTACHMENT:
		out(c, b, "d.has_attachment");
		break;
	case IQF_BEFORE:
		out(c, b, "d.date < ");
		out_num(c, b, n->num);
		break;
	case IQF_AFTER:
		out(c, b, "d.date >= ");
		out_num(c, b, n->num);
		break;
	case IQF_ON:
		out(c, b, "(d.date >= ");
		out_num(c, b, n->num);
		out(c, b, " AND d.date < ");
		out_num(c, b, n->num + 86400);
		out(c, b, ")");
		break;
	case IQF_LARGER:
		out(c, b, "d.size > ");
		out_num(c, b, n->num);
		break;
	case IQF_SMALLER:
		out(c, b, "d.size < ");
		out_num(c, b, n->num);
		break;
	case IQF_ACCOUNT:
		out(c, b, "d.account = ");
		out_param(c, b, n->text, "::text");
		break;
	case IQF_MESSAGE_ID:
		out(c, b, "d.message_id = ");
		out_param(c, b, n->text, "::text");
		break;
	default:
		c->r = pv_fail(c->err, PV_ERR, "internal: text field as predicate");
	}
}

/* A tsquery part placed in the SQL: "d.tv @@ $n::tsquery"; a negative
 * one as "not among the rows its complement finds". "x.id + 0" keeps
 * the primary key out of that inner scan: the planner would read every
 * row by it and test its vector rather than ask the GIN index. */
static void place(struct comp *c, struct part *p, size_t *param_r)
{
	if (p->kind != P_TSQ)
		return;
	struct pv_buf sql;
	pv_buf_init(&sql, PART_MAX);
	out(c, &sql, p->neg ? "NOT EXISTS (SELECT 1 FROM idx_doc x WHERE x.id + 0 = d.id"
			      " AND x.tv @@ " : "d.tv @@ ");
	size_t n = param(c, pv_buf_str(p->neg ? &p->inner : &p->s));
	if (c->r == PV_OK)
		c->r = pv_buf_printf(&sql, c->err, "$%zu::tsquery%s", n, p->neg ? ")" : "");
	if (param_r)
		*param_r = p->neg ? 0 : n; /* a negative query ranks nothing */
	part_free(p);
	part_init(p, P_SQL);
	pv_buf_free(&p->s);
	p->s = sql;
}

/* p (a tsquery) becomes its negation: "!(p)", p kept as the complement. */
static void negate(struct comp *c, struct part *p)
{
	struct pv_buf t = p->inner;
	p->inner = p->s;
	p->s = t;
	pv_buf_reset(&p->s);
	out(c, &p->s, "!(");
	out(c, &p->s, pv_buf_str(&p->inner));
	out(c, &p->s, ")");
	p->neg = true;
}

/* Appends text to into, joined by op to what it holds: "(a) op (b)". */
static void join(struct comp *c, struct part *into, enum part_kind kind, const char *op,
	const char *text)
{
	out(c, &into->s, into->kind == kind ? op : "(");
	out(c, &into->s, into->kind == kind ? "(" : "");
	out(c, &into->s, text);
	out(c, &into->s, ")");
	into->kind = kind;
}

static void compile(struct comp *c, const struct index_query_node *n, struct part *p);

/* AND or OR of the kids: constants folded, the positive tsquery kids
 * joined into one, the negative ones into another (by their complements:
 * !a & !b is !(a | b)), the SQL kids beside them. */
static void list(struct comp *c, const struct index_query_node *n, struct part *p,
	size_t *rank_r)
{
	bool and = n->op == IQ_AND;
	enum part_kind absorbing = and ? P_FALSE : P_TRUE, identity = and ? P_TRUE : P_FALSE;
	struct part tsq, sql, negs;
	part_init(&tsq, identity);
	part_init(&sql, identity);
	part_init(&negs, identity);
	bool done = false;
	size_t nparams = c->pg->nparams;
	for (size_t i = 0; i < n->nkids && !done && c->r == PV_OK; i++) {
		struct part k;
		compile(c, n->kids[i], &k);
		if (k.kind == absorbing)
			done = true;
		else if (k.kind == P_SQL)
			join(c, &sql, P_SQL, and ? " AND " : " OR ", pv_buf_str(&k.s));
		else if (k.kind == P_TSQ && k.neg)
			join(c, &negs, P_TSQ, and ? " | " : " & ", pv_buf_str(&k.inner));
		else if (k.kind == P_TSQ)
			join(c, &tsq, P_TSQ, and ? " & " : " | ", pv_buf_str(&k.s));
		part_free(&k);
	}
	if (done) {
		/* the kids' parameters go with them: PostgreSQL refuses one unused */
		while (c->pg->nparams > nparams)
			free(c->pg->params[--c->pg->nparams]);
		part_init(p, absorbing);
		goto out;
	}
	if (negs.kind == P_TSQ) {
		negate(c, &negs);
		if (and && tsq.kind == P_TSQ) { /* a & !(b): positive, one GIN scan */
			join(c, &tsq, P_TSQ, " & ", pv_buf_str(&negs.s));
		} else if (tsq.kind == P_TSQ || sql.kind == P_SQL) {
			place(c, &negs, NULL);
			join(c, &sql, P_SQL, and ? " AND " : " OR ", pv_buf_str(&negs.s));
		} else { /* negative kids alone: a negative tsquery */
			part_free(&tsq);
			tsq = negs;
			part_init(&negs, identity);
		}
	}
	if (sql.kind != P_SQL) {
		*p = tsq; /* the tsquery alone, or the identity when neither */
		part_init(&tsq, identity);
	} else {
		part_init(p, P_SQL);
		if (tsq.kind == P_TSQ) {
			place(c, &tsq, rank_r);
			out(c, &p->s, "(");
			out(c, &p->s, pv_buf_str(&tsq.s));
			out(c, &p->s, and ? " AND " : " OR ");
			out(c, &p->s, pv_buf_str(&sql.s));
			out(c, &p->s, ")");
		} else {
			out(c, &p->s, pv_buf_str(&sql.s));
		}
	}
out:
	part_free(&tsq);
	part_free(&sql);
	part_free(&negs);
	if (!and && rank_r)
		*rank_r = 0; /* an OR's tsquery is not matched by every result */
}

static void compile(struct comp *c, const struct index_query_node *n, struct part *p)
{
	if (c->r != PV_OK) {
		part_init(p, P_FALSE);
		return;
	}
	if (n->op == IQ_TERM) {
		if (index_query_field_is_text(n->field))
			text_term(c, n, p);
		else
			predicate(c, n, p);
	} else if (n->op == IQ_NOT) {
		struct part k;
		compile(c, n->kids[0], &k);
		if (k.kind == P_TSQ && k.neg) { /* NOT of a negative: its complement */
			*p = k;
			struct pv_buf t = p->s;
			p->s = p->inner;
			p->inner = t;
			p->neg = false;
			return;
		}
		if (k.kind == P_TSQ) {
			negate(c, &k);
			*p = k;
			return;
		}
		part_init(p, k.kind == P_FALSE ? P_TRUE : k.kind == P_TRUE ? P_FALSE : k.kind);
		if (k.kind == P_SQL) {
			out(c, &p->s, "NOT (");
			out(c, &p->s, pv_buf_str(&k.s));
			out(c, &p->s, ")");
		}
		part_free(&k);
	} else {
		list(c, n, p, NULL);
	}
}

int index_query_compile_pg(const struct index_query *q, struct index_query_pg *pg,
	struct pv_error *err)
{
	memset(pg, 0, sizeof(*pg));
	pv_buf_init(&pg->where, PART_MAX);
	struct comp c = {.pg = pg, .err = err};
	struct part p;
	if (q->root == NULL)
		part_init(&p, P_TRUE);
	else if (q->root->op == IQ_AND || q->root->op == IQ_OR)
		list(&c, q->root, &p, &pg->rank_param); /* the top AND's tsquery ranks */
	else
		compile(&c, q->root, &p);
	if (p.kind == P_TSQ && q->root->op != IQ_NOT)
		place(&c, &p, &pg->rank_param);
	else
		place(&c, &p, NULL);
	out(&c, &pg->where, p.kind == P_TRUE ? "TRUE" : p.kind == P_FALSE ? "FALSE"
									 : pv_buf_str(&p.s));
	part_free(&p);
	return c.r;
}

void index_query_pg_free(struct index_query_pg *pg)
{
	for (size_t i = 0; i < pg->nparams; i++)
		free(pg->params[i]);
	free(pg->params);
	pv_buf_free(&pg->where);
	memset(pg, 0, sizeof(*pg));
}
