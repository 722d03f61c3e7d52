#ifndef PV_LEAF_H
#define PV_LEAF_H

/* Entries of the archive log (DESIGN.md §4): one canonical text leaf per
 * archived message, and one tombstone per disposal. No content, no
 * addresses: the mailbox is a keyed hash of the account name, and the
 * message is bound by the ciphertext hash and a salted commitment to the
 * plaintext (the salt is shredded with the key, so disposed mail cannot be
 * confirmed by guessing its content).
 *
 *   popvault/archive/v1 message          popvault/archive/v1 tombstone
 *   seq 17                               seq 17
 *   time 2026-11-22T10:00:00Z            time 2033-01-01T00:00:00Z
 *   mailbox <32 hex>                     policy 3
 *   class sec-7y                         reason <text, one line>
 *   ct <64 hex>
 *   commit <64 hex>
 */

#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

enum leaf_kind { LEAF_MESSAGE, LEAF_TOMBSTONE };

struct archive_leaf {
	enum leaf_kind kind;
	int64_t seq;          /* message id */
	int64_t time;         /* harvest (or disposal) time, unix seconds */
	char mailbox[33];     /* hex */
	char class_name[128]; /* retention class */
	char ct[65];          /* hex SHA-256 of the blob */
	char commit[65];      /* hex BLAKE2b-256(key = salt, plaintext) */
	int64_t policy;       /* tombstone: policy version */
	char reason[256];     /* tombstone: why */
};

#define LEAF_MAX 1024

int archive_leaf_format(const struct archive_leaf *l, struct pv_buf *out, struct pv_error *err);
/* Strict parse of the exact canonical form (anything else is PV_EINTEGRITY). */
int archive_leaf_parse(const char *data, size_t len, struct archive_leaf *l_r,
		       struct pv_error *err) PV_WARN_UNUSED;

#endif
