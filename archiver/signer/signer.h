#ifndef PV_SIGNER_H
#define PV_SIGNER_H

/* The signer process (DESIGN.md §2 "Processes", ARCHITECTURE.md §2): the
 * only process that reads the Ed25519 seeds of the two logs
 * (DIR/keys/sign). It signs what it has checked itself, nothing else:
 *   - a checkpoint of log L only when its tree extends the last tree it
 *     signed for L, proven by an RFC 9162 consistency proof it verifies
 *     against the last root it keeps (DIR/keys/sign/L.signed, keys.h
 *     keys_state; across restarts, and shared by every signer of the
 *     directory under a lock); a tree that is older, equal with another
 *     root, or not an extension is refused and logged;
 *   - a key-rotation note naming the key it prepared, its tree checked
 *     the same way; it then writes the new seed, and destroys the old one
 *     once the new key has signed;
 *   - a bundle manifest (audit/bundle.h, a fixed three-line form that is
 *     no checkpoint and no rotation note).
 * It has no catalog, no network, no mail: Landlock keeps it in its key
 * directory, seccomp to its sockets and files (archiver/lib/sandbox.h),
 * and it is not dumpable (no ptrace, no /proc/PID/mem or root by others).
 *
 * Clients: one channel per open archive (a SOCK_SEQPACKET pair; the
 * archive's end comes to the signer over the control socket, which every
 * process of the command shares, forked or spawned children included).
 * The signer exits when every holder of the control socket is gone.
 *
 * Typical use by a long-running command, before any thread:
 *
 *   struct signer *sg;
 *   signer_start(data_dir, &sg, err);     // fork; it reads the seeds
 *   signer_hide_keys(data_dir, &why, err); // then this process cannot
 *   signer_use(sg);
 *   ... archive_open() now gets remote keys ...
 *   signer_use(NULL);
 *   signer_free(&sg);
 */

#include <stdbool.h>
#include <sys/types.h>

#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"

/* The environment variable that hands a spawned popvault the control
 * socket's descriptor number (signer_attach_env). */
#define SIGNER_FD_ENV "POPVAULT_SIGNER_FD"

struct signer;

/* Forks the signer for data_dir and returns once it holds both logs'
 * keys (moved first from keys/ if they are still there). PV_ERR with the
 * signer's reason when it could not read them. */
int signer_start(const char *data_dir, struct signer **sg_r, struct pv_error *err);
/* Uses a signer started by an ancestor: the control socket in
 * $POPVAULT_SIGNER_FD (PV_ENOTFOUND when unset). */
int signer_attach_env(struct signer **sg_r, struct pv_error *err);
/* Closes this process's control socket (the signer exits once no process
 * has one) and, when this process started it, waits for it to exit. */
void signer_free(struct signer **sg);

/* The signer's pid (0 when attached), and the control socket's
 * descriptor, for a child that is spawned (not forked) to inherit:
 * make it that child's descriptor N and set SIGNER_FD_ENV=N. */
pid_t signer_pid(const struct signer *sg);
int signer_control_fd(const struct signer *sg);

/* The key source archive_open uses with this signer (datadir.h). */
const struct archive_key_source *signer_key_source(struct signer *sg);
/* Makes sg the signer of every archive this process (and its forked
 * children) opens from now on (archive_set_key_source), or none with
 * NULL; signer_in_use says which, for a child about to be spawned. */
void signer_use(struct signer *sg);
struct signer *signer_in_use(void);

/* After signer_start, before any thread: this process and every process
 * it starts can no longer open DIR/keys/sign. A private mount namespace
 * (made with a user namespace when the process is not root) puts an
 * empty read-only directory over it; the capabilities that could undo
 * that (mount, setns, ptrace, open by handle, raw devices) are dropped
 * from every set, and no_new_privs is set. Returns 0; 1 when the kernel
 * or the service manager allows no namespace (then the keys stay readable
 * to this process: *why_r says why, the caller logs it); negative on an
 * error after the namespace was made. */
int signer_hide_keys(const char *data_dir, const char **why_r, struct pv_error *err);

/* Low level, for tests: one request on a fresh channel, as a client
 * that can lie would send it (signer_wire.h). *status_r and data_r get
 * the reply. */
struct signer_req;
int signer_request(struct signer *sg, const struct signer_req *q, int *status_r,
		   uint64_t *size_r, struct pv_buf *data_r, struct pv_error *err);

#endif
