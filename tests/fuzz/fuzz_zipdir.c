/* libFuzzer target for the zip central directory check
 * (audit/bundle_zipdir.h) on its own: the end records, Zip64 records,
 * central entries, local headers, extra fields and data descriptors of
 * whatever zip it is given, read through its two small windows. Seeds in
 * corpus/fuzz_zipdir/ are bundles as exported (plain and Zip64 end
 * records). The stream's fold is empty, so every input with an entry is
 * refused at the end; findings are crashes, leaks, UB, and this oracle: a
 * zip the check accepts lists no entry. (Whole bundles, stream and
 * directory together, are fuzz_bundle's.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/bundle_zipdir.h"

struct input {
	const uint8_t *data;
	size_t size;
};

static ssize_t read_input(void *ctx, uint64_t off, void *buf, size_t n)
{
	const struct input *in = ctx;
	if (off >= in->size)
		return 0;
	if (n > in->size - off)
		n = (size_t)(in->size - off);
	memcpy(buf, in->data + off, n);
	return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct zipdir_fold none;
	struct pv_error err;
	zipdir_fold_init(&none);
	if (zipdir_check(read_input, &in, size, &none, &err) == 0 && none.count != 0)
		abort();
	return 0;
}
