/* The outside evidence bundles carry (anchor.h, audit/bundle_external.h). */
#include "archiver/archive/anchor.h"

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

int archive_anchor_evidence(struct archive *ar, const char *name, uint64_t max_size,
			    struct bundle_external *x, struct pv_error *err)
{
	struct gather g = {x, err};
	/* Newest first: the stamps nearest the bundle's own checkpoint. */
	int r = anchors_token_each(ar->cat->db, name, true, max_size, 0, add_token, &g, err);
	return r == 1 ? 0 : r;
}
