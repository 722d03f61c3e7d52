#include "archiver/index/text.h"

#include <errno.h>
#include <gmime/gmime.h>
#include <iconv.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "archiver/lib/utf8.h"

/* Invalid sequences tolerated in a declared charset before the rest of
 * the text is read as index_text_to_utf8 reads undeclared text. */
#define ICONV_RESYNC_MAX 256

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

/* glibc loads a charset's converter (a gconv module) at iconv_open and
 * unloads it when its last descriptor is closed; GMime opens and closes
 * one per encoded word, so every RFC 2047 word in a foreign charset cost a
 * dlopen and a dlclose (perf: a third of a header parse, measured on the
 * bench's mix). One descriptor per common mail charset, kept open for the
 * life of the process, keeps those modules loaded. */
static const char *const pinned_charsets[] = {
	"ISO-8859-1", "ISO-8859-2", "ISO-8859-5", "ISO-8859-7", "ISO-8859-9", "ISO-8859-15",
	"WINDOWS-1250", "WINDOWS-1251", "WINDOWS-1252", "WINDOWS-1256", "KOI8-R", "KOI8-U",
	"ISO-2022-JP", "SHIFT_JIS", "EUC-JP", "GB18030", "GBK", "BIG5", "EUC-KR", "UTF-7",
};

#define PINNED (sizeof(pinned_charsets) / sizeof(pinned_charsets[0]))
static iconv_t pinned[PINNED]; /* never closed, on purpose; NULL: not loaded */
_Static_assert(PINNED <= 32, "a bit of index_charsets_seen per charset");

static bool pin_lazily;

static void gmime_init_once(void)
{
	g_mime_init();
	if (!pin_lazily)
		index_charsets_pin(UINT32_MAX);
}

void index_gmime_init_lazy(void)
{
	pin_lazily = true;
	index_gmime_init();
}

void index_charsets_pin(uint32_t mask)
{
	for (size_t i = 0; i < PINNED; i++)
		if ((mask & (UINT32_C(1) << i)) && pinned[i] == NULL)
			pinned[i] = iconv_open("UTF-8", pinned_charsets[i]);
}

/* The bit of the common charset named by s[0..n), 0 for any other. */
static uint32_t charset_bit(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < PINNED; i++)
		if (strlen(pinned_charsets[i]) == n && strncasecmp((const char *)s, pinned_charsets[i], n) == 0)
			return UINT32_C(1) << i;
	return 0;
}

uint32_t index_charsets_seen(const unsigned char *raw, size_t len)
{
	const unsigned char *p = raw, *end = raw + len;
	uint32_t seen = 0;
	while (p < end && (p = memchr(p, '=', (size_t)(end - p))) != NULL) {
		const unsigned char *name = p + 1, *e;
		if (name < end && *name == '?') { /* =?charset?enc?text?= */
			name++;
		} else if (p - raw >= 7 && strncasecmp((const char *)p - 7, "charset", 7) == 0) {
			if (name < end && *name == '"')
				name++;
		} else {
			p++;
			continue;
		}
		for (e = name; e < end && e - name < 16 && *e != '?' && *e != '"' && *e != ';' &&
			       *e != '*' && *e > ' ';
		     e++)
			;
		seen |= charset_bit(name, (size_t)(e - name));
		p = e;
	}
	return seen;
}

void index_gmime_init(void)
{
	pthread_once(&gmime_once, gmime_init_once);
}

size_t index_text_utf8_prefix(const char *s, size_t len, size_t n)
{
	if (n >= len)
		return len;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

int index_text_append(struct pv_buf *out, const char *p, size_t n, struct pv_error *err)
{
	size_t room = out->max - out->len;
	if (n == 0)
		return PV_OK;
	if (n <= room)
		return pv_buf_append(out, p, n, err);
	size_t cut = index_text_utf8_prefix(p, n, room);
	int r = pv_buf_append(out, p, cut, err);
	if (r < 0)
		return r;
	return pv_fail(err, PV_ELIMIT, "text cut at %zu bytes", out->max);
}

int index_text_append_cp(struct pv_buf *out, unsigned long cp, struct pv_error *err)
{
	char b[4];
	size_t n;
	if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		cp = 0xFFFD;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return index_text_append(out, b, n, err);
}

/* windows-1252 0x80..0x9F (WHATWG Encoding, index-windows-1252); 0 where
 * undefined. 0xA0..0xFF are the same code points as the bytes. */
static const unsigned short cp1252_c1[32] = {
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

/* index_text_clean; with cp1252, a byte that is not part of valid UTF-8 is
 * read as windows-1252 instead of becoming U+FFFD. */
static int clean(const char *in, size_t len, bool keep_lines, bool cp1252,
	struct pv_buf *out, struct pv_error *err)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t run = 0, i = 0;
	int r = PV_OK;
	if (len == 0) /* in may be NULL then (an empty pv_buf) */
		return PV_OK;
	while (i < len && r == PV_OK) {
		uint32_t cp;
		size_t n = pv_utf8_decode(s + i, len - i, &cp);
		const char *rep = NULL;
		char enc[4];
		if (n == 0) {
			n = 1;
			rep = "\xEF\xBF\xBD";
			unsigned long c = cp1252 ? (s[i] < 0xA0 ? cp1252_c1[s[i] - 0x80] : s[i]) : 0;
			if (c != 0) { /* at most U+20AC: two or three bytes */
				enc[0] = (char)(c < 0x800 ? 0xC0 | (c >> 6) : 0xE0 | (c >> 12));
				enc[1] = (char)(c < 0x800 ? 0x80 | (c & 0x3F) : 0x80 | ((c >> 6) & 0x3F));
				enc[2] = (char)(c < 0x800 ? 0 : 0x80 | (c & 0x3F));
				enc[3] = 0;
				rep = enc;
			}
		} else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
			if (keep_lines && (cp == '\n' || cp == '\t'))
				rep = NULL;
			else if (keep_lines && cp == '\r')
				rep = "";
			else
				rep = " ";
		}
		if (rep == NULL) {
			i += n;
			continue;
		}
		r = index_text_append(out, in + run, i - run, err);
		if (r == PV_OK)
			r = index_text_append(out, rep, strlen(rep), err);
		i += n;
		run = i;
	}
	if (r == PV_OK)
		r = index_text_append(out, in + run, i - run, err);
	return r;
}

int index_text_clean(const char *in, size_t len, bool keep_lines,
	struct pv_buf *out, struct pv_error *err)
{
	return clean(in, len, keep_lines, false, out, err);
}

static bool is_cjk(unsigned long cp)
{
	return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x31F0 && cp <= 0x31FF) ||
		(cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
		(cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFF66 && cp <= 0xFF9F) ||
		(cp >= 0x20000 && cp <= 0x3134F);
}

bool index_text_has_cjk(const char *in, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	uint32_t cp;
	for (size_t i = 0, n; i < len; i += n) {
		if (s[i] < 0xE3) { /* every splittable character starts at 0xE3 or later */
			n = 1;
			continue;
		}
		n = pv_utf8_decode(s + i, len - i, &cp);
		if (n == 0)
			n = 1;
		else if (is_cjk(cp))
			return true;
	}
	return false;
}

int index_text_cjk_split(const char *in, size_t len, struct pv_buf *out,
	struct pv_error *err)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t run = 0, i = 0, n;
	int r = PV_OK;
	uint32_t cp;
	if (len == 0)
		return PV_OK;
	while (i < len && r == PV_OK) {
		if (s[i] < 0xE3 || (n = pv_utf8_decode(s + i, len - i, &cp)) == 0 || !is_cjk(cp)) {
			i++;
			continue;
		}
		r = index_text_append(out, in + run, i - run, err);
		if (r == PV_OK)
			r = index_text_append(out, " ", 1, err);
		if (r == PV_OK)
			r = index_text_append(out, in + i, n, err);
		if (r == PV_OK)
			r = index_text_append(out, " ", 1, err);
		i += n;
		run = i;
	}
	if (r == PV_OK)
		r = index_text_append(out, in + run, len - run, err);
	return r;
}

/* Charset names go to iconv_open: only plain names, never "//" options. */
static bool charset_name_ok(const char *cs)
{
	size_t n = strlen(cs);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = cs[i];
		if (!g_ascii_isalnum(c) && c != '-' && c != '_' && c != '.' && c != ':' && c != '+')
			return false;
	}
	return true;
}

static bool charset_is(const char *cs, const char *const *names)
{
	for (; *names != NULL; names++)
		if (strcasecmp(cs, *names) == 0)
			return true;
	return false;
}

/* Text in no (or an unusable) charset: UTF-8 where it is valid UTF-8,
 * windows-1252 byte by byte where it is not. Linear, and right for the two
 * cases seen in practice: undeclared UTF-8 and undeclared Latin-1 (even
 * mixed in one text). */
static int fallback_8bit(const char *in, size_t len, struct pv_buf *out, struct pv_error *err)
{
	return clean(in, len, true, true, out, err);
}

static int iconv_to_utf8(iconv_t cd, const char *in, size_t len, struct pv_buf *out,
	struct pv_error *err)
{
	char tmp[4096];
	char *ip = (char *)in;
	size_t il = len, bad = 0;
	int r = PV_OK;
	while (il > 0 && r == PV_OK) {
		char *op = tmp;
		size_t ol = sizeof(tmp);
		size_t n = iconv(cd, &ip, &il, &op, &ol);
		int e = errno;
		/* iconv writes whole characters only, so each chunk cleans alone */
		r = index_text_clean(tmp, (size_t)(op - tmp), true, out, err);
		if (r < 0 || n != (size_t)-1)
			break;
		if ((e == EILSEQ || e == EINVAL) && ++bad > ICONV_RESYNC_MAX) {
			/* not this charset after all: one iconv call per bad byte
			 * would make garbage cost a call per byte */
			return fallback_8bit(ip, il, out, err);
		} else if (e == EILSEQ || e == EINVAL) {
			/* skip one byte and resynchronise */
			r = index_text_append(out, "\xEF\xBF\xBD", 3, err);
			ip++;
			il--;
			iconv(cd, NULL, NULL, NULL, NULL);
		} else if (e != E2BIG) {
			break;
		}
	}
	return r;
}

int index_text_to_utf8(const char *charset, const char *in, size_t len,
	struct pv_buf *out, struct pv_error *err)
{
	static const char *const utf8_names[] = {
		"utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", NULL,
	};
	static const char *const latin1_names[] = {
		"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1", NULL,
	};
	index_gmime_init();
	if (charset == NULL || *charset == '\0' || charset_is(charset, utf8_names) ||
	    !charset_name_ok(charset)) {
		return fallback_8bit(in, len, out, err);
	}
	if (charset_is(charset, latin1_names))
		charset = "windows-1252";
	iconv_t cd = g_mime_iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return fallback_8bit(in, len, out, err);
	int r = iconv_to_utf8(cd, in, len, out, err);
	g_mime_iconv_close(cd);
	return r;
}
