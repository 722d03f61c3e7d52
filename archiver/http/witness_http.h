#ifndef PV_HTTP_WITNESS_HTTP_H
#define PV_HTTP_WITNESS_HTTP_H

/* The witness's HTTP face (popvault witness serve): a route table of one,
 *   POST <prefix>/add-checkpoint   C2SP tlog-witness (archive/witness.h)
 * served by server.c with this as its dispatch. No sessions, roles or
 * cookies: the protocol authenticates nothing but the log's signature on
 * the checkpoint. Any other path is 404, any other method 405. */

#include "archiver/archive/witness.h"
#include "archiver/http/http.h"

/* ctx: the struct witness. */
void witness_http_dispatch(void *ctx, struct http_request *rq, struct http_response *rs);

#endif
