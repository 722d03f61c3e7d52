/* What the passes over a message's bytes that the archive's design
 * requires cost on this CPU, one thread, measured over real messages with
 * popvault's own functions (issue 12: a SHORT harvest or verify figure
 * must show the bound between it and its target).
 *
 *   bench_passes [-r REPS] [-m MB] DIR|FILE...
 *
 * DIR: every regular file in it but *.json (a genmail.py directory or the
 * bench's maildir template), in name order; files are read into memory
 * until the sample holds MB megabytes (default 64; at least one file).
 * Each pass runs REPS times (default 5) over the whole sample; its thread
 * CPU time (CLOCK_THREAD_CPUTIME_ID: user and system) is the best of them.
 *
 * Which invariant needs which pass (docs/ARCHITECTURE.md):
 *   exact bytes      the content's SHA-256            sha256
 *   hash-committed   the salted leaf commitment       blake2b (v3: of the
 *                    content's SHA-256, 32 bytes; store/leaf_commit.h)
 *   encrypted        XChaCha20-Poly1305 secretstream  push_* / pull_*
 *   pack integrity   the SHA-256 of the record        record_sha256_*
 * Compression (store/record_block.h: base64 lines packed to their 6-bit
 * values, other blocks zstd level 1 where that saves 1/16) is no
 * invariant's: it is timed apart (compress, decompress: popvault's own
 * record_block_encode, a copy of each block into its buffer included, and
 * record_block_decode), and every sum is given with it (_sealed: the
 * records as popvault seals them) and without it (_plain: every block
 * stored, the record format with compression off).
 * Composites, the project's own code paths: seal_hash (ingest_hash_*,
 * what the harvest's reader does), seal_record (record_begin, record_write
 * in 64 KiB pieces, record_end: the sealer thread, staging included),
 * seal (both, as ingest_write), check (record_open from a file in the page
 * cache with a sink hashing SHA-256, then the v3 commitment of it:
 * verify --full's attest_content per message). blake2b_bytes: BLAKE2b
 * over every byte, what a v2 leaf's commitment cost (in no sum). memcpy:
 * the bytes copied once (the least a
 * receive costs); write: the sealed records written into a file (page
 * cache, no sync); md5: the MD5 export computes of every message for the
 * load files (export.c pass1_digest's EVP_Digest), no invariant's.
 *
 * Prints one JSON object: per pass ms per message (mean over the sample)
 * and MB/s (plaintext MB per CPU second, whatever bytes the pass reads);
 * the sums of the seal side (per message) and the check side (per MB). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "archiver/archive/ingest.h"
#include "archiver/lib/blake2b.h"
#include "archiver/lib/random.h"
#include "archiver/lib/secretstream.h"
#include "archiver/lib/sha256.h"
#include "archiver/store/leaf_commit.h"
#include "archiver/store/record.h"
#include "archiver/store/record_block.h"

#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL
#define CHUNK_LAST 0x80000000u
#define PIECE (64 * 1024)  /* bytes handed to ingest at a time */
#define CHUNK_MAX (1 + RECORD_BLOCK + SS_ABYTES)

struct msg {
	unsigned char *plain;
	size_t len;
	unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
	char id[BLOB_ID_LEN + 1]; /* of its sealed record */
	size_t z_off, z_len;      /* its record as popvault seals it, in rec_z and the file */
	size_t p_off, p_len;      /* its record with every block stored, in rec_plain */
	size_t chunk0, chunks;    /* its chunks' plaintexts (mode byte | payload) */
};

struct chunk {
	size_t off, len; /* in chunk_data */
};

struct sample {
	struct msg *m;
	size_t n, bytes, max_len, files;
	char dir[64], rec_path[96], write_path[96];
	int fd, wfd; /* the sealed records; the write pass's file */
	unsigned char *rec_z, *rec_plain, *chunk_data;
	size_t rec_z_len, rec_plain_len, chunk_data_len;
	struct chunk *ch;
	size_t n_ch;
	unsigned char *scratch; /* max_len, and at least CHUNK_MAX */
	struct record_block_enc enc;
	unsigned char block[1 + RECORD_BLOCK];
	unsigned char *vals; /* record_block_decode's */
	ZSTD_DCtx *zd;
	struct pv_ss *ss;
	struct record_sealer *sealer;
};

static struct pv_error err;

_Noreturn static void die(const char *what)
{
	fprintf(stderr, "bench_passes: %s%s%s\n", what, err.msg[0] ? ": " : "", err.msg);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		die("out of memory");
	return p;
}

static double thread_cpu(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the sample ---- */

static bool add_file(struct sample *s, const char *path, size_t cap, size_t *room)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return true;
	}
	s->files++;
	size_t len = (size_t)st.st_size;
	if (s->n > 0 && s->bytes + len > cap) {
		close(fd);
		return false;
	}
	if (s->n == *room) {
		*room = *room ? *room * 2 : 1024;
		s->m = realloc(s->m, *room * sizeof(*s->m));
		if (s->m == NULL)
			die("out of memory");
	}
	struct msg *m = &s->m[s->n];
	memset(m, 0, sizeof(*m));
	m->plain = xmalloc(len);
	for (size_t got = 0; got < len;) {
		ssize_t k = read(fd, m->plain + got, len - got);
		if (k <= 0) {
			snprintf(err.msg, sizeof(err.msg), "%s", k < 0 ? strerror(errno) : "short file");
			die(path);
		}
		got += (size_t)k;
	}
	close(fd);
	m->len = len;
	s->bytes += len;
	if (len > s->max_len)
		s->max_len = len;
	s->n++;
	return true;
}

/* Not dot files, not genmail.py's index.json. */
static int wanted(const struct dirent *e)
{
	size_t l = strlen(e->d_name);
	return e->d_name[0] != '.' && !(l >= 5 && strcmp(e->d_name + l - 5, ".json") == 0);
}

/* Reads the files of args into s until cap bytes. */
static void load(struct sample *s, char **args, int n_args, size_t cap)
{
	size_t room = 0;
	bool more = true;
	char path[4096];
	for (int i = 0; i < n_args; i++) {
		struct stat st;
		if (stat(args[i], &st) < 0)
			die(args[i]);
		if (!S_ISDIR(st.st_mode)) {
			more = more && add_file(s, args[i], cap, &room);
			continue;
		}
		struct dirent **names;
		int k = scandir(args[i], &names, wanted, alphasort);
		if (k < 0)
			die(args[i]);
		for (int j = 0; j < k; j++) {
			snprintf(path, sizeof(path), "%s/%s", args[i], names[j]->d_name);
			if (more)
				more = add_file(s, path, cap, &room);
			else
				s->files += names[j]->d_type == DT_REG || names[j]->d_type == DT_UNKNOWN;
			free(names[j]);
		}
		free(names);
	}
	if (s->n == 0)
		die("no messages to read");
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(unsigned char *p, uint32_t w)
{
	p[0] = (unsigned char)(w >> 24);
	p[1] = (unsigned char)(w >> 16);
	p[2] = (unsigned char)(w >> 8);
	p[3] = (unsigned char)w;
}

static void grow(unsigned char **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	*cap = need * 2;
	*p = realloc(*p, *cap);
	if (*p == NULL)
		die("out of memory");
}

/* The records as popvault seals them, through its own sealer, in a file
 * (verify reads records from a pack file) and in memory; their chunks'
 * plaintexts pulled back (what the decoding and secretstream passes take). */
static void seal_sample(struct sample *s)
{
	size_t off = 0, cap = 0, ch_cap = 0;
	unsigned long long plen;
	unsigned char tag;
	if (record_sealer_new(s->dir, &s->sealer, &err) < 0)
		die("record_sealer_new");
	for (size_t i = 0; i < s->n; i++) {
		struct msg *m = &s->m[i];
		uint64_t len;
		pv_random_bytes(m->key, sizeof(m->key));
		pv_random_bytes(m->salt, sizeof(m->salt));
		if (record_begin(s->sealer, m->key, &err) < 0 ||
		    record_write(s->sealer, m->plain, m->len, &err) < 0 ||
		    record_end(s->sealer, m->id, &len, &err) < 0 || record_place(s->sealer, s->fd, &err) < 0)
			die("sealing the sample");
		m->z_off = off;
		m->z_len = (size_t)len;
		off += (size_t)len;
	}
	s->rec_z_len = off;
	s->rec_z = xmalloc(off);
	if (pread(s->fd, s->rec_z, off, 0) != (ssize_t)off)
		die("reading the sealed records back");
	for (size_t i = 0; i < s->n; i++) {
		struct msg *m = &s->m[i];
		const unsigned char *r = s->rec_z + m->z_off, *end = r + m->z_len;
		crypto_secretstream_xchacha20poly1305_state st;
		if (crypto_secretstream_xchacha20poly1305_init_pull(&st, r + 4, m->key) != 0)
			die("a sealed record's header");
		r += 4 + SS_HEADER;
		m->chunk0 = s->n_ch;
		for (bool last = false; !last && r + 4 <= end;) {
			uint32_t w = be32(r);
			size_t clen = w & ~CHUNK_LAST;
			last = (w & CHUNK_LAST) != 0;
			grow(&s->chunk_data, &cap, s->chunk_data_len + clen);
			if (pv_ss_pull(s->ss, &st, s->chunk_data + s->chunk_data_len, &plen, &tag, r + 4,
				       clen, &err) < 0)
				die("pulling a sealed record");
			if (s->n_ch == ch_cap) {
				ch_cap = ch_cap ? ch_cap * 2 : 4096;
				s->ch = realloc(s->ch, ch_cap * sizeof(*s->ch));
				if (s->ch == NULL)
					die("out of memory");
			}
			s->ch[s->n_ch++] = (struct chunk){s->chunk_data_len, (size_t)plen};
			s->chunk_data_len += (size_t)plen;
			r += 4 + clen;
		}
		m->chunks = s->n_ch - m->chunk0;
	}
}

/* The records with every block stored (compression off), same format. */
static void seal_plain(struct sample *s)
{
	size_t cap = 0, off = 0;
	unsigned char *in = xmalloc(1 + RECORD_BLOCK);
	unsigned long long clen;
	for (size_t i = 0; i < s->n; i++) {
		struct msg *m = &s->m[i];
		crypto_secretstream_xchacha20poly1305_state st;
		size_t done = 0;
		m->p_off = off;
		grow(&s->rec_plain, &cap, off + 4 + SS_HEADER);
		memcpy(s->rec_plain + off, RECORD_MAGIC, 4);
		crypto_secretstream_xchacha20poly1305_init_push(&st, s->rec_plain + off + 4, m->key);
		off += 4 + SS_HEADER;
		for (bool last = false; !last;) {
			size_t take = m->len - done > RECORD_BLOCK ? RECORD_BLOCK : m->len - done;
			last = done + take == m->len;
			in[0] = RECORD_STORED;
			memcpy(in + 1, m->plain + done, take);
			grow(&s->rec_plain, &cap, off + 4 + CHUNK_MAX);
			if (pv_ss_push(s->ss, &st, s->rec_plain + off + 4, &clen, in, 1 + take,
				       last ? SS_FINAL : 0, &err) < 0)
				die("sealing without compression");
			put_be32(s->rec_plain + off, (uint32_t)clen | (last ? CHUNK_LAST : 0));
			off += 4 + (size_t)clen;
			done += take;
		}
		m->p_len = off - m->p_off;
	}
	s->rec_plain_len = off;
	free(in);
}

/* ---- the passes ---- */

static void p_memcpy(struct sample *s)
{
	for (size_t i = 0; i < s->n; i++)
		memcpy(s->scratch, s->m[i].plain, s->m[i].len);
}

static void sha256_of(const unsigned char *p, size_t len, unsigned char out[32])
{
	struct pv_sha256 h;
	if (pv_sha256_init(&h, &err) < 0)
		die("sha256");
	pv_sha256_update(&h, p, len);
	pv_sha256_final(&h, out);
}

static void p_sha256(struct sample *s)
{
	unsigned char d[32];
	for (size_t i = 0; i < s->n; i++)
		sha256_of(s->m[i].plain, s->m[i].len, d);
}

/* The v3 commitment, from the content's SHA-256 (computed by the sha256 pass). */
static void p_blake2b(struct sample *s)
{
	unsigned char d[BLOB_HASH_BYTES], sha[BLOB_HASH_BYTES] = {0};
	for (size_t i = 0; i < s->n; i++)
		leaf_commit_of_sha256(s->m[i].salt, sha, d);
}

static void p_blake2b_bytes(struct sample *s)
{
	unsigned char d[BLOB_HASH_BYTES];
	for (size_t i = 0; i < s->n; i++) {
		struct pv_blake2b h;
		if (pv_blake2b_init(&h, s->m[i].salt, BLOB_SALT_BYTES, sizeof(d), &err) < 0)
			die("blake2b");
		pv_blake2b_update(&h, s->m[i].plain, s->m[i].len);
		pv_blake2b_final(&h, d);
	}
}

static void p_md5(struct sample *s)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned len;
	for (size_t i = 0; i < s->n; i++)
		if (EVP_Digest(s->m[i].plain, s->m[i].len, d, &len, EVP_md5(), NULL) != 1)
			die("md5");
}

static void p_compress(struct sample *s)
{
	size_t len;
	for (size_t i = 0; i < s->n; i++)
		for (size_t o = 0; o < s->m[i].len; o += RECORD_BLOCK) {
			size_t n = s->m[i].len - o > RECORD_BLOCK ? RECORD_BLOCK : s->m[i].len - o;
			memcpy(s->block + 1, s->m[i].plain + o, n);
			(void)record_block_encode(&s->enc, s->block, n, &len);
		}
}

static void p_decompress(struct sample *s)
{
	const unsigned char *m;
	size_t len;
	for (size_t c = 0; c < s->n_ch; c++) {
		const unsigned char *p = s->chunk_data + s->ch[c].off;
		if (p[0] != RECORD_STORED &&
		    record_block_decode(s->zd, p, s->ch[c].len, s->scratch, &s->vals, &m, &len, &err) < 0)
			die("decoding a block");
	}
}

/* XChaCha20-Poly1305 over every 64 KiB block of the message as it is. */
static void p_push_plain(struct sample *s)
{
	unsigned char header[SS_HEADER];
	unsigned long long clen;
	for (size_t i = 0; i < s->n; i++) {
		const struct msg *m = &s->m[i];
		crypto_secretstream_xchacha20poly1305_state st;
		crypto_secretstream_xchacha20poly1305_init_push(&st, header, m->key);
		size_t o = 0;
		for (bool last = false; !last;) {
			size_t take = m->len - o > RECORD_BLOCK ? RECORD_BLOCK : m->len - o;
			last = o + take == m->len;
			if (pv_ss_push(s->ss, &st, s->scratch, &clen, m->plain + o, take,
				       last ? SS_FINAL : 0, &err) < 0)
				die("push");
			o += take;
		}
	}
}

/* The same over the chunks popvault's records hold (compressed or not). */
static void p_push_sealed(struct sample *s)
{
	unsigned char header[SS_HEADER];
	unsigned long long clen;
	for (size_t i = 0; i < s->n; i++) {
		const struct msg *m = &s->m[i];
		crypto_secretstream_xchacha20poly1305_state st;
		crypto_secretstream_xchacha20poly1305_init_push(&st, header, m->key);
		for (size_t c = 0; c < m->chunks; c++) {
			const struct chunk *k = &s->ch[m->chunk0 + c];
			if (pv_ss_push(s->ss, &st, s->scratch, &clen, s->chunk_data + k->off, k->len,
				       c + 1 == m->chunks ? SS_FINAL : 0, &err) < 0)
				die("push");
		}
	}
}

static void pull_records(struct sample *s, const unsigned char *recs, bool sealed)
{
	unsigned long long plen;
	unsigned char tag;
	for (size_t i = 0; i < s->n; i++) {
		const struct msg *m = &s->m[i];
		const unsigned char *r = recs + (sealed ? m->z_off : m->p_off);
		const unsigned char *end = r + (sealed ? m->z_len : m->p_len);
		crypto_secretstream_xchacha20poly1305_state st;
		if (crypto_secretstream_xchacha20poly1305_init_pull(&st, r + 4, m->key) != 0)
			die("pull: header");
		for (r += 4 + SS_HEADER; r + 4 <= end;) {
			size_t clen = be32(r) & ~CHUNK_LAST;
			if (pv_ss_pull(s->ss, &st, s->scratch, &plen, &tag, r + 4, clen, &err) < 0)
				die("pull");
			r += 4 + clen;
		}
	}
}

static void p_pull_sealed(struct sample *s)
{
	pull_records(s, s->rec_z, true);
}

static void p_pull_plain(struct sample *s)
{
	pull_records(s, s->rec_plain, false);
}

static void p_record_sha256_sealed(struct sample *s)
{
	unsigned char d[32];
	for (size_t i = 0; i < s->n; i++)
		sha256_of(s->rec_z + s->m[i].z_off, s->m[i].z_len, d);
}

static void p_record_sha256_plain(struct sample *s)
{
	unsigned char d[32];
	for (size_t i = 0; i < s->n; i++)
		sha256_of(s->rec_plain + s->m[i].p_off, s->m[i].p_len, d);
}

/* The harvest's reader: ingest_hash_* (SHA-256 and the salted BLAKE2b). */
static void p_seal_hash(struct sample *s)
{
	struct ingest_hasher h;
	struct ingest_digest d;
	for (size_t i = 0; i < s->n; i++) {
		if (ingest_hash_begin(&h, &err) < 0)
			die("ingest_hash_begin");
		for (size_t o = 0; o < s->m[i].len; o += PIECE)
			ingest_hash_update(&h, s->m[i].plain + o,
					   s->m[i].len - o > PIECE ? PIECE : s->m[i].len - o);
		ingest_hash_end(&h, &d);
	}
}

static void seal_one(struct sample *s, const struct msg *m, struct ingest_hasher *h)
{
	char id[BLOB_ID_LEN + 1];
	uint64_t len;
	if ((h != NULL && ingest_hash_begin(h, &err) < 0) || record_begin(s->sealer, m->key, &err) < 0)
		die("record_begin");
	for (size_t o = 0; o < m->len; o += PIECE) {
		size_t n = m->len - o > PIECE ? PIECE : m->len - o;
		if (h != NULL)
			ingest_hash_update(h, m->plain + o, n);
		if (record_write(s->sealer, m->plain + o, n, &err) < 0)
			die("record_write");
	}
	if (record_end(s->sealer, id, &len, &err) < 0)
		die("record_end");
	if (h != NULL) {
		struct ingest_digest d;
		ingest_hash_end(h, &d);
	}
	record_abort(s->sealer); /* staged, never placed */
}

/* The harvest's sealer thread: record_begin, record_write, record_end. */
static void p_seal_record(struct sample *s)
{
	for (size_t i = 0; i < s->n; i++)
		seal_one(s, &s->m[i], NULL);
}

/* Both, as ingest_write does them. */
static void p_seal(struct sample *s)
{
	struct ingest_hasher h;
	for (size_t i = 0; i < s->n; i++)
		seal_one(s, &s->m[i], &h);
}

struct check_sink {
	struct pv_sha256 sha;
};

static int check_put(void *ctx, const unsigned char *d, size_t n, struct pv_error *e)
{
	struct check_sink *k = ctx;
	(void)e;
	pv_sha256_update(&k->sha, d, n);
	return 0;
}

/* verify --full's reading of one message (attest_content): record_open
 * from the file, its sink hashing SHA-256 and the commitment. */
static void p_check(struct sample *s)
{
	unsigned char sha[32], commit[BLOB_HASH_BYTES];
	for (size_t i = 0; i < s->n; i++) {
		const struct msg *m = &s->m[i];
		struct check_sink k;
		if (pv_sha256_init(&k.sha, &err) < 0)
			die("check: hash init");
		if (record_open(s->fd, m->z_off, m->z_len, m->id, m->key, NULL, check_put, &k,
				"bench record", &err) < 0)
			die("record_open");
		pv_sha256_final(&k.sha, sha);
		leaf_commit_of_sha256(m->salt, sha, commit);
	}
}

static void p_write(struct sample *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct msg *m = &s->m[i];
		if (pwrite(s->wfd, s->rec_z + m->z_off, m->z_len, (off_t)m->z_off) != (ssize_t)m->z_len)
			die("write");
	}
}

/* ---- timing and the report ---- */

struct pass {
	const char *name;
	void (*run)(struct sample *);
	double best, median;
	size_t bytes; /* what the pass reads */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void time_pass(struct sample *s, struct pass *p, int reps)
{
	double *t = xmalloc(sizeof(double) * (size_t)reps);
	for (int r = 0; r < reps; r++) {
		double t0 = thread_cpu();
		p->run(s);
		t[r] = thread_cpu() - t0;
	}
	qsort(t, (size_t)reps, sizeof(*t), cmp_double);
	p->best = t[0];
	p->median = t[reps / 2];
	free(t);
}

static const struct pass *find(const struct pass *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	fprintf(stderr, "bench_passes: no pass %s\n", name);
	exit(1);
}

/* CPU seconds of a sum of passes, names separated by '+'. */
static double sum_of(const struct pass *v, size_t n, const char *names)
{
	char buf[256], *save = NULL;
	double t = 0;
	snprintf(buf, sizeof(buf), "%s", names);
	for (char *w = strtok_r(buf, "+", &save); w != NULL; w = strtok_r(NULL, "+", &save))
		t += find(v, n, w)->best;
	return t;
}

static void print_sum(const struct sample *s, const struct pass *v, size_t n, const char *key,
		      const char *names, bool last)
{
	double t = sum_of(v, n, names);
	printf("\"%s\":{\"passes\":\"%s\",\"ms_per_msg\":%.4f,\"ms_per_mb\":%.4f,\"mb_s\":%.1f}%s", key,
	       names, 1e3 * t / (double)s->n, 1e3 * t / ((double)s->bytes / 1e6),
	       (double)s->bytes / 1e6 / t, last ? "" : ",");
}

static void cleanup(struct sample *s)
{
	char tmp[128];
	record_sealer_free(&s->sealer);
	record_thread_release();
	pv_ss_free(&s->ss);
	record_block_enc_free(&s->enc);
	ZSTD_freeDCtx(s->zd);
	free(s->vals);
	close(s->fd);
	close(s->wfd);
	unlink(s->rec_path);
	unlink(s->write_path);
	snprintf(tmp, sizeof(tmp), "%s/tmp", s->dir);
	rmdir(tmp);
	rmdir(s->dir);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_passes [-r REPS] [-m MB] DIR|FILE...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct sample s;
	int reps = 5, opt;
	long cap_mb = 64;
	char tmp[128];
	while ((opt = getopt(argc, argv, "r:m:")) != -1) {
		if (opt == 'r')
			reps = atoi(optarg);
		else if (opt == 'm')
			cap_mb = atol(optarg);
		else
			usage();
	}
	if (optind >= argc || reps < 1 || reps > 100 || cap_mb < 1 || cap_mb > 4096)
		usage();
	if (sodium_init() < 0)
		die("sodium_init");
	load(&s, argv + optind, argc - optind, (size_t)cap_mb * 1000000);

	const char *tdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(s.dir, sizeof(s.dir), "%.40s/pv-passes-XXXXXX", tdir);
	if (mkdtemp(s.dir) == NULL)
		die("mkdtemp");
	snprintf(tmp, sizeof(tmp), "%s/tmp", s.dir); /* the sealer's spill files */
	snprintf(s.rec_path, sizeof(s.rec_path), "%s/records", s.dir);
	snprintf(s.write_path, sizeof(s.write_path), "%s/written", s.dir);
	if (mkdir(tmp, 0700) < 0 ||
	    (s.fd = open(s.rec_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
	    (s.wfd = open(s.write_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		die(s.dir);
	s.scratch = xmalloc(s.max_len > CHUNK_MAX ? s.max_len : CHUNK_MAX);
	s.zd = ZSTD_createDCtx();
	if (s.zd == NULL || record_block_enc_init(&s.enc, &err) < 0)
		die("zstd");
	if (pv_ss_new(&s.ss, &err) < 0)
		die("pv_ss_new");
	seal_sample(&s);
	seal_plain(&s);

	struct pass v[] = {
		{"memcpy", p_memcpy, 0, 0, s.bytes},
		{"sha256", p_sha256, 0, 0, s.bytes},
		{"blake2b", p_blake2b, 0, 0, s.bytes},
		{"blake2b_bytes", p_blake2b_bytes, 0, 0, s.bytes},
		{"compress", p_compress, 0, 0, s.bytes},
		{"push_plain", p_push_plain, 0, 0, s.bytes},
		{"push_sealed", p_push_sealed, 0, 0, s.chunk_data_len},
		{"record_sha256_plain", p_record_sha256_plain, 0, 0, s.rec_plain_len},
		{"record_sha256_sealed", p_record_sha256_sealed, 0, 0, s.rec_z_len},
		{"pull_plain", p_pull_plain, 0, 0, s.rec_plain_len},
		{"pull_sealed", p_pull_sealed, 0, 0, s.rec_z_len},
		{"decompress", p_decompress, 0, 0, s.chunk_data_len},
		{"seal_hash", p_seal_hash, 0, 0, s.bytes},
		{"seal_record", p_seal_record, 0, 0, s.bytes},
		{"seal", p_seal, 0, 0, s.bytes},
		{"check", p_check, 0, 0, s.rec_z_len},
		{"write", p_write, 0, 0, s.rec_z_len},
		{"md5", p_md5, 0, 0, s.bytes},
	};
	size_t nv = sizeof(v) / sizeof(v[0]);
	for (size_t i = 0; i < nv; i++)
		time_pass(&s, &v[i], reps);

	double mb = (double)s.bytes / 1e6;
	printf("{\"messages\":%zu,\"files\":%zu,\"bytes\":%zu,\"mean_bytes\":%.0f,\"cap_mb\":%ld,"
	       "\"record_bytes_sealed\":%zu,\"record_bytes_plain\":%zu,\"reps\":%d,"
	       "\"time\":\"thread CPU, best of reps\",\"passes\":{",
	       s.n, s.files, s.bytes, (double)s.bytes / (double)s.n, cap_mb, s.rec_z_len,
	       s.rec_plain_len, reps);
	for (size_t i = 0; i < nv; i++)
		printf("\"%s\":{\"ms_per_msg\":%.4f,\"mb_s\":%.1f,\"median_ms_per_msg\":%.4f,"
		       "\"bytes\":%zu}%s",
		       v[i].name, 1e3 * v[i].best / (double)s.n, mb / v[i].best,
		       1e3 * v[i].median / (double)s.n, v[i].bytes, i + 1 < nv ? "," : "");
	printf("},\"seal\":{");
	print_sum(&s, v, nv, "required", "sha256+blake2b+push_plain+record_sha256_plain", false);
	print_sum(&s, v, nv, "design", "sha256+blake2b+compress+push_sealed+record_sha256_sealed", false);
	print_sum(&s, v, nv, "measured", "seal", true);
	printf("},\"check\":{");
	print_sum(&s, v, nv, "required", "record_sha256_plain+pull_plain+sha256+blake2b", false);
	print_sum(&s, v, nv, "design", "record_sha256_sealed+pull_sealed+decompress+sha256+blake2b", false);
	print_sum(&s, v, nv, "measured", "check", true);
	printf("}}\n");

	cleanup(&s);
	for (size_t i = 0; i < s.n; i++)
		free(s.m[i].plain);
	free(s.m);
	free(s.rec_z);
	free(s.rec_plain);
	free(s.chunk_data);
	free(s.ch);
	free(s.scratch);
	return 0;
}
