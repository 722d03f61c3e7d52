/* One harvest session for one account: see harvest.h and DESIGN.md §3. */
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/harvest/harvest.h"
#include "archiver/harvest/ledger.h"
#include "archiver/harvest/token.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/pop3/pop3.h"
#include "archiver/store/ingest.h"

/* A chunk of the mailbox is retrieved, committed and deleted before the
 * next one starts; its size is bounded in messages (config batch_max) and
 * in announced bytes, so a failure loses at most one chunk of work. */
#define CHUNK_BYTES_MAX (64ull * 1024 * 1024)

struct session {
	struct archive *ar;
	const struct account *a;
	const struct harvest_opts *o;
	struct harvest_summary *s;
	struct pop3_client *c;
	struct pop3_mailbox *mb;
	struct blob_writer *w;   /* the message being received */
	struct ingest_item *items; /* received, not yet committed */
	size_t n_items;
	uint32_t *dele;          /* to DELE after the commit: new and reconciled */
	unsigned char (*dele_sha)[32];
	char (*dele_uidl)[LEDGER_UIDL_MAX + 1];
	size_t n_dele;
	int64_t done_msgs, todo_msgs;
};

void harvest_summary_init(struct harvest_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->remaining = -1;
	pv_buf_init(&s->errors, 64 * 1024);
}

void harvest_summary_free(struct harvest_summary *s)
{
	pv_buf_free(&s->errors);
}

static void note(struct session *ss, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct session *ss, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pv_log(PV_LOG_WARN, "harvest.problem", "%s: %s", ss->a->name, line);
	/* The list is bounded; past its cap the counts still tell. */
	pv_buf_printf(&ss->s->errors, NULL, "%s: %s\n", ss->a->name, line);
}

static const struct pop3_msg *find_msg(const struct pop3_mailbox *mb, uint32_t num)
{
	size_t lo = 0, hi = mb->count;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (mb->msgs[mid].num == num)
			return &mb->msgs[mid];
		if (mb->msgs[mid].num < num)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void progress(struct session *ss)
{
	if (ss->o->progress && isatty(STDERR_FILENO))
		fprintf(stderr, "\rharvest %s: %lld/%lld messages", ss->a->name,
			(long long)ss->done_msgs, (long long)ss->todo_msgs);
}

/* ---- RETR callbacks: bytes go straight into an encrypted blob ---- */

static int on_begin(void *ctx, uint32_t msgnum, const struct pop3_retr_result *res)
{
	struct session *ss = ctx;
	struct pv_error err;
	(void)msgnum;
	(void)res;
	if (blob_writer_new(ss->ar->dir, &ss->w, &err) < 0) {
		note(ss, "local failure: %s", err.msg);
		return PV_ERR;
	}
	return PV_OK;
}

static int on_data(void *ctx, uint32_t msgnum, const unsigned char *d, size_t len)
{
	struct session *ss = ctx;
	struct pv_error err;
	(void)msgnum;
	if (blob_writer_write(ss->w, d, len, &err) < 0) {
		note(ss, "local failure: %s", err.msg);
		return PV_ERR;
	}
	return PV_OK;
}

static bool pending_has(const struct session *ss, const char *uidl, const unsigned char sha[32])
{
	for (size_t i = 0; i < ss->n_items; i++)
		if (strcmp(ss->items[i].uidl, uidl) == 0 &&
		    memcmp(ss->items[i].blob.sha256, sha, 32) == 0)
			return true;
	return false;
}

static void queue_dele(struct session *ss, uint32_t num, const char *uidl, const unsigned char sha[32])
{
	ss->dele[ss->n_dele] = num;
	memcpy(ss->dele_sha[ss->n_dele], sha, 32);
	snprintf(ss->dele_uidl[ss->n_dele], LEDGER_UIDL_MAX + 1, "%s", uidl);
	ss->n_dele++;
}

static int on_done(void *ctx, const struct pop3_retr_result *res, const struct pv_error *perr)
{
	struct session *ss = ctx;
	const struct pop3_msg *m = find_msg(ss->mb, res->msgnum);
	struct pv_error err;
	struct ingest_item *it;
	char state[16];
	int64_t id;
	int r;

	ss->done_msgs++;
	progress(ss);
	if (!res->complete || res->status != 0) {
		blob_writer_abort(&ss->w);
		if (res->status == PV_ELIMIT)
			ss->s->skipped++;
		else
			ss->s->failed++;
		note(ss, "message %u (%s) left upstream: %s", res->msgnum,
		     m && m->has_uidl ? m->uidl : "no UIDL", perr ? perr->msg : "incomplete");
		return PV_OK;
	}
	it = &ss->items[ss->n_items];
	memset(it, 0, sizeof(*it));
	if (blob_writer_finish(&ss->w, &it->blob, &err) < 0) {
		note(ss, "local failure: %s", err.msg);
		return PV_ERR;
	}
	it->msgnum = res->msgnum;
	it->received_at = pv_clock_now();
	if (m != NULL && m->has_uidl) {
		snprintf(it->uidl, sizeof(it->uidl), "%s", m->uidl);
	} else {
		memcpy(it->uidl, "sha256:", 7);
		pv_hex(it->blob.sha256, 32, it->uidl + 7);
	}
	if (m != NULL && m->size != res->bytes)
		pv_log(PV_LOG_INFO, "harvest.size", "%s: message %u: LIST said %llu bytes, %llu received "
		       "(LIST sizes are hints; the bytes received are archived)",
		       ss->a->name, res->msgnum, (unsigned long long)m->size,
		       (unsigned long long)res->bytes);

	/* Already archived (same account, UIDL and content)? Then it is not
	 * archived twice: it is a leftover of an earlier session to delete. */
	r = ledger_find(ss->ar->cat->db, ss->a->id, it->uidl, it->blob.sha256, &id, state, &err);
	if (r == PV_OK || (r == PV_ENOTFOUND && pending_has(ss, it->uidl, it->blob.sha256))) {
		blob_remove(ss->ar->dir, it->blob.id, NULL);
		if (!ss->a->keep_upstream) {
			queue_dele(ss, res->msgnum, it->uidl, it->blob.sha256);
			ss->s->reconciled++;
		}
		sodium_memzero(it, sizeof(*it));
		return PV_OK;
	}
	if (r != PV_ENOTFOUND) {
		note(ss, "local failure: %s", err.msg);
		blob_remove(ss->ar->dir, it->blob.id, NULL);
		sodium_memzero(it, sizeof(*it));
		return PV_ERR;
	}
	ss->n_items++;
	return PV_OK;
}

/* Removes the blob files of a batch that was not committed. */
static void discard_items(struct session *ss)
{
	for (size_t i = 0; i < ss->n_items; i++)
		blob_remove(ss->ar->dir, ss->items[i].blob.id, NULL);
	sodium_memzero(ss->items, ss->n_items * sizeof(*ss->items));
	ss->n_items = 0;
}

/* Commits the received chunk, then DELEs it (and the reconciled ones). */
static int commit_and_delete(struct session *ss, struct pv_error *err)
{
	int r;
	size_t n_new = ss->n_items;

	if (ss->n_items > 0) {
		if ((r = ingest_commit(ss->ar, ss->a, ss->items, ss->n_items, err)) < 0) {
			discard_items(ss);
			return r;
		}
		for (size_t i = 0; i < ss->n_items; i++) {
			ss->s->bytes += (int64_t)ss->items[i].blob.size;
			if (!ss->a->keep_upstream)
				queue_dele(ss, ss->items[i].msgnum, ss->items[i].uidl,
					   ss->items[i].blob.sha256);
		}
		ss->s->fetched += (int64_t)n_new;
		ss->n_items = 0;
	}
	if (ss->n_dele == 0)
		return PV_OK;

	int *status = calloc(ss->n_dele, sizeof(*status));
	if (status == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	struct pv_error derr;
	r = pop3_dele_many(ss->c, ss->dele, ss->n_dele, status, &derr);
	if (!pop3_alive(ss->c)) {
		/* Replies were lost: rely on none of them. Dropping without QUIT
		 * rolls every DELE back; the next session reconciles. */
		free(status);
		ss->n_dele = 0;
		return pv_fail(err, PV_ETEMP, "connection lost during DELE: %s", derr.msg);
	}
	int64_t now = pv_clock_now();
	r = catalog_begin(ss->ar->cat, err);
	for (size_t i = 0; r == PV_OK && i < ss->n_dele; i++) {
		if (status[i] != 0) {
			note(ss, "DELE of message %u (%s) refused; it stays archived and upstream, "
			     "and will be deleted next time", ss->dele[i], ss->dele_uidl[i]);
			continue;
		}
		r = ledger_set_state(ss->ar->cat->db, ss->a->id, ss->dele_uidl[i], ss->dele_sha[i],
				     "dele-sent", now, err);
	}
	if (r == PV_OK)
		r = catalog_commit(ss->ar->cat, err);
	else
		catalog_rollback(ss->ar->cat);
	free(status);
	ss->n_dele = 0;
	return r;
}

/* Marks ledger entries whose UIDL no longer appears upstream as gone, and
 * (after a QUIT) those still there as residue. */
struct settle_ctx {
	struct session *ss;
	const char *from;
	char **uidls; /* sorted */
	size_t n;
	int64_t now;
	int64_t gone, residue;
	bool mark_residue;
	struct pv_error *err;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int settle_one(void *ctx, const char *uidl, const unsigned char sha256[32], int64_t message_id)
{
	struct settle_ctx *sc = ctx;
	(void)message_id;
	if (strncmp(uidl, "sha256:", 7) == 0)
		return PV_OK; /* no UIDL: cannot tell without fetching; the next run will */
	bool listed = bsearch(&uidl, sc->uidls, sc->n, sizeof(char *), cmp_str) != NULL;
	if (!listed) {
		sc->gone++;
		return ledger_set_state(sc->ss->ar->cat->db, sc->ss->a->id, uidl, sha256, "gone",
					sc->now, sc->err);
	}
	if (sc->mark_residue) {
		sc->residue++;
		note(sc->ss, "message %s was deleted (QUIT answered +OK) but is still upstream", uidl);
		return ledger_set_state(sc->ss->ar->cat->db, sc->ss->a->id, uidl, sha256, "residue",
					sc->now, sc->err);
	}
	return PV_OK;
}

static int settle(struct session *ss, const struct pop3_mailbox *mb, bool after_quit,
		  int64_t *gone_r, int64_t *residue_r, struct pv_error *err)
{
	static const char *const states[] = {"committed", "dele-sent", "quit-ok", "residue"};
	struct settle_ctx sc = {ss, NULL, NULL, 0, pv_clock_now(), 0, 0, false, err};
	int r;

	if (!mb->uidl_ok)
		return PV_OK;
	sc.uidls = malloc((mb->count + 1) * sizeof(char *));
	if (sc.uidls == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < mb->count; i++)
		if (mb->msgs[i].has_uidl)
			sc.uidls[sc.n++] = mb->msgs[i].uidl;
	qsort(sc.uidls, sc.n, sizeof(char *), cmp_str);
	r = catalog_begin(ss->ar->cat, err);
	for (size_t i = 0; r == PV_OK && i < sizeof(states) / sizeof(states[0]); i++) {
		sc.mark_residue = after_quit && strcmp(states[i], "quit-ok") == 0;
		r = ledger_each(ss->ar->cat->db, ss->a->id, states[i], settle_one, &sc, err);
	}
	if (r == PV_OK)
		r = catalog_commit(ss->ar->cat, err);
	else
		catalog_rollback(ss->ar->cat);
	free(sc.uidls);
	if (gone_r)
		*gone_r = sc.gone;
	if (residue_r)
		*residue_r = sc.residue;
	return r;
}

static void fill_config(const struct account *a, struct pop3_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = a->host;
	cfg->port = (uint16_t)a->port;
	cfg->tls = strcmp(a->tls, "implicit") == 0   ? POP3_TLS_IMPLICIT
		   : strcmp(a->tls, "starttls") == 0 ? POP3_TLS_STARTTLS
						     : POP3_TLS_NONE;
	cfg->ca_file = a->ca_file[0] ? a->ca_file : NULL;
	cfg->insecure = a->insecure;
}

static enum pop3_auth_mode auth_mode(const char *name)
{
	static const struct {
		const char *name;
		enum pop3_auth_mode mode;
	} modes[] = {{"user", POP3_AUTH_USER},         {"apop", POP3_AUTH_APOP},
		     {"plain", POP3_AUTH_PLAIN},       {"login", POP3_AUTH_LOGIN},
		     {"cram-md5", POP3_AUTH_CRAM_MD5}, {"scram-sha-256", POP3_AUTH_SCRAM_SHA_256},
		     {"xoauth2", POP3_AUTH_XOAUTH2},   {"oauthbearer", POP3_AUTH_OAUTHBEARER}};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(name, modes[i].name) == 0)
			return modes[i].mode;
	return POP3_AUTH_AUTO;
}

/* Opens a logged-in session; the secret is wiped before returning. */
static int open_session(struct session *ss, struct pop3_client **c_r, struct pv_error *err)
{
	struct pop3_config cfg;
	struct pop3_auth auth = {auth_mode(ss->a->auth), ss->a->user, NULL, NULL};
	char *secret = NULL;
	int r;

	fill_config(ss->a, &cfg);
	if (ss->a->token_command[0])
		r = harvest_token_run(ss->a->token_command, &secret, err);
	else
		r = keyring_open_secret(ss->ar->kr, ss->a->secret, ss->a->secret_len, &secret, err);
	if (r < 0)
		return r;
	auth.secret = secret;
	r = pop3_open(&cfg, &auth, c_r, err);
	pv_secret_free(&secret);
	return r;
}

/* The fetch list: every listed message but those over the size cap and,
 * for accounts that keep mail upstream, those already archived. */
static int plan_fetch(struct session *ss, uint32_t **nums_r, uint64_t **sizes_r, size_t *n_r,
		      struct pv_error *err)
{
	uint32_t *nums = malloc((ss->mb->count + 1) * sizeof(*nums));
	uint64_t *sizes = malloc((ss->mb->count + 1) * sizeof(*sizes));
	size_t n = 0;
	if (nums == NULL || sizes == NULL) {
		free(nums);
		free(sizes);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	for (size_t i = 0; i < ss->mb->count; i++) {
		const struct pop3_msg *m = &ss->mb->msgs[i];
		if (m->size > ss->ar->cfg.message_max) {
			ss->s->skipped++;
			note(ss, "message %u (%s) is %llu bytes, over the %llu-byte cap; left upstream",
			     m->num, m->has_uidl ? m->uidl : "no UIDL", (unsigned long long)m->size,
			     (unsigned long long)ss->ar->cfg.message_max);
			continue;
		}
		if (ss->a->keep_upstream && m->has_uidl && !m->uidl_dup) {
			bool known;
			int r = ledger_uidl_known(ss->ar->cat->db, ss->a->id, m->uidl, m->size, &known, err);
			if (r < 0) {
				free(nums);
				free(sizes);
				return r;
			}
			if (known)
				continue;
		}
		nums[n] = m->num;
		sizes[n++] = m->size;
	}
	*nums_r = nums;
	*sizes_r = sizes;
	*n_r = n;
	return PV_OK;
}

static int run(struct session *ss, struct pv_error *err)
{
	uint32_t *nums = NULL;
	uint64_t *sizes = NULL;
	size_t n = 0;
	int64_t gone;
	int r;

	if ((r = open_session(ss, &ss->c, err)) < 0)
		return r;
	if ((r = pop3_scan(ss->c, &ss->mb, err)) < 0)
		return r;
	ss->s->listed = (int64_t)ss->mb->count;
	if (ss->mb->uidl_dups > 0)
		pv_log(PV_LOG_INFO, "harvest.uidl", "%s: %zu messages share a UIDL; each is fetched "
		       "and told apart by its content", ss->a->name, ss->mb->uidl_dups);
	/* Whatever an earlier session deleted and is no longer listed is gone. */
	if ((r = settle(ss, ss->mb, false, NULL, NULL, err)) < 0)
		return r;
	if ((r = plan_fetch(ss, &nums, &sizes, &n, err)) < 0)
		return r;
	ss->todo_msgs = (int64_t)n;
	size_t batch_max = ss->ar->cfg.batch_max;
	ss->items = calloc(batch_max, sizeof(*ss->items));
	ss->dele = calloc(batch_max, sizeof(*ss->dele));
	ss->dele_sha = calloc(batch_max, sizeof(*ss->dele_sha));
	ss->dele_uidl = calloc(batch_max, sizeof(*ss->dele_uidl));
	if (!ss->items || !ss->dele || !ss->dele_sha || !ss->dele_uidl) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	struct pop3_retr_handler h = {on_begin, on_data, on_done, ss};
	for (size_t start = 0; start < n;) {
		size_t end = start;
		uint64_t bytes = 0;
		while (end < n && end - start < batch_max && (end == start || bytes + sizes[end] <= CHUNK_BYTES_MAX))
			bytes += sizes[end++];
		r = pop3_retr_many(ss->c, nums + start, end - start, ss->ar->cfg.message_max, &h, err);
		blob_writer_abort(&ss->w);
		if (r < 0) {
			discard_items(ss);
			goto out;
		}
		if ((r = commit_and_delete(ss, err)) < 0)
			goto out;
		start = end;
	}
	if (ss->o->progress && isatty(STDERR_FILENO) && n > 0)
		fputc('\n', stderr);

	const struct pop3_caps *caps = pop3_caps(ss->c);
	if (ss->a->keep_upstream) {
		/* EXPIRE 0 (RFC 2449 §6.7) expires every retrieved message at QUIT. */
		if (caps->expire && !caps->expire_never && caps->expire_days == 0)
			pop3_drop(ss->c);
		else if (pop3_quit(ss->c, NULL) != 0)
			pv_log(PV_LOG_INFO, "harvest.quit", "%s: QUIT not acknowledged; nothing was "
			       "marked for deletion", ss->a->name);
		ss->s->remaining = (int64_t)ss->mb->count;
		goto out;
	}
	struct pv_error qerr;
	if (pop3_quit(ss->c, &qerr) != 0) {
		r = pv_fail(err, PV_ETEMP, "QUIT was not acknowledged (%s): deletions are not "
			    "confirmed and will be checked next time", qerr.msg);
		goto out;
	}
	int64_t moved = 0;
	if ((r = ledger_move_all(ss->ar->cat->db, ss->a->id, "dele-sent", "quit-ok", pv_clock_now(),
				 &moved, err)) < 0)
		goto out;
	pop3_client_free(&ss->c);
	pop3_mailbox_free(&ss->mb);

	/* Prove it is gone: +OK to DELE and QUIT is no proof (DESIGN.md §3.6). */
	if ((r = open_session(ss, &ss->c, err)) < 0 || (r = pop3_scan(ss->c, &ss->mb, err)) < 0) {
		pv_error_prefix(err, "checking that deleted mail is gone");
		goto out;
	}
	ss->s->remaining = (int64_t)ss->mb->count;
	if ((r = settle(ss, ss->mb, true, &gone, &ss->s->residue, err)) < 0)
		goto out;
	ss->s->deleted = gone;
	ss->s->verified_gone = ss->mb->uidl_ok;
	/* Nothing was retrieved or marked in this session: its QUIT changes nothing. */
	if (pop3_quit(ss->c, NULL) != 0)
		pv_log(PV_LOG_INFO, "harvest.quit", "%s: the checking session ended without +OK",
		       ss->a->name);
out:
	free(nums);
	free(sizes);
	return r;
}

int harvest_account(struct archive *ar, const struct account *a, const struct harvest_opts *o,
		    struct harvest_summary *s, struct pv_error *err)
{
	struct session ss = {.ar = ar, .a = a, .o = o, .s = s};
	signal(SIGPIPE, SIG_IGN);
	int r = run(&ss, err);
	/* Any failure: no QUIT (pop3_client_free drops the connection). */
	blob_writer_abort(&ss.w);
	discard_items(&ss);
	pop3_client_free(&ss.c);
	pop3_mailbox_free(&ss.mb);
	free(ss.items);
	free(ss.dele);
	free(ss.dele_sha);
	free(ss.dele_uidl);
	return r;
}
