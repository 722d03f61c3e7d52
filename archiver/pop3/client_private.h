#ifndef PV_POP3_CLIENT_PRIVATE_H
#define PV_POP3_CLIENT_PRIVATE_H

/* Internals shared by the files of archiver/pop3/ (client.c, auth.c,
 * mailbox.c, retr.c). Not for other subsystems: use pop3.h. */

#include "archiver/pop3/pop3.h"

struct pop3_client {
	struct pop3_net net;
	struct pop3_caps caps;
	struct pop3_tls_info tls;
	enum pop3_tls_mode tls_mode;
	bool insecure;
	char *host;
	char *ca_file;
	bool dead;      /* closed or out of step: nothing more may be sent */
	bool authed;
	enum pop3_auth_mode auth_used;
	/* The server failed to prove it knows the password (SCRAM v=): no
	 * other mechanism may be tried on it. */
	bool auth_no_fallback;
	bool has_apop_ts;
	char apop_ts[PV_POP3_STATUS_LINE_MAX];
	pop3_transcript_fn *transcript;
	void *transcript_ctx;
	/* The last line read; reply's text points into it. */
	struct pop3_reply reply;
	size_t line_len;
	bool line_bare_lf; /* the last status line ended in LF without CR */
	char line[PV_POP3_SASL_LINE_MAX + 1];
};

/* Closes the connection and marks the client dead; returns status. */
int pop3_kill(struct pop3_client *c, int status);

/* Fails with PV_EPROTO when the connection is already dead. */
int pop3_check_alive(struct pop3_client *c, struct pv_error *err);

/* Transcript line (no-op without a hook). */
void pop3_note(struct pop3_client *c, enum pop3_transcript_dir dir,
	       const char *line, size_t len);

/* Sends one command line (CRLF appended). The command, CRLF included,
 * must fit PV_POP3_COMMAND_MAX (RFC 2449 §4) unless is_response (SASL
 * responses are exempt, RFC 5034 §4). Refuses CR, LF and NUL inside.
 * The transcript shows line[0..show) followed by "<redacted>" when
 * show < len. Failure to send kills the connection. */
int pop3_send_line(struct pop3_client *c, const char *line, size_t len,
		   size_t show, bool is_response, struct pv_error *err);

/* printf-style pop3_send_line for commands without secrets. */
int pop3_sendf(struct pop3_client *c, struct pv_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reads a status line into c->reply. Returns 0 for +OK (or a SASL "+ "
 * when allow_cont); for -ERR the mapped status, err = "what: -ERR text".
 * An unparsable or over-long line, or a broken connection, kills it. */
int pop3_read_reply(struct pop3_client *c, const char *what, bool allow_cont,
		    struct pv_error *err);

/* Reads one line of a multi-line reply, dot-unstuffed; *end_r is set at
 * the terminating ".". Failures kill the connection. */
int pop3_read_ml_line(struct pop3_client *c, const char **line_r,
		      size_t *len_r, bool *end_r, struct pv_error *err);

/* Reads and discards the rest of a multi-line reply. */
int pop3_skip_ml(struct pop3_client *c, struct pv_error *err);

/* CAPA: refreshes c->caps (capa_ok false if the server refuses). */
int pop3_capa(struct pop3_client *c, struct pv_error *err);

#endif
