#include "archiver/archive/verify_anchors.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/archive/checkpoints.h"
#include "archiver/lib/clock.h"
#include "archiver/store/anchors.h"
#include "audit/checkpoint.h"
#include "audit/cosig.h"
#include "audit/tsa.h"

#define KEYS_MAX 256 /* key epochs of one log we check notes with */

struct vanc {
	struct archive *ar;
	verify_anchor_say_fn say;
	void *ctx;
	struct verify_anchor_report *rep;
	const char *ca_file;
	const char *crl_file; /* the TSA CA's CRLs, or NULL */
	/* per log: its size and every epoch's verifier key */
	uint64_t size[2];
	struct note_verifier keys[2][KEYS_MAX];
	size_t n_keys[2];
	struct pv_error *err;
	/* the witnesses of [witnesses] (or verify --witness) */
	struct cosig_verifier wit[PV_WITNESSES_MAX];
	size_t n_wit;
	uint64_t unknown_witness; /* cosignatures by a witness not in that list */
	/* per (log, checkpoint) which witnesses' cosignatures held */
	struct witnessed {
		int log;
		uint64_t seq, size;
		uint32_t mask;
		int64_t time;
	} *cps;
	size_t n_cps;
	struct pv_buf note;
};

static void sayf(struct vanc *v, bool problem, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void sayf(struct vanc *v, bool problem, const char *fmt, ...)
{
	char msg[PV_ERROR_MSG_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->say(v->ctx, problem, msg);
}

static int log_slot(const char *name)
{
	return strcmp(name, ARCHIVE_LOG) == 0 ? 0 : strcmp(name, AUDIT_LOG) == 0 ? 1 : -1;
}

static int load_keys(struct vanc *v, int i, struct tlog *t, struct pv_error *err)
{
	struct tlog_epoch_row ep;
	struct pv_error e;
	int r;
	tlog_epoch_row_init(&ep);
	if ((r = tlog_size(t, &v->size[i], err)) == 0 &&
	    (r = tlog_epoch_get(t, UINT32_MAX, &ep, err)) == 0) {
		uint32_t last = ep.epoch;
		for (uint32_t k = 0; k <= last && r == 0 && v->n_keys[i] < KEYS_MAX; k++)
			if ((r = tlog_epoch_get(t, k, &ep, err)) == 0 &&
			    note_verifier_parse(ep.vkey, strlen(ep.vkey), &v->keys[i][v->n_keys[i]],
						&e) == 0)
				v->n_keys[i]++;
	}
	tlog_epoch_row_free(&ep);
	return r;
}

/* Is cp (already opened) still a prefix of log i? Problems name what. */
static bool still_prefix(struct vanc *v, int i, const struct checkpoint *cp, const char *what)
{
	struct tlog *t = i == 0 ? v->ar->archive_log : v->ar->audit_log;
	merkle_hash root;
	struct pv_error e;
	if (cp->size > v->size[i]) {
		sayf(v, true, "%s vouches for %llu entries of the %s log, which has only %llu: the "
			      "log was truncated (and signed again)", what, (unsigned long long)cp->size,
		     tlog_name(t), (unsigned long long)v->size[i]);
		return false;
	}
	if (tlog_root(t, cp->size, root, &e) != 0) {
		sayf(v, true, "%s: the %s log's root at %llu cannot be computed (%s)", what,
		     tlog_name(t), (unsigned long long)cp->size, e.msg);
		return false;
	}
	if (sodium_memcmp(root, cp->root, MERKLE_HASH_LEN) != 0) {
		sayf(v, true, "%s: the %s log's first %llu entries are no longer the ones it vouches "
			      "for: the log was rewritten (and signed again)", what, tlog_name(t),
		     (unsigned long long)cp->size);
		return false;
	}
	return true;
}

static int check_token(void *ctx, const struct anchor_token_row *row)
{
	struct vanc *v = ctx;
	struct checkpoint cp;
	struct tsa_token_info info;
	struct pv_error e;
	char what[160], when[PV_RFC3339_LEN];
	int i = log_slot(row->log);

	pv_clock_format_rfc3339(row->gen_time, when);
	snprintf(what, sizeof(what), "time-stamp %lld (%s log, %llu entries, %s)", (long long)row->id,
		 row->log, (unsigned long long)row->size, when);
	if (i < 0) {
		sayf(v, true, "time-stamp %lld is for an unknown log '%s'", (long long)row->id,
		     row->log);
		return 0;
	}
	v->rep->log[i].tokens++;
	if (checkpoint_open((const char *)row->note.data, row->note.len, v->keys[i], v->n_keys[i],
			    &cp, &e) != 0) {
		sayf(v, true, "%s: its checkpoint is not signed by the %s log's key (%s)", what,
		     row->log, e.msg);
		return 0;
	}
	if (cp.size != row->size)
		sayf(v, true, "%s: its checkpoint has %llu entries, its row says %llu", what,
		     (unsigned long long)cp.size, (unsigned long long)row->size);
	if (tsa_token_verify(row->token.data, row->token.len, row->note.data, row->note.len,
			     v->ca_file, v->crl_file, &info, &e) != 0) {
		sayf(v, true, "%s: %s", what, e.msg);
		return 0;
	}
	if (v->crl_file != NULL) {
		v->rep->revocation_checked++;
		if (info.crl_time > v->rep->crl_time)
			v->rep->crl_time = info.crl_time;
	}
	if (info.revoked_at >= 0) {
		char on[PV_RFC3339_LEN];
		pv_clock_format_rfc3339(info.revoked_at, on);
		sayf(v, false, "%s: its TSA's certificate was revoked on %s, after it, for a reason "
			       "that leaves earlier time-stamps standing (RFC 3161 §4)", what, on);
	}
	if (info.gen_time != row->gen_time)
		sayf(v, true, "%s: the token says %lld, its row %lld", what, (long long)info.gen_time,
		     (long long)row->gen_time);
	if (!still_prefix(v, i, &cp, what))
		return 0;
	struct verify_anchor_log *l = &v->rep->log[i];
	if (info.gen_time > l->newest_time) {
		l->newest_time = info.gen_time;
		l->newest_size = cp.size;
	}
	return 0;
}

/* One more witness w vouched for checkpoint (i, seq, size) at time t. */
static int witnessed_add(struct vanc *v, int i, uint64_t seq, uint64_t size, size_t w, int64_t t)
{
	for (size_t k = 0; k < v->n_cps; k++)
		if (v->cps[k].log == i && v->cps[k].seq == seq) {
			v->cps[k].mask |= 1u << w;
			if (t > v->cps[k].time)
				v->cps[k].time = t;
			return 0;
		}
	struct witnessed *grown = realloc(v->cps, (v->n_cps + 1) * sizeof(*grown));
	if (grown == NULL)
		return pv_fail(v->err, PV_ERR, "out of memory");
	v->cps = grown;
	v->cps[v->n_cps++] = (struct witnessed){i, seq, size, 1u << w, t};
	return 0;
}

static int check_cosig(void *ctx, const struct anchor_cosig_row *row)
{
	struct vanc *v = ctx;
	struct checkpoint cp;
	struct pv_error e;
	char what[PV_KEY_NAME_MAX + 128];
	int i = log_slot(row->log);
	size_t w;
	bool ok = false;
	uint64_t t = 0;

	snprintf(what, sizeof(what), "cosignature by %s (%s log, %llu entries)", row->witness,
		 row->log, (unsigned long long)row->size);
	for (w = 0; w < v->n_wit && strcmp(v->wit[w].name, row->witness) != 0; w++)
		;
	if (i < 0 || w == v->n_wit) {
		v->unknown_witness++;
		return 0;
	}
	v->rep->log[i].cosignatures++;
	if (checkpoint_open((const char *)row->note.data, row->note.len, v->keys[i], v->n_keys[i],
			    &cp, &e) != 0) {
		sayf(v, true, "%s: its checkpoint is not signed by the %s log's key (%s)", what,
		     row->log, e.msg);
		return 0;
	}
	pv_buf_reset(&v->note);
	if (pv_buf_append(&v->note, row->note.data, row->note.len, v->err) < 0 ||
	    pv_buf_append_str(&v->note, row->line, v->err) < 0)
		return PV_ERR;
	if (cosig_check_note((const char *)v->note.data, v->note.len, &v->wit[w], 1, &ok, &t, &e) !=
		    0 || !ok) {
		sayf(v, true, "%s: %s", what, ok ? e.msg : "does not verify under its key");
		return 0;
	}
	if (!still_prefix(v, i, &cp, what))
		return 0;
	return witnessed_add(v, i, row->checkpoint_seq, cp.size, w, (int64_t)t);
}

/* The newest checkpoint of each log with a quorum of witnesses. */
static void quorum(struct vanc *v)
{
	unsigned q = v->rep->quorum;
	for (int i = 0; i < 2; i++) {
		struct verify_anchor_log *l = &v->rep->log[i];
		const struct witnessed *best = NULL;
		for (size_t k = 0; k < v->n_cps; k++) {
			const struct witnessed *c = &v->cps[k];
			unsigned n = (unsigned)__builtin_popcount(c->mask);
			if (c->log != i || n < (q ? q : 1))
				continue;
			if (best == NULL || c->size > best->size ||
			    (c->size == best->size && c->seq > best->seq))
				best = c;
		}
		if (best != NULL) {
			l->witnessed_time = best->time;
			l->witnessed_size = best->size;
			l->witnessed_count = (uint64_t)__builtin_popcount(best->mask);
		} else if (q > 0) {
			sayf(v, true, "the %s log has no checkpoint cosigned by %u of the %zu witnesses "
				      "(a witness refused it, or it was never witnessed: popvault anchor)",
			     i == 0 ? ARCHIVE_LOG : AUDIT_LOG, q, v->n_wit);
		}
	}
}

int verify_anchors(struct archive *ar, verify_anchor_say_fn say, void *ctx,
		   struct verify_anchor_report *rep, struct pv_error *err)
{
	struct vanc *v = calloc(1, sizeof(*v));
	int r;
	memset(rep, 0, sizeof(*rep));
	for (int i = 0; i < 2; i++)
		rep->log[i].newest_time = rep->log[i].witnessed_time = -1;
	if (v == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	v->ar = ar;
	v->say = say;
	v->ctx = ctx;
	v->rep = rep;
	v->err = err;
	v->ca_file = ar->cfg.tsa_ca_file[0] ? ar->cfg.tsa_ca_file : NULL;
	/* A CA file this machine lacks (a copy verified elsewhere) is no
	 * integrity problem of the logs: the chains are then not checked. */
	if (v->ca_file != NULL && access(v->ca_file, R_OK) != 0) {
		sayf(v, false, "the TSA CA file %s cannot be read here: time-stamps are checked "
			       "without their certificate chain (verify --tsa-ca FILE)", v->ca_file);
		v->ca_file = NULL;
	}
	rep->chain_checked = v->ca_file != NULL;
	rep->crl_time = -1;
	v->crl_file = ar->cfg.tsa_crl_file[0] ? ar->cfg.tsa_crl_file : NULL;
	if (v->crl_file != NULL && (v->ca_file == NULL || access(v->crl_file, R_OK) != 0)) {
		sayf(v, false, v->ca_file == NULL ? "the TSA CRL file %s is checked with the TSA's CA "
						    "file: revocation not checked"
						  : "the TSA CRL file %s cannot be read here: "
						    "revocation not checked (verify --tsa-crl FILE)",
		     v->crl_file);
		v->crl_file = NULL;
	}
	rep->quorum = ar->cfg.witness_quorum;
	pv_buf_init(&v->note, PV_NOTE_MAX + COSIG_LINE_MAX);
	for (size_t k = 0; k < ar->cfg.n_witnesses; k++) {
		struct pv_error e;
		const char *vk = ar->cfg.witnesses[k].vkey;
		if (cosig_verifier_parse(vk, strlen(vk), &v->wit[v->n_wit], &e) == 0)
			v->n_wit++;
		else
			sayf(v, true, "[witnesses]: %s", e.msg);
	}
	if (rep->quorum > v->n_wit)
		sayf(v, true, "a quorum of %u witnesses, but %zu are configured", rep->quorum,
		     v->n_wit);
	if ((r = load_keys(v, 0, ar->archive_log, err)) == 0 &&
	    (r = load_keys(v, 1, ar->audit_log, err)) == 0 &&
	    (r = anchors_token_each(ar->cat->conn, NULL, false, UINT64_MAX, 0, check_token, v,
				    err)) == 0 &&
	    (r = anchors_cosig_each(ar->cat->conn, NULL, UINT64_MAX, check_cosig, v, err)) == 0)
		quorum(v);
	if (r == 0 && !rep->chain_checked && ar->cfg.tsa_ca_file[0] == '\0' &&
	    (rep->log[0].tokens || rep->log[1].tokens))
		sayf(v, false, "time-stamps checked without their TSA's certificate chain: no "
			       "[anchor] tsa_ca_file in popvault.conf (or verify --tsa-ca FILE)");
	if (r == 0 && v->unknown_witness > 0)
		sayf(v, false, "%llu cosignatures by witnesses not in [witnesses] (or --witness) were "
			       "not checked", (unsigned long long)v->unknown_witness);
	pv_buf_free(&v->note);
	free(v->cps);
	free(v);
	return r;
}
