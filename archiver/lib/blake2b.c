#include "archiver/lib/blake2b.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>

/* Fetched once: a fetch looks the algorithm up in the providers. */
static EVP_MAC *mac;
static pthread_once_t mac_once = PTHREAD_ONCE_INIT;

static void fetch(void)
{
	mac = EVP_MAC_fetch(NULL, "BLAKE2BMAC", NULL);
}

int pv_blake2b_init(struct pv_blake2b *h, const unsigned char *key, size_t keylen, size_t outlen,
		    struct pv_error *err)
{
	h->ctx = NULL;
	h->outlen = outlen;
	if (keylen < 1 || keylen > PV_BLAKE2B_KEY_MAX || outlen < 1 || outlen > PV_BLAKE2B_OUT_MAX)
		return pv_fail(err, PV_ERR, "BLAKE2b: bad key or output length");
	pthread_once(&mac_once, fetch);
	EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen),
			       OSSL_PARAM_construct_end()};
	if (c == NULL || EVP_MAC_init(c, key, keylen, params) != 1) {
		EVP_MAC_CTX_free(c);
		return pv_fail(err, PV_ERR, "BLAKE2b: %s", mac ? "out of memory" : "OpenSSL has no BLAKE2BMAC");
	}
	h->ctx = c;
	return PV_OK;
}

void pv_blake2b_update(struct pv_blake2b *h, const void *data, size_t len)
{
	if (len > 0)
		EVP_MAC_update(h->ctx, data, len);
}

void pv_blake2b_final(struct pv_blake2b *h, unsigned char *out)
{
	size_t n = 0;
	EVP_MAC_final(h->ctx, out, &n, h->outlen);
	pv_blake2b_abort(h);
}

void pv_blake2b_abort(struct pv_blake2b *h)
{
	EVP_MAC_CTX_free(h->ctx);
	h->ctx = NULL;
}
