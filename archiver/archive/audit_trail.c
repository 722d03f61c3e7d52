#include "archiver/archive/audit_trail.h"

#include <string.h>

#include "archiver/lib/clock.h"

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
	struct auditbundle_opts o = {out, actor, since, until, personal};
	return auditbundle_export(ar->audit_log, ar->audit_key, &o, sum_r, err);
}
