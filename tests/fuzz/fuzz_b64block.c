/* libFuzzer target for store/b64block.h, the packing of base64 record
 * blocks. Two oracles beyond crashes, leaks and UB: any input that packs
 * unpacks to exactly itself (a record block must come back byte for
 * byte), and any input read as a head and packed values (what a forged
 * record would hand the reader) decodes within the size its head
 * announces or is refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/store/b64block.h"

#define BLOCK (64 * 1024) /* store/record.h's RECORD_BLOCK */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char packed[B64BLOCK_PACKED_MAX(BLOCK)], out[BLOCK];
	struct pv_error err;
	size_t len, values_len, out_len;

	if (size <= BLOCK && b64block_pack(data, size, packed, &len)) {
		if (len < B64BLOCK_HEAD || len > B64BLOCK_PACKED_MAX(size) ||
		    b64block_head(packed, size, &values_len, &out_len, &err) != PV_OK ||
		    values_len != len - B64BLOCK_HEAD || out_len != size ||
		    b64block_unpack(packed, packed + B64BLOCK_HEAD, values_len, out, &err) != PV_OK ||
		    memcmp(out, data, size) != 0)
			abort();
	}
	if (size >= B64BLOCK_HEAD &&
	    b64block_head(data, BLOCK, &values_len, &out_len, &err) == PV_OK) {
		if (out_len > BLOCK)
			abort();
		/* into a buffer of exactly that size: ASan sees a write past it */
		unsigned char *exact = malloc(out_len ? out_len : 1);
		if (exact == NULL)
			abort();
		(void)b64block_unpack(data, data + B64BLOCK_HEAD, size - B64BLOCK_HEAD, exact, &err);
		free(exact);
	}
	return 0;
}
