/* Unit tests for a .tar.gz bundle's gzip stream (audit/bundle_gzip.h): what
 * goes in comes out of any gzip reader byte for byte, whatever the sizes of
 * the writes and wherever the switches between Huffman coding and stored
 * blocks fall; stored blocks really are stored and the rest compressed;
 * every byte written is hashed; a failed write is reported, not lost.
 * Without gzip (a .zip's bytes): the file is what went in, hashed. */
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
#include <zlib.h>

#include "archiver/lib/sha256.h"
#include "audit/bundle_gzip.h"

/* Text that Huffman coding shrinks (a small alphabet). */
static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)"abcdefgh \r\n"[(seed >> 16) % 11];
	}
}

/* Inflates the gzip file at path into a malloc'ed buffer. */
static unsigned char *gunzip(const char *path, size_t *len_r)
{
	gzFile f = gzopen(path, "rb");
	size_t cap = 1 << 20, len = 0;
	unsigned char *out = malloc(cap);
	int k;
	assert_non_null(f);
	while ((k = gzread(f, out + len, (unsigned)(cap - len))) > 0) {
		len += (size_t)k;
		if (len == cap)
			out = realloc(out, cap *= 2);
	}
	assert_int_equal(k, 0);
	assert_int_equal(gzclose(f), Z_OK);
	*len_r = len;
	return out;
}

static off_t size_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* The whole file at path; *len_r its size. */
static unsigned char *slurp(const char *path, size_t *len_r)
{
	size_t len = (size_t)size_of(path);
	unsigned char *b = malloc(len ? len : 1);
	FILE *f = fopen(path, "rb");
	assert_non_null(b);
	assert_non_null(f);
	assert_int_equal(fread(b, 1, len, f), len);
	fclose(f);
	*len_r = len;
	return b;
}

/* in[0..total) through g in pieces of every size (each step * mul + add,
 * back to 1 past max), the mode switched after every `every`-th piece
 * (compressing after the even ones). */
static void write_in_pieces(struct bundle_gzip *g, const unsigned char *in, size_t total,
	size_t mul, size_t add, size_t max, int every)
{
	struct pv_error err;
	size_t o = 0, step = 1;
	for (int k = 0; o < total; k++) {
		size_t n = step < total - o ? step : total - o;
		assert_int_equal(bundle_gzip_write(g, in + o, n, &err), 0);
		o += n;
		step = step * mul + add < max ? step * mul + add : 1;
		if (k % every == every - 1)
			bundle_gzip_compress(g, k % 2 == 0);
	}
}

static void test_round_trip_with_switches(void **state)
{
	(void)state;
	char path[] = "/tmp/pv-gz-XXXXXX";
	int fd = mkstemp(path);
	size_t total = 9 * 1024 * 1024 + 12345;
	unsigned char *in = malloc(total), digest[32], want[32];
	struct bundle_gzip *g;
	struct pv_sha256 h;
	struct pv_error err;
	assert_true(fd >= 0);
	assert_non_null(in);
	fill(in, total, 7);
	assert_int_equal(pv_sha256_init(&h, &err), 0);
	assert_int_equal(bundle_gzip_open(fd, true, &h, &g, &err), 0);
	/* writes of every size, switching mode now and then */
	write_in_pieces(g, in, total, 3, 1, 3 * 1024 * 1024, 3);
	assert_int_equal(bundle_gzip_close(&g, &err), 0);
	assert_null(g);
	pv_sha256_final(&h, digest);
	close(fd);
	size_t len;
	unsigned char *out = gunzip(path, &len);
	assert_int_equal(len, total);
	assert_memory_equal(out, in, total);
	free(out);
	/* the file's hash is the hash of what was written */
	unsigned char *file = slurp(path, &len);
	assert_int_equal(pv_sha256_once(file, len, want, &err), 0);
	assert_memory_equal(digest, want, 32);
	free(file);
	unlink(path);
	free(in);
}

/* Huffman coding shrinks the text; stored blocks keep its size. */
static void test_stored_blocks_are_stored(void **state)
{
	(void)state;
	size_t total = 4 * 1024 * 1024;
	unsigned char *in = malloc(total);
	off_t sizes[2];
	fill(in, total, 3);
	for (int stored = 0; stored < 2; stored++) {
		char path[] = "/tmp/pv-gz-XXXXXX";
		int fd = mkstemp(path);
		struct bundle_gzip *g;
		struct pv_sha256 h;
		struct pv_error err;
		assert_int_equal(pv_sha256_init(&h, &err), 0);
		assert_int_equal(bundle_gzip_open(fd, true, &h, &g, &err), 0);
		bundle_gzip_compress(g, !stored);
		assert_int_equal(bundle_gzip_write(g, in, total, &err), 0);
		assert_int_equal(bundle_gzip_close(&g, &err), 0);
		pv_sha256_abort(&h);
		close(fd);
		sizes[stored] = size_of(path);
		size_t len;
		unsigned char *out = gunzip(path, &len);
		assert_int_equal(len, total);
		assert_memory_equal(out, in, total);
		free(out);
		unlink(path);
	}
	assert_true(sizes[0] < (off_t)total * 6 / 10); /* 11 symbols: under 4 bits each */
	assert_true(sizes[1] >= (off_t)total && sizes[1] < (off_t)total + 64 * 1024);
	free(in);
}

/* A write the file refuses (a read-only descriptor) fails the stream. */
static void test_a_failed_write_is_reported(void **state)
{
	(void)state;
	char path[] = "/tmp/pv-gz-XXXXXX";
	int wfd = mkstemp(path);
	int fd = open(path, O_RDONLY);
	size_t total = 8 * 1024 * 1024;
	unsigned char *in = malloc(total);
	struct bundle_gzip *g;
	struct pv_sha256 h;
	struct pv_error err;
	int r = 0;
	fill(in, total, 5);
	assert_int_equal(pv_sha256_init(&h, &err), 0);
	assert_int_equal(bundle_gzip_open(fd, true, &h, &g, &err), 0);
	for (size_t o = 0; o < total && r == 0; o += 65536)
		r = bundle_gzip_write(g, in + o, 65536, &err);
	if (r == 0)
		r = bundle_gzip_close(&g, &err);
	else
		bundle_gzip_abort(&g);
	assert_int_equal(r, PV_ERR);
	assert_non_null(strstr(err.msg, "bundle: write"));
	assert_null(g);
	pv_sha256_abort(&h);
	close(fd);
	close(wfd);
	unlink(path);
	free(in);
}

/* Without gzip the thread writes the bytes as they come (switches change
 * nothing), in order, and hashes them; a refused write still fails. */
static void test_plain_writes_the_bytes_as_they_come(void **state)
{
	(void)state;
	char path[] = "/tmp/pv-gz-XXXXXX";
	int fd = mkstemp(path);
	size_t total = 5 * 1024 * 1024 + 777;
	unsigned char *in = malloc(total), digest[32], want[32];
	struct bundle_gzip *g;
	struct pv_sha256 h;
	struct pv_error err;
	assert_true(fd >= 0);
	fill(in, total, 11);
	assert_int_equal(pv_sha256_init(&h, &err), 0);
	assert_int_equal(bundle_gzip_open(fd, false, &h, &g, &err), 0);
	write_in_pieces(g, in, total, 5, 3, 2 * 1024 * 1024, 1);
	assert_int_equal(bundle_gzip_close(&g, &err), 0);
	pv_sha256_final(&h, digest);
	close(fd);
	size_t len;
	unsigned char *file = slurp(path, &len);
	assert_int_equal(len, total);
	assert_memory_equal(file, in, total);
	assert_int_equal(pv_sha256_once(in, total, want, &err), 0);
	assert_memory_equal(digest, want, 32);
	free(file);
	unlink(path);

	/* a read-only descriptor: the failure shows */
	char path2[] = "/tmp/pv-gz-XXXXXX";
	int wfd = mkstemp(path2);
	int rfd = open(path2, O_RDONLY);
	int r = 0;
	assert_int_equal(pv_sha256_init(&h, &err), 0);
	assert_int_equal(bundle_gzip_open(rfd, false, &h, &g, &err), 0);
	for (size_t o = 0; o + 65536 <= total && r == 0; o += 65536)
		r = bundle_gzip_write(g, in + o, 65536, &err);
	if (r == 0)
		r = bundle_gzip_close(&g, &err);
	else
		bundle_gzip_abort(&g);
	assert_int_equal(r, PV_ERR);
	assert_non_null(strstr(err.msg, "bundle: write"));
	pv_sha256_abort(&h);
	close(rfd);
	close(wfd);
	unlink(path2);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_with_switches),
		cmocka_unit_test(test_stored_blocks_are_stored),
		cmocka_unit_test(test_a_failed_write_is_reported),
		cmocka_unit_test(test_plain_writes_the_bytes_as_they_come),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
