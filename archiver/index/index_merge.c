/* Keeping the FTS5 index merged: its segments read from FTS5's structure
 * record, and the incremental 'merge' command in bounded steps. */
#include "archiver/index/index.h"

#include <stdio.h>
#include <string.h>

/* FTS5's structure record: the rowid of idx_fts_data that holds it, and
 * the marker its second format (SQLite 3.43 on) puts after the cookie. */
#define FTS5_STRUCTURE_ROWID 10
static const unsigned char fts5_structure_v2[4] = {0xff, 0x00, 0x00, 0x01};

/* A full merge starts when the segments other than the largest hold at
 * least 1/INDEX_MERGE_RATIO of its pages: every full merge rewrites the
 * whole index, so growing by an eighth between two keeps the rewriting
 * to about 8 times the index's final size over its life (FTS5's own
 * automerge rewrites each page some log4(segments) times). */
#define INDEX_MERGE_RATIO 8

/* SQLite's varint (big-endian, 7 bits a byte, the 9th byte 8 bits);
 * false past end. */
static bool get_varint(const unsigned char *p, size_t n, size_t *i, uint64_t *v_r)
{
	uint64_t v = 0;
	for (int k = 0; k < 9; k++) {
		if (*i >= n)
			return false;
		unsigned char c = p[(*i)++];
		if (k == 8) {
			*v_r = (v << 8) | c;
			return true;
		}
		v = (v << 7) | (c & 0x7f);
		if (!(c & 0x80)) {
			*v_r = v;
			return true;
		}
	}
	return false;
}

/* Decodes the structure record (fts5_index.c documents it): levels, then
 * per level the inputs of a merge under way and the segments with their
 * first and last leaf page. */
static bool decode_structure(const unsigned char *p, size_t n, struct index_segments *s)
{
	size_t i = 4; /* the configuration cookie */
	bool v2 = n >= 8 && memcmp(p + 4, fts5_structure_v2, 4) == 0;
	uint64_t levels, segs, x;
	if (v2)
		i = 8;
	if (!get_varint(p, n, &i, &levels) || !get_varint(p, n, &i, &segs) ||
	    !get_varint(p, n, &i, &x) || (v2 && !get_varint(p, n, &i, &x)))
		return false;
	s->segments = (int64_t)segs;
	for (uint64_t l = 0; l < levels; l++) {
		uint64_t merging, nseg;
		if (!get_varint(p, n, &i, &merging) || !get_varint(p, n, &i, &nseg))
			return false;
		if (merging > 0)
			s->merging = true;
		for (uint64_t k = 0; k < nseg; k++) {
			uint64_t id, first, last;
			if (!get_varint(p, n, &i, &id) || !get_varint(p, n, &i, &first) ||
			    !get_varint(p, n, &i, &last) || last + 1 < first)
				return false;
			/* v2: origin range, tombstone pages and entries, entries */
			for (int e = 0; v2 && e < 5; e++)
				if (!get_varint(p, n, &i, &x))
					return false;
			int64_t pages = (int64_t)(last + 1 - first);
			s->pages += pages;
			if (pages > s->largest_pages)
				s->largest_pages = pages;
		}
	}
	return true;
}

int index_segments(sqlite3 *db, struct index_segments *s_r, struct pv_error *err)
{
	sqlite3_stmt *st = NULL;
	memset(s_r, 0, sizeof(*s_r));
	if (db == NULL)
		return pv_fail(err, PV_ERR, "index: no SQLite index");
	if (sqlite3_prepare_v2(db, "SELECT block FROM idx_fts_data WHERE id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return pv_fail(err, PV_ERR, "index: segments: %s", sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, FTS5_STRUCTURE_ROWID);
	int rc = sqlite3_step(st), r = PV_OK;
	if (rc == SQLITE_ROW) {
		const unsigned char *p = sqlite3_column_blob(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		if (!decode_structure(p, n, s_r))
			r = pv_fail(err, PV_ERR, "index: FTS5's structure record is not as expected");
	} else if (rc != SQLITE_DONE) {
		r = pv_fail(err, PV_ERR, "index: segments: %s", sqlite3_errmsg(db));
	} /* no record: an empty table that was never written */
	sqlite3_finalize(st);
	return r;
}

/* What a step does next: continue a merge under way, start a full one,
 * or nothing. */
static int merge_pages(const struct index_segments *s, int pages, bool full)
{
	if (s->segments <= 1)
		return 0;
	if (s->merging)
		return pages; /* 'merge', +N: goes on with the merge under way */
	if (full || (s->pages - s->largest_pages) * INDEX_MERGE_RATIO >= s->largest_pages)
		return -pages; /* 'merge', -N: every segment into one, N pages a call */
	return 0;
}

int index_merge_step(sqlite3 *db, int pages, bool full, bool *done_r, struct pv_error *err)
{
	struct index_segments s;
	*done_r = true;
	if (pages < 1)
		return pv_fail(err, PV_EUSAGE, "index: merge step of %d pages", pages);
	int r = index_segments(db, &s, err);
	int n = r == PV_OK ? merge_pages(&s, pages, full) : 0;
	if (n == 0)
		return r;
	char sql[96];
	snprintf(sql, sizeof(sql), "INSERT INTO idx_fts(idx_fts, rank) VALUES ('merge', %d)", n);
	int64_t before = sqlite3_total_changes64(db);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return pv_fail(err, PV_ERR, "index: merge: %s", sqlite3_errmsg(db));
	/* FTS5's word for "nothing was left": fewer than 2 rows changed */
	if (sqlite3_total_changes64(db) - before < 2)
		return PV_OK;
	*done_r = false;
	return PV_OK;
}
