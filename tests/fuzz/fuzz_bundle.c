/* libFuzzer target for the bundle reader (audit/bundle.h) and the audit
 * bundle verifier (audit/auditbundle.h): whatever verify-bundle is given.
 * Seeds in corpus/fuzz_bundle/ are real audit bundles (plain tar, tar.gz,
 * stored and deflated zip) signed by the key below, so mutations reach the
 * manifest, checkpoint, tree-proof, leaf, JSON Lines, CSV and personal-data
 * checks. Findings: crashes, leaks, UB, and these oracles: every member
 * found by name is itself, every name is one we allow, and a member read
 * again streams to exactly its first-pass size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/auditbundle.h"
#include "audit/bundle.h"

/* The audit key of the data directory the seeds were exported from. */
static const char seed_vkey[] =
	"fuzz.example/pv/audit+33f316d5+AS0+76vV01G1RY1RedyIoCY84sAyUJq3pGoBUOt96dy5";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct note_verifier key;
	static int ready;
	struct bundle *b = NULL;
	struct pv_error err;

	if (!ready) {
		if (sodium_init() < 0 ||
		    note_verifier_parse(seed_vkey, strlen(seed_vkey), &key, &err) != 0)
			abort();
		ready = 1;
	}
	if (bundle_open_memory(data, size, &b, &err) != 0)
		return 0;
	for (size_t i = 0; i < bundle_count(b); i++) {
		const struct bundle_file *f = bundle_file_at(b, i);
		if (bundle_find(b, f->name) != f || !bundle_name_valid(f->name, strlen(f->name)))
			abort();
		if (f->size > PV_BUNDLE_SMALL_MAX && f->data != NULL)
			abort();
	}
	if (bundle_count(b) > 0) {
		const struct bundle_file *f = bundle_file_at(b, bundle_count(b) - 1);
		struct bundle_stream *s;
		uint8_t buf[4096];
		uint64_t total = 0;
		size_t got;
		int r = 0;
		if (bundle_stream_open(b, f->name, &s, &err) == 0) {
			while ((r = bundle_stream_read(s, buf, sizeof(buf), &got, &err)) == 0 && got > 0)
				total += got;
			if (r == 0 && total != f->size)
				abort();
			bundle_stream_close(&s);
		}
	}
	struct bundle_report rep = {NULL, NULL, 0, 0};
	if (auditbundle_verify(b, &key, 1, NULL, 0, NULL, &rep, &err) == 0 && rep.problems != 0)
		abort();
	bundle_free(&b);
	return 0;
}
