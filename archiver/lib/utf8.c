#include "archiver/lib/utf8.h"

#include <string.h>

size_t pv_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	unsigned char b = s[0];
	size_t len;
	uint32_t cp, min;

	if (b < 0x80) {
		*cp_r = b;
		return 1;
	} else if (b >= 0xC2 && b <= 0xDF) {
		len = 2, cp = b & 0x1F, min = 0x80;
	} else if (b >= 0xE0 && b <= 0xEF) {
		len = 3, cp = b & 0x0F, min = 0x800;
	} else if (b >= 0xF0 && b <= 0xF4) {
		len = 4, cp = b & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	*cp_r = cp;
	return len;
}

bool pv_utf8_valid(const unsigned char *s, size_t n)
{
	uint32_t cp;
	for (size_t i = 0, k; i < n; i += k)
		if ((k = pv_utf8_decode(s + i, n - i, &cp)) == 0)
			return false;
	return true;
}

bool pv_utf8_is_bidi_control(uint32_t cp)
{
	return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t pv_utf8_strip_bidi(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t o = 0, i = 0;
	while (p[i] != '\0') {
		uint32_t cp;
		size_t n = 1;
		while (p[i + n] != '\0' && n < 4)
			n++;
		size_t k = pv_utf8_decode(p + i, n, &cp);
		if (k > 0 && pv_utf8_is_bidi_control(cp)) {
			i += k;
			continue;
		}
		k = k ? k : 1;
		memmove(p + o, p + i, k);
		o += k;
		i += k;
	}
	p[o] = '\0';
	return o;
}

bool pv_utf8_printable(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), k;
	uint32_t cp;
	for (size_t i = 0; i < len; i += k)
		if ((k = pv_utf8_decode(p + i, len - i, &cp)) == 0 || cp < 0x20 ||
		    (cp >= 0x7F && cp < 0xA0))
			return false;
	return true;
}
