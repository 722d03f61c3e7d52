#include "archiver/lib/sha256.h"

#include <openssl/evp.h>
#include <pthread.h>

/* Fetched once: EVP_sha256() makes every EVP_DigestInit_ex look the
 * algorithm up in the providers again (locks and a hash table; the
 * harvest starts two digests per message). */
static EVP_MD *md;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void fetch(void)
{
	md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int pv_sha256_init(struct pv_sha256 *h, struct pv_error *err)
{
	pthread_once(&md_once, fetch);
	EVP_MD_CTX *c = md ? EVP_MD_CTX_new() : NULL;
	if (c == NULL || EVP_DigestInit_ex2(c, md, NULL) != 1) {
		EVP_MD_CTX_free(c);
		h->ctx = NULL;
		return pv_fail(err, PV_ERR, "out of memory (SHA-256)");
	}
	h->ctx = c;
	return PV_OK;
}

void pv_sha256_update(struct pv_sha256 *h, const void *data, size_t len)
{
	if (len > 0)
		EVP_DigestUpdate(h->ctx, data, len);
}

void pv_sha256_final(struct pv_sha256 *h, unsigned char out[32])
{
	unsigned int n = 32;
	EVP_DigestFinal_ex(h->ctx, out, &n);
	pv_sha256_abort(h);
}

int pv_sha256_once(const void *data, size_t len, unsigned char out[32], struct pv_error *err)
{
	struct pv_sha256 h;
	int r = pv_sha256_init(&h, err);
	if (r == PV_OK) {
		pv_sha256_update(&h, data, len);
		pv_sha256_final(&h, out);
	}
	return r;
}

void pv_sha256_abort(struct pv_sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}
