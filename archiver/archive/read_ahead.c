#include "archiver/archive/read_ahead.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/store/record.h"

#define WORKERS_MAX 4
/* A slot's buffer is kept for the next message up to this size. */
#define KEEP_MAX (256 * 1024)

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

struct slot {
	struct stored_message m;
	uint8_t key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
	struct blob_opened src; /* opened by the caller's thread (message_open) */
	struct pv_buf data;
	bool big; /* not read ahead */
	read_ahead_digest_fn digest_fn;
	bool digested;
	uint8_t digest[READ_AHEAD_DIGEST_BYTES];
	int r;
	struct pv_error err;
	enum slot_state state;
};

struct read_ahead {
	struct archive *ar;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct slot slots[READ_AHEAD_WINDOW];
	uint64_t head, tail, next; /* next to take, next to push, next for a worker */
	bool given;                /* slot head - 1 is the caller's */
	size_t bytes;              /* content waiting, the caller's included */
	bool stop;
	int workers;
	pthread_t tid[WORKERS_MAX];
};

static struct slot *at(struct read_ahead *ra, uint64_t seq)
{
	return &ra->slots[seq % READ_AHEAD_WINDOW];
}

static int append(void *ctx, const unsigned char *p, size_t n, struct pv_error *err)
{
	return pv_buf_append(ctx, p, n, err);
}

static void *worker(void *arg)
{
	struct read_ahead *ra = arg;
	pthread_mutex_lock(&ra->mu);
	for (;;) {
		if (ra->next < ra->head)
			ra->next = ra->head;
		while (ra->next < ra->tail && at(ra, ra->next)->state == SLOT_DONE)
			ra->next++;
		if (ra->next < ra->tail && at(ra, ra->next)->state == SLOT_QUEUED) {
			struct slot *s = at(ra, ra->next++);
			s->state = SLOT_RUNNING;
			pthread_mutex_unlock(&ra->mu);
			/* Its size is known: one allocation, not a copy per doubling. */
			s->r = pv_buf_reserve(&s->data, s->data.max, &s->err);
			if (s->r == PV_OK)
				s->r = message_read_key(ra->ar->dir, &s->src, &s->m, s->key, append,
							&s->data, &s->err);
			if (s->r == PV_OK && s->digest_fn != NULL &&
			    (s->r = s->digest_fn(s->data.data ? s->data.data : (const unsigned char *)"",
						 s->data.len, s->digest, &s->err)) == PV_OK)
				s->digested = true;
			sodium_memzero(s->key, sizeof(s->key));
			/* Its fd stays open until the caller is done with it
			 * (release): a pack store that drops what was read
			 * (drop_after_read) drops it in order then, not while a
			 * worker behind this one still reads the same pages. */
			pthread_mutex_lock(&ra->mu);
			s->state = SLOT_DONE;
			pthread_cond_broadcast(&ra->done);
			continue;
		}
		if (ra->stop)
			break;
		pthread_cond_wait(&ra->work, &ra->mu);
	}
	pthread_mutex_unlock(&ra->mu);
	record_thread_release();
	return NULL;
}

int read_ahead_new(struct archive *ar, struct read_ahead **ra_r, struct pv_error *err)
{
	struct read_ahead *ra = calloc(1, sizeof(*ra));
	if (ra == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	ra->ar = ar;
	pthread_mutex_init(&ra->mu, NULL);
	pthread_cond_init(&ra->work, NULL);
	pthread_cond_init(&ra->done, NULL);
	for (size_t i = 0; i < READ_AHEAD_WINDOW; i++)
		ra->slots[i].src = BLOB_OPENED_NONE;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int want = cpus < 1 ? 1 : cpus > WORKERS_MAX ? WORKERS_MAX : (int)cpus;
	for (; ra->workers < want; ra->workers++)
		if (pthread_create(&ra->tid[ra->workers], NULL, worker, ra) != 0)
			break;
	if (ra->workers == 0) {
		read_ahead_free(&ra);
		return pv_fail(err, PV_ERR, "cannot start a reading thread");
	}
	*ra_r = ra;
	return PV_OK;
}

bool read_ahead_room(const struct read_ahead *ra)
{
	struct read_ahead *r = (struct read_ahead *)ra;
	pthread_mutex_lock(&r->mu);
	bool room = r->tail - r->head + r->given < READ_AHEAD_WINDOW &&
		    r->bytes < READ_AHEAD_BYTES;
	pthread_mutex_unlock(&r->mu);
	return room;
}

int read_ahead_push(struct read_ahead *ra, const struct stored_message *m,
		    read_ahead_digest_fn digest, struct pv_error *err)
{
	pthread_mutex_lock(&ra->mu);
	bool full = ra->tail - ra->head + ra->given >= READ_AHEAD_WINDOW;
	pthread_mutex_unlock(&ra->mu);
	if (full)
		return pv_fail(err, PV_ERR, "read ahead: no room");
	/* The slot at tail is free and no worker looks at it. */
	struct slot *s = at(ra, ra->tail);
	s->m = *m;
	s->digest_fn = digest;
	s->digested = false;
	s->r = message_unwrap(ra->ar, m, s->key, s->salt, &s->err);
	s->big = s->r == PV_OK && m->size > READ_AHEAD_ONE_MAX;
	/* The pack store is read here too, the workers get an fd. */
	if (s->r == PV_OK && !s->big && (s->r = message_open(ra->ar, m, &s->src, &s->err)) < 0)
		sodium_memzero(s->key, sizeof(s->key));
	pv_buf_reset(&s->data);
	/* The content may not be longer than the catalog says: a longer one
	 * fails here (its hash would fail anyway). */
	s->data.max = s->big ? 0 : (size_t)m->size;
	if (s->big)
		sodium_memzero(s->key, sizeof(s->key));
	pthread_mutex_lock(&ra->mu);
	s->state = s->r == PV_OK && !s->big ? SLOT_QUEUED : SLOT_DONE;
	if (s->state == SLOT_QUEUED) {
		ra->bytes += (size_t)m->size;
		pthread_cond_signal(&ra->work);
	}
	ra->tail++;
	pthread_mutex_unlock(&ra->mu);
	return PV_OK;
}

/* The caller's slot goes back (under the lock); its record's fd to
 * *done_r, for the caller to close after unlocking. */
static void release(struct read_ahead *ra, struct blob_opened *done_r)
{
	*done_r = BLOB_OPENED_NONE;
	if (!ra->given)
		return;
	struct slot *s = at(ra, ra->head - 1);
	*done_r = s->src;
	s->src = BLOB_OPENED_NONE;
	if (!s->big && s->r == PV_OK)
		ra->bytes -= (size_t)s->m.size;
	if (s->data.data != NULL)
		sodium_memzero(s->data.data, s->data.len);
	if (s->data.cap > KEEP_MAX)
		pv_buf_free(&s->data);
	pv_buf_reset(&s->data);
	sodium_memzero(s->salt, sizeof(s->salt));
	sodium_memzero(s->digest, sizeof(s->digest));
	s->digested = false;
	s->state = SLOT_FREE;
	ra->given = false;
}

int read_ahead_take(struct read_ahead *ra, const struct stored_message **m_r,
		    const uint8_t **salt_r, const unsigned char **data_r, size_t *len_r,
		    struct pv_error *err)
{
	struct blob_opened done;
	pthread_mutex_lock(&ra->mu);
	release(ra, &done);
	if (ra->head == ra->tail) {
		pthread_mutex_unlock(&ra->mu);
		blob_opened_close(&done);
		return pv_fail(err, PV_ERR, "read ahead: nothing pushed");
	}
	struct slot *s = at(ra, ra->head);
	while (s->state != SLOT_DONE)
		pthread_cond_wait(&ra->done, &ra->mu);
	ra->head++;
	ra->given = true;
	pthread_mutex_unlock(&ra->mu);
	blob_opened_close(&done);
	*m_r = &s->m;
	*salt_r = s->salt;
	*data_r = s->big ? NULL : s->data.data ? s->data.data : (const unsigned char *)"";
	*len_r = s->big ? 0 : s->data.len;
	if (s->r < 0)
		return pv_fail(err, s->r, "%s", s->err.msg);
	return PV_OK;
}

const uint8_t *read_ahead_digest(const struct read_ahead *ra)
{
	if (!ra->given)
		return NULL;
	const struct slot *s = &ra->slots[(ra->head - 1) % READ_AHEAD_WINDOW];
	return s->digested ? s->digest : NULL;
}

void read_ahead_free(struct read_ahead **rap)
{
	struct read_ahead *ra = *rap;
	if (ra == NULL)
		return;
	pthread_mutex_lock(&ra->mu);
	ra->stop = true;
	ra->next = ra->tail; /* what is queued is not read */
	pthread_cond_broadcast(&ra->work);
	pthread_mutex_unlock(&ra->mu);
	for (int i = 0; i < ra->workers; i++)
		pthread_join(ra->tid[i], NULL);
	for (size_t i = 0; i < READ_AHEAD_WINDOW; i++) {
		blob_opened_close(&ra->slots[i].src); /* queued, never read */
		pv_buf_free_secret(&ra->slots[i].data);
		sodium_memzero(&ra->slots[i], sizeof(ra->slots[i]));
	}
	pthread_cond_destroy(&ra->work);
	pthread_cond_destroy(&ra->done);
	pthread_mutex_destroy(&ra->mu);
	free(ra);
	*rap = NULL;
}
