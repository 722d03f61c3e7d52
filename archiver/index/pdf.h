#ifndef PV_INDEX_PDF_H
#define PV_INDEX_PDF_H

/* Text of a PDF attachment, by pdftotext(1) (poppler-utils) in a child
 * process: PDF parsers have a long history of memory bugs, so the parser
 * runs with RLIMIT_CPU PV_PDF_TIME_MAX_S, RLIMIT_AS PV_PDF_MEMORY_MAX, no
 * file writes, no inherited descriptors, an empty environment, and is
 * killed when it overruns its wall-clock time (twice the CPU limit). The
 * PDF is fed on stdin, the text read from stdout; nothing touches disk. */

#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

/* Appends the clean UTF-8 text of pdf[0..len) to out. PV_ELIMIT when out's
 * maximum cut the text (what fit is kept) or the PDF exceeds
 * PV_PDF_INPUT_MAX; PV_ERR when the child fails, overruns or is killed
 * (out may then hold part of the text). */
int index_pdf_to_text(const char *pdftotext, const unsigned char *pdf, size_t len,
	struct pv_buf *out, struct pv_error *err);

/* The same with an explicit wall-clock limit (tests use a short one). */
int index_pdf_run(const char *pdftotext, const unsigned char *pdf, size_t len,
	struct pv_buf *out, int64_t timeout_ms, struct pv_error *err);

#endif
