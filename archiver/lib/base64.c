#include "archiver/lib/base64.h"

#include <stdint.h>

/* (The cast: clang weighs every branch, also those a constant c skips.) */
#define B64_1(c)                                                                                 \
	((signed char)((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                       \
		       : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                  \
		       : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                  \
		       : (c) == '+'               ? 62                                              \
		       : (c) == '/'               ? 63                                              \
						  : -1))
#define B64_4(c) B64_1(c), B64_1((c) + 1), B64_1((c) + 2), B64_1((c) + 3)
#define B64_16(c) B64_4(c), B64_4((c) + 4), B64_4((c) + 8), B64_4((c) + 12)
#define B64_64(c) B64_16(c), B64_16((c) + 16), B64_16((c) + 32), B64_16((c) + 48)
const signed char pv_b64_values[256] = {B64_64(0), B64_64(64), B64_64(128), B64_64(192)};

int pv_b64_decode(const char *s, size_t len, unsigned char *out, size_t max, size_t *len_r)
{
	size_t pad = 0, o = 0;
	uint32_t acc = 0;

	if (len % 4 != 0)
		return PV_ERR;
	if (len > 0 && s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	if (len / 4 * 3 - pad > max)
		return PV_ERR;
	for (size_t i = 0; i < len - pad; i++) {
		int v = pv_b64_value((unsigned char)s[i]);
		if (v < 0)
			return PV_ERR; /* also '=' anywhere but the last two places */
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
		}
	}
	/* The last quantum: its unused bits must be zero (RFC 4648 §3.5). */
	if (pad == 1) {
		if (acc & 0x3)
			return PV_ERR;
		out[o++] = (unsigned char)(acc >> 10);
		out[o++] = (unsigned char)(acc >> 2);
	} else if (pad == 2) {
		if (acc & 0xF)
			return PV_ERR;
		out[o++] = (unsigned char)(acc >> 4);
	}
	*len_r = o;
	return PV_OK;
}
