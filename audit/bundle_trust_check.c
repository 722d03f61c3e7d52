/* Checking the trust members of a bundle (bundle_trust.h): earlier
 * checkpoints extended by the bundle's own (RFC 9162 §2.1.4.2), rotation
 * notes included in its tree (§2.1.3.2). */
#include "audit/bundle_trust.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/lib/number.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/base64.h"

/* --- names ----------------------------------------------------------------------------- */

static bool dec(const char *s, size_t n, uint64_t *v)
{
	return pv_parse_u64(s, n, 0, UINT64_MAX, PV_NUM_CANONICAL, v) == 0;
}

/* name = dir + "/" + sub + rest: rest, or NULL. */
static const char *after(const char *name, const char *dir, const char *sub)
{
	size_t dl = strlen(dir), sl = strlen(sub);
	if (strncmp(name, dir, dl) != 0 || name[dl] != '/' || strncmp(name + dl + 1, sub, sl) != 0)
		return NULL;
	return name + dl + 1 + sl;
}

bool bundle_trust_anchor_name(const char *name, const char *dir, uint64_t *a_r)
{
	const char *p = after(name, dir, "checkpoints/");
	return p != NULL && dec(p, strlen(p), a_r);
}

bool bundle_trust_consistency_name(const char *name, const char *dir, uint64_t *a_r,
				   uint64_t *n_r)
{
	const char *p = after(name, dir, "consistency/"), *dash = p ? strchr(p, '-') : NULL;
	return dash != NULL && dec(p, (size_t)(dash - p), a_r) && dec(dash + 1, strlen(dash + 1), n_r);
}

bool bundle_trust_rotation_name(const char *name, const char *dir, uint64_t *i_r, bool *proof_r)
{
	const char *p = after(name, dir, "rotations/");
	if (p == NULL)
		return false;
	size_t n = strlen(p);
	bool proof = n > 6 && strcmp(p + n - 6, ".proof") == 0;
	if (proof_r != NULL)
		*proof_r = proof;
	return dec(p, proof ? n - 6 : n, i_r);
}

bool bundle_trust_chain_name(const char *name, const char *prefix, uint64_t *e_r)
{
	const char *p = after(name, prefix, "");
	return p != NULL && dec(p, strlen(p), e_r) && *e_r > 0;
}

/* --- proofs ---------------------------------------------------------------------------- */

int bundle_trust_read_proof(const struct bundle *b, const char *name, merkle_hash *hashes,
			    size_t *n_r)
{
	const struct bundle_file *f = bundle_find(b, name);
	*n_r = 0;
	if (f == NULL || f->data == NULL)
		return PV_ENOTFOUND;
	const char *p = (const char *)f->data, *end = p + f->size;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t hl;
		if (eol == NULL || *n_r >= PV_PROOF_HASHES_MAX ||
		    pv_b64_decode(p, (size_t)(eol - p), hashes[*n_r], MERKLE_HASH_LEN, &hl) != 0 ||
		    hl != MERKLE_HASH_LEN)
			return PV_EINTEGRITY;
		(*n_r)++;
		p = eol + 1;
	}
	return 0;
}

bool bundle_trust_check_logged(const struct bundle *b, struct bundle_report *rep,
			       const char *dir, uint64_t i, const struct checkpoint *fin)
{
	merkle_hash proof[PV_PROOF_HASHES_MAX], leaf;
	struct pv_error e;
	char name[96], pname[104];
	size_t len;
	snprintf(name, sizeof(name), "%s/rotations/%llu", dir, (unsigned long long)i);
	snprintf(pname, sizeof(pname), "%s.proof", name);
	const struct bundle_file *f = bundle_find(b, name);
	if (f == NULL || f->data == NULL || bundle_trust_read_proof(b, pname, proof, &len) != 0) {
		bundle_problem(rep, "%s is missing or malformed", f == NULL ? name : pname);
		return false;
	}
	merkle_leaf_hash(f->data, f->size, leaf);
	if (merkle_verify_inclusion(i, fin->size, leaf, proof, len, fin->root, &e) != 0) {
		bundle_problem(rep, "%s is not the log's leaf %llu (%s)", name, (unsigned long long)i,
			       e.msg);
		return false;
	}
	return true;
}

/* --- earlier checkpoints ------------------------------------------------------------------ */

int bundle_trust_extends(const struct bundle *b, struct bundle_report *rep, const char *dir,
			 const struct checkpoint *fin, const struct checkpoint *cp, const char *what,
			 bundle_trust_direct_fn direct, void *ctx)
{
	merkle_hash proof[PV_PROOF_HASHES_MAX], empty;
	struct pv_error e;
	char name[96];
	size_t len;
	if (strcmp(cp->origin, fin->origin) != 0) {
		bundle_problem(rep, "%s is for log %s, not %s", what, cp->origin, fin->origin);
		return 0;
	}
	if (cp->size > fin->size) {
		bundle_problem(rep, "%s has %llu leaves, more than this bundle's %llu: the bundle is "
				    "older, or the log was rolled back",
			       what, (unsigned long long)cp->size, (unsigned long long)fin->size);
		return 0;
	}
	if (cp->size == 0) {
		merkle_empty_root(empty);
		if (sodium_memcmp(cp->root, empty, MERKLE_HASH_LEN) == 0)
			return BUNDLE_TRUST_SHOWN;
		bundle_problem(rep, "%s: an empty tree with a non-empty root", what);
		return 0;
	}
	if (cp->size == fin->size) {
		if (sodium_memcmp(cp->root, fin->root, MERKLE_HASH_LEN) == 0)
			return BUNDLE_TRUST_SHOWN;
		bundle_problem(rep, "%s has the bundle's size but another root: the log was forked "
				    "or rewritten", what);
		return 0;
	}
	bool d = direct != NULL && direct(ctx, cp, what);
	snprintf(name, sizeof(name), "%s/consistency/%llu-%llu", dir, (unsigned long long)cp->size,
		 (unsigned long long)fin->size);
	int r = bundle_trust_read_proof(b, name, proof, &len);
	if (r == PV_ENOTFOUND && d)
		return BUNDLE_TRUST_DIRECT;
	if (r == PV_ENOTFOUND) {
		bundle_problem(rep, "%s (size %llu) cannot be tied to this bundle: it carries no %s",
			       what, (unsigned long long)cp->size, name);
		return 0;
	}
	if (r < 0) {
		bundle_problem(rep, "%s is malformed", name);
		return 0;
	}
	if (merkle_verify_consistency(cp->size, fin->size, proof, len, cp->root, fin->root, &e) != 0) {
		bundle_problem(rep, "%s: %s does not hold, the final tree does not extend it: the log "
				    "was rewritten (%s)", what, name, e.msg);
		return 0;
	}
	return BUNDLE_TRUST_SHOWN;
}

static void check_anchor(const struct bundle *b, struct bundle_keys *k, struct bundle_report *rep,
			 const char *dir, const struct checkpoint *fin, const struct bundle_file *f,
			 uint64_t a, bundle_trust_direct_fn direct, void *ctx)
{
	struct checkpoint cp;
	struct pv_error e;
	int r = f->data == NULL ? pv_fail(&e, PV_ELIMIT, "too big")
				: bundle_keys_open_checkpoint(k, f->data, f->size, &cp, &e);
	if (r < 0) {
		bundle_problem(rep, "%s is not a checkpoint (%s)", f->name, e.msg);
		return;
	}
	if (r == 0)
		bundle_problem(rep, "%s is not a checkpoint signed by a key trusted at size %llu (%s)",
			       f->name, (unsigned long long)cp.size, e.msg);
	if (cp.size != a || strcmp(cp.origin, fin->origin) != 0) {
		bundle_problem(rep, "%s is a checkpoint of %s at %llu", f->name, cp.origin,
			       (unsigned long long)cp.size);
		return;
	}
	if (bundle_trust_extends(b, rep, dir, fin, &cp, f->name, direct, ctx) == BUNDLE_TRUST_SHOWN)
		bundle_info(rep, "ok: %s (size %llu) is extended by the final tree", f->name,
			    (unsigned long long)cp.size);
}

void bundle_trust_check_anchors(const struct bundle *b, struct bundle_keys *k,
				struct bundle_report *rep, const char *dir,
				const struct checkpoint *fin, bundle_trust_direct_fn direct,
				void *ctx)
{
	char anchor[96];
	for (size_t i = 0; i < bundle_count(b); i++) {
		const struct bundle_file *f = bundle_file_at(b, i);
		uint64_t a, n;
		if (bundle_trust_consistency_name(f->name, dir, &a, &n)) {
			snprintf(anchor, sizeof(anchor), "%s/checkpoints/%llu", dir, (unsigned long long)a);
			if (n != fin->size || bundle_find(b, anchor) == NULL)
				bundle_problem(rep, "%s belongs to no checkpoint of this bundle", f->name);
		} else if (bundle_trust_anchor_name(f->name, dir, &a)) {
			check_anchor(b, k, rep, dir, fin, f, a, direct, ctx);
		}
	}
}
