/* The log side of C2SP tlog-witness (anchor.h): each configured witness
 * gets the checkpoint with the consistency proof from the size it last
 * cosigned, and its cosignature is checked and kept. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/archive/anchor_int.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/httpc.h"
#include "archiver/lib/number.h"
#include "archiver/store/anchors.h"
#include "audit/cosig.h"

#define SIZE_TYPE "text/x.tlog.size"

struct ask {
	struct archive *ar;
	struct tlog *t;
	const struct tlog_checkpoint_row *cp;
	const struct cosig_verifier *v;
	char url[PV_URL_MAX + 32];
	char line[COSIG_LINE_MAX + 1]; /* out: the cosignature line */
	uint64_t time;                 /* out: its time */
};

/* "old N\n", the proof from N, "\n", the signed note. */
static int request(const struct ask *a, uint64_t old, struct pv_buf *body, struct pv_error *err)
{
	merkle_hash proof[PV_PROOF_HASHES_MAX];
	char b64[sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL)];
	size_t n = 0;
	int r;
	pv_buf_reset(body);
	if (old > 0 && old < a->cp->size &&
	    (r = tlog_consistency_proof(a->t, old, a->cp->size, proof, &n, err)) < 0)
		return r;
	if ((r = pv_buf_printf(body, err, "old %llu\n", (unsigned long long)old)) < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		sodium_bin2base64(b64, sizeof(b64), proof[i], MERKLE_HASH_LEN,
				  sodium_base64_VARIANT_ORIGINAL);
		r = pv_buf_printf(body, err, "%s\n", b64);
	}
	if (r == 0 && (r = pv_buf_append_str(body, "\n", err)) == 0)
		r = pv_buf_append(body, a->cp->note.data, a->cp->note.len, err);
	return r;
}

/* The line of the answer that is our witness's valid cosignature. */
static int take_cosignature(struct ask *a, const struct pv_buf *reply, struct pv_error *err)
{
	struct pv_buf note;
	const char *p = (const char *)reply->data, *end = p + reply->len;
	int r = 0;
	bool ok = false;
	pv_buf_init(&note, PV_NOTE_MAX);
	while (p < end && !ok && r == 0) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t l = eol ? (size_t)(eol - p) + 1 : (size_t)(end - p);
		uint64_t t = 0;
		pv_buf_reset(&note);
		if (eol != NULL && l <= COSIG_LINE_MAX &&
		    pv_buf_append(&note, a->cp->note.data, a->cp->note.len, NULL) == 0 &&
		    pv_buf_append(&note, p, l, NULL) == 0) {
			struct pv_error e;
			r = cosig_check_note((const char *)note.data, note.len, a->v, 1, &ok, &t, &e);
			if (r == PV_EINTEGRITY && strstr(e.msg, "bad cosignature") != NULL)
				r = pv_fail(err, PV_EINTEGRITY, "the witness's cosignature does not verify");
			else if (r < 0)
				r = 0; /* not a signature line of ours: skip it */
			if (ok) {
				memcpy(a->line, p, l);
				a->line[l] = '\0';
				a->time = t;
			}
		}
		p += l;
	}
	pv_buf_free(&note);
	if (r == 0 && !ok)
		r = pv_fail(err, PV_EPROTO, "the answer holds no cosignature by %s", a->v->name);
	return r;
}

static int ask_witness(struct ask *a, struct pv_error *err)
{
	struct pv_buf body;
	struct pv_httpc_reply rep;
	uint64_t old = 0, held;
	int r = anchors_cosig_witness_size(a->ar->cat->conn, tlog_name(a->t), a->v->name, &old, err);
	if (r == PV_ENOTFOUND || (r == 0 && old > a->cp->size))
		old = 0; /* the witness says what it holds: 409 */
	else if (r < 0)
		return r;
	pv_buf_init(&body, PV_WITNESS_REQUEST_MAX);
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((r = request(a, old, &body, err)) < 0 ||
		    (r = pv_httpc_post(a->url, "text/plain; charset=utf-8", body.data, body.len, NULL,
				       &rep, err)) < 0)
			break;
		const char *text = rep.body.len ? pv_buf_str(&rep.body) : "";
		size_t tl = strcspn(text, "\n");
		if (rep.status == 200) {
			r = take_cosignature(a, &rep.body, err);
		} else if (rep.status == 409 && pv_httpc_reply_is(&rep, SIZE_TYPE) &&
			   pv_parse_u64(text, tl, 0, INT64_MAX, PV_NUM_CANONICAL, &held) == 0) {
			if (held > a->cp->size)
				r = pv_fail(err, PV_EINTEGRITY,
					    "409 Conflict: the witness has cosigned %llu entries of "
					    "this log, more than the %llu it has now: the log was "
					    "truncated or rolled back", (unsigned long long)held,
					    (unsigned long long)a->cp->size);
			else if (attempt == 0 && held != old) {
				old = held; /* prove from where the witness stands */
				pv_httpc_reply_free(&rep);
				continue;
			} else
				r = pv_fail(err, PV_EINTEGRITY,
					    "409 Conflict: the witness holds another tree of %llu "
					    "entries of this log: the log was forked",
					    (unsigned long long)held);
		} else if (rep.status == 422) {
			r = pv_fail(err, PV_EINTEGRITY,
				    "422: the witness does not accept the consistency proof from %llu "
				    "to %llu entries: the log does not extend what it cosigned (a "
				    "fork)", (unsigned long long)old, (unsigned long long)a->cp->size);
		} else {
			r = pv_fail(err, rep.status >= 500 ? PV_ETEMP : PV_EPROTO,
				    "the witness answered HTTP %ld: %.*s", rep.status,
				    (int)(tl > 200 ? 200 : tl), text);
		}
		pv_httpc_reply_free(&rep);
		break;
	}
	pv_buf_free(&body);
	return r;
}

static int one_witness(struct archive *ar, struct tlog *t, const char *actor,
		       struct anchor_result *res, const struct tlog_checkpoint_row *cp,
		       const struct pv_witness_config *wc, struct pv_error *err)
{
	struct anchor_party *p = &res->parties[res->n_parties++];
	struct cosig_verifier v;
	struct ask a = {ar, t, cp, &v, "", "", 0};
	struct pv_error e;
	char when[PV_RFC3339_LEN];
	int r;

	memset(p, 0, sizeof(*p));
	p->time = -1;
	if (cosig_verifier_parse(wc->vkey, strlen(wc->vkey), &v, &e) != 0) {
		snprintf(p->name, sizeof(p->name), "%.*s", (int)strcspn(wc->vkey, "+"), wc->vkey);
		p->status = pv_fail(&e, PV_EUSAGE, "popvault.conf [witnesses]: %s", e.msg);
	} else {
		snprintf(p->name, sizeof(p->name), "%s", v.name);
		size_t ul = strlen(wc->url);
		while (ul > 0 && wc->url[ul - 1] == '/')
			ul--;
		snprintf(a.url, sizeof(a.url), "%.*s/add-checkpoint", (int)ul, wc->url);
		p->status = ask_witness(&a, &e);
	}
	if (p->status < 0) {
		snprintf(p->error, sizeof(p->error), "%s", e.msg);
		r = anchor_record(ar, actor, res, p, err);
		return r < 0 ? r
			     : pv_fail(err, p->status, "witness %s (%s log): %s", p->name, res->log,
				       p->error);
	}
	p->time = (int64_t)a.time;
	pv_clock_format_rfc3339(p->time, when);
	snprintf(p->detail, sizeof(p->detail), "cosigned-at=%s", when);

	struct anchor_cosig_row row;
	anchor_cosig_row_init(&row);
	snprintf(row.log, sizeof(row.log), "%s", res->log);
	row.checkpoint_seq = cp->seq;
	row.size = cp->size;
	snprintf(row.witness, sizeof(row.witness), "%s", v.name);
	snprintf(row.line, sizeof(row.line), "%s", a.line);
	row.cosigned_at = (int64_t)a.time;
	row.created_at = pv_clock_now();
	if ((r = pv_buf_append(&row.note, cp->note.data, cp->note.len, err)) == 0 &&
	    (r = catalog_begin(ar->cat, err)) == 0) {
		if ((r = anchors_cosig_insert(ar->cat->conn, &row, NULL, err)) < 0 ||
		    (r = anchor_record(ar, actor, res, p, err)) < 0 ||
		    (r = catalog_commit(ar->cat, err)) < 0)
			catalog_rollback(ar->cat);
	}
	anchor_cosig_row_free(&row);
	return r;
}

int anchor_witnesses(struct archive *ar, struct tlog *t, const char *actor,
		     struct anchor_result *res, const struct tlog_checkpoint_row *cp,
		     struct pv_error *err)
{
	int first = PV_OK;
	for (size_t i = 0; i < ar->cfg.n_witnesses; i++) {
		struct pv_error e;
		int r = one_witness(ar, t, actor, res, cp, &ar->cfg.witnesses[i], &e);
		if (r < 0 && first == PV_OK) {
			first = r;
			*err = e;
		}
	}
	return first;
}
