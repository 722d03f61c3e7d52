/* The search backend on SQLite FTS5: index.h's functions on one database. */
#include <stdlib.h>

#include "archiver/archive/search_backend.h"
#include "archiver/index/index_par.h"

struct fts5_backend {
	struct search_backend base; /* first: the interface's pointer is ours */
	sqlite3 *db;
	sqlite3_stmt *indexed; /* prepared at its first use, kept */
	struct index_par *par; /* the count's second core, opened at the first search */
	bool par_off;          /* not (wanted, or it did not open) */
};

static sqlite3 *db_of(struct search_backend *b)
{
	return ((struct fts5_backend *)b)->db;
}

static int add_docs(struct search_backend *b, const struct index_batch_doc *v, size_t n,
	struct pv_error *err)
{
	return index_add_docs(db_of(b), v, n, err);
}

static int remove_id(struct search_backend *b, int64_t id, struct pv_error *err)
{
	return index_remove(db_of(b), id, err);
}

static int clear(struct search_backend *b, struct pv_error *err)
{
	return index_clear(db_of(b), err);
}

static int count(struct search_backend *b, int64_t *n_r, struct pv_error *err)
{
	return index_count(db_of(b), n_r, err);
}

static int search(struct search_backend *b, const char *query, const struct index_order *order,
	int64_t count_cap, int64_t limit, int64_t offset, struct index_hits *hits_r,
	int64_t *total_r, bool *exact_r, struct pv_error *err)
{
	struct fts5_backend *fb = (struct fts5_backend *)b;
	if (fb->par == NULL && !fb->par_off) {
		struct pv_error perr;
		fb->par_off = index_par_open(fb->db, &fb->par, &perr) < 0;
	}
	return index_search_par(fb->db, fb->par_off ? NULL : fb->par, query, order, count_cap,
		limit, offset, hits_r, total_r, exact_r, err);
}

static int match_ids(struct search_backend *b, const char *query, int64_t **ids_r, size_t *n_r,
	struct pv_error *err)
{
	return index_match_ids(db_of(b), query, ids_r, n_r, err);
}

static int indexed(struct search_backend *b, const int64_t *ids, size_t n, bool *indexed_r,
	struct pv_error *err)
{
	struct fts5_backend *fb = (struct fts5_backend *)b;
	if (fb->indexed == NULL &&
	    sqlite3_prepare_v2(fb->db, "SELECT 1 FROM idx_doc WHERE id = ?", -1, &fb->indexed,
		    NULL) != SQLITE_OK)
		return pv_fail(err, PV_ERR, "index: prepare: %s", sqlite3_errmsg(fb->db));
	int r = PV_OK;
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		sqlite3_reset(fb->indexed);
		sqlite3_bind_int64(fb->indexed, 1, ids[i]);
		int rc = sqlite3_step(fb->indexed);
		indexed_r[i] = rc == SQLITE_ROW;
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			r = pv_fail(err, PV_ERR, "index: %s", sqlite3_errmsg(fb->db));
	}
	sqlite3_reset(fb->indexed); /* no read transaction left open */
	return r;
}

static int mark_failed(struct search_backend *b, int64_t id, const char *reason, int64_t at,
	struct pv_error *err)
{
	return index_mark_failed(db_of(b), id, reason, at, err);
}

static int purge(struct search_backend *b, struct pv_error *err)
{
	return index_purge(db_of(b), err);
}

static int merge_step(struct search_backend *b, int pages, bool full, bool *done_r,
	struct pv_error *err)
{
	return index_merge_step(db_of(b), pages, full, done_r, err);
}

static int segments(struct search_backend *b, int64_t *n_r, struct pv_error *err)
{
	struct index_segments s;
	int r = index_segments(db_of(b), &s, err);
	*n_r = s.segments;
	return r;
}

static void close_backend(struct search_backend *b)
{
	struct fts5_backend *fb = (struct fts5_backend *)b;
	sqlite3_finalize(fb->indexed);
	index_par_free(&fb->par);
	free(b);
}

static const struct search_backend_ops fts5_ops = {
	"sqlite-fts5", add_docs, remove_id, clear, count, search, match_ids, indexed, mark_failed,
	purge, merge_step, segments, close_backend,
};

int search_backend_fts5_open(sqlite3 *db, struct search_backend **b_r, struct pv_error *err)
{
	struct fts5_backend *b = calloc(1, sizeof(*b));
	*b_r = NULL;
	if (b == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	b->base.ops = &fts5_ops;
	b->db = db;
	*b_r = &b->base;
	return PV_OK;
}

void search_backend_fts5_parallel(struct search_backend *b, bool on)
{
	if (b->ops == &fts5_ops)
		((struct fts5_backend *)b)->par_off = !on;
}
