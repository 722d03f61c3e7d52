/* The spawner (archiver/lib/spawner.h): it starts this program for a
 * process that may not, only with what `allow` accepts; the program is
 * that process's child (waitpid sees its status) with exactly the
 * descriptors given; a refused request starts nothing. The program here
 * is this test binary exec'd afresh: a constructor takes over when
 * PV_SPAWN_TEST is set, before cmocka runs anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archiver/lib/spawner.h"

/* As the spawned program: says which descriptors it has on 1, exits 7. */
__attribute__((constructor)) static void as_spawned(void)
{
	const char *v = getenv("PV_SPAWN_TEST");
	if (v == NULL)
		return;
	int open_fds = 0;
	for (int fd = 0; fd < 64; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			open_fds++;
	dprintf(1, "spawned %s with %d descriptors", v, open_fds);
	_exit(7);
}

static int allowed_calls;

/* "ok": this program; "other": a program fixed before the fork. */
static const char *allow(void *ctx, const char *self, char *const argv[], char *const envp[])
{
	(void)ctx;
	allowed_calls++; /* in the spawner: the parent's counter stays 0 */
	bool many = argv[0] != NULL && strcmp(argv[0], "many") == 0; /* any variables after */
	if (argv[0] == NULL || argv[1] != NULL || envp[0] == NULL ||
	    strcmp(envp[0], "PV_SPAWN_TEST=yes") != 0 || (envp[1] != NULL && !many))
		return NULL;
	return strcmp(argv[0], "ok") == 0 || many ? self
	       : strcmp(argv[0], "other") == 0	  ? "/bin/false"
						  : NULL;
}

static int setup(void **state)
{
	struct pv_error err;
	(void)state;
	return pv_spawner_start(allow, NULL, NULL, &err);
}

static int teardown(void **state)
{
	(void)state;
	pv_spawner_stop();
	return 0;
}

static void test_an_allowed_program_is_our_child_with_our_descriptors(void **state)
{
	(void)state;
	char *const argv[] = {"ok", NULL}, *const envp[] = {"PV_SPAWN_TEST=yes", NULL};
	struct pv_error err;
	int p[2], null = open("/dev/null", O_RDONLY | O_CLOEXEC), status = 0;
	pid_t pid = 0;
	char out[128] = "";
	assert_true(pv_spawner_active());
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	int fds[3] = {null, p[1], p[1]};
	assert_int_equal(pv_spawn(argv, envp, fds, 3, &pid, &err), PV_OK);
	close(p[1]);
	close(null);
	assert_true(read(p[0], out, sizeof(out) - 1) > 0);
	close(p[0]);
	assert_string_equal(out, "spawned yes with 3 descriptors");
	assert_int_equal(waitpid(pid, &status, 0), pid); /* CLONE_PARENT: ours */
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	assert_int_equal(allowed_calls, 0);
}

static void test_another_program_or_environment_is_refused(void **state)
{
	(void)state;
	char *const argv[] = {"sh", NULL}, *const envp[] = {"PV_SPAWN_TEST=yes", NULL};
	char *const ok[] = {"ok", NULL}, *const preload[] = {"LD_PRELOAD=/tmp/x.so", NULL};
	struct pv_error err;
	pid_t pid = 1;
	assert_int_equal(pv_spawn(argv, envp, NULL, 0, &pid, &err), PV_ERR);
	assert_int_equal(pid, 0);
	assert_non_null(strstr(err.msg, "not a program this process may start"));
	assert_int_equal(pv_spawn(ok, preload, NULL, 0, &pid, &err), PV_ERR);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), 0); /* the spawner only: nothing started */
}

/* The program allow names is the one started, not this one. */
static void test_the_program_allow_names_is_started(void **state)
{
	(void)state;
	char *const argv[] = {"other", NULL}, *const envp[] = {"PV_SPAWN_TEST=yes", NULL};
	struct pv_error err;
	int status = 0;
	pid_t pid = 0;
	assert_int_equal(pv_spawn(argv, envp, NULL, 0, &pid, &err), PV_OK);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1); /* /bin/false; this program would exit 7 */
}

/* An environment of 200 variables (a shell's, or make's, has more than
 * the 64 this once took) goes through; 2,000 are refused, saying why. */
static void test_a_large_environment_goes_through(void **state)
{
	(void)state;
	enum { N = 2000 };
	static char vars[N][24];
	char *envp[N + 2];
	char *const argv[] = {"many", NULL};
	struct pv_error err;
	int status = 0;
	pid_t pid = 0;
	envp[0] = "PV_SPAWN_TEST=yes";
	for (int i = 0; i < N; i++) {
		snprintf(vars[i], sizeof(vars[i]), "PV_PAD_%04d=x", i);
		envp[i + 1] = vars[i];
	}
	envp[201] = NULL;
	assert_int_equal(pv_spawn(argv, envp, NULL, 0, &pid, &err), PV_OK);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	envp[201] = vars[200];
	envp[N + 1] = NULL;
	assert_int_equal(pv_spawn(argv, envp, NULL, 0, &pid, &err), PV_ERR);
	assert_int_equal(pid, 0);
	assert_non_null(strstr(err.msg, "2001 variables; at most 1024"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_allowed_program_is_our_child_with_our_descriptors),
		cmocka_unit_test(test_another_program_or_environment_is_refused),
		cmocka_unit_test(test_the_program_allow_names_is_started),
		cmocka_unit_test(test_a_large_environment_goes_through),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
