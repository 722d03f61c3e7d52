#include "archiver/signer/signer_wire.h"

#include <string.h>

const char *const signer_log_names[SIGNER_LOGS] = {"archive", "audit"};

int signer_log_index(const char *name)
{
	for (int i = 0; i < SIGNER_LOGS; i++)
		if (strcmp(name, signer_log_names[i]) == 0)
			return i;
	return -1;
}

struct out {
	unsigned char *p;
	size_t len, cap;
	int bad;
};

static void put(struct out *o, const void *data, size_t n)
{
	if (o->bad || n > o->cap - o->len) {
		o->bad = 1;
		return;
	}
	if (n > 0)
		memcpy(o->p + o->len, data, n);
	o->len += n;
}

static void put_u(struct out *o, uint64_t v, size_t bytes)
{
	unsigned char b[8];
	for (size_t i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(o, b, bytes);
}

static void put_bytes(struct out *o, const void *data, size_t n)
{
	if (n > UINT32_MAX) {
		o->bad = 1;
		return;
	}
	put_u(o, n, 4);
	put(o, data, n);
}

struct in {
	const unsigned char *p;
	size_t len, off;
	int bad;
};

static uint64_t get_u(struct in *i, size_t bytes)
{
	uint64_t v = 0;
	if (i->bad || bytes > i->len - i->off) {
		i->bad = 1;
		return 0;
	}
	for (size_t k = 0; k < bytes; k++)
		v |= (uint64_t)i->p[i->off + k] << (8 * k);
	i->off += bytes;
	return v;
}

static const void *get(struct in *i, size_t n)
{
	if (i->bad || n > i->len - i->off) {
		i->bad = 1;
		return NULL;
	}
	const void *p = i->p + i->off;
	i->off += n;
	return p;
}

static const char *get_bytes(struct in *i, size_t max, size_t *n_r)
{
	uint64_t n = get_u(i, 4);
	if (n > max) {
		i->bad = 1;
		return NULL;
	}
	*n_r = (size_t)n;
	return get(i, (size_t)n);
}

int signer_req_encode(const struct signer_req *q, unsigned char *buf, size_t cap,
		      struct pv_error *err)
{
	struct out o = {buf, 0, cap, 0};
	if (q->nproof > PV_PROOF_HASHES_MAX)
		return pv_fail(err, PV_ELIMIT, "signer: proof of %zu hashes", q->nproof);
	put_u(&o, q->op, 1);
	put_u(&o, q->log, 1);
	put_u(&o, 0, 2);
	put_u(&o, q->from, 8);
	put_u(&o, q->nproof, 4);
	put(&o, q->proof, q->nproof * MERKLE_HASH_LEN);
	put_bytes(&o, q->vkey, q->vkey_len);
	put_bytes(&o, q->text, q->text_len);
	put_bytes(&o, q->last, q->last_len);
	if (o.bad)
		return pv_fail(err, PV_ELIMIT, "signer: request over %zu bytes", cap);
	return (int)o.len;
}

int signer_reply_encode(const struct signer_reply *a, unsigned char *buf, size_t cap,
			struct pv_error *err)
{
	struct out o = {buf, 0, cap, 0};
	put_u(&o, a->status, 1);
	put_u(&o, 0, 7);
	put_u(&o, a->size, 8);
	put_bytes(&o, a->data, a->len);
	if (o.bad)
		return pv_fail(err, PV_ELIMIT, "signer: reply over %zu bytes", cap);
	return (int)o.len;
}

int signer_req_decode(const unsigned char *buf, size_t len, struct signer_req *q,
		      struct pv_error *err)
{
	struct in i = {buf, len, 0, 0};
	memset(q, 0, sizeof(*q));
	q->op = (uint8_t)get_u(&i, 1);
	q->log = (uint8_t)get_u(&i, 1);
	if (get_u(&i, 2) != 0)
		i.bad = 1;
	q->from = get_u(&i, 8);
	uint64_t n = get_u(&i, 4);
	if (n > PV_PROOF_HASHES_MAX)
		i.bad = 1;
	else {
		q->nproof = (size_t)n;
		q->proof = get(&i, q->nproof * MERKLE_HASH_LEN);
	}
	q->vkey = get_bytes(&i, PV_SIGNER_TEXT_MAX, &q->vkey_len);
	q->text = get_bytes(&i, PV_SIGNER_TEXT_MAX, &q->text_len);
	q->last = get_bytes(&i, PV_KEYS_STATE_NOTE_MAX, &q->last_len);
	if (i.bad || i.off != len || q->log >= SIGNER_LOGS)
		return pv_fail(err, PV_EINTEGRITY, "signer: malformed request");
	return 0;
}

int signer_reply_decode(const unsigned char *buf, size_t len, struct signer_reply *a,
			struct pv_error *err)
{
	struct in i = {buf, len, 0, 0};
	memset(a, 0, sizeof(*a));
	a->status = (uint8_t)get_u(&i, 1);
	if (get_u(&i, 7) != 0)
		i.bad = 1;
	a->size = get_u(&i, 8);
	a->data = get_bytes(&i, PV_KEYS_STATE_NOTE_MAX, &a->len);
	if (i.bad || i.off != len || a->status > SIGNER_REFUSED)
		return pv_fail(err, PV_EINTEGRITY, "signer: malformed reply");
	return 0;
}
