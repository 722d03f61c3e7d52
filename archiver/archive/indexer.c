#include "archiver/archive/indexer.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archiver/archive/index_writer.h"
#include "archiver/archive/search_open.h"
#include "archiver/index/index.h"
#include "archiver/index/mime.h"
#include "archiver/index/sandbox_pool.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/lib/sandbox.h"
#include "archiver/store/catalog_reach.h"
#include "archiver/store/message.h"
#include "archiver/store/packstore.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

/* Messages taken from the catalog per query. */
#define INDEXER_BATCH 200
/* A write transaction takes the documents extracted so far once there are
 * this many, or this much text, or this much time went into them: short
 * transactions, so a harvest's group commit never waits long for the
 * write lock, and bounded memory (a document holds up to
 * PV_INDEX_TEXT_MAX of text; two batches are in memory while the writer
 * thread writes one, index_writer.h). */
#define INDEXER_TX_DOCS 64
#define INDEXER_TX_TEXT (8 * 1024 * 1024)
#define INDEXER_TX_MS 200
/* The indexer process looks for newly committed mail this often while
 * harvests run: the index trails the harvest by about this much. */
#define INDEXER_POLL_MS 100
/* Caught up, it merges the index in steps of INDEX_MERGE_PAGES (a few
 * ms of write lock each), and leaves the write lock free between two for
 * at least this long and twice the step's time, so a harvest's commit
 * that waits for a step gets it at its next try. */
#define INDEXER_MERGE_GAP_MS 10
/* It merges only once no new mail came for this long: while a harvest
 * commits, the CPU and the write lock are the harvest's (a full merge
 * rewrites the whole index: caught up between two commits and merging, it
 * held a harvest of 1,000 messages into 10,000 to 0.60-0.75 of the rate
 * into 1,000 on the bench, 0.82-0.93 without). FTS5's automerge keeps
 * the segments few meanwhile; serve's indexer merges between rounds. */
#define INDEXER_MERGE_QUIET_MS 1000
/* ... and runs this much nicer than the harvest (setpriority): with its
 * writer thread and four sandboxes it has many threads to run, each of
 * which the scheduler weighs against the harvest's two (nice 10 took 5%
 * of the harvest's rate on the bench; 15 gives it back, and the index
 * still catches up sooner). */
#define INDEXER_NICE 15

/* PDF attachment text comes from poppler's pdftotext (packaging/deps.sh
 * installs it), run confined in a child process; without it PDFs are
 * found by name only. */
#define INDEXER_PDFTOTEXT "/usr/bin/pdftotext"

/* What the catch-up keeps of a message while its slot extracts it. */
struct job_meta {
	int64_t received_at;
	uint64_t size;
	char account[65];
};

/* Reads message id (verified) into job->raw for extraction; false when it
 * cannot be read (logged: verify reports it). */
static bool read_one(struct archive *ar, struct message_reader *mr, int64_t id,
		     struct index_pool_job *job, struct job_meta *meta)
{
	struct stored_message m;
	struct pv_error e;
	int r = message_reader_load(mr, id, &m, &e);
	pv_buf_reset(&job->raw);
	if (r == PV_OK)
		r = message_read_into(ar, &m, &job->raw, &e);
	if (r < 0) {
		pv_log(PV_LOG_WARN, "index.skip", "message %lld not indexed: %s", (long long)id, e.msg);
		return false;
	}
	meta->received_at = m.received_at;
	meta->size = m.size;
	snprintf(meta->account, sizeof(meta->account), "%s", m.account);
	return true;
}

/* Messages extracted at once: a parser sandbox each, so the index keeps
 * up on a second core while the harvest runs on the first (the indexer
 * runs nicer: it takes what the harvest leaves). Four, not two: each
 * message's worker costs a fork and an exit, and in order the indexer
 * waited on one slot while the other stood done (bench: the index's lag
 * after 10,000 messages 8.4-8.9 -> 7.6-8.2 s). */
#define INDEXER_SANDBOXES 4
/* Memory (the harvest's tree keeps under 32 MB): the messages out in the
 * sandboxes hold at most this much (as two of PV_INDEX_RAW_MAX did with
 * two sandboxes), and a slot keeps at most this much of its buffer
 * between messages (with 1 MiB, four slots put the indexer at 31 MB on
 * the bench's mix; 26-28 MB now). */
#define INDEXER_RAW_OUT (2 * PV_INDEX_RAW_MAX)
#define INDEXER_RAW_KEEP (256 * 1024)

/* The documents, failures and counts of one catch-up, taken back from the
 * slots in the order the messages went in. */
struct catch_up {
	struct archive *ar;
	struct index_writer *w; /* NULL: written in this thread */
	struct index_pending_doc *docs;
	struct index_failed_doc *fails;
	struct job_meta meta[8];
	size_t out[8], out_sum; /* message bytes out in each slot, and in all */
	size_t n, nf, text;
	int64_t indexed, failed, last, t0;
	uint64_t done, total;
};

/* The documents and failures gathered so far to the writer (or written
 * here); c's arrays are empty after. */
static int write_batch(struct catch_up *c, struct pv_error *err)
{
	if (c->w != NULL)
		return index_writer_hand(c->w, &c->docs, &c->n, &c->fails, &c->nf, c->last, err);
	return index_write_batch(c->ar, c->docs, &c->n, c->fails, &c->nf, c->last, err);
}

/* Takes one job's result back (in order): a document, a failure or an
 * unreadable message; writes a short transaction when one is due. */
static int take(struct catch_up *c, struct index_pool_job *job, struct pv_error *err)
{
	int r = PV_OK;
	if (!job->extract) {
		c->failed++; /* unreadable: logged when read */
	} else if (job->r == PV_OK) {
		struct index_pending_doc *d = &c->docs[c->n++];
		const struct job_meta *m = &c->meta[job->slot];
		d->id = job->id;
		d->received_at = m->received_at;
		d->size = m->size;
		snprintf(d->account, sizeof(d->account), "%s", m->account);
		d->doc = job->doc; /* taken: the job no longer owns it */
		index_doc_init(&job->doc);
		c->text += d->doc.body.len;
		c->indexed++;
	} else if (job->r == PV_EPROTO) {
		/* This message only; the archive holds it as it was. */
		pv_log(PV_LOG_WARN, "index.failed", "message %lld not indexed: %s",
		       (long long)job->id, job->err.msg);
		c->fails[c->nf].id = job->id;
		snprintf(c->fails[c->nf].reason, sizeof(c->fails[c->nf].reason), "%s", job->err.msg);
		c->nf++;
		c->failed++;
	} else {
		r = pv_fail(err, job->r, "%s", job->err.msg); /* no sandbox could run */
	}
	int64_t id = job->id;
	job->id = 0;
	c->out_sum -= c->out[job->slot];
	c->out[job->slot] = 0;
	if (job->raw.cap > INDEXER_RAW_KEEP) /* a big message's buffer is not kept */
		pv_buf_free_secret(&job->raw);
	if (r < 0)
		return r;
	c->last = id;
	if (++c->done > c->total)
		c->total = c->done;
	pv_progress_report(&c->ar->progress, c->done, c->total);
	if (c->n == INDEXER_TX_DOCS || c->nf == INDEXER_TX_DOCS || c->text >= INDEXER_TX_TEXT ||
	    pv_clock_monotonic_ms() - c->t0 >= INDEXER_TX_MS) {
		r = write_batch(c, err);
		c->text = 0;
		c->t0 = pv_clock_monotonic_ms();
	}
	return r;
}

/* Before job's message (read, not started) goes out: the jobs of the
 * slots after it are taken back, in turn, until the messages out leave
 * room for it within INDEXER_RAW_OUT (it goes whatever its size when it
 * is the only one). */
static int make_room(struct catch_up *c, struct index_pool *pool, struct index_pool_job *job,
		     struct pv_error *err)
{
	size_t len = job->extract ? job->raw.len : 0;
	int r = PV_OK;
	while (r == PV_OK && c->out_sum > 0 && c->out_sum + len > INDEXER_RAW_OUT) {
		struct index_pool_job *o = index_pool_next(pool);
		if (o->id != 0)
			r = take(c, o, err);
	}
	c->out[job->slot] = len;
	c->out_sum += len;
	return r;
}

/* indexer_catch_up on *pool (made at the first message to extract, kept
 * for the caller to reuse or free). */
static int catch_up(struct archive *ar, struct index_pool **pool, struct index_writer *w,
		    int64_t *indexed_r, int64_t *failed_r, struct pv_error *err)
{
	static bool pdf_checked;
	if (!pdf_checked) {
		pdf_checked = true;
		if (access(INDEXER_PDFTOTEXT, X_OK) == 0)
			index_mime_set_pdftotext(INDEXER_PDFTOTEXT);
	}
	struct db_stmt *st = NULL;
	struct message_reader *mr = NULL;
	struct search_backend *sb = NULL;
	struct catch_up c = {.ar = ar, .w = w};
	int64_t from;
	int r;

	c.docs = calloc(INDEXER_TX_DOCS, sizeof(*c.docs));
	c.fails = calloc(INDEXER_TX_DOCS, sizeof(*c.fails));
	if (c.docs == NULL || c.fails == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	if ((r = archive_search_backend(ar, &sb, err)) < 0)
		goto out;
	c.last = from = index_through(ar);
	/* Counted only for a listener (reindex): every search catches up too. */
	if (ar->progress.fn != NULL) {
		struct indexer_status is;
		if ((r = indexer_status(ar, &is, err)) < 0)
			goto out;
		c.total = (uint64_t)is.pending;
	}
	/* Live messages past the mark, less those the index has (the
	 * backend says which: its tables may not be the catalog's). */
	if ((r = db_prepare(ar->cat->conn,
			    "SELECT m.id FROM messages m WHERE m.id > ? AND m.disposed_at IS NULL"
			    " ORDER BY m.id LIMIT ?",
			    &st, err)) < 0 ||
	    (r = message_reader_open(ar->cat->conn, &mr, err)) < 0)
		goto out;
	c.t0 = pv_clock_monotonic_ms();
	while (r == PV_OK) {
		int64_t ids[INDEXER_BATCH];
		bool done[INDEXER_BATCH];
		int k = 0, kept = 0;
		int rc = DB_DONE;
		db_reset(st);
		db_bind_int64(st, 1, from); /* past what is in the slots */
		db_bind_int64(st, 2, INDEXER_BATCH);
		while (k < INDEXER_BATCH && (rc = db_step(st, err)) == DB_ROW)
			ids[k++] = db_column_int64(st, 0);
		db_reset(st); /* no read transaction held while extracting */
		if (rc < 0) {
			r = rc;
			break;
		}
		if (k == 0)
			break;
		if ((r = search_backend_indexed(sb, ids, (size_t)k, done, err)) < 0)
			break;
		from = ids[k - 1];
		for (int i = 0; i < k; i++)
			if (!done[i])
				ids[kept++] = ids[i];
		if ((k = kept) == 0)
			continue; /* all indexed already: the next batch */
		if (*pool == NULL) {
			long cpus = sysconf(_SC_NPROCESSORS_ONLN);
			int n = cpus > 1 ? INDEXER_SANDBOXES : 1;
			if ((r = index_pool_new(n, pool, err)) < 0)
				break;
		}
		for (int i = 0; i < k && r == PV_OK; i++) {
			struct index_pool_job *job = index_pool_next(*pool);
			if (job->id != 0 && (r = take(&c, job, err)) < 0)
				break;
			job->id = ids[i];
			job->extract = read_one(ar, mr, ids[i], job, &c.meta[job->slot]);
			int room = make_room(&c, *pool, job, err);
			index_pool_start(*pool, job); /* even so: the end takes it back */
			if ((r = room) < 0)
				break;
		}
	}
	/* The jobs still in hand, in order (after an error too: their
	 * documents are freed, not written). */
	for (int i = 0; *pool != NULL && i < index_pool_size(*pool); i++) {
		struct index_pool_job *job = index_pool_next(*pool);
		if (job->id != 0 && r == PV_OK)
			r = take(&c, job, err);
		job->id = 0;
		index_doc_free(&job->doc);
	}
	if (r == PV_OK && (c.n > 0 || c.nf > 0 || c.last > index_through(ar)))
		r = write_batch(&c, err);
	if (w != NULL) {
		int rw = index_writer_wait(w, r == PV_OK ? err : NULL);
		if (r == PV_OK)
			r = rw;
	}
out:
	db_finalize(&st);
	message_reader_close(&mr);
	for (size_t j = 0; c.docs != NULL && j < c.n; j++)
		index_doc_free(&c.docs[j].doc);
	free(c.docs);
	free(c.fails);
	if (indexed_r)
		*indexed_r = c.indexed;
	if (failed_r)
		*failed_r = c.failed;
	return r;
}

int indexer_catch_up(struct archive *ar, int64_t *indexed_r, int64_t *failed_r,
		     struct pv_error *err)
{
	struct index_pool *pool = NULL;
	int r = catch_up(ar, &pool, NULL, indexed_r, failed_r, err);
	index_pool_free(&pool);
	return r;
}

/* One merge step in a short transaction of its own, committed like the
 * index's writes (derived data: no fsync). */
static int merge_step(struct archive *ar, bool full, bool *done_r, struct pv_error *err)
{
	struct search_backend *sb;
	int r = archive_search_backend(ar, &sb, err);
	*done_r = true;
	if (r < 0)
		return r;
	catalog_relaxed_commits(ar->cat);
	r = search_backend_merge_step(sb, INDEX_MERGE_PAGES, full, done_r, err);
	catalog_durable_commits(ar->cat);
	return r;
}

int indexer_merge(struct archive *ar, bool full, struct pv_error *err)
{
	bool done = false;
	int r = PV_OK;
	while (r == PV_OK && !done)
		r = merge_step(ar, full, &done, err);
	return r;
}

int indexer_rebuild(struct archive *ar, int64_t *indexed_r, int64_t *failed_r,
		    struct pv_error *err)
{
	struct search_backend *sb;
	int r = archive_search_backend(ar, &sb, err);
	if (r == PV_OK)
		r = search_backend_clear(sb, err);
	if (r == PV_OK)
		r = catalog_meta_set(ar->cat->conn, INDEX_THROUGH_KEY, "0", err);
	if (r == PV_OK)
		r = indexer_catch_up(ar, indexed_r, failed_r, err);
	return r == PV_OK ? indexer_merge(ar, true, err) : r;
}

int indexer_status(struct archive *ar, struct indexer_status *st_r, struct pv_error *err)
{
	struct db_stmt *st;
	struct search_backend *sb;
	memset(st_r, 0, sizeof(*st_r));
	/* FTS5's segments (PostgreSQL has none to show: its backend is not
	 * opened for a status) */
	st_r->segments = -1;
	if (db_kind(ar->cat->conn) == DB_SQLITE &&
	    (archive_search_backend(ar, &sb, NULL) < 0 ||
	     search_backend_segments(sb, &st_r->segments, NULL) < 0))
		st_r->segments = -1; /* cannot tell */
	int r = db_prepare(ar->cat->conn, "SELECT count(*), min(received_at) FROM messages"
					  " WHERE id > ? AND disposed_at IS NULL", &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, index_through(ar));
	if ((r = db_step(st, err)) == DB_ROW) {
		st_r->pending = db_column_int64(st, 0);
		st_r->oldest_received_at = db_column_int64(st, 1);
		r = PV_OK;
	} else if (r == DB_DONE) {
		r = pv_fail(err, PV_ERR, "catalog: no count of messages to index");
	}
	db_finalize(&st);
	return r;
}

/* ---- the indexer process ---- */

static void child_main(const char *data_dir, int fd)
{
	struct archive *ar = NULL;
	struct pv_error err;
	int status = 0;

	/* Nothing of the parent's but the pipe (not its harvest lock) and the
	 * signer's control socket, which its archive signs through. */
	int keep = archive_key_source_fd();
	int lo = fd < keep || keep < 0 ? fd : keep, hi = fd < keep ? keep : fd;
	if (lo > 3)
		close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1 && lo >= 0)
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	close_range((unsigned)hi + 1, ~0U, 0);
	/* SIGTERM ends it whatever its parent blocks (serve's supervisor
	 * takes its signals through a signalfd). */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_IGN); /* a terminal's ^C stops the harvest; this catches up */
	prctl(PR_SET_NAME, "pv-indexer");
	/* Big buffers (messages, answers, documents) mapped on their own and
	 * given back when freed: glibc's threshold otherwise rises to the
	 * largest one freed, and what the sandboxes' threads freed stays
	 * resident in their arenas. */
	(void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	/* Nicer than the harvest even when the harvest itself runs niced (a
	 * priority is absolute: 10 under a parent at 10 would be no nicer). */
	errno = 0;
	int prio = getpriority(PRIO_PROCESS, 0);
	if (errno == 0)
		setpriority(PRIO_PROCESS, 0, prio + INDEXER_NICE > 19 ? 19 : prio + INDEXER_NICE);
	/* It reads packs and the catalog: the network for them, if any. */
	if (catalog_reach_sandbox(data_dir, &err) < 0 || pv_sandbox_role(PV_ROLE_INDEXER, &err) < 0) {
		pv_log(PV_LOG_ERROR, "index", "the indexer cannot confine itself: %s", err.msg);
		_exit(1);
	}
	if (archive_open(data_dir, &ar, &err) < 0) {
		pv_log(PV_LOG_WARN, "index", "the indexer cannot open the archive: %s", err.msg);
		_exit(1);
	}
	ar->packs->drop_after_read = true; /* each record is read once here */
	pv_sandbox_selftest_point(PV_ROLE_INDEXER);
	/* One pool (its sandboxes started once) and one writer for every
	 * catch-up; without a writer thread it writes in this one. */
	struct index_pool *pool = NULL;
	struct index_writer *writer = NULL;
	if (index_writer_start(data_dir, INDEXER_TX_DOCS, &writer, &err) < 0)
		pv_log(PV_LOG_WARN, "index", "the index is written without a thread of its own: %s",
		       err.msg);
	bool merged = false; /* checked once quiet, again after any indexing */
	int64_t new_mail_at = pv_clock_monotonic_ms(); /* a harvest starts it */
	for (bool last = false;;) {
		int64_t indexed = 0, failed = 0;
		if (catch_up(ar, &pool, writer, &indexed, &failed, &err) < 0) {
			pv_log(PV_LOG_WARN, "index", "indexing failed: %s", err.msg);
			status = 1;
			break;
		}
		if (last)
			break; /* no merge on the way out: a harvest waits for this */
		int wait_ms = INDEXER_POLL_MS;
		if (indexed > 0 || failed > 0) {
			merged = false;
			new_mail_at = pv_clock_monotonic_ms();
		} else if (!merged && pv_clock_monotonic_ms() - new_mail_at >= INDEXER_MERGE_QUIET_MS) {
			/* Idle: one step of merging, then the catalog again. */
			int64_t t0 = pv_clock_monotonic_ms();
			if (merge_step(ar, false, &merged, &err) < 0) {
				pv_log(PV_LOG_WARN, "index", "merging the index failed (searches "
				       "are right, only slower): %s", err.msg);
				merged = true; /* again after the next indexing */
			}
			int64_t t = pv_clock_monotonic_ms() - t0;
			if (!merged)
				wait_ms = 2 * t > INDEXER_MERGE_GAP_MS ? (int)(2 * t) : INDEXER_MERGE_GAP_MS;
			if (wait_ms > INDEXER_POLL_MS)
				wait_ms = INDEXER_POLL_MS;
		}
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		char c;
		if (poll(&pf, 1, wait_ms) > 0 && read(fd, &c, 1) <= 0)
			last = true; /* no more harvests: a last catch-up */
	}
	index_pool_free(&pool);
	index_writer_free(&writer);
	archive_close(&ar);
#if defined(__SANITIZE_ADDRESS__)
	__lsan_do_leak_check(); /* _exit skips the check at exit */
#endif
	_exit(status);
}

int indexer_start(const char *data_dir, struct indexer_proc *p, struct pv_error *err)
{
	int fds[2];
	p->pid = 0;
	p->fd = -1;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return pv_fail(err, PV_ERR, "pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return pv_fail(err, PV_ERR, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(fds[1]);
		child_main(data_dir, fds[0]);
	}
	close(fds[0]);
	p->pid = pid;
	p->fd = fds[1];
	return PV_OK;
}

bool indexer_alive(struct indexer_proc *p)
{
	int status;
	if (p->pid == 0)
		return false;
	if (waitpid(p->pid, &status, WNOHANG) == 0)
		return true;
	p->pid = 0;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	return false;
}

int indexer_finish(struct indexer_proc *p, struct pv_error *err)
{
	int status = 0;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (p->pid == 0)
		return PV_OK;
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	p->pid = 0;
	/* Stopped with the rest of its process group (a service stop, ^C
	 * sends SIGINT, which it ignores): nothing lost, the next indexer
	 * resumes from the catalog. */
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)
		return PV_OK;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return pv_fail(err, PV_ERR, "the indexer process ended with status %d%s",
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			       WIFSIGNALED(status) ? " (killed)" : "");
	return PV_OK;
}
