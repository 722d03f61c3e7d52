/* Outside evidence in bundles (bundle_external.h): written and checked. */
#include "audit/bundle_external.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/number.h"
#include "audit/tsa.h"

void bundle_external_init(struct bundle_external *x)
{
	memset(x, 0, sizeof(*x));
	pv_buf_init(&x->certs, PV_BUNDLE_SMALL_MAX);
}

void bundle_external_free(struct bundle_external *x)
{
	for (size_t i = 0; i < x->n_stamps; i++) {
		pv_buf_free(&x->stamps[i].note);
		pv_buf_free(&x->stamps[i].tsr);
	}
	free(x->stamps);
	for (size_t i = 0; i < x->n_cosigned; i++)
		pv_buf_free(&x->cosigned[i].note);
	free(x->cosigned);
	pv_buf_free(&x->certs);
	memset(x, 0, sizeof(*x));
}

/* Appends each PEM certificate of pem to certs unless it is there. */
static int add_certs(struct pv_buf *certs, const struct pv_buf *pem, struct pv_error *err)
{
	static const char end[] = "-----END CERTIFICATE-----\n";
	const char *p = pv_buf_str(pem);
	int r = 0;
	while (r == 0 && *p) {
		const char *e = strstr(p, end);
		if (e == NULL)
			break;
		size_t n = (size_t)(e + sizeof(end) - 1 - p);
		char *one = strndup(p, n);
		if (one == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		if (strstr(pv_buf_str(certs), one) == NULL)
			r = pv_buf_append(certs, one, n, err);
		free(one);
		p += n;
	}
	return r;
}

int bundle_external_add_stamp(struct bundle_external *x, uint64_t size, const void *note,
			      size_t note_len, const void *tsr, size_t tsr_len,
			      struct pv_error *err)
{
	struct pv_buf pem;
	int r;
	for (size_t i = 0; i < x->n_stamps; i++)
		if (x->stamps[i].size == size)
			return 0;
	struct bundle_stamp *grown = realloc(x->stamps, (x->n_stamps + 1) * sizeof(*grown));
	if (grown == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	x->stamps = grown;
	struct bundle_stamp *s = &x->stamps[x->n_stamps++];
	s->size = size;
	pv_buf_init(&s->note, PV_NOTE_MAX);
	pv_buf_init(&s->tsr, PV_BUNDLE_SMALL_MAX);
	pv_buf_init(&pem, PV_BUNDLE_SMALL_MAX);
	if ((r = pv_buf_append(&s->note, note, note_len, err)) == 0 &&
	    (r = pv_buf_append(&s->tsr, tsr, tsr_len, err)) == 0 &&
	    (r = tsa_token_certs_pem(tsr, tsr_len, &pem, err)) == 0)
		r = add_certs(&x->certs, &pem, err);
	pv_buf_free(&pem);
	return r;
}

int bundle_external_add_cosigned(struct bundle_external *x, uint64_t size, const void *note,
				 size_t len, struct pv_error *err)
{
	for (size_t i = 0; i < x->n_cosigned; i++)
		if (x->cosigned[i].size == size)
			return 0;
	struct bundle_cosigned *grown = realloc(x->cosigned, (x->n_cosigned + 1) * sizeof(*grown));
	if (grown == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	x->cosigned = grown;
	struct bundle_cosigned *c = &x->cosigned[x->n_cosigned++];
	c->size = size;
	pv_buf_init(&c->note, PV_NOTE_MAX);
	return pv_buf_append(&c->note, note, len, err);
}

int bundle_external_anchor_sizes(const struct bundle_external *x, struct bundle_anchors *a,
				 bool audit, struct pv_error *err)
{
	uint64_t *sizes = calloc(x->n_stamps + x->n_cosigned + 1, sizeof(*sizes));
	size_t n = 0;
	if (sizes == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < x->n_stamps; i++)
		sizes[n++] = x->stamps[i].size;
	for (size_t i = 0; i < x->n_cosigned; i++)
		sizes[n++] = x->cosigned[i].size;
	int r = bundle_anchors_add(a, audit, sizes, n, err);
	free(sizes);
	return r;
}

int bundle_external_write(struct bundle_writer *w, const char *dir,
			  const struct bundle_external *x, uint64_t size, struct pv_error *err)
{
	char name[96];
	int r = 0;
	size_t written = 0;
	for (size_t i = 0; i < x->n_stamps && r == 0; i++) {
		const struct bundle_stamp *s = &x->stamps[i];
		if (s->size > size)
			continue;
		snprintf(name, sizeof(name), "%s/timestamps/%llu.note", dir, (unsigned long long)s->size);
		if ((r = bundle_add(w, name, s->note.data, s->note.len, err)) < 0)
			break;
		snprintf(name, sizeof(name), "%s/timestamps/%llu.tsr", dir, (unsigned long long)s->size);
		r = bundle_add(w, name, s->tsr.data, s->tsr.len, err);
		written++;
	}
	if (r == 0 && written > 0 && x->certs.len > 0) {
		snprintf(name, sizeof(name), "%s/timestamps/tsa-certs.pem", dir);
		r = bundle_add(w, name, x->certs.data, x->certs.len, err);
	}
	for (size_t i = 0; i < x->n_cosigned && r == 0; i++) {
		const struct bundle_cosigned *c = &x->cosigned[i];
		if (c->size > size)
			continue;
		snprintf(name, sizeof(name), "%s/cosigned/%llu", dir, (unsigned long long)c->size);
		r = bundle_add(w, name, c->note.data, c->note.len, err);
	}
	return r;
}

/* --- checking ------------------------------------------------------------------ */

/* name = dir "/timestamps/" A ext: A, or false. */
static bool stamp_name(const char *name, const char *dir, const char *ext, uint64_t *a_r)
{
	size_t dl = strlen(dir), el = strlen(ext), n = strlen(name);
	static const char sub[] = "/timestamps/";
	if (n <= dl + sizeof(sub) - 1 + el || strncmp(name, dir, dl) != 0 ||
	    strncmp(name + dl, sub, sizeof(sub) - 1) != 0 || strcmp(name + n - el, ext) != 0)
		return false;
	const char *p = name + dl + sizeof(sub) - 1;
	return pv_parse_u64(p, (size_t)(name + n - el - p), 0, UINT64_MAX, PV_NUM_CANONICAL, a_r) ==
	       0;
}

/* name = dir "/cosigned/" A: A, or false. */
static bool cosigned_name(const char *name, const char *dir, uint64_t *a_r)
{
	size_t dl = strlen(dir);
	static const char sub[] = "/cosigned/";
	if (strncmp(name, dir, dl) != 0 || strncmp(name + dl, sub, sizeof(sub) - 1) != 0)
		return false;
	const char *p = name + dl + sizeof(sub) - 1;
	return pv_parse_u64(p, strlen(p), 0, UINT64_MAX, PV_NUM_CANONICAL, a_r) == 0;
}

bool bundle_external_name(const char *name, const char *dir)
{
	char certs[96];
	uint64_t a;
	snprintf(certs, sizeof(certs), "%s/timestamps/tsa-certs.pem", dir);
	return strcmp(name, certs) == 0 || stamp_name(name, dir, ".note", &a) ||
	       stamp_name(name, dir, ".tsr", &a) || cosigned_name(name, dir, &a);
}

struct newest {
	int64_t time;
	uint64_t size;
	size_t checked, unchecked;
};

static void check_stamp(const struct bundle *b, struct bundle_keys *k, struct bundle_report *rep,
			const char *dir, const struct checkpoint *fin, const struct bundle_policy *pol,
			const struct bundle_file *tsr, uint64_t a, bundle_trust_direct_fn direct,
			void *ctx, struct newest *nw)
{
	char nname[96], when[PV_RFC3339_LEN];
	struct checkpoint cp;
	struct tsa_token_info info;
	struct pv_error e;
	const char *ca = pol ? pol->tsa_ca_file : NULL;
	snprintf(nname, sizeof(nname), "%s/timestamps/%llu.note", dir, (unsigned long long)a);
	const struct bundle_file *note = bundle_find(b, nname);
	if (note == NULL || note->data == NULL || tsr->data == NULL) {
		bundle_problem(rep, "%s has no %s beside it (or one too big)", tsr->name, nname);
		return;
	}
	int r = bundle_keys_open_checkpoint(k, note->data, note->size, &cp, &e);
	if (r <= 0) {
		bundle_problem(rep, "%s is not a checkpoint signed by a key trusted at its size (%s)",
			       nname, e.msg);
		return;
	}
	if (cp.size != a || strcmp(cp.origin, fin->origin) != 0) {
		bundle_problem(rep, "%s is a checkpoint of %s at %llu", nname, cp.origin,
			       (unsigned long long)cp.size);
		return;
	}
	if (tsa_token_verify(tsr->data, tsr->size, note->data, note->size, ca,
			     pol ? pol->tsa_crl_file : NULL, &info, &e) != 0) {
		bundle_problem(rep, "%s: %s", tsr->name, e.msg);
		return;
	}
	if (bundle_trust_extends(b, rep, dir, fin, &cp, nname, direct, ctx) == 0)
		return; /* the problem is reported */
	pv_clock_format_rfc3339(info.gen_time, when);
	if (ca != NULL) {
		nw->checked++;
		bundle_info(rep, "ok: %s: the %s log had %llu entries at %s (TSA %s, serial %s), "
				 "and the bundle's log extends them", tsr->name, dir,
			    (unsigned long long)a, when, info.tsa, info.serial);
		if (info.revoked_at >= 0) {
			char on[PV_RFC3339_LEN];
			pv_clock_format_rfc3339(info.revoked_at, on);
			bundle_info(rep, "note: %s: its TSA's certificate was revoked on %s, after "
					 "it, for a reason that leaves earlier time-stamps standing "
					 "(RFC 3161 §4)", tsr->name, on);
		} else if (info.crl_time >= 0) {
			char of[PV_RFC3339_LEN];
			pv_clock_format_rfc3339(info.crl_time, of);
			bundle_info(rep, "ok: %s: its TSA's certificate is not revoked by the CRL "
					 "of %s", tsr->name, of);
		}
	} else {
		nw->unchecked++;
	}
	if (info.gen_time > nw->time) {
		nw->time = info.gen_time;
		nw->size = a;
	}
}

struct witnessed {
	uint64_t best_size;  /* the newest checkpoint with the quorum, when found */
	size_t best_count;
	uint64_t best_time;
	bool found;
	size_t cosigned;     /* cosigned members that check out */
};

static void check_cosigned(const struct bundle *b, struct bundle_keys *k,
			   struct bundle_report *rep, const char *dir, const struct checkpoint *fin,
			   const struct bundle_policy *pol, const struct bundle_file *f, uint64_t a,
			   bundle_trust_direct_fn direct, void *ctx, struct witnessed *wd)
{
	struct checkpoint cp;
	struct pv_error e;
	bool ok[PV_WITNESSES_MAX];
	uint64_t t[PV_WITNESSES_MAX];
	size_t nw = pol && pol->n_witnesses <= PV_WITNESSES_MAX ? pol->n_witnesses : 0;
	if (f->data == NULL) {
		bundle_problem(rep, "%s is too big", f->name);
		return;
	}
	int r = bundle_keys_open_checkpoint(k, f->data, f->size, &cp, &e);
	if (r <= 0) {
		bundle_problem(rep, "%s is not a checkpoint signed by a key trusted at its size (%s)",
			       f->name, e.msg);
		return;
	}
	if (cp.size != a || strcmp(cp.origin, fin->origin) != 0) {
		bundle_problem(rep, "%s is a checkpoint of %s at %llu", f->name, cp.origin,
			       (unsigned long long)cp.size);
		return;
	}
	if (cosig_check_note((const char *)f->data, f->size, nw ? pol->witnesses : NULL, nw, ok, t,
			     &e) != 0) {
		bundle_problem(rep, "%s: %s", f->name, e.msg);
		return;
	}
	if (bundle_trust_extends(b, rep, dir, fin, &cp, f->name, direct, ctx) == 0)
		return;
	wd->cosigned++;
	size_t n = 0;
	uint64_t newest = 0;
	char names[512] = "";
	for (size_t i = 0; i < nw; i++)
		if (ok[i]) {
			n++;
			newest = t[i] > newest ? t[i] : newest;
			size_t used = strlen(names);
			snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "",
				 pol->witnesses[i].name);
		}
	if (nw == 0)
		return;
	char when[PV_RFC3339_LEN];
	pv_clock_format_rfc3339((int64_t)newest, when);
	if (n > 0)
		bundle_info(rep, "ok: %s: cosigned by %zu of the %zu witnesses given (%s), the newest "
				 "at %s; the bundle's log extends it", f->name, n, nw, names, when);
	else
		bundle_info(rep, "%s: cosigned by none of the witnesses given", f->name);
	if (n >= (pol->quorum ? pol->quorum : 1) && (!wd->found || a >= wd->best_size)) {
		wd->found = true;
		wd->best_size = a;
		wd->best_count = n;
		wd->best_time = newest;
	}
}

void bundle_external_check(const struct bundle *b, struct bundle_keys *k,
			   struct bundle_report *rep, const char *dir,
			   const struct checkpoint *fin, const struct bundle_policy *pol,
			   bundle_trust_direct_fn direct, void *ctx)
{
	struct newest nw = {-1, 0, 0, 0};
	struct witnessed wd = {0};
	char tname[96], when[PV_RFC3339_LEN];
	for (size_t i = 0; i < bundle_count(b); i++) {
		const struct bundle_file *f = bundle_file_at(b, i);
		uint64_t a;
		if (cosigned_name(f->name, dir, &a)) {
			check_cosigned(b, k, rep, dir, fin, pol, f, a, direct, ctx, &wd);
		} else if (stamp_name(f->name, dir, ".tsr", &a)) {
			check_stamp(b, k, rep, dir, fin, pol, f, a, direct, ctx, &nw);
		} else if (stamp_name(f->name, dir, ".note", &a)) {
			snprintf(tname, sizeof(tname), "%s/timestamps/%llu.tsr", dir,
				 (unsigned long long)a);
			if (bundle_find(b, tname) == NULL)
				bundle_problem(rep, "%s has no %s beside it", f->name, tname);
		}
	}
	if (nw.unchecked > 0)
		bundle_warn(rep, "%zu RFC 3161 time-stamp%s of the %s log not checked against a TSA: "
				 "give --tsa-ca FILE (the TSA's CA certificate)",
			    nw.unchecked, nw.unchecked == 1 ? "" : "s", dir);
	if (pol != NULL && pol->tsa_ca_file != NULL && nw.checked == 0)
		bundle_problem(rep, "the %s log carries no RFC 3161 time-stamp that verifies "
				    "(--tsa-ca was given)", dir);
	size_t n_wit = pol ? pol->n_witnesses : 0;
	if (wd.cosigned > 0 && n_wit == 0)
		bundle_warn(rep, "witness cosignatures of the %s log not checked: give --witness VKEY "
				 "(the witnesses' keys)", dir);
	if (pol != NULL && pol->quorum > 0 && !wd.found)
		bundle_problem(rep, "no checkpoint of the %s log in the bundle is cosigned by %u of "
				    "the %zu witnesses given", dir, pol->quorum, n_wit);
	if (wd.found && n_wit > 0) {
		pv_clock_format_rfc3339((int64_t)wd.best_time, when);
		bundle_info(rep, "ok: the %s log is witnessed up to %llu of its %llu entries (%zu "
				 "witnesses, quorum %u, the newest cosignature at %s); %llu entries "
				 "since are not witnessed yet", dir, (unsigned long long)wd.best_size,
			    (unsigned long long)fin->size, wd.best_count, pol->quorum, when,
			    (unsigned long long)(fin->size - wd.best_size));
	}
	if (nw.time >= 0 && nw.checked > 0) {
		pv_clock_format_rfc3339(nw.time, when);
		bundle_info(rep, "ok: the %s log is time-stamped up to %llu of its %llu entries, the "
				 "newest at %s", dir, (unsigned long long)nw.size,
			    (unsigned long long)fin->size, when);
	}
}
