/* The local pack store (store/packstore.h): DIR/packs/<id>.pack. A pack
 * written there is already where it is kept, so put has nothing to do;
 * there is no lock but the writer's flock, and no legal hold but the
 * catalog's (disposal never removes a pack with a held message). */
#include "archiver/store/packstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/store/pack.h"

struct local {
	char dir[2048];
};

int packstore_local_new(const char *data_dir, void **impl_r, struct pv_error *err)
{
	struct local *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (strlen(data_dir) >= sizeof(l->dir)) {
		free(l);
		return pv_fail(err, PV_ERR, "data directory path too long");
	}
	snprintf(l->dir, sizeof(l->dir), "%s", data_dir);
	*impl_r = l;
	return PV_OK;
}

static int local_put(void *impl, int64_t id, int fd, uint64_t size, int64_t retain_until,
		     bool hold, char version_r[PACKSTORE_VERSION_MAX], struct pv_error *err)
{
	(void)impl, (void)id, (void)fd, (void)size, (void)retain_until, (void)hold, (void)err;
	version_r[0] = '\0';
	return PV_OK;
}

static int local_get(void *impl, int64_t id, const char *version, uint64_t off, uint64_t len,
		     int fd, struct pv_error *err)
{
	struct local *l = impl;
	char path[4096], buf[64 * 1024];
	(void)version;
	pack_path(l->dir, id, path, sizeof(path));
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return pv_fail(err, errno == ENOENT ? PV_ENOTFOUND : PV_ERR, "pack %lld: %s",
			       (long long)id, strerror(errno));
	struct stat st;
	if (len == 0 && fstat(in, &st) == 0 && (uint64_t)st.st_size > off)
		len = (uint64_t)st.st_size - off;
	int r = PV_OK;
	for (uint64_t done = 0; done < len && r == PV_OK;) {
		size_t want = len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);
		ssize_t k = pread(in, buf, want, (off_t)(off + done));
		if (k <= 0)
			r = pv_fail(err, PV_EINTEGRITY, "pack %lld: shorter than %llu bytes",
				    (long long)id, (unsigned long long)(off + len));
		else if (write(fd, buf, (size_t)k) != k)
			r = pv_fail(err, PV_ERR, "copy of pack %lld: %s", (long long)id, strerror(errno));
		else
			done += (uint64_t)k;
	}
	close(in);
	return r;
}

static int local_stat(void *impl, int64_t id, const char *version, struct packstore_stat *st_r,
		      struct pv_error *err)
{
	struct local *l = impl;
	char path[4096];
	struct stat st;
	(void)version;
	memset(st_r, 0, sizeof(*st_r));
	pack_path(l->dir, id, path, sizeof(path));
	if (stat(path, &st) < 0)
		return pv_fail(err, errno == ENOENT ? PV_ENOTFOUND : PV_ERR, "pack %lld: %s",
			       (long long)id, strerror(errno));
	st_r->size = (uint64_t)st.st_size;
	return PV_OK;
}

/* Under the writer lock (pack.h): a pack a harvest holds may be growing. */
static int local_remove(void *impl, int64_t id, const char *version, struct pv_error *err)
{
	struct local *l = impl;
	char path[4096];
	(void)version;
	pack_path(l->dir, id, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? PV_OK
				       : pv_fail(err, PV_ERR, "pack %lld: %s", (long long)id,
						 strerror(errno));
	int r = PV_OK;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		r = pv_fail(err, PV_EPERM, "pack %lld: a harvest is writing it", (long long)id);
	else if (unlink(path) < 0 && errno != ENOENT)
		r = pv_fail(err, PV_ERR, "remove %s: %s", path, strerror(errno));
	close(fd);
	return r;
}

static int local_hold(void *impl, int64_t id, const char *version, bool on, struct pv_error *err)
{
	(void)impl, (void)id, (void)version, (void)on, (void)err;
	return PV_OK;
}

static int local_extend(void *impl, int64_t id, const char *version, int64_t retain_until,
			struct pv_error *err)
{
	(void)impl, (void)id, (void)version, (void)retain_until, (void)err;
	return PV_OK;
}

static void local_free(void *impl)
{
	free(impl);
}

const struct packstore_ops packstore_local_ops = {
	.kind = "local",
	.put = local_put,
	.get = local_get,
	.stat = local_stat,
	.remove = local_remove,
	.hold = local_hold,
	.extend = local_extend,
	.free = local_free,
};
