#ifndef PV_POP3_H
#define PV_POP3_H

/* The POP3 client the harvester drives (ARCHITECTURE.md §3): RFC 1939, 2449
 * (CAPA, RESP-CODES, PIPELINING, EXPIRE, LOGIN-DELAY), 3206, 2595 (STLS),
 * 8314 (implicit TLS), 9525 (certificate names), 5034 SASL (PLAIN, LOGIN,
 * CRAM-MD5, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER), 6856 (UTF8).
 *
 * Errors (return value; the reason, with the server's text, in err):
 *   PV_ETEMP   retry later: -ERR [IN-USE] [LOGIN-DELAY] [SYS/TEMP], DNS or
 *              connect failure, timeout, connection reset
 *   PV_EAUTH   credentials rejected: -ERR [AUTH], or a SASL failure the
 *              server confirmed (OAuth error challenge, SCRAM e=), or a
 *              SCRAM server signature that does not verify
 *   PV_EPERM   -ERR [SYS/PERM]
 *   PV_ERR     plain -ERR (no response code), TLS/certificate failure, STLS
 *              not offered or refused, local failures
 *   PV_EPROTO  the server broke the protocol: garbage status line, bad
 *              listing, connection closed mid-reply, STLS injection
 *   PV_ELIMIT  a limit from limits.h or the caller's size cap was exceeded
 * A -ERR reply leaves the session usable. Any transport or protocol failure
 * marks the connection dead (pop3_alive() turns false): every later
 * command fails with PV_EPROTO at once, and the caller can only free it.
 *
 * Not thread-safe: one client per thread. Never logs secrets. The caller
 * should ignore SIGPIPE anyway, though the client never raises it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "archiver/pop3/net.h"
#include "archiver/pop3/reply.h"

struct pop3_client;

enum pop3_tls_mode {
	POP3_TLS_IMPLICIT, /* TLS from the first byte (RFC 8314), port 995 */
	POP3_TLS_STARTTLS, /* STLS (RFC 2595); never continues in clear */
	POP3_TLS_NONE,     /* clear text */
};

enum pop3_auth_mode {
	/* AUTO tries, strongest first, each offered one of: SCRAM-SHA-256,
	 * CRAM-MD5, then over TLS the first of PLAIN, LOGIN, USER, and only
	 * failing those (or in clear) APOP. It moves on after a refusal
	 * (-ERR: e.g. CRAM offered but the user's password is stored
	 * hashed), never after [IN-USE], [LOGIN-DELAY], [SYS/TEMP], [SYS/PERM], a lost
	 * connection, or a SCRAM server signature that did not verify (a
	 * server that does not know the password gets no other chance).
	 * Never sends a password in clear, nor over TLS whose certificate
	 * was not verified (cfg.insecure): there USER, PLAIN or LOGIN must
	 * be asked for by name. */
	POP3_AUTH_AUTO,
	POP3_AUTH_USER,
	POP3_AUTH_APOP,
	POP3_AUTH_PLAIN,
	POP3_AUTH_LOGIN,
	POP3_AUTH_CRAM_MD5,
	POP3_AUTH_SCRAM_SHA_256,
	POP3_AUTH_XOAUTH2,     /* secret is an OAuth 2 access token */
	POP3_AUTH_OAUTHBEARER, /* secret is an OAuth 2 access token */
};

/* Transcript hook (debugging): one call per protocol line, without CRLF.
 * Passwords, tokens, APOP digests and every client SASL response are shown
 * as "<redacted>"; message bodies as a byte count. */
enum pop3_transcript_dir {
	POP3_TRANSCRIPT_CLIENT, /* C: */
	POP3_TRANSCRIPT_SERVER, /* S: */
	POP3_TRANSCRIPT_NOTE,   /* events: TLS established, connection dropped */
};
typedef void pop3_transcript_fn(void *ctx, enum pop3_transcript_dir dir,
				const char *line, size_t len);

struct pop3_config {
	const char *host;        /* also the TLS name to verify and send as SNI */
	uint16_t port;           /* 0: 995 for implicit TLS, else 110 */
	enum pop3_tls_mode tls;
	const char *ca_file;     /* PEM CA bundle; NULL: the system store */
	bool insecure;           /* skip certificate verification (audit it!) */
	int connect_timeout_ms;  /* 0: PV_POP3_CONNECT_TIMEOUT_MS */
	int io_timeout_ms;       /* 0: PV_POP3_IO_TIMEOUT_MS, per read/write */
	/* The whole session, from pop3_connect_fd on: no wait goes past it
	 * (0: PV_POP3_SESSION_TIMEOUT_MS). */
	int64_t session_timeout_ms;
	/* While waiting to read, at least this many bytes a second over each
	 * io_timeout_ms of waiting (net.h: pop3_net_limits);
	 * 0: PV_POP3_MIN_RATE_BPS. */
	uint32_t min_rate_bps;
	pop3_transcript_fn *transcript; /* NULL: none */
	void *transcript_ctx;
};

struct pop3_auth {
	enum pop3_auth_mode mode;
	const char *user;
	const char *secret;  /* password, or token for XOAUTH2/OAUTHBEARER */
	const char *authzid; /* PLAIN only; NULL normally */
};

/* ---- session ---- */

/* Connects (TCP, then TLS per cfg->tls), reads the greeting, runs CAPA
 * (and, for STARTTLS, STLS + a fresh CAPA). Nothing is sent in clear when
 * STARTTLS is configured and STLS is missing or fails. *c_r is set on
 * success only. cfg strings are copied. */
int pop3_connect(const struct pop3_config *cfg, struct pop3_client **c_r,
		 struct pv_error *err);

/* The same over an already connected socket (tests; callers that connect
 * themselves). Takes ownership of fd, even on failure. */
int pop3_connect_fd(int fd, const struct pop3_config *cfg,
		    struct pop3_client **c_r, struct pv_error *err);

/* Authenticates (see enum pop3_auth_mode), then refreshes CAPA, since
 * EXPIRE and LOGIN-DELAY may differ per user (RFC 2449 §6). A mode the
 * server does not advertise fails with PV_ERR without trying it. */
int pop3_login(struct pop3_client *c, const struct pop3_auth *auth,
	       struct pv_error *err);

/* pop3_connect + pop3_login; on failure nothing is left open. */
int pop3_open(const struct pop3_config *cfg, const struct pop3_auth *auth,
	      struct pop3_client **c_r, struct pv_error *err);

/* Sends QUIT and reads the reply. Returns 0 ONLY when +OK arrived: that
 * is the commit of every DELE in this session (RFC 1939 §6). -ERR (some
 * deletes not done) gives its mapped status; a connection lost before
 * the reply gives PV_EPROTO: whether anything was deleted is then unknown
 * and only a fresh session's UIDL can tell. The connection is closed in
 * every case; free the client afterwards. */
int pop3_quit(struct pop3_client *c, struct pv_error *err) PV_WARN_UNUSED;

/* Closes the connection WITHOUT QUIT (nor TLS close_notify): the server
 * rolls back every DELE of this session (RFC 1939 §6), and on an
 * "EXPIRE 0" server nothing retrieved is expired either. Idempotent. */
void pop3_drop(struct pop3_client *c);

/* Drops the connection if still open (no QUIT), frees, sets *c = NULL. */
void pop3_client_free(struct pop3_client **c);

/* False once the connection is closed or out of step. */
bool pop3_alive(const struct pop3_client *c);

/* True when the connection was closed because the session's time limit
 * passed or the server sent too slowly (pop3_config): a fault of the
 * server or the link, not of the message whose reply was awaited. */
bool pop3_out_of_time(const struct pop3_client *c);

/* Capabilities as last seen (after login: the per-user ones). */
const struct pop3_caps *pop3_caps(const struct pop3_client *c);
/* TLS state of the connection (for the audit of insecure accounts). */
const struct pop3_tls_info *pop3_tls(const struct pop3_client *c);
/* The mode pop3_login actually used (AUTO resolved), or AUTO before. */
enum pop3_auth_mode pop3_auth_used(const struct pop3_client *c);
/* Name of a mode: "scram-sha-256", ... (the CLI's --auth words). */
const char *pop3_auth_mode_name(enum pop3_auth_mode m);

/* ---- simple commands (each 0 on +OK) ---- */

int pop3_stat(struct pop3_client *c, uint32_t *count_r, uint64_t *octets_r,
	      struct pv_error *err);
int pop3_noop(struct pop3_client *c, struct pv_error *err);
/* Unmarks every message marked deleted in this session. */
int pop3_rset(struct pop3_client *c, struct pv_error *err);
/* Single-message LIST / UIDL. */
int pop3_list_one(struct pop3_client *c, uint32_t msgnum, uint64_t *size_r,
		  struct pv_error *err);
int pop3_uidl_one(struct pop3_client *c, uint32_t msgnum,
		  char uidl_r[PV_POP3_UIDL_MAX + 1], struct pv_error *err);
/* Single DELE (the message is marked; QUIT +OK deletes). */
int pop3_dele(struct pop3_client *c, uint32_t msgnum, struct pv_error *err);

/* ---- listing ---- */

struct pop3_msg {
	uint32_t num;      /* message number in this session */
	uint64_t size;     /* LIST size: a hint, servers lie (pop3.md §1) */
	bool has_uidl;
	/* Another message in this listing has the same UIDL. Such messages
	 * must each be fetched and archived (by content hash); never skip or
	 * delete one unread because of its UIDL. */
	bool uidl_dup;
	char uidl[PV_POP3_UIDL_MAX + 1]; /* "" when !has_uidl */
};

struct pop3_mailbox {
	struct pop3_msg *msgs; /* ascending by num */
	size_t count;
	bool uidl_ok;          /* UIDL answered +OK (else: use content hashes) */
	size_t uidl_dups;      /* messages with uidl_dup set */
};

/* LIST, then UIDL (when it fails with -ERR: uidl_ok = false, no UIDLs),
 * merged by message number. A listing line that does not parse, a UIDL
 * outside 1..70 chars of 0x21..0x7E, a message number listed twice, or a
 * UIDL for a number LIST did not show fail the whole call with PV_EPROTO
 * (the connection stays usable: the listing is read to its end). Never
 * read to an end that may not come (the connection is then dropped): a
 * LIST of more than PV_POP3_MAILBOX_MAX_MESSAGES (PV_ELIMIT, an error
 * that says so), a UIDL listing of many more lines than LIST had
 * (PV_EPROTO). */
int pop3_scan(struct pop3_client *c, struct pop3_mailbox **mb_r,
	      struct pv_error *err);
/* LIST only (uidl_ok false), and UIDL into an existing LIST result. */
int pop3_list_all(struct pop3_client *c, struct pop3_mailbox **mb_r,
		  struct pv_error *err);
int pop3_uidl_all(struct pop3_client *c, struct pop3_mailbox *mb,
		  struct pv_error *err);
void pop3_mailbox_free(struct pop3_mailbox **mb);

/* ---- RETR ---- */

/* Receives message bytes after dot-unstuffing, line ends as the server
 * sent them, terminator not included (dot.h says which line ends count:
 * in a CRLF reply only ".CRLF" ends a message, ".LF" only in a reply
 * whose "+OK" ended in a bare LF). Return 0, or a negative status to
 * abort (the connection is then dropped: it is mid-reply). */
typedef int pop3_sink_fn(void *ctx, const unsigned char *data, size_t len);

struct pop3_retr_result {
	uint32_t msgnum;
	int status;       /* 0, or negative pv_status for this message */
	/* +OK arrived: the server counts the message as retrieved (with
	 * EXPIRE, a QUIT then starts its expiry), whatever came after. */
	bool retrieved;
	/* The terminator arrived and every byte went to the sink. Only a
	 * complete message may be archived (and later deleted). */
	bool complete;
	uint64_t bytes;   /* bytes given to the sink */
	/* The same counting every line end as CRLF, as LIST sizes do (RFC
	 * 1939 §11): what to compare with LIST. */
	uint64_t crlf_bytes;
	bool size_announced; /* "+OK n octets" carried a number */
	uint64_t announced_size;
};

/* RETR one message into sink; max_bytes 0 means PV_MESSAGE_SIZE_DEFAULT_MAX.
 * Returns 0 when complete. Otherwise:
 *  -ERR reply           mapped status, nothing sent to the sink, session ok
 *  over max_bytes       PV_ELIMIT: the sink got at most max_bytes and the
 *                       connection is dropped at once (nothing more read)
 *  closed early         PV_EPROTO, res->complete false, connection dead
 *  too slow, too long   PV_ETEMP (pop3_out_of_time), connection dead
 *  sink error           sink's status, connection dropped
 * So a message that was retrieved (+OK) but not received whole never
 * leaves the session usable: no QUIT can follow it.
 * res_r (may be NULL) is filled in every case. */
int pop3_retr(struct pop3_client *c, uint32_t msgnum, uint64_t max_bytes,
	      pop3_sink_fn *sink, void *ctx, struct pop3_retr_result *res_r,
	      struct pv_error *err);

/* Pipelined RETR of many messages (RFC 2449 §6.6): with PIPELINING, up to
 * PV_POP3_PIPELINE_WINDOW commands are in flight; without it, one at a
 * time. Replies are handled in order: begin (may be NULL) when a message's
 * +OK arrives, data for its bytes, done exactly once per message reached,
 * with its result and reason (err is NULL when complete). A per-message
 * -ERR goes to done and the batch continues; a message over the size cap
 * goes to done and ends the batch (connection dropped). Returns 0 when
 * every reply was read and the session is usable (individual messages may
 * still have failed: see done), or negative when the connection broke or a
 * callback returned negative (connection dropped; messages not reached get
 * no done call). */
struct pop3_retr_handler {
	int (*begin)(void *ctx, uint32_t msgnum, const struct pop3_retr_result *res);
	int (*data)(void *ctx, uint32_t msgnum, const unsigned char *d, size_t len);
	int (*done)(void *ctx, const struct pop3_retr_result *res,
		    const struct pv_error *err);
	void *ctx;
};
int pop3_retr_many(struct pop3_client *c, const uint32_t *msgnums, size_t n,
		   uint64_t max_bytes, const struct pop3_retr_handler *h,
		   struct pv_error *err);

/* RETRs and DELEs in one pipelined command stream (RFC 2449 §6.6): the
 * DELEs of what the caller has made safe to delete go out between the
 * RETRs, without draining them first. With PIPELINING, up to
 * PV_POP3_PIPELINE_WINDOW commands are in flight (DELEs at most half of
 * them while RETRs remain), and RETRs whose LIST sizes add up to at most
 * PV_POP3_PIPELINE_BYTES (one is always allowed); the commands of one
 * refill go out in one write. Without PIPELINING, one command at a time.
 * Replies are handled in order: RETRs as pop3_retr_many does (h); before
 * each reply, deles() may give up to max message numbers to DELE now, and
 * dele_done() gets each DELE's reply (0 or the mapped -ERR status). stop()
 * (may be NULL) returning true sends no more RETRs; those in flight are
 * still read. Returns as pop3_retr_many; *sent_r: RETRs sent; *awaited_r:
 * the message whose RETR reply was awaited when the connection broke (0:
 * none, e.g. it broke in a DELE reply). After a broken connection no DELE
 * answer may be relied on: drop it without QUIT. */
struct pop3_fetch {
	const uint32_t *msgnums; /* to RETR, in this order */
	const uint64_t *sizes;   /* their LIST sizes (hints), or NULL */
	size_t n;
	uint64_t max_bytes;
	const struct pop3_retr_handler *h;
	size_t (*deles)(void *ctx, uint32_t *nums, size_t max);
	void (*dele_done)(void *ctx, uint32_t msgnum, int status, const struct pv_error *err);
	bool (*stop)(void *ctx);
	void *ctx; /* for deles, dele_done and stop */
};
int pop3_fetch_run(struct pop3_client *c, const struct pop3_fetch *f, size_t *sent_r,
		   uint32_t *awaited_r, struct pv_error *err);

/* ---- DELE batch ---- */

/* DELE each message, pipelined when the server offers PIPELINING, and
 * checks every reply in order: status_r[i] is 0 for +OK or the mapped
 * status of the -ERR. Returns 0 when every reply was +OK; otherwise the
 * first failure (err names it). If the connection broke, unanswered
 * entries are PV_EPROTO and pop3_alive() is false: then do NOT rely on any
 * of them, drop, and reconcile next session. */
int pop3_dele_many(struct pop3_client *c, const uint32_t *msgnums, size_t n,
		   int *status_r, struct pv_error *err);

#endif
