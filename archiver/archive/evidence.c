#include "archiver/archive/evidence.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/number.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"

bool evidence_field(const char *object, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);
	for (const char *p = object; (p = strstr(p, key)) != NULL; p += kl) {
		if ((p != object && p[-1] != ' ') || p[kl] != '=')
			continue;
		const char *v = p + kl + 1;
		size_t vl = strcspn(v, " ");
		if (vl == 0 || vl >= n)
			return false;
		memcpy(out, v, vl);
		out[vl] = '\0';
		return true;
	}
	return false;
}

bool evidence_field_int(const char *object, const char *key, int64_t *v_r)
{
	char s[24];
	uint64_t v;
	if (!evidence_field(object, key, s, sizeof(s)) ||
	    pv_parse_u64(s, strlen(s), 0, INT64_MAX, PV_NUM_CANONICAL, &v) != 0 || v > INT64_MAX)
		return false;
	*v_r = (int64_t)v;
	return true;
}

/* ---- the root of a log against its latest signed checkpoint ------------ */

struct head_scan {
	struct merkle_acc acc;
	uint64_t next;
	tlog_leaf_fn fn;
	void *ctx;
	bool gap;
	uint64_t at;          /* the signed checkpoint's size ... */
	merkle_hash root_at;  /* ... and the root recomputed there */
};

static int head_leaf(void *ctx, uint64_t index, const void *data, size_t len)
{
	struct head_scan *h = ctx;
	merkle_hash lh;
	if (index != h->next) {
		h->gap = true;
		return 1;
	}
	merkle_leaf_hash(data, len, lh);
	(void)merkle_acc_push(&h->acc, lh, NULL, NULL);
	h->next++;
	if (h->next == h->at)
		merkle_acc_root(&h->acc, h->root_at);
	return h->fn != NULL ? h->fn(h->ctx, index, data, len) : 0;
}

/* With EVIDENCE_RESERVED_OK: the rows after the latest signed one are all
 * reserved, and the last covers the whole log with its root. */
static bool reserved_tail_covers(struct tlog *t, uint64_t after, uint64_t size,
				 const merkle_hash root)
{
	struct tlog_checkpoint_row row;
	bool ok = false;
	tlog_checkpoint_row_init(&row);
	for (uint64_t seq = after + 1;; seq++) {
		if (tlog_checkpoint_get(t, seq, &row, NULL) != PV_OK)
			break;
		if (tlog_checkpoint_row_signed(&row)) {
			ok = false;
			break;
		}
		ok = row.size == size && memcmp(row.root, root, MERKLE_HASH_LEN) == 0;
	}
	tlog_checkpoint_row_free(&row);
	return ok;
}

int evidence_log_head(struct tlog *t, unsigned flags, tlog_leaf_fn fn, void *ctx,
		      struct pv_error *err)
{
	struct head_scan h = {.fn = fn, .ctx = ctx};
	struct tlog_checkpoint_row row;
	struct tlog_epoch_row ep;
	struct note_verifier v;
	struct checkpoint cp;
	merkle_hash root;
	uint64_t size;
	int r;

	merkle_acc_init(&h.acc);
	merkle_empty_root(h.root_at);
	tlog_checkpoint_row_init(&row);
	if ((r = tlog_size(t, &size, err)) < 0 ||
	    ((r = tlog_checkpoint_latest_signed(t, &row, err)) < 0 && r != PV_ENOTFOUND)) {
		tlog_checkpoint_row_free(&row);
		return r;
	}
	h.at = r == PV_OK ? row.size : 0;
	tlog_checkpoint_row_free(&row);
	r = tlog_leaf_scan(t, 0, head_leaf, &h, err);
	if (h.gap)
		return pv_fail(err, PV_EINTEGRITY, "%s log: entry %llu is missing", tlog_name(t),
			       (unsigned long long)h.next);
	if (r != 0)
		return r;
	if (h.next != size)
		return pv_fail(err, PV_EINTEGRITY, "%s log: %llu entries stored, %llu recorded",
			       tlog_name(t), (unsigned long long)h.next, (unsigned long long)size);
	merkle_acc_root(&h.acc, root);
	tlog_checkpoint_row_init(&row);
	tlog_epoch_row_init(&ep);
	if ((r = tlog_checkpoint_latest_signed(t, &row, err)) < 0 ||
	    (r = tlog_epoch_get(t, row.epoch, &ep, err)) < 0)
		goto out;
	struct pv_error e;
	if (note_verifier_parse(ep.vkey, strlen(ep.vkey), &v, &e) != 0 ||
	    checkpoint_open((const char *)row.note.data, row.note.len, &v, 1, &cp, &e) != 0) {
		r = pv_fail(err, PV_EINTEGRITY, "%s log: its latest checkpoint does not verify: %s",
			    tlog_name(t), e.msg);
		goto out;
	}
	if (cp.size != size && cp.size == h.at && cp.size < size &&
	    (flags & EVIDENCE_RESERVED_OK) && memcmp(cp.root, h.root_at, sizeof(root)) == 0 &&
	    reserved_tail_covers(t, row.seq, size, root))
		r = PV_OK; /* the rest waits for the signer (verify notes it) */
	else if (cp.size != size)
		r = pv_fail(err, PV_EINTEGRITY, "%s log: entries %llu to %llu are not covered by its "
						 "latest signed checkpoint",
			    tlog_name(t), (unsigned long long)cp.size, (unsigned long long)size - 1);
	else if (memcmp(cp.root, root, sizeof(root)) != 0)
		r = pv_fail(err, PV_EINTEGRITY, "%s log: its entries do not hash to the root its latest "
						 "signed checkpoint names (an entry was edited)",
			    tlog_name(t));
out:
	tlog_checkpoint_row_free(&row);
	tlog_epoch_row_free(&ep);
	return r;
}

/* ---- the audit log's records ------------------------------------------ */

struct load {
	struct evidence *ev;
	struct audit_entry e;
	void (*problem)(void *ctx, const char *msg);
	void *pctx;
	size_t cap_p, cap_h, cap_d, cap_i;
	struct pv_error perr;
	bool bad, oom;
};

static void say(struct load *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct load *l, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->problem != NULL)
		l->problem(l->pctx, msg);
}

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return true;
	size_t c = *cap ? 2 * *cap : 16;
	void *p = realloc(*v, c * size);
	if (p == NULL)
		return false;
	*v = p;
	*cap = c;
	return true;
}

static struct ev_hold *find_hold(struct evidence *ev, int64_t id)
{
	for (size_t i = ev->n_holds; i-- > 0;)
		if (ev->holds[i].id == id)
			return &ev->holds[i];
	return NULL;
}

static struct ev_disposal *find_disposal(struct evidence *ev, int64_t id)
{
	for (size_t i = ev->n_disposals; i-- > 0;)
		if (ev->disposals[i].id == id)
			return &ev->disposals[i];
	return NULL;
}

static bool hex64(const char *object, const char *key, char out[65])
{
	if (!evidence_field(object, key, out, 65) || strlen(out) != 64)
		return false;
	return strspn(out, "0123456789abcdef") == 64;
}

static int on_policy(struct load *l, const struct audit_entry *e)
{
	struct evidence *ev = l->ev;
	struct ev_policy p = {.seq = e->seq, .time = e->time};
	if (!evidence_field_int(e->object, "version", &p.version) ||
	    !hex64(e->object, "sha256", p.sha256)) {
		say(l, "audit entry %llu: malformed policy-set record", (unsigned long long)e->seq);
		return 0;
	}
	if (evidence_policy(ev, p.version) != NULL) {
		say(l, "audit entry %llu: policy version %lld is set a second time",
		    (unsigned long long)e->seq, (long long)p.version);
		return 0;
	}
	if (!grow((void **)&ev->policies, &l->cap_p, ev->n_policies, sizeof(p)))
		return -1;
	ev->policies[ev->n_policies++] = p;
	return 0;
}

static int on_hold(struct load *l, const struct audit_entry *e, bool place)
{
	struct evidence *ev = l->ev;
	int64_t id;
	if (!evidence_field_int(e->object, "hold", &id)) {
		say(l, "audit entry %llu: malformed %s record", (unsigned long long)e->seq, e->type);
		return 0;
	}
	struct ev_hold *h = find_hold(ev, id);
	if (!place) {
		if (h == NULL || h->released) {
			say(l, "audit entry %llu: releases hold %lld, which is not in force",
			    (unsigned long long)e->seq, (long long)id);
		} else {
			h->released = true;
			h->released_seq = e->seq;
			h->released_at = e->time;
		}
		return 0;
	}
	if (h != NULL) {
		say(l, "audit entry %llu: hold %lld is placed a second time", (unsigned long long)e->seq,
		    (long long)id);
		return 0;
	}
	if (!grow((void **)&ev->holds, &l->cap_h, ev->n_holds, sizeof(*h)))
		return -1;
	h = &ev->holds[ev->n_holds++];
	memset(h, 0, sizeof(*h));
	h->id = id;
	h->placed_seq = e->seq;
	h->placed_at = e->time;
	h->has_commit = e->has_commit;
	memcpy(h->commit, e->commit, sizeof(h->commit));
	if (!hex64(e->object, "ids-sha256", h->ids_sha256))
		h->ids_sha256[0] = '\0';
	return 0;
}

/* A message of d's intent spared before destruction: its justification
 * no longer stands (a later run may dispose of it with its own). */
static int on_spared(struct load *l, const struct audit_entry *e, struct ev_disposal *d)
{
	struct evidence *ev = l->ev;
	int64_t message;
	if (!evidence_field_int(e->object, "message", &message)) {
		say(l, "audit entry %llu: malformed disposal-spared record", (unsigned long long)e->seq);
		return 0;
	}
	for (size_t i = ev->n_items; i-- > 0;)
		if (ev->items[i].message_id == message && ev->items[i].disposal_id == d->id) {
			ev->items[i] = ev->items[--ev->n_items];
			d->spared++;
			return 0;
		}
	say(l, "audit entry %llu: spares message %lld, which disposal %lld's intent does not name",
	    (unsigned long long)e->seq, (long long)message, (long long)d->id);
	return 0;
}

static int on_dispose(struct load *l, const struct audit_entry *e)
{
	struct evidence *ev = l->ev;
	int64_t id;
	if (!evidence_field_int(e->object, "disposal", &id)) {
		say(l, "audit entry %llu: malformed %s record", (unsigned long long)e->seq, e->type);
		return 0;
	}
	struct ev_disposal *d = find_disposal(ev, id);
	if (strcmp(e->type, AUDIT_DISPOSE_INTENT) == 0) {
		if (d != NULL) {
			say(l, "audit entry %llu: disposal %lld has a second intent",
			    (unsigned long long)e->seq, (long long)id);
			return 0;
		}
		if (!grow((void **)&ev->disposals, &l->cap_d, ev->n_disposals, sizeof(*d)))
			return -1;
		d = &ev->disposals[ev->n_disposals++];
		memset(d, 0, sizeof(*d));
		d->id = id;
		d->intent_seq = e->seq;
		d->intent_at = e->time;
		if (!evidence_field_int(e->object, "policy", &d->policy) ||
		    !evidence_field_int(e->object, "messages", &d->messages))
			say(l, "audit entry %llu: malformed dispose-intent record",
			    (unsigned long long)e->seq);
		if (!hex64(e->object, "policy-sha256", d->policy_sha256))
			d->policy_sha256[0] = '\0';
		if (!evidence_field_int(e->object, "holds", &d->holds))
			d->holds = -1;
		if (!hex64(e->object, "holds-sha256", d->holds_sha256))
			d->holds_sha256[0] = '\0';
		return 0;
	}
	if (d == NULL || d->done) {
		say(l, "audit entry %llu: %s for disposal %lld, which has no open intent",
		    (unsigned long long)e->seq, e->type, (long long)id);
		return 0;
	}
	if (strcmp(e->type, AUDIT_DISPOSE_SPARED) == 0)
		return on_spared(l, e, d);
	if (strcmp(e->type, AUDIT_DISPOSE_DONE) == 0) {
		d->done = true;
		d->done_seq = e->seq;
		d->done_at = e->time;
		return 0;
	}
	struct ev_item it = {.disposal_id = id, .seq = e->seq};
	if (!evidence_field_int(e->object, "message", &it.message_id)) {
		say(l, "audit entry %llu: malformed disposal-item record", (unsigned long long)e->seq);
		return 0;
	}
	if (!grow((void **)&ev->items, &l->cap_i, ev->n_items, sizeof(it)))
		return -1;
	ev->items[ev->n_items++] = it;
	d->items++;
	return 0;
}

static int on_entry(struct load *l, uint64_t index, const void *data, size_t len)
{
	struct audit_entry *e = &l->e;
	if (auditlog_leaf_parse(data, len, index, e, &l->perr) < 0) {
		l->bad = true;
		return 1;
	}
	if (e->kind != AUDIT_ENTRY_EVENT || strcmp(e->outcome, "ok") != 0)
		return 0;
	if (strcmp(e->type, AUDIT_POLICY_SET) == 0)
		return on_policy(l, e);
	if (strcmp(e->type, AUDIT_HOLD_PLACE) == 0 || strcmp(e->type, AUDIT_HOLD_RELEASE) == 0)
		return on_hold(l, e, strcmp(e->type, AUDIT_HOLD_PLACE) == 0);
	if (strcmp(e->type, AUDIT_DISPOSE_INTENT) == 0 || strcmp(e->type, AUDIT_DISPOSE_ITEM) == 0 ||
	    strcmp(e->type, AUDIT_DISPOSE_SPARED) == 0 || strcmp(e->type, AUDIT_DISPOSE_DONE) == 0)
		return on_dispose(l, e);
	return 0;
}

static int on_leaf(void *ctx, uint64_t index, const void *data, size_t len)
{
	struct load *l = ctx;
	if (on_entry(l, index, data, len) < 0) {
		l->oom = true;
		return 1;
	}
	return l->bad ? 1 : 0;
}

static int cmp_hold(const void *a, const void *b)
{
	const struct ev_hold *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_disposal(const void *a, const void *b)
{
	const struct ev_disposal *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_item(const void *a, const void *b)
{
	const struct ev_item *x = a, *y = b;
	if (x->message_id != y->message_id)
		return x->message_id < y->message_id ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int evidence_load(struct tlog *audit, unsigned flags, struct evidence *ev,
		  void (*problem)(void *ctx, const char *msg), void *ctx, struct pv_error *err)
{
	struct load *l = calloc(1, sizeof(*l));
	int r;
	memset(ev, 0, sizeof(*ev));
	if (l == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	l->ev = ev;
	l->problem = problem;
	l->pctx = ctx;
	r = evidence_log_head(audit, flags, on_leaf, l, err);
	if (l->bad)
		r = pv_fail(err, PV_EINTEGRITY, "audit log: %s", l->perr.msg);
	else if (l->oom)
		r = pv_fail(err, PV_ERR, "out of memory");
	free(l);
	if (r == PV_OK)
		r = tlog_size(audit, &ev->audit_size, err);
	if (r < 0) {
		evidence_free(ev);
		return r;
	}
	if (ev->n_holds > 0)
		qsort(ev->holds, ev->n_holds, sizeof(*ev->holds), cmp_hold);
	if (ev->n_disposals > 0)
		qsort(ev->disposals, ev->n_disposals, sizeof(*ev->disposals), cmp_disposal);
	if (ev->n_items > 0)
		qsort(ev->items, ev->n_items, sizeof(*ev->items), cmp_item);
	for (size_t i = 1; i < ev->n_items; i++)
		if (ev->items[i].message_id == ev->items[i - 1].message_id && problem != NULL) {
			char msg[160];
			snprintf(msg, sizeof(msg), "audit entries %llu and %llu: message %lld is disposed "
						   "of twice",
				 (unsigned long long)ev->items[i - 1].seq, (unsigned long long)ev->items[i].seq,
				 (long long)ev->items[i].message_id);
			problem(ctx, msg);
		}
	return PV_OK;
}

void evidence_free(struct evidence *ev)
{
	free(ev->policies);
	free(ev->holds);
	free(ev->disposals);
	free(ev->items);
	memset(ev, 0, sizeof(*ev));
}

const struct ev_policy *evidence_policy(const struct evidence *ev, int64_t version)
{
	for (size_t i = 0; i < ev->n_policies; i++)
		if (ev->policies[i].version == version)
			return &ev->policies[i];
	return NULL;
}

const struct ev_policy *evidence_policy_before(const struct evidence *ev, uint64_t seq)
{
	const struct ev_policy *p = NULL;
	for (size_t i = 0; i < ev->n_policies && ev->policies[i].seq < seq; i++)
		p = &ev->policies[i];
	return p;
}

const struct ev_hold *evidence_hold(const struct evidence *ev, int64_t id)
{
	struct ev_hold key = {.id = id};
	if (ev->n_holds == 0)
		return NULL;
	return bsearch(&key, ev->holds, ev->n_holds, sizeof(key), cmp_hold);
}

bool evidence_hold_in_force(const struct ev_hold *h, uint64_t seq)
{
	return h->placed_seq < seq && (!h->released || h->released_seq > seq);
}

const struct ev_disposal *evidence_disposal(const struct evidence *ev, int64_t id)
{
	struct ev_disposal key = {.id = id};
	if (ev->n_disposals == 0)
		return NULL;
	return bsearch(&key, ev->disposals, ev->n_disposals, sizeof(key), cmp_disposal);
}

const struct ev_item *evidence_item(const struct evidence *ev, int64_t message_id)
{
	size_t lo = 0, hi = ev->n_items;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ev->items[mid].message_id < message_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ev->n_items && ev->items[lo].message_id == message_id ? &ev->items[lo] : NULL;
}
