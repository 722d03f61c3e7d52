#include "archiver/index/tsvector.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/index/fts_tokens.h"

const char *const index_pg_column_prefix[INDEX_COLUMNS] = {
	[INDEX_COL_FROM] = "f", [INDEX_COL_TO] = "t", [INDEX_COL_CC] = "c",
	[INDEX_COL_BCC] = "b", [INDEX_COL_SUBJECT] = "s", [INDEX_COL_BODY] = "m",
	[INDEX_COL_FILENAME] = "n", [INDEX_COL_CTYPE] = "y",
};

int index_pg_lexeme(struct pv_buf *out, enum index_column c, const char *tok, size_t n,
	struct pv_error *err)
{
	int r = pv_buf_printf(out, err, "'%s:", index_pg_column_prefix[c]);
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		if (tok[i] == '\'' || tok[i] == '\\')
			r = pv_buf_append(out, tok[i] == '\'' ? "'" : "\\", 1, err);
		if (r == PV_OK)
			r = pv_buf_append(out, tok + i, 1, err);
	}
	return r == PV_OK ? pv_buf_append(out, "'", 1, err) : r;
}

/* One lexeme of a column: its positions (1-based, the first
 * INDEX_PG_NPOS_MAX within INDEX_PG_POS_MAX). */
struct lex {
	char *tok;
	size_t n;
	enum index_column col;
	uint16_t npos;
	uint16_t pos[INDEX_PG_NPOS_MAX];
};

struct vec {
	GHashTable *seen; /* "c:tok" -> struct lex (owned by order) */
	GPtrArray *order; /* first occurrence order */
	enum index_column col;
	unsigned cut;
	struct pv_error *err;
};

static void lex_free(void *p)
{
	struct lex *l = p;
	free(l->tok);
	free(l);
}

static int on_token(void *ctx, const char *tok, size_t n, size_t pos)
{
	struct vec *v = ctx;
	if (n + 2 > INDEX_PG_LEXEME_MAX) {
		v->cut |= INDEX_PG_CUT_LONG;
		return 0;
	}
	char *key = g_strdup_printf("%s:%.*s", index_pg_column_prefix[v->col], (int)n, tok);
	struct lex *l = g_hash_table_lookup(v->seen, key);
	if (l == NULL) {
		l = calloc(1, sizeof(*l));
		if (l == NULL || (l->tok = strndup(tok, n)) == NULL) {
			free(l);
			g_free(key);
			return pv_fail(v->err, PV_ERR, "out of memory");
		}
		l->n = n;
		l->col = v->col;
		g_hash_table_insert(v->seen, key, l);
		g_ptr_array_add(v->order, l);
	} else {
		g_free(key);
	}
	if (pos + 1 > INDEX_PG_POS_MAX || l->npos == INDEX_PG_NPOS_MAX)
		v->cut |= INDEX_PG_CUT_POSITIONS;
	else
		l->pos[l->npos++] = (uint16_t)(pos + 1);
	return 0;
}

/* Bytes PostgreSQL needs for l in the vector's string area: the lexeme
 * (prefix included), and with positions a 2-byte alignment, a count and
 * 2 bytes each. */
static size_t lex_size(const struct lex *l, bool positions)
{
	size_t s = l->n + 2;
	return positions && l->npos ? s + 1 + 2 + 2 * (size_t)l->npos : s;
}

int index_row_tsvector(const struct index_row *row, struct pv_buf *out, unsigned *cut_r,
	struct pv_error *err)
{
	struct vec v = {g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
		g_ptr_array_new_with_free_func(lex_free), 0, 0, err};
	int r = PV_OK;
	for (int c = 0; c < INDEX_COLUMNS && r == PV_OK; c++) {
		v.col = (enum index_column)c;
		r = index_fts_tokenize((const char *)row->text[c].data, row->text[c].len, on_token,
			&v, err);
	}
	/* over PostgreSQL's limit: the body's positions go first, then its words */
	size_t total = 0, body_pos = 0;
	for (guint i = 0; i < v.order->len; i++) {
		const struct lex *l = g_ptr_array_index(v.order, i);
		total += lex_size(l, true);
		if (l->col == INDEX_COL_BODY)
			body_pos += lex_size(l, true) - lex_size(l, false);
	}
	bool body_positions = total <= INDEX_PG_VECTOR_MAX;
	if (!body_positions) {
		v.cut |= INDEX_PG_CUT_BODY_POS;
		total -= body_pos;
	}
	size_t budget = INDEX_PG_VECTOR_MAX, used = 0;
	if (total > budget) /* what is not body always fits: headers are bounded */
		for (guint i = 0; i < v.order->len; i++) {
			const struct lex *l = g_ptr_array_index(v.order, i);
			if (l->col != INDEX_COL_BODY)
				used += lex_size(l, true);
		}
	for (guint i = 0; i < v.order->len && r == PV_OK; i++) {
		const struct lex *l = g_ptr_array_index(v.order, i);
		bool pos = l->col != INDEX_COL_BODY || body_positions;
		if (total > budget && l->col == INDEX_COL_BODY) {
			if (used + lex_size(l, false) > budget) {
				v.cut |= INDEX_PG_CUT_BODY;
				continue;
			}
			used += lex_size(l, false);
		}
		if (out->len > 0)
			r = pv_buf_append(out, " ", 1, err);
		if (r == PV_OK)
			r = index_pg_lexeme(out, l->col, l->tok, l->n, err);
		for (uint16_t k = 0; pos && k < l->npos && r == PV_OK; k++)
			r = pv_buf_printf(out, err, "%s%u", k ? "," : ":", l->pos[k]);
	}
	g_hash_table_destroy(v.seen);
	g_ptr_array_free(v.order, TRUE);
	*cut_r = v.cut;
	return r;
}
