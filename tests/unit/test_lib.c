/* Unit tests for archiver/lib: errors, bounded buffers, clock parsing,
 * the bulk hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "archiver/lib/blake2b.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/error.h"
#include "archiver/lib/linediff.h"
#include "archiver/lib/progress.h"
#include "archiver/lib/random.h"
#include "archiver/lib/secretstream.h"
#include "archiver/lib/strpool.h"

static void test_fail_fills_error_and_returns_code(void **state)
{
	(void)state;
	struct pv_error err;
	assert_int_equal(pv_fail(&err, PV_EINTEGRITY, "leaf %d", 7), PV_EINTEGRITY);
	assert_string_equal(err.msg, "leaf 7");
	pv_error_prefix(&err, "verify");
	assert_string_equal(err.msg, "verify: leaf 7");
	assert_int_equal(pv_fail(NULL, PV_ERR, "dropped"), PV_ERR);
	assert_int_equal(pv_exit_code(PV_EINTEGRITY), 3);
	assert_int_equal(pv_exit_code(PV_EUSAGE), 2);
	assert_int_equal(pv_exit_code(PV_ETEMP), 1);
	assert_int_equal(pv_exit_code(PV_OK), 0);
}

static void test_buf_refuses_to_grow_past_max(void **state)
{
	(void)state;
	struct pv_buf b;
	struct pv_error err;
	pv_buf_init(&b, 10);
	assert_int_equal(pv_buf_append_str(&b, "0123456789", &err), PV_OK);
	assert_int_equal(pv_buf_append(&b, "x", 1, &err), PV_ELIMIT);
	assert_int_equal(b.len, 10);
	assert_string_equal(pv_buf_str(&b), "0123456789");
	pv_buf_reset(&b);
	assert_int_equal(pv_buf_printf(&b, &err, "%d-%s", 42, "ab"), PV_OK);
	assert_string_equal(pv_buf_str(&b), "42-ab");
	assert_int_equal(pv_buf_printf(&b, &err, "%s", "too long now"), PV_ELIMIT);
	pv_buf_free(&b);
	assert_null(b.data);
}

static void test_rfc3339_round_trip_and_rejects(void **state)
{
	(void)state;
	int64_t t;
	char out[PV_RFC3339_LEN];
	assert_int_equal(pv_clock_parse_rfc3339("2026-11-22T10:00:05Z", &t), 0);
	pv_clock_format_rfc3339(t, out);
	assert_string_equal(out, "2026-11-22T10:00:05Z");
	assert_int_equal(pv_clock_parse_rfc3339("2024-02-29", &t), 0);
	assert_int_equal(pv_clock_parse_rfc3339("2023-02-29", &t), -1);
	assert_int_equal(pv_clock_parse_rfc3339("2026-13-01", &t), -1);
	assert_int_equal(pv_clock_parse_rfc3339("2026-1-01", &t), -1);
	assert_int_equal(pv_clock_parse_rfc3339("", &t), -1);
	assert_int_equal(pv_clock_parse_rfc3339("2026-11-22T10:00:05+01:00", &t), -1);
}

static void test_seeded_random_is_reproducible(void **state)
{
	(void)state;
	unsigned char seed[32] = {1}, a[16], b[16], c[16];
	pv_random_seed_for_tests(seed);
	pv_random_bytes(a, sizeof(a));
	pv_random_bytes(c, sizeof(c));
	pv_random_seed_for_tests(seed);
	pv_random_bytes(b, sizeof(b));
	pv_random_seed_for_tests(NULL);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, c, sizeof(a));
}

/* OpenSSL's keyed BLAKE2b is libsodium's crypto_generichash with a key,
 * byte for byte (commitments written by either must verify with the
 * other), for every key and output length used and fed in pieces. */
static void test_blake2b_matches_libsodium(void **state)
{
	(void)state;
	unsigned char key[64], data[3000], a[64], b[64];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)i;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	size_t keylens[] = {1, 16, 32, 64}, outlens[] = {16, 32, 64}, lens[] = {0, 1, 127, 128, 129, 3000};
	for (size_t k = 0; k < 4; k++)
		for (size_t o = 0; o < 3; o++)
			for (size_t l = 0; l < 6; l++) {
				struct pv_blake2b h;
				assert_int_equal(pv_blake2b_init(&h, key, keylens[k], outlens[o], NULL), 0);
				for (size_t p = 0; p < lens[l]; p += 100) /* in pieces */
					pv_blake2b_update(&h, data + p, lens[l] - p < 100 ? lens[l] - p : 100);
				pv_blake2b_final(&h, a);
				assert_int_equal(crypto_generichash(b, outlens[o], data, lens[l], key,
								    keylens[k]), 0);
				assert_memory_equal(a, b, outlens[o]);
			}
	struct pv_blake2b h;
	assert_int_equal(pv_blake2b_init(&h, key, 0, 32, NULL), PV_ERR);
	assert_int_equal(pv_blake2b_init(&h, key, 32, 65, NULL), PV_ERR);
	assert_int_equal(pv_blake2b_init(&h, key, 32, 32, NULL), 0);
	pv_blake2b_abort(&h); /* no digest: nothing leaks */
	assert_null(h.ctx);
}

/* Pooled strings keep their bytes and addresses as the pool grows. */
static void test_strpool_keeps_every_string_in_place(void **state)
{
	(void)state;
	struct pv_strpool p = {0};
	char *got[3000], want[32];
	for (int i = 0; i < 3000; i++) {
		int n = snprintf(want, sizeof(want), "messages/PV%08d.eml", i);
		assert_non_null(got[i] = pv_strpool_add(&p, want, (size_t)n));
	}
	for (int i = 0; i < 3000; i++) {
		snprintf(want, sizeof(want), "messages/PV%08d.eml", i);
		assert_string_equal(got[i], want);
	}
	assert_true(p.n > 1); /* more than one block */
	assert_null(pv_strpool_add(&p, want, PV_STRPOOL_BLOCK));
	assert_string_equal(pv_strpool_add(&p, "ab\0cd", 5), "ab");
	pv_strpool_free(&p);
	assert_int_equal(p.n, 0);
}

/* Two versions of a policy side by side: common head and tail kept, the
 * changed middle as removals then additions, line numbers on each side. */
static void test_line_diff_marks_removed_and_added_lines(void **state)
{
	(void)state;
	struct pv_diff_line *v;
	struct pv_error err;
	size_t n;
	const char *a = "# head\nrule a\nrule b\ndefault: 6y\n";
	const char *b = "# head\nrule b\nrule c\ndefault: 6y";
	assert_int_equal(pv_line_diff(a, strlen(a), b, strlen(b), &v, &n, &err), PV_OK);
	assert_int_equal(n, 5);
	static const struct {
		enum pv_diff_op op;
		const char *text;
		size_t al, bl;
	} want[] = {{PV_DIFF_SAME, "# head", 1, 1}, {PV_DIFF_DEL, "rule a", 2, 0},
		    {PV_DIFF_SAME, "rule b", 3, 2}, {PV_DIFF_ADD, "rule c", 0, 3},
		    {PV_DIFF_SAME, "default: 6y", 4, 4}};
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].op, want[i].op);
		assert_int_equal(v[i].len, strlen(want[i].text));
		assert_memory_equal(v[i].text, want[i].text, v[i].len);
		assert_int_equal(v[i].a_line, want[i].al);
		assert_int_equal(v[i].b_line, want[i].bl);
	}
	free(v);
	/* nothing against something: everything added */
	assert_int_equal(pv_line_diff("", 0, "x\ny\n", 4, &v, &n, &err), PV_OK);
	assert_int_equal(n, 2);
	assert_int_equal(v[1].op, PV_DIFF_ADD);
	free(v);
}

/* The progress line: count, rate and ETA while running, the time taken at
 * the end, no rate before the first unit (nothing to divide by). */
static void test_progress_line_has_rate_and_eta(void **state)
{
	(void)state;
	char b[128];
	pv_meter_format(b, sizeof(b), "verify --full", "messages", 0, 5000, 0);
	assert_string_equal(b, "verify --full: 0/5000 messages");
	pv_meter_format(b, sizeof(b), "verify --full", "messages", 1200, 5000, 3000);
	assert_string_equal(b, "verify --full: 1200/5000 messages  400/s  ETA 0:10");
	pv_meter_format(b, sizeof(b), "backup", "files", 3, 7203, 1000);
	assert_string_equal(b, "backup: 3/7203 files  3.0/s  ETA 40:00");
	pv_meter_format(b, sizeof(b), "reindex", "messages", 1, 4000, 1000);
	assert_string_equal(b, "reindex: 1/4000 messages  1.0/s  ETA 1:06:39");
	pv_meter_format(b, sizeof(b), "reindex", "messages", 4000, 4000, 61400);
	assert_string_equal(b, "reindex: 4000/4000 messages  65/s  done in 1:01");
	/* An instant run divides by a millisecond, not by zero. */
	pv_meter_format(b, sizeof(b), "export", "steps", 2, 2, 0);
	assert_string_equal(b, "export: 2/2 steps  2000/s  done in 0:00");
	pv_meter_format(b, 12, "audit export", "entries", 1, 9, 10);
	assert_string_equal(b, "audit expor");
}

/* The meter draws over its own line and ends it with one newline. */
static void test_progress_meter_rewrites_one_line(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct pv_meter m;
	assert_non_null(f);
	pv_meter_init(&m, f, "backup", "files");
	struct pv_progress p = pv_meter_progress(&m);
	pv_progress_report(&p, 1, 3);
	pv_progress_report(&p, 2, 3); /* within the redraw interval: skipped */
	pv_progress_report(&p, 3, 3); /* the last one always drawn */
	pv_progress_report(NULL, 1, 1);
	pv_meter_end(&m);
	pv_meter_end(&m); /* once */
	fclose(f);
	assert_non_null(strstr(text, "\rbackup: 1/3 files  "));
	assert_null(strstr(text, "2/3"));
	assert_non_null(strstr(text, "\rbackup: 3/3 files  "));
	assert_non_null(strstr(text, " done in 0:00\033[K\n"));
	assert_int_equal(text[len - 1], '\n');
	assert_ptr_equal(strchr(text, '\n'), text + len - 1);
	free(text);
}

/* A line cleared for other output after the last update comes back at
 * the end, so the run ends on its count and time. */
static void test_progress_meter_ends_on_its_line_after_a_clear(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct pv_meter m;
	assert_non_null(f);
	pv_meter_init(&m, f, "verify --full", "messages");
	pv_meter_update(&m, 2, 2);
	pv_meter_clear(&m);
	fputs("FAIL: message 2\n", f);
	pv_meter_end(&m);
	pv_meter_end(&m);
	fclose(f);
	const char *after = strstr(text, "FAIL: message 2\n");
	assert_non_null(after);
	assert_non_null(strstr(after, "\rverify --full: 2/2 messages  "));
	assert_int_equal(strlen(strstr(after, " done in 0:00\033[K\n")), strlen(" done in 0:00\033[K\n"));
	free(text);
}

/* Records are sealed by pv_ss_push and opened by pv_ss_pull (older ones
 * were sealed by libsodium): each must be libsodium's, byte for byte, for
 * every length (around the 64-byte blocks and the 16-byte padding), every
 * tag, and along a stream (the nonce update, the rekey); a forged chunk is
 * refused and leaves the state as it was. */
static void test_secretstream_is_libsodiums(void **state)
{
	(void)state;
	static const size_t lens[] = {0, 1, 15, 16, 17, 47, 48, 49, 63, 64, 65, 127, 128, 1000, 65537};
	static const unsigned char tags[] = {0, crypto_secretstream_xchacha20poly1305_TAG_PUSH,
					     crypto_secretstream_xchacha20poly1305_TAG_REKEY, 0,
					     crypto_secretstream_xchacha20poly1305_TAG_FINAL};
	crypto_secretstream_xchacha20poly1305_state ours, theirs, pull, ours_pull;
	unsigned long long lm_short;
	unsigned char tag_short;
	unsigned char key[32], header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
	size_t max = 65537 + crypto_secretstream_xchacha20poly1305_ABYTES;
	unsigned char *m = malloc(65537), *a = malloc(max), *b = malloc(max), *back = malloc(65537);
	unsigned char *back2 = malloc(65537);
	struct pv_ss *p;
	struct pv_error err;
	assert_int_equal(pv_ss_new(&p, &err), PV_OK);
	randombytes_buf(m, 65537);
	crypto_secretstream_xchacha20poly1305_keygen(key);
	crypto_secretstream_xchacha20poly1305_init_push(&theirs, header, key);
	ours = theirs;
	assert_int_equal(crypto_secretstream_xchacha20poly1305_init_pull(&pull, header, key), 0);
	ours_pull = pull;
	for (size_t round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			unsigned char tag = tags[(i + round) % 5], got;
			unsigned long long la, lb, lm;
			assert_int_equal(pv_ss_push(p, &ours, a, &la, m + i, lens[i], tag, &err), PV_OK);
			crypto_secretstream_xchacha20poly1305_push(&theirs, b, &lb, m + i, lens[i], NULL, 0,
								   tag);
			assert_int_equal(la, lb);
			assert_memory_equal(a, b, (size_t)la);
			assert_memory_equal(&ours, &theirs, sizeof(ours));
			assert_int_equal(crypto_secretstream_xchacha20poly1305_pull(&pull, back, &lm, &got, a,
										  la, NULL, 0), 0);
			assert_int_equal(got, tag);
			assert_int_equal(lm, lens[i]);
			if (lm > 0)
				assert_memory_equal(back, m + i, (size_t)lm);
			/* ours opens libsodium's chunk (b), refusing it forged */
			crypto_secretstream_xchacha20poly1305_state kept = ours_pull;
			size_t at = (i * 37 + round) % (size_t)lb;
			unsigned long long lm2 = 0;
			unsigned char got2 = 0xee;
			b[at] ^= 0x20;
			assert_int_equal(pv_ss_pull(p, &ours_pull, back2, &lm2, &got2, b, (size_t)lb, &err),
					 PV_EINTEGRITY);
			assert_memory_equal(&ours_pull, &kept, sizeof(kept));
			b[at] ^= 0x20;
			assert_int_equal(pv_ss_pull(p, &ours_pull, back2, &lm2, &got2, b, (size_t)lb, &err),
					 PV_OK);
			assert_int_equal(got2, tag);
			assert_int_equal(lm2, lens[i]);
			if (lm2 > 0)
				assert_memory_equal(back2, m + i, (size_t)lm2);
			assert_memory_equal(&ours_pull, &pull, sizeof(pull));
		}
	assert_int_equal(pv_ss_pull(p, &ours_pull, back2, &lm_short, &tag_short, a,
				    crypto_secretstream_xchacha20poly1305_ABYTES - 1, &err),
			 PV_EINTEGRITY);
	pv_ss_free(&p);
	assert_null(p);
	free(m);
	free(a);
	free(b);
	free(back);
	free(back2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fail_fills_error_and_returns_code),
		cmocka_unit_test(test_blake2b_matches_libsodium),
		cmocka_unit_test(test_secretstream_is_libsodiums),
		cmocka_unit_test(test_strpool_keeps_every_string_in_place),
		cmocka_unit_test(test_buf_refuses_to_grow_past_max),
		cmocka_unit_test(test_rfc3339_round_trip_and_rejects),
		cmocka_unit_test(test_seeded_random_is_reproducible),
		cmocka_unit_test(test_line_diff_marks_removed_and_added_lines),
		cmocka_unit_test(test_progress_line_has_rate_and_eta),
		cmocka_unit_test(test_progress_meter_rewrites_one_line),
		cmocka_unit_test(test_progress_meter_ends_on_its_line_after_a_clear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
