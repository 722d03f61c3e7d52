#ifndef PV_INDEX_TSVECTOR_H
#define PV_INDEX_TSVECTOR_H

/* A message's index row (index.h) as a PostgreSQL tsvector, for the
 * PostgreSQL search backend (archiver/archive/search_pg.c); no libpq here,
 * only the text PostgreSQL reads.
 *
 * One tsvector holds every column: each token (fts_tokens.h: the very
 * tokens idx_fts holds) is prefixed with its column's letter
 * ('f:alice' in From, 'm:alice' in the body), so a field is a set of
 * prefixes and a phrase never spans two columns (FTS5's column filter does
 * the same). Positions count from 1 in each column.
 *
 * PostgreSQL's limits, and what they cost (docs/SCALE.md, "Search on
 * PostgreSQL"): a position past 16383 in a column, and a word's
 * occurrences past its 256th in a column, are not recorded (the word
 * still is: it is found, but a phrase is not found there; nothing false is
 * found); a token longer than INDEX_PG_LEXEME_MAX bytes is left out (it
 * cannot be found); when the vector would pass PostgreSQL's 1 MB, the
 * body's positions are left out (phrases in the body are not found), and
 * then the body's words past the budget, in order of first occurrence. */

#include <stddef.h>

#include "archiver/index/index.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

#define INDEX_PG_POS_MAX 16383    /* PostgreSQL's MAXENTRYPOS - 1 */
#define INDEX_PG_NPOS_MAX 256     /* positions kept per lexeme (MAXNUMPOS) */
#define INDEX_PG_LEXEME_MAX 2046  /* bytes, prefix included (MAXSTRLEN is 2047) */
#define INDEX_PG_VECTOR_MAX 1000000 /* lexemes and positions, under MAXSTRPOS (1 MB) */

/* What index_row_tsvector had to leave out (bits). */
#define INDEX_PG_CUT_POSITIONS 1 /* some positions (past a limit above) */
#define INDEX_PG_CUT_LONG 2      /* tokens longer than INDEX_PG_LEXEME_MAX */
#define INDEX_PG_CUT_BODY_POS 4  /* every body position (the vector was too big) */
#define INDEX_PG_CUT_BODY 8      /* body words past the budget */

/* The letter that prefixes column c's lexemes ("f" for From, ...). */
extern const char *const index_pg_column_prefix[INDEX_COLUMNS];

/* Appends row's tsvector as PostgreSQL's tsvector input syntax to out
 * (cast it: $1::tsvector); *cut_r gets INDEX_PG_CUT_* bits. */
int index_row_tsvector(const struct index_row *row, struct pv_buf *out, unsigned *cut_r,
	struct pv_error *err) PV_WARN_UNUSED;

/* Appends tok[0..n) as a quoted lexeme prefixed for column c:
 * 'c:tok' with ' and \ escaped. */
int index_pg_lexeme(struct pv_buf *out, enum index_column c, const char *tok, size_t n,
	struct pv_error *err) PV_WARN_UNUSED;

#endif
