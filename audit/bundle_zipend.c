/* False ends of stored zip members (bundle_zipend.h). */
#include "audit/bundle_zipend.h"

#include <string.h>
#include <zlib.h>

static const uint8_t SIG[4] = {'P', 'K', 7, 8};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t crc_more(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n > 0) {
		uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
		crc = (uint32_t)crc32(crc, p, k);
		p += k;
		n -= k;
	}
	return crc;
}

/* Signatures starting before `upto` in p[0, n), *crc being the CRC-32 of
 * the bytes before p. One whose CRC-32 field runs past n is a false end
 * (only asked at the member's end: the real descriptor follows). With
 * `advance`, *crc becomes the CRC-32 through p[upto]. */
static bool scan(const uint8_t *p, size_t n, size_t upto, uint32_t *crc, bool advance)
{
	size_t done = 0, from = 0, lim = upto + 3 < n ? upto + 3 : n;
	bool hit = false;
	while (!hit && from < lim) {
		const uint8_t *s = memmem(p + from, lim - from, SIG, sizeof(SIG));
		if (s == NULL)
			break;
		size_t i = (size_t)(s - p);
		*crc = crc_more(*crc, p + done, i - done);
		done = i;
		hit = i + 8 > n || le32(p + i + 4) == *crc;
		from = i + sizeof(SIG);
	}
	if (advance && !hit)
		*crc = crc_more(*crc, p + done, upto - done);
	return hit;
}

bool zipend_false_end(const void *data, size_t len)
{
	uint32_t crc = (uint32_t)crc32(0, NULL, 0);
	return scan(data, len, len, &crc, false);
}

void zipend_init(struct zipend *z)
{
	z->crc = (uint32_t)crc32(0, NULL, 0);
	z->tail_len = 0;
	z->hit = false;
}

void zipend_feed(struct zipend *z, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0 && !z->hit) {
		size_t k = sizeof(z->tail) - z->tail_len;
		if (k > len)
			k = len;
		memcpy(z->tail + z->tail_len, p, k);
		z->tail_len += k;
		p += k;
		len -= k;
		if (z->tail_len < sizeof(z->tail))
			break;
		/* The last bytes may start a signature whose CRC-32 is not
		 * here yet: kept for the next chunk. */
		z->hit = scan(z->tail, z->tail_len, z->tail_len - ZIPEND_TAIL, &z->crc, true);
		memmove(z->tail, z->tail + z->tail_len - ZIPEND_TAIL, ZIPEND_TAIL);
		z->tail_len = ZIPEND_TAIL;
	}
}

bool zipend_found(struct zipend *z)
{
	if (!z->hit)
		z->hit = scan(z->tail, z->tail_len, z->tail_len, &z->crc, false);
	return z->hit;
}
