#include "archiver/http/ratelimit.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define KEY_BYTES 16

struct slot {
	unsigned char key[KEY_BYTES]; /* BLAKE2b of the key: no names kept in memory */
	uint32_t failures;            /* 0: the slot is free */
	int64_t last_ms;
};

struct ratelimit {
	pthread_mutex_t lock;
	size_t n;
	unsigned free_failures;
	int64_t max_delay_ms;
	struct slot slot[];
};

int ratelimit_new(size_t slots, unsigned free_failures, int64_t max_delay_ms,
		  struct ratelimit **rl_r, struct pv_error *err)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl) + slots * sizeof(struct slot));
	if (rl == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	pthread_mutex_init(&rl->lock, NULL);
	rl->n = slots;
	rl->free_failures = free_failures;
	rl->max_delay_ms = max_delay_ms;
	*rl_r = rl;
	return PV_OK;
}

void ratelimit_free(struct ratelimit **rlp)
{
	if (*rlp == NULL)
		return;
	pthread_mutex_destroy(&(*rlp)->lock);
	free(*rlp);
	*rlp = NULL;
}

static void key_hash(const char *key, unsigned char out[KEY_BYTES])
{
	crypto_generichash(out, KEY_BYTES, (const unsigned char *)key, strlen(key), NULL, 0);
}

/* The wait after the slot's failures, from its last one. */
static int64_t delay_ms(const struct ratelimit *rl, const struct slot *s)
{
	if (s->failures <= rl->free_failures)
		return 0;
	uint32_t doublings = s->failures - rl->free_failures - 1;
	int64_t d = doublings >= 30 ? rl->max_delay_ms : 1000LL << doublings;
	return d < rl->max_delay_ms ? d : rl->max_delay_ms;
}

/* The slot of key (NULL when none); expired slots are freed on the way. */
static struct slot *find(struct ratelimit *rl, const unsigned char k[KEY_BYTES], int64_t now_ms)
{
	struct slot *hit = NULL;
	for (size_t i = 0; i < rl->n; i++) {
		struct slot *s = &rl->slot[i];
		if (s->failures == 0)
			continue;
		if (now_ms - s->last_ms > rl->max_delay_ms) {
			s->failures = 0;
			continue;
		}
		if (hit == NULL && sodium_memcmp(s->key, k, KEY_BYTES) == 0)
			hit = s;
	}
	return hit;
}

int64_t ratelimit_wait_ms(struct ratelimit *rl, const char *key, int64_t now_ms)
{
	unsigned char k[KEY_BYTES];
	int64_t wait = 0;
	key_hash(key, k);
	pthread_mutex_lock(&rl->lock);
	struct slot *s = find(rl, k, now_ms);
	if (s != NULL) {
		wait = s->last_ms + delay_ms(rl, s) - now_ms;
		if (wait < 0)
			wait = 0;
	}
	pthread_mutex_unlock(&rl->lock);
	return wait;
}

void ratelimit_failed(struct ratelimit *rl, const char *key, int64_t now_ms)
{
	unsigned char k[KEY_BYTES];
	key_hash(key, k);
	pthread_mutex_lock(&rl->lock);
	struct slot *s = find(rl, k, now_ms);
	if (s == NULL) {
		/* A free slot, else the stalest. */
		s = &rl->slot[0];
		for (size_t i = 0; i < rl->n && s->failures != 0; i++)
			if (rl->slot[i].failures == 0 || rl->slot[i].last_ms < s->last_ms)
				s = &rl->slot[i];
		memcpy(s->key, k, KEY_BYTES);
		s->failures = 0;
	}
	if (s->failures < UINT32_MAX)
		s->failures++;
	s->last_ms = now_ms;
	pthread_mutex_unlock(&rl->lock);
}

void ratelimit_forget(struct ratelimit *rl, const char *key)
{
	unsigned char k[KEY_BYTES];
	key_hash(key, k);
	pthread_mutex_lock(&rl->lock);
	for (size_t i = 0; i < rl->n; i++)
		if (rl->slot[i].failures != 0 && sodium_memcmp(rl->slot[i].key, k, KEY_BYTES) == 0)
			rl->slot[i].failures = 0;
	pthread_mutex_unlock(&rl->lock);
}
