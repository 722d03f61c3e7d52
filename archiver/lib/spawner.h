#ifndef PV_SPAWNER_H
#define PV_SPAWNER_H

/* Starting this program for a process that may not (the web: its seccomp
 * set has no execve; ARCHITECTURE.md §2 "Processes"). pv_spawner_start
 * forks a small process before the caller confines itself; from then on
 * pv_spawn asks it to start a program with argv and envp, which `allow`
 * (run in the spawner, a copy of the caller made before anything
 * untrusted) must accept, naming the program: this very program (the
 * path it had at the fork) or one whose path the caller fixed before
 * the fork, never one a request names. The new process is made with CLONE_PARENT: it is the caller's
 * child, so the caller waits for it and kills it as if it had forked it.
 * It gets fds[0..n) as its descriptors 0..n-1 and nothing else, every
 * signal unblocked and at its default, and the spawner's seccomp filters
 * (not the caller's). Thread-safe. */

#include <stdbool.h>
#include <sys/types.h>

#include "archiver/lib/error.h"

/* At most this many descriptors handed to one program. */
#define PV_SPAWN_FDS_MAX 4

/* The program to start for argv and envp: self (this program's path) or
 * a path fixed before pv_spawner_start; NULL refuses the request. */
typedef const char *(*pv_spawn_allow_fn)(void *ctx, const char *self, char *const argv[],
					 char *const envp[]);

/* Forks the spawner (PR_SET_PDEATHSIG: it ends with the caller) and runs
 * `confine` in it first (may be NULL: its seccomp set). Call before any
 * thread. 0 or a negative status. */
int pv_spawner_start(pv_spawn_allow_fn allow, void *ctx, int (*confine)(struct pv_error *),
		     struct pv_error *err);
/* Whether this process has a spawner (pv_spawn then goes through it). */
bool pv_spawner_active(void);
/* Starts the program through the spawner: *pid_r, a child of this
 * process. PV_ERR with why when allow refused it or it could not start. */
int pv_spawn(char *const argv[], char *const envp[], const int *fds, int n, pid_t *pid_r,
	     struct pv_error *err);
/* Ends the spawner (EOF on its socket) and waits for it. */
void pv_spawner_stop(void);

#endif
