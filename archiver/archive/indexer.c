#include "archiver/archive/indexer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "archiver/index/index.h"
#include "archiver/index/mime.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/store/message.h"

/* Messages indexed per transaction: amortises the commit, bounds the work
 * lost if the process stops. */
#define INDEXER_BATCH 200 /* also the LIMIT in the query below */

static int index_one(struct archive *ar, int64_t id, struct pv_buf *raw, bool *ok_r,
		     struct pv_error *err)
{
	struct stored_message m;
	struct pv_error e;
	*ok_r = false;
	int r = message_load(ar->cat->db, id, &m, &e);
	if (r == PV_OK) {
		pv_buf_reset(raw);
		r = message_read(ar, &m, blob_sink_prefix, raw, &e);
	}
	if (r < 0) {
		pv_log(PV_LOG_WARN, "index.skip", "message %lld not indexed: %s", (long long)id, e.msg);
		return PV_OK;
	}
	*ok_r = true;
	return index_add(ar->cat->db, id, m.account, m.received_at, raw->data ? raw->data : (const unsigned char *)"",
			 raw->len, err);
}

/* PDF attachment text comes from poppler's pdftotext (packaging/deps.sh
 * installs it), run confined in a child process; without it PDFs are
 * found by name only. */
#define INDEXER_PDFTOTEXT "/usr/bin/pdftotext"

int indexer_catch_up(struct archive *ar, int64_t *indexed_r, int64_t *failed_r,
		     struct pv_error *err)
{
	static bool pdf_checked;
	if (!pdf_checked) {
		pdf_checked = true;
		if (access(INDEXER_PDFTOTEXT, X_OK) == 0)
			index_mime_set_pdftotext(INDEXER_PDFTOTEXT);
	}
	sqlite3_stmt *st;
	struct pv_buf raw;
	int64_t indexed = 0, failed = 0, last = 0;
	int r;

	if ((r = index_ensure_schema(ar->cat->db, err)) < 0)
		return r;
	pv_buf_init(&raw, PV_INDEX_RAW_MAX);
	if ((r = catalog_prepare(ar->cat->db,
				 "SELECT m.id FROM messages m WHERE m.disposed_at IS NULL AND m.id > ?"
				 " AND NOT EXISTS (SELECT 1 FROM idx_doc d WHERE d.id = m.id)"
				 " ORDER BY m.id LIMIT 200",
				 &st, err)) < 0) {
		pv_buf_free(&raw);
		return r;
	}
	for (;;) {
		int64_t ids[INDEXER_BATCH];
		int n = 0;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, last);
		while (n < INDEXER_BATCH && sqlite3_step(st) == SQLITE_ROW)
			ids[n++] = sqlite3_column_int64(st, 0);
		if (n == 0)
			break;
		last = ids[n - 1];
		if ((r = catalog_begin(ar->cat, err)) < 0)
			break;
		for (int i = 0; i < n && r == PV_OK; i++) {
			bool ok;
			r = index_one(ar, ids[i], &raw, &ok, err);
			if (ok)
				indexed++;
			else
				failed++;
		}
		if (r == PV_OK)
			r = catalog_commit(ar->cat, err);
		else
			catalog_rollback(ar->cat);
		if (r < 0)
			break;
	}
	sqlite3_finalize(st);
	pv_buf_free(&raw);
	if (indexed_r)
		*indexed_r = indexed;
	if (failed_r)
		*failed_r = failed;
	return r;
}

int indexer_rebuild(struct archive *ar, int64_t *indexed_r, int64_t *failed_r,
		    struct pv_error *err)
{
	int r = index_clear(ar->cat->db, err);
	if (r < 0)
		return r;
	return indexer_catch_up(ar, indexed_r, failed_r, err);
}
