#include "archiver/archive/audit_trail.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "archiver/archive/anchor.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "audit/checkpoint.h"
#include "audit/tlog_proof.h"

/* A day has this many seconds after its first (no leap seconds in unix time). */
#define DAY_LAST_S 86399

int archive_audit_time(const char *s, bool until, int64_t *t_r, struct pv_error *err)
{
	if (pv_clock_parse_rfc3339(s, t_r) != 0)
		return pv_fail(err, PV_EUSAGE, "'%s' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", s);
	if (until && strlen(s) == 10)
		*t_r += DAY_LAST_S;
	return PV_OK;
}

struct page {
	const struct archive_audit_query *q;
	auditlog_entry_fn fn;
	void *ctx;
	bool count_all;
	uint64_t matched, passed;
	bool full; /* the page is complete and nothing more is counted */
};

/* Whether every space-separated word of want is a word of object. */
static bool object_has(const char *object, const char *want)
{
	while (*want) {
		size_t n = strcspn(want, " ");
		bool found = false;
		for (const char *o = object; *o && !found;) {
			size_t m = strcspn(o, " ");
			found = m == n && memcmp(o, want, n) == 0;
			o += m;
			o += *o == ' ';
		}
		if (n > 0 && !found)
			return false;
		want += n;
		want += *want == ' ';
	}
	return true;
}

static int page_one(void *ctx, const struct audit_entry *e, const char *personal, size_t plen)
{
	struct page *p = ctx;
	if (p->q->object != NULL && !object_has(e->object, p->q->object))
		return 0;
	if (p->matched++ < p->q->offset)
		return 0;
	if (p->q->limit != 0 && p->passed >= p->q->limit) {
		if (p->count_all)
			return 0;
		p->full = true;
		return 1; /* stops auditlog_list */
	}
	p->passed++;
	return p->fn(p->ctx, e, personal, plen);
}

int archive_audit_list(struct archive *ar, const struct archive_audit_query *q,
		       auditlog_entry_fn fn, void *ctx, uint64_t *matched_r, struct pv_error *err)
{
	struct page p = {q, fn, ctx, matched_r != NULL, 0, 0, false};
	int r = auditlog_list(ar->audit_log, &q->filter, page_one, &p, err);
	if (r > 0 && p.full)
		r = PV_OK;
	if (matched_r != NULL)
		*matched_r = p.matched;
	return r;
}

int archive_audit_export(struct archive *ar, const char *actor, const char *out, int64_t since,
			 int64_t until, bool personal, struct auditbundle_summary *sum_r,
			 struct pv_error *err)
{
	struct bundle_external x;
	struct auditbundle_opts o = {.out = out, .actor = actor, .since = since, .until = until,
				     .personal = personal, .external = &x,
				     .progress = ar->progress};
	bundle_external_init(&x);
	int r = archive_anchor_evidence(ar, AUDIT_LOG, UINT64_MAX, &x, err);
	if (r == 0)
		r = auditbundle_export(ar->audit_log, ar->audit_key, &o, sum_r, err);
	bundle_external_free(&x);
	return r;
}

void archive_audit_item_free(struct archive_audit_item *it)
{
	pv_buf_free(&it->leaf);
	pv_buf_free(&it->personal);
	pv_buf_free(&it->proof);
	pv_buf_free(&it->checkpoint);
}

int archive_audit_entry(struct archive *ar, uint64_t seq, struct archive_audit_item *it,
			struct pv_error *err)
{
	uint8_t salt[AUDIT_SALT_LEN], commit[AUDIT_COMMIT_LEN];
	uint64_t size;
	int r;

	memset(it, 0, sizeof(*it));
	pv_buf_init(&it->leaf, PV_TLOG_ENTRY_MAX);
	pv_buf_init(&it->personal, PV_AUDIT_PERSONAL_MAX + 1);
	pv_buf_init(&it->proof, PV_TLOG_PROOF_MAX);
	pv_buf_init(&it->checkpoint, PV_NOTE_MAX);
	if ((r = tlog_size(ar->audit_log, &size, err)) < 0)
		return r;
	if (seq >= size)
		return pv_fail(err, PV_ENOTFOUND, "the audit log has no entry %llu",
			       (unsigned long long)seq);
	if ((r = tlog_leaf(ar->audit_log, seq, &it->leaf, err)) < 0 ||
	    (r = auditlog_leaf_parse(it->leaf.data, it->leaf.len, seq, &it->e, err)) < 0)
		return r;
	if (it->e.has_commit) {
		r = auditlog_personal(ar->audit_log, seq, salt, &it->personal, err);
		if (r == PV_OK) {
			auditlog_commitment(salt, it->personal.data, it->personal.len, commit);
			if (sodium_memcmp(commit, it->e.commit, sizeof(commit)) != 0)
				return pv_fail(err, PV_EINTEGRITY, "audit entry %llu: personal data does "
								   "not match its commitment",
					       (unsigned long long)seq);
			it->has_personal = true;
		} else if (r != PV_ENOTFOUND) {
			return r;
		}
	}
	/* Every append signs a checkpoint in its transaction: the latest covers seq. */
	if ((r = checkpoint_latest(ar->audit_log, &it->checkpoint, NULL, err)) < 0)
		return r;
	return tlog_proof_create(ar->audit_log, seq, (const char *)it->checkpoint.data,
				 it->checkpoint.len, NULL, 0, &it->proof, err);
}

struct viewed {
	char word[40];
	auditlog_entry_fn fn;
	void *ctx;
};

static int viewed_one(void *ctx, const struct audit_entry *e, const char *personal, size_t plen)
{
	struct viewed *v = ctx;
	if (strcmp(e->type, AUDIT_VIEW) != 0 && strcmp(e->type, AUDIT_DOWNLOAD) != 0)
		return 0;
	if (!object_has(e->object, v->word))
		return 0;
	return v->fn(v->ctx, e, personal, plen);
}

int archive_audit_who_viewed(struct archive *ar, int64_t message_id, auditlog_entry_fn fn,
			     void *ctx, struct pv_error *err)
{
	struct auditlog_filter f = {INT64_MIN, INT64_MAX, NULL, NULL};
	struct viewed v = {"", fn, ctx};
	snprintf(v.word, sizeof(v.word), "message=%lld", (long long)message_id);
	return auditlog_list(ar->audit_log, &f, viewed_one, &v, err);
}

struct gaps {
	int64_t prev;
	uint64_t prev_seq;
	struct auditlog_gap *v;
	size_t max, n;
};

static void gap_add(struct gaps *g, int64_t from, uint64_t from_seq, int64_t to, uint64_t to_seq)
{
	if (to - from <= AUDITLOG_HEARTBEAT_GAP_S)
		return;
	if (g->n < g->max)
		g->v[g->n] = (struct auditlog_gap){from_seq, to_seq, from, to};
	g->n++;
}

static int gap_one(void *ctx, const struct audit_entry *e, const char *personal, size_t plen)
{
	struct gaps *g = ctx;
	(void)personal;
	(void)plen;
	if (e->time < 0) /* a key-rotation note has no time of its own */
		return 0;
	if (g->prev >= 0)
		gap_add(g, g->prev, g->prev_seq, e->time, e->seq);
	g->prev = e->time;
	g->prev_seq = e->seq;
	return 0;
}

static int first_time(void *ctx, const struct audit_entry *e, const char *personal, size_t plen)
{
	(void)personal;
	(void)plen;
	if (e->time < 0) /* a key-rotation note has no time of its own */
		return 0;
	*(int64_t *)ctx = e->time;
	return 1; /* found: stop */
}

int archive_audit_first_time(struct archive *ar, int64_t *time_r, struct pv_error *err)
{
	struct auditlog_filter f = {0, INT64_MAX, NULL, NULL};
	*time_r = -1;
	int r = auditlog_list(ar->audit_log, &f, first_time, time_r, err);
	return r < 0 ? r : PV_OK;
}

int archive_audit_gaps(struct archive *ar, int64_t since, int64_t until,
		       struct auditlog_gap *gaps, size_t max, size_t *n_r, struct pv_error *err)
{
	struct auditlog_filter f = {since, until, NULL, NULL};
	struct gaps g = {-1, 0, gaps, max, 0};
	uint64_t size;
	int r = auditlog_list(ar->audit_log, &f, gap_one, &g, err);
	if (r < 0 || (r = tlog_size(ar->audit_log, &size, err)) < 0)
		return r;
	if (g.prev >= 0 && until != INT64_MAX) /* quiet since the last entry */
		gap_add(&g, g.prev, g.prev_seq, until, size);
	*n_r = g.n;
	return PV_OK;
}

int archive_fd_sha256(int fd, char out[65], uint64_t *size_r, struct pv_error *err)
{
	crypto_hash_sha256_state hs;
	unsigned char buf[65536], d[32];
	uint64_t size = 0;
	ssize_t n;
	crypto_hash_sha256_init(&hs);
	while ((n = pread(fd, buf, sizeof(buf), (off_t)size)) > 0 || (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		crypto_hash_sha256_update(&hs, buf, (size_t)n);
		size += (uint64_t)n;
	}
	if (n < 0)
		return pv_fail(err, PV_ERR, "read: %s", strerror(errno));
	crypto_hash_sha256_final(&hs, d);
	pv_hex(d, sizeof(d), out);
	*size_r = size;
	return PV_OK;
}

int archive_file_sha256(const char *path, char out[65], uint64_t *size_r, struct pv_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return pv_fail(err, errno == ENOENT ? PV_ENOTFOUND : PV_ERR, "%s: %s", path,
			       strerror(errno));
	int r = archive_fd_sha256(fd, out, size_r, err);
	close(fd);
	return r < 0 ? pv_error_prefix(err, "%s", path) : r;
}

int archive_audit_bundle_download(struct archive *ar, const char *actor, const char *label,
				  int fd, const char *expect_sha256, char sha256_r[65],
				  uint64_t *size_r, struct pv_error *err)
{
	int r = archive_fd_sha256(fd, sha256_r, size_r, err);
	if (r < 0)
		return r;
	if (expect_sha256 != NULL && strcmp(expect_sha256, sha256_r) != 0)
		return pv_fail(err, PV_EINTEGRITY, "audit export %s: the file changed since it was "
						   "written (SHA-256 %s, not %s)", label, sha256_r,
			       expect_sha256);
	return archive_auditf(ar, actor, AUDIT_DOWNLOAD, "ok", NULL, err,
			      "audit-export=%s sha256=%s size=%llu", label, sha256_r,
			      (unsigned long long)*size_r);
}
