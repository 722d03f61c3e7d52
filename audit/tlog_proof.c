#include "audit/tlog_proof.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/base64.h"
#include "archiver/lib/number.h"

#define PROOF_MAGIC "c2sp.org/tlog-proof@v1"

static int b64_line(struct pv_buf *out, const char *prefix, const void *bin, size_t n,
		    struct pv_error *err)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(cap);
	int r;
	if (b64 == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	sodium_bin2base64(b64, cap, bin, n, sodium_base64_VARIANT_ORIGINAL);
	r = pv_buf_printf(out, err, "%s%s\n", prefix, b64);
	free(b64);
	return r;
}

int tlog_proof_create(struct tlog *t, uint64_t index, const char *checkpoint_note, size_t note_len,
		      const void *extra, size_t extra_len, struct pv_buf *out,
		      struct pv_error *err)
{
	struct checkpoint cp;
	merkle_hash proof[PV_PROOF_HASHES_MAX], root;
	size_t text_len, nsigs, n;
	int r;

	if (extra_len > PV_TLOG_PROOF_EXTRA_MAX)
		return pv_fail(err, PV_ELIMIT, "tlog-proof: extra data over %d bytes",
			       PV_TLOG_PROOF_EXTRA_MAX);
	if ((r = note_split(checkpoint_note, note_len, &text_len, &nsigs, err)) < 0 ||
	    (r = checkpoint_parse(checkpoint_note, text_len, &cp, err)) < 0)
		return r;
	if (strcmp(cp.origin, tlog_origin(t)) != 0)
		return pv_fail(err, PV_ERR, "tlog-proof: checkpoint is for %s, not %s", cp.origin,
			       tlog_origin(t));
	if (index >= cp.size)
		return pv_fail(err, PV_ENOTFOUND, "tlog-proof: leaf %llu is not in the checkpoint (%llu)",
			       (unsigned long long)index, (unsigned long long)cp.size);
	if ((r = tlog_root_cached(t, cp.size, root, err)) < 0)
		return r;
	if (sodium_memcmp(root, cp.root, MERKLE_HASH_LEN) != 0)
		return pv_fail(err, PV_EINTEGRITY, "tlog-proof: the log does not match the checkpoint");
	if ((r = tlog_inclusion_proof(t, index, cp.size, proof, &n, err)) < 0)
		return r;
	if ((r = pv_buf_append_str(out, PROOF_MAGIC "\n", err)) < 0)
		return r;
	if (extra != NULL && extra_len > 0 && (r = b64_line(out, "extra ", extra, extra_len, err)) < 0)
		return r;
	if ((r = pv_buf_printf(out, err, "index %llu\n", (unsigned long long)index)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if ((r = b64_line(out, "", proof[i], MERKLE_HASH_LEN, err)) < 0)
			return r;
	if ((r = pv_buf_append(out, "\n", 1, err)) < 0)
		return r;
	return pv_buf_append(out, checkpoint_note, note_len, err);
}

void tlog_proof_free(struct tlog_proof *p)
{
	free(p->extra);
	memset(p, 0, sizeof(*p));
}

static const char *next_line(const char *p, const char *end, size_t *len)
{
	const char *eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL)
		return NULL;
	*len = (size_t)(eol - p);
	return eol + 1;
}

int tlog_proof_parse(const char *text, size_t len, struct tlog_proof *p_r, struct pv_error *err)
{
	const char *p = text, *end = text + len, *q;
	size_t ll, n;
	int r = PV_EINTEGRITY;

	memset(p_r, 0, sizeof(*p_r));
	if (len > PV_TLOG_PROOF_MAX)
		return pv_fail(err, PV_ELIMIT, "tlog-proof: over %d bytes", PV_TLOG_PROOF_MAX);
	if ((q = next_line(p, end, &ll)) == NULL || ll != sizeof(PROOF_MAGIC) - 1 ||
	    memcmp(p, PROOF_MAGIC, ll) != 0)
		return pv_fail(err, PV_EINTEGRITY, "tlog-proof: not a c2sp.org/tlog-proof@v1");
	p = q;
	if ((q = next_line(p, end, &ll)) != NULL && ll >= 6 && memcmp(p, "extra ", 6) == 0) {
		size_t cap = (ll - 6) / 4 * 3 + 3;
		if (cap > PV_TLOG_PROOF_EXTRA_MAX + 3) {
			r = pv_fail(err, PV_ELIMIT, "tlog-proof: extra data too large");
			goto fail;
		}
		p_r->has_extra = true;
		if (ll > 6) {
			if ((p_r->extra = malloc(cap)) == NULL) {
				r = pv_fail(err, PV_ERR, "out of memory");
				goto fail;
			}
			if (pv_b64_decode(p + 6, ll - 6, p_r->extra, cap, &n) != 0) {
				r = pv_fail(err, PV_EINTEGRITY, "tlog-proof: extra is not base64");
				goto fail;
			}
			p_r->extra_len = n;
		}
		p = q;
	}
	if ((q = next_line(p, end, &ll)) == NULL || ll < 7 || memcmp(p, "index ", 6) != 0 ||
	    pv_parse_u64(p + 6, ll - 6, 0, UINT64_MAX, PV_NUM_CANONICAL, &p_r->index) != 0) {
		r = pv_fail(err, PV_EINTEGRITY, "tlog-proof: bad index line");
		goto fail;
	}
	p = q;
	for (;;) {
		if ((q = next_line(p, end, &ll)) == NULL) {
			r = pv_fail(err, PV_EINTEGRITY, "tlog-proof: no checkpoint");
			goto fail;
		}
		if (ll == 0)
			break;
		if (p_r->n_hashes >= PV_PROOF_HASHES_MAX) {
			r = pv_fail(err, PV_EINTEGRITY, "tlog-proof: more than %d hashes",
				    PV_PROOF_HASHES_MAX);
			goto fail;
		}
		if (pv_b64_decode(p, ll, p_r->hashes[p_r->n_hashes], MERKLE_HASH_LEN, &n) != 0 ||
		    n != MERKLE_HASH_LEN) {
			r = pv_fail(err, PV_EINTEGRITY, "tlog-proof: hash line %zu is not a hash",
				    p_r->n_hashes + 1);
			goto fail;
		}
		p_r->n_hashes++;
		p = q;
	}
	p = q;
	if (p == end) {
		r = pv_fail(err, PV_EINTEGRITY, "tlog-proof: no checkpoint");
		goto fail;
	}
	p_r->checkpoint = p;
	p_r->checkpoint_len = (size_t)(end - p);
	return 0;
fail:
	tlog_proof_free(p_r);
	return r;
}

int tlog_proof_verify(const char *text, size_t len, const void *entry, size_t entry_len,
		      const char *vkey, struct checkpoint *cp_r, struct tlog_proof *p_r,
		      struct pv_error *err)
{
	struct tlog_proof p;
	struct note_verifier v;
	struct checkpoint cp;
	merkle_hash leaf;
	int r;

	if (p_r != NULL)
		memset(p_r, 0, sizeof(*p_r));
	if ((r = note_verifier_parse(vkey, strlen(vkey), &v, err)) < 0)
		return r;
	if ((r = tlog_proof_parse(text, len, &p, err)) < 0)
		return r;
	if ((r = checkpoint_open(p.checkpoint, p.checkpoint_len, &v, 1, &cp, err)) < 0)
		goto out;
	merkle_leaf_hash(entry, entry_len, leaf);
	if ((r = merkle_verify_inclusion(p.index, cp.size, leaf, p.hashes, p.n_hashes, cp.root,
					 err)) < 0) {
		pv_error_prefix(err, "tlog-proof: entry %llu of %s", (unsigned long long)p.index,
				cp.origin);
		goto out;
	}
	if (cp_r != NULL)
		*cp_r = cp;
	if (p_r != NULL) {
		*p_r = p;
		return 0;
	}
out:
	tlog_proof_free(&p);
	return r;
}
