/* The export's spool (spool.h). */
#include "archiver/export/spool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <sodium.h>

/* Writes go out in blocks of this size. */
#define SPOOL_BUF (256 * 1024)

struct spool {
	int fd;
	size_t fill;
	unsigned char buf[SPOOL_BUF];
};

int spool_new(int fd, struct spool **s_r, struct pv_error *err)
{
	struct spool *s = malloc(sizeof(*s));
	*s_r = NULL;
	if (s == NULL) {
		close(fd);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	s->fd = fd;
	s->fill = 0;
	*s_r = s;
	return 0;
}

static int flush(struct spool *s, struct pv_error *err)
{
	size_t off = 0;
	while (off < s->fill) {
		ssize_t k = write(s->fd, s->buf + off, s->fill - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return pv_fail(err, PV_ERR, "export spool: %s",
				       k < 0 ? strerror(errno) : "short write");
		off += (size_t)k;
	}
	s->fill = 0;
	return 0;
}

int spool_write(struct spool *s, const void *p, size_t n, struct pv_error *err)
{
	const unsigned char *q = p;
	int r;
	if (s->fill > 0 && s->fill + n > SPOOL_BUF && (r = flush(s, err)) < 0)
		return r;
	if (n >= SPOOL_BUF) { /* a big message goes out as it is */
		size_t off = 0;
		while (off < n) {
			ssize_t k = write(s->fd, q + off, n - off);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return pv_fail(err, PV_ERR, "export spool: %s",
					       k < 0 ? strerror(errno) : "short write");
			off += (size_t)k;
		}
		return 0;
	}
	memcpy(s->buf + s->fill, q, n);
	s->fill += n;
	return 0;
}

int spool_rewind(struct spool *s, struct pv_error *err)
{
	int r = flush(s, err);
	sodium_memzero(s->buf, sizeof(s->buf));
	if (r == 0 && lseek(s->fd, 0, SEEK_SET) != 0)
		r = pv_fail(err, PV_ERR, "export spool: rewind: %s", strerror(errno));
	return r;
}

int spool_read(struct spool *s, void *p, size_t n, struct pv_error *err)
{
	unsigned char *q = p;
	while (n > 0) {
		ssize_t k = read(s->fd, q, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return pv_fail(err, PV_ERR, "export spool: read: %s", strerror(errno));
		if (k == 0)
			return pv_fail(err, PV_EINTEGRITY, "export spool: cut short");
		q += k;
		n -= (size_t)k;
	}
	return 0;
}

void spool_free(struct spool **sp)
{
	struct spool *s = *sp;
	if (s == NULL)
		return;
	close(s->fd);
	sodium_memzero(s->buf, sizeof(s->buf));
	free(s);
	*sp = NULL;
}
