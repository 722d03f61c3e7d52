/* LD_PRELOAD shim for the e2e tests: the disk "fills up" during a harvest.
 * Files whose path contains PVTEST_ENOSPC_MATCH are watched; by default
 * those that hold message bytes: "/tmp/blob-" (a blob being received),
 * "/tmp/#" (an unnamed file: the sealer's spill file of a big record,
 * reused from record to record) and "/packs/" (pack files):
 *   PVTEST_ENOSPC_AFTER=N   once N bytes went to watched files, every
 *                           later write() to one fails with ENOSPC;
 *   PVTEST_ENOSPC_FILES=N   the first N watched files are written in full,
 *                           writes to any later one fail with ENOSPC (in
 *                           a pack or spill file, each record counts as a
 *                           file: its first write starts "PVB2").
 * With neither it does nothing. Build:
 *     cc -shared -fPIC -o enospc.so enospc.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);
static long long budget = -2; /* -2: not read yet, -1: off */
static long long files = -1;   /* -1: off */
static const char *match;
static char last[4096];

/* 1 when fd is a watched file; counts each new one (and each record
 * appended to a pack). */
static int watched(int fd, const void *buf, size_t n_buf)
{
	char link[64], path[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return 0;
	path[n] = '\0';
	int by_record = strstr(path, "/packs/") != NULL || strstr(path, "/tmp/#") != NULL;
	if (match != NULL ? strstr(path, match) == NULL
			  : strstr(path, "/tmp/blob-") == NULL && !by_record)
		return 0;
	if (by_record ? n_buf >= 4 && memcmp(buf, "PVB2", 4) == 0 : strcmp(path, last) != 0) {
		snprintf(last, sizeof(last), "%s", path);
		if (files > 0)
			files--;
	}
	return 1;
}

ssize_t write(int fd, const void *buf, size_t n)
{
	if (real_write == NULL)
		real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (budget == -2) {
		const char *after = getenv("PVTEST_ENOSPC_AFTER");
		match = getenv("PVTEST_ENOSPC_MATCH");
		budget = after ? strtoll(after, NULL, 10) : -1;
		if (getenv("PVTEST_ENOSPC_FILES"))
			files = strtoll(getenv("PVTEST_ENOSPC_FILES"), NULL, 10) + 1;
	}
	if (files >= 0 && watched(fd, buf, n)) {
		if (files == 0) {
			errno = ENOSPC;
			return -1;
		}
		return real_write(fd, buf, n);
	}
	if (budget >= 0 && watched(fd, buf, n)) {
		if (budget == 0) {
			errno = ENOSPC;
			return -1;
		}
		if ((long long)n > budget)
			n = (size_t)budget;
		ssize_t k = real_write(fd, buf, n);
		if (k > 0)
			budget -= k;
		return k;
	}
	return real_write(fd, buf, n);
}
