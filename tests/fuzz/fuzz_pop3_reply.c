/* libFuzzer target for the POP3 client's parsers of server input
 * (archiver/pop3/reply.h, dot.h, sasl.h).
 *
 * Every line of the input goes through the status-line, CAPA, LIST and
 * UIDL parsers and the greeting timestamp finder; accepted values must
 * satisfy their contracts. The whole input goes through the
 * dot-unstuffing stream in chunks sized by its first byte, as the body
 * of a CRLF reply and of a bare-LF one, and must give the same bytes and
 * stop at the same place as a one-shot feed and as a line-by-line
 * reference. The input is also a SCRAM server-first and
 * server-final message and a base64 challenge. Nothing may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/buf.h"
#include "archiver/pop3/dot.h"
#include "archiver/pop3/reply.h"
#include "archiver/pop3/sasl.h"

static int collect(void *ctx, const unsigned char *d, size_t n)
{
	if (n == 0)
		abort(); /* runs are never empty */
	return pv_buf_append(ctx, d, n, NULL) == 0 ? 0 : PV_ELIMIT;
}

static void check_line(const char *l, size_t n)
{
	struct pop3_reply r;
	for (int cont = 0; cont < 2; cont++)
		if (pop3_reply_parse(l, n, cont, &r) == 0) {
			if (r.text < l || r.text + r.text_len != l + n ||
			    strlen(r.code) >= PV_POP3_RESP_CODE_MAX)
				abort();
			int st = pop3_reply_status(&r);
			if ((r.kind == POP3_REPLY_ERR) != (st < 0))
				abort();
		}
	struct pop3_caps caps;
	memset(&caps, 0, sizeof(caps));
	pop3_caps_parse_line(&caps, l, n);
	if (strlen(caps.implementation) >= sizeof(caps.implementation))
		abort();
	uint32_t num;
	uint64_t size;
	if (pop3_parse_scan(l, n, false, &num, &size) == 0 &&
	    (num == 0 || num > PV_POP3_MAILBOX_MAX_MESSAGES))
		abort();
	char uidl[PV_POP3_UIDL_MAX + 1];
	if (pop3_parse_uidl(l, n, &num, uidl) == 0 && !pop3_uidl_valid(uidl, strlen(uidl)))
		abort();
	char ts[PV_POP3_STATUS_LINE_MAX];
	if (pop3_greeting_timestamp(l, n, ts, sizeof(ts)) && (ts[0] != '<' || strchr(ts, '@') == NULL))
		abort();
}

/* Where the line starting at i ends (the index after its line end), or n
 * when it has none: LF in a bare-LF reply, only CRLF otherwise (dot.h). */
static size_t line_end(const unsigned char *in, size_t i, size_t n, int lf_ends)
{
	for (size_t k = i; k < n; k++)
		if (in[k] == '\n' && (lf_ends || (k > i && in[k - 1] == '\r')))
			return k + 1;
	return n;
}

/* Reference unstuffing, line by line (RFC 1939 §3, dot.h). Returns bytes
 * used. */
static size_t reference(const unsigned char *in, size_t n, int lf_ends, struct pv_buf *out,
			int *done)
{
	size_t i = 0;
	*done = 0;
	while (i < n) {
		size_t end = line_end(in, i, n, lf_ends), len = end - i;
		const unsigned char *l = in + i;
		if ((lf_ends && len == 2 && l[0] == '.' && l[1] == '\n') ||
		    (len == 3 && l[0] == '.' && l[1] == '\r' && l[2] == '\n')) {
			*done = 1;
			return end;
		}
		if (end == n && ((len == 1 && l[0] == '.') || (len == 2 && l[0] == '.' && l[1] == '\r')))
			return n; /* held back: maybe a terminator */
		if (l[0] == '.' && !(len >= 2 && l[1] == '\n' && !lf_ends))
			pv_buf_append(out, l + 1, len - 1, NULL);
		else /* ".LF" in a CRLF reply is data, dot and all */
			pv_buf_append(out, l, len, NULL);
		i = end;
	}
	return n;
}

static void check_dot(const uint8_t *data, size_t size, int lf_ends)
{
	struct pv_buf one, many, ref;
	struct pop3_dot d;
	size_t used_one = 0, used_many = 0, used;
	int ref_done;
	pv_buf_init(&one, size + 1);
	pv_buf_init(&many, size + 1);
	pv_buf_init(&ref, size + 1);

	pop3_dot_init(&d, lf_ends);
	if (pop3_dot_feed(&d, data, size, collect, &one, &used_one) != 0)
		abort();
	int done_one = pop3_dot_done(&d);

	size_t chunk = size > 0 ? (size_t)data[0] % 17 + 1 : 1;
	pop3_dot_init(&d, lf_ends);
	while (used_many < size && !pop3_dot_done(&d)) {
		size_t k = size - used_many < chunk ? size - used_many : chunk;
		if (pop3_dot_feed(&d, data + used_many, k, collect, &many, &used) != 0 || used > k)
			abort();
		used_many += used;
		if (used < k && !pop3_dot_done(&d))
			abort();
	}
	size_t used_ref = reference(data, size, lf_ends, &ref, &ref_done);
	if (used_one != used_many || used_one != used_ref || done_one != pop3_dot_done(&d) ||
	    done_one != ref_done || one.len != many.len || one.len != ref.len ||
	    (one.len > 0 && (memcmp(one.data, many.data, one.len) != 0 ||
			     memcmp(one.data, ref.data, one.len) != 0)))
		abort();
	pv_buf_free(&one);
	pv_buf_free(&many);
	pv_buf_free(&ref);
}

static void check_sasl(const uint8_t *data, size_t size)
{
	unsigned char out[512];
	size_t n;
	if (pop3_b64_decode((const char *)data, size, out, sizeof(out), &n) == 0 && n > sizeof(out))
		abort();
	/* Server-first after a fixed client-first; the input usually fails
	 * the nonce check, and a server-final is checked either way. */
	struct pop3_scram s;
	struct pv_buf b;
	pop3_scram_init(&s);
	pv_buf_init(&b, 4096);
	if (pop3_scram_client_first(&s, "user", "rOprNGfwEbeRWgbNEkqO", &b, NULL) != 0)
		abort();
	if (pop3_scram_client_final(&s, "pencil", (const char *)data, size, &b, NULL) == 0)
		(void)!pop3_scram_verify_server(&s, (const char *)data, size, NULL);
	else if (pop3_scram_verify_server(&s, (const char *)data, size, NULL) == 0)
		abort(); /* nothing to verify after a refused exchange */
	pv_buf_free_secret(&b);
	pop3_scram_clear(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t i = 0;
	while (i <= size) {
		const char *lf = memchr(p + i, '\n', size - i);
		size_t end = lf != NULL ? (size_t)(lf - p) : size;
		size_t n = end - i;
		if (n > 0 && p[i + n - 1] == '\r')
			n--;
		check_line(p + i, n);
		i = end + 1;
	}
	check_dot(data, size, 0);
	check_dot(data, size, 1);
	check_sasl(data, size);
	return 0;
}
