/* libFuzzer target for the HTML sanitiser (archiver/index/sanitize): any
 * bytes as an HTML mail body (made clean UTF-8 first, as the message view
 * does). Crashes, leaks, UB and timeouts are findings, plus oracles: the
 * document is valid UTF-8 with our head and tail; every tag in its body is
 * one we write (an allowed name, allowed attributes, double-quoted
 * values), nothing that runs or fetches survives; and sanitising the body
 * again changes nothing (the output is already in the canonical form).
 * Seeds: tests/fuzz/corpus/fuzz_sanitize/ (hostile mail bodies). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "archiver/index/sanitize.h"
#include "archiver/index/text.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char head[] = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n";
static const char tail[] = "\n</body></html>\n";

/* The body of a document we wrote (abort when it is not one). */
static void body_of(const struct pv_buf *doc, const char **b_r, size_t *n_r)
{
	const char *s = pv_buf_str(doc);
	size_t hl = strlen(head), tl = strlen(tail);
	if (doc->len < hl + tl || memcmp(s, head, hl) != 0 ||
	    memcmp(s + doc->len - tl, tail, tl) != 0 ||
	    !pv_utf8_valid(doc->data, doc->len))
		abort();
	*b_r = s + hl;
	*n_r = doc->len - hl - tl;
}

/* Elements that must never be written. */
static const char *const banned_tags[] = {
	"script", "iframe", "svg", "object", "embed", "form", "input", "meta", "base", "link",
	"math", "frame", "frameset", "applet", "textarea", "select", "button", "noscript",
	"template", "title",
};
/* What no kept CSS may hold. */
static const char *const banned_css[] = {
	"url(", "expression", "@import", "javascript", "\\", "/*", "<",
};

static bool has_ci(const char *b, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	for (size_t i = 0; i + m <= n; i++)
		if (strncasecmp(b + i, needle, m) == 0)
			return true;
	return false;
}

static void check_css(const char *b, size_t n)
{
	for (size_t k = 0; k < sizeof(banned_css) / sizeof(banned_css[0]); k++)
		if (has_ci(b, n, banned_css[k]))
			abort();
}

static bool starts(const char *v, size_t n, const char *p)
{
	return n >= strlen(p) && strncasecmp(v, p, strlen(p)) == 0;
}

/* One attribute value as we write it (escaped, no raw '<' or '"'). */
static void check_value(const char *name, size_t nn, const char *v, size_t n)
{
	if (memchr(v, '<', n) != NULL)
		abort();
	if (nn == 5 && memcmp(name, "style", 5) == 0)
		check_css(v, n);
	if (nn == 4 && memcmp(name, "href", 4) == 0 && !starts(v, n, "http:") &&
	    !starts(v, n, "https:") && !starts(v, n, "mailto:") && !starts(v, n, "#"))
		abort();
	if (nn == 3 && memcmp(name, "src", 3) == 0 && !starts(v, n, "data:image/"))
		abort();
}

static void check_tags(const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (b[i] != '<')
			continue;
		/* a tag: "<name" or "</name", attributes as ' name="value"', '>' */
		size_t j = i + 1 + (i + 1 < n && b[i + 1] == '/'), name = j;
		while (j < n && ((b[j] >= 'a' && b[j] <= 'z') || (b[j] >= '0' && b[j] <= '9')))
			j++;
		for (size_t k = 0; k < sizeof(banned_tags) / sizeof(banned_tags[0]); k++)
			if (strlen(banned_tags[k]) == j - name &&
			    memcmp(b + name, banned_tags[k], j - name) == 0)
				abort();
		while (j < n && b[j] == ' ') {
			size_t a = ++j;
			while (j < n && b[j] >= 'a' && b[j] <= 'z')
				j++;
			if (j - a >= 2 && b[a] == 'o' && b[a + 1] == 'n') /* an event handler */
				abort();
			if (j + 1 >= n || b[j] != '=' || b[j + 1] != '"')
				abort();
			const char *q = memchr(b + j + 2, '"', n - j - 2);
			if (q == NULL)
				abort();
			check_value(b + a, j - a, b + j + 2, (size_t)(q - b) - j - 2);
			j = (size_t)(q - b) + 1;
		}
		if (j >= n || b[j] != '>')
			abort();
		/* a kept style element: plain CSS up to its end tag */
		if (j - i == 6 && memcmp(b + i, "<style", 6) == 0) {
			const char *e = memmem(b + j, n - j, "</style>", 8);
			if (e == NULL)
				abort();
			check_css(b + j + 1, (size_t)(e - b) - j - 1);
			j = (size_t)(e - b) + 7;
		}
		i = j;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_buf in, out, again;
	const char *b, *b2;
	size_t n, n2;
	pv_buf_init(&in, 3 * size + 16);
	pv_buf_init(&out, PV_VIEW_HTML_MAX);
	pv_buf_init(&again, PV_VIEW_HTML_MAX);
	if (index_text_to_utf8(NULL, (const char *)data, size, &in, NULL) != PV_OK ||
	    index_html_sanitize((const char *)in.data, in.len, &out, NULL) != PV_OK)
		abort();
	body_of(&out, &b, &n);
	check_tags(b, n);
	if (index_html_sanitize(b, n, &again, NULL) != PV_OK)
		abort();
	body_of(&again, &b2, &n2);
	if (n2 != n || memcmp(b, b2, n) != 0)
		abort();
	pv_buf_free(&again);
	pv_buf_free(&out);
	pv_buf_free(&in);
	return 0;
}
