/* Pack files (store/pack.h) and PVB2 records (store/record.h), through a
 * harvest session's ingest: exact round trips whatever the size, one pack
 * per bucket, an interrupted harvest's torn tail ignored, reported and
 * dropped by the next writer, every alteration an integrity failure,
 * uncommitted records cut off, and packs held by a writer never removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>

#include "test_dispose_fixture.h"

#include "archiver/lib/hex.h"
#include "archiver/lib/sha256.h"
#include "archiver/store/pack.h"
#include "archiver/store/record.h"

/* A message of len bytes: text where i % 3 == 0 blocks, random bytes in
 * the others (so some blocks compress and some are stored as they come). */
static unsigned char *make_message(size_t len, unsigned seed)
{
	unsigned char *m = malloc(len + 1);
	const char *text = "Subject: pack test\r\n\r\nbody line .\r\n";
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x = x * 1664525u + 1013904223u;
		m[i] = (i / RECORD_BLOCK) % 3 == 0 ? (unsigned char)text[i % 35] : (unsigned char)(x >> 24);
	}
	return m;
}

static int read_into(struct fx *f, int64_t id, struct pv_buf *b)
{
	struct stored_message m = fx_load(f, id);
	struct pv_error err;
	pv_buf_reset(b);
	return message_read(f->ar, &m, fx_sink_buf, b, &err);
}

static void assert_reads_back(struct fx *f, int64_t id, const unsigned char *msg, size_t len)
{
	struct pv_buf b;
	pv_buf_init(&b, 8 << 20);
	assert_int_equal(read_into(f, id, &b), PV_OK);
	assert_int_equal(b.len, len);
	assert_memory_equal(len ? b.data : (unsigned char *)"", msg, len);
	pv_buf_free(&b);
}

struct scan {
	int damage, harmless;
	char last[512];
};

static void on_problem(void *ctx, bool harmless, const char *msg)
{
	struct scan *s = ctx;
	if (harmless)
		s->harmless++;
	else
		s->damage++;
	snprintf(s->last, sizeof(s->last), "%s", msg);
}

static struct scan scan(struct fx *f)
{
	struct scan s = {0};
	struct pack_scan_stats st;
	struct pv_error err;
	fx_must(pack_scan(f->dir, f->ar->cat->conn, 0, on_problem, &s, &st, &err), &err, "pack_scan");
	return s;
}

static int count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d != NULL && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n;
}

static void pack_file(struct fx *f, int64_t id, char *path, size_t n)
{
	struct stored_message m = fx_load(f, id);
	pack_path(f->dir, m.loc.pack_id, path, n);
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void test_round_trip_is_byte_exact_whatever_the_size(void **state)
{
	(void)state;
	struct fx f;
	/* The two largest spill to one unnamed file in DIR/tmp, the second
	 * over what the longer first left there; the last one is staged in
	 * memory again. */
	static const size_t sizes[] = {0, 1, 100, RECORD_BLOCK, RECORD_BLOCK + 1, 200000,
				       3 * 1024 * 1024, 1536 * 1024 + 7, 100};
	enum { N = sizeof(sizes) / sizeof(sizes[0]), BIG = 6 };
	unsigned char *msgs[N];
	int64_t ids[N];
	char path[300];
	fx_init(&f);
	for (size_t i = 0; i < N; i++)
		msgs[i] = make_message(sizes[i], (unsigned)i);
	fx_archive_session(&f, msgs, sizes, N, ids);
	for (size_t i = 0; i < N; i++) {
		assert_reads_back(&f, ids[i], msgs[i], sizes[i]);
		struct stored_message m = fx_load(&f, ids[i]);
		assert_true(m.loc.pack_id > 0);
		/* records lie end to end, the first after the pack header */
		if (i == 0)
			assert_int_equal(m.loc.offset, PACK_HEADER_BYTES);
		else
			assert_int_equal(m.loc.offset, fx_load(&f, ids[i - 1]).loc.offset +
							       fx_load(&f, ids[i - 1]).loc.length);
	}
	struct scan s = scan(&f);
	assert_int_equal(s.damage + s.harmless, 0);
	snprintf(path, sizeof(path), "%s/tmp", f.dir);
	assert_int_equal(count_dir(path), 0); /* the spill file is gone */
	/* one bucket (the default policy), one pack */
	snprintf(path, sizeof(path), "%s/packs", f.dir);
	assert_int_equal(count_dir(path), 1);
	/* random blocks are stored as they came, text blocks compressed */
	struct stored_message big = fx_load(&f, ids[BIG]);
	assert_true(big.loc.length < sizes[BIG]);
	assert_true(big.loc.length > sizes[BIG] / 3 * 2);
	for (size_t i = 0; i < N; i++)
		free(msgs[i]);
	fx_free(&f);
}

/* A message carrying one base64 attachment of n bytes (MIME's 76-column
 * lines): random bytes, or English text when text. */
static unsigned char *make_attachment_message(size_t n, bool text, size_t *len_r)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char *words[] = {"the ", "archive ", "keeps ", "every ", "message ", "sealed, ",
				      "as ", "received; ", "retention ", "holds "};
	const char *w = "";
	const char *head = "Subject: attachment\r\nContent-Type: application/octet-stream\r\n"
			   "Content-Transfer-Encoding: base64\r\n\r\n";
	unsigned char *m = malloc(strlen(head) + n / 3 * 4 + n / 57 * 2 + 16);
	size_t k = strlen(head), col = 0;
	uint32_t x = 7;
	memcpy(m, head, k);
	for (size_t i = 0; i + 3 <= n; i += 3) {
		uint32_t v = 0;
		for (int j = 0; j < 3; j++) {
			x = x * 1664525u + 1013904223u;
			if (text && *w == '\0')
				w = words[(x >> 16) % 10]; /* words in no order: no long repeats */
			v = v << 8 | (text ? (unsigned char)*w++ : (x >> 24));
		}
		for (int j = 3; j >= 0; j--)
			m[k++] = (unsigned char)alpha[(v >> (6 * j)) & 63];
		if ((col += 4) == 76) {
			m[k++] = '\r';
			m[k++] = '\n';
			col = 0;
		}
	}
	m[k++] = '\r';
	m[k++] = '\n';
	*len_r = k;
	return m;
}

static void test_base64_attachments_are_packed_and_read_back_exactly(void **state)
{
	(void)state;
	struct fx f;
	unsigned char *msgs[2];
	size_t lens[2];
	int64_t ids[2];
	fx_init(&f);
	msgs[0] = make_attachment_message(600000, false, &lens[0]);
	msgs[1] = make_attachment_message(600000, true, &lens[1]);
	fx_archive_session(&f, msgs, lens, 2, ids);
	for (size_t i = 0; i < 2; i++)
		assert_reads_back(&f, ids[i], msgs[i], lens[i]);
	/* Random bytes: their 6-bit values, 3/4 of the characters (0.735 of
	 * the message; zstd's Huffman codes left 0.758); text: the values
	 * compressed (0.134; zstd of the characters left 0.186). */
	struct stored_message rnd = fx_load(&f, ids[0]), txt = fx_load(&f, ids[1]);
	assert_true(rnd.loc.length < lens[0] * 745 / 1000);
	assert_true(rnd.loc.length > lens[0] * 700 / 1000);
	assert_true(txt.loc.length < lens[1] * 16 / 100);
	struct scan s = scan(&f);
	assert_int_equal(s.damage + s.harmless, 0);
	free(msgs[0]);
	free(msgs[1]);
	fx_free(&f);
}

static void test_one_pack_per_bucket(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	/* "tiny" is decided by the size alone (ingest then skips the parse),
	 * "long" needs the subject. */
	fx_policy_store(&f, "rule \"tiny\": retain 20y when size < 20\n"
			    "rule \"long\": retain 10y when subject ~ \"keep*\"\n"
			    "default: retain 30d\n");
	const char *a = "Subject: keep me\r\n\r\nbody\r\n", *b = "Subject: other\r\n\r\nbody\r\n";
	const char *c = "Subject: keep\r\n\r\n";
	unsigned char *msgs[4] = {(unsigned char *)a, (unsigned char *)b, (unsigned char *)a,
				  (unsigned char *)c};
	size_t lens[4] = {strlen(a), strlen(b), strlen(a), strlen(c)};
	int64_t ids[4];
	fx_archive_session(&f, msgs, lens, 4, ids);
	struct stored_message m0 = fx_load(&f, ids[0]), m1 = fx_load(&f, ids[1]),
			      m2 = fx_load(&f, ids[2]), m3 = fx_load(&f, ids[3]);
	assert_string_equal(m0.class_name, "long");
	assert_string_equal(m1.class_name, "default");
	assert_string_equal(m3.class_name, "tiny");
	assert_reads_back(&f, ids[3], msgs[3], lens[3]);
	assert_int_not_equal(m0.bucket_id, m1.bucket_id);
	assert_int_equal(m0.loc.pack_id, m2.loc.pack_id);
	assert_int_not_equal(m0.loc.pack_id, m1.loc.pack_id);
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT bucket_id FROM packs WHERE id = %lld", (long long)m1.loc.pack_id);
	assert_int_equal(fx_int(&f, sql), m1.bucket_id);
	/* the header names the bucket */
	char path[300];
	unsigned char head[PACK_HEADER_BYTES];
	pack_path(f.dir, m1.loc.pack_id, path, sizeof(path));
	int fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, head, sizeof(head)), (ssize_t)sizeof(head));
	close(fd);
	assert_memory_equal(head, PACK_MAGIC, 8);
	assert_int_equal(head[15], (unsigned char)m1.bucket_id);
	assert_reads_back(&f, ids[1], msgs[1], lens[1]);
	fx_free(&f);
}

/* Bytes after the last committed record (a harvest killed after writing,
 * before its catalog commit): ignored by readers, reported by verify as
 * harmless, dropped by the next writer into that pack. */
/* Ingest keeps a message's head for the policy's facts only when the
 * policy tests content, so a message is decided by the policy it began
 * under: one stored while it arrives, a commit between, decides the next
 * message, not that one (whose head was not kept), and no error. */
static void test_policy_of_a_message_is_the_one_it_began_under(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct ingest *in;
	const struct ingest_msg *done;
	struct ingest_msg im;
	size_t n_done;
	bool before;
	int64_t ids[3];
	const char *msg = "Subject: keep me\r\n\r\nbody\r\n";
	size_t len = strlen(msg), half = len / 2;
	fx_init(&f);
	fx_policy_store(&f, "default: retain 30d\n");
	fx_must(ingest_new(f.ar, &f.acct, &in, &err), &err, "ingest_new");
	fx_must(ingest_begin(in, &err), &err, "begin 1");
	fx_must(ingest_write(in, msg, len, &err), &err, "write 1");
	fx_must(ingest_end(in, 1, "u-1", 1700000000, &before, &im, &err), &err, "end 1");
	fx_must(ingest_begin(in, &err), &err, "begin 2");
	fx_must(ingest_write(in, msg, half, &err), &err, "write 2a");
	fx_policy_store(&f, "rule \"long\": retain 10y when subject ~ \"keep*\"\n"
			    "default: retain 30d\n");
	fx_must(ingest_group_commit(in, NULL, NULL, &done, &n_done, &err), &err, "commit 1");
	assert_int_equal(n_done, 1);
	ids[0] = done[0].message_id;
	fx_must(ingest_write(in, msg + half, len - half, &err), &err, "write 2b");
	fx_must(ingest_end(in, 2, "u-2", 1700000000, &before, &im, &err), &err, "end 2");
	fx_must(ingest_begin(in, &err), &err, "begin 3");
	fx_must(ingest_write(in, msg, len, &err), &err, "write 3");
	fx_must(ingest_end(in, 3, "u-3", 1700000000, &before, &im, &err), &err, "end 3");
	fx_must(ingest_group_commit(in, NULL, NULL, &done, &n_done, &err), &err, "commit 2");
	assert_int_equal(n_done, 2);
	ids[1] = done[0].message_id;
	ids[2] = done[1].message_id;
	ingest_free(&in);
	struct stored_message m0 = fx_load(&f, ids[0]), m1 = fx_load(&f, ids[1]),
			      m2 = fx_load(&f, ids[2]);
	assert_string_equal(m0.class_name, "default");
	assert_string_equal(m1.class_name, "default"); /* begun under the first policy */
	assert_string_equal(m2.class_name, "long");
	assert_int_equal(m1.policy_version + 1, m2.policy_version);
	assert_reads_back(&f, ids[1], (const unsigned char *)msg, len);
	fx_free(&f);
}

static void test_torn_tail_is_ignored_reported_and_dropped(void **state)
{
	(void)state;
	struct fx f;
	char path[300];
	unsigned char *msgs[2] = {make_message(5000, 1), make_message(90000, 2)};
	size_t lens[2] = {5000, 90000};
	int64_t ids[2];
	fx_init(&f);
	fx_archive_session(&f, msgs, lens, 2, ids);
	pack_file(&f, ids[0], path, sizeof(path));
	off_t committed = file_size(path);

	/* a whole record never committed, then half of one */
	struct stored_message m1 = fx_load(&f, ids[1]);
	unsigned char *rec = malloc(m1.loc.length);
	int fd = open(path, O_RDWR | O_APPEND);
	assert_int_equal(pread(fd, rec, m1.loc.length, (off_t)m1.loc.offset), (ssize_t)m1.loc.length);
	assert_int_equal(write(fd, rec, m1.loc.length), (ssize_t)m1.loc.length);
	assert_int_equal(write(fd, rec, m1.loc.length / 2), (ssize_t)(m1.loc.length / 2));
	close(fd);
	free(rec);

	assert_reads_back(&f, ids[0], msgs[0], lens[0]);
	assert_reads_back(&f, ids[1], msgs[1], lens[1]);
	struct scan s = scan(&f);
	assert_int_equal(s.damage, 0);
	assert_int_equal(s.harmless, 1);
	assert_non_null(strstr(s.last, "1 whole record never committed, then a torn one"));

	/* the next harvest drops the tail and appends after the last record */
	unsigned char *third[1] = {make_message(3000, 3)};
	size_t len3[1] = {3000};
	int64_t id3[1];
	fx_archive_session(&f, third, len3, 1, id3);
	assert_int_equal(fx_load(&f, id3[0]).loc.offset, (uint64_t)committed);
	assert_int_equal(fx_load(&f, id3[0]).loc.pack_id, fx_load(&f, ids[0]).loc.pack_id);
	s = scan(&f);
	assert_int_equal(s.damage + s.harmless, 0);
	assert_reads_back(&f, id3[0], third[0], len3[0]);
	assert_reads_back(&f, ids[1], msgs[1], lens[1]);
	free(third[0]);
	free(msgs[0]);
	free(msgs[1]);
	fx_free(&f);
}

static void flip(const char *path, uint64_t off, unsigned char mask)
{
	unsigned char c;
	int fd = open(path, O_RDWR);
	assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
	c ^= mask;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

static void test_altered_record_is_an_integrity_failure(void **state)
{
	(void)state;
	struct fx f;
	char path[300];
	struct pv_error err;
	struct pv_buf b;
	unsigned char *msgs[3] = {make_message(4000, 1), make_message(150000, 2),
				  make_message(7000, 3)};
	size_t lens[3] = {4000, 150000, 7000};
	int64_t ids[3];
	fx_init(&f);
	pv_buf_init(&b, 1 << 20);
	fx_archive_session(&f, msgs, lens, 3, ids);
	pack_file(&f, ids[1], path, sizeof(path));
	struct stored_message m = fx_load(&f, ids[1]);

	/* one byte of ciphertext: the record's hash no longer matches */
	flip(path, m.loc.offset + m.loc.length / 2, 0x01);
	assert_int_equal(read_into(&f, ids[1], &b), PV_EINTEGRITY);
	assert_int_equal(blob_check_at(f.dir, f.ar->packs, &m.loc, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "does not match its hash"));
	assert_int_equal(read_into(&f, ids[0], &b), PV_OK); /* the neighbours are intact */
	assert_int_equal(read_into(&f, ids[2], &b), PV_OK);
	flip(path, m.loc.offset + m.loc.length / 2, 0x01);
	assert_int_equal(read_into(&f, ids[1], &b), PV_OK);

	/* the pack cut inside the last record */
	struct stored_message m2 = fx_load(&f, ids[2]);
	assert_int_equal(truncate(path, (off_t)(m2.loc.offset + m2.loc.length - 10)), 0);
	assert_int_equal(read_into(&f, ids[2], &b), PV_EINTEGRITY);
	assert_int_equal(blob_check_at(f.dir, f.ar->packs, &m2.loc, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "cut short"));
	struct scan s = scan(&f);
	assert_int_equal(s.damage, 1);
	assert_non_null(strstr(s.last, "shorter than its records"));

	/* a catalog row pointing at another message's record */
	char sql[200];
	snprintf(sql, sizeof(sql), "UPDATE messages SET pack_offset = %llu, pack_length = %llu WHERE id = %lld",
		 (unsigned long long)fx_load(&f, ids[0]).loc.offset,
		 (unsigned long long)fx_load(&f, ids[0]).loc.length, (long long)ids[1]);
	fx_must(catalog_exec(f.ar->cat->db, sql, &err), &err, "update");
	assert_int_equal(read_into(&f, ids[1], &b), PV_EINTEGRITY);

	/* the pack deleted: missing without a disposal record */
	assert_int_equal(unlink(path), 0);
	m = fx_load(&f, ids[0]);
	assert_false(blob_present_at(f.dir, f.ar->packs, &m.loc));
	assert_int_equal(blob_check_at(f.dir, f.ar->packs, &m.loc, &err), PV_ENOTFOUND);
	assert_int_equal(message_read(f.ar, &m, fx_sink_buf, &b, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "missing without a disposal record"));
	pv_buf_free(&b);
	for (int i = 0; i < 3; i++)
		free(msgs[i]);
	fx_free(&f);
}

/* message_read_into (the indexer's read) does not hash the record's id
 * first; what it takes must still be exactly what the catalog committed:
 * a changed byte fails its chunk's authentication, another message's
 * record fails under this message's key, a message that does not hash to
 * the catalog's SHA-256 is refused. The buffer is emptied every time,
 * also when the chunks before a bad one had reached it. */
static void test_a_read_into_a_buffer_takes_only_what_was_committed(void **state)
{
	(void)state;
	struct fx f;
	char path[300];
	struct pv_error err;
	struct pv_buf b;
	unsigned char *msgs[3] = {make_message(4000, 1), make_message(300000, 2),
				  make_message(7000, 3)};
	size_t lens[3] = {4000, 300000, 7000};
	int64_t ids[3];
	fx_init(&f);
	pv_buf_init(&b, 1 << 20);
	fx_archive_session(&f, msgs, lens, 3, ids);
	pack_file(&f, ids[1], path, sizeof(path));
	struct stored_message m = fx_load(&f, ids[1]);

	fx_must(message_read_into(f.ar, &m, &b, &err), &err, "read");
	assert_int_equal(b.len, lens[1]);
	assert_memory_equal(b.data, msgs[1], lens[1]);

	/* a byte of the last chunk: the ones before it reached the buffer */
	flip(path, m.loc.offset + m.loc.length - 20, 0x01);
	assert_int_equal(message_read_into(f.ar, &m, &b, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "authentication failed"));
	assert_int_equal(b.len, 0);
	flip(path, m.loc.offset + m.loc.length - 20, 0x01);
	fx_must(message_read_into(f.ar, &m, &b, &err), &err, "read again");
	assert_int_equal(b.len, lens[1]);

	/* the catalog's SHA-256 of the message is not this message's */
	struct stored_message other = m;
	other.sha256[0] ^= 1;
	assert_int_equal(message_read_into(f.ar, &other, &b, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "plaintext hash differs from the catalog"));
	assert_int_equal(b.len, 0);

	/* the row pointing at another message's record */
	other = m;
	other.loc.offset = fx_load(&f, ids[0]).loc.offset;
	other.loc.length = fx_load(&f, ids[0]).loc.length;
	assert_int_equal(message_read_into(f.ar, &other, &b, &err), PV_EINTEGRITY);
	assert_int_equal(b.len, 0);

	pv_buf_free(&b);
	for (int i = 0; i < 3; i++)
		free(msgs[i]);
	fx_free(&f);
}

/* The last-chunk mark in the clear must agree with the FINAL tag inside:
 * a record made to look shorter or longer fails even with a fixed hash. */
static void test_last_chunk_mark_is_checked(void **state)
{
	(void)state;
	struct fx f;
	char path[300];
	struct pv_error err;
	unsigned char key[BLOB_KEY_BYTES] = {7};
	unsigned char *msg = make_message(3 * RECORD_BLOCK, 9);
	struct record_sealer *s;
	char id[BLOB_ID_LEN + 1];
	uint64_t len;
	fx_init(&f);
	fx_must(record_sealer_new(f.dir, &s, &err), &err, "sealer");
	fx_must(record_begin(s, key, &err), &err, "begin");
	fx_must(record_write(s, msg, 3 * RECORD_BLOCK, &err), &err, "write");
	fx_must(record_end(s, id, &len, &err), &err, "end");
	snprintf(path, sizeof(path), "%s/rec", f.dir);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	fx_must(record_place(s, fd, &err), &err, "place");
	record_sealer_free(&s);
	uint64_t measured;
	assert_int_equal(record_measure(fd, 0, len, &measured), PV_OK);
	assert_int_equal(measured, len);
	assert_int_equal(record_open(fd, 0, len, id, key, NULL, NULL, NULL, "rec", &err), PV_OK);
	/* without an id to hash it against, record_open reads nothing */
	assert_int_equal(record_open(fd, 0, len, NULL, key, NULL, NULL, NULL, "rec", &err), PV_ERR);
	assert_non_null(strstr(err.msg, "no record id"));
	/* mark the first chunk as the last: record_measure sees a shorter record */
	close(fd);
	flip(path, 4 + 24, 0x80);
	fd = open(path, O_RDONLY);
	assert_int_equal(record_measure(fd, 0, len, &measured), PV_OK);
	assert_true(measured < len);
	/* the hash catches it first; with the hash recomputed, the tag does */
	struct pv_sha256 h;
	unsigned char *all = malloc(len), digest[32];
	char hex[65];
	assert_int_equal(pread(fd, all, len, 0), (ssize_t)len);
	fx_must(pv_sha256_init(&h, &err), &err, "sha");
	pv_sha256_update(&h, all, measured);
	pv_sha256_final(&h, digest);
	pv_hex(digest, 32, hex);
	assert_int_equal(record_open(fd, 0, len, id, key, NULL, NULL, NULL, "rec", &err), PV_EINTEGRITY);
	assert_int_equal(record_open(fd, 0, measured, hex, key, NULL, NULL, NULL, "rec", &err),
			 PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "disagree"));
	close(fd);
	free(all);
	free(msg);
	fx_free(&f);
}

static int fail_extra(void *ctx, const struct ingest_msg *batch, size_t n, struct pv_error *err)
{
	(void)ctx;
	(void)batch;
	(void)n;
	return pv_fail(err, PV_ERR, "the caller's part failed");
}

static void test_uncommitted_records_are_cut_off(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct ingest *in;
	struct ingest_msg im;
	bool before;
	char path[300];
	unsigned char *m1[1] = {make_message(6000, 1)};
	size_t l1[1] = {6000};
	int64_t id1[1];
	fx_init(&f);
	fx_archive_session(&f, m1, l1, 1, id1);
	pack_file(&f, id1[0], path, sizeof(path));
	off_t committed = file_size(path);

	/* discarded (the connection broke before the commit) */
	fx_must(ingest_new(f.ar, &f.acct, &in, &err), &err, "ingest_new");
	for (int i = 0; i < 3; i++) {
		fx_must(ingest_begin(in, &err), &err, "begin");
		fx_must(ingest_write(in, m1[0], 6000 - (size_t)i, &err), &err, "write");
		fx_must(ingest_end(in, 1, i == 0 ? "x1" : i == 1 ? "x2" : "x3", 1700000000, &before, &im,
				   &err), &err, "end");
	}
	assert_true(file_size(path) > committed);
	ingest_discard(in);
	assert_int_equal(file_size(path), committed);

	/* a commit whose transaction fails */
	fx_must(ingest_begin(in, &err), &err, "begin");
	fx_must(ingest_write(in, m1[0], 5000, &err), &err, "write");
	fx_must(ingest_end(in, 1, "x4", 1700000000, &before, &im, &err), &err, "end");
	assert_int_equal(ingest_group_commit(in, fail_extra, NULL, NULL, NULL, &err), PV_ERR);
	assert_int_equal(file_size(path), committed);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM messages"), 1);
	ingest_free(&in);
	struct scan s = scan(&f);
	assert_int_equal(s.damage + s.harmless, 0);
	free(m1[0]);
	fx_free(&f);
}

/* The same message archived twice in one batch, or again later: kept once. */
static void test_archived_before_is_not_stored_twice(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct ingest *in;
	struct ingest_msg im;
	bool before;
	const char *raw = "Subject: twice\r\n\r\nsame\r\n";
	fx_init(&f);
	fx_must(ingest_new(f.ar, &f.acct, &in, &err), &err, "ingest_new");
	for (int round = 0; round < 3; round++) {
		fx_must(ingest_begin(in, &err), &err, "begin");
		fx_must(ingest_write(in, raw, strlen(raw), &err), &err, "write");
		fx_must(ingest_end(in, 1, "same-uidl", 1700000000, &before, &im, &err), &err, "end");
		assert_int_equal(before, round > 0);
		if (round == 1)
			fx_must(ingest_group_commit(in, NULL, NULL, NULL, NULL, &err), &err, "commit");
	}
	ingest_free(&in);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM messages"), 1);
	struct scan s = scan(&f);
	assert_int_equal(s.damage + s.harmless, 0);
	fx_free(&f);
}

/* Two writers never share a pack; disposal never removes one a writer holds. */
static void test_writers_and_disposal_respect_the_lock(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct ingest *a, *b;
	struct ingest_msg im;
	bool before;
	const struct ingest_msg *done;
	size_t n_done;
	int64_t removed, refused;
	const char *raw = "Subject: lock\r\n\r\nbody\r\n";
	fx_init(&f);
	fx_must(ingest_new(f.ar, &f.acct, &a, &err), &err, "a");
	fx_must(ingest_new(f.ar, &f.acct, &b, &err), &err, "b");
	fx_must(ingest_begin(a, &err), &err, "begin");
	fx_must(ingest_write(a, raw, strlen(raw), &err), &err, "write");
	fx_must(ingest_end(a, 1, "a1", 1700000000, &before, &im, &err), &err, "end");
	fx_must(ingest_begin(b, &err), &err, "begin");
	fx_must(ingest_write(b, raw, strlen(raw) - 1, &err), &err, "write");
	fx_must(ingest_end(b, 1, "b1", 1700000000, &before, &im, &err), &err, "end");
	/* a's pack has no committed message yet, but a holds it */
	fx_must(pack_remove_unused(f.ar->packs, f.ar->cat->conn, &removed, &refused, &err), &err, "remove");
	assert_int_equal(removed, 0);
	fx_must(ingest_group_commit(a, NULL, NULL, &done, &n_done, &err), &err, "commit a");
	int64_t pa = fx_load(&f, done[0].message_id).loc.pack_id;
	fx_must(ingest_group_commit(b, NULL, NULL, &done, &n_done, &err), &err, "commit b");
	int64_t pb = fx_load(&f, done[0].message_id).loc.pack_id;
	assert_int_not_equal(pa, pb);
	ingest_free(&a);
	ingest_free(&b);
	/* all messages of pack a disposed of, and no writer: removed whole */
	char sql[120];
	snprintf(sql, sizeof(sql), "UPDATE messages SET disposed_at = 1, blob = NULL, wrapped_key = NULL"
		 " WHERE pack_id = %lld", (long long)pa);
	fx_must(catalog_exec(f.ar->cat->db, sql, &err), &err, "dispose");
	fx_must(pack_remove_unused(f.ar->packs, f.ar->cat->conn, &removed, &refused, &err), &err, "remove");
	assert_int_equal(removed, 1);
	assert_false(pack_exists(f.ar->packs, pa));
	assert_true(pack_exists(f.ar->packs, pb));
	snprintf(sql, sizeof(sql), "SELECT removed_at IS NOT NULL FROM packs WHERE id = %lld", (long long)pa);
	assert_int_equal(fx_int(&f, sql), 1);
	fx_free(&f);
}

/* A session that ends (or is killed) before its new pack's first commit
 * leaves a pack with a catalog row and a header but no message: removed
 * once no writer holds it, never sealed or stored. */
/* pack_remove_empty, and what it wrote to stderr (said, NUL-terminated). */
static int64_t remove_empty_saying(struct fx *f, char *said, size_t cap)
{
	struct pv_error err;
	int64_t removed;
	struct fx_stderr c;
	fx_stderr_capture(&c);
	int r = pack_remove_empty(f->ar->packs, f->ar->cat->conn, &removed, &err);
	fx_stderr_release(&c, said, cap);
	fx_must(r, &err, "remove");
	return removed;
}

static void test_a_pack_that_never_got_a_message_is_removed(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct ingest *a;
	struct ingest_msg im;
	bool before;
	char packs[4096];
	const char *raw = "Subject: empty\r\n\r\nbody\r\n";
	fx_init(&f);
	snprintf(packs, sizeof(packs), "%s/packs", f.dir);
	fx_must(ingest_new(f.ar, &f.acct, &a, &err), &err, "a");
	fx_must(ingest_begin(a, &err), &err, "begin");
	fx_must(ingest_write(a, raw, strlen(raw), &err), &err, "write");
	fx_must(ingest_end(a, 1, "e1", 1700000000, &before, &im, &err), &err, "end");
	assert_int_equal(count_dir(packs), 1);
	/* held by its writer: a live session's, left alone without a warning
	 * (another account's session end sees it so) */
	char said[1024];
	assert_int_equal(remove_empty_saying(&f, said, sizeof(said)), 0);
	assert_string_equal(said, "");
	assert_int_equal(count_dir(packs), 1);
	ingest_free(&a); /* no commit: the record is cut off, the pack empty */
	assert_int_equal(count_dir(packs), 1);
	ingest_settle_packs(f.ar); /* what the session's end does */
	assert_int_equal(count_dir(packs), 0);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM packs WHERE removed_at IS NULL"), 0);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM packs WHERE sealed_at IS NOT NULL"), 0);
	fx_free(&f);
}

/* What the writer's connection commits about packs: the ids inserted
 * since its last commit, and at each commit whether their files exist
 * and are locked by someone else (the writer: a second open file cannot
 * take the lock). */
struct pack_rows {
	const char *dir;
	int64_t pending[8];
	int n, committed, unheld;
};

static void on_row_change(void *ctx, int op, const char *db_name, const char *table,
			  sqlite3_int64 rowid)
{
	struct pack_rows *s = ctx;
	(void)db_name;
	if (op == SQLITE_INSERT && strcmp(table, "packs") == 0 && s->n < 8)
		s->pending[s->n++] = rowid;
}

static int on_commit_of_rows(void *ctx)
{
	struct pack_rows *s = ctx;
	for (int i = 0; i < s->n; i++) {
		char path[4096];
		pack_path(s->dir, s->pending[i], path, sizeof(path));
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		bool held = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
		if (fd >= 0)
			close(fd);
		s->committed++;
		s->unheld += !held;
	}
	s->n = 0;
	return 0; /* the commit goes on */
}

static void on_rollback_of_rows(void *ctx)
{
	((struct pack_rows *)ctx)->n = 0;
}

/* Another session's end (pack_remove_empty) or a disposal run removes
 * packs with no message that no writer holds; a row it could see before
 * its file existed and was locked, it took for such a pack and marked
 * removed under the writer (a pack never uploaded, in s3_migrate.t under
 * load). So a new pack's row is committed only with its file created and
 * locked: checked at every commit of the writer's connection. A file left
 * at the id by a writer that died before its commit is replaced, and a
 * pack file with no record and no row is a harmless finding of verify. */
static void test_a_new_pack_is_recorded_only_once_its_file_is_held(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	char path[4096];
	fx_init(&f);
	char packs[sizeof(f.dir) + 8];
	snprintf(packs, sizeof(packs), "%s/packs", f.dir);
	assert_int_equal(mkdir(packs, 0700), 0);
	pack_path(f.dir, 1, path, sizeof(path)); /* the first id SQLite hands out */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "left by a dead writer", 21), 21);
	close(fd);

	struct pack_rows rows = {.dir = f.dir};
	sqlite3_update_hook(f.ar->cat->db, on_row_change, &rows);
	sqlite3_commit_hook(f.ar->cat->db, on_commit_of_rows, &rows);
	sqlite3_rollback_hook(f.ar->cat->db, on_rollback_of_rows, &rows);
	unsigned char *msgs[2] = {make_message(5000, 1), make_message(7000, 2)};
	size_t lens[2] = {5000, 7000};
	int64_t ids[2];
	fx_archive_session(&f, msgs, lens, 1, &ids[0]);
	/* sealed, so the next session starts a second pack */
	fx_must(catalog_exec(f.ar->cat->db, "UPDATE packs SET sealed_at = 1", &err), &err, "seal");
	fx_archive_session(&f, msgs + 1, lens + 1, 1, &ids[1]);
	sqlite3_update_hook(f.ar->cat->db, NULL, NULL);
	sqlite3_commit_hook(f.ar->cat->db, NULL, NULL);
	sqlite3_rollback_hook(f.ar->cat->db, NULL, NULL);
	assert_int_equal(rows.committed, 2);
	assert_int_equal(rows.unheld, 0);
	assert_int_equal(fx_load(&f, ids[0]).loc.pack_id, 1);
	assert_reads_back(&f, ids[0], msgs[0], lens[0]);
	assert_reads_back(&f, ids[1], msgs[1], lens[1]);

	/* a pack marked removed while a message in it is live: damage (the
	 * fault above left such a pack, which verify called harmless) */
	char sql[96];
	snprintf(sql, sizeof(sql), "UPDATE packs SET removed_at = 1 WHERE id = %lld",
		 (long long)fx_load(&f, ids[1]).loc.pack_id);
	fx_must(catalog_exec(f.ar->cat->db, sql, &err), &err, "mark removed");
	struct scan s = scan(&f);
	assert_int_equal(s.damage, 1);
	assert_non_null(strstr(s.last, "recorded as removed but holds 1 message not disposed of"));
	snprintf(sql, sizeof(sql), "UPDATE messages SET disposed_at = 1 WHERE id = %lld",
		 (long long)ids[1]);
	fx_must(catalog_exec(f.ar->cat->db, sql, &err), &err, "dispose");
	s = scan(&f);
	assert_int_equal(s.damage, 0);
	assert_int_equal(s.harmless, 1); /* its file outlived the removal */
	pack_file(&f, ids[1], path, sizeof(path));
	assert_int_equal(unlink(path), 0); /* the removal finished */

	/* a header and nothing else, under an id never recorded */
	unsigned char head[PACK_HEADER_BYTES] = PACK_MAGIC;
	pack_path(f.dir, 99, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, head, sizeof(head)), (ssize_t)sizeof(head));
	close(fd);
	s = scan(&f);
	assert_int_equal(s.damage, 0);
	assert_int_equal(s.harmless, 1);
	assert_non_null(strstr(s.last, "holds no record"));
	free(msgs[0]);
	free(msgs[1]);
	fx_free(&f);
}

/* A reader that reads each record once (the indexer, verify --full:
 * drop_after_read) leaves none of its whole pages in the page cache,
 * through either read path; any other reader leaves them. */
static void test_a_read_once_reader_leaves_the_record_out_of_the_page_cache(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	char path[4096];
	fx_init(&f);
	unsigned char *msgs[2] = {make_message(400000, 3), make_message(400000, 4)};
	size_t lens[2] = {400000, 400000};
	int64_t ids[2];
	fx_archive_session(&f, msgs, lens, 2, ids);
	struct stored_message m[2] = {fx_load(&f, ids[0]), fx_load(&f, ids[1])};
	pack_file(&f, ids[0], path, sizeof(path));
	if (fx_on_tmpfs(path)) {
		free(msgs[0]);
		free(msgs[1]);
		fx_free(&f);
		skip();
	}
	size_t pages = fx_resident_pages(path, m[0].loc.offset, m[0].loc.length);
	assert_true(pages > 50); /* written just now: in the cache */

	struct pv_buf b;
	pv_buf_init(&b, 8 << 20);
	assert_int_equal(read_into(&f, ids[0], &b), PV_OK); /* an ordinary reader */
	assert_int_equal(fx_resident_pages(path, m[0].loc.offset, m[0].loc.length), pages);
	f.ar->packs->drop_after_read = true;
	pv_buf_reset(&b);
	fx_must(message_read_into(f.ar, &m[0], &b, &err), &err, "read"); /* the indexer's */
	assert_int_equal(b.len, lens[0]);
	assert_memory_equal(b.data, msgs[0], lens[0]);
	assert_int_equal(fx_resident_pages(path, m[0].loc.offset, m[0].loc.length), 0);
	/* verify's path: opened on one thread, read on another, closed */
	assert_true(fx_resident_pages(path, m[1].loc.offset, m[1].loc.length) > 50);
	struct blob_opened o = BLOB_OPENED_NONE;
	fx_must(message_open(f.ar, &m[1], &o, &err), &err, "open");
	fx_must(blob_check_opened(f.dir, &m[1].loc, &o, &err), &err, "check");
	blob_opened_close(&o);
	assert_int_equal(fx_resident_pages(path, m[1].loc.offset, m[1].loc.length), 0);
	f.ar->packs->drop_after_read = false;
	assert_reads_back(&f, ids[1], msgs[1], lens[1]); /* read again, from the disk */
	pv_buf_free(&b);
	free(msgs[0]);
	free(msgs[1]);
	fx_free(&f);
}

/* Archives from before packs (PVB1 blob files) and packs side by side. */
static void test_old_blob_files_and_packs_both_read(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	const char *old = "Subject: from 2025\r\n\r\nan old blob file\r\n";
	int64_t id_old = fx_archive(&f, old, fx_t("2025-06-01"));
	unsigned char *msgs[1] = {make_message(70000, 5)};
	size_t lens[1] = {70000};
	int64_t ids[1];
	fx_archive_session(&f, msgs, lens, 1, ids);
	struct stored_message mo = fx_load(&f, id_old);
	assert_int_equal(mo.loc.pack_id, 0);
	assert_int_equal(fx_read(&f, id_old, old), PV_OK);
	assert_reads_back(&f, ids[0], msgs[0], lens[0]);
	struct pv_error err;
	assert_int_equal(blob_check_at(f.dir, f.ar->packs, &mo.loc, &err), PV_OK);
	free(msgs[0]);
	fx_free(&f);
}

/* migrate --to-store: what is left to move (packs not stored, legacy
 * blob files counted apart), the store's record and its migration state,
 * and a stored pack whose local file a killed run left behind. */
static void test_what_a_migration_has_left_to_move(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	int64_t packs, legacy, removed;
	char url[PACKSTORE_URL_MAX], migration[16], dir[4096], sql[128];
	const char *store = "s3://pv-b?endpoint=http://127.0.0.1:9&region=r";
	bool found;
	fx_init(&f);
	snprintf(dir, sizeof(dir), "%s/packs", f.dir);
	fx_archive(&f, "Subject: old\r\n\r\na blob file of its own\r\n", fx_t("2025-06-01"));
	unsigned char *msgs[1] = {make_message(5000, 9)};
	size_t lens[1] = {5000};
	int64_t ids[1];
	fx_archive_session(&f, msgs, lens, 1, ids);
	fx_must(packstore_pending(f.ar->cat->conn, &packs, &legacy, &err), &err, "pending");
	assert_int_equal(packs, 1);
	assert_int_equal(legacy, 1);
	fx_must(packstore_recorded(f.ar->cat->conn, &found, url, migration, &err), &err, "recorded");
	assert_false(found);
	assert_int_not_equal(packstore_set_migration(f.ar->cat->conn, "running", &err), PV_OK);
	fx_must(packstore_configure(f.ar->cat->conn, f.ar->kr, store, "ACCESS:SECRET", &err), &err,
		"configure");
	fx_must(packstore_recorded(f.ar->cat->conn, &found, url, migration, &err), &err, "recorded");
	assert_true(found);
	assert_string_equal(url, store);
	assert_string_equal(migration, "");
	fx_must(packstore_set_migration(f.ar->cat->conn, "running", &err), &err, "running");
	fx_must(packstore_recorded(f.ar->cat->conn, &found, url, migration, &err), &err, "recorded");
	assert_string_equal(migration, "running");
	/* Stored and recorded, killed before its unlink: pending no more,
	 * and its leftover file goes. */
	int64_t pack = fx_load(&f, ids[0]).loc.pack_id;
	snprintf(sql, sizeof(sql), "UPDATE packs SET stored_at = 1, store_version = 'v' WHERE id = %lld",
		 (long long)pack);
	assert_int_equal(sqlite3_exec(f.ar->cat->db, sql, NULL, NULL, NULL), SQLITE_OK);
	fx_must(packstore_pending(f.ar->cat->conn, &packs, &legacy, &err), &err, "pending");
	assert_int_equal(packs, 0);
	assert_int_equal(count_dir(dir), 1);
	fx_must(packstore_drop_stored_files(f.ar->packs, &removed, &err), &err, "drop");
	assert_int_equal(removed, 1);
	assert_int_equal(count_dir(dir), 0);
	free(msgs[0]);
	fx_free(&f);
}

struct opened_read {
	const char *dir;
	struct blob_opened *o;
	struct stored_message *m;
	unsigned char *key;
	struct pv_buf *b;
	int r;
};

static void *read_opened(void *arg)
{
	struct opened_read *a = arg;
	struct pv_error err;
	a->r = message_read_key(a->dir, a->o, a->m, a->key, fx_sink_buf, a->b, &err);
	record_thread_release();
	return NULL;
}

/* verify's workers and export's read-ahead: the caller's thread opens the
 * record through the pack store, another thread reads it without it (the
 * store is taken away meanwhile: a worker that used it would crash), and
 * the bytes stay readable when the pack's file goes after the open (an
 * upload that removes the local copy meanwhile). */
static void test_a_record_opened_on_one_thread_reads_on_another(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	fx_init(&f);
	const char *old = "Subject: from 2025\r\n\r\nan old blob file\r\n";
	int64_t id_old = fx_archive(&f, old, fx_t("2025-06-01"));
	unsigned char *msgs[1] = {make_message(300000, 9)};
	size_t lens[1] = {300000};
	int64_t ids[2];
	fx_archive_session(&f, msgs, lens, 1, ids);
	ids[1] = id_old;
	for (int i = 0; i < 2; i++) {
		struct stored_message m = fx_load(&f, ids[i]);
		unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
		struct blob_opened o = BLOB_OPENED_NONE;
		struct pv_buf b;
		char path[300];
		pthread_t t;
		pv_buf_init(&b, 1 << 20);
		fx_must(message_unwrap(f.ar, &m, key, salt, &err), &err, "unwrap");
		fx_must(message_open(f.ar, &m, &o, &err), &err, "open");
		assert_true(i == 0 ? o.fd >= 0 : o.fd < 0); /* a PVB1 file opens nothing */
		if (i == 0) {
			pack_file(&f, ids[0], path, sizeof(path));
			assert_int_equal(unlink(path), 0);
		}
		struct packstore *store = f.ar->packs;
		f.ar->packs = NULL;
		struct opened_read a = {f.dir, &o, &m, key, &b, -1};
		assert_int_equal(pthread_create(&t, NULL, read_opened, &a), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
		f.ar->packs = store;
		assert_int_equal(a.r, PV_OK);
		if (i == 0) {
			assert_int_equal(b.len, lens[0]);
			assert_memory_equal(b.data, msgs[0], lens[0]);
		} else {
			assert_int_equal(b.len, strlen(old));
			assert_memory_equal(b.data, old, strlen(old));
		}
		blob_opened_close(&o);
		assert_int_equal(o.fd, -1);
		pv_buf_free(&b);
	}
	/* The pack's file is gone now: opening it again is PV_EINTEGRITY
	 * (missing without a disposal record). */
	struct stored_message m = fx_load(&f, ids[0]);
	struct blob_opened o = BLOB_OPENED_NONE;
	assert_int_equal(message_open(f.ar, &m, &o, &err), PV_EINTEGRITY);
	assert_int_equal(o.fd, -1);
	free(msgs[0]);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_is_byte_exact_whatever_the_size),
		cmocka_unit_test(test_base64_attachments_are_packed_and_read_back_exactly),
		cmocka_unit_test(test_one_pack_per_bucket),
		cmocka_unit_test(test_policy_of_a_message_is_the_one_it_began_under),
		cmocka_unit_test(test_torn_tail_is_ignored_reported_and_dropped),
		cmocka_unit_test(test_altered_record_is_an_integrity_failure),
		cmocka_unit_test(test_a_read_into_a_buffer_takes_only_what_was_committed),
		cmocka_unit_test(test_last_chunk_mark_is_checked),
		cmocka_unit_test(test_uncommitted_records_are_cut_off),
		cmocka_unit_test(test_archived_before_is_not_stored_twice),
		cmocka_unit_test(test_writers_and_disposal_respect_the_lock),
		cmocka_unit_test(test_a_pack_that_never_got_a_message_is_removed),
		cmocka_unit_test(test_a_new_pack_is_recorded_only_once_its_file_is_held),
		cmocka_unit_test(test_a_read_once_reader_leaves_the_record_out_of_the_page_cache),
		cmocka_unit_test(test_old_blob_files_and_packs_both_read),
		cmocka_unit_test(test_what_a_migration_has_left_to_move),
		cmocka_unit_test(test_a_record_opened_on_one_thread_reads_on_another),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
