#include "audit/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/lib/base64.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/number.h"
#include "archiver/lib/random.h"
#include "audit/checkpoint.h"

#define ROTATION_MAGIC "popvault/key-rotation/v1"

static int key_path(char *out, size_t n, const char *dir, const char *log, const char *suffix,
		    struct pv_error *err)
{
	if ((size_t)snprintf(out, n, "%s/%s.key%s", dir, log, suffix) >= n)
		return pv_fail(err, PV_ERR, "key path too long");
	return 0;
}

static struct note_signer *signer_alloc(struct pv_error *err)
{
	struct note_signer *s = sodium_malloc(sizeof(*s));
	if (s == NULL)
		pv_fail(err, PV_ERR, "out of locked memory for a key");
	else
		memset(s, 0, sizeof(*s));
	return s;
}

void keys_free(struct note_signer **s)
{
	if (*s == NULL)
		return;
	note_signer_wipe(*s);
	sodium_free(*s);
	*s = NULL;
}

/* O_EXCL create, 0600, data and directory entry fsynced. */
static int write_key_file(const char *dir, const char *path, const struct note_signer *s,
			  struct pv_error *err)
{
	struct pv_buf b;
	int fd, r = 0;

	pv_buf_init(&b, PV_KEY_FILE_MAX);
	if ((r = note_signer_format(s, &b, err)) < 0 || (r = pv_buf_append(&b, "\n", 1, err)) < 0)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = pv_fail(err, PV_ERR, "create key %s: %s", path, strerror(errno));
		goto out;
	}
	size_t off = 0;
	while (off < b.len) {
		ssize_t w = write(fd, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off != b.len || fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
		r = pv_fail(err, PV_ERR, "write key %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		goto out;
	}
	close(fd);
	if ((r = pv_fsync_dir(dir, err)) < 0)
		unlink(path);
out:
	pv_buf_free_secret(&b);
	return r;
}

static int read_key_file(const char *path, struct note_signer **s_r, struct pv_error *err)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n = 0;
	int r = 0;

	*s_r = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return pv_fail(err, errno == ENOENT ? PV_ENOTFOUND : PV_ERR, "open key %s: %s", path,
			       strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = pv_fail(err, PV_ERR, "key %s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		r = pv_fail(err, PV_ERR, "key %s is readable by others (mode %03o); refusing it", path,
			    (unsigned)(st.st_mode & 0777));
		goto out;
	}
	if (st.st_size <= 0 || st.st_size > PV_KEY_FILE_MAX) {
		r = pv_fail(err, PV_ERR, "key %s has an implausible size", path);
		goto out;
	}
	if ((buf = sodium_malloc(PV_KEY_FILE_MAX + 1)) == NULL) {
		r = pv_fail(err, PV_ERR, "out of locked memory for a key");
		goto out;
	}
	size_t len = 0;
	while (len < PV_KEY_FILE_MAX && (n = read(fd, buf + len, PV_KEY_FILE_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = pv_fail(err, PV_ERR, "read key %s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	if ((*s_r = signer_alloc(err)) == NULL) {
		r = PV_ERR;
		goto out;
	}
	if ((r = note_signer_parse(buf, len, *s_r, err)) < 0) {
		pv_error_prefix(err, "key %s", path);
		keys_free(s_r);
	}
out:
	if (buf != NULL) {
		sodium_memzero(buf, PV_KEY_FILE_MAX + 1);
		sodium_free(buf);
	}
	close(fd);
	return r;
}

/* Overwrites the seed in place, fsyncs, unlinks, fsyncs the directory.
 * (Flash and copy-on-write file systems may keep old blocks: the seed is
 * also wiped from memory, and backups must exclude the key directory.) */
static int wipe_key_file(const char *dir, const char *path, struct pv_error *err)
{
	struct stat st;
	char zeros[512];
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : pv_fail(err, PV_ERR, "wipe %s: %s", path, strerror(errno));
	memset(zeros, 0, sizeof(zeros));
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		off_t left = st.st_size;
		while (left > 0) {
			size_t k = left > (off_t)sizeof(zeros) ? sizeof(zeros) : (size_t)left;
			ssize_t w = write(fd, zeros, k);
			if (w <= 0)
				break;
			left -= w;
		}
		(void)fsync(fd);
	}
	close(fd);
	if (unlink(path) != 0)
		return pv_fail(err, PV_ERR, "unlink %s: %s", path, strerror(errno));
	return pv_fsync_dir(dir, err);
}

static int new_signer(const char *name, struct note_signer **s_r, struct pv_error *err)
{
	uint8_t seed[32];
	int r;
	if ((*s_r = signer_alloc(err)) == NULL)
		return PV_ERR;
	pv_random_bytes(seed, sizeof(seed));
	r = note_signer_from_seed(name, seed, *s_r, err);
	sodium_memzero(seed, sizeof(seed));
	if (r < 0)
		keys_free(s_r);
	return r;
}

int keys_create(const char *dir, const char *log, const char *name, struct note_signer **s_r,
		struct pv_error *err)
{
	char path[4096];
	int r;
	*s_r = NULL;
	if ((r = key_path(path, sizeof(path), dir, log, "", err)) < 0 ||
	    (r = new_signer(name, s_r, err)) < 0)
		return r;
	if ((r = write_key_file(dir, path, *s_r, err)) < 0)
		keys_free(s_r);
	return r;
}

static int signer_vkey(const struct note_signer *s, struct pv_buf *out, struct pv_error *err)
{
	struct note_verifier v;
	note_signer_verifier(s, &v);
	return note_verifier_format(&v, out, err);
}

static int signer_is(const struct note_signer *s, const char *vkey, struct pv_error *err)
{
	struct pv_buf b;
	pv_buf_init(&b, NOTE_VKEY_MAX);
	int r = signer_vkey(s, &b, err);
	if (r == 0)
		r = strcmp(pv_buf_str(&b), vkey) == 0;
	pv_buf_free(&b);
	return r;
}

int keys_load(const char *dir, struct tlog *t, struct note_signer **s_r, struct pv_error *err)
{
	char path[4096], next[4096];
	struct tlog_epoch_row ep;
	struct note_signer *s = NULL;
	int r;

	*s_r = NULL;
	tlog_epoch_row_init(&ep);
	if ((r = key_path(path, sizeof(path), dir, tlog_name(t), "", err)) < 0 ||
	    (r = key_path(next, sizeof(next), dir, tlog_name(t), ".next", err)) < 0 ||
	    (r = tlog_epoch_get(t, UINT32_MAX, &ep, err)) < 0)
		goto out;
	/* A rotation writes <log>.key.next before its commit and replaces
	 * <log>.key after it: the database says which side of it we are on. */
	r = read_key_file(next, &s, err);
	if (r == 0) {
		if ((r = signer_is(s, ep.vkey, err)) < 0)
			goto out;
		if (r == 1) {
			if ((r = wipe_key_file(dir, path, err)) < 0)
				goto out;
			if (rename(next, path) != 0) {
				r = pv_fail(err, PV_ERR, "rename %s: %s", next, strerror(errno));
				goto out;
			}
			if ((r = pv_fsync_dir(dir, err)) < 0)
				goto out;
		} else if ((r = wipe_key_file(dir, next, err)) < 0) {
			goto out;
		}
		keys_free(&s);
	} else if (r != PV_ENOTFOUND) {
		goto out;
	}
	if ((r = read_key_file(path, &s, err)) < 0)
		goto out;
	if ((r = signer_is(s, ep.vkey, err)) < 0)
		goto out;
	if (r == 0) {
		r = pv_fail(err, PV_ERR, "key %s is not log %s's current key (epoch %u)", path,
			    tlog_name(t), ep.epoch);
		goto out;
	}
	*s_r = s;
	s = NULL;
	r = 0;
out:
	keys_free(&s);
	tlog_epoch_row_free(&ep);
	return r;
}

/* ---- key files for the signer process, which has no database ---- */

int keys_file_read(const char *dir, const char *log, bool next, struct note_signer **s_r,
		   struct pv_error *err)
{
	char path[4096];
	int r = key_path(path, sizeof(path), dir, log, next ? ".next" : "", err);
	return r < 0 ? r : read_key_file(path, s_r, err);
}

int keys_file_create_next(const char *dir, const char *log, const char *name,
			  struct note_signer **s_r, struct pv_error *err)
{
	char next[4096];
	int r;
	*s_r = NULL;
	if ((r = key_path(next, sizeof(next), dir, log, ".next", err)) < 0 ||
	    (r = wipe_key_file(dir, next, err)) < 0 || (r = new_signer(name, s_r, err)) < 0)
		return r;
	if ((r = write_key_file(dir, next, *s_r, err)) < 0)
		keys_free(s_r);
	return r;
}

int keys_file_promote_next(const char *dir, const char *log, struct pv_error *err)
{
	char path[4096], next[4096];
	int r;
	if ((r = key_path(path, sizeof(path), dir, log, "", err)) < 0 ||
	    (r = key_path(next, sizeof(next), dir, log, ".next", err)) < 0 ||
	    (r = wipe_key_file(dir, path, err)) < 0)
		return r;
	if (rename(next, path) != 0)
		return pv_fail(err, PV_ERR, "rename %s: %s", next, strerror(errno));
	return pv_fsync_dir(dir, err);
}

int keys_file_discard_next(const char *dir, const char *log, struct pv_error *err)
{
	char next[4096];
	int r = key_path(next, sizeof(next), dir, log, ".next", err);
	return r < 0 ? r : wipe_key_file(dir, next, err);
}

int keys_parse(const unsigned char *text, size_t len, struct note_signer **s_r,
	       struct pv_error *err)
{
	while (len > 0 && text[len - 1] == '\n')
		len--;
	if ((*s_r = signer_alloc(err)) == NULL)
		return PV_ERR;
	int r = note_signer_parse((const char *)text, len, *s_r, err);
	if (r < 0)
		keys_free(s_r);
	return r;
}

int keys_vkey(const struct note_signer *s, struct pv_buf *out, struct pv_error *err)
{
	return signer_vkey(s, out, err);
}

/* Zeroes what fd holds and syncs it (an unlinked file's blocks too). */
static void wipe_fd(int fd)
{
	char zeros[512];
	struct stat st;
	memset(zeros, 0, sizeof(zeros));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return;
	for (off_t off = 0; off < st.st_size;) {
		size_t k = st.st_size - off > (off_t)sizeof(zeros) ? sizeof(zeros)
								    : (size_t)(st.st_size - off);
		ssize_t w = pwrite(fd, zeros, k, off);
		if (w <= 0)
			break;
		off += w;
	}
	(void)fsync(fd);
}

int keys_file_install(const char *dir, const char *log, const struct note_signer *s,
		      struct pv_error *err)
{
	char path[4096], tmp[4096];
	int r, old;
	if ((r = key_path(path, sizeof(path), dir, log, "", err)) < 0 ||
	    (r = key_path(tmp, sizeof(tmp), dir, log, ".new", err)) < 0 ||
	    (r = wipe_key_file(dir, tmp, err)) < 0 || /* one a crash left */
	    (r = write_key_file(dir, tmp, s, err)) < 0)
		return r;
	old = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (rename(tmp, path) != 0) {
		r = pv_fail(err, PV_ERR, "rename %s: %s", tmp, strerror(errno));
		(void)wipe_key_file(dir, tmp, NULL);
	} else {
		r = pv_fsync_dir(dir, err);
	}
	if (old >= 0) {
		if (r == 0)
			wipe_fd(old); /* the replaced seed, now unlinked */
		close(old);
	}
	return r;
}

int keys_init_log(struct db *db, const char *dir, const char *log, const char *origin,
		  struct pv_buf *vkey_r, struct pv_error *err)
{
	struct tlog_tx tx;
	struct tlog *t = NULL;
	struct note_signer *s = NULL;
	struct tlog_epoch_row ep;
	struct keys_state st;
	char path[4096], state[4096];
	int r, made = 0;

	tlog_epoch_row_init(&ep);
	keys_state_init(&st);
	if ((r = key_path(path, sizeof(path), dir, log, "", err)) < 0)
		goto done;
	snprintf(state, sizeof(state), "%s/%s.signed", dir, log); /* keys_state_write's */
	if ((r = tlog_tx_begin(db, &tx, err)) < 0)
		goto done;
	if ((r = tlog_create(db, log, origin, err)) < 0 || (r = tlog_open(db, log, &t, err)) < 0 ||
	    (r = keys_create(dir, log, origin, &s, err)) < 0)
		goto end;
	made = 1;
	struct pv_buf vkey;
	pv_buf_init(&vkey, NOTE_VKEY_MAX);
	r = signer_vkey(s, &vkey, err);
	snprintf(ep.vkey, sizeof(ep.vkey), "%s", pv_buf_str(&vkey));
	pv_buf_free(&vkey);
	if (r < 0)
		goto end;
	ep.epoch = 0;
	ep.first_seq = 0;
	if ((r = tlog_epoch_insert(t, &ep, err)) < 0 ||
	    (r = checkpoint_sign(t, s, CHECKPOINT_TIME, &st.note, NULL, err)) < 0)
		goto end;
	merkle_empty_root(st.root);
	if ((r = keys_state_write(dir, log, &st, err)) < 0)
		goto end;
	made = 2;
	if (vkey_r != NULL)
		r = pv_buf_append_str(vkey_r, ep.vkey, err);
end:
	tlog_free(&t);
	r = tlog_tx_end(&tx, r, err);
	if (r < 0 && made)
		(void)wipe_key_file(dir, path, NULL);
	if (r < 0 && made == 2)
		(void)unlink(state);
done:
	keys_free(&s);
	tlog_epoch_row_free(&ep);
	keys_state_free(&st);
	return r;
}

int keys_rotation_format(const struct keys_rotation *rot, struct pv_buf *out, struct pv_error *err)
{
	char b64[sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof(b64), rot->root, MERKLE_HASH_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	return pv_buf_printf(out, err, ROTATION_MAGIC "\norigin %s\nsize %llu\nroot %s\nold %s\nnew %s\n",
			     rot->origin, (unsigned long long)rot->size, b64, rot->old_vkey,
			     rot->new_vkey);
}

/* One "key value\n" line: copies value (bounded) and advances *p. */
static int take_line(const char **p, const char *end, const char *key, const char **val,
		     size_t *len)
{
	size_t kl = strlen(key);
	const char *eol = memchr(*p, '\n', (size_t)(end - *p));
	if (eol == NULL || (size_t)(eol - *p) <= kl + 1 || memcmp(*p, key, kl) != 0 ||
	    (*p)[kl] != ' ')
		return -1;
	*val = *p + kl + 1;
	*len = (size_t)(eol - *val);
	*p = eol + 1;
	return 0;
}

int keys_rotation_parse(const char *text, size_t len, struct keys_rotation *rot_r,
			struct pv_error *err)
{
	const char *p = text, *end = text + len, *v;
	size_t vl, rl = 0;
	const size_t ml = sizeof(ROTATION_MAGIC) - 1;
	struct note_verifier tmp;

	memset(rot_r, 0, sizeof(*rot_r));
	if (len < ml + 1 || memcmp(p, ROTATION_MAGIC "\n", ml + 1) != 0)
		return pv_fail(err, PV_EINTEGRITY, "not a key-rotation note");
	p += ml + 1;
	if (take_line(&p, end, "origin", &v, &vl) != 0 || !note_name_valid(v, vl))
		return pv_fail(err, PV_EINTEGRITY, "key rotation: bad origin line");
	memcpy(rot_r->origin, v, vl);
	if (take_line(&p, end, "size", &v, &vl) != 0 ||
	    pv_parse_u64(v, vl, 0, UINT64_MAX, PV_NUM_CANONICAL, &rot_r->size) != 0)
		return pv_fail(err, PV_EINTEGRITY, "key rotation: bad size line");
	if (take_line(&p, end, "root", &v, &vl) != 0 ||
	    pv_b64_decode(v, vl, rot_r->root, MERKLE_HASH_LEN, &rl) != 0 ||
	    rl != MERKLE_HASH_LEN)
		return pv_fail(err, PV_EINTEGRITY, "key rotation: bad root line");
	if (take_line(&p, end, "old", &v, &vl) != 0 || note_verifier_parse(v, vl, &tmp, err) != 0)
		return pv_fail(err, PV_EINTEGRITY, "key rotation: bad old key line");
	memcpy(rot_r->old_vkey, v, vl);
	if (take_line(&p, end, "new", &v, &vl) != 0 || note_verifier_parse(v, vl, &tmp, err) != 0)
		return pv_fail(err, PV_EINTEGRITY, "key rotation: bad new key line");
	memcpy(rot_r->new_vkey, v, vl);
	if (p != end)
		return pv_fail(err, PV_EINTEGRITY, "key rotation: trailing lines");
	return 0;
}

/* The rotation note, signed by the old key: here, or by the signer process
 * (which checks the tree it names against the last one it signed). */
static int sign_rotation(struct tlog *t, const struct note_signer *old, const struct pv_buf *body,
			 struct pv_buf *note, struct pv_error *err)
{
	struct note_verifier v;
	size_t text_len;
	if (old->remote == NULL)
		return note_sign((const char *)body->data, body->len, old, note, err);
	int r = old->remote->sign_rotation(old->remote_ctx, t, (const char *)body->data, body->len,
					   note, err);
	if (r < 0)
		return r;
	note_signer_verifier(old, &v);
	if (note_open((const char *)note->data, note->len, &v, 1, &text_len, NULL, err) != 0 ||
	    text_len != body->len || memcmp(note->data, body->data, body->len) != 0)
		return pv_fail(err, PV_EINTEGRITY, "rotation: the signer's note is not the rotation "
						   "note signed by the old key");
	return 0;
}

static int rotate_locked(struct tlog *t, struct tlog *record, const struct note_signer *old,
			 const struct note_signer *s_new, const char *new_vkey, uint32_t epoch,
			 struct pv_buf *note, struct pv_error *err)
{
	struct keys_rotation rot;
	struct tlog_epoch_row ep;
	struct pv_buf body;
	uint64_t idx, seq;
	int r;

	memset(&rot, 0, sizeof(rot));
	tlog_epoch_row_init(&ep);
	pv_buf_init(&body, PV_NOTE_MAX);
	snprintf(rot.origin, sizeof(rot.origin), "%s", tlog_origin(t));
	snprintf(rot.new_vkey, sizeof(rot.new_vkey), "%s", new_vkey);
	if ((r = tlog_epoch_get(t, UINT32_MAX, &ep, err)) < 0)
		goto out;
	snprintf(rot.old_vkey, sizeof(rot.old_vkey), "%s", ep.vkey);
	if ((r = tlog_size(t, &rot.size, err)) < 0 || (r = tlog_root(t, rot.size, rot.root, err)) < 0 ||
	    (r = keys_rotation_format(&rot, &body, err)) < 0 ||
	    (r = sign_rotation(t, old, &body, note, err)) < 0)
		goto out;
	struct tlog_entry e = {note->data, note->len};
	/* Logged, then closed by the old key, then opened by the new one. */
	if ((r = tlog_append(record, &e, 1, &idx, err)) < 0 ||
	    (r = checkpoint_sign(t, old, CHECKPOINT_TIME, NULL, &seq, err)) < 0)
		goto out;
	ep.epoch = epoch;
	snprintf(ep.vkey, sizeof(ep.vkey), "%s", new_vkey);
	ep.first_seq = seq + 1;
	pv_buf_reset(&ep.note);
	snprintf(ep.record_log, sizeof(ep.record_log), "%s", tlog_name(record));
	ep.record_index = idx;
	if ((r = pv_buf_append(&ep.note, note->data, note->len, err)) < 0 ||
	    (r = tlog_epoch_insert(t, &ep, err)) < 0 ||
	    (r = checkpoint_sign(t, s_new, CHECKPOINT_TIME, NULL, NULL, err)) < 0)
		goto out;
out:
	tlog_epoch_row_free(&ep);
	pv_buf_free(&body);
	return r;
}

/* The new key made and kept by the signer process: only its public half
 * comes back, as a remote key of the same signer. */
static int remote_new_signer(const struct note_signer *old, const char *origin,
			     struct note_signer **s_r, struct pv_buf *vkey, struct pv_error *err)
{
	struct note_verifier v;
	int r;
	*s_r = NULL;
	if ((r = old->remote->rotate_prepare(old->remote_ctx, old, vkey, err)) < 0)
		return r;
	if (note_verifier_parse(pv_buf_str(vkey), vkey->len, &v, err) != 0 ||
	    strcmp(v.name, origin) != 0 || sodium_memcmp(v.pk, old->pk, 32) == 0)
		return pv_fail(err, PV_EINTEGRITY, "rotation: the signer's new key %s is not a fresh "
						   "key named %s", pv_buf_str(vkey), origin);
	if ((*s_r = signer_alloc(err)) == NULL)
		return PV_ERR;
	memcpy((*s_r)->name, v.name, sizeof(v.name));
	(*s_r)->id = v.id;
	memcpy((*s_r)->pk, v.pk, 32);
	(*s_r)->remote = old->remote;
	(*s_r)->remote_ctx = old->remote_ctx;
	return 0;
}

/* keys_rotate with a remote key: the signer holds both seeds, writes the
 * new one and destroys the old one itself once the new key has signed
 * (archiver/signer). Here only the rows change. */
static int rotate_remote(struct tlog *t, struct tlog *record, struct note_signer **s_io,
			 struct pv_buf *note_r, struct pv_error *err)
{
	struct tlog_epoch_row cur;
	struct note_signer *s_new = NULL;
	struct pv_buf vkey, note;
	struct tlog_tx tx;
	int r;

	tlog_epoch_row_init(&cur);
	pv_buf_init(&vkey, NOTE_VKEY_MAX);
	pv_buf_init(&note, PV_NOTE_MAX);
	if ((r = tlog_epoch_get(t, UINT32_MAX, &cur, err)) < 0)
		goto out;
	if ((r = signer_is(*s_io, cur.vkey, err)) <= 0) {
		if (r == 0)
			r = pv_fail(err, PV_ERR, "rotation: the given key is not log %s's current key",
				    tlog_name(t));
		goto out;
	}
	if (cur.epoch >= UINT32_MAX - 1) {
		r = pv_fail(err, PV_ELIMIT, "rotation: no more epochs");
		goto out;
	}
	if ((r = remote_new_signer(*s_io, tlog_origin(t), &s_new, &vkey, err)) < 0 ||
	    (r = tlog_tx_begin(tlog_db(t), &tx, err)) < 0)
		goto out;
	r = rotate_locked(t, record, *s_io, s_new, pv_buf_str(&vkey), cur.epoch + 1, &note, err);
	if ((r = tlog_tx_end(&tx, r, err)) < 0)
		goto out;
	keys_free(s_io);
	*s_io = s_new;
	s_new = NULL;
	if (note_r != NULL)
		r = pv_buf_append(note_r, note.data, note.len, err);
out:
	keys_free(&s_new);
	tlog_epoch_row_free(&cur);
	pv_buf_free(&vkey);
	pv_buf_free(&note);
	return r;
}

int keys_rotate(struct tlog *t, struct tlog *record, const char *dir, struct note_signer **s_io,
		struct pv_buf *note_r, struct pv_error *err)
{
	char path[4096], next[4096];
	struct tlog_epoch_row cur;
	struct note_signer *s_new = NULL;
	struct pv_buf vkey, note;
	struct tlog_tx tx;
	int r;

	if (db_in_transaction(tlog_db(t)) || tlog_db(record) != tlog_db(t))
		return pv_fail(err, PV_ERR,
			       "key rotation needs its own transaction on the logs' database");
	if ((*s_io)->remote != NULL)
		return rotate_remote(t, record, s_io, note_r, err);
	tlog_epoch_row_init(&cur);
	pv_buf_init(&vkey, NOTE_VKEY_MAX);
	pv_buf_init(&note, PV_NOTE_MAX);
	if ((r = key_path(path, sizeof(path), dir, tlog_name(t), "", err)) < 0 ||
	    (r = key_path(next, sizeof(next), dir, tlog_name(t), ".next", err)) < 0 ||
	    (r = tlog_epoch_get(t, UINT32_MAX, &cur, err)) < 0)
		goto out;
	if ((r = signer_is(*s_io, cur.vkey, err)) <= 0) {
		if (r == 0)
			r = pv_fail(err, PV_ERR, "rotation: the given key is not log %s's current key",
				    tlog_name(t));
		goto out;
	}
	if (cur.epoch >= UINT32_MAX - 1) {
		r = pv_fail(err, PV_ELIMIT, "rotation: no more epochs");
		goto out;
	}
	if ((r = new_signer(tlog_origin(t), &s_new, err)) < 0 ||
	    (r = signer_vkey(s_new, &vkey, err)) < 0 || (r = write_key_file(dir, next, s_new, err)) < 0)
		goto out;
	if ((r = tlog_tx_begin(tlog_db(t), &tx, err)) < 0) {
		(void)wipe_key_file(dir, next, NULL);
		goto out;
	}
	r = rotate_locked(t, record, *s_io, s_new, pv_buf_str(&vkey), cur.epoch + 1, &note, err);
	if ((r = tlog_tx_end(&tx, r, err)) < 0) {
		(void)wipe_key_file(dir, next, NULL);
		goto out;
	}
	/* Committed: the new key is the log's key. Destroy the old one. */
	keys_free(s_io);
	*s_io = s_new;
	s_new = NULL;
	if ((r = wipe_key_file(dir, path, err)) < 0 ||
	    (rename(next, path) != 0 &&
	     (r = pv_fail(err, PV_ERR, "rename %s: %s", next, strerror(errno))) < 0) ||
	    (r = pv_fsync_dir(dir, err)) < 0) {
		pv_error_prefix(err, "rotation committed; keys_load will finish the key files");
		goto out;
	}
	if (note_r != NULL)
		r = pv_buf_append(note_r, note.data, note.len, err);
out:
	keys_free(&s_new);
	tlog_epoch_row_free(&cur);
	pv_buf_free(&vkey);
	pv_buf_free(&note);
	return r;
}
