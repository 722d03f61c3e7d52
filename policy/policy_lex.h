#ifndef PV_POLICY_LEX_H
#define PV_POLICY_LEX_H

/* Private to policy/: the tokenizer of the policy language. It runs on
 * text that plex_check_text() accepted (valid UTF-8, no NUL, no bidi
 * controls), so columns can count characters safely. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/limits.h"

enum ptok {
	PT_EOF,
	PT_ERROR,  /* msg says what is wrong; the lexer has moved past it */
	PT_IDENT,  /* keyword or field: [A-Za-z_][A-Za-z0-9_.-]* */
	PT_STRING, /* "..." with \" and \\ escapes; str holds the value */
	PT_NUMBER, /* digits with an optional letter suffix: 7y, 10MB, 7x */
	PT_COLON,
	PT_LPAREN,
	PT_RPAREN,
	PT_EQ,
	PT_TILDE,
	PT_LT,
	PT_LE,
	PT_GT,
	PT_GE,
};

#define PLEX_MSG_MAX 200

struct ptoken {
	enum ptok kind;
	uint32_t line, column; /* 1-based; of the first character */
	const char *start;     /* raw text (not NUL-terminated) */
	size_t len;
	const char *str;       /* PT_STRING: decoded value, NUL-terminated,
			        * valid until the next plex_next() */
	size_t str_len;
	bool limit;            /* PT_ERROR caused by a limits.h cap */
	char msg[PLEX_MSG_MAX];
};

struct plexer {
	const char *p, *end;
	uint32_t line, column;
	char strbuf[PV_POLICY_STRING_MAX + 1];
};

/* Checks the whole text before lexing: no NUL, valid UTF-8 (RFC 3629: no
 * overlongs, surrogates or values above U+10FFFF), no bidirectional control
 * characters (CVE-2021-42574: text reviewed in a diff must read as it
 * parses). On failure fills line/column/msg and returns false. */
bool plex_check_text(const char *text, size_t len, uint32_t *line_r, uint32_t *column_r,
		     char msg[PLEX_MSG_MAX]);

void plex_init(struct plexer *lx, const char *text, size_t len);
void plex_next(struct plexer *lx, struct ptoken *t);

/* "end of file", "'rule'", "string \"abc\"", ... for "found ..." messages. */
void plex_describe(const struct ptoken *t, char *out, size_t n);
/* True when t is the identifier word. */
bool plex_is(const struct ptoken *t, const char *word);

#endif
