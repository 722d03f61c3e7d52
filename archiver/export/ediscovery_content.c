/* eDiscovery verifier: each message's bytes against its leaf commitment,
 * the mbox record by record, the load files and disposed.csv, all fed
 * from the one pass over the bundle (ediscovery_int.h). */
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/export/ediscovery_int.h"
#include "archiver/export/mbox.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/sha256.h"
#include "archiver/store/leaf_commit.h"

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

/* Hashes of bytes believed to be one message. */
struct digest {
	struct leaf_commit commit; /* given the SHA-256 below at the end */
	struct pv_sha256 sha;
	EVP_MD_CTX *md5;
	uint64_t size;
};

static int digest_init(struct digest *d, const struct vmsg *m)
{
	memset(d, 0, sizeof(*d));
	if (leaf_commit_begin(&d->commit, m->leaf_version, m->salt, true, NULL) < 0)
		return -1;
	if (pv_sha256_init(&d->sha, NULL) < 0 || (d->md5 = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(d->md5, EVP_md5(), NULL) != 1) {
		leaf_commit_abort(&d->commit);
		pv_sha256_abort(&d->sha);
		EVP_MD_CTX_free(d->md5);
		d->md5 = NULL;
		return -1;
	}
	return 0;
}

static void digest_update(struct digest *d, const void *p, size_t n)
{
	leaf_commit_update(&d->commit, p, n);
	pv_sha256_update(&d->sha, p, n);
	EVP_DigestUpdate(d->md5, p, n);
	d->size += n;
}

/* Finishes d: *commit_ok, sha256 and md5 of the bytes. */
static void digest_final(struct digest *d, const struct vmsg *m, bool *commit_ok,
			 uint8_t sha[32], uint8_t md5[16])
{
	uint8_t c[32];
	unsigned ml = 0;
	pv_sha256_final(&d->sha, sha);
	leaf_commit_end(&d->commit, sha, c);
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
		if (!m->sha_is_eml)
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
void edv_check_eml(struct vst *v, struct vmsg *m, struct bundle_stream *s)
{
	struct digest d;
	struct pv_error e;
	uint8_t sha[32], md5[16], *buf = NULL;
	size_t got;
	bool ok;
	int r = 0;
	const struct bundle_file *eml = m->has_eml ? edv_member(v, m, ".eml") : NULL;
	if (!m->leaf_ok || eml == NULL || (eml->data == NULL && s == NULL))
		return;
	if (digest_init(&d, m) < 0 || (eml->data == NULL && (buf = malloc(STREAM_CHUNK)) == NULL)) {
		bundle_problem(v->rep, "out of memory (or no MD5)");
		return;
	}
	if (eml->data != NULL)
		digest_update(&d, eml->data, eml->size);
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
	if (at == NULL || (c->cur = edv_find_bates(c->v, p, (size_t)(at - p))) == NULL) {
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

void edv_check_mbox(struct vst *v, struct bundle_stream *s)
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
	if (c.digesting) {
		EVP_MD_CTX_free(c.d.md5);
		leaf_commit_abort(&c.d.commit);
		pv_sha256_abort(&c.d.sha);
	}
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
	struct vmsg *m = edv_find_bates(v, loadfile_field(&c->f, 0), c->f.len[0]);
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
	pv_hex(edv_set_sha256(v, m), 32, sha);
	snprintf(id, sizeof(id), "%lld", (long long)m->id);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)m->size);
	snprintf(file, sizeof(file), "%s.eml", m->bates);
	snprintf(path, sizeof(path), "messages/%s.eml", m->bates);
	/* MD5 is compared once the content has streamed by (later). */
	size_t mcol = c->kind == LOADFILE_DAT ? 17 : 13;
	uint8_t *claim = c->kind == LOADFILE_DAT ? m->dat_md5 : m->csv_md5;
	if (c->f.len[mcol] != 32 || pv_unhex_lower(loadfile_field(&c->f, mcol), 32, claim, 16) != 0) {
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

void edv_check_loadfile(struct vst *v, enum loadfile_kind kind, struct bundle_stream *s)
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
	(void)edv_lines_of(v, c.name, s, true, lf_line, &c);
	loadfile_fields_free(&c.f);
	v->lf_bad[kind == LOADFILE_CSV] = c.header_ok ? c.bad : UINT64_MAX;
}

/* After the pass: every message listed, with the MD5 of its content. */
void edv_loadfile_verdict(struct vst *v, enum loadfile_kind kind)
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
	if (edv_dec(loadfile_field(&c->f, 0), c->f.len[0], &id) && id <= INT64_MAX &&
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

void edv_check_disposed(struct vst *v, struct bundle_stream *s)
{
	struct dispctx c;
	memset(&c, 0, sizeof(c));
	loadfile_fields_init(&c.f, PV_BUNDLE_LINE_MAX);
	(void)edv_lines_of(v, "disposed.csv", s, true, disp_line, &c);
	loadfile_fields_free(&c.f);
	for (size_t i = 0; i < v->nd; i++)
		if (!v->d[i].in_csv)
			bundle_problem(v->rep, "disposed.csv does not list message %lld",
				       (long long)v->d[i].id);
}

