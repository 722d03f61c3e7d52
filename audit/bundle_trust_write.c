/* Writing the trust members of a bundle (bundle_trust.h). */
#include "audit/bundle_trust.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/number.h"
#include "archiver/lib/limits.h"
#include "audit/auditlog.h"
#include "audit/checkpoint.h"

#define B64_HASH_LEN sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL)

/* --- anchors ----------------------------------------------------------------------- */

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static size_t sort_unique(uint64_t *v, size_t n)
{
	size_t u = 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < n; i++)
		if (u == 0 || v[u - 1] != v[i])
			v[u++] = v[i];
	return u;
}

/* The archive size an eDiscovery export's event names ("archive-size=N"). */
static bool archive_size_of(const struct audit_entry *e, uint64_t *size_r)
{
	const char *p = strstr(e->object, "archive-size=");
	if (p == NULL || (p != e->object && p[-1] != ' '))
		return false;
	p += strlen("archive-size=");
	return pv_parse_u64(p, strcspn(p, " "), 0, UINT64_MAX, PV_NUM_CANONICAL, size_r) == 0;
}

static int export_events(struct tlog *audit, uint64_t before, unsigned flags,
			 struct bundle_anchors *a, struct pv_error *err)
{
	const char *types[2];
	size_t ntypes = 0, n = 0;
	uint64_t *seqs = calloc(PV_BUNDLE_ANCHORS_MAX, sizeof(*seqs));
	struct pv_buf leaf;
	struct audit_entry e;
	int r;

	if (flags & BUNDLE_ANCHOR_AUDIT_EXPORTS)
		types[ntypes++] = AUDIT_AUDIT_EXPORT;
	if (flags & BUNDLE_ANCHOR_EXPORTS)
		types[ntypes++] = AUDIT_EXPORT;
	if (seqs == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (ntypes == 0) {
		free(seqs);
		return 0;
	}
	r = auditlog_seqs_of_types(audit, types, ntypes, before, PV_BUNDLE_ANCHORS_MAX, seqs, &n, err);
	pv_buf_init(&leaf, PV_TLOG_ENTRY_MAX);
	for (size_t i = 0; r == 0 && i < n; i++) {
		uint64_t s = seqs[i], size;
		a->audit[a->n_audit++] = s + 1;
		if (!(flags & BUNDLE_ANCHOR_EXPORTS))
			continue;
		pv_buf_reset(&leaf);
		if ((r = tlog_leaf(audit, s, &leaf, err)) == 0 &&
		    (r = auditlog_leaf_parse(leaf.data, leaf.len, s, &e, err)) == 0 &&
		    archive_size_of(&e, &size) && size > 0)
			a->archive[a->n_archive++] = size;
	}
	pv_buf_free(&leaf);
	free(seqs);
	return r;
}

int bundle_anchors_find(struct tlog *audit, uint64_t before, unsigned flags, uint64_t also,
			struct bundle_anchors *a, struct pv_error *err)
{
	int r;
	memset(a, 0, sizeof(*a));
	a->audit = calloc(PV_BUNDLE_ANCHORS_MAX + 1, sizeof(*a->audit));
	a->archive = calloc(PV_BUNDLE_ANCHORS_MAX, sizeof(*a->archive));
	if (a->audit == NULL || a->archive == NULL) {
		bundle_anchors_free(a);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	if (also != UINT64_MAX)
		a->audit[a->n_audit++] = also;
	if ((r = export_events(audit, before, flags, a, err)) < 0) {
		bundle_anchors_free(a);
		return r;
	}
	a->n_audit = sort_unique(a->audit, a->n_audit);
	a->n_archive = sort_unique(a->archive, a->n_archive);
	return 0;
}

int bundle_anchors_add(struct bundle_anchors *a, bool audit, const uint64_t *sizes, size_t n,
		       struct pv_error *err)
{
	uint64_t **v = audit ? &a->audit : &a->archive;
	size_t *nv = audit ? &a->n_audit : &a->n_archive;
	if (n == 0)
		return 0;
	uint64_t *grown = realloc(*v, (*nv + n) * sizeof(**v));
	if (grown == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	memcpy(grown + *nv, sizes, n * sizeof(*sizes));
	*v = grown;
	*nv = sort_unique(grown, *nv + n);
	return 0;
}

void bundle_anchors_free(struct bundle_anchors *a)
{
	free(a->audit);
	free(a->archive);
	memset(a, 0, sizeof(*a));
}

int bundle_trust_add_proof(struct bundle_writer *w, const char *name, const merkle_hash *hashes,
			   size_t n, struct pv_error *err)
{
	char b64[B64_HASH_LEN];
	struct pv_buf text;
	int r = 0;
	pv_buf_init(&text, PV_PROOF_HASHES_MAX * sizeof(b64));
	for (size_t i = 0; i < n && r == 0; i++) {
		sodium_bin2base64(b64, sizeof(b64), hashes[i], MERKLE_HASH_LEN,
				  sodium_base64_VARIANT_ORIGINAL);
		r = pv_buf_printf(&text, err, "%s\n", b64);
	}
	if (r == 0)
		r = bundle_add(w, name, text.data ? text.data : (const uint8_t *)"", text.len, err);
	pv_buf_free(&text);
	return r;
}

/* <dir>/checkpoints/<a>, and the proof that the tree of `size` extends it. */
static int add_anchor(struct bundle_writer *w, struct tlog *t, const char *dir, uint64_t a,
		      uint64_t size, struct pv_error *err)
{
	struct tlog_checkpoint_row row;
	merkle_hash proof[PV_PROOF_HASHES_MAX];
	char name[96];
	size_t len;
	int r;
	tlog_checkpoint_row_init(&row);
	r = tlog_checkpoint_at_most(t, a, &row, err);
	if (r == 0 && row.size == a) { /* else an export whose checkpoint was never signed */
		snprintf(name, sizeof(name), "%s/checkpoints/%llu", dir, (unsigned long long)a);
		r = bundle_add(w, name, row.note.data, row.note.len, err);
		if (r == 0 && a > 0 && a < size &&
		    (r = tlog_consistency_proof(t, a, size, proof, &len, err)) == 0) {
			snprintf(name, sizeof(name), "%s/consistency/%llu-%llu", dir,
				 (unsigned long long)a, (unsigned long long)size);
			r = bundle_trust_add_proof(w, name, proof, len, err);
		}
	}
	tlog_checkpoint_row_free(&row);
	return r == PV_ENOTFOUND ? 0 : r;
}

int bundle_trust_add_anchors(struct bundle_writer *w, struct tlog *t, const char *dir,
			     const uint64_t *sizes, size_t n, uint64_t size, struct pv_error *err)
{
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		if (sizes[i] <= size)
			r = add_anchor(w, t, dir, sizes[i], size, err);
	return r;
}

/* --- keys ------------------------------------------------------------------------- */

typedef int (*epoch_fn)(void *ctx, const struct tlog_epoch_row *ep, struct pv_error *err);

/* fn for each epoch of log t from `first` on, in order. */
static int each_epoch(struct tlog *t, uint32_t first, epoch_fn fn, void *ctx,
		      struct pv_error *err)
{
	struct tlog_epoch_row ep;
	int r;
	tlog_epoch_row_init(&ep);
	if ((r = tlog_epoch_get(t, UINT32_MAX, &ep, err)) == 0) {
		uint32_t last = ep.epoch;
		for (uint32_t e = first; e <= last && r == 0; e++)
			if ((r = tlog_epoch_get(t, e, &ep, err)) == 0)
				r = fn(ctx, &ep, err);
	}
	tlog_epoch_row_free(&ep);
	return r;
}

struct rotations {
	struct bundle_writer *w;
	const char *prefix; /* of the chain, or the dir of the logged notes */
	struct tlog *record;
	uint64_t size;
};

static int chain_note(void *ctx, const struct tlog_epoch_row *ep, struct pv_error *err)
{
	const struct rotations *c = ctx;
	char name[96];
	snprintf(name, sizeof(name), "%s/%u", c->prefix, ep->epoch);
	return bundle_add(c->w, name, ep->note.data ? ep->note.data : (const uint8_t *)"",
			  ep->note.len, err);
}

int bundle_trust_add_rotation_chain(struct bundle_writer *w, struct tlog *t, const char *prefix,
				    struct pv_error *err)
{
	struct rotations c = {w, prefix, NULL, 0};
	return each_epoch(t, 1, chain_note, &c, err);
}

static int logged_note(void *ctx, const struct tlog_epoch_row *ep, struct pv_error *err)
{
	const struct rotations *c = ctx;
	merkle_hash proof[PV_PROOF_HASHES_MAX];
	char name[96];
	size_t len;
	int r;
	if (strcmp(ep->record_log, tlog_name(c->record)) != 0 || ep->record_index >= c->size)
		return 0;
	snprintf(name, sizeof(name), "%s/rotations/%llu", c->prefix,
		 (unsigned long long)ep->record_index);
	if ((r = bundle_add(c->w, name, ep->note.data, ep->note.len, err)) < 0 ||
	    (r = tlog_inclusion_proof(c->record, ep->record_index, c->size, proof, &len, err)) < 0)
		return r;
	snprintf(name, sizeof(name), "%s/rotations/%llu.proof", c->prefix,
		 (unsigned long long)ep->record_index);
	return bundle_trust_add_proof(c->w, name, proof, len, err);
}

int bundle_trust_add_logged_rotations(struct bundle_writer *w, struct tlog *t,
				      struct tlog *record, const char *dir, uint64_t size,
				      struct pv_error *err)
{
	struct rotations c = {w, dir, record, size};
	return each_epoch(t, 1, logged_note, &c, err);
}

static int vkey_line(void *ctx, const struct tlog_epoch_row *ep, struct pv_error *err)
{
	return pv_buf_printf(ctx, err, "%s\n", ep->vkey);
}

int bundle_trust_vkeys(struct tlog *t, struct pv_buf *out, struct pv_error *err)
{
	return each_epoch(t, 0, vkey_line, out, err);
}
