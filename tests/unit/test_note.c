/* Unit tests for audit/note: C2SP signed-note known answers, strict
 * parsing (the note-malleability attacks in ARCHITECTURE.md §4), key formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/checkpoint.h"
#include "audit/note.h"

/* The example of c2sp.org/signed-note ("Verifier keys" example). */
static const char spec_vkey[] =
	"example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
static const char spec_note[] =
	"This is an example message.\n"
	"\n"
	"\xe2\x80\x94 example.com/foo "
	"Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

/* The example in the package documentation of Go's golang.org/x/mod
 * sumdb/note, which includes the signing key: signing must reproduce the
 * published signature byte for byte (Ed25519 is deterministic). */
static const char go_skey[] =
	"PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char go_vkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char enoch_vkey[] = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
static const char go_text[] = "If you think cryptography is the answer to your problem,\n"
			      "then you don't know what your problem is.\n";
static const char go_sig_peter[] =
	"\xe2\x80\x94 PeterNeumann "
	"x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
static const char go_sig_enoch[] =
	"\xe2\x80\x94 EnochRoot "
	"rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

static struct note_verifier vk(const char *s)
{
	struct note_verifier v;
	struct pv_error err;
	if (note_verifier_parse(s, strlen(s), &v, &err) != 0)
		fail_msg("vkey %s: %s", s, err.msg);
	return v;
}

static int open_str(const char *note, const struct note_verifier *vs, size_t nv)
{
	size_t tl;
	struct pv_error err;
	return note_open(note, strlen(note), vs, nv, &tl, NULL, &err);
}

static void test_spec_example_note_verifies(void **state)
{
	(void)state;
	struct note_verifier v = vk(spec_vkey);
	size_t tl;
	bool ok[1];
	struct pv_error err;
	assert_int_equal(v.id, 0x530d903a);
	assert_string_equal(v.name, "example.com/foo");
	if (note_open(spec_note, strlen(spec_note), &v, 1, &tl, ok, &err) != 0)
		fail_msg("spec example: %s", err.msg);
	assert_int_equal(tl, strlen("This is an example message.\n"));
	assert_true(ok[0]);
}

static void test_spec_vkey_formats_back_identically(void **state)
{
	(void)state;
	struct note_verifier v = vk(spec_vkey);
	struct pv_buf b;
	struct pv_error err;
	pv_buf_init(&b, 1024);
	assert_int_equal(note_verifier_format(&v, &b, &err), 0);
	assert_string_equal(pv_buf_str(&b), spec_vkey);
	pv_buf_free(&b);
}

static void test_go_example_signature_is_reproduced_byte_for_byte(void **state)
{
	(void)state;
	struct note_signer s;
	struct note_verifier v, want = vk(go_vkey);
	struct pv_buf out, sk;
	struct pv_error err;
	char expect[1024];

	assert_int_equal(note_signer_parse(go_skey, strlen(go_skey), &s, &err), 0);
	note_signer_verifier(&s, &v);
	assert_memory_equal(&v, &want, sizeof(v));
	pv_buf_init(&out, 4096);
	assert_int_equal(note_sign(go_text, strlen(go_text), &s, &out, &err), 0);
	snprintf(expect, sizeof(expect), "%s\n%s", go_text, go_sig_peter);
	assert_string_equal(pv_buf_str(&out), expect);
	/* The private key string round-trips too. */
	pv_buf_init(&sk, 1024);
	assert_int_equal(note_signer_format(&s, &sk, &err), 0);
	assert_string_equal(pv_buf_str(&sk), go_skey);
	pv_buf_free_secret(&sk);
	note_signer_wipe(&s);
	pv_buf_free(&out);
}

static void test_two_signers_any_known_one_suffices(void **state)
{
	(void)state;
	char note[1024];
	struct note_verifier vs[2] = {vk(go_vkey), vk(enoch_vkey)};
	bool ok[2];
	size_t tl;
	struct pv_error err;
	snprintf(note, sizeof(note), "%s\n%s%s", go_text, go_sig_peter, go_sig_enoch);
	assert_int_equal(note_open(note, strlen(note), vs, 2, &tl, ok, &err), 0);
	assert_true(ok[0] && ok[1]);
	assert_int_equal(open_str(note, &vs[1], 1), 0);
	assert_int_equal(open_str(note, &vs[0], 1), 0);
	/* Only unknown keys: rejected. */
	struct note_verifier spec = vk(spec_vkey);
	assert_int_equal(open_str(note, &spec, 1), PV_EINTEGRITY);
	assert_int_equal(open_str(note, NULL, 0), PV_EINTEGRITY);
}

static void test_bad_signature_by_known_key_rejects_whole_note(void **state)
{
	(void)state;
	/* Enoch's signature line moved onto a different text: the good Peter
	 * signature must not rescue the note when Enoch is trusted too. */
	struct note_verifier vs[2] = {vk(go_vkey), vk(enoch_vkey)};
	struct note_signer s;
	struct pv_buf b;
	struct pv_error err;
	char note[2048];
	const char *text = "another text\n";
	assert_int_equal(note_signer_parse(go_skey, strlen(go_skey), &s, &err), 0);
	pv_buf_init(&b, 4096);
	assert_int_equal(note_sign(text, strlen(text), &s, &b, &err), 0);
	note_signer_wipe(&s);
	snprintf(note, sizeof(note), "%s%s", pv_buf_str(&b), go_sig_enoch);
	assert_int_equal(open_str(note, &vs[0], 1), 0);
	assert_int_equal(open_str(note, vs, 2), PV_EINTEGRITY);
	pv_buf_free(&b);
}

static void test_same_name_or_same_id_alone_is_an_unknown_key(void **state)
{
	(void)state;
	/* A key with the spec's name but another public key (so another id),
	 * and one with a forged matching id but another name: both unknown. */
	struct note_verifier v = vk(spec_vkey);
	struct note_verifier other_pk = v, other_name = v;
	other_pk.pk[0] ^= 1;
	other_pk.id = note_key_id(other_pk.name, other_pk.pk);
	assert_int_equal(open_str(spec_note, &other_pk, 1), PV_EINTEGRITY);
	snprintf(other_name.name, sizeof(other_name.name), "example.com/bar");
	assert_int_equal(open_str(spec_note, &other_name, 1), PV_EINTEGRITY);
	/* A known (name, id) with a different key: the signature fails. */
	struct note_verifier wrong = v;
	wrong.pk[5] ^= 0x40;
	assert_int_equal(open_str(spec_note, &wrong, 1), PV_EINTEGRITY);
}

static void expect_malformed(const char *what, const char *note, size_t len)
{
	struct note_verifier v = vk(spec_vkey);
	size_t tl, nsigs;
	struct pv_error err;
	if (note_open(note, len, &v, 1, &tl, NULL, &err) == 0)
		fail_msg("accepted a note with %s", what);
	if (note_split(note, len, &tl, &nsigs, &err) == 0)
		fail_msg("note_split accepted a note with %s", what);
}

static void test_malformed_notes_are_rejected(void **state)
{
	(void)state;
	const char *sig = strstr(spec_note, "\xe2\x80\x94");
	char b[4096];
	size_t n = strlen(spec_note);

	expect_malformed("no final newline", spec_note, n - 1);
	snprintf(b, sizeof(b), "This is an example message.\r\n\n%s", sig);
	expect_malformed("a CR", b, strlen(b));
	snprintf(b, sizeof(b), "This is an example message.\n\n%.*s\r\n", (int)strlen(sig) - 1, sig);
	expect_malformed("a CRLF signature line", b, strlen(b));
	snprintf(b, sizeof(b), "This is an\texample message.\n\n%s", sig);
	expect_malformed("a tab", b, strlen(b));
	snprintf(b, sizeof(b), "This is an \x01 example message.\n\n%s", sig);
	expect_malformed("a control character", b, strlen(b));
	snprintf(b, sizeof(b), "This is an \xc0\xae example message.\n\n%s", sig);
	expect_malformed("overlong UTF-8", b, strlen(b));
	snprintf(b, sizeof(b), "This is an \xed\xa0\x80 example message.\n\n%s", sig);
	expect_malformed("a UTF-16 surrogate", b, strlen(b));
	snprintf(b, sizeof(b), "This is an example message.\n%s", sig);
	expect_malformed("no blank line", b, strlen(b));
	snprintf(b, sizeof(b), "This is an example message.\n\n");
	expect_malformed("no signature", b, strlen(b));
	snprintf(b, sizeof(b), "%s\n", spec_note);
	expect_malformed("a trailing blank line", b, strlen(b));
	snprintf(b, sizeof(b), "%s%s", spec_note, sig);
	expect_malformed("a duplicate signature line", b, strlen(b));
	snprintf(b, sizeof(b), "This is an example message.\n\n- %s", sig + 4);
	expect_malformed("a hyphen for the em dash", b, strlen(b));
	snprintf(b, sizeof(b), "This is an example message.\n\n\xe2\x80\x94  %s", sig + 4);
	expect_malformed("an empty key name", b, strlen(b));
	snprintf(b, sizeof(b), "This is an example message.\n\n\xe2\x80\x94 a+b %s",
		 strchr(sig + 4, ' ') + 1);
	expect_malformed("a '+' in the key name", b, strlen(b));
	snprintf(b, sizeof(b), "This is an example message.\n\n\xe2\x80\x94 a\xc2\xa0"
			       "b %s", strchr(sig + 4, ' ') + 1);
	expect_malformed("a no-break space in the key name", b, strlen(b));
	snprintf(b, sizeof(b), "%.*s==\n", (int)n - 2, spec_note);
	expect_malformed("bad base64 padding", b, strlen(b));
	snprintf(b, sizeof(b), "%.*s*\n", (int)n - 2, spec_note);
	expect_malformed("a non-base64 character", b, strlen(b));
	snprintf(b, sizeof(b), "This is an example message.\n\n\xe2\x80\x94 example.com/foo AAAA\n");
	expect_malformed("a signature under five bytes", b, strlen(b));
}

static void test_signature_count_limit(void **state)
{
	(void)state;
	/* PV_NOTE_SIGNATURES_MAX lines pass (one of them good); one more fails. */
	struct pv_buf b;
	struct pv_error err;
	struct note_verifier v = vk(spec_vkey);
	size_t tl;
	pv_buf_init(&b, PV_NOTE_MAX);
	assert_int_equal(pv_buf_append_str(&b, spec_note, &err), 0);
	for (int i = 1; i < PV_NOTE_SIGNATURES_MAX; i++)
		assert_int_equal(pv_buf_printf(&b, &err, "\xe2\x80\x94 witness%d.example AAAAAAA=\n", i),
				 0);
	assert_int_equal(note_open((char *)b.data, b.len, &v, 1, &tl, NULL, &err), 0);
	assert_int_equal(pv_buf_append_str(&b, "\xe2\x80\x94 one.more AAAAAAA=\n", &err), 0);
	assert_int_equal(note_open((char *)b.data, b.len, &v, 1, &tl, NULL, &err), PV_EINTEGRITY);
	pv_buf_free(&b);
}

static void test_any_flipped_bit_breaks_the_note(void **state)
{
	(void)state;
	/* Bit flips in the text or the signature (sampled): either malformed
	 * or a bad signature, never accepted. */
	struct note_verifier v = vk(spec_vkey);
	size_t n = strlen(spec_note), tl;
	struct pv_error err;
	char b[512];
	unsigned char sigbin[68];
	size_t sl;
	const char *b64 = strrchr(spec_note, ' ') + 1;
	char e[200];

	for (size_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(b, spec_note, n);
			b[i] ^= (char)(1 << bit);
			if (note_open(b, n, &v, 1, &tl, NULL, &err) == 0)
				fail_msg("flip of bit %d of byte %zu accepted", bit, i);
		}
	/* Flips of the decoded signature bytes, re-encoded canonically. */
	assert_int_equal(sodium_base642bin(sigbin, sizeof(sigbin), b64, strlen(b64) - 1, NULL, &sl,
					   NULL, sodium_base64_VARIANT_ORIGINAL),
			 0);
	assert_int_equal(sl, 68);
	for (int k = 0; k < 544; k += 3) {
		sigbin[k / 8] ^= (unsigned char)(1 << (k % 8));
		sodium_bin2base64(e, sizeof(e), sigbin, sl, sodium_base64_VARIANT_ORIGINAL);
		snprintf(b, sizeof(b), "This is an example message.\n\n\xe2\x80\x94 example.com/foo %s\n",
			 e);
		if (note_open(b, strlen(b), &v, 1, &tl, NULL, &err) == 0)
			fail_msg("flip of signature bit %d accepted", k);
		sigbin[k / 8] ^= (unsigned char)(1 << (k % 8));
	}
}

static void test_vkey_parse_rejects_bad_keys(void **state)
{
	(void)state;
	struct note_verifier v;
	struct pv_error err;
	static const char *const bad[] = {
		"example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", /* id */
		"example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  /* short */
		"example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", /* alg */
		"example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",  /* len */
		"example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k+", /* junk */
		"+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",                /* name */
		"example.com/foo",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (note_verifier_parse(bad[i], strlen(bad[i]), &v, &err) == 0)
			fail_msg("accepted vkey %s", bad[i]);
	/* Upper-case hex is the same id (Go accepts it too). */
	const char *upper = "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
	assert_int_equal(note_verifier_parse(upper, strlen(upper), &v, &err), 0);
}

static void test_signer_rejects_a_key_whose_id_does_not_match(void **state)
{
	(void)state;
	struct note_signer s;
	struct pv_error err;
	const char *bad = "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
	assert_int_not_equal(note_signer_parse(bad, strlen(bad), &s, &err), 0);
	const char *renamed = "PRIVATE+KEY+PeterNeuman+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
	assert_int_not_equal(note_signer_parse(renamed, strlen(renamed), &s, &err), 0);
	assert_int_not_equal(note_signer_parse(go_skey, strlen(go_skey) - 1, &s, &err), 0);
}

static void test_sign_refuses_text_that_would_not_open(void **state)
{
	(void)state;
	struct note_signer s;
	struct pv_buf b;
	struct pv_error err;
	uint8_t seed[32] = {7};
	assert_int_equal(note_signer_from_seed("test.example/k", seed, &s, &err), 0);
	pv_buf_init(&b, 4096);
	assert_int_not_equal(note_sign("no newline", 10, &s, &b, &err), 0);
	assert_int_not_equal(note_sign("cr\r\n", 4, &s, &b, &err), 0);
	assert_int_not_equal(note_sign("", 0, &s, &b, &err), 0);
	assert_int_equal(b.len, 0);
	/* Text with blank lines inside is allowed and round-trips. */
	const char *t = "a\n\nb\n";
	struct note_verifier v;
	size_t tl;
	note_signer_verifier(&s, &v);
	assert_int_equal(note_sign(t, strlen(t), &s, &b, &err), 0);
	assert_int_equal(note_open((char *)b.data, b.len, &v, 1, &tl, NULL, &err), 0);
	assert_int_equal(tl, strlen(t));
	note_signer_wipe(&s);
	pv_buf_free(&b);
}

static void test_base64_high_bytes_are_not_digits(void **state)
{
	(void)state;
	/* libsodium 1.0.18 decodes bytes >= 0x80 as base64 digits (found by
	 * fuzz_note): a key, root or signature then has many spellings. */
	struct note_verifier v;
	struct checkpoint cp;
	struct pv_error err;
	char key[sizeof(spec_vkey)], body[128];
	const char *b = "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	for (int c = 0x80; c <= 0xff; c++) {
		memcpy(key, spec_vkey, sizeof(key));
		key[sizeof(key) - 3] = (char)c;
		assert_int_not_equal(note_verifier_parse(key, strlen(key), &v, &err), 0);
		snprintf(body, sizeof(body), "%s", b);
		body[8] = (char)c;
		assert_int_not_equal(checkpoint_parse(body, strlen(body), &cp, &err), 0);
		char note[sizeof(spec_note)];
		memcpy(note, spec_note, sizeof(note));
		note[sizeof(note) - 4] = (char)c;
		size_t tl;
		assert_int_not_equal(note_split(note, strlen(note), &tl, &tl, &err), 0);
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example_note_verifies),
		cmocka_unit_test(test_spec_vkey_formats_back_identically),
		cmocka_unit_test(test_go_example_signature_is_reproduced_byte_for_byte),
		cmocka_unit_test(test_two_signers_any_known_one_suffices),
		cmocka_unit_test(test_bad_signature_by_known_key_rejects_whole_note),
		cmocka_unit_test(test_same_name_or_same_id_alone_is_an_unknown_key),
		cmocka_unit_test(test_malformed_notes_are_rejected),
		cmocka_unit_test(test_signature_count_limit),
		cmocka_unit_test(test_any_flipped_bit_breaks_the_note),
		cmocka_unit_test(test_vkey_parse_rejects_bad_keys),
		cmocka_unit_test(test_signer_rejects_a_key_whose_id_does_not_match),
		cmocka_unit_test(test_sign_refuses_text_that_would_not_open),
		cmocka_unit_test(test_base64_high_bytes_are_not_digits),
	};
	return cmocka_run_group_tests_name("note", tests, NULL, NULL);
}
