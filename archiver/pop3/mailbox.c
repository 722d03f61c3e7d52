/* Mailbox listings: LIST and UIDL (RFC 1939 §5, §7), merged by number. */
#include "archiver/pop3/client_private.h"

#include <stdlib.h>
#include <string.h>

#include "archiver/lib/number.h"

static int over_cap(struct pv_error *err)
{
	return pv_fail(err, PV_ELIMIT, "LIST: the mailbox holds more than %d messages, more than "
		       "one session may list (limits.h); nothing was fetched: move or delete "
		       "mail upstream", PV_POP3_MAILBOX_MAX_MESSAGES);
}

static int push(struct pop3_mailbox *mb, size_t *cap, uint32_t num, uint64_t size,
		struct pv_error *err)
{
	if (mb->count >= PV_POP3_MAILBOX_MAX_MESSAGES)
		return over_cap(err);
	if (mb->count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct pop3_msg *m = realloc(mb->msgs, ncap * sizeof(*m));
		if (m == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		mb->msgs = m;
		*cap = ncap;
	}
	struct pop3_msg *m = &mb->msgs[mb->count++];
	memset(m, 0, sizeof(*m));
	m->num = num;
	m->size = size;
	return PV_OK;
}

static int by_num(const void *a, const void *b)
{
	uint32_t x = ((const struct pop3_msg *)a)->num, y = ((const struct pop3_msg *)b)->num;
	return x < y ? -1 : x > y;
}

void pop3_mailbox_free(struct pop3_mailbox **mb)
{
	if (*mb == NULL)
		return;
	free((*mb)->msgs);
	free(*mb);
	*mb = NULL;
}

int pop3_list_all(struct pop3_client *c, struct pop3_mailbox **mb_r,
		  struct pv_error *err)
{
	struct pop3_mailbox *mb = calloc(1, sizeof(*mb));
	size_t cap = 0, len;
	const char *l;
	bool end = false;
	int bad = 0;
	struct pv_error bad_err;

	if (mb == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	int r = pop3_sendf(c, err, "LIST");
	if (r == 0)
		r = pop3_read_reply(c, "LIST", false, err);
	while (r == 0 && !end) {
		if ((r = pop3_read_ml_line(c, &l, &len, &end, err)) < 0 || end)
			break;
		uint32_t num;
		uint64_t size, big;
		size_t sp = strcspn(l, " ");
		int p = pop3_parse_scan(l, len, false, &num, &size) == 0
				? push(mb, &cap, num, size, &bad_err)
			: pv_parse_u64(l, sp < len ? sp : len, 0, UINT64_MAX, 0, &big) == 0 &&
					big > PV_POP3_MAILBOX_MAX_MESSAGES
				? over_cap(&bad_err)
				: pv_fail(&bad_err, PV_EPROTO, "LIST: malformed line");
		if (p == PV_ELIMIT) {
			/* Issue 16, finding 4: a listing past the cap is not
			 * read on (it may never end). */
			if (err != NULL)
				*err = bad_err;
			r = pop3_kill(c, PV_ELIMIT);
			break;
		}
		/* Keep reading to the terminator so the session stays usable. */
		if (p < 0 && bad == 0) {
			bad = p;
			if (err != NULL)
				*err = bad_err;
		}
	}
	if (r == 0 && bad == 0 && mb->count > 1) {
		qsort(mb->msgs, mb->count, sizeof(*mb->msgs), by_num);
		for (size_t i = 1; i < mb->count; i++)
			if (mb->msgs[i].num == mb->msgs[i - 1].num) {
				bad = pv_fail(err, PV_EPROTO, "LIST: message %u listed twice",
					      (unsigned)mb->msgs[i].num);
				break;
			}
	}
	if (r == 0)
		r = bad;
	if (r < 0) {
		pop3_mailbox_free(&mb);
		return r;
	}
	*mb_r = mb;
	return PV_OK;
}

static int by_uidl(const void *a, const void *b)
{
	const struct pop3_msg *x = *(const struct pop3_msg *const *)a;
	const struct pop3_msg *y = *(const struct pop3_msg *const *)b;
	return strcmp(x->uidl, y->uidl);
}

/* Marks every message whose UIDL another message shares. */
static int mark_dups(struct pop3_mailbox *mb, struct pv_error *err)
{
	struct pop3_msg **v = malloc((mb->count ? mb->count : 1) * sizeof(*v));
	size_t n = 0;
	if (v == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < mb->count; i++)
		if (mb->msgs[i].has_uidl)
			v[n++] = &mb->msgs[i];
	if (n > 1)
		qsort(v, n, sizeof(*v), by_uidl);
	mb->uidl_dups = 0;
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i]->uidl, v[i - 1]->uidl) == 0) {
			if (!v[i - 1]->uidl_dup)
				mb->uidl_dups++;
			v[i - 1]->uidl_dup = true;
			v[i]->uidl_dup = true;
			mb->uidl_dups++;
		}
	free(v);
	return PV_OK;
}

/* A UIDL listing may hold a few lines more than LIST had messages and
 * still be read to its end (the error is reported, the session stays in
 * step); past that it is cut, since it may never end. */
#define UIDL_STRAY_LINES 64

static void forget_uidls(struct pop3_mailbox *mb)
{
	for (size_t i = 0; i < mb->count; i++) {
		mb->msgs[i].has_uidl = false;
		mb->msgs[i].uidl[0] = '\0';
	}
}

int pop3_uidl_all(struct pop3_client *c, struct pop3_mailbox *mb,
		  struct pv_error *err)
{
	size_t len;
	const char *l;
	bool end = false;
	int bad = 0;

	size_t lines = 0;
	int r = pop3_sendf(c, err, "UIDL");
	if (r == 0)
		r = pop3_read_reply(c, "UIDL", false, err);
	if (r < 0)
		return r;
	while (!end) {
		if ((r = pop3_read_ml_line(c, &l, &len, &end, err)) < 0)
			return r;
		if (!end && ++lines > mb->count + UIDL_STRAY_LINES) {
			/* Not read on: it may never end (issue 16, finding 4). */
			pv_fail(err, PV_EPROTO, "UIDL: more lines than LIST had messages (%zu)",
				mb->count);
			forget_uidls(mb);
			return pop3_kill(c, PV_EPROTO);
		}
		if (end || bad < 0)
			continue;
		struct pop3_msg key = {0}, *m;
		if (pop3_parse_uidl(l, len, &key.num, key.uidl) < 0) {
			char shown[96];
			pop3_sanitize(l, len, shown, sizeof(shown));
			bad = pv_fail(err, PV_EPROTO, "UIDL: malformed line \"%s\"", shown);
		} else if (mb->count == 0 ||
			   (m = bsearch(&key, mb->msgs, mb->count, sizeof(*m), by_num)) == NULL) {
			bad = pv_fail(err, PV_EPROTO, "UIDL: message %u not in LIST",
				      (unsigned)key.num);
		} else if (m->has_uidl) {
			bad = pv_fail(err, PV_EPROTO, "UIDL: message %u listed twice",
				      (unsigned)key.num);
		} else {
			memcpy(m->uidl, key.uidl, sizeof(m->uidl));
			m->has_uidl = true;
		}
	}
	if (bad < 0) {
		forget_uidls(mb);
		return bad;
	}
	mb->uidl_ok = true;
	return mark_dups(mb, err);
}

int pop3_scan(struct pop3_client *c, struct pop3_mailbox **mb_r,
	      struct pv_error *err)
{
	struct pop3_mailbox *mb = NULL;
	int r = pop3_list_all(c, &mb, err);
	if (r < 0)
		return r;
	r = pop3_uidl_all(c, mb, err);
	if (r == PV_ERR && pop3_alive(c) && c->reply.kind == POP3_REPLY_ERR)
		r = PV_OK; /* plain -ERR to UIDL: no UIDLs, use content hashes */
	if (r < 0) {
		pop3_mailbox_free(&mb);
		return r;
	}
	*mb_r = mb;
	return PV_OK;
}
