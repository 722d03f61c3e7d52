/* The index's writes, in place or on a thread of their own: see
 * index_writer.h. */
#include "archiver/archive/index_writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/search_backend.h"
#include "archiver/archive/search_open.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/thread.h"
#include "archiver/store/catalog.h"

int64_t index_through(struct archive *ar)
{
	char *v = NULL;
	int64_t id = 0;
	if (catalog_meta_get(ar->cat->conn, INDEX_THROUGH_KEY, &v, NULL) == PV_OK)
		id = strtoll(v, NULL, 10);
	free(v);
	return id > 0 ? id : 0;
}

static int write_batch(struct archive *ar, const struct index_pending_doc *docs, size_t n,
		       const struct index_failed_doc *failed, size_t n_failed, int64_t upto,
		       struct pv_error *err)
{
	struct index_batch_doc *v_docs = calloc(n ? n : 1, sizeof(*v_docs));
	struct search_backend *sb;
	char v[24];
	int r = v_docs != NULL ? archive_search_backend(ar, &sb, err)
			       : pv_fail(err, PV_ERR, "out of memory");
	if (r < 0) {
		free(v_docs);
		return r;
	}
	for (size_t i = 0; i < n; i++)
		v_docs[i] = (struct index_batch_doc){docs[i].id, docs[i].account, docs[i].received_at,
						     docs[i].size, &docs[i].doc};
	/* Derived data: a power cut may undo the last of these commits, and
	 * the next catch-up makes them again (no fsync each, which a
	 * harvest's own commits would wait behind). */
	catalog_relaxed_commits(ar->cat);
	r = db_begin(ar->cat->conn, err);
	if (r == PV_OK && n > 0)
		r = search_backend_add_docs(sb, v_docs, n, err);
	for (size_t i = 0; r == PV_OK && i < n_failed; i++)
		r = search_backend_mark_failed(sb, failed[i].id, failed[i].reason, pv_clock_now(),
					       err);
	snprintf(v, sizeof(v), "%lld", (long long)upto);
	if (r == PV_OK && upto > index_through(ar))
		r = catalog_meta_set(ar->cat->conn, INDEX_THROUGH_KEY, v, err);
	if (r == PV_OK)
		r = db_commit(ar->cat->conn, err);
	else
		db_rollback(ar->cat->conn);
	catalog_durable_commits(ar->cat);
	free(v_docs);
	return r;
}

int index_write_batch(struct archive *ar, struct index_pending_doc *docs, size_t *n,
		      const struct index_failed_doc *failed, size_t *n_failed, int64_t upto,
		      struct pv_error *err)
{
	int r = write_batch(ar, docs, *n, failed, *n_failed, upto, err);
	for (size_t i = 0; i < *n; i++)
		index_doc_free(&docs[i].doc);
	*n = *n_failed = 0;
	return r;
}

/* ---- the writer thread ---- */

struct index_writer {
	struct archive *ar;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool busy, quit;
	/* The batch in hand (busy), or emptied arrays to swap. */
	struct index_pending_doc *docs;
	struct index_failed_doc *failed;
	size_t n, n_failed;
	int64_t upto;
	int r; /* the last batch's */
	struct pv_error err;
};

static void *writer_main(void *arg)
{
	struct index_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->busy && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->busy)
			break;
		pthread_mutex_unlock(&w->mu);
		struct pv_error err;
		int r = index_write_batch(w->ar, w->docs, &w->n, w->failed, &w->n_failed, w->upto,
					  &err);
		pthread_mutex_lock(&w->mu);
		w->r = r;
		if (r < 0)
			w->err = err;
		w->busy = false;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* What start made, undone (the thread ended or never started). */
static void destroy(struct index_writer *w)
{
	archive_close(&w->ar);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->docs);
	free(w->failed);
	free(w);
}

int index_writer_start(const char *data_dir, size_t cap, struct index_writer **w_r,
		       struct pv_error *err)
{
	struct index_writer *w = calloc(1, sizeof(*w));
	int r;
	if (w == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->docs = calloc(cap, sizeof(*w->docs));
	w->failed = calloc(cap, sizeof(*w->failed));
	if (w->docs == NULL || w->failed == NULL)
		r = pv_fail(err, PV_ERR, "out of memory");
	else
		r = archive_open(data_dir, &w->ar, err);
	if (r < 0) {
		destroy(w);
		return r;
	}
	/* Signals stay with the indexer's own thread. */
	r = pv_thread_start(&w->thread, writer_main, w);
	if (r != 0) {
		destroy(w);
		return pv_fail(err, PV_ERR, "cannot start the index writer: %s", strerror(r));
	}
	*w_r = w;
	return PV_OK;
}

/* Waits (w->mu held) until no batch is in hand; that batch's status. */
static int idle_locked(struct index_writer *w, struct pv_error *err)
{
	while (w->busy)
		pthread_cond_wait(&w->cv, &w->mu);
	if (w->r < 0 && err != NULL)
		*err = w->err;
	return w->r;
}

int index_writer_hand(struct index_writer *w, struct index_pending_doc **docs, size_t *n,
		      struct index_failed_doc **failed, size_t *n_failed, int64_t upto,
		      struct pv_error *err)
{
	pthread_mutex_lock(&w->mu);
	int r = idle_locked(w, err);
	if (r == PV_OK) {
		struct index_pending_doc *d = w->docs;
		struct index_failed_doc *f = w->failed;
		w->docs = *docs;
		w->failed = *failed;
		w->n = *n;
		w->n_failed = *n_failed;
		w->upto = upto;
		*docs = d;
		*failed = f;
		*n = *n_failed = 0;
		w->busy = true;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return r;
}

int index_writer_wait(struct index_writer *w, struct pv_error *err)
{
	pthread_mutex_lock(&w->mu);
	int r = idle_locked(w, err);
	pthread_mutex_unlock(&w->mu);
	return r;
}

void index_writer_free(struct index_writer **wp)
{
	struct index_writer *w = *wp;
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	destroy(w);
	*wp = NULL;
}
