#include "archiver/lib/random.h"

#include <sodium.h>
#include <stdbool.h>
#include <string.h>

static bool seeded;
static unsigned char test_seed[randombytes_SEEDBYTES];
static unsigned long long test_counter;

void pv_random_seed_for_tests(const unsigned char seed[32])
{
	seeded = seed != NULL;
	if (seeded)
		memcpy(test_seed, seed, sizeof(test_seed));
	test_counter = 0;
}

void pv_random_bytes(void *buf, size_t n)
{
	if (!seeded) {
		randombytes_buf(buf, n);
		return;
	}
	/* Each call draws from a fresh stream: seed ‖ counter hashed. */
	unsigned char s[randombytes_SEEDBYTES];
	crypto_generichash(s, sizeof(s), (const unsigned char *)&test_counter,
			   sizeof(test_counter), test_seed, sizeof(test_seed));
	test_counter++;
	randombytes_buf_deterministic(buf, n, s);
}
