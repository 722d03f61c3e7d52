/* Unit tests for the OAuth token command (archiver/harvest/token.c), the
 * command-line rule it runs by (archiver/lib/cmdline.c) and secret
 * buffers (archiver/lib/secret.c), issue 16 finding 5: the command ran
 * through /bin/sh (popen), and pv_secret_free wiped only up to the first
 * NUL. Now: execve of the program itself, its words as written, nothing
 * of popvault's open in it, bounded in output and time; and every byte
 * of a secret buffer wiped. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "archiver/harvest/token.h"
#include "archiver/lib/cmdline.h"
#include "archiver/lib/secret.h"
#include "tests/unit/fixtures.h"

static char dir[FX_PATH_MAX];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/pv-token-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	fx_rmtree(dir);
	return 0;
}

/* DIR/name, a shell script (the helper may be one; popvault runs no shell
 * itself) with body, executable. */
static void script(const char *name, const char *body, char path[2 * FX_PATH_MAX])
{
	snprintf(path, 2 * FX_PATH_MAX, "%s/%.64s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0700), 0);
}

/* The process whose pid DIR/name holds has ended (gone, or a zombie
 * nobody reaped yet) within 3 s. */
static bool gone_soon(const char *name)
{
	char path[2 * FX_PATH_MAX], stat_path[64], buf[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	long pid = 0;
	if (f == NULL || fscanf(f, "%ld", &pid) != 1 || pid <= 0)
		fail_msg("no pid in %s", path);
	fclose(f);
	snprintf(stat_path, sizeof(stat_path), "/proc/%ld/stat", pid);
	for (int i = 0; i < 300; i++) {
		FILE *st = fopen(stat_path, "r");
		if (st == NULL)
			return true;
		size_t n = fread(buf, 1, sizeof(buf) - 1, st);
		fclose(st);
		buf[n] = '\0';
		const char *end = strrchr(buf, ')');
		if (end != NULL && end[1] == ' ' && end[2] == 'Z')
			return true;
		usleep(10000);
	}
	return false;
}

/* --- secret buffers ---------------------------------------------------------- */

static void test_secret_wipe_covers_the_whole_buffer(void **state)
{
	(void)state;
	char *s = pv_secret_alloc(64);
	assert_non_null(s);
	assert_int_equal(pv_secret_size(s), 64);
	/* a NUL inside, and text past it: a wipe up to strlen left "hidden" */
	memcpy(s, "tok\0hidden-part-of-the-secret", 29);
	memset(s + 29, 'x', 35);
	pv_secret_wipe(s);
	for (size_t i = 0; i < 64; i++)
		if (s[i] != 0)
			fail_msg("byte %zu survived the wipe", i);
	pv_secret_free(&s);
	assert_null(s);
	pv_secret_free(&s); /* NULL is fine */
	char *d = pv_secret_dup("abc", 3);
	assert_string_equal(d, "abc");
	assert_int_equal(pv_secret_size(d), 4);
	pv_secret_free(&d);
}

/* --- the command-line rule ----------------------------------------------------- */

static void test_cmdline_words_as_written(void **state)
{
	(void)state;
	struct pv_cmdline c;
	struct pv_error err;
	fx_must(pv_cmdline_split("/usr/bin/helper  --account me\t*.json ~x #y\n", &c, &err), &err,
		"split");
	assert_int_equal(c.argc, 6);
	assert_string_equal(c.argv[0], "/usr/bin/helper");
	assert_string_equal(c.argv[1], "--account");
	assert_string_equal(c.argv[2], "me");
	assert_string_equal(c.argv[3], "*.json"); /* no globbing: the word itself */
	assert_string_equal(c.argv[4], "~x");
	assert_string_equal(c.argv[5], "#y"); /* no comment either */
	assert_null(c.argv[6]);
	pv_cmdline_free(&c);
}

static void test_cmdline_refuses_what_a_shell_would_read(void **state)
{
	(void)state;
	static const struct {
		const char *line, *want;
	} bad[] = {
		{"echo tok", "absolute path"},
		{"/bin/echo 'a b'", "'''"},
		{"/bin/echo \"a b\"", "'\"'"},
		{"/bin/echo $TOKEN", "'$'"},
		{"/bin/echo `id`", "'`'"},
		{"/bin/echo a | /bin/cat", "'|'"},
		{"/bin/echo a; rm x", "';'"},
		{"/bin/echo a && b", "'&'"},
		{"/bin/echo a > f", "'>'"},
		{"/bin/cat < f", "'<'"},
		{"/bin/echo a\\ b", "'\\'"},
		{"/bin/echo a\nb", "more than one line"},
		{"/bin/echo \x01", "control character"},
		{"   ", "empty"},
		{"", "empty"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pv_cmdline c;
		struct pv_error err;
		assert_int_equal(pv_cmdline_split(bad[i].line, &c, &err), PV_EUSAGE);
		assert_null(c.buf);
		if (strstr(err.msg, bad[i].want) == NULL)
			fail_msg("%s: %s", bad[i].line, err.msg);
	}
	char many[1024] = "/bin/true";
	for (int i = 0; i < PV_CMDLINE_ARGS_MAX; i++)
		strcat(many, " a");
	struct pv_cmdline c;
	struct pv_error err;
	assert_int_equal(pv_cmdline_split(many, &c, &err), PV_EUSAGE);
	assert_non_null(strstr(err.msg, "more than 64 words"));
}

/* --- running it ----------------------------------------------------------------- */

static void test_token_command_runs_without_a_shell(void **state)
{
	(void)state;
	char path[2 * FX_PATH_MAX], line[4 * FX_PATH_MAX], *tok = NULL;
	struct pv_error err;
	/* prints its argument count and words: a shell between would have
	 * globbed the '*' and taken the '#' as a comment */
	script("args.sh", "printf '%s|%s|%s|%s\\n' \"$#\" \"$1\" \"$2\" \"$3\"; echo second line",
	       path);
	snprintf(line, sizeof(line), "%s %s/* #x  y\n", path, dir);
	fx_must(harvest_token_run(line, 5000, &tok, &err), &err, "run");
	char want[2 * FX_PATH_MAX];
	snprintf(want, sizeof(want), "3|%s/*|#x|y", dir);
	assert_string_equal(tok, want); /* the first line only */
	pv_secret_free(&tok);
}

static void test_token_command_gets_nothing_of_popvault_open(void **state)
{
	(void)state;
	char path[2 * FX_PATH_MAX], *tok = NULL;
	struct pv_error err;
	int fd = open("/dev/null", O_RDONLY); /* not close-on-exec, like a careless library's */
	assert_true(fd > 2);
	script("fds.sh", "ls /proc/self/fd | tr '\\n' ' '", path);
	fx_must(harvest_token_run(path, 5000, &tok, &err), &err, "run");
	/* 0, 1, 2 and the one ls opens to read the directory */
	assert_string_equal(tok, "0 1 2 3 ");
	pv_secret_free(&tok);
	close(fd);
}

static void test_token_command_failures_are_named(void **state)
{
	(void)state;
	char path[2 * FX_PATH_MAX], line[2 * FX_PATH_MAX], *tok = NULL;
	struct pv_error err;
	script("fail.sh", "echo token; exit 3", path);
	assert_int_equal(harvest_token_run(path, 5000, &tok, &err), PV_EAUTH);
	assert_non_null(strstr(err.msg, "failed (exit status 3)"));
	assert_null(tok);
	script("empty.sh", "echo", path);
	assert_int_equal(harvest_token_run(path, 5000, &tok, &err), PV_EAUTH);
	assert_non_null(strstr(err.msg, "printed no token"));
	script("big.sh", "head -c 20000 /dev/zero | tr '\\0' a", path);
	assert_int_equal(harvest_token_run(path, 5000, &tok, &err), PV_ELIMIT);
	assert_non_null(strstr(err.msg, "more than 8192 bytes"));
	/* late: killed with what it started (the sleep would hold the pipe
	 * and live on for 30 s) */
	snprintf(line, sizeof(line), "sleep 30 & echo $! >%s/sleep.pid; wait", dir);
	script("slow.sh", line, path);
	assert_int_equal(harvest_token_run(path, 300, &tok, &err), PV_ETEMP);
	assert_non_null(strstr(err.msg, "did not finish within"));
	assert_true(gone_soon("sleep.pid"));
	snprintf(line, sizeof(line), "%s/missing", dir);
	assert_int_equal(harvest_token_run(line, 5000, &tok, &err), PV_EAUTH);
	assert_non_null(strstr(err.msg, "cannot run the token command"));
	assert_int_equal(harvest_token_run("echo tok", 5000, &tok, &err), PV_EUSAGE);
	assert_null(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_wipe_covers_the_whole_buffer),
		cmocka_unit_test(test_cmdline_words_as_written),
		cmocka_unit_test(test_cmdline_refuses_what_a_shell_would_read),
		cmocka_unit_test(test_token_command_runs_without_a_shell),
		cmocka_unit_test(test_token_command_gets_nothing_of_popvault_open),
		cmocka_unit_test(test_token_command_failures_are_named),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
