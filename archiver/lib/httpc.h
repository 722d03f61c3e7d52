#ifndef PV_HTTPC_H
#define PV_HTTPC_H

/* The one outbound HTTP client of popvault (libcurl, DESIGN.md §9): what
 * anchoring sends to a Time-Stamp Authority (RFC 3161 §3.4) and to
 * witnesses (C2SP tlog-witness). One POST, one answer, nothing kept:
 *   - http:// and https:// only, no redirects followed (a TSA or witness
 *     that moved is reconfigured, not chased);
 *   - https verified against the system CAs, or ca_file when given;
 *   - the reply is read up to PV_HTTPC_REPLY_MAX bytes (more: PV_ELIMIT),
 *     the call ends after PV_HTTPC_TIMEOUT_MS whatever the server does;
 *   - the proxy settings of the environment apply (libcurl's usual
 *     http_proxy / no_proxy), as an appliance behind a proxy needs.
 * Safe to call from several threads (each call has its own handle). */

#include <stddef.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

struct pv_httpc_reply {
	long status;            /* the HTTP status code */
	char content_type[128]; /* as sent, "" when none or too long */
	struct pv_buf body;     /* pv_httpc_reply_free */
};

/* POSTs body[0..len) as content_type to url. Fills *rep (free it with
 * pv_httpc_reply_free, also after an error) and returns 0 whatever the
 * status code; PV_ETEMP when no answer came (refused, timed out, reset,
 * TLS failed: err says which), PV_ELIMIT for a reply over the limit,
 * PV_EUSAGE for a URL that is not http(s). */
int pv_httpc_post(const char *url, const char *content_type, const void *body, size_t len,
		  const char *ca_file, struct pv_httpc_reply *rep, struct pv_error *err);
void pv_httpc_reply_free(struct pv_httpc_reply *rep);

/* Does the reply's Content-Type name this media type (case-insensitive,
 * parameters after ';' ignored)? */
int pv_httpc_reply_is(const struct pv_httpc_reply *rep, const char *media_type);

#endif
