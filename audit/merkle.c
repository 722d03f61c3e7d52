#include "audit/merkle.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "archiver/lib/limits.h"

/* SHA-256: OpenSSL's EVP uses the SHA extensions (3x libsodium's portable
 * code on 65-byte node inputs). One context per thread, made once; if
 * OpenSSL fails (no memory) libsodium computes the same digest. */
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha_key;
static EVP_MD *sha_md;
static int sha_ready;

static void sha_ctx_free(void *p)
{
	EVP_MD_CTX_free(p);
}

static void sha_init(void)
{
	sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	sha_ready = sha_md != NULL && pthread_key_create(&sha_key, sha_ctx_free) == 0;
}

static EVP_MD_CTX *sha_ctx(void)
{
	pthread_once(&sha_once, sha_init);
	if (!sha_ready)
		return NULL;
	EVP_MD_CTX *c = pthread_getspecific(sha_key);
	if (c == NULL && (c = EVP_MD_CTX_new()) != NULL && pthread_setspecific(sha_key, c) != 0) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	return c;
}

static void sha256_parts(const void *a, size_t alen, const void *b, size_t blen, const void *c,
			 size_t clen, merkle_hash out)
{
	EVP_MD_CTX *ctx = sha_ctx();
	unsigned int n;
	if (ctx != NULL && EVP_DigestInit_ex2(ctx, sha_md, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, a, alen) == 1 && (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1) &&
	    (clen == 0 || EVP_DigestUpdate(ctx, c, clen) == 1) &&
	    EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == MERKLE_HASH_LEN)
		return;
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, a, alen);
	crypto_hash_sha256_update(&st, b, blen);
	crypto_hash_sha256_update(&st, c, clen);
	crypto_hash_sha256_final(&st, out);
}

void merkle_sha256(const void *data, size_t len, merkle_hash out)
{
	sha256_parts(data, len, NULL, 0, NULL, 0, out);
}

void merkle_leaf_hash(const void *data, size_t len, merkle_hash out)
{
	static const uint8_t prefix = 0x00;
	sha256_parts(&prefix, 1, data, len, NULL, 0, out);
}

void merkle_node_hash(const merkle_hash left, const merkle_hash right, merkle_hash out)
{
	static const uint8_t prefix = 0x01;
	/* out may alias left or right: the digest is written only at the end. */
	sha256_parts(&prefix, 1, left, MERKLE_HASH_LEN, right, MERKLE_HASH_LEN, out);
}

void merkle_empty_root(merkle_hash out)
{
	merkle_sha256("", 0, out);
}

/* --- streaming accumulator ----------------------------------------------- */

void merkle_acc_init(struct merkle_acc *a)
{
	memset(a, 0, sizeof(*a));
}

int merkle_acc_push(struct merkle_acc *a, const merkle_hash leaf, merkle_subtree_cb on_subtree,
		    void *ctx)
{
	merkle_hash h;
	unsigned depth = (unsigned)__builtin_popcountll(a->size);
	unsigned level = 0;
	uint64_t index = a->size;
	int r;

	memcpy(h, leaf, MERKLE_HASH_LEN);
	if (on_subtree != NULL && (r = on_subtree(ctx, 0, index, h)) != 0)
		return r;
	/* Each set low bit of size is a finished subtree waiting for a right
	 * sibling of the same height: this push completes them in turn. */
	while ((a->size >> level) & 1) {
		merkle_node_hash(a->stack[--depth], h, h);
		level++;
		index >>= 1;
		if (on_subtree != NULL && (r = on_subtree(ctx, level, index, h)) != 0)
			return r;
	}
	memcpy(a->stack[depth], h, MERKLE_HASH_LEN);
	a->size++;
	return 0;
}

void merkle_acc_root(const struct merkle_acc *a, merkle_hash out)
{
	unsigned depth = (unsigned)__builtin_popcountll(a->size);
	if (depth == 0) {
		merkle_empty_root(out);
		return;
	}
	/* The stack holds the left edge from the largest subtree down; the
	 * root folds them right to left (RFC 9162 §2.1.1 split rule). */
	memcpy(out, a->stack[depth - 1], MERKLE_HASH_LEN);
	for (unsigned i = depth - 1; i-- > 0;)
		merkle_node_hash(a->stack[i], out, out);
}

int merkle_acc_push_subtree(struct merkle_acc *a, unsigned level, const merkle_hash hash)
{
	merkle_hash h;
	if (level > 62 || (a->size & ((1ull << level) - 1)) != 0 ||
	    a->size > UINT64_MAX - (1ull << level))
		return -1;
	uint64_t add = 1ull << level;
	unsigned depth = (unsigned)__builtin_popcountll(a->size);
	memcpy(h, hash, MERKLE_HASH_LEN);
	/* As in merkle_acc_push, starting at the subtree's own height. */
	while ((a->size >> level) & 1) {
		merkle_node_hash(a->stack[--depth], h, h);
		level++;
	}
	memcpy(a->stack[depth], h, MERKLE_HASH_LEN);
	a->size += add;
	return 0;
}

int merkle_acc_from_range(struct merkle_acc *a, uint64_t size, const merkle_hash *hashes,
			  size_t n)
{
	if (n != (size_t)__builtin_popcountll(size))
		return -1;
	merkle_acc_init(a);
	for (size_t i = 0; i < n; i++)
		memcpy(a->stack[i], hashes[i], MERKLE_HASH_LEN);
	a->size = size;
	return 0;
}

void merkle_root(const merkle_hash *leaves, uint64_t n, merkle_hash out)
{
	struct merkle_acc a;
	merkle_acc_init(&a);
	for (uint64_t i = 0; i < n; i++)
		(void)merkle_acc_push(&a, leaves[i], NULL, NULL);
	merkle_acc_root(&a, out);
}

/* --- verification (RFC 9162 §2.1.3.2, §2.1.4.2) --------------------------- */

int merkle_verify_inclusion(uint64_t index, uint64_t size, const merkle_hash leaf,
			    const merkle_hash *proof, size_t proof_len, const merkle_hash root,
			    struct pv_error *err)
{
	merkle_hash r;
	if (index >= size)
		return pv_fail(err, PV_EINTEGRITY, "inclusion: index %llu not below tree size %llu",
			       (unsigned long long)index, (unsigned long long)size);
	if (proof_len > PV_PROOF_HASHES_MAX)
		return pv_fail(err, PV_EINTEGRITY, "inclusion: proof of %zu hashes is too long",
			       proof_len);
	uint64_t fn = index, sn = size - 1;
	memcpy(r, leaf, MERKLE_HASH_LEN);
	for (size_t i = 0; i < proof_len; i++) {
		if (sn == 0)
			return pv_fail(err, PV_EINTEGRITY, "inclusion: proof has %zu extra hashes",
				       proof_len - i);
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], r, r);
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			merkle_node_hash(r, proof[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return pv_fail(err, PV_EINTEGRITY, "inclusion: proof is too short");
	if (sodium_memcmp(r, root, MERKLE_HASH_LEN) != 0)
		return pv_fail(err, PV_EINTEGRITY, "inclusion: computed root does not match");
	return 0;
}

int merkle_verify_consistency(uint64_t size1, uint64_t size2, const merkle_hash *proof,
			      size_t proof_len, const merkle_hash root1, const merkle_hash root2,
			      struct pv_error *err)
{
	merkle_hash fr, sr;
	if (size1 > size2)
		return pv_fail(err, PV_EINTEGRITY, "consistency: size %llu shrank to %llu",
			       (unsigned long long)size1, (unsigned long long)size2);
	if (size1 == 0)
		return pv_fail(err, PV_EINTEGRITY,
			       "consistency: a proof from the empty tree proves nothing");
	if (proof_len > PV_PROOF_HASHES_MAX)
		return pv_fail(err, PV_EINTEGRITY, "consistency: proof of %zu hashes is too long",
			       proof_len);
	if (size1 == size2) {
		if (proof_len != 0)
			return pv_fail(err, PV_EINTEGRITY,
				       "consistency: equal sizes need an empty proof");
		if (sodium_memcmp(root1, root2, MERKLE_HASH_LEN) != 0)
			return pv_fail(err, PV_EINTEGRITY,
				       "consistency: equal sizes but different roots");
		return 0;
	}
	if (proof_len == 0)
		return pv_fail(err, PV_EINTEGRITY, "consistency: empty proof");

	/* Step 2: when size1 is a power of two its root is the first node of
	 * the path, so the proof omits it and we start from root1. */
	size_t i = 0;
	if ((size1 & (size1 - 1)) == 0) {
		memcpy(fr, root1, MERKLE_HASH_LEN);
	} else {
		memcpy(fr, proof[0], MERKLE_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, MERKLE_HASH_LEN);
	uint64_t fn = size1 - 1, sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < proof_len; i++) {
		if (sn == 0)
			return pv_fail(err, PV_EINTEGRITY, "consistency: proof has %zu extra hashes",
				       proof_len - i);
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], fr, fr);
			merkle_node_hash(proof[i], sr, sr);
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			merkle_node_hash(sr, proof[i], sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return pv_fail(err, PV_EINTEGRITY, "consistency: proof is too short");
	if (sodium_memcmp(fr, root1, MERKLE_HASH_LEN) != 0)
		return pv_fail(err, PV_EINTEGRITY, "consistency: old root does not match");
	if (sodium_memcmp(sr, root2, MERKLE_HASH_LEN) != 0)
		return pv_fail(err, PV_EINTEGRITY, "consistency: new root does not match");
	return 0;
}

/* --- construction ---------------------------------------------------------- */

/* Largest power of two strictly below n (n >= 2): the RFC's split point k. */
static uint64_t split_point(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

int merkle_range_hash(merkle_get_fn get, void *ctx, uint64_t lo, uint64_t hi, merkle_hash out,
		      struct pv_error *err)
{
	merkle_hash parts[64];
	unsigned n = 0;
	int r;

	if (lo >= hi)
		return pv_fail(err, PV_ERR, "merkle: empty range [%llu, %llu)",
			       (unsigned long long)lo, (unsigned long long)hi);
	uint64_t size = hi - lo;
	unsigned top = 63 - (unsigned)__builtin_clzll(size);
	if (lo & (((uint64_t)1 << top) - 1))
		return pv_fail(err, PV_ERR, "merkle: range [%llu, %llu) is not aligned",
			       (unsigned long long)lo, (unsigned long long)hi);
	/* Complete subtrees for each set bit of size, largest first. */
	uint64_t pos = lo;
	for (unsigned b = top + 1; b-- > 0;) {
		if (!((size >> b) & 1))
			continue;
		if ((r = get(ctx, b, pos >> b, parts[n], err)) < 0)
			return r;
		n++;
		pos += (uint64_t)1 << b;
	}
	memcpy(out, parts[n - 1], MERKLE_HASH_LEN);
	for (unsigned i = n - 1; i-- > 0;)
		merkle_node_hash(parts[i], out, out);
	return 0;
}

static void reverse(merkle_hash *p, size_t n)
{
	merkle_hash t;
	for (size_t i = 0; i < n / 2; i++) {
		memcpy(t, p[i], MERKLE_HASH_LEN);
		memcpy(p[i], p[n - 1 - i], MERKLE_HASH_LEN);
		memcpy(p[n - 1 - i], t, MERKLE_HASH_LEN);
	}
}

int merkle_inclusion_proof(merkle_get_fn get, void *ctx, uint64_t index, uint64_t size,
			   merkle_hash *proof_r, size_t *len_r, struct pv_error *err)
{
	uint64_t lo = 0, hi = size;
	size_t n = 0;
	int r;

	*len_r = 0;
	if (index >= size)
		return pv_fail(err, PV_ENOTFOUND, "no leaf %llu in a tree of size %llu",
			       (unsigned long long)index, (unsigned long long)size);
	/* Walk from the root down; the RFC lists siblings leaf-first, so the
	 * collected path is reversed at the end. */
	while (hi - lo > 1) {
		uint64_t k = split_point(hi - lo);
		if (n >= PV_PROOF_HASHES_MAX)
			return pv_fail(err, PV_ELIMIT, "inclusion proof too long");
		if (index < lo + k) {
			r = merkle_range_hash(get, ctx, lo + k, hi, proof_r[n], err);
			hi = lo + k;
		} else {
			r = merkle_range_hash(get, ctx, lo, lo + k, proof_r[n], err);
			lo += k;
		}
		if (r < 0)
			return r;
		n++;
	}
	reverse(proof_r, n);
	*len_r = n;
	return 0;
}

int merkle_consistency_proof(merkle_get_fn get, void *ctx, uint64_t size1, uint64_t size2,
			     merkle_hash *proof_r, size_t *len_r, struct pv_error *err)
{
	uint64_t m = size1, lo = 0, hi = size2;
	int whole = 1; /* the RFC's flag b: m is still the original old tree */
	size_t n = 0;
	int r;

	*len_r = 0;
	if (size1 == 0 || size1 > size2)
		return pv_fail(err, PV_ERR, "no consistency proof from %llu to %llu",
			       (unsigned long long)size1, (unsigned long long)size2);
	if (size1 == size2)
		return 0;
	/* SUBPROOF(m, D[lo:hi], b), unrolled: siblings collected top-down;
	 * the final node (if any) comes first in the proof. */
	for (;;) {
		if (n >= PV_PROOF_HASHES_MAX)
			return pv_fail(err, PV_ELIMIT, "consistency proof too long");
		if (m == hi - lo) {
			if (whole)
				break;
			if ((r = merkle_range_hash(get, ctx, lo, hi, proof_r[n], err)) < 0)
				return r;
			n++;
			break;
		}
		uint64_t k = split_point(hi - lo);
		if (m <= k) {
			r = merkle_range_hash(get, ctx, lo + k, hi, proof_r[n], err);
			hi = lo + k;
		} else {
			r = merkle_range_hash(get, ctx, lo, lo + k, proof_r[n], err);
			m -= k;
			lo += k;
			whole = 0;
		}
		if (r < 0)
			return r;
		n++;
	}
	reverse(proof_r, n);
	*len_r = n;
	return 0;
}

size_t merkle_inclusion_proof_len(uint64_t index, uint64_t size)
{
	uint64_t lo = 0, hi = size;
	size_t n = 0;
	if (index >= size)
		return 0;
	while (hi - lo > 1) {
		uint64_t k = split_point(hi - lo);
		if (index < lo + k)
			hi = lo + k;
		else
			lo += k;
		n++;
	}
	return n;
}

size_t merkle_consistency_proof_len(uint64_t size1, uint64_t size2)
{
	uint64_t m = size1, lo = 0, hi = size2;
	int whole = 1;
	size_t n = 0;
	if (size1 == 0 || size1 >= size2)
		return 0;
	while (m != hi - lo) {
		uint64_t k = split_point(hi - lo);
		if (m <= k) {
			hi = lo + k;
		} else {
			m -= k;
			lo += k;
			whole = 0;
		}
		n++;
	}
	return n + !whole;
}
