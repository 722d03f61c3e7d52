/* Writing eDiscovery bundles (export.h; layout in ediscovery.h). */
#include "archiver/export/export.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/export/ediscovery.h"
#include "archiver/export/loadfile.h"
#include "archiver/export/mbox.h"
#include "archiver/index/index.h"
#include "archiver/index/sandbox_pool.h"
#include "archiver/index/mime.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/sha256.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/number.h"
#include "archiver/lib/pagecache.h"
#include "archiver/store/leaf.h"
#include "archiver/store/leaf_commit.h"
#include "archiver/archive/anchor.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/indexer.h"
#include "archiver/archive/proof.h"
#include "archiver/archive/search_open.h"
#include "archiver/archive/read_ahead.h"
#include "archiver/store/message.h"
#include "audit/auditlog.h"
#include "audit/bundle_trust.h"
#include "audit/bundle_write.h"
#include "audit/checkpoint.h"
#include "audit/tlog_proof.h"

/* Messages up to this size are gathered in memory and added at once;
 * bigger ones are staged in a temporary file (bundle_member_*), which
 * costs a write, a read and a second hash. Pass 2 runs after the
 * read-ahead's buffers (READ_AHEAD_BYTES) are freed, so this much adds
 * nothing to the peak; in the bench's mix half the bytes are in
 * messages of 1 to 4 MiB. */
#define EML_MEMORY_MAX READ_AHEAD_ONE_MAX
/* Parser sandboxes parsing load-file fields at once: a second core, and
 * enough parses in flight that the caller seldom waits for one (2 left it
 * waiting on the pool more than on anything else, sched_switch profile). */
#define EXPORT_SANDBOXES 4
/* The header section is looked for this many bytes at a time. */
#define HEAD_STEP 4096
/* The mbox's staging file is read again this many bytes at a time. */
#define STAGE_READ (1024 * 1024)

struct item {
	int64_t id;
	int64_t number; /* Bates number; -1 when disposed */
	int64_t leaf_index;
	uint64_t size;
	int64_t received_at;
	int64_t disposed_at;
	int64_t policy_version;
	uint8_t sha256[32];
	uint8_t commit[32]; /* from the leaf, filled with the proofs */
	int leaf_version;   /* likewise: how commit commits (store/leaf_commit.h) */
};

struct xp {
	struct archive *ar;
	const struct export_opts *o;
	struct export_summary *sum;
	struct pv_error *err;
	struct item *items; /* by id */
	size_t n;
	size_t *order; /* the exported items, in Bates order */
	size_t n_exported;
	struct bates_matter matter;
	struct pv_buf acp_note;
	struct checkpoint acp;
	struct pv_buf personal; /* {"matter":..,"query":..} */
	uint8_t set_sha[32];
	uint64_t seq;    /* the export event */
	int64_t time;    /* its time */
	struct bundle_writer *w;
	/* The load file's fields are parsed in parser sandboxes while the
	 * next messages are read; their rows are written in Bates order. */
	struct index_pool *pool;
	struct row_meta *meta; /* per pool slot: what the row needs besides the fields */
	struct message_reader *mr; /* every message is loaded twice (its row) */
};

/* What a load-file row takes from pass 1 besides the parsed fields. */
struct row_meta {
	struct item *it;
	char account[sizeof(((struct stored_message *)0)->account)];
	uint8_t md5[16];
};

/* The streamed members of pass 1 and its scratch buffers. */
struct rows {
	struct bundle_member *mbox, *dat, *csv;
	struct pv_buf line, proof;
};

static const char *matter_of(const struct export_opts *o)
{
	return o->matter ? o->matter : "";
}

static void bates_of(const struct xp *x, const struct item *it, char out[BATES_LEN_MAX + 1])
{
	bates_format(x->matter.prefix, it->number, out);
}

/* --- step 2: the set, Bates numbers, the audit event ------------------------------ */

static int set_line(const struct xp *x, const struct item *it, struct pv_buf *out,
		    struct pv_error *err)
{
	char hex[65], bates[BATES_LEN_MAX + 1] = "-", t[PV_RFC3339_LEN];
	if (it->number >= 0)
		bates_of(x, it, bates);
	if (it->disposed_at != 0) {
		pv_clock_format_rfc3339(it->disposed_at, t);
		return pv_buf_printf(out, err, "disposed %lld %s %lld %s\n", (long long)it->id, t,
				     (long long)it->policy_version, bates);
	}
	pv_hex(it->sha256, 32, hex);
	return pv_buf_printf(out, err, "message %lld %s %lld %llu %s\n", (long long)it->id, bates,
			     (long long)it->leaf_index, (unsigned long long)it->size, hex);
}

/* Hashes (out == NULL) or writes the message set. */
static int write_set(struct xp *x, struct bundle_member *out, crypto_hash_sha256_state *st)
{
	struct pv_buf line;
	int r;
	pv_buf_init(&line, 1024);
	r = pv_buf_printf(&line, x->err, EDISCOVERY_SET_MAGIC "\n");
	for (size_t i = 0; i <= x->n && r == 0; i++) {
		if (i > 0) {
			pv_buf_reset(&line);
			r = set_line(x, &x->items[i - 1], &line, x->err);
		}
		if (r == 0 && st != NULL)
			crypto_hash_sha256_update(st, line.data, line.len);
		if (r == 0 && out != NULL)
			r = bundle_member_write(out, line.data, line.len, x->err);
	}
	pv_buf_free(&line);
	return r;
}

static int add_item(struct xp *x, int64_t id, size_t *cap)
{
	struct stored_message m;
	int r;
	if (x->n == *cap) {
		size_t nc = *cap ? 2 * *cap : 64;
		struct item *p = realloc(x->items, nc * sizeof(*p));
		if (p == NULL)
			return pv_fail(x->err, PV_ERR, "out of memory");
		x->items = p;
		*cap = nc;
	}
	if ((r = message_reader_load(x->mr, id, &m, x->err)) < 0)
		return r;
	struct item *it = &x->items[x->n++];
	memset(it, 0, sizeof(*it));
	it->id = m.id;
	it->leaf_index = m.leaf_index;
	it->size = m.size;
	it->received_at = m.received_at;
	it->disposed_at = m.disposed_at;
	it->policy_version = m.policy_version;
	it->number = -1;
	memcpy(it->sha256, m.sha256, 32);
	return 0;
}

static int cmp_item_id(const void *a, const void *b)
{
	int64_t x = ((const struct item *)a)->id, y = ((const struct item *)b)->id;
	return x < y ? -1 : x > y;
}

static struct item *item_by_id(struct xp *x, int64_t id)
{
	struct item key = {.id = id};
	return bsearch(&key, x->items, x->n, sizeof(*x->items), cmp_item_id);
}

/* An earlier-numbered message of the matter, disposed of since. */
struct gone_ctx {
	struct xp *x;
	size_t n_matched, *cap;
};

static int add_gone(void *ctx, int64_t id, int64_t number)
{
	struct gone_ctx *g = ctx;
	struct item key = {.id = id};
	if (g->n_matched > 0 &&
	    bsearch(&key, g->x->items, g->n_matched, sizeof(key), cmp_item_id) != NULL)
		return 0;
	int r = add_item(g->x, id, g->cap);
	if (r == 0)
		g->x->items[g->x->n - 1].number = number;
	return r;
}

/* The matching messages (ascending ids), their Bates numbers, and the
 * disposed ones: matching ones, and those this matter numbered before. */
static int load_items(struct xp *x, const int64_t *ids, size_t n, int64_t now)
{
	size_t cap = 0, k = 0, fresh = 0;
	int64_t *exp_ids = NULL, *nums = NULL;
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = add_item(x, ids[i], &cap);
	if (r < 0)
		return r;
	if ((r = bates_matter_open(x->ar->cat->conn, matter_of(x->o), x->o->bates_prefix,
				   x->o->bates_start, x->o->actor, now, &x->matter, x->err)) < 0)
		return r;
	if ((exp_ids = calloc(x->n ? x->n : 1, sizeof(*exp_ids))) == NULL ||
	    (nums = calloc(x->n ? x->n : 1, sizeof(*nums))) == NULL) {
		r = pv_fail(x->err, PV_ERR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < x->n && r == 0; i++) {
		if (x->items[i].disposed_at == 0)
			exp_ids[k++] = x->items[i].id;
		else
			r = bates_lookup(x->ar->cat->conn, &x->matter, x->items[i].id, &x->items[i].number,
					 x->err);
	}
	if (r < 0 || (r = bates_assign(x->ar->cat->conn, &x->matter, exp_ids, k, now, nums, &fresh,
				       x->err)) < 0)
		goto out;
	for (size_t i = 0; i < k; i++)
		item_by_id(x, exp_ids[i])->number = nums[i];
	x->sum->new_numbers = fresh;
	struct gone_ctx g = {x, x->n, &cap};
	if ((r = bates_disposed(x->ar->cat->conn, &x->matter, add_gone, &g, x->err)) < 0)
		goto out;
	if (x->n > 1)
		qsort(x->items, x->n, sizeof(*x->items), cmp_item_id);
	if ((x->order = calloc(x->n ? x->n : 1, sizeof(*x->order))) == NULL) {
		r = pv_fail(x->err, PV_ERR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < x->n; i++) {
		if (x->items[i].disposed_at == 0)
			x->order[x->n_exported++] = i;
		else
			x->sum->disposed++;
	}
out:
	free(exp_ids);
	free(nums);
	return r;
}

static int cmp_bates(const void *a, const void *b, void *ctx)
{
	const struct item *items = ctx;
	int64_t x = items[*(const size_t *)a].number, y = items[*(const size_t *)b].number;
	return x < y ? -1 : x > y;
}

/* The latest archive checkpoint, signed anew if it does not cover every
 * exported leaf (it always does after a harvest; a belt and braces). */
static int archive_checkpoint(struct xp *x)
{
	int64_t max_leaf = -1;
	for (size_t k = 0; k < x->n_exported; k++)
		if (x->items[x->order[k]].leaf_index > max_leaf)
			max_leaf = x->items[x->order[k]].leaf_index;
	pv_buf_reset(&x->acp_note);
	return proof_checkpoint_covering(x->ar, max_leaf, &x->acp_note, &x->acp, x->err);
}

static int personal_json(struct xp *x)
{
	json_t *j = json_object();
	char *s = NULL;
	int r = 0;
	if (j == NULL ||
	    json_object_set_new(j, "matter", json_string(matter_of(x->o))) != 0 ||
	    json_object_set_new(j, "query", json_string(x->o->query)) != 0 ||
	    (s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		r = pv_fail(x->err, PV_EUSAGE, "the query and matter must be UTF-8 text");
	else
		r = pv_buf_append_str(&x->personal, s, x->err);
	free(s);
	json_decref(j);
	return r;
}

static int record_export(struct xp *x, const int64_t *ids, size_t n)
{
	crypto_hash_sha256_state st;
	char object[AUDIT_OBJECT_MAX + 1], hex[65];
	struct pv_buf leaf;
	struct audit_entry e;
	int64_t now = pv_clock_now();
	int r;

	pv_buf_init(&leaf, PV_TLOG_ENTRY_MAX);
	if ((r = personal_json(x)) < 0 || (r = catalog_begin(x->ar->cat, x->err)) < 0)
		goto out;
	if ((r = load_items(x, ids, n, now)) < 0 || (r = archive_checkpoint(x)) < 0)
		goto rollback;
	crypto_hash_sha256_init(&st);
	if ((r = write_set(x, NULL, &st)) < 0)
		goto rollback;
	crypto_hash_sha256_final(&st, x->set_sha);
	pv_hex(x->set_sha, 32, hex);
	snprintf(object, sizeof(object), "messages=%zu disposed=%llu set-sha256=%s archive-size=%llu",
		 x->n_exported, (unsigned long long)x->sum->disposed, hex,
		 (unsigned long long)x->acp.size);
	struct audit_event ev = {x->o->actor, AUDIT_EXPORT, object, "ok", (const char *)x->personal.data};
	if ((r = auditlog_append(x->ar->audit_log, x->ar->audit_key, &ev, &x->seq, x->err)) < 0) {
		pv_error_prefix(x->err, "audit log");
		goto rollback;
	}
	if ((r = catalog_commit(x->ar->cat, x->err)) < 0 ||
	    (r = archive_seal(x->ar, x->err)) < 0) /* the bundle carries its checkpoint */
		goto out;
	if ((r = tlog_leaf(x->ar->audit_log, x->seq, &leaf, x->err)) < 0 ||
	    (r = auditlog_leaf_parse(leaf.data, leaf.len, x->seq, &e, x->err)) < 0)
		goto out;
	x->time = e.time;
	goto out;
rollback:
	catalog_rollback(x->ar->cat);
out:
	pv_buf_free(&leaf);
	return r;
}

/* --- step 3: the bundle ---------------------------------------------------------------- */

static int add_buf(struct xp *x, const char *name, const struct pv_buf *b)
{
	return bundle_add(x->w, name, b->data ? (const void *)b->data : "", b->len, x->err);
}

static int write_request(struct xp *x)
{
	char t[PV_RFC3339_LEN], first[BATES_LEN_MAX + 1] = "", last[BATES_LEN_MAX + 1] = "";
	json_t *j = json_object(), *arc = json_object(), *aud = json_object();
	char *s = NULL;
	int r = 0;
	pv_clock_format_rfc3339(x->time, t);
	if (x->n_exported > 0) {
		bates_of(x, &x->items[x->order[0]], first);
		bates_of(x, &x->items[x->order[x->n_exported - 1]], last);
	}
	snprintf(x->sum->first_bates, sizeof(x->sum->first_bates), "%s", first);
	snprintf(x->sum->last_bates, sizeof(x->sum->last_bates), "%s", last);
	if (j == NULL || arc == NULL || aud == NULL ||
	    json_object_set_new(j, "format", json_string(EDISCOVERY_REQUEST_FORMAT)) ||
	    json_object_set_new(j, "query", json_string(x->o->query)) ||
	    json_object_set_new(j, "matter", json_string(matter_of(x->o))) ||
	    json_object_set_new(j, "actor", json_string(x->o->actor)) ||
	    json_object_set_new(j, "time", json_string(t)) ||
	    json_object_set_new(j, "bates_prefix", json_string(x->matter.prefix)) ||
	    json_object_set_new(j, "bates_first", json_string(first)) ||
	    json_object_set_new(j, "bates_last", json_string(last)) ||
	    json_object_set_new(j, "messages", json_integer((json_int_t)x->n_exported)) ||
	    json_object_set_new(j, "disposed", json_integer((json_int_t)x->sum->disposed)) ||
	    json_object_set_new(arc, "origin", json_string(tlog_origin(x->ar->archive_log))) ||
	    json_object_set_new(arc, "size", json_integer((json_int_t)x->acp.size)) ||
	    json_object_set_new(aud, "origin", json_string(tlog_origin(x->ar->audit_log))) ||
	    json_object_set_new(aud, "size", json_integer((json_int_t)(x->seq + 1))) ||
	    json_object_set_new(aud, "export_event", json_integer((json_int_t)x->seq)) ||
	    json_object_set(j, "archive", arc) || json_object_set(j, "audit", aud) ||
	    (s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL)
		r = pv_fail(x->err, PV_ERR, "export/request.json: out of memory");
	else {
		struct pv_buf b;
		pv_buf_init(&b, PV_EXPORT_REQUEST_MAX);
		if ((r = pv_buf_printf(&b, x->err, "%s\n", s)) < 0 ||
		    (r = add_buf(x, "export/request.json", &b)) < 0)
			pv_error_prefix(x->err, "export/request.json");
		pv_buf_free(&b);
	}
	free(s);
	json_decref(arc);
	json_decref(aud);
	json_decref(j);
	return r;
}

/* The checkpoints earlier exports carried: audit size seq+1 (for audit
 * exports too: their final checkpoint), and the archive size an
 * eDiscovery export's event names. A recipient keeps one of them. And
 * what parties outside the box said about either log (anchor.h), whose
 * checkpoints are anchors too. */
static int write_anchors(struct xp *x)
{
	struct bundle_anchors a;
	struct bundle_external ax, ux;
	int r;
	bundle_external_init(&ax);
	bundle_external_init(&ux);
	if ((r = bundle_anchors_find(x->ar->audit_log, x->seq,
				     BUNDLE_ANCHOR_AUDIT_EXPORTS | BUNDLE_ANCHOR_EXPORTS, UINT64_MAX,
				     &a, x->err)) < 0)
		goto out0;
	if ((r = archive_anchor_evidence(x->ar, ARCHIVE_LOG, x->acp.size, &ax, x->err)) == 0 &&
	    (r = archive_anchor_evidence(x->ar, AUDIT_LOG, x->seq + 1, &ux, x->err)) == 0 &&
	    (r = bundle_external_anchor_sizes(&ax, &a, false, x->err)) == 0 &&
	    (r = bundle_external_anchor_sizes(&ux, &a, true, x->err)) == 0 &&
	    (r = bundle_trust_add_anchors(x->w, x->ar->audit_log, "audit", a.audit, a.n_audit,
					  x->seq + 1, x->err)) == 0 &&
	    (r = bundle_trust_add_anchors(x->w, x->ar->archive_log, "archive", a.archive,
					  a.n_archive, x->acp.size, x->err)) == 0 &&
	    (r = bundle_external_write(x->w, "archive", &ax, x->acp.size, x->err)) == 0)
		r = bundle_external_write(x->w, "audit", &ux, x->seq + 1, x->err);
	bundle_anchors_free(&a);
out0:
	bundle_external_free(&ax);
	bundle_external_free(&ux);
	return r;
}

/* The rotation notes, each signed by the key it retires, that let a
 * verifier holding the first keys follow the logs to their current ones;
 * the same notes as leaves of the audit log with their inclusion proofs
 * in audit/checkpoint's tree (a retired key alone cannot name a
 * successor); and trust/vkeys (every epoch's key, a reminder). */
static int write_vkeys(struct xp *x)
{
	struct tlog *au = x->ar->audit_log;
	struct pv_buf text;
	int r;
	pv_buf_init(&text, 64 * 1024);
	if ((r = bundle_trust_add_rotation_chain(x->w, x->ar->archive_log, "rotations/archive",
						 x->err)) == 0 &&
	    (r = bundle_trust_add_rotation_chain(x->w, au, "rotations/audit", x->err)) == 0 &&
	    (r = bundle_trust_add_logged_rotations(x->w, x->ar->archive_log, au, "audit",
						   x->seq + 1, x->err)) == 0 &&
	    (r = bundle_trust_add_logged_rotations(x->w, au, au, "audit", x->seq + 1,
						   x->err)) == 0 &&
	    (r = bundle_trust_vkeys(x->ar->archive_log, &text, x->err)) == 0 &&
	    (r = bundle_trust_vkeys(x->ar->audit_log, &text, x->err)) == 0)
		r = add_buf(x, "trust/vkeys", &text);
	pv_buf_free(&text);
	return r;
}

/* audit/checkpoint, the event's proof and its personal data. */
static int write_audit(struct xp *x)
{
	struct tlog *au = x->ar->audit_log;
	struct tlog_checkpoint_row row;
	struct pv_buf leaf, proof, pdata, pjson;
	uint8_t salt[AUDIT_SALT_LEN];
	int r;

	tlog_checkpoint_row_init(&row);
	pv_buf_init(&leaf, PV_TLOG_ENTRY_MAX);
	pv_buf_init(&proof, PV_TLOG_PROOF_MAX);
	pv_buf_init(&pdata, PV_AUDIT_PERSONAL_MAX + 1);
	pv_buf_init(&pjson, 8 * PV_AUDIT_PERSONAL_MAX);
	if ((r = tlog_checkpoint_at_most(au, x->seq + 1, &row, x->err)) < 0)
		goto out;
	if (row.size != x->seq + 1) {
		r = pv_fail(x->err, PV_EINTEGRITY, "no audit checkpoint covers the export event");
		goto out;
	}
	if ((r = add_buf(x, "audit/checkpoint", &row.note)) < 0 ||
	    (r = tlog_leaf(au, x->seq, &leaf, x->err)) < 0 ||
	    (r = tlog_proof_create(au, x->seq, (const char *)row.note.data, row.note.len, leaf.data,
				   leaf.len, &proof, x->err)) < 0 ||
	    (r = add_buf(x, "audit/export-event.tlog-proof", &proof)) < 0 ||
	    (r = auditlog_personal(au, x->seq, salt, &pdata, x->err)) < 0 ||
	    (r = auditlog_personal_json(x->seq, salt, (const char *)pdata.data, pdata.len, &pjson,
					x->err)) < 0 ||
	    (r = add_buf(x, "audit/export-event.personal.json", &pjson)) < 0)
		goto out;
out:
	sodium_memzero(salt, sizeof(salt));
	tlog_checkpoint_row_free(&row);
	pv_buf_free(&leaf);
	pv_buf_free(&proof);
	pv_buf_free_secret(&pdata);
	pv_buf_free(&pjson);
	return r;
}

/* messages/<BATES>.tlog-proof (archive/proof.h); it->commit and
 * it->leaf_version get the leaf's. */
static int write_proof(struct xp *x, struct rows *rw, struct item *it,
		       const uint8_t salt[BLOB_SALT_BYTES])
{
	char name[BATES_LEN_MAX + 32], bates[BATES_LEN_MAX + 1];
	int r;

	pv_buf_reset(&rw->proof);
	bates_of(x, it, bates);
	snprintf(name, sizeof(name), "messages/%s.tlog-proof", bates);
	if ((r = proof_message(x->ar, it->id, it->leaf_index, salt, (const char *)x->acp_note.data,
			       x->acp_note.len, &rw->proof, it->commit, &it->leaf_version,
			       x->err)) == 0)
		r = add_buf(x, name, &rw->proof);
	return r;
}

/* --- the messages ---------------------------------------------------------------- */

struct msink {
	struct xp *x;
	struct bundle_member *mbox;
	struct mbox_quote q;
	EVP_MD_CTX *md5;
	struct leaf_commit commit;
	struct pv_buf head;             /* the header section, for the load files */
	bool head_done;
	bool digested;                  /* MD5 and SHA-256 made by the read-ahead */
	uint64_t bytes;
};

static int mbox_out(void *ctx, const void *p, size_t n, struct pv_error *err)
{
	return bundle_member_write(ctx, p, n, err);
}

/* Keeps the header section (up to the first empty line) for the DAT. */
static void head_collect_step(struct msink *s, const unsigned char *p, size_t n)
{
	size_t from = s->head.len > 3 ? s->head.len - 3 : 0;
	size_t room = s->head.max - s->head.len;
	if (n > room)
		n = room;
	if (n == 0 || pv_buf_append(&s->head, p, n, NULL) < 0) {
		s->head_done = true;
		return;
	}
	for (size_t i = from; i + 1 < s->head.len; i++) {
		if (s->head.data[i] != '\n')
			continue;
		size_t j = i + 1;
		if (s->head.data[j] == '\r' && j + 1 < s->head.len)
			j++;
		if (s->head.data[j] == '\n') {
			s->head.len = j + 1;
			s->head.data[s->head.len] = '\0';
			s->head_done = true;
			return;
		}
	}
}

/* A whole message comes as one chunk: it is looked at a few KiB at a time,
 * so only about its header section is copied (the same bytes are kept
 * whatever the chunking: the search restarts 3 bytes back). */
static void head_collect(struct msink *s, const unsigned char *p, size_t n)
{
	while (n > 0 && !s->head_done) {
		size_t k = n < HEAD_STEP ? n : HEAD_STEP;
		head_collect_step(s, p, k);
		p += k;
		n -= k;
	}
}

static int msink_pass1(void *ctx, const unsigned char *p, size_t n, struct pv_error *err)
{
	struct msink *s = ctx;
	int r;
	if ((r = mbox_quote_feed(&s->q, p, n, err)) < 0)
		return r;
	if (!s->digested && EVP_DigestUpdate(s->md5, p, n) != 1)
		return pv_fail(err, PV_ERR, "MD5 failed");
	leaf_commit_update(&s->commit, p, n); /* nothing for a v3 leaf read ahead */
	head_collect(s, p, n);
	s->bytes += n;
	return 0;
}

/* MM/DD/YYYY and HH:MM:SS in UTC (the DAT convention; VERIFY.md says UTC). */
static void dat_date(int64_t t, char date[16], char tod[16])
{
	char r[PV_RFC3339_LEN];
	pv_clock_format_rfc3339(t, r);
	snprintf(date, 16, "%.2s/%.2s/%.4s", r + 5, r + 8, r);
	snprintf(tod, 16, "%.8s", r + 11);
}

/* The DAT and CSV rows of one message from its parse in a sandbox (a
 * pool job handed back in Bates order) and what pass 1 kept of it. */
static int write_rows(struct xp *x, struct rows *rw, const struct row_meta *meta,
		      struct index_pool_job *job)
{
	const struct item *it = meta->it;
	const struct index_doc *doc = &job->doc;
	char sha[65], md5h[33], idb[24], size[24], arch[PV_RFC3339_LEN], date[16] = "", tod[16] = "";
	char rfc[PV_RFC3339_LEN] = "", file[BATES_LEN_MAX + 8], path[BATES_LEN_MAX + 20], mid[1100];
	char bates[BATES_LEN_MAX + 1];
	int r;

	if (it == NULL) /* every job is submitted with its item */
		return pv_fail(x->err, PV_ERR, "export: a parse came back without its message");
	bates_of(x, it, bates);
	if (job->r < 0) {
		if (x->err != NULL)
			*x->err = job->err;
		pv_error_prefix(x->err, "message %lld (%s)", (long long)it->id, bates);
		return job->r;
	}
	pv_hex(it->sha256, 32, sha);
	pv_hex(meta->md5, 16, md5h);
	snprintf(idb, sizeof(idb), "%lld", (long long)it->id);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)it->size);
	pv_clock_format_rfc3339(it->received_at, arch);
	if (doc->date_known) {
		dat_date(doc->date, date, tod);
		pv_clock_format_rfc3339(doc->date, rfc);
	}
	snprintf(file, sizeof(file), "%s.eml", bates);
	snprintf(path, sizeof(path), "messages/%s.eml", bates);
	snprintf(mid, sizeof(mid), doc->message_id.len ? "<%.1024s>" : "%s",
		 pv_buf_str(&doc->message_id));
	const char *from = pv_buf_str(&doc->from), *to = pv_buf_str(&doc->to),
		   *cc = pv_buf_str(&doc->cc), *bcc = pv_buf_str(&doc->bcc),
		   *subj = pv_buf_str(&doc->subject), *account = meta->account;
	const char *dat[EDISCOVERY_DAT_NFIELDS] = {bates, bates, from, to,   cc,   bcc, subj,
						    date,  tod,   mid,  account, arch, idb, size,
						    file,  path,  sha,  md5h};
	const char *csv[EDISCOVERY_CSV_NFIELDS] = {bates, idb, account, arch, rfc, from, to, cc,
						    bcc, subj, mid, size, sha, md5h, path};
	pv_buf_reset(&rw->line);
	if ((r = loadfile_row(LOADFILE_DAT, dat, EDISCOVERY_DAT_NFIELDS, &rw->line, x->err)) == 0 &&
	    (r = bundle_member_write(rw->dat, rw->line.data, rw->line.len, x->err)) == 0) {
		pv_buf_reset(&rw->line);
		if ((r = loadfile_row(LOADFILE_CSV, csv, EDISCOVERY_CSV_NFIELDS, &rw->line, x->err)) == 0)
			r = bundle_member_write(rw->csv, rw->line.data, rw->line.len, x->err);
	}
	return r;
}

/* The next pool slot in turn: the rows of the message it held first. */
static int rows_next(struct xp *x, struct rows *rw, struct index_pool_job **job_r)
{
	struct index_pool_job *job = index_pool_next(x->pool);
	int r = 0;
	if (job->id != 0)
		r = write_rows(x, rw, &x->meta[job->slot], job);
	job->id = 0;
	index_doc_free(&job->doc);
	*job_r = job;
	return r;
}

/* Hands the message's header section to a sandbox of the pool (started
 * with the first message); its rows are written when the pool hands it
 * back, after the messages before it. Hostile mail is parsed there
 * (index/sandbox.h): this may be the web server's process. */
static int rows_start(struct xp *x, struct rows *rw, struct item *it,
		      const struct stored_message *m, const struct msink *s, const uint8_t md5[16])
{
	struct index_pool_job *job;
	int r;
	if (x->pool == NULL) {
		int k = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? EXPORT_SANDBOXES : 1;
		if ((r = index_pool_new(k, &x->pool, x->err)) < 0)
			return r;
		if ((x->meta = calloc((size_t)k, sizeof(*x->meta))) == NULL)
			return pv_fail(x->err, PV_ERR, "out of memory");
	}
	if ((r = rows_next(x, rw, &job)) < 0)
		return r;
	pv_buf_reset(&job->raw);
	if (s->head.len > 0 && (r = pv_buf_append(&job->raw, s->head.data, s->head.len, x->err)) < 0)
		return r;
	struct row_meta *meta = &x->meta[job->slot];
	meta->it = it;
	snprintf(meta->account, sizeof(meta->account), "%s", m->account);
	memcpy(meta->md5, md5, sizeof(meta->md5));
	job->id = it->id;
	job->extract = true;
	index_pool_start(x->pool, job);
	return 0;
}

/* The rows of every message still in the pool, in order. (After an
 * error, index_pool_free waits for them and drops them.) */
static int rows_finish(struct xp *x, struct rows *rw)
{
	struct index_pool_job *job;
	int r = 0;
	for (int i = 0; x->pool != NULL && i < index_pool_size(x->pool) && r == 0; i++)
		r = rows_next(x, rw, &job);
	return r;
}

/* Keeps the read-ahead (archive/read_ahead.h) fed with the messages in
 * Bates order from *pushed on, as far as it has room; message k always. */
static int feed(struct xp *x, struct read_ahead *ra, size_t k, size_t *pushed,
		read_ahead_digest_fn digest)
{
	while (*pushed < x->n_exported && (*pushed == k || read_ahead_room(ra))) {
		const struct item *it = &x->items[x->order[*pushed]];
		struct stored_message m;
		int r = message_reader_load(x->mr, it->id, &m, x->err);
		if (r == 0 && m.disposed_at != 0)
			r = pv_fail(x->err, PV_ERR, "message %lld was disposed of during the export; "
						    "run it again", (long long)it->id);
		if (r == 0)
			r = read_ahead_push(ra, &m, digest, x->err);
		sodium_memzero(&m, sizeof(m));
		if (r < 0)
			return r;
		++*pushed;
	}
	return 0;
}

/* The next message from the read-ahead; errors say to run verify. */
static int take(struct xp *x, struct read_ahead *ra, const struct stored_message **m,
		const uint8_t **salt, const unsigned char **data, size_t *len)
{
	int r = read_ahead_take(ra, m, salt, data, len, x->err);
	if (r == PV_EINTEGRITY)
		pv_error_prefix(x->err, "integrity failure (verify the archive)");
	return r;
}

/* Pass 1's digests of a message read ahead, on the reading thread: its
 * SHA-256 (out[0..32): what a v3 leaf's commitment is made from, checked
 * by the caller, who knows the leaf) and its MD5 for the load files
 * (out[32..48)). */
static int pass1_digest(const unsigned char *data, size_t len,
			uint8_t out[READ_AHEAD_DIGEST_BYTES], struct pv_error *err)
{
	unsigned md5_len = 0;
	int r = pv_sha256_once(data, len, out, err);
	if (r < 0)
		return r;
	if (EVP_Digest(data, len, out + 32, &md5_len, EVP_md5(), NULL) != 1 || md5_len != 16)
		return pv_fail(err, PV_ERR, "MD5 failed");
	return 0;
}

/* Pass 1 for one message: its proof, then its content into the mbox and the
 * load files, checked against the leaf commitment on the way. */
static int message_pass1(struct xp *x, struct rows *rw, struct item *it, struct read_ahead *ra)
{
	const struct stored_message *m;
	const uint8_t *salt, *digest;
	const unsigned char *data;
	size_t len;
	struct msink s;
	uint8_t commit[32], md5[16];
	char bates[BATES_LEN_MAX + 1], from[PV_EXPORT_FROM_LINE_MAX + 1];
	char sender[BATES_LEN_MAX + 16];
	unsigned md5_len = 0;
	int r;

	memset(&s, 0, sizeof(s));
	s.x = x;
	s.mbox = rw->mbox;
	pv_buf_init(&s.head, PV_MIME_HEADER_MAX);
	bates_of(x, it, bates);
	snprintf(sender, sizeof(sender), "%s@" EDISCOVERY_MBOX_DOMAIN, bates);
	if ((r = take(x, ra, &m, &salt, &data, &len)) < 0 || (r = write_proof(x, rw, it, salt)) < 0)
		goto out;
	/* Read ahead: digested on the reading thread; else (too big for
	 * that) streamed and digested now. */
	digest = read_ahead_digest(ra);
	s.digested = data != NULL && digest != NULL;
	if (!s.digested &&
	    ((s.md5 = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(s.md5, EVP_md5(), NULL) != 1)) {
		r = pv_fail(x->err, PV_ERR, "MD5 is not available");
		goto out;
	}
	/* Read ahead, the SHA-256 is known; a v1 or v2 leaf's BLAKE2b is
	 * still made here, over the bytes. */
	if ((r = leaf_commit_begin(&s.commit, it->leaf_version, salt, s.digested, x->err)) < 0)
		goto out;
	if ((r = mbox_from_line(sender, it->received_at, from, sizeof(from), x->err)) < 0 ||
	    (r = mbox_quote_begin(&s.q, from, mbox_out, rw->mbox, x->err)) < 0)
		goto out;
	if ((r = data ? msink_pass1(&s, data, len, x->err) : message_read(x->ar, m, msink_pass1, &s,
									   x->err)) < 0)
		goto out;
	leaf_commit_end(&s.commit, s.digested ? digest : NULL, commit);
	if (s.digested && digest != NULL) {
		memcpy(md5, digest + 32, sizeof(md5));
	} else if (EVP_DigestFinal_ex(s.md5, md5, &md5_len) != 1 || md5_len != 16) {
		r = pv_fail(x->err, PV_ERR, "MD5 failed");
		goto out;
	}
	if (s.bytes != it->size || sodium_memcmp(commit, it->commit, sizeof(commit)) != 0) {
		r = pv_fail(x->err, PV_EINTEGRITY, "message %lld does not match its archive leaf "
						   "commitment (verify the archive)", (long long)it->id);
		goto out;
	}
	if ((r = mbox_quote_end(&s.q, x->err)) < 0 || (r = rows_start(x, rw, it, m, &s, md5)) < 0)
		goto out;
	x->sum->bytes += s.bytes;
out:
	leaf_commit_abort(&s.commit);
	EVP_MD_CTX_free(s.md5);
	pv_buf_free(&s.head);
	return r;
}

static int check_cancel(struct xp *x)
{
	if (x->o->cancelled != NULL && x->o->cancelled(x->o->progress_ctx))
		return pv_fail(x->err, PV_ERR, "cancelled");
	return 0;
}

/* Pass 2: the .eml files from the mbox's staging file, read again
 * (bundle_member_end_keep): its records are pass 1's verified bytes,
 * quoted; unquoted (mbox.h: mboxrd gives each message back byte for byte,
 * plus the '\n' the mbox added to one that did not end in one), each
 * is checked against the set's SHA-256 and size before it goes in, so
 * nothing comes into the bundle unverified, whatever happened to the
 * file meanwhile. */
struct pass2 {
	struct xp *x;
	size_t k;                     /* the record's place in Bates order */
	const struct item *it;
	char name[BATES_LEN_MAX + 16];
	struct pv_buf eml;            /* the message while it is small */
	struct bundle_member *staged; /* when it is not */
	struct pv_sha256 h;           /* of a staged one */
	uint64_t got;                 /* bytes of the message so far */
	bool extra_nl;                /* and the mbox's '\n' after them */
};

static int p2_begin(void *ctx, const char *from_line, size_t len, struct pv_error *err)
{
	struct pass2 *p = ctx;
	char bates[BATES_LEN_MAX + 1], sender[BATES_LEN_MAX + 16];
	char want[PV_EXPORT_FROM_LINE_MAX + 1];
	int r;
	if (p->k >= p->x->n_exported)
		return pv_fail(err, PV_EINTEGRITY, "export: the mbox holds more messages than the set");
	p->it = &p->x->items[p->x->order[p->k]];
	bates_of(p->x, p->it, bates);
	snprintf(sender, sizeof(sender), "%s@" EDISCOVERY_MBOX_DOMAIN, bates);
	if ((r = mbox_from_line(sender, p->it->received_at, want, sizeof(want), err)) < 0)
		return r;
	if ((size_t)r != len + 1 || memcmp(want, from_line, len) != 0)
		return pv_fail(err, PV_EINTEGRITY, "export: the mbox's record %zu is not %s",
			       p->k + 1, bates);
	snprintf(p->name, sizeof(p->name), "messages/%s.eml", bates);
	pv_buf_reset(&p->eml);
	p->got = 0;
	p->extra_nl = false;
	if (p->it->size > EML_MEMORY_MAX) {
		if ((r = pv_sha256_init(&p->h, err)) < 0)
			return r;
		return bundle_member_begin(p->x->w, p->name, &p->staged, err);
	}
	return pv_buf_reserve(&p->eml, (size_t)p->it->size, err);
}

static int p2_data(void *ctx, const void *data, size_t len, struct pv_error *err)
{
	struct pass2 *p = ctx;
	const unsigned char *b = data;
	uint64_t want = p->it->size - p->got;
	size_t k = len < want ? len : (size_t)want;
	int r;
	if (k > 0) {
		if (p->staged != NULL) {
			pv_sha256_update(&p->h, b, k);
			r = bundle_member_write(p->staged, b, k, err);
		} else {
			r = pv_buf_append(&p->eml, b, k, err);
		}
		if (r < 0)
			return r;
		p->got += k;
	}
	if (len > k) {
		if (p->extra_nl || len - k != 1 || b[k] != '\n')
			return pv_fail(err, PV_EINTEGRITY, "message %lld is longer in the mbox than "
							   "archived", (long long)p->it->id);
		p->extra_nl = true;
	}
	return 0;
}

static int p2_end(void *ctx, struct pv_error *err)
{
	struct pass2 *p = ctx;
	struct xp *x = p->x;
	uint8_t sha[32];
	int r;
	if (p->staged != NULL)
		pv_sha256_final(&p->h, sha);
	else if ((r = pv_sha256_once(p->eml.len ? (const void *)p->eml.data : "", p->eml.len, sha,
				     err)) < 0)
		return r;
	if (p->got != p->it->size || sodium_memcmp(sha, p->it->sha256, sizeof(sha)) != 0)
		return pv_fail(err, PV_EINTEGRITY, "message %lld changed in the export's staging "
						   "file", (long long)p->it->id);
	r = p->staged ? bundle_member_end(x->w, &p->staged, err)
		      : bundle_add_hashed(x->w, p->name, p->eml.len ? (const void *)p->eml.data : "",
					  p->eml.len, p->it->sha256, err);
	if (p->eml.data != NULL)
		sodium_memzero(p->eml.data, p->eml.len);
	if (r < 0)
		return r;
	p->k++;
	if (x->o->progress != NULL)
		x->o->progress(x->o->progress_ctx, x->n_exported + p->k, 2 * (uint64_t)x->n_exported);
	return check_cancel(x);
}

static int write_emls(struct xp *x, int fd)
{
	struct pass2 p = {.x = x};
	struct mbox_reader rd;
	const struct mbox_reader_cb cb = {p2_begin, p2_data, p2_end, &p};
	unsigned char *buf = malloc(STAGE_READ);
	uint64_t done = 0;
	int r = 0;
	if (buf == NULL)
		return pv_fail(x->err, PV_ERR, "out of memory");
	pv_buf_init(&p.eml, EML_MEMORY_MAX);
	mbox_reader_init(&rd, &cb);
	for (;;) {
		ssize_t k = read(fd, buf, STAGE_READ);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = pv_fail(x->err, PV_ERR, "export: reading the mbox again: %s",
				    strerror(errno));
			break;
		}
		if (k == 0 || (r = mbox_reader_feed(&rd, buf, (size_t)k, x->err)) != 0)
			break;
		/* Read for the last time: the staging file shrinks as the
		 * .eml files grow, and its pages serve the next writes. */
		pv_tmpfile_forget(fd, done, (uint64_t)k);
		done += (uint64_t)k;
	}
	if (r == 0)
		r = mbox_reader_finish(&rd, x->err);
	if (r == 0 && p.k != x->n_exported)
		r = pv_fail(x->err, PV_EINTEGRITY, "export: the mbox holds %zu of %zu messages", p.k,
			    x->n_exported);
	if (p.staged != NULL)
		pv_sha256_abort(&p.h);
	bundle_member_abort(&p.staged);
	pv_buf_free_secret(&p.eml);
	sodium_memzero(buf, STAGE_READ);
	free(buf);
	return r;
}

static int write_disposed(struct xp *x)
{
	static const char *const head[] = {"id", "bates", "disposed", "policy_version"};
	struct bundle_member *mb = NULL;
	struct pv_buf line;
	int r;
	pv_buf_init(&line, 4096);
	if ((r = bundle_member_begin(x->w, "disposed.csv", &mb, x->err)) < 0 ||
	    (r = loadfile_row(LOADFILE_CSV, head, 4, &line, x->err)) < 0)
		goto out;
	for (size_t i = 0; i <= x->n && r == 0; i++) {
		char id[24], t[PV_RFC3339_LEN], pol[24], bates[BATES_LEN_MAX + 1] = "";
		if (i > 0) {
			const struct item *it = &x->items[i - 1];
			if (it->disposed_at == 0)
				continue;
			snprintf(id, sizeof(id), "%lld", (long long)it->id);
			pv_clock_format_rfc3339(it->disposed_at, t);
			snprintf(pol, sizeof(pol), "%lld", (long long)it->policy_version);
			if (it->number >= 0)
				bates_of(x, it, bates);
			const char *row[] = {id, bates, t, pol};
			if ((r = loadfile_row(LOADFILE_CSV, row, 4, &line, x->err)) < 0)
				break;
		}
		r = bundle_member_write(mb, line.data, line.len, x->err);
		pv_buf_reset(&line);
	}
	if (r == 0)
		r = bundle_member_end(x->w, &mb, x->err);
out:
	bundle_member_abort(&mb);
	pv_buf_free(&line);
	return r;
}

static int write_bundle(struct xp *x)
{
	static const char *const dat_head[] = {EDISCOVERY_DAT_FIELDS};
	static const char *const csv_head[] = {EDISCOVERY_CSV_FIELDS};
	struct rows rw = {0};
	struct bundle_member *set = NULL;
	struct read_ahead *ra = NULL;
	struct pv_buf text;
	int mbox_fd = -1;
	uint64_t total = 2 * (uint64_t)x->n_exported;
	int r;

	pv_buf_init(&text, 256 * 1024);
	pv_buf_init(&rw.line, 16 * PV_MIME_FIELD_MAX);
	pv_buf_init(&rw.proof, PV_TLOG_PROOF_MAX);
	if ((r = export_verify_md(tlog_origin(x->ar->archive_log), tlog_origin(x->ar->audit_log),
				  x->n_exported, x->sum->disposed, &text, x->err)) < 0 ||
	    (r = add_buf(x, "VERIFY.md", &text)) < 0 || (r = write_request(x)) < 0 ||
	    (r = bundle_member_begin(x->w, "export/message-set", &set, x->err)) < 0 ||
	    (r = write_set(x, set, NULL)) < 0 || (r = bundle_member_end(x->w, &set, x->err)) < 0 ||
	    (r = add_buf(x, "archive/checkpoint", &x->acp_note)) < 0 || (r = write_audit(x)) < 0 ||
	    (r = write_anchors(x)) < 0 || (r = write_vkeys(x)) < 0)
		goto out;
	if ((r = bundle_member_begin(x->w, "messages.mbox", &rw.mbox, x->err)) < 0 ||
	    (r = bundle_member_begin(x->w, "loadfile.dat", &rw.dat, x->err)) < 0 ||
	    (r = bundle_member_begin(x->w, "index.csv", &rw.csv, x->err)) < 0 ||
	    (r = bundle_member_write(rw.dat, LOADFILE_BOM, strlen(LOADFILE_BOM), x->err)) < 0)
		goto out;
	pv_buf_reset(&rw.line);
	if ((r = loadfile_row(LOADFILE_DAT, dat_head, EDISCOVERY_DAT_NFIELDS, &rw.line, x->err)) < 0 ||
	    (r = bundle_member_write(rw.dat, rw.line.data, rw.line.len, x->err)) < 0)
		goto out;
	pv_buf_reset(&rw.line);
	if ((r = loadfile_row(LOADFILE_CSV, csv_head, EDISCOVERY_CSV_NFIELDS, &rw.line, x->err)) < 0 ||
	    (r = bundle_member_write(rw.csv, rw.line.data, rw.line.len, x->err)) < 0)
		goto out;
	/* Pass 1: proofs land in the archive as they are made, the mbox and
	 * load files after them; pass 2: the .eml files. So a reader keeping
	 * small members in memory keeps every proof first (ediscovery.h). */
	size_t pushed = 0;
	/* Nothing is appended to the archive log meanwhile: the proofs share
	 * their subtree hashes. */
	if ((r = read_ahead_new(x->ar, &ra, x->err)) < 0 ||
	    (r = tlog_proof_memo(x->ar->archive_log, true, x->err)) < 0)
		goto out;
	for (size_t k = 0; k < x->n_exported && r == 0; k++) {
		if ((r = feed(x, ra, k, &pushed, pass1_digest)) == 0)
			r = message_pass1(x, &rw, &x->items[x->order[k]], ra);
		if (r == 0 && x->o->progress != NULL)
			x->o->progress(x->o->progress_ctx, k + 1, total);
		if (r == 0)
			r = check_cancel(x);
	}
	/* The load files before the mbox: a reader streaming them again then
	 * decompresses only the proofs before them, not the whole mbox. */
	if (r < 0 || (r = rows_finish(x, &rw)) < 0 || (r = bundle_member_end(x->w, &rw.dat, x->err)) < 0 ||
	    (r = bundle_member_end(x->w, &rw.csv, x->err)) < 0)
		goto out;
	/* The mail itself is stored in a .zip, not deflated (bundle_write.h). */
	bundle_writer_compress(x->w, false);
	read_ahead_free(&ra);
	/* Pass 2: the .eml files, unquoted from the mbox. */
	if ((r = bundle_member_end_keep(x->w, &rw.mbox, &mbox_fd, x->err)) < 0 ||
	    (r = write_emls(x, mbox_fd)) < 0)
		goto out;
	bundle_writer_compress(x->w, true);
	if (r == 0)
		r = write_disposed(x);
out:
	(void)tlog_proof_memo(x->ar->archive_log, false, NULL);
	read_ahead_free(&ra);
	if (mbox_fd >= 0)
		close(mbox_fd);
	bundle_member_abort(&set);
	bundle_member_abort(&rw.mbox);
	bundle_member_abort(&rw.dat);
	bundle_member_abort(&rw.csv);
	pv_buf_free(&rw.line);
	pv_buf_free(&rw.proof);
	pv_buf_free(&text);
	return r;
}

/* --- step 4 and the whole ---------------------------------------------------------- */

static int check_opts(const struct export_opts *o, struct pv_error *err)
{
	if (o->query == NULL || o->out == NULL || o->actor == NULL)
		return pv_fail(err, PV_EUSAGE, "export needs a query, --out and an actor");
	if (strlen(o->query) > PV_QUERY_MAX)
		return pv_fail(err, PV_EUSAGE, "the query is over %d bytes", PV_QUERY_MAX);
	if (!bates_matter_valid(matter_of(o)))
		return pv_fail(err, PV_EUSAGE, "a matter name is at most %d bytes of UTF-8 text "
					       "without control characters", PV_EXPORT_MATTER_MAX);
	if (o->bates_prefix != NULL && !bates_prefix_valid(o->bates_prefix))
		return pv_fail(err, PV_EUSAGE,
			       "Bates prefix '%s': 1 to %d letters, digits, '.', '_' or '-', "
			       "starting with a letter or digit", o->bates_prefix,
			       PV_EXPORT_BATES_PREFIX_MAX);
	return 0;
}

/* The ids whose content the bundle holds, into the summary. */
static int kept_ids(struct xp *x)
{
	size_t n = 0;
	int64_t *v = malloc((x->n ? x->n : 1) * sizeof(*v));
	if (v == NULL)
		return pv_fail(x->err, PV_ERR, "out of memory");
	for (size_t i = 0; i < x->n; i++)
		if (x->items[i].disposed_at == 0)
			v[n++] = x->items[i].id;
	x->sum->ids = v;
	x->sum->n_ids = n;
	return PV_OK;
}

int export_run(struct archive *ar, const struct export_opts *o, struct export_summary *sum,
	       struct pv_error *err)
{
	struct xp x = {.ar = ar, .o = o, .sum = sum, .err = err};
	struct search_backend *sb;
	int64_t *ids = NULL;
	size_t n = 0;
	bool recorded = false, drop_before = ar->packs->drop_after_read;
	int r;

	memset(sum, 0, sizeof(*sum));
	pv_buf_init(&x.acp_note, PV_NOTE_MAX);
	pv_buf_init(&x.personal, PV_AUDIT_PERSONAL_MAX);
	if ((r = check_opts(o, err)) < 0)
		goto out;
	/* The output first: a bad name fails before anything is recorded. */
	if ((r = bundle_writer_open(o->out, EDISCOVERY_KIND, &x.w, err)) < 0 ||
	    (r = message_reader_open(ar->cat->conn, &x.mr, err)) < 0)
		goto out;
	/* Each record is read once: its pages leave the page cache after
	 * (for this export; the caller's archive gets its setting back). */
	ar->packs->drop_after_read = true;
	/* The index is derived: bring it up to date before resolving the query. */
	if ((r = indexer_catch_up(ar, NULL, NULL, err)) < 0 ||
	    (r = archive_search_backend(ar, &sb, err)) < 0 ||
	    (r = search_backend_match_ids(sb, o->query, &ids, &n, err)) < 0 ||
	    (r = record_export(&x, ids, n)) < 0)
		goto out;
	recorded = true;
	sum->messages = x.n_exported;
	sum->audit_seq = x.seq;
	sum->archive_size = x.acp.size;
	qsort_r(x.order, x.n_exported, sizeof(*x.order), cmp_bates, x.items);
	uint8_t file_sha[32];
	if ((r = write_bundle(&x)) < 0 ||
	    (r = bundle_writer_finish_file(&x.w, ar->archive_key, file_sha, &sum->file_size, err)) < 0)
		goto out;
	pv_hex(file_sha, 32, sum->file_sha256);
	if (o->keep_ids && (r = kept_ids(&x)) < 0)
		goto out;
	r = archive_auditf(ar, o->actor, AUDIT_EXPORT_DONE, "ok", NULL, err,
			   "export=%llu bundle-sha256=%s bytes=%llu", (unsigned long long)x.seq,
			   sum->file_sha256, (unsigned long long)sum->file_size);
	if (r < 0)
		pv_error_prefix(err, "%s was written, but recording it failed", o->out);
	recorded = false; /* the file is there: no failure entry */
out:
	ar->packs->drop_after_read = drop_before;
	bundle_writer_abort(&x.w);
	index_pool_free(&x.pool);
	free(x.meta);
	message_reader_close(&x.mr);
	if (r < 0) {
		if (recorded) {
			struct pv_error ignore;
			char outcome[AUDIT_OUTCOME_MAX + 1];
			snprintf(outcome, sizeof(outcome), "failed: %s", err ? err->msg : "?");
			(void)archive_auditf(ar, o->actor, AUDIT_EXPORT, outcome, NULL, &ignore,
					     "export=%llu", (unsigned long long)x.seq);
		}
	}
	free(ids);
	free(x.items);
	free(x.order);
	pv_buf_free(&x.acp_note);
	pv_buf_free_secret(&x.personal);
	return r;
}
