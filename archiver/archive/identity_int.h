#ifndef PV_ARCHIVE_IDENTITY_INT_H
#define PV_ARCHIVE_IDENTITY_INT_H

/* Shared by archive/identity.c (export, join, rotation) and
 * archive/identity_update.c, nobody else. */

#include "archiver/archive/backup_int.h"
#include "archiver/archive/identity.h"

/* The two logs, in the order of the identity's key files. */
extern const char *const identity_logs[2];

/* The file named name in k, or NULL. */
const struct backup_key_file *identity_find(const struct backup_key_files *k, const char *name);

/* Reads the identity at path sealed to passphrase into k (the caller
 * frees it with backup_key_files_free on success; nothing to free on
 * failure): PV_EAUTH for a wrong passphrase, PV_EINTEGRITY for a file
 * that is no identity. origin gets its origin, *secrets_r its secrets
 * key (inside k). */
int identity_read(const char *path, const char *passphrase, size_t pass_len,
		  struct backup_key_files *k, char origin[IDENTITY_ORIGIN_MAX],
		  const struct backup_key_file **secrets_r, struct pv_error *err);

#endif
