/* The '~' matcher. Iterative, remembering only the last '*': on a mismatch
 * the last star swallows one more character and matching resumes. That is
 * enough for '*' and '?' globs and never recurses, so a hostile subject
 * cannot blow the stack. */
#include "policy/policy.h"

/* Bytes of the character at s (1 for bytes that are not valid UTF-8; never
 * past the terminating NUL). */
static size_t char_len(const char *s)
{
	unsigned char b = (unsigned char)s[0];
	size_t n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
	for (size_t i = 1; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			return 1;
	return n;
}

static unsigned char fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

bool policy_glob_match(const char *pattern, const char *text)
{
	const char *p = pattern, *t = text;
	const char *star_p = NULL, *star_t = NULL;

	while (*t != '\0') {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (*p == '\0')
				return true;
			star_p = p;
			star_t = t;
			continue;
		}
		if (*p == '?') {
			p++;
			t += char_len(t);
			continue;
		}
		if (*p != '\0') {
			const char *lit = p[0] == '\\' && p[1] != '\0' ? p + 1 : p;
			if (fold((unsigned char)*lit) == fold((unsigned char)*t)) {
				p = lit + 1;
				t++;
				continue;
			}
		}
		if (star_p == NULL)
			return false;
		star_t += char_len(star_t);
		t = star_t;
		p = star_p;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}
