/* Tokenizer of the policy language (grammar in policy/README.md). */
#include "policy/policy_lex.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "archiver/lib/utf8.h"

static bool is_bidi_control(uint32_t cp)
{
	return cp == 0x061C || cp == 0x200E || cp == 0x200F ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

bool plex_check_text(const char *text, size_t len, uint32_t *line_r, uint32_t *column_r,
		     char msg[PLEX_MSG_MAX])
{
	const unsigned char *s = (const unsigned char *)text;
	uint32_t line = 1, column = 1;
	size_t i = 0;

	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		i = 3; /* skipped by plex_init too: columns agree */
	while (i < len) {
		uint32_t cp = 0;
		size_t n = s[i] == 0 ? 0 : pv_utf8_decode(s + i, len - i, &cp);
		if (s[i] == 0 || n == 0 || is_bidi_control(cp)) {
			if (s[i] == 0)
				snprintf(msg, PLEX_MSG_MAX, "NUL byte: a policy must be text");
			else if (n == 0)
				snprintf(msg, PLEX_MSG_MAX, "invalid UTF-8 (byte 0x%02X)", s[i]);
			else
				snprintf(msg, PLEX_MSG_MAX,
					 "bidirectional control character U+%04X: the text would "
					 "not read the way it parses", (unsigned)cp);
			*line_r = line;
			*column_r = column;
			return false;
		}
		if (cp == '\n') {
			line++;
			column = 1;
		} else {
			column++;
		}
		i += n;
	}
	return true;
}

void plex_init(struct plexer *lx, const char *text, size_t len)
{
	lx->p = text;
	lx->end = text + len;
	lx->line = 1;
	lx->column = 1;
	/* A UTF-8 byte order mark some editors write is not part of the text. */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		lx->p += 3;
}

static void lx_advance(struct plexer *lx)
{
	unsigned char c = (unsigned char)*lx->p++;
	if (c == '\n') {
		lx->line++;
		lx->column = 1;
	} else if ((c & 0xC0) != 0x80) {
		lx->column++;
	}
}

static int lx_peek(const struct plexer *lx, size_t ahead)
{
	return (size_t)(lx->end - lx->p) > ahead ? (unsigned char)lx->p[ahead] : -1;
}

__attribute__((format(printf, 4, 5)))
static void lx_error(struct ptoken *t, uint32_t line, uint32_t column, const char *fmt, ...)
{
	va_list ap;
	t->kind = PT_ERROR;
	t->line = line;
	t->column = column;
	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
}

static bool is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(int c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* After an error inside a string: skip to its end so the rest of the line
 * is not read as code. */
static void lx_skip_string_rest(struct plexer *lx)
{
	int c;
	while ((c = lx_peek(lx, 0)) != -1 && c != '\n') {
		lx_advance(lx);
		if (c == '"')
			return;
		if (c == '\\' && lx_peek(lx, 0) != -1 && lx_peek(lx, 0) != '\n')
			lx_advance(lx);
	}
}

static void lx_string(struct plexer *lx, struct ptoken *t)
{
	size_t n = 0;
	uint32_t open_column = lx->column;

	lx_advance(lx); /* the opening quote */
	for (;;) {
		int c = lx_peek(lx, 0);
		if (c == -1 || c == '\n') {
			lx_error(t, lx->line, lx->column,
				 "expected closing '\"' of the string opened at column %u, found %s",
				 (unsigned)open_column, c == -1 ? "end of file" : "end of line");
			return;
		}
		if (c == '"') {
			lx_advance(lx);
			break;
		}
		uint32_t line = lx->line, column = lx->column;
		if (c == '\\') {
			int e = lx_peek(lx, 1);
			if (e != '"' && e != '\\') {
				lx_error(t, line, column,
					 "unknown escape in string: only \\\" and \\\\ are allowed");
				lx_skip_string_rest(lx);
				return;
			}
			lx_advance(lx);
			c = e;
		} else if (c < 0x20 || c == 0x7F) {
			lx_error(t, line, column, "control character U+%04X in string", (unsigned)c);
			lx_skip_string_rest(lx);
			return;
		}
		if (n >= PV_POLICY_STRING_MAX) {
			lx_error(t, line, column, "string longer than %d bytes", PV_POLICY_STRING_MAX);
			t->limit = true;
			lx_skip_string_rest(lx);
			return;
		}
		lx->strbuf[n++] = (char)c;
		lx_advance(lx);
	}
	lx->strbuf[n] = '\0';
	t->kind = PT_STRING;
	t->str = lx->strbuf;
	t->str_len = n;
}

void plex_next(struct plexer *lx, struct ptoken *t)
{
	int c;

	memset(t, 0, sizeof(*t));
	for (;;) {
		c = lx_peek(lx, 0);
		if (c == ' ' || c == '\t' || c == '\n' || (c == '\r' && lx_peek(lx, 1) == '\n')) {
			lx_advance(lx);
		} else if (c == '#') {
			while (lx_peek(lx, 0) != -1 && lx_peek(lx, 0) != '\n')
				lx_advance(lx);
		} else {
			break;
		}
	}
	t->line = lx->line;
	t->column = lx->column;
	t->start = lx->p;
	if (c == -1) {
		t->kind = PT_EOF;
		return;
	}
	if (is_ident_start(c)) {
		while (is_ident_char(lx_peek(lx, 0)))
			lx_advance(lx);
		t->kind = PT_IDENT;
	} else if (is_digit(c)) {
		while (is_digit(lx_peek(lx, 0)))
			lx_advance(lx);
		while (is_alpha(lx_peek(lx, 0)))
			lx_advance(lx);
		t->kind = PT_NUMBER;
	} else if (c == '"') {
		lx_string(lx, t);
	} else {
		int c1 = lx_peek(lx, 1);
		const char *hint = NULL;
		switch (c) {
		case ':':
			t->kind = PT_COLON;
			break;
		case '(':
			t->kind = PT_LPAREN;
			break;
		case ')':
			t->kind = PT_RPAREN;
			break;
		case '=':
			t->kind = PT_EQ;
			break;
		case '~':
			t->kind = PT_TILDE;
			break;
		case '<':
			t->kind = c1 == '=' ? PT_LE : PT_LT;
			break;
		case '>':
			t->kind = c1 == '=' ? PT_GE : PT_GT;
			break;
		case '!':
			hint = c1 == '=' ? "; write not (FIELD = VALUE)" : "; write 'not'";
			break;
		case '&':
			hint = "; write 'and'";
			break;
		case '|':
			hint = "; write 'or'";
			break;
		default:
			hint = "";
			break;
		}
		if (hint != NULL) {
			if (c < 0x20 || c == 0x7F) {
				lx_error(t, lx->line, lx->column, "unexpected control character U+%04X",
					 (unsigned)c);
				lx_advance(lx);
				return;
			}
			/* One whole character, so the message stays valid UTF-8. */
			size_t n = 1;
			while (n < 4 && lx->p + n < lx->end && ((unsigned char)lx->p[n] & 0xC0) == 0x80)
				n++;
			lx_error(t, lx->line, lx->column, "unexpected character '%.*s'%s", (int)n,
				 lx->p, hint);
			for (size_t i = 0; i < n; i++)
				lx_advance(lx);
			return;
		}
		lx_advance(lx);
		if (t->kind == PT_LE || t->kind == PT_GE)
			lx_advance(lx);
	}
	t->len = (size_t)(lx->p - t->start);
}

/* At most max bytes of s, cut at a character boundary. */
static int utf8_prefix(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return (int)len;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return (int)max;
}

void plex_describe(const struct ptoken *t, char *out, size_t n)
{
	int k = utf8_prefix(t->start, t->len, 40);
	const char *more = (size_t)k < t->len ? "..." : "";

	switch (t->kind) {
	case PT_EOF:
		snprintf(out, n, "end of file");
		break;
	case PT_ERROR:
		snprintf(out, n, "invalid text");
		break;
	case PT_STRING:
		snprintf(out, n, "string %.*s%s", k, t->start, more);
		break;
	case PT_IDENT:
	case PT_NUMBER:
	default:
		snprintf(out, n, "'%.*s%s'", k, t->start, more);
		break;
	}
}

bool plex_is(const struct ptoken *t, const char *word)
{
	return t->kind == PT_IDENT && strlen(word) == t->len && memcmp(t->start, word, t->len) == 0;
}
