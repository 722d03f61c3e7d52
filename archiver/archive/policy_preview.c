/* What a policy text would change, before anyone sets or approves it
 * (policies.h): every message not disposed of, evaluated under the text
 * from its own bytes, against the class and expiry the catalog holds. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/policies.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/sha256.h"
#include "archiver/lib/utf8.h"
#include "archiver/lib/clock.h"
#include "archiver/store/message.h"

void policy_preview_free(struct policy_preview *pv)
{
	policy_impact_free(&pv->impact);
	policy_free(&pv->policy);
	free(pv->months);
	pv->months = NULL;
	pv->n_months = 0;
}

/* The month row for label (kept sorted, "never" last), added when new. */
static struct policy_preview_month *month_row(struct policy_preview *pv, const char *label,
					      size_t *cap, struct pv_error *err)
{
	size_t i = 0;
	bool never = strcmp(label, "never") == 0;
	for (; i < pv->n_months; i++) {
		int c = strcmp(pv->months[i].month, label);
		if (c == 0)
			return &pv->months[i];
		if (!never && (c > 0 || strcmp(pv->months[i].month, "never") == 0))
			break;
	}
	if (pv->n_months == *cap) {
		size_t ncap = *cap ? 2 * *cap : 32;
		struct policy_preview_month *v = realloc(pv->months, ncap * sizeof(*v));
		if (v == NULL) {
			pv_fail(err, PV_ERR, "out of memory");
			return NULL;
		}
		pv->months = v;
		*cap = ncap;
	}
	memmove(&pv->months[i + 1], &pv->months[i], (pv->n_months - i) * sizeof(*pv->months));
	memset(&pv->months[i], 0, sizeof(*pv->months));
	snprintf(pv->months[i].month, sizeof(pv->months[i].month), "%s", label);
	pv->n_months++;
	return &pv->months[i];
}

static int count_months(struct policy_preview *pv, const struct retention *old,
			const struct retention *nr, size_t *cap, struct pv_error *err)
{
	char om[32], nm[32];
	struct policy_preview_month *row;
	retention_bucket_month(old, om);
	retention_bucket_month(nr, nm);
	if ((row = month_row(pv, om, cap, err)) == NULL)
		return PV_ERR;
	row->before++;
	if ((row = month_row(pv, nm, cap, err)) == NULL)
		return PV_ERR;
	row->after++;
	return PV_OK;
}

static int preview_one(struct archive *ar, struct policy_preview *pv, int64_t now,
		       const struct stored_message *m, struct pv_buf *raw, size_t *cap,
		       struct pv_error *err)
{
	struct retention old, nr;
	struct policy_result res, old_res;
	bool unreadable;
	int r;

	retention_of_stored(m, &old);
	if ((r = retention_evaluate_stored(ar, pv->policy, pv->base_version + 1, m, raw, &nr, &res,
					   &unreadable, err)) < 0)
		return r;
	if (unreadable) { /* it keeps what it has (retention_reapply) */
		pv->unreadable++;
		return count_months(pv, &old, &old, cap, err);
	}
	old_res = (struct policy_result){.rule = m->class_name, .forever = old.forever,
					 .expires_at = old.expires_at};
	if ((r = policy_impact_add(pv->impact, &old_res, &res, err)) < 0)
		return r;
	pv->changed += strcmp(old.class_name, nr.class_name) != 0 || old.forever != nr.forever ||
		       old.expires_at != nr.expires_at;
	pv->earlier += nr.expires_at < old.expires_at;
	pv->due_now += !nr.forever && nr.expires_at <= now && nr.action == POLICY_ACTION_DISPOSE;
	return count_months(pv, &old, &nr, cap, err);
}

int archive_policy_preview(struct archive *ar, const void *text, size_t len,
			   struct policy_diags *diags, struct policy_preview *pv,
			   struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct policy *cur = NULL;
	struct db_stmt *st;
	int64_t *ids = NULL, now = pv_clock_now();
	size_t n = 0, cap = 0;
	int r;

	memset(pv, 0, sizeof(*pv));
	if ((r = policy_parse(text, len, &pv->policy, diags, err)) < 0) {
		pv->invalid = true;
		return r;
	}
	policy_hash_hex(pv->policy, pv->sha256);
	if ((r = policy_in_force(db, &cur, &pv->base_version, err)) < 0)
		return r;
	if (pv->base_version > 0) {
		struct policy_version_info info;
		if ((r = policy_store_current(db, &info, err)) < 0)
			goto out;
		pv->unchanged = strcmp(info.sha256, pv->sha256) == 0;
	}
	if ((r = policy_compare(cur, pv->policy, &pv->rules, err)) < 0 ||
	    (r = policy_impact_new(pv->policy, now, &pv->impact, err)) < 0 ||
	    (r = db_prepare(db, "SELECT id FROM messages WHERE disposed_at IS NULL ORDER BY id",
			    &st, err)) < 0 ||
	    (r = db_collect_ids(&st, &ids, &n, err)) < 0)
		goto out;
	/* What ingest and retention_reapply read of a message, wiped after each. */
	struct pv_buf raw;
	pv_buf_init(&raw, PV_INGEST_READBACK_MAX);
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		struct stored_message m;
		if ((r = message_load(db, ids[i], &m, err)) < 0)
			break;
		pv->messages++;
		r = preview_one(ar, pv, now, &m, &raw, &cap, err);
		pv_buf_free_secret(&raw);
		sodium_memzero(&m, sizeof(m));
	}
	pv_buf_free_secret(&raw);
	pv->shortens = pv->rules.shortens || pv->earlier > 0;
out:
	free(ids);
	policy_free(&cur);
	return r;
}

int archive_policy_dry_run(struct archive *ar, const char *actor, const void *text, size_t len,
			   struct policy_diags *diags, struct policy_preview *pv_r,
			   struct pv_error *err)
{
	unsigned char d[32];
	char hex[65], *personal = NULL;
	memset(pv_r, 0, sizeof(*pv_r));
	/* The text as personal data when it fits; its SHA-256 always. */
	if (len < PV_AUDIT_PERSONAL_MAX && pv_utf8_valid(text, len) && memchr(text, 0, len) == NULL) {
		if ((personal = malloc(len + 1)) == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		memcpy(personal, text, len);
		personal[len] = '\0';
	}
	int r = pv_sha256_once(text, len, d, err);
	if (r == PV_OK) {
		pv_hex(d, sizeof(d), hex);
		r = archive_auditf(ar, actor, AUDIT_POLICY_DRY_RUN, "ok", personal, err,
				   "sha256=%s bytes=%zu", hex, len);
	}
	free(personal);
	return r < 0 ? r : archive_policy_preview(ar, text, len, diags, pv_r, err);
}
