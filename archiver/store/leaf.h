#ifndef PV_LEAF_H
#define PV_LEAF_H

/* Entries of the archive log (ARCHITECTURE.md §4): one canonical text leaf per
 * archived message, and one tombstone per disposal. No content, no
 * addresses: the mailbox is a keyed hash of the account name, and the
 * message is bound by the ciphertext hash and a salted commitment to the
 * plaintext (the salt is shredded with the key, so disposed mail cannot be
 * confirmed by guessing its content).
 *
 *   popvault/archive/v3 message          popvault/archive/v1 tombstone
 *   seq 17                               seq 17
 *   time 2026-11-22T10:00:00Z            time 2033-01-01T00:00:00Z
 *   mailbox <32 hex>                     policy 3
 *   class sec-7y                         reason <text, one line>
 *   size 286
 *   ct <64 hex>
 *   commit <64 hex>
 *
 * A message leaf commits to every fact a retention rule may use that is
 * not content: the account (mailbox), the received time (time) and, since
 * v2, the plaintext size in bytes (size), so that a disposal can be
 * re-derived from signed data after the content is shredded. v1 message
 * leaves (no size line) were written before; they stay parseable and
 * verifiable. v3 has v2's lines, but its commit is over the plaintext's
 * SHA-256 instead of the plaintext (leaf_commit.h); new messages get v3,
 * v2 leaves stay valid. Tombstones are v1. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

enum leaf_kind { LEAF_MESSAGE, LEAF_TOMBSTONE };

/* The version new message leaves are written in. */
#define LEAF_MESSAGE_VERSION 3

struct archive_leaf {
	enum leaf_kind kind;
	int version;          /* 1, 2 or 3; 0 when formatting: the current version */
	int64_t seq;          /* message id */
	int64_t time;         /* received (or disposal) time, unix seconds */
	char mailbox[33];     /* hex */
	char class_name[128]; /* retention class */
	bool has_size;        /* v2 and v3 message leaves */
	uint64_t size;        /* plaintext bytes, when has_size */
	char ct[65];          /* hex SHA-256 of the blob */
	char commit[65];      /* hex, leaf_commit.h: BLAKE2b-256 keyed by the salt */
	int64_t policy;       /* tombstone: policy version */
	char reason[256];     /* tombstone: why */
};

#define LEAF_MAX 1024

/* Formats l canonically: a message leaf in l->version (0: the current
 * version; v2 and v3 need l->size), a tombstone in v1. */
int archive_leaf_format(const struct archive_leaf *l, struct pv_buf *out, struct pv_error *err);
/* Strict parse of the exact canonical form of a v1, v2 or v3 message leaf
 * or a v1 tombstone (anything else is PV_EINTEGRITY). Sets version, and
 * has_size for v2 and v3 message leaves. */
int archive_leaf_parse(const char *data, size_t len, struct archive_leaf *l_r,
		       struct pv_error *err) PV_WARN_UNUSED;

#endif
