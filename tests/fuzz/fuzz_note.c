/* libFuzzer target for the audit/ text parsers that read outside input:
 * signed notes, verifier and signing keys, checkpoint bodies, tlog-proofs,
 * key-rotation notes. Every input goes to every parser; crashes, leaks and
 * UB are the findings, plus one oracle: a checkpoint body that parses
 * canonically must format back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/checkpoint.h"
#include "audit/keys.h"
#include "audit/note.h"
#include "audit/tlog_proof.h"

/* The c2sp.org/signed-note example key: inputs derived from its note reach
 * the signature check. */
static const char spec_vkey[] =
	"example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct note_verifier spec;
	static int ready;
	const char *s = (const char *)data;
	struct pv_error err;
	size_t text_len, nsigs;
	int r;

	if (!ready) {
		if (sodium_init() < 0 || note_verifier_parse(spec_vkey, strlen(spec_vkey), &spec, &err) != 0)
			abort();
		ready = 1;
	}

	if (note_split(s, size, &text_len, &nsigs, &err) == 0 && (text_len > size || nsigs == 0))
		abort();
	bool ok[1];
	if (note_open(s, size, &spec, 1, &text_len, ok, &err) == 0 && !ok[0])
		abort();

	struct note_verifier v;
	(void)note_verifier_parse(s, size, &v, &err);
	struct note_signer sg;
	if (note_signer_parse(s, size, &sg, &err) == 0)
		note_signer_wipe(&sg);

	struct checkpoint cp;
	if (checkpoint_parse(s, size, &cp, &err) == 0 && cp.n_ext == (cp.time >= 0 ? 1u : 0u)) {
		struct pv_buf b;
		pv_buf_init(&b, PV_NOTE_MAX);
		r = checkpoint_format(cp.origin, cp.size, cp.root, cp.time, &b, &err);
		if (r == 0 && (b.len != size || memcmp(b.data, data, size) != 0))
			abort();
		pv_buf_free(&b);
	}

	struct tlog_proof p;
	if (tlog_proof_parse(s, size, &p, &err) == 0) {
		if (p.checkpoint < s || p.checkpoint + p.checkpoint_len != s + size ||
		    p.n_hashes > PV_PROOF_HASHES_MAX)
			abort();
		tlog_proof_free(&p);
	}
	struct checkpoint vcp;
	(void)!tlog_proof_verify(s, size, data, size / 2, spec_vkey, &vcp, NULL, &err);

	struct keys_rotation rot;
	(void)!keys_rotation_parse(s, size, &rot, &err);
	return 0;
}
