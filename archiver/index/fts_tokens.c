#include "archiver/index/fts_tokens.h"

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>

/* fts5_api is reached through a private in-memory database, opened once
 * and kept for the life of the process (like text.c's pinned converters). */
static pthread_once_t api_once = PTHREAD_ONCE_INIT;
static sqlite3 *api_db;
static fts5_api *api;
static fts5_tokenizer tokenizer;
static void *tokenizer_ud;

static void api_init(void)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_open_v2(":memory:", &api_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
		    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(api_db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
	sqlite3_step(st);
	if (api != NULL &&
	    api->xFindTokenizer(api, INDEX_FTS_TOKENIZER, &tokenizer_ud, &tokenizer) != SQLITE_OK)
		api = NULL;
out:
	sqlite3_finalize(st);
}

struct tok_ctx {
	index_fts_token_fn fn;
	void *ctx;
	size_t pos;
	int r;
};

static int on_token(void *p, int flags, const char *tok, int n, int start, int end)
{
	(void)start;
	(void)end;
	struct tok_ctx *t = p;
	if (flags & FTS5_TOKEN_COLOCATED) /* a synonym at the same position: none here */
		return SQLITE_OK;
	t->r = t->fn(t->ctx, tok, (size_t)n, t->pos++);
	return t->r == 0 ? SQLITE_OK : SQLITE_ABORT;
}

int index_fts_tokenize(const char *text, size_t len, index_fts_token_fn fn, void *ctx,
	struct pv_error *err)
{
	static const char *args[] = {INDEX_FTS_TOKENIZER_ARGS};
	pthread_once(&api_once, api_init);
	if (api == NULL)
		return pv_fail(err, PV_ERR, "SQLite has no FTS5 %s tokenizer", INDEX_FTS_TOKENIZER);
	if (len > INT_MAX)
		return pv_fail(err, PV_ELIMIT, "text of %zu bytes is too long to tokenize", len);
	if (len == 0)
		return PV_OK;
	/* an instance per call: unicode61 keeps its folding buffer in it */
	Fts5Tokenizer *tk = NULL;
	if (tokenizer.xCreate(tokenizer_ud, args, sizeof(args) / sizeof(args[0]), &tk) != SQLITE_OK)
		return pv_fail(err, PV_ERR, "cannot make the FTS5 %s tokenizer", INDEX_FTS_TOKENIZER);
	struct tok_ctx t = {fn, ctx, 0, 0};
	int rc = tokenizer.xTokenize(tk, &t, FTS5_TOKENIZE_DOCUMENT, text, (int)len, on_token);
	tokenizer.xDelete(tk);
	if (t.r != 0)
		return t.r;
	if (rc != SQLITE_OK)
		return pv_fail(err, PV_ERR, "tokenize: %s", sqlite3_errstr(rc));
	return PV_OK;
}
