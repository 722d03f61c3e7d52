#ifndef PV_UTF8_H
#define PV_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes one UTF-8 sequence at s[0..n) (n >= 1): returns its length and
 * the code point in *cp_r, or 0 when it is not valid UTF-8 per RFC 3629
 * (overlong forms, surrogates, values past U+10FFFF, a cut sequence). */
size_t pv_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp_r);

#endif
