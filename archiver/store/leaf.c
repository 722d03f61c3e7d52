#include "archiver/store/leaf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/number.h"

#define LEAF_MAGIC_V1 "popvault/archive/v1 "
#define LEAF_MAGIC_V2 "popvault/archive/v2 "
#define LEAF_MAGIC_V3 "popvault/archive/v3 "
#define LEAF_MAGIC_LEN 20

static int valid_text(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n >= max)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int archive_leaf_format(const struct archive_leaf *l, struct pv_buf *out, struct pv_error *err)
{
	char t[PV_RFC3339_LEN];
	pv_clock_format_rfc3339(l->time, t);
	pv_buf_reset(out);
	if (l->kind == LEAF_MESSAGE) {
		int version = l->version ? l->version : LEAF_MESSAGE_VERSION;
		if (!valid_text(l->class_name, sizeof(l->class_name)))
			return pv_fail(err, PV_ERR, "leaf: bad retention class");
		if (version == 1)
			return pv_buf_printf(out, err,
					     LEAF_MAGIC_V1 "message\nseq %lld\ntime %s\nmailbox %s\n"
							   "class %s\nct %s\ncommit %s\n",
					     (long long)l->seq, t, l->mailbox, l->class_name, l->ct,
					     l->commit);
		if (version != 2 && version != 3)
			return pv_fail(err, PV_ERR, "leaf: no message leaf version %d", version);
		/* v3 has v2's lines; its commit is over the plaintext's SHA-256. */
		return pv_buf_printf(out, err,
				     "%smessage\nseq %lld\ntime %s\nmailbox %s\nclass %s\n"
				     "size %llu\nct %s\ncommit %s\n",
				     version == 2 ? LEAF_MAGIC_V2 : LEAF_MAGIC_V3, (long long)l->seq, t,
				     l->mailbox, l->class_name, (unsigned long long)l->size, l->ct,
				     l->commit);
	}
	if (!valid_text(l->reason, sizeof(l->reason)))
		return pv_fail(err, PV_ERR, "leaf: bad tombstone reason");
	return pv_buf_printf(out, err, LEAF_MAGIC_V1 "tombstone\nseq %lld\ntime %s\npolicy %lld\nreason %s\n",
			     (long long)l->seq, t, (long long)l->policy, l->reason);
}

/* Takes the next line "key value\n" from [*p, end); value copied to out. */
static int take_line(const char **p, const char *end, const char *key, char *out, size_t out_len)
{
	size_t klen = strlen(key);
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	if (nl == NULL || (size_t)(nl - *p) <= klen + 1 || memcmp(*p, key, klen) != 0 ||
	    (*p)[klen] != ' ')
		return -1;
	size_t vlen = (size_t)(nl - *p) - klen - 1;
	if (vlen >= out_len)
		return -1;
	memcpy(out, *p + klen + 1, vlen);
	out[vlen] = '\0';
	if (memchr(out, '\0', vlen) != NULL)
		return -1;
	*p = nl + 1;
	return 0;
}

static int parse_int(const char *s, int64_t *v)
{
	uint64_t n;
	if (pv_parse_u64(s, strlen(s), 0, INT64_MAX, 0, &n) < 0)
		return -1;
	*v = (int64_t)n;
	return 0;
}

int archive_leaf_parse(const char *data, size_t len, struct archive_leaf *l, struct pv_error *err)
{
	const char *p = data, *end = data + len;
	char kind[16], num[32], t[32];

	memset(l, 0, sizeof(*l));
	if (len > LEAF_MAX || len < LEAF_MAGIC_LEN)
		return pv_fail(err, PV_EINTEGRITY, "not a popvault archive leaf");
	if (memcmp(p, LEAF_MAGIC_V1, LEAF_MAGIC_LEN) == 0)
		l->version = 1;
	else if (memcmp(p, LEAF_MAGIC_V2, LEAF_MAGIC_LEN) == 0)
		l->version = 2;
	else if (memcmp(p, LEAF_MAGIC_V3, LEAF_MAGIC_LEN) == 0)
		l->version = 3;
	else
		return pv_fail(err, PV_EINTEGRITY, "not a popvault archive leaf");
	p += LEAF_MAGIC_LEN;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL || (size_t)(nl - p) >= sizeof(kind))
		goto bad;
	memcpy(kind, p, (size_t)(nl - p));
	kind[nl - p] = '\0';
	p = nl + 1;
	if (take_line(&p, end, "seq", num, sizeof(num)) < 0 || parse_int(num, &l->seq) < 0 ||
	    take_line(&p, end, "time", t, sizeof(t)) < 0 || pv_clock_parse_rfc3339(t, &l->time) < 0)
		goto bad;
	if (strcmp(kind, "message") == 0) {
		l->kind = LEAF_MESSAGE;
		if (take_line(&p, end, "mailbox", l->mailbox, sizeof(l->mailbox)) < 0 ||
		    take_line(&p, end, "class", l->class_name, sizeof(l->class_name)) < 0)
			goto bad;
		if (l->version >= 2) {
			int64_t size;
			if (take_line(&p, end, "size", num, sizeof(num)) < 0 || parse_int(num, &size) < 0)
				goto bad;
			l->has_size = true;
			l->size = (uint64_t)size;
		}
		if (take_line(&p, end, "ct", l->ct, sizeof(l->ct)) < 0 ||
		    take_line(&p, end, "commit", l->commit, sizeof(l->commit)) < 0 ||
		    strlen(l->ct) != 64 || strlen(l->commit) != 64)
			goto bad;
	} else if (strcmp(kind, "tombstone") == 0 && l->version == 1) {
		l->kind = LEAF_TOMBSTONE;
		if (take_line(&p, end, "policy", num, sizeof(num)) < 0 || parse_int(num, &l->policy) < 0 ||
		    take_line(&p, end, "reason", l->reason, sizeof(l->reason)) < 0)
			goto bad;
	} else {
		goto bad;
	}
	if (p != end)
		goto bad;
	/* Canonical: re-formatting must give the same bytes. */
	struct pv_buf b;
	pv_buf_init(&b, LEAF_MAX);
	int r = archive_leaf_format(l, &b, err);
	if (r == PV_OK && (b.len != len || memcmp(b.data, data, len) != 0))
		r = pv_fail(err, PV_EINTEGRITY, "archive leaf is not in canonical form");
	pv_buf_free(&b);
	return r;
bad:
	return pv_fail(err, PV_EINTEGRITY, "malformed archive leaf");
}
