/* sd_notify without libsystemd (archiver/lib/sdnotify): the datagram that
 * arrives on a path socket and on an abstract one ('@'), a service not
 * started by systemd, addresses and messages it must refuse, and the
 * watchdog interval meant for another process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "archiver/lib/limits.h"
#include "archiver/lib/sdnotify.h"

struct listener {
	int fd;
	char name[108]; /* the NOTIFY_SOCKET value */
	char dir[64];
};

/* A datagram socket like systemd's: a file under a fresh directory, or an
 * abstract name. */
static void listen_on(struct listener *l, int abstract)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	l->dir[0] = '\0';
	if (abstract) {
		snprintf(l->name, sizeof(l->name), "@popvault-test-%ld-%d", (long)getpid(), rand());
		memcpy(sa.sun_path, l->name, strlen(l->name));
		sa.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(l->name));
	} else {
		snprintf(l->dir, sizeof(l->dir), "/tmp/pv-sdnotify-XXXXXX");
		assert_non_null(mkdtemp(l->dir));
		snprintf(l->name, sizeof(l->name), "%s/notify", l->dir);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->name);
		len = sizeof(sa);
	}
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, len), 0);
	setenv("NOTIFY_SOCKET", l->name, 1);
}

/* The next datagram, NUL-terminated; "" when none is waiting. */
static void receive(struct listener *l, char *buf, size_t n)
{
	ssize_t got = recv(l->fd, buf, n - 1, MSG_DONTWAIT);
	buf[got > 0 ? got : 0] = '\0';
}

static void done(struct listener *l)
{
	close(l->fd);
	if (l->dir[0]) {
		unlink(l->name);
		rmdir(l->dir);
	}
	unsetenv("NOTIFY_SOCKET");
}

static void test_not_under_systemd_is_a_noop(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(pv_sd_notify("READY=1", NULL), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(pv_sd_notifyf(NULL, "STATUS=%d", 1), 0);
	unsetenv("NOTIFY_SOCKET");
}

static void test_ready_arrives_as_one_datagram_on_a_path_socket(void **state)
{
	struct listener l;
	char buf[8192];
	(void)state;
	listen_on(&l, 0);
	assert_int_equal(pv_sd_notify("READY=1\nSTATUS=listening on 127.0.0.1:8443", NULL), 1);
	receive(&l, buf, sizeof(buf));
	assert_string_equal(buf, "READY=1\nSTATUS=listening on 127.0.0.1:8443");
	receive(&l, buf, sizeof(buf));
	assert_string_equal(buf, "");
	done(&l);
}

static void test_abstract_socket_named_with_at_sign(void **state)
{
	struct listener l;
	char buf[8192];
	(void)state;
	listen_on(&l, 1);
	assert_int_equal(pv_sd_notifyf(NULL, "STATUS=harvested %d messages", 12), 1);
	assert_int_equal(pv_sd_notify("WATCHDOG=1", NULL), 1);
	receive(&l, buf, sizeof(buf));
	assert_string_equal(buf, "STATUS=harvested 12 messages");
	receive(&l, buf, sizeof(buf));
	assert_string_equal(buf, "WATCHDOG=1");
	done(&l);
}

static void test_bad_addresses_refused(void **state)
{
	struct pv_error err = {0};
	char long_path[200];
	(void)state;
	setenv("NOTIFY_SOCKET", "run/systemd/notify", 1);
	assert_int_equal(pv_sd_notify("READY=1", &err), PV_ERR);
	assert_non_null(strstr(err.msg, "not an absolute path"));
	setenv("NOTIFY_SOCKET", "@", 1);
	assert_int_equal(pv_sd_notify("READY=1", NULL), PV_ERR);
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	setenv("NOTIFY_SOCKET", long_path, 1);
	assert_int_equal(pv_sd_notify("READY=1", NULL), PV_ERR);
	/* Nobody listening: an error, not a crash or a hang. */
	setenv("NOTIFY_SOCKET", "/nonexistent/popvault/notify", 1);
	assert_int_equal(pv_sd_notify("READY=1", &err), PV_ERR);
	unsetenv("NOTIFY_SOCKET");
}

static void test_message_longer_than_systemd_reads_refused(void **state)
{
	struct listener l;
	struct pv_error err = {0};
	static char big[PV_SD_NOTIFY_MAX + 2];
	char buf[8192];
	(void)state;
	listen_on(&l, 1);
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "STATUS=", 7);
	assert_int_equal(pv_sd_notify(big, &err), PV_ELIMIT);
	assert_int_equal(pv_sd_notifyf(NULL, "%s", big), PV_ELIMIT);
	big[PV_SD_NOTIFY_MAX] = '\0'; /* exactly the maximum still goes */
	assert_int_equal(pv_sd_notify(big, NULL), 1);
	receive(&l, buf, sizeof(buf));
	assert_int_equal(strlen(buf), PV_SD_NOTIFY_MAX);
	done(&l);
}

static void test_watchdog_for_another_process_ignored(void **state)
{
	char pid[32];
	(void)state;
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(pv_sd_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	assert_int_equal(pv_sd_watchdog_usec(), 30000000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(pv_sd_watchdog_usec(), 30000000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(pv_sd_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "30s", 1);
	assert_int_equal(pv_sd_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "0", 1);
	assert_int_equal(pv_sd_watchdog_usec(), 0);
	unsetenv("WATCHDOG_USEC");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_under_systemd_is_a_noop),
		cmocka_unit_test(test_ready_arrives_as_one_datagram_on_a_path_socket),
		cmocka_unit_test(test_abstract_socket_named_with_at_sign),
		cmocka_unit_test(test_bad_addresses_refused),
		cmocka_unit_test(test_message_longer_than_systemd_reads_refused),
		cmocka_unit_test(test_watchdog_for_another_process_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
