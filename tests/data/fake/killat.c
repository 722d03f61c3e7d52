/* LD_PRELOAD shim for the e2e tests: popvault SIGKILLed at a chosen point
 * (tests/e2e/migrate_catalog.t), as a power cut or kill -9 would stop it:
 *   PVTEST_KILL_PREPARE=TEXT  after libpq prepared a statement whose SQL
 *   PVTEST_KILL_AFTER=N       contains TEXT, the N-th statement run after
 *                             it (PQexecPrepared) is never sent: the
 *                             process kills itself instead (N default 1);
 *   PVTEST_KILL_LINK=SUFFIX   a link(2) or rename(2) whose new path ends in
 *                             SUFFIX kills it before the file appears.
 * With none it does nothing. Build:
 *     cc -shared -fPIC -o killat.so killat.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef unsigned int Oid;

static long armed = -1; /* statements left before the kill; -1: not armed */

static void die(void)
{
	kill(getpid(), SIGKILL);
	_exit(137);
}

PGresult *PQprepare(PGconn *c, const char *name, const char *query, int n, const Oid *types)
{
	static PGresult *(*real)(PGconn *, const char *, const char *, int, const Oid *);
	const char *text = getenv("PVTEST_KILL_PREPARE");
	if (real == NULL)
		real = (PGresult * (*)(PGconn *, const char *, const char *, int, const Oid *))
			dlsym(RTLD_NEXT, "PQprepare");
	if (armed < 0 && text != NULL && *text != '\0' && strstr(query, text) != NULL) {
		const char *after = getenv("PVTEST_KILL_AFTER");
		armed = after != NULL ? atol(after) : 1;
	}
	return real(c, name, query, n, types);
}

PGresult *PQexecPrepared(PGconn *c, const char *name, int n, const char *const *values,
			 const int *lengths, const int *formats, int result_format)
{
	static PGresult *(*real)(PGconn *, const char *, int, const char *const *, const int *,
				 const int *, int);
	if (real == NULL)
		real = (PGresult * (*)(PGconn *, const char *, int, const char *const *, const int *,
				       const int *, int))dlsym(RTLD_NEXT, "PQexecPrepared");
	if (armed > 0 && --armed == 0)
		die();
	return real(c, name, n, values, lengths, formats, result_format);
}

static void check_path(const char *path)
{
	const char *suffix = getenv("PVTEST_KILL_LINK");
	size_t n = suffix != NULL ? strlen(suffix) : 0, p = strlen(path);
	if (n > 0 && p >= n && strcmp(path + p - n, suffix) == 0)
		die();
}

int link(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);
	if (real == NULL)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "link");
	check_path(to);
	return real(from, to);
}

int rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);
	if (real == NULL)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	check_path(to);
	return real(from, to);
}
