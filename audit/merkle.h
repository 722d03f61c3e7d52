#ifndef PV_MERKLE_H
#define PV_MERKLE_H

/* RFC 6962 / RFC 9162 §2.1 Merkle tree hashing, proof verification, and
 * proof construction over any store of complete-subtree hashes.
 *
 *   leaf hash  SHA-256(0x00 || data)
 *   node hash  SHA-256(0x01 || left || right)
 *   empty tree SHA-256("")          (RFC 9162 §2.1.1; not all-zero bytes)
 *
 * Everything here is pure: no I/O, no allocation. Hashes are 32-byte arrays;
 * a proof is an array of them, at most PV_PROOF_HASHES_MAX long.
 * Verify functions return 0 when the proof holds and PV_EINTEGRITY (with the
 * reason in err) when it does not. */

#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"

#define MERKLE_HASH_LEN 32

/* One hash; arrays of these are proofs. */
typedef uint8_t merkle_hash[MERKLE_HASH_LEN];

/* SHA-256 of len bytes (uses the CPU's SHA extensions through OpenSSL when
 * available, libsodium otherwise: the result is the same). */
void merkle_sha256(const void *data, size_t len, merkle_hash out);
void merkle_leaf_hash(const void *data, size_t len, merkle_hash out);
void merkle_node_hash(const merkle_hash left, const merkle_hash right, merkle_hash out);
void merkle_empty_root(merkle_hash out);

/* Root of the tree over n leaf hashes (RFC 9162 §2.1.1 MTH). n == 0 gives
 * the empty-tree hash. */
void merkle_root(const merkle_hash *leaves, uint64_t n, merkle_hash out);

/* RFC 9162 §2.1.3.2: is `leaf` the hash at `index` of the tree of `size`
 * leaves whose root is `root`, according to `proof`? */
int merkle_verify_inclusion(uint64_t index, uint64_t size, const merkle_hash leaf,
			    const merkle_hash *proof, size_t proof_len, const merkle_hash root,
			    struct pv_error *err) PV_WARN_UNUSED;

/* RFC 9162 §2.1.4.2: is the tree (size2, root2) an append-only extension of
 * (size1, root1)? Requires 0 < size1 <= size2 (§2.1.4: a proof from the
 * empty tree proves nothing and is refused); size1 == size2 needs an empty
 * proof and equal roots. */
int merkle_verify_consistency(uint64_t size1, uint64_t size2, const merkle_hash *proof,
			      size_t proof_len, const merkle_hash root1, const merkle_hash root2,
			      struct pv_error *err) PV_WARN_UNUSED;

/* Number of hashes in an inclusion proof for (index, size) and in a
 * consistency proof for (size1, size2); 0 for arguments with no proof. */
size_t merkle_inclusion_proof_len(uint64_t index, uint64_t size);
size_t merkle_consistency_proof_len(uint64_t size1, uint64_t size2);

/* A streaming accumulator (the "compact range" of the left edge): push leaf
 * hashes in order, read the root of everything pushed so far at any time.
 * Holds one hash per set bit of the size, so 64 entries cover 2^64. */
struct merkle_acc {
	uint64_t size;
	merkle_hash stack[64];
};

void merkle_acc_init(struct merkle_acc *a);
/* Appends one leaf hash. on_subtree (may be NULL) is called for every
 * complete subtree the push completes, with its level (height; 0 = the
 * leaf itself) and index at that level, so callers can check stored
 * interior hashes while they stream. A non-zero return from on_subtree
 * stops the push and is returned. */
typedef int (*merkle_subtree_cb)(void *ctx, unsigned level, uint64_t index,
				 const merkle_hash hash);
int merkle_acc_push(struct merkle_acc *a, const merkle_hash leaf, merkle_subtree_cb on_subtree,
		    void *ctx);
void merkle_acc_root(const struct merkle_acc *a, merkle_hash out);
/* Appends a whole complete subtree of 2^level leaves given by its hash
 * (from a compact-range proof). The accumulated size must be a multiple
 * of 2^level; returns -1 (and changes nothing) otherwise. */
int merkle_acc_push_subtree(struct merkle_acc *a, unsigned level, const merkle_hash hash);
/* Starts an accumulator at `size` from its compact range: the hashes of
 * the complete subtrees of [0, size), largest first (one per set bit). */
int merkle_acc_from_range(struct merkle_acc *a, uint64_t size, const merkle_hash *hashes,
			  size_t n);

/* Proof construction over a store of complete-subtree hashes. get() must
 * fill `out` with the hash of the complete subtree at (level, index), i.e.
 * of leaves [index << level, (index + 1) << level), and return 0, or a
 * negative pv_status (with err filled). Ranges that are not complete
 * subtrees are folded from complete ones (RFC 9162 §2.1.1). */
typedef int (*merkle_get_fn)(void *ctx, unsigned level, uint64_t index, merkle_hash out,
			     struct pv_error *err);

/* MTH(D[lo:hi]) for lo < hi where lo is a multiple of the largest power of
 * two not above hi - lo (true of every range the RFC recursion visits and
 * of lo == 0). */
int merkle_range_hash(merkle_get_fn get, void *ctx, uint64_t lo, uint64_t hi, merkle_hash out,
		      struct pv_error *err);
/* RFC 9162 §2.1.3.1 PATH(index, D[0:size]). proof_r holds
 * PV_PROOF_HASHES_MAX entries; *len_r gets the count. */
int merkle_inclusion_proof(merkle_get_fn get, void *ctx, uint64_t index, uint64_t size,
			   merkle_hash *proof_r, size_t *len_r, struct pv_error *err);
/* RFC 9162 §2.1.4.1 PROOF(size1, D[0:size2]) for 0 < size1 <= size2
 * (empty when equal). */
int merkle_consistency_proof(merkle_get_fn get, void *ctx, uint64_t size1, uint64_t size2,
			     merkle_hash *proof_r, size_t *len_r, struct pv_error *err);

#endif
