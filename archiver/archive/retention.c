#include "archiver/archive/retention.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/store/blob.h"
#include "archiver/archive/ingest.h"
#include "archiver/store/message.h"
#include "archiver/archive/policies.h"

/* ---- the message as the policy sees it -------------------------------- */

int retention_message_init(struct retention_message *rm, const char *account,
			   const struct index_doc *doc, uint64_t size, int64_t received_at,
			   struct pv_error *err)
{
	memset(rm, 0, sizeof(*rm));
	rm->m.account = account;
	rm->m.size = size;
	rm->m.received_at = received_at;
	if (doc == NULL)
		return PV_OK;
	rm->m.has_attachment = doc->has_attachment;
	/* the subject search shows, without spaces at either end */
	const char *t = pv_buf_str(&doc->subject);
	size_t n = doc->subject.len;
	while (n > 0 && t[n - 1] == ' ')
		n--;
	while (n > 0 && *t == ' ')
		t++, n--;
	if ((rm->subject = strndup(t, n)) == NULL ||
	    (doc->nfields > 0 &&
	     (rm->headers = calloc(doc->nfields, sizeof(*rm->headers))) == NULL)) {
		retention_message_free(rm);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	rm->m.subject = rm->subject;
	for (size_t i = 0; i < doc->nfields; i++)
		rm->headers[i] = (struct policy_header){doc->fields[i].name, doc->fields[i].value};
	rm->m.headers = rm->headers;
	rm->m.n_headers = doc->nfields;
	/* policy_message has one sender: the first */
	rm->m.from = doc->addr_from.n > 0 ? doc->addr_from.v[0] : NULL;
	rm->m.to = (const char *const *)doc->addr_to.v;
	rm->m.n_to = doc->addr_to.n;
	rm->m.cc = (const char *const *)doc->addr_cc.v;
	rm->m.n_cc = doc->addr_cc.n;
	rm->m.bcc = (const char *const *)doc->addr_bcc.v;
	rm->m.n_bcc = doc->addr_bcc.n;
	return PV_OK;
}

void retention_message_free(struct retention_message *rm)
{
	free(rm->subject);
	free(rm->headers);
	memset(rm, 0, sizeof(*rm));
}

/* ---- decisions -------------------------------------------------------- */

/* Until a policy is stored, mail is kept six years: the longest of the
 * common US/EU business-record periods, and what `popvault init` stores as
 * policy version 1. */
#define RETENTION_BUILTIN_YEARS 6

int retention_builtin(int64_t received_at, struct retention *ret, struct pv_error *err)
{
	struct policy_retention pr = {.unit = 'y', .amount = RETENTION_BUILTIN_YEARS,
				      .action = POLICY_ACTION_DISPOSE};
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->class_name, sizeof(ret->class_name), POLICY_DEFAULT_CLASS);
	ret->action = POLICY_ACTION_DISPOSE;
	return policy_expiry(received_at, &pr, &ret->expires_at, err);
}

void retention_from_result(const struct policy_result *res, int64_t version, struct retention *ret)
{
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->class_name, sizeof(ret->class_name), "%s", res->rule);
	ret->forever = res->forever;
	ret->expires_at = res->forever ? POLICY_NEVER : res->expires_at;
	ret->action = res->action;
	ret->policy_version = version;
}

int retention_evaluate(const struct policy *p, int64_t version, const struct policy_message *m,
		       struct retention *ret, struct policy_result *res_r, struct pv_error *err)
{
	struct policy_result res;
	int r = policy_evaluate(p, m, &res, err);
	if (r < 0)
		return r;
	retention_from_result(&res, version, ret);
	if (res_r != NULL)
		*res_r = res;
	return PV_OK;
}

/* The policy in force, parsed once per process and version. Keyed by the
 * text's hash too, so two archives opened by one process (tests) never
 * share a stale parse. Evaluation holds the lock: it is short, and a
 * replacement must not free a policy another thread is reading. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct policy *cache_policy;
static int64_t cache_version;
static char cache_sha[POLICY_HASH_HEX_LEN];

static int cache_refresh(struct db *db, struct pv_error *err)
{
	struct policy_version_info info;
	int r = policy_store_current(db, &info, err);
	if (r == PV_ENOTFOUND) {
		policy_free(&cache_policy);
		cache_version = 0;
		return PV_OK;
	}
	if (r < 0)
		return r;
	if (cache_policy != NULL && cache_version == info.version && strcmp(cache_sha, info.sha256) == 0)
		return PV_OK;
	policy_free(&cache_policy);
	if ((r = policy_version_load(db, info.version, &cache_policy, NULL, err)) < 0)
		return r;
	cache_version = info.version;
	memcpy(cache_sha, info.sha256, sizeof(cache_sha));
	return PV_OK;
}

int retention_decide_msg(struct archive *ar, const struct account *a, const struct index_doc *doc,
			 uint64_t size, int64_t received_at, struct retention *ret,
			 struct pv_error *err)
{
	struct retention_message rm;
	int r = retention_message_init(&rm, a->name, doc, size, received_at, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&cache_lock);
	if ((r = cache_refresh(ar->cat->conn, err)) == PV_OK) {
		if (cache_policy == NULL)
			r = retention_builtin(received_at, ret, err);
		else
			r = retention_evaluate(cache_policy, cache_version, &rm.m, ret, NULL, err);
	}
	pthread_mutex_unlock(&cache_lock);
	retention_message_free(&rm);
	return r;
}

void retention_bucket_month(const struct retention *ret, char out[32])
{
	if (ret->forever) {
		snprintf(out, 32, "never");
		return;
	}
	struct tm tm;
	time_t t = (time_t)ret->expires_at;
	gmtime_r(&t, &tm);
	snprintf(out, 32, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
}

int retention_bucket(struct archive *ar, const struct retention *ret, int64_t *bucket_id_r,
		     char label[RETENTION_BUCKET_LABEL_MAX], struct pv_error *err)
{
	unsigned char probe_key[BLOB_KEY_BYTES] = {0}, probe_salt[BLOB_SALT_BYTES] = {0};
	unsigned char wrapped[KEYRING_WRAPPED_BYTES];
	char month[32];
	int64_t id = 0;
	int r = PV_ENOTFOUND;

	retention_bucket_month(ret, month);
	/* Generations are bounded by the disposals of one month: each needs
	 * a whole bucket shredded first. */
	for (unsigned gen = 0; gen < 10000 && r == PV_ENOTFOUND; gen++) {
		if (gen == 0)
			snprintf(label, RETENTION_BUCKET_LABEL_MAX, "%s", month);
		else
			snprintf(label, RETENTION_BUCKET_LABEL_MAX, "%s+%u", month, gen);
		if ((r = keyring_bucket(ar->kr, ret->class_name, label, &id, err)) < 0)
			return r;
		/* A destroyed key cannot wrap: that is how we see it is gone. */
		r = keyring_wrap(ar->kr, id, "probe", probe_key, probe_salt, wrapped, err);
	}
	if (r < 0)
		return r;
	struct db_stmt *st;
	if ((r = db_prepare(ar->cat->conn, "INSERT INTO buckets (id, class, expiry_month)"
					   " VALUES (?, ?, ?) ON CONFLICT DO NOTHING", &st, err)) < 0)
		return r;
	db_bind_int64(st, 1, id);
	db_bind_text(st, 2, ret->class_name, -1);
	db_bind_text(st, 3, label, -1);
	int rc = db_step(st, err);
	if (rc < 0)
		r = rc;
	db_finalize(&st);
	*bucket_id_r = id;
	return r;
}

/* ---- a new policy version over the archive ---------------------------- */

struct prefix_count {
	struct pv_buf *prefix;
	uint64_t total;
};

static int sink_prefix_count(void *ctx, const unsigned char *data, size_t len, struct pv_error *err)
{
	struct prefix_count *pc = ctx;
	pc->total += len;
	return blob_sink_prefix(pc->prefix, data, len, err);
}

int retention_read_message(struct archive *ar, const struct stored_message *m, struct pv_buf *out,
			   uint64_t *size_r, struct pv_error *err)
{
	struct prefix_count pc = {out, 0};
	pv_buf_reset(out);
	int r = message_read(ar, m, sink_prefix_count, &pc, err);
	*size_r = pc.total;
	return r;
}

/* Moves a message's key to the bucket of its new retention and records it. */
static int update_row(struct archive *ar, const struct stored_message *m, const struct retention *nr,
		      bool rebucket, struct pv_error *err)
{
	unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES], wrapped[KEYRING_WRAPPED_BYTES];
	int64_t bucket = m->bucket_id;
	struct db_stmt *st;
	char label[RETENTION_BUCKET_LABEL_MAX];
	int r = PV_OK;

	if (rebucket) {
		if ((r = retention_bucket(ar, nr, &bucket, label, err)) < 0)
			return r;
		r = keyring_unwrap(ar->kr, m->bucket_id, m->blob, m->wrapped, m->wrapped_len, key, salt, err);
		if (r == PV_OK)
			r = keyring_wrap(ar->kr, bucket, m->blob, key, salt, wrapped, err);
		sodium_memzero(key, sizeof(key));
		sodium_memzero(salt, sizeof(salt));
		if (r < 0)
			return r;
	}
	/* the new wrapped key only when rebucketed: its blob parameter
	 * takes its type from wrapped_key in the CASE on PostgreSQL */
	if ((r = db_prepare(ar->cat->conn,
			    "UPDATE messages SET archived_class = coalesce(archived_class,"
			    " retention_class), retention_class = ?, expires_at = ?,"
			    " policy_version = ?, bucket_id = ?,"
			    " wrapped_key = CASE WHEN CAST(? AS bigint) = 1 THEN ? ELSE wrapped_key END"
			    " WHERE id = ? AND disposed_at IS NULL", &st, err)) < 0)
		return r;
	db_bind_text(st, 1, nr->class_name, -1);
	if (!nr->forever)
		db_bind_int64(st, 2, nr->expires_at);
	else
		db_bind_null(st, 2);
	db_bind_int64(st, 3, nr->policy_version);
	db_bind_int64(st, 4, bucket);
	db_bind_int64(st, 5, rebucket);
	if (rebucket)
		db_bind_blob(st, 6, wrapped, sizeof(wrapped));
	else
		db_bind_null(st, 6);
	db_bind_int64(st, 7, m->id);
	int rc = db_step(st, err);
	db_finalize(&st);
	return rc < 0 ? rc : PV_OK;
}

int retention_evaluate_stored(struct archive *ar, const struct policy *p, int64_t version,
			      const struct stored_message *m, struct pv_buf *raw, struct retention *nr_r,
			      struct policy_result *res_r, bool *unreadable_r, struct pv_error *err)
{
	struct retention_message rm;
	struct index_doc doc;
	struct pv_error e;
	uint64_t size;
	int r;

	*unreadable_r = false;
	if (retention_read_message(ar, m, raw, &size, &e) < 0) {
		/* The store's errors mostly name the message already. */
		char who[32];
		snprintf(who, sizeof(who), "message %lld: ", (long long)m->id);
		bool named = strncmp(e.msg, who, strlen(who)) == 0;
		pv_log(PV_LOG_WARN, "retention.unreadable", "%s%s (its retention stays)", named ? "" : who,
		       e.msg);
		*unreadable_r = true;
		return PV_OK;
	}
	if ((r = index_mime_facts(raw->data, raw->len, &doc, err)) < 0) {
		index_doc_free(&doc);
		return r;
	}
	/* The size of the bytes in hand, never the catalog's (which an edit
	 * can change): the policy decides on what the message is. */
	r = retention_message_init(&rm, m->account, &doc, size, m->received_at, err);
	if (r == PV_OK)
		r = retention_evaluate(p, version, &rm.m, nr_r, res_r, err);
	retention_message_free(&rm);
	index_doc_free(&doc);
	return r;
}

void retention_of_stored(const struct stored_message *m, struct retention *old_r)
{
	memset(old_r, 0, sizeof(*old_r));
	snprintf(old_r->class_name, sizeof(old_r->class_name), "%s", m->class_name);
	old_r->forever = m->expires_at < 0;
	old_r->expires_at = m->expires_at < 0 ? POLICY_NEVER : m->expires_at;
	old_r->policy_version = m->policy_version;
}

static int reapply_one(struct archive *ar, const struct policy *p, int64_t version,
		       const struct stored_message *m, struct pv_buf *raw,
		       struct policy_impact *imp, struct retention_reapply_stats *stats,
		       struct pv_error *err)
{
	struct retention nr, old;
	struct policy_result res, old_res;
	bool unreadable;
	char om[32], nm[32];
	int r;

	if ((r = retention_evaluate_stored(ar, p, version, m, raw, &nr, &res, &unreadable, err)) < 0)
		return r;
	if (unreadable) {
		/* Lost or damaged content keeps its old retention: changing it
		 * would need the content, and the loss must stay visible. */
		if (stats->unreadable < RETENTION_UNREADABLE_LIST)
			stats->unreadable_ids[stats->unreadable] = m->id;
		stats->unreadable++;
		return PV_OK;
	}
	stats->evaluated++;
	retention_of_stored(m, &old);
	old_res = (struct policy_result){.rule = m->class_name, .forever = old.forever,
					 .expires_at = old.expires_at};
	if (imp != NULL && (r = policy_impact_add(imp, &old_res, &res, err)) < 0)
		return r;
	retention_bucket_month(&old, om);
	retention_bucket_month(&nr, nm);
	bool rebucket = strcmp(old.class_name, nr.class_name) != 0 || strcmp(om, nm) != 0;
	if (strcmp(old.class_name, nr.class_name) != 0 || old.forever != nr.forever ||
	    old.expires_at != nr.expires_at)
		stats->changed++;
	if (rebucket)
		stats->rewrapped++;
	return update_row(ar, m, &nr, rebucket, err);
}

int retention_reapply(struct archive *ar, const struct policy *p, int64_t version, bool only_stale,
		      struct policy_impact *imp, struct retention_reapply_stats *stats,
		      struct pv_error *err)
{
	struct db_stmt *st;
	int64_t *ids = NULL;
	size_t n = 0;
	int r;

	memset(stats, 0, sizeof(*stats));
	if ((r = db_prepare(ar->cat->conn, "SELECT id FROM messages WHERE disposed_at IS NULL"
					   " AND (CAST(? AS bigint) = 0 OR policy_version != ?)"
					   " ORDER BY id", &st, err)) < 0)
		return r;
	db_bind_int64(st, 1, only_stale);
	db_bind_int64(st, 2, version);
	if ((r = db_collect_ids(&st, &ids, &n, err)) < 0)
		return r;
	/* What ingest reads of a message for its policy: the same decision
	 * from the same bytes, and memory flat whatever the message size. */
	struct pv_buf raw;
	pv_buf_init(&raw, PV_INGEST_READBACK_MAX);
	r = PV_OK;
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		struct stored_message m;
		if ((r = message_load(ar->cat->conn, ids[i], &m, err)) < 0)
			break;
		r = reapply_one(ar, p, version, &m, &raw, imp, stats, err);
		pv_buf_free_secret(&raw); /* wiped between messages */
		sodium_memzero(&m, sizeof(m));
	}
	pv_buf_free_secret(&raw);
	free(ids);
	return r;
}
