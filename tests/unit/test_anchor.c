/* Unit tests for anchoring's building blocks (issue 17): the [anchor] and
 * [witnesses] settings of popvault.conf, RFC 3161 requests and what is
 * refused before any signature is looked at (audit/tsa.h; real TSA
 * answers are tested against OpenSSL's TSA in tests/e2e/anchor_tsa.t),
 * the store of tokens, cosignatures and attempts, C2SP cosignatures
 * (audit/cosig.h) and the witness's decisions (archive/witness.h) on a
 * real log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ts.h>
#include <sodium.h>

#include "archiver/archive/witness.h"
#include "archiver/lib/base64.h"
#include "archiver/lib/config.h"
#include "archiver/lib/fsutil.h"
#include "archiver/store/anchors.h"
#include "archiver/store/catalog.h"
#include "audit/checkpoint.h"
#include "audit/cosig.h"
#include "audit/tsa.h"
#include "tests/unit/fixtures.h"

/* --- popvault.conf ------------------------------------------------------------------- */

static int load_conf(const char *text, struct pv_config *cfg, struct pv_error *err)
{
	char dir[] = "/tmp/pv-anchorconf-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/popvault.conf", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	int r = pv_config_load_file(path, cfg, err);
	fx_rmtree(dir);
	return r;
}

#define VK1 "w1.example+1234abcd+BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

static void test_config_anchor_and_witnesses(void **state)
{
	(void)state;
	struct pv_config cfg;
	struct pv_error err;
	fx_must(load_conf("[anchor]\ntsa_url = https://tsa.example/ts\ntsa_ca_file = /etc/ca.pem\n"
			  "tsa_policy = 1.2.3.4\ninterval = 600\nstale_after = 7200\n"
			  "[witnesses]\nwitness = " VK1 " http://127.0.0.1:9/\n"
			  "witness = w2.example+00000000+AAAA https://w2.example/prefix\nquorum = 2\n",
			  &cfg, &err),
		&err, "load");
	assert_string_equal(cfg.tsa_url, "https://tsa.example/ts");
	assert_string_equal(cfg.tsa_ca_file, "/etc/ca.pem");
	assert_string_equal(cfg.tsa_policy, "1.2.3.4");
	assert_int_equal(cfg.anchor_interval_s, 600);
	assert_int_equal(cfg.anchor_stale_s, 7200);
	assert_int_equal(cfg.n_witnesses, 2);
	assert_string_equal(cfg.witnesses[0].vkey, VK1);
	assert_string_equal(cfg.witnesses[0].url, "http://127.0.0.1:9/");
	assert_string_equal(cfg.witnesses[1].url, "https://w2.example/prefix");
	assert_int_equal(cfg.witness_quorum, 2);
	/* Defaults: nothing configured, hourly, stale after 26 hours. */
	fx_must(load_conf("[serve]\nlisten = 127.0.0.1:1\n", &cfg, &err), &err, "defaults");
	assert_string_equal(cfg.tsa_url, "");
	assert_int_equal(cfg.n_witnesses, 0);
	assert_int_equal(cfg.anchor_interval_s, 3600);
	assert_int_equal(cfg.anchor_stale_s, 26 * 3600);
}

static void test_config_bad_anchor_values_are_named(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"[anchor]\ntsa_url = ftp://tsa.example/\n", "bad value for tsa_url in [anchor]"},
		{"[anchor]\ntsa_url = http://a b/\n", "bad value for tsa_url"},
		{"[anchor]\ntsa_policy = 1.2.x\n", "bad value for tsa_policy"},
		{"[anchor]\ninterval = 5\n", "bad value for interval"},
		{"[anchor]\nstale_after = soon\n", "bad value for stale_after"},
		{"[witnesses]\nwitness = " VK1 "\n", "bad value for witness in [witnesses]"},
		{"[witnesses]\nwitness = nokey http://x/\n", "bad value for witness"},
		{"[witnesses]\nwitness = " VK1 " mailto:x@y\n", "bad value for witness"},
		{"[witnesses]\nquorum = 0\n", "bad value for quorum"},
		{"[anchor]\ntsa = http://x/\n", "unknown setting 'tsa' in [anchor]"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pv_config cfg;
		struct pv_error err = {0};
		assert_int_equal(load_conf(bad[i].text, &cfg, &err), PV_ERR);
		if (strstr(err.msg, bad[i].want) == NULL)
			fail_msg("%s: got '%s', want '%s'", bad[i].text, err.msg, bad[i].want);
	}
	/* More witnesses than PV_WITNESSES_MAX. */
	char text[8192] = "[witnesses]\n";
	for (int i = 0; i <= PV_WITNESSES_MAX; i++)
		strcat(text, "witness = " VK1 " http://x/\n");
	struct pv_config cfg;
	struct pv_error err = {0};
	assert_int_equal(load_conf(text, &cfg, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "more than"));
}

/* --- RFC 3161 ------------------------------------------------------------------------ */

static void test_tsa_request_is_der_with_imprint_nonce_and_cert_req(void **state)
{
	(void)state;
	uint8_t imprint[32];
	struct pv_buf req;
	struct pv_error err;
	uint64_t nonce = 0, nonce2 = 0;
	randombytes_buf(imprint, sizeof(imprint));
	pv_buf_init(&req, 4096);
	fx_must(tsa_request_build(imprint, "1.3.6.1.4.1.99999.1", &req, &nonce, &err), &err, "build");
	const unsigned char *p = req.data;
	TS_REQ *q = d2i_TS_REQ(NULL, &p, (long)req.len);
	assert_non_null(q);
	assert_ptr_equal(p, req.data + req.len);
	ASN1_OCTET_STRING *msg = TS_MSG_IMPRINT_get_msg(TS_REQ_get_msg_imprint(q));
	assert_int_equal(ASN1_STRING_length(msg), 32);
	assert_memory_equal(ASN1_STRING_get0_data(msg), imprint, 32);
	assert_int_equal(TS_REQ_get_cert_req(q), 1);
	uint64_t got;
	assert_int_equal(ASN1_INTEGER_get_uint64(&got, TS_REQ_get_nonce(q)), 1);
	assert_true(got == nonce && nonce != 0);
	assert_non_null(TS_REQ_get_policy_id(q));
	TS_REQ_free(q);
	pv_buf_reset(&req);
	fx_must(tsa_request_build(imprint, NULL, &req, &nonce2, &err), &err, "again");
	assert_true(nonce2 != nonce); /* a fresh nonce per request */
	assert_int_equal(tsa_request_build(imprint, "1..2", &req, &nonce2, &err), PV_EUSAGE);
	pv_buf_free(&req);
}

static void test_tsa_oid_valid(void **state)
{
	(void)state;
	assert_true(tsa_oid_valid("1.3.6.1.4.1.99999.1.1"));
	assert_true(tsa_oid_valid("2.5"));
	assert_false(tsa_oid_valid(""));
	assert_false(tsa_oid_valid("1..3"));
	assert_false(tsa_oid_valid(".1.3"));
	assert_false(tsa_oid_valid("1.3."));
	assert_false(tsa_oid_valid("1.3.a"));
}

static void test_tsa_garbage_replies_are_refused(void **state)
{
	(void)state;
	uint8_t imprint[32] = {1};
	struct pv_buf req;
	struct pv_error err;
	struct tsa_token_info info;
	uint64_t nonce;
	static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	/* A TimeStampResp with status rejection and no token. */
	static const uint8_t rejected[] = {0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02};
	pv_buf_init(&req, 4096);
	fx_must(tsa_request_build(imprint, NULL, &req, &nonce, &err), &err, "build");
	assert_int_equal(tsa_reply_check(req.data, req.len, junk, sizeof(junk), "/nonexistent",
					 NULL, &info, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "not a DER TimeStampResp"));
	assert_int_equal(tsa_reply_check(req.data, req.len, junk, 0, "/nonexistent", NULL, &info,
					 &err),
			 PV_EINTEGRITY);
	assert_int_equal(tsa_reply_check(req.data, req.len, rejected, sizeof(rejected),
					 "/nonexistent", NULL, &info, &err), PV_EPERM);
	assert_non_null(strstr(err.msg, "status rejection"));
	/* A stored refusal is no token. */
	assert_int_equal(tsa_token_verify(rejected, sizeof(rejected), "x", 1, NULL, NULL, &info, &err),
			 PV_EINTEGRITY);
	/* Trailing bytes after the DER are refused. */
	uint8_t longer[sizeof(rejected) + 1];
	memcpy(longer, rejected, sizeof(rejected));
	longer[sizeof(rejected)] = 0;
	assert_int_equal(tsa_token_verify(longer, sizeof(longer), "x", 1, NULL, NULL, &info, &err),
			 PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "after the DER"));
	pv_buf_free(&req);
}

/* --- the store ----------------------------------------------------------------------- */

static int collect_sizes(void *ctx, const struct anchor_token_row *row)
{
	struct pv_buf *b = ctx;
	return pv_buf_printf(b, NULL, "%llu:%s ", (unsigned long long)row->size,
			     (const char *)row->note.data);
}

static void put_token(struct db *db, const char *log, uint64_t size, const char *note)
{
	struct anchor_token_row t;
	struct pv_error err;
	anchor_token_row_init(&t);
	snprintf(t.log, sizeof(t.log), "%s", log);
	t.size = size;
	t.checkpoint_seq = size;
	fx_must(pv_buf_append_str(&t.note, note, &err), &err, "note");
	fx_must(pv_buf_append(&t.token, "\x30\x00", 2, &err), &err, "token");
	snprintf(t.tsa_url, sizeof(t.tsa_url), "http://tsa/");
	t.gen_time = 1000 + (int64_t)size;
	fx_must(anchors_token_insert(db, &t, &err), &err, "insert");
	assert_true(t.id > 0);
	anchor_token_row_free(&t);
}

static int attempt_row(void *ctx, const struct anchor_attempt_row *row)
{
	*(struct anchor_attempt_row *)ctx = *row;
	return 0;
}

static int count_cosig(void *ctx, const struct anchor_cosig_row *row)
{
	(void)row;
	++*(int *)ctx;
	return 0;
}

/* The store's calls on db (a migrated catalog, SQLite or PostgreSQL). */
static void store_tokens_cosignatures_attempts(struct db *db)
{
	struct pv_error err;
	struct pv_buf out;
	put_token(db, "archive", 3, "a3");
	put_token(db, "audit", 5, "u5");
	put_token(db, "archive", 7, "a7");
	pv_buf_init(&out, 4096);
	fx_must(anchors_token_each(db, "archive", false, UINT64_MAX, 0, collect_sizes, &out, &err),
		&err, "oldest first");
	assert_string_equal(pv_buf_str(&out), "3:a3 7:a7 ");
	pv_buf_reset(&out);
	fx_must(anchors_token_each(db, NULL, true, 6, 0, collect_sizes, &out, &err), &err,
		"newest first, at most size 6");
	assert_string_equal(pv_buf_str(&out), "5:u5 3:a3 ");
	pv_buf_reset(&out);
	fx_must(anchors_token_each(db, "archive", true, UINT64_MAX, 1, collect_sizes, &out, &err),
		&err, "limit");
	assert_string_equal(pv_buf_str(&out), "7:a7 ");
	/* Kept as they are: no edit, no removal. */
	assert_int_equal(db_exec(db, "UPDATE anchor_tokens SET size = 1", &err), PV_ERR);
	assert_int_equal(db_exec(db, "DELETE FROM anchor_tokens", &err), PV_ERR);

	/* One cosignature per (log, checkpoint, witness). */
	struct anchor_cosig_row c;
	bool added;
	uint64_t size = 0;
	anchor_cosig_row_init(&c);
	snprintf(c.log, sizeof(c.log), "audit");
	c.checkpoint_seq = 4;
	c.size = 5;
	fx_must(pv_buf_append_str(&c.note, "note", &err), &err, "note");
	snprintf(c.witness, sizeof(c.witness), "w1");
	snprintf(c.line, sizeof(c.line), "\xe2\x80\x94 w1 AAAA\n");
	fx_must(anchors_cosig_insert(db, &c, &added, &err), &err, "cosig");
	assert_true(added);
	fx_must(anchors_cosig_insert(db, &c, &added, &err), &err, "cosig again");
	assert_false(added);
	assert_int_equal(anchors_cosig_witness_size(db, "audit", "w1", &size, &err), PV_OK);
	assert_int_equal(size, 5);
	assert_int_equal(anchors_cosig_witness_size(db, "audit", "w2", &size, &err), PV_ENOTFOUND);
	snprintf(c.witness, sizeof(c.witness), "w2");
	c.checkpoint_seq = 9;
	c.size = 12;
	fx_must(anchors_cosig_insert(db, &c, &added, &err), &err, "cosig w2");
	assert_true(added);
	assert_int_equal(db_exec(db, "DELETE FROM cosignatures", &err), PV_ERR);
	anchor_cosig_row_free(&c);
	int n = 0;
	fx_must(anchors_cosig_each(db, NULL, UINT64_MAX, count_cosig, &n, &err), &err, "all");
	assert_int_equal(n, 2);
	n = 0;
	fx_must(anchors_cosig_each(db, "audit", 9, count_cosig, &n, &err), &err, "one");
	assert_int_equal(n, 1);
	uint64_t seqs[4];
	size_t nseq;
	fx_must(anchors_cosig_checkpoints(db, "audit", UINT64_MAX, seqs, 4, &nseq, &err), &err,
		"checkpoints");
	assert_int_equal(nseq, 2);
	assert_int_equal(seqs[0], 9);
	assert_int_equal(seqs[1], 4);
	fx_must(anchors_cosig_checkpoints(db, "audit", 11, seqs, 4, &nseq, &err), &err, "<= 11");
	assert_int_equal(nseq, 1);
	assert_int_equal(seqs[0], 4);

	/* Attempts: the last one, the last success, the last failure's reason. */
	struct anchor_attempt_row a;
	fx_must(anchors_attempt_record(db, "archive", "tsa", 100, NULL, &err), &err, "ok");
	fx_must(anchors_attempt_record(db, "archive", "tsa", 200, "down", &err), &err, "down");
	fx_must(anchors_attempt_each(db, "archive", attempt_row, &a, &err), &err, "each");
	assert_int_equal(a.attempted_at, 200);
	assert_int_equal(a.ok_at, 100);
	assert_string_equal(a.error, "down");
	fx_must(anchors_attempt_record(db, "archive", "tsa", 300, NULL, &err), &err, "ok again");
	fx_must(anchors_attempt_each(db, "archive", attempt_row, &a, &err), &err, "each");
	assert_int_equal(a.ok_at, 300);
	assert_string_equal(a.error, "");
	fx_must(anchors_attempt_record(db, "audit", "w9", 50, "refused", &err), &err, "never ok");
	fx_must(anchors_attempt_each(db, "audit", attempt_row, &a, &err), &err, "each");
	assert_int_equal(a.ok_at, -1);
	pv_buf_free(&out);
}

static void test_store_tokens_cosignatures_attempts(void **state)
{
	(void)state;
	struct pv_error err;
	struct db *db;
	sqlite3 *h;
	assert_int_equal(sqlite3_open(":memory:", &h), SQLITE_OK);
	fx_catalog_schema(h);
	fx_must(db_sqlite_wrap(h, &db, &err), &err, "wrap");
	store_tokens_cosignatures_attempts(db);
	db_close(&db);
	sqlite3_close(h);
}

/* The same on PostgreSQL (PV_TEST_PG; tests/e2e/catalog_pg.t). */
static void test_store_tokens_cosignatures_attempts_pg(void **state)
{
	(void)state;
	struct db *db = fx_pg_fresh(migrations_catalog_pg.count);
	store_tokens_cosignatures_attempts(db);
	db_close(&db);
}

/* --- cosignatures ------------------------------------------------------------------ */

static void test_cosig_keys_sign_and_check(void **state)
{
	(void)state;
	struct cosig_signer s, s2;
	struct cosig_verifier v, v2;
	struct pv_buf vk, sk, note;
	struct pv_error err;
	bool ok[2];
	uint64_t t[2];
	static const char body[] = "example.com/log\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
	pv_buf_init(&vk, 512);
	pv_buf_init(&sk, 512);
	pv_buf_init(&note, 4096);
	fx_must(cosig_signer_generate("w.example/w1", &s, &err), &err, "generate");
	cosig_signer_verifier(&s, &v);
	fx_must(cosig_verifier_format(&v, &vk, &err), &err, "vkey");
	fx_must(cosig_verifier_parse((const char *)vk.data, vk.len, &v2, &err), &err, "parse vkey");
	assert_memory_equal(&v, &v2, sizeof(v));
	fx_must(cosig_signer_format(&s, &sk, &err), &err, "skey");
	fx_must(cosig_signer_parse((const char *)sk.data, sk.len, &s2, &err), &err, "parse skey");
	assert_memory_equal(s.sk, s2.sk, sizeof(s.sk));
	/* A note verifier key (type 0x01) is not a witness key, nor the reverse. */
	struct note_verifier nv;
	assert_int_equal(note_verifier_parse((const char *)vk.data, vk.len, &nv, &err),
			 PV_EINTEGRITY);
	assert_int_equal(cosig_verifier_parse("x+00000000+AAAA", 15, &v2, &err), PV_EINTEGRITY);

	/* The note: body, the log's (here: any) signature line, the cosignature. */
	pv_buf_printf(&note, &err, "%s\n\xe2\x80\x94 example.com/log AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", body);
	size_t base = note.len;
	fx_must(cosig_sign(&s, body, strlen(body), 1700000000, &note, &err), &err, "sign");
	const char *line = (const char *)note.data + base;
	assert_true(strncmp(line, "\xe2\x80\x94 w.example/w1 ", 17) == 0);
	fx_must(cosig_check_note((const char *)note.data, note.len, &v, 1, ok, t, &err), &err,
		"check");
	assert_true(ok[0]);
	assert_true(t[0] == 1700000000);
	/* Another witness's key: its lines are ignored, nothing verified. */
	struct cosig_signer o;
	fx_must(cosig_signer_generate("w.example/w2", &o, &err), &err, "other");
	cosig_signer_verifier(&o, &v2);
	fx_must(cosig_check_note((const char *)note.data, note.len, &v2, 1, ok, NULL, &err), &err,
		"other witness");
	assert_false(ok[0]);
	/* The same name with another key: a line of another key ID, ignored. */
	struct cosig_signer same;
	fx_must(cosig_signer_generate("w.example/w1", &same, &err), &err, "same name");
	cosig_signer_verifier(&same, &v2);
	fx_must(cosig_check_note((const char *)note.data, note.len, &v2, 1, ok, NULL, &err), &err,
		"same name, other key");
	assert_false(ok[0]);
	/* A cosignature over another time (the time is signed) fails. */
	uint8_t raw[COSIG_SIG_LEN];
	size_t n;
	const char *b64 = strrchr(line, ' ') + 1;
	assert_int_equal(pv_b64_decode(b64, strlen(b64) - 1, raw, sizeof(raw), &n), 0);
	raw[11] ^= 1;
	char enc[128];
	sodium_bin2base64(enc, sizeof(enc), raw, n, sodium_base64_VARIANT_ORIGINAL);
	note.len = base;
	pv_buf_printf(&note, &err, "\xe2\x80\x94 w.example/w1 %s\n", enc);
	assert_int_equal(cosig_check_note((const char *)note.data, note.len, &v, 1, ok, t, &err),
			 PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "bad cosignature by witness w.example/w1"));
	assert_false(ok[0]);
	cosig_signer_wipe(&s);
	cosig_signer_wipe(&s2);
	pv_buf_free(&vk);
	pv_buf_free_secret(&sk);
	pv_buf_free(&note);
}

/* --- the witness ----------------------------------------------------------------------- */

struct wfx {
	char dir[FX_PATH_MAX], keydir[FX_PATH_MAX], dbpath[FX_PATH_MAX];
	char wkey[FX_PATH_MAX + 16], wstate[FX_PATH_MAX + 16];
	sqlite3 *db;
	struct tlog *t;
	struct note_signer *s;
	struct witness *w;
	struct cosig_verifier wv;
};

static void wfx_setup(struct wfx *f)
{
	char vkey[NOTE_VKEY_MAX + 1];
	struct note_verifier nv;
	struct pv_buf wvk;
	struct pv_error err;
	fx_logdir_make("witness", f->dir, f->keydir, f->dbpath);
	f->db = fx_logdb_open(f->dbpath, NULL);
	fx_log_create(fx_conn(f->db), f->keydir, "audit", "example.com/log", vkey);
	fx_log_open(fx_conn(f->db), f->keydir, "audit", &f->t, &f->s);
	snprintf(f->wkey, sizeof(f->wkey), "%s/w.key", f->dir);
	snprintf(f->wstate, sizeof(f->wstate), "%s/w.db", f->dir);
	pv_buf_init(&wvk, 512);
	fx_must(witness_init(f->wkey, f->wstate, "w.example/w", &wvk, &err), &err, "witness init");
	fx_must(cosig_verifier_parse((const char *)wvk.data, wvk.len, &f->wv, &err), &err, "wvk");
	pv_buf_free(&wvk);
	fx_must(note_verifier_parse(vkey, strlen(vkey), &nv, &err), &err, "log vkey");
	struct witness_opts o = {f->wkey, f->wstate, &nv, 1};
	fx_must(witness_open(&o, &f->w, &err), &err, "witness open");
}

static void wfx_free(struct wfx *f)
{
	witness_free(&f->w);
	keys_free(&f->s);
	tlog_free(&f->t);
	sqlite3_close(f->db);
	fx_rmtree(f->dir);
}

/* Appends n leaves and signs; the new checkpoint note into note. */
static void grow(struct wfx *f, int n, struct pv_buf *note)
{
	struct pv_error err;
	for (int i = 0; i < n; i++) {
		char e[32];
		snprintf(e, sizeof(e), "entry %d", rand());
		struct tlog_entry te = {e, strlen(e)};
		fx_must(tlog_append(f->t, &te, 1, NULL, &err), &err, "append");
	}
	pv_buf_reset(note);
	fx_must(checkpoint_sign(f->t, f->s, 0, note, NULL, &err), &err, "sign");
}

/* POSTs "old OLD", the proof from OLD to the note's size (when proof), the
 * note; returns the status, the answer in a. */
static int add(struct wfx *f, uint64_t old, bool proof, const struct pv_buf *note,
	       struct witness_answer *a)
{
	struct pv_buf req;
	struct pv_error err;
	merkle_hash h[PV_PROOF_HASHES_MAX];
	uint64_t size;
	size_t n = 0;
	pv_buf_init(&req, PV_WITNESS_REQUEST_MAX);
	pv_buf_printf(&req, &err, "old %llu\n", (unsigned long long)old);
	fx_must(tlog_size(f->t, &size, &err), &err, "size");
	if (proof && old > 0 && old < size)
		fx_must(tlog_consistency_proof(f->t, old, size, h, &n, &err), &err, "proof");
	for (size_t i = 0; i < n; i++) {
		char b64[64];
		sodium_bin2base64(b64, sizeof(b64), h[i], 32, sodium_base64_VARIANT_ORIGINAL);
		pv_buf_printf(&req, &err, "%s\n", b64);
	}
	pv_buf_append_str(&req, "\n", &err);
	pv_buf_append(&req, note->data, note->len, &err);
	witness_answer_free(a);
	witness_answer_init(a);
	witness_add_checkpoint(f->w, req.data, req.len, a);
	pv_buf_free(&req);
	return a->status;
}

static void test_witness_decides_by_the_protocol(void **state)
{
	(void)state;
	struct wfx f;
	struct pv_buf n3, n5, n8, note;
	struct witness_answer a;
	struct pv_error err;
	bool ok;
	memset(&f, 0, sizeof(f));
	wfx_setup(&f);
	pv_buf_init(&n3, PV_NOTE_MAX);
	pv_buf_init(&n5, PV_NOTE_MAX);
	pv_buf_init(&n8, PV_NOTE_MAX);
	pv_buf_init(&note, PV_NOTE_MAX);
	witness_answer_init(&a);
	grow(&f, 3, &n3);
	assert_int_equal(add(&f, 0, true, &n3, &a), 200);
	/* The answer is a cosignature line that verifies over the note. */
	pv_buf_append(&note, n3.data, n3.len, &err);
	pv_buf_append(&note, a.body.data, a.body.len, &err);
	fx_must(cosig_check_note((const char *)note.data, note.len, &f.wv, 1, &ok, NULL, &err), &err,
		"cosignature");
	assert_true(ok);
	grow(&f, 2, &n5);
	assert_int_equal(add(&f, 0, true, &n5, &a), 409);       /* it holds 3, not 0 */
	assert_string_equal(a.content_type, WITNESS_SIZE_TYPE);
	assert_string_equal(pv_buf_str(&a.body), "3\n");
	assert_int_equal(add(&f, 3, false, &n5, &a), 422);      /* no proof */
	assert_int_equal(add(&f, 3, true, &n5, &a), 200);
	assert_int_equal(add(&f, 5, true, &n5, &a), 200);       /* the same again: fine */
	assert_int_equal(add(&f, 3, true, &n3, &a), 409);       /* stale: it holds 5 */
	assert_string_equal(pv_buf_str(&a.body), "5\n");
	assert_int_equal(add(&f, 5, true, &n3, &a), 400);       /* old above the size */
	grow(&f, 3, &n8);
	assert_int_equal(add(&f, 5, true, &n8, &a), 200);
	/* Refusals and malformed requests leave the state as it was. */
	struct pv_buf junk = {0};
	pv_buf_init(&junk, 64);
	pv_buf_append_str(&junk, "example.com/log\n8\n", &err);
	assert_int_equal(add(&f, 8, true, &junk, &a), 400);
	pv_buf_reset(&note);
	pv_buf_append(&note, n8.data, n8.len, &err);
	/* Another base64 digit inside the signature (not its padding). */
	note.data[note.len - 5] = note.data[note.len - 5] == 'A' ? 'B' : 'A';
	assert_int_equal(add(&f, 8, true, &note, &a), 403);
	assert_int_equal(add(&f, 8, true, &n8, &a), 200);
	pv_buf_free(&junk);
	witness_answer_free(&a);
	pv_buf_free(&n3);
	pv_buf_free(&n5);
	pv_buf_free(&n8);
	pv_buf_free(&note);
	wfx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_anchor_and_witnesses),
		cmocka_unit_test(test_config_bad_anchor_values_are_named),
		cmocka_unit_test(test_tsa_request_is_der_with_imprint_nonce_and_cert_req),
		cmocka_unit_test(test_tsa_oid_valid),
		cmocka_unit_test(test_tsa_garbage_replies_are_refused),
		cmocka_unit_test(test_store_tokens_cosignatures_attempts),
		cmocka_unit_test(test_store_tokens_cosignatures_attempts_pg),
		cmocka_unit_test(test_cosig_keys_sign_and_check),
		cmocka_unit_test(test_witness_decides_by_the_protocol),
	};
	if (sodium_init() < 0)
		return 1;
	/* The _pg case needs PV_TEST_PG (tests/e2e/catalog_pg.t): without it
	 * it is left out (a cmocka skip would fail prove). */
	struct CMUnitTest run[sizeof(tests) / sizeof(tests[0])];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (fx_pg_conninfo() != NULL ||
		    tests[i].test_func != test_store_tokens_cosignatures_attempts_pg)
			run[n++] = tests[i];
	return _cmocka_run_group_tests("anchor", run, n, NULL, NULL);
}
