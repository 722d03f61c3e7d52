/* Verifying eDiscovery bundles offline (layout in ediscovery.h). Every check
 * reports what it found, naming the member, and goes on, so one run names
 * every problem. Nothing inside the bundle is trusted but what the
 * caller's keys sign: the archive checkpoint (and through it every leaf,
 * and through each leaf's commitment every message), the audit checkpoint
 * (and through it the export event, and through that the message set and
 * the request), the manifest (and through it the rest).
 *
 * Reading costs: the first pass (bundle_open_*) hashes every member and
 * keeps the small ones; the message set is read again (it is near the
 * start); then one more pass (bundle_each) over everything, in archive
 * order: the proofs (written first) give each message's leaf and salt,
 * then the load files, the mbox and each .eml are checked as they stream
 * by. Memory does not grow with message size. */
#include "archiver/export/ediscovery.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/export/bates.h"
#include "archiver/export/loadfile.h"
#include "archiver/export/mbox.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/store/leaf.h"
#include "audit/auditlog.h"
#include "audit/b64.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"
#include "audit/merkle.h"
#include "audit/tlog_proof.h"

#define STREAM_CHUNK 65536

struct vmsg {
	int64_t id;
	char bates[BATES_LEN_MAX + 1];
	uint64_t leaf_index, size;
	uint8_t sha256[32];
	const struct bundle_file *eml, *proof;
	bool leaf_ok;       /* its proof holds and carries its leaf and salt */
	uint8_t salt[32], commit[32];
	bool content_ok;    /* bytes equal to the .eml matched the commitment */
	bool content_bad;   /* a mismatch was reported */
	bool have_md5;
	uint8_t md5[16];
	bool in_mbox, in_dat, in_csv;
	uint8_t dat_md5[16], csv_md5[16]; /* what the load files claim */
	uint64_t dat_line, csv_line;
};

struct vdisp {
	int64_t id;
	char time[PV_RFC3339_LEN];
	int64_t policy;
	char bates[BATES_LEN_MAX + 1]; /* "" when none */
	bool in_csv;
};

struct vst {
	struct bundle *b;
	const struct note_verifier *keys;
	size_t nkeys;
	struct bundle_report *rep;
	struct pv_error *err;
	struct checkpoint acp, aucp;
	int acp_state, aucp_state; /* 1 trusted, 0 parsed unverified, -1 absent or bad */
	const struct bundle_file *acp_file, *aucp_file;
	struct vmsg *m;   /* by id */
	size_t n;
	size_t *by_bates; /* indexes into m, sorted by Bates number */
	struct vdisp *d;
	size_t nd;
	bool set_read;    /* the set was read (possibly with problems) */
	json_t *req;
	uint8_t *note;    /* MANIFEST.note when the first pass did not keep it */
	size_t note_len;
	uint64_t lf_bad[2]; /* load-file problems (DAT, CSV), reported up to 20 */
};

/* --- small helpers ----------------------------------------------------------- */

static bool dec(const char *s, size_t n, uint64_t *v)
{
	return checkpoint_parse_u64(s, n, v) == 0;
}

static bool hex32(const char *s, size_t n, uint8_t out[32])
{
	return n == 64 && hex_decode_lower(s, 64, out, 32) == 0;
}

/* Opens a checkpoint with the trusted keys; when that fails, reports why
 * and parses the body unverified so the structural checks can go on. */
static int open_cp(struct vst *v, const char *what, const struct bundle_file *f,
		   struct checkpoint *cp)
{
	struct pv_error e;
	size_t text_len, nsigs;
	if (f == NULL || f->data == NULL)
		return -1;
	if (checkpoint_open((const char *)f->data, f->size, v->keys, v->nkeys, cp, &e) == 0) {
		bundle_info(v->rep, "ok: %s: log %s, %llu leaves, signed by a trusted key", what,
			    cp->origin, (unsigned long long)cp->size);
		return 1;
	}
	bundle_problem(v->rep, "%s is not a checkpoint signed by a trusted key (%s)", what, e.msg);
	if (note_split((const char *)f->data, f->size, &text_len, &nsigs, &e) != 0 ||
	    checkpoint_parse((const char *)f->data, text_len, cp, &e) != 0)
		return -1;
	return 0;
}

static int cmp_bates(const void *a, const void *b, void *ctx)
{
	const struct vmsg *m = ctx;
	return strcmp(m[*(const size_t *)a].bates, m[*(const size_t *)b].bates);
}

static struct vmsg *find_bates(struct vst *v, const char *bates, size_t len)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct vmsg *m = &v->m[v->by_bates[mid]];
		size_t ml = strlen(m->bates);
		int c = memcmp(m->bates, bates, ml < len ? ml : len);
		if (c == 0)
			c = ml < len ? -1 : ml > len;
		if (c == 0)
			return m;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* d is sorted by id (the set is). */
static struct vdisp *find_disposed(struct vst *v, int64_t id)
{
	size_t lo = 0, hi = v->nd;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->d[mid].id == id)
			return &v->d[mid];
		if (v->d[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A member's lines, kept or streamed: fn gets each line without its
 * "\n" (and without a "\r" before it when crlf); non-zero stops. */
typedef int (*line_fn)(struct vst *v, void *ctx, uint64_t lineno, const char *l, size_t n);

static int lines_of(struct vst *v, const char *name, struct bundle_stream *s, bool crlf,
		    line_fn fn, void *ctx)
{
	struct pv_buf line;
	struct pv_error e;
	uint64_t no = 0;
	int r;
	pv_buf_init(&line, PV_BUNDLE_LINE_MAX);
	while ((r = bundle_stream_line(s, &line, &e)) == 1) {
		size_t n = line.len;
		no++;
		if (n > 0 && line.data[n - 1] == '\n')
			n--;
		else {
			bundle_problem(v->rep, "%s line %llu does not end in a line end", name,
				       (unsigned long long)no);
			r = PV_EINTEGRITY;
			break;
		}
		if (crlf) {
			if (n == 0 || line.data[n - 1] != '\r') {
				bundle_problem(v->rep, "%s line %llu does not end in CRLF", name,
					       (unsigned long long)no);
				r = PV_EINTEGRITY;
				break;
			}
			n--;
		}
		if ((r = fn(v, ctx, no, (const char *)line.data, n)) != 0)
			break;
	}
	if (r < 0 && r != PV_EINTEGRITY)
		bundle_problem(v->rep, "%s could not be read (%s)", name, e.msg);
	pv_buf_free(&line);
	return r < 0 ? r : 0;
}

static int each_line(struct vst *v, const char *name, bool crlf, line_fn fn, void *ctx)
{
	struct bundle_stream *s = NULL;
	struct pv_error e;
	int r;
	if ((r = bundle_stream_open(v->b, name, &s, &e)) < 0) {
		bundle_problem(v->rep, "%s could not be read (%s)", name, e.msg);
		return r;
	}
	r = lines_of(v, name, s, crlf, fn, ctx);
	bundle_stream_close(&s);
	return r;
}

/* A small member's bytes: kept by the first pass, else read from s (or
 * opened by name when s is NULL) into *buf_r, which the caller frees.
 * NULL after reporting a member over max. */
static const uint8_t *small_member(struct vst *v, const struct bundle_file *f,
				   struct bundle_stream *s, size_t max, uint8_t **buf_r)
{
	struct bundle_stream *own = NULL;
	struct pv_error e;
	size_t got;
	*buf_r = NULL;
	if (f->data != NULL)
		return f->size <= max ? f->data : NULL;
	if (f->size > max)
		return NULL;
	if ((*buf_r = malloc(f->size + 1)) == NULL)
		return NULL;
	if ((s == NULL && bundle_stream_open(v->b, f->name, &own, &e) != 0) ||
	    bundle_stream_read(s ? s : own, *buf_r, f->size, &got, &e) != 0 || got != f->size) {
		bundle_problem(v->rep, "%s could not be read again", f->name);
		free(*buf_r);
		*buf_r = NULL;
	} else {
		(*buf_r)[f->size] = '\0';
	}
	bundle_stream_close(&own);
	return *buf_r;
}

/* --- the message set ------------------------------------------------------------- */

static bool bates_valid(const char *s, size_t n)
{
	if (n == 0 || n > BATES_LEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i]) != NULL))
			return false;
	return s[0] != '.' && s[0] != '-' && s[0] != '_';
}

/* Splits l into at most max space-separated words. */
static size_t words(const char *l, size_t n, const char **w, size_t *wl, size_t max)
{
	size_t k = 0;
	const char *p = l, *end = l + n;
	while (p <= end && k < max + 1) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		const char *e = sp ? sp : end;
		if (k < max) {
			w[k] = p;
			wl[k] = (size_t)(e - p);
		}
		k++;
		if (sp == NULL)
			break;
		p = sp + 1;
	}
	return k;
}

struct setctx {
	size_t cap_m, cap_d;
	int64_t last_id;
	bool bad;
};

static int set_line(struct vst *v, void *ctx, uint64_t no, const char *l, size_t n)
{
	struct setctx *c = ctx;
	const char *w[7];
	size_t wl[7], k = words(l, n, w, wl, 6);
	uint64_t id, leaf, size, pol;
	if (no == 1) {
		if (n != strlen(EDISCOVERY_SET_MAGIC) || memcmp(l, EDISCOVERY_SET_MAGIC, n) != 0) {
			bundle_problem(v->rep, "export/message-set does not start with "
					       EDISCOVERY_SET_MAGIC);
			c->bad = true;
			return 1;
		}
		return 0;
	}
	if (k == 6 && wl[0] == 7 && memcmp(w[0], "message", 7) == 0 && dec(w[1], wl[1], &id) &&
	    id > 0 && id <= INT64_MAX && bates_valid(w[2], wl[2]) && dec(w[3], wl[3], &leaf) &&
	    dec(w[4], wl[4], &size)) {
		uint8_t sha[32];
		if (!hex32(w[5], wl[5], sha))
			goto bad;
		if ((int64_t)id <= c->last_id)
			goto order;
		if (v->n == c->cap_m) {
			size_t cap = c->cap_m ? 2 * c->cap_m : 256;
			struct vmsg *p;
			if (v->n >= PV_BUNDLE_FILES_MAX / 2 ||
			    (p = realloc(v->m, cap * sizeof(*p))) == NULL) {
				bundle_problem(v->rep, "export/message-set lists too many messages");
				c->bad = true;
				return 1;
			}
			v->m = p;
			c->cap_m = cap;
		}
		struct vmsg *m = &v->m[v->n++];
		memset(m, 0, sizeof(*m));
		m->id = (int64_t)id;
		memcpy(m->bates, w[2], wl[2]);
		m->bates[wl[2]] = '\0';
		m->leaf_index = leaf;
		m->size = size;
		memcpy(m->sha256, sha, 32);
		c->last_id = (int64_t)id;
		return 0;
	}
	if (k == 5 && wl[0] == 8 && memcmp(w[0], "disposed", 8) == 0 && dec(w[1], wl[1], &id) &&
	    id > 0 && id <= INT64_MAX && wl[2] == PV_RFC3339_LEN - 1 && dec(w[3], wl[3], &pol) &&
	    pol <= INT64_MAX && ((wl[4] == 1 && w[4][0] == '-') || bates_valid(w[4], wl[4]))) {
		if ((int64_t)id <= c->last_id)
			goto order;
		if (v->nd == c->cap_d) {
			size_t cap = c->cap_d ? 2 * c->cap_d : 16;
			struct vdisp *p;
			if (v->nd >= PV_BUNDLE_FILES_MAX || (p = realloc(v->d, cap * sizeof(*p))) == NULL) {
				bundle_problem(v->rep, "export/message-set lists too many messages");
				c->bad = true;
				return 1;
			}
			v->d = p;
			c->cap_d = cap;
		}
		struct vdisp *d = &v->d[v->nd++];
		memset(d, 0, sizeof(*d));
		d->id = (int64_t)id;
		memcpy(d->time, w[2], wl[2]);
		d->policy = (int64_t)pol;
		if (w[4][0] != '-') {
			memcpy(d->bates, w[4], wl[4]);
			d->bates[wl[4]] = '\0';
		}
		c->last_id = (int64_t)id;
		return 0;
	}
bad:
	bundle_problem(v->rep, "export/message-set line %llu is malformed", (unsigned long long)no);
	c->bad = true;
	return 0;
order:
	bundle_problem(v->rep, "export/message-set line %llu is out of order (ids must increase)",
		       (unsigned long long)no);
	c->bad = true;
	return 0;
}

static void read_set(struct vst *v)
{
	struct setctx c = {0, 0, 0, false};
	if (bundle_find(v->b, "export/message-set") == NULL)
		return; /* reported by the inventory */
	if (each_line(v, "export/message-set", false, set_line, &c) < 0) {
		v->n = v->nd = 0; /* unreadable: nothing to check messages against */
		return;
	}
	v->set_read = true;
	if ((v->by_bates = calloc(v->n ? v->n : 1, sizeof(*v->by_bates))) == NULL) {
		bundle_problem(v->rep, "out of memory");
		v->n = 0;
		return;
	}
	for (size_t i = 0; i < v->n; i++)
		v->by_bates[i] = i;
	qsort_r(v->by_bates, v->n, sizeof(*v->by_bates), cmp_bates, v->m);
	for (size_t i = 1; i < v->n; i++)
		if (strcmp(v->m[v->by_bates[i - 1]].bates, v->m[v->by_bates[i]].bates) == 0)
			bundle_problem(v->rep, "export/message-set gives Bates number %s twice",
				       v->m[v->by_bates[i]].bates);
	for (size_t i = 0; i < v->n; i++) {
		char name[BATES_LEN_MAX + 32];
		struct vmsg *m = &v->m[i];
		snprintf(name, sizeof(name), "messages/%s.eml", m->bates);
		if ((m->eml = bundle_find(v->b, name)) == NULL)
			bundle_problem(v->rep, "%s is missing (message %lld in export/message-set)",
				       name, (long long)m->id);
		snprintf(name, sizeof(name), "messages/%s.tlog-proof", m->bates);
		if ((m->proof = bundle_find(v->b, name)) == NULL)
			bundle_problem(v->rep, "%s is missing (message %lld in export/message-set)",
				       name, (long long)m->id);
	}
	if (!c.bad)
		bundle_info(v->rep, "ok: export/message-set: %zu messages, %zu disposed", v->n, v->nd);
}

/* --- the inventory ----------------------------------------------------------------- */

static const char *const required_members[] = {
	"BUNDLE", "VERIFY.md", "export/request.json", "export/message-set", "archive/checkpoint",
	"audit/checkpoint", "audit/export-event.tlog-proof", "audit/export-event.personal.json",
	"trust/vkeys", "messages.mbox", "loadfile.dat", "index.csv", "disposed.csv",
};

/* "<dir>/checkpoints/A" -> A; "<dir>/consistency/A-N" -> A, N. */
static bool anchor_name(const char *name, const char *dir, uint64_t *a)
{
	size_t dl = strlen(dir);
	return strncmp(name, dir, dl) == 0 && strncmp(name + dl, "/checkpoints/", 13) == 0 &&
	       dec(name + dl + 13, strlen(name + dl + 13), a);
}

static bool consistency_name(const char *name, const char *dir, uint64_t *a, uint64_t *n)
{
	size_t dl = strlen(dir);
	if (strncmp(name, dir, dl) != 0 || strncmp(name + dl, "/consistency/", 13) != 0)
		return false;
	const char *p = name + dl + 13, *dash = strchr(p, '-');
	return dash != NULL && dec(p, (size_t)(dash - p), a) && dec(dash + 1, strlen(dash + 1), n);
}

/* "rotations/<dir>/E" -> E (> 0). */
static bool rotation_name(const char *name, const char *dir, uint64_t *e)
{
	size_t dl = strlen(dir);
	return strncmp(name, "rotations/", 10) == 0 && strncmp(name + 10, dir, dl) == 0 &&
	       name[10 + dl] == '/' && dec(name + 11 + dl, strlen(name + 11 + dl), e) && *e > 0;
}

static void check_inventory(struct vst *v)
{
	for (size_t i = 0; i < sizeof(required_members) / sizeof(*required_members); i++)
		if (bundle_find(v->b, required_members[i]) == NULL)
			bundle_problem(v->rep, "%s is missing from the bundle", required_members[i]);
	for (size_t i = 0; i < bundle_count(v->b); i++) {
		const char *name = bundle_file_at(v->b, i)->name;
		uint64_t a, n;
		bool known = strcmp(name, "MANIFEST.sha256") == 0 || strcmp(name, "MANIFEST.note") == 0;
		for (size_t k = 0; !known && k < sizeof(required_members) / sizeof(*required_members); k++)
			known = strcmp(name, required_members[k]) == 0;
		if (known || anchor_name(name, "archive", &a) || anchor_name(name, "audit", &a) ||
		    rotation_name(name, "archive", &a) || rotation_name(name, "audit", &a) ||
		    consistency_name(name, "archive", &a, &n) || consistency_name(name, "audit", &a, &n))
			continue;
		if (strncmp(name, "messages/", 9) == 0 && v->set_read) {
			const char *b = name + 9, *dot = strrchr(b, '.');
			if (dot != NULL && strchr(b, '/') == NULL &&
			    (strcmp(dot, ".eml") == 0 || strcmp(dot, ".tlog-proof") == 0) &&
			    find_bates(v, b, (size_t)(dot - b)) != NULL)
				continue;
		}
		bundle_problem(v->rep, "unexpected member %s (not part of this export)", name);
	}
}

/* --- the request and the export's audit event --------------------------------------- */

static const char *req_str(struct vst *v, const char *key)
{
	json_t *j = v->req ? json_object_get(v->req, key) : NULL;
	return json_is_string(j) ? json_string_value(j) : NULL;
}

static int64_t req_int(struct vst *v, const char *obj, const char *key)
{
	json_t *j = v->req ? (obj ? json_object_get(v->req, obj) : v->req) : NULL;
	j = j ? json_object_get(j, key) : NULL;
	return json_is_integer(j) ? (int64_t)json_integer_value(j) : -1;
}

static void read_request(struct vst *v)
{
	const struct bundle_file *f = bundle_find(v->b, "export/request.json");
	json_error_t je;
	if (f == NULL)
		return;
	if (f->data == NULL || f->size > PV_EXPORT_REQUEST_MAX ||
	    (v->req = json_loadb((const char *)f->data, f->size, JSON_REJECT_DUPLICATES, &je)) == NULL ||
	    !json_is_object(v->req)) {
		bundle_problem(v->rep, "export/request.json is not a JSON object");
		json_decref(v->req);
		v->req = NULL;
		return;
	}
	const char *fmt = req_str(v, "format");
	if (fmt == NULL || strcmp(fmt, EDISCOVERY_REQUEST_FORMAT) != 0 || !req_str(v, "query") ||
	    !req_str(v, "matter") || !req_str(v, "actor") || !req_str(v, "time"))
		bundle_problem(v->rep, "export/request.json lacks format, query, matter, actor or time");
	if (v->set_read && (req_int(v, NULL, "messages") != (int64_t)v->n ||
			    req_int(v, NULL, "disposed") != (int64_t)v->nd))
		bundle_problem(v->rep, "export/request.json counts %lld messages and %lld disposed, "
				       "export/message-set %zu and %zu",
			       (long long)req_int(v, NULL, "messages"),
			       (long long)req_int(v, NULL, "disposed"), v->n, v->nd);
	if (v->acp_state >= 0 && req_int(v, "archive", "size") != (int64_t)v->acp.size)
		bundle_problem(v->rep, "export/request.json names archive size %lld, "
				       "archive/checkpoint has %llu",
			       (long long)req_int(v, "archive", "size"), (unsigned long long)v->acp.size);
}

/* Parses a proof member and checks it against the checkpoint member cpf
 * (same bytes) whose parsed body is cp; the entry is the extra data, after
 * a "salt <hex>" line when salted. Returns 1 when the inclusion holds
 * (p_r filled, free it), 0 after reporting a problem. */
static int check_proof(struct vst *v, const char *name, const uint8_t *data, size_t size,
		       const struct bundle_file *cpf, const struct checkpoint *cp, const char *cpname,
		       bool salted, struct tlog_proof *p_r, const uint8_t **entry_r,
		       size_t *entry_len_r)
{
	struct pv_error e;
	merkle_hash leaf;
	if (data == NULL) {
		bundle_problem(v->rep, "%s is too big to be a proof", name);
		return 0;
	}
	if (tlog_proof_parse((const char *)data, size, p_r, &e) != 0) {
		bundle_problem(v->rep, "%s is not a tlog-proof (%s)", name, e.msg);
		return 0;
	}
	if (cpf == NULL || cpf->data == NULL || p_r->checkpoint_len != cpf->size ||
	    memcmp(p_r->checkpoint, cpf->data, cpf->size) != 0) {
		bundle_problem(v->rep, "%s is not against %s (it carries another checkpoint)", name,
			       cpname);
		tlog_proof_free(p_r);
		return 0;
	}
	if (!p_r->has_extra || p_r->extra_len == 0) {
		bundle_problem(v->rep, "%s carries no entry (no extra line)", name);
		tlog_proof_free(p_r);
		return 0;
	}
	*entry_r = p_r->extra;
	*entry_len_r = p_r->extra_len;
	if (salted) {
		/* Message proofs: "salt <hex>\n" then the leaf. */
		const uint8_t *nl = memchr(p_r->extra, '\n', p_r->extra_len);
		if (nl == NULL || nl - p_r->extra != 5 + 64 || memcmp(p_r->extra, "salt ", 5) != 0) {
			bundle_problem(v->rep, "%s: its extra data is not \"salt <hex>\" and a leaf", name);
			tlog_proof_free(p_r);
			return 0;
		}
		*entry_r = nl + 1;
		*entry_len_r = p_r->extra_len - (size_t)(nl + 1 - p_r->extra);
	}
	merkle_leaf_hash(*entry_r, *entry_len_r, leaf);
	if (merkle_verify_inclusion(p_r->index, cp->size, leaf, p_r->hashes, p_r->n_hashes, cp->root,
				    &e) != 0) {
		bundle_problem(v->rep, "%s: the entry is not leaf %llu of %s's tree (%s)", name,
			       (unsigned long long)p_r->index, cpname, e.msg);
		tlog_proof_free(p_r);
		return 0;
	}
	return 1;
}

/* The object's value for key ("key=value" words), or NULL. */
static const char *obj_val(const char *obj, const char *key, size_t *len_r)
{
	size_t kl = strlen(key);
	for (const char *p = obj; p && *p;) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			*len_r = strcspn(p + kl + 1, " ");
			return p + kl + 1;
		}
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	return NULL;
}

static bool obj_u64(const char *obj, const char *key, uint64_t *v_r)
{
	size_t l;
	const char *p = obj_val(obj, key, &l);
	return p != NULL && dec(p, l, v_r);
}

static void check_personal(struct vst *v, const struct audit_entry *e)
{
	const struct bundle_file *f = bundle_find(v->b, "audit/export-event.personal.json");
	json_t *j = NULL, *pd = NULL;
	json_error_t je;
	uint8_t salt[AUDIT_SALT_LEN], commit[AUDIT_COMMIT_LEN];
	const char *data, *salth, *pm, *pq, *rm = req_str(v, "matter"), *rq = req_str(v, "query");
	if (f == NULL)
		return;
	if (f->data == NULL ||
	    (j = json_loadb((const char *)f->data, f->size, JSON_REJECT_DUPLICATES, &je)) == NULL ||
	    json_unpack(j, "{s:I, s:s, s:s}", "seq", &(json_int_t){0}, "salt", &salth, "data", &data) != 0 ||
	    !hex32(salth, strlen(salth), salt)) {
		bundle_problem(v->rep, "audit/export-event.personal.json is malformed");
		goto out;
	}
	if (json_integer_value(json_object_get(j, "seq")) != (json_int_t)e->seq)
		bundle_problem(v->rep, "audit/export-event.personal.json is for another entry");
	size_t dl = json_string_length(json_object_get(j, "data"));
	auditlog_commitment(salt, data, dl, commit);
	if (!e->has_commit || sodium_memcmp(commit, e->commit, sizeof(commit)) != 0) {
		bundle_problem(v->rep, "audit/export-event.personal.json does not match the export "
				       "event's commitment: the query or matter differ from the audit log");
		goto out;
	}
	if ((pd = json_loadb(data, dl, JSON_REJECT_DUPLICATES, &je)) == NULL ||
	    json_unpack(pd, "{s:s, s:s}", "matter", &pm, "query", &pq) != 0 || rm == NULL ||
	    rq == NULL || strcmp(pm, rm) != 0 || strcmp(pq, rq) != 0) {
		bundle_problem(v->rep, "export/request.json: its query or matter is not the one "
				       "recorded in the audit log");
		goto out;
	}
	bundle_info(v->rep, "ok: the query and matter are the ones recorded in the audit log");
out:
	json_decref(pd);
	json_decref(j);
}

static void check_event(struct vst *v)
{
	const struct bundle_file *f = bundle_find(v->b, "audit/export-event.tlog-proof");
	const struct bundle_file *sf = bundle_find(v->b, "export/message-set");
	uint8_t *buf = NULL;
	struct tlog_proof p;
	struct audit_entry e;
	struct pv_error pe;
	const uint8_t *leaf;
	size_t len;
	uint64_t nm, nd, as;
	size_t hl;
	char hex[65], t[PV_RFC3339_LEN];
	if (f == NULL || v->aucp_state < 0)
		return;
	memset(&p, 0, sizeof(p));
	const uint8_t *data = small_member(v, f, NULL, PV_TLOG_PROOF_MAX, &buf);
	int ok = check_proof(v, "audit/export-event.tlog-proof", data, f->size, v->aucp_file,
			     &v->aucp, "audit/checkpoint", false, &p, &leaf, &len);
	if (!ok) {
		free(buf);
		return;
	}
	if (auditlog_leaf_parse(leaf, len, p.index, &e, &pe) != 0 || e.kind != AUDIT_ENTRY_EVENT) {
		bundle_problem(v->rep, "audit/export-event.tlog-proof: its entry is not an audit event "
				       "(%s)", pe.msg);
		goto out;
	}
	if (p.index + 1 != v->aucp.size)
		bundle_problem(v->rep, "audit/checkpoint does not end with the export event (leaf %llu "
				       "of %llu): the bundle does not carry the checkpoint of its own "
				       "export", (unsigned long long)p.index,
			       (unsigned long long)v->aucp.size);
	if (strcmp(e.type, AUDIT_EXPORT) != 0 || strcmp(e.outcome, "ok") != 0) {
		bundle_problem(v->rep, "audit leaf %llu is a '%s' event, not this export",
			       (unsigned long long)p.index, e.type);
		goto out;
	}
	const char *sh = obj_val(e.object, "set-sha256", &hl);
	if (sf != NULL)
		pv_hex(sf->sha256, 32, hex);
	if (sh == NULL || sf == NULL || hl != 64 || memcmp(sh, hex, 64) != 0)
		bundle_problem(v->rep, "export/message-set is not the set the audit log recorded for "
				       "this export (its SHA-256 differs from the event's set-sha256)");
	if (!obj_u64(e.object, "messages", &nm) || !obj_u64(e.object, "disposed", &nd) ||
	    (v->set_read && (nm != v->n || nd != v->nd)))
		bundle_problem(v->rep, "the export event counts other messages than export/message-set");
	if (!obj_u64(e.object, "archive-size", &as) || (v->acp_state >= 0 && as != v->acp.size))
		bundle_problem(v->rep, "archive/checkpoint is not the archive checkpoint the export "
				       "event names");
	pv_clock_format_rfc3339(e.time, t);
	const char *ra = req_str(v, "actor"), *rt = req_str(v, "time");
	if (ra == NULL || strcmp(ra, e.actor) != 0 || rt == NULL || strcmp(rt, t) != 0)
		bundle_problem(v->rep, "export/request.json names another actor or time than the audit "
				       "log (%s at %s)", e.actor, t);
	if (req_int(v, "audit", "export_event") != (int64_t)p.index)
		bundle_problem(v->rep, "export/request.json names another audit event than leaf %llu",
			       (unsigned long long)p.index);
	bundle_info(v->rep, "ok: the export is audit leaf %llu (%s by %s), covered by "
			    "audit/checkpoint", (unsigned long long)p.index, t, e.actor);
	check_personal(v, &e);
out:
	tlog_proof_free(&p);
	free(buf);
}

/* --- messages: proofs and content --------------------------------------------------- */

static void check_message_proof(struct vst *v, struct vmsg *m, const uint8_t *data, size_t size)
{
	struct tlog_proof p;
	struct archive_leaf l;
	struct pv_error e;
	const uint8_t *leaf;
	size_t len;
	char name[BATES_LEN_MAX + 32];
	if (v->acp_state < 0)
		return;
	snprintf(name, sizeof(name), "messages/%s.tlog-proof", m->bates);
	memset(&p, 0, sizeof(p));
	if (!check_proof(v, name, data, size, v->acp_file, &v->acp, "archive/checkpoint", true, &p,
			 &leaf, &len))
		return;
	if (archive_leaf_parse((const char *)leaf, len, &l, &e) != 0 || l.kind != LEAF_MESSAGE) {
		bundle_problem(v->rep, "%s: its entry is not a message leaf (%s)", name, e.msg);
		goto out;
	}
	if (l.seq != m->id) {
		bundle_problem(v->rep, "%s carries the leaf of message %lld, not of message %lld (%s): "
				       "proofs swapped or replaced?",
			       name, (long long)l.seq, (long long)m->id, m->bates);
		goto out;
	}
	if (p.index != m->leaf_index) {
		bundle_problem(v->rep, "%s proves leaf %llu; export/message-set puts message %lld at "
				       "leaf %llu", name, (unsigned long long)p.index, (long long)m->id,
			       (unsigned long long)m->leaf_index);
		goto out;
	}
	if (!hex32(l.commit, strlen(l.commit), m->commit) ||
	    hex_decode_lower((const char *)p.extra + 5, 64, m->salt, 32) != 0) {
		bundle_problem(v->rep, "%s: malformed commitment or salt", name);
		goto out;
	}
	m->leaf_ok = true;
out:
	tlog_proof_free(&p);
}

/* Hashes of bytes believed to be one message. */
struct digest {
	crypto_generichash_state commit;
	crypto_hash_sha256_state sha;
	EVP_MD_CTX *md5;
	uint64_t size;
};

static int digest_init(struct digest *d, const struct vmsg *m)
{
	memset(d, 0, sizeof(*d));
	crypto_generichash_init(&d->commit, m->salt, sizeof(m->salt), sizeof(m->commit));
	crypto_hash_sha256_init(&d->sha);
	if ((d->md5 = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(d->md5, EVP_md5(), NULL) != 1) {
		EVP_MD_CTX_free(d->md5);
		d->md5 = NULL;
		return -1;
	}
	return 0;
}

static void digest_update(struct digest *d, const void *p, size_t n)
{
	crypto_generichash_update(&d->commit, p, n);
	crypto_hash_sha256_update(&d->sha, p, n);
	EVP_DigestUpdate(d->md5, p, n);
	d->size += n;
}

/* Finishes d: *commit_ok, sha256 and md5 of the bytes. */
static void digest_final(struct digest *d, const struct vmsg *m, bool *commit_ok,
			 uint8_t sha[32], uint8_t md5[16])
{
	uint8_t c[32];
	unsigned ml = 0;
	crypto_generichash_final(&d->commit, c, sizeof(c));
	crypto_hash_sha256_final(&d->sha, sha);
	EVP_DigestFinal_ex(d->md5, md5, &ml);
	EVP_MD_CTX_free(d->md5);
	d->md5 = NULL;
	*commit_ok = sodium_memcmp(c, m->commit, sizeof(c)) == 0;
}

/* Bytes whose SHA-256 is the .eml's were checked against the commitment. */
static void content_verdict(struct vst *v, struct vmsg *m, bool commit_ok, const uint8_t md5[16])
{
	if (commit_ok) {
		m->content_ok = true;
		memcpy(m->md5, md5, 16);
		m->have_md5 = true;
		if (sodium_memcmp(m->eml->sha256, m->sha256, 32) != 0 || m->eml->size != m->size)
			bundle_problem(v->rep, "messages/%s.eml matches its archive leaf, but not the "
					       "SHA-256 and size in export/message-set",
				       m->bates);
	} else if (!m->content_bad) {
		m->content_bad = true;
		bundle_problem(v->rep, "messages/%s.eml does not match its archive leaf (message %lld, "
				       "leaf %llu): its content differs from what was archived",
			       m->bates, (long long)m->id, (unsigned long long)m->leaf_index);
	}
}

/* An .eml against its leaf: from memory when kept, else from s. */
static void check_eml(struct vst *v, struct vmsg *m, struct bundle_stream *s)
{
	struct digest d;
	struct pv_error e;
	uint8_t sha[32], md5[16], *buf = NULL;
	size_t got;
	bool ok;
	int r = 0;
	if (!m->leaf_ok || m->eml == NULL || (m->eml->data == NULL && s == NULL))
		return;
	if (digest_init(&d, m) < 0 || (m->eml->data == NULL && (buf = malloc(STREAM_CHUNK)) == NULL)) {
		bundle_problem(v->rep, "out of memory (or no MD5)");
		return;
	}
	if (m->eml->data != NULL)
		digest_update(&d, m->eml->data, m->eml->size);
	else
		while ((r = bundle_stream_read(s, buf, STREAM_CHUNK, &got, &e)) == 0 && got > 0)
			digest_update(&d, buf, got);
	digest_final(&d, m, &ok, sha, md5);
	free(buf);
	if (r != 0) {
		bundle_problem(v->rep, "messages/%s.eml could not be read again (%s)", m->bates, e.msg);
		return;
	}
	content_verdict(v, m, ok, md5);
}

/* The mbox, streamed once: each record against its message. */
struct mboxctx {
	struct vst *v;
	struct vmsg *cur;
	struct digest d;
	bool digesting;
	uint64_t record;
	uint8_t last;        /* the last byte of the record */
	uint8_t held;        /* a byte past the message size, at most one */
	uint64_t extra;
	uint64_t bad_records;
};

static int mb_begin(void *ctx, const char *from, size_t len, struct pv_error *err)
{
	struct mboxctx *c = ctx;
	const char *p = from + 5, *end = from + len;
	const char *at = memchr(p, '@', (size_t)(end - p));
	(void)err;
	c->record++;
	c->cur = NULL;
	c->digesting = false;
	c->extra = 0;
	if (at == NULL || (c->cur = find_bates(c->v, p, (size_t)(at - p))) == NULL) {
		bundle_problem(c->v->rep, "messages.mbox: record %llu (%.*s) is not a message of "
					  "this export", (unsigned long long)c->record,
			       (int)(len > 120 ? 120 : len), from);
		return 0;
	}
	if (c->cur->in_mbox) {
		bundle_problem(c->v->rep, "messages.mbox: %s appears twice", c->cur->bates);
		c->cur = NULL;
		return 0;
	}
	c->cur->in_mbox = true;
	if (c->cur->leaf_ok && digest_init(&c->d, c->cur) == 0)
		c->digesting = true;
	return 0;
}

static int mb_data(void *ctx, const void *data, size_t n, struct pv_error *err)
{
	struct mboxctx *c = ctx;
	const uint8_t *p = data;
	(void)err;
	if (!c->digesting)
		return 0;
	/* Up to the message size, then at most one '\n' (mbox.h). */
	uint64_t room = c->cur->size - c->d.size;
	size_t k = n < room ? n : (size_t)room;
	if (k > 0) {
		digest_update(&c->d, p, k);
		c->last = p[k - 1];
	}
	if (n > k) {
		if (c->extra == 0)
			c->held = p[k];
		c->extra += n - k;
	}
	return 0;
}

static int mb_end(void *ctx, struct pv_error *err)
{
	struct mboxctx *c = ctx;
	struct vmsg *m = c->cur;
	uint8_t sha[32], md5[16];
	bool ok;
	(void)err;
	if (!c->digesting)
		return 0;
	c->digesting = false;
	digest_final(&c->d, m, &ok, sha, md5);
	bool sized = c->d.size == m->size &&
		     (c->extra == 0 || (c->extra == 1 && c->held == '\n' && m->size > 0 && c->last != '\n'));
	if (!sized || !ok) {
		c->bad_records++;
		bundle_problem(c->v->rep, "messages.mbox: the record of %s is not the archived message "
					  "(message %lld)", m->bates, (long long)m->id);
		return 0;
	}
	if (!m->have_md5) {
		memcpy(m->md5, md5, 16);
		m->have_md5 = true;
	}
	return 0;
}

static void check_mbox(struct vst *v, struct bundle_stream *s)
{
	struct mboxctx c;
	struct mbox_reader r;
	struct pv_error e;
	uint8_t *buf = malloc(STREAM_CHUNK);
	size_t got;
	int rc;
	if (buf == NULL) {
		bundle_problem(v->rep, "out of memory");
		return;
	}
	memset(&c, 0, sizeof(c));
	c.v = v;
	struct mbox_reader_cb cb = {mb_begin, mb_data, mb_end, &c};
	mbox_reader_init(&r, &cb);
	while ((rc = bundle_stream_read(s, buf, STREAM_CHUNK, &got, &e)) == 0 && got > 0)
		if ((rc = mbox_reader_feed(&r, buf, got, &e)) != 0)
			break;
	if (rc == 0)
		rc = mbox_reader_finish(&r, &e);
	if (rc != 0)
		bundle_problem(v->rep, "messages.mbox could not be read to the end (%s)", e.msg);
	if (c.digesting)
		EVP_MD_CTX_free(c.d.md5);
	size_t missing = 0;
	for (size_t i = 0; i < v->n; i++)
		if (!v->m[v->by_bates[i]].in_mbox && missing++ < 20)
			bundle_problem(v->rep, "messages.mbox: no record for %s", v->m[v->by_bates[i]].bates);
	if (missing > 20)
		bundle_problem(v->rep, "messages.mbox: %zu more messages missing", missing - 20);
	if (rc == 0 && missing == 0 && c.bad_records == 0 && c.record == v->n)
		bundle_info(v->rep, "ok: messages.mbox holds every message, byte for byte");
	free(buf);
}

/* --- load files --------------------------------------------------------------------- */

struct lfctx {
	enum loadfile_kind kind;
	const char *name;
	struct loadfile_fields f;
	const char *const *head;
	size_t nhead;
	bool header_ok;
	uint64_t rows, bad;
};

/* Reports a mismatch of column col of message m; true when it matched. */
static bool lf_eq(struct vst *v, struct lfctx *c, uint64_t no, const struct vmsg *m, size_t col,
		  const char *want)
{
	if (strcmp(loadfile_field(&c->f, col), want) == 0)
		return true;
	if (c->bad++ < 20)
		bundle_problem(v->rep, "%s line %llu: %s of %s is '%.80s', not '%s'", c->name,
			       (unsigned long long)no, c->head[col], m->bates, loadfile_field(&c->f, col),
			       want);
	return false;
}

static int lf_line(struct vst *v, void *ctx, uint64_t no, const char *l, size_t n)
{
	struct lfctx *c = ctx;
	struct pv_error e;
	if (no == 1 && c->kind == LOADFILE_DAT) {
		if (n < 3 || memcmp(l, LOADFILE_BOM, 3) != 0) {
			bundle_problem(v->rep, "%s does not start with a UTF-8 byte-order mark", c->name);
			return 1;
		}
		l += 3;
		n -= 3;
	}
	if (loadfile_parse(c->kind, l, n, &c->f, &e) != 0) {
		if (c->bad++ < 20)
			bundle_problem(v->rep, "%s line %llu is malformed (%s)", c->name,
				       (unsigned long long)no, e.msg);
		return 0;
	}
	if (no == 1) {
		c->header_ok = c->f.n == c->nhead;
		for (size_t i = 0; c->header_ok && i < c->nhead; i++)
			c->header_ok = strcmp(loadfile_field(&c->f, i), c->head[i]) == 0;
		if (!c->header_ok) {
			bundle_problem(v->rep, "%s: the header row is not the one this format has", c->name);
			return 1;
		}
		return 0;
	}
	c->rows++;
	if (c->f.n != c->nhead) {
		if (c->bad++ < 20)
			bundle_problem(v->rep, "%s line %llu has %zu fields, not %zu", c->name,
				       (unsigned long long)no, c->f.n, c->nhead);
		return 0;
	}
	struct vmsg *m = find_bates(v, loadfile_field(&c->f, 0), c->f.len[0]);
	if (m == NULL) {
		if (c->bad++ < 20)
			bundle_problem(v->rep, "%s line %llu: %.80s is not a message of this export",
				       c->name, (unsigned long long)no, loadfile_field(&c->f, 0));
		return 0;
	}
	bool *seen = c->kind == LOADFILE_DAT ? &m->in_dat : &m->in_csv;
	if (*seen) {
		if (c->bad++ < 20)
			bundle_problem(v->rep, "%s line %llu lists %s again", c->name,
				       (unsigned long long)no, m->bates);
		return 0;
	}
	*seen = true;
	char sha[65], id[24], size[24], file[BATES_LEN_MAX + 8], path[BATES_LEN_MAX + 20];
	pv_hex(m->sha256, 32, sha);
	snprintf(id, sizeof(id), "%lld", (long long)m->id);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)m->size);
	snprintf(file, sizeof(file), "%s.eml", m->bates);
	snprintf(path, sizeof(path), "messages/%s.eml", m->bates);
	/* MD5 is compared once the content has streamed by (later). */
	size_t mcol = c->kind == LOADFILE_DAT ? 17 : 13;
	uint8_t *claim = c->kind == LOADFILE_DAT ? m->dat_md5 : m->csv_md5;
	if (c->f.len[mcol] != 32 || hex_decode_lower(loadfile_field(&c->f, mcol), 32, claim, 16) != 0) {
		if (c->bad++ < 20)
			bundle_problem(v->rep, "%s line %llu: %s of %s is not an MD5", c->name,
				       (unsigned long long)no, c->head[mcol], m->bates);
		memset(claim, 0, 16);
	}
	*(c->kind == LOADFILE_DAT ? &m->dat_line : &m->csv_line) = no;
	if (c->kind == LOADFILE_DAT) {
		/* BEGBATES ENDBATES ... ArchiveID(12) FileSize(13) FileName NativePath SHA256 MD5 */
		lf_eq(v, c, no, m, 1, m->bates);
		lf_eq(v, c, no, m, 12, id);
		lf_eq(v, c, no, m, 13, size);
		lf_eq(v, c, no, m, 14, file);
		lf_eq(v, c, no, m, 15, path);
		lf_eq(v, c, no, m, 16, sha);
	} else {
		/* bates id ... size(11) sha256 md5 file */
		lf_eq(v, c, no, m, 1, id);
		lf_eq(v, c, no, m, 11, size);
		lf_eq(v, c, no, m, 12, sha);
		lf_eq(v, c, no, m, 14, path);
	}
	return 0;
}

static void check_loadfile(struct vst *v, enum loadfile_kind kind, struct bundle_stream *s)
{
	static const char *const dat[] = {EDISCOVERY_DAT_FIELDS};
	static const char *const csv[] = {EDISCOVERY_CSV_FIELDS};
	struct lfctx c;
	memset(&c, 0, sizeof(c));
	c.kind = kind;
	c.name = kind == LOADFILE_DAT ? "loadfile.dat" : "index.csv";
	c.head = kind == LOADFILE_DAT ? dat : csv;
	c.nhead = kind == LOADFILE_DAT ? EDISCOVERY_DAT_NFIELDS : EDISCOVERY_CSV_NFIELDS;
	loadfile_fields_init(&c.f, PV_BUNDLE_LINE_MAX);
	(void)lines_of(v, c.name, s, true, lf_line, &c);
	loadfile_fields_free(&c.f);
	v->lf_bad[kind == LOADFILE_CSV] = c.header_ok ? c.bad : UINT64_MAX;
}

/* After the pass: every message listed, with the MD5 of its content. */
static void loadfile_verdict(struct vst *v, enum loadfile_kind kind)
{
	const char *name = kind == LOADFILE_DAT ? "loadfile.dat" : "index.csv";
	uint64_t bad = v->lf_bad[kind == LOADFILE_CSV];
	size_t missing = 0;
	if (bad == UINT64_MAX || bundle_find(v->b, name) == NULL)
		return; /* not there, or a wrong header: reported */
	for (size_t i = 0; i < v->n; i++) {
		const struct vmsg *m = &v->m[v->by_bates[i]];
		bool seen = kind == LOADFILE_DAT ? m->in_dat : m->in_csv;
		const uint8_t *claim = kind == LOADFILE_DAT ? m->dat_md5 : m->csv_md5;
		if (!seen) {
			if (missing++ < 20)
				bundle_problem(v->rep, "%s does not list %s", name, m->bates);
		} else if (m->have_md5 && sodium_memcmp(claim, m->md5, 16) != 0 && bad++ < 20) {
			bundle_problem(v->rep, "%s line %llu: the MD5 of %s is not that of its content",
				       name, (unsigned long long)(kind == LOADFILE_DAT ? m->dat_line
											: m->csv_line),
				       m->bates);
		}
	}
	if (bad > 20)
		bundle_problem(v->rep, "%s: %llu more problems", name, (unsigned long long)(bad - 20));
	if (missing == 0 && bad == 0)
		bundle_info(v->rep, "ok: %s lists every message with its hashes", name);
}

struct dispctx {
	struct loadfile_fields f;
	bool bad;
};

static int disp_line(struct vst *v, void *ctx, uint64_t no, const char *l, size_t n)
{
	struct dispctx *c = ctx;
	struct pv_error e;
	uint64_t id;
	char pol[24];
	if (loadfile_parse(LOADFILE_CSV, l, n, &c->f, &e) != 0 || c->f.n != 4) {
		bundle_problem(v->rep, "disposed.csv line %llu is malformed", (unsigned long long)no);
		c->bad = true;
		return 1;
	}
	if (no == 1) {
		if (strcmp(loadfile_field(&c->f, 0), "id") != 0 ||
		    strcmp(loadfile_field(&c->f, 1), "bates") != 0 ||
		    strcmp(loadfile_field(&c->f, 2), "disposed") != 0 ||
		    strcmp(loadfile_field(&c->f, 3), "policy_version") != 0) {
			bundle_problem(v->rep, "disposed.csv: the header row is not the one this format has");
			c->bad = true;
			return 1;
		}
		return 0;
	}
	struct vdisp *d = NULL;
	if (dec(loadfile_field(&c->f, 0), c->f.len[0], &id) && id <= INT64_MAX &&
	    (d = find_disposed(v, (int64_t)id)) != NULL && d->in_csv)
		d = NULL;
	if (d != NULL)
		snprintf(pol, sizeof(pol), "%lld", (long long)d->policy);
	if (d == NULL || strcmp(loadfile_field(&c->f, 1), d->bates) != 0 ||
	    strcmp(loadfile_field(&c->f, 2), d->time) != 0 ||
	    strcmp(loadfile_field(&c->f, 3), pol) != 0) {
		bundle_problem(v->rep, "disposed.csv line %llu is not in export/message-set",
			       (unsigned long long)no);
		c->bad = true;
		return 0;
	}
	d->in_csv = true;
	return 0;
}

static void check_disposed(struct vst *v, struct bundle_stream *s)
{
	struct dispctx c;
	memset(&c, 0, sizeof(c));
	loadfile_fields_init(&c.f, PV_BUNDLE_LINE_MAX);
	(void)lines_of(v, "disposed.csv", s, true, disp_line, &c);
	loadfile_fields_free(&c.f);
	for (size_t i = 0; i < v->nd; i++)
		if (!v->d[i].in_csv)
			bundle_problem(v->rep, "disposed.csv does not list message %lld",
				       (long long)v->d[i].id);
}

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
		    b64_decode(p, (size_t)(nl - p), proof[*n], MERKLE_HASH_LEN, &hl) != 0 ||
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

static void check_anchors(struct vst *v, const char *dir, const struct checkpoint *fin, int state)
{
	char what[96];
	for (size_t i = 0; i < bundle_count(v->b) && state >= 0; i++) {
		const struct bundle_file *f = bundle_file_at(v->b, i);
		struct checkpoint cp;
		uint64_t a, n;
		if (consistency_name(f->name, dir, &a, &n)) {
			snprintf(what, sizeof(what), "%s/checkpoints/%llu", dir, (unsigned long long)a);
			if (n != fin->size || bundle_find(v->b, what) == NULL)
				bundle_problem(v->rep, "%s belongs to no checkpoint of this bundle", f->name);
			continue;
		}
		if (!anchor_name(f->name, dir, &a))
			continue;
		if (open_cp(v, f->name, f, &cp) < 0) {
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

static void check_last(struct vst *v, const char *last, size_t len)
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

/* --- the pass over every member ------------------------------------------------------- */

/* "messages/<BATES><suffix>" -> its message, or NULL. */
static struct vmsg *message_member(struct vst *v, const char *name, const char *suffix)
{
	size_t n = strlen(name), sl = strlen(suffix);
	if (strncmp(name, "messages/", 9) != 0 || n <= 9 + sl || strcmp(name + n - sl, suffix) != 0)
		return NULL;
	return find_bates(v, name + 9, n - 9 - sl);
}

static int each_member(void *ctx, const struct bundle_file *f, struct bundle_stream *s)
{
	struct vst *v = ctx;
	struct vmsg *m;
	uint8_t *buf = NULL;
	if (strcmp(f->name, "MANIFEST.note") == 0 && f->data == NULL && f->size <= PV_NOTE_MAX) {
		v->note = (uint8_t *)small_member(v, f, s, PV_NOTE_MAX, &buf);
		v->note_len = f->size;
		return 0;
	}
	if (!v->set_read)
		return 0;
	if ((m = message_member(v, f->name, ".tlog-proof")) != NULL && m->proof == f) {
		const uint8_t *data = small_member(v, f, s, PV_TLOG_PROOF_MAX, &buf);
		check_message_proof(v, m, data, f->size);
		free(buf);
	} else if ((m = message_member(v, f->name, ".eml")) != NULL && m->eml == f) {
		check_eml(v, m, s);
	} else if (strcmp(f->name, "messages.mbox") == 0) {
		check_mbox(v, s);
	} else if (strcmp(f->name, "loadfile.dat") == 0) {
		check_loadfile(v, LOADFILE_DAT, s);
	} else if (strcmp(f->name, "index.csv") == 0) {
		check_loadfile(v, LOADFILE_CSV, s);
	} else if (strcmp(f->name, "disposed.csv") == 0) {
		check_disposed(v, s);
	}
	return 0;
}

/* bundle.c keeps small members in memory up to a total
 * (PV_BUNDLE_KEPT_MAX); a bundle of many messages uses it up before
 * MANIFEST.note, its last member, which bundle_check_manifest then calls
 * missing. Until bundle.c always keeps that note, it is checked here from
 * the copy the pass read, as bundle_check_manifest would. */
struct note_filter {
	struct bundle_report *rep;
	bool drop_missing;
	uint64_t forwarded; /* problems passed on */
};

static void filter_line(void *ctx, bool problem, const char *msg)
{
	struct note_filter *nf = ctx;
	if (problem && nf->drop_missing && strcmp(msg, "MANIFEST.note is missing") == 0)
		return;
	if (problem) {
		nf->forwarded++;
		bundle_problem(nf->rep, "%s", msg);
	} else
		bundle_info(nf->rep, "%s", msg);
}

static void check_manifest(struct vst *v)
{
	const struct bundle_file *nf = bundle_find(v->b, "MANIFEST.note");
	const struct bundle_file *mf = bundle_find(v->b, "MANIFEST.sha256");
	const char *signer = v->acp_state >= 0 ? v->acp.origin : NULL;
	struct note_filter filt = {v->rep, nf != NULL && nf->data == NULL && v->note != NULL, 0};
	struct bundle_report rep = {filter_line, &filt, 0, 0};
	if (bundle_check_manifest(v->b, v->keys, v->nkeys, signer, &rep) != 0) {
		/* each problem went to v->rep */
	}
	if (!filt.drop_missing)
		return;
	if (filt.forwarded == 0)
		bundle_info(v->rep, "ok: MANIFEST.sha256 matches all other members");
	struct note_verifier *ok = calloc(v->nkeys ? v->nkeys : 1, sizeof(*ok));
	struct pv_error e;
	size_t n_ok = 0, text_len;
	char want[256], hex[65] = "";
	for (size_t i = 0; ok != NULL && i < v->nkeys; i++)
		if (signer == NULL || strcmp(v->keys[i].name, signer) == 0)
			ok[n_ok++] = v->keys[i];
	if (mf != NULL)
		pv_hex(mf->sha256, 32, hex);
	snprintf(want, sizeof(want), BUNDLE_MANIFEST_MAGIC "\nkind %s\nsha256 %s\n",
		 bundle_kind(v->b) ? bundle_kind(v->b) : "?", hex);
	if (ok == NULL ||
	    note_open((const char *)v->note, v->note_len, ok, n_ok, &text_len, NULL, &e) != 0)
		bundle_problem(v->rep, "MANIFEST.note is not signed by a trusted key%s%s (%s)",
			       signer ? " of " : "", signer ? signer : "", ok ? e.msg : "out of memory");
	else if (mf == NULL || text_len != strlen(want) || memcmp(v->note, want, text_len) != 0)
		bundle_problem(v->rep, "MANIFEST.note does not match MANIFEST.sha256 (its SHA-256 "
				       "differs: the manifest was changed)");
	else
		bundle_info(v->rep, "ok: MANIFEST.note signed by %s", ok[0].name);
	free(ok);
}

/* --- key rotations ------------------------------------------------------------------- */

/* Extends the trusted keys along the rotation notes of log dir: a note
 * signed by a trusted key of the log, naming that key as the old one,
 * makes the new one trusted (integrity.md §3: the old key signs its
 * successor). keys has room for cap entries. */
static void follow_rotations(struct vst *v, const char *dir, struct note_verifier *keys,
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

/* --- the whole ------------------------------------------------------------------------- */

int ediscovery_verify(struct bundle *b, const struct note_verifier *keys, size_t nkeys,
		      const char *last_cp, size_t last_len, struct bundle_report *rep,
		      struct pv_error *err)
{
	struct vst v;
	struct pv_error e;
	uint64_t before = rep->problems;

	memset(&v, 0, sizeof(v));
	v.b = b;
	v.rep = rep;
	v.err = err;
	/* The given keys, and those their rotation notes introduce. */
	size_t cap = nkeys + 2 * 64;
	struct note_verifier *trusted = calloc(cap, sizeof(*trusted));
	if (trusted == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	memcpy(trusted, keys, nkeys * sizeof(*keys));
	v.nkeys = nkeys;
	follow_rotations(&v, "archive", trusted, &v.nkeys, cap);
	follow_rotations(&v, "audit", trusted, &v.nkeys, cap);
	v.keys = trusted;
	v.acp_file = bundle_find(b, "archive/checkpoint");
	v.aucp_file = bundle_find(b, "audit/checkpoint");
	v.acp_state = open_cp(&v, "archive/checkpoint", v.acp_file, &v.acp);
	v.aucp_state = open_cp(&v, "audit/checkpoint", v.aucp_file, &v.aucp);
	if (v.acp_state >= 0 && v.aucp_state >= 0 && strcmp(v.acp.origin, v.aucp.origin) == 0)
		bundle_problem(rep, "audit/checkpoint and archive/checkpoint are of the same log %s",
			       v.acp.origin);
	read_set(&v);
	check_inventory(&v);
	read_request(&v);
	check_event(&v);
	if (bundle_each(b, each_member, &v, &e) != 0)
		bundle_problem(rep, "the bundle could not be read a second time (%s)", e.msg);
	check_manifest(&v);
	size_t checked = 0;
	for (size_t i = 0; i < v.n; i++) {
		struct vmsg *m = &v.m[v.by_bates[i]];
		if (m->leaf_ok && m->eml != NULL && !m->content_ok && !m->content_bad) {
			check_eml(&v, m, NULL); /* an .eml kept, before its proof */
			if (!m->content_ok && !m->content_bad)
				bundle_problem(rep, "messages/%s.eml was not checked: it comes before its "
						    "proof in the bundle", m->bates);
		}
		checked += m->content_ok;
	}
	if (v.set_read) {
		loadfile_verdict(&v, LOADFILE_DAT);
		loadfile_verdict(&v, LOADFILE_CSV);
	}
	check_anchors(&v, "archive", &v.acp, v.acp_state);
	check_anchors(&v, "audit", &v.aucp, v.aucp_state);
	if (last_cp != NULL)
		check_last(&v, last_cp, last_len);
	if (v.set_read && checked == v.n)
		bundle_info(rep, "ok: all %zu messages are exactly what the archive holds (leaf "
				 "commitment and inclusion proof each)", v.n);
	json_decref(v.req);
	free(v.m);
	free(v.by_bates);
	free(v.d);
	free(v.note);
	free(trusted);
	return rep->problems == before ? 0 : PV_EINTEGRITY;
}
