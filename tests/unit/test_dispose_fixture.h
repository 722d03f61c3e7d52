/* A real data directory for the retention and disposal tests: config,
 * keyring, catalog with both logs, one account, and messages archived
 * through ingest_commit (blob written, retention decided under the policy
 * in force, leaf and checkpoint). Included by the tests that need an
 * archive (cmocka must be included first); not every one uses every
 * helper (FX_HELPER). */
#ifndef PV_TEST_DISPOSE_FIXTURE_H
#define PV_TEST_DISPOSE_FIXTURE_H

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/config.h"
#include "archiver/lib/fsutil.h"
#include "archiver/store/accounts.h"
#include "archiver/store/datadir.h"
#include "archiver/store/blob.h"
#include "archiver/store/catalog.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/ingest.h"
#include "archiver/store/keyring.h"
#include "archiver/store/message.h"
#include "archiver/archive/policies.h"
#include "policy/policy.h"
#include "tests/unit/fixtures.h"

#define FX_HELPER static __attribute__((unused))

struct fx {
	char dir[64];
	struct archive *ar;
	struct account acct;
	int next_uidl;
};

static void fx_init(struct fx *f)
{
	struct pv_error err;
	struct pv_config cfg;
	struct catalog *cat = NULL;
	struct pv_buf vkeys;
	char path[256];

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/pv-dispose-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	static const char *const subdirs[] = {"blobs", "keys", "tmp"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, subdirs[i]);
		fx_must(pv_mkdir(path, 0700, 0, &err), &err, "mkdir");
	}
	pv_config_defaults(&cfg);
	snprintf(cfg.origin, sizeof(cfg.origin), "test.example/popvault");
	fx_must(pv_config_write(f->dir, &cfg, &err), &err, "config");
	fx_must(keyring_create(f->dir, &err), &err, "keyring");
	fx_must(catalog_open(f->dir, 1, &cat, &err), &err, "catalog");
	pv_buf_init(&vkeys, 4096);
	fx_must(archive_create_logs(cat->conn, f->dir, cfg.origin, &vkeys, &err), &err, "logs");
	pv_buf_free(&vkeys);
	catalog_close(&cat);
	fx_must(archive_open(f->dir, &f->ar, &err), &err, "archive_open");
	snprintf(f->acct.name, sizeof(f->acct.name), "sales");
	snprintf(f->acct.host, sizeof(f->acct.host), "pop.example");
	f->acct.port = 995;
	snprintf(f->acct.tls, sizeof(f->acct.tls), "implicit");
	snprintf(f->acct.user, sizeof(f->acct.user), "u");
	snprintf(f->acct.auth, sizeof(f->acct.auth), "auto");
	fx_must(account_seal(f->ar->kr, &f->acct, "pw", &err), &err, "seal");
	fx_must(account_insert(f->ar->cat->conn, &f->acct, &err), &err, "account");
}

static void fx_free(struct fx *f)
{
	archive_close(&f->ar);
	account_clear(&f->acct);
	fx_rmtree(f->dir);
}

/* Archives raw[0..len) as received at `received`; returns its id. With
 * keep_plain, as the harvest archives small mail: the plaintext handed to
 * ingest (one MIME parse for policy and index, indexed in the commit);
 * else read back from the blob. */
static int64_t fx_archive_bytes(struct fx *f, const char *raw, size_t len, int64_t received,
				bool keep_plain)
{
	struct pv_error err;
	struct blob_writer *w;
	struct ingest_item it;
	memset(&it, 0, sizeof(it));
	fx_must(blob_writer_new(f->dir, &w, &err), &err, "blob_writer_new");
	fx_must(blob_writer_write(w, raw, len, &err), &err, "blob write");
	fx_must(blob_writer_finish(&w, &it.blob, &err), &err, "blob finish");
	snprintf(it.uidl, sizeof(it.uidl), "uidl-%d", ++f->next_uidl);
	it.msgnum = 1;
	it.received_at = received;
	if (keep_plain) {
		it.plain = (const unsigned char *)raw;
		it.plain_len = len;
	}
	fx_must(ingest_commit(f->ar, &f->acct, &it, 1, &err), &err, "ingest_commit");
	return it.message_id;
}

/* Archives each message through one ingest session, one group commit, as
 * the harvest does (into packs); ids[i] is msgs[i]'s. */
FX_HELPER void fx_archive_session(struct fx *f, unsigned char **msgs, const size_t *lens, size_t n,
				int64_t *ids)
{
	struct pv_error err;
	struct ingest *in;
	const struct ingest_msg *done;
	size_t n_done;
	bool before;
	struct ingest_msg im;
	fx_must(ingest_new(f->ar, &f->acct, &in, &err), &err, "ingest_new");
	for (size_t i = 0; i < n; i++) {
		char uidl[32];
		snprintf(uidl, sizeof(uidl), "u-%d", ++f->next_uidl);
		fx_must(ingest_begin(in, &err), &err, "begin");
		for (size_t off = 0; off < lens[i]; off += 7001) /* odd pieces, across blocks */
			fx_must(ingest_write(in, msgs[i] + off, lens[i] - off < 7001 ? lens[i] - off : 7001,
					     &err), &err, "write");
		fx_must(ingest_end(in, (uint32_t)i + 1, uidl, 1700000000, &before, &im, &err), &err, "end");
		assert_false(before);
	}
	assert_int_equal(ingest_pending(in), n);
	fx_must(ingest_group_commit(in, NULL, NULL, &done, &n_done, &err), &err, "commit");
	assert_int_equal(n_done, n);
	for (size_t i = 0; i < n; i++)
		ids[i] = done[i].message_id;
	ingest_free(&in);
}

/* Archives raw (NUL-terminated text) as received at `received`; returns its id. */
static int64_t fx_archive(struct fx *f, const char *raw, int64_t received)
{
	return fx_archive_bytes(f, raw, strlen(raw), received, false);
}

/* Stores text as the next policy version (no re-evaluation), audited as
 * `policy set` does (disposal checks versions against the audit log);
 * returns it. */
FX_HELPER int64_t fx_policy_store(struct fx *f, const char *text)
{
	struct pv_error err;
	struct policy *p = NULL;
	struct policy_version_info cur;
	char hex[POLICY_HASH_HEX_LEN];
	int64_t v = 0, prev = 0;
	fx_must(policy_parse(text, strlen(text), &p, NULL, &err), &err, "policy_parse");
	policy_hash_hex(p, hex);
	if (policy_store_current(f->ar->cat->conn, &cur, NULL) == PV_OK)
		prev = cur.version;
	fx_must(catalog_begin(f->ar->cat, &err), &err, "begin");
	fx_must(archive_auditf(f->ar, "cli:test", AUDIT_POLICY_SET, "ok", NULL, &err,
			       "version=%lld sha256=%s previous=%lld", (long long)prev + 1, hex,
			       (long long)prev),
		&err, "audit policy-set");
	fx_must(policy_version_add(f->ar->cat->conn, p, "cli:test", 1700000000, &v, &err), &err,
		"policy_version_add");
	fx_must(catalog_commit(f->ar->cat, &err), &err, "commit");
	policy_free(&p);
	return v;
}

static struct stored_message fx_load(struct fx *f, int64_t id)
{
	struct stored_message m;
	struct pv_error err;
	fx_must(message_load(f->ar->cat->conn, id, &m, &err), &err, "message_load");
	return m;
}

static int64_t fx_int(struct fx *f, const char *sql)
{
	struct pv_error err;
	int64_t v = -1;
	fx_must(catalog_query_int(f->ar->cat->db, sql, &v, &err), &err, sql);
	return v;
}

static int fx_sink_buf(void *ctx, const unsigned char *d, size_t n, struct pv_error *err)
{
	return pv_buf_append(ctx, d, n, err);
}

/* 0 when message id reads back as expected, else the message_read status. */
FX_HELPER int fx_read(struct fx *f, int64_t id, const char *expect)
{
	struct stored_message m = fx_load(f, id);
	struct pv_error err;
	struct pv_buf b;
	pv_buf_init(&b, 1 << 20);
	int r = message_read(f->ar, &m, fx_sink_buf, &b, &err);
	if (r == PV_OK && expect != NULL)
		assert_string_equal(pv_buf_str(&b), expect);
	pv_buf_free(&b);
	return r;
}

/* Unix seconds of a UTC date "YYYY-MM-DD" or RFC 3339 time. */
FX_HELPER int64_t fx_t(const char *s)
{
	int64_t t;
	assert_int_equal(pv_clock_parse_rfc3339(s, &t), 0);
	return t;
}

#endif
