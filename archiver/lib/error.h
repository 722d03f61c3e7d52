#ifndef PV_ERROR_H
#define PV_ERROR_H

/* One error convention for all of popvault (STYLE.md habit 3):
 * functions return 0 on success or a negative pv_status; the reason for a
 * failure goes into the caller's struct pv_error, filled by the callee.
 * A NULL err is allowed: the reason is then dropped. */

#include <stddef.h>

enum pv_status {
	PV_OK = 0,
	PV_ERR = -1,        /* generic failure (exit code 1) */
	PV_EUSAGE = -2,     /* bad command line (exit code 2) */
	PV_EINTEGRITY = -3, /* evidence does not verify (exit code 3) */
	PV_ETEMP = -4,      /* temporary: retry later (IN-USE, LOGIN-DELAY, SYS/TEMP) */
	PV_EAUTH = -5,      /* credentials rejected */
	PV_ENOTFOUND = -6,  /* no such object */
	PV_ELIMIT = -7,     /* a limit from limits.h was exceeded */
	PV_EPROTO = -8,     /* peer violated the protocol */
	PV_EPERM = -9,      /* permanent failure reported by a peer ([SYS/PERM]) */
	PV_EEXISTS = -10,   /* refused for the state of things (a name taken: an active
			     * hold, a matter; admins locked out): HTTP 409 */
};

#define PV_ERROR_MSG_MAX 512

struct pv_error {
	int code;
	char msg[PV_ERROR_MSG_MAX];
};

#define PV_WARN_UNUSED __attribute__((warn_unused_result))

/* Fills err (if not NULL) and returns code, so callers can write
 * `return pv_fail(err, PV_ERR, "open %s: %s", path, strerror(errno));` */
int pv_fail(struct pv_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes an existing message with context: "ctx: old message". */
int pv_error_prefix(struct pv_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void pv_error_clear(struct pv_error *err);

/* clang's static analyzer (make lint) sees one file at a time: without
 * this it does not know that pv_fail returns its code and
 * pv_error_prefix a failure, and walks "success" paths after an error. */
#ifdef __clang_analyzer__
static inline int pv_analyzer_failed(int code)
{
	if (code >= 0)
		__builtin_unreachable();
	return code;
}
#define pv_fail(err, code, ...) (pv_fail((err), (code), __VA_ARGS__), (code))
#define pv_error_prefix(...) pv_analyzer_failed(pv_error_prefix(__VA_ARGS__))
#endif

/* Process exit code for a status: 0, 1, 2 or 3 (ARCHITECTURE.md §10). */
int pv_exit_code(int status);

#endif
