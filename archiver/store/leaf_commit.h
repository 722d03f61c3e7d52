#ifndef PV_LEAF_COMMIT_H
#define PV_LEAF_COMMIT_H

/* The salted commitment of a message's archive leaf (leaf.h) to its
 * plaintext: BLAKE2b-256 keyed by the message's random salt, over
 *   v1 and v2 leaves: the plaintext itself;
 *   v3 leaves: the plaintext's SHA-256 (32 bytes).
 * v3 lets every reader of a message hash its bytes once: the harvest,
 * verify and export compute the SHA-256 anyway (the catalog's hash), and
 * BLAKE2b over every byte was the largest cost of the harvest's network
 * thread (issue 12). Both bind as tightly (opening a commitment to other
 * bytes needs a collision of SHA-256 or of BLAKE2b-256) and hide as well
 * (without the salt, shredded with the message's key, the value says
 * nothing about the content). */

#include <stdbool.h>
#include <stddef.h>

#include "archiver/lib/blake2b.h"
#include "archiver/lib/error.h"
#include "archiver/lib/sha256.h"
#include "archiver/store/blob.h"

/* Whether leaves of this version commit through the plaintext's SHA-256. */
static inline bool leaf_commit_via_sha256(int leaf_version)
{
	return leaf_version >= 3;
}

/* The commitment of a v3 leaf, from the plaintext's SHA-256. */
void leaf_commit_of_sha256(const unsigned char salt[BLOB_SALT_BYTES],
			   const unsigned char sha256[BLOB_HASH_BYTES],
			   unsigned char out[BLOB_HASH_BYTES]);

/* The commitment of a leaf of any version, streamed over the plaintext.
 * sha256_known: the caller hashes the plaintext with SHA-256 itself and
 * hands the digest to leaf_commit_end, so a v3 commitment costs nothing
 * per byte here (leaf_commit_update only feeds a v1 or v2 leaf's
 * BLAKE2b). */
struct leaf_commit {
	bool via_sha256, sha256_known;
	unsigned char salt[BLOB_SALT_BYTES]; /* v3: for the last step; wiped */
	struct pv_sha256 sha;               /* v3, unless sha256_known */
	struct pv_blake2b b2;               /* v1, v2 */
};

int leaf_commit_begin(struct leaf_commit *c, int leaf_version,
		      const unsigned char salt[BLOB_SALT_BYTES], bool sha256_known,
		      struct pv_error *err);
void leaf_commit_update(struct leaf_commit *c, const void *data, size_t len);
/* Writes the commitment and releases c; sha256: the plaintext's digest
 * when begun with sha256_known, else NULL. */
void leaf_commit_end(struct leaf_commit *c, const unsigned char *sha256,
		     unsigned char out[BLOB_HASH_BYTES]);
/* Releases c without a result (safe after leaf_commit_end, or on a zeroed c). */
void leaf_commit_abort(struct leaf_commit *c);

#endif
