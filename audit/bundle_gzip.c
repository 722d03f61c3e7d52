/* The gzip stream of a .tar.gz bundle (bundle_gzip.h). */
#include "audit/bundle_gzip.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "archiver/lib/pagecache.h"

/* Filled buffers waiting for the thread, plus the one being filled. */
#define SLOTS 4
#define OUT_CHUNK (256 * 1024)

struct bundle_gzip {
	int fd;
	struct pv_writebehind wb; /* the bundle is not read again here */
	bool gzip; /* false: the bytes are written as they are */
	struct pv_sha256 *file_hash;
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *buf[SLOTS];
	size_t len[SLOTS];
	bool stored[SLOTS];  /* each slot's bytes: deflate's stored blocks */
	bool stored_now;     /* the caller's mode (bundle_gzip_compress) */
	bool stored_z;       /* the thread's: how z is set */
	unsigned long head, tail; /* filled, not yet compressed: [head, tail) */
	bool finish, stop, failed;
	char why[160];
	z_stream z;
	unsigned char out[OUT_CHUNK];
};

/* The thread's: sets failed (under the lock) with why. */
static void fail(struct bundle_gzip *g, const char *what, int e)
{
	pthread_mutex_lock(&g->mu);
	if (!g->failed)
		snprintf(g->why, sizeof(g->why), "%s: %s", what, e ? strerror(e) : "failed");
	g->failed = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static bool put(struct bundle_gzip *g, const unsigned char *p, size_t n)
{
	pv_sha256_update(g->file_hash, p, n);
	while (n > 0) {
		ssize_t k = write(g->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			fail(g, "bundle: write", k < 0 ? errno : EIO);
			return false;
		}
		int e = pv_writebehind_wrote(&g->wb, (size_t)k);
		if (e != 0) {
			fail(g, "bundle: writing out", e);
			return false;
		}
		p += k;
		n -= (size_t)k;
	}
	return true;
}

/* Compresses len bytes of in (flush: Z_NO_FLUSH or Z_FINISH). */
static bool squeeze(struct bundle_gzip *g, unsigned char *in, size_t len, int flush)
{
	g->z.next_in = in;
	g->z.avail_in = (uInt)len;
	for (;;) {
		g->z.next_out = g->out;
		g->z.avail_out = sizeof(g->out);
		int rc = deflate(&g->z, flush);
		if (rc == Z_STREAM_ERROR) {
			fail(g, "bundle: gzip", 0);
			return false;
		}
		if (!put(g, g->out, sizeof(g->out) - g->z.avail_out))
			return false;
		if (flush == Z_FINISH ? rc == Z_STREAM_END : g->z.avail_out != 0)
			return true;
	}
}

/* Switches z between Huffman coding and stored blocks, at a block
 * boundary (everything before is flushed out first). */
static bool set_mode(struct bundle_gzip *g, bool stored)
{
	g->z.next_in = NULL;
	g->z.avail_in = 0;
	for (int rc = Z_BUF_ERROR; rc == Z_BUF_ERROR;) {
		do {
			g->z.next_out = g->out;
			g->z.avail_out = sizeof(g->out);
			if (deflate(&g->z, Z_BLOCK) == Z_STREAM_ERROR) {
				fail(g, "bundle: gzip", 0);
				return false;
			}
			if (!put(g, g->out, sizeof(g->out) - g->z.avail_out))
				return false;
		} while (g->z.avail_out == 0);
		g->z.next_out = g->out;
		g->z.avail_out = sizeof(g->out);
		rc = deflateParams(&g->z, stored ? 0 : 1, stored ? Z_DEFAULT_STRATEGY : Z_HUFFMAN_ONLY);
		if (!put(g, g->out, sizeof(g->out) - g->z.avail_out))
			return false;
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			fail(g, "bundle: gzip", 0);
			return false;
		}
	}
	g->stored_z = stored;
	return true;
}

static void *compressor(void *arg)
{
	struct bundle_gzip *g = arg;
	pthread_mutex_lock(&g->mu);
	for (;;) {
		while (g->head == g->tail && !g->finish && !g->stop && !g->failed)
			pthread_cond_wait(&g->cv, &g->mu);
		if (g->stop || g->failed)
			break;
		if (g->head == g->tail) { /* finish, and everything is in */
			pthread_mutex_unlock(&g->mu);
			if (g->gzip)
				squeeze(g, NULL, 0, Z_FINISH);
			return NULL;
		}
		size_t i = g->head % SLOTS;
		pthread_mutex_unlock(&g->mu);
		bool ok = !g->gzip ? put(g, g->buf[i], g->len[i])
				   : (g->stored[i] == g->stored_z || set_mode(g, g->stored[i])) &&
					     squeeze(g, g->buf[i], g->len[i], Z_NO_FLUSH);
		pthread_mutex_lock(&g->mu);
		if (!ok)
			break;
		g->len[i] = 0;
		g->head++;
		pthread_cond_broadcast(&g->cv);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

int bundle_gzip_open(int fd, bool gzip, struct pv_sha256 *file_hash, struct bundle_gzip **g_r,
		     struct pv_error *err)
{
	struct bundle_gzip *g = calloc(1, sizeof(*g));
	*g_r = NULL;
	if (g == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	g->fd = fd;
	pv_writebehind_init(&g->wb, fd);
	g->gzip = gzip;
	g->file_hash = file_hash;
	for (int i = 0; i < SLOTS; i++)
		if ((g->buf[i] = malloc(BUNDLE_GZIP_CHUNK)) == NULL)
			goto oom;
	/* 15 + 16: a gzip wrapper; the level matters not with Huffman only. */
	if (gzip && deflateInit2(&g->z, 1, Z_DEFLATED, 15 + 16, 8, Z_HUFFMAN_ONLY) != Z_OK)
		goto oom;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	if (pthread_create(&g->tid, NULL, compressor, g) != 0) {
		if (gzip)
			deflateEnd(&g->z);
		pthread_cond_destroy(&g->cv);
		pthread_mutex_destroy(&g->mu);
		for (int i = 0; i < SLOTS; i++)
			free(g->buf[i]);
		free(g);
		return pv_fail(err, PV_ERR, "bundle: cannot start the gzip thread");
	}
	*g_r = g;
	return PV_OK;
oom:
	for (int i = 0; i < SLOTS; i++)
		free(g->buf[i]);
	free(g);
	return pv_fail(err, PV_ERR, "out of memory");
}

/* The slot at tail (the caller's) goes to the thread. */
static void hand_over(struct bundle_gzip *g)
{
	pthread_mutex_lock(&g->mu);
	g->tail++;
	pthread_cond_broadcast(&g->cv);
	while (g->tail - g->head == SLOTS && !g->failed)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

void bundle_gzip_compress(struct bundle_gzip *g, bool on)
{
	if (!g->gzip || g->stored_now == !on)
		return;
	if (g->len[g->tail % SLOTS] > 0)
		hand_over(g); /* what is in it keeps its mode */
	g->stored_now = !on;
}

int bundle_gzip_write(struct bundle_gzip *g, const void *p, size_t n, struct pv_error *err)
{
	const unsigned char *s = p;
	while (n > 0) {
		/* The slot at tail is the caller's until it is handed over. */
		size_t i = g->tail % SLOTS, k = BUNDLE_GZIP_CHUNK - g->len[i];
		if (k > n)
			k = n;
		g->stored[i] = g->stored_now;
		memcpy(g->buf[i] + g->len[i], s, k);
		g->len[i] += k;
		s += k;
		n -= k;
		if (g->len[i] < BUNDLE_GZIP_CHUNK)
			break;
		hand_over(g);
	}
	pthread_mutex_lock(&g->mu);
	bool failed = g->failed;
	pthread_mutex_unlock(&g->mu);
	return failed ? pv_fail(err, PV_ERR, "%s", g->why) : PV_OK;
}

static void release(struct bundle_gzip *g)
{
	if (g->gzip)
		deflateEnd(&g->z);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	for (int i = 0; i < SLOTS; i++)
		free(g->buf[i]);
	free(g);
}

int bundle_gzip_close(struct bundle_gzip **gp, struct pv_error *err)
{
	struct bundle_gzip *g = *gp;
	int r = PV_OK;
	if (g == NULL)
		return PV_OK;
	pthread_mutex_lock(&g->mu);
	if (g->len[g->tail % SLOTS] > 0)
		g->tail++;
	g->finish = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->tid, NULL);
	if (g->failed)
		r = pv_fail(err, PV_ERR, "%s", g->why);
	release(g);
	*gp = NULL;
	return r;
}

void bundle_gzip_abort(struct bundle_gzip **gp)
{
	struct bundle_gzip *g = *gp;
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->tid, NULL);
	release(g);
	*gp = NULL;
}
