/* Base64 lines kept as their 6-bit values: see b64block.h. */
#include "archiver/store/b64block.h"

#include <string.h>

#include "archiver/lib/base64.h"

#define FLAG_CR 1u /* a CR ends the block */
#define FLAG_LF 2u /* an LF begins it */

static const char alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- packing ---- */

/* Values go out three bytes to four characters; a group runs across line
 * breaks (nbits: 0, 6, 12 or 18 bits of one waiting in acc). */
struct packer {
	unsigned char *o;
	uint32_t acc;
	unsigned nbits;
};

static void put_value(struct packer *p, int v)
{
	p->acc = p->acc << 6 | (uint32_t)v;
	p->nbits += 6;
	if (p->nbits == 24) {
		p->o[0] = (unsigned char)(p->acc >> 16);
		p->o[1] = (unsigned char)(p->acc >> 8);
		p->o[2] = (unsigned char)p->acc;
		p->o += 3;
		p->acc = 0;
		p->nbits = 0;
	}
}

/* Packs s[0..len), which must be all alphabet. */
static bool pack_run(struct packer *p, const unsigned char *s, size_t len)
{
	const signed char *t = pv_b64_values;
	for (; len > 0 && p->nbits != 0; s++, len--) {
		if (t[*s] < 0)
			return false;
		put_value(p, t[*s]);
	}
	for (; len >= 4; s += 4, len -= 4) {
		int a = t[s[0]], b = t[s[1]], c = t[s[2]], d = t[s[3]];
		if ((a | b | c | d) < 0)
			return false;
		p->o[0] = (unsigned char)(a << 2 | b >> 4);
		p->o[1] = (unsigned char)(b << 4 | c >> 2);
		p->o[2] = (unsigned char)(c << 6 | d);
		p->o += 3;
	}
	for (; len > 0; s++, len--) {
		if (t[*s] < 0)
			return false;
		put_value(p, t[*s]);
	}
	return true;
}

/* The last group of 1 to 3 values: as many bytes, low bits zero. */
static void pack_finish(struct packer *p)
{
	unsigned n = p->nbits / 6;
	if (n == 0)
		return;
	uint32_t x = p->acc << (2 * n); /* 8n bits */
	for (unsigned i = 0; i < n; i++)
		p->o[i] = (unsigned char)(x >> (8 * (n - 1 - i)));
	p->o += n;
}

bool b64block_pack(const unsigned char *in, size_t n, unsigned char *out, size_t *len_r)
{
	uint32_t first = 0, line = 0, last = 0, breaks = 0, flags = 0;
	size_t seg = 0, end = n;
	struct packer p = {.o = out + B64BLOCK_HEAD};

	if (n > UINT32_MAX)
		return false;
	if (end > seg && in[seg] == '\n') {
		flags |= FLAG_LF;
		seg++;
	}
	if (end > seg && in[end - 1] == '\r') {
		flags |= FLAG_CR;
		end--;
	}
	for (;;) {
		const unsigned char *cr = memchr(in + seg, '\r', end - seg);
		size_t stop = cr != NULL ? (size_t)(cr - in) : end;
		uint32_t len = (uint32_t)(stop - seg);
		if (!pack_run(&p, in + seg, len))
			return false;
		if (cr == NULL) {
			if (breaks == 0)
				first = len;
			else
				last = len;
			break;
		}
		if (stop + 1 >= end || in[stop + 1] != '\n')
			return false;
		if (breaks == 0)
			first = len;
		else if (breaks == 1)
			line = len;
		else if (len != line)
			return false;
		breaks++;
		seg = stop + 2;
	}
	pack_finish(&p);
	put_be32(out, first);
	put_be32(out + 4, line);
	put_be32(out + 8, last);
	put_be32(out + 12, breaks);
	put_be32(out + 16, flags);
	*len_r = (size_t)(p.o - out);
	return true;
}

/* ---- unpacking ---- */

struct head {
	uint32_t first, line, last, breaks, flags;
	uint64_t chars;
};

static void read_head(const unsigned char *h, struct head *hd)
{
	hd->first = get_be32(h);
	hd->line = get_be32(h + 4);
	hd->last = get_be32(h + 8);
	hd->breaks = get_be32(h + 12);
	hd->flags = get_be32(h + 16);
	hd->chars = hd->first;
	if (hd->breaks > 0)
		hd->chars += (uint64_t)(hd->breaks - 1) * hd->line + hd->last;
}

int b64block_head(const unsigned char *head, size_t max, size_t *values_len_r, size_t *out_len_r,
		  struct pv_error *err)
{
	struct head hd;
	read_head(head, &hd);
	/* What b64block_pack writes: no line length without inner lines,
	 * no last segment without a line break. */
	if ((hd.flags & ~(FLAG_CR | FLAG_LF)) != 0 || (hd.breaks < 2 && hd.line != 0) ||
	    (hd.breaks == 0 && hd.last != 0))
		return pv_fail(err, PV_EINTEGRITY, "base64 block: bad head");
	uint64_t out = hd.chars + 2 * (uint64_t)hd.breaks + (hd.flags & FLAG_CR ? 1 : 0) +
		       (hd.flags & FLAG_LF ? 1 : 0);
	if (out > max)
		return pv_fail(err, PV_EINTEGRITY, "base64 block: %llu bytes, more than %zu",
			       (unsigned long long)out, max);
	*values_len_r = (size_t)(hd.chars / 4 * 3 + hd.chars % 4);
	*out_len_r = (size_t)out;
	return PV_OK;
}

/* Characters out of the packed values, in order; a group cut by a line
 * break waits in pend. */
struct unpacker {
	const unsigned char *v;
	uint64_t left; /* characters not yet decoded from v */
	char pend[4];
	unsigned pi, pn;
};

/* Writes the next len characters (len <= what is left) to dst. */
static int take(struct unpacker *u, unsigned char *dst, size_t len, struct pv_error *err)
{
	for (; len > 0 && u->pi < u->pn; len--)
		*dst++ = (unsigned char)u->pend[u->pi++];
	for (; len >= 4; len -= 4, dst += 4, u->v += 3, u->left -= 4) {
		uint32_t x = (uint32_t)u->v[0] << 16 | (uint32_t)u->v[1] << 8 | u->v[2];
		dst[0] = (unsigned char)alphabet[x >> 18];
		dst[1] = (unsigned char)alphabet[(x >> 12) & 63];
		dst[2] = (unsigned char)alphabet[(x >> 6) & 63];
		dst[3] = (unsigned char)alphabet[x & 63];
	}
	if (len == 0)
		return PV_OK;
	/* A group of its own: whole, or the last one (1 to 3 values in as
	 * many bytes). */
	unsigned g = u->left >= 4 ? 4 : (unsigned)u->left;
	unsigned nbytes = g == 4 ? 3 : g;
	uint32_t x = 0;
	for (unsigned i = 0; i < nbytes; i++)
		x = x << 8 | u->v[i];
	if (g < 4) {
		if ((x & ((1u << (2 * g)) - 1)) != 0)
			return pv_fail(err, PV_EINTEGRITY, "base64 block: stray bits after the last value");
		x >>= 2 * g;
	}
	for (unsigned i = 0; i < g; i++)
		u->pend[i] = alphabet[(x >> (6 * (g - 1 - i))) & 63];
	u->v += nbytes;
	u->left -= g;
	u->pi = 0;
	u->pn = g;
	for (; len > 0; len--)
		*dst++ = (unsigned char)u->pend[u->pi++];
	return PV_OK;
}

int b64block_unpack(const unsigned char *head, const unsigned char *values, size_t values_len,
		    unsigned char *out, struct pv_error *err)
{
	struct head hd;
	struct unpacker u = {.v = values};
	int r;

	read_head(head, &hd);
	u.left = hd.chars;
	if (values_len != hd.chars / 4 * 3 + hd.chars % 4)
		return pv_fail(err, PV_EINTEGRITY, "base64 block: %zu bytes of values for %llu "
			       "characters", values_len, (unsigned long long)hd.chars);
	if (hd.flags & FLAG_LF)
		*out++ = '\n';
	if ((r = take(&u, out, hd.first, err)) < 0)
		return r;
	out += hd.first;
	for (uint32_t i = 1; i <= hd.breaks; i++) {
		uint32_t len = i < hd.breaks ? hd.line : hd.last;
		*out++ = '\r';
		*out++ = '\n';
		if ((r = take(&u, out, len, err)) < 0)
			return r;
		out += len;
	}
	if (hd.flags & FLAG_CR)
		*out = '\r';
	return PV_OK;
}
