/* The outside evidence bundles carry (anchor.h, audit/bundle_external.h). */
#include "archiver/archive/anchor.h"

#include <stdbool.h>

#include "archiver/store/anchors.h"

struct gather {
	struct bundle_external *x;
	struct pv_error *err;
};

static int add_token(void *ctx, const struct anchor_token_row *row)
{
	struct gather *g = ctx;
	if (g->x->n_stamps >= PV_BUNDLE_TIMESTAMPS_MAX)
		return 1;
	return bundle_external_add_stamp(g->x, row->size, row->note.data, row->note.len,
					 row->token.data, row->token.len, g->err);
}

/* One cosigned checkpoint: its note, then every witness's line. */
struct cosigned {
	struct pv_buf note;
	uint64_t size;
	bool started;
};

static int add_line(void *ctx, const struct anchor_cosig_row *row)
{
	struct cosigned *c = ctx;
	if (!c->started) {
		c->started = true;
		c->size = row->size;
		if (pv_buf_append(&c->note, row->note.data, row->note.len, NULL) < 0)
			return PV_ELIMIT;
	}
	return pv_buf_append_str(&c->note, row->line, NULL) < 0 ? PV_ELIMIT : 0;
}

int archive_anchor_evidence(struct archive *ar, const char *name, uint64_t max_size,
			    struct bundle_external *x, struct pv_error *err)
{
	struct gather g = {x, err};
	uint64_t seqs[PV_BUNDLE_TIMESTAMPS_MAX];
	size_t n = 0;
	/* Newest first: the stamps nearest the bundle's own checkpoint. */
	int r = anchors_token_each(ar->cat->conn, name, true, max_size, 0, add_token, &g, err);
	if (r == 1)
		r = 0;
	if (r == 0)
		r = anchors_cosig_checkpoints(ar->cat->conn, name, max_size, seqs,
					      PV_BUNDLE_TIMESTAMPS_MAX, &n, err);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct cosigned c = {.started = false};
		pv_buf_init(&c.note, PV_NOTE_MAX);
		r = anchors_cosig_each(ar->cat->conn, name, seqs[i], add_line, &c, err);
		if (r == PV_ELIMIT)
			r = pv_fail(err, r, "a cosigned checkpoint is too long");
		if (r == 0 && c.started)
			r = bundle_external_add_cosigned(x, c.size, c.note.data, c.note.len, err);
		pv_buf_free(&c.note);
	}
	return r;
}
