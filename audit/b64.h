#ifndef PV_B64_H
#define PV_B64_H

/* Strict standard base64 (RFC 4648 §4, padded, canonical) for the audit/
 * text formats. libsodium 1.0.18's sodium_base642bin alone is not enough:
 * it decodes any byte >= 0x80 as if it were a base64 digit (found by
 * fuzz_note), so one hash or signature would have many spellings. */

#include <stddef.h>
#include <stdint.h>

/* Decodes s[0..len) into out (room for max bytes). Returns 0 and the
 * decoded length, or -1 for anything but canonical base64. */
int b64_decode(const char *s, size_t len, uint8_t *out, size_t max, size_t *len_r);

/* Strict lower-case hex: exactly 2*n digits [0-9a-f] at s (not
 * NUL-terminated) into out[0..n). Returns 0 or -1. */
int hex_decode_lower(const char *s, size_t len, uint8_t *out, size_t n);

#endif
