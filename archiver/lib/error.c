#include "archiver/lib/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* (Parenthesised names: error.h makes them macros for the analyzer.) */
int(pv_fail)(struct pv_error *err, int code, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}

int(pv_error_prefix)(struct pv_error *err, const char *fmt, ...)
{
	char msg[PV_ERROR_MSG_MAX];
	va_list ap;

	if (err == NULL)
		return PV_ERR;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t used = n < 0 ? 0 : (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
	/* Append ": old message", truncating rather than overflowing. */
	size_t room = sizeof(msg) - 1 - used;
	size_t old_len = strnlen(err->msg, sizeof(err->msg));
	if (room >= 2) {
		memcpy(msg + used, ": ", 2);
		used += 2;
		room -= 2;
		size_t take = old_len < room ? old_len : room;
		memcpy(msg + used, err->msg, take);
		used += take;
	}
	msg[used] = '\0';
	memcpy(err->msg, msg, used + 1);
	return err->code;
}

void pv_error_clear(struct pv_error *err)
{
	if (err != NULL) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

int pv_exit_code(int status)
{
	switch (status) {
	case PV_OK:
		return 0;
	case PV_EUSAGE:
		return 2;
	case PV_EINTEGRITY:
		return 3;
	default:
		return 1;
	}
}
