#include "audit/checkpoint.h"

#include <sodium.h>
#include <string.h>

#include "archiver/lib/base64.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/number.h"

int checkpoint_format(const char *origin, uint64_t size, const merkle_hash root, int64_t time_s,
		      struct pv_buf *out, struct pv_error *err)
{
	char b64[sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL)];
	int r;
	if (!note_name_valid(origin, strlen(origin)))
		return pv_fail(err, PV_ERR, "checkpoint: invalid origin");
	sodium_bin2base64(b64, sizeof(b64), root, MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
	if ((r = pv_buf_printf(out, err, "%s\n%llu\n%s\n", origin, (unsigned long long)size, b64)) < 0)
		return r;
	if (time_s >= 0)
		return pv_buf_printf(out, err, "time %lld\n", (long long)time_s);
	return 0;
}

int checkpoint_parse(const char *text, size_t len, struct checkpoint *cp_r, struct pv_error *err)
{
	const char *p = text, *end = text + len;
	size_t lineno = 0, root_len = 0;

	memset(cp_r, 0, sizeof(*cp_r));
	cp_r->time = -1;
	if (len == 0 || text[len - 1] != '\n')
		return pv_fail(err, PV_EINTEGRITY, "checkpoint: body must end with a newline");
	if (len > PV_NOTE_MAX)
		return pv_fail(err, PV_ELIMIT, "checkpoint: body too large");
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t ll = (size_t)(eol - p);
		if (ll == 0)
			return pv_fail(err, PV_EINTEGRITY, "checkpoint: empty line %zu", lineno + 1);
		if (memchr(p, '\0', ll) != NULL || memchr(p, '\r', ll) != NULL)
			return pv_fail(err, PV_EINTEGRITY, "checkpoint: control character in line %zu",
				       lineno + 1);
		switch (lineno) {
		case 0:
			if (ll > PV_KEY_NAME_MAX)
				return pv_fail(err, PV_EINTEGRITY, "checkpoint: origin too long");
			memcpy(cp_r->origin, p, ll);
			cp_r->origin[ll] = '\0';
			break;
		case 1:
			if (pv_parse_u64(p, ll, 0, UINT64_MAX, PV_NUM_CANONICAL, &cp_r->size) < 0 ||
			    cp_r->size > (uint64_t)INT64_MAX)
				return pv_fail(err, PV_EINTEGRITY, "checkpoint: bad tree size");
			break;
		case 2:
			if (pv_b64_decode(p, ll, cp_r->root, MERKLE_HASH_LEN, &root_len) != 0 ||
			    root_len != MERKLE_HASH_LEN)
				return pv_fail(err, PV_EINTEGRITY, "checkpoint: bad root hash");
			break;
		default: {
			uint64_t t;
			if (++cp_r->n_ext > PV_CHECKPOINT_EXT_LINES_MAX)
				return pv_fail(err, PV_EINTEGRITY, "checkpoint: too many extension lines");
			if (ll > 5 && memcmp(p, "time ", 5) == 0) {
				if (cp_r->time >= 0 ||
				    pv_parse_u64(p + 5, ll - 5, 0, INT64_MAX, PV_NUM_CANONICAL, &t) != 0)
					return pv_fail(err, PV_EINTEGRITY, "checkpoint: bad time line");
				cp_r->time = (int64_t)t;
			}
		}
		}
		lineno++;
		p = eol + 1;
	}
	if (lineno < 3)
		return pv_fail(err, PV_EINTEGRITY, "checkpoint: needs origin, size and root lines");
	return 0;
}

int checkpoint_open(const char *note, size_t len, const struct note_verifier *vs, size_t nv,
		    struct checkpoint *cp_r, struct pv_error *err)
{
	bool ok[PV_NOTE_SIGNATURES_MAX];
	size_t text_len;
	int r;

	memset(cp_r, 0, sizeof(*cp_r));
	if (nv > PV_NOTE_SIGNATURES_MAX)
		return pv_fail(err, PV_ELIMIT, "checkpoint: too many trusted keys");
	if ((r = note_open(note, len, vs, nv, &text_len, ok, err)) < 0 ||
	    (r = checkpoint_parse(note, text_len, cp_r, err)) < 0)
		return r;
	for (size_t i = 0; i < nv; i++)
		if (ok[i] && strcmp(vs[i].name, cp_r->origin) == 0)
			return 0;
	return pv_fail(err, PV_EINTEGRITY, "checkpoint: not signed by a key named %s",
		       cp_r->origin);
}

static int sign_locked(struct tlog *t, const struct note_signer *s, unsigned flags,
		       struct pv_buf *note_r, uint64_t *seq_r, struct pv_error *err)
{
	struct tlog_epoch_row ep;
	struct tlog_checkpoint_row last;
	struct note_verifier v;
	struct pv_buf vkey, body, note;
	merkle_hash root;
	uint64_t size;
	int r;

	tlog_epoch_row_init(&ep);
	tlog_checkpoint_row_init(&last);
	pv_buf_init(&vkey, NOTE_VKEY_MAX);
	pv_buf_init(&body, PV_NOTE_MAX);
	pv_buf_init(&note, PV_NOTE_MAX);
	note_signer_verifier(s, &v);
	if ((r = tlog_epoch_get(t, UINT32_MAX, &ep, err)) < 0) {
		if (r == PV_ENOTFOUND)
			r = pv_fail(err, PV_ERR, "log %s has no signing key yet", tlog_name(t));
		goto out;
	}
	if ((r = note_verifier_format(&v, &vkey, err)) < 0)
		goto out;
	if (strcmp(pv_buf_str(&vkey), ep.vkey) != 0 || strcmp(s->name, tlog_origin(t)) != 0) {
		r = pv_fail(err, PV_ERR, "log %s: key %s is not its current key (epoch %u: %s)",
			    tlog_name(t), pv_buf_str(&vkey), ep.epoch, ep.vkey);
		goto out;
	}
	if ((r = tlog_size(t, &size, err)) < 0 || (r = tlog_root(t, size, root, err)) < 0)
		goto out;
	/* Never sign a tree inconsistent with the last signed one. */
	r = tlog_checkpoint_get(t, UINT64_MAX, &last, err);
	bool have_last = r == 0;
	if (r == 0) {
		merkle_hash old;
		if (last.size > size)
			r = pv_fail(err, PV_EINTEGRITY,
				    "log %s shrank from %llu to %llu leaves; refusing to sign",
				    tlog_name(t), (unsigned long long)last.size,
				    (unsigned long long)size);
		else if ((r = tlog_root(t, last.size, old, err)) == 0 &&
			 sodium_memcmp(old, last.root, MERKLE_HASH_LEN) != 0)
			r = pv_fail(err, PV_EINTEGRITY,
				    "log %s no longer matches its checkpoint %llu; refusing to sign",
				    tlog_name(t), (unsigned long long)last.seq);
		if (r < 0)
			goto out;
	} else if (r != PV_ENOTFOUND) {
		goto out;
	}
	/* A clock that stepped back (NTP, a restored VM, a dead RTC battery)
	 * must not date a checkpoint before the last one: take the later of
	 * now and the last checkpoint's time (its row's time, never earlier
	 * than its time line). The step itself is an audit entry (auditlog.h). */
	int64_t now_ms = pv_clock_now_ms();
	if (have_last && last.created_ms > now_ms)
		now_ms = last.created_ms;
	if ((r = checkpoint_format(tlog_origin(t), size, root,
				   (flags & CHECKPOINT_TIME) ? now_ms / 1000 : -1, &body, err)) < 0)
		goto out;
	if (s->remote != NULL) {
		/* Reserved now, signed after the commit (checkpoint_seal): the
		 * signer never signs a tree a rollback could take back. One
		 * reserved row per epoch grows with the transaction. */
		if (have_last && !tlog_checkpoint_row_signed(&last) && last.epoch == ep.epoch) {
			r = tlog_checkpoint_replace(t, last.seq, size, root, now_ms,
						    (const char *)body.data, body.len, err);
			if (r == 0 && seq_r != NULL)
				*seq_r = last.seq;
		} else {
			r = tlog_checkpoint_insert(t, size, root, ep.epoch, now_ms,
						   (const char *)body.data, body.len, seq_r, err);
		}
		goto out;
	}
	if ((r = note_sign((const char *)body.data, body.len, s, &note, err)) < 0 ||
	    (r = tlog_checkpoint_insert(t, size, root, ep.epoch, now_ms, (const char *)note.data,
					note.len, seq_r, err)) < 0)
		goto out;
	if (note_r != NULL)
		r = pv_buf_append(note_r, note.data, note.len, err);
out:
	tlog_epoch_row_free(&ep);
	tlog_checkpoint_row_free(&last);
	pv_buf_free(&vkey);
	pv_buf_free(&body);
	pv_buf_free(&note);
	return r;
}

int checkpoint_sign(struct tlog *t, const struct note_signer *s, unsigned flags,
		    struct pv_buf *note_r, uint64_t *seq_r, struct pv_error *err)
{
	struct tlog_tx tx;
	int r;
	if ((r = tlog_tx_begin(tlog_db(t), &tx, err)) < 0)
		return r;
	/* A local key signs now: what a signer process left reserved (it
	 * was committed, by another transaction) is signed first, so that
	 * reserved rows only ever trail. */
	r = s->remote == NULL ? checkpoint_seal(t, s, NULL, err) : 0;
	if (r == 0)
		r = sign_locked(t, s, flags, note_r, seq_r, err);
	return tlog_tx_end(&tx, r, err);
}

int checkpoint_heartbeat(struct tlog *t, const struct note_signer *s, struct pv_buf *note_r,
			 struct pv_error *err)
{
	return checkpoint_sign(t, s, CHECKPOINT_TIME, note_r, NULL, err);
}

/* Signs reserved row `row` and stores the note: through the remote key,
 * or with the local key when it is the key of the row's epoch
 * (PV_ENOTFOUND when it is not). */
static int seal_row(struct tlog *t, const struct note_signer *s,
		    const struct tlog_checkpoint_row *row, struct pv_error *err)
{
	struct tlog_epoch_row ep;
	struct note_verifier v;
	struct checkpoint body, cp;
	struct pv_buf note;
	const char *text = (const char *)row->note.data;
	int r;

	tlog_epoch_row_init(&ep);
	pv_buf_init(&note, PV_NOTE_MAX);
	if ((r = checkpoint_parse(text, row->note.len, &body, err)) < 0 ||
	    (r = tlog_epoch_get(t, row->epoch, &ep, err)) < 0 ||
	    (r = note_verifier_parse(ep.vkey, strlen(ep.vkey), &v, err)) < 0) {
		pv_error_prefix(err, "log %s: reserved checkpoint %llu", tlog_name(t),
				(unsigned long long)row->seq);
		goto out;
	}
	if (body.size != row->size || sodium_memcmp(body.root, row->root, MERKLE_HASH_LEN) != 0 ||
	    strcmp(body.origin, tlog_origin(t)) != 0) {
		r = pv_fail(err, PV_EINTEGRITY, "log %s: reserved checkpoint %llu differs from its row",
			    tlog_name(t), (unsigned long long)row->seq);
		goto out;
	}
	if (s->remote == NULL) {
		struct note_verifier mine;
		note_signer_verifier(s, &mine);
		if (mine.id != v.id || sodium_memcmp(mine.pk, v.pk, 32) != 0) {
			r = pv_fail(err, PV_ENOTFOUND, "log %s: checkpoint %llu is reserved for key "
						       "epoch %u, whose key this process does not hold",
				    tlog_name(t), (unsigned long long)row->seq, row->epoch);
			goto out;
		}
		r = note_sign(text, row->note.len, s, &note, err);
	} else {
		r = s->remote->sign_checkpoint(s->remote_ctx, t, ep.vkey, text, row->note.len, &note,
					       err);
	}
	if (r < 0)
		goto out;
	/* Trust, but check: the signer's note is this body under the epoch's key. */
	if (note.len <= row->note.len || memcmp(note.data, text, row->note.len) != 0 ||
	    note.data[row->note.len] != '\n' ||
	    checkpoint_open((const char *)note.data, note.len, &v, 1, &cp, err) < 0) {
		r = pv_fail(err, PV_EINTEGRITY, "log %s: the signer's note for checkpoint %llu is not "
						"the reserved body under key %s",
			    tlog_name(t), (unsigned long long)row->seq, ep.vkey);
		goto out;
	}
	r = tlog_checkpoint_replace(t, row->seq, row->size, row->root, row->created_ms,
				    (const char *)note.data, note.len, err);
out:
	tlog_epoch_row_free(&ep);
	pv_buf_free(&note);
	return r;
}

int checkpoint_seal(struct tlog *t, const struct note_signer *s, uint64_t *sealed_r,
		    struct pv_error *err)
{
	struct tlog_checkpoint_row row;
	struct tlog_tx tx;
	uint64_t first = 0, last, n = 0;
	int r;

	if (sealed_r != NULL)
		*sealed_r = 0;
	if (s == NULL)
		return 0;
	tlog_checkpoint_row_init(&row);
	/* The common case, nothing reserved, takes no write lock. */
	if ((r = tlog_checkpoint_get(t, UINT64_MAX, &row, err)) < 0 || tlog_checkpoint_row_signed(&row)) {
		if (r == PV_ENOTFOUND)
			r = 0;
		goto done;
	}
	if ((r = tlog_tx_begin(tlog_db(t), &tx, err)) < 0)
		goto done;
	if ((r = tlog_checkpoint_get(t, UINT64_MAX, &row, err)) < 0) {
		if (r == PV_ENOTFOUND)
			r = 0;
		goto end;
	}
	if (tlog_checkpoint_row_signed(&row))
		goto end;
	last = row.seq;
	r = tlog_checkpoint_latest_signed(t, &row, err);
	if (r == 0)
		first = row.seq + 1;
	else if (r != PV_ENOTFOUND)
		goto end;
	r = 0;
	/* In order: each extends the one before, as the signer requires. */
	for (uint64_t seq = first; seq <= last && r == 0; seq++) {
		r = tlog_checkpoint_get(t, seq, &row, err);
		if (r == PV_ENOTFOUND) {
			r = 0; /* a gap in the numbers; verify reports it */
			continue;
		}
		if (r == 0 && !tlog_checkpoint_row_signed(&row) && (r = seal_row(t, s, &row, err)) == 0)
			n++;
	}
end:
	r = tlog_tx_end(&tx, r, err);
	if (r == 0 && sealed_r != NULL)
		*sealed_r = n;
done:
	tlog_checkpoint_row_free(&row);
	return r;
}

int checkpoint_latest(struct tlog *t, struct pv_buf *note_r, struct checkpoint *cp_r,
		      struct pv_error *err)
{
	struct tlog_checkpoint_row row;
	size_t text_len, nsigs;
	int r;
	tlog_checkpoint_row_init(&row);
	if ((r = tlog_checkpoint_latest_signed(t, &row, err)) == 0 && cp_r != NULL &&
	    (r = note_split((const char *)row.note.data, row.note.len, &text_len, &nsigs, err)) == 0)
		r = checkpoint_parse((const char *)row.note.data, text_len, cp_r, err);
	if (r == 0)
		r = pv_buf_append(note_r, row.note.data, row.note.len, err);
	tlog_checkpoint_row_free(&row);
	return r;
}

int checkpoint_check_successor(const struct checkpoint *known, const struct checkpoint *next,
			       const merkle_hash *proof, size_t proof_len, struct pv_error *err)
{
	merkle_hash empty;
	if (strcmp(known->origin, next->origin) != 0)
		return pv_fail(err, PV_EINTEGRITY, "checkpoint: origin %s is not %s", next->origin,
			       known->origin);
	if (next->size < known->size)
		return pv_fail(err, PV_EINTEGRITY,
			       "checkpoint: size %llu is older than the known %llu (rollback)",
			       (unsigned long long)next->size, (unsigned long long)known->size);
	if (known->size == 0) {
		/* Any tree extends the empty one; only its root can be wrong. */
		merkle_empty_root(empty);
		if (sodium_memcmp(known->root, empty, MERKLE_HASH_LEN) != 0)
			return pv_fail(err, PV_EINTEGRITY, "checkpoint: empty tree with a non-empty root");
		if (next->size == 0 && sodium_memcmp(next->root, empty, MERKLE_HASH_LEN) != 0)
			return pv_fail(err, PV_EINTEGRITY, "checkpoint: empty tree with a non-empty root");
		return 0;
	}
	int r = merkle_verify_consistency(known->size, next->size, proof, proof_len, known->root,
					  next->root, err);
	if (r < 0)
		pv_error_prefix(err, "checkpoint %llu is inconsistent with the known %llu",
				(unsigned long long)next->size, (unsigned long long)known->size);
	return r;
}

int checkpoint_accept(struct tlog *t, const char *known_note, size_t known_len,
		      const char *next_note, size_t next_len, const struct note_verifier *vs,
		      size_t nv, struct checkpoint *next_r, struct pv_error *err)
{
	struct checkpoint known, next;
	merkle_hash proof[PV_PROOF_HASHES_MAX];
	size_t n = 0;
	int r;

	if ((r = checkpoint_open(known_note, known_len, vs, nv, &known, err)) < 0) {
		pv_error_prefix(err, "known checkpoint");
		return r;
	}
	if ((r = checkpoint_open(next_note, next_len, vs, nv, &next, err)) < 0) {
		pv_error_prefix(err, "new checkpoint");
		return r;
	}
	if (strcmp(next.origin, tlog_origin(t)) != 0)
		return pv_fail(err, PV_EINTEGRITY, "checkpoint is for %s, not this log (%s)",
			       next.origin, tlog_origin(t));
	if (known.size > 0 && known.size <= next.size &&
	    (r = tlog_consistency_proof(t, known.size, next.size, proof, &n, err)) < 0) {
		if (r == PV_ENOTFOUND)
			r = pv_fail(err, PV_EINTEGRITY, "checkpoint: the log lacks leaves %llu..%llu",
				    (unsigned long long)known.size, (unsigned long long)next.size);
		return r;
	}
	if ((r = checkpoint_check_successor(&known, &next, proof, n, err)) < 0)
		return r;
	if (next_r != NULL)
		*next_r = next;
	return 0;
}
