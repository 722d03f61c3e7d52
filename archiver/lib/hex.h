#ifndef PV_HEX_H
#define PV_HEX_H

/* Hex (RFC 4648 §8), the one encoder and decoder of the tree. */

#include <stddef.h>

#include "archiver/lib/error.h"

/* Lower-case hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void pv_hex(const unsigned char *bin, size_t len, char *out);

/* Decodes exactly 2*n hex digits s[0..len) (not NUL-terminated) into
 * out[0..n). Returns 0, or PV_ERR when len != 2*n or a character is not a
 * digit (out is then undefined). pv_unhex takes either case;
 * pv_unhex_lower only the lower case pv_hex writes: hashes, salts and
 * commitments read back from our own formats have one spelling each. */
int pv_unhex(const char *s, size_t len, unsigned char *out, size_t n) PV_WARN_UNUSED;
int pv_unhex_lower(const char *s, size_t len, unsigned char *out, size_t n) PV_WARN_UNUSED;

#endif
