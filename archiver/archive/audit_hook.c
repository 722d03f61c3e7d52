#include "archiver/archive/audit_hook.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/db.h"
#include "archiver/lib/hex.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"

static atomic_uint_fast64_t local_failures;
static struct pv_board *board; /* serve: counted for every process on the board */

void archive_audit_board(struct pv_board *b)
{
	board = b;
}

uint64_t archive_audit_failures(void)
{
	return (uint64_t)atomic_load(board ? &board->audit_failures : &local_failures);
}

static void count_failure(void)
{
	atomic_fetch_add(board ? &board->audit_failures : &local_failures, 1);
	if (board != NULL)
		atomic_store(&board->audit_failed_at, pv_clock_now());
}

int archive_audit(struct archive *ar, const char *actor, const char *type, const char *object,
		  const char *outcome, const char *personal, struct pv_error *err)
{
	struct audit_event ev = {actor, type, object, outcome, personal};
	bool own = !db_in_transaction(ar->cat->conn);
	int r = auditlog_append(ar->audit_log, ar->audit_key, &ev, NULL, err);
	/* Committed on its own: signed before the action goes on. */
	if (r == 0 && own)
		r = archive_seal(ar, err);
	if (r < 0) {
		count_failure();
		archive_key_hint(ar, err);
		pv_error_prefix(err, "audit log");
	} else if (board != NULL) {
		atomic_store(&board->audit_ok_at, pv_clock_now());
	}
	return r;
}

int archive_audit_batch(struct archive *ar, const struct audit_event *evs, size_t n,
			struct pv_error *err)
{
	bool own = !db_in_transaction(ar->cat->conn);
	int r = auditlog_append_batch(ar->audit_log, ar->audit_key, evs, n, NULL, err);
	if (r == 0 && own)
		r = archive_seal(ar, err);
	if (r < 0) {
		count_failure();
		pv_error_prefix(err, "audit log");
	}
	return r;
}

int archive_auditf(struct archive *ar, const char *actor, const char *type, const char *outcome,
		   const char *personal, struct pv_error *err, const char *object_fmt, ...)
{
	char object[AUDIT_OBJECT_MAX + 1];
	va_list ap;
	va_start(ap, object_fmt);
	int n = vsnprintf(object, sizeof(object), object_fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(object)) {
		count_failure();
		return pv_fail(err, PV_ELIMIT, "audit log: object of %s event too long", type);
	}
	return archive_audit(ar, actor, type, object, outcome, personal, err);
}

int archive_audit_search(struct archive *ar, const char *actor, const char *query,
			 uint64_t total, bool total_exact, const int64_t *ids, size_t n_ids,
			 struct pv_error *err)
{
	crypto_hash_sha256_state st;
	unsigned char h[32];
	char hex[65], num[32];
	crypto_hash_sha256_init(&st);
	for (size_t i = 0; i < n_ids; i++) {
		int n = snprintf(num, sizeof(num), "%lld\n", (long long)ids[i]);
		crypto_hash_sha256_update(&st, (const unsigned char *)num, (size_t)n);
	}
	crypto_hash_sha256_final(&st, h);
	pv_hex(h, sizeof(h), hex);
	return archive_auditf(ar, actor, AUDIT_SEARCH, "ok", query, err,
			      "results=%llu%s shown=%zu ids-sha256=%s", (unsigned long long)total,
			      total_exact ? "" : "+", n_ids, hex);
}

int archive_identity_shared(struct archive *ar, bool *shared_r, struct pv_error *err)
{
	int64_t n = 0;
	int r = 0;
	if (ar->cat->db == NULL)
		r = db_query_int(ar->cat->conn, "SELECT count(*) FROM audit_event"
						" WHERE type = 'identity-export'", &n, err);
	*shared_r = n > 0;
	return r;
}

int archive_rotate_key(struct archive *ar, struct tlog *t, const char *actor,
		       struct pv_buf *vkey_r, struct pv_error *err)
{
	bool shared;
	int r;
	/* Other harvesters hold this identity's seeds (archive/identity.h):
	 * rotated here alone, theirs would no longer sign. The new identity
	 * must be written for them (archive_identity_rotate). */
	if ((r = archive_identity_shared(ar, &shared, err)) < 0)
		return r;
	if (shared)
		return pv_fail(err, PV_EUSAGE, "this archive's identity was exported to other "
					       "harvesters: a key rotated here would leave them with "
					       "the old one. Give --identity-out FILE --passphrase-file "
					       "P to write the new identity, then run 'popvault identity "
					       "update FILE --passphrase-file P' on every other harvester");
	return archive_rotate_key_any(ar, t, actor, vkey_r, err);
}

int archive_rotate_key_any(struct archive *ar, struct tlog *t, const char *actor,
			   struct pv_buf *vkey_r, struct pv_error *err)
{
	struct note_signer **s = t == ar->archive_log ? &ar->archive_key : &ar->audit_key;
	struct tlog_epoch_row ep;
	char dir[sizeof(ar->dir) + 16];
	int r;
	tlog_epoch_row_init(&ep);
	archive_sign_dir(ar->dir, dir, sizeof(dir));
	if ((r = tlog_epoch_get(t, UINT32_MAX, &ep, err)) < 0 ||
	    (r = archive_auditf(ar, actor, AUDIT_KEY_ROTATION, "ok", NULL, err,
				"log=%s epoch=%u old=%s", tlog_name(t), ep.epoch + 1, ep.vkey)) < 0)
		goto out;
	if ((r = keys_rotate(t, ar->audit_log, dir, s, NULL, err)) < 0 ||
	    (r = archive_seal(ar, err)) < 0) {
		pv_error_prefix(err, "key rotation");
		goto out;
	}
	if ((r = tlog_epoch_get(t, UINT32_MAX, &ep, err)) == 0)
		r = pv_buf_append_str(vkey_r, ep.vkey, err);
out:
	tlog_epoch_row_free(&ep);
	return r;
}

int archive_heartbeat(struct archive *ar, struct tlog *t, const char *actor, struct pv_error *err)
{
	uint64_t size = 0;
	int r;
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = tlog_size(t, &size, err)) < 0 ||
	    (r = archive_auditf(ar, actor, AUDIT_HEARTBEAT, "ok", NULL, err, "log=%s size=%llu",
				tlog_name(t), (unsigned long long)size)) < 0 ||
	    (t == ar->archive_log &&
	     (r = checkpoint_heartbeat(t, archive_signer(ar, t), NULL, err)) < 0) ||
	    (r = catalog_commit(ar->cat, err)) < 0) {
		catalog_rollback(ar->cat);
		return r;
	}
	return archive_seal(ar, err);
}
