#include "archiver/archive/attest.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/holds.h"
#include "archiver/index/mime.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/sha256.h"
#include "archiver/store/leaf_commit.h"
#include "archiver/store/policy_store.h"

static void say(attest_problem_fn problem, void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(attest_problem_fn problem, void *ctx, const char *fmt, ...)
{
	char msg[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	problem(ctx, msg);
}

/* ---- policy versions --------------------------------------------------- */

struct pload {
	struct attest_policies *ap;
	const struct evidence *ev;
	attest_problem_fn problem;
	void *ctx;
};

/* Versions in the catalog that the audit log never recorded as set. */
static int check_stored(void *c, const struct policy_version_info *v)
{
	struct pload *pl = c;
	if (evidence_policy(pl->ev, v->version) == NULL)
		say(pl->problem, pl->ctx, "policy version %lld: not recorded as set in the audit log "
					  "(added to the catalog by hand?)", (long long)v->version);
	return 0;
}

int attest_policies_load(struct db *db, const struct evidence *ev, struct attest_policies *ap,
			 attest_problem_fn problem, void *ctx, struct pv_error *err)
{
	struct pload pl = {ap, ev, problem, ctx};
	memset(ap, 0, sizeof(*ap));
	if (ev->n_policies > 0 && (ap->v = calloc(ev->n_policies, sizeof(*ap->v))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < ev->n_policies; i++) {
		const struct ev_policy *e = &ev->policies[i];
		struct attest_policy *a = &ap->v[ap->n++];
		unsigned char *text = NULL, h[POLICY_HASH_LEN];
		char hex[65];
		size_t len;
		struct pv_error pe;
		a->version = e->version;
		memcpy(a->sha256, e->sha256, sizeof(a->sha256));
		if (e->version > ap->current)
			ap->current = e->version;
		int r = policy_store_get(db, e->version, &text, &len, NULL, &pe);
		if (r == PV_ENOTFOUND || r == PV_EINTEGRITY) {
			say(problem, ctx, "policy version %lld: text: %s (it was set in audit entry %llu)",
			    (long long)e->version,
			    r == PV_ENOTFOUND ? "missing from the catalog"
					      : "does not hash to the SHA-256 beside it in the catalog",
			    (unsigned long long)e->seq);
			continue;
		}
		if (r < 0) {
			attest_policies_free(ap);
			return pv_fail(err, r, "%s", pe.msg);
		}
		policy_hash_bytes(text, len, h);
		pv_hex(h, sizeof(h), hex);
		if (strcmp(hex, e->sha256) != 0)
			say(problem, ctx, "policy version %lld: text: its stored text hashes to %.16s..., "
					  "the audit log recorded %.16s... when it was set (entry %llu)",
			    (long long)e->version, hex, e->sha256, (unsigned long long)e->seq);
		else if (policy_parse(text, len, &a->p, NULL, &pe) < 0)
			say(problem, ctx, "policy version %lld: text: does not parse: %s",
			    (long long)e->version, pe.msg);
		free(text);
	}
	int r = policy_store_each(db, check_stored, &pl, err);
	if (r < 0)
		attest_policies_free(ap);
	return r;
}

const struct attest_policy *attest_policy(const struct attest_policies *ap, int64_t version)
{
	for (size_t i = 0; i < ap->n; i++)
		if (ap->v[i].version == version)
			return ap->v[i].p != NULL ? &ap->v[i] : NULL;
	return NULL;
}

void attest_policies_free(struct attest_policies *ap)
{
	for (size_t i = 0; i < ap->n; i++)
		policy_free(&ap->v[i].p);
	free(ap->v);
	memset(ap, 0, sizeof(*ap));
}

/* ---- holds ------------------------------------------------------------- */

struct hcheck {
	struct archive *ar;
	const struct evidence *ev;
	attest_problem_fn problem;
	void *ctx;
	bool *seen; /* per ev->holds */
	struct pv_buf personal;
};

static int check_hold(void *c, const struct hold *h)
{
	struct hcheck *hc = c;
	const struct ev_hold *e = evidence_hold(hc->ev, h->id);
	uint8_t salt[AUDIT_SALT_LEN], commit[AUDIT_COMMIT_LEN];
	struct pv_error pe;
	char *want = NULL;

	if (e == NULL) {
		say(hc->problem, hc->ctx, "hold %lld (%s): not recorded as placed in the audit log",
		    (long long)h->id, h->name);
		return 0;
	}
	hc->seen[e - hc->ev->holds] = true;
	if (e->released && h->released_at == 0)
		say(hc->problem, hc->ctx, "hold %lld (%s): released_at: the audit log records its "
					  "release (entry %llu), the catalog has it in force",
		    (long long)h->id, h->name, (unsigned long long)e->released_seq);
	else if (!e->released && h->released_at != 0)
		say(hc->problem, hc->ctx, "hold %lld (%s): released_at: released in the catalog, but "
					  "the audit log records no release",
		    (long long)h->id, h->name);
	/* The matter, query and note as committed when it was placed. */
	pv_buf_reset(&hc->personal);
	int r = e->has_commit ? auditlog_personal(hc->ar->audit_log, e->placed_seq, salt,
						   &hc->personal, &pe)
			      : pv_fail(&pe, PV_ENOTFOUND, "no commitment");
	if (r == PV_OK) {
		auditlog_commitment(salt, hc->personal.data, hc->personal.len, commit);
		if (sodium_memcmp(commit, e->commit, sizeof(commit)) != 0)
			r = pv_fail(&pe, PV_EINTEGRITY, "its side data does not match the commitment");
	}
	sodium_memzero(salt, sizeof(salt));
	if (r < 0 && r != PV_ENOTFOUND && r != PV_EINTEGRITY)
		return r;
	if (r < 0) {
		say(hc->problem, hc->ctx, "hold %lld (%s): query: what it was placed with cannot be "
					  "read back from the audit log (entry %llu: %s)",
		    (long long)h->id, h->name, (unsigned long long)e->placed_seq, pe.msg);
		return 0;
	}
	if (asprintf(&want, "name: %s\nquery: %s\nnote: %s", h->name, h->query, h->note) < 0)
		return PV_ERR;
	const char *got = pv_buf_str(&hc->personal), *field = NULL;
	if (strcmp(got, want) != 0) {
		const char *note = strstr(want, "\nquery: ");
		size_t head = (size_t)(note - want) + 1, gl = strlen(got);
		note = want + strlen(want) - strlen("\nnote: ") - strlen(h->note);
		size_t tail = strlen(note);
		if (strncmp(got, want, head) != 0)
			field = "name";
		else if (gl < tail || strcmp(got + gl - tail, note) != 0)
			field = "note";
		else
			field = "query";
		say(hc->problem, hc->ctx, "hold %lld (%s): %s: differs from what the audit log "
					  "committed to when it was placed (entry %llu)",
		    (long long)h->id, h->name, field, (unsigned long long)e->placed_seq);
	}
	free(want);
	return 0;
}

int attest_holds(struct archive *ar, const struct evidence *ev, attest_problem_fn problem,
		 void *ctx, struct pv_error *err)
{
	struct hcheck hc = {ar, ev, problem, ctx, calloc(ev->n_holds + 1, sizeof(bool)), {0}};
	if (hc.seen == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	pv_buf_init(&hc.personal, PV_AUDIT_PERSONAL_MAX);
	int r = hold_each(ar, true, check_hold, &hc, err);
	if (r == PV_ERR && err != NULL && err->msg[0] == '\0')
		pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; r == PV_OK && i < ev->n_holds; i++)
		if (!hc.seen[i])
			say(problem, ctx, "hold %lld: placed (audit entry %llu) but missing from the "
					  "catalog", (long long)ev->holds[i].id,
			    (unsigned long long)ev->holds[i].placed_seq);
	pv_buf_free(&hc.personal);
	free(hc.seen);
	return r;
}

/* ---- one row ----------------------------------------------------------- */

int attest_leaf(struct archive *ar, const struct stored_message *m, struct archive_leaf *leaf,
		struct pv_error *err)
{
	struct pv_buf data;
	struct pv_error e;
	int r;
	pv_buf_init(&data, LEAF_MAX);
	if (tlog_leaf(ar->archive_log, (uint64_t)m->leaf_index, &data, &e) < 0)
		r = pv_fail(err, PV_EINTEGRITY, "message %lld: its archive leaf %lld is missing",
			    (long long)m->id, (long long)m->leaf_index);
	else if (archive_leaf_parse((const char *)data.data, data.len, leaf, &e) < 0 ||
		 leaf->kind != LEAF_MESSAGE || leaf->seq != m->id)
		r = pv_fail(err, PV_EINTEGRITY, "message %lld: archive leaf %lld does not describe it",
			    (long long)m->id, (long long)m->leaf_index);
	else
		r = PV_OK;
	pv_buf_free(&data);
	return r;
}

static void fmt_expiry(int64_t expires_at, char out[PV_RFC3339_LEN])
{
	if (expires_at < 0 || expires_at == POLICY_NEVER)
		snprintf(out, PV_RFC3339_LEN, "never");
	else
		pv_clock_format_rfc3339(expires_at, out);
}

/* The bucket's month label ("YYYY-MM", "YYYY-MM+N" or "never") is for
 * expiry month `month`. */
static bool label_for_month(const char *label, const char *month)
{
	size_t n = strlen(month);
	if (strncmp(label, month, n) != 0)
		return false;
	return label[n] == '\0' || (label[n] == '+' && label[n + 1] >= '1' && label[n + 1] <= '9' &&
				    strspn(label + n + 1, "0123456789") == strlen(label + n + 1));
}

static int check_policy(const struct attest_policies *ap, const struct stored_message *m,
			const struct archive_leaf *leaf, attest_problem_fn problem, void *ctx)
{
	const struct attest_policy *a = attest_policy(ap, m->policy_version);
	char t1[PV_RFC3339_LEN], t2[PV_RFC3339_LEN];
	if (m->policy_version == 0) {
		/* Decided before any policy was stored: the built-in retention. */
		struct retention b;
		memset(&b, 0, sizeof(b));
		if (retention_builtin(leaf->time, &b, NULL) == PV_OK &&
		    strcmp(m->class_name, b.class_name) == 0 && m->expires_at == b.expires_at)
			return 0;
		fmt_expiry(m->expires_at, t1);
		fmt_expiry(b.expires_at, t2);
		say(problem, ctx, "message %lld: expires_at: the catalog says '%s' expiring %s, the "
				  "built-in retention (policy version 0) gives '%s' expiring %s",
		    (long long)m->id, m->class_name, t1, b.class_name, t2);
		return 1;
	}
	for (size_t k = 0; a == NULL && k < ap->n; k++)
		if (ap->v[k].version == m->policy_version)
			return 0; /* recorded but unusable: reported once, for the version */
	if (a == NULL) {
		say(problem, ctx, "message %lld: policy_version: %lld is not a committed policy "
				  "version that can be used", (long long)m->id, (long long)m->policy_version);
		return 1;
	}
	long i = policy_rule_find(a->p, m->class_name);
	if (i < 0) {
		say(problem, ctx, "message %lld: retention_class: '%s' is not a rule of policy version "
				  "%lld", (long long)m->id, m->class_name, (long long)m->policy_version);
		return 1;
	}
	struct policy_message facts = {.account = m->account,
				       .size = leaf->has_size ? leaf->size : m->size,
				       .received_at = leaf->time};
	if (!policy_rule_possible(a->p, &facts, (size_t)i)) {
		say(problem, ctx, "message %lld: retention_class: policy version %lld cannot give "
				  "'%s' to it (its account, size and received time decide otherwise)",
		    (long long)m->id, (long long)m->policy_version, m->class_name);
		return 1;
	}
	struct policy_retention ret;
	int64_t want;
	policy_rule_retention(a->p, (size_t)i, &ret);
	if (policy_expiry(leaf->time, &ret, &want, NULL) < 0)
		want = -2;
	int64_t have = m->expires_at < 0 ? POLICY_NEVER : m->expires_at;
	if (want != have) {
		fmt_expiry(have, t1);
		fmt_expiry(want, t2);
		say(problem, ctx, "message %lld: expires_at: the catalog says %s, rule '%s' of policy "
				  "version %lld gives %s", (long long)m->id, t1, m->class_name,
		    (long long)m->policy_version, t2);
		return 1;
	}
	return 0;
}

static int check_bucket(struct archive *ar, const struct stored_message *m,
			attest_problem_fn problem, void *ctx)
{
	struct keyring_bucket_info b;
	struct retention ret = {.forever = m->expires_at < 0, .expires_at = m->expires_at};
	struct pv_error e;
	char month[32];
	if (keyring_bucket_info(ar->kr, m->bucket_id, &b, &e) < 0) {
		say(problem, ctx, "message %lld: bucket_id: %s", (long long)m->id, e.msg);
		return 1;
	}
	retention_bucket_month(&ret, month);
	if (strcmp(b.class_name, m->class_name) != 0 || !label_for_month(b.label, month)) {
		say(problem, ctx, "message %lld: bucket_id: bucket %lld holds class '%s' expiring %s, "
				  "not '%s' expiring %s", (long long)m->id, (long long)m->bucket_id,
		    b.class_name, b.label, m->class_name, month);
		return 1;
	}
	return 0;
}

int attest_row(struct archive *ar, const struct attest_policies *ap, const struct stored_message *m,
	       const struct archive_leaf *leaf, attest_problem_fn problem, void *ctx)
{
	char mailbox[33], t1[PV_RFC3339_LEN], t2[PV_RFC3339_LEN];
	int n = 0;

	keyring_mailbox_id(ar->kr, m->account, mailbox);
	if (strcmp(leaf->mailbox, mailbox) != 0) {
		say(problem, ctx, "message %lld: account: catalog row differs from its archive leaf "
				  "(account '%s' is not the mailbox the leaf names)",
		    (long long)m->id, m->account);
		n++;
	}
	if (leaf->time != m->received_at) {
		pv_clock_format_rfc3339(m->received_at, t1);
		pv_clock_format_rfc3339(leaf->time, t2);
		say(problem, ctx, "message %lld: received_at: catalog row differs from its archive leaf "
				  "(%s, the leaf says %s)", (long long)m->id, t1, t2);
		n++;
	}
	if (strcmp(leaf->class_name, m->archived_class) != 0) {
		/* archived_class is NULL until a policy re-evaluates the message:
		 * then the retention_class column is the one that must match. */
		say(problem, ctx, "message %lld: %s: catalog row differs from its archive leaf ('%s', "
				  "the leaf says '%s')", (long long)m->id,
		    strcmp(m->archived_class, m->class_name) == 0 ? "retention_class" : "archived_class",
		    m->archived_class, leaf->class_name);
		n++;
	}
	if (leaf->has_size && leaf->size != m->size) {
		say(problem, ctx, "message %lld: size: catalog row differs from its archive leaf (%llu "
				  "bytes, the leaf says %llu)", (long long)m->id,
		    (unsigned long long)m->size, (unsigned long long)leaf->size);
		n++;
	}
	if (m->disposed_at != 0)
		return n;
	if (strcmp(leaf->ct, m->blob) != 0) {
		say(problem, ctx, "message %lld: blob: blob reference differs from its archive leaf",
		    (long long)m->id);
		n++;
	}
	if (ap != NULL)
		n += check_policy(ap, m, leaf, problem, ctx);
	n += check_bucket(ar, m, problem, ctx);
	return n;
}

/* ---- with the content -------------------------------------------------- */

int attest_unwrap(struct archive *ar, const struct stored_message *m,
		  unsigned char key_r[BLOB_KEY_BYTES], unsigned char salt_r[BLOB_SALT_BYTES],
		  struct pv_error *err)
{
	if (m->blob[0] == '\0' || m->wrapped_len == 0)
		return pv_fail(err, PV_ENOTFOUND, "message %lld: its %s is gone without a disposal "
						  "record (unauthorised deletion)", (long long)m->id,
			       m->blob[0] == '\0' ? "blob reference" : "wrapped key");
	int r = keyring_unwrap(ar->kr, m->bucket_id, m->blob, m->wrapped, m->wrapped_len, key_r,
			       salt_r, err);
	if (r == PV_ENOTFOUND)
		return pv_fail(err, r, "message %lld: its key is gone and there is no disposal record "
				       "(unauthorised deletion)", (long long)m->id);
	if (r < 0)
		pv_error_prefix(err, "message %lld", (long long)m->id);
	return r;
}

struct rsink {
	struct pv_buf *raw;
	size_t keep;   /* bytes of the message raw gets (the rest is only hashed) */
	uint64_t len;  /* bytes of the message */
	struct pv_sha256 sha;
	struct leaf_commit commit; /* given the SHA-256 above at the end */
};

static int rsink_put(void *ctx, const unsigned char *d, size_t n, struct pv_error *err)
{
	struct rsink *s = ctx;
	pv_sha256_update(&s->sha, d, n);
	leaf_commit_update(&s->commit, d, n);
	size_t room = s->len < s->keep ? s->keep - (size_t)s->len : 0;
	s->len += n;
	return room == 0 ? PV_OK : pv_buf_append(s->raw, d, n < room ? n : room, err);
}

/* Content that is gone without a disposal record. */
static int gone(const struct stored_message *m, int r, struct pv_error *err)
{
	if (r == PV_ENOTFOUND)
		return pv_fail(err, r, "message %lld: blob %s is missing and there is no disposal "
				       "record (unauthorised deletion)", (long long)m->id, m->blob);
	if (r < 0)
		pv_error_prefix(err, "message %lld", (long long)m->id);
	return r;
}

int attest_open(struct archive *ar, const struct stored_message *m, struct blob_opened *o_r,
		struct pv_error *err)
{
	return gone(m, blob_open_at(ar->packs, &m->loc, o_r, err), err);
}

int attest_content(const char *data_dir, const struct blob_opened *o, const struct stored_message *m,
		   const struct archive_leaf *leaf, const unsigned char key[BLOB_KEY_BYTES],
		   const unsigned char salt[BLOB_SALT_BYTES], struct pv_buf *raw, size_t keep,
		   uint64_t *len_r, attest_problem_fn problem, void *ctx, int *mismatches_r,
		   struct pv_error *err)
{
	unsigned char sha[32], commit[32];
	struct rsink s = {.raw = raw, .keep = keep};
	char hex[65];
	int r;

	*mismatches_r = 0;
	*len_r = 0;
	pv_buf_reset(raw);
	if ((r = pv_sha256_init(&s.sha, err)) < 0)
		return r;
	if ((r = leaf_commit_begin(&s.commit, leaf->version, salt, true, err)) < 0) {
		pv_sha256_abort(&s.sha);
		return r;
	}
	/* No catalog hash here: the bytes are checked against the leaf. */
	r = blob_read_opened(data_dir, &m->loc, o, key, NULL, rsink_put, &s, err);
	pv_sha256_final(&s.sha, sha);
	leaf_commit_end(&s.commit, sha, commit);
	if (r < 0)
		return gone(m, r, err);
	pv_hex(commit, sizeof(commit), hex);
	if (strcmp(hex, leaf->commit) != 0)
		return pv_fail(err, PV_EINTEGRITY, "message %lld: content does not match the "
						   "commitment in its leaf", (long long)m->id);
	*len_r = s.len;
	if (sodium_memcmp(sha, m->sha256, sizeof(sha)) != 0) {
		say(problem, ctx, "message %lld: sha256: the catalog's hash is not the content's",
		    (long long)m->id);
		++*mismatches_r;
	}
	if (s.len != m->size) {
		say(problem, ctx, "message %lld: size: the catalog says %llu bytes, the content is %llu",
		    (long long)m->id, (unsigned long long)m->size, (unsigned long long)s.len);
		++*mismatches_r;
	}
	if (leaf->has_size && s.len != leaf->size) {
		say(problem, ctx, "message %lld: size: its archive leaf says %llu bytes, the content is "
				  "%llu", (long long)m->id, (unsigned long long)leaf->size,
		    (unsigned long long)s.len);
		++*mismatches_r;
	}
	return PV_OK;
}

int attest_read(struct archive *ar, const struct stored_message *m, const struct archive_leaf *leaf,
		struct pv_buf *raw, attest_problem_fn problem, void *ctx, int *mismatches_r,
		struct pv_error *err)
{
	unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
	uint64_t len;
	*mismatches_r = 0;
	pv_buf_reset(raw);
	struct blob_opened o = BLOB_OPENED_NONE;
	int r = attest_unwrap(ar, m, key, salt, err);
	if (r == PV_OK)
		r = attest_open(ar, m, &o, err);
	if (r == PV_OK)
		r = attest_content(ar->dir, &o, m, leaf, key, salt, raw, SIZE_MAX, &len, problem, ctx,
				   mismatches_r, err);
	blob_opened_close(&o);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(salt, sizeof(salt));
	return r;
}

size_t attest_read_max(const struct archive *ar, const struct stored_message *m)
{
	uint64_t max = m->size > ar->cfg.message_max ? m->size : ar->cfg.message_max;
	return (size_t)(max + 1);
}

int attest_classify(const struct policy *p, int64_t version, const char *account,
		    const unsigned char *raw, size_t len, int64_t received_at, struct retention *ret,
		    struct policy_trace *trace_r, struct index_doc *doc_r, struct pv_error *err)
{
	struct index_doc facts;
	struct retention_message rm;
	struct policy_result res;
	struct policy_trace *tr = trace_r, scratch;
	int r;

	/* The policy reads what ingest read: the facts (index_mime_facts) of
	 * the first PV_INGEST_READBACK_MAX bytes (headers and the attachments
	 * that start there), with the whole message's size; the index gets
	 * all it takes of the message. */
	size_t policy_len = len > PV_INGEST_READBACK_MAX ? PV_INGEST_READBACK_MAX : len;

	/* Without a trace or a document to give back, the signed facts may
	 * decide alone, as they did at ingest (policy_evaluate_facts: the
	 * result policy_evaluate gives any content): then no parse, which was
	 * a seventh of verify --full's CPU under init's policy. */
	if (trace_r == NULL && doc_r == NULL) {
		if ((r = retention_message_init(&rm, account, NULL, len, received_at, err)) < 0)
			return r;
		r = policy_evaluate_facts(p, &rm.m, &res, err);
		retention_message_free(&rm);
		if (r == PV_OK)
			retention_from_result(&res, version, ret);
		if (r != PV_ENOTFOUND)
			return r;
	}
	if (tr == NULL)
		tr = &scratch;
	if (doc_r != NULL)
		memset(doc_r, 0, sizeof(*doc_r));
	if ((r = index_mime_facts(raw, policy_len, &facts, err)) < 0)
		goto out;
	if (doc_r != NULL &&
	    (r = index_mime_extract(raw, len > PV_INDEX_RAW_MAX ? PV_INDEX_RAW_MAX : len, doc_r,
				    err)) < 0)
		goto out;
	if ((r = retention_message_init(&rm, account, &facts, len, received_at, err)) < 0)
		goto out;
	r = policy_evaluate_traced(p, &rm.m, &res, tr, err);
	retention_message_free(&rm);
	if (r < 0)
		goto out;
	retention_from_result(&res, version, ret);
out:
	index_doc_free(&facts);
	return r;
}

int attest_decision(const struct stored_message *m, const struct retention *ret,
		    attest_problem_fn problem, void *ctx)
{
	char t1[PV_RFC3339_LEN], t2[PV_RFC3339_LEN];
	int n = 0;
	int64_t have = m->expires_at < 0 ? POLICY_NEVER : m->expires_at;
	if (m->policy_version != ret->policy_version) {
		say(problem, ctx, "message %lld: policy_version: the catalog says %lld, the version in "
				  "force is %lld", (long long)m->id, (long long)m->policy_version,
		    (long long)ret->policy_version);
		n++;
	}
	if (strcmp(m->class_name, ret->class_name) != 0) {
		say(problem, ctx, "message %lld: retention_class: the catalog says '%s', policy version "
				  "%lld gives its content '%s'", (long long)m->id, m->class_name,
		    (long long)ret->policy_version, ret->class_name);
		n++;
	}
	if (have != ret->expires_at) {
		fmt_expiry(have, t1);
		fmt_expiry(ret->expires_at, t2);
		say(problem, ctx, "message %lld: expires_at: the catalog says %s, policy version %lld "
				  "gives its content %s", (long long)m->id, t1,
		    (long long)ret->policy_version, t2);
		n++;
	}
	return n;
}
