#include "archiver/archive/anchor.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/archive/anchor_int.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/checkpoints.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/httpc.h"
#include "archiver/store/anchors.h"
#include "audit/auditlog.h"
#include "audit/tsa.h"

#define TSQ_TYPE "application/timestamp-query"
#define TSR_TYPE "application/timestamp-reply"

int anchor_record(struct archive *ar, const char *actor, const struct anchor_result *res,
		  const struct anchor_party *p, struct pv_error *err)
{
	char outcome[AUDIT_OUTCOME_MAX + 1];
	struct pv_error e;
	int r;
	if (p->status == PV_OK)
		snprintf(outcome, sizeof(outcome), "ok");
	else
		snprintf(outcome, sizeof(outcome), "failed: %s", p->error);
	/* The attempt first: it says the party is stale even when the audit
	 * append below fails. */
	if (anchors_attempt_record(ar->cat->conn, res->log, p->name, pv_clock_now(),
				   p->status == PV_OK ? NULL : p->error, &e) < 0) {
		/* best effort: the audit entry is the record that counts */
	}
	r = archive_auditf(ar, actor, AUDIT_ANCHOR, outcome, NULL, err,
			   "log=%s size=%llu checkpoint=%llu party=%s%s%s", res->log,
			   (unsigned long long)res->size, (unsigned long long)res->checkpoint_seq,
			   p->name, p->detail[0] ? " " : "", p->detail);
	return r;
}

/* Asks the TSA at url for a token over the signed note of cp, checks it
 * and fills *tok (note and token set). */
static int tsa_ask(const struct tlog_checkpoint_row *cp, const char *url, const char *ca_file,
		   const char *crl_file, const char *policy, struct anchor_token_row *tok,
		   struct tsa_token_info *info, struct pv_error *err)
{
	struct pv_buf req;
	struct pv_httpc_reply rep;
	uint8_t imprint[32];
	uint64_t nonce;
	int r;

	crypto_hash_sha256(imprint, cp->note.data, cp->note.len);
	pv_buf_init(&req, 4096);
	if ((r = tsa_request_build(imprint, policy, &req, &nonce, err)) < 0)
		goto out;
	r = pv_httpc_post(url, TSQ_TYPE, req.data, req.len, NULL, &rep, err);
	if (r == 0 && rep.status != 200)
		r = pv_fail(err, rep.status >= 500 ? PV_ETEMP : PV_EPROTO,
			    "the TSA answered HTTP %ld", rep.status);
	else if (r == 0 && !pv_httpc_reply_is(&rep, TSR_TYPE))
		r = pv_fail(err, PV_EPROTO, "the TSA's answer is '%s', not " TSR_TYPE,
			    rep.content_type[0] ? rep.content_type : "untyped");
	if (r == 0)
		r = tsa_reply_check(req.data, req.len, rep.body.data, rep.body.len, ca_file,
				    crl_file, info, err);
	if (r == 0 && (r = pv_buf_append(&tok->note, cp->note.data, cp->note.len, err)) == 0)
		r = pv_buf_append(&tok->token, rep.body.data, rep.body.len, err);
	pv_httpc_reply_free(&rep);
out:
	pv_buf_free(&req);
	return r;
}

static int tsa_round(struct archive *ar, const char *actor, struct anchor_result *res,
		     const struct tlog_checkpoint_row *cp, const char *url, const char *ca_file,
		     struct pv_error *err)
{
	struct anchor_party *p = &res->parties[res->n_parties++];
	struct anchor_token_row tok;
	struct tsa_token_info info = {0};
	struct pv_error e;
	char when[PV_RFC3339_LEN];
	int r;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "tsa");
	p->time = -1;
	anchor_token_row_init(&tok);
	/* A TSA whose certificate its CA revoked is not asked to vouch. */
	p->status = tsa_ask(cp, url, ca_file, ar->cfg.tsa_crl_file[0] ? ar->cfg.tsa_crl_file : NULL,
			    ar->cfg.tsa_policy[0] ? ar->cfg.tsa_policy : NULL, &tok, &info, &e);
	if (p->status < 0) {
		snprintf(p->error, sizeof(p->error), "%s", e.msg);
		r = anchor_record(ar, actor, res, p, err);
		anchor_token_row_free(&tok);
		/* An answer that does not verify is the TSA's fault, not the log's. */
		return r < 0 ? r
			     : pv_fail(err, p->status == PV_EINTEGRITY ? PV_EPROTO : p->status,
				       "time-stamp of the %s log: %s", res->log, p->error);
	}
	p->time = info.gen_time;
	pv_clock_format_rfc3339(info.gen_time, when);
	snprintf(p->detail, sizeof(p->detail), "gen-time=%s serial=%.40s policy=%.60s", when,
		 info.serial, info.policy[0] ? info.policy : "-");
	snprintf(tok.log, sizeof(tok.log), "%s", res->log);
	tok.checkpoint_seq = cp->seq;
	tok.size = cp->size;
	snprintf(tok.tsa_url, sizeof(tok.tsa_url), "%s", url);
	tok.gen_time = info.gen_time;
	snprintf(tok.serial, sizeof(tok.serial), "%s", info.serial);
	snprintf(tok.policy, sizeof(tok.policy), "%s", info.policy);
	tok.created_at = pv_clock_now();
	/* The token and its audit entry commit together (fail closed). */
	if ((r = catalog_begin(ar->cat, err)) == 0) {
		if ((r = anchors_token_insert(ar->cat->conn, &tok, err)) < 0 ||
		    (r = anchor_record(ar, actor, res, p, err)) < 0 ||
		    (r = catalog_commit(ar->cat, err)) < 0)
			catalog_rollback(ar->cat);
	}
	anchor_token_row_free(&tok);
	return r;
}

int archive_anchor(struct archive *ar, const char *name, const char *actor,
		   const struct anchor_opts *o, struct anchor_result *res,
		   struct pv_error *err)
{
	struct tlog *t = archive_log_named(ar, name);
	struct tlog_checkpoint_row cp;
	const char *url = o->tsa_url ? o->tsa_url : (ar->cfg.tsa_url[0] ? ar->cfg.tsa_url : NULL);
	const char *ca = o->tsa_ca_file ? o->tsa_ca_file
					: (ar->cfg.tsa_ca_file[0] ? ar->cfg.tsa_ca_file : NULL);
	bool tsa = !o->no_tsa && url != NULL;
	bool wit = !o->no_witnesses && ar->cfg.n_witnesses > 0;
	int r, first = PV_OK;
	struct pv_error ferr;

	memset(res, 0, sizeof(*res));
	if (t == NULL)
		return pv_fail(err, PV_EUSAGE, "no log named '%s' (archive or audit)", name);
	if (!tsa && !wit)
		return pv_fail(err, PV_EUSAGE,
			       "nobody to anchor with: set [anchor] tsa_url and tsa_ca_file, or "
			       "[witnesses] witness, in popvault.conf (or give --tsa URL --tsa-ca F)");
	if (tsa && ca == NULL)
		return pv_fail(err, PV_EUSAGE, "a TSA needs the CA its certificate chains to: "
					       "[anchor] tsa_ca_file in popvault.conf, or --tsa-ca F");
	snprintf(res->log, sizeof(res->log), "%s", name);
	tlog_checkpoint_row_init(&cp);
	if ((r = tlog_checkpoint_get(t, UINT64_MAX, &cp, err)) < 0) {
		tlog_checkpoint_row_free(&cp);
		return r;
	}
	res->size = cp.size;
	res->checkpoint_seq = cp.seq;
	if (tsa) {
		r = tsa_round(ar, actor, res, &cp, url, ca, &ferr);
		if (r < 0 && first == PV_OK) {
			first = r;
			*err = ferr;
		}
	}
	if (wit) {
		r = anchor_witnesses(ar, t, actor, res, &cp, &ferr);
		if (r < 0 && first == PV_OK) {
			first = r;
			*err = ferr;
		}
	}
	tlog_checkpoint_row_free(&cp);
	return first;
}

int archive_anchor_all(struct archive *ar, const char *actor, struct pv_error *err)
{
	static const char *const logs[2] = {ARCHIVE_LOG, AUDIT_LOG};
	struct anchor_opts o = {0};
	struct anchor_result res;
	struct pv_error e;
	int first = PV_OK;
	if (!pv_config_anchors(&ar->cfg))
		return PV_OK;
	for (int i = 0; i < 2; i++) {
		int r = archive_anchor(ar, logs[i], actor, &o, &res, &e);
		if (r < 0 && first == PV_OK) {
			first = r;
			*err = e;
		}
	}
	return first;
}

/* --- status ------------------------------------------------------------------------- */

static int newest_token(void *ctx, const struct anchor_token_row *row)
{
	struct anchor_status *st = ctx;
	st->tsa_time = row->gen_time;
	st->tsa_size = row->size;
	return 1;
}

static int newest_cosig(void *ctx, const struct anchor_cosig_row *row)
{
	struct anchor_status *st = ctx;
	if (row->cosigned_at > st->witness_time) {
		st->witness_time = row->cosigned_at;
		st->witness_size = row->size;
	}
	return 0;
}

static int attempt(void *ctx, const struct anchor_attempt_row *row)
{
	struct anchor_status *st = ctx;
	if (row->attempted_at > st->last_attempt)
		st->last_attempt = row->attempted_at;
	if (row->ok_at > st->last_ok)
		st->last_ok = row->ok_at;
	if (row->error[0] && !st->last_error[0])
		snprintf(st->last_error, sizeof(st->last_error), "%.200s: %.300s", row->party,
			 row->error);
	return 0;
}

int archive_anchor_status(struct archive *ar, const char *name, struct anchor_status *st,
			  struct pv_error *err)
{
	int r;
	memset(st, 0, sizeof(*st));
	st->tsa_time = st->witness_time = st->last_attempt = st->last_ok = -1;
	st->configured = pv_config_anchors(&ar->cfg);
	r = anchors_token_each(ar->cat->conn, name, true, UINT64_MAX, 1, newest_token, st, err);
	if (r == 1)
		r = 0;
	if (r == 0)
		r = anchors_cosig_each(ar->cat->conn, name, UINT64_MAX, newest_cosig, st, err);
	if (r == 0)
		r = anchors_attempt_each(ar->cat->conn, name, attempt, st, err);
	if (r < 0)
		return r;
	int64_t newest = st->tsa_time > st->witness_time ? st->tsa_time : st->witness_time;
	st->stale = st->configured &&
		    (newest < 0 || pv_clock_now() - newest > (int64_t)ar->cfg.anchor_stale_s);
	return 0;
}

int archive_anchor_due(struct archive *ar, int64_t interval_s, const char **why_r,
		       struct pv_error *err)
{
	static const char *const logs[2] = {ARCHIVE_LOG, AUDIT_LOG};
	static const char *const either[2] = {AUDIT_ANCHOR, AUDIT_DISPOSE_DONE};
	static const char *const attempts[1] = {AUDIT_ANCHOR};
	uint64_t newest = 0, attempted = 0;
	size_t n = 0, m = 0;
	int r;
	*why_r = NULL;
	if (!pv_config_anchors(&ar->cfg))
		return PV_OK;
	for (int i = 0; i < 2; i++) {
		/* The attempts only: status also reads every cosignature, which
		 * grow with the log's age; this runs every few minutes. */
		struct anchor_status st = {.last_attempt = -1, .last_ok = -1};
		if ((r = anchors_attempt_each(ar->cat->conn, logs[i], attempt, &st, err)) < 0)
			return r;
		if (st.last_attempt < 0 || pv_clock_now() - st.last_attempt >= interval_s) {
			*why_r = "interval";
			return PV_OK;
		}
	}
	/* Every attempt is audited first: a disposal's end after the newest
	 * attempt's entry is not covered yet. Both reads stop at that entry,
	 * at most an interval's entries back (the index's seq, newest first). */
	if ((r = auditlog_seqs_of_types(ar->audit_log, either, 2, UINT64_MAX, 1, &newest, &n,
					err)) < 0 ||
	    (r = auditlog_seqs_of_types(ar->audit_log, attempts, 1, UINT64_MAX, 1, &attempted, &m,
					err)) < 0)
		return r;
	if (n == 1 && (m == 0 || newest != attempted))
		*why_r = "disposal";
	return PV_OK;
}
