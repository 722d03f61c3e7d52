#include "archiver/cli/json.h"

#include <string.h>

#include "archiver/lib/utf8.h"

void json_print_strn(FILE *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	fputc('"', out);
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
			i++;
		} else if (c == '\n') {
			fputs("\\n", out);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			i++;
		} else {
			uint32_t cp;
			size_t l = pv_utf8_decode(s + i, n - i, &cp);
			if (l == 0) {
				fputs("\\ufffd", out);
				i++;
			} else {
				fwrite(s + i, 1, l, out);
				i += l;
			}
		}
	}
	fputc('"', out);
}

void json_print_str(FILE *out, const char *s)
{
	json_print_strn(out, s, strlen(s));
}
