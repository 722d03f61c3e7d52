#include "archiver/http/witness_http.h"

#include <string.h>


#define ADD_CHECKPOINT "/add-checkpoint"

static void reply_text(struct http_response *rs, int status, const char *type, const void *body,
		       size_t len)
{
	rs->status = status;
	pv_buf_reset(&rs->body);
	if (pv_buf_append(&rs->body, body, len, NULL) < 0 ||
	    http_response_header(rs, "Content-Type", type) < 0) {
		rs->status = 500;
		pv_buf_reset(&rs->body);
	}
	(void)http_response_header(rs, "Cache-Control", "no-store");
	(void)http_response_header(rs, "X-Content-Type-Options", "nosniff");
}

void witness_http_dispatch(void *ctx, struct http_request *rq, struct http_response *rs)
{
	struct witness_answer a;
	const char *path = rq->target;
	size_t n = strcspn(path, "?");
	/* The submission prefix is the server's root: the path is exactly
	 * /add-checkpoint (a log given ".../" as the prefix sends //...). */
	while (n > 1 && path[0] == '/' && path[1] == '/')
		path++, n--;
	if (n != strlen(ADD_CHECKPOINT) || strncmp(path, ADD_CHECKPOINT, n) != 0) {
		reply_text(rs, 404, "text/plain; charset=utf-8", "not found\n", 10);
		return;
	}
	if (strcmp(rq->method, "POST") != 0) {
		reply_text(rs, 405, "text/plain; charset=utf-8", "POST only\n", 10);
		(void)http_response_header(rs, "Allow", "POST");
		return;
	}
	witness_answer_init(&a);
	witness_add_checkpoint(ctx, rq->body ? rq->body : (const uint8_t *)"", rq->body_len, &a);
	reply_text(rs, a.status, a.content_type, a.body.data ? a.body.data : (const uint8_t *)"",
		   a.body.len);
	witness_answer_free(&a);
}
