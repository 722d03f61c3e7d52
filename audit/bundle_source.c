/* The archive under a bundle being read (bundle_int.h): libarchive over a
 * descriptor or memory, each reader at its own position. */
#include "audit/bundle_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bundle_source {
	struct archive *a;
	int fd; /* -1: read mem */
	const uint8_t *mem;
	uint64_t size;
	int64_t pos;
	const char *name; /* of the current member */
	uint8_t buf[BUNDLE_IO_CHUNK];
};

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

int bundle_source_open(int fd, const uint8_t *mem, uint64_t size, struct bundle_source **s_r,
		       struct pv_error *err)
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
	s->fd = fd;
	s->mem = mem;
	s->size = size;
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	/* Seekable zip reads the central directory: what unzip shows. */
	archive_read_support_format_zip_seekable(a);
	archive_read_set_read_callback(a, src_read);
	archive_read_set_seek_callback(a, src_seek);
	archive_read_set_skip_callback(a, src_skip);
	archive_read_set_callback_data(a, s);
	if (archive_read_open1(a) != ARCHIVE_OK) {
		int r = pv_fail(err, PV_EINTEGRITY,
				"bundle is damaged or truncated, or not a .tar.gz or .zip: %s",
				archive_error_string(a) ? archive_error_string(a) : "unreadable");
		bundle_source_free(&s);
		return r;
	}
	*s_r = s;
	return 0;
}

int bundle_source_next(struct bundle_source *s, const char **name_r, struct pv_error *err)
{
	struct archive *a = s->a;
	struct archive_entry *e;
	for (;;) {
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
		if (archive_entry_perm(e) & (S_ISUID | S_ISGID | S_ISVTX | S_IWGRP | S_IWOTH))
			return pv_fail(err, PV_EINTEGRITY,
				       "bundle member '%.300s' has mode %04o: set-id, sticky or "
				       "writable by others", name, (unsigned)archive_entry_perm(e));
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
	return (int64_t)k;
}

void bundle_source_free(struct bundle_source **sp)
{
	struct bundle_source *s = *sp;
	if (s == NULL)
		return;
	if (s->a != NULL)
		archive_read_free(s->a);
	free(s);
	*sp = NULL;
}
