#include "archiver/lib/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "archiver/lib/limits.h"

int pv_fsync_dir(const char *dir, struct pv_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return pv_fail(err, PV_ERR, "open %s: %s", dir, strerror(errno));
	if (fsync(fd) < 0) {
		int e = errno;
		close(fd);
		return pv_fail(err, PV_ERR, "fsync %s: %s", dir, strerror(e));
	}
	close(fd);
	return PV_OK;
}

int pv_mkdir(const char *dir, mode_t mode, int exist_ok, struct pv_error *err)
{
	if (mkdir(dir, mode) == 0)
		return PV_OK;
	if (errno == EEXIST && exist_ok)
		return PV_OK;
	return pv_fail(err, PV_ERR, "mkdir %s: %s", dir, strerror(errno));
}

int pv_write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pv_write_file(const char *path, const void *data, size_t len, mode_t mode, int excl,
		  struct pv_error *err)
{
	char tmp[4096], dir[4096];
	struct stat st;

	if (excl && stat(path, &st) == 0)
		return pv_fail(err, PV_ERR, "%s already exists", path);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return pv_fail(err, PV_ERR, "path too long: %s", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return pv_fail(err, PV_ERR, "create %s: %s", tmp, strerror(errno));
	if (fchmod(fd, mode) < 0 || pv_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return pv_fail(err, PV_ERR, "write %s: %s", tmp, strerror(e));
	}
	close(fd);
	int rc = excl ? link(tmp, path) : rename(tmp, path);
	int e = errno;
	if (excl)
		unlink(tmp);
	if (rc < 0) {
		unlink(tmp);
		return pv_fail(err, PV_ERR, "install %s: %s", path, strerror(e));
	}
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return pv_fsync_dir(dir, err);
}

int pv_read_file(const char *path, size_t max, unsigned char **data_r, size_t *len_r,
		 struct pv_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return pv_fail(err, PV_ERR, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return pv_fail(err, PV_ERR, "%s: not a regular file", path);
	}
	if ((unsigned long long)st.st_size > max) {
		close(fd);
		return pv_fail(err, PV_ELIMIT, "%s: larger than %zu bytes", path, max);
	}
	size_t cap = (size_t)st.st_size, len = 0;
	unsigned char *buf = malloc(cap + 1);
	if (buf == NULL) {
		close(fd);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return pv_fail(err, PV_ERR, "read %s: %s", path, strerror(e));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap)
			break;
	}
	close(fd);
	buf[len] = '\0';
	*data_r = buf;
	*len_r = len;
	return PV_OK;
}

int pv_cert_file_check(const char *what, const char *path, struct pv_error *err)
{
	unsigned char *text = NULL;
	size_t len;
	struct pv_error why;
	if (pv_read_file(path, PV_CA_FILE_MAX, &text, &len, &why) < 0)
		return pv_fail(err, PV_EUSAGE, "%s: %s", what, why.msg); /* names the path */
	bool pem = memmem(text, len, "-----BEGIN CERTIFICATE-----", 27) != NULL;
	free(text);
	return pem ? PV_OK
		   : pv_fail(err, PV_EUSAGE, "%s %s holds no PEM certificate", what, path);
}

int pv_read_secret_file(const char *path, char **secret_r, struct pv_error *err)
{
	unsigned char *data;
	size_t len;
	int r = pv_read_file(path, PV_SECRET_FILE_MAX, &data, &len, err);
	if (r < 0)
		return r;
	size_t cap = len;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	bool text = len > 0 && memchr(data, '\0', len) == NULL;
	char *s = text ? pv_secret_dup(data, len) : NULL;
	sodium_memzero(data, cap);
	free(data);
	if (!text)
		return pv_fail(err, PV_ERR, "%s: empty or not text", path);
	if (s == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	*secret_r = s;
	return PV_OK;
}

long long pv_fs_free_bytes(const char *path)
{
	struct statvfs vfs;
	if (statvfs(path, &vfs) != 0)
		return -1;
	return (long long)vfs.f_bavail * (long long)vfs.f_frsize;
}

int pv_lock_take(const char *dir, const char *name, bool exclusive, int *fd_r,
		 struct pv_error *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return pv_fail(err, PV_ERR, "open %s: %s", path, strerror(errno));
	if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		return pv_fail(err, e == EWOULDBLOCK ? PV_ETEMP : PV_ERR, "%s: %s", path,
			       e == EWOULDBLOCK ? "held by another process" : strerror(e));
	}
	*fd_r = fd;
	return PV_OK;
}
