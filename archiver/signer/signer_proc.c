/* The signer process itself (signer.h): its keys, its checks, its loop. */
#include "archiver/signer/signer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "archiver/lib/log.h"
#include "archiver/lib/sandbox.h"
#include "audit/bundle.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"

struct slog {
	const char *name;
	struct note_signer *key;  /* the current key */
	struct note_signer *next; /* a rotation's new key, until it signs */
	int lock;                 /* <log>.lock: one signer at a time per log */
};

struct server {
	char dir[4096];
	struct slog logs[SIGNER_LOGS];
	struct pollfd fds[1 + PV_SIGNER_CHANNELS_MAX]; /* [0]: control */
	size_t n;
	unsigned char in[PV_SIGNER_MSG_MAX + 1], out[PV_SIGNER_MSG_MAX];
};

static bool is_key(const struct note_signer *s, const char *vkey, size_t len)
{
	struct note_verifier v;
	struct pv_buf b;
	bool same;
	if (s == NULL)
		return false;
	note_signer_verifier(s, &v);
	pv_buf_init(&b, NOTE_VKEY_MAX);
	same = note_verifier_format(&v, &b, NULL) == 0 && b.len == len && memcmp(b.data, vkey, len) == 0;
	pv_buf_free(&b);
	return same;
}

static int vkey_of(const struct note_signer *s, struct pv_buf *out, struct pv_error *err)
{
	struct note_verifier v;
	note_signer_verifier(s, &v);
	return note_verifier_format(&v, out, err);
}

/* (Re)reads the log's key files: another signer of this directory may have
 * rotated the key since. */
static int load_keys(struct server *s, struct slog *l, struct pv_error *err)
{
	struct note_signer *key = NULL, *next = NULL;
	int r = keys_file_read(s->dir, l->name, false, &key, err);
	if (r < 0)
		return r;
	r = keys_file_read(s->dir, l->name, true, &next, err);
	if (r < 0 && r != PV_ENOTFOUND) {
		keys_free(&key);
		return r;
	}
	keys_free(&l->key);
	keys_free(&l->next);
	l->key = key;
	l->next = next;
	return 0;
}

/* The held key whose vkey is given: the current one or a rotation's new
 * one; NULL when neither (after one reload from disk). */
static struct note_signer *pick(struct server *s, struct slog *l, const char *vkey, size_t len)
{
	for (int pass = 0; pass < 2; pass++) {
		if (is_key(l->key, vkey, len))
			return l->key;
		if (is_key(l->next, vkey, len))
			return l->next;
		if (pass == 0 && load_keys(s, l, NULL) < 0)
			break;
	}
	return NULL;
}

static int refuse(struct pv_error *err, const struct slog *l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(struct pv_error *err, const struct slog *l, const char *fmt, ...)
{
	char msg[PV_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pv_log(PV_LOG_WARN, "signer.refused", "log %s: %s", l->name, msg);
	return pv_fail(err, PV_EINTEGRITY, "%s", msg);
}

/* The tree (size, root) against the signer's last one st, proven by
 * q's proof from q->from. 0: an extension; SIGNER_STALE: q proves from
 * another size; PV_EINTEGRITY: refused. */
static int check_extends(const struct slog *l, const struct keys_state *st,
			 const struct signer_req *q, uint64_t size, const merkle_hash root,
			 struct pv_error *err)
{
	struct pv_error e;
	if (size < st->size)
		return refuse(err, l, "a tree of %llu entries is older than the last one it signed "
				      "(%llu entries): refused (a rollback)",
			      (unsigned long long)size, (unsigned long long)st->size);
	if (q->from != st->size)
		return SIGNER_STALE;
	if (size == st->size) {
		if (sodium_memcmp(root, st->root, MERKLE_HASH_LEN) != 0)
			return refuse(err, l, "a tree of %llu entries with another root than the one "
					      "it signed: refused (a fork)",
				      (unsigned long long)size);
		return 0;
	}
	if (st->size == 0)
		return 0; /* every tree extends the empty one */
	if (merkle_verify_consistency(st->size, size, q->proof, q->nproof, st->root, root, &e) != 0)
		return refuse(err, l, "the tree of %llu entries does not extend the last one it "
				      "signed (%llu entries): %s",
			      (unsigned long long)size, (unsigned long long)st->size, e.msg);
	return 0;
}

/* The signer's last tree for l; without a state file yet (a data
 * directory from before the signer, or restored from a backup), the
 * requester's latest checkpoint, if this key signed it. */
static int load_state(struct server *s, struct slog *l, const struct signer_req *q,
		      struct keys_state *st, struct pv_error *err)
{
	struct note_verifier v[2];
	struct checkpoint cp;
	size_t nv = 0;
	int r = keys_state_read(s->dir, l->name, st, err);
	if (r != PV_ENOTFOUND)
		return r;
	note_signer_verifier(l->key, &v[nv++]);
	if (l->next != NULL)
		note_signer_verifier(l->next, &v[nv++]);
	if (q->last_len == 0 ||
	    checkpoint_open(q->last, q->last_len, v, nv, &cp, err) != 0 ||
	    strcmp(cp.origin, l->key->name) != 0)
		return refuse(err, l, "it has no record of its last checkpoint and was given none "
				      "it signed");
	pv_log(PV_LOG_INFO, "signer.state", "log %s: no state file; starting from the checkpoint "
					    "of %llu entries it signed",
	       l->name, (unsigned long long)cp.size);
	st->size = cp.size;
	memcpy(st->root, cp.root, MERKLE_HASH_LEN);
	pv_buf_reset(&st->note);
	return pv_buf_append(&st->note, q->last, q->last_len, err);
}

static void lock(const struct slog *l)
{
	while (flock(l->lock, LOCK_EX) != 0 && errno == EINTR)
		;
}

static void unlock(const struct slog *l)
{
	(void)flock(l->lock, LOCK_UN);
}

static int sign_checkpoint(struct server *s, struct slog *l, const struct signer_req *q,
			   struct pv_buf *out, uint64_t *size_r, struct pv_error *err)
{
	struct checkpoint cp;
	struct keys_state st;
	struct note_signer *key;
	int r;

	if (note_text_check(q->text, q->text_len, err) != 0 ||
	    checkpoint_parse(q->text, q->text_len, &cp, err) != 0)
		return refuse(err, l, "not a checkpoint body: %s", err->msg);
	if ((key = pick(s, l, q->vkey, q->vkey_len)) == NULL)
		return refuse(err, l, "it holds no key %.*s", (int)q->vkey_len, q->vkey);
	if (strcmp(cp.origin, key->name) != 0)
		return refuse(err, l, "a checkpoint of %s is not for key %s", cp.origin, key->name);
	keys_state_init(&st);
	lock(l);
	if ((r = load_state(s, l, q, &st, err)) == 0 &&
	    (r = check_extends(l, &st, q, cp.size, cp.root, err)) == SIGNER_STALE)
		*size_r = st.size;
	if (r == 0) {
		pv_buf_reset(&st.note);
		st.size = cp.size;
		memcpy(st.root, cp.root, MERKLE_HASH_LEN);
		/* Remembered before it is handed out. */
		if ((r = note_sign(q->text, q->text_len, key, &st.note, err)) == 0 &&
		    (r = keys_state_write(s->dir, l->name, &st, err)) == 0)
			r = pv_buf_append(out, st.note.data, st.note.len, err);
	}
	unlock(l);
	keys_state_free(&st);
	/* The rotation's new key has signed: it is the key now, and the old
	 * seed goes (forward security). */
	if (r == 0 && key == l->next) {
		struct pv_error e;
		if (keys_file_promote_next(s->dir, l->name, &e) < 0)
			pv_log(PV_LOG_ERROR, "signer.rotate", "log %s: %s", l->name, e.msg);
		keys_free(&l->key);
		l->key = l->next;
		l->next = NULL;
	}
	return r;
}

static int sign_rotation(struct server *s, struct slog *l, const struct signer_req *q,
			 struct pv_buf *out, uint64_t *size_r, struct pv_error *err)
{
	struct keys_rotation rot;
	struct keys_state st;
	int r;

	if (note_text_check(q->text, q->text_len, err) != 0 ||
	    keys_rotation_parse(q->text, q->text_len, &rot, err) != 0)
		return refuse(err, l, "not a rotation note: %s", err->msg);
	if (strcmp(rot.origin, l->key->name) != 0 ||
	    !is_key(l->key, rot.old_vkey, strlen(rot.old_vkey)))
		return refuse(err, l, "the rotation is not of its current key");
	if (!is_key(l->next, rot.new_vkey, strlen(rot.new_vkey)))
		return refuse(err, l, "the rotation names %s, not the key it prepared", rot.new_vkey);
	keys_state_init(&st);
	lock(l);
	if ((r = load_state(s, l, q, &st, err)) == 0 &&
	    (r = check_extends(l, &st, q, rot.size, rot.root, err)) == SIGNER_STALE)
		*size_r = st.size;
	if (r == 0) {
		st.size = rot.size;
		memcpy(st.root, rot.root, MERKLE_HASH_LEN);
		if ((r = note_sign(q->text, q->text_len, l->key, out, err)) == 0)
			r = keys_state_write(s->dir, l->name, &st, err);
		if (r < 0)
			pv_buf_reset(out);
	}
	unlock(l);
	keys_state_free(&st);
	return r;
}

/* "popvault/bundle-manifest/v1\nkind K\nsha256 HEX\n", nothing else. */
static bool manifest_text(const char *t, size_t len)
{
	const size_t ml = sizeof(BUNDLE_MANIFEST_MAGIC "\nkind ") - 1;
	if (len < ml || memcmp(t, BUNDLE_MANIFEST_MAGIC "\nkind ", ml) != 0)
		return false;
	const char *k = t + ml, *nl = memchr(k, '\n', len - ml);
	if (nl == NULL || !bundle_kind_valid(k, (size_t)(nl - k)))
		return false;
	const char *h = nl + 1, *end = t + len;
	if ((size_t)(end - h) != 7 + 64 + 1 || memcmp(h, "sha256 ", 7) != 0 || end[-1] != '\n')
		return false;
	for (const char *c = h + 7; c < end - 1; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return false;
	return true;
}

static int handle(struct server *s, const struct signer_req *q, struct pv_buf *out,
		  uint64_t *size_r, struct pv_error *err)
{
	struct slog *l = &s->logs[q->log];
	struct note_signer *n = NULL;
	switch (q->op) {
	case SIGNER_HELLO:
		if (pick(s, l, q->vkey, q->vkey_len) == NULL)
			return pv_fail(err, PV_ENOTFOUND, "the signer holds no key %.*s for log %s",
				       (int)q->vkey_len, q->vkey, l->name);
		return pv_buf_append(out, q->vkey, q->vkey_len, err);
	case SIGNER_SIGN_CHECKPOINT:
		return sign_checkpoint(s, l, q, out, size_r, err);
	case SIGNER_ROTATE_PREPARE:
		if (keys_file_create_next(s->dir, l->name, l->key->name, &n, err) < 0)
			return PV_ERR;
		keys_free(&l->next);
		l->next = n;
		return vkey_of(n, out, err);
	case SIGNER_SIGN_ROTATION:
		return sign_rotation(s, l, q, out, size_r, err);
	case SIGNER_SIGN_MANIFEST:
		if (!manifest_text(q->text, q->text_len))
			return refuse(err, l, "asked to sign a text that is not a bundle manifest");
		return note_sign(q->text, q->text_len, l->key, out, err);
	default:
		return refuse(err, l, "unknown request %u", q->op);
	}
}

static void serve_packet(struct server *s, int fd, size_t len)
{
	struct signer_req q;
	struct signer_reply a = {SIGNER_OK, 0, NULL, 0};
	struct pv_error err = {0};
	struct pv_buf out;
	int r;

	pv_buf_init(&out, PV_KEYS_STATE_NOTE_MAX);
	if (len > PV_SIGNER_MSG_MAX)
		r = pv_fail(&err, PV_ELIMIT, "request over %d bytes", PV_SIGNER_MSG_MAX);
	else
		r = signer_req_decode(s->in, len, &q, &err);
	if (r == 0)
		r = handle(s, &q, &out, &a.size, &err);
	if (r == SIGNER_STALE) {
		a.status = SIGNER_STALE;
	} else if (r < 0) {
		a.status = SIGNER_REFUSED;
		a.data = err.msg;
		a.len = strlen(err.msg);
	} else {
		a.data = (const char *)out.data;
		a.len = out.len;
	}
	int n = signer_reply_encode(&a, s->out, sizeof(s->out), &err);
	if (n > 0)
		(void)send(fd, s->out, (size_t)n, MSG_NOSIGNAL);
	pv_buf_free(&out);
}

/* A new channel: one descriptor in SCM_RIGHTS. */
static void take_channel(struct server *s, bool *ctl_open)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&byte, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			   .msg_controllen = sizeof(cbuf)};
	ssize_t n = recvmsg(s->fds[0].fd, &m, MSG_CMSG_CLOEXEC);
	if (n == 0) {
		*ctl_open = false; /* every holder of the control socket is gone */
		return;
	}
	if (n < 0)
		return;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int fd, type = 0;
		socklen_t tl = sizeof(type);
		memcpy(&fd, CMSG_DATA(c), sizeof(fd));
		if (s->n >= sizeof(s->fds) / sizeof(s->fds[0]) ||
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_SEQPACKET) {
			pv_log(PV_LOG_WARN, "signer.channel", "refused a channel (%zu open)", s->n - 1);
			close(fd);
			continue;
		}
		s->fds[s->n].fd = fd;
		s->fds[s->n].events = POLLIN;
		/* Not the revents of a channel this slot held before: read as
		 * "ready", the loop below would wait in recv for this one's first
		 * request, every other channel waiting with it (a client that
		 * opens its archive, then waits for the catalog's writer lock,
		 * held by one waiting for a signature: a deadlock on PostgreSQL,
		 * whose lock has no timeout). */
		s->fds[s->n].revents = 0;
		s->n++;
	}
}

static void loop(struct server *s)
{
	bool ctl_open = true;
	while (ctl_open || s->n > 1) {
		s->fds[0].fd = ctl_open ? s->fds[0].fd : -1;
		if (poll(s->fds, s->n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (s->fds[0].revents & (POLLIN | POLLHUP | POLLERR))
			take_channel(s, &ctl_open);
		for (size_t i = 1; i < s->n; i++) {
			if (s->fds[i].revents == 0)
				continue;
			ssize_t n = recv(s->fds[i].fd, s->in, sizeof(s->in), MSG_TRUNC);
			if (n > 0) {
				serve_packet(s, s->fds[i].fd, (size_t)n);
				continue;
			}
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			close(s->fds[i].fd); /* its archive was closed */
			s->fds[i--] = s->fds[--s->n];
		}
	}
}

static int start(struct server *s, const char *data_dir, struct pv_error *err)
{
	char legacy[4096];
	int r;
	archive_sign_dir(data_dir, s->dir, sizeof(s->dir));
	snprintf(legacy, sizeof(legacy), "%s/" KEYS_LEGACY_SUBDIR, data_dir);
	if ((r = keys_move_legacy(legacy, s->dir, err)) < 0)
		return r;
	for (int i = 0; i < SIGNER_LOGS; i++) {
		struct slog *l = &s->logs[i];
		char path[4200];
		l->name = signer_log_names[i];
		if ((r = load_keys(s, l, err)) < 0)
			return r;
		snprintf(path, sizeof(path), "%s/%s.lock", s->dir, l->name);
		if ((l->lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
			return pv_fail(err, PV_ERR, "%s: %s", path, strerror(errno));
	}
	return pv_sandbox_signer(s->dir, err);
}

void signer_main(const char *data_dir, int ctl)
{
	struct server *s = calloc(1, sizeof(*s));
	struct pv_error err = {0};
	int r;

	/* No core, no ptrace, no /proc/PID/{mem,root} for anyone else. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	prctl(PR_SET_NAME, "pv-signer", 0, 0, 0); /* what ps and pgrep show */
	signal(SIGINT, SIG_IGN); /* a terminal's ^C: the command finishes its commits first */
	signal(SIGTERM, SIG_IGN); /* it exits when the last client does */
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (dup2(ctl, 3) < 0)
		_exit(1);
	close_range(4, ~0U, 0);
	if (s == NULL)
		r = pv_fail(&err, PV_ERR, "out of memory");
	else
		r = start(s, data_dir, &err);
	const char *hello = r == 0 ? "OK" : err.msg;
	(void)send(3, hello, strlen(hello), MSG_NOSIGNAL);
	if (r == 0) {
		s->fds[0].fd = 3;
		s->fds[0].events = POLLIN;
		s->n = 1;
		loop(s);
	}
	/* _exit: nothing of the parent's (atexit, stdio buffers) runs here. */
	_exit(r == 0 ? 0 : 1);
}
