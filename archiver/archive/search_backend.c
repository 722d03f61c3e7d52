#include "archiver/archive/search_backend.h"

#include <stdlib.h>

#include "archiver/index/mime.h"

int search_backend_add_docs(struct search_backend *b, const struct index_batch_doc *v,
	size_t n, struct pv_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id <= 0 || v[i].account == NULL)
			return pv_fail(err, PV_EUSAGE, "index: bad message id %lld", (long long)v[i].id);
	return b->ops->add_docs(b, v, n, err);
}

int search_backend_add(struct search_backend *b, int64_t id, const char *account,
	int64_t received_at, const unsigned char *raw, size_t len, struct pv_error *err)
{
	struct index_doc d;
	int r = index_mime_extract(raw, len, &d, err);
	if (r == PV_OK) {
		struct index_batch_doc one = {id, account, received_at, len, &d};
		r = search_backend_add_docs(b, &one, 1, err);
	}
	index_doc_free(&d);
	return r;
}

int search_backend_remove(struct search_backend *b, int64_t id, struct pv_error *err)
{
	return b->ops->remove(b, id, err);
}

int search_backend_clear(struct search_backend *b, struct pv_error *err)
{
	return b->ops->clear(b, err);
}

int search_backend_count(struct search_backend *b, int64_t *n_r, struct pv_error *err)
{
	return b->ops->count(b, n_r, err);
}

int search_backend_search(struct search_backend *b, const char *query,
	const struct index_order *order, int64_t count_cap, int64_t limit, int64_t offset,
	struct index_hits *hits_r, int64_t *total_r, bool *exact_r, struct pv_error *err)
{
	bool exact = true;
	int r = b->ops->search(b, query, order, count_cap, limit, offset, hits_r, total_r, &exact,
		err);
	if (exact_r != NULL)
		*exact_r = exact;
	return r;
}

int search_backend_match_ids(struct search_backend *b, const char *query, int64_t **ids_r,
	size_t *n_r, struct pv_error *err)
{
	return b->ops->match_ids(b, query, ids_r, n_r, err);
}

int search_backend_indexed(struct search_backend *b, const int64_t *ids, size_t n,
	bool *indexed_r, struct pv_error *err)
{
	return b->ops->indexed(b, ids, n, indexed_r, err);
}

int search_backend_mark_failed(struct search_backend *b, int64_t id, const char *reason,
	int64_t at, struct pv_error *err)
{
	return b->ops->mark_failed(b, id, reason, at, err);
}

int search_backend_purge(struct search_backend *b, struct pv_error *err)
{
	return b->ops->purge(b, err);
}

int search_backend_merge_step(struct search_backend *b, int pages, bool full, bool *done_r,
	struct pv_error *err)
{
	return b->ops->merge_step(b, pages, full, done_r, err);
}

int search_backend_segments(struct search_backend *b, int64_t *n_r, struct pv_error *err)
{
	return b->ops->segments(b, n_r, err);
}

const char *search_backend_name(const struct search_backend *b)
{
	return b->ops->name;
}

void search_backend_close(struct search_backend **b)
{
	if (*b == NULL)
		return;
	(*b)->ops->close(*b);
	*b = NULL;
}
