/* The seccomp allow-list of every process role (sandbox.h), in one
 * table. Each list was taken from strace of the e2e suites that run the
 * role (appliance.t, api_admin.t, serve.t, signer.t), then checked against
 * the calls the code makes (copy_file_range: a spilled message into its
 * pack, export.t; sync_file_range: a pack's writeback started early, the
 * harvest's pipeline) and the e2e suites of each role under the filters; it
 * is named by groups, so what a role may do reads in one line of the
 * table. A call found missing shows as one "seccomp.violation" line. */
#include "archiver/lib/sandbox.h"

#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/log.h"

/* Running C at all: memory, signals, time, the descriptors it has. */
static const char *const g_base[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close", "close_range", "lseek",
	"fstat", "newfstatat", "statx", "brk", "mmap", "munmap", "mprotect", "madvise", "mremap",
	"mlock", "mlock2", "munlock", "futex", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"rt_sigtimedwait", "sigaltstack", "getpid", "gettid", "getppid", "tgkill", "exit",
	"exit_group", "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
	"gettimeofday", "getrandom", "poll", "ppoll", "restart_syscall", "sched_yield", "getuid",
	"geteuid", "getgid", "getegid", "fcntl", "dup", "dup2", "dup3", "readlink", "readlinkat",
	"prctl", "getrlimit", "prlimit64", "uname", "sysinfo", "set_robust_list", "rseq",
	"set_tid_address", NULL,
};

/* The data directory: the catalog (SQLite), packs, blobs, tmp, locks. */
static const char *const g_files[] = {
	"openat", "openat2", "open", "access", "faccessat", "faccessat2", "getdents64", "mkdir",
	"mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "link",
	"linkat", "fsync", "fdatasync", "syncfs", "ftruncate", "fallocate", "flock", "fchmod",
	"fchmodat", "chmod", "fchown", "fchownat", "umask", "statfs", "fstatfs", "getcwd",
	"utimensat", "copy_file_range", "sendfile", "sync_file_range", "fadvise64", NULL,
};

/* Sockets it was given or made in pairs: the signer's channel, a
 * parser sandbox's socket. */
static const char *const g_unix[] = {
	"socketpair", "sendmsg", "recvmsg", "sendto", "recvfrom", "shutdown", "getsockopt",
	"setsockopt", NULL,
};

static const char *const g_threads[] = {
	"clone", "clone3", "membarrier", "sched_getaffinity", NULL,
};

/* Threads but no new process (THREADS_ONLY below): clone only with
 * CLONE_THREAD, clone3 (whose flags a filter cannot read) answered ENOSYS,
 * on which glibc's pthread_create falls back to clone. */
static const char *const g_threads_only[] = {
	"membarrier", "sched_getaffinity", NULL,
};

/* Starting and waiting for a child program (the parser sandbox, "harvest
 * now", the token command); with what that program needs until it
 * confines itself (a filter stacks on the parent's), the parser's own,
 * and its CPU (a pinned sandbox, index/sandbox.h). */
static const char *const g_spawn[] = {
	"clone", "clone3", "fork", "vfork", "execve", "wait4", "waitid", "kill", "pipe", "pipe2",
	"getpriority", "setpriority", "getpgrp", "setpgid", "arch_prctl", "chdir", "setrlimit",
	"getrusage", "times", "seccomp", "landlock_create_ruleset", "landlock_add_rule",
	"landlock_restrict_self", "sched_getaffinity", "sched_setaffinity", NULL,
};

/* Waiting for and stopping children another process started for it
 * (the web's spawner makes them the web's children). */
static const char *const g_wait[] = {
	"wait4", "waitid", "kill", "pipe", "pipe2", NULL,
};

/* An outside server: POP3 upstreams, DNS, TSAs, witnesses. */
static const char *const g_net_client[] = {
	"socket", "connect", "bind", "getsockname", "getpeername", "sendmmsg", "recvmmsg", NULL,
};

/* The catalog's server reached by a role that is no network client
 * otherwise (pv_sandbox_catalog_net): socket() itself is added with its
 * address family checked (catalog_socket). */
static const char *const g_catalog_net[] = {
	"connect", "getsockname", "getpeername", NULL,
};

/* Answering clients on a socket it was given (the supervisor binds it). */
static const char *const g_net_server[] = {
	"accept", "accept4", "getsockname", "getpeername", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_wait", "epoll_pwait", "eventfd2", "select", "pselect6", NULL,
};

/* The supervisor's own: its signals through a signalfd. */
static const char *const g_supervise[] = {
	"signalfd", "signalfd4", NULL,
};

/* The signer: its key directory and records. */
static const char *const g_signer[] = {
	"recvmsg", "sendmsg", "recvfrom", "sendto", "getsockopt", "openat", "open", "unlink",
	"unlinkat", "rename", "renameat", "renameat2", "fsync", "fdatasync", "fchmod", "flock",
	"umask", NULL,
};

/* The parser sandbox: pipes, pdftotext as its child. */
static const char *const g_parser[] = {
	"openat", "open", "access", "faccessat", "faccessat2", "getdents64", "pipe", "pipe2",
	"socketpair", "shutdown", "sendto", "recvfrom", "clone", "clone3", "fork", "vfork",
	"execve", "wait4", "waitid", "kill", "setrlimit", "arch_prctl", "getcwd",
	"sched_getaffinity", "getpgrp", "getrusage", "times", "membarrier", NULL,
};

#if defined(__SANITIZE_ADDRESS__)
/* The ASan test build only: LeakSanitizer's check at exit stops the
 * other threads with ptrace from a thread of its own. */
static const char *const g_asan[] = {"ptrace", "clone", "wait4", "sched_getaffinity", NULL};
#endif

enum selftest_call { ST_NONE, ST_UNSHARE, ST_PTRACE, ST_INET_SOCKET, ST_EXECVE, ST_FORK };

#define GROUPS_MAX 10
struct role {
	const char *name;
	const char *const *groups[GROUPS_MAX];
	unsigned ioctls;         /* IOC_* and THREADS_ONLY and STORE_NET below */
	bool kill;               /* SECCOMP_RET_KILL_PROCESS, not the logging trap */
	enum selftest_call test; /* what it must never do */
};

#define IOC_TTY 0x1    /* isatty(): TCGETS, TIOCGWINSZ */
#define IOC_FIONREAD 0x2 /* glibc's DNS resolver */
#define THREADS_ONLY 0x4 /* g_threads_only: threads, never fork */
/* Reads or removes packs and opens the catalog without being a network
 * client otherwise: with an object store (pv_sandbox_store_net) also
 * g_net_client and the resolver's FIONREAD; with the catalog on a server
 * (pv_sandbox_catalog_net) g_catalog_net and that server's socket only.
 * Where it may make an inet socket, its self-test call is unshare. */
#define STORE_NET 0x8

static const struct role roles[PV_ROLE_N] = {
	[PV_ROLE_SUPERVISOR] = {"supervisor",
				{g_base, g_files, g_unix, g_threads, g_spawn, g_net_client,
				 g_net_server, g_supervise},
				IOC_TTY | IOC_FIONREAD, false, ST_NONE},
	[PV_ROLE_WEB] = {"web",
			 {g_base, g_files, g_unix, g_threads_only, g_wait, g_net_client, g_net_server},
			 IOC_TTY | IOC_FIONREAD | THREADS_ONLY, false, ST_EXECVE},
	/* What it starts for the web (a view's parser sandbox, "harvest
	 * now") stacks on its set, which is therefore the harvest's. */
	[PV_ROLE_SPAWNER] = {"spawner",
			     {g_base, g_files, g_unix, g_threads, g_spawn, g_net_client},
			     IOC_TTY | IOC_FIONREAD, false, ST_NONE},
	[PV_ROLE_HARVEST] = {"harvest",
			     {g_base, g_files, g_unix, g_threads, g_spawn, g_net_client},
			     IOC_TTY | IOC_FIONREAD, false, ST_PTRACE},
	[PV_ROLE_INDEXER] = {"indexer", {g_base, g_files, g_unix, g_spawn}, IOC_TTY | STORE_NET,
			     false, ST_INET_SOCKET},
	[PV_ROLE_TASK] = {"task", {g_base, g_files, g_unix, g_threads_only},
			  IOC_TTY | THREADS_ONLY | STORE_NET, false, ST_FORK},
	[PV_ROLE_DISPOSE] = {"dispose", {g_base, g_files, g_unix, g_threads, g_spawn},
			     IOC_TTY | STORE_NET, false, ST_INET_SOCKET},
	[PV_ROLE_ANCHOR] = {"anchor", {g_base, g_files, g_unix, g_threads_only, g_net_client},
			    IOC_TTY | IOC_FIONREAD | THREADS_ONLY, false, ST_EXECVE},
	[PV_ROLE_SIGNER] = {"signer", {g_base, g_signer}, IOC_TTY, false, ST_INET_SOCKET},
	[PV_ROLE_PARSER] = {"parser", {g_base, g_parser}, IOC_TTY, true, ST_INET_SOCKET},
};

static bool seccomp_on;
static bool store_net;
static enum pv_catalog_net catalog_net;
static unsigned catalog_port;
static int selftest_armed = -1;
static const char *active_role = "?";

bool pv_sandbox_active(void)
{
	return seccomp_on;
}

void pv_sandbox_store_net(bool on)
{
	store_net = on;
}

void pv_sandbox_catalog_net(enum pv_catalog_net net, unsigned port)
{
	catalog_net = net;
	catalog_port = port;
}

/* Does role get the network for the pack store? */
static bool role_store_net(const struct role *ro)
{
	return store_net && (ro->ioctls & STORE_NET);
}

/* Does role get its catalog server (and no more, unless the store)? */
static enum pv_catalog_net role_catalog_net(const struct role *ro)
{
	return (ro->ioctls & STORE_NET) && !role_store_net(ro) ? catalog_net : PV_CATNET_NONE;
}

/* May role make an inet socket (its self-test then tries another call)? */
static bool role_inet(const struct role *ro)
{
	return role_store_net(ro) || role_catalog_net(ro) == PV_CATNET_TCP;
}

const char *pv_role_name(enum pv_role role)
{
	return (unsigned)role < PV_ROLE_N ? roles[role].name : NULL;
}

enum pv_role pv_role_by_name(const char *name)
{
	for (int i = 0; i < PV_ROLE_N; i++)
		if (strcmp(roles[i].name, name) == 0)
			return (enum pv_role)i;
	return PV_ROLE_N;
}

/* ---- a violation ---- */

static void put(char *buf, size_t n, size_t *at, const char *s)
{
	while (*s && *at + 1 < n)
		buf[(*at)++] = *s++;
	buf[*at] = '\0';
}

/* SIGSYS from the filter (SA_RESETHAND: SIGSYS is at its default again
 * here). One line in pv_log's form, made of async-signal-safe pieces but
 * the name lookup, which may allocate, and the time (gmtime_r's lock):
 * the process is about to die, and only a forbidden call traps, which
 * neither malloc nor the time code makes. Then SIGSYS again, now fatal. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[320], num[24], comm[17] = "";
	size_t at = 0;
	int nr = si->si_syscall, k = 0;
	unsigned v = nr < 0 ? 0 : (unsigned)nr;
	(void)sig;
	(void)uc;
	char tmp[24];
	do
		tmp[k++] = (char)('0' + v % 10);
	while ((v /= 10) != 0 && k < (int)sizeof(tmp));
	for (int i = 0; i < k; i++)
		num[i] = tmp[k - 1 - i];
	num[k] = '\0';
	prctl(PR_GET_NAME, comm, 0, 0, 0);
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	char ts[PV_RFC3339_LEN];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	pv_clock_format_rfc3339(now.tv_sec, ts); /* tz code makes only allowed calls */
	put(line, sizeof(line), &at, "time=");
	put(line, sizeof(line), &at, ts);
	put(line, sizeof(line), &at, " level=error event=seccomp.violation msg=\"");
	put(line, sizeof(line), &at, comm);
	put(line, sizeof(line), &at, " (role ");
	put(line, sizeof(line), &at, active_role);
	put(line, sizeof(line), &at, ") made a system call its role may not: ");
	put(line, sizeof(line), &at, name != NULL ? name : "?");
	put(line, sizeof(line), &at, " (");
	put(line, sizeof(line), &at, num);
	put(line, sizeof(line), &at, "); killed\"\n");
	(void)!write(STDERR_FILENO, line, at);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSYS);
}

/* ---- loading ---- */

static int allow(scmp_filter_ctx ctx, const char *const *names, struct pv_error *err)
{
	for (size_t i = 0; names[i] != NULL; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0 && rc != -EEXIST)
			return pv_fail(err, PV_ERR, "seccomp: allow %s: %s", names[i], strerror(-rc));
	}
	return 0;
}

static int allow_ioctl(scmp_filter_ctx ctx, unsigned long req, struct pv_error *err)
{
	/* (The comparison spelt out: clang warns on SCMP_A1's missing datum_b.) */
	const struct scmp_arg_cmp cmp = {1, SCMP_CMP_EQ, req, 0};
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, cmp);
	return rc < 0 ? pv_fail(err, PV_ERR, "seccomp: ioctl rule: %s", strerror(-rc)) : 0;
}

/* socket() of the families that reach the catalog's server: AF_UNIX for
 * a unix socket (glibc's name service asks nscd over one too); AF_INET
 * and AF_INET6 besides for TCP (the resolver's UDP included). */
static int allow_catalog_socket(scmp_filter_ctx ctx, enum pv_catalog_net net,
				struct pv_error *err)
{
	const int fams[] = {AF_UNIX, AF_INET, AF_INET6};
	int n = net == PV_CATNET_TCP ? 3 : 1, rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		const struct scmp_arg_cmp fam = {0, SCMP_CMP_EQ, (scmp_datum_t)fams[i], 0};
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, fam);
	}
	return rc < 0 ? pv_fail(err, PV_ERR, "seccomp: socket rule: %s", strerror(-rc)) : 0;
}

/* TCP to the catalog's port only (Landlock ABI 4+; below that seccomp
 * alone holds, noted once). */
static int catalog_landlock(const struct role *ro, struct pv_error *err)
{
	const char *why = NULL;
	int r = pv_landlock_tcp_connect_only(catalog_port, &why, err);
	if (r == 1)
		pv_log(PV_LOG_WARN, "sandbox.landlock", "%s: %s; it may connect to any TCP port",
		       ro->name, why);
	return r < 0 ? r : 0;
}

static int allow_threads_only(scmp_filter_ctx ctx, struct pv_error *err)
{
#if defined(__SANITIZE_ADDRESS__)
	/* LeakSanitizer's tracer is a clone without CLONE_THREAD (g_asan). */
	return allow(ctx, g_threads, err);
#else
	const struct scmp_arg_cmp thread = {0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD};
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, thread);
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	return rc < 0 ? pv_fail(err, PV_ERR, "seccomp: clone rules: %s", strerror(-rc)) : 0;
#endif
}

int pv_sandbox_role(enum pv_role role, struct pv_error *err)
{
	if ((unsigned)role >= PV_ROLE_N)
		return pv_fail(err, PV_ERR, "seccomp: no role %d", (int)role);
	const struct role *ro = &roles[role];
	scmp_filter_ctx ctx = seccomp_init(ro->kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_TRAP);
	int r = 0, rc;
	if (ctx == NULL)
		return pv_fail(err, PV_ERR, "seccomp: init failed");
	for (int i = 0; i < GROUPS_MAX && ro->groups[i] != NULL && r == 0; i++)
		r = allow(ctx, ro->groups[i], err);
	bool net = role_store_net(ro);
	enum pv_catalog_net cnet = role_catalog_net(ro);
	if (r == 0 && net)
		r = allow(ctx, g_net_client, err);
	if (r == 0 && cnet != PV_CATNET_NONE &&
	    (r = allow(ctx, g_catalog_net, err)) == 0)
		r = allow_catalog_socket(ctx, cnet, err);
	if (r == 0 && cnet == PV_CATNET_TCP)
		r = catalog_landlock(ro, err);
#if defined(__SANITIZE_ADDRESS__)
	if (r == 0 && !ro->kill)
		r = allow(ctx, g_asan, err);
#endif
	if (r == 0 && (ro->ioctls & IOC_TTY) &&
	    ((r = allow_ioctl(ctx, TCGETS, err)) < 0 || (r = allow_ioctl(ctx, TIOCGWINSZ, err)) < 0))
		goto out;
	if (r == 0 && ((ro->ioctls & IOC_FIONREAD) || net || cnet == PV_CATNET_TCP))
		r = allow_ioctl(ctx, FIONREAD, err);
	if (r == 0 && (ro->ioctls & THREADS_ONLY))
		r = allow_threads_only(ctx, err);
	if (r < 0)
		goto out;
	/* Every thread: the web loads its filter with its server running. */
	if (!ro->kill && (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0) {
		r = pv_fail(err, PV_ERR, "seccomp: tsync: %s", strerror(-rc));
		goto out;
	}
	if (!ro->kill) {
		struct sigaction sa;
		struct rlimit zero = {0, 0};
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigsys;
		sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		active_role = ro->name;
		if (sigaction(SIGSYS, &sa, NULL) != 0 || setrlimit(RLIMIT_CORE, &zero) != 0) {
			r = pv_fail(err, PV_ERR, "seccomp: SIGSYS handler: %s", strerror(errno));
			goto out;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		r = pv_fail(err, PV_ERR, "no_new_privs: %s", strerror(errno));
		goto out;
	}
	if ((rc = seccomp_load(ctx)) < 0) {
		r = pv_fail(err, PV_ERR, "seccomp: load: %s", strerror(-rc));
		goto out;
	}
	seccomp_on = true;
out:
	seccomp_release(ctx);
	return r;
}

/* ---- the self-test ---- */

void pv_sandbox_selftest_arm(enum pv_role role)
{
	selftest_armed = (int)role;
}

void pv_sandbox_selftest_point(enum pv_role role)
{
	if (selftest_armed != (int)role || (unsigned)role >= PV_ROLE_N)
		return;
	selftest_armed = -1;
	pv_log(PV_LOG_WARN, "seccomp.selftest", "role %s: trying a call it may not make",
	       roles[role].name);
	long rc = -1;
	enum selftest_call test = roles[role].test;
	if (test == ST_INET_SOCKET && role_inet(&roles[role]))
		test = ST_UNSHARE; /* it may make one now */
	switch (test) {
	case ST_UNSHARE:
		rc = syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS);
		break;
	case ST_PTRACE:
		rc = syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
		break;
	case ST_INET_SOCKET:
		rc = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (rc >= 0)
			close((int)rc);
		break;
	case ST_EXECVE: {
		char *const argv[] = {"true", NULL}, *const envp[] = {NULL};
		rc = syscall(SYS_execve, "/bin/true", argv, envp);
		break;
	}
	case ST_FORK: /* a new process, not a thread: no CLONE_THREAD */
		rc = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
		if (rc == 0)
			_exit(0);
		if (rc > 0)
			waitpid((pid_t)rc, NULL, 0);
		break;
	case ST_NONE:
		return;
	}
	pv_log(PV_LOG_ERROR, "seccomp.selftest", "role %s: the forbidden call was NOT stopped "
	       "(it returned %ld)", roles[role].name, rc);
}
