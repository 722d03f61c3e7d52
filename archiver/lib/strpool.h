#ifndef PV_STRPOOL_H
#define PV_STRPOOL_H

/* Many short strings that live as long as the pool: copied into blocks
 * allocated as they fill, never moved (the pointers stay valid), freed
 * together. A name in a malloc of its own costs its allocator 16 to 32
 * bytes more; a bundle of 100,000 messages holds 200,000 member names. */

#include <stddef.h>

#define PV_STRPOOL_BLOCK (64 * 1024)

struct pv_strpool {
	char **blocks;
	size_t n, cap;
	size_t used; /* bytes used in the last block */
};

/* A copy of the n bytes at s, NUL-terminated; NULL when out of memory or
 * n >= PV_STRPOOL_BLOCK. */
char *pv_strpool_add(struct pv_strpool *p, const char *s, size_t n);
void pv_strpool_free(struct pv_strpool *p);

#endif
