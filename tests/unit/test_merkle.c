/* Unit tests for audit/merkle: RFC 6962/9162 known answers from the
 * transparency-dev vectors ($POPVAULT_VECTORS/merkle), and properties of
 * the proof construction and verification over random trees. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "archiver/lib/limits.h"
#include "audit/merkle.h"

/* --- vector loading --------------------------------------------------------- */

static void vectors_dir(const char *sub, char *out, size_t n)
{
	const char *base = getenv("POPVAULT_VECTORS");
	if (base == NULL || base[0] == '\0')
		base = "/work/shared/vectors";
	snprintf(out, n, "%s/merkle/%s", base, sub);
}

/* Reads the decimal value of "key": from the raw JSON text. jansson holds
 * integers as signed 64-bit and refuses 18446744073709551615, which the
 * vectors use for "index minus one". */
static uint64_t raw_uint(const char *text, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(text, pat);
	assert_non_null(p);
	p += strlen(pat);
	while (*p == ' ')
		p++;
	assert_true(*p >= '0' && *p <= '9');
	errno = 0;
	char *end;
	unsigned long long v = strtoull(p, &end, 10);
	assert_int_equal(errno, 0);
	return v;
}

/* A hash field. Values that decode to 32 bytes are used as they are.
 * Others cannot be SHA-256 outputs; the vectors use them as placeholders
 * ("don't care") where only equality matters. We hold hashes in 32-byte
 * arrays, so such a value maps to SHA-256("placeholder" || bytes): equal
 * placeholders stay equal, different ones differ, and none can equal a
 * hash the verifier computes. */
static void hash_field(json_t *v, merkle_hash out)
{
	unsigned char bin[256];
	size_t len = 0;
	const char *s = json_string_value(v);
	assert_non_null(s);
	assert_int_equal(sodium_base642bin(bin, sizeof(bin), s, strlen(s), NULL, &len, NULL,
					   sodium_base64_VARIANT_ORIGINAL),
			 0);
	if (len == MERKLE_HASH_LEN) {
		memcpy(out, bin, MERKLE_HASH_LEN);
		return;
	}
	unsigned char tagged[256 + 11];
	memcpy(tagged, "placeholder", 11);
	memcpy(tagged + 11, bin, len);
	merkle_sha256(tagged, 11 + len, out);
}

static int exact_hash(json_t *v, merkle_hash out)
{
	const char *s = json_string_value(v);
	size_t len = 0;
	assert_non_null(s);
	if (sodium_base642bin(out, MERKLE_HASH_LEN, s, strlen(s), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != MERKLE_HASH_LEN)
		return -1;
	return 0;
}

/* A proof: null or an array. A component that is not 32 bytes is a parse
 * error (a proof parser must reject it), reported as -1. */
static int proof_field(json_t *v, merkle_hash *proof, size_t *n)
{
	*n = 0;
	if (json_is_null(v))
		return 0;
	assert_true(json_is_array(v));
	if (json_array_size(v) > PV_PROOF_HASHES_MAX)
		return -1;
	for (size_t i = 0; i < json_array_size(v); i++) {
		if (exact_hash(json_array_get(v, i), proof[i]) != 0)
			return -1;
	}
	*n = json_array_size(v);
	return 0;
}

struct vec_stats {
	int good, bad;
};

typedef void (*vec_fn)(const char *path, const char *text, json_t *j, struct vec_stats *st);

static void walk(const char *dir, vec_fn fn, struct vec_stats *st)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		fail_msg("vectors directory %s: %s (missing vectors are a failure)", dir,
			 strerror(errno));
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct stat sb;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(stat(path, &sb), 0);
		if (S_ISDIR(sb.st_mode)) {
			walk(path, fn, st);
			continue;
		}
		size_t nl = strlen(e->d_name);
		if (nl < 5 || strcmp(e->d_name + nl - 5, ".json") != 0)
			continue;
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		static char text[1 << 16];
		size_t len = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[len] = '\0';
		json_error_t jerr;
		json_t *j = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, &jerr);
		if (j == NULL)
			fail_msg("%s: %s", path, jerr.text);
		fn(path, text, j, st);
		json_decref(j);
	}
	closedir(d);
}

static void check_inclusion_vector(const char *path, const char *text, json_t *j,
				   struct vec_stats *st)
{
	merkle_hash root, leaf, proof[PV_PROOF_HASHES_MAX];
	size_t n;
	struct pv_error err;
	int want_err = json_is_true(json_object_get(j, "wantErr"));
	uint64_t index = raw_uint(text, "leafIdx"), size = raw_uint(text, "treeSize");

	hash_field(json_object_get(j, "root"), root);
	int r = proof_field(json_object_get(j, "proof"), proof, &n);
	/* The leaf hash is an input to hashing, not a compared value: one that
	 * is not 32 bytes is malformed (as in transparency-dev's verifier). */
	if (r == 0)
		r = exact_hash(json_object_get(j, "leafHash"), leaf);
	if (r == 0)
		r = merkle_verify_inclusion(index, size, leaf, proof, n, root, &err);
	if (want_err && r == 0)
		fail_msg("%s: tampered inclusion proof was accepted", path);
	if (!want_err && r != 0)
		fail_msg("%s: good inclusion proof rejected: %s", path, err.msg);
	if (want_err)
		st->bad++;
	else
		st->good++;
}

static void check_consistency_vector(const char *path, const char *text, json_t *j,
				     struct vec_stats *st)
{
	merkle_hash root1, root2, proof[PV_PROOF_HASHES_MAX];
	size_t n;
	struct pv_error err;
	int want_err = json_is_true(json_object_get(j, "wantErr"));
	uint64_t size1 = raw_uint(text, "size1"), size2 = raw_uint(text, "size2");

	hash_field(json_object_get(j, "root1"), root1);
	hash_field(json_object_get(j, "root2"), root2);
	int r = proof_field(json_object_get(j, "proof"), proof, &n);
	if (r == 0)
		r = merkle_verify_consistency(size1, size2, proof, n, root1, root2, &err);
	if (want_err && r == 0)
		fail_msg("%s: tampered consistency proof was accepted", path);
	if (!want_err && r != 0)
		fail_msg("%s: good consistency proof rejected: %s", path, err.msg);
	if (want_err)
		st->bad++;
	else
		st->good++;
}

static void test_vectors_inclusion_known_answers(void **state)
{
	(void)state;
	char dir[4096];
	struct vec_stats st = {0, 0};
	vectors_dir("inclusion", dir, sizeof(dir));
	walk(dir, check_inclusion_vector, &st);
	/* The shared set holds 6 good and 92 tampered inclusion vectors; a
	 * walk that finds fewer read the wrong directory. */
	assert_true(st.good >= 6);
	assert_true(st.bad >= 92);
}

static void test_vectors_consistency_known_answers(void **state)
{
	(void)state;
	char dir[4096];
	struct vec_stats st = {0, 0};
	vectors_dir("consistency", dir, sizeof(dir));
	walk(dir, check_consistency_vector, &st);
	assert_true(st.good >= 6);
	assert_true(st.bad >= 92);
}

/* The vectors' trees are built from RFC 6962's eight test leaves; the good
 * vectors' roots must equal the roots we compute from those leaves. Guards
 * against a root function that only agrees with our own proofs. */
static const char *const rfc_leaves_hex[8] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};

static void rfc_leaf_hashes(merkle_hash out[8])
{
	for (int i = 0; i < 8; i++) {
		unsigned char bin[16];
		size_t len = 0;
		const char *h = rfc_leaves_hex[i];
		assert_int_equal(sodium_hex2bin(bin, sizeof(bin), h, strlen(h), NULL, &len, NULL), 0);
		merkle_leaf_hash(bin, len, out[i]);
	}
}

static int roots_checked;

static void check_root_from_rfc_leaves(const char *path, const char *text, json_t *j,
				       struct vec_stats *st)
{
	(void)path;
	(void)st;
	merkle_hash leaves[8], want, got;
	if (json_is_true(json_object_get(j, "wantErr")))
		return;
	uint64_t size = raw_uint(text, "treeSize");
	if (size == 0 || size > 8 || strstr(path, "/additional/") || strstr(path, "single-entry"))
		return;
	rfc_leaf_hashes(leaves);
	hash_field(json_object_get(j, "root"), want);
	merkle_root(leaves, size, got);
	assert_memory_equal(got, want, MERKLE_HASH_LEN);
	uint64_t index = raw_uint(text, "leafIdx");
	merkle_hash leaf;
	hash_field(json_object_get(j, "leafHash"), leaf);
	assert_memory_equal(leaf, leaves[index], MERKLE_HASH_LEN);
	roots_checked++;
}

static void test_root_of_rfc6962_leaves_matches_vectors(void **state)
{
	(void)state;
	char dir[4096];
	struct vec_stats st = {0, 0};
	vectors_dir("inclusion", dir, sizeof(dir));
	roots_checked = 0;
	walk(dir, check_root_from_rfc_leaves, &st);
	assert_true(roots_checked >= 4);
}

static void test_empty_tree_root_is_sha256_of_nothing(void **state)
{
	(void)state;
	merkle_hash a, b;
	/* RFC 9162 §2.1.1; Go's x/mod TreeHash(0) returns zeros instead. */
	merkle_empty_root(a);
	crypto_hash_sha256(b, (const unsigned char *)"", 0);
	assert_memory_equal(a, b, MERKLE_HASH_LEN);
	merkle_root(NULL, 0, a);
	assert_memory_equal(a, b, MERKLE_HASH_LEN);
}

static void test_leaf_and_node_hashes_are_domain_separated(void **state)
{
	(void)state;
	/* A leaf whose data is 0x01||l||r must not hash like the node (l, r):
	 * the 0x00/0x01 prefixes are what stop second-preimage tricks. */
	merkle_hash l, r, node, leaf, ref;
	unsigned char buf[65];
	merkle_leaf_hash("a", 1, l);
	merkle_leaf_hash("b", 1, r);
	merkle_node_hash(l, r, node);
	buf[0] = 0x01;
	memcpy(buf + 1, l, 32);
	memcpy(buf + 33, r, 32);
	crypto_hash_sha256(ref, buf, 65);
	assert_memory_equal(node, ref, 32);
	merkle_leaf_hash(buf + 1, 64, leaf);
	assert_memory_not_equal(leaf, node, 32);
	buf[0] = 0x00;
	buf[1] = 'a';
	crypto_hash_sha256(ref, buf, 2);
	assert_memory_equal(l, ref, 32);
}

/* --- properties over random trees -------------------------------------------- */

struct mem_tree {
	merkle_hash *leaves;
	uint64_t n, cap;
	unsigned calls;
};

static int mem_get(void *ctx, unsigned level, uint64_t index, merkle_hash out,
		   struct pv_error *err)
{
	struct mem_tree *t = ctx;
	uint64_t lo = index << level, w = (uint64_t)1 << level;
	t->calls++;
	if (lo + w > t->n)
		return pv_fail(err, PV_ERR, "subtree (%u,%llu) beyond size", level,
			       (unsigned long long)index);
	merkle_root(t->leaves + lo, w, out);
	return 0;
}

static uint64_t rnd(uint64_t n)
{
	return n == 0 ? 0 : randombytes_uniform((uint32_t)n);
}

static void flip_bit(merkle_hash h, unsigned bit)
{
	h[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

static void check_tree(struct mem_tree *t, uint64_t n)
{
	merkle_hash root, proof[PV_PROOF_HASHES_MAX], r1;
	size_t len;
	struct pv_error err;
	t->n = n;
	merkle_root(t->leaves, n, root);

	for (int s = 0; s < 6; s++) {
		uint64_t i = s == 0 ? 0 : s == 1 ? n - 1 : rnd(n);
		assert_int_equal(merkle_inclusion_proof(mem_get, t, i, n, proof, &len, &err), 0);
		assert_int_equal(len, merkle_inclusion_proof_len(i, n));
		if (merkle_verify_inclusion(i, n, t->leaves[i], proof, len, root, &err) != 0)
			fail_msg("n=%llu i=%llu: %s", (unsigned long long)n, (unsigned long long)i,
				 err.msg);
		/* Wrong index, wrong size, one hash too few or too many. */
		if (n > 1)
			assert_int_not_equal(merkle_verify_inclusion((i + 1) % n, n, t->leaves[i],
								     proof, len, root, &err), 0);
		/* The proof for size n against the checkpoint of size n + 1 (the
		 * size alone does not bind: the root does). */
		if (n < t->cap) {
			merkle_root(t->leaves, n + 1, r1);
			assert_int_not_equal(merkle_verify_inclusion(i, n + 1, t->leaves[i], proof,
								     len, r1, &err), 0);
		}
		if (len > 0)
			assert_int_not_equal(merkle_verify_inclusion(i, n, t->leaves[i], proof,
								     len - 1, root, &err), 0);
		memcpy(proof[len], root, 32);
		assert_int_not_equal(merkle_verify_inclusion(i, n, t->leaves[i], proof, len + 1,
							     root, &err), 0);
		/* One flipped bit anywhere: in the proof, the leaf, the root. */
		for (int k = 0; k < 4; k++) {
			unsigned bit = (unsigned)rnd(256);
			merkle_hash leaf, rt;
			memcpy(leaf, t->leaves[i], 32);
			memcpy(rt, root, 32);
			if (len > 0) {
				size_t which = rnd(len);
				flip_bit(proof[which], bit);
				assert_int_not_equal(merkle_verify_inclusion(i, n, leaf, proof, len,
									     rt, &err), 0);
				flip_bit(proof[which], bit);
			}
			flip_bit(leaf, bit);
			assert_int_not_equal(merkle_verify_inclusion(i, n, leaf, proof, len, rt, &err), 0);
			flip_bit(leaf, bit);
			flip_bit(rt, bit);
			assert_int_not_equal(merkle_verify_inclusion(i, n, leaf, proof, len, rt, &err), 0);
		}
	}

	for (int s = 0; s < 6; s++) {
		uint64_t m = s == 0 ? 1 : s == 1 ? n : 1 + rnd(n);
		merkle_root(t->leaves, m, r1);
		assert_int_equal(merkle_consistency_proof(mem_get, t, m, n, proof, &len, &err), 0);
		assert_int_equal(len, merkle_consistency_proof_len(m, n));
		if (merkle_verify_consistency(m, n, proof, len, r1, root, &err) != 0)
			fail_msg("m=%llu n=%llu: %s", (unsigned long long)m, (unsigned long long)n,
				 err.msg);
		if (m < n) {
			/* Claiming a different old size must fail. */
			if (m > 1)
				assert_int_not_equal(
					merkle_verify_consistency(m - 1, n, proof, len, r1, root, &err), 0);
			assert_int_not_equal(merkle_verify_consistency(n, m, proof, len, root, r1, &err),
					     0);
		}
		for (int k = 0; k < 4; k++) {
			unsigned bit = (unsigned)rnd(256);
			if (len > 0) {
				size_t which = rnd(len);
				flip_bit(proof[which], bit);
				assert_int_not_equal(
					merkle_verify_consistency(m, n, proof, len, r1, root, &err), 0);
				flip_bit(proof[which], bit);
			}
			flip_bit(r1, bit);
			assert_int_not_equal(merkle_verify_consistency(m, n, proof, len, r1, root, &err),
					     0);
			flip_bit(r1, bit);
			flip_bit(root, bit);
			assert_int_not_equal(merkle_verify_consistency(m, n, proof, len, r1, root, &err),
					     0);
			flip_bit(root, bit);
		}
	}
}

static void test_random_trees_proofs_verify_and_bit_flips_fail(void **state)
{
	(void)state;
	enum { MAX = 3000 };
	struct mem_tree t = {calloc(MAX, sizeof(merkle_hash)), 0, MAX, 0};
	assert_non_null(t.leaves);
	for (uint64_t i = 0; i < MAX; i++) {
		uint64_t v = i * 2654435761u;
		merkle_leaf_hash(&v, sizeof(v), t.leaves[i]);
	}
	/* Every small size (all split shapes), then random ones. */
	for (uint64_t n = 1; n <= 70; n++)
		check_tree(&t, n);
	for (int k = 0; k < 25; k++)
		check_tree(&t, 1 + rnd(MAX));
	check_tree(&t, 1024);
	check_tree(&t, 2048);
	free(t.leaves);
}

struct acc_seen {
	int count[8];
	const merkle_hash *leaves;
	int bad;
};

static int acc_cb(void *ctx, unsigned level, uint64_t index, const merkle_hash h)
{
	struct acc_seen *s = ctx;
	merkle_hash want;
	merkle_root(s->leaves + (index << level), (uint64_t)1 << level, want);
	if (memcmp(want, h, 32) != 0)
		s->bad++;
	s->count[level]++;
	return 0;
}

static void test_accumulator_reports_every_complete_subtree(void **state)
{
	(void)state;
	/* tlog_verify checks stored interior hashes through this callback; a
	 * missed or wrong subtree would leave a stored hash unchecked. */
	enum { N = 37 };
	merkle_hash leaves[N], want, got;
	struct merkle_acc a;
	struct acc_seen seen = {{0}, leaves, 0};
	for (int i = 0; i < N; i++)
		merkle_leaf_hash(&i, sizeof(i), leaves[i]);
	merkle_acc_init(&a);
	for (int i = 0; i < N; i++) {
		assert_int_equal(merkle_acc_push(&a, leaves[i], acc_cb, &seen), 0);
		merkle_root(leaves, (uint64_t)i + 1, want);
		merkle_acc_root(&a, got);
		assert_memory_equal(got, want, 32);
	}
	assert_int_equal(seen.bad, 0);
	for (int l = 0; l < 6; l++)
		assert_int_equal(seen.count[l], N >> l);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_inclusion_known_answers),
		cmocka_unit_test(test_vectors_consistency_known_answers),
		cmocka_unit_test(test_root_of_rfc6962_leaves_matches_vectors),
		cmocka_unit_test(test_empty_tree_root_is_sha256_of_nothing),
		cmocka_unit_test(test_leaf_and_node_hashes_are_domain_separated),
		cmocka_unit_test(test_random_trees_proofs_verify_and_bit_flips_fail),
		cmocka_unit_test(test_accumulator_reports_every_complete_subtree),
	};
	return cmocka_run_group_tests_name("merkle", tests, NULL, NULL);
}
