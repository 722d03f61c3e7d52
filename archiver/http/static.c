/* The web UI's files, from the web root (web-static/).
 *
 * Nothing outside the web root can be reached: the router has already
 * refused "..", "." and empty segments, NUL and control characters and
 * escaped slashes; names starting with '.' are not served; the file is
 * opened beneath the web root's directory descriptor with openat2
 * RESOLVE_BENEATH (a symlink may point within the root, never out of it,
 * nor through /proc magic links), or where the kernel lacks openat2,
 * component by component refusing every symlink. Only regular files.
 *
 * Caching: a name carrying a content hash or version ("app.3f9c0a1b.js":
 * 8 to 64 hex digits between dots) never changes, so it is cached for a
 * year, immutable; anything else (index.html above all) is revalidated on
 * every use ("no-cache") against its ETag, which changes with the file's
 * inode, size or modification time. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "archiver/http/app.h"
#include "archiver/http/handlers.h"
#include "archiver/lib/hex.h"

static const struct {
	const char *ext, *type;
} mime_types[] = {
	{"html", "text/html; charset=utf-8"},
	{"css", "text/css; charset=utf-8"},
	{"js", "text/javascript; charset=utf-8"},
	{"mjs", "text/javascript; charset=utf-8"},
	{"json", "application/json"},
	{"map", "application/json"},
	{"webmanifest", "application/manifest+json"},
	{"txt", "text/plain; charset=utf-8"},
	{"svg", "image/svg+xml"},
	{"png", "image/png"},
	{"jpg", "image/jpeg"},
	{"jpeg", "image/jpeg"},
	{"gif", "image/gif"},
	{"webp", "image/webp"},
	{"ico", "image/x-icon"},
	{"woff2", "font/woff2"},
	{"woff", "font/woff"},
	{"wasm", "application/wasm"},
};

static const char *mime_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot != NULL)
		for (size_t i = 0; i < sizeof(mime_types) / sizeof(mime_types[0]); i++)
			if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
				return mime_types[i].type;
	return "application/octet-stream";
}

/* "name.<8..64 hex>.ext" */
static bool hashed_name(const char *name)
{
	const char *last = strrchr(name, '.');
	if (last == NULL || last == name)
		return false;
	const char *p = last;
	while (p > name && p[-1] != '.')
		p--;
	size_t n = (size_t)(last - p);
	return p > name && n >= 8 && n <= 64 && strspn(p, "0123456789abcdef") == n;
}

/* Opens rel (no leading '/') beneath dirfd, never leaving it. */
static int open_beneath(int dirfd, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	if (fd >= 0 || errno != ENOSYS)
		return (int)fd;
	/* No openat2: walk it, refusing symlinks anywhere. */
	char part[PV_HTTP_PATH_MAX + 1];
	int dir = dirfd;
	for (const char *p = rel;;) {
		size_t len = strcspn(p, "/");
		if (len == 0 || len >= sizeof(part)) {
			fd = -1;
			break;
		}
		memcpy(part, p, len);
		part[len] = '\0';
		bool last = p[len] == '\0';
		fd = openat(dir, part, last ? O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW
					    : O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (dir != dirfd)
			close(dir);
		if (fd < 0 || last)
			break;
		dir = (int)fd;
		p += len + 1;
	}
	return (int)fd;
}

struct file_stream {
	int fd;
};

static ssize_t file_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
	struct file_stream *f = ctx;
	ssize_t n;
	do
		n = pread(f->fd, buf, max, (off_t)pos);
	while (n < 0 && errno == EINTR);
	return n;
}

static void file_done(void *ctx)
{
	struct file_stream *f = ctx;
	close(f->fd);
	free(f);
}

int http_reply_fd(struct http_response *rs, int status, const char *content_type, int fd,
		  int64_t size)
{
	struct file_stream *f = malloc(sizeof(*f));
	if (f == NULL) {
		close(fd);
		return PV_ERR;
	}
	f->fd = fd;
	struct http_stream s = {file_read, file_done, f, size};
	return http_reply_stream(rs, status, content_type, &s);
}

/* Does an If-None-Match list name etag (or "*")? Weak tags compare by
 * their opaque part (RFC 9110 §13.1.2: the weak comparison). */
static bool etag_matches(const char *list, const char *etag)
{
	size_t n = strlen(etag);
	for (const char *p = list; *p;) {
		p += strspn(p, " \t,");
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

int h_static(struct http_request *rq, struct http_response *rs)
{
	char rel[PV_HTTP_PATH_MAX + 16];
	const char *path = rq->path + 1;
	struct stat st;

	snprintf(rel, sizeof(rel), "%s%s", path,
		 path[0] == '\0' || path[strlen(path) - 1] == '/' ? "index.html" : "");
	/* Hidden names (.git, .htpasswd, editor files) are never served. */
	for (const char *s = rel;; s = strchr(s, '/') + 1) {
		if (s[0] == '.')
			return http_reply_error(rs, 404, "not_found", "no such file");
		if (strchr(s, '/') == NULL)
			break;
	}
	int fd = open_beneath(rq->app->web_root_fd, rel);
	if (fd < 0)
		return http_reply_error(rs, 404, "not_found", "no such file");
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return http_reply_error(rs, 404, "not_found", "no such file");
	}

	struct {
		uint64_t dev, ino, size, sec, nsec;
	} id = {st.st_dev, st.st_ino, (uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
		(uint64_t)st.st_mtim.tv_nsec};
	unsigned char h[12];
	char hex[25], etag[32];
	crypto_generichash(h, sizeof(h), (const unsigned char *)&id, sizeof(id), NULL, 0);
	pv_hex(h, sizeof(h), hex);
	snprintf(etag, sizeof(etag), "\"%s\"", hex);
	const char *name = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	(void)http_response_header(rs, "ETag", etag);
	(void)http_response_header(rs, "Cache-Control", hashed_name(name)
					? "public, max-age=31536000, immutable" : "no-cache");
	const char *inm = http_header(rq, "If-None-Match");
	if (inm != NULL && etag_matches(inm, etag)) {
		close(fd);
		rs->status = 304;
		return PV_OK;
	}
	if (http_reply_fd(rs, 200, mime_type(name), fd, (int64_t)st.st_size) < 0)
		return pv_fail(&rq->err, PV_ERR, "out of memory");
	return PV_OK;
}
