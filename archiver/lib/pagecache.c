/* Bytes written or read once, kept out of the page cache (pagecache.h). */
#include "archiver/lib/pagecache.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>

/* The page cache holds a file in folios of up to 2 MiB (x86-64's largest,
 * each aligned to its size: read ahead or written in large pieces, a
 * file's pages come in such folios), and DONTNEED drops only the folios
 * wholly inside its range. A range of one record, or of one chunk, leaves
 * the folios it shares with its neighbours, and the next range, starting
 * where it ended, leaves them too: they would never go. The callers read
 * or write front to back, so everything from the 2 MiB boundary below the
 * range is behind them: the range starts there. */
#define FOLIO_MAX (2u << 20)

static void drop(int fd, uint64_t at, uint64_t end)
{
	uint64_t from = at - at % FOLIO_MAX;
	if (end > from)
		(void)posix_fadvise(fd, (off_t)from, (off_t)(end - from), POSIX_FADV_DONTNEED);
}

void pv_writebehind_init(struct pv_writebehind *wb, int fd)
{
	*wb = (struct pv_writebehind){.fd = fd};
}

/* 0 when sync_file_range did its part or cannot take hints here; else
 * its errno. */
static int hint_failed(struct pv_writebehind *wb, int r)
{
	if (r == 0)
		return 0;
	if (errno == ESPIPE || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
		wb->off = true;
		return 0;
	}
	return errno;
}

int pv_writebehind_wrote(struct pv_writebehind *wb, size_t n)
{
	wb->written += n;
	if (wb->off || wb->written - wb->kicked < PV_WRITEBEHIND_STEP)
		return 0;
	/* The step started last time has had a step's writing to go out:
	 * waiting for it seldom waits, and only then can it be dropped
	 * (DONTNEED leaves dirty pages and pages under writeback). */
	if (wb->kicked > wb->dropped) {
		off_t at = (off_t)wb->dropped, len = (off_t)(wb->kicked - wb->dropped);
		int e = hint_failed(wb, sync_file_range(wb->fd, at, len,
							SYNC_FILE_RANGE_WAIT_BEFORE |
								SYNC_FILE_RANGE_WRITE |
								SYNC_FILE_RANGE_WAIT_AFTER));
		if (e != 0 || wb->off)
			return e;
		drop(wb->fd, wb->dropped, wb->kicked);
		wb->dropped = wb->kicked;
	}
	int e = hint_failed(wb, sync_file_range(wb->fd, (off_t)wb->kicked,
						(off_t)(wb->written - wb->kicked),
						SYNC_FILE_RANGE_WRITE));
	wb->kicked = wb->written;
	return e;
}

void pv_read_forget(int fd, uint64_t at, uint64_t len)
{
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_nlink > 0)
		drop(fd, at, at + len);
}

void pv_tmpfile_forget(int fd, uint64_t at, uint64_t len)
{
	if (len > 0)
		(void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)at,
				(off_t)len);
}
