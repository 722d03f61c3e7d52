#ifndef PV_INDEX_SANITIZE_H
#define PV_INDEX_SANITIZE_H

/* HTML mail made safe to show (ARCHITECTURE.md §8): the web UI puts the result
 * in a sandboxed frame served with its own `sandbox` CSP; this is the
 * first of those three layers and must be safe on its own.
 *
 * Nothing of the input is copied as markup. The input is read in one
 * linear pass (no recursion, whatever the nesting) into tags, text,
 * comments and character references, and a new document is written from
 * scratch: only elements and attributes of an allow-list, each attribute
 * value re-quoted and escaped, every text escaped. A parser that reads the
 * input differently from a browser can therefore only lose or show text,
 * never create an element, attribute or URL that was not checked.
 *
 * Kept: formatting elements (p, div, span, font, b, i, u, s, tables,
 * lists, headings, blockquote, pre, code, a, img, br, hr, ...) with
 * presentational attributes (align, valign, width, height, colours,
 * border, cellpadding, colspan, dir, lang, title, alt, class, id, face,
 * size, ...) and style.
 * Removed with their content: script, style sheets that are not plain,
 * title, iframe, frame(set), object, applet, svg, math, template,
 * noscript, noembed, noframes, audio, video, canvas, map, select, button,
 * textarea, xmp, plaintext (and everything after it).
 * Removed, content kept: every other element (html, head, body, form,
 * label, fieldset, o:p, unknown ones, ...). Removed outright: comments,
 * doctype, processing instructions, meta (refresh), base, link, input,
 * embed and other void elements not on the list.
 * Attributes: event handlers (on...) and every attribute not on the list
 * go. href is kept on a only when, after character references are decoded
 * and tabs and line breaks removed (as a browser's URL parser does), it is
 * http:, https:, mailto: or a #fragment. src is kept on img only for
 * data:image/png, gif, jpeg or webp; an img without one is dropped, so
 * remote images and tracking pixels are gone. A style declaration (in a
 * style attribute, or a whole style element) is dropped when it holds
 * url(, image(, image-set(, cross-fade(, element(, src(, expression,
 * javascript, vbscript, behavior, binding, @import, a backslash escape, a
 * comment, '<' or a control character. */

#include <stddef.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

/* html: UTF-8 (as index_text_to_utf8 produces). Appends a complete
 * document to out: <!DOCTYPE html>, a head with only <meta charset>, and
 * the sanitised body. When out's maximum would be passed, the document
 * ends early with a note saying it was cut (out->max must be at least
 * INDEX_SANITIZE_MIN_OUT). Returns 0, or PV_ERR when out of memory. */
#define INDEX_SANITIZE_MIN_OUT 1024
int index_html_sanitize(const char *html, size_t len, struct pv_buf *out, struct pv_error *err);

/* The same document for plain text (a message without an HTML body): the
 * text escaped inside <pre>. */
int index_text_to_html(const char *text, size_t len, struct pv_buf *out, struct pv_error *err);

#endif
