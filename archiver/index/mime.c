#include "archiver/index/mime.h"

#include <gmime/gmime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "archiver/index/html.h"
#include "archiver/index/pdf.h"
#include "archiver/index/text.h"
#include "archiver/lib/base64.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/utf8.h"

static const char *pdftotext_path;

const char *index_mime_pdftotext(void)
{
	return pdftotext_path;
}

void index_mime_set_pdftotext(const char *path)
{
	pdftotext_path = path;
}

/* The header fields the walk and the index read by name. */
enum field {
	F_CTYPE, F_CDISP, F_CTE, F_FROM, F_TO, F_CC, F_BCC, F_SUBJECT,
	F_DATE, F_MSGID, F_COUNT
};

static const char *const field_names[F_COUNT] = {
	"content-type", "content-disposition", "content-transfer-encoding", "from",
	"to", "cc", "bcc", "subject", "date", "message-id",
};

/* One header field where it stands in the message: the name at s[at],
 * the value from s[value] to s[end] (the end of its last folded line). */
struct span {
	size_t at, name_n, value, end;
	int f; /* enum field, or -1 */
};

/* The header fields of one entity, in order: those read by name (every
 * one of them, repeated or not) and, at the top level, every other field
 * too (up to PV_RETENTION_HEADERS_MAX fields): retention policies test
 * any header by name. Values are read from the message when needed
 * (field_value), so the header is parsed once for search and policy. */
struct hdr {
	struct span *f;
	size_t n, cap;
	int first[F_COUNT]; /* index of the first field of each name, or -1 */
};

struct walk {
	const unsigned char *s;
	size_t len, pos;
	struct index_doc *doc;
	struct {
		const char *b;
		size_t n;
	} stack[PV_MIME_DEPTH_MAX + 1];
	int nb;
	int64_t deadline;
	unsigned lines;
	size_t colons; /* ':' in the address fields handed to GMime */
	bool stop;
	bool facts; /* index_mime_facts: no body text is decoded */
	int fatal; /* PV_ERR once out of memory */
	struct pv_error *err;
	/* index_mime_parts: the leaves (and attached messages) collected, no
	 * text extracted; attached: how many attached messages we are in */
	struct index_parts *parts;
	unsigned attached;
};

/* What an entity contributed, for choosing among alternatives. */
enum rank { R_NONE, R_TEXT, R_PLAIN };

static void hdr_init(struct hdr *h)
{
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < F_COUNT; i++)
		h->first[i] = -1;
}

static void hdr_free(struct hdr *h)
{
	free(h->f);
	memset(h, 0, sizeof(*h));
}

static void oom(struct walk *w)
{
	if (w->fatal == PV_OK)
		w->fatal = pv_fail(w->err, PV_ERR, "out of memory indexing a message");
	w->stop = true;
}

/* Appends what fits of p[0..n); a cut marks the doc. */
static void raw_append(struct walk *w, struct pv_buf *b, const void *p, size_t n)
{
	size_t room = b->max - b->len;
	if (n > room) {
		w->doc->truncated |= INDEX_TRUNC_HEADER;
		n = room;
	}
	if (n > 0 && pv_buf_append(b, p, n, NULL) < 0)
		oom(w);
}

/* Clean text into a doc field; a cut marks the doc, OOM stops the walk. */
static void put_text(struct walk *w, struct pv_buf *b, const char *p, size_t n,
	bool lines, unsigned trunc)
{
	struct pv_error e;
	if (w->fatal != PV_OK)
		return;
	int r = index_text_clean(p, n, lines, b, &e);
	if (r == PV_ELIMIT)
		w->doc->truncated |= trunc;
	else if (r < 0)
		oom(w);
}

static size_t line_end(const struct walk *w, size_t at)
{
	const unsigned char *nl = memchr(w->s + at, '\n', w->len - at);
	return nl ? (size_t)(nl - w->s) + 1 : w->len;
}

static bool out_of_time(struct walk *w)
{
	if ((++w->lines & 1023) == 0 && pv_clock_monotonic_ms() > w->deadline) {
		w->doc->truncated |= INDEX_TRUNC_TIME;
		w->stop = true;
	}
	return w->stop;
}

/* RFC 2046 §5.1.1: "--" boundary ["--"] *LWSP CRLF. Checks the line
 * [at, end) against every open boundary, innermost first; returns the
 * stack index or -1. */
static int boundary_at(const struct walk *w, size_t at, size_t end, bool *final_r)
{
	const unsigned char *s = w->s;
	if (end - at < 3 || s[at] != '-' || s[at + 1] != '-')
		return -1;
	for (int k = w->nb - 1; k >= 0; k--) {
		size_t n = w->stack[k].n, p = at + 2 + n;
		if (end - at < 2 + n || memcmp(s + at + 2, w->stack[k].b, n) != 0)
			continue;
		bool fin = end - p >= 2 && s[p] == '-' && s[p + 1] == '-';
		if (fin)
			p += 2;
		while (p < end && (s[p] == ' ' || s[p] == '\t' || s[p] == '\r' || s[p] == '\n'))
			p++;
		if (p == end) {
			*final_r = fin;
			return k;
		}
	}
	return -1;
}

/* Moves from `at` to the start of the next line that is an open boundary
 * (or the end). */
static size_t scan_to_boundary(struct walk *w, size_t at, int *k_r, bool *final_r)
{
	*k_r = -1;
	*final_r = false;
	if (w->nb == 0 || w->stop)
		return w->len;
	while (at < w->len) {
		size_t end = line_end(w, at);
		if (w->s[at] == '-') {
			int k = boundary_at(w, at, end, final_r);
			if (k >= 0) {
				*k_r = k;
				return at;
			}
		}
		at = end;
		if (out_of_time(w))
			return w->len;
	}
	return w->len;
}

static int field_of(const unsigned char *name, size_t n)
{
	for (int i = 0; i < F_COUNT; i++)
		if (strlen(field_names[i]) == n && strncasecmp((const char *)name, field_names[i], n) == 0)
			return i;
	return -1;
}

static bool hdr_add(struct walk *w, struct hdr *h, const struct span *sp)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 16;
		struct span *v = realloc(h->f, cap * sizeof(*v));
		if (v == NULL) {
			oom(w);
			return false;
		}
		h->f = v;
		h->cap = cap;
	}
	if (sp->f >= 0 && h->first[sp->f] < 0)
		h->first[sp->f] = (int)h->n;
	h->f[h->n++] = *sp;
	return true;
}

/* Reads one header block from w->pos. Stops after the empty line, or
 * before a boundary line, or before a line that is not a header field
 * (broken mail without the empty line: that line starts the body). A
 * field that starts within PV_MIME_HEADER_MAX bytes is kept. */
static void read_headers(struct walk *w, struct hdr *h, bool top)
{
	const unsigned char *s = w->s;
	size_t total = 0;
	bool first = true, open = false; /* open: the last field kept takes folded lines */
	while (w->pos < w->len && !w->stop) {
		size_t at = w->pos, end = line_end(w, at), n = end - at;
		const unsigned char *l = s + at;
		if (n == 1 || (n == 2 && l[0] == '\r')) {
			w->pos = end;
			return;
		}
		bool fin;
		if (l[0] == '-' && boundary_at(w, at, end, &fin) >= 0)
			return;
		if (out_of_time(w))
			return;
		bool over = total >= PV_MIME_HEADER_MAX;
		total += n;
		if (over) {
			w->doc->truncated |= INDEX_TRUNC_HEADER;
			open = false;
		}
		/* the line without its line end */
		size_t vn = n;
		while (vn > 0 && (l[vn - 1] == '\n' || l[vn - 1] == '\r'))
			vn--;
		if (l[0] == ' ' || l[0] == '\t') { /* folded (RFC 5322 §2.2.3) */
			if (open)
				h->f[h->n - 1].end = end;
			w->pos = end;
			first = false;
			continue;
		}
		size_t c = 0; /* field name: printable ASCII up to ':' (RFC 5322 §3.6.8) */
		while (c < vn && l[c] > 32 && l[c] < 127 && l[c] != ':')
			c++;
		size_t name_n = c;
		while (c < vn && (l[c] == ' ' || l[c] == '\t')) /* obsolete "Name :" */
			c++;
		if (name_n == 0 || c >= vn || l[c] != ':') {
			if (top && first && n >= 5 && memcmp(l, "From ", 5) == 0) {
				w->pos = end; /* an mbox separator line, not a header */
				first = false;
				continue;
			}
			return; /* not a header field: the body starts here */
		}
		first = false;
		w->pos = end;
		open = false;
		if (over)
			continue;
		struct span sp = {.at = at, .name_n = name_n, .f = field_of(l, name_n)};
		if (sp.f < 0 && !(top && h->n < PV_RETENTION_HEADERS_MAX))
			continue;
		c++;
		while (c < vn && (l[c] == ' ' || l[c] == '\t'))
			c++;
		sp.value = at + c;
		sp.end = end;
		open = hdr_add(w, h, &sp);
	}
}

/* The value of field i unfolded (RFC 5322 §2.2.3: the line breaks of
 * folding removed, the whitespace kept) into out (reset first; its max
 * is PV_MIME_FIELD_MAX, a cut marks the doc). A NUL becomes a space:
 * GMime takes C strings, and a value must not end early for the index
 * and go on for a policy. */
static void field_value(struct walk *w, const struct hdr *h, size_t i, struct pv_buf *out)
{
	const struct span *sp = &h->f[i];
	pv_buf_reset(out);
	for (size_t at = sp->value; at < sp->end;) {
		size_t e = line_end(w, at), vn = e;
		while (vn > at && (w->s[vn - 1] == '\n' || w->s[vn - 1] == '\r'))
			vn--;
		raw_append(w, out, w->s + at, vn - at);
		at = e;
	}
	for (size_t k = 0; k < out->len; k++)
		if (out->data[k] == '\0')
			out->data[k] = ' ';
}

/* The value of the first field named f ("" when there is none). */
static void first_value(struct walk *w, const struct hdr *h, enum field f, struct pv_buf *out)
{
	pv_buf_reset(out);
	if (h->first[f] >= 0)
		field_value(w, h, (size_t)h->first[f], out);
}

/* A clean single-line copy of s[0..n) (index_text_clean), without spaces
 * at either end; NULL (and the walk stopped) when out of memory. */
static char *clean_dup(struct walk *w, const char *s, size_t n)
{
	struct pv_buf b;
	char *out = NULL;
	pv_buf_init(&b, n * 3 + 4); /* U+FFFD for each bad byte at worst */
	if (index_text_clean(s, n, false, &b, NULL) == PV_OK) {
		const char *t = pv_buf_str(&b);
		size_t len = b.len;
		while (len > 0 && t[len - 1] == ' ')
			len--;
		while (len > 0 && *t == ' ') {
			t++;
			len--;
		}
		out = strndup(t, len);
	}
	pv_buf_free(&b);
	if (out == NULL)
		oom(w);
	return out;
}

static void addrs_add(struct walk *w, struct index_addrs *a, const char *addr)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 8;
		char **v = realloc(a->v, cap * sizeof(*v));
		if (v == NULL) {
			oom(w);
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	char *c = clean_dup(w, addr, strlen(addr));
	if (c != NULL)
		a->v[a->n++] = c;
}

/* "Name <addr>" for each mailbox, groups flattened (RFC 5322 §3.4); with
 * bare, also each mailbox's addr-spec alone. */
static void format_addresses(struct walk *w, InternetAddressList *list, struct pv_buf *out,
	struct index_addrs *bare, int level)
{
	int n = internet_address_list_length(list);
	for (int i = 0; i < n && w->fatal == PV_OK; i++) {
		InternetAddress *a = internet_address_list_get_address(list, i);
		const char *name = internet_address_get_name(a);
		if (INTERNET_ADDRESS_IS_GROUP(a)) {
			if (name && *name) {
				if (out->len > 0)
					put_text(w, out, ", ", 2, false, INDEX_TRUNC_HEADER);
				put_text(w, out, name, strlen(name), false, INDEX_TRUNC_HEADER);
				put_text(w, out, ":", 1, false, INDEX_TRUNC_HEADER);
			}
			InternetAddressList *m = internet_address_group_get_members(
				INTERNET_ADDRESS_GROUP(a));
			if (m != NULL && level == 0)
				format_addresses(w, m, out, bare, 1);
			continue;
		}
		const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
		if (out->len > 0)
			put_text(w, out, ", ", 2, false, INDEX_TRUNC_HEADER);
		if (name && *name) {
			put_text(w, out, name, strlen(name), false, INDEX_TRUNC_HEADER);
			put_text(w, out, " <", 2, false, INDEX_TRUNC_HEADER);
		}
		if (addr)
			put_text(w, out, addr, strlen(addr), false, INDEX_TRUNC_HEADER);
		if (name && *name)
			put_text(w, out, ">", 1, false, INDEX_TRUNC_HEADER);
		if (bare != NULL && addr != NULL && *addr != '\0')
			addrs_add(w, bare, addr);
	}
}

static void decode_text(struct walk *w, const struct pv_buf *raw, struct pv_buf *out)
{
	char *t = g_mime_utils_header_decode_text(NULL, pv_buf_str(raw));
	if (t == NULL)
		return;
	put_text(w, out, t, strlen(t), false, INDEX_TRUNC_HEADER);
	g_free(t);
}

/* Whether GMime may parse s as an address list: the message's address
 * fields together open at most PV_MIME_ADDR_COLONS_MAX groups, so GMime's
 * recursion stays shallow and its work on groups small. Counts the ':'
 * outside quoted strings, comments and <>; each of those is taken to end
 * at the first '"', ')' or '>' after it, never later than where GMime
 * ends it (it honours escapes and nested comments), so no ':' it nests on
 * is missed. Linear: once a closer is missing, none is looked for again. */
static bool addresses_parseable(struct walk *w, const char *s)
{
	static const char open[] = "\"(<", close[] = "\")>";
	bool none_left[3] = {false, false, false};
	size_t colons = w->colons;
	for (const char *p = s; *p != '\0'; p++) {
		const char *o = strchr(open, *p);
		if (o != NULL) {
			size_t k = (size_t)(o - open);
			const char *e = none_left[k] ? NULL : strchr(p + 1, close[k]);
			if (e != NULL) {
				p = e;
				continue;
			}
			none_left[k] = true;
		}
		if (*p == ':' && ++colons > PV_MIME_ADDR_COLONS_MAX)
			return false;
	}
	w->colons = colons;
	return true;
}

/* Every field named f, each parsed on its own (a broken one cannot take
 * the next one in), formatted into out; with bare, the addr-specs too.
 * Stops when out is full: a policy sees the addresses search has, and the
 * work is bounded by out's size whatever the number of fields. */
static void decode_addresses(struct walk *w, const struct hdr *h, enum field f,
	struct pv_buf *out, struct index_addrs *bare)
{
	struct pv_buf raw, txt;
	pv_buf_init(&raw, PV_MIME_FIELD_MAX);
	pv_buf_init(&txt, PV_MIME_FIELD_MAX);
	for (size_t i = 0; i < h->n && w->fatal == PV_OK; i++) {
		if (h->f[i].f != (int)f)
			continue;
		if (out->len >= out->max) {
			w->doc->truncated |= INDEX_TRUNC_HEADER;
			break;
		}
		if (out_of_time(w))
			break;
		field_value(w, h, i, &raw);
		if (raw.len == 0)
			continue;
		InternetAddressList *l = NULL;
		if (addresses_parseable(w, pv_buf_str(&raw)))
			l = internet_address_list_parse(NULL, pv_buf_str(&raw));
		size_t before = out->len;
		if (l != NULL) {
			format_addresses(w, l, out, bare, 0);
			g_object_unref(l);
		}
		if (out->len == before) { /* unparseable: keep it searchable as text */
			pv_buf_reset(&txt);
			decode_text(w, &raw, &txt);
			if (txt.len > 0 && out->len > 0)
				put_text(w, out, ", ", 2, false, INDEX_TRUNC_HEADER);
			put_text(w, out, (const char *)txt.data, txt.len, false,
				INDEX_TRUNC_HEADER);
		}
	}
	pv_buf_free(&raw);
	pv_buf_free(&txt);
}

/* The first PV_RETENTION_HEADERS_MAX fields of the top-level header as
 * policies test them: RFC 2047-decoded, clean, trimmed. */
static void policy_fields(struct walk *w, const struct hdr *h, struct pv_buf *raw)
{
	struct index_doc *d = w->doc;
	size_t n = h->n < PV_RETENTION_HEADERS_MAX ? h->n : PV_RETENTION_HEADERS_MAX;
	if (n == 0)
		return;
	if ((d->fields = calloc(n, sizeof(*d->fields))) == NULL) {
		oom(w);
		return;
	}
	for (size_t i = 0; i < n && w->fatal == PV_OK; i++) {
		field_value(w, h, i, raw);
		char *dec = g_mime_utils_header_decode_text(NULL, pv_buf_str(raw));
		const char *v = dec ? dec : pv_buf_str(raw);
		char *name = clean_dup(w, (const char *)w->s + h->f[i].at, h->f[i].name_n);
		char *value = clean_dup(w, v, strlen(v));
		g_free(dec);
		if (name == NULL || value == NULL) {
			free(name);
			free(value);
			return;
		}
		d->fields[d->nfields++] = (struct index_field){.name = name, .value = value};
	}
}

/* The message fields of the top-level message go to the doc; those of an
 * attached message become body text, so its sender and subject are found
 * by plain words but not by from:/subject:. */
static void message_fields(struct walk *w, struct hdr *h, bool top)
{
	struct index_doc *d = w->doc;
	struct pv_buf raw;
	pv_buf_init(&raw, PV_MIME_FIELD_MAX);
	if (top) {
		decode_addresses(w, h, F_FROM, &d->from, &d->addr_from);
		decode_addresses(w, h, F_TO, &d->to, &d->addr_to);
		decode_addresses(w, h, F_CC, &d->cc, &d->addr_cc);
		decode_addresses(w, h, F_BCC, &d->bcc, &d->addr_bcc);
		for (size_t i = 0; i < h->n && w->fatal == PV_OK; i++) {
			if (h->f[i].f != F_SUBJECT)
				continue;
			field_value(w, h, i, &raw);
			if ((int)i == h->first[F_SUBJECT]) {
				decode_text(w, &raw, &d->subject);
			} else if (d->subject_more.len < d->subject_more.max) {
				if (d->subject_more.len > 0)
					put_text(w, &d->subject_more, "\n", 1, true, INDEX_TRUNC_HEADER);
				decode_text(w, &raw, &d->subject_more);
			}
		}
		first_value(w, h, F_DATE, &raw);
		if (raw.len > 0) {
			GDateTime *dt = g_mime_utils_header_decode_date(pv_buf_str(&raw));
			if (dt != NULL) {
				d->date = g_date_time_to_unix(dt);
				d->date_known = true;
				g_date_time_unref(dt);
			}
		}
		first_value(w, h, F_MSGID, &raw);
		if (raw.len > 0) {
			char *id = g_mime_utils_decode_message_id(pv_buf_str(&raw));
			if (id != NULL) {
				put_text(w, &d->message_id, id, strlen(id), false, INDEX_TRUNC_HEADER);
				g_free(id);
			}
		}
		policy_fields(w, h, &raw);
		pv_buf_free(&raw);
		return;
	}
	static const struct {
		enum field f;
		const char *label;
	} shown[] = {
		{F_FROM, "From: "}, {F_TO, "To: "}, {F_CC, "Cc: "},
		{F_DATE, "Date: "}, {F_SUBJECT, "Subject: "},
	};
	struct pv_buf v;
	pv_buf_init(&v, PV_MIME_FIELD_MAX);
	if (d->body.len > 0)
		put_text(w, &d->body, "\n", 1, true, INDEX_TRUNC_TEXT);
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		enum field f = shown[i].f;
		if (h->first[f] < 0)
			continue;
		pv_buf_reset(&v);
		if (f == F_SUBJECT || f == F_DATE) {
			first_value(w, h, f, &raw);
			decode_text(w, &raw, &v);
		} else {
			decode_addresses(w, h, f, &v, NULL);
		}
		if (v.len == 0)
			continue;
		put_text(w, &d->body, shown[i].label, strlen(shown[i].label), true, INDEX_TRUNC_TEXT);
		put_text(w, &d->body, (const char *)v.data, v.len, true, INDEX_TRUNC_TEXT);
		put_text(w, &d->body, "\n", 1, true, INDEX_TRUNC_TEXT);
	}
	pv_buf_free(&v);
	pv_buf_free(&raw);
}

static void hide(struct walk *w, size_t start, size_t end)
{
	struct index_doc *d = w->doc;
	if (end <= start)
		return;
	if (d->nhidden == d->hidden_cap) {
		size_t cap = d->hidden_cap ? d->hidden_cap * 2 : 8;
		struct index_range *p = realloc(d->hidden, cap * sizeof(*p));
		if (p == NULL) {
			oom(w);
			return;
		}
		d->hidden = p;
		d->hidden_cap = cap;
	}
	d->hidden[d->nhidden++] = (struct index_range){start, end};
}

/* Base64 (RFC 2045 §6.8), leniently: characters outside the alphabet are
 * ignored as §6.8 says, and '=' ends the current quantum but not the data.
 * GMime's decoder stops at the first padding, so a mailer that pads every
 * line, or a sender who puts a stray "==" first, would keep the rest of
 * the text out of the index. A line holding junk drops its unfinished
 * quantum at its end, so one corrupt line does not shift every later one. */
static void decode_base64(struct walk *w, const unsigned char *p, size_t n, struct pv_buf *dec)
{
	unsigned char out[3 * 1024];
	size_t o = 0;
	uint32_t acc = 0;
	int q = 0;
	bool junk = false, drop = false;
	for (size_t i = 0; i <= n && dec->len + o < dec->max; i++) {
		/* Whole quanta of the alphabet, most of any body, four bytes at a
		 * time: what the rules below do with them, without the branches
		 * (each check is the one they would make before that quantum). */
		while (q == 0 && !drop && n - i >= 4 && o <= sizeof(out) - 6 &&
		       dec->len + o < dec->max) {
			int a = pv_b64_value(p[i]), b = pv_b64_value(p[i + 1]);
			int c = pv_b64_value(p[i + 2]), e = pv_b64_value(p[i + 3]);
			if ((a | b | c | e) < 0)
				break;
			uint32_t quantum = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 |
					   (uint32_t)e;
			out[o++] = (unsigned char)(quantum >> 16);
			out[o++] = (unsigned char)(quantum >> 8);
			out[o++] = (unsigned char)quantum;
			i += 4;
		}
		if (dec->len + o >= dec->max)
			break;
		int v = i < n ? pv_b64_value(p[i]) : -2;
		if (v == -1 && p[i] == '\n') {
			drop = junk && q != 0; /* when more data follows */
			junk = false;
		} else if (v == -1 && p[i] != '=' && p[i] != '\r' && p[i] != ' ' && p[i] != '\t') {
			junk = true;
		}
		if (v >= 0 && drop)
			q = 0, acc = 0;
		if (v >= 0 || (v == -1 && p[i] == '='))
			drop = false;
		if (v >= 0) {
			acc = acc << 6 | (uint32_t)v;
			if (++q == 4) {
				out[o++] = (unsigned char)(acc >> 16);
				out[o++] = (unsigned char)(acc >> 8);
				out[o++] = (unsigned char)acc;
				q = 0;
				acc = 0;
			}
		} else if (v == -2 || p[i] == '=') { /* the end, or padding: flush */
			if (q >= 2)
				out[o++] = (unsigned char)(acc >> (q == 2 ? 4 : 10));
			if (q == 3)
				out[o++] = (unsigned char)(acc >> 2);
			q = 0;
			acc = 0;
		}
		if (o > sizeof(out) - 3 || i == n) {
			size_t room = dec->max - dec->len;
			if (pv_buf_append(dec, out, o < room ? o : room, NULL) < 0) {
				oom(w);
				return;
			}
			o = 0;
		}
	}
	/* Stopped at the budget: what was decoded up to it is kept (and
	 * dec full says the text was cut). */
	if (o > 0) {
		size_t room = dec->max - dec->len;
		if (pv_buf_append(dec, out, o < room ? o : room, NULL) < 0)
			oom(w);
	}
}

/* Undoes Content-Transfer-Encoding into dec, at most dec->max bytes
 * (what does not fit is not needed: the text budget is smaller). */
static void decode_body(struct walk *w, GMimeContentEncoding enc, const unsigned char *p,
	size_t n, struct pv_buf *dec)
{
	if (enc == GMIME_CONTENT_ENCODING_BASE64) {
		decode_base64(w, p, n, dec);
		return;
	}
	GMimeEncoding st;
	char out[8192 + 64]; /* decoding never grows: out <= in + a saved quantum */
	g_mime_encoding_init_decode(&st, enc);
	while (n > 0 && dec->len < dec->max) {
		size_t chunk = n < 8192 ? n : 8192;
		size_t o = g_mime_encoding_step(&st, (const char *)p, chunk, out);
		size_t room = dec->max - dec->len;
		if (pv_buf_append(dec, out, o < room ? o : room, NULL) < 0) {
			oom(w);
			return;
		}
		p += chunk;
		n -= chunk;
	}
	if (dec->len < dec->max) {
		size_t o = g_mime_encoding_flush(&st, "", 0, out);
		size_t room = dec->max - dec->len;
		if (pv_buf_append(dec, out, o < room ? o : room, NULL) < 0)
			oom(w);
	}
}

/* The part's text into the doc body. Returns false when nothing could be
 * added (budget spent). */
static bool add_text(struct walk *w, GMimeContentType *ct, const char *cte,
	const unsigned char *p, size_t n, bool html)
{
	struct index_doc *d = w->doc;
	struct pv_error e;
	if (d->body.len >= d->body.max) {
		d->truncated |= INDEX_TRUNC_TEXT;
		return false;
	}
	/* bytes needed to fill the rest of the budget, with room for markup */
	size_t want = 2 * (d->body.max - d->body.len) + 4096;
	if (want > PV_INDEX_TEXT_MAX)
		want = PV_INDEX_TEXT_MAX;
	GMimeContentEncoding enc = g_mime_content_encoding_from_string(cte);
	struct pv_buf dec, conv;
	pv_buf_init(&dec, want);
	const char *src = (const char *)p;
	size_t srcn = n < want ? n : want;
	if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    enc == GMIME_CONTENT_ENCODING_UUENCODE) {
		decode_body(w, enc, p, n, &dec);
		src = (const char *)dec.data;
		srcn = dec.len;
	}
	if (d->body.len > 0)
		put_text(w, &d->body, "\n", 1, true, INDEX_TRUNC_TEXT);
	const char *charset = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
	int r = PV_OK;
	if (w->fatal == PV_OK && srcn > 0) {
		if (!html) {
			r = index_text_to_utf8(charset, src, srcn, &d->body, &e);
		} else {
			pv_buf_init(&conv, 3 * srcn + 16);
			r = index_text_to_utf8(charset, src, srcn, &conv, &e);
			if (r == PV_OK)
				r = index_html_to_text((const char *)conv.data, conv.len, &d->body, &e);
			pv_buf_free(&conv);
		}
	}
	bool cut = src == (const char *)p ? srcn < n : dec.len == dec.max;
	if (r == PV_ELIMIT || cut)
		d->truncated |= INDEX_TRUNC_TEXT;
	else if (r < 0)
		oom(w);
	pv_buf_free(&dec);
	return true;
}

static void add_pdf(struct walk *w, const char *cte, const unsigned char *p, size_t n)
{
	struct index_doc *d = w->doc;
	struct pv_error e;
	if (d->body.len >= d->body.max || n > PV_PDF_INPUT_MAX * 2) {
		d->truncated |= INDEX_TRUNC_TEXT;
		return;
	}
	struct pv_buf dec;
	pv_buf_init(&dec, PV_PDF_INPUT_MAX);
	GMimeContentEncoding enc = g_mime_content_encoding_from_string(cte);
	const unsigned char *src = p;
	size_t srcn = n;
	if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    enc == GMIME_CONTENT_ENCODING_UUENCODE) {
		decode_body(w, enc, p, n, &dec);
		src = dec.data;
		srcn = dec.len;
	}
	if (w->fatal == PV_OK && srcn > 0) {
		size_t start = d->body.len;
		if (start > 0)
			put_text(w, &d->body, "\n", 1, true, INDEX_TRUNC_TEXT);
		if (index_pdf_to_text(pdftotext_path, src, srcn, &d->body, &e) == PV_ELIMIT)
			d->truncated |= INDEX_TRUNC_TEXT;
		hide(w, start, d->body.len);
	}
	pv_buf_free(&dec);
}

static bool ascii_eq(const char *a, const char *b)
{
	return a != NULL && strcasecmp(a, b) == 0;
}

static void add_attachment(struct walk *w, const char *name, const char *type)
{
	struct index_doc *d = w->doc;
	/* aligned lists: line i of filenames goes with line i of types */
	if (d->has_attachment) {
		put_text(w, &d->filenames, "\n", 1, true, INDEX_TRUNC_HEADER);
		put_text(w, &d->types, "\n", 1, true, INDEX_TRUNC_HEADER);
	}
	d->has_attachment = true;
	if (name)
		put_text(w, &d->filenames, name, strlen(name), false, INDEX_TRUNC_HEADER);
	put_text(w, &d->types, type, strlen(type), false, INDEX_TRUNC_HEADER);
}

/* Records a part for index_mime_parts: returns its index, or -1 (not
 * collecting, or out of memory). */
static long add_part(struct walk *w, const char *type, const char *sub, GMimeContentType *ct,
	const char *name, bool attachment, const char *cte, size_t start, size_t end)
{
	struct index_parts *ps = w->parts;
	if (ps == NULL || w->fatal != PV_OK)
		return -1;
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 8;
		struct index_part *v = realloc(ps->v, cap * sizeof(*v));
		if (v == NULL) {
			oom(w);
			return -1;
		}
		ps->v = v;
		ps->cap = cap;
	}
	struct index_part *p = &ps->v[ps->n];
	memset(p, 0, sizeof(*p));
	p->n = (unsigned)ps->n + 1;
	snprintf(p->type, sizeof(p->type), "%s/%s", type, sub);
	for (char *c = p->type; *c; c++)
		*c = (char)g_ascii_tolower(*c);
	const char *cs = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
	if (cs != NULL && strlen(cs) < sizeof(p->charset))
		memcpy(p->charset, cs, strlen(cs) + 1);
	if (name != NULL && (p->filename = clean_dup(w, name, strlen(name))) == NULL)
		return -1;
	p->attachment = attachment;
	p->in_message = w->attached > 0;
	p->encoding = (int)g_mime_content_encoding_from_string(cte);
	p->start = start;
	p->end = end;
	return (long)ps->n++;
}

static enum rank entity(struct walk *w, int depth, bool is_message, bool digest_child);

/* A multipart body from w->pos: preamble, parts, epilogue (RFC 2046 §5.1.1). */
static enum rank multipart(struct walk *w, int depth, const char *boundary, bool alternative,
	bool digest)
{
	int k, my = w->nb;
	bool fin;
	w->stack[w->nb].b = boundary;
	w->stack[w->nb].n = strlen(boundary);
	w->nb++;
	size_t at = scan_to_boundary(w, w->pos, &k, &fin);
	enum rank best = R_NONE;
	size_t best_start = 0, best_end = 0;
	while (!w->stop && k == my && !fin) {
		w->pos = line_end(w, at);
		size_t start = w->doc->body.len;
		enum rank r = entity(w, depth + 1, false, digest);
		size_t end = w->doc->body.len;
		if (alternative) {
			/* keep the best alternative for show, hide the others */
			if (r > best) {
				if (best != R_NONE)
					hide(w, best_start, best_end);
				best = r;
				best_start = start;
				best_end = end;
			} else {
				hide(w, start, end);
			}
		} else if (r > best) {
			best = r;
		}
		at = scan_to_boundary(w, w->pos, &k, &fin);
	}
	w->pos = at;
	w->nb--;
	if (k == my && fin) { /* skip the epilogue, up to an outer boundary */
		w->pos = scan_to_boundary(w, line_end(w, at), &k, &fin);
	}
	return best;
}

static enum rank entity(struct walk *w, int depth, bool is_message, bool digest_child)
{
	struct index_doc *d = w->doc;
	if (w->stop)
		return R_NONE;
	if (++d->parts > PV_MIME_PARTS_MAX) {
		d->parts = PV_MIME_PARTS_MAX;
		d->truncated |= INDEX_TRUNC_PARTS;
		w->stop = true;
		return R_NONE;
	}
	struct hdr h;
	struct pv_buf ctype, cdisp, cteb;
	hdr_init(&h);
	pv_buf_init(&ctype, PV_MIME_FIELD_MAX);
	pv_buf_init(&cdisp, PV_MIME_FIELD_MAX);
	pv_buf_init(&cteb, PV_MIME_FIELD_MAX);
	read_headers(w, &h, depth == 0);
	if (is_message)
		message_fields(w, &h, depth == 0);
	first_value(w, &h, F_CTYPE, &ctype);
	first_value(w, &h, F_CDISP, &cdisp);
	first_value(w, &h, F_CTE, &cteb);
	hdr_free(&h); /* before the parts below: memory stays flat with depth */
	/* RFC 2045 §5.2: no (or a broken) Content-Type is text/plain; in a
	 * digest, message/rfc822 (RFC 2046 §5.1.5). */
	GMimeContentType *ct = NULL;
	if (strchr(pv_buf_str(&ctype), '/'))
		ct = g_mime_content_type_parse(NULL, pv_buf_str(&ctype));
	const char *type = ct ? g_mime_content_type_get_media_type(ct) : NULL;
	const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
	if (type == NULL || sub == NULL) {
		type = digest_child ? "message" : "text";
		sub = digest_child ? "rfc822" : "plain";
	}
	GMimeContentDisposition *cd = NULL;
	if (cdisp.len > 0)
		cd = g_mime_content_disposition_parse(NULL, pv_buf_str(&cdisp));
	pv_buf_free(&ctype);
	pv_buf_free(&cdisp);
	const char *name = cd ? g_mime_content_disposition_get_parameter(cd, "filename") : NULL;
	if (name == NULL && ct)
		name = g_mime_content_type_get_parameter(ct, "name");
	bool attachment = name != NULL ||
		(cd && ascii_eq(g_mime_content_disposition_get_disposition(cd), "attachment"));
	const char *cte = pv_buf_str(&cteb);
	const char *boundary = ct ? g_mime_content_type_get_parameter(ct, "boundary") : NULL;
	enum rank rank = R_NONE;
	bool container = ascii_eq(type, "multipart") ||
		(ascii_eq(type, "message") && (ascii_eq(sub, "rfc822") || ascii_eq(sub, "global")));
	if (container && depth >= PV_MIME_DEPTH_MAX) {
		d->truncated |= INDEX_TRUNC_DEPTH;
		container = false;
		type = "application", sub = "octet-stream"; /* skipped like a binary part */
	}
	if (attachment && !ascii_eq(type, "multipart")) {
		char mt[256];
		snprintf(mt, sizeof(mt), "%s/%s", type, sub);
		add_attachment(w, name, mt);
	}
	if (container && ascii_eq(type, "multipart") && boundary != NULL && *boundary &&
	    strlen(boundary) <= PV_MIME_BOUNDARY_MAX && w->nb < PV_MIME_DEPTH_MAX) {
		rank = multipart(w, depth, boundary, ascii_eq(sub, "alternative"),
			ascii_eq(sub, "digest"));
	} else if (container && ascii_eq(type, "message") && (*cte == '\0' ||
	    g_mime_content_encoding_from_string(cte) <= GMIME_CONTENT_ENCODING_BINARY)) {
		size_t start = d->body.len, at = w->pos;
		long k = attachment ? add_part(w, type, sub, ct, name, true, cte, at, at) : -1;
		w->attached += attachment;
		rank = entity(w, depth + 1, true, false);
		w->attached -= attachment;
		if (k >= 0) { /* the attached message runs to the next boundary */
			size_t end = w->pos;
			if (end > at && end < w->len && w->s[end - 1] == '\n')
				end--;
			if (end > at && end < w->len && w->s[end - 1] == '\r')
				end--;
			w->parts->v[k].end = end;
		}
		if (attachment)
			hide(w, start, d->body.len);
	} else {
		/* a leaf: its body runs to the next open boundary; the CRLF before
		 * a boundary belongs to the boundary (RFC 2046 §5.1.1) */
		int k;
		bool fin;
		size_t start = w->pos, end = scan_to_boundary(w, start, &k, &fin);
		w->pos = end;
		if (k >= 0 && end > start && w->s[end - 1] == '\n')
			end--;
		if (k >= 0 && end > start && w->s[end - 1] == '\r')
			end--;
		bool multi_broken = ascii_eq(type, "multipart"); /* no usable boundary */
		bool html = ascii_eq(type, "text") && ascii_eq(sub, "html");
		size_t tstart = d->body.len;
		if (w->parts != NULL) {
			if (!multi_broken)
				add_part(w, type, sub, ct, name, attachment, cte, start, end);
		} else if (w->facts) {
			/* the policy's facts are in the headers */
		} else if ((ascii_eq(type, "text") || multi_broken) && !w->stop) {
			if (add_text(w, multi_broken ? NULL : ct, cte, w->s + start, end - start, html))
				rank = html || !ascii_eq(type, "text") ||
					!ascii_eq(sub, "plain") ? R_TEXT : R_PLAIN;
		} else if (pdftotext_path != NULL && ascii_eq(type, "application") &&
		    ascii_eq(sub, "pdf") && !w->stop) {
			add_pdf(w, cte, w->s + start, end - start);
		}
		if (attachment)
			hide(w, tstart, d->body.len);
	}
	if (cd)
		g_object_unref(cd);
	if (ct)
		g_object_unref(ct);
	pv_buf_free(&cteb);
	return attachment ? R_NONE : rank;
}

void index_doc_init(struct index_doc *d)
{
	memset(d, 0, sizeof(*d));
	pv_buf_init(&d->from, PV_MIME_FIELD_MAX);
	pv_buf_init(&d->to, PV_MIME_FIELD_MAX);
	pv_buf_init(&d->cc, PV_MIME_FIELD_MAX);
	pv_buf_init(&d->bcc, PV_MIME_FIELD_MAX);
	pv_buf_init(&d->subject, PV_MIME_FIELD_MAX);
	pv_buf_init(&d->subject_more, PV_MIME_FIELD_MAX);
	pv_buf_init(&d->message_id, PV_MIME_FIELD_MAX);
	pv_buf_init(&d->body, PV_INDEX_TEXT_MAX);
	pv_buf_init(&d->filenames, PV_MIME_HEADER_MAX);
	pv_buf_init(&d->types, PV_MIME_HEADER_MAX);
}

void index_doc_free(struct index_doc *d)
{
	if (d == NULL)
		return;
	pv_buf_free(&d->from);
	pv_buf_free(&d->to);
	pv_buf_free(&d->cc);
	pv_buf_free(&d->bcc);
	pv_buf_free(&d->subject);
	pv_buf_free(&d->subject_more);
	pv_buf_free(&d->message_id);
	pv_buf_free(&d->body);
	pv_buf_free(&d->filenames);
	pv_buf_free(&d->types);
	free(d->hidden);
	d->hidden = NULL;
	d->nhidden = d->hidden_cap = 0;
	struct index_addrs *a[] = {&d->addr_from, &d->addr_to, &d->addr_cc, &d->addr_bcc};
	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
		for (size_t k = 0; k < a[i]->n; k++)
			free(a[i]->v[k]);
		free(a[i]->v);
		memset(a[i], 0, sizeof(*a[i]));
	}
	for (size_t i = 0; i < d->nfields; i++) {
		free(d->fields[i].name);
		free(d->fields[i].value);
	}
	free(d->fields);
	d->fields = NULL;
	d->nfields = 0;
}

static int extract(const unsigned char *raw, size_t len, bool facts, struct index_doc *doc_r,
	struct pv_error *err)
{
	index_gmime_init();
	index_doc_init(doc_r);
	struct walk w = {
		.s = raw, .len = len, .doc = doc_r, .err = err, .facts = facts,
		.deadline = pv_clock_monotonic_ms() + PV_MIME_TIME_MAX_MS,
	};
	entity(&w, 0, true, false);
	return w.fatal;
}

int index_mime_extract(const unsigned char *raw, size_t len, struct index_doc *doc_r,
	struct pv_error *err)
{
	return extract(raw, len, false, doc_r, err);
}

int index_mime_facts(const unsigned char *raw, size_t len, struct index_doc *doc_r,
	struct pv_error *err)
{
	return extract(raw, len, true, doc_r, err);
}

static int show_line(struct pv_buf *out, const char *label, const struct pv_buf *v,
	struct pv_error *err)
{
	if (v->len == 0)
		return PV_OK;
	if (pv_buf_append_str(out, label, err) < 0 ||
	    pv_buf_append(out, v->data, v->len, err) < 0 ||
	    pv_buf_append(out, "\n", 1, err) < 0)
		return PV_ERR;
	return PV_OK;
}

static int cmp_range(const void *a, const void *b)
{
	const struct index_range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

int index_doc_show(const struct index_doc *d, struct pv_buf *out, struct pv_error *err)
{
	size_t head = out->len;
	char date[PV_RFC3339_LEN];
	if (d->date_known && d->date >= -62135596800LL && d->date <= 253402300799LL)
		pv_clock_format_rfc3339(d->date, date);
	else
		snprintf(date, sizeof(date), "unknown");
	if (show_line(out, "From: ", &d->from, err) < 0 ||
	    show_line(out, "To: ", &d->to, err) < 0 ||
	    show_line(out, "Cc: ", &d->cc, err) < 0 ||
	    show_line(out, "Bcc: ", &d->bcc, err) < 0 ||
	    pv_buf_printf(out, err, "Date: %s\n", date) < 0 ||
	    show_line(out, "Subject: ", &d->subject, err) < 0)
		return PV_ERR;
	if (d->message_id.len > 0 &&
	    pv_buf_printf(out, err, "Message-ID: <%s>\n", pv_buf_str(&d->message_id)) < 0)
		return PV_ERR;
	if (d->has_attachment) {
		const char *n = pv_buf_str(&d->filenames), *t = pv_buf_str(&d->types);
		if (pv_buf_append_str(out, "Attachments:", err) < 0)
			return PV_ERR;
		for (bool more = true; more;) {
			size_t nl = strcspn(n, "\n"), tl = strcspn(t, "\n");
			if (pv_buf_printf(out, err, " %.*s%s(%.*s)%s", (int)nl, n, nl ? " " : "",
				    (int)tl, t, n[nl] == '\n' ? "," : "") < 0)
				return PV_ERR;
			more = n[nl] == '\n' && t[tl] == '\n';
			n += nl + (n[nl] == '\n');
			t += tl + (t[tl] == '\n');
		}
		if (pv_buf_append(out, "\n", 1, err) < 0)
			return PV_ERR;
	}
	/* Header values and file names are shown to people: no bidi controls
	 * (utf8.h), so "invoice\u202efdp.exe" cannot pass for "invoiceexe.pdf". */
	if (out->len > head)
		out->len = head + pv_utf8_strip_bidi((char *)out->data + head);
	if (pv_buf_append(out, "\n", 1, err) < 0)
		return PV_ERR;
	/* the body without hidden ranges (they may nest: sort, skip covered) */
	struct index_range *hr = NULL;
	if (d->nhidden > 0) {
		hr = malloc(d->nhidden * sizeof(*hr));
		if (hr == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		memcpy(hr, d->hidden, d->nhidden * sizeof(*hr));
		qsort(hr, d->nhidden, sizeof(*hr), cmp_range);
	}
	size_t pos = 0;
	int r = PV_OK;
	for (size_t i = 0; i <= d->nhidden && r == PV_OK; i++) {
		size_t stop = i < d->nhidden ? hr[i].start : d->body.len;
		if (stop > pos)
			r = pv_buf_append(out, d->body.data + pos, stop - pos, err);
		if (i < d->nhidden && hr[i].end > pos)
			pos = hr[i].end;
	}
	free(hr);
	if (r == PV_OK && (out->len == 0 || out->data[out->len - 1] != '\n'))
		r = pv_buf_append(out, "\n", 1, err);
	return r;
}

int index_mime_show(const unsigned char *raw, size_t len, struct pv_buf *out,
	struct pv_error *err)
{
	struct index_doc d;
	int r = index_mime_extract(raw, len, &d, err);
	if (r == PV_OK)
		r = index_doc_show(&d, out, err);
	index_doc_free(&d);
	return r;
}

void index_parts_free(struct index_parts *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		free(ps->v[i].filename);
	free(ps->v);
	memset(ps, 0, sizeof(*ps));
}

int index_mime_parts(const unsigned char *raw, size_t len, struct index_parts *parts_r,
	struct pv_error *err)
{
	struct index_doc d;
	index_gmime_init();
	memset(parts_r, 0, sizeof(*parts_r));
	index_doc_init(&d);
	struct walk w = {
		.s = raw, .len = len, .doc = &d, .err = err, .parts = parts_r,
		.deadline = pv_clock_monotonic_ms() + PV_MIME_TIME_MAX_MS,
	};
	entity(&w, 0, true, false);
	parts_r->truncated = d.truncated;
	index_doc_free(&d);
	if (w.fatal != PV_OK)
		index_parts_free(parts_r);
	return w.fatal;
}

int index_mime_part_decode(const unsigned char *raw, size_t len, const struct index_part *p,
	struct pv_buf *out, struct pv_error *err)
{
	struct index_doc d;
	memset(&d, 0, sizeof(d));
	struct walk w = {.s = raw, .len = len, .doc = &d, .err = err};
	if (p->start > p->end || p->end > len)
		return pv_fail(err, PV_EUSAGE, "part %u lies outside the message", p->n);
	GMimeContentEncoding enc = (GMimeContentEncoding)p->encoding;
	const unsigned char *src = raw + p->start;
	size_t n = p->end - p->start, room = out->max - out->len;
	struct pv_buf dec;
	/* decoding never makes more bytes than it reads (+ a saved quantum) */
	pv_buf_init(&dec, n + 16);
	if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    enc == GMIME_CONTENT_ENCODING_UUENCODE) {
		index_gmime_init();
		decode_body(&w, enc, src, n, &dec);
		if (w.fatal != PV_OK) {
			pv_buf_free(&dec);
			return w.fatal;
		}
		src = dec.data ? dec.data : (const unsigned char *)"";
		n = dec.len;
	}
	int r = pv_buf_append(out, src, n < room ? n : room, err);
	if (r == PV_OK && n > room)
		r = pv_fail(err, PV_ELIMIT, "part %u is larger than %zu bytes", p->n, room);
	pv_buf_free(&dec);
	return r;
}

const struct index_part *index_parts_html_body(const struct index_parts *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		const struct index_part *p = &ps->v[i];
		if (!p->attachment && !p->in_message && strcmp(p->type, "text/html") == 0)
			return p;
	}
	return NULL;
}
