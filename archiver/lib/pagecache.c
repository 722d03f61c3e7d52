/* Bytes written or read once, kept out of the page cache (pagecache.h). */
#include "archiver/lib/pagecache.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>

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
		(void)posix_fadvise(wb->fd, at, len, POSIX_FADV_DONTNEED);
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
		(void)posix_fadvise(fd, (off_t)at, (off_t)len, POSIX_FADV_DONTNEED);
}

void pv_tmpfile_forget(int fd, uint64_t at, uint64_t len)
{
	if (len > 0)
		(void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)at,
				(off_t)len);
}
