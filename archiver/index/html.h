#ifndef PV_INDEX_HTML_H
#define PV_INDEX_HTML_H

/* HTML mail reduced to text for the index and for `show`. Nothing here
 * renders or trusts the markup: tags and comments are dropped, the content
 * of script, style and template elements is dropped, block elements become
 * line breaks, character references are decoded (numeric ones and the
 * common named ones), and white space is collapsed.
 *
 * The scan is one linear pass with no recursion, whatever the nesting, so
 * hostile markup costs time proportional to its length. */

#include <stddef.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

/* html: UTF-8 (as index_text_to_utf8 produces). Appends clean UTF-8 text to
 * out; PV_ELIMIT when out's maximum cut it (what fit is kept). */
int index_html_to_text(const char *html, size_t len, struct pv_buf *out,
	struct pv_error *err);

/* A character reference at s[0..len) ("&amp;", "&#38;", "&#x26;": ending in
 * ';', HTML 5 §13.2.5.72; the named ones of mail), its code point in
 * *cp_r (U+FFFD past U+10FFFF): returns the bytes it takes, or 0 when
 * there is none (the '&' is then literal). */
size_t index_html_char_ref(const char *s, size_t len, unsigned long *cp_r);

#endif
