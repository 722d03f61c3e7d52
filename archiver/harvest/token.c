#include "archiver/harvest/token.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/cmdline.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/secret.h"

extern char **environ;

static int spawn(const struct pv_cmdline *c, int out_fd, pid_t *pid_r, struct pv_error *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int e = posix_spawnattr_init(&at);
	if (e != 0)
		return pv_fail(err, PV_EAUTH, "cannot run the token command %.200s: %s", c->argv[0],
			       strerror(e));
	/* a process group of its own: a late command is killed with all it
	 * started (a script's curl, its sleep), not only the script */
	e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	if (e == 0)
		e = posix_spawnattr_setpgroup(&at, 0);
	if (e == 0)
		e = posix_spawn_file_actions_init(&fa);
	if (e != 0) {
		posix_spawnattr_destroy(&at);
		return pv_fail(err, PV_EAUTH, "cannot run the token command %.200s: %s", c->argv[0],
			       strerror(e));
	}
	e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (e == 0)
		e = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	if (e == 0) /* nothing of popvault's (catalog, keys, sockets) reaches the helper */
		e = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (e == 0)
		e = posix_spawn(pid_r, c->argv[0], &fa, &at, c->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (e != 0)
		return pv_fail(err, PV_EAUTH, "cannot run the token command %.200s: %s", c->argv[0],
			       strerror(e));
	return PV_OK;
}

/* Waits for pid until deadline (monotonic ms), then kills its process
 * group. *status_r: its wait status; returns false when it had to be
 * killed. */
static bool reap(pid_t pid, int64_t deadline, int *status_r)
{
	for (;;) {
		pid_t w = waitpid(pid, status_r, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return w == pid;
		if (w == 0 && pv_clock_monotonic_ms() >= deadline) {
			kill(-pid, SIGKILL);
			while (waitpid(pid, status_r, 0) < 0 && errno == EINTR)
				;
			return false;
		}
		if (w == 0)
			poll(NULL, 0, 10);
	}
}

int harvest_token_run(const char *command_line, int64_t timeout_ms, char **token_r,
		      struct pv_error *err)
{
	struct pv_cmdline c;
	int fds[2], status = 0, r;
	pid_t pid;

	if ((r = pv_cmdline_split(command_line, &c, err)) < 0)
		return pv_error_prefix(err, "token command");
	if (pipe2(fds, O_CLOEXEC) < 0) {
		pv_cmdline_free(&c);
		return pv_fail(err, PV_ERR, "pipe: %s", strerror(errno));
	}
	r = spawn(&c, fds[1], &pid, err);
	bool spawned = r == PV_OK;
	close(fds[1]);
	char *buf = r == PV_OK ? pv_secret_alloc(PV_SECRET_FILE_MAX + 2) : NULL;
	if (r == PV_OK && buf == NULL)
		r = pv_fail(err, PV_ERR, "out of memory");
	int64_t deadline = pv_clock_monotonic_ms() + timeout_ms;
	size_t len = 0;
	bool slow = false, big = false;
	while (r == PV_OK) {
		int64_t left = deadline - pv_clock_monotonic_ms();
		struct pollfd p = {fds[0], POLLIN, 0};
		int n = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			slow = n == 0;
			break;
		}
		ssize_t got = read(fds[0], buf + len, PV_SECRET_FILE_MAX + 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
		if (len > PV_SECRET_FILE_MAX) {
			big = true;
			break;
		}
	}
	close(fds[0]);
	bool finished = false, stop = slow || big || r < 0;
	if (spawned) {
		if (stop)
			kill(-pid, SIGKILL); /* its group: everything it started */
		finished = reap(pid, stop ? 0 : deadline, &status);
	}
	if (r == PV_OK) {
		char *nl = strpbrk(buf, "\r\n"); /* the token: the first line */
		if (nl != NULL)
			*nl = '\0';
		if (big)
			r = pv_fail(err, PV_ELIMIT, "the token command printed more than %d bytes",
				    PV_SECRET_FILE_MAX);
		else if (slow || !finished)
			r = pv_fail(err, PV_ETEMP, "the token command %.200s did not finish within "
						   "%lld s", c.argv[0], (long long)timeout_ms / 1000);
		else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			r = pv_fail(err, PV_EAUTH, "the token command %.200s failed (%s %d)",
				    c.argv[0], WIFEXITED(status) ? "exit status" : "signal",
				    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		else if (buf[0] == '\0')
			r = pv_fail(err, PV_EAUTH, "the token command %.200s printed no token",
				    c.argv[0]);
	}
	pv_cmdline_free(&c);
	if (r < 0) {
		pv_secret_free(&buf);
		return r;
	}
	*token_r = buf;
	return PV_OK;
}
