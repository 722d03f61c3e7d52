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
#include "archiver/lib/base64.h"
#include "audit/bundle_trust.h"
#include "audit/checkpoint.h"
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

/* A rotation note of the audit key, leaf idx of the log. */
struct rotation {
	uint64_t idx;
	merkle_hash leaf;
};

struct vstate {
	struct bundle *b;
	struct bundle_keys *keys; /* --vkey keys and those rotations introduce */
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

/* Opens the final checkpoint with the keys trusted at its size; when that
 * fails, reports why and still parses the body unverified (so the
 * structural checks can go on). Returns 1 when verified, 0 when parsed
 * unverified, -1 when not even parseable. */
static int open_fin(struct vstate *v, const struct bundle_file *f)
{
	struct pv_error e;
	int r = bundle_keys_open_checkpoint(v->keys, f->data, f->size, &v->fin, &e);
	if (r < 0)
		bundle_problem(v->rep, "audit/checkpoint is not a checkpoint (%s)", e.msg);
	else if (r == 0)
		bundle_problem(v->rep, "audit/checkpoint is not a checkpoint signed by a key trusted "
				       "at size %llu (%s)", (unsigned long long)v->fin.size, e.msg);
	return r;
}

/* A checkpoint inside the range of leaves: its root is recomputed while
 * the leaves stream by (bundle_trust_direct_fn). */
static bool add_direct(void *ctx, const struct checkpoint *cp, const char *what)
{
	struct vstate *v = ctx;
	if (!v->tree_ok || cp->size < v->lo || cp->size > v->hi)
		return false;
	struct direct *d = realloc(v->direct, (v->n_direct + 1) * sizeof(*d));
	if (d == NULL)
		return false;
	v->direct = d;
	d += v->n_direct++;
	d->size = cp->size;
	memcpy(d->root, cp->root, MERKLE_HASH_LEN);
	snprintf(d->what, sizeof(d->what), "%s", what);
	return true;
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
		/* Anchors and proofs are judged by bundle_trust_check_anchors. */
		if (known || bundle_trust_anchor_name(name, "audit", &a) ||
		    bundle_external_name(name, "audit") ||
		    bundle_trust_rotation_name(name, "audit", &a, NULL) ||
		    bundle_trust_consistency_name(name, "audit", &a, &b))
			continue;
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
		const char *sp;
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

/* Each logged rotation of the audit key, in log order, extends trust to
 * the new key from the rotation on (bundle_keys_follow). */
static void load_rotations(struct vstate *v)
{
	for (size_t i = 0; i < bundle_count(v->b); i++) {
		const struct bundle_file *f = bundle_file_at(v->b, i);
		uint64_t idx;
		bool proof;
		struct rotation *r;
		if (!bundle_trust_rotation_name(f->name, "audit", &idx, &proof) || proof ||
		    f->data == NULL)
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
		snprintf(name, sizeof(name), "audit/rotations/%llu", (unsigned long long)v->rot[i].idx);
		const struct bundle_file *f = bundle_find(v->b, name);
		bundle_keys_follow(v->keys, v->rep, name, f->data, f->size, true, v->rot[i].idx);
	}
}

/* --- earlier checkpoints ----------------------------------------------------------- */

static void check_last(struct vstate *v, const char *last, size_t len)
{
	struct checkpoint cp;
	if (bundle_keys_open_last(v->keys, v->rep, last, len, &cp) == 0 && v->have_fin &&
	    bundle_trust_extends(v->b, v->rep, "audit", &v->fin, &cp, "your last checkpoint",
				 add_direct, v) == BUNDLE_TRUST_SHOWN)
		bundle_info(v->rep, "ok: your last checkpoint (size %llu) is extended by the final "
				    "tree", (unsigned long long)cp.size);
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
	uint64_t pers_last; /* the seq of the record before, +1 (0: none yet) */
};

/* Reads the next record of personal.jsonl into s->pr (have = false at the end). */
static void pers_read(struct vstate *v, struct streams *s)
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

/* The next record in ascending order: a line copied or moved back is
 * named as such, and skipped. */
static void pers_next(struct vstate *v, struct streams *s)
{
	for (;;) {
		pers_read(v, s);
		if (!s->pr.have || s->pers_last == 0 || s->pr.seq + 1 > s->pers_last)
			break;
		bundle_problem(v->rep, "audit/personal.jsonl line %llu: a record for seq %llu after "
				       "one for seq %llu (a line repeated or moved)",
			       (unsigned long long)s->pers_line, (unsigned long long)s->pr.seq,
			       (unsigned long long)(s->pers_last - 1));
	}
	if (s->pr.have)
		s->pers_last = s->pr.seq + 1;
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

/* Reads the next record of *st into rec: as many lines as want holds
 * (a CSV record whose personal data spans lines, RFC 4180 quoting), one
 * when want is NULL. Returns 1, 0 at the end, < 0 on error (e). */
static int read_record(struct bundle_stream *st, struct pv_buf *line, const struct pv_buf *want,
		       struct pv_buf *rec, uint64_t *lines_r, struct pv_error *e)
{
	size_t need = 0;
	for (size_t i = 0; want != NULL && i < want->len; i++)
		need += want->data[i] == '\n';
	need = need ? need : 1;
	pv_buf_reset(rec);
	for (size_t k = 0; k < need; k++) {
		int r = bundle_stream_line(st, line, e);
		if (r <= 0)
			return k == 0 ? r : 1; /* a record cut short does not match */
		(*lines_r)++;
		if ((r = pv_buf_append(rec, line->data, line->len, e)) < 0)
			return r;
	}
	return 1;
}

static void compare_line(struct vstate *v, struct bundle_stream **st, const char *name,
			 uint64_t *lineno, struct pv_buf *line, const struct pv_buf *want,
			 uint64_t seq, uint64_t *shown, uint64_t *bad)
{
	struct pv_error e;
	struct pv_buf rec;
	if (*st == NULL)
		return;
	uint64_t first = *lineno + 1;
	pv_buf_init(&rec, line->max + (want != NULL ? want->len : 0));
	int r = read_record(*st, line, want, &rec, lineno, &e);
	if (r <= 0) {
		if (r < 0)
			bundle_problem(v->rep, "%s: %s", name, e.msg);
		else
			bundle_problem(v->rep, "%s ends before entry %llu (entries dropped?)", name,
				       (unsigned long long)seq);
		bundle_stream_close(st);
		pv_buf_free(&rec);
		return;
	}
	bool same = want == NULL || (rec.len == want->len && memcmp(rec.data, want->data, rec.len) == 0);
	pv_buf_free(&rec);
	if (same)
		return;
	(*bad)++;
	if ((*shown)++ < LINES_SHOWN)
		bundle_problem(v->rep,
			       "%s line %llu does not match entry %llu of audit/leaves (edited, "
			       "dropped or reordered?)",
			       name, (unsigned long long)first, (unsigned long long)seq);
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
		       const char *last_cp, size_t last_len, const struct bundle_policy *pol,
		       struct bundle_report *rep, struct pv_error *err)
{
	struct vstate v;
	uint64_t before = rep->problems;
	int r;

	memset(&v, 0, sizeof(v));
	v.b = b;
	v.rep = rep;
	v.err = err;
	if ((r = bundle_keys_new(keys, nkeys, &v.keys, err)) < 0)
		return r;
	load_rotations(&v);
	const struct bundle_file *f = bundle_find(b, "audit/checkpoint");
	if (f != NULL && f->data != NULL) {
		r = open_fin(&v, f);
		v.have_fin = r >= 0;
		if (r == 1)
			bundle_info(rep, "ok: audit/checkpoint: log %s, %llu leaves, signed by a "
					 "trusted key", v.fin.origin, (unsigned long long)v.fin.size);
	}
	/* The manifest is signed when the bundle is made: by the key of the
	 * final checkpoint's epoch. */
	size_t nk;
	const struct note_verifier *mk = bundle_keys_at(v.keys, v.have_fin ? v.fin.size : UINT64_MAX,
							&nk);
	if (bundle_check_manifest(b, mk, nk, v.have_fin ? v.fin.origin : NULL, rep) != 0) {
		/* each problem is in rep; the checks below go on */
	}
	check_inventory(&v);
	for (size_t i = 0; v.have_fin && i < v.n_rot; i++)
		(void)bundle_trust_check_logged(b, rep, "audit", v.rot[i].idx, &v.fin);
	check_tree_proof(&v);
	if (v.have_fin) {
		bundle_trust_check_anchors(b, v.keys, rep, "audit", &v.fin, add_direct, &v);
		bundle_external_check(b, v.keys, rep, "audit", &v.fin, pol, add_direct, &v);
	}
	if (last_cp != NULL)
		check_last(&v, last_cp, last_len);
	stream_entries(&v);
	bundle_keys_free(&v.keys);
	free(v.direct);
	free(v.rot);
	return rep->problems == before ? 0 : PV_EINTEGRITY;
}
