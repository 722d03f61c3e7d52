#ifndef PV_EXPORT_SPOOL_H
#define PV_EXPORT_SPOOL_H

/* The messages an export's first pass read, kept for its second
 * (export.c): the bundle holds every message twice, in the mbox and as
 * an .eml file after it, and reading one back from the archive (record
 * hash, decryption, decompression, plaintext hash) costs several times
 * more than writing it to a file and reading it again. A spool is an
 * unlinked file beside the bundle (bundle_writer_scratch): the mbox's
 * staging file holds the same plaintext there already. Written in
 * order, then read back in the same order; what is read back is not
 * trusted by this file (the caller checks each message's SHA-256 again). */

#include <stddef.h>

#include "archiver/lib/error.h"

struct spool;

/* Takes fd (an empty read-write file; closed by spool_free, also when
 * this fails). */
int spool_new(int fd, struct spool **s_r, struct pv_error *err);
/* Appends n bytes (buffered). */
int spool_write(struct spool *s, const void *p, size_t n, struct pv_error *err);
/* Ends the writing; reads start from the first byte. */
int spool_rewind(struct spool *s, struct pv_error *err);
/* The next n bytes into p; PV_EINTEGRITY when the file ends first. */
int spool_read(struct spool *s, void *p, size_t n, struct pv_error *err);
/* Closes the file (its bytes go with it) and frees (NULL is fine). */
void spool_free(struct spool **s);

#endif
