/* Writing bundles (bundle_write.h). */
#include "audit/bundle_write.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/sha256.h"
#include "audit/bundle_gzip.h"
#include "audit/bundle_zipend.h"

/* Staging buffer of a streamed member. */
#define IO_CHUNK 65536

struct wrecord {
	char *name;
	uint8_t sha256[32];
};

struct bundle_writer {
	struct archive *a;
	struct bundle_gzip *gz; /* the archive's bytes go through it (.zip: as they are) */
	bool zip;
	bool store; /* .zip: members are stored, not deflated */
	int fd;
	struct pv_sha256 file_hash; /* of every byte written to fd */
	char *path, *tmp_path, *dir;
	char kind[BUNDLE_KIND_MAX + 1];
	int64_t mtime;
	struct wrecord *recs;
	size_t n_recs, cap_recs;
};

struct bundle_member {
	char *name;
	int fd;
	uint64_t size;
	bool scan; /* a .zip's: watched for a false end (bundle_zipend.h) */
	struct zipend end;
	size_t blen;
	uint8_t buf[IO_CHUNK];
};

static int la_fail(struct archive *a, struct pv_error *err, const char *what)
{
	return pv_fail(err, PV_ERR, "bundle: %s: %s", what,
		       archive_error_string(a) ? archive_error_string(a) : "failed");
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

static int record(struct bundle_writer *w, const char *name, const uint8_t sha[32],
		  struct pv_error *err)
{
	if (w->n_recs == w->cap_recs) {
		size_t cap = w->cap_recs ? 2 * w->cap_recs : 32;
		struct wrecord *p;
		if (w->n_recs >= PV_BUNDLE_FILES_MAX)
			return pv_fail(err, PV_ELIMIT, "bundle: more than %d members",
				       PV_BUNDLE_FILES_MAX);
		if ((p = realloc(w->recs, cap * sizeof(*p))) == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		w->recs = p;
		w->cap_recs = cap;
	}
	if ((w->recs[w->n_recs].name = strdup(name)) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	memcpy(w->recs[w->n_recs++].sha256, sha, 32);
	return 0;
}

/* false_end: the member's bytes would end it early if stored
 * (bundle_zipend.h), so it is deflated whatever was asked. */
static int entry_header(struct bundle_writer *w, const char *name, uint64_t size,
			bool false_end, struct pv_error *err)
{
	struct archive_entry *e = archive_entry_new();
	int r = 0;
	if (e == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, (time_t)w->mtime, 0);
	bool deflate = w->zip && w->store && false_end;
	if (deflate)
		(void)archive_write_zip_set_compression_deflate(w->a);
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		r = la_fail(w->a, err, name);
	/* The method is the entry's from its header on: the next is stored. */
	if (deflate)
		(void)archive_write_zip_set_compression_store(w->a);
	archive_entry_free(e);
	return r;
}

static int entry_data(struct bundle_writer *w, const void *p, size_t n, struct pv_error *err)
{
	if (n > 0 && archive_write_data(w->a, p, n) != (la_ssize_t)n)
		return la_fail(w->a, err, "write");
	return 0;
}

int bundle_add_hashed(struct bundle_writer *w, const char *name, const void *data, size_t len,
		      const uint8_t sha256[32], struct pv_error *err)
{
	int r;
	if (!bundle_name_valid(name, strlen(name)))
		return pv_fail(err, PV_ERR, "bundle: bad member name '%s'", name);
	bool false_end = w->zip && w->store && zipend_false_end(data, len);
	if ((r = entry_header(w, name, len, false_end, err)) < 0 ||
	    (r = entry_data(w, data, len, err)) < 0)
		return r;
	return record(w, name, sha256, err);
}

int bundle_add(struct bundle_writer *w, const char *name, const void *data, size_t len,
	       struct pv_error *err)
{
	uint8_t sha[32];
	int r = pv_sha256_once(data, len, sha, err);
	return r < 0 ? r : bundle_add_hashed(w, name, data, len, sha, err);
}

static la_ssize_t to_output(struct archive *a, void *ctx, const void *p, size_t n)
{
	struct bundle_writer *w = ctx;
	struct pv_error e;
	if (bundle_gzip_write(w->gz, p, n, &e) < 0) {
		archive_set_error(a, EIO, "%s", e.msg);
		return -1;
	}
	return (la_ssize_t)n;
}

void bundle_writer_compress(struct bundle_writer *w, bool on)
{
	if (w->zip) {
		(void)(on ? archive_write_zip_set_compression_deflate(w->a)
			  : archive_write_zip_set_compression_store(w->a));
		w->store = !on;
	} else if (w->gz != NULL)
		bundle_gzip_compress(w->gz, on);
}

int bundle_writer_open(const char *path, const char *kind, struct bundle_writer **w_r,
		       struct pv_error *err)
{
	struct bundle_writer *w;
	bool zip = ends_with(path, ".zip");
	int r;

	*w_r = NULL;
	if (!zip && !ends_with(path, ".tar.gz") && !ends_with(path, ".tgz"))
		return pv_fail(err, PV_EUSAGE, "%s: the bundle name must end in .tar.gz, .tgz or .zip",
			       path);
	if (!bundle_kind_valid(kind, strlen(kind)))
		return pv_fail(err, PV_ERR, "bundle: bad kind '%s'", kind);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	w->fd = -1;
	snprintf(w->kind, sizeof(w->kind), "%s", kind);
	w->mtime = pv_clock_now();
	const char *slash = strrchr(path, '/');
	if ((w->path = strdup(path)) == NULL ||
	    (w->dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".")) == NULL ||
	    asprintf(&w->tmp_path, "%s.tmp-XXXXXX", path) < 0) {
		w->tmp_path = NULL;
		r = pv_fail(err, PV_ERR, "out of memory");
		goto fail;
	}
	if (access(path, F_OK) == 0) {
		r = pv_fail(err, PV_ERR, "%s already exists; refusing to overwrite it", path);
		goto fail;
	}
	if ((w->fd = mkstemp(w->tmp_path)) < 0) {
		r = pv_fail(err, PV_ERR, "create %s: %s", w->tmp_path, strerror(errno));
		free(w->tmp_path);
		w->tmp_path = NULL;
		goto fail;
	}
	if ((r = pv_sha256_init(&w->file_hash, err)) < 0)
		goto fail;
	if ((w->a = archive_write_new()) == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto fail;
	}
	w->zip = zip;
	if (zip) {
		/* Deflate's fastest level for what is compressed (see
		 * bundle_writer_compress). */
		if (archive_write_set_format_zip(w->a) != ARCHIVE_OK ||
		    archive_write_zip_set_compression_deflate(w->a) != ARCHIVE_OK ||
		    archive_write_set_format_option(w->a, "zip", "compression-level", "1") <
			    ARCHIVE_WARN) {
			r = la_fail(w->a, err, "zip");
			goto fail;
		}
	} else if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK) {
		r = la_fail(w->a, err, "tar.gz");
		goto fail;
	}
	/* The archive's bytes go to bundle_gzip.h's thread, which hashes and
	 * writes them: a tar gzipped there, a zip as they come (libarchive
	 * deflates its members itself). As archive_write_open_fd does for a
	 * file: no padding past the archive's end. */
	if ((r = bundle_gzip_open(w->fd, !zip, &w->file_hash, &w->gz, err)) < 0)
		goto fail;
	if (archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
	    archive_write_open2(w->a, w, NULL, to_output, NULL, NULL) != ARCHIVE_OK) {
		r = la_fail(w->a, err, path);
		goto fail;
	}
	char head[64 + BUNDLE_KIND_MAX];
	int n = snprintf(head, sizeof(head), BUNDLE_MAGIC "\nkind %s\n", kind);
	if ((r = bundle_add(w, BUNDLE_KIND_FILE, head, (size_t)n, err)) < 0)
		goto fail;
	*w_r = w;
	return 0;
fail:
	bundle_writer_abort(&w);
	return r;
}

/* An unlinked temporary file beside the output (nothing to clean up after
 * a crash), or -1 with errno. */
static int stage_fd(const struct bundle_writer *w)
{
	int fd = open(w->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		char *tmpl = NULL;
		if (asprintf(&tmpl, "%s/.popvault-stage-XXXXXX", w->dir) >= 0) {
			fd = mkostemp(tmpl, O_CLOEXEC);
			int e = errno;
			if (fd >= 0)
				unlink(tmpl);
			free(tmpl);
			errno = e;
		}
	}
	return fd;
}

int bundle_member_begin(struct bundle_writer *w, const char *name, struct bundle_member **m_r,
			struct pv_error *err)
{
	struct bundle_member *m;
	*m_r = NULL;
	if (!bundle_name_valid(name, strlen(name)))
		return pv_fail(err, PV_ERR, "bundle: bad member name '%s'", name);
	if ((m = calloc(1, sizeof(*m))) == NULL || (m->name = strdup(name)) == NULL) {
		free(m);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	/* Whether it will be stored is known only at its end. */
	m->scan = w->zip;
	zipend_init(&m->end);
	if ((m->fd = stage_fd(w)) < 0) {
		int e = errno;
		free(m->name);
		free(m);
		return pv_fail(err, PV_ERR, "bundle: staging file in %s: %s", w->dir, strerror(e));
	}
	*m_r = m;
	return 0;
}

static int member_flush(struct bundle_member *m, struct pv_error *err)
{
	size_t off = 0;
	while (off < m->blen) {
		ssize_t k = write(m->fd, m->buf + off, m->blen - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return pv_fail(err, PV_ERR, "bundle: staging %s: %s", m->name,
				       k < 0 ? strerror(errno) : "short write");
		off += (size_t)k;
	}
	m->blen = 0;
	return 0;
}

int bundle_member_write(struct bundle_member *m, const void *data, size_t len,
			struct pv_error *err)
{
	const uint8_t *p = data;
	int r;
	if (m->scan)
		zipend_feed(&m->end, data, len);
	while (len > 0) {
		size_t k = sizeof(m->buf) - m->blen;
		if (k > len)
			k = len;
		memcpy(m->buf + m->blen, p, k);
		m->blen += k;
		m->size += k;
		p += k;
		len -= k;
		if (m->blen == sizeof(m->buf) && (r = member_flush(m, err)) < 0)
			return r;
	}
	return 0;
}

static void member_free(struct bundle_member **mp)
{
	struct bundle_member *m = *mp;
	if (m == NULL)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m->name);
	free(m);
	*mp = NULL;
}

void bundle_member_abort(struct bundle_member **mp)
{
	member_free(mp);
}

int bundle_member_end(struct bundle_writer *w, struct bundle_member **mp, struct pv_error *err)
{
	return bundle_member_end_keep(w, mp, NULL, err);
}

int bundle_member_end_keep(struct bundle_writer *w, struct bundle_member **mp, int *fd_r,
			   struct pv_error *err)
{
	struct bundle_member *m = *mp;
	struct pv_sha256 st = {NULL};
	uint8_t sha[32];
	uint64_t copied = 0;
	int r;

	if ((r = member_flush(m, err)) < 0)
		goto out;
	if (lseek(m->fd, 0, SEEK_SET) != 0) {
		r = pv_fail(err, PV_ERR, "bundle: rewind %s: %s", m->name, strerror(errno));
		goto out;
	}
	if ((r = entry_header(w, m->name, m->size, m->scan && zipend_found(&m->end), err)) < 0)
		goto out;
	if ((r = pv_sha256_init(&st, err)) < 0)
		goto out;
	/* Hashed as copied: the manifest describes the bytes in the archive. */
	for (;;) {
		ssize_t k = read(m->fd, m->buf, sizeof(m->buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = pv_fail(err, PV_ERR, "bundle: read back %s: %s", m->name, strerror(errno));
			goto out;
		}
		if (k == 0)
			break;
		pv_sha256_update(&st, m->buf, (size_t)k);
		copied += (uint64_t)k;
		if ((r = entry_data(w, m->buf, (size_t)k, err)) < 0)
			goto out;
	}
	if (copied != m->size) {
		r = pv_fail(err, PV_ERR, "bundle: %s changed while staged", m->name);
		goto out;
	}
	pv_sha256_final(&st, sha);
	r = record(w, m->name, sha, err);
	if (r == 0 && fd_r != NULL) {
		if (lseek(m->fd, 0, SEEK_SET) != 0) {
			r = pv_fail(err, PV_ERR, "bundle: rewind %s: %s", m->name, strerror(errno));
			goto out;
		}
		*fd_r = m->fd;
		m->fd = -1;
	}
out:
	pv_sha256_abort(&st);
	member_free(mp);
	return r;
}

int bundle_writer_finish(struct bundle_writer **wp, const struct note_signer *s,
			 struct pv_error *err)
{
	return bundle_writer_finish_file(wp, s, NULL, NULL, err);
}

int bundle_writer_finish_file(struct bundle_writer **wp, const struct note_signer *s,
			      uint8_t sha256_r[32], uint64_t *size_r, struct pv_error *err)
{
	struct bundle_writer *w = *wp;
	struct bundle_member *m = NULL;
	struct pv_buf note;
	char hex[65], text[BUNDLE_MANIFEST_TEXT_MAX];
	int r;

	pv_buf_init(&note, PV_NOTE_MAX);
	if ((r = bundle_member_begin(w, BUNDLE_MANIFEST, &m, err)) < 0)
		goto out;
	for (size_t i = 0; i < w->n_recs && r == 0; i++) {
		char line[64 + 2 + PV_BUNDLE_PATH_MAX + 2];
		pv_hex(w->recs[i].sha256, 32, hex);
		int n = snprintf(line, sizeof(line), "%s  %s\n", hex, w->recs[i].name);
		r = bundle_member_write(m, line, (size_t)n, err);
	}
	if (r < 0 || (r = bundle_member_end(w, &m, err)) < 0)
		goto out;
	pv_hex(w->recs[w->n_recs - 1].sha256, 32, hex);
	bundle_manifest_text(w->kind, hex, text);
	if ((r = note_sign(text, strlen(text), s, &note, err)) < 0 ||
	    (r = bundle_add(w, BUNDLE_MANIFEST_NOTE, note.data, note.len, err)) < 0)
		goto out;
	bundle_writer_compress(w, true);
	if (archive_write_close(w->a) != ARCHIVE_OK) {
		r = la_fail(w->a, err, "close");
		goto out;
	}
	if ((r = bundle_gzip_close(&w->gz, err)) < 0)
		goto out;
	struct stat st;
	if (fsync(w->fd) != 0 || fstat(w->fd, &st) != 0) {
		r = pv_fail(err, PV_ERR, "fsync %s: %s", w->tmp_path, strerror(errno));
		goto out;
	}
	/* link() refuses an existing name: never replace a bundle. */
	if (link(w->tmp_path, w->path) != 0) {
		r = pv_fail(err, PV_ERR, "%s: %s", w->path, strerror(errno));
		goto out;
	}
	r = pv_fsync_dir(w->dir, err);
	if (size_r != NULL)
		*size_r = (uint64_t)st.st_size;
	if (sha256_r != NULL)
		pv_sha256_final(&w->file_hash, sha256_r);
out:
	member_free(&m);
	pv_buf_free(&note);
	bundle_writer_abort(wp);
	return r;
}

void bundle_writer_abort(struct bundle_writer **wp)
{
	struct bundle_writer *w = *wp;
	if (w == NULL)
		return;
	if (w->a != NULL)
		archive_write_free(w->a); /* closes the archive if still open */
	bundle_gzip_abort(&w->gz);
	pv_sha256_abort(&w->file_hash);
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_path != NULL)
		unlink(w->tmp_path);
	for (size_t i = 0; i < w->n_recs; i++)
		free(w->recs[i].name);
	free(w->recs);
	free(w->path);
	free(w->tmp_path);
	free(w->dir);
	free(w);
	*wp = NULL;
}
