#ifndef PV_PAGECACHE_H
#define PV_PAGECACHE_H

/* Bytes written or read once, kept out of the page cache as they go.
 * An export or a bundle writes gigabytes nobody reads again here: cached,
 * they would push the catalog and the index out of memory, and each new
 * page of the cache costs more than one just freed (on a VM that hands
 * free memory back to its host, a page it took back faults on the host
 * at its next write; README "Performance"). Hints only: a file system
 * that refuses them changes nothing but the cache. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A file written front to back: every PV_WRITEBEHIND_STEP bytes its
 * writeback starts, and the step before, written out by then (waited
 * for), leaves the page cache. The fsync that makes the file durable is
 * still the caller's; it then has little left to write. A write-out that
 * fails is the caller's failure: the wait takes the error from the file
 * (Linux reports a writeback error once per open file), and its fsync
 * would then succeed. */
#define PV_WRITEBEHIND_STEP (8u << 20)

struct pv_writebehind {
	int fd;
	uint64_t written; /* bytes written from the start */
	uint64_t kicked;  /* writeback started up to here */
	uint64_t dropped; /* out of the page cache up to here */
	bool off;         /* the file takes no hints */
};

void pv_writebehind_init(struct pv_writebehind *wb, int fd);
/* n more bytes were written at the file's end: 0, or the errno of a
 * write-out that failed (EIO, ENOSPC, ...). A file that cannot take the
 * hints (a pipe, a file system without them) gets none, and 0. */
int pv_writebehind_wrote(struct pv_writebehind *wb, size_t n);

/* A file's bytes [at, at + len) were read for the last time (a pack's
 * record, by a reader that reads each once, front to back): they leave
 * the page cache, with what the file holds from the 2 MiB boundary below
 * at (read before them; the page cache's folios span records). Nothing
 * for an unlinked file (a store's temp file of fetched bytes): its pages
 * are dirty, DONTNEED would start writing them out just before they go. */
void pv_read_forget(int fd, uint64_t at, uint64_t len);

/* A temporary file's bytes [at, at + len) were read for the last time:
 * their pages and disk blocks go now (a hole), and its dirty pages are
 * never written out. The file keeps its size. */
void pv_tmpfile_forget(int fd, uint64_t at, uint64_t len);

#endif
