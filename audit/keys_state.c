/* The signer's state file and the move of key files into their own
 * directory (keys.h). */
#include "audit/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/lib/base64.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/lib/number.h"

#define STATE_MAGIC "popvault/signer-state/v1"
/* A state: the header lines and one checkpoint note. */
#define STATE_TEXT_MAX (256 + PV_KEYS_STATE_NOTE_MAX)
/* The file holds two slots, written in turn in place with one
 * fdatasync each (a signature waits for it): a write torn by a crash
 * spoils only the slot it was writing, and the other one, a signature
 * older, stays. A slot: "PVS1", a sequence number (8 bytes), the text's
 * length (4), the text, zeros, and the SHA-256 of everything before it
 * in the slot as its last 32 bytes. The newest valid slot counts. */
#define SLOT_MAGIC "PVS1"
#define SLOT_SIZE 8192
#define SLOT_HEAD 16
_Static_assert(SLOT_HEAD + STATE_TEXT_MAX + 32 <= SLOT_SIZE, "a state fits its slot");

void keys_state_init(struct keys_state *st)
{
	memset(st, 0, sizeof(*st));
	pv_buf_init(&st->note, PV_KEYS_STATE_NOTE_MAX);
}

void keys_state_free(struct keys_state *st)
{
	pv_buf_free(&st->note);
}

static int state_path(char *out, size_t n, const char *dir, const char *log, struct pv_error *err)
{
	if ((size_t)snprintf(out, n, "%s/%s.signed", dir, log) >= n)
		return pv_fail(err, PV_ERR, "state path too long");
	return 0;
}

static void put_le(unsigned char *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* The slot's text and sequence number; false when it is not a whole,
 * valid slot. */
static bool slot_open(const unsigned char *slot, const char **text_r, size_t *len_r,
		      uint64_t *seq_r)
{
	unsigned char sum[32];
	if (memcmp(slot, SLOT_MAGIC, 4) != 0)
		return false;
	crypto_hash_sha256(sum, slot, SLOT_SIZE - 32);
	if (sodium_memcmp(sum, slot + SLOT_SIZE - 32, 32) != 0)
		return false;
	*seq_r = get_le(slot + 4, 8);
	*len_r = (size_t)get_le(slot + 12, 4);
	*text_r = (const char *)slot + SLOT_HEAD;
	return *len_r <= STATE_TEXT_MAX;
}

/* The slot after the newest valid one (0 for a new file), and that
 * one's sequence number. */
static void next_slot(int fd, unsigned *slot_r, uint64_t *seq_r)
{
	unsigned char *buf = malloc(SLOT_SIZE);
	uint64_t best = 0;
	int which = -1;
	for (unsigned i = 0; buf != NULL && i < 2; i++) {
		const char *t;
		size_t n;
		uint64_t seq;
		if (pread(fd, buf, SLOT_SIZE, (off_t)i * SLOT_SIZE) == SLOT_SIZE &&
		    slot_open(buf, &t, &n, &seq) && (which < 0 || seq > best)) {
			best = seq;
			which = (int)i;
		}
	}
	free(buf);
	*slot_r = which < 0 ? 0 : (unsigned)(1 - which);
	*seq_r = which < 0 ? 0 : best;
}

int keys_state_write(const char *dir, const char *log, const struct keys_state *st,
		     struct pv_error *err)
{
	char path[4096], b64[sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN,
						       sodium_base64_VARIANT_ORIGINAL)];
	struct pv_buf text;
	struct stat sb;
	unsigned char *slot = NULL;
	unsigned which;
	uint64_t seq;
	int r, fd = -1;
	if ((r = state_path(path, sizeof(path), dir, log, err)) < 0)
		return r;
	sodium_bin2base64(b64, sizeof(b64), st->root, MERKLE_HASH_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	pv_buf_init(&text, STATE_TEXT_MAX);
	if ((r = pv_buf_printf(&text, err, STATE_MAGIC "\nsize %llu\nroot %s\n\n",
			       (unsigned long long)st->size, b64)) < 0 ||
	    (r = pv_buf_append(&text, st->note.data, st->note.len, err)) < 0)
		goto out;
	bool made = lstat(path, &sb) != 0;
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
	    (slot = calloc(1, SLOT_SIZE)) == NULL) {
		r = pv_fail(err, PV_ERR, "%s: %s", path, fd < 0 ? strerror(errno) : "out of memory");
		goto out;
	}
	next_slot(fd, &which, &seq);
	memcpy(slot, SLOT_MAGIC, 4);
	put_le(slot + 4, seq + 1, 8);
	put_le(slot + 12, text.len, 4);
	memcpy(slot + SLOT_HEAD, text.data, text.len);
	crypto_hash_sha256(slot + SLOT_SIZE - 32, slot, SLOT_SIZE - 32);
	if (pwrite(fd, slot, SLOT_SIZE, (off_t)which * SLOT_SIZE) != SLOT_SIZE ||
	    (made ? fsync(fd) : fdatasync(fd)) != 0) {
		r = pv_fail(err, PV_ERR, "write %s: %s", path, strerror(errno));
		goto out;
	}
	if (made)
		r = pv_fsync_dir(dir, err);
out:
	if (fd >= 0)
		close(fd);
	free(slot);
	pv_buf_free(&text);
	return r;
}

/* "key value\n" at *p; value is [*v, *v + *vl). */
static int line(const char **p, const char *end, const char *key, const char **v, size_t *vl)
{
	size_t kl = strlen(key);
	const char *eol = memchr(*p, '\n', (size_t)(end - *p));
	if (eol == NULL || (size_t)(eol - *p) <= kl + 1 || memcmp(*p, key, kl) != 0 ||
	    (*p)[kl] != ' ')
		return -1;
	*v = *p + kl + 1;
	*vl = (size_t)(eol - *v);
	*p = eol + 1;
	return 0;
}

int keys_state_read(const char *dir, const char *log, struct keys_state *st,
		    struct pv_error *err)
{
	char path[4096];
	unsigned char *buf = NULL;
	const char *text = NULL, *v;
	size_t len = 0, vl, rl = 0;
	uint64_t best = 0;
	struct stat sb;
	int r, fd;

	st->size = 0;
	pv_buf_reset(&st->note);
	if ((r = state_path(path, sizeof(path), dir, log, err)) < 0)
		return r;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return pv_fail(err, errno == ENOENT ? PV_ENOTFOUND : PV_ERR, "%s: %s", path,
			       strerror(errno));
	if (fstat(fd, &sb) != 0 || sb.st_size > 2 * SLOT_SIZE ||
	    (buf = malloc(2 * SLOT_SIZE)) == NULL) {
		close(fd);
		return pv_fail(err, PV_EINTEGRITY, "%s is not a signer state file", path);
	}
	ssize_t got = pread(fd, buf, 2 * SLOT_SIZE, 0);
	close(fd);
	for (unsigned i = 0; got > 0 && i < 2; i++) {
		const char *t;
		size_t n;
		uint64_t seq;
		if ((size_t)got >= (i + 1) * SLOT_SIZE && slot_open(buf + i * SLOT_SIZE, &t, &n, &seq) &&
		    (text == NULL || seq > best)) {
			text = t;
			len = n;
			best = seq;
		}
	}
	const char *p = text, *end = text != NULL ? text + len : NULL;
	const size_t ml = sizeof(STATE_MAGIC) - 1;
	if (text == NULL || len < ml + 1 || memcmp(p, STATE_MAGIC "\n", ml + 1) != 0 ||
	    (p += ml + 1, line(&p, end, "size", &v, &vl)) != 0 ||
	    pv_parse_u64(v, vl, 0, INT64_MAX, PV_NUM_CANONICAL, &st->size) != 0 ||
	    line(&p, end, "root", &v, &vl) != 0 ||
	    pv_b64_decode(v, vl, st->root, MERKLE_HASH_LEN, &rl) != 0 || rl != MERKLE_HASH_LEN ||
	    p >= end || *p != '\n')
		r = pv_fail(err, PV_EINTEGRITY, "%s is not a signer state file", path);
	else
		r = pv_buf_append(&st->note, p + 1, (size_t)(end - p - 1), err);
	free(buf);
	return r;
}

int keys_move_legacy(const char *old_dir, const char *new_dir, struct pv_error *err)
{
	static const char *const names[] = {"archive.key", "archive.key.next", "audit.key",
					    "audit.key.next"};
	char from[4096], to[4096];
	struct stat st;
	int r, moved = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((size_t)snprintf(from, sizeof(from), "%s/%s", old_dir, names[i]) >= sizeof(from) ||
		    (size_t)snprintf(to, sizeof(to), "%s/%s", new_dir, names[i]) >= sizeof(to))
			return pv_fail(err, PV_ERR, "key path too long");
		if (lstat(from, &st) != 0)
			continue;
		if (moved == 0 && (r = pv_mkdir(new_dir, 0700, 1, err)) < 0)
			return r;
		if (lstat(to, &st) == 0) {
			/* Left alone: the one in new_dir is what is used. */
			pv_log(PV_LOG_WARN, "keys.legacy", "%s is ignored: %s is the key in use", from,
			       to);
			continue;
		}
		if (rename(from, to) != 0)
			return pv_fail(err, PV_ERR, "move %s to %s: %s", from, to, strerror(errno));
		moved++;
	}
	if (moved == 0)
		return 0;
	if ((r = pv_fsync_dir(new_dir, err)) < 0)
		return r;
	return pv_fsync_dir(old_dir, err);
}
