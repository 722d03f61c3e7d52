/* The signer's state file and the move of key files into their own
 * directory (keys.h). */
#include "audit/keys.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archiver/lib/base64.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/lib/number.h"

#define STATE_MAGIC "popvault/signer-state/v1"
/* A state file: the header lines and one checkpoint note. */
#define STATE_FILE_MAX (256 + PV_KEYS_STATE_NOTE_MAX)

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

int keys_state_write(const char *dir, const char *log, const struct keys_state *st,
		     struct pv_error *err)
{
	char path[4096], b64[sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN,
						       sodium_base64_VARIANT_ORIGINAL)];
	struct pv_buf text;
	int r;
	if ((r = state_path(path, sizeof(path), dir, log, err)) < 0)
		return r;
	sodium_bin2base64(b64, sizeof(b64), st->root, MERKLE_HASH_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	pv_buf_init(&text, STATE_FILE_MAX);
	if ((r = pv_buf_printf(&text, err, STATE_MAGIC "\nsize %llu\nroot %s\n\n",
			       (unsigned long long)st->size, b64)) == 0 &&
	    (r = pv_buf_append(&text, st->note.data, st->note.len, err)) == 0)
		r = pv_write_file(path, text.data, text.len, 0600, 0, err);
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
	unsigned char *data = NULL;
	size_t len = 0, vl, rl = 0;
	const char *v;
	int r;

	st->size = 0;
	pv_buf_reset(&st->note);
	struct stat sb;
	if ((r = state_path(path, sizeof(path), dir, log, err)) < 0)
		return r;
	if (lstat(path, &sb) != 0 && errno == ENOENT)
		return pv_fail(err, PV_ENOTFOUND, "%s: no state", path);
	if ((r = pv_read_file(path, STATE_FILE_MAX, &data, &len, err)) < 0)
		return r;
	const char *p = (const char *)data, *end = p + len;
	const size_t ml = sizeof(STATE_MAGIC) - 1;
	if (len < ml + 1 || memcmp(p, STATE_MAGIC "\n", ml + 1) != 0 ||
	    (p += ml + 1, line(&p, end, "size", &v, &vl)) != 0 ||
	    pv_parse_u64(v, vl, 0, INT64_MAX, PV_NUM_CANONICAL, &st->size) != 0 ||
	    line(&p, end, "root", &v, &vl) != 0 ||
	    pv_b64_decode(v, vl, st->root, MERKLE_HASH_LEN, &rl) != 0 || rl != MERKLE_HASH_LEN ||
	    p >= end || *p != '\n')
		r = pv_fail(err, PV_EINTEGRITY, "%s is not a signer state file", path);
	else
		r = pv_buf_append(&st->note, p + 1, (size_t)(end - p - 1), err);
	free(data);
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
