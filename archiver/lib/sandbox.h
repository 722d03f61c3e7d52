#ifndef PV_SANDBOX_H
#define PV_SANDBOX_H

/* Confining a process to what its role needs (STYLE.md 11, OpenSSH's
 * sandbox-seccomp-filter.c): one function per role, each a seccomp
 * allow-list (libseccomp; any other system call kills the process) after
 * Landlock rules on the file system where the kernel has Landlock (a
 * kernel without it is detected and logged, not fatal: seccomp still
 * holds). Both set no_new_privs first. Call them in the process itself,
 * once it holds every descriptor it will need, before it reads anything
 * untrusted. The roles and what each may do are in docs/ARCHITECTURE.md
 * ("Processes"). */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"

/* What Landlock allows beneath one path. */
#define PV_LL_READ 0x1  /* read files, list directories */
#define PV_LL_WRITE 0x2 /* write, create, remove, truncate files */
#define PV_LL_EXEC 0x4  /* execute files */

struct pv_landlock_path {
	const char *path;
	unsigned access;
};

/* The Landlock ABI version of the running kernel, 0 when it has none. */
int pv_landlock_abi(void);

/* Restricts this process and its future children to paths[0..n) (every
 * other file-system access denied; on ABI 4+ no TCP bind or connect; on
 * ABI 6+ no abstract UNIX sockets or signals outside the domain). A path
 * that does not exist is skipped. Returns 0, 1 when the kernel has no
 * Landlock (nothing done; *why_r (may be NULL) says why), or a negative
 * status. */
int pv_landlock_restrict(const struct pv_landlock_path *paths, size_t n, const char **why_r,
			 struct pv_error *err);

/* The signer process (archiver/signer): talks over the sockets it has,
 * reads and writes files in its key directory (Landlock: that directory
 * only), makes random keys. No new sockets, no exec, no fork. */
int pv_sandbox_signer(const char *key_dir, struct pv_error *err);

/* The parser sandbox (archiver/index/sandbox.h): computes on bytes read
 * from its pipe and writes the result back; may run pdftotext(1) as its
 * own child (fork, exec of files under /usr and /lib, pipes, waiting,
 * rlimits, kill). Landlock: read and execute /usr, /lib*, /bin, /etc;
 * nothing else, so no data directory, no keys, no catalog. No sockets. */
int pv_sandbox_parser(struct pv_error *err);

/* For tests: whether seccomp filters are in force in this process. */
bool pv_sandbox_active(void);

#endif
