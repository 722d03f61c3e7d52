#ifndef PV_SECRET_H
#define PV_SECRET_H

/* Buffers for secrets (passwords, tokens, token commands, TLS keys). The
 * size of each is kept in front of it, so pv_secret_free wipes every byte
 * of it: what follows a NUL inside the text, and the room past the text
 * that a bounded read left, included (a wipe up to the first NUL leaves
 * those behind). */

#include <stddef.h>

/* A zeroed buffer of size bytes (size >= 1), NULL when out of memory. */
char *pv_secret_alloc(size_t size);
/* A new buffer of n + 1 bytes holding s[0..n) and a NUL. */
char *pv_secret_dup(const void *s, size_t n);
/* The usable size of a buffer from pv_secret_alloc. */
size_t pv_secret_size(const char *secret);
/* Zeroes the whole buffer (it stays allocated). */
void pv_secret_wipe(char *secret);
/* Wipes and frees *secret (from pv_secret_alloc, or a function whose
 * contract says so) and sets it to NULL; NULL is fine. */
void pv_secret_free(char **secret);

#endif
