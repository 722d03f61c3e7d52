#include "archiver/index/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/index/text.h"
#include "archiver/lib/sandbox.h"
#include "archiver/lib/spawner.h"
#include "archiver/lib/utf8.h"

void (*index_sandbox_test_hook)(const unsigned char *raw, size_t len);

struct index_sandbox {
	pid_t pid;
	int fd; /* our end of the child's socket (its descriptor 0) */
	int64_t time_ms;
	int cpu_s;
	int pin; /* the CPU the child runs on, or -1 */
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

/* What the child is asked to do with a message. */
enum sb_op {
	SB_EXTRACT = 1, /* index_mime_extract: an encoded document */
	SB_META = 2,    /* the same, after one byte: has an HTML body */
	SB_TEXT = 3,    /* index_mime_show: the text */
	SB_HTML = 4,    /* index_mime_view_html: one byte (had HTML), the HTML */
};

/* The largest message each operation reads. */
static size_t op_input_max(uint8_t op)
{
	return op == SB_HTML ? PV_VIEW_RAW_MAX : PV_INDEX_RAW_MAX;
}

static int run_op(uint8_t op, const unsigned char *msg, size_t n, struct pv_buf *out,
		  struct pv_error *err)
{
	struct index_doc doc;
	struct index_parts ps;
	struct pv_buf text;
	bool flag = false;
	int r;
	switch (op) {
	case SB_EXTRACT:
	case SB_META:
		if (op == SB_META) {
			if ((r = index_mime_parts(msg, n, &ps, err)) == 0)
				flag = index_parts_html_body(&ps) != NULL;
			index_parts_free(&ps);
			if (r < 0 || (r = pv_buf_append(out, flag ? "\1" : "\0", 1, err)) < 0)
				return r;
		}
		r = index_mime_extract(msg, n, &doc, err);
		if (r == 0)
			r = index_doc_encode(&doc, out, err);
		index_doc_free(&doc);
		return r;
	case SB_TEXT:
		return index_mime_show(msg, n, out, err);
	case SB_HTML:
		pv_buf_init(&text, PV_VIEW_HTML_MAX);
		r = index_mime_view_html(msg, n, &text, &flag, err);
		if (r == 0 || r == PV_ELIMIT) {
			int k = pv_buf_append(out, flag ? "\1" : "\0", 1, err);
			if (k == 0)
				k = pv_buf_append(out, text.data, text.len, err);
			if (k < 0)
				r = k;
		}
		pv_buf_free(&text);
		return r == PV_ELIMIT ? 0 : r; /* a cut view still is one */
	default:
		return pv_fail(err, PV_ERR, "no such operation");
	}
}

/* A worker's answer on its pipe: the result's length (UINT64_MAX: the
 * operation itself failed), the common charsets the message names
 * (index_charsets_seen: the child pins them for the workers after), the
 * result. */
#define WORKER_HDR 12

static void put_le32(unsigned char b[4], uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

/* One message, in a process of its own (forked by the child below, which
 * never parses anything): the operation, its answer written to fd (above),
 * then exit. A message that subverts this process dies with it: the next
 * one starts from the clean child again, so it cannot touch another
 * message's result (what it can make the child do is pin more of the 20
 * common converters, as many as every child pinned before). */
static void worker(int fd, uint8_t op, const unsigned char *msg, size_t n, int cpu_s)
{
	/* SIGXCPU at cpu_s (it says why), SIGKILL a second later. */
	struct rlimit cpu = {(rlim_t)cpu_s, (rlim_t)cpu_s + 1};
	struct pv_buf out;
	struct pv_error err;
	unsigned char hdr[WORKER_HDR];
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (setrlimit(RLIMIT_CPU, &cpu) != 0)
		_exit(3);
	if (index_sandbox_test_hook != NULL)
		index_sandbox_test_hook(msg, n);
	pv_buf_init(&out, PV_SANDBOX_OUTPUT_MAX);
	int r = run_op(op, msg, n, &out, &err);
	put_le64(hdr, r == 0 ? out.len : UINT64_MAX);
	put_le32(hdr + 8, index_charsets_seen(msg, n));
	if (write_all(fd, hdr, WORKER_HDR) != 0 || (r == 0 && write_all(fd, out.data, out.len) != 0))
		_exit(4);
	_exit(0);
}

/* The part of the child's answer buffer an answer may fill and keep: the
 * common answer fits. */
#define CHILD_KEEP (256 * 1024)

/* The largest answer a worker may give. */
#define WORKER_ANSWER_MAX (WORKER_HDR + PV_SANDBOX_OUTPUT_MAX)

/* A buffer of the child's: a mapping of its own, never grown or moved. */
static unsigned char *child_buffer(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(2);
	return p;
}

/* After an answer over CHILD_KEEP: its pages are given back, so that one
 * big answer does not leave the child holding its size. */
static void give_back(unsigned char *buf, size_t used)
{
	if (used > CHILD_KEEP)
		madvise(buf + CHILD_KEEP, used - CHILD_KEEP, MADV_DONTNEED);
}

/* Before a worker is forked for the n bytes of buf: nothing of an
 * earlier, longer message stays past them (the worker could read another
 * message's bytes into its own document), and no page past them is
 * copied into the worker's page tables. *held: how much of buf may hold
 * bytes (page-aligned). */
static void only_this_message(unsigned char *buf, size_t n, size_t *held)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t end = (n + page - 1) / page * page;
	memset(buf + n, 0, end - n);
	if (*held > end)
		madvise(buf + end, *held - end, MADV_DONTNEED);
	*held = end;
}

/* What the child tells the parent of one message: */
enum sb_kind {
	SB_DONE = 0,   /* the result follows */
	SB_FAILED = 1, /* the operation failed (out of memory); nothing follows */
	SB_DIED = 2,   /* its worker ended otherwise: the wait status is in `status` */
};

/* Requests: the operation (1 byte), an 8-byte length and the message.
 * Answers: kind (1 byte), a wait status (4 bytes), an 8-byte length and
 * the result. The child reads the message, forks a worker for it, takes
 * the worker's answer from a pipe (bounded; its framing checked) and its
 * exit status, and tells the parent; one socket both ways. */
static void child_loop(int fd, int cpu_s)
{
	/* Mappings of their own, so that what a big message or answer filled
	 * can be given back (only_this_message, give_back). */
	unsigned char *msg = child_buffer(PV_VIEW_RAW_MAX);
	unsigned char *res = child_buffer(WORKER_ANSWER_MAX);
	size_t held = 0;
	/* A worker needs the message, not the answers: the one before its
	 * own (another message's document) is then out of its reach, and the
	 * fork neither copies nor write-protects the pages the child reads
	 * each answer into. */
	if (madvise(res, WORKER_ANSWER_MAX, MADV_DONTFORK) != 0)
		_exit(2);
	for (;;) {
		unsigned char req[9], ans[13], more;
		if (read_all(fd, req, 9) != 0)
			_exit(0); /* the parent is done */
		uint64_t n = le64(req + 1);
		if (n > op_input_max(req[0]) || read_all(fd, msg, (size_t)n) != 0)
			_exit(2);
		only_this_message(msg, (size_t)n, &held);
		int pp[2], status = 0;
		if (pipe2(pp, O_CLOEXEC) != 0)
			_exit(2);
		pid_t pid = fork();
		if (pid < 0)
			_exit(2);
		if (pid == 0) {
			close(pp[0]);
			close(fd);
			worker(pp[1], req[0], msg, (size_t)n, cpu_s);
		}
		close(pp[1]);
		size_t got = 0;
		bool over = false;
		for (;;) {
			bool full = got == WORKER_ANSWER_MAX;
			ssize_t k = full ? read(pp[0], &more, 1)
					 : read(pp[0], res + got, WORKER_ANSWER_MAX - got);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			if (full) {
				over = true; /* more than any result may be */
				kill(pid, SIGKILL);
				break;
			}
			got += (size_t)k;
		}
		close(pp[0]);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		uint8_t kind = SB_DIED;
		uint64_t len = 0;
		uint32_t charsets = 0;
		if (!over && WIFEXITED(status) && WEXITSTATUS(status) == 0 && got >= WORKER_HDR) {
			uint64_t want = le64(res);
			if (want == UINT64_MAX && got == WORKER_HDR)
				kind = SB_FAILED;
			else if (want == got - WORKER_HDR)
				kind = SB_DONE, len = want;
			for (int i = 0; i < 4; i++)
				charsets |= (uint32_t)res[8 + i] << (8 * i);
		}
		ans[0] = kind;
		for (int i = 0; i < 4; i++)
			ans[1 + i] = (unsigned char)((uint32_t)status >> (8 * i));
		put_le64(ans + 5, len);
		if (write_all(fd, ans, 13) != 0 ||
		    (kind == SB_DONE && write_all(fd, res + WORKER_HDR, (size_t)len) != 0))
			_exit(0);
		/* Off the parent's wait: the next workers find them loaded. */
		index_charsets_pin(charsets);
		give_back(res, got);
	}
}

static void child_main(int fd, int cpu_s)
{
	struct rlimit zero = {0, 0};
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
	/* GMime before the filter is in place; the converters of the charsets
	 * the messages name are pinned as they come (index_charsets_pin:
	 * each pinned one costs every worker's fork 5 mappings). */
	index_gmime_init_lazy();
	/* CPU: each message's worker gets cpu_s (worker()); the child itself
	 * only copies bytes. */
	if (setrlimit(RLIMIT_FSIZE, &zero) != 0 || setrlimit(RLIMIT_CORE, &zero) != 0)
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

/* The child is a program exec'd afresh (no copy of the parent's memory,
 * its keys and passwords included; no lock another thread held at the
 * fork): popvault-parser, or this very program when there is none. With
 * SANDBOX_ENV set, this runs before main() and never returns. argv:
 * "pv-parser", pdftotext's path or "-", CPU seconds per message, the CPU
 * to run on or "-". (glibc passes argc, argv to constructors.) */
#define SANDBOX_ENV "POPVAULT_PARSER_SANDBOX"
int index_sandbox_child(int argc, char **argv)
{
	const char *v = getenv(SANDBOX_ENV);
	int cpu_s;
	if (v == NULL || strcmp(v, "1") != 0) {
		dprintf(2, "popvault-parser: the parser sandbox of popvault, run by popvault only\n");
		return 2;
	}
	/* (Three arguments: a popvault from before pinning still running
	 * beside this program after an upgrade, until serve restarts.) */
	if ((argc != 3 && argc != 4) || strcmp(argv[0], "pv-parser") != 0 ||
	    (cpu_s = atoi(argv[2])) <= 0 || cpu_s > 3600)
		_exit(2);
	prctl(PR_SET_NAME, "pv-parser", 0, 0, 0);
	if (argc == 4 && strcmp(argv[3], "-") != 0) { /* before the filter; failing costs speed only */
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(atoi(argv[3]), &one);
		(void)sched_setaffinity(0, sizeof(one), &one);
	}
	index_mime_set_pdftotext(strcmp(argv[1], "-") != 0 ? argv[1] : NULL);
	child_main(0, cpu_s);
	return 2; /* not reached */
}

__attribute__((constructor)) static void parser_entry(int argc, char **argv)
{
	const char *v = getenv(SANDBOX_ENV);
	if (v != NULL && strcmp(v, "1") == 0)
		_exit(index_sandbox_child(argc, argv));
}

/* ---- the parent ---- */

/* pdftotext as the child is told to run it: none, or the system's (the
 * path the indexer sets, archive/indexer.c, which a process may set only
 * after a spawner was forked). */
static bool pdftotext_ok(const char *p)
{
	return strcmp(p, "-") == 0 || strcmp(p, "/usr/bin/pdftotext") == 0 ||
	       strcmp(p, "/bin/pdftotext") == 0;
}

/* "-", or a CPU number below CPU_SETSIZE. */
static bool pin_ok(const char *p)
{
	size_t n = strlen(p);
	return strcmp(p, "-") == 0 ||
	       (n > 0 && n < 5 && strspn(p, "0123456789") == n && atoi(p) < CPU_SETSIZE);
}

bool index_sandbox_argv_ok(char *const argv[], char *const envp[])
{
	int cpu;
	return argv[0] != NULL && strcmp(argv[0], "pv-parser") == 0 && argv[1] != NULL &&
	       pdftotext_ok(argv[1]) && argv[2] != NULL && (cpu = atoi(argv[2])) > 0 &&
	       cpu <= 3600 && argv[3] != NULL && pin_ok(argv[3]) && argv[4] == NULL &&
	       envp[0] != NULL && strcmp(envp[0], SANDBOX_ENV "=1") == 0 && envp[1] == NULL;
}

int index_sandbox_new(const struct index_sandbox_opts *opts, struct index_sandbox **sb_r,
		      struct pv_error *err)
{
	struct index_sandbox *sb = calloc(1, sizeof(*sb));
	if (sb == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	sb->fd = -1;
	sb->time_ms = opts != NULL && opts->time_ms > 0 ? opts->time_ms : PV_SANDBOX_TIME_MAX_MS;
	sb->cpu_s = opts != NULL && opts->cpu_s > 0 ? opts->cpu_s : PV_SANDBOX_CPU_MAX_S;
	sb->pin = opts != NULL && opts->pinned && opts->cpu >= 0 && opts->cpu < CPU_SETSIZE
			  ? opts->cpu
			  : -1;
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

/* What the child runs: popvault-parser beside this program (the build
 * tree) or in ../libexec/popvault/ (the Debian package): an image of only
 * what parsing needs (GMime, libseccomp), whose fork per message costs
 * far less than forking all of popvault (every library mapped is copied
 * into each worker's page tables and torn down again). Else this very
 * program (the unit tests, whose hooks live in the test binary). */
int index_sandbox_program(char *exe, size_t n, struct pv_error *err)
{
	static const char *const near[] = {"popvault-parser", "../libexec/popvault/popvault-parser"};
	ssize_t k = readlink("/proc/self/exe", exe, n - 1);
	if (k <= 0)
		return pv_fail(err, PV_ERR, "parser sandbox: cannot find this program: %s",
			       strerror(errno));
	exe[k] = '\0';
	char *slash = strrchr(exe, '/');
	for (size_t i = 0; slash != NULL && i < sizeof(near) / sizeof(near[0]); i++) {
		char cand[PATH_MAX];
		int w = snprintf(cand, sizeof(cand), "%.*s/%s", (int)(slash - exe), exe, near[i]);
		if (w > 0 && (size_t)w < sizeof(cand) && (size_t)w < n && access(cand, X_OK) == 0) {
			memcpy(exe, cand, (size_t)w + 1);
			break;
		}
	}
	return 0;
}

static int start(struct index_sandbox *sb, struct pv_error *err)
{
	char exe[PATH_MAX], cpu[16], pin[16] = "-";
	int sv[2];
	if (index_sandbox_program(exe, sizeof(exe), err) < 0)
		return PV_ERR;
	snprintf(cpu, sizeof(cpu), "%d", sb->cpu_s);
	if (sb->pin >= 0)
		snprintf(pin, sizeof(pin), "%d", sb->pin);
	const char *pdf = index_mime_pdftotext();
	char *const argv[] = {"pv-parser", (char *)(pdf != NULL ? pdf : "-"), cpu, pin, NULL};
	char *const envp[] = {SANDBOX_ENV "=1", NULL};
	/* A socket, not pipes: MSG_NOSIGNAL, so a dead child costs no SIGPIPE. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return pv_fail(err, PV_ERR, "parser sandbox: socketpair: %s", strerror(errno));
	pid_t pid;
	if (pv_spawner_active()) {
		/* A process that may not exec (the web) asks its spawner: the
		 * socket as 0 and, as after a fork, stderr as 2 (1 becomes
		 * /dev/null in the child). */
		int fds[3] = {sv[1], STDERR_FILENO, STDERR_FILENO};
		int r = pv_spawn(argv, envp, fds, 3, &pid, err);
		close(sv[1]);
		if (r < 0) {
			close(sv[0]);
			return pv_error_prefix(err, "parser sandbox");
		}
		sb->pid = pid;
		sb->fd = sv[0];
		return 0;
	}
	pid = fork();
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
			 : s == SIGKILL ? ": it ran out of CPU time or memory"
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
static int exchange(struct index_sandbox *sb, uint8_t op, const unsigned char *raw, size_t len,
		    bool *keep_r, struct pv_error *err)
{
	unsigned char req[9], hdr[13];
	size_t sent = 0, got = 0;
	uint64_t want = 0;
	int64_t deadline = pv_clock_monotonic_ms() + sb->time_ms;

	req[0] = op;
	put_le64(req + 1, len);
	pv_buf_reset(&sb->reply);
	*keep_r = false;
	while (got < 13 || got - 13 < want) {
		struct pollfd p = {sb->fd, POLLIN | (sent < 9 + len ? POLLOUT : 0), 0};
		int64_t left = deadline - pv_clock_monotonic_ms();
		if (left <= 0)
			return pv_fail(err, PV_EPROTO, "ran out of time (%lld ms)",
				       (long long)sb->time_ms);
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return pv_fail(err, PV_ERR, "parser sandbox: poll: %s", strerror(errno));
		}
		if ((p.revents & POLLOUT) && sent < 9 + len) {
			const void *src = sent < 9 ? (const void *)(req + sent) : raw + (sent - 9);
			size_t n = sent < 9 ? 9 - sent : len - (sent - 9);
			ssize_t k = send(sb->fd, src, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (k < 0 && errno != EINTR && errno != EAGAIN)
				return pv_fail(err, PV_EPROTO, "it stopped reading");
			if (k > 0)
				sent += (size_t)k;
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		unsigned char buf[65536];
		size_t cap = got < 13 ? 13 - got : sizeof(buf);
		ssize_t k = recv(sb->fd, buf, cap, MSG_DONTWAIT);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0)
			return pv_fail(err, PV_EPROTO, "it stopped answering");
		if (got < 13) {
			memcpy(hdr + got, buf, (size_t)k);
			if ((got += (size_t)k) < 13)
				continue;
			want = le64(hdr + 5);
			if (hdr[0] != SB_DONE) {
				int status = 0;
				for (int i = 0; i < 4; i++)
					status |= (int)((uint32_t)hdr[1 + i] << (8 * i));
				if (hdr[0] > SB_DIED || want != 0)
					return pv_fail(err, PV_EPROTO, "its answer is malformed");
				*keep_r = true; /* its worker failed; the child is sound */
				if (hdr[0] == SB_FAILED)
					return pv_fail(err, PV_EPROTO, "out of memory on this message");
				char how[200];
				describe(status, how, sizeof(how));
				return pv_fail(err, PV_EPROTO, "%s", how);
			}
			if (want > PV_SANDBOX_OUTPUT_MAX)
				return pv_fail(err, PV_EPROTO, "its answer is over %d bytes",
					       PV_SANDBOX_OUTPUT_MAX);
			continue;
		}
		if ((uint64_t)(got - 13) + (uint64_t)k > want ||
		    pv_buf_append(&sb->reply, buf, (size_t)k, NULL) != 0)
			return pv_fail(err, PV_EPROTO, "it answered more than it announced");
		got += (size_t)k;
	}
	if (sent < 9 + len)
		return pv_fail(err, PV_EPROTO, "it answered before reading the message");
	return 0;
}

static int child_failed(struct index_sandbox *sb, int r, struct pv_error *err);

/* One operation on raw; the answer in sb->reply. On a failure, this
 * child is done for (unless it only could not do this one): the reason,
 * how it ended when it ended by itself, and a fresh child next time. */
static int run(struct index_sandbox *sb, uint8_t op, const unsigned char *raw, size_t len,
	       struct pv_error *err)
{
	bool keep = false;
	int r;
	if (len > op_input_max(op))
		len = op_input_max(op);
	if (sb->pid <= 0 && (r = start(sb, err)) < 0)
		return r;
	if ((r = exchange(sb, op, raw, len, &keep, err)) == 0)
		return 0;
	if (keep) {
		pv_error_prefix(err, "parser sandbox");
		return PV_EPROTO;
	}
	return child_failed(sb, r, err);
}

static int child_failed(struct index_sandbox *sb, int r, struct pv_error *err)
{
	char what[PV_ERROR_MSG_MAX];
	int status = 0;
	bool died = strncmp(err->msg, "it stopped", 10) == 0;
	snprintf(what, sizeof(what), "%s", err->msg);
	stop(sb, !died, &status);
	if (died)
		describe(status, what, sizeof(what));
	return pv_fail(err, r == PV_ERR ? PV_ERR : PV_EPROTO, "parser sandbox: %s", what);
}

/* After an answer was taken: one over CHILD_KEEP is not kept for the next
 * (an indexer keeps four sandboxes, each with the largest answer it got). */
static void reply_release(struct index_sandbox *sb)
{
	if (sb->reply.cap > CHILD_KEEP)
		pv_buf_free(&sb->reply);
}

int index_sandbox_extract(struct index_sandbox *sb, const unsigned char *raw, size_t len,
			  struct index_doc *doc_r, struct pv_error *err)
{
	index_doc_init(doc_r);
	int r = run(sb, SB_EXTRACT, raw, len, err);
	if (r == 0 && (r = index_doc_decode(sb->reply.data, sb->reply.len, doc_r, err)) < 0)
		r = child_failed(sb, PV_EPROTO, err); /* it lied: not to be trusted again */
	reply_release(sb);
	if (r < 0) {
		index_doc_free(doc_r);
		index_doc_init(doc_r);
	}
	return r;
}

int index_sandbox_meta(struct index_sandbox *sb, const unsigned char *raw, size_t len,
		       struct index_doc *doc_r, bool *has_html_r, struct pv_error *err)
{
	index_doc_init(doc_r);
	*has_html_r = false;
	int r = run(sb, SB_META, raw, len, err);
	if (r == 0 && (sb->reply.len < 1 || sb->reply.data[0] > 1 ||
		       index_doc_decode(sb->reply.data + 1, sb->reply.len - 1, doc_r, err) < 0)) {
		pv_fail(err, PV_EPROTO, "its answer is malformed");
		r = child_failed(sb, PV_EPROTO, err);
	}
	if (r == 0)
		*has_html_r = sb->reply.data[0] == 1;
	reply_release(sb);
	if (r < 0) {
		index_doc_free(doc_r);
		index_doc_init(doc_r);
	}
	return r;
}

/* Text or HTML that came back: UTF-8 without NUL, within out's maximum. */
static int take_text(struct index_sandbox *sb, size_t skip, struct pv_buf *out,
		     struct pv_error *err)
{
	const unsigned char *p = sb->reply.data ? sb->reply.data + skip : (const unsigned char *)"";
	size_t n = sb->reply.len - skip;
	if (memchr(p, '\0', n) != NULL || !pv_utf8_valid(p, n) ||
	    pv_buf_append(out, p, n, NULL) != 0) {
		pv_fail(err, PV_EPROTO, "its answer is not clean text");
		return child_failed(sb, PV_EPROTO, err);
	}
	return 0;
}

int index_sandbox_show(struct index_sandbox *sb, const unsigned char *raw, size_t len,
		       struct pv_buf *text_r, struct pv_error *err)
{
	int r = run(sb, SB_TEXT, raw, len, err);
	if (r == 0)
		r = take_text(sb, 0, text_r, err);
	reply_release(sb);
	return r;
}

int index_sandbox_html(struct index_sandbox *sb, const unsigned char *raw, size_t len,
		       struct pv_buf *html_r, bool *had_html_r, struct pv_error *err)
{
	int r = run(sb, SB_HTML, raw, len, err);
	if (r == 0 && (sb->reply.len < 1 || sb->reply.data[0] > 1)) {
		pv_fail(err, PV_EPROTO, "its answer is malformed");
		r = child_failed(sb, PV_EPROTO, err);
	}
	if (r == 0 && had_html_r != NULL)
		*had_html_r = sb->reply.data[0] == 1;
	if (r == 0)
		r = take_text(sb, 1, html_r, err);
	reply_release(sb);
	return r;
}
