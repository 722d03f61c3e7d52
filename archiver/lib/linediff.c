#include "archiver/lib/linediff.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/limits.h"

struct lines {
	const char **p;
	size_t *len;
	size_t n;
};

static int split(const char *s, size_t len, struct lines *l, struct pv_error *err)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	n += len > 0 && s[len - 1] != '\n';
	l->n = 0;
	l->p = malloc((n ? n : 1) * sizeof(*l->p));
	l->len = malloc((n ? n : 1) * sizeof(*l->len));
	if (l->p == NULL || l->len == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t k = nl ? (size_t)(nl - (s + i)) : len - i;
		l->p[l->n] = s + i;
		l->len[l->n++] = k;
		i += k + 1;
	}
	return PV_OK;
}

static bool same(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
	return a->len[i] == b->len[j] && memcmp(a->p[i], b->p[j], a->len[i]) == 0;
}

static void emit(struct pv_diff_line *v, size_t *n, enum pv_diff_op op, const struct lines *l,
		 size_t i, size_t al, size_t bl)
{
	v[*n] = (struct pv_diff_line){op, l->p[i], l->len[i], al, bl};
	(*n)++;
}

int pv_line_diff(const char *as, size_t alen, const char *bs, size_t blen,
		 struct pv_diff_line **v_r, size_t *n_r, struct pv_error *err)
{
	struct lines a = {0}, b = {0};
	struct pv_diff_line *v = NULL;
	uint32_t *t = NULL;
	size_t n = 0, head = 0, tail = 0;
	int r;

	*v_r = NULL;
	*n_r = 0;
	if ((r = split(as, alen, &a, err)) < 0 || (r = split(bs, blen, &b, err)) < 0)
		goto out;
	while (head < a.n && head < b.n && same(&a, head, &b, head))
		head++;
	while (tail < a.n - head && tail < b.n - head && same(&a, a.n - 1 - tail, &b, b.n - 1 - tail))
		tail++;
	size_t an = a.n - head - tail, bn = b.n - head - tail;
	if (an != 0 && bn != 0 && (an + 1) > PV_LINEDIFF_CELLS_MAX / (bn + 1)) {
		r = pv_fail(err, PV_ELIMIT, "the texts differ in too many lines to compare");
		goto out;
	}
	if ((v = malloc((a.n + b.n + 1) * sizeof(*v))) == NULL ||
	    (t = calloc((an + 1) * (bn + 1), sizeof(*t))) == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	/* t[i][j]: the longest common subsequence of the middles' suffixes i.., j.. */
#define T(i, j) t[(i) * (bn + 1) + (j)]
	for (size_t i = an; i-- > 0;)
		for (size_t j = bn; j-- > 0;)
			T(i, j) = same(&a, head + i, &b, head + j) ? T(i + 1, j + 1) + 1
				  : T(i + 1, j) >= T(i, j + 1)	  ? T(i + 1, j)
									  : T(i, j + 1);
	for (size_t i = 0; i < head; i++)
		emit(v, &n, PV_DIFF_SAME, &a, i, i + 1, i + 1);
	size_t i = 0, j = 0;
	while (i < an || j < bn) {
		if (i < an && j < bn && same(&a, head + i, &b, head + j)) {
			emit(v, &n, PV_DIFF_SAME, &a, head + i, head + i + 1, head + j + 1);
			i++, j++;
		} else if (i < an && (j == bn || T(i + 1, j) >= T(i, j + 1))) {
			/* removed lines before added ones, as diff(1) shows them */
			emit(v, &n, PV_DIFF_DEL, &a, head + i, head + i + 1, 0);
			i++;
		} else {
			emit(v, &n, PV_DIFF_ADD, &b, head + j, 0, head + j + 1);
			j++;
		}
	}
#undef T
	for (size_t k = 0; k < tail; k++)
		emit(v, &n, PV_DIFF_SAME, &a, a.n - tail + k, a.n - tail + k + 1, b.n - tail + k + 1);
	*v_r = v;
	*n_r = n;
	v = NULL;
out:
	free(v);
	free(t);
	free(a.p);
	free(a.len);
	free(b.p);
	free(b.len);
	return r;
}
