#include "archiver/archive/retention.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "archiver/index/text.h"
#include "archiver/lib/limits.h"
#include "archiver/store/blob.h"
#include "archiver/archive/ingest.h"
#include "archiver/store/message.h"
#include "archiver/archive/policies.h"

/* ---- the message as the policy sees it -------------------------------- */

static char *keep(struct retention_message *rm, char *s)
{
	if (s == NULL)
		return NULL;
	if (rm->n_strs == rm->cap_strs) {
		size_t cap = rm->cap_strs ? 2 * rm->cap_strs : 16;
		char **v = realloc(rm->strs, cap * sizeof(*v));
		if (v == NULL) {
			free(s);
			return NULL;
		}
		rm->strs = v;
		rm->cap_strs = cap;
	}
	rm->strs[rm->n_strs++] = s;
	return s;
}

/* A clean single-line copy: valid UTF-8, controls as spaces, trimmed. */
static char *clean_copy(struct retention_message *rm, const char *s, size_t n)
{
	struct pv_buf b;
	pv_buf_init(&b, n * 3 + 4); /* U+FFFD for each bad byte at worst */
	if (index_text_clean(s, n, false, &b, NULL) < 0) {
		pv_buf_free(&b);
		return NULL;
	}
	const char *t = pv_buf_str(&b);
	size_t len = b.len;
	while (len > 0 && t[len - 1] == ' ')
		len--;
	while (len > 0 && *t == ' ') {
		t++;
		len--;
	}
	char *out = strndup(t, len);
	pv_buf_free(&b);
	return keep(rm, out);
}

static int add_addr(struct retention_message *rm, int list, const char *addr)
{
	size_t *n = list == 0 ? &rm->m.n_to : list == 1 ? &rm->m.n_cc : &rm->m.n_bcc;
	if (*n == rm->cap_addrs[list]) {
		size_t cap = rm->cap_addrs[list] ? 2 * rm->cap_addrs[list] : 8;
		const char **v = realloc(rm->addrs[list], cap * sizeof(*v));
		if (v == NULL)
			return PV_ERR;
		rm->addrs[list] = v;
		rm->cap_addrs[list] = cap;
	}
	rm->addrs[list][(*n)++] = addr;
	return PV_OK;
}

enum { ADDR_FROM = -1, ADDR_TO = 0, ADDR_CC = 1, ADDR_BCC = 2 };

/* Mailboxes of an address list, groups flattened (RFC 5322 §3.4). */
static int take_addresses(struct retention_message *rm, InternetAddressList *l, int which, int level)
{
	int n = internet_address_list_length(l);
	for (int i = 0; i < n; i++) {
		InternetAddress *a = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_GROUP(a)) {
			InternetAddressList *m = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a));
			if (m != NULL && level == 0 && take_addresses(rm, m, which, 1) < 0)
				return PV_ERR;
			continue;
		}
		const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
		if (addr == NULL || *addr == '\0')
			continue;
		char *c = clean_copy(rm, addr, strlen(addr));
		if (c == NULL)
			return PV_ERR;
		if (which == ADDR_FROM) {
			if (rm->m.from == NULL)
				rm->m.from = c; /* the first sender: policy_message has one */
		} else if (add_addr(rm, which, c) < 0) {
			return PV_ERR;
		}
	}
	return PV_OK;
}

static int field_done(struct retention_message *rm, const char *name, size_t name_n,
		      struct pv_buf *value)
{
	if (rm->m.n_headers >= PV_RETENTION_HEADERS_MAX)
		return PV_OK;
	/* GMime takes C strings: a NUL inside a field becomes a space. */
	for (size_t i = 0; i < value->len; i++)
		if (value->data[i] == '\0')
			value->data[i] = ' ';
	const char *raw = pv_buf_str(value);
	char *dec = g_mime_utils_header_decode_text(NULL, raw);
	char *v = clean_copy(rm, dec ? dec : raw, strlen(dec ? dec : raw));
	g_free(dec);
	char *n = clean_copy(rm, name, name_n);
	if (v == NULL || n == NULL)
		return PV_ERR;
	if (rm->m.n_headers == rm->cap_headers) {
		size_t cap = rm->cap_headers ? 2 * rm->cap_headers : 32;
		struct policy_header *h = realloc(rm->headers, cap * sizeof(*h));
		if (h == NULL)
			return PV_ERR;
		rm->headers = h;
		rm->cap_headers = cap;
	}
	rm->headers[rm->m.n_headers].name = n;
	rm->headers[rm->m.n_headers].value = v;
	rm->m.n_headers++;
	if (rm->m.subject == NULL && strcasecmp(n, "subject") == 0)
		rm->m.subject = v;
	int which = strcasecmp(n, "from") == 0 ? ADDR_FROM
		    : strcasecmp(n, "to") == 0  ? ADDR_TO
		    : strcasecmp(n, "cc") == 0  ? ADDR_CC
		    : strcasecmp(n, "bcc") == 0 ? ADDR_BCC
						: -2;
	if (which == -2)
		return PV_OK;
	InternetAddressList *l = internet_address_list_parse(NULL, raw);
	int r = PV_OK;
	if (l != NULL) {
		r = take_addresses(rm, l, which, 0);
		g_object_unref(l);
	}
	return r;
}

/* The top-level header section (RFC 5322 §2.2): fields until the empty
 * line; a line that is not a field ends it too (broken mail). */
static int parse_header(struct retention_message *rm, const unsigned char *raw, size_t len)
{
	struct pv_buf value;
	const char *name = NULL;
	size_t name_n = 0, pos = 0;
	int r = PV_OK;

	if (len > PV_MIME_HEADER_MAX)
		len = PV_MIME_HEADER_MAX;
	pv_buf_init(&value, PV_MIME_FIELD_MAX);
	while (pos < len && r == PV_OK) {
		const unsigned char *l = raw + pos;
		const unsigned char *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) + 1 : len - pos;
		size_t vn = n;
		pos += n;
		while (vn > 0 && (l[vn - 1] == '\n' || l[vn - 1] == '\r'))
			vn--;
		if (l[0] == ' ' || l[0] == '\t') { /* folded: unfold by dropping the line end */
			if (name != NULL)
				(void)pv_buf_append(&value, l, vn, NULL); /* over FIELD_MAX: cut */
			continue;
		}
		if (name != NULL)
			r = field_done(rm, name, name_n, &value);
		name = NULL;
		if (vn == 0 || r < 0)
			break; /* the empty line: the body starts */
		size_t c = 0;
		while (c < vn && l[c] > 32 && l[c] < 127 && l[c] != ':')
			c++;
		size_t nn = c;
		while (c < vn && (l[c] == ' ' || l[c] == '\t'))
			c++;
		if (nn == 0 || c >= vn || l[c] != ':') {
			if (pos == n && vn >= 5 && memcmp(l, "From ", 5) == 0)
				continue; /* an mbox separator line */
			break;
		}
		c++;
		while (c < vn && (l[c] == ' ' || l[c] == '\t'))
			c++;
		name = (const char *)l;
		name_n = nn;
		pv_buf_reset(&value);
		(void)pv_buf_append(&value, l + c, vn - c, NULL);
	}
	if (name != NULL && r == PV_OK)
		r = field_done(rm, name, name_n, &value);
	pv_buf_free(&value);
	return r;
}

int retention_message_init(struct retention_message *rm, const char *account,
			   const struct index_doc *doc, const unsigned char *raw, size_t raw_len,
			   uint64_t size, int64_t received_at, struct pv_error *err)
{
	memset(rm, 0, sizeof(*rm));
	rm->m.account = account;
	rm->m.size = size;
	rm->m.received_at = received_at;
	rm->m.has_attachment = doc != NULL && doc->has_attachment;
	index_gmime_init();
	if (raw != NULL && parse_header(rm, raw, raw_len) < 0) {
		retention_message_free(rm);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	rm->m.to = rm->addrs[0];
	rm->m.cc = rm->addrs[1];
	rm->m.bcc = rm->addrs[2];
	rm->m.headers = rm->headers;
	return PV_OK;
}

void retention_message_free(struct retention_message *rm)
{
	for (size_t i = 0; i < rm->n_strs; i++)
		free(rm->strs[i]);
	free(rm->strs);
	for (int i = 0; i < 3; i++)
		free(rm->addrs[i]);
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

static int cache_refresh(sqlite3 *db, struct pv_error *err)
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
			 const unsigned char *raw, size_t raw_len, uint64_t size,
			 int64_t received_at, struct retention *ret, struct pv_error *err)
{
	struct retention_message rm;
	int r = retention_message_init(&rm, a->name, doc, raw, raw_len, size, received_at, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&cache_lock);
	if ((r = cache_refresh(ar->cat->db, err)) == PV_OK) {
		if (cache_policy == NULL)
			r = retention_builtin(received_at, ret, err);
		else
			r = retention_evaluate(cache_policy, cache_version, &rm.m, ret, NULL, err);
	}
	pthread_mutex_unlock(&cache_lock);
	retention_message_free(&rm);
	return r;
}

static int sink_buf(void *ctx, const unsigned char *data, size_t len, struct pv_error *err)
{
	return pv_buf_append(ctx, data, len, err);
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
	sqlite3_stmt *st;
	if ((r = catalog_prepare(ar->cat->db, "INSERT OR IGNORE INTO buckets (id, class, expiry_month)"
					      " VALUES (?, ?, ?)", &st, err)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, ret->class_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, label, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(ar->cat->db));
	sqlite3_finalize(st);
	*bucket_id_r = id;
	return r;
}

/* ---- a new policy version over the archive ---------------------------- */

int retention_read_message(struct archive *ar, const struct stored_message *m, struct pv_buf *out,
			   struct pv_error *err)
{
	pv_buf_reset(out);
	return message_read(ar, m, sink_buf, out, err);
}

/* Moves a message's key to the bucket of its new retention and records it. */
static int update_row(struct archive *ar, const struct stored_message *m, const struct retention *nr,
		      bool rebucket, struct pv_error *err)
{
	sqlite3 *db = ar->cat->db;
	unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES], wrapped[KEYRING_WRAPPED_BYTES];
	int64_t bucket = m->bucket_id;
	sqlite3_stmt *st;
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
	if ((r = catalog_prepare(db, "UPDATE messages SET archived_class = coalesce(archived_class,"
				     " retention_class), retention_class = ?, expires_at = ?,"
				     " policy_version = ?, bucket_id = ?,"
				     " wrapped_key = CASE WHEN ? THEN ? ELSE wrapped_key END"
				     " WHERE id = ? AND disposed_at IS NULL", &st, err)) < 0)
		return r;
	sqlite3_bind_text(st, 1, nr->class_name, -1, SQLITE_STATIC);
	if (!nr->forever)
		sqlite3_bind_int64(st, 2, nr->expires_at);
	sqlite3_bind_int64(st, 3, nr->policy_version);
	sqlite3_bind_int64(st, 4, bucket);
	sqlite3_bind_int(st, 5, rebucket);
	if (rebucket)
		sqlite3_bind_blob(st, 6, wrapped, sizeof(wrapped), SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, m->id);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

static int reapply_one(struct archive *ar, const struct policy *p, int64_t version,
		       const struct stored_message *m, struct pv_buf *raw,
		       struct policy_impact *imp, struct retention_reapply_stats *stats,
		       struct pv_error *err)
{
	struct retention nr, old = {.forever = m->expires_at < 0,
				    .expires_at = m->expires_at < 0 ? POLICY_NEVER : m->expires_at};
	struct policy_result res, old_res;
	struct retention_message rm;
	struct index_doc doc;
	struct pv_error e;
	char om[32], nm[32];
	int r;

	if (retention_read_message(ar, m, raw, &e) < 0) {
		/* Lost or damaged content keeps its old retention: changing it
		 * would need the content, and the loss must stay visible. */
		if (stats->unreadable < RETENTION_UNREADABLE_LIST)
			stats->unreadable_ids[stats->unreadable] = m->id;
		stats->unreadable++;
		return PV_OK;
	}
	if ((r = index_mime_extract(raw->data, raw->len, &doc, err)) < 0) {
		index_doc_free(&doc);
		return r;
	}
	/* The size of the bytes in hand, never the catalog's (which an edit
	 * can change): the policy decides on what the message is. */
	r = retention_message_init(&rm, m->account, &doc, raw->data, raw->len, raw->len,
				   m->received_at, err);
	index_doc_free(&doc);
	if (r < 0)
		return r;
	r = retention_evaluate(p, version, &rm.m, &nr, &res, err);
	retention_message_free(&rm);
	if (r < 0)
		return r;
	stats->evaluated++;
	snprintf(old.class_name, sizeof(old.class_name), "%s", m->class_name);
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
	sqlite3 *db = ar->cat->db;
	sqlite3_stmt *st;
	int64_t *ids = NULL;
	size_t n = 0;
	int r;

	memset(stats, 0, sizeof(*stats));
	if ((r = catalog_prepare(db, "SELECT id FROM messages WHERE disposed_at IS NULL"
				     " AND (? = 0 OR policy_version != ?) ORDER BY id", &st, err)) < 0)
		return r;
	sqlite3_bind_int(st, 1, only_stale);
	sqlite3_bind_int64(st, 2, version);
	if ((r = catalog_collect_ids(db, st, &ids, &n, err)) < 0)
		return r;
	struct pv_buf raw;
	pv_buf_init(&raw, 0);
	r = PV_OK;
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		struct stored_message m;
		if ((r = message_load(db, ids[i], &m, err)) < 0)
			break;
		pv_buf_free_secret(&raw);
		/* Bounded by the size cap too: a smaller catalog size must not
		 * make the real bytes unreadable. */
		pv_buf_init(&raw, (size_t)(m.size > ar->cfg.message_max ? m.size : ar->cfg.message_max));
		r = reapply_one(ar, p, version, &m, &raw, imp, stats, err);
		sodium_memzero(&m, sizeof(m));
	}
	pv_buf_free_secret(&raw);
	free(ids);
	return r;
}
