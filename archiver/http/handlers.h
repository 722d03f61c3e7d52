#ifndef PV_HTTP_HANDLERS_H
#define PV_HTTP_HANDLERS_H

/* Endpoint handlers, listed in the route table (routes.c). Each is a few
 * lines: see http.h for the contract. */

#include "archiver/http/http.h"

/* h_session.c: POST and DELETE /api/v1/session, GET /api/v1/me */
int h_session_create(struct http_request *rq, struct http_response *rs);
int h_session_delete(struct http_request *rq, struct http_response *rs);
int h_me(struct http_request *rq, struct http_response *rs);

/* h_system.c: GET /healthz, GET /api/v1/checkpoints */
int h_healthz(struct http_request *rq, struct http_response *rs);
int h_checkpoints(struct http_request *rq, struct http_response *rs);

/* static.c: GET any other path: a file of the web root */
int h_static(struct http_request *rq, struct http_response *rs);

#endif
