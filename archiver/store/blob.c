#include "archiver/store/blob.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/pagecache.h"
#include "archiver/lib/random.h"
#include "archiver/lib/sha256.h"
#include "archiver/store/leaf_commit.h"
#include "archiver/store/pack.h"
#include "archiver/store/packstore.h"

#define BLOB_MAGIC "PVB1"
#define BLOB_CHUNK (64 * 1024) /* plaintext (compressed) bytes per secretstream chunk */
#define BLOB_ZSTD_LEVEL 3
#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES

/* The compression context kept between messages (see blob_writer_new). */
static _Thread_local ZSTD_CCtx *zstd_cache;

struct blob_writer {
	int fd;
	char tmp_path[4096];
	char data_dir[2048];
	ZSTD_CCtx *zc;
	crypto_secretstream_xchacha20poly1305_state ss;
	struct pv_sha256 plain_hash, cipher_hash;
	unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
	unsigned char chunk[BLOB_CHUNK]; /* compressed bytes waiting for encryption */
	size_t chunk_len;
	unsigned char zout[BLOB_CHUNK];
	unsigned char cipher[4 + BLOB_CHUNK + SS_ABYTES];
	uint64_t size, stored;
};

void blob_path(const char *data_dir, const char *id, char *out, size_t out_len)
{
	snprintf(out, out_len, "%s/blobs/%.2s/%s", data_dir, id, id);
}

static int write_all(struct blob_writer *w, const unsigned char *p, size_t n, struct pv_error *err)
{
	pv_sha256_update(&w->cipher_hash, p, n);
	w->stored += n;
	while (n > 0) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return pv_fail(err, PV_ERR, "write blob: %s", strerror(errno));
		p += k;
		n -= (size_t)k;
	}
	return PV_OK;
}

/* Encrypts the pending compressed bytes as one secretstream chunk. */
static int flush_chunk(struct blob_writer *w, unsigned char tag, struct pv_error *err)
{
	unsigned long long clen;
	crypto_secretstream_xchacha20poly1305_push(&w->ss, w->cipher + 4, &clen, w->chunk,
						   w->chunk_len, NULL, 0, tag);
	w->cipher[0] = (unsigned char)(clen >> 24);
	w->cipher[1] = (unsigned char)(clen >> 16);
	w->cipher[2] = (unsigned char)(clen >> 8);
	w->cipher[3] = (unsigned char)clen;
	w->chunk_len = 0;
	return write_all(w, w->cipher, 4 + (size_t)clen, err);
}

static int take_compressed(struct blob_writer *w, const unsigned char *p, size_t n,
			   struct pv_error *err)
{
	while (n > 0) {
		size_t take = BLOB_CHUNK - w->chunk_len;
		if (take > n)
			take = n;
		memcpy(w->chunk + w->chunk_len, p, take);
		w->chunk_len += take;
		p += take;
		n -= take;
		if (w->chunk_len == BLOB_CHUNK) {
			int r = flush_chunk(w, 0, err);
			if (r < 0)
				return r;
		}
	}
	return PV_OK;
}

int blob_writer_new(const char *data_dir, struct blob_writer **w_r, struct pv_error *err)
{
	struct blob_writer *w = calloc(1, sizeof(*w));
	unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
	unsigned char rnd[16];
	char hex[33];

	if (w == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	w->fd = -1;
	if (strlen(data_dir) >= sizeof(w->data_dir)) {
		free(w);
		return pv_fail(err, PV_ERR, "data directory path too long");
	}
	snprintf(w->data_dir, sizeof(w->data_dir), "%s", data_dir);
	pv_random_bytes(rnd, sizeof(rnd));
	pv_hex(rnd, sizeof(rnd), hex);
	snprintf(w->tmp_path, sizeof(w->tmp_path), "%s/tmp/blob-%s", data_dir, hex);
	w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		int r = pv_fail(err, PV_ERR, "create %s: %s", w->tmp_path, strerror(errno));
		free(w);
		return r;
	}
	/* One compression context per process, reused: creating one per
	 * message was a tenth of the harvest's CPU. */
	w->zc = zstd_cache;
	zstd_cache = NULL;
	if (w->zc == NULL)
		w->zc = ZSTD_createCCtx();
	if (w->zc == NULL || ZSTD_isError(ZSTD_CCtx_reset(w->zc, ZSTD_reset_session_and_parameters)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, BLOB_ZSTD_LEVEL))) {
		blob_writer_abort(&w);
		return pv_fail(err, PV_ERR, "zstd: cannot start compression");
	}
	pv_random_bytes(w->key, sizeof(w->key));
	pv_random_bytes(w->salt, sizeof(w->salt));
	int r;
	if ((r = pv_sha256_init(&w->plain_hash, err)) < 0 ||
	    (r = pv_sha256_init(&w->cipher_hash, err)) < 0) {
		blob_writer_abort(&w);
		return r;
	}
	crypto_secretstream_xchacha20poly1305_init_push(&w->ss, header, w->key);
	if ((r = write_all(w, (const unsigned char *)BLOB_MAGIC, 4, err)) < 0 ||
	    (r = write_all(w, header, sizeof(header), err)) < 0) {
		blob_writer_abort(&w);
		return r;
	}
	*w_r = w;
	return PV_OK;
}

static int compress_some(struct blob_writer *w, ZSTD_inBuffer *in, ZSTD_EndDirective mode,
			 struct pv_error *err)
{
	size_t remaining;
	do {
		ZSTD_outBuffer out = {w->zout, sizeof(w->zout), 0};
		remaining = ZSTD_compressStream2(w->zc, &out, in, mode);
		if (ZSTD_isError(remaining))
			return pv_fail(err, PV_ERR, "zstd: %s", ZSTD_getErrorName(remaining));
		int r = take_compressed(w, w->zout, out.pos, err);
		if (r < 0)
			return r;
	} while (mode == ZSTD_e_end ? remaining != 0 : in->pos < in->size);
	return PV_OK;
}

int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct pv_error *err)
{
	ZSTD_inBuffer in = {data, len, 0};
	pv_sha256_update(&w->plain_hash, data, len);
	w->size += len;
	return compress_some(w, &in, ZSTD_e_continue, err);
}

static void writer_free(struct blob_writer **wp)
{
	struct blob_writer *w = *wp;
	if (w->fd >= 0)
		close(w->fd);
	if (zstd_cache == NULL)
		zstd_cache = w->zc;
	else
		ZSTD_freeCCtx(w->zc);
	pv_sha256_abort(&w->plain_hash);
	pv_sha256_abort(&w->cipher_hash);
	sodium_memzero(w, sizeof(*w));
	free(w);
	*wp = NULL;
}

void blob_writer_abort(struct blob_writer **wp)
{
	if (*wp == NULL)
		return;
	unlink((*wp)->tmp_path);
	writer_free(wp);
}

int blob_writer_finish(struct blob_writer **wp, struct blob_info *info, struct pv_error *err)
{
	struct blob_writer *w = *wp;
	ZSTD_inBuffer in = {NULL, 0, 0};
	unsigned char digest[BLOB_HASH_BYTES];
	char path[4096], dir[4096];
	int r;

	if ((r = compress_some(w, &in, ZSTD_e_end, err)) < 0 ||
	    (r = flush_chunk(w, crypto_secretstream_xchacha20poly1305_TAG_FINAL, err)) < 0) {
		blob_writer_abort(wp);
		return r;
	}
	pv_sha256_final(&w->cipher_hash, digest);
	pv_hex(digest, sizeof(digest), info->id);
	pv_sha256_final(&w->plain_hash, info->sha256);
	leaf_commit_of_sha256(w->salt, info->sha256, info->commit);
	memcpy(info->key, w->key, sizeof(info->key));
	memcpy(info->salt, w->salt, sizeof(info->salt));
	info->size = w->size;
	info->stored_size = w->stored;

	snprintf(dir, sizeof(dir), "%s/blobs/%.2s", w->data_dir, info->id);
	blob_path(w->data_dir, info->id, path, sizeof(path));
	if ((r = pv_mkdir(dir, 0700, 1, err)) < 0) {
		blob_writer_abort(wp);
		return r;
	}
	if (rename(w->tmp_path, path) < 0) {
		r = pv_fail(err, PV_ERR, "install blob %s: %s", path, strerror(errno));
		blob_writer_abort(wp);
		return r;
	}
	writer_free(wp);
	return PV_OK;
}

int blob_sync(const char *data_dir, struct pv_error *err)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/blobs", data_dir);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return pv_fail(err, PV_ERR, "open %s: %s", dir, strerror(errno));
	/* One syncfs per group commit flushes every blob file and directory
	 * entry of the batch: cheaper than an fsync per file, just as durable,
	 * and (since Linux 5.8) it reports writeback errors. */
	if (syncfs(fd) < 0) {
		int e = errno;
		close(fd);
		return pv_fail(err, PV_ERR, "syncfs %s: %s", dir, strerror(e));
	}
	close(fd);
	return PV_OK;
}

/* Hashes the whole file through buf (BLOB_CHUNK bytes) and compares with id. */
static int hash_matches_id(FILE *f, const char *id, unsigned char *buf, struct pv_error *err)
{
	struct pv_sha256 st;
	unsigned char digest[BLOB_HASH_BYTES];
	char hex[BLOB_ID_LEN + 1];
	size_t n;
	int r = pv_sha256_init(&st, err);
	if (r < 0)
		return r;
	while ((n = fread(buf, 1, BLOB_CHUNK, f)) > 0)
		pv_sha256_update(&st, buf, n);
	if (ferror(f)) {
		pv_sha256_abort(&st);
		return pv_fail(err, PV_ERR, "blob %s: read error", id);
	}
	pv_sha256_final(&st, digest);
	pv_hex(digest, sizeof(digest), hex);
	if (strcmp(hex, id) != 0)
		return pv_fail(err, PV_EINTEGRITY, "blob %s: content does not match its hash", id);
	return PV_OK;
}

int blob_check_hash(const char *data_dir, const char *id, struct pv_error *err)
{
	char path[4096];
	blob_path(data_dir, id, path, sizeof(path));
	FILE *f = fopen(path, "rbe");
	if (f == NULL)
		return pv_fail(err, errno == ENOENT ? PV_ENOTFOUND : PV_ERR, "blob %s: %s", id,
			       strerror(errno));
	unsigned char *buf = malloc(BLOB_CHUNK);
	int r = buf ? hash_matches_id(f, id, buf, err) : pv_fail(err, PV_ERR, "out of memory");
	free(buf);
	fclose(f);
	return r;
}

static int read_exact(FILE *f, unsigned char *p, size_t n)
{
	return fread(p, 1, n, f) == n ? 0 : -1;
}

int blob_read(const char *data_dir, const char *id, const unsigned char key[BLOB_KEY_BYTES],
	      const unsigned char *expect_sha256, blob_sink_fn sink, void *ctx,
	      struct pv_error *err)
{
	char path[4096];
	unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES], magic[4];
	crypto_secretstream_xchacha20poly1305_state ss;
	struct pv_sha256 plain_hash = {NULL};
	unsigned char digest[BLOB_HASH_BYTES];
	unsigned char *cbuf = NULL, *pbuf = NULL, *zout = NULL;
	ZSTD_DStream *zd = NULL;
	bool final = false;
	int r = PV_OK;

	blob_path(data_dir, id, path, sizeof(path));
	FILE *f = fopen(path, "rbe");
	if (f == NULL)
		return pv_fail(err, errno == ENOENT ? PV_ENOTFOUND : PV_ERR, "blob %s: %s", id,
			       strerror(errno));
	cbuf = malloc(4 + BLOB_CHUNK + SS_ABYTES);
	pbuf = malloc(BLOB_CHUNK);
	zout = malloc(ZSTD_DStreamOutSize());
	zd = ZSTD_createDStream();
	if (cbuf == NULL || pbuf == NULL || zout == NULL || zd == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	/* First pass: the file must hash to its name before we trust a byte. */
	if ((r = hash_matches_id(f, id, cbuf, err)) < 0)
		goto out;
	rewind(f);
	if (read_exact(f, magic, 4) < 0 || memcmp(magic, BLOB_MAGIC, 4) != 0 ||
	    read_exact(f, header, sizeof(header)) < 0 ||
	    crypto_secretstream_xchacha20poly1305_init_pull(&ss, header, key) != 0) {
		r = pv_fail(err, PV_EINTEGRITY, "blob %s: bad header", id);
		goto out;
	}
	ZSTD_initDStream(zd);
	if ((r = pv_sha256_init(&plain_hash, err)) < 0)
		goto out;
	while (!final) {
		unsigned char lenb[4];
		if (read_exact(f, lenb, 4) < 0) {
			r = pv_fail(err, PV_EINTEGRITY, "blob %s: truncated (no final chunk)", id);
			goto out;
		}
		size_t clen = (size_t)lenb[0] << 24 | (size_t)lenb[1] << 16 | (size_t)lenb[2] << 8 | lenb[3];
		if (clen < SS_ABYTES || clen > BLOB_CHUNK + SS_ABYTES || read_exact(f, cbuf, clen) < 0) {
			r = pv_fail(err, PV_EINTEGRITY, "blob %s: bad chunk length", id);
			goto out;
		}
		unsigned long long plen;
		unsigned char tag;
		if (crypto_secretstream_xchacha20poly1305_pull(&ss, pbuf, &plen, &tag, cbuf, clen,
							       NULL, 0) != 0) {
			r = pv_fail(err, PV_EINTEGRITY, "blob %s: authentication failed", id);
			goto out;
		}
		final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
		ZSTD_inBuffer in = {pbuf, (size_t)plen, 0};
		while (in.pos < in.size || final) {
			ZSTD_outBuffer out = {zout, ZSTD_DStreamOutSize(), 0};
			size_t z = ZSTD_decompressStream(zd, &out, &in);
			if (ZSTD_isError(z)) {
				r = pv_fail(err, PV_EINTEGRITY, "blob %s: %s", id, ZSTD_getErrorName(z));
				goto out;
			}
			pv_sha256_update(&plain_hash, zout, out.pos);
			if (out.pos > 0 && sink != NULL && (r = sink(ctx, zout, out.pos, err)) < 0)
				goto out;
			if (in.pos == in.size && out.pos < out.size)
				break;
		}
	}
	if (fgetc(f) != EOF) {
		r = pv_fail(err, PV_EINTEGRITY, "blob %s: data after the final chunk", id);
		goto out;
	}
	pv_sha256_final(&plain_hash, digest);
	if (expect_sha256 != NULL && sodium_memcmp(digest, expect_sha256, sizeof(digest)) != 0)
		r = pv_fail(err, PV_EINTEGRITY, "blob %s: plaintext hash differs from the catalog", id);
out:
	fclose(f);
	pv_sha256_abort(&plain_hash);
	sodium_memzero(&ss, sizeof(ss));
	if (pbuf)
		sodium_memzero(pbuf, BLOB_CHUNK);
	free(cbuf);
	free(pbuf);
	free(zout);
	ZSTD_freeDStream(zd);
	return r;
}

void blob_commitment(const unsigned char salt[BLOB_SALT_BYTES], const unsigned char *data,
		     size_t len, unsigned char out[BLOB_HASH_BYTES])
{
	unsigned char sha[BLOB_HASH_BYTES];
	crypto_hash_sha256(sha, data, len);
	leaf_commit_of_sha256(salt, sha, out);
}

int blob_remove(const char *data_dir, const char *id, struct pv_error *err)
{
	char path[4096];
	blob_path(data_dir, id, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		return pv_fail(err, PV_ERR, "remove %s: %s", path, strerror(errno));
	return PV_OK;
}

int blob_sink_prefix(void *ctx, const unsigned char *data, size_t len, struct pv_error *err)
{
	struct pv_buf *b = ctx;
	size_t room = b->max - b->len;
	return pv_buf_append(b, data, len < room ? len : room, err);
}

int blob_read_at(const char *data_dir, struct packstore *store, const struct blob_loc *loc,
		 const unsigned char key[BLOB_KEY_BYTES], const unsigned char *expect_sha256,
		 blob_sink_fn sink, void *ctx, struct pv_error *err)
{
	if (loc->pack_id != 0)
		return pack_read(store, loc, key, expect_sha256, sink, ctx, err);
	return blob_read(data_dir, loc->id, key, expect_sha256, sink, ctx, err);
}

int blob_read_into_at(const char *data_dir, struct packstore *store, const struct blob_loc *loc,
		      const unsigned char key[BLOB_KEY_BYTES], const unsigned char expect_sha256[32],
		      struct pv_buf *b, struct pv_error *err)
{
	int r = loc->pack_id != 0
			? pack_read_into(store, loc, key, expect_sha256, b, err)
			: blob_read(data_dir, loc->id, key, expect_sha256, blob_sink_prefix, b, err);
	if (r < 0)
		pv_buf_reset(b);
	return r;
}

int blob_check_at(const char *data_dir, struct packstore *store, const struct blob_loc *loc,
		  struct pv_error *err)
{
	if (loc->pack_id != 0)
		return pack_check(store, loc, err);
	return blob_check_hash(data_dir, loc->id, err);
}

bool blob_present_at(const char *data_dir, struct packstore *store, const struct blob_loc *loc)
{
	char path[4096];
	struct stat st;
	if (loc->pack_id != 0)
		return pack_exists(store, loc->pack_id);
	blob_path(data_dir, loc->id, path, sizeof(path));
	return stat(path, &st) == 0;
}

int blob_open_at(struct packstore *store, const struct blob_loc *loc, struct blob_opened *o_r,
		 struct pv_error *err)
{
	*o_r = BLOB_OPENED_NONE;
	if (loc->pack_id == 0)
		return PV_OK;
	int r = pack_open(store, loc, &o_r->fd, &o_r->at, err);
	if (r == PV_OK && store->drop_after_read)
		o_r->drop = loc->length;
	return r;
}

int blob_read_opened(const char *data_dir, const struct blob_loc *loc, const struct blob_opened *o,
		     const unsigned char key[BLOB_KEY_BYTES], const unsigned char *expect_sha256,
		     blob_sink_fn sink, void *ctx, struct pv_error *err)
{
	if (loc->pack_id == 0)
		return blob_read(data_dir, loc->id, key, expect_sha256, sink, ctx, err);
	if (o->fd < 0)
		return pv_fail(err, PV_ERR, "blob %.16s...: its pack was not opened", loc->id);
	return pack_read_fd(o->fd, o->at, loc, key, expect_sha256, sink, ctx, err);
}

int blob_check_opened(const char *data_dir, const struct blob_loc *loc, const struct blob_opened *o,
		      struct pv_error *err)
{
	if (loc->pack_id == 0)
		return blob_check_hash(data_dir, loc->id, err);
	if (o->fd < 0)
		return pv_fail(err, PV_ERR, "blob %.16s...: its pack was not opened", loc->id);
	return pack_check_fd(o->fd, o->at, loc, err);
}

void blob_opened_close(struct blob_opened *o)
{
	if (o->fd >= 0) {
		if (o->drop > 0)
			pv_read_forget(o->fd, o->at, o->drop);
		close(o->fd);
	}
	*o = BLOB_OPENED_NONE;
}
