#ifndef PV_HTTP_RATELIMIT_H
#define PV_HTTP_RATELIMIT_H

/* Failed sign-ins counted per key (a user name, existing or not, or a
 * client address): the first `free_failures` cost nothing; after each
 * further one the key must wait before trying again, 1 s, then 2 s, 4 s
 * ... up to max_delay; a key quiet for max_delay is forgotten.
 * A fixed table of `slots` keys (stored as hashes) in memory, the stalest
 * reused when full: restarting the server forgets it. Thread-safe. */

#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"

struct ratelimit;

int ratelimit_new(size_t slots, unsigned free_failures, int64_t max_delay_ms,
		  struct ratelimit **rl_r, struct pv_error *err);
void ratelimit_free(struct ratelimit **rl);

/* Milliseconds before key may try again at now_ms; 0: it may now. */
int64_t ratelimit_wait_ms(struct ratelimit *rl, const char *key, int64_t now_ms);
/* Counts a failure of key at now_ms. */
void ratelimit_failed(struct ratelimit *rl, const char *key, int64_t now_ms);
/* Forgets key's failures (a successful sign-in of that user). */
void ratelimit_forget(struct ratelimit *rl, const char *key);

#endif
