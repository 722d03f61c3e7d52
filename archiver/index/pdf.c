#include "archiver/index/pdf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archiver/index/text.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"

/* In the child between fork and exec: async-signal-safe calls only. */
static void child(const char *prog, int in, int out)
{
	struct rlimit cpu = {PV_PDF_TIME_MAX_S, PV_PDF_TIME_MAX_S};
	struct rlimit as = {PV_PDF_MEMORY_MAX, PV_PDF_MEMORY_MAX};
	struct rlimit zero = {0, 0};
	char *const argv[] = {(char *)prog, "-q", "-enc", "UTF-8", "-", "-", NULL};
	char *const envp[] = {NULL};
	int null = open("/dev/null", O_WRONLY);
	if (null < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(null, 2) < 0)
		_exit(127);
	close_range(3, ~0U, 0);
	if (setrlimit(RLIMIT_CPU, &cpu) < 0 || setrlimit(RLIMIT_AS, &as) < 0 ||
	    setrlimit(RLIMIT_FSIZE, &zero) < 0 || setrlimit(RLIMIT_CORE, &zero) < 0)
		_exit(127);
	execve(prog, argv, envp);
	_exit(127);
}

/* Feeds the PDF and collects the text at once, so neither side blocks on
 * a full pipe. Returns 0, PV_ELIMIT (text cut) or PV_ERR (timeout, I/O). */
static int exchange(int in, int out, const unsigned char *pdf, size_t len,
	struct pv_buf *text, int64_t timeout_ms, struct pv_error *err)
{
	int64_t deadline = pv_clock_monotonic_ms() + timeout_ms;
	size_t sent = 0;
	char buf[16384];
	struct pv_buf raw;
	pv_buf_init(&raw, text->max - text->len + 4);
	int r = PV_OK;
	if (len == 0)
		shutdown(in, SHUT_WR);
	for (;;) {
		struct pollfd p[2] = {{out, POLLIN, 0}, {sent < len ? in : -1, POLLOUT, 0}};
		int64_t left = deadline - pv_clock_monotonic_ms();
		if (left <= 0) {
			r = pv_fail(err, PV_ERR, "pdftotext ran out of time");
			break;
		}
		if (poll(p, 2, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			r = pv_fail(err, PV_ERR, "poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
			ssize_t n = send(in, pdf + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				sent = len; /* the child stopped reading: collect what it says */
			else if (n > 0)
				sent += (size_t)n;
			if (sent == len)
				shutdown(in, SHUT_WR);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(out, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			size_t room = raw.max - raw.len;
			if ((size_t)n > room) {
				(void)pv_buf_append(&raw, buf, room, NULL);
				r = PV_ELIMIT;
				break;
			}
			(void)pv_buf_append(&raw, buf, (size_t)n, NULL);
		}
	}
	int c = index_text_clean((const char *)raw.data, raw.len, true, text, err);
	pv_buf_free(&raw);
	if (r == PV_ELIMIT || (r == PV_OK && c < 0))
		r = c < 0 ? c : pv_fail(err, PV_ELIMIT, "PDF text cut");
	return r;
}

/* PDF 32000 7.2.2: white-space and delimiter characters end a name. */
static bool name_end(unsigned char c)
{
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ' ||
	       c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' ||
	       c == '{' || c == '}' || c == '/' || c == '%';
}

static int hexval(unsigned char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	     : c >= 'a' && c <= 'f' ? c - 'a' + 10
	     : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

bool index_pdf_may_have_text(const unsigned char *pdf, size_t len)
{
	const unsigned char *p = pdf, *end = pdf + len;
	while (p < end && (p = memchr(p, '/', (size_t)(end - p))) != NULL) {
		char name[8];
		size_t n = 0;
		bool over = false;
		for (p++; p < end && !name_end(*p); p++) {
			unsigned char c = *p;
			int h, l;
			if (c == '#' && end - p > 2 && (h = hexval(p[1])) >= 0 && (l = hexval(p[2])) >= 0) {
				c = (unsigned char)(h << 4 | l);
				p += 2;
			}
			if (n < sizeof(name))
				name[n++] = (char)c;
			else
				over = true;
		}
		if (!over && ((n == 4 && memcmp(name, "Font", 4) == 0) ||
			      (n == 6 && memcmp(name, "ObjStm", 6) == 0)))
			return true;
	}
	return false;
}

int index_pdf_to_text(const char *pdftotext, const unsigned char *pdf, size_t len,
	struct pv_buf *out, struct pv_error *err)
{
	if (len <= PV_PDF_INPUT_MAX && !index_pdf_may_have_text(pdf, len))
		return PV_OK;
	return index_pdf_run(pdftotext, pdf, len, out, 2000LL * PV_PDF_TIME_MAX_S, err);
}

int index_pdf_run(const char *pdftotext, const unsigned char *pdf, size_t len,
	struct pv_buf *out, int64_t timeout_ms, struct pv_error *err)
{
	if (len > PV_PDF_INPUT_MAX)
		return pv_fail(err, PV_ELIMIT, "PDF of %zu bytes not read", len);
	int sv[2], po[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return pv_fail(err, PV_ERR, "socketpair: %s", strerror(errno));
	if (pipe2(po, O_CLOEXEC) < 0) {
		close(sv[0]);
		close(sv[1]);
		return pv_fail(err, PV_ERR, "pipe: %s", strerror(errno));
	}
	pid_t pid = fork();
	if (pid == 0)
		child(pdftotext, sv[1], po[1]);
	close(sv[1]);
	close(po[1]);
	if (pid < 0) {
		close(sv[0]);
		close(po[0]);
		return pv_fail(err, PV_ERR, "fork: %s", strerror(errno));
	}
	int r = exchange(sv[0], po[0], pdf, len, out, timeout_ms, err);
	close(sv[0]);
	close(po[0]);
	/* Closing stdout comes just before exit; give it a moment, then kill. */
	int status = 0;
	pid_t w = 0;
	for (int i = 0; r == PV_OK && i < 400 && w == 0; i++) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == 0)
			usleep(5000);
	}
	if (w <= 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (r == PV_OK && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		r = pv_fail(err, PV_ERR, "pdftotext failed (status %d)", status);
	return r;
}
