/* Failed sign-ins (archiver/http/ratelimit): free failures, then a wait
 * that doubles up to its cap, forgotten after a quiet spell or a success,
 * and a full table that reuses its stalest entry instead of growing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>
#include <sodium.h>

#include "archiver/http/ratelimit.h"

static void test_free_failures_then_doubling_waits_up_to_the_cap(void **state)
{
	struct ratelimit *rl;
	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	assert_int_equal(ratelimit_new(16, 3, 10000, &rl, NULL), 0);
	int64_t now = 1000000;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ratelimit_wait_ms(rl, "user:zed", now), 0);
		ratelimit_failed(rl, "user:zed", now);
	}
	assert_int_equal(ratelimit_wait_ms(rl, "user:zed", now), 0); /* 3 were free */
	ratelimit_failed(rl, "user:zed", now);
	assert_int_equal(ratelimit_wait_ms(rl, "user:zed", now), 1000);
	assert_int_equal(ratelimit_wait_ms(rl, "user:zed", now + 400), 600);
	assert_int_equal(ratelimit_wait_ms(rl, "user:zed", now + 1000), 0);
	ratelimit_failed(rl, "user:zed", now + 1000);
	assert_int_equal(ratelimit_wait_ms(rl, "user:zed", now + 1000), 2000);
	ratelimit_failed(rl, "user:zed", now + 3000);
	assert_int_equal(ratelimit_wait_ms(rl, "user:zed", now + 3000), 4000);
	for (int i = 0; i < 40; i++)
		ratelimit_failed(rl, "user:zed", now + 3000);
	assert_int_equal(ratelimit_wait_ms(rl, "user:zed", now + 3000), 10000);
	assert_int_equal(ratelimit_wait_ms(rl, "user:other", now + 3000), 0);
	ratelimit_free(&rl);
	assert_null(rl);
}

static void test_forgotten_after_quiet_spell_or_success(void **state)
{
	struct ratelimit *rl;
	(void)state;
	assert_int_equal(ratelimit_new(16, 0, 5000, &rl, NULL), 0);
	ratelimit_failed(rl, "ip:192.0.2.1", 0);
	assert_int_equal(ratelimit_wait_ms(rl, "ip:192.0.2.1", 0), 1000);
	assert_int_equal(ratelimit_wait_ms(rl, "ip:192.0.2.1", 5001), 0);
	ratelimit_failed(rl, "ip:192.0.2.1", 5001);
	assert_int_equal(ratelimit_wait_ms(rl, "ip:192.0.2.1", 5001), 1000); /* counted afresh */
	ratelimit_forget(rl, "ip:192.0.2.1");
	assert_int_equal(ratelimit_wait_ms(rl, "ip:192.0.2.1", 5001), 0);
	ratelimit_free(&rl);
}

static void test_full_table_reuses_the_stalest_entry(void **state)
{
	struct ratelimit *rl;
	char key[32];
	(void)state;
	assert_int_equal(ratelimit_new(4, 0, 60000, &rl, NULL), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "user:u%d", i);
		ratelimit_failed(rl, key, 100 + i);
	}
	ratelimit_failed(rl, "user:new", 200);
	assert_int_equal(ratelimit_wait_ms(rl, "user:u0", 200), 0);   /* the stalest, gone */
	assert_true(ratelimit_wait_ms(rl, "user:u3", 200) > 0);
	assert_true(ratelimit_wait_ms(rl, "user:new", 200) > 0);
	ratelimit_free(&rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_failures_then_doubling_waits_up_to_the_cap),
		cmocka_unit_test(test_forgotten_after_quiet_spell_or_success),
		cmocka_unit_test(test_full_table_reuses_the_stalest_entry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
