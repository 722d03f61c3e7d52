/* libFuzzer target for false ends of stored zip members
 * (audit/bundle_zipend.h): the one-shot check, the streamed one fed in
 * chunks of a size the input picks, and a plain byte-by-byte reference of
 * the same condition must agree. Input: one byte (bits 0-6: the chunk size
 * minus one; bit 7: make the first signature's CRC-32 field true, so hits
 * are common), then the member's bytes. Findings are crashes, UB and any
 * disagreement. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "audit/bundle_zipend.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The condition as the header states it, one byte at a time. */
static bool reference(const uint8_t *p, size_t n)
{
	uint32_t crc = (uint32_t)crc32(0, NULL, 0);
	for (size_t i = 0; i + 4 <= n; i++) {
		if (memcmp(p + i, "PK\7\10", 4) == 0 && (i + 8 > n || le32(p + i + 4) == crc))
			return true;
		crc = (uint32_t)crc32(crc, p + i, 1);
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)(data[0] & 0x7f) + 1, n = size - 1;
	uint8_t *p = malloc(n ? n : 1);
	struct zipend *z = malloc(sizeof(*z));
	if (p == NULL || z == NULL)
		abort();
	memcpy(p, data + 1, n);
	const uint8_t *sig = n >= 8 ? memmem(p, n - 4, "PK\7\10", 4) : NULL;
	if ((data[0] & 0x80) && sig != NULL && (size_t)(sig - p) + 8 <= n) {
		uint32_t crc = (uint32_t)crc32(0, p, (uInt)(sig - p));
		for (int i = 0; i < 4; i++)
			p[sig - p + 4 + i] = (uint8_t)(crc >> (8 * i));
	}
	bool want = reference(p, n);
	zipend_init(z);
	for (size_t off = 0; off < n; off += chunk)
		zipend_feed(z, p + off, n - off < chunk ? n - off : chunk);
	if (zipend_false_end(p, n) != want || zipend_found(z) != want)
		abort();
	free(z);
	free(p);
	return 0;
}
