#include "archiver/lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "archiver/lib/clock.h"

static enum pv_log_level log_level = PV_LOG_INFO;

void pv_log_set_level(enum pv_log_level level)
{
	log_level = level;
}

void pv_log(enum pv_log_level level, const char *event, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	char msg[1024];
	va_list ap;

	if (level < log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (isatty(STDERR_FILENO)) {
		fprintf(stderr, "popvault: %s%s\n", level >= PV_LOG_WARN ? "warning: " : "", msg);
		return;
	}
	char ts[PV_RFC3339_LEN];
	pv_clock_format_rfc3339(pv_clock_now(), ts);
	flockfile(stderr); /* one whole line, also from several threads (serve) */
	fprintf(stderr, "time=%s level=%s event=%s msg=\"", ts, names[level], event);
	for (const char *p = msg; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', stderr);
		fputc(*p == '\n' ? ' ' : *p, stderr);
	}
	fputs("\"\n", stderr);
	funlockfile(stderr);
}
