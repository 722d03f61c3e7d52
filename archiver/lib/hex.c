#include "archiver/lib/hex.h"

#include <stdbool.h>

void pv_hex(const unsigned char *bin, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * len] = '\0';
}

static int nibble(char c, bool lower_only)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F' && !lower_only)
		return c - 'A' + 10;
	return -1;
}

static int unhex(const char *s, size_t len, unsigned char *out, size_t n, bool lower_only)
{
	if (len != 2 * n)
		return PV_ERR;
	for (size_t i = 0; i < n; i++) {
		int hi = nibble(s[2 * i], lower_only), lo = nibble(s[2 * i + 1], lower_only);
		if (hi < 0 || lo < 0)
			return PV_ERR;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return PV_OK;
}

int pv_unhex(const char *s, size_t len, unsigned char *out, size_t n)
{
	return unhex(s, len, out, n, false);
}

int pv_unhex_lower(const char *s, size_t len, unsigned char *out, size_t n)
{
	return unhex(s, len, out, n, true);
}
