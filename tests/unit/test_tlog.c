/* Unit tests for audit/tlog, checkpoint, tlog_proof and tlog_verify: roots
 * and proofs against an in-memory reference, transactions, checkpoints,
 * offline proofs, and tampering with a real SQLite file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "archiver/lib/clock.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"
#include "audit/merkle.h"
#include "audit/tlog.h"
#include "audit/tlog_proof.h"
#include "audit/tlog_verify.h"
#include "tests/unit/fixtures.h"

/* --- fixture: a data directory with a catalog file and a key dir -------------- */

struct fx {
	char dir[FX_PATH_MAX], keydir[FX_PATH_MAX], dbpath[FX_PATH_MAX];
	sqlite3 *h;    /* SQLite only */
	struct db *db; /* either engine */
	struct tlog *t;
	struct note_signer *s;
	char vkey[NOTE_VKEY_MAX + 1];
};

static const char *const fx_pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL";

/* SQLite: a new connection to the file. */
static void fx_open_db(struct fx *f)
{
	f->h = fx_logdb_open(f->dbpath, fx_pragmas);
	f->db = fx_conn(f->h);
}

static void fx_init(struct fx *f, const char *log, bool pg)
{
	char origin[128];
	memset(f, 0, sizeof(*f));
	fx_logdir_make("tlog", f->dir, f->keydir, f->dbpath);
	if (pg)
		f->db = fx_pg_fresh(migrations_catalog_pg.count);
	else
		fx_open_db(f);
	snprintf(origin, sizeof(origin), "test.example/popvault/%s", log);
	fx_log_create(f->db, f->keydir, log, origin, f->vkey);
	fx_log_open(f->db, f->keydir, log, &f->t, &f->s);
}

static void fx_close(struct fx *f)
{
	keys_free(&f->s);
	tlog_free(&f->t);
	fx_logdb_close(&f->db, &f->h);
}

static void fx_done(struct fx *f)
{
	fx_close(f);
	fx_rmtree(f->dir);
}

/* Entry i: varied lengths, deterministic content. */
static size_t entry_bytes(uint64_t i, uint64_t salt, unsigned char *buf)
{
	size_t n = (size_t)snprintf((char *)buf, 64, "entry %llu/%llu ", (unsigned long long)i,
				    (unsigned long long)salt);
	size_t pad = (size_t)((i * 7919) % 90);
	memset(buf + n, 'a' + (int)(i % 26), pad);
	return n + pad;
}

/* Appends entries [from, to) in batches of `batch`, recording leaf hashes. */
static void append_range(struct tlog *t, uint64_t from, uint64_t to, size_t batch, uint64_t salt,
			 merkle_hash *ref)
{
	static unsigned char bufs[256][160];
	struct tlog_entry e[256];
	struct pv_error err;
	assert_true(batch <= 256);
	for (uint64_t i = from; i < to;) {
		size_t n = 0;
		for (; n < batch && i < to; n++, i++) {
			e[n].len = entry_bytes(i, salt, bufs[n]);
			e[n].data = bufs[n];
			if (ref != NULL)
				merkle_leaf_hash(e[n].data, e[n].len, ref[i]);
		}
		uint64_t first;
		fx_must(tlog_append(t, e, n, &first, &err), &err, "append");
		assert_int_equal(first, i - n);
	}
}

/* A database with the log tables and nothing else: SQLite in memory, or
 * a fresh PostgreSQL schema. Close with fx_logdb_close. */
static struct db *mem_db(bool pg, sqlite3 **h_r)
{
	*h_r = NULL;
	if (pg)
		return fx_pg_fresh(migrations_catalog_pg.count);
	assert_int_equal(sqlite3_open(":memory:", h_r), SQLITE_OK);
	fx_audit_schema(*h_r);
	return fx_conn(*h_r);
}

static void flip(void *p, size_t bit)
{
	((unsigned char *)p)[bit / 8] ^= (unsigned char)(1u << (bit % 8));
}

/* --- storage and transactions -------------------------------------------------- */

static void test_schema_idempotent_and_logs_independent(void **state)
{
	(void)state;
	sqlite3 *sh;
	struct pv_error err;
	struct tlog *a, *b;
	uint64_t sa, sb;
	struct db *db = mem_db(fx_on_pg(state), &sh);
	if (sh != NULL)
		fx_audit_schema(sh); /* twice: catalog migration 5 runs it on old archives */
	fx_must(tlog_create(db, "archive", "h.example/popvault/archive", &err), &err, "create");
	fx_must(tlog_create(db, "audit", "h.example/popvault/audit", &err), &err, "create");
	assert_int_equal(tlog_create(db, "audit", "h.example/popvault/audit", &err), PV_ERR);
	assert_int_not_equal(tlog_create(db, "Bad Name", "x", &err), 0);
	assert_int_not_equal(tlog_create(db, "x", "has space", &err), 0);
	assert_int_equal(tlog_open(db, "nosuch", &a, &err), PV_ENOTFOUND);
	fx_must(tlog_open(db, "archive", &a, &err), &err, "open");
	fx_must(tlog_open(db, "audit", &b, &err), &err, "open");
	append_range(a, 0, 300, 256, 1, NULL);
	append_range(b, 0, 5, 2, 2, NULL);
	fx_must(tlog_size(a, &sa, &err), &err, "size");
	fx_must(tlog_size(b, &sb, &err), &err, "size");
	assert_int_equal(sa, 300);
	assert_int_equal(sb, 5);
	assert_string_equal(tlog_origin(b), "h.example/popvault/audit");
	tlog_free(&a);
	tlog_free(&b);
	assert_null(a);
	fx_logdb_close(&db, &sh);
}

static void test_roots_match_reference_across_tile_boundaries(void **state)
{
	(void)state;
	/* 66,000 leaves cross the first level-1 tile (65,536 leaves = one
	 * full level-1 tile): appends must carry hashes up tile levels. */
	enum { N = 66000 };
	sqlite3 *sh;
	struct tlog *t;
	struct pv_error err;
	merkle_hash *ref = calloc(N, sizeof(merkle_hash)), got, want;
	assert_non_null(ref);
	struct db *db = mem_db(fx_on_pg(state), &sh);
	fx_must(tlog_create(db, "audit", "h.example/a", &err), &err, "create");
	fx_must(tlog_open(db, "audit", &t, &err), &err, "open");
	/* Odd batch sizes so batches straddle tile edges. */
	append_range(t, 0, 1, 1, 0, ref);
	append_range(t, 1, 700, 37, 0, ref);
	append_range(t, 700, N, 256, 0, ref);
	static const uint64_t sizes[] = {0, 1, 2, 255, 256, 257, 511, 512, 699, 700, 65535, 65536, 65537, N};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fx_must(tlog_root(t, sizes[i], got, &err), &err, "root");
		merkle_root(ref, sizes[i], want);
		assert_memory_equal(got, want, 32);
	}
	for (int k = 0; k < 20; k++) {
		uint64_t s = randombytes_uniform(N) + 1;
		fx_must(tlog_root(t, s, got, &err), &err, "root");
		merkle_root(ref, s, want);
		assert_memory_equal(got, want, 32);
	}
	assert_int_equal(tlog_root(t, N + 1, got, &err), PV_ENOTFOUND);
	/* Stored leaf hashes and data read back. */
	struct pv_buf b;
	pv_buf_init(&b, PV_TLOG_ENTRY_MAX);
	unsigned char e[160];
	for (uint64_t i = 0; i < N; i += 4099) {
		fx_must(tlog_leaf_hash(t, i, got, &err), &err, "leaf hash");
		assert_memory_equal(got, ref[i], 32);
		pv_buf_reset(&b);
		fx_must(tlog_leaf(t, i, &b, &err), &err, "leaf");
		size_t n = entry_bytes(i, 0, e);
		assert_int_equal(b.len, n);
		assert_memory_equal(b.data, e, n);
	}
	assert_int_equal(tlog_leaf(t, N, &b, &err), PV_ENOTFOUND);
	pv_buf_free(&b);
	tlog_free(&t);
	fx_logdb_close(&db, &sh);
	free(ref);
}

static void test_proofs_verify_and_any_flipped_bit_fails(void **state)
{
	(void)state;
	enum { MAX = 3000 };
	sqlite3 *sh;
	struct tlog *t;
	struct pv_error err;
	merkle_hash *ref = calloc(MAX, sizeof(merkle_hash));
	merkle_hash proof[PV_PROOF_HASHES_MAX], root, r1;
	size_t len;
	struct db *db = mem_db(fx_on_pg(state), &sh);
	fx_must(tlog_create(db, "audit", "h.example/a", &err), &err, "create");
	fx_must(tlog_open(db, "audit", &t, &err), &err, "open");
	uint64_t have = 0;
	for (int round = 0; round < 30; round++) {
		/* Grow to a random size, then test proofs in the tree of a
		 * random size up to it (proofs for old sizes must still work). */
		uint64_t grow = have + 1 + randombytes_uniform(MAX / 30 * 2);
		if (grow > MAX)
			grow = MAX;
		if (grow > have)
			append_range(t, have, grow, 1 + randombytes_uniform(256), 0, ref);
		have = grow;
		uint64_t n = 1 + randombytes_uniform((uint32_t)have);
		merkle_root(ref, n, root);
		for (int s = 0; s < 8; s++) {
			uint64_t i = s == 0 ? n - 1 : randombytes_uniform((uint32_t)n);
			fx_must(tlog_inclusion_proof(t, i, n, proof, &len, &err), &err, "inclusion");
			if (merkle_verify_inclusion(i, n, ref[i], proof, len, root, &err) != 0)
				fail_msg("inclusion %llu in %llu: %s", (unsigned long long)i,
					 (unsigned long long)n, err.msg);
			/* One bit of the proof, the root or the leaf hash. */
			size_t bits = (len + 2) * 256, bit = randombytes_uniform((uint32_t)bits);
			merkle_hash leaf, rt;
			memcpy(leaf, ref[i], 32);
			memcpy(rt, root, 32);
			if (bit < len * 256)
				flip(proof, bit);
			else if (bit < (len + 1) * 256)
				flip(leaf, bit - len * 256);
			else
				flip(rt, bit - (len + 1) * 256);
			assert_int_not_equal(merkle_verify_inclusion(i, n, leaf, proof, len, rt, &err), 0);
		}
		for (int s = 0; s < 8; s++) {
			uint64_t m = 1 + randombytes_uniform((uint32_t)n);
			merkle_root(ref, m, r1);
			fx_must(tlog_consistency_proof(t, m, n, proof, &len, &err), &err, "consistency");
			if (merkle_verify_consistency(m, n, proof, len, r1, root, &err) != 0)
				fail_msg("consistency %llu->%llu: %s", (unsigned long long)m,
					 (unsigned long long)n, err.msg);
			size_t bits = (len + 2) * 256, bit = randombytes_uniform((uint32_t)bits);
			merkle_hash a, b;
			memcpy(a, r1, 32);
			memcpy(b, root, 32);
			if (bit < len * 256)
				flip(proof, bit);
			else if (bit < (len + 1) * 256)
				flip(a, bit - len * 256);
			else
				flip(b, bit - (len + 1) * 256);
			if (m == n && bit < len * 256)
				continue; /* no proof hashes to flip */
			assert_int_not_equal(merkle_verify_consistency(m, n, proof, len, a, b, &err), 0);
		}
	}
	tlog_free(&t);
	fx_logdb_close(&db, &sh);
	free(ref);
}

/* tlog_proof_memo: the proofs of every leaf with the memo on are those
 * made without it, across tile boundaries and for several tree sizes. An
 * append through the log empties it: leaves appended in a transaction
 * that was rolled back and replaced by others leave no hash behind (the
 * proofs of the replacing leaves would fail with one). */
static void test_proof_memo_gives_the_same_proofs_and_forgets_on_append(void **state)
{
	(void)state;
	enum { FIRST = 700, MAX = 1300 };
	sqlite3 *sh;
	struct tlog *t;
	struct pv_error err;
	merkle_hash *ref = calloc(MAX, sizeof(merkle_hash));
	merkle_hash a[PV_PROOF_HASHES_MAX], b[PV_PROOF_HASHES_MAX], root;
	size_t alen, blen;
	struct db *db = mem_db(fx_on_pg(state), &sh);
	fx_must(tlog_create(db, "archive", "h.example/m", &err), &err, "create");
	fx_must(tlog_open(db, "archive", &t, &err), &err, "open");
	append_range(t, 0, FIRST, 64, 0, ref);
	const uint64_t sizes[] = {FIRST, 513, 256, 1};
	fx_must(tlog_proof_memo(t, true, &err), &err, "memo on");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint64_t n = sizes[k];
		merkle_root(ref, n, root);
		for (uint64_t i = 0; i < n; i++) {
			fx_must(tlog_inclusion_proof(t, i, n, a, &alen, &err), &err, "memo proof");
			if (merkle_verify_inclusion(i, n, ref[i], a, alen, root, &err) != 0)
				fail_msg("memo: leaf %llu of %llu: %s", (unsigned long long)i,
					 (unsigned long long)n, err.msg);
		}
		/* Again in another order, against proofs made without it. */
		for (uint64_t i = n; i-- > 0;) {
			fx_must(tlog_inclusion_proof(t, i, n, a, &alen, &err), &err, "memo proof");
			fx_must(tlog_proof_memo(t, false, &err), &err, "memo off");
			fx_must(tlog_inclusion_proof(t, i, n, b, &blen, &err), &err, "proof");
			assert_int_equal(alen, blen);
			assert_memory_equal(a, b, alen * sizeof(merkle_hash));
			fx_must(tlog_proof_memo(t, true, &err), &err, "memo on");
		}
	}
	/* Still on: leaves appended and proved, rolled back, other leaves
	 * appended in their place. */
	fx_must(db_begin(db, &err), &err, "begin");
	append_range(t, FIRST, MAX, 100, 1, NULL);
	for (uint64_t i = FIRST; i < MAX; i++)
		fx_must(tlog_inclusion_proof(t, i, MAX, a, &alen, &err), &err, "doomed proof");
	db_rollback(db);
	append_range(t, FIRST, MAX, 100, 2, ref);
	merkle_root(ref, MAX, root);
	for (uint64_t i = 0; i < MAX; i++) {
		fx_must(tlog_inclusion_proof(t, i, MAX, a, &alen, &err), &err, "grown proof");
		if (merkle_verify_inclusion(i, MAX, ref[i], a, alen, root, &err) != 0)
			fail_msg("after the rollback: leaf %llu: %s", (unsigned long long)i, err.msg);
	}
	fx_must(tlog_proof_memo(t, false, &err), &err, "memo off");
	tlog_free(&t);
	fx_logdb_close(&db, &sh);
	free(ref);
}

static void test_append_joins_the_callers_transaction(void **state)
{
	(void)state;
	/* The harvester commits catalog rows, leaves and the checkpoint in one
	 * transaction: tlog must neither commit it nor survive its rollback. */
	struct fx f;
	struct pv_error err;
	uint64_t size, cps, next;
	fx_init(&f, "archive", fx_on_pg(state));
	fx_must(db_exec(f.db, "CREATE TABLE msg (id INTEGER)", &err), &err, "msg");
	fx_must(db_begin(f.db, &err), &err, "begin");
	fx_must(db_exec(f.db, "INSERT INTO msg VALUES (1)", &err), &err, "row");
	append_range(f.t, 0, 10, 10, 0, NULL);
	fx_must(checkpoint_sign(f.t, f.s, 0, NULL, NULL, &err), &err, "sign");
	assert_true(db_in_transaction(f.db));
	/* A failing append inside the transaction undoes only itself: a row
	 * planted at index 11 makes the second insert fail after the first
	 * one (index 10) succeeded. */
	fx_exec_blob(f.db,
		     "INSERT INTO tlog_leaf (log_id, idx, data) VALUES"
		     " ((SELECT log_id FROM tlog_leaf WHERE idx = 0), 11, ?1)",
		     "", 1);
	struct tlog_entry e[2] = {{"ok", 2}, {"no", 2}};
	assert_int_equal(tlog_append(f.t, e, 2, NULL, &err), PV_ERR);
	assert_true(db_in_transaction(f.db));
	fx_must(tlog_size(f.t, &size, &err), &err, "size");
	assert_int_equal(size, 10);
	struct pv_buf none;
	pv_buf_init(&none, 16);
	assert_int_equal(tlog_leaf(f.t, 10, &none, &err), PV_ENOTFOUND);
	pv_buf_free(&none);
	static unsigned char big[PV_TLOG_ENTRY_MAX + 1];
	struct tlog_entry e2 = {big, sizeof(big)};
	assert_int_equal(tlog_append(f.t, &e2, 1, NULL, &err), PV_ELIMIT);
	db_rollback(f.db);
	fx_must(tlog_size(f.t, &size, &err), &err, "size");
	fx_must(tlog_checkpoint_count(f.t, &cps, &next, &err), &err, "count");
	assert_int_equal(size, 0);
	assert_int_equal(cps, 1); /* only the genesis checkpoint */
	/* The same batch committed: everything lands together. */
	fx_must(db_begin(f.db, &err), &err, "begin");
	fx_must(db_exec(f.db, "INSERT INTO msg VALUES (1)", &err), &err, "row");
	append_range(f.t, 0, 10, 10, 0, NULL);
	fx_must(checkpoint_sign(f.t, f.s, 0, NULL, NULL, &err), &err, "sign");
	fx_must(db_commit(f.db, &err), &err, "commit");
	keys_free(&f.s);
	tlog_free(&f.t);
	if (f.h != NULL) { /* SQLite: what another connection reads from the file */
		fx_logdb_close(&f.db, &f.h);
		fx_open_db(&f);
	}
	fx_must(tlog_open(f.db, "archive", &f.t, &err), &err, "reopen");
	fx_must(tlog_size(f.t, &size, &err), &err, "size");
	fx_must(tlog_checkpoint_count(f.t, &cps, &next, &err), &err, "count");
	assert_int_equal(size, 10);
	assert_int_equal(cps, 2);
	fx_done(&f);
}

static void test_entry_size_limits_and_empty_entries(void **state)
{
	(void)state;
	sqlite3 *sh;
	struct tlog *t;
	struct pv_error err;
	struct pv_buf b;
	static unsigned char max[PV_TLOG_ENTRY_MAX];
	merkle_hash h, want;
	memset(max, 0x5a, sizeof(max));
	struct db *db = mem_db(fx_on_pg(state), &sh);
	fx_must(tlog_create(db, "audit", "h.example/a", &err), &err, "create");
	fx_must(tlog_open(db, "audit", &t, &err), &err, "open");
	struct tlog_entry e[2] = {{"", 0}, {max, sizeof(max)}};
	fx_must(tlog_append(t, e, 2, NULL, &err), &err, "append");
	pv_buf_init(&b, PV_TLOG_ENTRY_MAX);
	fx_must(tlog_leaf(t, 0, &b, &err), &err, "leaf 0");
	assert_int_equal(b.len, 0);
	fx_must(tlog_leaf(t, 1, &b, &err), &err, "leaf 1");
	assert_int_equal(b.len, sizeof(max));
	fx_must(tlog_leaf_hash(t, 0, h, &err), &err, "hash");
	merkle_leaf_hash("", 0, want);
	assert_memory_equal(h, want, 32);
	pv_buf_free(&b);
	tlog_free(&t);
	fx_logdb_close(&db, &sh);
}

/* --- checkpoints ------------------------------------------------------------------ */

static int64_t fake_now_ms;
static int64_t fake_clock(void)
{
	return fake_now_ms;
}

static void test_checkpoint_body_parse_is_strict(void **state)
{
	(void)state;
	struct checkpoint cp;
	struct pv_error err;
	const char *ok = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	assert_int_equal(checkpoint_parse(ok, strlen(ok), &cp, &err), 0);
	assert_string_equal(cp.origin, "example.com/behind-the-sofa");
	assert_int_equal(cp.size, 20852163);
	assert_int_equal(cp.time, -1);
	static const char *const bad[] = {
		"o\n020852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", /* leading zero */
		"o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",          /* no padding */
		"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n",             /* short */
		"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",       /* empty line */
		"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",           /* no newline */
		"o\n1\n",
		"\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		"o\n99999999999999999999999\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\ntime 5\ntime 6\n",
		"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\ntime 05\n",
		"o\r\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (checkpoint_parse(bad[i], strlen(bad[i]), &cp, &err) == 0)
			fail_msg("accepted checkpoint body %zu", i);
	char many[2048];
	int n = snprintf(many, sizeof(many), "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
	for (int i = 0; i <= PV_CHECKPOINT_EXT_LINES_MAX; i++)
		n += snprintf(many + n, sizeof(many) - (size_t)n, "ext %d\n", i);
	assert_int_not_equal(checkpoint_parse(many, (size_t)n, &cp, &err), 0);
}

static void test_heartbeat_signs_when_idle_and_checkpoints_open(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct pv_buf n1, n2, latest;
	struct checkpoint c1, c2, cl;
	struct note_verifier v;
	uint64_t cps, next;
	fx_init(&f, "audit", fx_on_pg(state));
	assert_int_equal(note_verifier_parse(f.vkey, strlen(f.vkey), &v, &err), 0);
	append_range(f.t, 0, 5, 5, 0, NULL);
	pv_buf_init(&n1, PV_NOTE_MAX);
	pv_buf_init(&n2, PV_NOTE_MAX);
	pv_buf_init(&latest, PV_NOTE_MAX);
	pv_clock_override(fake_clock);
	/* after the fixture's genesis checkpoint (signed at the real time):
	 * a checkpoint is never dated before the one before it */
	fake_now_ms = 4100000000000;
	fx_must(checkpoint_heartbeat(f.t, f.s, &n1, &err), &err, "heartbeat 1");
	fake_now_ms += 15 * 60 * 1000;
	fx_must(checkpoint_heartbeat(f.t, f.s, &n2, &err), &err, "heartbeat 2");
	pv_clock_override(NULL);
	/* Same tree, two distinct signed notes with increasing times. */
	assert_int_equal(checkpoint_open((char *)n1.data, n1.len, &v, 1, &c1, &err), 0);
	assert_int_equal(checkpoint_open((char *)n2.data, n2.len, &v, 1, &c2, &err), 0);
	assert_int_equal(c1.size, 5);
	assert_int_equal(c2.size, 5);
	assert_memory_equal(c1.root, c2.root, 32);
	assert_int_equal(c1.time, 4100000000);
	assert_int_equal(c2.time, 4100000900);
	assert_true(n1.len != n2.len || memcmp(n1.data, n2.data, n1.len) != 0);
	fx_must(tlog_checkpoint_count(f.t, &cps, &next, &err), &err, "count");
	assert_int_equal(cps, 3); /* genesis + 2 heartbeats */
	fx_must(checkpoint_latest(f.t, &latest, &cl, &err), &err, "latest");
	assert_int_equal(latest.len, n2.len);
	assert_memory_equal(latest.data, n2.data, n2.len);
	/* Opening with another key of the same name fails. */
	struct note_verifier other = v;
	other.pk[0] ^= 1;
	assert_int_not_equal(checkpoint_open((char *)n1.data, n1.len, &other, 1, &c1, &err), 0);
	pv_buf_free(&n1);
	pv_buf_free(&n2);
	pv_buf_free(&latest);
	fx_done(&f);
}

/* The clock 3 days ahead, then back (NTP, a restored VM): the checkpoint
 * signed after the step is dated with the last one's time, not before it,
 * and the log verifies with no step to report. */
static void test_checkpoint_time_never_goes_back_when_the_clock_does(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct pv_buf n1, n2, n3;
	struct checkpoint c1, c2, c3;
	struct note_verifier v;
	struct tlog_verify_report rep;
	int64_t t0 = 4100000000, ahead = t0 + 3 * 86400; /* after the genesis checkpoint */
	fx_init(&f, "audit", fx_on_pg(state));
	assert_int_equal(note_verifier_parse(f.vkey, strlen(f.vkey), &v, &err), 0);
	pv_buf_init(&n1, PV_NOTE_MAX);
	pv_buf_init(&n2, PV_NOTE_MAX);
	pv_buf_init(&n3, PV_NOTE_MAX);
	pv_clock_override(fake_clock);
	fake_now_ms = ahead * 1000;
	fx_must(checkpoint_heartbeat(f.t, f.s, &n1, &err), &err, "ahead");
	fake_now_ms = (t0 + 60) * 1000; /* back */
	append_range(f.t, 0, 3, 3, 0, NULL);
	fx_must(checkpoint_heartbeat(f.t, f.s, &n2, &err), &err, "back");
	fake_now_ms = (ahead + 900) * 1000; /* caught up */
	fx_must(checkpoint_heartbeat(f.t, f.s, &n3, &err), &err, "later");
	pv_clock_override(NULL);
	assert_int_equal(checkpoint_open((char *)n1.data, n1.len, &v, 1, &c1, &err), 0);
	assert_int_equal(checkpoint_open((char *)n2.data, n2.len, &v, 1, &c2, &err), 0);
	assert_int_equal(checkpoint_open((char *)n3.data, n3.len, &v, 1, &c3, &err), 0);
	assert_int_equal(c1.time, ahead);
	assert_int_equal(c2.time, ahead);
	assert_int_equal(c2.size, 3);
	assert_int_equal(c3.time, ahead + 900);
	fx_must(tlog_verify(f.t, f.vkey, NULL, NULL, 0, &rep, &err), &err, "verify");
	assert_int_equal(rep.time_steps, 0);
	pv_buf_free(&n1);
	pv_buf_free(&n2);
	pv_buf_free(&n3);
	fx_done(&f);
}

/* A log signed before checkpoint times were kept in order (its clock
 * stepped back between two heartbeats): verify reports the step, with the
 * checkpoint and both times, and passes; it is not tampering. */
static void test_verify_reports_an_older_step_back_without_failing(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct pv_buf body, note;
	struct tlog_verify_report rep;
	merkle_hash root;
	uint64_t size, seq;
	int64_t t0 = 4100000000, ahead = t0 + 3 * 86400; /* after the genesis checkpoint */
	fx_init(&f, "audit", fx_on_pg(state));
	pv_clock_override(fake_clock);
	fake_now_ms = ahead * 1000;
	fx_must(checkpoint_heartbeat(f.t, f.s, NULL, &err), &err, "ahead");
	pv_clock_override(NULL);
	/* what the old signer wrote once the clock was back: its own time */
	append_range(f.t, 0, 2, 2, 0, NULL);
	pv_buf_init(&body, PV_NOTE_MAX);
	pv_buf_init(&note, PV_NOTE_MAX);
	fx_must(tlog_size(f.t, &size, &err), &err, "size");
	fx_must(tlog_root(f.t, size, root, &err), &err, "root");
	fx_must(checkpoint_format(tlog_origin(f.t), size, root, t0, &body, &err), &err, "format");
	fx_must(note_sign((const char *)body.data, body.len, f.s, &note, &err), &err, "sign");
	fx_must(tlog_checkpoint_insert(f.t, size, root, 0, t0 * 1000, (const char *)note.data,
				       note.len, &seq, &err), &err, "insert");
	assert_int_equal(tlog_verify(f.t, f.vkey, NULL, NULL, 0, &rep, &err), 0);
	assert_int_equal(rep.time_steps, 1);
	assert_int_equal(rep.step_seq, seq);
	assert_int_equal(rep.step_from, ahead);
	assert_int_equal(rep.step_to, t0);
	assert_int_equal(rep.latest_size, 2);
	pv_buf_free(&body);
	pv_buf_free(&note);
	fx_done(&f);
}

static void test_accept_rejects_older_and_forked_checkpoints(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct pv_buf n100, n200, fork200;
	struct note_verifier v;
	struct checkpoint got;
	fx_init(&f, "audit", fx_on_pg(state));
	assert_int_equal(note_verifier_parse(f.vkey, strlen(f.vkey), &v, &err), 0);
	pv_buf_init(&n100, PV_NOTE_MAX);
	pv_buf_init(&n200, PV_NOTE_MAX);
	pv_buf_init(&fork200, PV_NOTE_MAX);
	append_range(f.t, 0, 100, 64, 0, NULL);
	fx_must(checkpoint_sign(f.t, f.s, 0, &n100, NULL, &err), &err, "sign 100");
	append_range(f.t, 100, 200, 64, 0, NULL);
	fx_must(checkpoint_sign(f.t, f.s, 0, &n200, NULL, &err), &err, "sign 200");
	fx_must(checkpoint_accept(f.t, (char *)n100.data, n100.len, (char *)n200.data, n200.len, &v, 1,
			       &got, &err),
	     &err, "accept newer");
	assert_int_equal(got.size, 200);
	assert_int_equal(checkpoint_accept(f.t, (char *)n200.data, n200.len, (char *)n100.data,
					   n100.len, &v, 1, &got, &err),
			 PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "older"));

	/* A fork: the same key signs a different history of the same origin
	 * (a rollback and rewrite). Its checkpoint must not be accepted over
	 * the one we knew. */
	sqlite3 *h2;
	struct tlog *t2;
	struct db *db2 = mem_db(fx_on_pg(state), &h2);
	fx_must(tlog_create(db2, "audit", tlog_origin(f.t), &err), &err, "create");
	fx_must(tlog_open(db2, "audit", &t2, &err), &err, "open");
	struct tlog_epoch_row ep;
	tlog_epoch_row_init(&ep);
	snprintf(ep.vkey, sizeof(ep.vkey), "%s", f.vkey);
	fx_must(tlog_epoch_insert(t2, &ep, &err), &err, "epoch");
	tlog_epoch_row_free(&ep);
	append_range(t2, 0, 99, 64, 0, NULL);
	append_range(t2, 99, 200, 64, 77, NULL); /* diverges at leaf 99 */
	fx_must(checkpoint_sign(t2, f.s, 0, &fork200, NULL, &err), &err, "sign fork");
	assert_int_equal(checkpoint_accept(t2, (char *)n100.data, n100.len, (char *)fork200.data,
					   fork200.len, &v, 1, &got, &err),
			 PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "inconsistent"));
	/* Checked against the fork's own proof data too: equal size, other root. */
	assert_int_equal(checkpoint_accept(t2, (char *)n200.data, n200.len, (char *)fork200.data,
					   fork200.len, &v, 1, &got, &err),
			 PV_EINTEGRITY);
	tlog_free(&t2);
	fx_logdb_close(&db2, &h2);
	pv_buf_free(&n100);
	pv_buf_free(&n200);
	pv_buf_free(&fork200);
	fx_done(&f);
}

static void test_sign_refuses_a_log_that_shrank_or_changed(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	fx_init(&f, "audit", fx_on_pg(state));
	append_range(f.t, 0, 50, 50, 0, NULL);
	fx_must(checkpoint_sign(f.t, f.s, 0, NULL, NULL, &err), &err, "sign");
	fx_must(db_exec(f.db, "UPDATE tlog_log SET size = 40", &err), &err, "shrink");
	assert_int_equal(checkpoint_sign(f.t, f.s, 0, NULL, NULL, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "shrank"));
	fx_done(&f);
}

/* --- tlog-proof ------------------------------------------------------------------- */

static void test_tlog_proof_verifies_offline_and_rejects_tampering(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct pv_buf cp, proof;
	unsigned char e[160];
	const char extra[] = "seq=41 salt=00ff";
	fx_init(&f, "archive", fx_on_pg(state));
	append_range(f.t, 0, 700, 100, 0, NULL);
	pv_buf_init(&cp, PV_NOTE_MAX);
	pv_buf_init(&proof, PV_TLOG_PROOF_MAX);
	fx_must(checkpoint_sign(f.t, f.s, 0, &cp, NULL, &err), &err, "sign");
	fx_must(tlog_proof_create(f.t, 41, (char *)cp.data, cp.len, extra, sizeof(extra) - 1, &proof,
			       &err),
	     &err, "create");
	const char *text = (const char *)proof.data;
	assert_memory_equal(text, "c2sp.org/tlog-proof@v1\nextra ", 29);
	size_t n = entry_bytes(41, 0, e);
	struct tlog_proof p;
	struct checkpoint c;
	/* Needs only the text, the entry and the vkey. */
	fx_must(tlog_proof_verify(text, proof.len, e, n, f.vkey, &c, &p, &err), &err, "verify");
	assert_int_equal(p.index, 41);
	assert_int_equal(c.size, 700);
	assert_int_equal(p.extra_len, sizeof(extra) - 1);
	assert_memory_equal(p.extra, extra, p.extra_len);
	tlog_proof_free(&p);
	/* Another entry, another key, a tampered byte anywhere. */
	unsigned char e42[160];
	size_t n42 = entry_bytes(42, 0, e42);
	assert_int_equal(tlog_proof_verify(text, proof.len, e42, n42, f.vkey, NULL, NULL, &err),
			 PV_EINTEGRITY);
	const char *other = "test.example/popvault/archive+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
	assert_int_not_equal(tlog_proof_verify(text, proof.len, e, n, other, NULL, NULL, &err), 0);
	char *copy = malloc(proof.len);
	for (int k = 0; k < 300; k++) {
		size_t bit = randombytes_uniform((uint32_t)(proof.len * 8));
		memcpy(copy, text, proof.len);
		flip(copy, bit);
		if (tlog_proof_verify(copy, proof.len, e, n, f.vkey, NULL, NULL, &err) == 0) {
			/* Only the unauthenticated extra line may change freely. */
			const char *idx = strstr(text, "\nindex ");
			if (bit / 8 < (size_t)(idx - text))
				continue;
			fail_msg("flipped bit %zu of the proof was accepted", bit);
		}
	}
	free(copy);
	/* The checkpoint must match the log before a proof is written. */
	struct pv_buf fake;
	pv_buf_init(&fake, PV_NOTE_MAX);
	char *pos = strstr((char *)cp.data, "\n700\n");
	assert_non_null(pos);
	pos[1] = '6'; /* "600": the log's root at 600 is another one */
	assert_int_not_equal(tlog_proof_create(f.t, 41, (char *)cp.data, cp.len, NULL, 0, &fake, &err),
			     0);
	pv_buf_free(&fake);
	pv_buf_free(&cp);
	pv_buf_free(&proof);
	fx_done(&f);
}

/* --- tlog_verify and tampering with the file ------------------------------------------- */

static int attack(struct fx *f, const char *sql)
{
	/* A second connection, as sqlite3(1) in an attacker's hands. */
	sqlite3 *db;
	int rc = sqlite3_open(f->dbpath, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static int verify(struct fx *f, const char *const *known, const size_t *lens, size_t n,
		  struct pv_error *err)
{
	struct tlog_verify_report rep;
	return tlog_verify(f->t, f->vkey, known, lens, n, &rep, err);
}

static void build_log(struct fx *f, uint64_t n)
{
	struct pv_error err;
	for (uint64_t i = 0; i < n; i += 256) {
		append_range(f->t, i, i + 256 < n ? i + 256 : n, 256, 0, NULL);
		fx_must(checkpoint_sign(f->t, f->s, 0, NULL, NULL, &err), &err, "sign");
	}
}

static void expect_detected(struct fx *f, const char *sql, const char *want)
{
	struct pv_error err;
	assert_int_equal(attack(f, sql), SQLITE_OK);
	int r = verify(f, NULL, NULL, 0, &err);
	if (r != PV_EINTEGRITY)
		fail_msg("tampering not detected (%d): %s", r, sql);
	if (strstr(err.msg, want) == NULL)
		fail_msg("for %s: expected '%s' in: %s", sql, want, err.msg);
}

static void test_verify_passes_on_an_untouched_log(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct tlog_verify_report rep;
	fx_init(&f, "archive", fx_on_pg(state));
	build_log(&f, 1000);
	fx_must(tlog_verify(f.t, f.vkey, NULL, NULL, 0, &rep, &err), &err, "verify");
	assert_int_equal(rep.size, 1000);
	assert_int_equal(rep.checkpoints, 5); /* genesis + 4 batches */
	assert_true(rep.pinned);
	assert_int_equal(rep.epochs, 1);
	/* A pinned key that is not the log's: refused. */
	const char *other = "test.example/popvault/archive+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
	assert_int_equal(tlog_verify(f.t, other, NULL, NULL, 0, &rep, &err), PV_EINTEGRITY);
	fx_done(&f);
}

static void test_verify_detects_deleted_changed_swapped_leaves(void **state)
{
	(void)state;
	static const struct {
		const char *sql, *want;
	} attacks[] = {
		{"DELETE FROM tlog_leaf WHERE idx = 517", "leaf 517 is missing"},
		{"UPDATE tlog_leaf SET data = CAST('forged' AS BLOB) WHERE idx = 300",
		 "leaf 300: its entry does not hash"},
		{"UPDATE tlog_leaf SET data = (SELECT data FROM tlog_leaf l2 WHERE l2.log_id ="
		 " tlog_leaf.log_id AND l2.idx = CASE tlog_leaf.idx WHEN 10 THEN 20 ELSE 10 END)"
		 " WHERE idx IN (10, 20)",
		 "leaf 10"},
		{"DELETE FROM tlog_leaf WHERE idx = 999", "leaf 999 is missing"},
		{"INSERT INTO tlog_leaf (log_id, idx, data) SELECT log_id, 1000, data FROM tlog_leaf"
		 " WHERE idx = 0",
		 "beyond the log's size"},
		{"UPDATE tlog_tile SET hashes = zeroblob(8192) WHERE level = 1 AND idx = 0",
		 "tile 1/0"},
		{"DELETE FROM tlog_checkpoint WHERE seq = 2", "checkpoint rows are missing"},
		{"UPDATE tlog_checkpoint SET note = replace(note, 'popvault', 'popvau1t') WHERE seq = 3",
		 "checkpoint 3"},
	};
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		struct fx f;
		fx_init(&f, "archive", false); /* attacked through the file */
		build_log(&f, 1000);
		expect_detected(&f, attacks[i].sql, attacks[i].want);
		fx_done(&f);
	}
}

static void test_verify_detects_truncation_against_an_exported_checkpoint(void **state)
{
	(void)state;
	/* The attacker holds the key: truncates to 600 leaves, rebuilds the
	 * tiles and checkpoints and re-signs. Internally consistent; only a
	 * checkpoint exported before (kept off the box) reveals it. */
	struct fx f;
	struct pv_error err;
	struct pv_buf exported;
	const char *notes[1];
	size_t lens[1];
	fx_init(&f, "archive", false); /* attacked through the file */
	build_log(&f, 1000);
	pv_buf_init(&exported, PV_NOTE_MAX);
	fx_must(checkpoint_latest(f.t, &exported, NULL, &err), &err, "export");
	notes[0] = (const char *)exported.data;
	lens[0] = exported.len;
	fx_must(verify(&f, notes, lens, 1, &err), &err, "verify before");

	assert_int_equal(attack(&f, "DELETE FROM tlog_leaf WHERE idx >= 600;"
				    "DELETE FROM tlog_tile; DELETE FROM tlog_checkpoint WHERE seq > 0;"
				    "CREATE TABLE keep AS SELECT idx, data FROM tlog_leaf;"
				    "DELETE FROM tlog_leaf; UPDATE tlog_log SET size = 0"),
			 SQLITE_OK);
	/* Re-append the kept 600 entries and re-sign with the same key. */
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(f.h, "SELECT data FROM keep ORDER BY idx", -1, &st, NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct tlog_entry e = {sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)};
		fx_must(tlog_append(f.t, &e, 1, NULL, &err), &err, "re-append");
	}
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_exec(f.h, "DROP TABLE keep", NULL, NULL, NULL), SQLITE_OK);
	fx_must(checkpoint_sign(f.t, f.s, 0, NULL, NULL, &err), &err, "re-sign");
	/* Undetectable from inside (ARCHITECTURE.md §4) ... */
	fx_must(verify(&f, NULL, NULL, 0, &err), &err, "verify without anchor");
	/* ... detected against the exported checkpoint. */
	assert_int_equal(verify(&f, notes, lens, 1, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "truncated"));
	/* Growing it back to 1000 with other entries: the root differs. */
	append_range(f.t, 600, 1000, 256, 99, NULL);
	fx_must(checkpoint_sign(f.t, f.s, 0, NULL, NULL, &err), &err, "re-sign");
	assert_int_equal(verify(&f, notes, lens, 1, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "outside checkpoint 0"));
	pv_buf_free(&exported);
	fx_done(&f);
}

#define BOTH(t) FX_BOTH(t, fx_setup_sqlite, fx_setup_pg, fx_teardown_none)

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	/* On SQLite, then on PostgreSQL with PV_TEST_PG; FX_ONCE: SQLite only
	 * (no database, or SQLite's own file). */
	const struct CMUnitTest tests[] = {
		FX_ONCE(test_checkpoint_body_parse_is_strict),
		FX_ONCE(test_verify_detects_deleted_changed_swapped_leaves),
		FX_ONCE(test_verify_detects_truncation_against_an_exported_checkpoint),
		BOTH(test_schema_idempotent_and_logs_independent),
		BOTH(test_roots_match_reference_across_tile_boundaries),
		BOTH(test_proofs_verify_and_any_flipped_bit_fails),
		BOTH(test_proof_memo_gives_the_same_proofs_and_forgets_on_append),
		BOTH(test_append_joins_the_callers_transaction),
		BOTH(test_entry_size_limits_and_empty_entries),
		BOTH(test_heartbeat_signs_when_idle_and_checkpoints_open),
		BOTH(test_accept_rejects_older_and_forked_checkpoints),
		BOTH(test_sign_refuses_a_log_that_shrank_or_changed),
		BOTH(test_tlog_proof_verifies_offline_and_rejects_tampering),
		BOTH(test_checkpoint_time_never_goes_back_when_the_clock_does),
		BOTH(test_verify_reports_an_older_step_back_without_failing),
		BOTH(test_verify_passes_on_an_untouched_log),
	};
	return fx_run_both("tlog", tests, sizeof(tests) / sizeof(tests[0]));
}
