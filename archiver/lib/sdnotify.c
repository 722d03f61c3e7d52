#include "archiver/lib/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "archiver/lib/limits.h"
#include "archiver/lib/number.h"

int pv_sd_notify(const char *state, struct pv_error *err)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t plen, slen = strlen(state);

	if (path == NULL || path[0] == '\0')
		return 0;
	if (slen > PV_SD_NOTIFY_MAX)
		return pv_fail(err, PV_ELIMIT, "sd_notify: message of %zu bytes (at most %d)", slen,
			       PV_SD_NOTIFY_MAX);
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen < 2 || plen > sizeof(sa.sun_path))
		return pv_fail(err, PV_ERR, "NOTIFY_SOCKET '%s' is not an absolute path or @name",
			       path);
	/* An abstract address is a leading NUL and exactly the name's bytes,
	 * no terminator (unix(7)); a path may fill sun_path without one. */
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);

	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pv_fail(err, PV_ERR, "sd_notify: socket: %s", strerror(errno));
	ssize_t n;
	do
		n = sendto(fd, state, slen, MSG_NOSIGNAL, (struct sockaddr *)&sa, alen);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n < 0)
		return pv_fail(err, PV_ERR, "sd_notify to %s: %s", path, strerror(e));
	return 1;
}

int pv_sd_notifyf(struct pv_error *err, const char *fmt, ...)
{
	char msg[PV_SD_NOTIFY_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return pv_fail(err, PV_ELIMIT, "sd_notify: message longer than %d bytes",
			       PV_SD_NOTIFY_MAX);
	return pv_sd_notify(msg, err);
}

uint64_t pv_sd_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	uint64_t u, p;
	if (usec == NULL || pv_parse_u64(usec, strlen(usec), 1, UINT64_MAX, 0, &u) < 0)
		return 0;
	/* systemd names the process the watchdog is for; a child that
	 * inherited the environment must not think it is watched. */
	if (pid != NULL && pid[0] != '\0' &&
	    (pv_parse_u64(pid, strlen(pid), 1, UINT64_MAX, 0, &p) < 0 || p != (uint64_t)getpid()))
		return 0;
	return u;
}
