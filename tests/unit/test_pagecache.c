/* Unit tests for bytes written or read once (archiver/lib/pagecache.h): a
 * file written behind leaves the page cache as it grows, all but its last
 * two steps, and reads back whole; a write-out that fails is reported, a
 * hint the file cannot take is not; a temporary file's bytes read for the
 * last time become a hole at once, its size kept. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "archiver/lib/pagecache.h"
#include "tests/unit/fixtures.h"

enum { CHUNK = 1 << 20 };

static void fill(unsigned char *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (unsigned char)(seed >> 24);
	}
}

static void write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		assert_true(k > 0);
		p += k;
		n -= (size_t)k;
	}
}

static void test_a_file_written_behind_leaves_the_page_cache_as_it_grows(void **state)
{
	(void)state;
	char dir[] = "/tmp/pv-pagecache-XXXXXX", path[64];
	fx_cache_dir(dir);
	snprintf(path, sizeof(path), "%s/out", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	struct pv_writebehind wb;
	pv_writebehind_init(&wb, fd);
	unsigned char *buf = malloc(CHUNK), *back = malloc(CHUNK);
	const uint32_t chunks = 5 * PV_WRITEBEHIND_STEP / CHUNK + 3;
	for (uint32_t i = 0; i < chunks; i++) {
		fill(buf, CHUNK, i);
		write_all(fd, buf, CHUNK);
		assert_int_equal(pv_writebehind_wrote(&wb, CHUNK), 0);
	}
	uint64_t total = (uint64_t)chunks * CHUNK;
	assert_int_equal(wb.written, total);
	/* All but the last two steps (and what followed them) are out. */
	assert_true(wb.dropped >= total - 2 * PV_WRITEBEHIND_STEP - CHUNK);
	assert_int_equal(fx_resident_pages(path, 0, wb.dropped), 0);
	assert_true(fx_resident_pages(path, wb.kicked, total - wb.kicked) > 0);
	assert_int_equal(fsync(fd), 0);
	close(fd);
	/* Every byte is still there. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	for (uint32_t i = 0; i < chunks; i++) {
		fill(buf, CHUNK, i);
		assert_int_equal(read(fd, back, CHUNK), CHUNK);
		assert_memory_equal(back, buf, CHUNK);
	}
	assert_int_equal(read(fd, back, 1), 0);
	close(fd);
	free(buf);
	free(back);
	unlink(path);
	rmdir(dir);
}

/* A pack read record by record, front to back, each forgotten once read:
 * nothing of it stays cached, though the page cache holds it in folios
 * that span records (read ahead in large pieces, as a cold pack is). */
static void test_records_read_once_leave_the_page_cache(void **state)
{
	(void)state;
	char dir[] = "/tmp/pv-pagecache-XXXXXX", path[64];
	const uint32_t chunks = (16u << 20) / CHUNK, record = 100003;
	fx_cache_dir(dir);
	snprintf(path, sizeof(path), "%s/pack", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	unsigned char *buf = malloc(CHUNK), *rec = malloc(record);
	for (uint32_t i = 0; i < chunks; i++) {
		fill(buf, CHUNK, i);
		write_all(fd, buf, CHUNK);
	}
	uint64_t total = (uint64_t)chunks * CHUNK;
	assert_int_equal(fsync(fd), 0);
	/* Cold, then read ahead in large folios. */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	for (uint32_t i = 0; i < chunks; i++)
		assert_int_equal(pread(fd, buf, CHUNK, (off_t)i * CHUNK), CHUNK);
	assert_true(fx_resident_pages(path, 0, total) > 0);
	for (uint64_t at = 0; at < total; at += record) {
		size_t n = total - at < record ? (size_t)(total - at) : record;
		assert_int_equal(pread(fd, rec, n, (off_t)at), (ssize_t)n);
		pv_read_forget(fd, at, n);
	}
	assert_int_equal(fx_resident_pages(path, 0, total), 0);
	free(buf);
	free(rec);
	close(fd);
	unlink(path);
	rmdir(dir);
}

/* A file that cannot take the hints gets none and no error; a failure of
 * the file itself is the caller's (the wait took it from the file: its
 * fsync would not report it again). */
static void test_write_behind_tells_a_refused_hint_from_a_failure(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct pv_writebehind wb;
	pv_writebehind_init(&wb, p[1]);
	assert_int_equal(pv_writebehind_wrote(&wb, PV_WRITEBEHIND_STEP), 0); /* ESPIPE */
	assert_true(wb.off);
	assert_int_equal(pv_writebehind_wrote(&wb, PV_WRITEBEHIND_STEP), 0);
	close(p[0]);
	close(p[1]);
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	close(fd); /* its number now names nothing */
	pv_writebehind_init(&wb, fd);
	assert_int_equal(pv_writebehind_wrote(&wb, CHUNK), 0); /* under a step: no call */
	assert_int_equal(pv_writebehind_wrote(&wb, PV_WRITEBEHIND_STEP), EBADF);
	assert_false(wb.off);
}

static void test_a_temporary_file_forgets_what_was_read_for_the_last_time(void **state)
{
	(void)state;
	int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	unsigned char *buf = malloc(4 * CHUNK), *back = malloc(4 * CHUNK);
	fill(buf, 4 * CHUNK, 7);
	write_all(fd, buf, 4 * CHUNK);
	struct stat before, after;
	assert_int_equal(fstat(fd, &before), 0);
	pv_tmpfile_forget(fd, CHUNK, 2 * CHUNK);
	pv_tmpfile_forget(fd, 0, 0); /* nothing: no error, no change */
	assert_int_equal(fstat(fd, &after), 0);
	assert_int_equal(after.st_size, 4 * CHUNK);
	assert_true(before.st_blocks - after.st_blocks >= 2 * CHUNK / 512);
	assert_int_equal(pread(fd, back, 4 * CHUNK, 0), 4 * CHUNK);
	assert_memory_equal(back, buf, CHUNK);
	for (size_t i = CHUNK; i < 3 * CHUNK; i++)
		assert_int_equal(back[i], 0);
	assert_memory_equal(back + 3 * CHUNK, buf + 3 * CHUNK, CHUNK);
	close(fd);
	free(buf);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_file_written_behind_leaves_the_page_cache_as_it_grows),
		cmocka_unit_test(test_records_read_once_leave_the_page_cache),
		cmocka_unit_test(test_write_behind_tells_a_refused_hint_from_a_failure),
		cmocka_unit_test(test_a_temporary_file_forgets_what_was_read_for_the_last_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
