#include "archiver/archive/policies.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/log.h"

int policy_version_load(struct db *db, int64_t version, struct policy **p_r,
			struct policy_version_info *info_r, struct pv_error *err)
{
	unsigned char *text;
	size_t len;
	int r = policy_store_get(db, version, &text, &len, info_r, err);
	if (r < 0)
		return r;
	struct pv_error e;
	r = policy_parse(text, len, p_r, NULL, &e);
	free(text);
	if (r < 0)
		return pv_fail(err, PV_EINTEGRITY, "stored policy version %lld does not parse: %s",
			       (long long)version, e.msg);
	return PV_OK;
}

int policy_version_add(struct db *db, const struct policy *p, const char *actor, int64_t now,
		       int64_t *version_r, struct pv_error *err)
{
	size_t len;
	const unsigned char *text = policy_source(p, &len);
	return policy_store_add(db, text, len, actor, now, version_r, err);
}

int archive_policy_check(const void *text, size_t len, struct policy_diags *diags,
			 struct policy_summary *sum, struct pv_error *err)
{
	struct policy *p = NULL;
	int r = policy_parse(text, len, &p, diags, err);
	memset(sum, 0, sizeof(*sum));
	if (r < 0)
		return r;
	sum->rules = policy_rule_count(p);
	policy_hash_hex(p, sum->sha256);
	policy_free(&p);
	return PV_OK;
}

int policy_in_force(struct db *db, struct policy **p_r, int64_t *version_r, struct pv_error *err)
{
	struct policy_version_info cur;
	int r = policy_store_current(db, &cur, err);
	*p_r = NULL;
	*version_r = 0;
	if (r == PV_ENOTFOUND)
		return policy_parse(policy_store_initial_text, strlen(policy_store_initial_text), p_r,
				    NULL, err);
	if (r < 0)
		return r;
	*version_r = cur.version;
	return policy_version_load(db, cur.version, p_r, NULL, err);
}

int policy_set_in_tx(struct archive *ar, const char *actor, struct policy_set_result *res,
		     struct pv_error *err)
{
	struct policy_version_info cur;
	int64_t previous = 0;
	int r;
	policy_hash_hex(res->policy, res->sha256);
	if ((r = policy_impact_new(res->policy, pv_clock_now(), &res->impact, err)) < 0)
		return r;
	/* Audited first, in the same transaction: the version exists only if
	 * the entry does. The hash is of the exact text. */
	if (policy_store_current(ar->cat->conn, &cur, NULL) == PV_OK)
		previous = cur.version;
	if ((r = archive_auditf(ar, actor, AUDIT_POLICY_SET, "ok", NULL, err,
				"version=%lld sha256=%s previous=%lld", (long long)previous + 1,
				res->sha256, (long long)previous)) < 0 ||
	    (r = policy_version_add(ar->cat->conn, res->policy, actor, pv_clock_now(), &res->version,
				    err)) < 0)
		return r;
	return retention_reapply(ar, res->policy, res->version, false, res->impact, &res->reapply,
				 err);
}

/* Live messages decided under another version than `version`. */
static int count_stale(struct db *db, int64_t version, int64_t *n_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT count(*) FROM messages WHERE disposed_at IS NULL"
			       " AND policy_version != ?", &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, version);
	if ((r = db_step(st, err)) == DB_ROW)
		*n_r = db_column_int64(st, 0);
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

/* PV_EPERM when p shortens any retention against the version in force
 * (res->shortens set, err says how). */
static int refuse_shortening(struct archive *ar, const void *text, size_t len,
			     const struct policy *p, struct policy_set_result *res,
			     struct pv_error *err)
{
	struct policy_shortening sh;
	struct policy *cur = NULL;
	int64_t version, stale = 0;
	char why[POLICY_SHORTEN_WHY_MAX + 64] = "";
	int r;

	if ((r = policy_in_force(ar->cat->conn, &cur, &version, err)) < 0)
		return r;
	r = policy_compare(cur, p, &sh, err);
	policy_free(&cur);
	if (r < 0)
		return r;
	if (sh.shortens) {
		snprintf(why, sizeof(why), "%s", sh.why);
	} else {
		/* The rules keep every message decided under the version in
		 * force as long; one decided under an older version is checked
		 * against what the catalog holds for it. */
		if ((r = count_stale(ar->cat->conn, version, &stale, err)) < 0)
			return r;
	}
	if (stale > 0) {
		struct policy_preview pv;
		r = archive_policy_preview(ar, text, len, NULL, &pv, err);
		if (r == PV_OK && pv.earlier > 0)
			snprintf(why, sizeof(why), "%llu message%s would expire earlier",
				 (unsigned long long)pv.earlier, pv.earlier == 1 ? "" : "s");
		policy_preview_free(&pv);
		if (r < 0)
			return r;
	}
	if (why[0] == '\0')
		return PV_OK;
	res->shortens = true;
	return pv_fail(err, PV_EPERM, "this policy shortens retention (%s): it takes effect only "
				      "once a second person with another role approves it; propose it "
				      "with 'popvault policy propose FILE' (or POST /api/v1/policy/proposals)",
		       why);
}

int archive_policy_set(struct archive *ar, const char *actor, const void *text, size_t len,
		       struct policy_diags *diags, struct policy_set_result *res,
		       struct pv_error *err)
{
	struct policy_version_info cur;
	int r;

	memset(res, 0, sizeof(*res));
	if ((r = policy_parse(text, len, &res->policy, diags, err)) < 0) {
		res->invalid = true;
		return r;
	}
	policy_hash_hex(res->policy, res->sha256);
	r = policy_store_current(ar->cat->conn, &cur, err);
	if (r == PV_OK && strcmp(cur.sha256, res->sha256) == 0) {
		res->unchanged = true;
		res->version = cur.version;
		return PV_OK;
	}
	if (r < 0 && r != PV_ENOTFOUND)
		return r;
	if ((r = refuse_shortening(ar, text, len, res->policy, res, err)) < 0 ||
	    (r = db_begin(ar->cat->conn, err)) < 0)
		return r;
	if ((r = policy_set_in_tx(ar, actor, res, err)) < 0 ||
	    (r = db_commit(ar->cat->conn, err)) < 0)
		db_rollback(ar->cat->conn);
	else
		policies_sync_store(ar);
	return r;
}

void policies_sync_store(struct archive *ar)
{
	struct pv_error e;
	int64_t changed;
	if (packstore_sync_locks(ar->packs, &changed, &e) < 0)
		pv_log(PV_LOG_WARN, "store.lock", "the pack store's locks do not cover the new "
		       "retention yet: %s (tried again at the next policy change or disposal run)",
		       e.msg);
	else if (changed > 0)
		pv_log(PV_LOG_INFO, "store.lock", "Object Lock extended on %lld pack%s for the new "
		       "retention", (long long)changed, changed == 1 ? "" : "s");
}

void policy_set_result_free(struct policy_set_result *res)
{
	policy_impact_free(&res->impact);
	policy_free(&res->policy);
}

int archive_policy_get(struct archive *ar, int64_t version, unsigned char **text_r, size_t *len_r,
		       struct policy_version_info *info_r, struct pv_error *err)
{
	struct policy_version_info cur;
	int r;
	if (version == 0) {
		if ((r = policy_store_current(ar->cat->conn, &cur, err)) < 0)
			return r;
		version = cur.version;
	}
	return policy_store_get(ar->cat->conn, version, text_r, len_r, info_r, err);
}

int archive_policy_list(struct archive *ar, int64_t *current_r,
			int (*fn)(void *ctx, const struct policy_version_info *v), void *ctx,
			struct pv_error *err)
{
	struct policy_version_info cur = {0};
	*current_r = policy_store_current(ar->cat->conn, &cur, NULL) == PV_OK ? cur.version : 0;
	return policy_store_each(ar->cat->conn, fn, ctx, err);
}
