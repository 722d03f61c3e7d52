#ifndef PV_BUNDLE_ZIPEND_H
#define PV_BUNDLE_ZIPEND_H

/* Whether a member stored (not deflated) in a .zip would end early for a
 * streaming reader. libarchive's writer puts a data descriptor after each
 * member ("PK\7\10", CRC-32, sizes), and its streaming reader (3.6.2,
 * zip_read_data_none) ends a stored member at the first offset i where the
 * bytes are "PK\7\10" followed by the little-endian CRC-32 of bytes
 * [0, i). A mail can hold such a false end; the writer then deflates that
 * member (a deflate stream ends itself). The check costs a scan for the
 * signature and the CRC-32 of the bytes (zlib's), nothing kept but a small
 * window. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most one false end needs bytes [i, i+8): the window kept between
 * chunks. */
#define ZIPEND_TAIL 7

/* The one-shot check of a member held in memory. */
bool zipend_false_end(const void *data, size_t len);

/* The same over a member written in chunks: init, feed every chunk in
 * order, then found. Holds no memory of its own. */
struct zipend {
	uint32_t crc; /* of the bytes before tail */
	size_t tail_len;
	uint8_t tail[ZIPEND_TAIL + 4096];
	bool hit;
};
void zipend_init(struct zipend *z);
void zipend_feed(struct zipend *z, const void *data, size_t len);
/* Whether a false end was seen in all the bytes fed (the member's end
 * included: a signature whose CRC-32 would run into the real descriptor
 * counts as one, conservatively). */
bool zipend_found(struct zipend *z);

#endif
