/* The archive's side of the signer (signer.h): starting or finding it,
 * channels, and the remote keys (audit/note.h note_remote_ops) whose
 * requests prove each tree to it. */
#include "archiver/signer/signer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/number.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"

struct conn;

/* A remote key's context: the channel and the log. */
struct log_ctx {
	struct conn *c;
	int log;
	bool known;         /* last_size is the signer's last tree */
	uint64_t last_size;
};

struct conn {
	int fd;
	struct log_ctx logs[SIGNER_LOGS];
	unsigned char buf[PV_SIGNER_MSG_MAX + 1];
};

/* ---- one request, one reply ---- */

static int exchange(int fd, unsigned char *buf, const struct signer_req *q,
		    struct signer_reply *a, struct pv_error *err)
{
	int n = signer_req_encode(q, buf, PV_SIGNER_MSG_MAX, err);
	if (n < 0)
		return n;
	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
		return pv_fail(err, PV_ERR, "signer: %s", errno ? strerror(errno) : "short send");
	struct pollfd p = {fd, POLLIN, 0};
	int64_t deadline = pv_clock_monotonic_ms() + PV_SIGNER_REPLY_MS;
	for (;;) {
		int64_t left = deadline - pv_clock_monotonic_ms();
		int rc = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return pv_fail(err, PV_ERR, "signer: no answer in %d s", PV_SIGNER_REPLY_MS / 1000);
		break;
	}
	ssize_t got = recv(fd, buf, PV_SIGNER_MSG_MAX + 1, MSG_TRUNC);
	if (got <= 0)
		return pv_fail(err, PV_ERR, "signer: %s", got == 0 ? "the signer process is gone"
								     : strerror(errno));
	if (got > PV_SIGNER_MSG_MAX)
		return pv_fail(err, PV_EINTEGRITY, "signer: reply too long");
	return signer_reply_decode(buf, (size_t)got, a, err);
}

/* A channel: our end of a fresh pair, the other end sent to the signer. */
static int channel(int ctl, int *fd_r, struct pv_error *err)
{
	int sv[2];
	char byte = 'C', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&byte, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			   .msg_controllen = sizeof(cbuf)};
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return pv_fail(err, PV_ERR, "signer: socketpair: %s", strerror(errno));
	memset(cbuf, 0, sizeof(cbuf));
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
	ssize_t n = sendmsg(ctl, &m, MSG_NOSIGNAL);
	int e = errno;
	close(sv[1]);
	if (n != 1) {
		close(sv[0]);
		return pv_fail(err, PV_ERR, "signer: %s", n < 0 ? strerror(e) : "short send");
	}
	*fd_r = sv[0];
	return 0;
}

int signer_request(struct signer *sg, const struct signer_req *q, int *status_r,
		   uint64_t *size_r, struct pv_buf *data_r, struct pv_error *err)
{
	unsigned char *buf = malloc(PV_SIGNER_MSG_MAX + 1);
	struct signer_reply a;
	int fd = -1, r;
	if (buf == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if ((r = channel(sg->ctl, &fd, err)) == 0 && (r = exchange(fd, buf, q, &a, err)) == 0) {
		*status_r = a.status;
		if (size_r != NULL)
			*size_r = a.size;
		r = pv_buf_append(data_r, a.data, a.len, err);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

/* ---- the remote keys' operations ---- */

static int reply_error(const struct signer_reply *a, const char *what, struct pv_error *err)
{
	return pv_fail(err, PV_EINTEGRITY, "the signer refused %s: %.*s", what, (int)a->len,
		       a->data);
}

/* Signs `text` (op) about log t's tree of `size` entries and `root`,
 * proving it extends the signer's last tree: from the size this channel
 * last learnt, else t's latest signed checkpoint's, corrected once when
 * the signer says it is another. */
static int sign_tree(struct log_ctx *lc, struct tlog *t, uint8_t op, const char *vkey,
		     const char *text, size_t len, uint64_t size, struct pv_buf *out,
		     struct pv_error *err)
{
	struct tlog_checkpoint_row row;
	merkle_hash proof[PV_PROOF_HASHES_MAX];
	struct signer_reply a;
	int r;

	tlog_checkpoint_row_init(&row);
	if ((r = tlog_checkpoint_latest_signed(t, &row, err)) < 0 && r != PV_ENOTFOUND)
		goto out;
	uint64_t from = lc->known ? lc->last_size : r == 0 ? row.size : 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		size_t n = 0;
		if (from > size) {
			r = pv_fail(err, PV_EINTEGRITY,
				    "the signer's last %s checkpoint covers %llu entries but this log "
				    "has %llu: it lost entries the signer signed; refusing",
				    tlog_name(t), (unsigned long long)from, (unsigned long long)size);
			goto out;
		}
		if (from > 0 && from < size &&
		    (r = tlog_consistency_proof(t, from, size, proof, &n, err)) < 0)
			goto out;
		struct signer_req q = {.op = op, .log = (uint8_t)lc->log, .from = from,
				       .proof = proof, .nproof = n,
				       .vkey = vkey, .vkey_len = vkey ? strlen(vkey) : 0,
				       .text = text, .text_len = len,
				       .last = (const char *)row.note.data, .last_len = row.note.len};
		if ((r = exchange(lc->c->fd, lc->c->buf, &q, &a, err)) < 0)
			goto out;
		if (a.status == SIGNER_STALE) {
			from = a.size;
			continue;
		}
		if (a.status != SIGNER_OK) {
			r = reply_error(&a, op == SIGNER_SIGN_ROTATION ? "the key rotation"
								       : "the checkpoint",
					err);
			goto out;
		}
		lc->known = true;
		lc->last_size = size;
		r = pv_buf_append(out, a.data, a.len, err);
		goto out;
	}
	r = pv_fail(err, PV_ERR, "signer: its last %s checkpoint keeps changing", tlog_name(t));
out:
	tlog_checkpoint_row_free(&row);
	return r;
}

static int op_sign_checkpoint(void *ctx, struct tlog *t, const char *vkey, const char *body,
			      size_t len, struct pv_buf *out, struct pv_error *err)
{
	struct checkpoint cp;
	int r = checkpoint_parse(body, len, &cp, err);
	return r < 0 ? r
		     : sign_tree(ctx, t, SIGNER_SIGN_CHECKPOINT, vkey, body, len, cp.size, out, err);
}

static int op_sign_rotation(void *ctx, struct tlog *t, const char *body, size_t len,
			    struct pv_buf *out, struct pv_error *err)
{
	struct keys_rotation rot;
	int r = keys_rotation_parse(body, len, &rot, err);
	return r < 0 ? r
		     : sign_tree(ctx, t, SIGNER_SIGN_ROTATION, NULL, body, len, rot.size, out, err);
}

static int simple(struct log_ctx *lc, uint8_t op, const char *text, size_t len,
		  const char *what, struct pv_buf *out, struct pv_error *err)
{
	struct signer_reply a;
	struct signer_req q = {.op = op, .log = (uint8_t)lc->log, .text = text, .text_len = len};
	int r = exchange(lc->c->fd, lc->c->buf, &q, &a, err);
	if (r < 0)
		return r;
	if (a.status != SIGNER_OK)
		return reply_error(&a, what, err);
	return pv_buf_append(out, a.data, a.len, err);
}

static int op_sign_text(void *ctx, const struct note_signer *s, const char *text, size_t len,
			struct pv_buf *out, struct pv_error *err)
{
	(void)s;
	return simple(ctx, SIGNER_SIGN_MANIFEST, text, len, "the bundle manifest", out, err);
}

static int op_rotate_prepare(void *ctx, const struct note_signer *s, struct pv_buf *vkey_r,
			     struct pv_error *err)
{
	(void)s;
	return simple(ctx, SIGNER_ROTATE_PREPARE, NULL, 0, "a new key", vkey_r, err);
}

static const struct note_remote_ops remote_ops = {
	op_sign_text, op_sign_checkpoint, op_rotate_prepare, op_sign_rotation,
};

/* ---- the key source of datadir.h ---- */

static int src_open(void *ctx, void **conn_r, struct pv_error *err)
{
	struct signer *sg = ctx;
	struct conn *c = calloc(1, sizeof(*c));
	int r;
	if (c == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if ((r = channel(sg->ctl, &c->fd, err)) < 0) {
		free(c);
		return r;
	}
	for (int i = 0; i < SIGNER_LOGS; i++)
		c->logs[i] = (struct log_ctx){c, i, false, 0};
	*conn_r = c;
	return 0;
}

static int src_key(void *conn, const char *log, const char *vkey, struct note_signer **s_r,
		   struct pv_error *err)
{
	struct conn *c = conn;
	struct note_verifier v;
	struct signer_reply a;
	int i = signer_log_index(log), r;
	*s_r = NULL;
	if (i < 0)
		return pv_fail(err, PV_ERR, "signer: no log %s", log);
	struct signer_req q = {.op = SIGNER_HELLO, .log = (uint8_t)i, .vkey = vkey,
			       .vkey_len = strlen(vkey)};
	if ((r = note_verifier_parse(vkey, strlen(vkey), &v, err)) < 0 ||
	    (r = exchange(c->fd, c->buf, &q, &a, err)) < 0)
		return r;
	if (a.status != SIGNER_OK)
		return pv_fail(err, PV_ENOTFOUND, "%.*s", (int)a.len, a.data);
	struct note_signer *s = sodium_malloc(sizeof(*s));
	if (s == NULL)
		return pv_fail(err, PV_ERR, "out of locked memory for a key");
	memset(s, 0, sizeof(*s));
	memcpy(s->name, v.name, sizeof(v.name));
	s->id = v.id;
	memcpy(s->pk, v.pk, sizeof(s->pk));
	s->remote = &remote_ops;
	s->remote_ctx = &c->logs[i];
	*s_r = s;
	return 0;
}

static void src_close(void *conn)
{
	struct conn *c = conn;
	close(c->fd);
	free(c);
}

const struct archive_key_source *signer_key_source(struct signer *sg)
{
	sg->src = (struct archive_key_source){src_open, src_key, src_close, sg, sg->ctl};
	return &sg->src;
}

static struct signer *in_use;

void signer_use(struct signer *sg)
{
	in_use = sg;
	archive_set_key_source(sg != NULL ? signer_key_source(sg) : NULL);
}

struct signer *signer_in_use(void)
{
	return in_use;
}

/* ---- starting, attaching, stopping ---- */

int signer_start(const char *data_dir, struct signer **sg_r, struct pv_error *err)
{
	struct signer *sg = calloc(1, sizeof(*sg));
	char hello[PV_ERROR_MSG_MAX];
	int sv[2];

	*sg_r = NULL;
	if (sg == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		free(sg);
		return pv_fail(err, PV_ERR, "signer: socketpair: %s", strerror(errno));
	}
	fflush(NULL); /* nothing buffered twice */
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		signer_main(data_dir, sv[1]);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		free(sg);
		return pv_fail(err, PV_ERR, "signer: fork: %s", strerror(errno));
	}
	sg->ctl = sv[0];
	sg->pid = pid;
	/* It answers once it holds the keys, or says why it cannot. */
	ssize_t n;
	while ((n = recv(sg->ctl, hello, sizeof(hello) - 1, 0)) < 0 && errno == EINTR)
		;
	hello[n > 0 ? n : 0] = '\0';
	if (n != 2 || memcmp(hello, "OK", 2) != 0) {
		int r = pv_fail(err, PV_ERR, "signer: %s",
				n > 0 ? hello : "the signer process died at start");
		signer_free(&sg);
		return r;
	}
	*sg_r = sg;
	return 0;
}

int signer_attach_env(struct signer **sg_r, struct pv_error *err)
{
	const char *v = getenv(SIGNER_FD_ENV);
	uint64_t fd;
	*sg_r = NULL;
	if (v == NULL || *v == '\0')
		return pv_fail(err, PV_ENOTFOUND, "%s is not set", SIGNER_FD_ENV);
	if (pv_parse_u64(v, strlen(v), 3, 1023, PV_NUM_CANONICAL, &fd) != 0)
		return pv_fail(err, PV_EUSAGE, "%s=%s is not a descriptor number", SIGNER_FD_ENV, v);
	int type = 0;
	socklen_t tl = sizeof(type);
	if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_SEQPACKET)
		return pv_fail(err, PV_ERR, "%s=%s is not a signer's socket", SIGNER_FD_ENV, v);
	struct signer *sg = calloc(1, sizeof(*sg));
	if (sg == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	sg->ctl = (int)fd;
	/* Ours now: not for what this process executes (pdftotext). */
	(void)fcntl(sg->ctl, F_SETFD, FD_CLOEXEC);
	unsetenv(SIGNER_FD_ENV);
	*sg_r = sg;
	return 0;
}

void signer_free(struct signer **sgp)
{
	struct signer *sg = *sgp;
	if (sg == NULL)
		return;
	close(sg->ctl);
	/* It exits when the last holder of the control socket has closed it:
	 * by now, this process's children are gone too. */
	for (int i = 0; sg->pid > 0 && i < 500; i++) {
		pid_t w = waitpid(sg->pid, NULL, WNOHANG);
		if (w != 0)
			break;
		usleep(10000);
	}
	free(sg);
	*sgp = NULL;
}

pid_t signer_pid(const struct signer *sg)
{
	return sg->pid;
}

int signer_control_fd(const struct signer *sg)
{
	return sg->ctl;
}
