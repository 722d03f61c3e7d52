/* The search backend on PostgreSQL: the row and the query made by
 * archiver/index (tsvector.h, query_pg.h), stored and run by
 * archiver/store/pg_index.h. */
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/search_backend.h"
#include "archiver/index/mime.h"
#include "archiver/index/query_pg.h"
#include "archiver/index/tsvector.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/utf8.h"
#include "archiver/store/pg_index.h"

/* A message's text is at most PV_INDEX_TEXT_MAX; its vector's input text,
 * positions written out in decimal, at most a few times that. */
#define TSVECTOR_TEXT_MAX (8 * (size_t)PV_INDEX_TEXT_MAX + 65536)

struct pg_backend {
	struct search_backend base; /* first: the interface's pointer is ours */
	struct pg_index *px;
};

static struct pg_index *px_of(struct search_backend *b)
{
	return ((struct pg_backend *)b)->px;
}

/* The strings of one row, NUL-terminated copies. */
struct row_text {
	char *from, *subject, *message_id;
	struct pv_buf tv;
};

static void row_text_free(struct row_text *t)
{
	free(t->from);
	free(t->subject);
	free(t->message_id);
	pv_buf_free(&t->tv);
}

static int make_row(const struct index_batch_doc *in, struct pg_index_row *row,
	struct row_text *t, struct pv_error *err)
{
	const struct index_doc *d = in->doc;
	struct index_row ir;
	pv_buf_init(&t->tv, TSVECTOR_TEXT_MAX);
	int r = index_row_make(in->received_at, d, &ir, err);
	if (r == PV_OK)
		r = index_row_tsvector(&ir, &t->tv, &row->tv_cut, err);
	if (r == PV_OK) {
		t->from = strndup(ir.from_disp, ir.from_disp_len);
		t->subject = strndup(ir.subject_disp, ir.subject_disp_len);
		t->message_id = strndup(d->message_id.len ? (const char *)d->message_id.data : "",
			d->message_id.len);
		if (!t->from || !t->subject || !t->message_id)
			r = pv_fail(err, PV_ERR, "out of memory");
	}
	if (r == PV_OK) {
		row->id = in->id;
		row->account = in->account;
		row->date = ir.date;
		row->date_known = ir.date_known;
		row->received_at = in->received_at;
		row->size = (int64_t)in->len;
		row->has_attachment = d->has_attachment;
		row->message_id = t->message_id;
		row->from_disp = t->from;
		row->subject_disp = t->subject;
		row->truncated = d->truncated;
		row->tsvector = pv_buf_str(&t->tv);
	}
	index_row_free(&ir);
	return r;
}

static int add_docs(struct search_backend *b, const struct index_batch_doc *v, size_t n,
	struct pv_error *err)
{
	struct pg_index_row *rows = calloc(n ? n : 1, sizeof(*rows));
	struct row_text *texts = calloc(n ? n : 1, sizeof(*texts));
	int r = rows && texts ? PV_OK : pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < n && r == PV_OK; i++)
		if ((r = make_row(&v[i], &rows[i], &texts[i], err)) < 0)
			pv_error_prefix(err, "index message %lld", (long long)v[i].id);
	if (r == PV_OK)
		r = pg_index_put(px_of(b), rows, n, err);
	for (size_t i = 0; texts && i < n; i++)
		row_text_free(&texts[i]);
	free(texts);
	free(rows);
	return r;
}

static int remove_id(struct search_backend *b, int64_t id, struct pv_error *err)
{
	return pg_index_remove(px_of(b), id, err);
}

static int clear(struct search_backend *b, struct pv_error *err)
{
	return pg_index_clear(px_of(b), err);
}

static int count(struct search_backend *b, int64_t *n_r, struct pv_error *err)
{
	return pg_index_count(px_of(b), n_r, err);
}

static int compile(const char *query, struct index_query_pg *pg, struct pv_error *err)
{
	struct index_query *parsed;
	memset(pg, 0, sizeof(*pg));
	int r = index_query_parse(query, &parsed, err);
	if (r < 0)
		return r;
	r = index_query_compile_pg(parsed, pg, err);
	index_query_free(&parsed);
	return r;
}

static struct pg_index_query pg_query(const struct index_query_pg *pg)
{
	return (struct pg_index_query){pv_buf_str(&pg->where), (const char *const *)pg->params,
		pg->nparams, pg->rank_param, pg->positions};
}

static char *display_dup(const char *s)
{
	char *d = strdup(s);
	if (d != NULL)
		pv_utf8_strip_bidi(d);
	return d;
}

struct page {
	struct index_hits *hits;
	size_t cap;
	struct pv_error *err;
};

static int on_hit(void *ctx, const struct pg_index_hit *h)
{
	struct page *p = ctx;
	if (p->hits->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		struct index_hit *v = realloc(p->hits->v, cap * sizeof(*v));
		if (v == NULL)
			return pv_fail(p->err, PV_ERR, "out of memory");
		p->hits->v = v;
		p->cap = cap;
	}
	struct index_hit *o = &p->hits->v[p->hits->n++];
	*o = (struct index_hit){h->id, h->date, h->date_known, h->size, strdup(h->account),
		display_dup(h->from_disp), display_dup(h->subject_disp), h->has_attachment};
	if (!o->account || !o->from || !o->subject)
		return pv_fail(p->err, PV_ERR, "out of memory");
	return 0;
}

static int search(struct search_backend *b, const char *query, const struct index_order *order,
	int64_t count_cap, int64_t limit, int64_t offset, struct index_hits *hits,
	int64_t *total_r, bool *exact_r, struct pv_error *err)
{
	hits->v = NULL;
	hits->n = 0;
	*total_r = 0;
	*exact_r = true;
	if (limit < 0 || limit > PV_SEARCH_LIMIT_MAX)
		return pv_fail(err, PV_EUSAGE, "limit must be 0..%d", PV_SEARCH_LIMIT_MAX);
	if (offset < 0)
		return pv_fail(err, PV_EUSAGE, "offset must not be negative");
	if (count_cap <= 0)
		return pv_fail(err, PV_EUSAGE, "a search counts up to at least 1 match");
	struct index_query_pg pg;
	int r = compile(query, &pg, err);
	if (r == PV_OK) {
		struct pg_index_query q = pg_query(&pg);
		struct page p = {hits, 0, err};
		r = pg_index_search(px_of(b), &q, order && order->by == INDEX_SORT_RELEVANCE,
			order && order->ascending, count_cap, limit, offset, total_r, exact_r, on_hit,
			&p, err);
	}
	index_query_pg_free(&pg);
	if (r < 0) {
		index_hits_free(hits);
		*total_r = 0;
		*exact_r = true;
	}
	return r;
}

static int match_ids(struct search_backend *b, const char *query, int64_t **ids_r, size_t *n_r,
	struct pv_error *err)
{
	struct index_query_pg pg;
	*ids_r = NULL;
	*n_r = 0;
	int r = compile(query, &pg, err);
	if (r == PV_OK) {
		struct pg_index_query q = pg_query(&pg);
		r = pg_index_match_ids(px_of(b), &q, ids_r, n_r, err);
	}
	index_query_pg_free(&pg);
	return r;
}

static int indexed(struct search_backend *b, const int64_t *ids, size_t n, bool *indexed_r,
	struct pv_error *err)
{
	return pg_index_indexed(px_of(b), ids, n, indexed_r, err);
}

static int mark_failed(struct search_backend *b, int64_t id, const char *reason, int64_t at,
	struct pv_error *err)
{
	return pg_index_mark_failed(px_of(b), id, reason, at, err);
}

/* Dead rows are PostgreSQL's vacuum's to reclaim. */
static int purge(struct search_backend *b, struct pv_error *err)
{
	(void)b;
	(void)err;
	return PV_OK;
}

/* GIN's pending list is flushed by autovacuum: nothing to merge here. */
static int merge_step(struct search_backend *b, int pages, bool full, bool *done_r,
	struct pv_error *err)
{
	(void)b;
	(void)pages;
	(void)full;
	(void)err;
	*done_r = true;
	return PV_OK;
}

static int segments(struct search_backend *b, int64_t *n_r, struct pv_error *err)
{
	(void)b;
	(void)err;
	*n_r = -1;
	return PV_OK;
}

static void close_backend(struct search_backend *b)
{
	struct pg_backend *pb = (struct pg_backend *)b;
	pg_index_close(&pb->px);
	free(pb);
}

static const struct search_backend_ops pg_ops = {
	"postgresql", add_docs, remove_id, clear, count, search, match_ids, indexed, mark_failed,
	purge, merge_step, segments, close_backend,
};

/* conninfo: a connection of its own; else on db. */
static int pg_backend_new(const char *conninfo, struct db *db, struct search_backend **b_r,
	struct pv_error *err)
{
	struct pg_backend *b = calloc(1, sizeof(*b));
	*b_r = NULL;
	if (b == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	int r = conninfo ? pg_index_open(conninfo, &b->px, err) : pg_index_attach(db, &b->px, err);
	if (r < 0) {
		free(b);
		return r;
	}
	b->base.ops = &pg_ops;
	*b_r = &b->base;
	return PV_OK;
}

int search_backend_pg_open(const char *conninfo, struct search_backend **b_r,
	struct pv_error *err)
{
	return pg_backend_new(conninfo, NULL, b_r, err);
}

int search_backend_pg_attach(struct db *db, struct search_backend **b_r, struct pv_error *err)
{
	return pg_backend_new(NULL, db, b_r, err);
}
