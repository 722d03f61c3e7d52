/* A zip's central directory against the stream (bundle_zipdir.h). */
#include "audit/bundle_zipdir.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/bundle.h"

#define EOCD_LEN 22
#define EOCD_COMMENT_MAX 65535
#define Z64_LOCATOR_LEN 20
#define Z64_EOCD_LEN 56 /* with no extensible data: what every writer writes */
#define CENTRAL_LEN 46
#define LOCAL_LEN 30
#define U32_MAX 0xffffffffu
/* The extra fields of one header: ours take some 60 bytes (timestamps,
 * Unix ids, Zip64 sizes). */
#define EXTRA_MAX 1024
/* Reads go through a window: the directory is read front to back 64 KiB
 * at a time; a local header 512 bytes at a time (with the data
 * descriptor before it: the data between is not read again). */
#define WIN_SIZE 65536
#define WIN_LOCAL 512

/* Extra field ids (APPNOTE 4.5.2, 4.6): the ones a bundle may carry. */
#define X_ZIP64 0x0001
#define X_TIME 0x5455 /* "UT" extended timestamp */
#define X_UNIX 0x7875 /* "ux" Unix uid/gid */

/* Flag bits (APPNOTE 4.4.4). */
#define F_ENCRYPTED 0x0001
#define F_DESCRIPTOR 0x0008
#define F_STRONG 0x0040
#define F_MASKED 0x2000

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void zipdir_fold_init(struct zipdir_fold *f)
{
	crypto_hash_sha256_init(&f->st);
	f->count = 0;
}

void zipdir_fold_entry(struct zipdir_fold *f, const char *name, size_t n, uint64_t data_off,
		       unsigned method, uint64_t size, uint32_t crc)
{
	/* Fixed widths, the name's length first: no two entries fold alike. */
	uint8_t rec[8 + 8 + 8 + 8 + 8];
	put64(rec, n);
	put64(rec + 8, data_off);
	put64(rec + 16, method);
	put64(rec + 24, size);
	put64(rec + 32, crc);
	crypto_hash_sha256_update(&f->st, rec, 8);
	crypto_hash_sha256_update(&f->st, (const uint8_t *)name, n);
	crypto_hash_sha256_update(&f->st, rec + 8, sizeof(rec) - 8);
	f->count++;
}

/* --- reading ------------------------------------------------------------------------- */

struct window {
	zipdir_read_fn rd;
	void *ctx;
	uint64_t size;
	uint64_t off; /* buf holds the file's bytes [off, off + len) */
	size_t len;
	size_t chunk; /* bytes read at a time, unless more are asked for */
	uint8_t *buf; /* WIN_SIZE */
};

/* The n bytes at `at` (n <= WIN_SIZE), or NULL when the file ends before
 * them or cannot be read. */
static const uint8_t *win_at(struct window *w, uint64_t at, size_t n)
{
	if (at >= w->off && at - w->off <= w->len && w->len - (at - w->off) >= n)
		return w->buf + (at - w->off);
	if (at > w->size || n > w->size - at)
		return NULL;
	size_t want = n > w->chunk ? n : w->chunk, got = 0;
	if (want > w->size - at)
		want = (size_t)(w->size - at);
	while (got < want) {
		ssize_t k = w->rd(w->ctx, at + got, w->buf + got, want - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	w->off = at;
	w->len = got;
	return got >= n ? w->buf : NULL;
}

static int damaged(struct pv_error *err, const char *what)
{
	return pv_fail(err, PV_EINTEGRITY, "bundle zip: %s", what);
}

/* --- the end records ------------------------------------------------------------------ */

struct zipdir_end {
	uint64_t entries, cd_off, cd_end;
};

/* The last end record whose comment runs exactly to the end of the file
 * (where unzip looks), then the Zip64 records it points to. */
static int read_end(struct window *w, struct zipdir_end *e, struct pv_error *err)
{
	size_t n = w->size < EOCD_LEN + EOCD_COMMENT_MAX ? (size_t)w->size : EOCD_LEN + EOCD_COMMENT_MAX;
	uint8_t *tail = malloc(n ? n : 1);
	uint64_t base = w->size - n, at = UINT64_MAX;
	size_t got = 0;
	if (tail == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	while (got < n) {
		ssize_t k = w->rd(w->ctx, base + got, tail + got, n - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	for (size_t i = got == n && n >= EOCD_LEN ? n - EOCD_LEN + 1 : 0; i-- > 0;)
		if (memcmp(tail + i, "PK\5\6", 4) == 0 && i + EOCD_LEN + le16(tail + i + 20) == n) {
			at = base + i;
			break;
		}
	if (at == UINT64_MAX) {
		free(tail);
		return damaged(err, "no end of central directory record at the end of the file");
	}
	const uint8_t *p = tail + (at - base);
	uint16_t disk = le16(p + 4), cd_disk = le16(p + 6), n_disk = le16(p + 8), n_all = le16(p + 10);
	uint32_t cd_size = le32(p + 12), cd_off = le32(p + 16);
	free(tail);
	if (disk != 0 || cd_disk != 0 || n_disk != n_all)
		return damaged(err, "the archive spans several disks");
	e->entries = n_all;
	e->cd_off = cd_off;
	e->cd_end = at;

	const uint8_t *loc = at >= Z64_LOCATOR_LEN ? win_at(w, at - Z64_LOCATOR_LEN, Z64_LOCATOR_LEN)
						   : NULL;
	if (loc == NULL || memcmp(loc, "PK\6\7", 4) != 0) {
		if (n_all == 0xffff || cd_size == U32_MAX || cd_off == U32_MAX)
			return damaged(err, "the end record asks for Zip64 records that are missing");
		if ((uint64_t)cd_off + cd_size != at)
			return damaged(err, "the central directory does not end where the end record "
					    "begins (bytes unaccounted for)");
		return 0;
	}
	/* Zip64 (over 65,535 entries or 4 GiB): the locator, just before the
	 * end record, points at the Zip64 end record, just before it. */
	uint64_t z_at = le64(loc + 8);
	if (le32(loc + 4) != 0 || le32(loc + 16) != 1)
		return damaged(err, "the archive spans several disks");
	if (z_at > at - Z64_LOCATOR_LEN || at - Z64_LOCATOR_LEN - z_at != Z64_EOCD_LEN)
		return damaged(err, "the Zip64 end record is not just before its locator");
	const uint8_t *z = win_at(w, z_at, Z64_EOCD_LEN);
	if (z == NULL || memcmp(z, "PK\6\6", 4) != 0 || le64(z + 4) != Z64_EOCD_LEN - 12)
		return damaged(err, "the Zip64 end record is missing or malformed");
	if (le32(z + 16) != 0 || le32(z + 20) != 0 || le64(z + 24) != le64(z + 32))
		return damaged(err, "the archive spans several disks");
	e->entries = le64(z + 32);
	uint64_t z_size = le64(z + 40), z_off = le64(z + 48);
	/* The old record repeats each value, or says "see Zip64". */
	if ((n_all != 0xffff && n_all != e->entries) || (cd_size != U32_MAX && cd_size != z_size) ||
	    (cd_off != U32_MAX && cd_off != z_off))
		return damaged(err, "the end record and the Zip64 end record disagree");
	if (z_off > z_at || z_at - z_off != z_size)
		return damaged(err, "the central directory does not end where the Zip64 end record "
				    "begins (bytes unaccounted for)");
	e->cd_off = z_off;
	e->cd_end = z_at;
	return 0;
}

/* --- one header's extra fields -------------------------------------------------------- */

/* Each subfield (id, length, data) in turn, filling the m bytes exactly;
 * only the ids a bundle may carry. Zip64 values replace the fields that
 * are 0xffffffff, in the fixed order (APPNOTE 4.5.3); off is NULL for a
 * local header. *zip64_r: a Zip64 field was there. */
static int parse_extra(const uint8_t *p, size_t m, uint64_t *usize, uint64_t *csize,
		       uint64_t *off, bool *zip64_r, const char *name, struct pv_error *err)
{
	*zip64_r = false;
	while (m > 0) {
		if (m < 4 || le16(p + 2) > m - 4)
			return pv_fail(err, PV_EINTEGRITY, "bundle zip: entry '%.300s' has malformed "
							   "extra fields", name);
		uint16_t id = le16(p), len = le16(p + 2);
		const uint8_t *d = p + 4;
		if (id == X_ZIP64) {
			uint64_t *f[3] = {usize, csize, off};
			size_t used = 0;
			for (int i = 0; i < 3; i++)
				if (f[i] != NULL && *f[i] == U32_MAX && len - used >= 8) {
					*f[i] = le64(d + used);
					used += 8;
				}
			/* The disk number may follow (always 0 here). */
			if (len - used != 0 && !(off != NULL && len - used == 4 && le32(d + used) == 0))
				return pv_fail(err, PV_EINTEGRITY, "bundle zip: entry '%.300s' has a "
								   "malformed Zip64 field", name);
			*zip64_r = true;
		} else if (id != X_TIME && id != X_UNIX) {
			/* e.g. 0x7075, a Unicode name unzip would show instead */
			return pv_fail(err, PV_EINTEGRITY, "bundle zip: entry '%.300s' has an extra "
							   "field 0x%04x popvault does not write",
				       name, id);
		}
		p += 4 + len;
		m -= 4 + (size_t)len;
	}
	return 0;
}

/* --- one entry ------------------------------------------------------------------------- */

struct centry {
	char name[PV_BUNDLE_PATH_MAX + 2];
	size_t n;
	uint16_t flags, method;
	uint32_t crc;
	uint64_t csize, usize, off;
};

static int check_name_mode(const struct centry *c, uint32_t ext, struct pv_error *err)
{
	bool dir = c->n > 0 && c->name[c->n - 1] == '/';
	if (!bundle_name_valid(c->name, dir ? c->n - 1 : c->n))
		return pv_fail(err, PV_EINTEGRITY, "bundle zip: central directory names a member "
						   "'%.300s' that is not allowed", c->name);
	/* Unix modes (Info-ZIP keeps them in the high half): unzip applies them. */
	uint32_t mode = ext >> 16;
	uint32_t type = mode & S_IFMT;
	if (mode != 0 && ((type != 0 && type != (dir ? (uint32_t)S_IFDIR : (uint32_t)S_IFREG)) ||
			  (mode & (S_ISUID | S_ISGID | S_ISVTX | S_IWGRP | S_IWOTH))))
		return pv_fail(err, PV_EINTEGRITY, "bundle member '%.300s' has mode %06o in the zip's "
						   "central directory: not a plain file or directory, or "
						   "set-id, sticky or writable by others", c->name, mode);
	if (c->flags & (F_ENCRYPTED | F_STRONG | F_MASKED))
		return pv_fail(err, PV_EINTEGRITY, "bundle zip: entry '%.300s' is encrypted", c->name);
	if (c->method != ZIPDIR_STORED && c->method != ZIPDIR_DEFLATED)
		return pv_fail(err, PV_EINTEGRITY, "bundle zip: entry '%.300s' uses compression method "
						   "%u (only stored and deflated are allowed)",
			       c->name, (unsigned)c->method);
	if (c->method == ZIPDIR_STORED && c->csize != c->usize)
		return pv_fail(err, PV_EINTEGRITY, "bundle zip: stored entry '%.300s' has a compressed "
						   "size other than its size", c->name);
	return 0;
}

/* The central entry at *at (moved past it). */
static int read_central(struct window *w, uint64_t *at, uint64_t end, struct centry *c,
			struct pv_error *err)
{
	const uint8_t *p = end - *at >= CENTRAL_LEN ? win_at(w, *at, CENTRAL_LEN) : NULL;
	if (p == NULL || memcmp(p, "PK\1\2", 4) != 0)
		return damaged(err, "the central directory holds fewer entries than its end record "
				    "says, or something else");
	size_t n = le16(p + 28), m = le16(p + 30), k = le16(p + 32);
	if (n == 0 || n > PV_BUNDLE_PATH_MAX || m > EXTRA_MAX)
		return damaged(err, "a central directory entry has a name or extra fields too long");
	if (end - *at < CENTRAL_LEN + n + m + k)
		return damaged(err, "a central directory entry runs past the directory's end");
	c->flags = le16(p + 8);
	c->method = le16(p + 10);
	c->crc = le32(p + 16);
	c->csize = le32(p + 20);
	c->usize = le32(p + 24);
	uint16_t disk = le16(p + 34);
	uint32_t ext = le32(p + 38);
	c->off = le32(p + 42);
	if ((p = win_at(w, *at + CENTRAL_LEN, n + m)) == NULL)
		return damaged(err, "the central directory cannot be read");
	memcpy(c->name, p, n);
	c->name[n] = '\0';
	c->n = n;
	if (memchr(c->name, '\0', n) != NULL)
		return damaged(err, "a central directory entry has a NUL in its name");
	bool z64;
	int r;
	if ((r = parse_extra(p + n, m, &c->usize, &c->csize, &c->off, &z64, c->name, err)) < 0)
		return r;
	if (disk != 0)
		return damaged(err, "the archive spans several disks");
	*at += CENTRAL_LEN + n + m + k;
	return check_name_mode(c, ext, err);
}

/* The local header the central entry c points to, which must be at
 * `expect` (the end of the entry before), and what follows it: its data
 * and data descriptor. *next_r: the offset just after them; *data_r:
 * where the data begins. */
static int check_local(struct window *w, const struct centry *c, uint64_t expect, uint64_t limit,
		       uint64_t *data_r, uint64_t *next_r, struct pv_error *err)
{
	if (c->off != expect)
		return pv_fail(err, PV_EINTEGRITY, "bundle zip: the central directory places '%.300s' "
						   "at offset %llu, but the entry stored there begins "
						   "at %llu (entries out of order, missing, or bytes "
						   "unaccounted for; popvault writes them in order)",
			       c->name, (unsigned long long)c->off, (unsigned long long)expect);
	const uint8_t *p = limit - c->off >= LOCAL_LEN ? win_at(w, c->off, LOCAL_LEN) : NULL;
	if (p == NULL || memcmp(p, "PK\3\4", 4) != 0)
		return pv_fail(err, PV_EINTEGRITY, "bundle zip: no local header where the central "
						   "directory places '%.300s'", c->name);
	uint16_t flags = le16(p + 6), method = le16(p + 8);
	uint32_t crc = le32(p + 14);
	uint64_t csize = le32(p + 18), usize = le32(p + 22);
	size_t n = le16(p + 26), m = le16(p + 28);
	if (m > EXTRA_MAX || limit - c->off - LOCAL_LEN < n + m ||
	    (p = win_at(w, c->off + LOCAL_LEN, n + m)) == NULL)
		return pv_fail(err, PV_EINTEGRITY, "bundle zip: the local header of '%.300s' is "
						   "malformed", c->name);
	if (n != c->n || memcmp(p, c->name, n) != 0)
		return pv_fail(err, PV_EINTEGRITY, "bundle zip: the central directory names '%.300s' "
						   "but its local header another name", c->name);
	if (method != c->method || (flags & (F_DESCRIPTOR | F_ENCRYPTED | F_STRONG)) !=
					   (c->flags & (F_DESCRIPTOR | F_ENCRYPTED | F_STRONG)))
		return pv_fail(err, PV_EINTEGRITY, "bundle zip: the local header of '%.300s' has "
						   "another method or flags than its central entry",
			       c->name);
	bool z64;
	int r;
	if ((r = parse_extra(p + n, m, &usize, &csize, NULL, &z64, c->name, err)) < 0)
		return r;
	/* Sizes in the local header count only when no descriptor follows. */
	if (!(flags & F_DESCRIPTOR) && (crc != c->crc || csize != c->csize || usize != c->usize))
		return pv_fail(err, PV_EINTEGRITY, "bundle zip: the local header of '%.300s' gives "
						   "another size or CRC-32 than its central entry",
			       c->name);
	uint64_t data = c->off + LOCAL_LEN + n + m;
	if (c->csize > limit - data)
		return pv_fail(err, PV_EINTEGRITY, "bundle zip: the data of '%.300s' runs into the "
						   "central directory", c->name);
	uint64_t next = data + c->csize;
	if (flags & F_DESCRIPTOR) {
		/* Signature, CRC-32, sizes: 8 bytes each after a Zip64 header
		 * (APPNOTE 4.3.9), as a streaming reader expects. */
		size_t dlen = z64 ? 24 : 16;
		const uint8_t *d = limit - next >= dlen ? win_at(w, next, dlen) : NULL;
		if (d == NULL || memcmp(d, "PK\7\10", 4) != 0 || le32(d + 4) != c->crc ||
		    (z64 ? le64(d + 8) != c->csize || le64(d + 16) != c->usize
			 : le32(d + 8) != c->csize || le32(d + 12) != c->usize))
			return pv_fail(err, PV_EINTEGRITY, "bundle zip: the data descriptor of '%.300s' "
							   "is missing or disagrees with its central entry",
				       c->name);
		next += dlen;
	}
	*data_r = data;
	*next_r = next;
	return 0;
}

int zipdir_check(zipdir_read_fn rd, void *ctx, uint64_t file_size, const struct zipdir_fold *stream,
		 struct pv_error *err)
{
	struct window cw = {.rd = rd, .ctx = ctx, .size = file_size, .chunk = WIN_SIZE};
	struct window lw = {.rd = rd, .ctx = ctx, .size = file_size, .chunk = WIN_LOCAL};
	struct zipdir_end e = {0};
	struct zipdir_fold fold;
	struct centry c;
	uint64_t at, next = 0, seen = 0;
	int r;

	cw.buf = malloc(WIN_SIZE);
	lw.buf = malloc(WIN_SIZE);
	if (cw.buf == NULL || lw.buf == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	if ((r = read_end(&cw, &e, err)) < 0)
		goto out;
	zipdir_fold_init(&fold);
	for (at = e.cd_off; at < e.cd_end; seen++) {
		uint64_t data = 0;
		if (seen == e.entries) {
			r = damaged(err, "the central directory holds more entries than its end record "
					 "says");
			goto out;
		}
		if ((r = read_central(&cw, &at, e.cd_end, &c, err)) < 0 ||
		    (r = check_local(&lw, &c, next, e.cd_off, &data, &next, err)) < 0)
			goto out;
		zipdir_fold_entry(&fold, c.name, c.n, data, c.method, c.usize, c.crc);
	}
	if (seen != e.entries) {
		r = damaged(err, "the central directory holds fewer entries than its end record says");
		goto out;
	}
	if (next != e.cd_off) {
		r = damaged(err, "bytes between the last entry and the central directory that no "
				 "entry accounts for");
		goto out;
	}
	if (fold.count != stream->count) {
		r = pv_fail(err, PV_EINTEGRITY, "bundle zip: the central directory (what unzip "
						"extracts) lists %llu entries, the archive holds %llu "
						"one after another (what verify-bundle checks)",
			    (unsigned long long)fold.count, (unsigned long long)stream->count);
		goto out;
	}
	uint8_t a[32], b[32];
	crypto_hash_sha256_state st = stream->st;
	crypto_hash_sha256_final(&fold.st, a);
	crypto_hash_sha256_final(&st, b);
	if (sodium_memcmp(a, b, 32) != 0)
		r = damaged(err, "the central directory (what unzip extracts) does not describe the "
				 "entries stored one after another (what verify-bundle checks): a name, "
				 "an offset, a method, a size or a CRC-32 differs, or the order "
				 "(popvault writes the directory in the order of the entries)");
out:
	free(cw.buf);
	free(lw.buf);
	return r;
}
