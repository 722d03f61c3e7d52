#ifndef PV_INDEX_QUERY_H
#define PV_INDEX_QUERY_H

/* The search language (ARCHITECTURE.md §7), Gmail-like:
 *
 *   query   := or EOF                      (empty: every message)
 *   or      := and ( "OR" and )*
 *   and     := unary ( ["AND"] unary )*    (juxtaposition is AND)
 *   unary   := ( "NOT" | "-" ) unary | primary
 *   primary := "(" or ")" | FIELD ":" value | word | "phrase"
 *   value   := word | "phrase" | "(" or ")"   (a group: text fields only;
 *                                              its bare terms take FIELD)
 *
 * Text fields (matched word by word, case and accents ignored, by the FTS5
 * unicode61 tokenizer): from: to: cc: bcc: participant: (any of those four)
 * subject: body: filename: (attachment names and types). A bare word or
 * phrase matches any of them. A term of several words ("alice@example.com"
 * is alice, example, com) matches them as a phrase.
 *
 * Other fields: has:attachment; before:D (earlier than day D), after:D (on
 * day D or later), on:D (during day D), D = YYYY-MM-DD in UTC, compared
 * with the message's Date (its receipt time when it has none, or one more
 * than a day after receipt);
 * larger:N, smaller:N, bytes of the stored message, N with an optional
 * K, M or G (powers of 1024); account:NAME and message-id:ID match exactly
 * (ID with or without <>).
 *
 * Operators: AND, OR, NOT in capitals (lower-case "and" is a word), "-" in
 * front of a term, parentheses. Field names are case-insensitive. A word
 * "name:..." whose name is letters but no field is an error, so a typo
 * never silently becomes a text search; quote it to search the text.
 *
 * Errors name the position (1-based, in characters) and what was expected:
 * "column 14: expected ')' to close '(' at column 3".
 *
 * The tree is kept shallow: a group of the operator around it is merged
 * into it (a OR (b OR c) is one OR of three), NOT NOT x is x, and what
 * cannot be merged may nest PV_QUERY_NEST_MAX operators deep. So every
 * query the parser accepts compiles to SQL and FTS5 expressions that
 * SQLite's fixed parser stacks take (tests/unit/test_query_depth.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

enum index_query_op { IQ_AND, IQ_OR, IQ_NOT, IQ_TERM };

enum index_query_field {
	IQF_ANY, IQF_FROM, IQF_TO, IQF_CC, IQF_BCC, IQF_PARTICIPANT, IQF_SUBJECT,
	IQF_BODY, IQF_FILENAME, /* text fields: above, in this order */
	IQF_HAS_ATTACHMENT, IQF_BEFORE, IQF_AFTER, IQF_ON, IQF_LARGER, IQF_SMALLER,
	IQF_ACCOUNT, IQF_MESSAGE_ID,
};

struct index_query_node {
	enum index_query_op op;
	enum index_query_field field; /* IQ_TERM */
	char *text;                   /* IQ_TERM: the word or phrase (UTF-8) */
	int64_t num;                  /* dates: unix seconds of 00:00 UTC; sizes: bytes */
	size_t column;                /* where the node starts in the query */
	struct index_query_node **kids; /* IQ_AND, IQ_OR: >= 2; IQ_NOT: 1 */
	size_t nkids;
};

struct index_query {
	struct index_query_node *root; /* NULL: the empty query, every message */
	size_t terms;
};

/* Parses q (NUL-terminated UTF-8, at most PV_QUERY_MAX bytes, at most
 * PV_QUERY_TERMS_MAX terms, parentheses and NOTs nested at most
 * PV_QUERY_DEPTH_MAX deep, operators at most PV_QUERY_NEST_MAX once
 * merged). On success *query_r is owned by the caller (index_query_free).
 * Returns PV_EUSAGE for a bad query or one past a limit (the error names
 * the limit and, but for the length, the position), PV_ERR when out of
 * memory. */
int index_query_parse(const char *q, struct index_query **query_r, struct pv_error *err)
	PV_WARN_UNUSED;

void index_query_free(struct index_query **q);

/* The 1-based column a parse error of index_query_parse names (its message
 * starts "column N: "), or 0 when it names none (a limit, out of memory). */
size_t index_query_error_column(const struct pv_error *err);

static inline bool index_query_field_is_text(enum index_query_field f)
{
	return f <= IQF_FILENAME;
}

/* SQL for a parsed query over `idx_doc d` joined to `idx_fts`
 * (archiver/index/index.c owns both tables). User text never enters the
 * SQL: every value is a bound parameter, and text terms reach FTS5 only
 * as double-quoted strings (quotes doubled), which FTS5 reads as plain
 * text to tokenize, never as operators, column filters or prefixes. */
struct index_query_param {
	bool is_text;
	char *text;
	int64_t num;
};

struct index_query_sql {
	char *match;            /* FTS5 expression every result matches, bound
	                           first; NULL when the query has none at top level */
	int64_t lo, hi;         /* every result's sort key is in [lo, hi): the
	                           date range of the top level's before:, after:
	                           and on: (INT64_MIN, INT64_MAX: none) */
	struct pv_buf where;    /* SQL condition on d and its params, "1" if none */
	struct index_query_param *params;
	size_t nparams;
};

/* A document's sort key (the index's order, newest last): its date, then
 * its id, in one integer, which is also its rowid in the FTS5 table. Ids
 * are below 2^INDEX_KEY_ID_BITS; dates in [-2^33, 2^33) seconds (1698 to
 * 2242; anything outside sorts at that end). index_query_key(date, 0) is
 * the first key of a date. */
#define INDEX_KEY_ID_BITS 29
/* The token column `every` holds in every document: a query that only
 * excludes words is "every document NOT those" to FTS5. */
#define INDEX_EVERY_TOKEN "0000000000000000"
#define INDEX_KEY_ID_MAX ((int64_t)1 << INDEX_KEY_ID_BITS)
int64_t index_query_key(int64_t date, int64_t id);

/* q may have a NULL root. Fills *sql_r (free with index_query_sql_free,
 * also after an error). */
int index_query_compile(const struct index_query *q, struct index_query_sql *sql_r,
	struct pv_error *err) PV_WARN_UNUSED;

void index_query_sql_free(struct index_query_sql *sql);

/* Quotes text as one FTS5 string: "..." with each '"' doubled. */
int index_query_fts_quote(struct pv_buf *out, const char *text, struct pv_error *err);

#endif
