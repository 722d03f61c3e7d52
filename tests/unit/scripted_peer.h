#ifndef PV_TEST_SCRIPTED_PEER_H
#define PV_TEST_SCRIPTED_PEER_H

/* A scripted network peer for unit tests of line-based protocol clients
 * (the idea of Dovecot's test-smtp-client-errors.c and curl's test data):
 * a thread plays a declarative script — lines to send, exact lines the
 * client must send, EOF to expect — on one end of a socketpair or of a
 * loopback TCP connection. Every read and write times out after 10 s, so
 * a stuck test fails instead of hanging. libc and pthreads only. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sp_peer;
typedef int sp_call_fn(struct sp_peer *p, void *arg);

enum sp_op {
	SP_OP_END = 0,
	SP_OP_SEND,       /* write data[0..len) as is */
	SP_OP_EXPECT,     /* read one line (to LF); it must equal data exactly */
	SP_OP_EXPECT_EOF, /* the client must close without sending anything */
	SP_OP_CALL,       /* fn(peer, arg); nonzero fails the script */
};

struct sp_step {
	enum sp_op op;
	const char *data;
	size_t len;
	sp_call_fn *fn;
	void *arg;
};

#define SP_SEND(s) {SP_OP_SEND, (s), sizeof(s) - 1, NULL, NULL}
#define SP_EXPECT(s) {SP_OP_EXPECT, (s), sizeof(s) - 1, NULL, NULL}
#define SP_EXPECT_EOF {SP_OP_EXPECT_EOF, NULL, 0, NULL, NULL}
#define SP_CALL(f, a) {SP_OP_CALL, NULL, 0, (f), (a)}
#define SP_END {SP_OP_END, NULL, 0, NULL, NULL}

/* Plays script on one end of a socketpair; *fd_r is the other end, for
 * the client (the caller owns it). The script array must outlive the peer. */
struct sp_peer *sp_start(const struct sp_step *script, int *fd_r);
/* Listens on 127.0.0.1 (port 0) and plays script on the first connection. */
struct sp_peer *sp_start_tcp(const struct sp_step *script, uint16_t *port_r);
/* Waits for the script to end (the peer then closes its end). Returns 0
 * when every step happened as scripted, else -1 with the reason in msg.
 * Frees the peer and sets *p = NULL. */
int sp_finish(struct sp_peer **p, char *msg, size_t msg_size);

/* For SP_CALL functions. */
struct sp_io {
	/* Return bytes moved, 0 at EOF, negative on error (like read/write). */
	long (*read)(void *ctx, void *buf, size_t n);
	long (*write)(void *ctx, const void *buf, size_t n);
};
int sp_fd(const struct sp_peer *p);
/* Replaces raw socket I/O (e.g. by TLS after a handshake). */
void sp_set_io(struct sp_peer *p, const struct sp_io *io, void *ctx);
/* Reads one line, line end included, NUL-terminated. 0, or -1 at EOF or
 * when the line does not fit. */
int sp_read_line(struct sp_peer *p, char *buf, size_t size, size_t *len_r);
int sp_write(struct sp_peer *p, const void *d, size_t n);
/* Records a failure reason (the first one wins); returns -1. */
int sp_fail(struct sp_peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
