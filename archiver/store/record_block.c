/* A message block as a record chunk's plaintext, and back: see
 * record_block.h. */
#include "archiver/store/record_block.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* zstd level 1, measured on the bench's generated mix (2,000 messages,
 * 64 KiB blocks): text blocks 249 MB/s to 40% of their size, base64
 * attachments 724 MB/s to 76%; level 3 gains under 1% for 20% more time,
 * negative levels leave base64 untouched. Base64 lines are packed
 * instead since (to 73%, at a fraction of zstd's cost both ways). */
#define ZSTD_LEVEL 1
/* A block is kept compressed only when that saves at least 1/16 of it:
 * less is not worth decompressing at every read. Tiny blocks are not
 * tried. */
#define MIN_GAIN_SHIFT 4
#define MIN_BLOCK 128
/* A base64 block's packed values are compressed only when their first
 * this many bytes compress: random values (attachments that are
 * compressed or encrypted files, most of them) are not tried whole. */
#define B64_SAMPLE 4096

_Static_assert(B64BLOCK_PACKED_MAX(RECORD_BLOCK) <= ZSTD_COMPRESSBOUND(RECORD_BLOCK),
	       "a packed base64 block fits where a zstd frame of it would");

int record_block_enc_init(struct record_block_enc *e, struct pv_error *err)
{
	e->zc = ZSTD_createCCtx();
	if (e->zc == NULL || ZSTD_isError(ZSTD_CCtx_setParameter(e->zc, ZSTD_c_compressionLevel,
								  ZSTD_LEVEL))) {
		ZSTD_freeCCtx(e->zc);
		e->zc = NULL;
		return pv_fail(err, PV_ERR, "zstd: cannot start compression");
	}
	return PV_OK;
}

void record_block_enc_free(struct record_block_enc *e)
{
	ZSTD_freeCCtx(e->zc);
	sodium_memzero(e, sizeof(*e));
}

/* zstd's output z (or error) for n bytes saves enough to keep. */
static bool gains(size_t z, size_t n)
{
	return !ZSTD_isError(z) && z <= n - (n >> MIN_GAIN_SHIFT);
}

/* The n packed values of the base64 block in zbuf compressed into b64z,
 * when a sample of them compresses and the whole does. */
static bool b64_compress(struct record_block_enc *e, size_t n, size_t *z_r)
{
	const unsigned char *v = e->zbuf + 1 + B64BLOCK_HEAD;
	unsigned char *out = e->b64z + 1 + B64BLOCK_HEAD;
	size_t cap = sizeof(e->b64z) - 1 - B64BLOCK_HEAD;
	size_t sample = n < B64_SAMPLE ? n : B64_SAMPLE;
	if (sample < MIN_BLOCK || !gains(ZSTD_compress2(e->zc, out, cap, v, sample), sample))
		return false;
	size_t z = ZSTD_compress2(e->zc, out, cap, v, n);
	if (!gains(z, n))
		return false;
	e->b64z[0] = RECORD_B64_ZSTD;
	memcpy(e->b64z + 1, e->zbuf + 1, B64BLOCK_HEAD);
	*z_r = z;
	return true;
}

const unsigned char *record_block_encode(struct record_block_enc *e, unsigned char *block,
					 size_t n, size_t *len_r)
{
	size_t z;
	block[0] = RECORD_STORED;
	*len_r = 1 + n;
	if (n < MIN_BLOCK)
		return block;
	if (b64block_pack(block + 1, n, e->zbuf + 1, &z)) {
		e->zbuf[0] = RECORD_B64;
		*len_r = 1 + z;
		if (!b64_compress(e, z - B64BLOCK_HEAD, &z))
			return e->zbuf;
		*len_r = 1 + B64BLOCK_HEAD + z;
		return e->b64z;
	}
	z = ZSTD_compress2(e->zc, e->zbuf + 1, sizeof(e->zbuf) - 1, block + 1, n);
	if (!gains(z, n))
		return block;
	e->zbuf[0] = RECORD_ZSTD;
	*len_r = 1 + z;
	return e->zbuf;
}

/* A base64 block's payload p[0..n) into dec. */
static int b64_decode(ZSTD_DCtx *dz, unsigned char mode, const unsigned char *p, size_t n,
		      unsigned char *dec, unsigned char **vals, size_t *len_r, struct pv_error *err)
{
	size_t want, out, have;
	const unsigned char *v;
	int r;
	if (n < B64BLOCK_HEAD)
		return pv_fail(err, PV_EINTEGRITY, "base64 block: %zu bytes, no head", n);
	if ((r = b64block_head(p, RECORD_BLOCK, &want, &out, err)) < 0)
		return r;
	v = p + B64BLOCK_HEAD;
	have = n - B64BLOCK_HEAD;
	if (mode == RECORD_B64_ZSTD) {
		if (*vals == NULL && (*vals = malloc(RECORD_B64_VALUES_MAX)) == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		size_t z = ZSTD_decompressDCtx(dz, *vals, RECORD_B64_VALUES_MAX, v, have);
		if (ZSTD_isError(z))
			return pv_fail(err, PV_EINTEGRITY, "base64 block: %s", ZSTD_getErrorName(z));
		v = *vals;
		have = z;
	}
	if ((r = b64block_unpack(p, v, have, dec, err)) < 0)
		return r;
	*len_r = out;
	return PV_OK;
}

int record_block_decode(ZSTD_DCtx *dz, const unsigned char *p, size_t n, unsigned char *dec,
			unsigned char **vals, const unsigned char **m_r, size_t *len_r,
			struct pv_error *err)
{
	if (n < 1)
		return pv_fail(err, PV_EINTEGRITY, "an empty chunk");
	switch (p[0]) {
	case RECORD_STORED:
		if (n - 1 > RECORD_BLOCK)
			return pv_fail(err, PV_EINTEGRITY, "a stored block of %zu bytes", n - 1);
		*m_r = p + 1;
		*len_r = n - 1;
		return PV_OK;
	case RECORD_ZSTD: {
		size_t z = ZSTD_decompressDCtx(dz, dec, RECORD_BLOCK, p + 1, n - 1);
		if (ZSTD_isError(z))
			return pv_fail(err, PV_EINTEGRITY, "%s", ZSTD_getErrorName(z));
		*m_r = dec;
		*len_r = z;
		return PV_OK;
	}
	case RECORD_B64:
	case RECORD_B64_ZSTD:
		*m_r = dec;
		return b64_decode(dz, p[0], p + 1, n - 1, dec, vals, len_r, err);
	}
	return pv_fail(err, PV_EINTEGRITY, "unknown block mode %u", p[0]);
}
