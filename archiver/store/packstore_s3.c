/* The S3 pack store (store/packstore.h): pack <id> is the object
 * "packs/<id>.pack" of one bucket with Object Lock, every call on one
 * version of it (a versioned bucket: a DELETE without a version would only
 * hide the pack behind a delete marker, and a PUT over it would add a
 * version beside the locked one). */
#include "archiver/store/packstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/s3.h"

static void object_key(int64_t id, char out[64])
{
	snprintf(out, 64, "packs/%08lld.pack", (long long)id);
}

int packstore_s3_new(const struct s3_target *t, const char *access_key, const char *secret_key,
		     void **impl_r, struct pv_error *err)
{
	struct s3_client *c;
	int r = s3_client_new(t->endpoint, t->region, t->bucket, access_key, secret_key, NULL, &c,
			      err);
	if (r < 0)
		return r;
	*impl_r = c;
	return PV_OK;
}

static int s3_put(void *impl, int64_t id, int fd, uint64_t size, int64_t retain_until, bool hold,
		  char version_r[PACKSTORE_VERSION_MAX], struct pv_error *err)
{
	struct s3_lock lock = {"COMPLIANCE", retain_until, hold};
	char key[64];
	object_key(id, key);
	int r = s3_put_file(impl, key, fd, size, &lock, version_r, err);
	if (r == PV_OK && version_r[0] == '\0')
		r = pv_fail(err, PV_EPROTO, "PUT %s/%s: no version id: the bucket keeps no "
			    "versions, so it has no Object Lock", s3_bucket(impl), key);
	return r;
}

static int s3_get_pack(void *impl, int64_t id, const char *version, uint64_t off, uint64_t len,
		       int fd, struct pv_error *err)
{
	char key[64];
	object_key(id, key);
	if (len != 0)
		return s3_get_range(impl, key, version, off, len, fd, err);
	struct s3_head h;
	int r = s3_head(impl, key, version, &h, err);
	if (r < 0)
		return r;
	if (h.size <= off)
		return PV_OK;
	return s3_get_range(impl, key, version, off, h.size - off, fd, err);
}

static int s3_stat(void *impl, int64_t id, const char *version, struct packstore_stat *st_r,
		   struct pv_error *err)
{
	struct s3_head h;
	char key[64];
	object_key(id, key);
	memset(st_r, 0, sizeof(*st_r));
	int r = s3_head(impl, key, version, &h, err);
	if (r < 0)
		return r;
	st_r->size = h.size;
	snprintf(st_r->lock_mode, sizeof(st_r->lock_mode), "%s", h.lock_mode);
	st_r->retain_until = h.retain_until;
	st_r->legal_hold = h.legal_hold;
	return PV_OK;
}

static int s3_remove(void *impl, int64_t id, const char *version, struct pv_error *err)
{
	char key[64];
	object_key(id, key);
	return s3_delete_version(impl, key, version, err);
}

static int s3_hold(void *impl, int64_t id, const char *version, bool on, struct pv_error *err)
{
	char key[64];
	object_key(id, key);
	return s3_legal_hold(impl, key, version, on, err);
}

static int s3_extend(void *impl, int64_t id, const char *version, int64_t retain_until,
		     struct pv_error *err)
{
	char key[64];
	object_key(id, key);
	return s3_put_retention(impl, key, version, "COMPLIANCE", retain_until, err);
}

static void s3_free(void *impl)
{
	struct s3_client *c = impl;
	s3_client_free(&c);
}

const struct packstore_ops packstore_s3_ops = {
	.kind = "s3",
	.put = s3_put,
	.get = s3_get_pack,
	.stat = s3_stat,
	.remove = s3_remove,
	.hold = s3_hold,
	.extend = s3_extend,
	.free = s3_free,
};
