#include "archiver/lib/secret.h"

#include <sodium.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* Kept in front of the secret; its size keeps the secret max-aligned. */
struct secret_head {
	alignas(max_align_t) size_t size;
};

static struct secret_head *head_of(const char *secret)
{
	return (struct secret_head *)(void *)(secret - sizeof(struct secret_head));
}

char *pv_secret_alloc(size_t size)
{
	if (size == 0 || size > SIZE_MAX - sizeof(struct secret_head))
		return NULL;
	struct secret_head *h = calloc(1, sizeof(*h) + size);
	if (h == NULL)
		return NULL;
	h->size = size;
	return (char *)(h + 1);
}

char *pv_secret_dup(const void *s, size_t n)
{
	char *c = n < SIZE_MAX ? pv_secret_alloc(n + 1) : NULL;
	if (c != NULL && n > 0)
		memcpy(c, s, n);
	return c;
}

size_t pv_secret_size(const char *secret)
{
	return head_of(secret)->size;
}

void pv_secret_wipe(char *secret)
{
	if (secret != NULL)
		sodium_memzero(secret, head_of(secret)->size);
}

void pv_secret_free(char **secret)
{
	if (*secret == NULL)
		return;
	struct secret_head *h = head_of(*secret);
	sodium_memzero(h, sizeof(*h) + h->size);
	free(h);
	*secret = NULL;
}
