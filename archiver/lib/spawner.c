#include "archiver/lib/spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* A request: argc, envc (u32 each), then argc + envc NUL-terminated
 * strings, with the descriptors as SCM_RIGHTS. The answer: the pid (i32;
 * 0 when refused or failed) and why not, as text. */
#define REQ_MAX 65536
/* Arguments, and variables: the web's whole environment goes with a
 * harvest it starts (a shell's or make's has more than 64). */
#define STRINGS_MAX 1024

static int spawner_fd = -1;
static pid_t spawner_pid;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

bool pv_spawner_active(void)
{
	return spawner_fd >= 0;
}

/* ---- the spawner ---- */

/* In the new process, between clone and exec: fds become 0..n-1. */
static void child(const char *exe, char **argv, char **envp, const int *fds, int n)
{
	int high[PV_SPAWN_FDS_MAX];
	sigset_t none;
	for (int i = 0; i < n; i++)
		if ((high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
			_exit(127);
	for (int i = 0; i < n; i++)
		if (dup2(high[i], i) < 0)
			_exit(127);
	close_range((unsigned)n, ~0U, 0);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL); /* an ignored one would stay ignored */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(exe, argv, envp);
	_exit(127);
}

static void answer(int fd, int32_t pid, const char *why)
{
	char buf[300];
	size_t n = why != NULL ? strlen(why) : 0;
	if (n > sizeof(buf) - 4)
		n = sizeof(buf) - 4;
	memcpy(buf, &pid, 4);
	if (n > 0)
		memcpy(buf + 4, why, n);
	(void)send(fd, buf, 4 + n, MSG_NOSIGNAL);
}

/* argv and envp out of a request; false when it is malformed. */
static bool parse(char *buf, size_t len, char **argv, char **envp)
{
	uint32_t argc, envc;
	if (len < 8)
		return false;
	memcpy(&argc, buf, 4);
	memcpy(&envc, buf + 4, 4);
	if (argc == 0 || argc > STRINGS_MAX || envc > STRINGS_MAX)
		return false;
	size_t at = 8;
	for (uint32_t i = 0; i < argc + envc; i++) {
		char *end = at < len ? memchr(buf + at, '\0', len - at) : NULL;
		if (end == NULL)
			return false;
		if (i < argc)
			argv[i] = buf + at;
		else
			envp[i - argc] = buf + at;
		at = (size_t)(end - buf) + 1;
	}
	argv[argc] = NULL;
	envp[envc] = NULL;
	return at == len;
}

static void serve(int fd, const char *exe, pv_spawn_allow_fn allow, void *ctx)
{
	static char buf[REQ_MAX + 1];
	char *argv[STRINGS_MAX + 1], *envp[STRINGS_MAX + 1];
	const char *program;
	for (;;) {
		union {
			struct cmsghdr h;
			char space[CMSG_SPACE(sizeof(int) * PV_SPAWN_FDS_MAX)];
		} c;
		struct iovec iov = {buf, REQ_MAX};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.space,
				   .msg_controllen = sizeof(c.space)};
		int fds[PV_SPAWN_FDS_MAX], n = 0;
		ssize_t len = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
		if (len <= 0)
			_exit(0); /* the web is gone */
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h != NULL; h = CMSG_NXTHDR(&m, h))
			if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
				for (size_t k = 0; k < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
					int f;
					memcpy(&f, CMSG_DATA(h) + k * sizeof(int), sizeof(int));
					if (n < PV_SPAWN_FDS_MAX)
						fds[n++] = f;
					else
						close(f);
				}
		if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !parse(buf, (size_t)len, argv, envp))
			answer(fd, 0, "malformed request");
		else if ((program = allow(ctx, exe, argv, envp)) == NULL)
			answer(fd, 0, "not a program this process may start");
		else {
			/* CLONE_PARENT: the requester's child, for it to wait for. */
			long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);
			if (pid == 0)
				child(program, argv, envp, fds, n);
			answer(fd, pid > 0 ? (int32_t)pid : 0, pid > 0 ? NULL : strerror(errno));
		}
		for (int i = 0; i < n; i++)
			close(fds[i]);
	}
}

int pv_spawner_start(pv_spawn_allow_fn allow, void *ctx, int (*confine)(struct pv_error *),
		     struct pv_error *err)
{
	char exe[PATH_MAX];
	int sv[2];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return pv_fail(err, PV_ERR, "spawner: cannot find this program: %s", strerror(errno));
	exe[n] = '\0';
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return pv_fail(err, PV_ERR, "spawner: socketpair: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return pv_fail(err, PV_ERR, "spawner: fork: %s", strerror(errno));
	}
	if (pid == 0) {
		struct pv_error e;
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		prctl(PR_SET_NAME, "pv-spawner", 0, 0, 0);
		close(sv[0]);
		/* Its socket as 3, stderr for a log line; nothing else. */
		if (dup2(sv[1], 3) < 0)
			_exit(1);
		close_range(4, ~0U, 0);
		if (confine != NULL && confine(&e) != 0) {
			dprintf(2, "popvault: spawner: %s\n", e.msg);
			_exit(1);
		}
		serve(3, exe, allow, ctx);
	}
	close(sv[1]);
	spawner_fd = sv[0];
	spawner_pid = pid;
	return PV_OK;
}

int pv_spawn(char *const argv[], char *const envp[], const int *fds, int n, pid_t *pid_r,
	     struct pv_error *err)
{
	static char buf[REQ_MAX];
	uint32_t argc = 0, envc = 0;
	size_t len = 8;
	*pid_r = 0;
	if (n < 0 || n > PV_SPAWN_FDS_MAX)
		return pv_fail(err, PV_ERR, "spawner: %d descriptors", n);
	pthread_mutex_lock(&lock);
	while (argv[argc] != NULL)
		argc++;
	while (envp[envc] != NULL)
		envc++;
	int r = argc > STRINGS_MAX || envc > STRINGS_MAX ? PV_ERR : PV_OK;
	for (uint32_t i = 0; r == PV_OK && i < argc + envc; i++) {
		const char *s = i < argc ? argv[i] : envp[i - argc];
		size_t l = strlen(s) + 1;
		if (len + l > sizeof(buf))
			r = PV_ERR;
		else
			memcpy(buf + len, s, l);
		len += l;
	}
	if (r < 0) {
		pthread_mutex_unlock(&lock);
		return pv_fail(err, PV_ERR, "spawner: the request is too big (%u arguments and %u "
			       "variables; at most %d of each and %d bytes in all)", argc, envc,
			       STRINGS_MAX, REQ_MAX);
	}
	memcpy(buf, &argc, 4);
	memcpy(buf + 4, &envc, 4);
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * PV_SPAWN_FDS_MAX)];
	} c;
	memset(&c, 0, sizeof(c));
	struct iovec iov = {buf, len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n > 0) {
		m.msg_control = c.space;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
		memcpy(CMSG_DATA(h), fds, sizeof(int) * (size_t)n);
	}
	char ans[300];
	ssize_t k = -1;
	if (sendmsg(spawner_fd, &m, MSG_NOSIGNAL) == (ssize_t)len)
		k = recv(spawner_fd, ans, sizeof(ans) - 1, 0);
	int e = errno;
	pthread_mutex_unlock(&lock);
	if (k < 4)
		return pv_fail(err, PV_ERR, "spawner: %s", k < 0 ? strerror(e) : "it is gone");
	int32_t pid;
	memcpy(&pid, ans, 4);
	ans[k] = '\0';
	if (pid <= 0)
		return pv_fail(err, PV_ERR, "spawner: %s", ans + 4);
	*pid_r = (pid_t)pid;
	return PV_OK;
}

void pv_spawner_stop(void)
{
	if (spawner_fd < 0)
		return;
	close(spawner_fd);
	spawner_fd = -1;
	while (waitpid(spawner_pid, NULL, 0) < 0 && errno == EINTR)
		;
	spawner_pid = 0;
}
