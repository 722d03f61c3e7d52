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

/* The roles, each with its seccomp allow-list in one table
 * (lib/sandbox_roles.c; ARCHITECTURE.md §2 "Processes" shows them).
 * Filters are inherited by every child, forked or exec'd, and stack: a
 * child can only narrow what its parent may, so a role that starts
 * another (the supervisor its parts, the web "harvest now" and the
 * parser sandbox) allows what that one needs too. */
enum pv_role {
	PV_ROLE_SUPERVISOR, /* serve's supervisor: the union of its parts */
	PV_ROLE_WEB,        /* HTTPS, the API, the account test; no exec (its spawner starts
			     * view sandboxes and "harvest now": lib/spawner.h) */
	PV_ROLE_SPAWNER,    /* the web's spawner: this program, for the web */
	PV_ROLE_HARVEST,    /* the harvest scheduler and its sessions: POP3 client, the store */
	PV_ROLE_INDEXER,    /* the catalog and the index, parser sandboxes; no network */
	PV_ROLE_TASK,       /* heartbeat, verify: the store only; no network, no exec */
	PV_ROLE_DISPOSE,    /* a disposal proposal: a task that re-parses mail (parser sandbox) */
	PV_ROLE_ANCHOR,     /* a task that talks to TSAs and witnesses (network client) */
	PV_ROLE_SIGNER,     /* its sockets, its key directory; no socket(), exec, fork */
	PV_ROLE_PARSER,     /* bytes in, text out; pipes and pdftotext */
	PV_ROLE_N
};

/* "web", "harvest", ...; NULL for no such role. */
const char *pv_role_name(enum pv_role role);
/* The role named name; PV_ROLE_N when none is. */
enum pv_role pv_role_by_name(const char *name);

/* Loads role's allow-list into this process, every thread of it
 * (TSYNC), with no_new_privs and no core file (a core would hold bucket
 * keys and passwords). A call outside the list is never made: the
 * process writes one line on stderr naming itself, its role and the
 * call ("event=seccomp.violation"), and dies by SIGSYS, which its parent
 * reports (serve's supervisor restarts a part). The parser sandbox is
 * killed at once instead (SECCOMP_RET_KILL_PROCESS: it runs hostile
 * code, and its parent reports how it ended). 0 or a negative status. */
int pv_sandbox_role(enum pv_role role, struct pv_error *err);
/* The archive keeps its packs in an object store (store/packstore.h,
 * packstore_remote_at): the roles that read or remove packs and are
 * otherwise no network client (indexer, task, dispose) may then also
 * connect out (ARCHITECTURE.md §2). Set before pv_sandbox_role; a fork
 * inherits it. */
void pv_sandbox_store_net(bool on);

/* The catalog is on a PostgreSQL server (store/catalog_reach.h): the
 * roles that open the catalog and are otherwise no network client
 * (indexer, task, dispose) may then reach that server and no more.
 * PV_CATNET_UNIX: socket() of AF_UNIX only, and connect. PV_CATNET_TCP:
 * AF_INET/AF_INET6 sockets too (and the resolver's FIONREAD), connect
 * limited by Landlock (ABI 4+) to TCP port `port` unless the packs are in
 * an object store as well (pv_sandbox_store_net: any port then). The
 * roles that are network clients anyway (web, harvest, anchor, the
 * spawner, the supervisor) and the signer and parser (never) are not
 * changed. Set before pv_sandbox_role; a fork inherits it. */
enum pv_catalog_net { PV_CATNET_NONE, PV_CATNET_UNIX, PV_CATNET_TCP };
void pv_sandbox_catalog_net(enum pv_catalog_net net, unsigned port);

/* Landlock (ABI 4+) for this process and its children: no TCP bind, TCP
 * connect to `port` only; files are not restricted by it. Returns 0, 1
 * when the kernel's Landlock has no network rules (*why_r says why;
 * nothing done), or a negative status. */
int pv_landlock_tcp_connect_only(unsigned port, const char **why_r, struct pv_error *err);

/* The self-test of serve's hidden --seccomp-selftest ROLE (tests/e2e/
 * seccomp.t): armed in the supervisor for one start of a part, it makes
 * that part, at pv_sandbox_selftest_point once set up, try the call its
 * role must never make (the web: execve; the harvest: ptrace; the
 * indexer: a TCP socket; a task: a fork, a clone without CLONE_THREAD). If the filter lets it through,
 * the part logs that and goes on, and the test fails. */
void pv_sandbox_selftest_arm(enum pv_role role);
void pv_sandbox_selftest_point(enum pv_role role);

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
