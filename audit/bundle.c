#include "audit/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/hex.h"

#define IO_CHUNK 65536
#define MANIFEST "MANIFEST.sha256"
#define MANIFEST_NOTE "MANIFEST.note"
#define KIND_FILE "BUNDLE"

/* --- reports ------------------------------------------------------------------ */

static void report(struct bundle_report *rep, bool problem, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void report(struct bundle_report *rep, bool problem, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (rep->line != NULL)
		rep->line(rep->ctx, problem, msg);
}

void bundle_problem(struct bundle_report *rep, const char *fmt, ...)
{
	va_list ap;
	rep->problems++;
	va_start(ap, fmt);
	report(rep, true, fmt, ap);
	va_end(ap);
}

void bundle_info(struct bundle_report *rep, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(rep, false, fmt, ap);
	va_end(ap);
}

void bundle_warn(struct bundle_report *rep, const char *fmt, ...)
{
	va_list ap;
	rep->warnings++;
	va_start(ap, fmt);
	report(rep, false, fmt, ap);
	va_end(ap);
}

bool bundle_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > PV_BUNDLE_PATH_MAX)
		return false;
	size_t comp = 0; /* start of the current component */
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? name[i] : '/';
		if (c == '/') {
			size_t n = i - comp;
			if (n == 0 || (n == 1 && name[comp] == '.') ||
			    (n == 2 && name[comp] == '.' && name[comp + 1] == '.'))
				return false;
			comp = i + 1;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("._+=@,-", c) != NULL) || c == '\0')
			return false;
	}
	return true;
}

static bool kind_valid(const char *k, size_t n)
{
	if (n == 0 || n > BUNDLE_KIND_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-'))
			return false;
	return true;
}

/* --- writing ------------------------------------------------------------------ */

struct wrecord {
	char *name;
	uint8_t sha256[32];
};

struct bundle_writer {
	struct archive *a;
	int fd;
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

static int entry_header(struct bundle_writer *w, const char *name, uint64_t size,
			struct pv_error *err)
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
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		r = la_fail(w->a, err, name);
	archive_entry_free(e);
	return r;
}

static int entry_data(struct bundle_writer *w, const void *p, size_t n, struct pv_error *err)
{
	if (n > 0 && archive_write_data(w->a, p, n) != (la_ssize_t)n)
		return la_fail(w->a, err, "write");
	return 0;
}

int bundle_add(struct bundle_writer *w, const char *name, const void *data, size_t len,
	       struct pv_error *err)
{
	uint8_t sha[32];
	int r;
	if (!bundle_name_valid(name, strlen(name)))
		return pv_fail(err, PV_ERR, "bundle: bad member name '%s'", name);
	crypto_hash_sha256(sha, data, len);
	if ((r = entry_header(w, name, len, err)) < 0 || (r = entry_data(w, data, len, err)) < 0)
		return r;
	return record(w, name, sha, err);
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
	if (!kind_valid(kind, strlen(kind)))
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
	if ((w->a = archive_write_new()) == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto fail;
	}
	if (zip) {
		if (archive_write_set_format_zip(w->a) != ARCHIVE_OK ||
		    archive_write_zip_set_compression_deflate(w->a) != ARCHIVE_OK) {
			r = la_fail(w->a, err, "zip");
			goto fail;
		}
	} else if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
		   archive_write_add_filter_gzip(w->a) != ARCHIVE_OK) {
		r = la_fail(w->a, err, "tar.gz");
		goto fail;
	}
	/* Deflate's fastest level: export time is otherwise mostly deflate
	 * (measured: 68%), and mail compresses nearly as well at level 1. */
	if ((zip ? archive_write_set_format_option(w->a, "zip", "compression-level", "1")
		 : archive_write_set_filter_option(w->a, "gzip", "compression-level", "1")) <
	    ARCHIVE_WARN) {
		r = la_fail(w->a, err, "compression level");
		goto fail;
	}
	if (archive_write_open_fd(w->a, w->fd) != ARCHIVE_OK) {
		r = la_fail(w->a, err, path);
		goto fail;
	}
	char head[64 + BUNDLE_KIND_MAX];
	int n = snprintf(head, sizeof(head), BUNDLE_MAGIC "\nkind %s\n", kind);
	if ((r = bundle_add(w, KIND_FILE, head, (size_t)n, err)) < 0)
		goto fail;
	*w_r = w;
	return 0;
fail:
	bundle_writer_abort(&w);
	return r;
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
	/* Unlinked from the start: nothing to clean up after a crash. */
	m->fd = open(w->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (m->fd < 0) {
		char *tmpl = NULL;
		if (asprintf(&tmpl, "%s/.popvault-stage-XXXXXX", w->dir) >= 0) {
			m->fd = mkstemp(tmpl);
			if (m->fd >= 0)
				unlink(tmpl);
			free(tmpl);
		}
	}
	if (m->fd < 0) {
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
	struct bundle_member *m = *mp;
	crypto_hash_sha256_state st;
	uint8_t sha[32];
	uint64_t copied = 0;
	int r;

	if ((r = member_flush(m, err)) < 0)
		goto out;
	if (lseek(m->fd, 0, SEEK_SET) != 0) {
		r = pv_fail(err, PV_ERR, "bundle: rewind %s: %s", m->name, strerror(errno));
		goto out;
	}
	if ((r = entry_header(w, m->name, m->size, err)) < 0)
		goto out;
	crypto_hash_sha256_init(&st);
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
		crypto_hash_sha256_update(&st, m->buf, (size_t)k);
		copied += (uint64_t)k;
		if ((r = entry_data(w, m->buf, (size_t)k, err)) < 0)
			goto out;
	}
	if (copied != m->size) {
		r = pv_fail(err, PV_ERR, "bundle: %s changed while staged", m->name);
		goto out;
	}
	crypto_hash_sha256_final(&st, sha);
	r = record(w, m->name, sha, err);
out:
	member_free(mp);
	return r;
}

int bundle_writer_finish(struct bundle_writer **wp, const struct note_signer *s,
			 struct pv_error *err)
{
	struct bundle_writer *w = *wp;
	struct bundle_member *m = NULL;
	struct pv_buf note, text;
	char hex[65];
	int r;

	pv_buf_init(&note, PV_NOTE_MAX);
	pv_buf_init(&text, 1024);
	if ((r = bundle_member_begin(w, MANIFEST, &m, err)) < 0)
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
	if ((r = pv_buf_printf(&text, err, BUNDLE_MANIFEST_MAGIC "\nkind %s\nsha256 %s\n", w->kind,
			       hex)) < 0 ||
	    (r = note_sign((const char *)text.data, text.len, s, &note, err)) < 0 ||
	    (r = bundle_add(w, MANIFEST_NOTE, note.data, note.len, err)) < 0)
		goto out;
	if (archive_write_close(w->a) != ARCHIVE_OK) {
		r = la_fail(w->a, err, "close");
		goto out;
	}
	if (fsync(w->fd) != 0) {
		r = pv_fail(err, PV_ERR, "fsync %s: %s", w->tmp_path, strerror(errno));
		goto out;
	}
	/* link() refuses an existing name: never replace a bundle. */
	if (link(w->tmp_path, w->path) != 0) {
		r = pv_fail(err, PV_ERR, "%s: %s", w->path, strerror(errno));
		goto out;
	}
	r = pv_fsync_dir(w->dir, err);
out:
	member_free(&m);
	pv_buf_free(&note);
	pv_buf_free(&text);
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

/* --- reading: the source ----------------------------------------------------------- */

struct mrecord {
	char *name;
	uint8_t sha256[32];
	uint64_t line;
};

struct bundle {
	int fd;                /* -1 for memory */
	const uint8_t *mem;
	uint64_t size;
	struct bundle_file *files;
	size_t n_files, cap_files;
	uint64_t kept;
	char kind[BUNDLE_KIND_MAX + 1];
	bool has_kind;
	/* MANIFEST.sha256 as parsed during the first pass. */
	struct mrecord *man;
	size_t n_man, cap_man;
	char man_error[256];
};

/* Each reader has its own position, so several can read one descriptor. */
struct src {
	const struct bundle *b;
	int64_t pos;
	uint8_t buf[IO_CHUNK];
};

static la_ssize_t src_read(struct archive *a, void *ud, const void **buf)
{
	struct src *s = ud;
	const struct bundle *b = s->b;
	if (s->pos < 0 || (uint64_t)s->pos >= b->size)
		return 0;
	size_t n = b->size - (uint64_t)s->pos < IO_CHUNK ? (size_t)(b->size - (uint64_t)s->pos)
							 : IO_CHUNK;
	if (b->fd < 0) {
		*buf = b->mem + s->pos;
	} else {
		ssize_t k;
		do
			k = pread(b->fd, s->buf, n, s->pos);
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
	struct src *s = ud;
	int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? s->pos : (int64_t)s->b->size;
	(void)a;
	if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
		return ARCHIVE_FATAL;
	s->pos = base + off;
	return s->pos;
}

static la_int64_t src_skip(struct archive *a, void *ud, la_int64_t n)
{
	struct src *s = ud;
	(void)a;
	if (n < 0 || s->pos > INT64_MAX - n)
		return 0;
	if ((uint64_t)(s->pos + n) > s->b->size)
		n = (la_int64_t)(s->b->size - (uint64_t)s->pos);
	s->pos += n;
	return n;
}

static int reader_open(const struct bundle *b, struct archive **a_r, struct src **s_r,
		       struct pv_error *err)
{
	struct archive *a = archive_read_new();
	struct src *s = calloc(1, sizeof(*s));
	if (a == NULL || s == NULL) {
		if (a)
			archive_read_free(a);
		free(s);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	s->b = b;
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
		archive_read_free(a);
		free(s);
		return r;
	}
	*a_r = a;
	*s_r = s;
	return 0;
}

/* Next regular member: 1 with *e_r, 0 at the end. Directories are
 * skipped; links, devices and the like are refused. */
static int next_member(struct archive *a, struct archive_entry **e_r, struct pv_error *err)
{
	for (;;) {
		int rc = archive_read_next_header(a, e_r);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc < ARCHIVE_WARN)
			return pv_fail(err, PV_EINTEGRITY, "bundle is damaged or truncated: %s",
				       archive_error_string(a) ? archive_error_string(a) : "?");
		const char *name = archive_entry_pathname(*e_r);
		mode_t type = archive_entry_filetype(*e_r);
		if (name == NULL)
			return pv_fail(err, PV_EINTEGRITY, "bundle member without a usable name");
		if (type == AE_IFDIR)
			continue;
		if (type != AE_IFREG || archive_entry_hardlink(*e_r) != NULL)
			return pv_fail(err, PV_EINTEGRITY,
				       "bundle member '%.300s' is not a regular file (link or device)",
				       name);
		if (!bundle_name_valid(name, strlen(name)))
			return pv_fail(err, PV_EINTEGRITY, "bundle member name '%.300s' is not allowed",
				       name);
		return 1;
	}
}

/* --- reading: first pass ------------------------------------------------------------ */

static void man_error(struct bundle *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void man_error(struct bundle *b, const char *fmt, ...)
{
	va_list ap;
	if (b->man_error[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(b->man_error, sizeof(b->man_error), fmt, ap);
	va_end(ap);
}

static int man_line(struct bundle *b, const char *l, size_t n, uint64_t lineno,
		    struct pv_error *err)
{
	uint8_t sha[32];
	if (n < 68 || l[n - 1] != '\n' || l[64] != ' ' || l[65] != ' ') {
		man_error(b, MANIFEST " line %llu is malformed", (unsigned long long)lineno);
		return 0;
	}
	if (pv_unhex_lower(l, 64, sha, 32) != 0) {
		man_error(b, MANIFEST " line %llu: bad hash", (unsigned long long)lineno);
		return 0;
	}
	if (!bundle_name_valid(l + 66, n - 67)) {
		man_error(b, MANIFEST " line %llu: bad name", (unsigned long long)lineno);
		return 0;
	}
	if (b->n_man == b->cap_man) {
		size_t cap = b->cap_man ? 2 * b->cap_man : 64;
		struct mrecord *p;
		if (b->n_man >= PV_BUNDLE_FILES_MAX)
			return pv_fail(err, PV_EINTEGRITY, MANIFEST " lists more than %d names",
				       PV_BUNDLE_FILES_MAX);
		if ((p = realloc(b->man, cap * sizeof(*p))) == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		b->man = p;
		b->cap_man = cap;
	}
	struct mrecord *m = &b->man[b->n_man];
	if ((m->name = strndup(l + 66, n - 67)) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	memcpy(m->sha256, sha, 32);
	m->line = lineno;
	b->n_man++;
	return 0;
}

/* Splits MANIFEST.sha256 into lines as it streams past. */
struct man_state {
	char line[64 + 2 + PV_BUNDLE_PATH_MAX + 2];
	size_t len;
	uint64_t lineno;
	bool overflow;
};

static int man_feed(struct bundle *b, struct man_state *ms, const uint8_t *p, size_t n,
		    struct pv_error *err)
{
	int r;
	for (size_t i = 0; i < n; i++) {
		if (ms->len < sizeof(ms->line))
			ms->line[ms->len++] = (char)p[i];
		else
			ms->overflow = true;
		if (p[i] != '\n')
			continue;
		ms->lineno++;
		if (ms->overflow)
			man_error(b, MANIFEST " line %llu is too long", (unsigned long long)ms->lineno);
		else if ((r = man_line(b, ms->line, ms->len, ms->lineno, err)) < 0)
			return r;
		ms->len = 0;
		ms->overflow = false;
	}
	return 0;
}

static int add_file(struct bundle *b, const char *name, struct bundle_file **f_r,
		    struct pv_error *err)
{
	if (b->n_files == b->cap_files) {
		size_t cap = b->cap_files ? 2 * b->cap_files : 32;
		struct bundle_file *p;
		if (b->n_files >= PV_BUNDLE_FILES_MAX)
			return pv_fail(err, PV_EINTEGRITY, "bundle has more than %d members",
				       PV_BUNDLE_FILES_MAX);
		if ((p = realloc(b->files, cap * sizeof(*p))) == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		b->files = p;
		b->cap_files = cap;
	}
	struct bundle_file *f = &b->files[b->n_files];
	memset(f, 0, sizeof(*f));
	if ((f->name = strdup(name)) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	f->order = b->n_files++;
	*f_r = f;
	return 0;
}

static int cmp_file(const void *x, const void *y)
{
	return strcmp(((const struct bundle_file *)x)->name, ((const struct bundle_file *)y)->name);
}

static int cmp_man(const void *x, const void *y)
{
	return strcmp(((const struct mrecord *)x)->name, ((const struct mrecord *)y)->name);
}

static void parse_kind(struct bundle *b)
{
	const struct bundle_file *f = bundle_find(b, KIND_FILE);
	const size_t ml = sizeof(BUNDLE_MAGIC "\nkind ") - 1;
	if (f == NULL || f->data == NULL || f->size <= ml + 1 ||
	    memcmp(f->data, BUNDLE_MAGIC "\nkind ", ml) != 0 || f->data[f->size - 1] != '\n')
		return;
	const char *k = (const char *)f->data + ml;
	size_t n = f->size - ml - 1;
	if (!kind_valid(k, n))
		return;
	memcpy(b->kind, k, n);
	b->kind[n] = '\0';
	b->has_kind = true;
}

static int first_pass(struct bundle *b, struct pv_error *err)
{
	struct archive *a = NULL;
	struct src *s = NULL;
	struct archive_entry *e;
	struct man_state *ms = calloc(1, sizeof(*ms));
	uint8_t *chunk = malloc(IO_CHUNK);
	uint64_t total = 0;
	int r;

	if (ms == NULL || chunk == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	if ((r = reader_open(b, &a, &s, err)) < 0)
		goto out;
	while ((r = next_member(a, &e, err)) == 1) {
		struct bundle_file *f = NULL;
		crypto_hash_sha256_state st;
		bool is_man = strcmp(archive_entry_pathname(e), MANIFEST) == 0;
		/* The kind and the signed manifest note are always kept, whatever
		 * the budget the members before them used up: the checks need them. */
		bool must_keep = strcmp(archive_entry_pathname(e), KIND_FILE) == 0 ||
				 strcmp(archive_entry_pathname(e), MANIFEST_NOTE) == 0;
		size_t cap = 0;
		if ((r = add_file(b, archive_entry_pathname(e), &f, err)) < 0)
			goto out;
		crypto_hash_sha256_init(&st);
		for (;;) {
			la_ssize_t k = archive_read_data(a, chunk, IO_CHUNK);
			if (k < 0) {
				r = pv_fail(err, PV_EINTEGRITY, "bundle is damaged or truncated in %s: %s",
					    f->name, archive_error_string(a) ? archive_error_string(a) : "?");
				goto out;
			}
			if (k == 0)
				break;
			total += (uint64_t)k;
			if (total > PV_BUNDLE_BYTES_MAX) {
				r = pv_fail(err, PV_ELIMIT, "bundle holds more than %llu bytes",
					    (unsigned long long)PV_BUNDLE_BYTES_MAX);
				goto out;
			}
			crypto_hash_sha256_update(&st, chunk, (size_t)k);
			if (is_man && (r = man_feed(b, ms, chunk, (size_t)k, err)) < 0)
				goto out;
			uint64_t nsize = f->size + (uint64_t)k;
			if (nsize <= PV_BUNDLE_SMALL_MAX &&
			    (must_keep || b->kept + (uint64_t)k <= PV_BUNDLE_KEPT_MAX) &&
			    (f->size == 0 || f->data != NULL)) {
				if (nsize + 1 > cap) {
					size_t ncap = cap ? cap : 4096;
					while (ncap < nsize + 1)
						ncap *= 2;
					uint8_t *p = realloc(f->data, ncap);
					if (p == NULL) {
						r = pv_fail(err, PV_ERR, "out of memory");
						goto out;
					}
					f->data = p;
					cap = ncap;
				}
				memcpy(f->data + f->size, chunk, (size_t)k);
				f->data[nsize] = '\0';
				b->kept += (uint64_t)k;
			} else if (f->data != NULL) {
				b->kept -= f->size;
				free(f->data);
				f->data = NULL;
			}
			f->size = nsize;
		}
		if (f->size == 0 && f->data == NULL && (f->data = calloc(1, 1)) == NULL) {
			r = pv_fail(err, PV_ERR, "out of memory");
			goto out;
		}
		crypto_hash_sha256_final(&st, f->sha256);
		if (is_man && ms->len > 0)
			man_error(b, MANIFEST " does not end in a newline");
	}
	if (r < 0)
		goto out;
	if (b->n_files > 1)
		qsort(b->files, b->n_files, sizeof(*b->files), cmp_file);
	for (size_t i = 1; i < b->n_files; i++)
		if (strcmp(b->files[i - 1].name, b->files[i].name) == 0) {
			r = pv_fail(err, PV_EINTEGRITY, "bundle member %s appears twice",
				    b->files[i].name);
			goto out;
		}
	parse_kind(b);
out:
	if (a != NULL)
		archive_read_free(a);
	free(s);
	free(ms);
	free(chunk);
	return r;
}

static int open_common(struct bundle *b, struct bundle **b_r, struct pv_error *err)
{
	int r = first_pass(b, err);
	if (r < 0) {
		bundle_free(&b);
		return r;
	}
	*b_r = b;
	return 0;
}

int bundle_open_file(const char *path, struct bundle **b_r, struct pv_error *err)
{
	struct bundle *b = calloc(1, sizeof(*b));
	struct stat st;
	*b_r = NULL;
	if (b == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if ((b->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		int e = errno;
		free(b);
		return pv_fail(err, PV_ERR, "%s: %s", path, strerror(e));
	}
	if (fstat(b->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(b->fd);
		free(b);
		return pv_fail(err, PV_ERR, "%s: not a regular file", path);
	}
	b->size = (uint64_t)st.st_size;
	return open_common(b, b_r, err);
}

int bundle_open_memory(const void *data, size_t len, struct bundle **b_r, struct pv_error *err)
{
	struct bundle *b = calloc(1, sizeof(*b));
	*b_r = NULL;
	if (b == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	b->fd = -1;
	b->mem = data;
	b->size = len;
	return open_common(b, b_r, err);
}

void bundle_free(struct bundle **bp)
{
	struct bundle *b = *bp;
	if (b == NULL)
		return;
	if (b->fd >= 0)
		close(b->fd);
	for (size_t i = 0; i < b->n_files; i++) {
		free(b->files[i].name);
		free(b->files[i].data);
	}
	for (size_t i = 0; i < b->n_man; i++)
		free(b->man[i].name);
	free(b->files);
	free(b->man);
	free(b);
	*bp = NULL;
}

const char *bundle_kind(const struct bundle *b)
{
	return b->has_kind ? b->kind : NULL;
}

size_t bundle_count(const struct bundle *b)
{
	return b->n_files;
}

const struct bundle_file *bundle_file_at(const struct bundle *b, size_t i)
{
	return i < b->n_files ? &b->files[i] : NULL;
}

const struct bundle_file *bundle_find(const struct bundle *b, const char *name)
{
	struct bundle_file key = {.name = (char *)name};
	if (b->n_files == 0)
		return NULL;
	return bsearch(&key, b->files, b->n_files, sizeof(*b->files), cmp_file);
}

/* --- the manifest -------------------------------------------------------------------- */

static int check_manifest_note(struct bundle *b, const struct note_verifier *vs, size_t nv,
			       const char *signer_name, struct bundle_report *rep)
{
	const struct bundle_file *nf = bundle_find(b, MANIFEST_NOTE), *mf = bundle_find(b, MANIFEST);
	struct note_verifier *ok = calloc(nv ? nv : 1, sizeof(*ok));
	struct pv_error e;
	size_t n_ok = 0, text_len;
	char want[256], hex[65];
	int r = 0;

	if (ok == NULL) {
		bundle_problem(rep, "out of memory");
		return PV_ERR;
	}
	for (size_t i = 0; i < nv; i++)
		if (signer_name == NULL || strcmp(vs[i].name, signer_name) == 0)
			ok[n_ok++] = vs[i];
	if (nf == NULL || nf->data == NULL) {
		bundle_problem(rep, MANIFEST_NOTE " is missing");
		r = PV_EINTEGRITY;
	} else if (note_open((const char *)nf->data, nf->size, ok, n_ok, &text_len, NULL, &e) != 0) {
		bundle_problem(rep, MANIFEST_NOTE " is not signed by a trusted key%s%s (%s)",
			       signer_name ? " of " : "", signer_name ? signer_name : "", e.msg);
		r = PV_EINTEGRITY;
	} else {
		pv_hex(mf ? mf->sha256 : (const uint8_t *)"", mf ? 32 : 0, hex);
		snprintf(want, sizeof(want), BUNDLE_MANIFEST_MAGIC "\nkind %s\nsha256 %s\n",
			 b->has_kind ? b->kind : "?", mf ? hex : "");
		if (text_len != strlen(want) || memcmp(nf->data, want, text_len) != 0) {
			const char *k = strstr((const char *)nf->data, "\nkind ");
			if (k == NULL || strncmp(k + 6, b->kind, strlen(b->kind)) != 0 ||
			    k[6 + strlen(b->kind)] != '\n')
				bundle_problem(rep, MANIFEST_NOTE " does not name this bundle's kind (%s)",
					       b->has_kind ? b->kind : "BUNDLE member missing");
			else
				bundle_problem(rep, MANIFEST_NOTE " does not match " MANIFEST
						    " (its SHA-256 differs: the manifest was changed)");
			r = PV_EINTEGRITY;
		} else {
			bundle_info(rep, "ok: " MANIFEST_NOTE " signed by %s", ok[0].name);
		}
	}
	free(ok);
	return r;
}

int bundle_check_manifest(struct bundle *b, const struct note_verifier *vs, size_t nv,
			  const char *signer_name, struct bundle_report *rep)
{
	uint64_t before = rep->problems;
	size_t i = 0, j = 0, checked = 0;

	if (!b->has_kind)
		bundle_problem(rep, KIND_FILE " member is missing or malformed");
	if (bundle_find(b, MANIFEST) == NULL) {
		bundle_problem(rep, MANIFEST " is missing");
		(void)check_manifest_note(b, vs, nv, signer_name, rep);
		return PV_EINTEGRITY;
	}
	if (b->man_error[0] != '\0')
		bundle_problem(rep, "%s", b->man_error);
	(void)check_manifest_note(b, vs, nv, signer_name, rep);
	if (b->n_man > 1)
		qsort(b->man, b->n_man, sizeof(*b->man), cmp_man);
	for (size_t k = 1; k < b->n_man; k++)
		if (strcmp(b->man[k - 1].name, b->man[k].name) == 0)
			bundle_problem(rep, MANIFEST " lists %s twice", b->man[k].name);
	/* Merge the two sorted lists. */
	while (i < b->n_files || j < b->n_man) {
		const struct bundle_file *f = i < b->n_files ? &b->files[i] : NULL;
		const struct mrecord *m = j < b->n_man ? &b->man[j] : NULL;
		int c = f == NULL ? 1 : m == NULL ? -1 : strcmp(f->name, m->name);
		if (f != NULL && c <= 0 &&
		    (strcmp(f->name, MANIFEST) == 0 || strcmp(f->name, MANIFEST_NOTE) == 0)) {
			if (c == 0) {
				bundle_problem(rep, MANIFEST " lists %s", m->name);
				j++;
			}
			i++;
			continue;
		}
		if (c < 0) {
			bundle_problem(rep, "%s is in the bundle but not in " MANIFEST " (added?)",
				       f->name);
			i++;
		} else if (c > 0) {
			bundle_problem(rep, "%s is listed in " MANIFEST " but missing from the bundle "
					    "(removed?)", m->name);
			j++;
		} else {
			if (sodium_memcmp(f->sha256, m->sha256, 32) != 0)
				bundle_problem(rep, "%s: its SHA-256 differs from " MANIFEST
						    " line %llu (changed?)",
					       f->name, (unsigned long long)m->line);
			else
				checked++;
			i++;
			j++;
		}
	}
	if (rep->problems == before)
		bundle_info(rep, "ok: " MANIFEST " matches all %zu other members", checked);
	return rep->problems == before ? 0 : PV_EINTEGRITY;
}

/* --- reading: later passes ---------------------------------------------------------- */

struct bundle_stream {
	struct archive *a;
	struct src *s;
	bool borrowed; /* a and s belong to bundle_each */
	const struct bundle_file *f;
	crypto_hash_sha256_state st;
	uint64_t size;
	bool done;
	uint8_t buf[IO_CHUNK];
	size_t pos, len;
};

int bundle_stream_open(struct bundle *b, const char *name, struct bundle_stream **s_r,
		       struct pv_error *err)
{
	struct bundle_stream *s;
	struct archive_entry *e;
	int r;

	*s_r = NULL;
	const struct bundle_file *f = bundle_find(b, name);
	if (f == NULL)
		return pv_fail(err, PV_ENOTFOUND, "bundle has no member %s", name);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	s->f = f;
	crypto_hash_sha256_init(&s->st);
	if ((r = reader_open(b, &s->a, &s->s, err)) < 0) {
		free(s);
		return r;
	}
	while ((r = next_member(s->a, &e, err)) == 1)
		if (strcmp(archive_entry_pathname(e), name) == 0)
			break;
	if (r <= 0) {
		if (r == 0)
			r = pv_fail(err, PV_EINTEGRITY, "bundle member %s vanished on a second read",
				    name);
		bundle_stream_close(&s);
		return r;
	}
	*s_r = s;
	return 0;
}

static int stream_fill(struct bundle_stream *s, struct pv_error *err)
{
	uint8_t sha[32];
	if (s->done)
		return 0;
	la_ssize_t k = archive_read_data(s->a, s->buf, sizeof(s->buf));
	if (k < 0)
		return pv_fail(err, PV_EINTEGRITY, "bundle is damaged or truncated in %s: %s",
			       s->f->name, archive_error_string(s->a) ? archive_error_string(s->a) : "?");
	if (k == 0) {
		s->done = true;
		crypto_hash_sha256_final(&s->st, sha);
		if (s->size != s->f->size || sodium_memcmp(sha, s->f->sha256, 32) != 0)
			return pv_fail(err, PV_EINTEGRITY, "bundle member %s changed between reads",
				       s->f->name);
		return 0;
	}
	crypto_hash_sha256_update(&s->st, s->buf, (size_t)k);
	s->size += (uint64_t)k;
	s->pos = 0;
	s->len = (size_t)k;
	return 1;
}

int bundle_stream_read(struct bundle_stream *s, void *buf, size_t n, size_t *got_r,
		       struct pv_error *err)
{
	uint8_t *p = buf;
	size_t got = 0;
	int r;
	while (got < n) {
		if (s->pos == s->len) {
			if ((r = stream_fill(s, err)) < 0)
				return r;
			if (r == 0)
				break;
		}
		size_t k = s->len - s->pos < n - got ? s->len - s->pos : n - got;
		memcpy(p + got, s->buf + s->pos, k);
		s->pos += k;
		got += k;
	}
	*got_r = got;
	return 0;
}

int bundle_stream_exact(struct bundle_stream *s, void *buf, size_t n, struct pv_error *err)
{
	size_t got;
	int r = bundle_stream_read(s, buf, n, &got, err);
	if (r < 0)
		return r;
	if (got == n)
		return 1;
	if (got == 0)
		return 0;
	return pv_fail(err, PV_EINTEGRITY, "%s ends in the middle of a record", s->f->name);
}

int bundle_stream_line(struct bundle_stream *s, struct pv_buf *line, struct pv_error *err)
{
	int r;
	pv_buf_reset(line);
	for (;;) {
		if (s->pos == s->len) {
			if ((r = stream_fill(s, err)) < 0)
				return r;
			if (r == 0)
				return line->len > 0;
		}
		const uint8_t *nl = memchr(s->buf + s->pos, '\n', s->len - s->pos);
		size_t k = nl ? (size_t)(nl - (s->buf + s->pos)) + 1 : s->len - s->pos;
		if ((r = pv_buf_append(line, s->buf + s->pos, k, err)) < 0)
			return r == PV_ELIMIT ? pv_fail(err, PV_ELIMIT, "%s: a line is too long",
							s->f->name)
					      : r;
		s->pos += k;
		if (nl != NULL)
			return 1;
	}
}

void bundle_stream_close(struct bundle_stream **sp)
{
	struct bundle_stream *s = *sp;
	if (s == NULL)
		return;
	if (!s->borrowed) {
		if (s->a != NULL)
			archive_read_free(s->a);
		free(s->s);
	}
	free(s);
	*sp = NULL;
}

int bundle_each(struct bundle *b, bundle_each_fn fn, void *ctx, struct pv_error *err)
{
	struct archive *a = NULL;
	struct src *src = NULL;
	struct archive_entry *e;
	struct bundle_stream *s = NULL;
	int r;
	if ((r = reader_open(b, &a, &src, err)) < 0)
		return r;
	while ((r = next_member(a, &e, err)) == 1) {
		const struct bundle_file *f = bundle_find(b, archive_entry_pathname(e));
		if (f == NULL) {
			r = pv_fail(err, PV_EINTEGRITY, "bundle member %s appeared on a second read",
				    archive_entry_pathname(e));
			break;
		}
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			r = pv_fail(err, PV_ERR, "out of memory");
			break;
		}
		s->a = a;
		s->s = src;
		s->borrowed = true;
		s->f = f;
		crypto_hash_sha256_init(&s->st);
		if ((r = fn(ctx, f, s)) != 0)
			break;
		/* Drain what fn left: the hash covers the whole member. */
		while ((r = stream_fill(s, err)) == 1)
			s->pos = s->len;
		if (r < 0)
			break;
		bundle_stream_close(&s);
	}
	bundle_stream_close(&s);
	archive_read_free(a);
	free(src);
	return r;
}
