/* Files, manifest, key container and SQLite copies for backup.c. */
#include "archiver/archive/backup_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/lib/fsutil.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/number.h"
#include "archiver/lib/pagecache.h"
#include "archiver/lib/random.h"
#include "archiver/lib/sha256.h"

#define IO_CHUNK (256 * 1024)

/* ---- files ---- */

int backup_path(char *out, size_t n, struct pv_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(out, n, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= n)
		return pv_fail(err, PV_ERR, "path too long: %s...", out);
	return PV_OK;
}

/* path opened to read: a regular file, no symlink followed (either is
 * PV_EINTEGRITY); its size to *size_r. */
static int open_regular(const char *path, int *fd_r, uint64_t *size_r, struct pv_error *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return pv_fail(err, errno == ENOENT ? PV_ENOTFOUND : errno == ELOOP ? PV_EINTEGRITY
										     : PV_ERR,
			       "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return pv_fail(err, PV_EINTEGRITY, "%s: not a regular file", path);
	}
	*fd_r = fd;
	*size_r = (uint64_t)st.st_size;
	return PV_OK;
}

int backup_file_hash(const char *path, unsigned char sha256_r[32], uint64_t *size_r,
		     struct pv_error *err)
{
	struct pv_sha256 h;
	uint64_t total = 0, size;
	int fd, r = open_regular(path, &fd, &size, err);
	if (r < 0)
		return r;
	unsigned char *buf = malloc(IO_CHUNK);
	r = buf ? pv_sha256_init(&h, err) : pv_fail(err, PV_ERR, "out of memory");
	if (r < 0) {
		free(buf);
		close(fd);
		return r;
	}
	for (;;) {
		ssize_t n = read(fd, buf, IO_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = pv_fail(err, PV_ERR, "read %s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		pv_sha256_update(&h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (r == PV_OK) {
		pv_sha256_final(&h, sha256_r);
		*size_r = total;
	} else {
		pv_sha256_abort(&h);
	}
	free(buf);
	close(fd);
	return r;
}

/* src opened to read (open_regular; its size to *size_r), dst created
 * (0600, must not exist); PV_OK or the error, nothing open. */
static int open_pair(const char *src, const char *dst, int *in_r, int *out_r, uint64_t *size_r,
		     struct pv_error *err)
{
	int in, r = open_regular(src, &in, size_r, err);
	if (r < 0)
		return r;
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		int e = errno;
		close(in);
		return pv_fail(err, PV_ERR, "create %s: %s", dst, strerror(e));
	}
	*in_r = in;
	*out_r = out;
	return PV_OK;
}

/* Copies in to out from the start: len bytes exactly (a shorter file is
 * PV_EINTEGRITY), or to the end with len UINT64_MAX; their SHA-256 and
 * number to sha256_r and *size_r. Each byte is read and written once,
 * hashed on the way, and leaves the page cache behind the copy on both
 * sides (lib/pagecache.h: gigabytes of packs would push the live catalog
 * and index out of memory). Closes both; dst is removed on an error. */
static int copy_hashed(int in, int out, uint64_t len, const char *src, const char *dst,
		       unsigned char sha256_r[32], uint64_t *size_r, struct pv_error *err)
{
	struct pv_sha256 h;
	struct pv_writebehind wb;
	unsigned char *buf = malloc(IO_CHUNK);
	int r = buf ? pv_sha256_init(&h, err) : pv_fail(err, PV_ERR, "out of memory");
	bool hashing = r == PV_OK;
	uint64_t pos = 0;
	pv_writebehind_init(&wb, out);
	while (r == PV_OK && pos < len) {
		size_t want = len - pos > IO_CHUNK ? IO_CHUNK : (size_t)(len - pos);
		ssize_t n = pread(in, buf, want, (off_t)pos);
		int e;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = pv_fail(err, PV_ERR, "read %s: %s", src, strerror(errno));
		else if (n == 0 && len == UINT64_MAX)
			break;
		else if (n == 0)
			r = pv_fail(err, PV_EINTEGRITY, "%s: cut short while it was copied (%llu of "
							"%llu bytes)", src, (unsigned long long)pos,
				    (unsigned long long)len);
		else if (pv_write_all(out, buf, (size_t)n) < 0)
			r = pv_fail(err, PV_ERR, "write %s: %s", dst, strerror(errno));
		else if ((e = pv_writebehind_wrote(&wb, (size_t)n)) != 0)
			r = pv_fail(err, PV_ERR, "write %s: %s", dst, strerror(e));
		if (r == PV_OK) {
			pv_sha256_update(&h, buf, (size_t)n);
			pv_read_forget(in, pos, (uint64_t)n);
			pos += (uint64_t)n;
		}
	}
	if (r == PV_OK) {
		pv_sha256_final(&h, sha256_r);
		*size_r = pos;
	} else if (hashing) {
		pv_sha256_abort(&h);
	}
	free(buf);
	close(in);
	if (close(out) < 0 && r == PV_OK)
		r = pv_fail(err, PV_ERR, "close %s: %s", dst, strerror(errno));
	if (r < 0)
		unlink(dst);
	return r;
}

int backup_copy_file(const char *src, const char *dst, unsigned char sha256_r[32],
		     uint64_t *size_r, struct pv_error *err)
{
	uint64_t size;
	int in = -1, out = -1, r = open_pair(src, dst, &in, &out, &size, err);
	return r < 0 ? r : copy_hashed(in, out, UINT64_MAX, src, dst, sha256_r, size_r, err);
}

int backup_copy_prefix(const char *src, const char *dst, uint64_t len, unsigned char sha256_r[32],
		       struct pv_error *err)
{
	uint64_t size;
	int in = -1, out = -1, r = open_pair(src, dst, &in, &out, &size, err);
	if (r < 0)
		return r;
	if (size < len) {
		close(in);
		close(out);
		unlink(dst);
		return pv_fail(err, PV_EINTEGRITY, "%s is %llu bytes, shorter than its committed "
						   "records (%llu)", src, (unsigned long long)size,
			       (unsigned long long)len);
	}
	/* Only the first len bytes: what follows is being appended by a
	 * harvest, or an interrupted one's tail, and is not in the snapshot. */
	return copy_hashed(in, out, len, src, dst, sha256_r, &size, err);
}

int backup_link_or_copy(const char *src, const char *dst, bool *linked_r,
			unsigned char sha256_r[32], uint64_t *size_r, struct pv_error *err)
{
	*linked_r = false;
	if (link(src, dst) == 0) {
		*linked_r = true;
		return PV_OK;
	}
	if (errno == ENOENT)
		return pv_fail(err, PV_ENOTFOUND, "%s: %s", src, strerror(errno));
	/* Another file system, or one without hard links (EXDEV, EPERM,
	 * EMLINK): copy. */
	return backup_copy_file(src, dst, sha256_r, size_r, err);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int backup_syncfs(const char *dir, struct pv_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return pv_fail(err, PV_ERR, "syncfs %s: %s", dir, strerror(e));
	}
	close(fd);
	return PV_OK;
}

int backup_rmtree(const char *path, struct pv_error *err)
{
	struct stat st;
	if (lstat(path, &st) < 0 && errno == ENOENT)
		return PV_OK;
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		return pv_fail(err, PV_ERR, "cannot remove %s: %s", path, strerror(errno));
	return PV_OK;
}

int backup_dir_unused(const char *dir, struct pv_error *err)
{
	struct stat st;
	if (lstat(dir, &st) < 0)
		return errno == ENOENT ? 1 : pv_fail(err, PV_ERR, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return pv_fail(err, PV_ERR, "%s exists and is not a directory", dir);
	DIR *d = opendir(dir);
	if (d == NULL)
		return pv_fail(err, PV_ERR, "%s: %s", dir, strerror(errno));
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			r = pv_fail(err, PV_ERR, "%s is not empty", dir);
			break;
		}
	closedir(d);
	return r;
}

/* ---- the manifest ---- */

void backup_manifest_init(struct backup_manifest *m)
{
	memset(m, 0, sizeof(*m));
}

void backup_manifest_free(struct backup_manifest *m)
{
	free(m->files);
	backup_manifest_init(m);
}

static int manifest_push(struct backup_manifest *m, struct backup_file **f_r, struct pv_error *err)
{
	if (m->n == PV_BACKUP_FILES_MAX)
		return pv_fail(err, PV_ELIMIT, "more than %d files in a backup", PV_BACKUP_FILES_MAX);
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		struct backup_file *f = realloc(m->files, cap * sizeof(*f));
		if (f == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		m->files = f;
		m->cap = cap;
	}
	*f_r = &m->files[m->n++];
	memset(*f_r, 0, sizeof(**f_r));
	return PV_OK;
}

int backup_manifest_add(struct backup_manifest *m, const char *dir, const char *path,
			struct pv_error *err)
{
	unsigned char sha256[32];
	uint64_t size;
	char full[4096];
	int r;
	if ((r = backup_path(full, sizeof(full), err, "%s/%s", dir, path)) < 0 ||
	    (r = backup_file_hash(full, sha256, &size, err)) < 0)
		return r;
	return backup_manifest_add_hashed(m, path, sha256, size, err);
}

int backup_manifest_add_hashed(struct backup_manifest *m, const char *path,
			       const unsigned char sha256[32], uint64_t size, struct pv_error *err)
{
	struct backup_file *f;
	int r;
	if (strlen(path) >= sizeof(f->path))
		return pv_fail(err, PV_ERR, "backup: path too long: %s", path);
	if ((r = manifest_push(m, &f, err)) < 0)
		return r;
	snprintf(f->path, sizeof(f->path), "%s", path);
	memcpy(f->sha256, sha256, sizeof(f->sha256));
	f->size = size;
	return PV_OK;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct backup_file *)a)->path, ((const struct backup_file *)b)->path);
}

int backup_manifest_write(struct backup_manifest *m, const char *dir, char hex_r[65],
			  struct pv_error *err)
{
	struct pv_buf text;
	char path[4096], hex[65];
	unsigned char sum[32];
	int r;

	qsort(m->files, m->n, sizeof(m->files[0]), by_path);
	pv_buf_init(&text, (size_t)PV_BACKUP_FILES_MAX * PV_BACKUP_MANIFEST_LINE_MAX);
	r = pv_buf_printf(&text, err, "popvault-backup 1\ncreated %s\norigin %s\nschema %d\nkeys %s\n",
			  m->created, m->origin, m->schema, m->keys ? "yes" : "no");
	for (size_t i = 0; r == PV_OK && i < m->n; i++) {
		pv_hex(m->files[i].sha256, 32, hex);
		r = pv_buf_printf(&text, err, "file %s %llu %s\n", hex,
				  (unsigned long long)m->files[i].size, m->files[i].path);
	}
	if (r == PV_OK)
		r = backup_path(path, sizeof(path), err, "%s/%s", dir, BACKUP_MANIFEST);
	if (r == PV_OK)
		r = pv_write_file(path, text.data, text.len, 0600, 1, err);
	if (r == PV_OK) {
		crypto_hash_sha256(sum, text.data, text.len);
		pv_hex(sum, 32, hex_r);
	}
	pv_buf_free(&text);
	return r;
}

bool backup_pack_path_id(const char *p, int64_t *id_r)
{
	/* packs/<id>.pack exactly as pack_path names it: "%08lld", id > 0. */
	const char *d = p + 6;
	size_t n = 0;
	int64_t id = 0;
	char canon[64];
	if (strncmp(p, "packs/", 6) != 0)
		return false;
	while (d[n] >= '0' && d[n] <= '9')
		n++;
	if (n < 8 || n > 18 || strcmp(d + n, ".pack") != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		id = id * 10 + (d[i] - '0');
	snprintf(canon, sizeof(canon), "packs/%08lld.pack", (long long)id);
	if (id <= 0 || strcmp(canon, p) != 0)
		return false;
	if (id_r != NULL)
		*id_r = id;
	return true;
}

/* The names a backup has (backup.h): nothing else is ever read or written
 * by a restore, so a forged manifest cannot reach outside the directory. */
static bool known_path(const char *p)
{
	static const char *const top[] = {"catalog.db", "popvault.conf", "checkpoint-archive",
					   "checkpoint-audit", BACKUP_KEYS};
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		if (strcmp(p, top[i]) == 0)
			return true;
	if (backup_pack_path_id(p, NULL))
		return true;
	/* blobs/XX/ID: ID 64 lower-case hex starting with XX */
	if (strlen(p) != 6 + 3 + 64 || strncmp(p, "blobs/", 6) != 0 || p[8] != '/' ||
	    strncmp(p + 6, p + 9, 2) != 0)
		return false;
	for (const char *c = p + 9; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return false;
	return true;
}

static int header_line(const char *line, const char *key, const char **value_r)
{
	size_t n = strlen(key);
	if (strncmp(line, key, n) != 0 || line[n] != ' ' || line[n + 1] == '\0')
		return -1;
	*value_r = line + n + 1;
	return 0;
}

static int parse_file_line(const char *line, struct backup_file *f)
{
	const char *p = line + 5, *sp;
	if (strncmp(line, "file ", 5) != 0 || strlen(p) < 64 + 3 || p[64] != ' ' ||
	    pv_unhex_lower(p, 64, f->sha256, 32) < 0)
		return -1;
	p += 65;
	if ((sp = strchr(p, ' ')) == NULL ||
	    pv_parse_u64(p, (size_t)(sp - p), 0, UINT64_MAX, PV_NUM_CANONICAL, &f->size) < 0)
		return -1;
	p = sp + 1;
	if (!known_path(p) || strlen(p) >= sizeof(f->path))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s", p);
	return 0;
}

int backup_manifest_read(const char *dir, struct backup_manifest *m, char hex_r[65],
			 struct pv_error *err)
{
	char path[4096], line[PV_BACKUP_MANIFEST_LINE_MAX + 2];
	unsigned char sum[32];
	crypto_hash_sha256_state h;
	unsigned lineno = 0;
	int r = PV_OK;

	backup_manifest_init(m);
	if (backup_path(path, sizeof(path), err, "%s/%s", dir, BACKUP_MANIFEST) < 0)
		return PV_ERR;
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return pv_fail(err, errno == ENOENT ? PV_ENOTFOUND : PV_ERR,
			       "%s: %s (not a finished popvault backup)", path, strerror(errno));
	crypto_hash_sha256_init(&h);
	while (r == PV_OK && fgets(line, sizeof(line), f) != NULL) {
		size_t n = strlen(line);
		const char *v;
		crypto_hash_sha256_update(&h, (const unsigned char *)line, n);
		lineno++;
		if (n == 0 || line[n - 1] != '\n' || memchr(line, '\0', n) != NULL) {
			r = -1;
			break;
		}
		line[n - 1] = '\0';
		if (lineno == 1)
			r = strcmp(line, "popvault-backup 1") == 0 ? 0 : -1;
		else if (lineno == 2)
			r = header_line(line, "created", &v) == 0 && strlen(v) < sizeof(m->created)
				    ? (snprintf(m->created, sizeof(m->created), "%s", v), 0)
				    : -1;
		else if (lineno == 3)
			r = header_line(line, "origin", &v) == 0 && strlen(v) < sizeof(m->origin)
				    ? (snprintf(m->origin, sizeof(m->origin), "%s", v), 0)
				    : -1;
		else if (lineno == 4)
			r = header_line(line, "schema", &v) == 0 &&
					    pv_parse_int(v, strlen(v), 1, 1000000, PV_NUM_CANONICAL,
							 &m->schema) == 0
				    ? 0
				    : -1;
		else if (lineno == 5)
			r = strcmp(line, "keys yes") == 0   ? (m->keys = true, 0)
			    : strcmp(line, "keys no") == 0 ? 0
							   : -1;
		else {
			struct backup_file *bf;
			if ((r = manifest_push(m, &bf, err)) < 0)
				break;
			r = parse_file_line(line, bf);
			if (r == 0 && m->n > 1 && strcmp(m->files[m->n - 2].path, bf->path) >= 0)
				r = -1; /* sorted, each once */
		}
	}
	if (r == PV_OK && ferror(f))
		r = pv_fail(err, PV_ERR, "read %s: %s", path, strerror(errno));
	else if (r == PV_OK && lineno < 5)
		r = -1;
	fclose(f);
	if (r == -1)
		r = pv_fail(err, PV_EINTEGRITY, "%s line %u: not a popvault backup manifest line",
			    path, lineno);
	if (r < 0) {
		backup_manifest_free(m);
		return r;
	}
	crypto_hash_sha256_final(&h, sum);
	pv_hex(sum, 32, hex_r);
	return PV_OK;
}

static const struct backup_file *manifest_find(const struct backup_manifest *m, const char *path)
{
	struct backup_file key;
	if (strlen(path) >= sizeof(key.path))
		return NULL;
	memcpy(key.path, path, strlen(path) + 1);
	return bsearch(&key, m->files, m->n, sizeof(m->files[0]), by_path);
}

/* Every entry of dir/rel (recursively) is in the manifest. */
static int no_other_files(const struct backup_manifest *m, const char *dir, const char *rel,
			  struct pv_error *err)
{
	char full[4096], sub[128];
	int r;
	if ((r = backup_path(full, sizeof(full), err, "%s%s%s", dir, rel[0] ? "/" : "", rel)) < 0)
		return r;
	DIR *d = opendir(full);
	if (d == NULL)
		return pv_fail(err, PV_ERR, "%s: %s", full, strerror(errno));
	struct dirent *e;
	while (r == PV_OK && (e = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    (rel[0] == '\0' && strcmp(e->d_name, BACKUP_MANIFEST) == 0))
			continue;
		if (backup_path(sub, sizeof(sub), NULL, "%s%s%s", rel, rel[0] ? "/" : "",
				e->d_name) < 0) {
			r = pv_fail(err, PV_EINTEGRITY, "backup: %s/%s is not in the manifest", rel,
				    e->d_name);
			break;
		}
		if ((r = backup_path(full, sizeof(full), err, "%s/%s", dir, sub)) < 0)
			break;
		if (lstat(full, &st) < 0)
			r = pv_fail(err, PV_ERR, "%s: %s", full, strerror(errno));
		else if (S_ISDIR(st.st_mode) && (strcmp(sub, "blobs") == 0 || strcmp(sub, "packs") == 0 ||
						 (strncmp(sub, "blobs/", 6) == 0 && strlen(sub) == 8)))
			r = no_other_files(m, dir, sub, err);
		else if (!S_ISREG(st.st_mode) || manifest_find(m, sub) == NULL)
			r = pv_fail(err, PV_EINTEGRITY, "backup: %s is not in the manifest", sub);
	}
	closedir(d);
	return r;
}

int backup_file_matches(const struct backup_file *f, const unsigned char sha256[32],
			uint64_t size, struct pv_error *err)
{
	if (size != f->size || sodium_memcmp(sha256, f->sha256, 32) != 0)
		return pv_fail(err, PV_EINTEGRITY,
			       "backup: %s differs from the manifest (%llu bytes, %llu listed)",
			       f->path, (unsigned long long)size, (unsigned long long)f->size);
	return PV_OK;
}

int backup_manifest_check(const struct backup_manifest *m, const char *dir,
			  bool (*checked_later)(const char *path), struct pv_error *err)
{
	char full[4096];
	unsigned char sum[32];
	struct stat st;
	uint64_t size = 0;
	int r;
	for (size_t i = 0; i < m->n; i++) {
		const struct backup_file *f = &m->files[i];
		if ((r = backup_path(full, sizeof(full), err, "%s/%s", dir, f->path)) < 0)
			return r;
		if (checked_later != NULL && checked_later(f->path)) {
			if (lstat(full, &st) < 0 && errno == ENOENT)
				return pv_fail(err, PV_EINTEGRITY, "backup: %s is missing", f->path);
			continue;
		}
		if ((r = backup_file_hash(full, sum, &size, err)) == PV_ENOTFOUND)
			return pv_fail(err, PV_EINTEGRITY, "backup: %s is missing", f->path);
		if (r < 0 || (r = backup_file_matches(f, sum, size, err)) < 0)
			return r;
	}
	return no_other_files(m, dir, "", err);
}

/* ---- keys.enc ---- */

#define KEYS_MAGIC "PVKEYS1\n"
#define KEYS_AD_LEN (8 + crypto_pwhash_SALTBYTES + 8 + 8)
#define KEYS_HEAD_LEN (KEYS_AD_LEN + crypto_secretstream_xchacha20poly1305_HEADERBYTES)

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static bool key_name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= sizeof(((struct backup_key_file *)0)->name) || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

void backup_key_files_free(struct backup_key_files *k)
{
	for (size_t i = 0; i < k->n; i++) {
		sodium_memzero(k->f[i].data, k->f[i].len);
		free(k->f[i].data);
	}
	memset(k, 0, sizeof(*k));
}

int backup_key_files_add(struct backup_key_files *k, const char *name, const void *data,
			 size_t len, struct pv_error *err)
{
	if (k->n == PV_BACKUP_KEY_FILES_MAX)
		return pv_fail(err, PV_ELIMIT, "more than %d key files", PV_BACKUP_KEY_FILES_MAX);
	if (!key_name_ok(name, strlen(name)))
		return pv_fail(err, PV_ERR, "key file name '%s' not allowed", name);
	if (len > PV_BACKUP_KEY_FILE_MAX)
		return pv_fail(err, PV_ELIMIT, "key file %s: %zu bytes (at most %d)", name, len,
			       PV_BACKUP_KEY_FILE_MAX);
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->f[i].name, name) == 0)
			return pv_fail(err, PV_ERR, "key file %s twice", name);
	struct backup_key_file *f = &k->f[k->n];
	if ((f->data = malloc(len ? len : 1)) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	memcpy(f->data, data, len);
	f->len = len;
	snprintf(f->name, sizeof(f->name), "%s", name);
	k->n++;
	return PV_OK;
}

static int derive(unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES],
		  const char *pass, size_t pass_len, const unsigned char *salt, uint64_t ops,
		  size_t mem, struct pv_error *err)
{
	if (crypto_pwhash(key, crypto_secretstream_xchacha20poly1305_KEYBYTES, pass, pass_len, salt,
			  ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return pv_fail(err, PV_ERR, "Argon2id: out of memory (%zu bytes asked)", mem);
	return PV_OK;
}

int backup_keys_seal(const struct backup_key_files *k, const char *passphrase, size_t pass_len,
		     const struct backup_kdf *kdf, struct pv_buf *out, struct pv_error *err)
{
	unsigned char head[KEYS_HEAD_LEN], key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	crypto_secretstream_xchacha20poly1305_state st;
	struct pv_buf plain;
	int r;

	if (k->n == 0)
		return pv_fail(err, PV_ERR, "no key files to seal");
	memcpy(head, KEYS_MAGIC, 8);
	pv_random_bytes(head + 8, crypto_pwhash_SALTBYTES);
	put_be(head + 8 + crypto_pwhash_SALTBYTES, kdf->ops, 8);
	put_be(head + 16 + crypto_pwhash_SALTBYTES, kdf->mem, 8);
	if ((r = derive(key, passphrase, pass_len, head + 8, kdf->ops, kdf->mem, err)) < 0)
		return r;
	crypto_secretstream_xchacha20poly1305_init_push(&st, head + KEYS_AD_LEN, key);
	sodium_memzero(key, sizeof(key));
	r = pv_buf_append(out, head, sizeof(head), err);
	pv_buf_init(&plain, 1 + 255 + PV_BACKUP_KEY_FILE_MAX);
	for (size_t i = 0; r == PV_OK && i < k->n; i++) {
		const struct backup_key_file *f = &k->f[i];
		unsigned char nl = (unsigned char)strlen(f->name), len4[4];
		size_t clen = 1 + nl + f->len + crypto_secretstream_xchacha20poly1305_ABYTES;
		pv_buf_reset(&plain);
		if ((r = pv_buf_append(&plain, &nl, 1, err)) < 0 ||
		    (r = pv_buf_append(&plain, f->name, nl, err)) < 0 ||
		    (r = pv_buf_append(&plain, f->data, f->len, err)) < 0)
			break;
		put_be(len4, clen, 4);
		if ((r = pv_buf_append(out, len4, 4, err)) < 0)
			break;
		size_t at = out->len;
		/* Room for the ciphertext, then encrypt in place at the end. */
		if ((r = pv_buf_append(out, plain.data, plain.len, err)) < 0 ||
		    (r = pv_buf_append(out, head, crypto_secretstream_xchacha20poly1305_ABYTES, err)) < 0)
			break;
		crypto_secretstream_xchacha20poly1305_push(
			&st, out->data + at, NULL, plain.data, plain.len, head, KEYS_AD_LEN,
			i + 1 == k->n ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
	}
	pv_buf_free_secret(&plain);
	sodium_memzero(&st, sizeof(st));
	return r;
}

int backup_keys_open(const unsigned char *in, size_t len, const char *passphrase,
		     size_t pass_len, struct backup_key_files *k_r, struct pv_error *err)
{
	unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES], tag = 0;
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char *plain = NULL;
	size_t at = KEYS_HEAD_LEN;
	int r;

	memset(k_r, 0, sizeof(*k_r));
	if (len < KEYS_HEAD_LEN || memcmp(in, KEYS_MAGIC, 8) != 0)
		return pv_fail(err, PV_EINTEGRITY, "%s: not a popvault key container", BACKUP_KEYS);
	uint64_t ops = get_be(in + 8 + crypto_pwhash_SALTBYTES, 8);
	uint64_t mem = get_be(in + 16 + crypto_pwhash_SALTBYTES, 8);
	if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > PV_BACKUP_PWHASH_OPS_MAX ||
	    mem < crypto_pwhash_MEMLIMIT_MIN || mem > PV_BACKUP_PWHASH_MEM_MAX)
		return pv_fail(err, PV_ELIMIT, "%s: Argon2id cost %llu passes, %llu bytes is out of "
					       "range", BACKUP_KEYS, (unsigned long long)ops,
			       (unsigned long long)mem);
	if ((r = derive(key, passphrase, pass_len, in + 8, ops, (size_t)mem, err)) < 0)
		return r;
	if (crypto_secretstream_xchacha20poly1305_init_pull(&st, in + KEYS_AD_LEN, key) != 0) {
		sodium_memzero(key, sizeof(key));
		return pv_fail(err, PV_EINTEGRITY, "%s: bad stream header", BACKUP_KEYS);
	}
	sodium_memzero(key, sizeof(key));
	if ((plain = malloc(1 + 255 + PV_BACKUP_KEY_FILE_MAX)) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	while (r == PV_OK && tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
		unsigned long long plen;
		if (len - at < 4) {
			r = pv_fail(err, PV_EINTEGRITY, "%s: cut short", BACKUP_KEYS);
			break;
		}
		uint64_t clen = get_be(in + at, 4);
		at += 4;
		if (clen > len - at || clen < crypto_secretstream_xchacha20poly1305_ABYTES + 2 ||
		    clen > 1 + 255 + PV_BACKUP_KEY_FILE_MAX + crypto_secretstream_xchacha20poly1305_ABYTES) {
			r = pv_fail(err, PV_EINTEGRITY, "%s: bad record length", BACKUP_KEYS);
			break;
		}
		if (crypto_secretstream_xchacha20poly1305_pull(&st, plain, &plen, &tag, in + at, clen,
							       in, KEYS_AD_LEN) != 0) {
			/* The first record fails for a wrong passphrase; a later
			 * one only when the file was altered. */
			r = k_r->n == 0 ? pv_fail(err, PV_EAUTH, "%s: wrong passphrase", BACKUP_KEYS)
					: pv_fail(err, PV_EINTEGRITY, "%s: record %zu does not "
								      "authenticate", BACKUP_KEYS, k_r->n + 1);
			break;
		}
		at += clen;
		size_t nl = plain[0];
		char name[256];
		if (1 + nl > plen || !key_name_ok((const char *)plain + 1, nl)) {
			r = pv_fail(err, PV_EINTEGRITY, "%s: bad file name", BACKUP_KEYS);
			break;
		}
		memcpy(name, plain + 1, nl);
		name[nl] = '\0';
		r = backup_key_files_add(k_r, name, plain + 1 + nl, plen - 1 - nl, err);
	}
	if (r == PV_OK && at != len)
		r = pv_fail(err, PV_EINTEGRITY, "%s: data after the final record", BACKUP_KEYS);
	sodium_memzero(plain, 1 + 255 + PV_BACKUP_KEY_FILE_MAX);
	free(plain);
	sodium_memzero(&st, sizeof(st));
	if (r < 0)
		backup_key_files_free(k_r);
	return r;
}

/* ---- SQLite ---- */

static int sqlite_fail(sqlite3 *db, struct pv_error *err, const char *what)
{
	return pv_fail(err, PV_ERR, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

int backup_sqlite_to_file(sqlite3 *src, const char *path, struct pv_error *err)
{
	sqlite3 *dst = NULL;
	struct stat st;
	int r;
	if (lstat(path, &st) == 0)
		return pv_fail(err, PV_ERR, "%s already exists", path);
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		r = sqlite_fail(dst, err, path);
		sqlite3_close(dst);
		return r;
	}
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (b == NULL) {
		r = sqlite_fail(dst, err, "online backup");
	} else {
		/* -1: every page in one step, under one read transaction of
		 * the source (in WAL mode writers go on meanwhile). */
		int rc = sqlite3_backup_step(b, -1);
		sqlite3_backup_finish(b);
		r = rc == SQLITE_DONE ? PV_OK : pv_fail(err, PV_ERR, "online backup: %s",
							sqlite3_errstr(rc));
	}
	/* One self-contained file: no -wal beside it. */
	if (r == PV_OK && sqlite3_exec(dst, "PRAGMA journal_mode=DELETE;", NULL, NULL, NULL) != SQLITE_OK)
		r = sqlite_fail(dst, err, path);
	if (sqlite3_close(dst) != SQLITE_OK && r == PV_OK)
		r = pv_fail(err, PV_ERR, "close %s", path);
	if (r == PV_OK) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0)
			r = pv_fail(err, PV_ERR, "fsync %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return r;
}

int backup_sqlite_open_copy(const char *path, struct db **db_r, struct pv_error *err)
{
	sqlite3 *h = NULL;
	int r;
	*db_r = NULL;
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		r = sqlite_fail(h, err, path);
		sqlite3_close(h);
		return r;
	}
	if ((r = db_sqlite_wrap(h, db_r, err)) < 0)
		sqlite3_close(h);
	return r;
}

void backup_sqlite_close_copy(struct db **db)
{
	if (*db == NULL)
		return;
	sqlite3 *h = db_sqlite(*db);
	db_close(db); /* the view only: the handle is ours */
	sqlite3_close(h);
}

int backup_sqlite_image(const char *path, unsigned char **data_r, size_t *len_r,
			struct pv_error *err)
{
	sqlite3 *src = NULL, *mem = NULL;
	sqlite3_int64 n = 0;
	int r = PV_OK;
	*data_r = NULL;
	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		r = sqlite_fail(src, err, path);
	else if (sqlite3_open(":memory:", &mem) != SQLITE_OK)
		r = sqlite_fail(mem, err, "in-memory database");
	if (r == PV_OK) {
		sqlite3_busy_timeout(src, 10000);
		sqlite3_backup *b = sqlite3_backup_init(mem, "main", src, "main");
		int rc = b ? sqlite3_backup_step(b, -1) : SQLITE_NOMEM;
		if (b)
			sqlite3_backup_finish(b);
		if (rc != SQLITE_DONE)
			r = pv_fail(err, PV_ERR, "online backup of %s: %s", path, sqlite3_errstr(rc));
	}
	if (r == PV_OK) {
		*data_r = sqlite3_serialize(mem, "main", &n, 0);
		if (*data_r == NULL)
			r = pv_fail(err, PV_ERR, "serialise %s: out of memory", path);
		else if ((uint64_t)n > PV_BACKUP_KEY_FILE_MAX)
			r = pv_fail(err, PV_ELIMIT, "%s: %lld bytes (at most %d)", path, (long long)n,
				    PV_BACKUP_KEY_FILE_MAX);
	}
	if (r < 0 && *data_r != NULL) {
		sodium_memzero(*data_r, (size_t)n);
		sqlite3_free(*data_r);
		*data_r = NULL;
	}
	*len_r = (size_t)n;
	sqlite3_close(mem);
	sqlite3_close(src);
	return r;
}
