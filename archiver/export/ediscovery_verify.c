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

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/export/ediscovery_int.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/number.h"
#include "archiver/store/leaf.h"
#include "audit/auditlog.h"
#include "audit/merkle.h"
#include "audit/tlog_proof.h"

/* --- small helpers ----------------------------------------------------------- */

bool edv_dec(const char *s, size_t n, uint64_t *v)
{
	return pv_parse_u64(s, n, 0, UINT64_MAX, PV_NUM_CANONICAL, v) == 0;
}

bool edv_hex32(const char *s, size_t n, uint8_t out[32])
{
	return n == 64 && pv_unhex_lower(s, 64, out, 32) == 0;
}

/* Opens a checkpoint with the keys trusted at its size; when that fails,
 * reports why and parses the body unverified so the structural checks can
 * go on. */
int edv_open_cp(struct vst *v, const char *what, const struct bundle_file *f,
		struct checkpoint *cp)
{
	struct pv_error e;
	if (f == NULL || f->data == NULL)
		return -1;
	int r = bundle_keys_open_checkpoint(v->keys, f->data, f->size, cp, &e);
	if (r == 1)
		bundle_info(v->rep, "ok: %s: log %s, %llu leaves, signed by a trusted key", what,
			    cp->origin, (unsigned long long)cp->size);
	else
		bundle_problem(v->rep, "%s is not a checkpoint signed by a trusted key (%s)", what,
			       e.msg);
	return r;
}

static int cmp_bates(const void *a, const void *b, void *ctx)
{
	const struct vmsg *m = ctx;
	return strcmp(m[*(const uint32_t *)a].bates, m[*(const uint32_t *)b].bates);
}

const struct bundle_file *edv_member(struct vst *v, const struct vmsg *m, const char *suffix)
{
	char name[BATES_LEN_MAX + 32];
	snprintf(name, sizeof(name), "messages/%s%s", m->bates, suffix);
	return bundle_find(v->b, name);
}

const uint8_t *edv_set_sha256(struct vst *v, const struct vmsg *m)
{
	static const uint8_t none[32];
	const struct bundle_file *eml;
	if (m->sha_is_eml && (eml = edv_member(v, m, ".eml")) != NULL)
		return eml->sha256;
	size_t lo = 0, hi = v->n_set_sha;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->set_sha[mid].id == m->id)
			return v->set_sha[mid].sha256;
		if (v->set_sha[mid].id < m->id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return none; /* out of memory while reading the set: reported */
}

struct vmsg *edv_find_bates(struct vst *v, const char *bates, size_t len)
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


int edv_lines_of(struct vst *v, const char *name, struct bundle_stream *s, bool crlf,
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
	r = edv_lines_of(v, name, s, crlf, fn, ctx);
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
	size_t cap_m, cap_d, cap_s;
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
	if (k == 6 && wl[0] == 7 && memcmp(w[0], "message", 7) == 0 && edv_dec(w[1], wl[1], &id) &&
	    id > 0 && id <= INT64_MAX && bates_valid(w[2], wl[2]) && edv_dec(w[3], wl[3], &leaf) &&
	    edv_dec(w[4], wl[4], &size)) {
		uint8_t sha[32];
		if (!edv_hex32(w[5], wl[5], sha))
			goto bad;
		if ((int64_t)id <= c->last_id)
			goto order;
		if (v->n == c->cap_m) {
			size_t cap = c->cap_m ? c->cap_m + c->cap_m / 2 : 256;
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
		if ((m->bates = pv_strpool_add(&v->names, w[2], wl[2])) == NULL) {
			v->n--;
			bundle_problem(v->rep, "out of memory");
			c->bad = true;
			return 1;
		}
		m->leaf_index = leaf;
		m->size = size;
		c->last_id = (int64_t)id;
		/* The hash is kept only when the .eml does not already carry it
		 * (ids increase: set_sha stays sorted). */
		const struct bundle_file *eml = edv_member(v, m, ".eml");
		m->sha_is_eml = eml != NULL && eml->size == size && sodium_memcmp(eml->sha256, sha, 32) == 0;
		if (!m->sha_is_eml) {
			if (v->n_set_sha == c->cap_s) {
				size_t cap = c->cap_s ? 2 * c->cap_s : 16;
				struct vsha *p = realloc(v->set_sha, cap * sizeof(*p));
				if (p == NULL) {
					bundle_problem(v->rep, "out of memory");
					c->bad = true;
					return 1;
				}
				v->set_sha = p;
				c->cap_s = cap;
			}
			v->set_sha[v->n_set_sha].id = m->id;
			memcpy(v->set_sha[v->n_set_sha++].sha256, sha, 32);
		}
		return 0;
	}
	if (k == 5 && wl[0] == 8 && memcmp(w[0], "disposed", 8) == 0 && edv_dec(w[1], wl[1], &id) &&
	    id > 0 && id <= INT64_MAX && wl[2] == PV_RFC3339_LEN - 1 && edv_dec(w[3], wl[3], &pol) &&
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
	struct setctx c = {0, 0, 0, 0, false};
	if (bundle_find(v->b, "export/message-set") == NULL)
		return; /* reported by the inventory */
	if (each_line(v, "export/message-set", false, set_line, &c) < 0) {
		v->n = v->nd = 0; /* unreadable: nothing to check messages against */
		return;
	}
	v->set_read = true;
	if (v->n > 0) { /* what stays for the rest of the check: no spare room */
		struct vmsg *p = realloc(v->m, v->n * sizeof(*p));
		if (p != NULL)
			v->m = p;
	}
	if ((v->by_bates = calloc(v->n ? v->n : 1, sizeof(*v->by_bates))) == NULL) {
		bundle_problem(v->rep, "out of memory");
		v->n = 0;
		return;
	}
	for (size_t i = 0; i < v->n; i++)
		v->by_bates[i] = (uint32_t)i;
	qsort_r(v->by_bates, v->n, sizeof(*v->by_bates), cmp_bates, v->m);
	for (size_t i = 1; i < v->n; i++)
		if (strcmp(v->m[v->by_bates[i - 1]].bates, v->m[v->by_bates[i]].bates) == 0)
			bundle_problem(v->rep, "export/message-set gives Bates number %s twice",
				       v->m[v->by_bates[i]].bates);
	for (size_t i = 0; i < v->n; i++) {
		struct vmsg *m = &v->m[i];
		if (!(m->has_eml = edv_member(v, m, ".eml") != NULL))
			bundle_problem(v->rep, "messages/%s.eml is missing (message %lld in "
					       "export/message-set)", m->bates, (long long)m->id);
		if (!(m->has_proof = edv_member(v, m, ".tlog-proof") != NULL))
			bundle_problem(v->rep, "messages/%s.tlog-proof is missing (message %lld in "
					       "export/message-set)", m->bates, (long long)m->id);
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
		if (known || bundle_trust_anchor_name(name, "archive", &a) ||
		    bundle_trust_anchor_name(name, "audit", &a) ||
		    bundle_trust_chain_name(name, "rotations/archive", &a) ||
		    bundle_trust_chain_name(name, "rotations/audit", &a) ||
		    bundle_trust_consistency_name(name, "archive", &a, &n) ||
		    bundle_trust_consistency_name(name, "audit", &a, &n) ||
		    bundle_external_name(name, "archive") || bundle_external_name(name, "audit") ||
		    bundle_trust_rotation_name(name, "audit", &a, NULL))
			continue;
		if (strncmp(name, "messages/", 9) == 0 && v->set_read) {
			const char *b = name + 9, *dot = strrchr(b, '.');
			if (dot != NULL && strchr(b, '/') == NULL &&
			    (strcmp(dot, ".eml") == 0 || strcmp(dot, ".tlog-proof") == 0) &&
			    edv_find_bates(v, b, (size_t)(dot - b)) != NULL)
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
	return p != NULL && edv_dec(p, l, v_r);
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
	    !edv_hex32(salth, strlen(salth), salt)) {
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
	if (!edv_hex32(l.commit, strlen(l.commit), m->commit) ||
	    pv_unhex_lower((const char *)p.extra + 5, 64, m->salt, 32) != 0) {
		bundle_problem(v->rep, "%s: malformed commitment or salt", name);
		goto out;
	}
	m->leaf_version = l.version;
	m->leaf_ok = true;
out:
	tlog_proof_free(&p);
}

/* --- the pass over every member ------------------------------------------------------- */

/* "messages/<BATES><suffix>" -> its message, or NULL. */
static struct vmsg *message_member(struct vst *v, const char *name, const char *suffix)
{
	size_t n = strlen(name), sl = strlen(suffix);
	if (strncmp(name, "messages/", 9) != 0 || n <= 9 + sl || strcmp(name + n - sl, suffix) != 0)
		return NULL;
	return edv_find_bates(v, name + 9, n - 9 - sl);
}

static int each_member(void *ctx, const struct bundle_file *f, struct bundle_stream *s)
{
	struct vst *v = ctx;
	struct vmsg *m;
	uint8_t *buf = NULL;
	if (!v->set_read)
		return 0;
	if ((m = message_member(v, f->name, ".tlog-proof")) != NULL && m->has_proof) {
		const uint8_t *data = small_member(v, f, s, PV_TLOG_PROOF_MAX, &buf);
		check_message_proof(v, m, data, f->size);
		free(buf);
	} else if ((m = message_member(v, f->name, ".eml")) != NULL && m->has_eml) {
		edv_check_eml(v, m, s);
	} else if (strcmp(f->name, "messages.mbox") == 0) {
		edv_check_mbox(v, s);
	} else if (strcmp(f->name, "loadfile.dat") == 0) {
		edv_check_loadfile(v, LOADFILE_DAT, s);
	} else if (strcmp(f->name, "index.csv") == 0) {
		edv_check_loadfile(v, LOADFILE_CSV, s);
	} else if (strcmp(f->name, "disposed.csv") == 0) {
		edv_check_disposed(v, s);
	}
	return 0;
}

static void check_manifest(struct vst *v)
{
	const char *signer = v->acp_state >= 0 ? v->acp.origin : NULL;
	size_t n;
	/* Signed when the bundle was made: by the key of archive/checkpoint's epoch. */
	const struct note_verifier *keys =
		bundle_keys_at(v->keys, v->acp_state >= 0 ? v->acp.size : UINT64_MAX, &n);
	if (bundle_check_manifest(v->b, keys, n, signer, v->rep) != 0) {
		/* each problem went to v->rep */
	}
}

/* --- the whole ------------------------------------------------------------------------- */

int ediscovery_verify(struct bundle *b, const struct note_verifier *keys, size_t nkeys,
		      const char *last_cp, size_t last_len, const struct bundle_policy *pol,
		      struct bundle_report *rep, struct pv_error *err)
{
	struct vst v;
	struct pv_error e;
	uint64_t before = rep->problems;

	memset(&v, 0, sizeof(v));
	v.b = b;
	v.rep = rep;
	v.pol = pol;
	v.err = err;
	/* The given keys, and those their rotation notes introduce. */
	int r = bundle_keys_new(keys, nkeys, &v.keys, err);
	if (r < 0)
		return r;
	edv_follow_rotations(&v, "archive");
	edv_follow_rotations(&v, "audit");
	v.acp_file = bundle_find(b, "archive/checkpoint");
	v.aucp_file = bundle_find(b, "audit/checkpoint");
	v.acp_state = edv_open_cp(&v, "archive/checkpoint", v.acp_file, &v.acp);
	v.aucp_state = edv_open_cp(&v, "audit/checkpoint", v.aucp_file, &v.aucp);
	if (v.acp_state >= 0 && v.aucp_state >= 0 && strcmp(v.acp.origin, v.aucp.origin) == 0)
		bundle_problem(rep, "audit/checkpoint and archive/checkpoint are of the same log %s",
			       v.acp.origin);
	edv_check_rotations_logged(&v);
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
		if (m->leaf_ok && m->has_eml && !m->content_ok && !m->content_bad) {
			edv_check_eml(&v, m, NULL); /* an .eml kept, before its proof */
			if (!m->content_ok && !m->content_bad)
				bundle_problem(rep, "messages/%s.eml was not checked: it comes before its "
						    "proof in the bundle", m->bates);
		}
		checked += m->content_ok;
	}
	if (v.set_read) {
		edv_loadfile_verdict(&v, LOADFILE_DAT);
		edv_loadfile_verdict(&v, LOADFILE_CSV);
	}
	edv_check_anchors(&v, "archive", &v.acp, v.acp_state);
	edv_check_anchors(&v, "audit", &v.aucp, v.aucp_state);
	if (last_cp != NULL)
		edv_check_last(&v, last_cp, last_len);
	if (v.set_read && checked == v.n)
		bundle_info(rep, "ok: all %zu messages are exactly what the archive holds (leaf "
				 "commitment and inclusion proof each)", v.n);
	json_decref(v.req);
	pv_strpool_free(&v.names);
	free(v.m);
	free(v.by_bates);
	free(v.set_sha);
	free(v.d);
	bundle_keys_free(&v.keys);
	return rep->problems == before ? 0 : PV_EINTEGRITY;
}
