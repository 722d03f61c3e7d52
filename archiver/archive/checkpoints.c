#include "archiver/archive/checkpoints.h"

#include <stdint.h>
#include <string.h>

#include "archiver/store/anchors.h"
#include "audit/checkpoint.h"

struct tlog *archive_log_named(struct archive *ar, const char *name)
{
	if (strcmp(name, ARCHIVE_LOG) == 0)
		return ar->archive_log;
	if (strcmp(name, AUDIT_LOG) == 0)
		return ar->audit_log;
	return NULL;
}

static int log_named(struct archive *ar, const char *name, struct tlog **t_r, struct pv_error *err)
{
	if ((*t_r = archive_log_named(ar, name)) == NULL)
		return pv_fail(err, PV_EUSAGE, "no log named '%s' (archive or audit)", name);
	return PV_OK;
}

static int append_line(void *ctx, const struct anchor_cosig_row *row)
{
	return pv_buf_append_str(ctx, row->line, NULL);
}

/* Checkpoint seq of log t with its cosignature lines, into note_r. */
static int cosigned_note(struct archive *ar, struct tlog *t, uint64_t seq, struct pv_buf *note_r,
			 struct pv_error *err)
{
	struct tlog_checkpoint_row row;
	int r;
	tlog_checkpoint_row_init(&row);
	if ((r = tlog_checkpoint_get(t, seq, &row, err)) == 0 &&
	    (r = pv_buf_append(note_r, row.note.data, row.note.len, err)) == 0 &&
	    (r = anchors_cosig_each(ar->cat->conn, tlog_name(t), row.seq, append_line, note_r,
				    err)) > 0)
		r = pv_fail(err, PV_ELIMIT, "the cosigned note is too long");
	tlog_checkpoint_row_free(&row);
	return r;
}

int archive_checkpoint_latest(struct archive *ar, const char *name, struct pv_buf *note_r,
			      struct pv_error *err)
{
	struct tlog *t;
	int r = log_named(ar, name, &t, err);
	return r < 0 ? r : cosigned_note(ar, t, UINT64_MAX, note_r, err);
}

int archive_checkpoint_witnessed(struct archive *ar, const char *name, struct pv_buf *note_r,
				 struct pv_error *err)
{
	struct tlog *t;
	uint64_t seq;
	size_t n = 0;
	int r = log_named(ar, name, &t, err);
	if (r == 0 &&
	    (r = anchors_cosig_checkpoints(ar->cat->conn, name, UINT64_MAX, &seq, 1, &n, err)) == 0 &&
	    n == 0)
		r = pv_fail(err, PV_ENOTFOUND, "no checkpoint of the %s log was cosigned yet "
					       "(popvault anchor, [witnesses])", name);
	return r < 0 ? r : cosigned_note(ar, t, seq, note_r, err);
}

int archive_checkpoint_vkey(struct archive *ar, const char *name, struct pv_buf *vkey_r,
			    struct pv_error *err)
{
	struct tlog_epoch_row ep;
	struct tlog *t;
	int r;
	if ((r = log_named(ar, name, &t, err)) < 0)
		return r;
	tlog_epoch_row_init(&ep);
	if ((r = tlog_epoch_get(t, UINT32_MAX, &ep, err)) == PV_OK)
		r = pv_buf_append_str(vkey_r, ep.vkey, err);
	tlog_epoch_row_free(&ep);
	return r;
}

int archive_checkpoint_history(struct archive *ar, const char *name, uint64_t offset,
			       uint64_t limit,
			       int (*fn)(void *ctx, const struct tlog_checkpoint_row *row),
			       void *ctx, uint64_t *total_r, struct pv_error *err)
{
	struct tlog_checkpoint_row row;
	struct tlog *t;
	uint64_t count, next, skipped = 0, passed = 0;
	int r;
	if ((r = log_named(ar, name, &t, err)) < 0 ||
	    (r = tlog_checkpoint_count(t, &count, &next, err)) < 0)
		return r;
	*total_r = count;
	tlog_checkpoint_row_init(&row);
	for (uint64_t seq = next; seq-- > 0 && r == PV_OK && (limit == 0 || passed < limit);) {
		r = tlog_checkpoint_get(t, seq, &row, err);
		if (r == PV_ENOTFOUND) { /* a missing row: popvault verify reports it */
			r = PV_OK;
			continue;
		}
		if (r == PV_OK && skipped++ >= offset) {
			passed++;
			r = fn(ctx, &row);
		}
		tlog_checkpoint_row_free(&row);
		tlog_checkpoint_row_init(&row);
	}
	tlog_checkpoint_row_free(&row);
	return r;
}
