#ifndef PV_INDEX_FTS_TOKENS_H
#define PV_INDEX_FTS_TOKENS_H

/* The words of a text exactly as the search index's FTS5 table reads them:
 * SQLite's own unicode61 tokenizer with the arguments idx_fts is made with
 * (catalog migration 5: "remove_diacritics 2"), so a backend that is not
 * FTS5 (the PostgreSQL one) indexes and looks up the very same tokens —
 * folded to lower case, accents removed, split on everything that is not a
 * letter, digit or private-use character. tests/unit/test_search_backends.c
 * checks that they agree with idx_fts. */

#include <stddef.h>

#include "archiver/lib/error.h"

#define INDEX_FTS_TOKENIZER "unicode61"
#define INDEX_FTS_TOKENIZER_ARGS "remove_diacritics", "2"

/* Called once per token, in order: tok[0..n) (UTF-8, not NUL-terminated),
 * pos its 0-based position in the text. A non-zero return stops the
 * tokenizing and is returned by index_fts_tokenize. */
typedef int (*index_fts_token_fn)(void *ctx, const char *tok, size_t n, size_t pos);

/* Tokenizes text[0..len). Returns PV_OK, fn's non-zero return, or PV_ERR
 * (SQLite without FTS5, out of memory) with the reason in err. Thread-safe. */
int index_fts_tokenize(const char *text, size_t len, index_fts_token_fn fn, void *ctx,
	struct pv_error *err) PV_WARN_UNUSED;

#endif
