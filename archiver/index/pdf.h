#ifndef PV_INDEX_PDF_H
#define PV_INDEX_PDF_H

/* Text of a PDF attachment, by pdftotext(1) (poppler-utils) in a child
 * process: PDF parsers have a long history of memory bugs, so the parser
 * runs with RLIMIT_CPU PV_PDF_TIME_MAX_S, RLIMIT_AS PV_PDF_MEMORY_MAX, no
 * file writes, no inherited descriptors, an empty environment, and is
 * killed when it overruns its wall-clock time (twice the CPU limit). The
 * PDF is fed on stdin, the text read from stdout; nothing touches disk. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

/* Whether pdf[0..len) can hold text pdftotext would find: text is shown
 * in a font, which a page names through a /Font resource dictionary, so
 * a PDF with no name that reads "Font" (#xx escapes decoded, PDF 32000
 * 7.3.5) has none, unless its dictionaries are compressed into object
 * streams (a name "ObjStm"). Scanned pages without OCR, and the bench's
 * random attachments, are spared an exec of pdftotext that would find
 * nothing. */
bool index_pdf_may_have_text(const unsigned char *pdf, size_t len);

/* Appends the clean UTF-8 text of pdf[0..len) to out (nothing, without
 * running pdftotext, when index_pdf_may_have_text says it has none). PV_ELIMIT when out's
 * maximum cut the text (what fit is kept) or the PDF exceeds
 * PV_PDF_INPUT_MAX; PV_ERR when the child fails, overruns or is killed
 * (out may then hold part of the text). */
int index_pdf_to_text(const char *pdftotext, const unsigned char *pdf, size_t len,
	struct pv_buf *out, struct pv_error *err);

/* Runs pdftotext, whatever the PDF holds, with an explicit wall-clock
 * limit (tests use a short one). */
int index_pdf_run(const char *pdftotext, const unsigned char *pdf, size_t len,
	struct pv_buf *out, int64_t timeout_ms, struct pv_error *err);

#endif
