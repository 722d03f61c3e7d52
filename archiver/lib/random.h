#ifndef PV_RANDOM_H
#define PV_RANDOM_H

/* Randomness behind one interface (libsodium's CSPRNG) so tests can seed it
 * for reproducible runs. Production never seeds. */

#include <stddef.h>

void pv_random_bytes(void *buf, size_t n);
/* Tests only: deterministic bytes from seed (NULL restores the CSPRNG). */
void pv_random_seed_for_tests(const unsigned char seed[32]);

#endif
