#include "archiver/store/leaf_commit.h"

#include <sodium.h>
#include <string.h>

void leaf_commit_of_sha256(const unsigned char salt[BLOB_SALT_BYTES],
			   const unsigned char sha256[BLOB_HASH_BYTES],
			   unsigned char out[BLOB_HASH_BYTES])
{
	(void)crypto_generichash(out, BLOB_HASH_BYTES, sha256, BLOB_HASH_BYTES, salt,
				 BLOB_SALT_BYTES);
}

int leaf_commit_begin(struct leaf_commit *c, int leaf_version,
		      const unsigned char salt[BLOB_SALT_BYTES], bool sha256_known,
		      struct pv_error *err)
{
	memset(c, 0, sizeof(*c));
	c->via_sha256 = leaf_commit_via_sha256(leaf_version);
	c->sha256_known = sha256_known;
	if (!c->via_sha256)
		return pv_blake2b_init(&c->b2, salt, BLOB_SALT_BYTES, BLOB_HASH_BYTES, err);
	memcpy(c->salt, salt, BLOB_SALT_BYTES);
	return sha256_known ? PV_OK : pv_sha256_init(&c->sha, err);
}

void leaf_commit_update(struct leaf_commit *c, const void *data, size_t len)
{
	if (!c->via_sha256)
		pv_blake2b_update(&c->b2, data, len);
	else if (!c->sha256_known)
		pv_sha256_update(&c->sha, data, len);
}

void leaf_commit_end(struct leaf_commit *c, const unsigned char *sha256,
		     unsigned char out[BLOB_HASH_BYTES])
{
	if (c->via_sha256) {
		unsigned char sha[BLOB_HASH_BYTES];
		if (c->sha256_known)
			memcpy(sha, sha256, sizeof(sha));
		else
			pv_sha256_final(&c->sha, sha);
		leaf_commit_of_sha256(c->salt, sha, out);
		sodium_memzero(sha, sizeof(sha));
	} else {
		pv_blake2b_final(&c->b2, out);
	}
	leaf_commit_abort(c);
}

void leaf_commit_abort(struct leaf_commit *c)
{
	pv_sha256_abort(&c->sha);
	pv_blake2b_abort(&c->b2);
	sodium_memzero(c->salt, sizeof(c->salt));
}
