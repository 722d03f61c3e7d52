/* Unit tests for audit/keys: key files, genesis, rotation and the
 * per-epoch rules tlog_verify enforces (ARCHITECTURE.md §4 "Swap keys"). */
#include <dirent.h>
#include <fcntl.h>
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

#include "archiver/lib/fsutil.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"
#include "audit/tlog.h"
#include "audit/tlog_verify.h"
#include "tests/unit/fixtures.h"

struct fx {
	char dir[FX_PATH_MAX], keydir[FX_PATH_MAX], dbpath[FX_PATH_MAX];
	sqlite3 *h;    /* SQLite only */
	struct db *db; /* either engine */
	struct tlog *archive, *audit;
	struct note_signer *sa, *su;
	char vkey_archive[NOTE_VKEY_MAX + 1], vkey_audit[NOTE_VKEY_MAX + 1];
};

static void fx_init(struct fx *f, bool pg)
{
	memset(f, 0, sizeof(*f));
	fx_logdir_make("keys", f->dir, f->keydir, f->dbpath);
	f->db = fx_logdb(f->dbpath, pg, &f->h);
	fx_log_create(f->db, f->keydir, "archive", "mx1.example/popvault/archive", f->vkey_archive);
	fx_log_create(f->db, f->keydir, "audit", "mx1.example/popvault/audit", f->vkey_audit);
	fx_log_open(f->db, f->keydir, "archive", &f->archive, &f->sa);
	fx_log_open(f->db, f->keydir, "audit", &f->audit, &f->su);
}

static void fx_done(struct fx *f)
{
	keys_free(&f->sa);
	keys_free(&f->su);
	tlog_free(&f->archive);
	tlog_free(&f->audit);
	fx_logdb_close(&f->db, &f->h);
	fx_rmtree(f->dir);
}

static void append(struct tlog *t, int n)
{
	struct pv_error err;
	for (int i = 0; i < n; i++) {
		char e[32];
		int len = snprintf(e, sizeof(e), "msg %d", i);
		struct tlog_entry te = {e, (size_t)len};
		fx_must(tlog_append(t, &te, 1, NULL, &err), &err, "append");
	}
}

static int verify(struct tlog *t, const char *pinned, struct pv_error *err)
{
	struct tlog_verify_report rep;
	return tlog_verify(t, pinned, NULL, NULL, 0, &rep, err);
}

static void read_file(const char *path, char *buf, size_t cap, size_t *len)
{
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	*len = fread(buf, 1, cap - 1, fp);
	buf[*len] = '\0';
	fclose(fp);
}

static void test_init_writes_private_key_files_and_genesis(void **state)
{
	struct fx f;
	struct pv_error err;
	struct stat st;
	char path[256], buf[1024];
	size_t len;
	struct checkpoint cp;
	struct pv_buf note;
	struct note_verifier v;
	fx_init(&f, fx_on_pg(state));
	snprintf(path, sizeof(path), "%s/archive.key", f.keydir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	read_file(path, buf, sizeof(buf), &len);
	assert_memory_equal(buf, "PRIVATE+KEY+mx1.example/popvault/archive+", 41);
	assert_true(strncmp(f.vkey_archive, "mx1.example/popvault/archive+", 29) == 0);
	assert_string_not_equal(f.vkey_archive, f.vkey_audit);
	/* The genesis checkpoint: the empty tree, signed by the log's key. */
	pv_buf_init(&note, PV_NOTE_MAX);
	fx_must(checkpoint_latest(f.archive, &note, NULL, &err), &err, "latest");
	assert_int_equal(note_verifier_parse(f.vkey_archive, strlen(f.vkey_archive), &v, &err), 0);
	assert_int_equal(checkpoint_open((char *)note.data, note.len, &v, 1, &cp, &err), 0);
	assert_int_equal(cp.size, 0);
	merkle_hash empty;
	merkle_empty_root(empty);
	assert_memory_equal(cp.root, empty, 32);
	pv_buf_free(&note);
	/* A second init of the same log neither succeeds nor touches the key. */
	char before[1024];
	size_t blen;
	read_file(path, before, sizeof(before), &blen);
	struct pv_buf vk;
	pv_buf_init(&vk, NOTE_VKEY_MAX);
	assert_int_not_equal(keys_init_log(f.db, f.keydir, "archive", "mx1.example/popvault/archive",
					   &vk, &err),
			     0);
	read_file(path, buf, sizeof(buf), &len);
	assert_int_equal(len, blen);
	assert_memory_equal(buf, before, len);
	pv_buf_free(&vk);
	/* A stray key file is never overwritten, and the failed init leaves
	 * no log behind. */
	char stray[256];
	snprintf(stray, sizeof(stray), "%s/stray.key", f.keydir);
	int fd = open(stray, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_not_equal(keys_init_log(f.db, f.keydir, "stray", "mx1.example/popvault/stray",
					   NULL, &err),
			     0);
	read_file(stray, buf, sizeof(buf), &len);
	assert_string_equal(buf, "x");
	struct tlog *none;
	assert_int_equal(tlog_open(f.db, "stray", &none, &err), PV_ENOTFOUND);
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(before, sizeof(before));
	fx_must(verify(f.archive, f.vkey_archive, &err), &err, "verify");
	fx_done(&f);
}

static void test_load_refuses_readable_or_foreign_keys(void **state)
{
	struct fx f;
	struct pv_error err;
	struct note_signer *s = NULL;
	char a[256], u[256], tmp[256];
	fx_init(&f, fx_on_pg(state));
	snprintf(a, sizeof(a), "%s/archive.key", f.keydir);
	snprintf(u, sizeof(u), "%s/audit.key", f.keydir);
	snprintf(tmp, sizeof(tmp), "%s/tmp.key", f.keydir);
	assert_int_equal(chmod(a, 0644), 0);
	assert_int_equal(keys_load(f.keydir, f.archive, &s, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "readable by others"));
	assert_int_equal(chmod(a, 0600), 0);
	/* Swapped key files: each is a valid key, but not its log's. */
	assert_int_equal(rename(a, tmp), 0);
	assert_int_equal(rename(u, a), 0);
	assert_int_equal(rename(tmp, u), 0);
	assert_int_equal(keys_load(f.keydir, f.archive, &s, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "not log archive's current key"));
	assert_null(s);
	/* And signing with the other log's key is refused. */
	assert_int_equal(checkpoint_sign(f.archive, f.su, 0, NULL, NULL, &err), PV_ERR);
	fx_done(&f);
}

/* Does any file in dir contain needle (the old private key string)? */
static int file_contains(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	assert_non_null(d);
	while (!found && (e = readdir(d)) != NULL) {
		char path[512], buf[4096];
		size_t len;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		read_file(path, buf, sizeof(buf), &len);
		found = memmem(buf, len, needle, strlen(needle)) != NULL;
		sodium_memzero(buf, sizeof(buf));
	}
	closedir(d);
	return found;
}

static void copy_file(const char *from, const char *to)
{
	char buf[4096];
	size_t len;
	read_file(from, buf, sizeof(buf), &len);
	int fd = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	sodium_memzero(buf, sizeof(buf));
}

static void test_rotation_is_logged_and_destroys_the_old_key(void **state)
{
	struct fx f;
	struct pv_error err;
	struct pv_buf old_skey, note, leaf;
	struct tlog_verify_report rep;
	struct note_signer *old_copy;
	uint64_t audit_size;
	fx_init(&f, fx_on_pg(state));
	append(f.archive, 40);
	fx_must(checkpoint_sign(f.archive, f.sa, 0, NULL, NULL, &err), &err, "sign");
	pv_buf_init(&old_skey, 1024);
	fx_must(note_signer_format(f.sa, &old_skey, &err), &err, "format");
	old_copy = sodium_malloc(sizeof(*old_copy));
	memcpy(old_copy, f.sa, sizeof(*old_copy));
	assert_true(file_contains(f.keydir, pv_buf_str(&old_skey)));

	pv_buf_init(&note, PV_NOTE_MAX);
	fx_must(keys_rotate(f.archive, f.audit, f.keydir, &f.sa, &note, &err), &err, "rotate");
	/* The note is signed by the old key and names the new one. */
	assert_non_null(strstr((char *)note.data, "popvault/key-rotation/v1\n"));
	struct tlog_epoch_row ep;
	tlog_epoch_row_init(&ep);
	fx_must(tlog_epoch_get(f.archive, UINT32_MAX, &ep, &err), &err, "epoch");
	assert_int_equal(ep.epoch, 1);
	assert_non_null(strstr((char *)note.data, ep.vkey));
	assert_string_equal(ep.record_log, "audit");
	/* ... and is the last leaf of the audit log. */
	fx_must(tlog_size(f.audit, &audit_size, &err), &err, "size");
	pv_buf_init(&leaf, PV_TLOG_ENTRY_MAX);
	fx_must(tlog_leaf(f.audit, audit_size - 1, &leaf, &err), &err, "leaf");
	assert_int_equal(leaf.len, note.len);
	assert_memory_equal(leaf.data, note.data, note.len);
	/* The old seed is gone from the key directory; the new key loads. */
	assert_false(file_contains(f.keydir, pv_buf_str(&old_skey)));
	struct note_signer *reloaded;
	fx_must(keys_load(f.keydir, f.archive, &reloaded, &err), &err, "load new");
	assert_memory_equal(reloaded->pk, f.sa->pk, 32);
	keys_free(&reloaded);
	/* The old key can no longer sign this log; the new one can. */
	assert_int_equal(checkpoint_sign(f.archive, old_copy, 0, NULL, NULL, &err), PV_ERR);
	append(f.archive, 5);
	fx_must(checkpoint_sign(f.archive, f.sa, 0, NULL, NULL, &err), &err, "sign new");
	/* The whole history verifies from the pinned genesis key. */
	fx_must(tlog_verify(f.archive, f.vkey_archive, NULL, NULL, 0, &rep, &err), &err, "verify");
	assert_int_equal(rep.epochs, 2);
	assert_true(rep.pinned);
	fx_must(verify(f.audit, f.vkey_audit, &err), &err, "verify audit");
	/* Rotating the audit log's own key, recorded in itself. */
	fx_must(keys_rotate(f.audit, f.audit, f.keydir, &f.su, NULL, &err), &err, "rotate audit");
	fx_must(verify(f.audit, f.vkey_audit, &err), &err, "verify audit after");

	note_signer_wipe(old_copy);
	sodium_free(old_copy);
	tlog_epoch_row_free(&ep);
	pv_buf_free_secret(&old_skey);
	pv_buf_free(&note);
	pv_buf_free(&leaf);
	fx_done(&f);
}

static void rotate_archive(struct fx *f)
{
	struct pv_error err;
	append(f->archive, 10);
	fx_must(checkpoint_sign(f->archive, f->sa, 0, NULL, NULL, &err), &err, "sign");
	fx_must(keys_rotate(f->archive, f->audit, f->keydir, &f->sa, NULL, &err), &err, "rotate");
	append(f->archive, 10);
	fx_must(checkpoint_sign(f->archive, f->sa, 0, NULL, NULL, &err), &err, "sign");
	fx_must(verify(f->archive, f->vkey_archive, &err), &err, "verify");
}

/* Another harvester of the same archive (identity update): a copy of
 * the key directory taken before machine A rotated no longer loads; A's
 * new key, installed there, does; the old seed is gone from it, bytes
 * included; a leftover of a crashed install is no obstacle. */
static void test_a_rotated_key_installed_on_another_machine(void **state)
{
	struct fx f;
	struct pv_error err;
	struct note_signer *s = NULL, *back = NULL;
	struct pv_buf old_skey, new_skey;
	char other[FX_PATH_MAX + 16], from[512], to[512], junk[512], old_bytes[4096];
	struct stat st;
	fx_init(&f, fx_on_pg(state));
	snprintf(other, sizeof(other), "%s/b-sign", f.dir);
	assert_int_equal(mkdir(other, 0700), 0);
	snprintf(from, sizeof(from), "%s/archive.key", f.keydir);
	snprintf(to, sizeof(to), "%s/archive.key", other);
	copy_file(from, to);
	pv_buf_init(&old_skey, 1024);
	fx_must(note_signer_format(f.sa, &old_skey, &err), &err, "format");
	int old_fd = open(to, O_RDONLY);
	assert_true(old_fd >= 0);

	rotate_archive(&f);
	assert_int_equal(keys_load(other, f.archive, &back, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "not log archive's current key"));

	/* The identity carries the key file's text: parsed, then installed. */
	pv_buf_init(&new_skey, 1024);
	fx_must(note_signer_format(f.sa, &new_skey, &err), &err, "format new");
	fx_must(pv_buf_append_str(&new_skey, "\n", &err), &err, "nl");
	assert_true(keys_parse((const unsigned char *)"PRIVATE+KEY+nonsense\n", 21, &s, &err) < 0);
	assert_null(s);
	fx_must(keys_parse(new_skey.data, new_skey.len, &s, &err), &err, "parse");
	assert_memory_equal(s->pk, f.sa->pk, 32);
	snprintf(junk, sizeof(junk), "%s/archive.key.new", other);
	int fd = open(junk, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0 && write(fd, "half", 4) == 4);
	close(fd);
	fx_must(keys_file_install(other, "archive", s, &err), &err, "install");
	fx_must(keys_load(other, f.archive, &back, &err), &err, "load installed");
	assert_memory_equal(back->pk, f.sa->pk, 32);
	assert_int_equal(stat(to, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(junk, &st), -1);
	/* The replaced seed: not in the directory, and its old bytes zeroed. */
	assert_false(file_contains(other, pv_buf_str(&old_skey)));
	ssize_t n = pread(old_fd, old_bytes, sizeof(old_bytes), 0);
	assert_true(n > 0);
	for (ssize_t i = 0; i < n; i++)
		assert_int_equal(old_bytes[i], 0);
	close(old_fd);

	keys_free(&s);
	keys_free(&back);
	pv_buf_free_secret(&old_skey);
	pv_buf_free_secret(&new_skey);
	fx_done(&f);
}

static void test_old_epoch_resigned_by_new_key_is_rejected(void **state)
{
	/* CVE-2023-31439's shape: the holder of the current key rewrites an
	 * old epoch's checkpoint. Each epoch is checked against its own key. */
	struct fx f;
	struct pv_error err;
	struct pv_buf body, forged;
	struct tlog_checkpoint_row row;
	size_t tl, ns;
	fx_init(&f, fx_on_pg(state));
	rotate_archive(&f);
	tlog_checkpoint_row_init(&row);
	fx_must(tlog_checkpoint_get(f.archive, 1, &row, &err), &err, "get");
	fx_must(note_split((char *)row.note.data, row.note.len, &tl, &ns, &err), &err, "split");
	pv_buf_init(&body, PV_NOTE_MAX);
	pv_buf_init(&forged, PV_NOTE_MAX);
	fx_must(pv_buf_append(&body, row.note.data, tl, &err), &err, "body");
	fx_must(note_sign((char *)body.data, body.len, f.sa, &forged, &err), &err, "forge");
	fx_exec_text(f.db,
		     "UPDATE tlog_checkpoint SET note = ?1 WHERE seq = 1 AND"
		     " log_id = (SELECT id FROM tlog_log WHERE name = 'archive')",
		     (char *)forged.data, (int)forged.len);
	assert_int_equal(verify(f.archive, f.vkey_archive, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "checkpoint 1 (key epoch 0)"));
	/* Filing it under the new epoch instead does not help either. */
	fx_must(db_exec(f.db, "UPDATE tlog_checkpoint SET epoch = 1 WHERE seq = 1", &err), &err,
		"epoch");
	assert_int_equal(verify(f.archive, f.vkey_archive, &err), PV_EINTEGRITY);
	tlog_checkpoint_row_free(&row);
	pv_buf_free(&body);
	pv_buf_free(&forged);
	fx_done(&f);
}

static void test_rotation_without_the_old_keys_signature_is_rejected(void **state)
{
	struct fx f;
	struct pv_error err;
	fx_init(&f, fx_on_pg(state));
	rotate_archive(&f);
	/* An attacker swaps in their own key (same name) as the epoch-1 key
	 * and re-signs that epoch's checkpoints with it. */
	struct note_signer evil;
	struct note_verifier ev;
	struct pv_buf evk;
	uint8_t seed[32] = {66};
	fx_must(note_signer_from_seed(tlog_origin(f.archive), seed, &evil, &err), &err, "evil key");
	note_signer_verifier(&evil, &ev);
	pv_buf_init(&evk, NOTE_VKEY_MAX);
	fx_must(note_verifier_format(&ev, &evk, &err), &err, "vkey");
	fx_exec_text(f.db, "UPDATE tlog_epoch SET vkey = ?1 WHERE epoch = 1", pv_buf_str(&evk), -1);
	assert_int_equal(verify(f.archive, f.vkey_archive, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "rotation to key epoch 1"));
	note_signer_wipe(&evil);
	pv_buf_free(&evk);
	fx_done(&f);

	fx_init(&f, fx_on_pg(state));
	rotate_archive(&f);
	/* The rotation note's leaf removed from the audit log's record. */
	fx_exec_blob(f.db,
		     "UPDATE tlog_leaf SET data = ?1 WHERE log_id ="
		     " (SELECT id FROM tlog_log WHERE name = 'audit')",
		     "x", 1);
	assert_int_equal(verify(f.archive, f.vkey_archive, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "rotation note of epoch 1"));
	fx_done(&f);

	fx_init(&f, fx_on_pg(state));
	rotate_archive(&f);
	/* The epoch row deleted: later checkpoints no longer verify. */
	fx_must(db_exec(f.db, "DELETE FROM tlog_epoch WHERE epoch = 1", &err), &err, "delete epoch");
	assert_int_equal(verify(f.archive, f.vkey_archive, &err), PV_EINTEGRITY);
	fx_done(&f);
}

static void test_load_finishes_or_discards_an_interrupted_rotation(void **state)
{
	struct fx f;
	struct pv_error err;
	struct note_signer *s = NULL, *stray = NULL;
	char key[256], next[256], saved[256];
	fx_init(&f, fx_on_pg(state));
	snprintf(key, sizeof(key), "%s/archive.key", f.keydir);
	snprintf(next, sizeof(next), "%s/archive.key.next", f.keydir);
	snprintf(saved, sizeof(saved), "%s/saved", f.keydir);

	/* Crash before the commit: a stray .next key is discarded. */
	fx_must(keys_create(f.keydir, "stray", "mx1.example/popvault/archive", &stray, &err), &err, "stray");
	char stray_path[256];
	snprintf(stray_path, sizeof(stray_path), "%s/stray.key", f.keydir);
	assert_int_equal(rename(stray_path, next), 0);
	fx_must(keys_load(f.keydir, f.archive, &s, &err), &err, "load");
	assert_memory_equal(s->pk, f.sa->pk, 32);
	assert_int_not_equal(access(next, F_OK), 0);
	keys_free(&s);
	keys_free(&stray);

	/* Crash after the commit, before the files were swapped: keep a copy
	 * of the old key file, rotate, then put the files back as they were
	 * at that moment. */
	copy_file(key, saved);
	fx_must(keys_rotate(f.archive, f.audit, f.keydir, &f.sa, NULL, &err), &err, "rotate");
	assert_int_equal(rename(key, next), 0);
	assert_int_equal(rename(saved, key), 0);
	fx_must(keys_load(f.keydir, f.archive, &s, &err), &err, "load after crash");
	assert_memory_equal(s->pk, f.sa->pk, 32);
	assert_int_not_equal(access(next, F_OK), 0);
	keys_free(&s);
	fx_done(&f);
}

static void test_rotation_refuses_inside_a_transaction(void **state)
{
	/* The old key may only be destroyed after the rotation is durable. */
	struct fx f;
	struct pv_error err;
	fx_init(&f, fx_on_pg(state));
	fx_must(db_exec(f.db, "BEGIN", &err), &err, "begin");
	assert_int_equal(keys_rotate(f.archive, f.audit, f.keydir, &f.sa, NULL, &err), PV_ERR);
	fx_must(db_exec(f.db, "ROLLBACK", &err), &err, "rollback");
	struct note_signer *s;
	fx_must(keys_load(f.keydir, f.archive, &s, &err), &err, "old key still there");
	keys_free(&s);
	fx_done(&f);
}

/* The signer's record: init writes the genesis; each write goes to the
 * other slot; a torn newest slot leaves the one before; two spoiled
 * slots are an integrity error, not a fresh start. */
static void test_the_signers_record_survives_a_torn_write(void **state)
{
	struct fx f;
	struct pv_error err;
	struct keys_state st;
	char path[FX_PATH_MAX + 32];
	fx_init(&f, fx_on_pg(state));
	keys_state_init(&st);
	fx_must(keys_state_read(f.keydir, "audit", &st, &err), &err, "genesis record");
	assert_int_equal(st.size, 0);
	assert_true(st.note.len > 0);
	for (uint64_t n = 1; n <= 3; n++) {
		st.size = n;
		memset(st.root, (int)n, sizeof(st.root));
		fx_must(keys_state_write(f.keydir, "audit", &st, &err), &err, "write");
	}
	fx_must(keys_state_read(f.keydir, "audit", &st, &err), &err, "read");
	assert_int_equal(st.size, 3);
	/* Writes 1..3 after the genesis in slot 0: 3 went to slot 1. */
	snprintf(path, sizeof(path), "%s/audit.signed", f.keydir);
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "torn", 4, 8192 + 100), 4);
	fx_must(keys_state_read(f.keydir, "audit", &st, &err), &err, "read after a torn write");
	assert_int_equal(st.size, 2);
	assert_int_equal(pwrite(fd, "torn", 4, 100), 4);
	close(fd);
	assert_int_equal(keys_state_read(f.keydir, "audit", &st, &err), PV_EINTEGRITY);
	keys_state_free(&st);
	fx_done(&f);
}

#define BOTH(t) FX_BOTH(t, fx_setup_sqlite, fx_setup_pg, fx_teardown_none)

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		BOTH(test_init_writes_private_key_files_and_genesis),
		BOTH(test_load_refuses_readable_or_foreign_keys),
		BOTH(test_rotation_is_logged_and_destroys_the_old_key),
		BOTH(test_old_epoch_resigned_by_new_key_is_rejected),
		BOTH(test_rotation_without_the_old_keys_signature_is_rejected),
		BOTH(test_load_finishes_or_discards_an_interrupted_rotation),
		BOTH(test_rotation_refuses_inside_a_transaction),
		BOTH(test_the_signers_record_survives_a_torn_write),
		BOTH(test_a_rotated_key_installed_on_another_machine),
	};
	/* Each case on SQLite, then on PostgreSQL with PV_TEST_PG. */
	return fx_run_both("keys", tests, sizeof(tests) / sizeof(tests[0]));
}
