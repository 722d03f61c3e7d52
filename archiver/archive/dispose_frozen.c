#include "archiver/archive/dispose_frozen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archive/indexer.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/number.h"

#define MAGIC "popvault/disposal-plan/v1\n"

int dispose_freeze(struct archive *ar, struct dispose_run *run, struct pv_buf *out,
		   size_t *frozen_r, struct pv_error *err)
{
	const struct dispose_plan *p = &run->plan;
	size_t n = 0;
	int r = archive_dispose(ar, "-", true, run, err);
	*frozen_r = 0;
	if (r < 0)
		return r;
	if ((r = pv_buf_printf(out, err, MAGIC "policy %lld\nholds %s\nplanned %lld\n",
			       (long long)p->policy_version, p->holds_digest, (long long)p->now)) < 0)
		return r;
	for (size_t i = 0; i < p->n && r == PV_OK && n < PV_APPROVAL_DISPOSE_MAX; i++) {
		const struct dispose_item *it = &p->v[i];
		if (it->state != DISPOSE_DUE)
			continue;
		r = pv_buf_printf(out, err, "%lld %lld %lld %s\n", (long long)it->id,
				  (long long)it->policy_version, (long long)it->expires_at, it->rule);
		n++;
	}
	*frozen_r = n;
	return r;
}

/* The next line of [*pos, end) without its "\n"; false at the end or when
 * the last line has no "\n". */
static bool next_line(const char *text, size_t len, size_t *pos, const char **line_r,
		      size_t *n_r)
{
	const char *nl;
	if (*pos >= len || (nl = memchr(text + *pos, '\n', len - *pos)) == NULL)
		return false;
	*line_r = text + *pos;
	*n_r = (size_t)(nl - *line_r);
	*pos += *n_r + 1;
	return true;
}

/* "KEY VALUE" with KEY as given; the value into *v_r (decimal) or, when
 * hex is set, a 64-digit hex string that is only checked. */
static bool header_line(const char *line, size_t n, const char *key, bool hex, uint64_t *v_r)
{
	size_t k = strlen(key);
	if (n <= k + 1 || memcmp(line, key, k) != 0 || line[k] != ' ')
		return false;
	line += k + 1;
	n -= k + 1;
	if (hex)
		return n == 64 && strspn(line, "0123456789abcdef") >= 64;
	return pv_parse_u64(line, n, 0, INT64_MAX, PV_NUM_CANONICAL, v_r) == 0;
}

/* One item line: "ID VERSION EXPIRES RULE". */
static bool item_line(const char *line, size_t n, struct dispose_frozen_item *it)
{
	uint64_t v[3];
	for (int f = 0; f < 3; f++) {
		const char *sp = memchr(line, ' ', n);
		if (sp == NULL || pv_parse_u64(line, (size_t)(sp - line), 0, INT64_MAX,
					       PV_NUM_CANONICAL, &v[f]) != 0)
			return false;
		n -= (size_t)(sp - line) + 1;
		line = sp + 1;
	}
	if (n == 0 || n >= sizeof(it->rule) || memchr(line, ' ', n) || memchr(line, '\0', n))
		return false;
	it->id = (int64_t)v[0];
	it->policy_version = (int64_t)v[1];
	it->expires_at = (int64_t)v[2];
	memcpy(it->rule, line, n);
	it->rule[n] = '\0';
	return true;
}

int dispose_frozen_parse(const void *text, size_t len, struct dispose_frozen_item **v_r,
			 size_t *n_r, struct pv_error *err)
{
	const char *t = text, *line;
	size_t pos = strlen(MAGIC), n, count = 0, cap = 0;
	struct dispose_frozen_item *v = NULL;
	uint64_t num;

	*v_r = NULL;
	*n_r = 0;
	if (len < pos || memcmp(t, MAGIC, pos) != 0 || !next_line(t, len, &pos, &line, &n) ||
	    !header_line(line, n, "policy", false, &num) || !next_line(t, len, &pos, &line, &n) ||
	    !header_line(line, n, "holds", true, &num) || !next_line(t, len, &pos, &line, &n) ||
	    !header_line(line, n, "planned", false, &num))
		return pv_fail(err, PV_EINTEGRITY, "the frozen disposal plan is malformed");
	while (next_line(t, len, &pos, &line, &n)) {
		if (count == cap) {
			cap = cap ? 2 * cap : 64;
			struct dispose_frozen_item *nv = realloc(v, cap * sizeof(*nv));
			if (nv == NULL) {
				free(v);
				return pv_fail(err, PV_ERR, "out of memory");
			}
			v = nv;
		}
		if (count == PV_APPROVAL_DISPOSE_MAX || !item_line(line, n, &v[count]) ||
		    (count > 0 && v[count].id <= v[count - 1].id)) {
			free(v);
			return pv_fail(err, PV_EINTEGRITY, "the frozen disposal plan is malformed "
							   "(item %zu)", count + 1);
		}
		count++;
	}
	if (pos != len) {
		free(v);
		return pv_fail(err, PV_EINTEGRITY, "the frozen disposal plan is malformed (its end)");
	}
	*v_r = v;
	*n_r = count;
	return PV_OK;
}

static const struct dispose_frozen_item *frozen_find(const struct dispose_frozen_item *v, size_t n,
						     int64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo].id == id ? &v[lo] : NULL;
}

/* Only what the approved plan lists, unchanged, stays due. */
static void keep_approved(struct dispose_plan *p, const struct dispose_frozen_item *v, size_t n)
{
	for (size_t i = 0; i < p->n; i++) {
		struct dispose_item *it = &p->v[i];
		if (it->state != DISPOSE_DUE)
			continue;
		const struct dispose_frozen_item *f = frozen_find(v, n, it->id);
		if (f != NULL && f->policy_version == it->policy_version &&
		    f->expires_at == it->expires_at && strcmp(f->rule, it->rule) == 0)
			continue;
		snprintf(it->why, sizeof(it->why), "%s",
			 f == NULL ? "due, but not in the approved plan (propose another run)"
				   : "its retention changed since the plan was approved");
		it->state = DISPOSE_BLOCKED;
		p->due--;
		p->blocked++;
	}
}

int dispose_run_frozen(struct archive *ar, const char *actor, const void *frozen, size_t len,
		       int (*in_tx)(void *ctx, const struct dispose_plan *plan, struct pv_error *err),
		       void *ctx, struct dispose_run *run, struct pv_error *err)
{
	struct dispose_frozen_item *v = NULL;
	int64_t resumed = 0;
	size_t n = 0;
	int r;

	memset(run, 0, sizeof(*run));
	if ((r = dispose_frozen_parse(frozen, len, &v, &n, err)) < 0)
		return r;
	/* A run cut short after its intent is finished before anything else. */
	if ((r = dispose_resume(ar, pv_clock_now(), actor, &resumed, err)) < 0 ||
	    (r = indexer_catch_up(ar, NULL, NULL, err)) < 0 || (r = db_begin(ar->cat->conn, err)) < 0)
		goto out;
	if ((r = dispose_plan(ar, pv_clock_now(), &run->plan, err)) < 0) {
		db_rollback(ar->cat->conn);
		goto out;
	}
	keep_approved(&run->plan, v, n);
	if ((r = in_tx(ctx, &run->plan, err)) < 0) {
		db_rollback(ar->cat->conn);
		goto out;
	}
	if ((r = dispose_execute(ar, &run->plan, actor, &run->res, err)) < 0)
		goto out;
	run->res.resumed = resumed;
	run->completed = true;
	r = dispose_check_missing(&run->plan, err);
out:
	free(v);
	return r;
}
