#ifndef PV_UTF8_H
#define PV_UTF8_H

/* UTF-8 (RFC 3629), the one decoder of the tree: the JSON printer, signed
 * notes, the policy lexer, index text, the query parser, the audit log,
 * hold names and export matter names all check text with it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes one UTF-8 sequence at s[0..n) (n >= 1): returns its length and
 * the code point in *cp_r, or 0 when it is not valid UTF-8 per RFC 3629
 * (overlong forms, surrogates, values past U+10FFFF, a cut sequence). */
size_t pv_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp_r);

/* Whether all of s[0..n) is valid UTF-8 (pv_utf8_decode on each
 * sequence). NUL and other controls are valid UTF-8: callers that refuse
 * them check for them. */
bool pv_utf8_valid(const unsigned char *s, size_t n);

/* The Unicode bidi embedding, override and isolate controls (U+202A to
 * U+202E, U+2066 to U+2069): text shown to a person (a subject, a file
 * name) must not be able to display reversed ("invoice_fdp.exe" shown as
 * "invoice_exe.pdf"). */
bool pv_utf8_is_bidi_control(uint32_t cp);
/* Removes them from the NUL-terminated string s in place (other bytes,
 * valid UTF-8 or not, are kept); returns the new length. */
size_t pv_utf8_strip_bidi(char *s);
/* Whether s (NUL-terminated) is valid UTF-8 without control characters
 * (C0, DEL, C1): text printed in lists and terminals (hold names and
 * notes, reasons given for approvals). */
bool pv_utf8_printable(const char *s);

#endif
