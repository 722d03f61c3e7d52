#ifndef PV_INDEX_TEXT_H
#define PV_INDEX_TEXT_H

/* Text normalisation for the index: everything stored or shown is valid
 * UTF-8 without control characters (a subject carrying ESC sequences must
 * not repaint the operator's terminal).
 *
 * All functions append to a bounded pv_buf. When the buffer's maximum is
 * reached they keep what fits, cut on a character boundary, and return
 * PV_ELIMIT: the caller decides whether truncation matters. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

/* Converts len bytes in charset to clean UTF-8 (as index_text_clean with
 * keep_lines). charset NULL or "" means unknown: valid UTF-8 sequences are
 * taken as they are and every other byte as windows-1252 (undeclared
 * UTF-8 and undeclared Latin-1 are what mail has). Unknown charset names,
 * and text mislabelled utf-8 or us-ascii, are read the same way. In a known
 * charset an invalid sequence becomes U+FFFD; past 256 of them the rest is
 * read as unknown. ISO-8859-1 is read as windows-1252, its superset
 * (WHATWG Encoding §4.2 does the same). */
int index_text_to_utf8(const char *charset, const char *in, size_t len,
	struct pv_buf *out, struct pv_error *err);

/* Appends in[0..len) cleaned: invalid UTF-8 bytes become U+FFFD; C0 and
 * C1 controls and DEL become a space, except '\n' and '\t' when keep_lines
 * ('\r' is dropped then). */
int index_text_clean(const char *in, size_t len, bool keep_lines,
	struct pv_buf *out, struct pv_error *err);

/* Appends at most n bytes of UTF-8 text, cut back to a character boundary
 * when it does not all fit (then PV_ELIMIT). */
int index_text_append(struct pv_buf *out, const char *p, size_t n,
	struct pv_error *err);

/* Appends the UTF-8 encoding of code point cp (U+FFFD when cp is not a
 * Unicode scalar value). */
int index_text_append_cp(struct pv_buf *out, unsigned long cp, struct pv_error *err);

/* The longest prefix of valid UTF-8 s[0..len), at most n bytes, that ends
 * on a character boundary. */
size_t index_text_utf8_prefix(const char *s, size_t len, size_t n);

/* Puts a space on each side of every CJK ideograph and kana. The FTS5
 * unicode61 tokenizer takes a run of them as one word (Chinese and
 * Japanese have no spaces), so "会議の議事録" could only be found whole;
 * split, each character is a token, and a query term split the same way is
 * a phrase of adjacent characters: 会議 finds it. Appends to out. */
int index_text_cjk_split(const char *in, size_t len, struct pv_buf *out,
	struct pv_error *err);

/* Whether in[0..len) (UTF-8) holds a character index_text_cjk_split splits. */
bool index_text_has_cjk(const char *in, size_t len);

/* GMime is initialised once per process (g_mime_init is not thread-safe);
 * every index function that uses GMime calls this first. It also pins
 * the converters of the common mail charsets (loaded once, kept), unless
 * index_gmime_init_lazy came first. */
void index_gmime_init(void);

/* For the parser sandbox, which forks a worker per message: a fork costs
 * in proportion to the mappings (5 per converter), so only the charsets
 * its messages use are pinned: index_charsets_seen (in the worker) says
 * which of the common ones raw[0..len) names (a charset= parameter or an
 * RFC 2047 word; a bit per charset), index_charsets_pin (in the process
 * that forks) loads those not yet loaded. Any mask is harmless: at most
 * every common converter is pinned, as index_gmime_init does. */
void index_gmime_init_lazy(void);
uint32_t index_charsets_seen(const unsigned char *raw, size_t len);
void index_charsets_pin(uint32_t mask);

#endif
