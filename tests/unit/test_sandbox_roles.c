/* The role filters (archiver/lib/sandbox_roles.c): a process confined to
 * a role still does what the role needs, and a call outside it is never
 * made: the process logs the call with its name and role on stderr and
 * dies by SIGSYS. Each case runs in a forked child. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archiver/lib/sandbox.h"

/* Runs body(arg) in a child confined to role; returns its wait status and
 * what it wrote on stderr in out. */
static int confined(enum pv_role role, void (*body)(void), char *out, size_t n)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pv_error err;
		dup2(p[1], 2);
		close(p[0]);
		prctl(PR_SET_NAME, "pv-unit", 0, 0, 0);
		if (pv_sandbox_role(role, &err) != 0) {
			dprintf(2, "load: %s\n", err.msg);
			_exit(70);
		}
		body();
		_exit(0);
	}
	close(p[1]);
	size_t got = 0;
	ssize_t k;
	while (got + 1 < n && (k = read(p[0], out + got, n - 1 - got)) > 0)
		got += (size_t)k;
	out[got] = '\0';
	close(p[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		;
	return status;
}

static void open_a_file(void)
{
	char buf[16];
	int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	if (fd < 0 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		_exit(71);
	if (read(fd, buf, sizeof(buf)) < 0)
		_exit(72);
	close(fd);
}

static void tcp_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	_exit(fd >= 0 ? 73 : 74);
}

static void run_true(void)
{
	char *const argv[] = {"true", NULL}, *const envp[] = {NULL};
	execve("/bin/true", argv, envp);
	_exit(75);
}

static void test_what_the_role_needs_still_works(void **state)
{
	(void)state;
	char out[1024];
	int st = confined(PV_ROLE_INDEXER, open_a_file, out, sizeof(out));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_string_equal(out, "");
}

static void test_the_indexer_opening_a_tcp_socket_is_killed_and_says_so(void **state)
{
	(void)state;
	char out[1024];
	int st = confined(PV_ROLE_INDEXER, tcp_socket, out, sizeof(out));
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	assert_non_null(strstr(out, "event=seccomp.violation"));
	assert_non_null(strstr(out, "pv-unit (role indexer) made a system call its role may not: "
				    "socket ("));
}

static void test_a_task_running_a_program_is_killed(void **state)
{
	(void)state;
	char out[1024];
	int st = confined(PV_ROLE_TASK, run_true, out, sizeof(out));
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	assert_non_null(strstr(out, "(role task) made a system call its role may not: execve ("));
}

static void test_the_harvest_may_open_a_tcp_socket(void **state)
{
	(void)state;
	char out[1024];
	int st = confined(PV_ROLE_HARVEST, tcp_socket, out, sizeof(out));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 73);
}

/* With an object store the roles that read packs connect out (S3);
 * the others keep no network. */
static void test_with_an_object_store_the_pack_readers_may_open_a_tcp_socket(void **state)
{
	(void)state;
	char out[1024];
	const enum pv_role readers[] = {PV_ROLE_INDEXER, PV_ROLE_TASK, PV_ROLE_DISPOSE};
	pv_sandbox_store_net(true);
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		int st = confined(readers[i], tcp_socket, out, sizeof(out));
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 73);
	}
	int st = confined(PV_ROLE_SIGNER, tcp_socket, out, sizeof(out));
	pv_sandbox_store_net(false);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	assert_non_null(strstr(out, "(role signer) made a system call its role may not: socket ("));
}

static void unix_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	_exit(fd >= 0 ? 76 : 77);
}

/* Two listening ports on loopback: the catalog's, and another one. */
static unsigned short port_catalog, port_other;

static unsigned short listen_on_loopback(int *fd_r)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*fd_r = fd;
	return ntohs(a.sin_port);
}

static int connect_to(unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1000;
	int r = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : errno;
	close(fd);
	return r;
}

/* exit 80: the catalog's port reached and the other refused by Landlock
 * (EACCES); 81: both reached (no Landlock network rules); else what failed. */
static void connect_both(void)
{
	int a = connect_to(port_catalog), b = connect_to(port_other);
	if (a == 0 && b == EACCES)
		_exit(80);
	if (a == 0 && b == 0)
		_exit(81);
	_exit(a == 0 ? 82 : 83);
}

/* The catalog on a unix socket: the roles that open it and are no
 * network client otherwise may make a unix socket, still no inet one;
 * the signer neither. */
static void test_with_the_catalog_on_a_unix_socket_no_inet_socket(void **state)
{
	(void)state;
	char out[1024];
	const enum pv_role readers[] = {PV_ROLE_INDEXER, PV_ROLE_TASK, PV_ROLE_DISPOSE};
	pv_sandbox_catalog_net(PV_CATNET_UNIX, 0);
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		int st = confined(readers[i], unix_socket, out, sizeof(out));
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 76);
		st = confined(readers[i], tcp_socket, out, sizeof(out));
		assert_true(WIFSIGNALED(st));
		assert_int_equal(WTERMSIG(st), SIGSYS);
	}
	int st = confined(PV_ROLE_SIGNER, unix_socket, out, sizeof(out));
	pv_sandbox_catalog_net(PV_CATNET_NONE, 0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	assert_non_null(strstr(out, "(role signer) made a system call its role may not: socket ("));
}

/* The catalog over TCP: a task reaches the server's port and, where the
 * kernel's Landlock has network rules, no other port. */
static void test_with_the_catalog_on_tcp_a_task_reaches_its_port_only(void **state)
{
	(void)state;
	char out[1024];
	int fa, fb;
	port_catalog = listen_on_loopback(&fa);
	port_other = listen_on_loopback(&fb);
	pv_sandbox_catalog_net(PV_CATNET_TCP, port_catalog);
	int st = confined(PV_ROLE_TASK, connect_both, out, sizeof(out));
	pv_sandbox_catalog_net(PV_CATNET_NONE, 0);
	close(fa);
	close(fb);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), pv_landlock_abi() >= 4 ? 80 : 81);
}

static void test_roles_by_name(void **state)
{
	(void)state;
	for (int i = 0; i < PV_ROLE_N; i++)
		assert_int_equal(pv_role_by_name(pv_role_name((enum pv_role)i)), i);
	assert_int_equal(pv_role_by_name("root"), PV_ROLE_N);
	assert_null(pv_role_name(PV_ROLE_N));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_what_the_role_needs_still_works),
		cmocka_unit_test(test_the_indexer_opening_a_tcp_socket_is_killed_and_says_so),
		cmocka_unit_test(test_a_task_running_a_program_is_killed),
		cmocka_unit_test(test_the_harvest_may_open_a_tcp_socket),
		cmocka_unit_test(test_with_an_object_store_the_pack_readers_may_open_a_tcp_socket),
		cmocka_unit_test(test_with_the_catalog_on_a_unix_socket_no_inet_socket),
		cmocka_unit_test(test_with_the_catalog_on_tcp_a_task_reaches_its_port_only),
		cmocka_unit_test(test_roles_by_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
