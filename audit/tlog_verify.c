#include "audit/tlog_verify.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/checkpoint.h"
#include "audit/keys.h"
#include "audit/note.h"

#define TILE_H 8
#define TILE_W 256u
#define TILE_LEVELS 8

/* A tree (size, root) that something signed; checked against the leaves. */
struct claim {
	uint64_t size;
	merkle_hash root;
	char what[64];
};

struct vstate {
	struct tlog *t;
	uint64_t size; /* recorded log size */
	struct claim *claims;
	size_t n_claims, cap_claims, next_claim;
	struct note_verifier *keys; /* per epoch */
	uint64_t *first_seq;        /* per epoch */
	uint32_t n_epochs;
	/* streaming */
	struct merkle_acc acc;
	uint64_t next_leaf;
	struct {
		uint64_t index;
		size_t width;
		int loaded;
		merkle_hash h[TILE_W];
	} tiles[TILE_LEVELS];
	struct pv_buf tmp;
	struct pv_error *err;
};

static int add_claim(struct vstate *v, uint64_t size, const merkle_hash root, const char *kind,
		     unsigned long long num)
{
	if (v->n_claims == v->cap_claims) {
		size_t cap = v->cap_claims ? v->cap_claims * 2 : 64;
		struct claim *c = realloc(v->claims, cap * sizeof(*c));
		if (c == NULL)
			return pv_fail(v->err, PV_ERR, "out of memory");
		v->claims = c;
		v->cap_claims = cap;
	}
	struct claim *c = &v->claims[v->n_claims++];
	c->size = size;
	memcpy(c->root, root, MERKLE_HASH_LEN);
	snprintf(c->what, sizeof(c->what), "%s %llu", kind, num);
	return 0;
}

static int cmp_claim(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;
	return x->size < y->size ? -1 : x->size > y->size;
}

static int vkey_equal(const char *a, const char *b)
{
	struct note_verifier va, vb;
	if (note_verifier_parse(a, strlen(a), &va, NULL) != 0 ||
	    note_verifier_parse(b, strlen(b), &vb, NULL) != 0)
		return 0;
	return strcmp(va.name, vb.name) == 0 && va.id == vb.id && memcmp(va.pk, vb.pk, 32) == 0;
}

/* --- key epochs ------------------------------------------------------------ */

static int check_rotation(struct vstate *v, const struct tlog_epoch_row *ep, struct pv_error *err)
{
	struct keys_rotation rot;
	size_t text_len;
	uint32_t k = ep->epoch;
	struct tlog *rec = NULL;
	struct pv_buf leaf;
	int r;

	if (ep->note.len == 0)
		return pv_fail(err, PV_EINTEGRITY, "key epoch %u has no rotation note", k);
	if ((r = note_open((const char *)ep->note.data, ep->note.len, &v->keys[k - 1], 1, &text_len,
			   NULL, err)) < 0 ||
	    (r = keys_rotation_parse((const char *)ep->note.data, text_len, &rot, err)) < 0) {
		pv_error_prefix(err, "rotation to key epoch %u (must be signed by epoch %u's key)", k,
				k - 1);
		return PV_EINTEGRITY;
	}
	char prev[NOTE_VKEY_MAX + 1];
	struct pv_buf pb;
	pv_buf_init(&pb, NOTE_VKEY_MAX);
	r = note_verifier_format(&v->keys[k - 1], &pb, err);
	snprintf(prev, sizeof(prev), "%s", pv_buf_str(&pb));
	pv_buf_free(&pb);
	if (r < 0)
		return r;
	if (!vkey_equal(rot.old_vkey, prev) || !vkey_equal(rot.new_vkey, ep->vkey) ||
	    strcmp(rot.origin, tlog_origin(v->t)) != 0)
		return pv_fail(err, PV_EINTEGRITY,
			       "rotation to key epoch %u names other keys or another log than "
			       "the epochs recorded",
			       k);
	if (ep->first_seq <= v->first_seq[k - 1])
		return pv_fail(err, PV_EINTEGRITY, "key epoch %u starts before epoch %u", k, k - 1);
	if ((r = add_claim(v, rot.size, rot.root, "the tree named by the rotation note of key epoch",
			   (unsigned long long)k)) < 0)
		return r;
	/* The note must really be in the log it says it was recorded in. */
	if (strcmp(ep->record_log, tlog_name(v->t)) != 0 &&
	    (r = tlog_open(tlog_db(v->t), ep->record_log, &rec, err)) < 0) {
		pv_error_prefix(err, "rotation note of epoch %u", k);
		return PV_EINTEGRITY;
	}
	pv_buf_init(&leaf, PV_TLOG_ENTRY_MAX);
	r = tlog_leaf(rec != NULL ? rec : v->t, ep->record_index, &leaf, err);
	if (r == 0 && (leaf.len != ep->note.len || memcmp(leaf.data, ep->note.data, leaf.len) != 0))
		r = pv_fail(err, PV_EINTEGRITY, "rotation note of epoch %u differs from leaf %llu of %s",
			    k, (unsigned long long)ep->record_index, ep->record_log);
	else if (r < 0)
		r = pv_fail(err, PV_EINTEGRITY, "rotation note of epoch %u: leaf %llu of %s is missing",
			    k, (unsigned long long)ep->record_index, ep->record_log);
	pv_buf_free(&leaf);
	tlog_free(&rec);
	return r;
}

static int load_epochs(struct vstate *v, const char *pinned, struct tlog_verify_report *rep,
		       struct pv_error *err)
{
	struct tlog_epoch_row ep;
	int r;

	tlog_epoch_row_init(&ep);
	if ((r = tlog_epoch_get(v->t, UINT32_MAX, &ep, err)) < 0) {
		if (r == PV_ENOTFOUND)
			r = pv_fail(err, PV_EINTEGRITY, "log %s has no key epochs", tlog_name(v->t));
		goto out;
	}
	uint32_t n = ep.epoch + 1;
	if (n > 1u << 20) {
		r = pv_fail(err, PV_EINTEGRITY, "implausible key epoch %u", ep.epoch);
		goto out;
	}
	v->keys = calloc(n, sizeof(*v->keys));
	v->first_seq = calloc(n, sizeof(*v->first_seq));
	if (v->keys == NULL || v->first_seq == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	for (uint32_t k = 0; k < n; k++) {
		if ((r = tlog_epoch_get(v->t, k, &ep, err)) < 0) {
			if (r == PV_ENOTFOUND)
				r = pv_fail(err, PV_EINTEGRITY, "key epoch %u is missing", k);
			goto out;
		}
		if ((r = note_verifier_parse(ep.vkey, strlen(ep.vkey), &v->keys[k], err)) < 0) {
			pv_error_prefix(err, "key epoch %u", k);
			goto out;
		}
		if (strcmp(v->keys[k].name, tlog_origin(v->t)) != 0) {
			r = pv_fail(err, PV_EINTEGRITY, "key epoch %u is named %s, not the origin %s", k,
				    v->keys[k].name, tlog_origin(v->t));
			goto out;
		}
		v->first_seq[k] = ep.first_seq;
		v->n_epochs = k + 1;
		if (k == 0) {
			if (ep.first_seq != 0) {
				r = pv_fail(err, PV_EINTEGRITY, "key epoch 0 does not start at checkpoint 0");
				goto out;
			}
			if (pinned != NULL) {
				if (!vkey_equal(pinned, ep.vkey)) {
					r = pv_fail(err, PV_EINTEGRITY,
						    "the log's first key %s is not the pinned key %s",
						    ep.vkey, pinned);
					goto out;
				}
				rep->pinned = true;
			}
		} else if ((r = check_rotation(v, &ep, err)) < 0) {
			goto out;
		}
	}
	rep->epochs = n;
out:
	tlog_epoch_row_free(&ep);
	return r;
}

/* --- checkpoints --------------------------------------------------------------- */

static uint32_t epoch_of(const struct vstate *v, uint64_t seq)
{
	uint32_t k = 0;
	while (k + 1 < v->n_epochs && v->first_seq[k + 1] <= seq)
		k++;
	return k;
}

static int load_checkpoints(struct vstate *v, struct tlog_verify_report *rep, uint64_t **sizes_r,
			    uint64_t *n_r, struct pv_error *err)
{
	struct tlog_checkpoint_row row;
	uint64_t count, next, prev_size = 0;
	int64_t prev_time = -1;
	int r;

	*sizes_r = NULL;
	*n_r = 0;
	if ((r = tlog_checkpoint_count(v->t, &count, &next, err)) < 0)
		return r;
	if (count == 0)
		return pv_fail(err, PV_EINTEGRITY, "log %s has no signed checkpoint", tlog_name(v->t));
	if (count != next)
		return pv_fail(err, PV_EINTEGRITY, "checkpoint rows are missing (%llu rows, seq up to %llu)",
			       (unsigned long long)count, (unsigned long long)next - 1);
	if (v->first_seq[v->n_epochs - 1] >= next)
		return pv_fail(err, PV_EINTEGRITY, "key epoch %u has no checkpoint", v->n_epochs - 1);
	uint64_t *sizes = calloc(next, sizeof(*sizes));
	if (sizes == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	tlog_checkpoint_row_init(&row);
	uint64_t n_signed = 0;
	for (uint64_t seq = 0; seq < next; seq++) {
		struct checkpoint cp;
		uint32_t k = epoch_of(v, seq);
		if ((r = tlog_checkpoint_get(v->t, seq, &row, err)) < 0) {
			if (r == PV_ENOTFOUND)
				r = pv_fail(err, PV_EINTEGRITY, "checkpoint %llu is missing",
					    (unsigned long long)seq);
			goto out;
		}
		if (row.epoch != k) {
			r = pv_fail(err, PV_EINTEGRITY,
				    "checkpoint %llu is filed under key epoch %u but falls in epoch %u",
				    (unsigned long long)seq, row.epoch, k);
			goto out;
		}
		/* Reserved, not yet signed (checkpoint.h: the signer process
		 * signs after the commit). Only the last rows may be: the
		 * seal signs them in order. Its tree is still checked. */
		if (!tlog_checkpoint_row_signed(&row)) {
			if ((r = checkpoint_parse((const char *)row.note.data, row.note.len, &cp,
						  err)) < 0 ||
			    strcmp(cp.origin, tlog_origin(v->t)) != 0 || cp.size != row.size ||
			    memcmp(cp.root, row.root, MERKLE_HASH_LEN) != 0 || cp.size < prev_size) {
				if (r == 0)
					(void)pv_fail(err, PV_EINTEGRITY, "differs from its row");
				pv_error_prefix(err, "reserved checkpoint %llu", (unsigned long long)seq);
				r = PV_EINTEGRITY;
				goto out;
			}
			if (rep->reserved++ == 0)
				rep->reserved_from = seq;
			rep->reserved_size = cp.size;
			prev_size = cp.size;
			if ((r = add_claim(v, cp.size, cp.root, "reserved checkpoint",
					   (unsigned long long)seq)) < 0)
				goto out;
			continue;
		}
		if (rep->reserved > 0) {
			r = pv_fail(err, PV_EINTEGRITY, "checkpoint %llu is signed but %llu before it is "
							"not: only the last checkpoints may wait for "
							"their signature",
				    (unsigned long long)seq, (unsigned long long)rep->reserved_from);
			goto out;
		}
		/* Only the key of its own epoch: a newer key re-signing an old
		 * epoch is exactly the forgery to refuse (CVE-2023-31439). */
		if ((r = checkpoint_open((const char *)row.note.data, row.note.len, &v->keys[k], 1, &cp,
					 err)) < 0) {
			pv_error_prefix(err, "checkpoint %llu (key epoch %u)", (unsigned long long)seq, k);
			r = PV_EINTEGRITY;
			goto out;
		}
		if (strcmp(cp.origin, tlog_origin(v->t)) != 0 || cp.size != row.size ||
		    memcmp(cp.root, row.root, MERKLE_HASH_LEN) != 0) {
			r = pv_fail(err, PV_EINTEGRITY, "checkpoint %llu: its row differs from its note",
				    (unsigned long long)seq);
			goto out;
		}
		if (cp.size < prev_size) {
			r = pv_fail(err, PV_EINTEGRITY, "checkpoint %llu: size %llu is below the earlier %llu",
				    (unsigned long long)seq, (unsigned long long)cp.size,
				    (unsigned long long)prev_size);
			goto out;
		}
		if (cp.time >= 0 && cp.time < prev_time && rep->time_steps++ == 0) {
			rep->step_seq = seq;
			rep->step_from = prev_time;
			rep->step_to = cp.time;
		}
		if ((r = add_claim(v, cp.size, cp.root, "checkpoint", (unsigned long long)seq)) < 0)
			goto out;
		sizes[seq] = cp.size;
		n_signed = seq + 1;
		prev_size = cp.size;
		if (cp.time >= 0)
			prev_time = cp.time;
		rep->latest_size = cp.size;
		rep->latest_time = cp.time;
	}
	if (n_signed == 0) {
		r = pv_fail(err, PV_EINTEGRITY, "log %s has no signed checkpoint", tlog_name(v->t));
		goto out;
	}
	rep->checkpoints = n_signed;
	*sizes_r = sizes;
	*n_r = n_signed;
	sizes = NULL;
out:
	free(sizes);
	tlog_checkpoint_row_free(&row);
	return r;
}

static int load_known(struct vstate *v, const char *const *notes, const size_t *lens, size_t n,
		      struct pv_error *err)
{
	for (size_t i = 0; i < n; i++) {
		struct checkpoint cp;
		int r = PV_EINTEGRITY;
		/* Any epoch's key may have signed it; one key at a time keeps
		 * the trusted set small however many rotations there were. */
		for (uint32_t k = v->n_epochs; k-- > 0 && r < 0;)
			r = checkpoint_open(notes[i], lens[i], &v->keys[k], 1, &cp, err);
		if (r < 0) {
			pv_error_prefix(err, "outside checkpoint %zu", i);
			return PV_EINTEGRITY;
		}
		if (strcmp(cp.origin, tlog_origin(v->t)) != 0)
			return pv_fail(err, PV_EINTEGRITY, "outside checkpoint %zu is for %s", i, cp.origin);
		if ((r = add_claim(v, cp.size, cp.root, "outside checkpoint",
				   (unsigned long long)i)) < 0)
			return r;
	}
	return 0;
}

/* --- leaves and tiles ------------------------------------------------------------- */

static int check_claims_at(struct vstate *v, uint64_t count)
{
	merkle_hash root;
	int have = 0;
	while (v->next_claim < v->n_claims && v->claims[v->next_claim].size == count) {
		struct claim *c = &v->claims[v->next_claim++];
		if (!have) {
			merkle_acc_root(&v->acc, root);
			have = 1;
		}
		if (sodium_memcmp(root, c->root, MERKLE_HASH_LEN) != 0)
			return pv_fail(v->err, PV_EINTEGRITY,
				       "%s: its root for %llu leaves differs from the one recomputed "
				       "from the stored entries",
				       c->what, (unsigned long long)count);
	}
	return 0;
}

static int on_subtree(void *ctx, unsigned level, uint64_t index, const merkle_hash hash)
{
	struct vstate *v = ctx;
	if (level % TILE_H != 0)
		return 0;
	unsigned L = level / TILE_H;
	uint64_t ti = index / TILE_W;
	size_t off = index % TILE_W;
	int r;
	if (L >= TILE_LEVELS)
		return pv_fail(v->err, PV_EINTEGRITY, "tree too deep");
	if (!v->tiles[L].loaded || v->tiles[L].index != ti) {
		uint64_t count = v->size >> (TILE_H * L);
		size_t want = ti < count / TILE_W ? TILE_W : count % TILE_W;
		pv_buf_reset(&v->tmp);
		r = tlog_tile_get(v->t, L, ti, &v->tmp, v->err);
		if (r == PV_ENOTFOUND)
			return pv_fail(v->err, PV_EINTEGRITY, "tile %u/%llu is missing", L,
				       (unsigned long long)ti);
		if (r < 0)
			return r;
		if (v->tmp.len != want * MERKLE_HASH_LEN)
			return pv_fail(v->err, PV_EINTEGRITY, "tile %u/%llu holds %zu hashes, expected %zu",
				       L, (unsigned long long)ti, v->tmp.len / MERKLE_HASH_LEN, want);
		memcpy(v->tiles[L].h, v->tmp.data, v->tmp.len);
		v->tiles[L].index = ti;
		v->tiles[L].width = want;
		v->tiles[L].loaded = 1;
	}
	if (off >= v->tiles[L].width)
		return pv_fail(v->err, PV_EINTEGRITY, "tile %u/%llu is too short", L,
			       (unsigned long long)ti);
	if (sodium_memcmp(v->tiles[L].h[off], hash, MERKLE_HASH_LEN) != 0) {
		if (L == 0)
			return pv_fail(v->err, PV_EINTEGRITY,
				       "leaf %llu: its entry does not hash to the stored leaf hash",
				       (unsigned long long)index);
		return pv_fail(v->err, PV_EINTEGRITY,
			       "tile %u/%llu: hash %zu (leaves %llu..%llu) does not match the entries",
			       L, (unsigned long long)ti, off, (unsigned long long)(index << level),
			       (unsigned long long)(((index + 1) << level) - 1));
	}
	return 0;
}

static int on_leaf(void *ctx, uint64_t index, const void *data, size_t len)
{
	struct vstate *v = ctx;
	merkle_hash h;
	int r;
	if (index >= v->size)
		return pv_fail(v->err, PV_EINTEGRITY,
			       "leaf row %llu lies beyond the log's size of %llu",
			       (unsigned long long)index, (unsigned long long)v->size);
	if (index != v->next_leaf)
		return pv_fail(v->err, PV_EINTEGRITY, "leaf %llu is missing",
			       (unsigned long long)v->next_leaf);
	merkle_leaf_hash(data, len, h);
	if ((r = merkle_acc_push(&v->acc, h, on_subtree, v)) != 0)
		return r;
	v->next_leaf++;
	return check_claims_at(v, v->next_leaf);
}

static int check_tiles_count(struct vstate *v, struct pv_error *err)
{
	for (unsigned L = 0; L < TILE_LEVELS; L++) {
		uint64_t count = v->size >> (TILE_H * L), have;
		uint64_t want = (count + TILE_W - 1) / TILE_W;
		int r = tlog_tile_count(v->t, L, &have, err);
		if (r < 0)
			return r;
		if (have != want)
			return pv_fail(err, PV_EINTEGRITY, "tile level %u has %llu tiles, expected %llu", L,
				       (unsigned long long)have, (unsigned long long)want);
	}
	return 0;
}

int tlog_verify(struct tlog *t, const char *pinned_vkey, const char *const *known_notes,
		const size_t *known_lens, size_t n_known, struct tlog_verify_report *rep,
		struct pv_error *err)
{
	struct vstate *v = calloc(1, sizeof(*v));
	uint64_t *sizes = NULL, n_cp = 0;
	int r;

	memset(rep, 0, sizeof(*rep));
	rep->latest_time = -1;
	if (v == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	v->t = t;
	v->err = err;
	pv_buf_init(&v->tmp, TILE_W * MERKLE_HASH_LEN);
	merkle_acc_init(&v->acc);
	if ((r = tlog_size(t, &v->size, err)) < 0 || (r = load_epochs(v, pinned_vkey, rep, err)) < 0 ||
	    (r = load_checkpoints(v, rep, &sizes, &n_cp, err)) < 0 ||
	    (r = load_known(v, known_notes, known_lens, n_known, err)) < 0)
		goto out;

	if (v->n_claims > 1) /* qsort must not see the NULL of an empty list */
		qsort(v->claims, v->n_claims, sizeof(*v->claims), cmp_claim);
	for (size_t i = 0; i < v->n_claims; i++)
		if (v->claims[i].size > v->size) {
			r = pv_fail(err, PV_EINTEGRITY,
				    "%s covers %llu leaves but the log has only %llu: it was truncated",
				    v->claims[i].what, (unsigned long long)v->claims[i].size,
				    (unsigned long long)v->size);
			goto out;
		}
	if ((r = check_claims_at(v, 0)) != 0)
		goto out;
	if ((r = tlog_leaf_scan(t, 0, on_leaf, v, err)) != 0)
		goto out;
	if (v->next_leaf != v->size) {
		r = pv_fail(err, PV_EINTEGRITY, "leaf %llu is missing (the log records %llu leaves)",
			    (unsigned long long)v->next_leaf, (unsigned long long)v->size);
		goto out;
	}
	if ((r = check_tiles_count(v, err)) < 0)
		goto out;

	/* Consecutive checkpoints, checked as a client would: RFC 9162
	 * consistency proofs from the (now verified) stored tiles. */
	for (uint64_t i = 1; i < n_cp; i++) {
		merkle_hash proof[PV_PROOF_HASHES_MAX], r1, r2;
		size_t n;
		if (sizes[i - 1] == 0)
			continue;
		if ((r = tlog_root(t, sizes[i - 1], r1, err)) < 0 ||
		    (r = tlog_root(t, sizes[i], r2, err)) < 0 ||
		    (r = tlog_consistency_proof(t, sizes[i - 1], sizes[i], proof, &n, err)) < 0)
			goto out;
		if ((r = merkle_verify_consistency(sizes[i - 1], sizes[i], proof, n, r1, r2, err)) < 0) {
			pv_error_prefix(err, "checkpoints %llu and %llu", (unsigned long long)i - 1,
					(unsigned long long)i);
			goto out;
		}
	}
	rep->size = v->size;
	rep->known = n_known;
	merkle_acc_root(&v->acc, rep->root);
	r = 0;
out:
	if (r > 0)
		r = PV_ERR;
	free(sizes);
	free(v->claims);
	free(v->keys);
	free(v->first_seq);
	pv_buf_free(&v->tmp);
	free(v);
	return r;
}
