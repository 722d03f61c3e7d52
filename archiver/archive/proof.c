#include "archiver/archive/proof.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/store/leaf.h"
#include "audit/tlog_proof.h"

int proof_checkpoint_covering(struct archive *ar, int64_t max_leaf, struct pv_buf *note_r,
			      struct checkpoint *cp_r, struct pv_error *err)
{
	struct checkpoint cp;
	size_t mark = note_r->len;
	/* The caller has not appended to the archive log in its transaction:
	 * what is reserved there is committed, and may be signed now. */
	int r = checkpoint_seal(ar->archive_log, ar->archive_key, NULL, err);
	if (r == PV_OK)
		r = checkpoint_latest(ar->archive_log, note_r, &cp, err);
	if (r < 0 && r != PV_ENOTFOUND)
		return r;
	if (r == PV_OK && (int64_t)cp.size > max_leaf)
		goto done;
	if ((r = archive_sign_checkpoint(ar, ar->archive_log, err)) < 0 ||
	    (r = checkpoint_seal(ar->archive_log, ar->archive_key, NULL, err)) < 0)
		return r;
	note_r->len = mark;
	if ((r = checkpoint_latest(ar->archive_log, note_r, &cp, err)) < 0)
		return r;
	if ((int64_t)cp.size <= max_leaf)
		return pv_fail(err, PV_EINTEGRITY, "the archive log does not hold leaf %lld",
			       (long long)max_leaf);
done:
	if (cp_r != NULL)
		*cp_r = cp;
	return PV_OK;
}

int proof_message(struct archive *ar, int64_t id, int64_t leaf_index,
		  const uint8_t salt[BLOB_SALT_BYTES], const char *note, size_t note_len,
		  struct pv_buf *out, uint8_t commit_r[32], int *leaf_version_r,
		  struct pv_error *err)
{
	struct archive_leaf l;
	struct pv_buf leaf, extra;
	uint8_t commit[32];
	char hex[2 * BLOB_SALT_BYTES + 1];
	int r;

	pv_buf_init(&leaf, PV_TLOG_ENTRY_MAX);
	pv_buf_init(&extra, PV_TLOG_PROOF_EXTRA_MAX);
	if ((r = tlog_leaf(ar->archive_log, (uint64_t)leaf_index, &leaf, err)) < 0)
		goto out;
	if (archive_leaf_parse((const char *)leaf.data, leaf.len, &l, err) != 0 ||
	    l.kind != LEAF_MESSAGE || l.seq != id || pv_unhex(l.commit, strlen(l.commit), commit, 32) != 0) {
		r = pv_fail(err, PV_EINTEGRITY, "message %lld: archive leaf %lld is not its leaf "
						"(run popvault verify)", (long long)id, (long long)leaf_index);
		goto out;
	}
	pv_hex(salt, BLOB_SALT_BYTES, hex);
	if ((r = pv_buf_printf(&extra, err, "salt %s\n", hex)) < 0 ||
	    (r = pv_buf_append(&extra, leaf.data, leaf.len, err)) < 0 ||
	    (r = tlog_proof_create(ar->archive_log, (uint64_t)leaf_index, note, note_len, extra.data,
				   extra.len, out, err)) < 0)
		goto out;
	if (commit_r != NULL)
		memcpy(commit_r, commit, sizeof(commit));
	if (leaf_version_r != NULL)
		*leaf_version_r = l.version;
out:
	sodium_memzero(hex, sizeof(hex));
	pv_buf_free_secret(&extra);
	pv_buf_free(&leaf);
	return r;
}
