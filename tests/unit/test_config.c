/* The bootstrap config (archiver/lib/config): defaults, serve's schedule
 * keys with their duration units, and the bad values and unknown keys it
 * must refuse by name rather than guess. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "archiver/lib/config.h"

static char path[64];

/* Loads text as a config file. */
static int load(const char *text, struct pv_config *cfg, struct pv_error *err)
{
	snprintf(path, sizeof(path), "/tmp/pv-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	int r = pv_config_load_file(path, cfg, err);
	unlink(path);
	return r;
}

static void test_defaults_of_the_schedule(void **state)
{
	struct pv_config cfg;
	struct pv_error err;
	(void)state;
	assert_int_equal(load("[serve]\nlisten = 127.0.0.1:9\n", &cfg, &err), 0);
	assert_int_equal(cfg.harvest_interval_s, 300);
	assert_int_equal(cfg.dispose_interval_s, 86400);
	assert_int_equal(cfg.verify_interval_s, 3600);
	assert_int_equal(cfg.verify_sample, 100);
	assert_int_equal(cfg.verify_full_interval_s, 7 * 86400);
	assert_string_equal(cfg.listen, "127.0.0.1:9");
}

static void test_durations_take_units(void **state)
{
	struct pv_config cfg;
	struct pv_error err;
	(void)state;
	assert_int_equal(load("[harvest]\ninterval = 90\n[serve]\ndispose_interval = 2h\n"
			      "verify_interval = 15m\nverify_full_interval = 3d\nverify_sample = 7\n",
			      &cfg, &err), 0);
	assert_int_equal(cfg.harvest_interval_s, 90);
	assert_int_equal(cfg.dispose_interval_s, 7200);
	assert_int_equal(cfg.verify_interval_s, 900);
	assert_int_equal(cfg.verify_full_interval_s, 3 * 86400);
	assert_int_equal(cfg.verify_sample, 7);
	assert_int_equal(load("[harvest]\ninterval = 1d\n", &cfg, &err), 0);
	assert_int_equal(cfg.harvest_interval_s, 86400);
	/* Every setting in seconds takes the units (popvault.conf(5)). */
	assert_int_equal(load("[harvest]\nio_timeout = 2m\nsession_max = 6h\n[anchor]\n"
			      "interval = 1h\nstale_after = 2d\n", &cfg, &err), 0);
	assert_int_equal(cfg.io_timeout_s, 120);
	assert_int_equal(cfg.session_max_s, 6 * 3600);
	assert_int_equal(cfg.anchor_interval_s, 3600);
	assert_int_equal(cfg.anchor_stale_s, 2 * 86400);
	/* 0: that scheduled work is off. */
	assert_int_equal(load("[serve]\nverify_full_interval = 0\n", &cfg, &err), 0);
	assert_int_equal(cfg.verify_full_interval_s, 0);
}

static void test_bad_durations_refused_by_name(void **state)
{
	static const char *const bad[] = {
		"[harvest]\ninterval = 0\n",          /* a harvest every 0 s */
		"[harvest]\ninterval = 2d\n",         /* over a day */
		"[harvest]\ninterval = 5 m\n",        /* a space */
		"[harvest]\ninterval = m\n",          /* no number */
		"[harvest]\ninterval = -5\n",
		"[harvest]\ninterval = 5w\n",         /* no such unit */
		"[serve]\nverify_interval = 367d\n",  /* over a year */
		"[serve]\nverify_sample = 0\n",
		"[serve]\ndispose_interval = 99999999999999999999d\n",
		"[anchor]\ninterval = 4K\n",          /* a size, not a duration */
		"[anchor]\ninterval = 30s\n",         /* under a minute */
		"[harvest]\nio_timeout = 2h\n",       /* over an hour */
	};
	struct pv_config cfg;
	struct pv_error err;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load(bad[i], &cfg, &err), PV_ERR);
		assert_non_null(strstr(err.msg, "bad value for"));
	}
	assert_int_equal(load("[serve]\nharvest_interval = 5\n", &cfg, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "unknown setting 'harvest_interval' in [serve]"));
	/* The file, the line and what would do: two files are in play (the
	 * data directory's and serve's --config). */
	char want[600];
	assert_int_equal(load("# c\n[serve]\nlisten = 127.0.0.1:8443\n[harvest]\n# an interval\n"
			      "interval = 20 s\n", &cfg, &err), PV_ERR);
	snprintf(want, sizeof(want), "%s line 6: bad value for interval in [harvest]: '20 s' (want a "
		 "duration from 1s to 1d (90, 30s, 15m, 6h))", path);
	assert_string_equal(err.msg, want);
	assert_int_equal(load("[serve]\nlisten = x\nbogus = 1\n", &cfg, &err), PV_ERR);
	snprintf(want, sizeof(want), "%s line 3: unknown setting 'bogus' in [serve]", path);
	assert_string_equal(err.msg, want);
	/* the first error, at its own line (a key that repeats) */
	assert_int_equal(load("[witnesses]\nwitness = w1.example+1234abcd+"
			      "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB http://127.0.0.1:9/\n"
			      "witness = bad\nquorum = 0\n", &cfg, &err), PV_ERR);
	assert_non_null(strstr(err.msg, " line 3: bad value for witness"));
}

/* serve --config: its own settings only, unless it is the data
 * directory's file itself. */
static void test_serve_config_scope(void **state)
{
	(void)state;
	char dir[] = "/tmp/pv-conf-XXXXXX", own[128], other[128];
	struct pv_config cfg;
	struct pv_error err;
	const char text[] = "[serve]\nlisten = 127.0.0.1:8443\n[harvest]\nmessage_max = 1M\n";
	assert_non_null(mkdtemp(dir));
	snprintf(own, sizeof(own), "%s/popvault.conf", dir);
	snprintf(other, sizeof(other), "%s/serve.conf", dir);
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(i ? other : own, "w");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
	}
	assert_int_equal(pv_config_load_for_serve(dir, own, &cfg, &err), PV_OK); /* its own file */
	assert_int_equal(cfg.message_max, 1024 * 1024);
	assert_int_equal(pv_config_load_for_serve(dir, other, &cfg, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "line 4: message_max in [harvest] belongs in the data "
					"directory's popvault.conf"));
	unlink(own);
	unlink(other);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_of_the_schedule),
		cmocka_unit_test(test_durations_take_units),
		cmocka_unit_test(test_bad_durations_refused_by_name),
		cmocka_unit_test(test_serve_config_scope),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
