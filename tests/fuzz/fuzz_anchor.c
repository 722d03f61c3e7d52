/* libFuzzer target for what anchoring reads from outside (issue 17):
 * a TSA's reply (against a request of ours, and as a stored token), a
 * witness's add-checkpoint request (a real witness, its state in a
 * temporary directory, trusting one log key) and cosignature lines. The
 * findings are crashes, leaks and UB, plus two oracles: a TSA reply that
 * passes was signed by nobody we trust, so it never passes (the CA file
 * holds no certificate at all); and the witness answers only the
 * protocol's statuses. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "archiver/archive/witness.h"
#include "archiver/lib/buf.h"
#include "audit/cosig.h"
#include "audit/note.h"
#include "audit/tsa.h"

/* The c2sp.org/signed-note example key: the log the witness follows. */
static const char spec_vkey[] =
	"example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct witness *w;
static struct cosig_verifier wv;
static struct pv_buf req;
static char tmpdir[64], no_ca[96];

/* The witness's files go with the process. */
static void cleanup(void)
{
	static const char *const names[] = {"w.key", "w.db", "w.db-wal", "w.db-shm", "empty.pem"};
	char path[128];
	witness_free(&w);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
	pv_buf_free(&req);
}

static void setup(void)
{
	char key[96], state[96];
	struct note_verifier log;
	struct pv_buf vk;
	struct pv_error err;
	uint8_t imprint[32] = {7};
	uint64_t nonce;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pv-fuzz-anchor-XXXXXX");
	if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL)
		abort();
	atexit(cleanup);
	snprintf(key, sizeof(key), "%s/w.key", tmpdir);
	snprintf(state, sizeof(state), "%s/w.db", tmpdir);
	snprintf(no_ca, sizeof(no_ca), "%s/empty.pem", tmpdir);
	FILE *f = fopen(no_ca, "w");
	if (f == NULL)
		abort();
	fclose(f);
	pv_buf_init(&vk, 512);
	pv_buf_init(&req, 4096);
	if (witness_init(key, state, "fuzz.example/w", &vk, &err) != 0 ||
	    cosig_verifier_parse((const char *)vk.data, vk.len, &wv, &err) != 0 ||
	    note_verifier_parse(spec_vkey, strlen(spec_vkey), &log, &err) != 0)
		abort();
	struct witness_opts o = {key, state, &log, 1};
	if (witness_open(&o, &w, &err) != 0 || tsa_request_build(imprint, NULL, &req, &nonce, &err) != 0)
		abort();
	pv_buf_free(&vk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct tsa_token_info info;
	struct pv_error err;
	if (!ready) {
		setup();
		ready = 1;
	}
	if (tsa_reply_check(req.data, req.len, data, size, no_ca, NULL, &info, &err) == 0)
		abort();
	(void)!tsa_token_verify(data, size, data, size / 2, NULL, NULL, &info, &err);

	struct witness_answer a;
	witness_answer_init(&a);
	witness_add_checkpoint(w, data, size, &a);
	if (a.status != 200 && a.status != 400 && a.status != 403 && a.status != 404 &&
	    a.status != 409 && a.status != 422 && a.status != 500)
		abort();
	witness_answer_free(&a);

	bool ok;
	uint64_t t;
	(void)!cosig_check_note((const char *)data, size, &wv, 1, &ok, &t, &err);
	struct cosig_verifier v;
	(void)!cosig_verifier_parse((const char *)data, size, &v, &err);
	struct cosig_signer s;
	if (cosig_signer_parse((const char *)data, size, &s, &err) == 0)
		cosig_signer_wipe(&s);
	return 0;
}
