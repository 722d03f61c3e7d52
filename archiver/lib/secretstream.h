#ifndef PV_SECRETSTREAM_H
#define PV_SECRETSTREAM_H

/* libsodium's crypto_secretstream_xchacha20poly1305_push and _pull, byte
 * for byte, with the bulk of each chunk (ChaCha20 and Poly1305 over the
 * message) done by OpenSSL, whose AVX-512 code runs about twice as fast
 * here as libsodium's (the records of a harvest are sealed on one thread,
 * and this was a ninth of its time; verify --full and every read open
 * them). The state is libsodium's: started with its init_push or
 * init_pull; either side may be libsodium's. No additional data (records
 * have none). tests/unit/test_lib.c compares every output with
 * libsodium's, and each context, when made, checks a few chunks both
 * ways against it and refuses to work if they differ. */

#include <sodium.h>
#include <stddef.h>

#include "archiver/lib/error.h"

/* OpenSSL's ChaCha20 and Poly1305, for one thread at a time. */
struct pv_ss;

/* PV_ERR when out of memory or OpenSSL lacks ChaCha20 or Poly1305. Free
 * with pv_ss_free (sets *p to NULL). */
int pv_ss_new(struct pv_ss **p_r, struct pv_error *err);
void pv_ss_free(struct pv_ss **p);

/* As crypto_secretstream_xchacha20poly1305_push(st, c, clen_r, m, mlen,
 * NULL, 0, tag): c gets mlen + ABYTES bytes. PV_ERR if OpenSSL fails
 * (then st is unchanged and c undefined). */
int pv_ss_push(struct pv_ss *p, crypto_secretstream_xchacha20poly1305_state *st,
	       unsigned char *c, unsigned long long *clen_r, const unsigned char *m, size_t mlen,
	       unsigned char tag, struct pv_error *err) PV_WARN_UNUSED;

/* As crypto_secretstream_xchacha20poly1305_pull(st, m, mlen_r, tag_r, c,
 * clen, NULL, 0): m gets clen - ABYTES bytes, written only once the chunk
 * authenticates. PV_EINTEGRITY when it does not (or clen < ABYTES), st
 * then unchanged; PV_ERR if OpenSSL fails. */
int pv_ss_pull(struct pv_ss *p, crypto_secretstream_xchacha20poly1305_state *st,
	       unsigned char *m, unsigned long long *mlen_r, unsigned char *tag_r,
	       const unsigned char *c, size_t clen, struct pv_error *err) PV_WARN_UNUSED;

#endif
