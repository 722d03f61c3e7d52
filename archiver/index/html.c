#include "archiver/index/html.h"

#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "archiver/index/text.h"

/* Pending white space, emitted before the next visible character so runs
 * collapse and none trails. */
enum ws { WS_NONE, WS_SPACE, WS_LINE };

struct html {
	const char *s;
	size_t len, i;
	struct pv_buf *out;
	struct pv_error *err;
	enum ws ws;
	int r;
};

static void flush_space(struct html *h)
{
	if (h->r == PV_OK && h->ws != WS_NONE && h->out->len > 0)
		h->r = index_text_append(h->out, h->ws == WS_LINE ? "\n" : " ", 1, h->err);
	h->ws = WS_NONE;
}

static void emit(struct html *h, const char *p, size_t n)
{
	if (h->r != PV_OK || n == 0)
		return;
	flush_space(h);
	if (h->r == PV_OK)
		h->r = index_text_append(h->out, p, n, h->err);
}

static void space(struct html *h, enum ws w)
{
	if (w > h->ws)
		h->ws = w;
}

/* A decoded reference: white space and controls join the pending space,
 * invisible characters vanish, NUL is replaced (HTML 5 §13.2.5.80). */
static void emit_cp(struct html *h, unsigned long cp)
{
	if (cp == 0) {
		emit(h, "\xEF\xBF\xBD", 3);
	} else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xA0 ||
	    cp == 0x2002 || cp == 0x2003 || cp == 0x2009) {
		space(h, WS_SPACE);
	} else if (cp != 0xAD && cp != 0x200C && cp != 0x200D) {
		flush_space(h);
		if (h->r == PV_OK)
			h->r = index_text_append_cp(h->out, cp, h->err);
	}
}

/* The named references seen in mail; anything else stays literal. */
static const struct {
	const char *name;
	unsigned long cp;
} entities[] = {
	{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''},
	{"nbsp", 0xA0}, {"copy", 0xA9}, {"reg", 0xAE}, {"trade", 0x2122},
	{"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013},
	{"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C}, {"rdquo", 0x201D},
	{"sbquo", 0x201A}, {"bdquo", 0x201E}, {"laquo", 0xAB}, {"raquo", 0xBB},
	{"bull", 0x2022}, {"middot", 0xB7}, {"euro", 0x20AC}, {"pound", 0xA3},
	{"yen", 0xA5}, {"cent", 0xA2}, {"sect", 0xA7}, {"deg", 0xB0},
	{"plusmn", 0xB1}, {"times", 0xD7}, {"divide", 0xF7}, {"para", 0xB6},
	{"shy", 0xAD}, {"zwnj", 0x200C}, {"zwj", 0x200D}, {"ensp", 0x2002},
	{"emsp", 0x2003}, {"thinsp", 0x2009}, {"iexcl", 0xA1}, {"iquest", 0xBF},
	{"auml", 0xE4}, {"ouml", 0xF6}, {"uuml", 0xFC}, {"Auml", 0xC4},
	{"Ouml", 0xD6}, {"Uuml", 0xDC}, {"szlig", 0xDF}, {"aacute", 0xE1},
	{"agrave", 0xE0}, {"acirc", 0xE2}, {"atilde", 0xE3}, {"aring", 0xE5},
	{"aelig", 0xE6}, {"ccedil", 0xE7}, {"eacute", 0xE9}, {"egrave", 0xE8},
	{"ecirc", 0xEA}, {"euml", 0xEB}, {"iacute", 0xED}, {"igrave", 0xEC},
	{"icirc", 0xEE}, {"iuml", 0xEF}, {"ntilde", 0xF1}, {"oacute", 0xF3},
	{"ograve", 0xF2}, {"ocirc", 0xF4}, {"otilde", 0xF5}, {"oslash", 0xF8},
	{"uacute", 0xFA}, {"ugrave", 0xF9}, {"ucirc", 0xFB}, {"yacute", 0xFD},
	{"yuml", 0xFF}, {"Aacute", 0xC1}, {"Agrave", 0xC0}, {"Acirc", 0xC2},
	{"Aring", 0xC5}, {"AElig", 0xC6}, {"Ccedil", 0xC7}, {"Eacute", 0xC9},
	{"Egrave", 0xC8}, {"Ecirc", 0xCA}, {"Ntilde", 0xD1}, {"Oacute", 0xD3},
	{"Oslash", 0xD8}, {"Uacute", 0xDA},
};

size_t index_html_char_ref(const char *s, size_t len, unsigned long *cp_r)
{
	size_t n = 0;
	if (len < 3 || s[0] != '&')
		return 0;
	s++;
	len--;
	while (n < len && n < 32 && s[n] != ';')
		n++;
	if (n == 0 || n >= len || s[n] != ';')
		return 0;
	unsigned long cp = 0;
	if (s[0] == '#') {
		bool hex = n > 1 && (s[1] == 'x' || s[1] == 'X');
		size_t j = hex ? 2 : 1;
		if (j >= n || n - j > 8)
			return 0;
		for (; j < n; j++) {
			int d;
			char c = s[j];
			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (hex && c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else if (hex && c >= 'A' && c <= 'F')
				d = c - 'A' + 10;
			else
				return 0;
			cp = cp * (hex ? 16 : 10) + (unsigned long)d;
		}
		if (cp > 0x10FFFF)
			cp = 0xFFFD;
	} else {
		size_t k;
		for (k = 0; k < sizeof(entities) / sizeof(entities[0]); k++)
			if (strlen(entities[k].name) == n && memcmp(entities[k].name, s, n) == 0)
				break;
		if (k == sizeof(entities) / sizeof(entities[0]))
			return 0;
		cp = entities[k].cp;
	}
	*cp_r = cp;
	return n + 2;
}

/* At '&': decodes a character reference; returns false to leave the '&'
 * literal. */
static bool entity(struct html *h)
{
	unsigned long cp;
	size_t n = index_html_char_ref(h->s + h->i, h->len - h->i, &cp);
	if (n == 0)
		return false;
	emit_cp(h, cp);
	h->i += n;
	return true;
}

/* Case-insensitive search for needle in s[from..len). */
static size_t find_ci(const char *s, size_t len, size_t from, const char *needle)
{
	size_t nl = strlen(needle);
	for (size_t i = from; i + nl <= len; i++) {
		const char *p = memchr(s + i, '<', len - i);
		if (p == NULL)
			return len;
		i = (size_t)(p - s);
		if (i + nl <= len && strncasecmp(s + i, needle, nl) == 0)
			return i;
	}
	return len;
}

static bool name_in(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(name, *list) == 0)
			return true;
	return false;
}

/* At '<'. Returns false when this '<' does not open markup. */
static bool tag(struct html *h)
{
	static const char *const raw[] = {"script", "style", "template", NULL};
	static const char *const block[] = {
		"br", "p", "div", "li", "tr", "td", "th", "table", "ul", "ol", "dl",
		"dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
		"hr", "title", "section", "article", "header", "footer", "address",
		"center", "form", "body", "html", "head", NULL,
	};
	const char *s = h->s;
	size_t i = h->i + 1, len = h->len;
	if (i >= len)
		return false;
	if (len - i >= 3 && memcmp(s + i, "!--", 3) == 0) {
		const char *end = NULL;
		for (size_t j = i + 3; j + 3 <= len; j++) {
			const char *p = memchr(s + j, '-', len - j);
			if (p == NULL)
				break;
			j = (size_t)(p - s);
			if (j + 3 <= len && memcmp(p, "-->", 3) == 0) {
				end = p + 3;
				break;
			}
		}
		h->i = end ? (size_t)(end - s) : len;
		return true;
	}
	bool close = s[i] == '/';
	if (close)
		i++;
	if (!close && (s[i] == '!' || s[i] == '?')) {
		const char *p = memchr(s + i, '>', len - i);
		h->i = p ? (size_t)(p - s) + 1 : len;
		return true;
	}
	if (i >= len || !g_ascii_isalpha(s[i]))
		return false;
	char name[16];
	size_t n = 0;
	while (i < len && (g_ascii_isalnum(s[i]) || s[i] == '-')) {
		if (n < sizeof(name) - 1)
			name[n++] = g_ascii_tolower(s[i]);
		i++;
	}
	name[n] = '\0';
	char quote = 0;
	while (i < len && (quote || s[i] != '>')) {
		if (quote && s[i] == quote)
			quote = 0;
		else if (!quote && (s[i] == '"' || s[i] == '\''))
			quote = s[i];
		i++;
	}
	i = i < len ? i + 1 : len;
	if (name_in(name, block))
		space(h, WS_LINE);
	if (!close && name_in(name, raw)) {
		char endtag[20];
		snprintf(endtag, sizeof(endtag), "</%s", name);
		size_t e = find_ci(s, len, i, endtag);
		const char *p = e < len ? memchr(s + e, '>', len - e) : NULL;
		i = p ? (size_t)(p - s) + 1 : len;
	}
	h->i = i;
	return true;
}

int index_html_to_text(const char *html, size_t len, struct pv_buf *out,
	struct pv_error *err)
{
	struct html h = {.s = html, .len = len, .out = out, .err = err};
	size_t run = 0;
	if (len == 0)
		return PV_OK;
	while (h.i < len && h.r == PV_OK) {
		char c = html[h.i];
		if (c != '<' && c != '&' && c != ' ' && c != '\t' && c != '\n' &&
		    c != '\r' && c != '\f') {
			h.i++;
			continue;
		}
		emit(&h, html + run, h.i - run);
		if (c == '<') {
			if (!tag(&h))
				emit(&h, html + h.i++, 1);
		} else if (c == '&') {
			if (!entity(&h))
				emit(&h, html + h.i++, 1);
		} else {
			space(&h, WS_SPACE);
			h.i++;
		}
		run = h.i;
	}
	emit(&h, html + run, h.i - run);
	return h.r;
}
