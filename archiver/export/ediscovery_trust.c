/* eDiscovery verifier: the keys a rotation note introduces, and the
 * checkpoints of earlier exports and the caller's own, each shown to be
 * extended by this bundle's logs (RFC 9162 §2.1.4.2). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/export/ediscovery_int.h"
#include "archiver/lib/base64.h"
#include "archiver/lib/buf.h"
#include "audit/keys.h"
#include "audit/merkle.h"

/* --- earlier checkpoints ------------------------------------------------------------- */

static int read_consistency(struct vst *v, const char *name, merkle_hash *proof, size_t *n)
{
	const struct bundle_file *f = bundle_find(v->b, name);
	*n = 0;
	if (f == NULL || f->data == NULL)
		return -1;
	const char *p = (const char *)f->data, *end = p + f->size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t hl;
		if (nl == NULL || *n >= PV_PROOF_HASHES_MAX ||
		    pv_b64_decode(p, (size_t)(nl - p), proof[*n], MERKLE_HASH_LEN, &hl) != 0 ||
		    hl != MERKLE_HASH_LEN)
			return -1;
		(*n)++;
		p = nl + 1;
	}
	return 0;
}

/* Does the bundle's checkpoint `fin` (of log dir) extend (size, root)? */
static bool extends(struct vst *v, const char *dir, const struct checkpoint *fin, uint64_t size,
		    const merkle_hash root, const char *what)
{
	merkle_hash proof[PV_PROOF_HASHES_MAX];
	struct pv_error e;
	char name[96];
	size_t n;
	if (size > fin->size) {
		bundle_problem(v->rep, "%s has %llu leaves, more than this bundle's %s/checkpoint "
				       "(%llu): the log was rolled back, or this bundle is older",
			       what, (unsigned long long)size, dir, (unsigned long long)fin->size);
		return false;
	}
	if (size == fin->size) {
		if (sodium_memcmp(root, fin->root, MERKLE_HASH_LEN) == 0)
			return true;
		bundle_problem(v->rep, "%s has the size of %s/checkpoint but another root: the log "
				       "was rewritten", what, dir);
		return false;
	}
	if (size == 0)
		return true;
	snprintf(name, sizeof(name), "%s/consistency/%llu-%llu", dir, (unsigned long long)size,
		 (unsigned long long)fin->size);
	if (read_consistency(v, name, proof, &n) != 0) {
		bundle_problem(v->rep, "%s: no usable %s in the bundle to show the log only grew since",
			       what, name);
		return false;
	}
	if (merkle_verify_consistency(size, fin->size, proof, n, root, fin->root, &e) != 0) {
		bundle_problem(v->rep, "%s: %s does not hold: the log was rewritten (%s)", what, name,
			       e.msg);
		return false;
	}
	return true;
}

void edv_check_anchors(struct vst *v, const char *dir, const struct checkpoint *fin, int state)
{
	char what[96];
	for (size_t i = 0; i < bundle_count(v->b) && state >= 0; i++) {
		const struct bundle_file *f = bundle_file_at(v->b, i);
		struct checkpoint cp;
		uint64_t a, n;
		if (edv_consistency_name(f->name, dir, &a, &n)) {
			snprintf(what, sizeof(what), "%s/checkpoints/%llu", dir, (unsigned long long)a);
			if (n != fin->size || bundle_find(v->b, what) == NULL)
				bundle_problem(v->rep, "%s belongs to no checkpoint of this bundle", f->name);
			continue;
		}
		if (!edv_anchor_name(f->name, dir, &a))
			continue;
		if (edv_open_cp(v, f->name, f, &cp) < 0) {
			bundle_problem(v->rep, "%s is not a checkpoint", f->name);
			continue;
		}
		if (strcmp(cp.origin, fin->origin) != 0 || cp.size != a)
			bundle_problem(v->rep, "%s is a checkpoint of %s at %llu", f->name, cp.origin,
				       (unsigned long long)cp.size);
		else
			(void)extends(v, dir, fin, cp.size, cp.root, f->name);
	}
}

void edv_check_last(struct vst *v, const char *last, size_t len)
{
	struct checkpoint cp;
	struct pv_error e;
	if (checkpoint_open(last, len, v->keys, v->nkeys, &cp, &e) != 0) {
		bundle_problem(v->rep, "--last-checkpoint is not a checkpoint signed by a trusted key "
				       "(%s)", e.msg);
		return;
	}
	if (v->acp_state >= 0 && strcmp(cp.origin, v->acp.origin) == 0) {
		if (extends(v, "archive", &v->acp, cp.size, cp.root, "--last-checkpoint"))
			bundle_info(v->rep, "ok: the archive log extends your last checkpoint (%llu -> "
					    "%llu leaves)", (unsigned long long)cp.size,
				    (unsigned long long)v->acp.size);
	} else if (v->aucp_state >= 0 && strcmp(cp.origin, v->aucp.origin) == 0) {
		if (extends(v, "audit", &v->aucp, cp.size, cp.root, "--last-checkpoint"))
			bundle_info(v->rep, "ok: the audit log extends your last checkpoint (%llu -> "
					    "%llu leaves)", (unsigned long long)cp.size,
				    (unsigned long long)v->aucp.size);
	} else {
		bundle_problem(v->rep, "--last-checkpoint is of log %s, neither of this bundle's logs",
			       cp.origin);
	}
}

/* --- key rotations ------------------------------------------------------------------- */

/* Extends the trusted keys along the rotation notes of log dir: a note
 * signed by a trusted key of the log, naming that key as the old one,
 * makes the new one trusted (integrity.md §3: the old key signs its
 * successor). keys has room for cap entries. */
void edv_follow_rotations(struct vst *v, const char *dir, struct note_verifier *keys,
			     size_t *n, size_t cap)
{
	bool *verified = calloc(cap ? cap : 1, sizeof(*verified));
	for (uint64_t e = 1; verified != NULL && e <= UINT32_MAX; e++) {
		char name[64], vk[NOTE_VKEY_MAX + 1];
		struct pv_error err;
		struct keys_rotation rot;
		struct note_verifier nv;
		struct pv_buf sv;
		size_t text_len, signer = SIZE_MAX;
		snprintf(name, sizeof(name), "rotations/%s/%llu", dir, (unsigned long long)e);
		const struct bundle_file *f = bundle_find(v->b, name);
		if (f == NULL)
			break;
		if (f->data == NULL ||
		    note_open((const char *)f->data, f->size, keys, *n, &text_len, verified, &err) != 0) {
			bundle_warn(v->rep, "%s is not signed by a key you gave: the key it introduces "
					    "is not trusted from it", name);
			continue;
		}
		for (size_t i = 0; i < *n && signer == SIZE_MAX; i++)
			if (verified[i])
				signer = i;
		pv_buf_init(&sv, NOTE_VKEY_MAX + 1);
		int bad = keys_rotation_parse((const char *)f->data, text_len, &rot, &err) != 0 ||
			  note_verifier_format(&keys[signer], &sv, &err) != 0 ||
			  strcmp(pv_buf_str(&sv), rot.old_vkey) != 0 ||
			  strcmp(rot.origin, keys[signer].name) != 0 ||
			  note_verifier_parse(rot.new_vkey, strlen(rot.new_vkey), &nv, &err) != 0 ||
			  strcmp(nv.name, rot.origin) != 0;
		pv_buf_free(&sv);
		if (bad) {
			bundle_problem(v->rep, "%s is not a rotation from the key that signed it", name);
			continue;
		}
		bool have = false;
		for (size_t i = 0; i < *n; i++)
			have |= keys[i].id == nv.id && strcmp(keys[i].name, nv.name) == 0 &&
				memcmp(keys[i].pk, nv.pk, 32) == 0;
		if (!have && *n < cap)
			keys[(*n)++] = nv;
		snprintf(vk, sizeof(vk), "%s", rot.new_vkey);
		bundle_info(v->rep, "ok: %s: %s is the next key of %s, signed by the one before", name,
			    vk, rot.origin);
	}
	free(verified);
}

