/* libFuzzer target for the eDiscovery bundle verifier (archiver/export/
 * ediscovery.h): whatever verify-bundle is given as a kind "ediscovery"
 * bundle. Seeds in corpus/fuzz_ediscovery/ are real exports (plain tar,
 * tar.gz, zip) of data directories whose archive and audit keys are below,
 * so mutations reach the manifest, both checkpoints, the message set, the
 * per-message proofs and commitments, the mbox, the DAT and CSV rows, the
 * audit event and its personal data. export.tar and the others hold v2
 * archive leaves; export-v3-leaves.tar (origin fuzz.example/pv3) v3
 * leaves, whose commitment is made from the message's SHA-256
 * (store/leaf_commit.h). Findings: crashes, leaks, UB, and the oracle that
 * a bundle that verifies reported no problem. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/export/ediscovery.h"
#include "audit/bundle.h"

static const char *const seed_vkeys[] = {
	"fuzz.example/pv/archive+857a260e+ATVwCT0yadY2nwgPplenNuOrBq3PNsh9nHtndOn1nSzW",
	"fuzz.example/pv/audit+44aaace2+AUggA37XmeyCLn9QjJ+zfNh016n1N4MFW3x6NNALWKPK",
	"fuzz.example/pv3/archive+34d48e7e+AQpKBQo9KllQA1qPM582XYVlhumo2zrIS1dXpa21gjIR",
	"fuzz.example/pv3/audit+4098783b+AakXQKj4kuZTxsgER+8xjvqOsCi6Ld56VP7yHqSp00in",
};
#define NKEYS (sizeof(seed_vkeys) / sizeof(seed_vkeys[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct note_verifier keys[NKEYS];
	static int ready;
	struct bundle *b = NULL;
	struct pv_error err;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		for (size_t i = 0; i < NKEYS; i++)
			if (note_verifier_parse(seed_vkeys[i], strlen(seed_vkeys[i]), &keys[i], &err) != 0)
				abort();
		ready = 1;
	}
	if (bundle_open_memory(data, size, &b, &err) != 0)
		return 0;
	struct bundle_report rep = {NULL, NULL, 0, 0};
	int r = ediscovery_verify(b, keys, NKEYS, NULL, 0, NULL, &rep, &err);
	if ((r == 0) != (rep.problems == 0))
		abort();
	bundle_free(&b);
	return 0;
}
