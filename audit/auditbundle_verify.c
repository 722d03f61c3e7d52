/* Verifying audit bundles offline (layout in auditbundle.h). Every check
 * reports what it found and goes on, so one run names every problem. */
#include "audit/auditbundle.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/base64.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/number.h"
#include "audit/auditlog.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"
#include "audit/merkle.h"

/* Mismatching lines listed per member before only counting them. */
#define LINES_SHOWN 5
#define GAPS_SHOWN 20

/* A tree size whose root the stream of leaves must reproduce. */
struct direct {
	uint64_t size;
	merkle_hash root;
	char what[160];
};

/* A key the verifier trusts, for checkpoints of sizes [from, to]: the
 * --vkey keys for every size until a logged rotation retires them, keys
 * introduced by a rotation note (signed by a trusted key) from then on. */
#define TRUST_MAX PV_NOTE_SIGNATURES_MAX
struct trusted {
	struct note_verifier v;
	uint64_t from, to;
};

struct rotation {
	uint64_t idx;
	merkle_hash leaf;
};

struct vstate {
	struct bundle *b;
	struct trusted trust[TRUST_MAX];
	size_t n_trust;
	struct note_verifier keys[TRUST_MAX]; /* scratch: the keys valid at one size */
	size_t nkeys;
	struct rotation *rot;
	size_t n_rot;
	struct bundle_report *rep;
	struct pv_error *err;
	struct checkpoint fin;
	bool have_fin;    /* parsed (signature checked or not) */
	bool tree_ok;     /* tree-proof parsed and consistent with fin */
	uint64_t lo, hi;  /* from the tree proof */
	merkle_hash left[PV_PROOF_HASHES_MAX], right[2 * PV_PROOF_HASHES_MAX];
	unsigned left_lvl[PV_PROOF_HASHES_MAX];
	unsigned right_lvl[2 * PV_PROOF_HASHES_MAX];
	size_t n_left, n_right;
	struct direct *direct;
	size_t n_direct;
	uint64_t shown_json, shown_csv, bad_json, bad_csv;
};

/* --- small parsers ------------------------------------------------------------ */

static int parse_dec(const char *s, size_t n, uint64_t *v)
{
	return pv_parse_u64(s, n, 0, UINT64_MAX, PV_NUM_CANONICAL, v);
}

/* Opens a checkpoint note with the trusted keys; when that fails, reports
 * why and still parses the body unverified (so the structural checks can
 * go on). Returns 1 when verified, 0 when parsed unverified, -1 when not
 * even parseable. */
/* Fills v->keys with the keys trusted for a tree of `size`. */
static void keys_at(struct vstate *v, uint64_t size)
{
	v->nkeys = 0;
	for (size_t i = 0; i < v->n_trust; i++)
		if (size >= v->trust[i].from && size <= v->trust[i].to)
			v->keys[v->nkeys++] = v->trust[i].v;
}

static int open_cp(struct vstate *v, const char *what, const uint8_t *note, size_t len,
		   struct checkpoint *cp)
{
	struct pv_error e;
	size_t text_len, nsigs;
	/* The size first (unverified), to pick the keys of its epoch. */
	if (note_split((const char *)note, len, &text_len, &nsigs, &e) != 0 ||
	    checkpoint_parse((const char *)note, text_len, cp, &e) != 0) {
		bundle_problem(v->rep, "%s is not a checkpoint (%s)", what, e.msg);
		return -1;
	}
	keys_at(v, cp->size);
	struct checkpoint ok;
	if (checkpoint_open((const char *)note, len, v->keys, v->nkeys, &ok, &e) == 0) {
		*cp = ok;
		return 1;
	}
	bundle_problem(v->rep, "%s is not a checkpoint signed by a key trusted at size %llu (%s)",
		       what, (unsigned long long)cp->size, e.msg);
	return 0;
}

static void add_direct(struct vstate *v, uint64_t size, const merkle_hash root, const char *what)
{
	struct direct *d = realloc(v->direct, (v->n_direct + 1) * sizeof(*d));
	if (d == NULL)
		return;
	v->direct = d;
	d += v->n_direct++;
	d->size = size;
	memcpy(d->root, root, MERKLE_HASH_LEN);
	snprintf(d->what, sizeof(d->what), "%s", what);
}

/* --- members --------------------------------------------------------------------- */

static const char *const known_members[] = {
	"BUNDLE", "VERIFY.md", "MANIFEST.sha256", "MANIFEST.note", "trust/vkeys",
	"audit/checkpoint", "audit/tree-proof", "audit/leaves", "audit/entries.jsonl",
	"audit/entries.csv", "audit/personal.jsonl",
};
static const char *const required_members[] = {
	"BUNDLE", "VERIFY.md", "audit/checkpoint", "audit/tree-proof", "audit/leaves",
	"audit/entries.jsonl", "audit/entries.csv",
};

/* "audit/consistency/A-B" -> (A, B). */
static bool consistency_name(const char *name, uint64_t *a, uint64_t *b)
{
	if (strncmp(name, "audit/consistency/", 18) != 0)
		return false;
	const char *p = name + 18, *dash = strchr(p, '-');
	return dash != NULL &&
	       parse_dec(p, (size_t)(dash - p), a) == 0 &&
	       parse_dec(dash + 1, strlen(dash + 1), b) == 0;
}

/* "audit/rotations/IDX" (the note) or "audit/rotations/IDX.proof". */
static bool rotation_name(const char *name, uint64_t *idx, bool *proof_r)
{
	if (strncmp(name, "audit/rotations/", 16) != 0)
		return false;
	const char *p = name + 16;
	size_t n = strlen(p);
	bool proof = n > 6 && strcmp(p + n - 6, ".proof") == 0;
	if (proof_r != NULL)
		*proof_r = proof;
	return parse_dec(p, proof ? n - 6 : n, idx) == 0;
}

static bool anchor_name(const char *name, uint64_t *a)
{
	return strncmp(name, "audit/checkpoints/", 18) == 0 &&
	       parse_dec(name + 18, strlen(name + 18), a) == 0;
}

static void check_inventory(struct vstate *v)
{
	for (size_t i = 0; i < sizeof(required_members) / sizeof(*required_members); i++)
		if (bundle_find(v->b, required_members[i]) == NULL)
			bundle_problem(v->rep, "%s is missing from the bundle", required_members[i]);
	for (size_t i = 0; i < bundle_count(v->b); i++) {
		const char *name = bundle_file_at(v->b, i)->name;
		uint64_t a, b;
		bool known = false;
		for (size_t k = 0; k < sizeof(known_members) / sizeof(*known_members); k++)
			known |= strcmp(name, known_members[k]) == 0;
		if (known || anchor_name(name, &a) || rotation_name(name, &a, NULL))
			continue;
		if (consistency_name(name, &a, &b)) {
			char an[64];
			snprintf(an, sizeof(an), "audit/checkpoints/%llu", (unsigned long long)a);
			if (bundle_find(v->b, an) != NULL)
				continue;
		}
		bundle_problem(v->rep, "unexpected member %s (not part of an audit bundle)", name);
	}
}

/* --- the tree proof --------------------------------------------------------------- */

static bool proof_line(const char *l, size_t n, const char *kind, unsigned *lvl, merkle_hash h)
{
	size_t kl = strlen(kind), hl;
	uint64_t level;
	if (n <= kl + 1 || memcmp(l, kind, kl) != 0 || l[kl] != ' ')
		return false;
	const char *p = l + kl + 1, *sp = memchr(p, ' ', n - kl - 1);
	if (sp == NULL || parse_dec(p, (size_t)(sp - p), &level) != 0 || level > 63 ||
	    pv_b64_decode(sp + 1, (size_t)(l + n - sp - 1), h, MERKLE_HASH_LEN, &hl) != 0 ||
	    hl != MERKLE_HASH_LEN)
		return false;
	*lvl = (unsigned)level;
	return true;
}

static void check_tree_proof(struct vstate *v)
{
	const struct bundle_file *f = bundle_find(v->b, "audit/tree-proof");
	uint64_t size = 0;
	if (f == NULL)
		return;
	if (f->data == NULL || f->size > PV_BUNDLE_TREE_PROOF_MAX) {
		bundle_problem(v->rep, "audit/tree-proof is too big");
		return;
	}
	const char *p = (const char *)f->data, *end = p + f->size;
	size_t ln = 0;
	bool bad = false;
	while (p < end && !bad) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL) {
			bad = true;
			break;
		}
		size_t n = (size_t)(eol - p);
		const char *sp = memchr(p, ' ', n);
		if (ln == 0) {
			bad = n != strlen("popvault/tree-proof/v1") || memcmp(p, "popvault/tree-proof/v1", n);
		} else if (ln == 1) {
			bad = n < 6 || memcmp(p, "size ", 5) != 0 || parse_dec(p + 5, n - 5, &size) != 0;
		} else if (ln == 2) {
			const char *q = p + 7;
			bad = n < 10 || memcmp(p, "leaves ", 7) != 0 ||
			      (sp = memchr(q, ' ', (size_t)(eol - q))) == NULL ||
			      parse_dec(q, (size_t)(sp - q), &v->lo) != 0 ||
			      parse_dec(sp + 1, (size_t)(eol - sp - 1), &v->hi) != 0;
		} else if (v->n_right == 0 && v->n_left < PV_PROOF_HASHES_MAX &&
			   proof_line(p, n, "left", &v->left_lvl[v->n_left], v->left[v->n_left])) {
			v->n_left++;
		} else if (v->n_right < 2 * PV_PROOF_HASHES_MAX &&
			   proof_line(p, n, "right", &v->right_lvl[v->n_right], v->right[v->n_right])) {
			v->n_right++;
		} else {
			bad = true;
		}
		ln++;
		p = eol + 1;
	}
	if (bad || ln < 3) {
		bundle_problem(v->rep, "audit/tree-proof is malformed (line %zu)", ln);
		return;
	}
	if (v->have_fin && size != v->fin.size) {
		bundle_problem(v->rep,
			       "audit/tree-proof is for a tree of %llu leaves but audit/checkpoint "
			       "has %llu (an older checkpoint replayed, or a bundle assembled from "
			       "two exports?)",
			       (unsigned long long)size, (unsigned long long)v->fin.size);
		return;
	}
	if (size == 0 || v->lo > v->hi || v->hi > size - 1) {
		bundle_problem(v->rep, "audit/tree-proof: leaves %llu..%llu do not fit a tree of %llu",
			       (unsigned long long)v->lo, (unsigned long long)v->hi,
			       (unsigned long long)size);
		return;
	}
	/* The compact ranges must be exactly the decompositions of
	 * [0, lo) and [hi, size-1). */
	size_t k = 0;
	for (int j = 63; j >= 0; j--)
		if ((v->lo >> j) & 1) {
			if (k >= v->n_left || v->left_lvl[k] != (unsigned)j) {
				bad = true;
				break;
			}
			k++;
		}
	bad |= k != v->n_left;
	k = 0;
	for (uint64_t q = v->hi; q < size - 1 && !bad;) {
		unsigned j = 0;
		while (j < 63 && (q & ((2ull << j) - 1)) == 0 && q + (2ull << j) <= size - 1)
			j++;
		if (k >= v->n_right || v->right_lvl[k] != j)
			bad = true;
		k++;
		q += 1ull << j;
	}
	bad |= k != v->n_right;
	if (bad) {
		bundle_problem(v->rep, "audit/tree-proof: its subtree hashes do not cover the "
				       "leaves outside the bundle exactly");
		return;
	}
	v->tree_ok = true;
}

/* --- key rotations ------------------------------------------------------------------ */

static int cmp_rot(const void *x, const void *y)
{
	uint64_t a = ((const struct rotation *)x)->idx, b = ((const struct rotation *)y)->idx;
	return a < b ? -1 : a > b;
}

static bool same_key(const struct note_verifier *a, const struct note_verifier *b)
{
	return a->id == b->id && strcmp(a->name, b->name) == 0 &&
	       sodium_memcmp(a->pk, b->pk, sizeof(a->pk)) == 0;
}

/* Each logged rotation of the audit key (integrity.md §3: the old key
 * signs a note naming the new one) extends trust to the new key from the
 * rotation on, and retires the old one after its closing checkpoint. Only
 * rotations signed by an already trusted key count. */
static void load_rotations(struct vstate *v)
{
	for (size_t i = 0; i < bundle_count(v->b); i++) {
		const struct bundle_file *f = bundle_file_at(v->b, i);
		uint64_t idx;
		bool proof;
		struct rotation *r;
		if (!rotation_name(f->name, &idx, &proof) || proof || f->data == NULL)
			continue;
		if ((r = realloc(v->rot, (v->n_rot + 1) * sizeof(*r))) == NULL)
			return;
		v->rot = r;
		v->rot[v->n_rot].idx = idx;
		merkle_leaf_hash(f->data, f->size, v->rot[v->n_rot].leaf);
		v->n_rot++;
	}
	if (v->n_rot > 1)
		qsort(v->rot, v->n_rot, sizeof(*v->rot), cmp_rot);
	for (size_t i = 0; i < v->n_rot; i++) {
		char name[64];
		struct keys_rotation rot;
		struct note_verifier oldk, newk;
		struct pv_error e;
		size_t text_len, nsigs;
		snprintf(name, sizeof(name), "audit/rotations/%llu", (unsigned long long)v->rot[i].idx);
		const struct bundle_file *f = bundle_find(v->b, name);
		if (note_split((const char *)f->data, f->size, &text_len, &nsigs, &e) != 0 ||
		    keys_rotation_parse((const char *)f->data, text_len, &rot, &e) != 0 ||
		    note_verifier_parse(rot.old_vkey, strlen(rot.old_vkey), &oldk, &e) != 0 ||
		    note_verifier_parse(rot.new_vkey, strlen(rot.new_vkey), &newk, &e) != 0) {
			bundle_problem(v->rep, "%s is not a key-rotation note (%s)", name, e.msg);
			continue;
		}
		if (rot.size != v->rot[i].idx) {
			bundle_problem(v->rep, "%s: the note is for tree size %llu, not its place", name,
				       (unsigned long long)rot.size);
			continue;
		}
		struct trusted *old = NULL;
		for (size_t k = 0; k < v->n_trust; k++)
			if (same_key(&v->trust[k].v, &oldk) && rot.size >= v->trust[k].from &&
			    rot.size <= v->trust[k].to)
				old = &v->trust[k];
		bool new_given = false;
		for (size_t k = 0; k < v->n_trust; k++)
			new_given |= same_key(&v->trust[k].v, &newk);
		if (old == NULL && new_given) {
			/* The key it introduces was given: nothing to learn from it. */
			bundle_info(v->rep, "%s: the audit key was rotated at size %llu to a key you "
					    "gave; the previous key was not given, so its signature "
					    "is not checked", name, (unsigned long long)rot.size);
			continue;
		}
		if (old == NULL || note_open((const char *)f->data, f->size, &oldk, 1, &text_len,
					     NULL, &e) != 0) {
			bundle_problem(v->rep, "%s: not signed by a key trusted at size %llu; the key "
					       "it names is not trusted",
				       name, (unsigned long long)rot.size);
			continue;
		}
		/* The old key signs the closing checkpoint (one leaf later). */
		if (old->to > rot.size + 1)
			old->to = rot.size + 1;
		if (v->n_trust < TRUST_MAX) {
			v->trust[v->n_trust++] = (struct trusted){newk, rot.size + 1, UINT64_MAX};
			bundle_info(v->rep, "ok: %s: the audit key was rotated at size %llu, signed by "
					    "the previous key", name, (unsigned long long)rot.size);
		}
	}
}

/* Each rotation note is a leaf of the final tree. */
static void check_rotations_logged(struct vstate *v)
{
	for (size_t i = 0; v->have_fin && i < v->n_rot; i++) {
		char name[80];
		merkle_hash proof[PV_PROOF_HASHES_MAX];
		struct pv_error e;
		size_t len = 0;
		snprintf(name, sizeof(name), "audit/rotations/%llu.proof",
			 (unsigned long long)v->rot[i].idx);
		const struct bundle_file *f = bundle_find(v->b, name);
		const char *p = f && f->data ? (const char *)f->data : "", *end = p + (f ? f->size : 0);
		bool bad = f == NULL || f->data == NULL;
		while (!bad && p < end) {
			const char *eol = memchr(p, '\n', (size_t)(end - p));
			size_t hl;
			bad = eol == NULL || len >= PV_PROOF_HASHES_MAX ||
			      pv_b64_decode(p, (size_t)(eol - p), proof[len], MERKLE_HASH_LEN, &hl) != 0 ||
			      hl != MERKLE_HASH_LEN;
			len++;
			p = eol ? eol + 1 : end;
		}
		if (bad)
			bundle_problem(v->rep, "%s is missing or malformed", name);
		else if (merkle_verify_inclusion(v->rot[i].idx, v->fin.size, v->rot[i].leaf, proof, len,
						 v->fin.root, &e) != 0)
			bundle_problem(v->rep, "audit/rotations/%llu is not the log's leaf %llu (%s)",
				       (unsigned long long)v->rot[i].idx,
				       (unsigned long long)v->rot[i].idx, e.msg);
	}
}

/* --- earlier checkpoints ----------------------------------------------------------- */

static int read_consistency(struct vstate *v, uint64_t a, uint64_t n, merkle_hash *proof,
			    size_t *len)
{
	char name[96];
	snprintf(name, sizeof(name), "audit/consistency/%llu-%llu", (unsigned long long)a,
		 (unsigned long long)n);
	const struct bundle_file *f = bundle_find(v->b, name);
	if (f == NULL || f->data == NULL)
		return PV_ENOTFOUND;
	const char *p = (const char *)f->data, *end = p + f->size;
	*len = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t hl;
		if (eol == NULL || *len >= PV_PROOF_HASHES_MAX ||
		    pv_b64_decode(p, (size_t)(eol - p), proof[*len], MERKLE_HASH_LEN, &hl) != 0 ||
		    hl != MERKLE_HASH_LEN) {
			bundle_problem(v->rep, "%s is malformed", name);
			return PV_EINTEGRITY;
		}
		(*len)++;
		p = eol + 1;
	}
	return 0;
}

/* Does the final tree extend (size, root)? By the leaves when the size is
 * inside the range (checked while streaming), else by the proof file. */
static void check_extends(struct vstate *v, const struct checkpoint *cp, const char *what)
{
	merkle_hash proof[PV_PROOF_HASHES_MAX], empty;
	struct pv_error e;
	size_t len;
	int r;
	if (!v->have_fin)
		return;
	if (strcmp(cp->origin, v->fin.origin) != 0) {
		bundle_problem(v->rep, "%s is for log %s, not %s", what, cp->origin, v->fin.origin);
		return;
	}
	if (cp->size > v->fin.size) {
		bundle_problem(v->rep,
			       "%s has %llu leaves, more than this bundle's %llu: the bundle is "
			       "older (a rolled-back log or a replayed bundle)",
			       what, (unsigned long long)cp->size, (unsigned long long)v->fin.size);
		return;
	}
	if (cp->size == 0) {
		merkle_empty_root(empty);
		if (sodium_memcmp(cp->root, empty, MERKLE_HASH_LEN) != 0)
			bundle_problem(v->rep, "%s: an empty tree with a non-empty root", what);
		return;
	}
	if (cp->size == v->fin.size) {
		if (sodium_memcmp(cp->root, v->fin.root, MERKLE_HASH_LEN) != 0)
			bundle_problem(v->rep, "%s has the bundle's size but another root (a fork)",
				       what);
		return;
	}
	bool direct = v->tree_ok && cp->size >= v->lo && cp->size <= v->hi;
	if (direct)
		add_direct(v, cp->size, cp->root, what);
	r = read_consistency(v, cp->size, v->fin.size, proof, &len);
	if (r == PV_ENOTFOUND) {
		if (!direct)
			bundle_problem(v->rep,
				       "%s (size %llu) cannot be tied to this bundle: it starts at leaf "
				       "%llu and has no audit/consistency/%llu-%llu (export with an "
				       "earlier --since)",
				       what, (unsigned long long)cp->size, (unsigned long long)v->lo,
				       (unsigned long long)cp->size, (unsigned long long)v->fin.size);
		return;
	}
	if (r < 0)
		return;
	if (merkle_verify_consistency(cp->size, v->fin.size, proof, len, cp->root, v->fin.root,
				      &e) != 0)
		bundle_problem(v->rep, "%s: the final tree does not extend it (%s)", what, e.msg);
	else
		bundle_info(v->rep, "ok: %s (size %llu) is extended by the final tree", what,
			    (unsigned long long)cp->size);
}

static void check_anchors(struct vstate *v)
{
	for (size_t i = 0; i < bundle_count(v->b); i++) {
		const struct bundle_file *f = bundle_file_at(v->b, i);
		struct checkpoint cp;
		uint64_t a;
		if (!anchor_name(f->name, &a))
			continue;
		if (f->data == NULL || open_cp(v, f->name, f->data, f->size, &cp) < 0) {
			bundle_problem(v->rep, "%s is not a checkpoint", f->name);
			continue;
		}
		if (cp.size != a) {
			bundle_problem(v->rep, "%s holds a checkpoint of size %llu", f->name,
				       (unsigned long long)cp.size);
			continue;
		}
		check_extends(v, &cp, f->name);
	}
}

static void check_last(struct vstate *v, const char *last, size_t len)
{
	struct checkpoint cp;
	struct pv_error e;
	size_t text_len, nsigs;
	if (note_split(last, len, &text_len, &nsigs, &e) != 0 ||
	    checkpoint_parse(last, text_len, &cp, &e) != 0) {
		bundle_problem(v->rep, "--last-checkpoint: %s", e.msg);
		return;
	}
	keys_at(v, cp.size);
	if (checkpoint_open(last, len, v->keys, v->nkeys, &cp, &e) != 0) {
		bundle_problem(v->rep, "--last-checkpoint: %s", e.msg);
		return;
	}
	check_extends(v, &cp, "your last checkpoint");
}

/* --- streaming the entries ----------------------------------------------------------- */

struct pers_rec {
	bool have;
	uint64_t seq;
	uint8_t salt[AUDIT_SALT_LEN];
	struct pv_buf data;
};

struct streams {
	struct bundle_stream *leaves, *jsonl, *csv, *personal;
	struct pv_buf line, want;
	uint8_t *leaf; /* PV_TLOG_ENTRY_MAX bytes: the length field is 16 bits */
	uint64_t jsonl_line, csv_line, pers_line;
	struct pers_rec pr;
};

/* Reads the next record of personal.jsonl into s->pr (have = false at the end). */
static void pers_next(struct vstate *v, struct streams *s)
{
	struct pv_error e;
	json_error_t je;
	s->pr.have = false;
	if (s->personal == NULL)
		return;
	int r = bundle_stream_line(s->personal, &s->line, &e);
	if (r <= 0) {
		if (r < 0)
			bundle_problem(v->rep, "audit/personal.jsonl: %s", e.msg);
		bundle_stream_close(&s->personal);
		return;
	}
	s->pers_line++;
	json_t *o = json_loadb((const char *)s->line.data, s->line.len, JSON_REJECT_DUPLICATES, &je);
	json_t *seq = json_object_get(o, "seq"), *salt = json_object_get(o, "salt"),
	       *data = json_object_get(o, "data");
	const char *sh = json_string_value(salt);
	if (o == NULL || !json_is_integer(seq) || json_integer_value(seq) < 0 || sh == NULL ||
	    pv_unhex_lower(sh, strlen(sh), s->pr.salt, AUDIT_SALT_LEN) != 0 ||
	    !json_is_string(data) || json_object_size(o) != 3) {
		bundle_problem(v->rep, "audit/personal.jsonl line %llu is malformed",
			       (unsigned long long)s->pers_line);
		json_decref(o);
		bundle_stream_close(&s->personal);
		return;
	}
	s->pr.seq = (uint64_t)json_integer_value(seq);
	pv_buf_reset(&s->pr.data);
	pv_buf_reset(&s->want);
	/* Only the canonical spelling: one record, one byte sequence. */
	if (pv_buf_append(&s->pr.data, json_string_value(data), json_string_length(data), &e) != 0 ||
	    auditlog_personal_json(s->pr.seq, s->pr.salt, (const char *)s->pr.data.data,
				   s->pr.data.len, &s->want, &e) != 0 ||
	    s->want.len != s->line.len || memcmp(s->want.data, s->line.data, s->line.len) != 0) {
		bundle_problem(v->rep, "audit/personal.jsonl line %llu is not in canonical form",
			       (unsigned long long)s->pers_line);
		json_decref(o);
		bundle_stream_close(&s->personal);
		return;
	}
	json_decref(o);
	s->pr.have = true;
}

/* The personal data of entry e (NULL when none), checked against its commitment. */
static const char *pers_for(struct vstate *v, struct streams *s, const struct audit_entry *e,
			    size_t *len)
{
	uint8_t c[AUDIT_COMMIT_LEN];
	while (s->pr.have && s->pr.seq < e->seq) {
		bundle_problem(v->rep, "audit/personal.jsonl: record for seq %llu has no entry in "
				       "the bundle (out of order?)", (unsigned long long)s->pr.seq);
		pers_next(v, s);
	}
	if (!s->pr.have || s->pr.seq != e->seq)
		return NULL;
	if (!e->has_commit) {
		bundle_problem(v->rep, "audit/personal.jsonl: entry %llu has no commitment",
			       (unsigned long long)e->seq);
		pers_next(v, s);
		return NULL;
	}
	auditlog_commitment(s->pr.salt, s->pr.data.data, s->pr.data.len, c);
	if (sodium_memcmp(c, e->commit, sizeof(c)) != 0) {
		bundle_problem(v->rep, "audit/personal.jsonl: the data of entry %llu does not match "
				       "its commitment (edited?)", (unsigned long long)e->seq);
		pers_next(v, s);
		return NULL;
	}
	/* Valid until pers_next reads the next record. */
	*len = s->pr.data.len;
	return (const char *)s->pr.data.data;
}

static void compare_line(struct vstate *v, struct bundle_stream **st, const char *name,
			 uint64_t *lineno, struct pv_buf *line, const struct pv_buf *want,
			 uint64_t seq, uint64_t *shown, uint64_t *bad)
{
	struct pv_error e;
	if (*st == NULL)
		return;
	int r = bundle_stream_line(*st, line, &e);
	if (r <= 0) {
		if (r < 0)
			bundle_problem(v->rep, "%s: %s", name, e.msg);
		else
			bundle_problem(v->rep, "%s ends before entry %llu (entries dropped?)", name,
				       (unsigned long long)seq);
		bundle_stream_close(st);
		return;
	}
	(*lineno)++;
	if (want == NULL || (line->len == want->len && memcmp(line->data, want->data, line->len) == 0))
		return;
	(*bad)++;
	if ((*shown)++ < LINES_SHOWN)
		bundle_problem(v->rep,
			       "%s line %llu does not match entry %llu of audit/leaves (edited, "
			       "dropped or reordered?)",
			       name, (unsigned long long)*lineno, (unsigned long long)seq);
	else
		v->rep->problems++;
}

static void check_direct(struct vstate *v, const struct merkle_acc *acc)
{
	for (size_t i = 0; i < v->n_direct; i++) {
		merkle_hash root;
		if (v->direct[i].size != acc->size)
			continue;
		merkle_acc_root(acc, root);
		if (sodium_memcmp(root, v->direct[i].root, MERKLE_HASH_LEN) != 0)
			bundle_problem(v->rep, "%s (size %llu) does not match the entries: the log was "
					       "rewritten since",
				       v->direct[i].what, (unsigned long long)acc->size);
		else
			bundle_info(v->rep, "ok: %s (size %llu) matches the entries", v->direct[i].what,
				    (unsigned long long)acc->size);
	}
}

static int open_stream(struct vstate *v, const char *name, struct bundle_stream **s, bool need)
{
	struct pv_error e;
	if (bundle_find(v->b, name) == NULL)
		return need ? -1 : 0;
	int r = bundle_stream_open(v->b, name, s, &e);
	if (r < 0) {
		bundle_problem(v->rep, "%s: %s", name, e.msg);
		return -1;
	}
	return 0;
}

static void check_export_event(struct vstate *v, const struct audit_entry *e)
{
	char want[64];
	int n = snprintf(want, sizeof(want), "leaves=%llu-%llu ", (unsigned long long)v->lo,
			 (unsigned long long)v->hi);
	if (e->kind != AUDIT_ENTRY_EVENT || strcmp(e->type, AUDIT_AUDIT_EXPORT) != 0 ||
	    strncmp(e->object, want, (size_t)n) != 0)
		bundle_problem(v->rep, "the last entry (seq %llu) is not this bundle's own "
				       "audit-export event for leaves %llu-%llu",
			       (unsigned long long)e->seq, (unsigned long long)v->lo,
			       (unsigned long long)v->hi);
	else
		bundle_info(v->rep, "ok: the bundle ends with its own export event (seq %llu, by %s)",
			    (unsigned long long)e->seq, e->actor);
}

static void stream_entries(struct vstate *v)
{
	struct streams s;
	struct merkle_acc acc;
	struct pv_error e;
	uint64_t count = 0, gaps = 0, n_pers = 0;
	int64_t prev_time = -1;
	uint64_t prev_seq = 0;
	bool stop = false;

	memset(&s, 0, sizeof(s));
	pv_buf_init(&s.line, PV_BUNDLE_LINE_MAX);
	pv_buf_init(&s.want, PV_BUNDLE_LINE_MAX);
	pv_buf_init(&s.pr.data, PV_AUDIT_PERSONAL_MAX + 1);
	if ((s.leaf = malloc(PV_TLOG_ENTRY_MAX)) == NULL) {
		bundle_problem(v->rep, "out of memory");
		goto out;
	}
	if (!v->tree_ok || !v->have_fin || open_stream(v, "audit/leaves", &s.leaves, true) < 0)
		goto out;
	(void)open_stream(v, "audit/entries.jsonl", &s.jsonl, true);
	(void)open_stream(v, "audit/entries.csv", &s.csv, true);
	(void)open_stream(v, "audit/personal.jsonl", &s.personal, false);
	if (s.csv != NULL) {
		pv_buf_reset(&s.want);
		(void)pv_buf_append_str(&s.want, AUDITLOG_CSV_HEADER, &e);
		compare_line(v, &s.csv, "audit/entries.csv", &s.csv_line, &s.line, &s.want, v->lo,
			     &v->shown_csv, &v->bad_csv);
	}
	pers_next(v, &s);
	if (merkle_acc_from_range(&acc, v->lo, (const merkle_hash *)v->left, v->n_left) != 0)
		goto out;
	check_direct(v, &acc);
	uint64_t total = v->hi - v->lo + 1;
	for (uint64_t i = 0; i < total && !stop; i++) {
		uint64_t idx = i + 1 == total ? v->fin.size - 1 : v->lo + i;
		uint8_t lb[2];
		struct audit_entry ent;
		merkle_hash h;
		int r = bundle_stream_exact(s.leaves, lb, 2, &e);
		if (r <= 0) {
			bundle_problem(v->rep, "audit/leaves %s after %llu of %llu entries (entries "
					       "dropped or the bundle cut?)",
				       r < 0 ? e.msg : "ends", (unsigned long long)count,
				       (unsigned long long)total);
			break;
		}
		size_t n = (size_t)lb[0] << 8 | lb[1];
		if (n > 0 && (r = bundle_stream_exact(s.leaves, s.leaf, n, &e)) != 1) {
			bundle_problem(v->rep, "audit/leaves: entry %llu is cut short (%s)",
				       (unsigned long long)idx, r < 0 ? e.msg : "end of file");
			break;
		}
		count++;
		if (i + 1 == total)
			for (size_t k = 0; k < v->n_right; k++)
				(void)merkle_acc_push_subtree(&acc, v->right_lvl[k], v->right[k]);
		merkle_leaf_hash(s.leaf, n, h);
		(void)merkle_acc_push(&acc, h, NULL, NULL);
		for (size_t k = 0; k < v->n_rot; k++)
			if (v->rot[k].idx == idx &&
			    sodium_memcmp(v->rot[k].leaf, h, MERKLE_HASH_LEN) != 0)
				bundle_problem(v->rep, "audit/rotations/%llu differs from leaf %llu",
					       (unsigned long long)idx, (unsigned long long)idx);
		check_direct(v, &acc);
		const char *p = NULL;
		size_t plen = 0;
		if (auditlog_leaf_parse(s.leaf, n, idx, &ent, &e) != 0) {
			bundle_problem(v->rep, "audit/leaves: %s", e.msg);
			compare_line(v, &s.jsonl, "audit/entries.jsonl", &s.jsonl_line, &s.line, NULL,
				     idx, &v->shown_json, &v->bad_json);
			compare_line(v, &s.csv, "audit/entries.csv", &s.csv_line, &s.line, NULL, idx,
				     &v->shown_csv, &v->bad_csv);
			continue;
		}
		if (ent.has_commit && (p = pers_for(v, &s, &ent, &plen)) != NULL)
			n_pers++;
		pv_buf_reset(&s.want);
		if (auditlog_entry_json(&ent, p, plen, &s.want, &e) == 0)
			compare_line(v, &s.jsonl, "audit/entries.jsonl", &s.jsonl_line, &s.line,
				     &s.want, idx, &v->shown_json, &v->bad_json);
		pv_buf_reset(&s.want);
		if (auditlog_entry_csv(&ent, p, plen, &s.want, &e) == 0)
			compare_line(v, &s.csv, "audit/entries.csv", &s.csv_line, &s.line, &s.want,
				     idx, &v->shown_csv, &v->bad_csv);
		if (p != NULL)
			pers_next(v, &s);
		if (i + 1 == total) {
			check_export_event(v, &ent);
		} else if (ent.time >= 0) {
			if (prev_time >= 0 && ent.time - prev_time > AUDITLOG_HEARTBEAT_GAP_S &&
			    gaps++ < GAPS_SHOWN) {
				char t1[PV_RFC3339_LEN], t2[PV_RFC3339_LEN];
				pv_clock_format_rfc3339(prev_time, t1);
				pv_clock_format_rfc3339(ent.time, t2);
				bundle_warn(v->rep, "warning: no audit entry for %lld minutes, from %s "
						    "(seq %llu) to %s (seq %llu): heartbeats missing",
					    (long long)(ent.time - prev_time) / 60, t1,
					    (unsigned long long)prev_seq, t2, (unsigned long long)idx);
			}
			prev_time = ent.time;
			prev_seq = idx;
		}
	}
	if (gaps > GAPS_SHOWN)
		bundle_warn(v->rep, "warning: %llu heartbeat gaps in all", (unsigned long long)gaps);
	if (count == total) {
		uint8_t extra;
		size_t got;
		if (bundle_stream_read(s.leaves, &extra, 1, &got, &e) == 0 && got > 0)
			bundle_problem(v->rep, "audit/leaves holds more than the %llu entries the "
					       "tree-proof names (entries added?)",
				       (unsigned long long)total);
	}
	const char *names[2] = {"audit/entries.jsonl", "audit/entries.csv"};
	struct bundle_stream **sts[2] = {&s.jsonl, &s.csv};
	for (int k = 0; k < 2; k++)
		if (*sts[k] != NULL && bundle_stream_line(*sts[k], &s.line, &e) != 0)
			bundle_problem(v->rep, "%s has more lines than there are entries (lines added?)",
				       names[k]);
	if (s.pr.have)
		bundle_problem(v->rep, "audit/personal.jsonl: record for seq %llu has no entry in "
				       "the bundle", (unsigned long long)s.pr.seq);
	if (v->bad_json > LINES_SHOWN || v->bad_csv > LINES_SHOWN)
		bundle_info(v->rep, "(%llu JSON Lines and %llu CSV lines differ in all)",
			    (unsigned long long)v->bad_json, (unsigned long long)v->bad_csv);
	if (count == total) {
		merkle_hash root;
		merkle_acc_root(&acc, root);
		if (acc.size != v->fin.size || sodium_memcmp(root, v->fin.root, MERKLE_HASH_LEN) != 0)
			bundle_problem(v->rep, "the entries do not rebuild the root of audit/checkpoint "
					       "(an entry was changed, dropped, added or reordered)");
		else if (v->hi > v->lo)
			bundle_info(v->rep, "ok: %llu entries (leaves %llu..%llu and %llu) rebuild the "
					    "signed root of a %llu-leaf log; %llu with personal data",
				    (unsigned long long)count, (unsigned long long)v->lo,
				    (unsigned long long)(v->hi - 1), (unsigned long long)(v->fin.size - 1),
				    (unsigned long long)v->fin.size, (unsigned long long)n_pers);
		else
			bundle_info(v->rep, "ok: no entry in the range; the export event (leaf %llu) "
					    "rebuilds the signed root of a %llu-leaf log",
				    (unsigned long long)(v->fin.size - 1),
				    (unsigned long long)v->fin.size);
	}
out:
	bundle_stream_close(&s.leaves);
	bundle_stream_close(&s.jsonl);
	bundle_stream_close(&s.csv);
	bundle_stream_close(&s.personal);
	pv_buf_free(&s.line);
	pv_buf_free(&s.want);
	free(s.leaf);
	pv_buf_free_secret(&s.pr.data);
}

int auditbundle_verify(struct bundle *b, const struct note_verifier *keys, size_t nkeys,
		       const char *last_cp, size_t last_len, struct bundle_report *rep,
		       struct pv_error *err)
{
	struct vstate v;
	uint64_t before = rep->problems;

	memset(&v, 0, sizeof(v));
	v.b = b;
	v.rep = rep;
	v.err = err;
	for (size_t i = 0; i < nkeys && v.n_trust < TRUST_MAX; i++)
		v.trust[v.n_trust++] = (struct trusted){keys[i], 0, UINT64_MAX};
	load_rotations(&v);
	const struct bundle_file *f = bundle_find(b, "audit/checkpoint");
	if (f != NULL && f->data != NULL) {
		int r = open_cp(&v, "audit/checkpoint", f->data, f->size, &v.fin);
		v.have_fin = r >= 0;
		if (r == 1)
			bundle_info(rep, "ok: audit/checkpoint: log %s, %llu leaves, signed by a "
					 "trusted key", v.fin.origin, (unsigned long long)v.fin.size);
	}
	/* The manifest is signed when the bundle is made: by the key of the
	 * final checkpoint's epoch. */
	keys_at(&v, v.have_fin ? v.fin.size : UINT64_MAX);
	if (bundle_check_manifest(b, v.keys, v.nkeys, v.have_fin ? v.fin.origin : NULL, rep) != 0) {
		/* each problem is in rep; the checks below go on */
	}
	check_inventory(&v);
	check_rotations_logged(&v);
	check_tree_proof(&v);
	check_anchors(&v);
	if (last_cp != NULL)
		check_last(&v, last_cp, last_len);
	stream_entries(&v);
	free(v.direct);
	free(v.rot);
	return rep->problems == before ? 0 : PV_EINTEGRITY;
}
