/* HTML sanitiser (sanitize.h): tokens in, an allow-listed document out. */
#include "archiver/index/sanitize.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "archiver/index/html.h"
#include "archiver/index/text.h"

/* Element names we know are at most 10 characters ("blockquote",
 * "figcaption", "colgroup"); a longer name is none of them. */
#define NAME_LEN 16

static const char doc_head[] =
	"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n";
static const char doc_tail[] = "\n</body></html>\n";
static const char cut_note[] =
	"\n<p>[popvault: the rest of this message is too long to show here; "
	"download the message to read all of it]</p>";

enum kind {
	K_DROP,     /* not on the list: the tag goes, its content stays */
	K_KEEP,     /* kept, with its end tag */
	K_VOID,     /* kept, has no end tag */
	K_SKIP,     /* dropped with its content (nesting of the same name counted) */
	K_RAW,      /* raw text up to its end tag, dropped with it */
	K_STYLE,    /* raw text: kept when it is plain CSS */
	K_REST,     /* plaintext: everything after it is text to a browser; dropped */
};

/* Sorted by name (bsearch). Not listed: K_DROP. */
static const struct element {
	const char *name;
	enum kind kind;
} elements[] = {
	{"a", K_KEEP}, {"abbr", K_KEEP}, {"acronym", K_KEEP}, {"address", K_KEEP},
	{"applet", K_SKIP}, {"article", K_KEEP}, {"aside", K_KEEP}, {"audio", K_SKIP},
	{"b", K_KEEP}, {"bdi", K_KEEP}, {"big", K_KEEP}, {"blockquote", K_KEEP}, {"br", K_VOID},
	{"button", K_SKIP}, {"canvas", K_SKIP}, {"caption", K_KEEP}, {"center", K_KEEP},
	{"cite", K_KEEP}, {"code", K_KEEP}, {"col", K_VOID}, {"colgroup", K_KEEP},
	{"datalist", K_SKIP}, {"dd", K_KEEP}, {"del", K_KEEP}, {"details", K_KEEP},
	{"dfn", K_KEEP}, {"div", K_KEEP}, {"dl", K_KEEP}, {"dt", K_KEEP}, {"em", K_KEEP},
	{"figcaption", K_KEEP}, {"figure", K_KEEP}, {"font", K_KEEP}, {"footer", K_KEEP},
	{"frameset", K_SKIP}, {"h1", K_KEEP}, {"h2", K_KEEP}, {"h3", K_KEEP}, {"h4", K_KEEP},
	{"h5", K_KEEP}, {"h6", K_KEEP}, {"header", K_KEEP}, {"hr", K_VOID}, {"i", K_KEEP},
	{"iframe", K_RAW}, {"img", K_VOID}, {"ins", K_KEEP}, {"kbd", K_KEEP}, {"li", K_KEEP},
	{"main", K_KEEP}, {"map", K_SKIP}, {"mark", K_KEEP}, {"math", K_SKIP}, {"nav", K_KEEP},
	{"noembed", K_RAW}, {"noframes", K_RAW}, {"noscript", K_RAW}, {"object", K_SKIP},
	{"ol", K_KEEP}, {"p", K_KEEP}, {"plaintext", K_REST}, {"pre", K_KEEP}, {"q", K_KEEP},
	{"s", K_KEEP}, {"samp", K_KEEP}, {"script", K_RAW}, {"section", K_KEEP},
	{"select", K_SKIP}, {"small", K_KEEP}, {"span", K_KEEP}, {"strike", K_KEEP},
	{"strong", K_KEEP}, {"style", K_STYLE}, {"sub", K_KEEP}, {"summary", K_KEEP},
	{"sup", K_KEEP}, {"svg", K_SKIP}, {"table", K_KEEP}, {"tbody", K_KEEP}, {"td", K_KEEP},
	{"template", K_SKIP}, {"textarea", K_RAW}, {"tfoot", K_KEEP}, {"th", K_KEEP},
	{"thead", K_KEEP}, {"time", K_KEEP}, {"title", K_RAW}, {"tr", K_KEEP}, {"tt", K_KEEP},
	{"u", K_KEEP}, {"ul", K_KEEP}, {"var", K_KEEP}, {"video", K_SKIP}, {"wbr", K_VOID},
	{"xmp", K_RAW},
};

enum check { C_ANY, C_STYLE, C_HREF, C_SRC };

/* Attributes kept: on any kept element, or only on `only`. */
static const struct attr {
	const char *name;
	const char *only; /* NULL: any element */
	enum check check;
} attrs[] = {
	{"abbr", NULL, C_ANY}, {"align", NULL, C_ANY}, {"alt", "img", C_ANY},
	{"bgcolor", NULL, C_ANY}, {"border", NULL, C_ANY}, {"cellpadding", NULL, C_ANY},
	{"cellspacing", NULL, C_ANY}, {"class", NULL, C_ANY}, {"clear", NULL, C_ANY},
	{"color", NULL, C_ANY}, {"colspan", NULL, C_ANY}, {"dir", NULL, C_ANY},
	{"face", NULL, C_ANY}, {"headers", NULL, C_ANY}, {"height", NULL, C_ANY},
	{"href", "a", C_HREF}, {"hspace", NULL, C_ANY}, {"id", NULL, C_ANY},
	{"lang", NULL, C_ANY}, {"name", "a", C_ANY}, {"nowrap", NULL, C_ANY},
	{"reversed", "ol", C_ANY}, {"rowspan", NULL, C_ANY}, {"scope", NULL, C_ANY},
	{"size", NULL, C_ANY}, {"span", NULL, C_ANY}, {"src", "img", C_SRC},
	{"start", "ol", C_ANY}, {"style", NULL, C_STYLE}, {"summary", NULL, C_ANY},
	{"title", NULL, C_ANY}, {"type", "ol", C_ANY}, {"type", "ul", C_ANY},
	{"type", "li", C_ANY}, {"valign", NULL, C_ANY}, {"vspace", NULL, C_ANY},
	{"width", NULL, C_ANY},
};
#define N_ATTRS (sizeof(attrs) / sizeof(attrs[0]))

/* CSS that may fetch, run or hide something: a declaration holding any of
 * these (compared without case) is dropped. Escapes and comments are
 * refused outright, so none of these can be spelled another way. */
static const char *const css_bad[] = {
	"url(", "image(", "image-set(", "cross-fade(", "element(", "src(", "expression",
	"javascript", "vbscript", "behavior", "binding", "@import", "\\", "/*", "<",
};

struct san {
	const char *s;
	size_t len, i;
	struct pv_buf *out;
	size_t limit;     /* out may grow to this; the rest is for the note and tail */
	bool full;        /* the limit was reached: nothing more is written */
	struct pv_buf tag, val, tmp; /* scratch: the tag being built, values */
	char skip[NAME_LEN + 1]; /* dropping this element with its content */
	unsigned skip_depth;
	int r;
	struct pv_error *err;
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static void oom(struct san *z, int r)
{
	if (z->r == PV_OK && r < 0)
		z->r = r == PV_ELIMIT ? PV_OK : pv_fail(z->err, PV_ERR, "out of memory");
	if (r == PV_ELIMIT)
		z->full = true;
}

static void put(struct san *z, struct pv_buf *b, const char *p, size_t n)
{
	if (z->r != PV_OK || z->full || n == 0)
		return;
	if (b == z->out && b->len + n > z->limit) {
		z->full = true;
		return;
	}
	oom(z, pv_buf_append(b, p, n, NULL));
}

static void puts_(struct san *z, struct pv_buf *b, const char *s)
{
	put(z, b, s, strlen(s));
}

/* Text or an attribute value escaped (& < > " all as references). */
static void put_escaped(struct san *z, struct pv_buf *b, const char *p, size_t n)
{
	size_t run = 0;
	for (size_t k = 0; k < n; k++) {
		const char *rep = NULL;
		switch (p[k]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		default: continue;
		}
		put(z, b, p + run, k - run);
		puts_(z, b, rep);
		run = k + 1;
	}
	put(z, b, p + run, n - run);
}

/* A decoded character reference as text: controls become a space, NUL
 * U+FFFD (HTML 5 §13.2.5.80). */
static void put_cp(struct san *z, struct pv_buf *b, unsigned long cp)
{
	struct pv_buf one;
	char c;
	if (cp == 0)
		cp = 0xFFFD;
	else if ((cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0x7F && cp <= 0x9F))
		cp = ' ';
	if (cp < 0x80) {
		c = (char)cp;
		put_escaped(z, b, &c, 1);
		return;
	}
	pv_buf_init(&one, 8);
	oom(z, index_text_append_cp(&one, cp, NULL));
	put(z, b, (const char *)one.data, one.len);
	pv_buf_free(&one);
}

/* s[0..n) with its character references decoded, into b (reset first). */
static void decode_refs(struct san *z, struct pv_buf *b, const char *s, size_t n)
{
	pv_buf_reset(b);
	size_t run = 0;
	for (size_t k = 0; k < n && z->r == PV_OK;) {
		unsigned long cp;
		size_t m = s[k] == '&' ? index_html_char_ref(s + k, n - k, &cp) : 0;
		if (m == 0) {
			k++;
			continue;
		}
		oom(z, pv_buf_append(b, s + run, k - run, NULL));
		if (cp == 0 || cp > 0x10FFFF)
			cp = 0xFFFD;
		oom(z, index_text_append_cp(b, cp, NULL));
		k += m;
		run = k;
	}
	oom(z, pv_buf_append(b, s + run, n - run, NULL));
}

static int cmp_element(const void *key, const void *e)
{
	return strcmp(key, ((const struct element *)e)->name);
}

static enum kind kind_of(const char *name)
{
	const struct element *e = bsearch(name, elements, sizeof(elements) / sizeof(elements[0]),
					  sizeof(elements[0]), cmp_element);
	return e ? e->kind : K_DROP;
}

/* Case-insensitive: does needle occur in s[0..n)? */
static bool contains_ci(const char *s, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	for (size_t k = 0; k + m <= n; k++)
		if (lower(s[k]) == needle[0] && strncasecmp(s + k, needle, m) == 0)
			return true;
	return false;
}

/* CSS text that may stay: no control character, none of css_bad. */
static bool css_plain(const char *s, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7F)
			return false;
	}
	for (size_t k = 0; k < sizeof(css_bad) / sizeof(css_bad[0]); k++)
		if (contains_ci(s, n, css_bad[k]))
			return false;
	return true;
}

/* A style attribute's plain declarations into z->tmp; false when none. */
static bool style_value(struct san *z, const char *v, size_t n)
{
	pv_buf_reset(&z->tmp);
	for (size_t k = 0; k < n;) {
		size_t e = k;
		while (e < n && v[e] != ';')
			e++;
		size_t a = k, b = e;
		while (a < b && is_ws(v[a]))
			a++;
		while (b > a && is_ws(v[b - 1]))
			b--;
		if (b > a && css_plain(v + a, b - a)) {
			if (z->tmp.len > 0)
				put(z, &z->tmp, "; ", 2);
			put(z, &z->tmp, v + a, b - a);
		}
		k = e + 1;
	}
	return z->tmp.len > 0;
}

/* href: #fragment, http:, https: or mailto:, after a browser's URL
 * clean-up (leading and trailing C0 and spaces trimmed, tab and line
 * breaks removed everywhere), which is what is kept (in z->tmp). */
static bool href_value(struct san *z, const char *v, size_t n)
{
	static const char *const schemes[] = {"http", "https", "mailto"};
	while (n > 0 && (unsigned char)v[0] <= 0x20)
		v++, n--;
	while (n > 0 && (unsigned char)v[n - 1] <= 0x20)
		n--;
	pv_buf_reset(&z->tmp);
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)v[k];
		if (c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c < 0x20 || c == 0x7F)
			return false;
		put(z, &z->tmp, v + k, 1);
	}
	const char *u = pv_buf_str(&z->tmp);
	if (u[0] == '#')
		return true;
	size_t k = 0;
	while (is_alpha(u[k]) || (k > 0 && ((u[k] >= '0' && u[k] <= '9') || u[k] == '+' ||
					     u[k] == '-' || u[k] == '.')))
		k++;
	if (k == 0 || u[k] != ':')
		return false; /* relative or scheme-relative: would load from somewhere */
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strlen(schemes[i]) == k && strncasecmp(u, schemes[i], k) == 0)
			return true;
	return false;
}

/* img src: an inline raster image (data:image/png|gif|jpeg|webp;base64,),
 * nothing that fetches; kept in z->tmp without white space. */
static bool src_value(struct san *z, const char *v, size_t n)
{
	static const char *const types[] = {"png", "gif", "jpeg", "jpg", "webp"};
	pv_buf_reset(&z->tmp);
	for (size_t k = 0; k < n; k++)
		if (!is_ws(v[k]))
			put(z, &z->tmp, v + k, 1);
	const char *u = pv_buf_str(&z->tmp);
	if (strncasecmp(u, "data:image/", 11) != 0)
		return false;
	u += 11;
	size_t t;
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		size_t m = strlen(types[t]);
		if (strncasecmp(u, types[t], m) == 0 && strncasecmp(u + m, ";base64,", 8) == 0) {
			u += m + 8;
			break;
		}
	}
	if (t == sizeof(types) / sizeof(types[0]))
		return false;
	return strspn(u, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
	       strlen(u);
}

/* Attribute name (raw bytes) of element `el`: its entry, or NULL. */
static const struct attr *attr_of(const char *el, const char *name, size_t n)
{
	for (size_t k = 0; k < N_ATTRS; k++)
		if (strlen(attrs[k].name) == n && strncasecmp(attrs[k].name, name, n) == 0 &&
		    (attrs[k].only == NULL || strcmp(attrs[k].only, el) == 0))
			return &attrs[k];
	return NULL;
}

/* One attribute of a kept element: checked, then added to z->tag. seen:
 * bits of the attributes already given (a repeated one is ignored, as a
 * browser does). *has_src: a valid img src. */
static void attribute(struct san *z, const char *el, const char *name, size_t nn,
		      const char *value, size_t vn, uint64_t *seen, bool *has_src)
{
	const struct attr *a = attr_of(el, name, nn);
	if (a == NULL)
		return;
	uint64_t bit = 1ull << (a - attrs);
	if (*seen & bit)
		return;
	*seen |= bit;
	decode_refs(z, &z->val, value, vn);
	const char *v = pv_buf_str(&z->val);
	size_t n = z->val.len;
	switch (a->check) {
	case C_ANY: break;
	case C_STYLE:
		if (!style_value(z, v, n))
			return;
		v = pv_buf_str(&z->tmp), n = z->tmp.len;
		break;
	case C_HREF:
		if (!href_value(z, v, n))
			return;
		v = pv_buf_str(&z->tmp), n = z->tmp.len;
		break;
	case C_SRC:
		if (!src_value(z, v, n))
			return;
		v = pv_buf_str(&z->tmp), n = z->tmp.len;
		*has_src = true;
		break;
	}
	puts_(z, &z->tag, " ");
	puts_(z, &z->tag, a->name);
	puts_(z, &z->tag, "=\"");
	put_escaped(z, &z->tag, v, n);
	puts_(z, &z->tag, "\"");
}

/* The end of raw text started at `from` for element name: the index of
 * "</name" followed by white space, '/' or '>' (z->len when none). */
static size_t raw_end(const struct san *z, size_t from, const char *name)
{
	size_t m = strlen(name);
	for (size_t k = from; k + 2 + m <= z->len; k++) {
		const char *p = memchr(z->s + k, '<', z->len - k);
		if (p == NULL)
			break;
		k = (size_t)(p - z->s);
		if (k + 2 + m <= z->len && z->s[k + 1] == '/' && strncasecmp(z->s + k + 2, name, m) == 0 &&
		    (k + 2 + m == z->len || is_ws(z->s[k + 2 + m]) || z->s[k + 2 + m] == '/' ||
		     z->s[k + 2 + m] == '>'))
			return k;
	}
	return z->len;
}

/* Past the '>' that ends a tag begun before `from` (quotes respected);
 * z->len when there is none. */
static size_t past_gt(const struct san *z, size_t from)
{
	const char *p = memchr(z->s + from, '>', z->len - from);
	return p ? (size_t)(p - z->s) + 1 : z->len;
}

/* A raw-text element's content [z->i, end) and its end tag: dropped, or
 * for a plain style element, kept. */
static void raw_text(struct san *z, const char *name, enum kind k)
{
	size_t start = z->i, end = raw_end(z, start, name);
	if (k == K_STYLE && z->skip_depth == 0 && css_plain(z->s + start, end - start)) {
		/* no '<' in it (css_plain), so nothing can end the element early */
		puts_(z, z->out, "<style>");
		put(z, z->out, z->s + start, end - start);
		puts_(z, z->out, "</style>");
	}
	z->i = end < z->len ? past_gt(z, end) : z->len;
}

/* At "<x" (x a letter) or "</x": one tag. */
static void tag(struct san *z, bool close)
{
	const char *s = z->s;
	size_t p = z->i + (close ? 2 : 1), nl = 0;
	char name[NAME_LEN + 1];
	while (p < z->len && !is_ws(s[p]) && s[p] != '/' && s[p] != '>') {
		if (nl < NAME_LEN)
			name[nl] = lower(s[p]);
		nl++;
		p++;
	}
	name[nl <= NAME_LEN ? nl : 0] = '\0'; /* too long: no name we know */
	enum kind k = kind_of(name);
	bool keep = z->skip_depth == 0 && (k == K_KEEP || k == K_VOID) && !close;
	bool self_closing = false, has_src = false;
	uint64_t seen = 0;

	pv_buf_reset(&z->tag);
	if (keep) {
		puts_(z, &z->tag, "<");
		puts_(z, &z->tag, name);
	}
	for (;;) { /* attributes (HTML 5 §13.2.5.32-39) */
		while (p < z->len && (is_ws(s[p]) || s[p] == '/')) {
			self_closing = s[p] == '/';
			p++;
		}
		if (p >= z->len) { /* a tag cut by the end of input is no tag */
			z->i = z->len;
			return;
		}
		if (s[p] == '>') {
			p++;
			break;
		}
		self_closing = false;
		size_t a = p;
		while (p < z->len && !is_ws(s[p]) && s[p] != '/' && s[p] != '>' &&
		       (s[p] != '=' || p == a))
			p++;
		size_t an = p - a, v = p, vn = 0;
		while (p < z->len && is_ws(s[p]))
			p++;
		if (p < z->len && s[p] == '=') {
			p++;
			while (p < z->len && is_ws(s[p]))
				p++;
			if (p < z->len && (s[p] == '"' || s[p] == '\'')) {
				const char *q = memchr(s + p + 1, s[p], z->len - p - 1);
				if (q == NULL) {
					z->i = z->len;
					return;
				}
				v = p + 1;
				vn = (size_t)(q - s) - v;
				p = (size_t)(q - s) + 1;
			} else {
				v = p;
				while (p < z->len && !is_ws(s[p]) && s[p] != '>')
					p++;
				vn = p - v;
			}
		}
		if (keep)
			attribute(z, name, s + a, an, s + v, vn, &seen, &has_src);
	}
	z->i = p;
	if (close) {
		if (z->skip_depth > 0) {
			if (strcmp(name, z->skip) == 0)
				z->skip_depth--;
		} else if (k == K_KEEP) {
			puts_(z, z->out, "</");
			puts_(z, z->out, name);
			puts_(z, z->out, ">");
		}
		return;
	}
	switch (k) {
	case K_RAW:
	case K_STYLE:
		raw_text(z, name, k);
		return;
	case K_REST:
		z->i = z->len;
		return;
	case K_SKIP:
		/* foreign elements (svg, math) honour "/>"; HTML ones stay open */
		if (self_closing && (strcmp(name, "svg") == 0 || strcmp(name, "math") == 0))
			return;
		if (z->skip_depth == 0) {
			memcpy(z->skip, name, strlen(name) + 1);
			z->skip_depth = 1;
		} else if (strcmp(name, z->skip) == 0) {
			z->skip_depth++;
		}
		return;
	default:
		break;
	}
	if (!keep || (strcmp(name, "img") == 0 && !has_src))
		return;
	puts_(z, &z->tag, ">");
	/* whole tags only: a cut never leaves half of one */
	put(z, z->out, (const char *)z->tag.data, z->tag.len);
}

/* At '<': markup, or a literal '<'. */
static void markup(struct san *z)
{
	const char *s = z->s;
	size_t i = z->i, left = z->len - i;
	if (left >= 4 && memcmp(s + i, "<!--", 4) == 0) {
		/* a comment ends at "-->", "--!>", or at once as "<!-->" / "<!--->" */
		size_t k = i + 4;
		if (k < z->len && s[k] == '>')
			z->i = k + 1;
		else if (k + 1 < z->len && s[k] == '-' && s[k + 1] == '>')
			z->i = k + 2;
		else {
			z->i = z->len;
			for (; k + 2 < z->len; k++) {
				const char *p = memchr(s + k, '-', z->len - k);
				if (p == NULL)
					break;
				k = (size_t)(p - s);
				if (k + 3 <= z->len && memcmp(s + k, "-->", 3) == 0) {
					z->i = k + 3;
					break;
				}
				if (k + 4 <= z->len && memcmp(s + k, "--!>", 4) == 0) {
					z->i = k + 4;
					break;
				}
			}
		}
		return;
	}
	if (left >= 2 && (s[i + 1] == '!' || s[i + 1] == '?')) { /* doctype, CDATA, PI */
		z->i = past_gt(z, i + 2);
		return;
	}
	if (left >= 2 && is_alpha(s[i + 1])) {
		tag(z, false);
		return;
	}
	if (left >= 3 && s[i + 1] == '/' && is_alpha(s[i + 2])) {
		tag(z, true);
		return;
	}
	if (left >= 2 && s[i + 1] == '/') { /* "</>" is nothing, "</ x>" a comment */
		z->i = left == 2 ? z->len : s[i + 2] == '>' ? i + 3 : past_gt(z, i + 2);
		return;
	}
	if (z->skip_depth == 0)
		puts_(z, z->out, "&lt;");
	z->i = i + 1;
}

static void run(struct san *z)
{
	size_t run = z->i;
	while (z->i < z->len && z->r == PV_OK && !z->full) {
		char c = z->s[z->i];
		if (c != '<' && c != '&' && c != '>' && c != '"') {
			z->i++;
			continue;
		}
		if (z->skip_depth == 0)
			put(z, z->out, z->s + run, z->i - run);
		if (c == '<') {
			markup(z);
		} else if (c == '&') {
			unsigned long cp;
			size_t m = index_html_char_ref(z->s + z->i, z->len - z->i, &cp);
			if (z->skip_depth == 0) {
				if (m > 0)
					put_cp(z, z->out, cp);
				else
					puts_(z, z->out, "&amp;");
			}
			z->i += m ? m : 1;
		} else {
			if (z->skip_depth == 0)
				put_escaped(z, z->out, &c, 1);
			z->i++;
		}
		run = z->i;
	}
	if (z->skip_depth == 0 && z->i >= z->len)
		put(z, z->out, z->s + run, z->len - run);
}

/* Head, the body (HTML sanitised, or text in <pre>), the note when cut, tail. */
static int document(const char *s, size_t len, struct pv_buf *out, bool html,
		    struct pv_error *err)
{
	struct san z = {.s = s ? s : "", .len = s ? len : 0, .out = out, .err = err};
	if (out->max < INDEX_SANITIZE_MIN_OUT || out->max - out->len < INDEX_SANITIZE_MIN_OUT)
		return pv_fail(err, PV_ELIMIT, "no room for an HTML document");
	z.limit = out->max - sizeof(cut_note) - sizeof(doc_tail) - 16;
	pv_buf_init(&z.tag, out->max);
	pv_buf_init(&z.val, out->max);
	pv_buf_init(&z.tmp, out->max);
	puts_(&z, out, doc_head);
	if (html) {
		run(&z);
	} else {
		/* Wrapped: a plain-text mail's long lines (an address, a URL, a
		 * paragraph sent unwrapped) stay inside the frame. */
		puts_(&z, out, "<pre style=\"white-space: pre-wrap; overflow-wrap: anywhere\">");
		put_escaped(&z, out, z.s, z.len);
		if (!z.full)
			puts_(&z, out, "</pre>");
	}
	pv_buf_free(&z.tag);
	pv_buf_free(&z.val);
	pv_buf_free(&z.tmp);
	if (z.r != PV_OK)
		return z.r;
	bool cut = z.full;
	z.full = false;
	z.limit = out->max;
	if (cut)
		puts_(&z, out, cut_note);
	puts_(&z, out, doc_tail);
	return z.r;
}

int index_html_sanitize(const char *html, size_t len, struct pv_buf *out, struct pv_error *err)
{
	return document(html, len, out, true, err);
}

int index_text_to_html(const char *text, size_t len, struct pv_buf *out, struct pv_error *err)
{
	return document(text, len, out, false, err);
}
