#ifndef PV_SECRETSTREAM_H
#define PV_SECRETSTREAM_H

/* libsodium's crypto_secretstream_xchacha20poly1305_push, byte for byte,
 * with the bulk of each chunk (ChaCha20 and Poly1305 over the message)
 * done by OpenSSL, whose AVX-512 code runs about twice as fast here as
 * libsodium's (the records of a harvest are sealed on one thread, and
 * this was a ninth of its time). The state is libsodium's: started with
 * crypto_secretstream_xchacha20poly1305_init_push, read back with
 * libsodium's pull; only the push differs. No additional data (records
 * have none). tests/unit/test_lib.c compares every output with
 * libsodium's push, and each pusher, when made, checks a few chunks
 * against it and refuses to seal if they differ. */

#include <sodium.h>
#include <stddef.h>

#include "archiver/lib/error.h"

struct pv_ss_pusher;

/* PV_ERR when out of memory or OpenSSL lacks ChaCha20 or Poly1305. Free
 * with pv_ss_pusher_free (sets *p to NULL). */
int pv_ss_pusher_new(struct pv_ss_pusher **p_r, struct pv_error *err);
void pv_ss_pusher_free(struct pv_ss_pusher **p);

/* As crypto_secretstream_xchacha20poly1305_push(st, c, clen_r, m, mlen,
 * NULL, 0, tag): c gets mlen + ABYTES bytes. PV_ERR if OpenSSL fails
 * (then st is unchanged and c undefined). */
int pv_ss_push(struct pv_ss_pusher *p, crypto_secretstream_xchacha20poly1305_state *st,
	       unsigned char *c, unsigned long long *clen_r, const unsigned char *m, size_t mlen,
	       unsigned char tag, struct pv_error *err) PV_WARN_UNUSED;

#endif
