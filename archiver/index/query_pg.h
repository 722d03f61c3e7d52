#ifndef PV_INDEX_QUERY_PG_H
#define PV_INDEX_QUERY_PG_H

/* The search language (query.h) compiled for PostgreSQL: a condition on
 * `d`, a row of the PostgreSQL idx_doc table (archiver/store/pg_index.h),
 * whose column tv is the message's tsvector (tsvector.h). The same parse
 * as FTS5's, the same answers (tests/data/search/known_answers.txt, run on
 * both by tests/unit/test_search_backends.c); what differs is in
 * docs/SCALE.md, "Search on PostgreSQL".
 *
 * A text term is tokenized as idx_fts tokenizes (fts_tokens.h) and becomes
 * a tsquery: its tokens joined by <-> (adjacent, in order: FTS5's phrase)
 * under each of its field's column prefixes, OR'd. A term without a token
 * ("*", "-") matches nothing, as FTS5's empty phrase does. AND, OR and NOT
 * of text terms are one tsquery (&, |, !), so the GIN index on tv answers
 * them in one scan; except a tsquery that would match a message holding
 * none of its words (a NOT alone, an OR with a NOT), which GIN cannot
 * answer without reading all of itself: that one becomes "NOT EXISTS" a
 * row the GIN index finds for its complement. The other fields are SQL on
 * d's columns. User text
 * never enters the SQL: every value is a $n parameter (text), and tokens
 * reach the tsquery only as quoted lexemes. */

#include <stddef.h>

#include "archiver/index/query.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

struct index_query_pg {
	struct pv_buf where; /* SQL condition on d: "TRUE" for every message */
	char **params;       /* $1..$nparams, text (numbers in decimal) */
	size_t nparams;
	size_t rank_param;   /* $k: a tsquery every result matches (for ranking), 0: none */
	bool positions;      /* a phrase: GIN finds candidates, each one's vector decides */
};

/* q may have a NULL root (every message). Fills *pg_r (free with
 * index_query_pg_free, also after an error). */
int index_query_compile_pg(const struct index_query *q, struct index_query_pg *pg_r,
	struct pv_error *err) PV_WARN_UNUSED;

void index_query_pg_free(struct index_query_pg *pg);

#endif
