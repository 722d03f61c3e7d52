#include "archiver/store/record.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/random.h"
#include "archiver/lib/secretstream.h"
#include "archiver/lib/sha256.h"
#include "archiver/store/record_block.h"

#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define CHUNK_LAST 0x80000000u
/* Ciphertext of one chunk: mode byte, at most a block, the tag. */
#define CHUNK_CT_MAX (1 + RECORD_BLOCK + SS_ABYTES)
/* Records up to RECORD_WHOLE_MAX are read whole and checked in memory
 * (most attachments fit: reading them twice cost verify a tenth of its
 * time); bigger ones stream through a buffer of RECORD_READ_BUF, in two
 * passes. */
#define RECORD_WHOLE_MAX (4 * 1024 * 1024)
#define RECORD_READ_BUF (256 * 1024)

struct record_sealer {
	struct record_block_enc enc;
	struct pv_ss *push;
	crypto_secretstream_xchacha20poly1305_state ss;
	struct pv_sha256 ct_hash;
	bool active, ended;
	/* plain[0] is the mode byte; the block accumulates in plain + 1. */
	unsigned char plain[1 + RECORD_BLOCK];
	size_t block_len;
	size_t plain_used; /* the most of plain + 1 this record filled: what to wipe */
	unsigned char chunk[4 + CHUNK_CT_MAX];
	/* The staged record: mem, then (past PV_MESSAGE_SPILL_THRESHOLD) the
	 * spill file from its start. The file is unnamed and kept for the
	 * next big record: creating and removing a file per record cost
	 * about a millisecond each (ext4's inode allocation skips every
	 * recently deleted inode), some 7% of the sealer's CPU on the bench. */
	struct pv_buf mem;
	int spill_fd;
	bool spilled; /* this record's bytes are in spill_fd */
	char spill_dir[2048 + 8]; /* DATA/tmp */
	uint64_t len;
};

int record_sealer_new(const char *data_dir, struct record_sealer **s_r, struct pv_error *err)
{
	if (strlen(data_dir) >= 2048)
		return pv_fail(err, PV_ERR, "data directory path too long");
	struct record_sealer *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	s->spill_fd = -1;
	snprintf(s->spill_dir, sizeof(s->spill_dir), "%s/tmp", data_dir);
	pv_buf_init(&s->mem, PV_MESSAGE_SPILL_THRESHOLD);
	int r = record_block_enc_init(&s->enc, err);
	if (r < 0) {
		free(s);
		return r;
	}
	if ((r = pv_ss_new(&s->push, err)) < 0) {
		record_block_enc_free(&s->enc);
		free(s);
		return r;
	}
	*s_r = s;
	return PV_OK;
}

void record_sealer_free(struct record_sealer **sp)
{
	struct record_sealer *s = *sp;
	if (s == NULL)
		return;
	record_abort(s);
	if (s->spill_fd >= 0)
		close(s->spill_fd);
	record_block_enc_free(&s->enc);
	pv_ss_free(&s->push);
	pv_buf_free(&s->mem);
	sodium_memzero(s, sizeof(*s));
	free(s);
	*sp = NULL;
}

static int write_fd(int fd, const unsigned char *p, size_t n, struct pv_error *err)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return pv_fail(err, PV_ERR, "write: %s", strerror(errno));
		p += k;
		n -= (size_t)k;
	}
	return PV_OK;
}

/* The spill file: unnamed (nothing to remove after a crash), or, where
 * the file system has no O_TMPFILE, named and removed at once. */
static int spill_open(struct record_sealer *s, struct pv_error *err)
{
	if (s->spill_fd >= 0)
		return PV_OK;
	s->spill_fd = open(s->spill_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->spill_fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		unsigned char rnd[8];
		char hex[17], path[sizeof(s->spill_dir) + 32];
		pv_random_bytes(rnd, sizeof(rnd));
		pv_hex(rnd, sizeof(rnd), hex);
		/* "blob-": the name the scheduler clears after a crash. */
		snprintf(path, sizeof(path), "%s/blob-%s", s->spill_dir, hex);
		s->spill_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (s->spill_fd >= 0)
			unlink(path);
	}
	if (s->spill_fd < 0)
		return pv_fail(err, PV_ERR, "spill file in %s: %s", s->spill_dir, strerror(errno));
	return PV_OK;
}

/* Appends sealed bytes to the stage (and the record's hash). */
static int stage(struct record_sealer *s, const unsigned char *p, size_t n, struct pv_error *err)
{
	int r;
	pv_sha256_update(&s->ct_hash, p, n);
	s->len += n;
	if (!s->spilled && s->mem.len + n <= PV_MESSAGE_SPILL_THRESHOLD)
		return pv_buf_append(&s->mem, p, n, err);
	if (!s->spilled) {
		if ((r = spill_open(s, err)) < 0)
			return r;
		s->spilled = true;
		if ((r = write_fd(s->spill_fd, s->mem.data, s->mem.len, err)) < 0) {
			pv_error_prefix(err, "spill file in %s", s->spill_dir);
			return r;
		}
		pv_buf_reset(&s->mem);
	}
	if ((r = write_fd(s->spill_fd, p, n, err)) < 0)
		pv_error_prefix(err, "spill file in %s", s->spill_dir);
	return r;
}

int record_begin(struct record_sealer *s, const unsigned char key[BLOB_KEY_BYTES],
		 struct pv_error *err)
{
	unsigned char head[4 + SS_HEADER];
	int r;
	record_abort(s);
	if ((r = pv_sha256_init(&s->ct_hash, err)) < 0)
		return r;
	s->active = true;
	memcpy(head, RECORD_MAGIC, 4);
	crypto_secretstream_xchacha20poly1305_init_push(&s->ss, head + 4, key);
	return stage(s, head, sizeof(head), err);
}

/* Seals the pending block as one chunk: straight into the staged record
 * while it stays in memory (no copy of the chunk), else through chunk. */
static int seal_block(struct record_sealer *s, bool last, struct pv_error *err)
{
	const unsigned char *m;
	size_t mlen;
	unsigned long long clen;
	unsigned char *out = s->chunk;
	bool in_mem = !s->spilled && s->mem.len + 4 + CHUNK_CT_MAX <= PV_MESSAGE_SPILL_THRESHOLD;
	int r;

	m = record_block_encode(&s->enc, s->plain, s->block_len, &mlen);
	if (in_mem) {
		if ((r = pv_buf_reserve(&s->mem, 4 + CHUNK_CT_MAX, err)) < 0)
			return r;
		out = s->mem.data + s->mem.len;
	}
	r = pv_ss_push(s->push, &s->ss, out + 4, &clen, m, mlen,
		       last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0, err);
	if (r < 0)
		return r;
	uint32_t word = (uint32_t)clen | (last ? CHUNK_LAST : 0);
	out[0] = (unsigned char)(word >> 24);
	out[1] = (unsigned char)(word >> 16);
	out[2] = (unsigned char)(word >> 8);
	out[3] = (unsigned char)word;
	s->block_len = 0;
	if (!in_mem)
		return stage(s, s->chunk, 4 + (size_t)clen, err);
	/* what stage() does, the bytes being in place already */
	pv_sha256_update(&s->ct_hash, out, 4 + (size_t)clen);
	s->len += 4 + (size_t)clen;
	s->mem.len += 4 + (size_t)clen;
	s->mem.data[s->mem.len] = '\0';
	return PV_OK;
}

int record_write(struct record_sealer *s, const void *data, size_t len, struct pv_error *err)
{
	const unsigned char *p = data;
	while (len > 0) {
		/* A full block is sealed only when more follows: the last block
		 * must carry the FINAL tag, and record_end seals it. */
		if (s->block_len == RECORD_BLOCK) {
			int r = seal_block(s, false, err);
			if (r < 0)
				return r;
		}
		size_t take = RECORD_BLOCK - s->block_len;
		if (take > len)
			take = len;
		memcpy(s->plain + 1 + s->block_len, p, take);
		s->block_len += take;
		if (1 + s->block_len > s->plain_used)
			s->plain_used = 1 + s->block_len;
		p += take;
		len -= take;
	}
	return PV_OK;
}

int record_end(struct record_sealer *s, char id_r[BLOB_ID_LEN + 1], uint64_t *len_r,
	       struct pv_error *err)
{
	unsigned char digest[32];
	int r = seal_block(s, true, err);
	sodium_memzero(&s->ss, sizeof(s->ss));
	sodium_memzero(s->plain, s->plain_used); /* not all 64 KiB for a small message */
	s->plain_used = 0;
	if (r < 0)
		return r;
	pv_sha256_final(&s->ct_hash, digest);
	pv_hex(digest, sizeof(digest), id_r);
	*len_r = s->len;
	s->ended = true;
	return PV_OK;
}

uint64_t record_staged_len(const struct record_sealer *s)
{
	return s->ended ? s->len : 0;
}

int record_place(struct record_sealer *s, int fd, struct pv_error *err)
{
	int r;
	if (!s->ended)
		return pv_fail(err, PV_ERR, "record_place: no sealed record");
	if (!s->spilled) {
		if ((r = write_fd(fd, s->mem.data, s->mem.len, err)) < 0)
			return r;
	} else {
		/* In the kernel: the big record's bytes are not copied through
		 * user space again. */
		loff_t in = 0;
		uint64_t left = s->len;
		while (left > 0) {
			ssize_t k = copy_file_range(s->spill_fd, &in, fd, NULL, left, 0);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return pv_fail(err, PV_ERR, "copy the spill file into its pack: %s",
					       k == 0 ? "short file" : strerror(errno));
			left -= (uint64_t)k;
		}
	}
	record_abort(s);
	return PV_OK;
}

void record_abort(struct record_sealer *s)
{
	if (s->spilled) {
		/* Emptied for the next record: its pages are dropped before
		 * they are written back. A file that cannot be is replaced. */
		if (ftruncate(s->spill_fd, 0) < 0 || lseek(s->spill_fd, 0, SEEK_SET) < 0) {
			close(s->spill_fd);
			s->spill_fd = -1;
		}
		s->spilled = false;
	}
	pv_sha256_abort(&s->ct_hash); /* after record_end: already released */
	sodium_memzero(&s->ss, sizeof(s->ss));
	sodium_memzero(s->plain, s->plain_used); /* an abandoned record's plaintext */
	s->plain_used = 0;
	if (s->mem.data != NULL)
		pv_buf_reset(&s->mem);
	s->block_len = 0;
	s->len = 0;
	s->active = false;
	s->ended = false;
}

/* ---- opening ---- */

/* Sequential reads of [pos, end) of fd through buf. */
struct rd {
	int fd;
	uint64_t pos, end; /* file offsets: next byte not yet in buf, end of the record */
	unsigned char *buf;
	size_t start, fill; /* unread bytes are buf[start, fill) */
};

/* Makes n bytes available at *p; 1 when the record ends first. */
static int rd_get(struct rd *r, size_t n, const unsigned char **p, struct pv_error *err)
{
	if (r->fill - r->start < n) {
		memmove(r->buf, r->buf + r->start, r->fill - r->start);
		r->fill -= r->start;
		r->start = 0;
		while (r->fill < n && r->pos < r->end) {
			size_t want = RECORD_READ_BUF - r->fill;
			if (want > r->end - r->pos)
				want = (size_t)(r->end - r->pos);
			ssize_t k = pread(r->fd, r->buf + r->fill, want, (off_t)r->pos);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return pv_fail(err, PV_ERR, "read: %s", strerror(errno));
			if (k == 0)
				return 1; /* the file ends inside the record */
			r->fill += (size_t)k;
			r->pos += (uint64_t)k;
		}
		if (r->fill < n)
			return 1;
	}
	*p = r->buf + r->start;
	r->start += n;
	return 0;
}

/* The buffer for reading a record of len bytes: all of it, or a stream. */
static size_t read_buf_size(uint64_t len)
{
	return len <= RECORD_WHOLE_MAX ? (len > 0 ? (size_t)len : 1) : RECORD_READ_BUF;
}

/* Reads [off, off + len) of fd into buf (read_buf_size(len) bytes) and,
 * given an id, compares the bytes' hash with it; a record that fits stays
 * in buf for the second pass (*whole_r). Without an id a record that does
 * not fit is left to the second pass, which streams it. */
static int hash_pass(int fd, uint64_t off, uint64_t len, const char *id, unsigned char *buf,
		     bool *whole_r, const char *what, struct pv_error *err)
{
	struct pv_sha256 h = {NULL};
	unsigned char digest[32];
	char hex[BLOB_ID_LEN + 1];
	uint64_t done = 0;
	bool whole = len <= RECORD_WHOLE_MAX;
	size_t step = whole ? read_buf_size(len) : RECORD_READ_BUF;
	int r;
	*whole_r = false;
	if (id == NULL && !whole)
		return PV_OK;
	if (id != NULL && (r = pv_sha256_init(&h, err)) < 0)
		return r;
	while (done < len) {
		size_t want = len - done > step ? step : (size_t)(len - done);
		unsigned char *into = whole ? buf + done : buf;
		ssize_t k = pread(fd, into, want, (off_t)(off + done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			pv_sha256_abort(&h);
			return k < 0 ? pv_fail(err, PV_ERR, "%s: read: %s", what, strerror(errno))
				     : pv_fail(err, PV_EINTEGRITY, "%s: cut short (the pack ends "
							"%llu bytes into it)", what,
					       (unsigned long long)done);
		}
		if (id != NULL)
			pv_sha256_update(&h, into, (size_t)k);
		done += (uint64_t)k;
	}
	if (id != NULL) {
		pv_sha256_final(&h, digest);
		pv_hex(digest, sizeof(digest), hex);
		if (strcmp(hex, id) != 0)
			return pv_fail(err, PV_EINTEGRITY, "%s: content does not match its hash",
				       what);
	}
	*whole_r = whole;
	return PV_OK;
}

int record_check_hash(int fd, uint64_t off, uint64_t len, const char *id, const char *what,
		      struct pv_error *err)
{
	bool whole;
	unsigned char *buf = malloc(read_buf_size(len));
	if (buf == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	int r = hash_pass(fd, off, len, id, buf, &whole, what, err);
	free(buf);
	return r;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The decompression and cipher contexts kept between reads of one thread. */
static _Thread_local ZSTD_DCtx *dctx_cache;
static _Thread_local struct pv_ss *ss_cache;

void record_thread_release(void)
{
	ZSTD_freeDCtx(dctx_cache);
	dctx_cache = NULL;
	pv_ss_free(&ss_cache);
}

/* record_open; id NULL: the bytes are not hashed first (record_read_into). */
static int open_record(int fd, uint64_t off, uint64_t len, const char *id,
		       const unsigned char key[BLOB_KEY_BYTES], const unsigned char *expect_sha256,
		       blob_sink_fn sink, void *ctx, const char *what, struct pv_error *err)
{
	crypto_secretstream_xchacha20poly1305_state ss;
	struct pv_sha256 plain_hash = {NULL};
	unsigned char digest[32];
	unsigned char *buf = malloc(read_buf_size(len)), *pbuf = malloc(CHUNK_CT_MAX);
	unsigned char *dec = malloc(RECORD_BLOCK);
	unsigned char *vals = NULL; /* a RECORD_B64_ZSTD block's values */
	size_t pbuf_used = 0, dec_used = 0; /* what holds plaintext, to wipe */
	const unsigned char *p;
	bool whole = false, last = false;
	int r;

	if (dctx_cache == NULL)
		dctx_cache = ZSTD_createDCtx();
	if (buf == NULL || pbuf == NULL || dec == NULL || dctx_cache == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	if (ss_cache == NULL && (r = pv_ss_new(&ss_cache, err)) < 0)
		goto out;
	/* The bytes must hash to the record's id before one is trusted
	 * (record_read_into says when they need not). */
	if ((r = hash_pass(fd, off, len, id, buf, &whole, what, err)) < 0)
		goto out;
	struct rd rd = {.fd = fd, .pos = off, .end = off + len, .buf = buf};
	if (whole) {
		rd.fill = (size_t)len;
		rd.pos = rd.end;
	}
	/* The plaintext is hashed only when asked to match (verify hashes
	 * it once, on its own, with the commitment). */
	if (expect_sha256 != NULL && (r = pv_sha256_init(&plain_hash, err)) < 0)
		goto out;
	if ((r = rd_get(&rd, 4 + SS_HEADER, &p, err)) != 0 || memcmp(p, RECORD_MAGIC, 4) != 0 ||
	    crypto_secretstream_xchacha20poly1305_init_pull(&ss, p + 4, key) != 0) {
		r = r < 0 ? r : pv_fail(err, PV_EINTEGRITY, "%s: bad record header", what);
		goto out;
	}
	while (!last) {
		if ((r = rd_get(&rd, 4, &p, err)) != 0) {
			r = r < 0 ? r : pv_fail(err, PV_EINTEGRITY, "%s: truncated (no final chunk)", what);
			goto out;
		}
		uint32_t word = be32(p);
		size_t clen = word & ~CHUNK_LAST;
		last = (word & CHUNK_LAST) != 0;
		if (clen < 1 + SS_ABYTES || clen > CHUNK_CT_MAX || (r = rd_get(&rd, clen, &p, err)) != 0) {
			r = r < 0 ? r : pv_fail(err, PV_EINTEGRITY, "%s: bad chunk length", what);
			goto out;
		}
		unsigned long long plen;
		unsigned char tag;
		if (clen > pbuf_used)
			pbuf_used = clen;
		if ((r = pv_ss_pull(ss_cache, &ss, pbuf, &plen, &tag, p, clen, err)) < 0) {
			if (r == PV_EINTEGRITY)
				pv_fail(err, r, "%s: authentication failed", what);
			goto out;
		}
		if ((tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) != last) {
			r = pv_fail(err, PV_EINTEGRITY, "%s: the last-chunk mark and the FINAL tag "
					"disagree", what);
			goto out;
		}
		const unsigned char *m;
		size_t mlen;
		if ((r = record_block_decode(dctx_cache, pbuf, (size_t)plen, dec, &vals, &m, &mlen,
					     err)) < 0) {
			pv_error_prefix(err, "%s", what);
			goto out;
		}
		if (m == dec)
			dec_used = RECORD_BLOCK;
		if (expect_sha256 != NULL)
			pv_sha256_update(&plain_hash, m, mlen);
		if (mlen > 0 && sink != NULL && (r = sink(ctx, m, mlen, err)) < 0)
			goto out;
	}
	if (rd.start != rd.fill || rd.pos != rd.end) {
		r = pv_fail(err, PV_EINTEGRITY, "%s: data after the final chunk", what);
		goto out;
	}
	if (expect_sha256 != NULL) {
		pv_sha256_final(&plain_hash, digest);
		if (sodium_memcmp(digest, expect_sha256, sizeof(digest)) != 0)
			r = pv_fail(err, PV_EINTEGRITY, "%s: plaintext hash differs from the catalog",
				    what);
	}
out:
	pv_sha256_abort(&plain_hash);
	sodium_memzero(&ss, sizeof(ss));
	if (pbuf != NULL)
		sodium_memzero(pbuf, pbuf_used);
	if (dec != NULL)
		sodium_memzero(dec, dec_used > 0 ? RECORD_BLOCK : 0); /* zstd may write past z */
	if (vals != NULL)
		sodium_memzero(vals, RECORD_B64_VALUES_MAX);
	free(vals);
	free(buf);
	free(pbuf);
	free(dec);
	return r;
}

int record_open(int fd, uint64_t off, uint64_t len, const char *id,
		const unsigned char key[BLOB_KEY_BYTES], const unsigned char *expect_sha256,
		blob_sink_fn sink, void *ctx, const char *what, struct pv_error *err)
{
	/* Only record_read_into may skip the hash of the id (open_record's
	 * NULL): a caller here that has none gets an error, not a read that
	 * trusts unhashed bytes. */
	if (id == NULL)
		return pv_fail(err, PV_ERR, "%s: no record id to check the record against", what);
	return open_record(fd, off, len, id, key, expect_sha256, sink, ctx, what, err);
}

int record_read_into(int fd, uint64_t off, uint64_t len, const unsigned char key[BLOB_KEY_BYTES],
		     const unsigned char expect_sha256[32], struct pv_buf *into, const char *what,
		     struct pv_error *err)
{
	int r = open_record(fd, off, len, NULL, key, expect_sha256, blob_sink_prefix, into, what,
			    err);
	if (r < 0)
		pv_buf_reset(into);
	return r;
}

int record_measure(int fd, uint64_t off, uint64_t file_size, uint64_t *len_r)
{
	unsigned char b[4];
	uint64_t pos = off;
	if (file_size - off < 4 + SS_HEADER || pread(fd, b, 4, (off_t)pos) != 4 ||
	    memcmp(b, RECORD_MAGIC, 4) != 0)
		return PV_EINTEGRITY;
	pos += 4 + SS_HEADER;
	for (;;) {
		if (file_size - pos < 4 || pread(fd, b, 4, (off_t)pos) != 4)
			return PV_EINTEGRITY;
		uint32_t word = be32(b);
		uint64_t clen = word & ~CHUNK_LAST;
		if (clen < 1 + SS_ABYTES || clen > CHUNK_CT_MAX || file_size - pos - 4 < clen)
			return PV_EINTEGRITY;
		pos += 4 + clen;
		if (word & CHUNK_LAST)
			break;
	}
	*len_r = pos - off;
	return PV_OK;
}
