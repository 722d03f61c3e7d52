#include "archiver/lib/strpool.h"

#include <stdlib.h>
#include <string.h>

char *pv_strpool_add(struct pv_strpool *p, const char *s, size_t n)
{
	if (n >= PV_STRPOOL_BLOCK)
		return NULL;
	if (p->n == 0 || p->used + n + 1 > PV_STRPOOL_BLOCK) {
		if (p->n == p->cap) {
			size_t cap = p->cap ? 2 * p->cap : 16;
			char **b = realloc(p->blocks, cap * sizeof(*b));
			if (b == NULL)
				return NULL;
			p->blocks = b;
			p->cap = cap;
		}
		if ((p->blocks[p->n] = malloc(PV_STRPOOL_BLOCK)) == NULL)
			return NULL;
		p->n++;
		p->used = 0;
	}
	char *d = p->blocks[p->n - 1] + p->used;
	memcpy(d, s, n);
	d[n] = '\0';
	p->used += n + 1;
	return d;
}

void pv_strpool_free(struct pv_strpool *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->blocks[i]);
	free(p->blocks);
	memset(p, 0, sizeof(*p));
}
