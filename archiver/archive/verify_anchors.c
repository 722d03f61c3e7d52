#include "archiver/archive/verify_anchors.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/checkpoints.h"
#include "archiver/lib/clock.h"
#include "archiver/store/anchors.h"
#include "audit/checkpoint.h"
#include "audit/tsa.h"

#define KEYS_MAX 256 /* key epochs of one log we check notes with */

struct vanc {
	struct archive *ar;
	verify_anchor_say_fn say;
	void *ctx;
	struct verify_anchor_report *rep;
	const char *ca_file;
	/* per log: its size and every epoch's verifier key */
	uint64_t size[2];
	struct note_verifier keys[2][KEYS_MAX];
	size_t n_keys[2];
	struct pv_error *err;
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
			     v->ca_file, &info, &e) != 0) {
		sayf(v, true, "%s: %s", what, e.msg);
		return 0;
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
	rep->chain_checked = v->ca_file != NULL;
	if ((r = load_keys(v, 0, ar->archive_log, err)) == 0 &&
	    (r = load_keys(v, 1, ar->audit_log, err)) == 0)
		r = anchors_token_each(ar->cat->db, NULL, false, UINT64_MAX, 0, check_token, v, err);
	if (r == 0 && !rep->chain_checked && (rep->log[0].tokens || rep->log[1].tokens))
		sayf(v, false, "time-stamps checked without their TSA's certificate chain: no "
			       "[anchor] tsa_ca_file in popvault.conf (or verify --tsa-ca FILE)");
	free(v);
	return r;
}
