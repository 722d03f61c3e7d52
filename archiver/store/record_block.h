#ifndef PV_RECORD_BLOCK_H
#define PV_RECORD_BLOCK_H

/* One block of a message as a record chunk's plaintext, and back
 * (store/record.h): the mode byte and its payload. A block of base64
 * lines is packed (store/b64block.h), its values compressed too when a
 * sample of them compresses; any other block is one zstd frame when
 * that saves 1/16, else kept as it came. */

#include <stddef.h>
#include <zstd.h>

#include "archiver/lib/error.h"
#include "archiver/store/b64block.h"
#include "archiver/store/record.h"

/* The packed values of a base64 block at most (RECORD_BLOCK characters). */
#define RECORD_B64_VALUES_MAX (RECORD_BLOCK / 4 * 3 + 3)

/* An encoder's context and buffers, reused block after block. */
struct record_block_enc {
	ZSTD_CCtx *zc;
	unsigned char zbuf[1 + ZSTD_COMPRESSBOUND(RECORD_BLOCK)]; /* or a RECORD_B64 block */
	unsigned char b64z[1 + B64BLOCK_HEAD + ZSTD_COMPRESSBOUND(RECORD_B64_VALUES_MAX)];
};

int record_block_enc_init(struct record_block_enc *e, struct pv_error *err);
/* Frees its context and wipes its buffers (they held plaintext). */
void record_block_enc_free(struct record_block_enc *e);

/* block[1..1+n) holds the bytes (block[0] is set to RECORD_STORED when
 * they are kept as they came). Returns the chunk's plaintext, block
 * itself or one of e's buffers, valid until the next call; *len_r its
 * length. */
const unsigned char *record_block_encode(struct record_block_enc *e, unsigned char *block,
					 size_t n, size_t *len_r);

/* Decodes a chunk's plaintext p[0..n) (mode byte first) into dec (room
 * for RECORD_BLOCK): *m_r points at the block's bytes (dec, or p + 1 for
 * a stored block), *len_r their count. dz: the caller's zstd context;
 * *vals: a buffer for a RECORD_B64_ZSTD block's values, allocated here
 * when NULL (RECORD_B64_VALUES_MAX bytes: wipe and free it). */
int record_block_decode(ZSTD_DCtx *dz, const unsigned char *p, size_t n, unsigned char *dec,
			unsigned char **vals, const unsigned char **m_r, size_t *len_r,
			struct pv_error *err) PV_WARN_UNUSED;

#endif
