#ifndef PV_SHA256_H
#define PV_SHA256_H

/* Streaming SHA-256 for bulk data (message bodies, blobs, bundle members).
 * OpenSSL's implementation uses the CPU's SHA extensions: measured here at
 * 2.0 GB/s against 0.49 GB/s for libsodium's portable C, and harvest hashes
 * every byte several times (plaintext and ciphertext, written and checked).
 * Small inputs may keep using libsodium's crypto_hash_sha256. */

#include <stddef.h>

#include "archiver/lib/error.h"

struct pv_sha256 {
	void *ctx; /* EVP_MD_CTX */
};

/* PV_ERR (out of memory) or 0. */
int pv_sha256_init(struct pv_sha256 *h, struct pv_error *err);
void pv_sha256_update(struct pv_sha256 *h, const void *data, size_t len);
/* Writes the digest and releases the context. */
void pv_sha256_final(struct pv_sha256 *h, unsigned char out[32]);
/* Releases a context without a digest (safe on an initialised or zeroed one). */
void pv_sha256_abort(struct pv_sha256 *h);
/* The digest of one buffer. */
int pv_sha256_once(const void *data, size_t len, unsigned char out[32], struct pv_error *err);

#endif
