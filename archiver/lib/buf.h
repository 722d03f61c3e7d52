#ifndef PV_BUF_H
#define PV_BUF_H

/* A growable byte buffer with a hard maximum (curl's dynbuf idea): every
 * buffer that holds outside input is created with the limit it may reach.
 * The data is always NUL-terminated for convenience (not counted in len). */

#include <stddef.h>

#include "archiver/lib/error.h"

struct pv_buf {
	unsigned char *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* Initialises an empty buffer that may grow up to max bytes. No allocation. */
void pv_buf_init(struct pv_buf *b, size_t max);
/* Makes room for n more bytes at once (when their number is known: no
 * growing copy by copy); PV_ELIMIT past max, PV_ERR on ENOMEM. */
int pv_buf_reserve(struct pv_buf *b, size_t n, struct pv_error *err);
/* Appends n bytes; PV_ELIMIT if len would exceed max, PV_ERR on ENOMEM. */
int pv_buf_append(struct pv_buf *b, const void *p, size_t n, struct pv_error *err);
int pv_buf_append_str(struct pv_buf *b, const char *s, struct pv_error *err);
int pv_buf_printf(struct pv_buf *b, struct pv_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Keeps the allocation, sets len to 0. */
void pv_buf_reset(struct pv_buf *b);
/* Frees the data (wiping it first when secret) and re-initialises. */
void pv_buf_free(struct pv_buf *b);
void pv_buf_free_secret(struct pv_buf *b);
/* Returns a NUL-terminated C string view of the buffer ("" when empty). */
const char *pv_buf_str(const struct pv_buf *b);

#endif
