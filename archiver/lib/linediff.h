#ifndef PV_LINEDIFF_H
#define PV_LINEDIFF_H

/* A line diff of two texts (longest common subsequence of lines), to show
 * two versions of a retention policy side by side. Lines end at "\n"; a
 * last line without one counts as a line. */

#include <stddef.h>

#include "archiver/lib/error.h"

enum pv_diff_op {
	PV_DIFF_SAME, /* in both */
	PV_DIFF_DEL,  /* only in a */
	PV_DIFF_ADD,  /* only in b */
};

struct pv_diff_line {
	enum pv_diff_op op;
	const char *text; /* points into a or b; without its "\n" */
	size_t len;
	size_t a_line, b_line; /* 1-based line numbers; 0 on the side it is not in */
};

/* The lines of a and b in order, each marked; *v_r is malloc'ed (the
 * caller frees it) and points into a and b. PV_ELIMIT when the changed
 * middle is over PV_LINEDIFF_CELLS_MAX lines x lines. */
int pv_line_diff(const char *a, size_t alen, const char *b, size_t blen,
		 struct pv_diff_line **v_r, size_t *n_r, struct pv_error *err);

#endif
