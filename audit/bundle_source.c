/* The archive under a bundle being read (bundle_int.h): libarchive over a
 * descriptor or memory, each reader at its own position; and what lies
 * around the archive, which other tools would read where we do not. */
#include "audit/bundle_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "audit/bundle_zipdir.h"

/* Bytes that end a zip (its end of central directory record, APPNOTE
 * 4.3.16), and the most a comment after them can add. */
#define ZIP_EOCD_LEN 22
#define ZIP_TAIL_MAX (ZIP_EOCD_LEN + 65535)
#define TAR_BLOCK 512

struct bundle_source {
	struct archive *a;  /* the tar or zip reader */
	struct archive *gz; /* under a for a .tar.gz: the whole gzip stream, raw */
	int fd;             /* -1: read mem */
	const uint8_t *mem;
	uint64_t size;
	int64_t pos;
	const char *name;   /* of the current member */
	uint64_t handed;    /* bytes of the gzip stream handed to a */
	uint64_t nonzero;   /* 1 + the offset of the last of them that is not 0 */
	bool again;         /* a later pass (bundle_source_open) */
	/* A zip's first pass: its entries as the stream shows them, folded
	 * (bundle_zipdir.h), the current one's name, start, method, bytes
	 * and CRC-32 until it ends. */
	bool zfold_on, zcur;
	struct zipdir_fold zfold;
	char zname[PV_BUNDLE_PATH_MAX + 2];
	size_t zname_len;
	uint64_t zdata, zsize;
	unsigned zmethod;
	uint32_t zcrc;
	uint8_t buf[BUNDLE_IO_CHUNK];
	uint8_t gbuf[BUNDLE_IO_CHUNK];
};

/* Up to n bytes at offset off of the file: the count, or -1. */
static ssize_t src_pread(const struct bundle_source *s, uint64_t off, void *buf, size_t n)
{
	if (off >= s->size)
		return 0;
	if (n > s->size - off)
		n = (size_t)(s->size - off);
	if (s->fd < 0) {
		memcpy(buf, s->mem + off, n);
		return (ssize_t)n;
	}
	ssize_t k;
	do
		k = pread(s->fd, buf, n, (off_t)off);
	while (k < 0 && errno == EINTR);
	return k;
}

static la_ssize_t src_read(struct archive *a, void *ud, const void **buf)
{
	struct bundle_source *s = ud;
	if (s->pos < 0 || (uint64_t)s->pos >= s->size)
		return 0;
	size_t n = s->size - (uint64_t)s->pos < BUNDLE_IO_CHUNK ? (size_t)(s->size - (uint64_t)s->pos)
								: BUNDLE_IO_CHUNK;
	if (s->fd < 0) {
		*buf = s->mem + s->pos;
	} else {
		ssize_t k;
		do
			k = pread(s->fd, s->buf, n, s->pos);
		while (k < 0 && errno == EINTR);
		if (k < 0) {
			archive_set_error(a, errno, "read: %s", strerror(errno));
			return -1;
		}
		n = (size_t)k;
		*buf = s->buf;
	}
	s->pos += (int64_t)n;
	return (la_ssize_t)n;
}

static la_int64_t src_seek(struct archive *a, void *ud, la_int64_t off, int whence)
{
	struct bundle_source *s = ud;
	int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? s->pos : (int64_t)s->size;
	(void)a;
	if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
		return ARCHIVE_FATAL;
	s->pos = base + off;
	return s->pos;
}

static la_int64_t src_skip(struct archive *a, void *ud, la_int64_t n)
{
	struct bundle_source *s = ud;
	(void)a;
	if (n < 0 || s->pos > INT64_MAX - n)
		return 0;
	if ((uint64_t)(s->pos + n) > s->size)
		n = (la_int64_t)(s->size - (uint64_t)s->pos);
	s->pos += n;
	return n;
}

/* The tar reader of a .tar.gz reads the gzip stream through here, which
 * notes where its last non-zero byte was. */
static la_ssize_t gz_read(struct archive *a, void *ud, const void **buf)
{
	struct bundle_source *s = ud;
	la_ssize_t k = archive_read_data(s->gz, s->gbuf, sizeof(s->gbuf));
	if (k < 0) {
		archive_set_error(a, -1, "%s",
				  archive_error_string(s->gz) ? archive_error_string(s->gz) : "gzip");
		return -1;
	}
	for (la_ssize_t i = k; i > 0; i--)
		if (s->gbuf[i - 1] != 0) {
			s->nonzero = s->handed + (uint64_t)i;
			break;
		}
	s->handed += (uint64_t)k;
	*buf = s->gbuf;
	return k;
}

static bool zip_end_at_end(const struct bundle_source *s);

static int not_an_archive(struct archive *a, struct pv_error *err)
{
	return pv_fail(err, PV_EINTEGRITY, "bundle is damaged or truncated, or not a .tar.gz or .zip: %s",
		       archive_error_string(a) ? archive_error_string(a) : "unreadable");
}

int bundle_source_open(int fd, const uint8_t *mem, uint64_t size, bool again,
		       struct bundle_source **s_r, struct pv_error *err)
{
	struct bundle_source *s = calloc(1, sizeof(*s));
	struct archive *a = archive_read_new();
	*s_r = NULL;
	if (a == NULL || s == NULL) {
		if (a)
			archive_read_free(a);
		free(s);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	s->a = a;
	s->again = again;
	zipdir_fold_init(&s->zfold);
	s->fd = fd;
	s->mem = mem;
	s->size = size;
	uint8_t magic[2];
	int r;
	if (src_pread(s, 0, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
		/* A .tar.gz: the gzip stream read raw, and the tar read from it,
		 * so that bundle_source_end can see what follows the tar. */
		struct archive_entry *e;
		if ((s->gz = archive_read_new()) == NULL) {
			bundle_source_free(&s);
			return pv_fail(err, PV_ERR, "out of memory");
		}
		archive_read_support_filter_gzip(s->gz);
		archive_read_support_format_raw(s->gz);
		archive_read_set_read_callback(s->gz, src_read);
		archive_read_set_callback_data(s->gz, s);
		if (archive_read_open1(s->gz) != ARCHIVE_OK ||
		    archive_read_next_header(s->gz, &e) != ARCHIVE_OK) {
			r = not_an_archive(s->gz, err);
			bundle_source_free(&s);
			return r;
		}
		archive_read_support_format_tar(a);
		archive_read_set_read_callback(a, gz_read);
	} else {
		archive_read_support_format_tar(a);
		/* A zip is read entry after entry (libarchive's seekable reader
		 * would keep the central directory in memory, 144 bytes an
		 * entry); the first pass then checks the central directory,
		 * what unzip shows, against what it read (bundle_source_end). */
		archive_read_support_format_zip_streamable(a);
		archive_read_set_read_callback(a, src_read);
		archive_read_set_seek_callback(a, src_seek);
		archive_read_set_skip_callback(a, src_skip);
	}
	archive_read_set_callback_data(a, s);
	if (archive_read_open1(a) != ARCHIVE_OK) {
		/* The streaming reader wants a zip's first entry at offset 0. */
		if (s->gz == NULL && zip_end_at_end(s))
			r = pv_fail(err, PV_EINTEGRITY, "bundle has bytes before its zip archive "
							"(another file in front?)");
		else
			r = not_an_archive(a, err);
		bundle_source_free(&s);
		return r;
	}
	*s_r = s;
	return 0;
}

/* The zip entry just read, into the first pass's fold. */
static void zip_entry_done(struct bundle_source *s)
{
	if (s->zcur)
		zipdir_fold_entry(&s->zfold, s->zname, s->zname_len, s->zdata, s->zmethod, s->zsize,
				  s->zcrc);
	s->zcur = false;
}

/* The compression of the entry libarchive just read: it names it only in
 * the format's name ("ZIP 2.0 (deflation)"). */
static unsigned zip_method(struct archive *a)
{
	const char *f = archive_format_name(a);
	if (f != NULL && strstr(f, "(uncompressed)") != NULL)
		return ZIPDIR_STORED;
	if (f != NULL && strstr(f, "(deflation)") != NULL)
		return ZIPDIR_DEFLATED;
	return ZIPDIR_OTHER;
}

/* A zip entry begins: what the fold will take of it. The data begins
 * where libarchive stopped reading its local header. */
static int zip_entry_start(struct bundle_source *s, struct archive_entry *e, const char *name,
			   struct pv_error *err)
{
	size_t n = strlen(name);
	if (archive_entry_is_encrypted(e))
		return pv_fail(err, PV_EINTEGRITY, "bundle zip: entry '%.300s' is encrypted", name);
	if (n >= sizeof(s->zname))
		return pv_fail(err, PV_EINTEGRITY, "bundle member name '%.300s' is not allowed", name);
	memcpy(s->zname, name, n + 1);
	s->zname_len = n;
	s->zdata = (uint64_t)archive_filter_bytes(s->a, 0);
	s->zmethod = zip_method(s->a);
	s->zsize = 0;
	s->zcrc = (uint32_t)crc32(0, NULL, 0);
	s->zcur = true;
	return 0;
}

int bundle_source_next(struct bundle_source *s, const char **name_r, struct pv_error *err)
{
	struct archive *a = s->a;
	struct archive_entry *e;
	for (;;) {
		zip_entry_done(s);
		int rc = archive_read_next_header(a, &e);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc < ARCHIVE_WARN)
			return pv_fail(err, PV_EINTEGRITY, "bundle is damaged or truncated: %s",
				       archive_error_string(a) ? archive_error_string(a) : "?");
		const char *name = archive_entry_pathname(e);
		mode_t type = archive_entry_filetype(e);
		if (name == NULL)
			return pv_fail(err, PV_EINTEGRITY, "bundle member without a usable name");
		if ((type != AE_IFREG && type != AE_IFDIR) || archive_entry_hardlink(e) != NULL)
			return pv_fail(err, PV_EINTEGRITY,
				       "bundle member '%.300s' is not a regular file (link or device)",
				       name);
		/* Directories too: tar and unzip create them where they say, with
		 * their mode, even though the bundle has nothing in them. */
		size_t len = strlen(name);
		if (type == AE_IFDIR && len > 0 && name[len - 1] == '/')
			len--;
		if (!bundle_name_valid(name, len))
			return pv_fail(err, PV_EINTEGRITY, "bundle member name '%.300s' is not allowed",
				       name);
		if (!s->again && !s->zfold_on &&
		    (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP)
			s->zfold_on = true;
		/* A zip's modes are in its central directory, which the first
		 * pass checks at the end (bundle_zipdir.h). */
		if (!s->again && !s->zfold_on &&
		    archive_entry_perm(e) & (S_ISUID | S_ISGID | S_ISVTX | S_IWGRP | S_IWOTH))
			return pv_fail(err, PV_EINTEGRITY,
				       "bundle member '%.300s' has mode %04o: set-id, sticky or "
				       "writable by others", name, (unsigned)archive_entry_perm(e));
		int r;
		if (s->zfold_on && (r = zip_entry_start(s, e, name, err)) < 0)
			return r;
		if (type == AE_IFDIR)
			continue;
		s->name = name;
		*name_r = name;
		return 1;
	}
}

int64_t bundle_source_read(struct bundle_source *s, void *buf, size_t n, struct pv_error *err)
{
	la_ssize_t k = archive_read_data(s->a, buf, n);
	if (k < 0)
		return pv_fail(err, PV_EINTEGRITY, "bundle is damaged or truncated in %s: %s",
			       s->name ? s->name : "?",
			       archive_error_string(s->a) ? archive_error_string(s->a) : "?");
	if (s->zcur && k > 0) {
		s->zcrc = (uint32_t)crc32(s->zcrc, buf, (uInt)k);
		s->zsize += (uint64_t)k;
	}
	return (int64_t)k;
}

void bundle_source_free(struct bundle_source **sp)
{
	struct bundle_source *s = *sp;
	if (s == NULL)
		return;
	if (s->a != NULL)
		archive_read_free(s->a);
	if (s->gz != NULL)
		archive_read_free(s->gz);
	free(s);
	*sp = NULL;
}

/* --- around the archive ------------------------------------------------------------- */

static int trailing(struct pv_error *err)
{
	return pv_fail(err, PV_EINTEGRITY,
		       "bundle has bytes after the end of its archive (another file appended?)");
}

/* Do the file's last bytes end a zip: an end record whose comment runs
 * exactly to the end? unzip and most zip readers look there first. */
static bool zip_end_at_end(const struct bundle_source *s)
{
	size_t n = s->size < ZIP_TAIL_MAX ? (size_t)s->size : ZIP_TAIL_MAX;
	uint8_t *tail = malloc(n ? n : 1);
	bool found = false;
	if (tail == NULL || src_pread(s, s->size - n, tail, n) != (ssize_t)n) {
		free(tail);
		return true; /* unreadable now: refuse rather than guess */
	}
	for (size_t i = n >= ZIP_EOCD_LEN ? n - ZIP_EOCD_LEN + 1 : 0; i-- > 0 && !found;)
		found = memcmp(tail + i, "PK\5\6", 4) == 0 &&
			i + ZIP_EOCD_LEN + (tail[i + 20] | (size_t)tail[i + 21] << 8) == n;
	free(tail);
	return found;
}

/* Would tar take the file's first block for a header (POSIX ustar: the
 * checksum field holds the sum of the block's bytes, the field counted
 * as spaces; some tars sum signed bytes)? */
static bool tar_header_at_start(const struct bundle_source *s)
{
	uint8_t h[TAR_BLOCK];
	uint64_t want = 0, sum = 8 * ' ';
	int64_t ssum = 8 * ' ';
	size_t i = 148;
	if (src_pread(s, 0, h, sizeof(h)) != (ssize_t)sizeof(h))
		return false;
	while (i < 156 && h[i] == ' ')
		i++;
	if (i == 156 || h[i] < '0' || h[i] > '7')
		return false;
	for (; i < 156 && h[i] >= '0' && h[i] <= '7'; i++)
		want = want * 8 + (uint64_t)(h[i] - '0');
	for (i = 0; i < sizeof(h); i++)
		if (i < 148 || i >= 156) {
			sum += h[i];
			ssum += (int8_t)h[i];
		}
	return want == sum || (int64_t)want == ssum;
}

/* After a tar's end, only the zeros that pad its last record. */
static int tar_end(struct bundle_source *s, struct pv_error *err)
{
	uint64_t end = (uint64_t)archive_filter_bytes(s->a, 0);
	if (s->gz != NULL) {
		la_ssize_t k;
		if (s->nonzero > end)
			return trailing(err);
		while ((k = archive_read_data(s->gz, s->gbuf, sizeof(s->gbuf))) > 0)
			for (la_ssize_t i = 0; i < k; i++)
				if (s->gbuf[i] != 0)
					return trailing(err);
		if (k < 0)
			return not_an_archive(s->gz, err);
		/* The gzip reader stops at the end of the last gzip member. */
		if ((uint64_t)archive_filter_bytes(s->gz, -1) != s->size)
			return trailing(err);
		return 0;
	}
	for (uint64_t off = end; off < s->size;) {
		ssize_t k = src_pread(s, off, s->buf, sizeof(s->buf));
		if (k <= 0)
			return pv_fail(err, PV_EINTEGRITY, "bundle could not be read to its end");
		for (ssize_t i = 0; i < k; i++)
			if (s->buf[i] != 0)
				return trailing(err);
		off += (uint64_t)k;
	}
	return 0;
}

static ssize_t zip_pread(void *ctx, uint64_t off, void *buf, size_t n)
{
	return src_pread(ctx, off, buf, n);
}

int bundle_source_end(struct bundle_source *s, struct pv_error *err)
{
	int r;
	if ((archive_format(s->a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP) {
		uint8_t head[4];
		if (src_pread(s, 0, head, 4) != 4 || memcmp(head, "PK\3\4", 4) != 0)
			return pv_fail(err, PV_EINTEGRITY, "bundle has bytes before its zip archive "
							   "(another file in front?)");
		if (!zip_end_at_end(s))
			return trailing(err);
		if (tar_header_at_start(s))
			return pv_fail(err, PV_EINTEGRITY, "bundle is a zip and a tar file at once "
							   "(tar would show other members)");
		zip_entry_done(s);
		return zipdir_check(zip_pread, s, s->size, &s->zfold, err);
	}
	if ((r = tar_end(s, err)) < 0)
		return r;
	if (zip_end_at_end(s))
		return pv_fail(err, PV_EINTEGRITY, "bundle is a tar and a zip file at once (unzip "
						   "would show other members)");
	return 0;
}
