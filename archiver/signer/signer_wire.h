#ifndef PV_SIGNER_WIRE_H
#define PV_SIGNER_WIRE_H

/* The signer's protocol (private to archiver/signer): one request, one
 * reply, each a single SOCK_SEQPACKET packet of at most PV_SIGNER_MSG_MAX
 * bytes, fields little-endian with explicit lengths:
 *
 *   request  op u8, log u8, 0 u16, from u64, nproof u32, proof 32*nproof,
 *            vkey (u32 len, bytes), text (u32 len, bytes), last (u32 len, bytes)
 *   reply    status u8, 0 u8[7], size u64, data (u32 len, bytes)
 *
 * A field that does not fit the packet, a count over its limit or bytes
 * after the last field make the packet malformed. */

#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "audit/merkle.h"

enum signer_op {
	/* Is the key with this vkey held for log L? data: the vkey. */
	SIGNER_HELLO = 1,
	/* Sign checkpoint body `text` of log L with the key `vkey`, the tree
	 * proven an extension of the signer's last (size `from`) by `proof`;
	 * `last`: the requester's latest signed checkpoint note, used only
	 * when the signer has no state yet. data: the note. */
	SIGNER_SIGN_CHECKPOINT = 2,
	/* Make the new key of a rotation. data: its vkey. */
	SIGNER_ROTATE_PREPARE = 3,
	/* Sign rotation note body `text` (old key -> the prepared key), its
	 * tree proven like a checkpoint's. data: the note. */
	SIGNER_SIGN_ROTATION = 4,
	/* Sign a bundle manifest text with L's current key. data: the note. */
	SIGNER_SIGN_MANIFEST = 5,
};

enum signer_status {
	SIGNER_OK = 0,
	/* The signer's last tree is of size `size`: prove from there. */
	SIGNER_STALE = 1,
	/* Refused: data says why. */
	SIGNER_REFUSED = 2,
};

/* The two logs, by number on the wire. */
#define SIGNER_LOGS 2
extern const char *const signer_log_names[SIGNER_LOGS];
/* Index of a log name, -1 when it is neither. */
int signer_log_index(const char *name);

struct signer_req {
	uint8_t op, log;
	uint64_t from;
	const merkle_hash *proof;
	size_t nproof;
	const char *vkey, *text, *last; /* not NUL-terminated */
	size_t vkey_len, text_len, last_len;
};

struct signer_reply {
	uint8_t status;
	uint64_t size;
	const char *data;
	size_t len;
};

/* Encodes into buf (PV_SIGNER_MSG_MAX bytes); the packet length, or a
 * negative status when it does not fit. */
int signer_req_encode(const struct signer_req *q, unsigned char *buf, size_t cap,
		      struct pv_error *err);
int signer_reply_encode(const struct signer_reply *a, unsigned char *buf, size_t cap,
			struct pv_error *err);
/* Decodes a packet; the pointers point into buf. PV_EINTEGRITY when it is
 * malformed. */
int signer_req_decode(const unsigned char *buf, size_t len, struct signer_req *q,
		      struct pv_error *err) PV_WARN_UNUSED;
int signer_reply_decode(const unsigned char *buf, size_t len, struct signer_reply *a,
			struct pv_error *err) PV_WARN_UNUSED;

#endif
