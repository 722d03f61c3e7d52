/* The signer process (archiver/signer): archives signing through it, and
 * the requests it must refuse, sent as a client that lies would send them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/archive/identity.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/config.h"
#include "archiver/lib/fsutil.h"
#include "archiver/signer/signer.h"
#include "archiver/signer/signer_wire.h"
#include "archiver/store/catalog.h"
#include "archiver/store/catalog_url.h"
#include "archiver/store/datadir.h"
#include "archiver/store/keyring.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"
#include "audit/tlog_verify.h"
#include "tests/unit/fixtures.h"

#define ORIGIN "test.example/popvault"

struct fx {
	char dir[64];
	struct signer *sg;
	struct archive *ar;
	struct db *pg; /* the catalog in a PostgreSQL schema of its own (DIR/catalog.url) */
};

/* The catalog of f->dir in a fresh PostgreSQL schema: DIR/catalog.url
 * names it (the schema by search_path), catalog_open makes it. */
static void use_postgres(struct fx *f)
{
	struct pv_error err;
	struct db_stmt *st;
	char url[1024];
	f->pg = fx_pg_fresh(0);
	fx_must(db_prepare(f->pg, "SELECT current_schema()", &st, &err), &err, "schema");
	assert_int_equal(db_step(st, &err), DB_ROW);
	snprintf(url, sizeof(url), "%s options=-csearch_path=%s", fx_pg_conninfo(),
		 db_column_text(st, 0));
	db_finalize(&st);
	fx_must(catalog_url_write(f->dir, url, &err), &err, "catalog.url");
}

static void make_datadir(struct fx *f, bool pg)
{
	struct pv_error err;
	struct pv_config cfg;
	struct catalog *cat = NULL;
	struct pv_buf vkeys;
	char path[128];
	snprintf(f->dir, sizeof(f->dir), "/tmp/pv-signer-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	static const char *const subdirs[] = {"blobs", "keys", "tmp"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, subdirs[i]);
		fx_must(pv_mkdir(path, 0700, 0, &err), &err, "mkdir");
	}
	pv_config_defaults(&cfg);
	snprintf(cfg.origin, sizeof(cfg.origin), ORIGIN);
	fx_must(pv_config_write(f->dir, &cfg, &err), &err, "config");
	fx_must(keyring_create(f->dir, &err), &err, "keyring");
	if (pg)
		use_postgres(f);
	fx_must(catalog_open(f->dir, 1, &cat, &err), &err, "catalog");
	pv_buf_init(&vkeys, 4096);
	fx_must(archive_create_logs(cat->conn, f->dir, cfg.origin, &vkeys, &err), &err, "logs");
	pv_buf_free(&vkeys);
	catalog_close(&cat);
}

static void start(struct fx *f)
{
	struct pv_error err;
	fx_must(signer_start(f->dir, &f->sg, &err), &err, "signer_start");
	archive_set_key_source(signer_key_source(f->sg));
	fx_must(archive_open(f->dir, &f->ar, &err), &err, "archive_open");
}

static void stop(struct fx *f)
{
	archive_close(&f->ar);
	archive_set_key_source(NULL);
	signer_free(&f->sg);
}

static void fx_init_on(struct fx *f, bool pg)
{
	memset(f, 0, sizeof(*f));
	make_datadir(f, pg);
	start(f);
}

static void fx_init(struct fx *f)
{
	fx_init_on(f, false);
}

static void fx_free(struct fx *f)
{
	stop(f);
	fx_rmtree(f->dir);
	db_close(&f->pg);
}

static void audit(struct fx *f, const char *what)
{
	struct pv_error err;
	fx_must(archive_audit(f->ar, "cli:test", AUDIT_VIEW, what, "ok", NULL, &err), &err,
		"archive_audit");
}

/* Every checkpoint of log t verifies, none is left reserved. */
static void assert_log_sound(struct tlog *t)
{
	struct tlog_verify_report rep;
	struct pv_error err;
	fx_must(tlog_verify(t, NULL, NULL, NULL, 0, &rep, &err), &err, "tlog_verify");
	assert_int_equal(rep.reserved, 0);
	assert_int_equal(rep.latest_size, rep.size);
}

/* The signer's state file for log: its last tree. */
static void state(struct fx *f, const char *log, struct keys_state *st)
{
	char dir[128];
	struct pv_error err;
	archive_sign_dir(f->dir, dir, sizeof(dir));
	keys_state_init(st);
	fx_must(keys_state_read(dir, log, st, &err), &err, "keys_state_read");
}

/* On PostgreSQL too (catalog_pg.t): there is no WAL hook, the
 * interface's commit hook (db_on_commit) signs what a commit reserved. */
static void every_checkpoint_is_signed(bool pg)
{
	struct fx f;
	fx_init_on(&f, pg);
	assert_non_null(f.ar->audit_key->remote);
	assert_non_null(f.ar->archive_key->remote);
	for (int i = 0; i < 5; i++)
		audit(&f, "message=1");
	/* The archive log: leaves and a checkpoint in one transaction. */
	struct pv_error err;
	struct tlog_entry e = {"leaf", 4};
	fx_must(catalog_begin(f.ar->cat, &err), &err, "begin");
	fx_must(tlog_append(f.ar->archive_log, &e, 1, NULL, &err), &err, "append");
	fx_must(archive_sign_checkpoint(f.ar, f.ar->archive_log, &err), &err, "reserve");
	fx_must(catalog_commit(f.ar->cat, &err), &err, "commit");
	assert_log_sound(f.ar->audit_log);
	assert_log_sound(f.ar->archive_log);
	/* The signer remembers the last tree it signed. */
	struct keys_state st;
	uint64_t size;
	state(&f, "audit", &st);
	fx_must(tlog_size(f.ar->audit_log, &size, &err), &err, "size");
	assert_int_equal(st.size, size);
	keys_state_free(&st);
	fx_free(&f);
}

static void test_archive_keys_are_remote_and_every_checkpoint_is_signed(void **state_)
{
	(void)state_;
	every_checkpoint_is_signed(false);
}

static void test_on_postgresql_every_checkpoint_is_signed_after_its_commit(void **state_)
{
	(void)state_;
	every_checkpoint_is_signed(true);
}

/* A channel to the signer as signer_client.c makes one: our end of a
 * fresh pair, the other end sent over the control socket. */
static int raw_channel(struct fx *f)
{
	int sv[2];
	char byte = 'C', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&byte, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			   .msg_controllen = sizeof(cbuf)};
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	memset(cbuf, 0, sizeof(cbuf));
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
	assert_int_equal(sendmsg(signer_control_fd(f->sg), &m, MSG_NOSIGNAL), 1);
	close(sv[1]);
	usleep(100000); /* the signer takes it */
	return sv[0];
}

/* A channel taken into the slot of one that was closed is not "ready"
 * by that one's poll result: the signer once waited in recv for the new
 * channel's first request, and every other channel waited with it (a
 * deadlock on PostgreSQL, whose writer lock the silent client waited
 * for while the lock's holder waited for a signature). */
static void test_a_silent_new_channel_holds_up_no_other(void **state_)
{
	(void)state_;
	struct fx f;
	fx_init(&f);
	int a = raw_channel(&f), b = raw_channel(&f);
	close(a);
	close(b);
	usleep(100000); /* the signer drops both */
	int silent = raw_channel(&f);
	int64_t t0 = pv_clock_monotonic_ms();
	audit(&f, "message=1"); /* signs through the archive's own channel */
	assert_true(pv_clock_monotonic_ms() - t0 < 5000);
	assert_log_sound(f.ar->audit_log);
	close(silent);
	fx_free(&f);
}

/* The case that makes the signer sign after the commit: a transaction
 * that appended and reserved a checkpoint rolls back; nothing was signed,
 * so the log goes on without a fork. */
static void test_a_rolled_back_transaction_leaves_nothing_signed(void **state_)
{
	(void)state_;
	struct fx f;
	struct pv_error err;
	struct keys_state before, after;
	fx_init(&f);
	audit(&f, "message=1");
	state(&f, "audit", &before);
	fx_must(catalog_begin(f.ar->cat, &err), &err, "begin");
	audit(&f, "message=2");
	audit(&f, "message=3");
	catalog_rollback(f.ar->cat);
	state(&f, "audit", &after);
	assert_int_equal(after.size, before.size);
	assert_memory_equal(after.root, before.root, MERKLE_HASH_LEN);
	audit(&f, "message=4");
	assert_log_sound(f.ar->audit_log);
	keys_state_free(&before);
	keys_state_free(&after);
	fx_free(&f);
}

/* A checkpoint body of log `log` for (size, root). */
static void body(char *out, size_t cap, const char *log, uint64_t size, const merkle_hash root)
{
	struct pv_buf b;
	char origin[128];
	struct pv_error err;
	snprintf(origin, sizeof(origin), ORIGIN "/%s", log);
	pv_buf_init(&b, 1024);
	fx_must(checkpoint_format(origin, size, root, -1, &b, &err), &err, "format");
	snprintf(out, cap, "%s", pv_buf_str(&b));
	pv_buf_free(&b);
}

static int ask(struct fx *f, uint8_t op, const char *vkey, const char *text, uint64_t from,
	       const merkle_hash *proof, size_t nproof, struct pv_buf *reply)
{
	struct pv_error err;
	int status = -1;
	struct signer_req q = {.op = op, .log = 1, .from = from, .proof = proof, .nproof = nproof,
			       .vkey = vkey, .vkey_len = vkey ? strlen(vkey) : 0,
			       .text = text, .text_len = text ? strlen(text) : 0};
	pv_buf_reset(reply);
	fx_must(signer_request(f->sg, &q, &status, NULL, reply, &err), &err, "signer_request");
	return status;
}

/* A tree of n leaves "fork-i" (none of the audit log's) in a scratch log. */
static void other_tree(uint64_t n, uint64_t from, merkle_hash root, merkle_hash *proof,
		       size_t *nproof)
{
	char dir[FX_PATH_MAX], keydir[FX_PATH_MAX], dbpath[FX_PATH_MAX];
	struct pv_error err;
	struct tlog *t;
	fx_logdir_make("signer-fork", dir, keydir, dbpath);
	sqlite3 *db = fx_logdb_open(dbpath, NULL);
	fx_must(tlog_create(fx_conn(db), "audit", ORIGIN "/audit", &err), &err, "create");
	fx_must(tlog_open(fx_conn(db), "audit", &t, &err), &err, "open");
	for (uint64_t i = 0; i < n; i++) {
		char leaf[32];
		int len = snprintf(leaf, sizeof(leaf), "fork-%llu", (unsigned long long)i);
		struct tlog_entry e = {leaf, (size_t)len};
		fx_must(tlog_append(t, &e, 1, NULL, &err), &err, "append");
	}
	fx_must(tlog_root(t, n, root, &err), &err, "root");
	*nproof = 0;
	if (from > 0 && from < n)
		fx_must(tlog_consistency_proof(t, from, n, proof, nproof, &err), &err, "proof");
	tlog_free(&t);
	sqlite3_close(db);
	fx_rmtree(dir);
}

static void test_the_signer_refuses_a_tree_that_does_not_extend_its_last(void **state_)
{
	(void)state_;
	struct fx f;
	struct pv_error err;
	struct keys_state st;
	struct tlog_epoch_row ep;
	struct pv_buf reply;
	merkle_hash root, proof[PV_PROOF_HASHES_MAX];
	size_t n;
	char text[1024];

	fx_init(&f);
	for (int i = 0; i < 6; i++)
		audit(&f, "message=1");
	state(&f, "audit", &st);
	assert_true(st.size >= 6);
	tlog_epoch_row_init(&ep);
	fx_must(tlog_epoch_get(f.ar->audit_log, UINT32_MAX, &ep, &err), &err, "epoch");
	pv_buf_init(&reply, PV_KEYS_STATE_NOTE_MAX);

	/* Another tree, one entry longer, with a proof from another past. */
	other_tree(st.size + 1, st.size, root, proof, &n);
	body(text, sizeof(text), "audit", st.size + 1, root);
	assert_int_equal(ask(&f, SIGNER_SIGN_CHECKPOINT, ep.vkey, text, st.size, proof, n, &reply),
			 SIGNER_REFUSED);
	assert_non_null(strstr(pv_buf_str(&reply), "does not extend"));
	/* The same size with another root: a fork. */
	other_tree(st.size, 0, root, proof, &n);
	body(text, sizeof(text), "audit", st.size, root);
	assert_int_equal(ask(&f, SIGNER_SIGN_CHECKPOINT, ep.vkey, text, st.size, NULL, 0, &reply),
			 SIGNER_REFUSED);
	assert_non_null(strstr(pv_buf_str(&reply), "fork"));
	/* An older tree: a rollback, whatever proof comes with it. */
	other_tree(st.size - 2, 0, root, proof, &n);
	body(text, sizeof(text), "audit", st.size - 2, root);
	assert_int_equal(ask(&f, SIGNER_SIGN_CHECKPOINT, ep.vkey, text, st.size - 2, NULL, 0, &reply),
			 SIGNER_REFUSED);
	assert_non_null(strstr(pv_buf_str(&reply), "rollback"));
	/* Its own last tree, claimed from a size it did not sign last: told
	 * to prove from its last. */
	body(text, sizeof(text), "audit", st.size, st.root);
	assert_int_equal(ask(&f, SIGNER_SIGN_CHECKPOINT, ep.vkey, text, 1, NULL, 0, &reply),
			 SIGNER_STALE);
	/* The real log's extension passes: the refusals were not blanket ones. */
	audit(&f, "message=2");
	assert_log_sound(f.ar->audit_log);

	/* Its state did not move for any refusal. */
	struct keys_state now;
	state(&f, "audit", &now);
	assert_int_equal(now.size, st.size + 1);
	keys_state_free(&now);
	keys_state_free(&st);
	tlog_epoch_row_free(&ep);
	pv_buf_free(&reply);
	fx_free(&f);
}

static void test_the_signer_signs_nothing_but_checkpoints_rotations_and_manifests(void **state_)
{
	(void)state_;
	struct fx f;
	struct pv_buf reply;
	char text[1024];
	fx_init(&f);
	pv_buf_init(&reply, PV_KEYS_STATE_NOTE_MAX);
	/* A checkpoint body presented as a manifest. */
	merkle_hash root;
	merkle_empty_root(root);
	body(text, sizeof(text), "audit", 99, root);
	assert_int_equal(ask(&f, SIGNER_SIGN_MANIFEST, NULL, text, 0, NULL, 0, &reply),
			 SIGNER_REFUSED);
	assert_int_equal(ask(&f, SIGNER_SIGN_MANIFEST, NULL, "hello\n", 0, NULL, 0, &reply),
			 SIGNER_REFUSED);
	assert_int_equal(ask(&f, 99, NULL, "hello\n", 0, NULL, 0, &reply), SIGNER_REFUSED);
	/* A real manifest is signed. */
	assert_int_equal(ask(&f, SIGNER_SIGN_MANIFEST, NULL,
			     "popvault/bundle-manifest/v1\nkind audit\nsha256 "
			     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
			     0, NULL, 0, &reply),
			 SIGNER_OK);
	/* A rotation note for a key it did not prepare. */
	assert_int_equal(ask(&f, SIGNER_SIGN_ROTATION, NULL,
			     "popvault/key-rotation/v1\norigin x\nsize 1\n", 0, NULL, 0, &reply),
			 SIGNER_REFUSED);
	pv_buf_free(&reply);
	fx_free(&f);
}

static void test_its_memory_survives_a_restart(void **state_)
{
	(void)state_;
	struct fx f;
	struct pv_error err;
	struct pv_buf reply;
	struct tlog_epoch_row ep;
	merkle_hash root, proof[PV_PROOF_HASHES_MAX];
	size_t n;
	char text[1024];
	fx_init(&f);
	for (int i = 0; i < 4; i++)
		audit(&f, "message=1");
	stop(&f);
	start(&f);
	tlog_epoch_row_init(&ep);
	fx_must(tlog_epoch_get(f.ar->audit_log, UINT32_MAX, &ep, &err), &err, "epoch");
	pv_buf_init(&reply, PV_KEYS_STATE_NOTE_MAX);
	other_tree(3, 0, root, proof, &n);
	body(text, sizeof(text), "audit", 3, root);
	assert_int_equal(ask(&f, SIGNER_SIGN_CHECKPOINT, ep.vkey, text, 3, NULL, 0, &reply),
			 SIGNER_REFUSED);
	audit(&f, "message=2");
	assert_log_sound(f.ar->audit_log);
	tlog_epoch_row_free(&ep);
	pv_buf_free(&reply);
	fx_free(&f);
}

static void test_a_data_directory_without_state_starts_from_its_latest_checkpoint(void **st)
{
	(void)st;
	struct fx f;
	char path[256];
	memset(&f, 0, sizeof(f));
	make_datadir(&f, false);
	snprintf(path, sizeof(path), "%s/keys/sign/audit.signed", f.dir);
	assert_int_equal(unlink(path), 0);
	/* And the keys where they were before keys/sign. */
	char from[256], to[256];
	snprintf(from, sizeof(from), "%s/keys/sign/archive.key", f.dir);
	snprintf(to, sizeof(to), "%s/keys/archive.key", f.dir);
	assert_int_equal(rename(from, to), 0);
	start(&f);
	audit(&f, "message=1");
	audit(&f, "message=2");
	assert_log_sound(f.ar->audit_log);
	assert_int_equal(access(from, F_OK), 0);
	assert_int_equal(access(path, F_OK), 0);
	fx_free(&f);
}

static void test_rotation_goes_through_the_signer(void **state_)
{
	(void)state_;
	struct fx f;
	struct pv_error err;
	struct pv_buf vkey;
	char path[256];
	unsigned char *before, *after;
	size_t lb, la;
	fx_init(&f);
	audit(&f, "message=1");
	snprintf(path, sizeof(path), "%s/keys/sign/audit.key", f.dir);
	fx_must(pv_read_file(path, 4096, &before, &lb, &err), &err, "read key");
	pv_buf_init(&vkey, NOTE_VKEY_MAX);
	fx_must(archive_rotate_key(f.ar, f.ar->audit_log, "cli:test", &vkey, &err), &err, "rotate");
	audit(&f, "message=2");
	assert_log_sound(f.ar->audit_log);
	/* The seed on disk is the new key's, the old one is gone. */
	fx_must(pv_read_file(path, 4096, &after, &la, &err), &err, "read key");
	assert_false(lb == la && memcmp(before, after, lb) == 0);
	snprintf(path, sizeof(path), "%s/keys/sign/audit.key.next", f.dir);
	assert_int_equal(access(path, F_OK), -1);
	sodium_memzero(before, lb);
	sodium_memzero(after, la);
	free(before);
	free(after);
	pv_buf_free(&vkey);
	/* And a restarted signer holds the new key. */
	stop(&f);
	start(&f);
	audit(&f, "message=3");
	assert_log_sound(f.ar->audit_log);
	fx_free(&f);
}

/* The drop: a process that started the signer cannot open the seeds any
 * more (in a child, which gets its own mount namespace). Needs root or
 * user namespaces; skipped where the kernel allows neither. */
static void test_after_the_drop_the_seeds_cannot_be_opened(void **state_)
{
	(void)state_;
	struct fx f;
	memset(&f, 0, sizeof(f));
	make_datadir(&f, false);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pv_error err;
		struct signer *sg = NULL;
		const char *why = NULL;
		char path[256];
		if (signer_start(f.dir, &sg, &err) != 0)
			_exit(10);
		int r = signer_hide_keys(f.dir, &why, &err);
		if (r == 1)
			_exit(77);
		if (r != 0)
			_exit(11);
		snprintf(path, sizeof(path), "%s/keys/sign/audit.key", f.dir);
		int fd = open(path, O_RDONLY);
		if (fd >= 0 || errno != ENOENT)
			_exit(12);
		/* The archive still works, signed by the signer. */
		struct archive *ar = NULL;
		archive_set_key_source(signer_key_source(sg));
		if (archive_open(f.dir, &ar, &err) != 0 ||
		    archive_audit(ar, "cli:test", AUDIT_VIEW, "message=1", "ok", NULL, &err) != 0)
			_exit(13);
		archive_close(&ar);
		signer_free(&sg);
		_exit(0);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		fx_rmtree(f.dir);
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Outside that namespace the seeds are where they were. */
	char path[256];
	snprintf(path, sizeof(path), "%s/keys/sign/audit.key", f.dir);
	assert_int_equal(access(path, R_OK), 0);
	fx_rmtree(f.dir);
}

/* Several harvesters on one PostgreSQL catalog (archive/identity.h): a
 * key rotated on A reaches B only through the identity file A wrote.
 * Until B installs it, B signs nothing and says what to run — at open,
 * and on a handle opened before the rotation, whose append commits
 * nothing. B's update refuses a wrong passphrase, another archive's
 * file (of the same origin) and the file of an earlier rotation, each
 * changing nothing. Local keys: the seeds are the files the signer
 * reads. */
static void test_a_rotation_reaches_another_harvester_by_its_identity(void **state_)
{
	static const struct backup_kdf cheap = {crypto_pwhash_OPSLIMIT_MIN,
						crypto_pwhash_MEMLIMIT_MIN};
	static const char pass[] = "correct horse battery";
	const size_t pl = sizeof(pass) - 1;
	struct fx a, c;
	struct archive *b = NULL, *b_old = NULL;
	struct pv_error err;
	struct pv_buf vkey;
	char bdir[64], id0[128], id1[128], id2[128], other[128], *url = NULL;
	uint64_t size, size_after;
	int changed = -1;
	(void)state_;
	memset(&a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	make_datadir(&a, true);
	fx_must(archive_open(a.dir, &a.ar, &err), &err, "open A");
	snprintf(id0, sizeof(id0), "%s/id0.pvk", a.dir);
	snprintf(id1, sizeof(id1), "%s/id1.pvk", a.dir);
	snprintf(id2, sizeof(id2), "%s/id2.pvk", a.dir);
	snprintf(other, sizeof(other), "%s/other.pvk", a.dir);
	fx_must(archive_identity_export(a.ar, "cli:test", id0, pass, pl, &cheap, &err), &err, "export");
	fx_must(catalog_url_read(a.dir, &url, &err), &err, "url");
	snprintf(bdir, sizeof(bdir), "/tmp/pv-signer-b-XXXXXX");
	assert_non_null(mkdtemp(bdir));
	fx_must(archive_identity_join(bdir, url, id0, pass, pl, "cli:test", NULL, &err), &err, "join");
	fx_must(archive_open(bdir, &b_old, &err), &err, "open B");

	/* Without --identity-out the shared archive's key stays. */
	pv_buf_init(&vkey, 4096);
	assert_int_equal(archive_rotate_key(a.ar, a.ar->archive_log, "cli:test", &vkey, &err),
			 PV_EUSAGE);
	assert_non_null(strstr(err.msg, "--identity-out"));
	fx_must(archive_identity_rotate(a.ar, a.ar->archive_log, "cli:test", id1, pass, pl, &cheap,
					&vkey, &err),
		&err, "rotate archive key");
	assert_true(archive_open(bdir, &b, &err) < 0);
	assert_non_null(strstr(err.msg, "popvault identity update FILE"));

	/* Refusals: a wrong passphrase, another archive of the same origin. */
	assert_int_equal(archive_identity_update(bdir, id1, "not the passphrase", 18, "cli:test",
						 &changed, &err),
			 PV_EAUTH);
	make_datadir(&c, true);
	fx_must(archive_open(c.dir, &c.ar, &err), &err, "open C");
	fx_must(archive_identity_export(c.ar, "cli:test", other, pass, pl, &cheap, &err), &err,
		"export C");
	assert_int_equal(archive_identity_update(bdir, other, pass, pl, "cli:test", &changed, &err),
			 PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "another archive"));

	/* The audit key too: then the file of the first rotation is older. */
	fx_must(archive_identity_rotate(a.ar, a.ar->audit_log, "cli:test", id2, pass, pl, &cheap,
					&vkey, &err),
		&err, "rotate audit key");
	fx_must(tlog_size(a.ar->audit_log, &size, &err), &err, "size");
	assert_true(archive_auditf(b_old, "cli:test", AUDIT_VIEW, "ok", NULL, &err, "message=1") < 0);
	assert_non_null(strstr(err.msg, "popvault identity update FILE"));
	fx_must(tlog_size(a.ar->audit_log, &size_after, &err), &err, "size");
	assert_int_equal(size_after, size);
	assert_int_equal(archive_identity_update(bdir, id1, pass, pl, "cli:test", &changed, &err),
			 PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "audit key is an older one (epoch 0"));
	assert_int_equal(changed, 0);

	fx_must(archive_identity_update(bdir, id2, pass, pl, "cli:test", &changed, &err), &err,
		"update");
	assert_int_equal(changed, 2);
	fx_must(archive_open(bdir, &b, &err), &err, "open B updated");
	fx_must(archive_auditf(b, "cli:test", AUDIT_VIEW, "ok", NULL, &err, "message=2"), &err,
		"B signs again");
	assert_log_sound(b->audit_log);
	assert_log_sound(b->archive_log);
	assert_int_equal(archive_identity_update(bdir, id1, pass, pl, "cli:test", &changed, &err),
			 PV_EINTEGRITY);
	fx_must(archive_identity_update(bdir, id2, pass, pl, "cli:test", &changed, &err), &err,
		"again");
	assert_int_equal(changed, 0);

	pv_buf_free(&vkey);
	free(url);
	archive_close(&b);
	archive_close(&b_old);
	archive_close(&a.ar);
	archive_close(&c.ar);
	fx_rmtree(bdir);
	fx_rmtree(a.dir);
	fx_rmtree(c.dir);
	db_close(&a.pg);
	db_close(&c.pg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_archive_keys_are_remote_and_every_checkpoint_is_signed),
		cmocka_unit_test(test_on_postgresql_every_checkpoint_is_signed_after_its_commit),
		FX_ONCE(test_a_silent_new_channel_holds_up_no_other),
		FX_ONCE(test_a_rolled_back_transaction_leaves_nothing_signed),
		FX_ONCE(test_the_signer_refuses_a_tree_that_does_not_extend_its_last),
		FX_ONCE(test_the_signer_signs_nothing_but_checkpoints_rotations_and_manifests),
		FX_ONCE(test_its_memory_survives_a_restart),
		FX_ONCE(test_a_data_directory_without_state_starts_from_its_latest_checkpoint),
		FX_ONCE(test_rotation_goes_through_the_signer),
		FX_ONCE(test_after_the_drop_the_seeds_cannot_be_opened),
		{.name = NULL}, /* PostgreSQL only: a SQLite catalog has no identity to share */
		cmocka_unit_test(test_a_rotation_reaches_another_harvester_by_its_identity),
	};
	if (sodium_init() < 0)
		return 1;
	return fx_run_both("signer", tests, sizeof(tests) / sizeof(tests[0]));
}
