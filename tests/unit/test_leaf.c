/* Archive-log leaves: canonical text round trip; anything else rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "archiver/store/leaf.h"
#include "archiver/store/leaf_commit.h"

static const char message_leaf[] =
	"popvault/archive/v1 message\nseq 17\ntime 2026-11-22T10:00:00Z\n"
	"mailbox 0123456789abcdef0123456789abcdef\nclass sec-7y\n"
	"ct 1111111111111111111111111111111111111111111111111111111111111111\n"
	"commit 2222222222222222222222222222222222222222222222222222222222222222\n";

static void test_message_leaf_round_trip(void **state)
{
	(void)state;
	struct archive_leaf l;
	struct pv_error err;
	struct pv_buf b;
	assert_int_equal(archive_leaf_parse(message_leaf, strlen(message_leaf), &l, &err), PV_OK);
	assert_int_equal(l.kind, LEAF_MESSAGE);
	assert_int_equal(l.seq, 17);
	assert_string_equal(l.class_name, "sec-7y");
	pv_buf_init(&b, LEAF_MAX);
	assert_int_equal(archive_leaf_format(&l, &b, &err), PV_OK);
	assert_string_equal(pv_buf_str(&b), message_leaf);
	pv_buf_free(&b);
}

static void test_tombstone_round_trip(void **state)
{
	(void)state;
	struct archive_leaf l = {.kind = LEAF_TOMBSTONE, .seq = 4, .time = 1900000000, .policy = 3};
	struct archive_leaf back;
	struct pv_error err;
	struct pv_buf b;
	strcpy(l.reason, "expired under rule default");
	pv_buf_init(&b, LEAF_MAX);
	assert_int_equal(archive_leaf_format(&l, &b, &err), PV_OK);
	assert_int_equal(archive_leaf_parse((const char *)b.data, b.len, &back, &err), PV_OK);
	assert_int_equal(back.kind, LEAF_TOMBSTONE);
	assert_int_equal(back.policy, 3);
	assert_string_equal(back.reason, l.reason);
	pv_buf_free(&b);
}

static void test_non_canonical_leaves_rejected(void **state)
{
	(void)state;
	struct archive_leaf l;
	struct pv_error err;
	char buf[1024];
	static const struct {
		const char *from, *to;
	} edits[] = {
		{"seq 17", "seq 017"},          /* leading zero */
		{"seq 17", "seq -17"},          /* sign */
		{"\nclass", "\r\nclass"},       /* CR */
		{"message\n", "message \n"},    /* trailing space */
		{"ct 1111", "ct 111"},          /* short hash */
		{"v1 message", "v2 message"},   /* unknown version */
		{"10:00:00Z", "10:00:00+00:00"},/* other time form */
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const char *at = strstr(message_leaf, edits[i].from);
		assert_non_null(at);
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - message_leaf), message_leaf,
			 edits[i].to, at + strlen(edits[i].from));
		assert_int_equal(archive_leaf_parse(buf, strlen(buf), &l, &err), PV_EINTEGRITY);
	}
	/* Trailing bytes and truncation. */
	snprintf(buf, sizeof(buf), "%sx\n", message_leaf);
	assert_int_equal(archive_leaf_parse(buf, strlen(buf), &l, &err), PV_EINTEGRITY);
	assert_int_equal(archive_leaf_parse(message_leaf, strlen(message_leaf) - 1, &l, &err), PV_EINTEGRITY);
}

static const char message_leaf_v2[] =
	"popvault/archive/v2 message\nseq 18\ntime 2026-11-22T10:00:00Z\n"
	"mailbox 0123456789abcdef0123456789abcdef\nclass default\nsize 286\n"
	"ct 1111111111111111111111111111111111111111111111111111111111111111\n"
	"commit 2222222222222222222222222222222222222222222222222222222222222222\n";

/* v2 commits to the plaintext size; v1 leaves (no size) stay readable and
 * are written back byte for byte in v1. */
static void test_v2_leaf_carries_the_size(void **state)
{
	(void)state;
	struct archive_leaf l;
	struct pv_error err;
	struct pv_buf b;
	assert_int_equal(archive_leaf_parse(message_leaf_v2, strlen(message_leaf_v2), &l, &err), PV_OK);
	assert_int_equal(l.version, 2);
	assert_true(l.has_size);
	assert_int_equal(l.size, 286);
	pv_buf_init(&b, LEAF_MAX);
	assert_int_equal(archive_leaf_format(&l, &b, &err), PV_OK);
	assert_string_equal(pv_buf_str(&b), message_leaf_v2);
	/* version 0 formats the current version: v3, v2's lines under its own
	 * magic (its commit is over the plaintext's SHA-256, leaf_commit.h) */
	l.version = 0;
	assert_int_equal(archive_leaf_format(&l, &b, &err), PV_OK);
	assert_string_equal(pv_buf_str(&b) + strlen("popvault/archive/v3"),
			    message_leaf_v2 + strlen("popvault/archive/v2"));
	assert_memory_equal(pv_buf_str(&b), "popvault/archive/v3 message\n", 28);
	struct archive_leaf l3;
	assert_int_equal(archive_leaf_parse(pv_buf_str(&b), b.len, &l3, &err), PV_OK);
	assert_int_equal(l3.version, 3);
	assert_true(l3.has_size);
	assert_int_equal(l3.size, 286);
	assert_string_equal(l3.commit, l.commit);
	assert_int_equal(archive_leaf_parse(message_leaf, strlen(message_leaf), &l, &err), PV_OK);
	assert_int_equal(l.version, 1);
	assert_false(l.has_size);
	assert_int_equal(archive_leaf_format(&l, &b, &err), PV_OK);
	assert_string_equal(pv_buf_str(&b), message_leaf);
	pv_buf_free(&b);
}

static void test_v2_leaf_must_be_canonical(void **state)
{
	(void)state;
	struct archive_leaf l;
	struct pv_error err;
	char buf[1024];
	static const struct {
		const char *from, *to;
	} edits[] = {
		{"size 286\n", ""},              /* v2 without its size */
		{"size 286", "size 0286"},        /* leading zero */
		{"size 286", "size -286"},        /* sign */
		{"size 286", "size 286 "},        /* trailing space */
		{"size 286", "size"},             /* no value */
		{"size 286", "size 99999999999999999999"}, /* out of range */
		{"class default\nsize 286", "size 286\nclass default"}, /* order */
		{"v2 message", "v4 message"},     /* unknown version */
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const char *at = strstr(message_leaf_v2, edits[i].from);
		assert_non_null(at);
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - message_leaf_v2), message_leaf_v2,
			 edits[i].to, at + strlen(edits[i].from));
		assert_int_equal(archive_leaf_parse(buf, strlen(buf), &l, &err), PV_EINTEGRITY);
	}
	/* a v1 leaf with a size line, and a v2 tombstone, are not leaves */
	const char *at = strstr(message_leaf, "ct ");
	snprintf(buf, sizeof(buf), "%.*ssize 286\n%s", (int)(at - message_leaf), message_leaf, at);
	assert_int_equal(archive_leaf_parse(buf, strlen(buf), &l, &err), PV_EINTEGRITY);
	snprintf(buf, sizeof(buf), "popvault/archive/v2 tombstone\nseq 4\ntime 2030-03-17T08:26:40Z\n"
				   "policy 3\nreason expired\n");
	assert_int_equal(archive_leaf_parse(buf, strlen(buf), &l, &err), PV_EINTEGRITY);
	buf[18] = '1';
	assert_int_equal(archive_leaf_parse(buf, strlen(buf), &l, &err), PV_OK);
	/* v3 has v2's lines: without its size it is no leaf, nor a v3 tombstone */
	at = strstr(message_leaf_v2, "size 286\n");
	snprintf(buf, sizeof(buf), "%.*s%s", (int)(at - message_leaf_v2), message_leaf_v2,
		 at + strlen("size 286\n"));
	buf[18] = '3';
	assert_int_equal(archive_leaf_parse(buf, strlen(buf), &l, &err), PV_EINTEGRITY);
	snprintf(buf, sizeof(buf), "popvault/archive/v3 tombstone\nseq 4\ntime 2030-03-17T08:26:40Z\n"
				   "policy 3\nreason expired\n");
	assert_int_equal(archive_leaf_parse(buf, strlen(buf), &l, &err), PV_EINTEGRITY);
}

/* The commitment of each version, against libsodium's one-shot functions:
 * v1 and v2 over the bytes, v3 over their SHA-256; streamed in pieces,
 * hashing the bytes itself or given the SHA-256 the caller made, the
 * same. */
static void test_leaf_commitment_by_version(void **state)
{
	(void)state;
	unsigned char salt[BLOB_SALT_BYTES], msg[100000], sha[32], want2[32], want3[32], got[32];
	struct leaf_commit c;
	struct pv_error err;
	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (unsigned char)(7 * i + 1);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 2654435761u >> 13);
	crypto_generichash(want2, 32, msg, sizeof(msg), salt, sizeof(salt));
	crypto_hash_sha256(sha, msg, sizeof(msg));
	crypto_generichash(want3, 32, sha, sizeof(sha), salt, sizeof(salt));
	assert_memory_not_equal(want2, want3, 32);
	for (int known = 0; known <= 1; known++) {
		for (int version = 1; version <= 3; version++) {
			assert_int_equal(leaf_commit_begin(&c, version, salt, known, &err), PV_OK);
			for (size_t off = 0; off < sizeof(msg); off += 7777)
				leaf_commit_update(&c, msg + off,
						   sizeof(msg) - off < 7777 ? sizeof(msg) - off : 7777);
			leaf_commit_end(&c, known ? sha : NULL, got);
			assert_memory_equal(got, version == 3 ? want3 : want2, 32);
			assert_int_equal(leaf_commit_via_sha256(version), version == 3);
		}
	}
	/* given, the SHA-256 is what a v3 commitment is made from */
	unsigned char other[32];
	memcpy(other, sha, sizeof(other));
	other[5] ^= 1;
	assert_int_equal(leaf_commit_begin(&c, 3, salt, true, &err), PV_OK);
	leaf_commit_update(&c, msg, sizeof(msg));
	leaf_commit_end(&c, other, got);
	assert_memory_not_equal(got, want3, 32);
	leaf_commit_of_sha256(salt, sha, got);
	assert_memory_equal(got, want3, 32);
	blob_commitment(salt, msg, sizeof(msg), got); /* what new leaves carry */
	assert_memory_equal(got, want3, 32);
	/* another salt, another commitment */
	salt[0] ^= 1;
	leaf_commit_of_sha256(salt, sha, got);
	assert_memory_not_equal(got, want3, 32);
	/* an abandoned one is released (LeakSanitizer watches) */
	assert_int_equal(leaf_commit_begin(&c, 2, salt, false, &err), PV_OK);
	leaf_commit_update(&c, msg, 10);
	leaf_commit_abort(&c);
	assert_int_equal(leaf_commit_begin(&c, 3, salt, false, &err), PV_OK);
	leaf_commit_abort(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_leaf_round_trip),
		cmocka_unit_test(test_tombstone_round_trip),
		cmocka_unit_test(test_non_canonical_leaves_rejected),
		cmocka_unit_test(test_v2_leaf_carries_the_size),
		cmocka_unit_test(test_v2_leaf_must_be_canonical),
		cmocka_unit_test(test_leaf_commitment_by_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
