#include "archiver/archive/verify.h"

#include <dirent.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "archiver/store/blob.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/dispose.h"
#include "archiver/store/leaf.h"
#include "archiver/store/message.h"
#include "audit/checkpoint.h"
#include "audit/tlog_verify.h"

/* Past this many problems, stop listing them (the count still grows). */
#define VERIFY_PRINT_MAX 200

struct vctx {
	struct archive *ar;
	verify_line_fn line;
	void *line_ctx;
	struct verify_report *rep;
	bool full;
};

/* One line to the caller: "FAIL: ..." or "note: ...". */
static void say(struct vctx *v, const char *kind, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void say(struct vctx *v, const char *kind, const char *fmt, va_list ap)
{
	char msg[VERIFY_LINE_MAX];
	int n = snprintf(msg, sizeof(msg), "%s: ", kind);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	if (v->line != NULL)
		v->line(v->line_ctx, msg);
}

static void problem(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct vctx *v, const char *fmt, ...)
{
	va_list ap;
	if (v->rep->problems++ < VERIFY_PRINT_MAX) {
		va_start(ap, fmt);
		say(v, "FAIL", fmt, ap);
		va_end(ap);
	}
}

static void note(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct vctx *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(v, "note", fmt, ap);
	va_end(ap);
}

static void audit_problem(void *ctx, const char *msg)
{
	problem(ctx, "audit log: %s", msg);
}

static int verify_log(struct vctx *v, struct tlog *t, const char *const *known, const size_t *lens,
		      size_t n_known, uint64_t *leaves_r, uint64_t *cps_r, struct pv_error *err)
{
	struct tlog_verify_report rep;
	struct pv_error e;
	memset(&rep, 0, sizeof(rep));
	int r = tlog_verify(t, NULL, known, lens, n_known, &rep, &e);
	if (r == PV_EINTEGRITY) {
		problem(v, "%s log: %s", tlog_name(t), e.msg);
		return PV_OK;
	}
	if (r < 0)
		return pv_fail(err, r, "%s log: %s", tlog_name(t), e.msg);
	*leaves_r = rep.size;
	*cps_r = rep.checkpoints;
	/* Every append is committed together with a signed checkpoint, so a
	 * leaf no checkpoint covers means a checkpoint was removed. */
	if (rep.latest_size < rep.size)
		problem(v, "%s log: entries %llu to %llu are not covered by any signed checkpoint "
			   "(a checkpoint was removed)", tlog_name(t),
			(unsigned long long)rep.latest_size, (unsigned long long)rep.size - 1);
	if (rep.latest_time >= 0 && t == v->ar->audit_log)
		v->rep->latest_checkpoint_age_s = pv_clock_now() - rep.latest_time;
	return PV_OK;
}

static int sink_commit(void *ctx, const unsigned char *d, size_t n, struct pv_error *err)
{
	(void)err;
	crypto_generichash_update(ctx, d, n);
	return PV_OK;
}

/* One catalog row against its leaf and its blob. */
static void verify_message(struct vctx *v, const struct stored_message *m)
{
	struct pv_buf data;
	struct pv_error e;
	struct archive_leaf leaf;
	char mailbox[33];

	pv_buf_init(&data, LEAF_MAX);
	if (tlog_leaf(v->ar->archive_log, (uint64_t)m->leaf_index, &data, &e) < 0) {
		problem(v, "message %lld: its archive leaf %lld is missing", (long long)m->id,
			(long long)m->leaf_index);
		goto out;
	}
	if (archive_leaf_parse((const char *)data.data, data.len, &leaf, &e) < 0 ||
	    leaf.kind != LEAF_MESSAGE || leaf.seq != m->id) {
		problem(v, "message %lld: archive leaf %lld does not describe it", (long long)m->id,
			(long long)m->leaf_index);
		goto out;
	}
	keyring_mailbox_id(v->ar->kr, m->account, mailbox);
	if (strcmp(leaf.mailbox, mailbox) != 0 || strcmp(leaf.class_name, m->archived_class) != 0 ||
	    leaf.time != m->received_at)
		problem(v, "message %lld: catalog row differs from its archive leaf (account, class "
			   "or time)", (long long)m->id);
	if (m->disposed_at != 0)
		goto out; /* tombstones are checked by the caller */
	bool pending = false;
	if (dispose_pending(v->ar->cat->db, m->id, &pending, &e) == PV_OK && pending) {
		/* A disposal whose intent is recorded was interrupted: its key or
		 * blob may be gone already; `popvault dispose` finishes it. */
		note(v, "message %lld is being disposed of (interrupted run; "
				"'popvault dispose' finishes it)\n", (long long)m->id);
		goto out;
	}
	if (m->blob[0] == '\0' || strcmp(leaf.ct, m->blob) != 0) {
		problem(v, "message %lld: blob reference differs from its archive leaf", (long long)m->id);
		goto out;
	}
	v->rep->blobs_checked++;
	if (!v->full) {
		/* Without --full: present and hashing to its name (no decryption). */
		int r = blob_check_hash(v->ar->dir, m->blob, &e);
		if (r == PV_ENOTFOUND)
			problem(v, "message %lld: blob %s is missing and there is no disposal record "
				   "(unauthorised deletion)", (long long)m->id, m->blob);
		else if (r < 0)
			problem(v, "message %lld: %s", (long long)m->id, e.msg);
		goto out;
	}
	unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES], commit[32];
	crypto_generichash_state st;
	int r = keyring_unwrap(v->ar->kr, m->bucket_id, m->blob, m->wrapped, m->wrapped_len, key, salt, &e);
	if (r < 0) {
		problem(v, "message %lld: %s%s", (long long)m->id, e.msg,
			r == PV_ENOTFOUND ? " and there is no disposal record (unauthorised deletion)" : "");
		goto out;
	}
	crypto_generichash_init(&st, salt, sizeof(salt), sizeof(commit));
	r = blob_read(v->ar->dir, m->blob, key, m->sha256, sink_commit, &st, &e);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(salt, sizeof(salt));
	if (r < 0) {
		problem(v, "message %lld: %s%s", (long long)m->id, e.msg,
			r == PV_ENOTFOUND ? " and there is no disposal record (unauthorised deletion)" : "");
		goto out;
	}
	crypto_generichash_final(&st, commit, sizeof(commit));
	char hex[65];
	pv_hex(commit, sizeof(commit), hex);
	if (strcmp(hex, leaf.commit) != 0)
		problem(v, "message %lld: content does not match the commitment in its leaf", (long long)m->id);
	else
		v->rep->blobs_decrypted++;
out:
	pv_buf_free(&data);
}

/* Every message leaf must have its catalog row; tombstones must name a
 * disposed message. */
struct leaf_scan {
	struct vctx *v;
	sqlite3_stmt *by_id;
	int64_t message_leaves, tombstones;
};

static int scan_leaf(void *ctx, uint64_t index, const void *data, size_t len)
{
	struct leaf_scan *ls = ctx;
	struct archive_leaf leaf;
	struct pv_error e;
	if (archive_leaf_parse(data, len, &leaf, &e) < 0) {
		if (strncmp(data, "popvault/key-rotation/", 22) != 0)
			problem(ls->v, "archive leaf %llu: %s", (unsigned long long)index, e.msg);
		return 0;
	}
	sqlite3_reset(ls->by_id);
	sqlite3_bind_int64(ls->by_id, 1, leaf.seq);
	bool row = sqlite3_step(ls->by_id) == SQLITE_ROW;
	if (leaf.kind == LEAF_MESSAGE) {
		ls->message_leaves++;
		if (!row)
			problem(ls->v, "archive leaf %llu: message %lld has no catalog row (deleted "
				       "from the catalog)", (unsigned long long)index, (long long)leaf.seq);
		else if ((uint64_t)sqlite3_column_int64(ls->by_id, 0) != index)
			problem(ls->v, "archive leaf %llu: message %lld points at another leaf",
				(unsigned long long)index, (long long)leaf.seq);
	} else {
		ls->tombstones++;
		if (!row || sqlite3_column_type(ls->by_id, 1) == SQLITE_NULL)
			problem(ls->v, "archive leaf %llu: tombstone for message %lld, which is not "
				       "marked disposed", (unsigned long long)index, (long long)leaf.seq);
	}
	return 0;
}

static int count_orphans(struct vctx *v)
{
	char path[2100]; /* ar->dir is shorter than 2048 */
	snprintf(path, sizeof(path), "%s/blobs", v->ar->dir);
	DIR *top = opendir(path);
	struct dirent *d;
	sqlite3_stmt *st;
	if (top == NULL)
		return PV_OK;
	if (catalog_prepare(v->ar->cat->db, "SELECT 1 FROM messages WHERE blob = ?", &st, NULL) < 0) {
		closedir(top);
		return PV_ERR;
	}
	while ((d = readdir(top)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		char sub[2400];
		snprintf(sub, sizeof(sub), "%s/%s", path, d->d_name);
		DIR *dd = opendir(sub);
		struct dirent *f;
		while (dd != NULL && (f = readdir(dd)) != NULL) {
			if (f->d_name[0] == '.')
				continue;
			sqlite3_reset(st);
			sqlite3_bind_text(st, 1, f->d_name, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(st) != SQLITE_ROW)
				v->rep->orphan_blobs++;
		}
		if (dd)
			closedir(dd);
	}
	closedir(top);
	sqlite3_finalize(st);
	return PV_OK;
}

int verify_archive(struct archive *ar, bool full, const char *const *known_notes,
		   const size_t *known_lens, size_t n_known, verify_line_fn line, void *line_ctx,
		   struct verify_report *rep, struct pv_error *err)
{
	struct vctx v = {ar, line, line_ctx, rep, full};
	sqlite3_stmt *st;
	int r;

	memset(rep, 0, sizeof(*rep));
	rep->latest_checkpoint_age_s = -1;
	/* Known checkpoints may belong to either log: each log takes its own. */
	const char **kn[2] = {calloc(n_known + 1, sizeof(char *)), calloc(n_known + 1, sizeof(char *))};
	size_t *kl[2] = {calloc(n_known + 1, sizeof(size_t)), calloc(n_known + 1, sizeof(size_t))};
	size_t nk[2] = {0, 0};
	struct tlog *logs[2] = {ar->archive_log, ar->audit_log};
	if (!kn[0] || !kn[1] || !kl[0] || !kl[1]) {
		for (int j = 0; j < 2; j++) {
			free(kn[j]);
			free(kl[j]);
		}
		return pv_fail(err, PV_ERR, "out of memory");
	}
	for (size_t i = 0; i < n_known; i++) {
		size_t nl = strcspn(known_notes[i], "\n");
		bool matched = false;
		for (int j = 0; j < 2; j++)
			if (strlen(tlog_origin(logs[j])) == nl &&
			    strncmp(known_notes[i], tlog_origin(logs[j]), nl) == 0) {
				kn[j][nk[j]] = known_notes[i];
				kl[j][nk[j]++] = known_lens[i];
				matched = true;
			}
		if (!matched)
			problem(&v, "checkpoint %zu given is for neither of this archive's logs", i + 1);
	}
	r = verify_log(&v, ar->archive_log, kn[0], kl[0], nk[0], &rep->archive_leaves,
		       &rep->archive_checkpoints, err);
	if (r == PV_OK)
		r = verify_log(&v, ar->audit_log, kn[1], kl[1], nk[1], &rep->audit_leaves,
			       &rep->audit_checkpoints, err);
	for (int j = 0; j < 2; j++) {
		free(kn[j]);
		free(kl[j]);
	}
	/* Audit entries, their personal data, heartbeat gaps (audit/auditlog.h). */
	if (r == PV_OK)
		r = auditlog_check(ar->audit_log, audit_problem, &v, &rep->audit, err);
	if (r < 0)
		return r;

	/* Catalog rows against leaves and blobs. */
	if ((r = catalog_prepare(ar->cat->db, "SELECT id FROM messages ORDER BY id", &st, err)) < 0)
		return r;
	int64_t expect = 1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct stored_message m;
		struct pv_error e;
		int64_t id = sqlite3_column_int64(st, 0);
		if (id != expect)
			problem(&v, "messages %lld to %lld are missing from the catalog", (long long)expect,
				(long long)id - 1);
		expect = id + 1;
		if (message_load(ar->cat->db, id, &m, &e) < 0) {
			problem(&v, "message %lld: %s", (long long)id, e.msg);
			continue;
		}
		rep->messages++;
		if (m.disposed_at != 0)
			rep->disposed++;
		verify_message(&v, &m);
		sodium_memzero(&m, sizeof(m));
	}
	sqlite3_finalize(st);

	/* Leaves against catalog rows. */
	struct leaf_scan ls = {&v, NULL, 0, 0};
	if ((r = catalog_prepare(ar->cat->db, "SELECT leaf_index, disposed_at FROM messages WHERE id = ?",
				 &ls.by_id, err)) < 0)
		return r;
	r = tlog_leaf_scan(ar->archive_log, 0, scan_leaf, &ls, err);
	sqlite3_finalize(ls.by_id);
	if (r < 0)
		return r;
	if (ls.message_leaves != rep->messages)
		problem(&v, "the archive log has %lld message leaves but the catalog %lld messages",
			(long long)ls.message_leaves, (long long)rep->messages);
	if (ls.tombstones != rep->disposed)
		problem(&v, "%lld messages are marked disposed but %lld tombstones are logged "
			    "(disposal without a record)", (long long)rep->disposed, (long long)ls.tombstones);
	if ((r = count_orphans(&v)) < 0)
		return pv_fail(err, r, "cannot list blobs");
	if (rep->problems > 0)
		return pv_fail(err, PV_EINTEGRITY, "%lld integrity problem%s found",
			       (long long)rep->problems, rep->problems == 1 ? "" : "s");
	return PV_OK;
}

int archive_verify(struct archive *ar, const char *actor, bool full,
		   const char *const *known_notes, const size_t *known_lens, size_t n_known,
		   verify_line_fn line, void *line_ctx, struct verify_summary *sum,
		   struct pv_error *err)
{
	struct pv_error aerr;
	memset(sum, 0, sizeof(*sum));
	int r = verify_archive(ar, full, known_notes, known_lens, n_known, line, line_ctx, &sum->rep,
			       err);
	if (r < 0 && r != PV_EINTEGRITY)
		return r;
	sum->ran = true;
	sum->ok = r == PV_OK;
	sum->heartbeat_gap = sum->rep.latest_checkpoint_age_s > AUDITLOG_HEARTBEAT_GAP_S;
	/* The run and its outcome are audited (DESIGN.md §5). */
	int ar_r = archive_auditf(ar, actor, AUDIT_VERIFY,
				  r == PV_OK ? "ok" : "failed: integrity problems found", NULL, &aerr,
				  "full=%s problems=%lld archive-size=%llu audit-size=%llu",
				  full ? "yes" : "no", (long long)sum->rep.problems,
				  (unsigned long long)sum->rep.archive_leaves,
				  (unsigned long long)sum->rep.audit_leaves);
	sum->recorded = ar_r == PV_OK;
	if (!sum->recorded) {
		snprintf(sum->record_error, sizeof(sum->record_error), "%s", aerr.msg);
		if (r == PV_OK)
			r = pv_fail(err, ar_r, "%s", aerr.msg);
	}
	return r;
}
