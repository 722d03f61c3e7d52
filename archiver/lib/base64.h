#ifndef PV_BASE64_H
#define PV_BASE64_H

/* Strict standard base64 (RFC 4648 §4), the one decoder of the tree: SASL
 * challenges from a POP3 server, signed notes, checkpoints, proofs and
 * bundles all come from outside. Only the canonical spelling is accepted
 * (RFC 4648 §3.5: padded, no whitespace, zero pad bits), so one hash or
 * signature has one spelling. libsodium 1.0.18's sodium_base642bin is not
 * used: it decodes a byte >= 0x80 as if it were a base64 digit
 * ("QU\xc2B" decodes). Encoding is sodium_bin2base64. */

#include <stddef.h>

#include "archiver/lib/error.h"

/* Decodes s[0..len) into out (room for max bytes); *len_r gets the
 * decoded length. Returns 0, or PV_ERR for anything but canonical base64
 * or when the result does not fit (out is then undefined). "" decodes to
 * nothing. */
int pv_b64_decode(const char *s, size_t len, unsigned char *out, size_t max,
		  size_t *len_r) PV_WARN_UNUSED;

/* The value (0..63) of one character of the RFC 4648 §4 alphabet, or -1.
 * For decoders that must be lenient where this one is strict: MIME bodies
 * (RFC 2045 §6.8 says to skip what is not in the alphabet). A table: the
 * indexer decodes every attachment it looks into with it. */
extern const signed char pv_b64_values[256];
static inline int pv_b64_value(unsigned char c)
{
	return pv_b64_values[c];
}

#endif
