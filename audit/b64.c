#include "audit/b64.h"

#include <sodium.h>

int b64_decode(const char *s, size_t len, uint8_t *out, size_t max, size_t *len_r)
{
	size_t n = 0;
	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || (c == '=' && i + 2 >= len)))
			return -1;
	}
	if (sodium_base642bin(out, max, s, len, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	*len_r = n;
	return 0;
}

int hex_decode_lower(const char *s, size_t len, uint8_t *out, size_t n)
{
	if (len != 2 * n)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return 0;
}
