#include "archiver/index/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/index/text.h"
#include "archiver/lib/sandbox.h"

void (*index_sandbox_test_hook)(const unsigned char *raw, size_t len);

struct index_sandbox {
	pid_t pid;
	int fd; /* our end of the child's socket (its descriptor 0) */
	int64_t time_ms;
	int cpu_s;
	struct pv_buf reply;
};

/* ---- the child ---- */

static int read_all(int fd, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, (char *)p + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	size_t put = 0;
	while (put < n) {
		ssize_t k = write(fd, (const char *)p + put, n - put);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		put += (size_t)k;
	}
	return 0;
}

static uint64_t le64(const unsigned char b[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void put_le64(unsigned char b[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

/* This message's CPU allowance: the soft limit moves, the hard one stays
 * (SIGXCPU kills the child when the message overruns). */
static void cpu_for_one(int cpu_s)
{
	struct rusage ru;
	struct rlimit rl;
	if (getrusage(RUSAGE_SELF, &ru) != 0 || getrlimit(RLIMIT_CPU, &rl) != 0)
		_exit(3);
	rlim_t used = (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1);
	rl.rlim_cur = used + (rlim_t)cpu_s;
	if (rl.rlim_cur > rl.rlim_max)
		_exit(3); /* its lifetime's CPU is spent: the parent starts another */
	if (setrlimit(RLIMIT_CPU, &rl) != 0)
		_exit(3);
}

/* Requests: 8-byte length and the message; answers: 8-byte length and
 * the encoded document, or length UINT64_MAX and nothing when extraction
 * itself failed (out of memory). One socket both ways. */
static void child_loop(int fd, int cpu_s)
{
	unsigned char *msg = malloc(PV_INDEX_RAW_MAX ? PV_INDEX_RAW_MAX : 1);
	struct pv_buf enc;
	if (msg == NULL)
		_exit(2);
	pv_buf_init(&enc, PV_SANDBOX_OUTPUT_MAX);
	for (;;) {
		unsigned char hdr[8];
		if (read_all(fd, hdr, 8) != 0)
			_exit(0); /* the parent is done */
		uint64_t n = le64(hdr);
		if (n > PV_INDEX_RAW_MAX || read_all(fd, msg, (size_t)n) != 0)
			_exit(2);
		cpu_for_one(cpu_s);
		if (index_sandbox_test_hook != NULL)
			index_sandbox_test_hook(msg, (size_t)n);
		struct index_doc doc;
		struct pv_error err;
		pv_buf_reset(&enc);
		int r = index_mime_extract(msg, (size_t)n, &doc, &err);
		if (r == 0)
			r = index_doc_encode(&doc, &enc, &err);
		index_doc_free(&doc);
		put_le64(hdr, r == 0 ? enc.len : UINT64_MAX);
		if (write_all(fd, hdr, 8) != 0 || (r == 0 && write_all(fd, enc.data, enc.len) != 0))
			_exit(0);
	}
}

static void child_main(int fd, int cpu_s)
{
	struct rlimit zero = {0, 0}, cpu = {RLIM_INFINITY, RLIM_INFINITY};
	struct pv_error err;
	/* Its socket is 0; /dev/null as 1; stderr stays for the log line of a
	 * kernel without Landlock. Nothing else is open: it was exec'd. */
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0 || (fd != 0 && dup2(fd, 0) < 0) || dup2(null, 1) < 0)
		_exit(2);
	close_range(3, ~0U, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	signal(SIGPIPE, SIG_DFL);
	if (chdir("/") != 0)
		_exit(2);
	clearenv();
	/* GMime and the charsets it pins, before the filter is in place. */
	index_gmime_init();
	/* One hour of CPU over its life; each message gets cpu_s of it. */
	cpu.rlim_max = 3600;
	cpu.rlim_cur = (rlim_t)cpu_s;
	if (setrlimit(RLIMIT_CPU, &cpu) != 0 || setrlimit(RLIMIT_FSIZE, &zero) != 0 ||
	    setrlimit(RLIMIT_CORE, &zero) != 0)
		_exit(2);
#if !defined(__SANITIZE_ADDRESS__)
	/* (The test build's ASan reserves terabytes of address space.) */
	struct rlimit as = {PV_SANDBOX_MEMORY_MAX, PV_SANDBOX_MEMORY_MAX};
	if (setrlimit(RLIMIT_AS, &as) != 0)
		_exit(2);
#endif
	if (pv_sandbox_parser(&err) != 0) {
		/* Never parse unconfined. */
		dprintf(2, "popvault: parser sandbox: %s\n", err.msg);
		_exit(2);
	}
	child_loop(0, cpu_s);
}

/* The child is this very program, exec'd afresh (no copy of the parent's
 * memory, its keys and passwords included; no lock another thread held
 * at the fork): with SANDBOX_ENV set, this runs before main() and never
 * returns. argv: "pv-parser", pdftotext's path or "-", CPU seconds per
 * message. (glibc passes argc, argv to constructors.) */
#define SANDBOX_ENV "POPVAULT_PARSER_SANDBOX"
__attribute__((constructor)) static void parser_entry(int argc, char **argv)
{
	const char *v = getenv(SANDBOX_ENV);
	int cpu_s;
	if (v == NULL || strcmp(v, "1") != 0)
		return;
	if (argc != 3 || strcmp(argv[0], "pv-parser") != 0 ||
	    (cpu_s = atoi(argv[2])) <= 0 || cpu_s > 3600)
		_exit(2);
	prctl(PR_SET_NAME, "pv-parser", 0, 0, 0);
	index_mime_set_pdftotext(strcmp(argv[1], "-") != 0 ? argv[1] : NULL);
	child_main(0, cpu_s);
}

/* ---- the parent ---- */

int index_sandbox_new(const struct index_sandbox_opts *opts, struct index_sandbox **sb_r,
		      struct pv_error *err)
{
	struct index_sandbox *sb = calloc(1, sizeof(*sb));
	if (sb == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	sb->fd = -1;
	sb->time_ms = opts != NULL && opts->time_ms > 0 ? opts->time_ms : PV_SANDBOX_TIME_MAX_MS;
	sb->cpu_s = opts != NULL && opts->cpu_s > 0 ? opts->cpu_s : PV_SANDBOX_CPU_MAX_S;
	pv_buf_init(&sb->reply, PV_SANDBOX_OUTPUT_MAX);
	*sb_r = sb;
	return 0;
}

/* Ends the child: EOF on its stdin; killed when it does not go at once. */
static void stop(struct index_sandbox *sb, bool kill_it, int *status_r)
{
	int status = 0;
	if (sb->fd >= 0)
		close(sb->fd);
	sb->fd = -1;
	if (sb->pid <= 0)
		return;
	if (kill_it)
		kill(sb->pid, SIGKILL);
	for (int i = 0; !kill_it && i < 100; i++) {
		pid_t w = waitpid(sb->pid, &status, WNOHANG);
		if (w == sb->pid) {
			sb->pid = 0;
			break;
		}
		usleep(2000);
	}
	if (sb->pid > 0) {
		kill(sb->pid, SIGKILL);
		while (waitpid(sb->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	sb->pid = 0;
	if (status_r != NULL)
		*status_r = status;
}

void index_sandbox_free(struct index_sandbox **sbp)
{
	struct index_sandbox *sb = *sbp;
	if (sb == NULL)
		return;
	stop(sb, false, NULL);
	pv_buf_free(&sb->reply);
	free(sb);
	*sbp = NULL;
}

int index_sandbox_pid(const struct index_sandbox *sb)
{
	return (int)sb->pid;
}

static int start(struct index_sandbox *sb, struct pv_error *err)
{
	char exe[PATH_MAX], cpu[16];
	int sv[2];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return pv_fail(err, PV_ERR, "parser sandbox: cannot find this program: %s",
			       strerror(errno));
	exe[n] = '\0';
	snprintf(cpu, sizeof(cpu), "%d", sb->cpu_s);
	const char *pdf = index_mime_pdftotext();
	char *const argv[] = {"pv-parser", (char *)(pdf != NULL ? pdf : "-"), cpu, NULL};
	char *const envp[] = {SANDBOX_ENV "=1", NULL};
	/* A socket, not pipes: MSG_NOSIGNAL, so a dead child costs no SIGPIPE. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return pv_fail(err, PV_ERR, "parser sandbox: socketpair: %s", strerror(errno));
	pid_t pid = fork();
	if (pid == 0) {
		/* Between fork and exec: async-signal-safe calls only. */
		if (dup2(sv[1], 0) == 0)
			execve(exe, argv, envp);
		_exit(127);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return pv_fail(err, PV_ERR, "parser sandbox: fork: %s", strerror(errno));
	}
	sb->pid = pid;
	sb->fd = sv[0];
	return 0;
}

/* How the child ended, in words. */
static void describe(int status, char *out, size_t n)
{
	if (WIFSIGNALED(status)) {
		int s = WTERMSIG(status);
		snprintf(out, n, "killed by signal %d (%s)%s", s, strsignal(s),
			 s == SIGSYS   ? ": it made a system call its sandbox forbids"
			 : s == SIGXCPU ? ": it ran out of CPU time"
			 : s == SIGSEGV || s == SIGABRT || s == SIGBUS ? ": it crashed"
					: "");
	} else if (WIFEXITED(status)) {
		snprintf(out, n, "it exited with status %d", WEXITSTATUS(status));
	} else {
		snprintf(out, n, "it stopped");
	}
}

/* Sends the message and reads the answer into sb->reply, within the
 * deadline. 0; PV_EPROTO with why (*keep_r: the child is still sound, it
 * only could not extract this one). */
static int exchange(struct index_sandbox *sb, const unsigned char *raw, size_t len,
		    bool *keep_r, struct pv_error *err)
{
	unsigned char hdr[8];
	size_t sent = 0, got = 0;
	uint64_t want = 0;
	int64_t deadline = pv_clock_monotonic_ms() + sb->time_ms;

	put_le64(hdr, len);
	pv_buf_reset(&sb->reply);
	*keep_r = false;
	while (got < 8 || got - 8 < want) {
		struct pollfd p = {sb->fd, POLLIN | (sent < 8 + len ? POLLOUT : 0), 0};
		int64_t left = deadline - pv_clock_monotonic_ms();
		if (left <= 0)
			return pv_fail(err, PV_EPROTO, "ran out of time (%lld ms)",
				       (long long)sb->time_ms);
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return pv_fail(err, PV_ERR, "parser sandbox: poll: %s", strerror(errno));
		}
		if ((p.revents & POLLOUT) && sent < 8 + len) {
			const void *src = sent < 8 ? (const void *)(hdr + sent) : raw + (sent - 8);
			size_t n = sent < 8 ? 8 - sent : len - (sent - 8);
			ssize_t k = send(sb->fd, src, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (k < 0 && errno != EINTR && errno != EAGAIN)
				return pv_fail(err, PV_EPROTO, "it stopped reading");
			if (k > 0)
				sent += (size_t)k;
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		unsigned char buf[65536];
		size_t cap = got < 8 ? 8 - got : sizeof(buf);
		ssize_t k = recv(sb->fd, buf, cap, MSG_DONTWAIT);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0)
			return pv_fail(err, PV_EPROTO, "it stopped answering");
		if (got < 8) {
			memcpy(hdr + got, buf, (size_t)k);
			if ((got += (size_t)k) < 8)
				continue;
			want = le64(hdr);
			if (want == UINT64_MAX) {
				*keep_r = true;
				return pv_fail(err, PV_EPROTO, "out of memory extracting its text");
			}
			if (want > PV_SANDBOX_OUTPUT_MAX)
				return pv_fail(err, PV_EPROTO, "its answer is over %d bytes",
					       PV_SANDBOX_OUTPUT_MAX);
			continue;
		}
		if ((uint64_t)(got - 8) + (uint64_t)k > want ||
		    pv_buf_append(&sb->reply, buf, (size_t)k, NULL) != 0)
			return pv_fail(err, PV_EPROTO, "it answered more than it announced");
		got += (size_t)k;
	}
	if (sent < 8 + len)
		return pv_fail(err, PV_EPROTO, "it answered before reading the message");
	return 0;
}

int index_sandbox_extract(struct index_sandbox *sb, const unsigned char *raw, size_t len,
			  struct index_doc *doc_r, struct pv_error *err)
{
	bool keep = false;
	int r;
	index_doc_init(doc_r);
	if (len > PV_INDEX_RAW_MAX)
		len = PV_INDEX_RAW_MAX;
	if (sb->pid <= 0 && (r = start(sb, err)) < 0)
		return r;
	r = exchange(sb, raw, len, &keep, err);
	if (r == 0 && (r = index_doc_decode(sb->reply.data, sb->reply.len, doc_r, err)) < 0)
		r = PV_EPROTO;
	if (r == 0)
		return 0;
	index_doc_free(doc_r);
	index_doc_init(doc_r);
	if (keep)
		return pv_fail(err, PV_EPROTO, "parser sandbox: %s", err->msg);
	/* This child is done for: a fresh one next time. When it ended by
	 * itself, how it ended is the reason. */
	char what[PV_ERROR_MSG_MAX];
	int status = 0;
	bool died = strncmp(err->msg, "it stopped", 10) == 0;
	snprintf(what, sizeof(what), "%s", err->msg);
	stop(sb, !died, &status);
	if (died)
		describe(status, what, sizeof(what));
	return pv_fail(err, r == PV_ERR ? PV_ERR : PV_EPROTO, "parser sandbox: %s", what);
}
