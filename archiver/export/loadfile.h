#ifndef PV_EXPORT_LOADFILE_H
#define PV_EXPORT_LOADFILE_H

/* Load files of an eDiscovery bundle: rows in two dialects.
 *
 * Concordance DAT (LOADFILE_DAT): UTF-8 with a byte-order mark (written
 * once by the caller, LOADFILE_BOM), every field quoted with þ (U+00FE),
 * fields separated by DC4 (0x14, shown as ¶ by review tools), rows ended
 * by CRLF. A line break inside a value becomes ® (U+00AE, Concordance's
 * newline stand-in); a þ inside a value becomes U+FFFD (Concordance and
 * Relativity have no escape for the quote character: the .eml keeps the
 * exact text); other control characters become spaces.
 *
 * CSV (LOADFILE_CSV): RFC 4180, UTF-8 without BOM, every field quoted
 * with '"' (doubled inside), CRLF rows; line breaks and control
 * characters in values become spaces; a value a spreadsheet would run as
 * a formula (starting with = + - @ TAB CR) gets a leading "'".
 *
 * Both: values are shown to people, so the bidi controls (U+202A-202E,
 * U+2066-2069, lib/utf8.h) are dropped from them. */

#include <stdbool.h>
#include <stddef.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"

enum loadfile_kind { LOADFILE_DAT, LOADFILE_CSV };

#define LOADFILE_BOM "\xEF\xBB\xBF"
#define LOADFILE_DAT_QUOTE "\xC3\xBE"   /* þ */
#define LOADFILE_DAT_SEP "\x14"
#define LOADFILE_DAT_NEWLINE "\xC2\xAE" /* ® */
#define LOADFILE_DAT_QUOTE_STANDIN "\xEF\xBF\xBD" /* U+FFFD for a þ in a value */

/* Appends one row of n fields (NULL is an empty field). */
int loadfile_row(enum loadfile_kind kind, const char *const *fields, size_t n,
		 struct pv_buf *out, struct pv_error *err);

/* One parsed row: field i is buf.data + off[i], NUL-terminated, len[i]
 * bytes (quotes removed, doubled quotes undone, as bundles made before
 * the DAT's þ was replaced have them; no other unescaping). */
struct loadfile_fields {
	struct pv_buf buf;
	size_t off[PV_EXPORT_LOADFILE_FIELDS_MAX], len[PV_EXPORT_LOADFILE_FIELDS_MAX];
	size_t n;
};

/* Initialises f for rows of at most max_line bytes; free with
 * loadfile_fields_free. */
void loadfile_fields_init(struct loadfile_fields *f, size_t max_line);
void loadfile_fields_free(struct loadfile_fields *f);
static inline const char *loadfile_field(const struct loadfile_fields *f, size_t i)
{
	return (const char *)f->buf.data + f->off[i];
}

/* Parses one row as loadfile_row writes it (line: without its CRLF).
 * Strict: every field quoted, nothing between a closing quote and the
 * separator. PV_EINTEGRITY (with the reason) otherwise. */
int loadfile_parse(enum loadfile_kind kind, const char *line, size_t len,
		   struct loadfile_fields *f, struct pv_error *err) PV_WARN_UNUSED;

#endif
