#ifndef PV_FSUTIL_H
#define PV_FSUTIL_H

/* Durable file-system operations. "Durable" means the data and the directory
 * entry are fsynced: fetchmail and mpop skip the directory fsync before
 * DELE, and a crash can then lose a message they already deleted upstream. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "archiver/lib/error.h"
#include "archiver/lib/secret.h"

/* fsync the directory containing path (or path itself when it is a dir). */
int pv_fsync_dir(const char *dir, struct pv_error *err);
/* Creates dir with mode; PV_ERR if it exists unless exist_ok. */
int pv_mkdir(const char *dir, mode_t mode, int exist_ok, struct pv_error *err);
/* All len bytes of data to fd (a write cut short goes on): 0, or -1 with
 * errno. */
int pv_write_all(int fd, const void *data, size_t len);
/* Writes data to path atomically (tmp file, fsync, rename, fsync dir).
 * excl: fail if path already exists. */
int pv_write_file(const char *path, const void *data, size_t len, mode_t mode, int excl,
		  struct pv_error *err);
/* Reads a whole file of at most max bytes into a malloc'ed, NUL-terminated
 * buffer. Over max is PV_ELIMIT. */
int pv_read_file(const char *path, size_t max, unsigned char **data_r, size_t *len_r,
		 struct pv_error *err);
/* A certificate file a later step loads (an account's CA, the TSA's):
 * readable, at most PV_CA_FILE_MAX bytes, holding a PEM certificate.
 * PV_EUSAGE otherwise: "WHAT PATH: why", or "WHAT PATH holds no PEM
 * certificate". */
int pv_cert_file_check(const char *what, const char *path, struct pv_error *err);
/* Reads a secret (password, token) file: at most PV_SECRET_FILE_MAX bytes,
 * trailing CR/LF stripped, into a secret buffer (secret.h). Caller wipes
 * and frees with pv_secret_free. */
int pv_read_secret_file(const char *path, char **secret_r, struct pv_error *err);

/* An flock on dir/name (made 0600 when missing), exclusive or shared,
 * never waiting: held through *fd_r until it is closed (a child forked
 * meanwhile holds it too). PV_ETEMP when another holds it in a way that
 * conflicts. */
int pv_lock_take(const char *dir, const char *name, bool exclusive, int *fd_r,
		 struct pv_error *err);

/* Bytes free to this (unprivileged) user on the file system holding path
 * (statvfs f_bavail); -1 when it cannot be told. */
long long pv_fs_free_bytes(const char *path);

#endif
