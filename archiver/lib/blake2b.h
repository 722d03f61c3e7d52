#ifndef PV_BLAKE2B_H
#define PV_BLAKE2B_H

/* Streaming keyed BLAKE2b (RFC 7693) for bulk data: the salted commitment
 * to a message's plaintext (store/blob.h, the archive leaf's `commit`).
 * libsodium's crypto_generichash with a key (its AVX2 code on this CPU),
 * behind a streaming interface for verify, export and harvest, which run
 * it over every byte of every message. It was OpenSSL's BLAKE2BMAC (the
 * same function, byte for byte): on the harvest's 80 KB messages, timed
 * interleaved in one process on this busy 2-core VM, OpenSSL's scalar
 * code ran at 0.53 GB/s and libsodium's at 0.69 GB/s (issue 12, branch
 * harvcpu; an earlier figure of 1.34 against 0.67 GB/s was not
 * reproduced). */

#include <stddef.h>

#include "archiver/lib/error.h"

#define PV_BLAKE2B_KEY_MAX 64
#define PV_BLAKE2B_OUT_MAX 64

struct pv_blake2b {
	void *ctx; /* crypto_generichash_state, 64-byte aligned */
	size_t outlen;
};

/* key: 1..PV_BLAKE2B_KEY_MAX bytes; outlen: 1..PV_BLAKE2B_OUT_MAX. PV_ERR
 * (out of memory) or 0. */
int pv_blake2b_init(struct pv_blake2b *h, const unsigned char *key, size_t keylen, size_t outlen,
		    struct pv_error *err);
void pv_blake2b_update(struct pv_blake2b *h, const void *data, size_t len);
/* Writes outlen bytes and releases the context. */
void pv_blake2b_final(struct pv_blake2b *h, unsigned char *out);
/* Releases a context without a digest (safe on an initialised or zeroed one). */
void pv_blake2b_abort(struct pv_blake2b *h);

#endif
