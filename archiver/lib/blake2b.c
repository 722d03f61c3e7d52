#include "archiver/lib/blake2b.h"

#include <sodium.h>
#include <stdlib.h>

/* libsodium's state wants 64-byte alignment, which calloc'ed structs
 * holding a pv_blake2b do not promise: it lives apart. */
int pv_blake2b_init(struct pv_blake2b *h, const unsigned char *key, size_t keylen, size_t outlen,
		    struct pv_error *err)
{
	h->ctx = NULL;
	h->outlen = outlen;
	if (keylen < 1 || keylen > PV_BLAKE2B_KEY_MAX || outlen < 1 || outlen > PV_BLAKE2B_OUT_MAX)
		return pv_fail(err, PV_ERR, "BLAKE2b: bad key or output length");
	crypto_generichash_state *st = aligned_alloc(64, sizeof(*st));
	if (st == NULL)
		return pv_fail(err, PV_ERR, "out of memory (BLAKE2b)");
	if (crypto_generichash_init(st, key, keylen, outlen) != 0) {
		free(st);
		return pv_fail(err, PV_ERR, "BLAKE2b: cannot start");
	}
	h->ctx = st;
	return PV_OK;
}

void pv_blake2b_update(struct pv_blake2b *h, const void *data, size_t len)
{
	if (len > 0)
		(void)crypto_generichash_update(h->ctx, data, len);
}

void pv_blake2b_final(struct pv_blake2b *h, unsigned char *out)
{
	(void)crypto_generichash_final(h->ctx, out, h->outlen);
	pv_blake2b_abort(h);
}

void pv_blake2b_abort(struct pv_blake2b *h)
{
	if (h->ctx != NULL) {
		sodium_memzero(h->ctx, sizeof(crypto_generichash_state)); /* keyed by the salt */
		free(h->ctx);
	}
	h->ctx = NULL;
}
