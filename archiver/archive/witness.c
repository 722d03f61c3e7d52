#include "archiver/archive/witness.h"

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/lib/base64.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/number.h"
#include "archiver/lib/db.h"
#include "archiver/store/witness_state.h"
#include "audit/checkpoint.h"
#include "audit/cosig.h"
#include "audit/merkle.h"

/* C2SP tlog-witness: at most 63 proof lines. */
#define PROOF_LINES_MAX 63

struct witness {
	pthread_mutex_t lock;
	struct db *db;
	struct cosig_signer *key; /* sodium_malloc'ed */
	struct note_verifier *logs;
	size_t n_logs;
};

static int load_key(const char *path, struct cosig_signer **s_r, struct pv_error *err)
{
	char *text = NULL;
	struct cosig_signer *s = sodium_malloc(sizeof(*s));
	int r;
	*s_r = NULL;
	if (s == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if ((r = pv_read_secret_file(path, &text, err)) == 0) {
		r = cosig_signer_parse(text, strlen(text), s, err);
		if (r < 0)
			pv_error_prefix(err, "%s", path);
	}
	pv_secret_free(&text);
	if (r < 0) {
		sodium_free(s);
		return r;
	}
	*s_r = s;
	return 0;
}

int witness_init(const char *key_file, const char *state_file, const char *name,
		 struct pv_buf *vkey_r, struct pv_error *err)
{
	struct cosig_signer *s = sodium_malloc(sizeof(*s));
	struct cosig_verifier v;
	struct pv_buf skey;
	struct db *db = NULL;
	int r;
	if (s == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	pv_buf_init(&skey, PV_KEY_FILE_MAX);
	if ((r = cosig_signer_generate(name, s, err)) == 0 &&
	    (r = cosig_signer_format(s, &skey, err)) == 0 &&
	    (r = pv_buf_append_str(&skey, "\n", err)) == 0 &&
	    (r = pv_write_file(key_file, skey.data, skey.len, 0600, 1, err)) == 0) {
		if ((r = witness_state_open(state_file, 1, &db, err)) < 0)
			(void)unlink(key_file); /* all or nothing */
	}
	if (r == 0) {
		cosig_signer_verifier(s, &v);
		r = cosig_verifier_format(&v, vkey_r, err);
	}
	db_close(&db);
	pv_buf_free_secret(&skey);
	cosig_signer_wipe(s);
	sodium_free(s);
	return r;
}

int witness_key_vkey(const char *key_file, struct pv_buf *vkey_r, struct pv_error *err)
{
	struct cosig_signer *s;
	struct cosig_verifier v;
	int r = load_key(key_file, &s, err);
	if (r < 0)
		return r;
	cosig_signer_verifier(s, &v);
	cosig_signer_wipe(s);
	sodium_free(s);
	return cosig_verifier_format(&v, vkey_r, err);
}

int witness_open(const struct witness_opts *o, struct witness **w_r, struct pv_error *err)
{
	struct witness *w = calloc(1, sizeof(*w));
	int r;
	*w_r = NULL;
	if (w == NULL || (o->n_logs > 0 && (w->logs = calloc(o->n_logs, sizeof(*w->logs))) == NULL)) {
		free(w);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	if (o->n_logs > 0)
		memcpy(w->logs, o->logs, o->n_logs * sizeof(*w->logs));
	w->n_logs = o->n_logs;
	pthread_mutex_init(&w->lock, NULL);
	if ((r = load_key(o->key_file, &w->key, err)) < 0 ||
	    (r = witness_state_open(o->state_file, 0, &w->db, err)) < 0) {
		witness_free(&w);
		return r;
	}
	*w_r = w;
	return 0;
}

void witness_free(struct witness **wp)
{
	struct witness *w = *wp;
	if (w == NULL)
		return;
	db_close(&w->db);
	if (w->key != NULL) {
		cosig_signer_wipe(w->key);
		sodium_free(w->key);
	}
	pthread_mutex_destroy(&w->lock);
	free(w->logs);
	free(w);
	*wp = NULL;
}

void witness_answer_init(struct witness_answer *a)
{
	memset(a, 0, sizeof(*a));
	pv_buf_init(&a->body, 64 * 1024);
}

void witness_answer_free(struct witness_answer *a)
{
	pv_buf_free(&a->body);
}

static void answer(struct witness_answer *a, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void answer(struct witness_answer *a, int status, const char *fmt, ...)
{
	char msg[PV_ERROR_MSG_MAX + 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	a->status = status;
	a->content_type = "text/plain; charset=utf-8";
	pv_buf_reset(&a->body);
	(void)pv_buf_printf(&a->body, NULL, "%s\n", msg);
}

/* "409 Conflict": the size it holds, as the protocol wants it. */
static void conflict(struct witness_answer *a, uint64_t size)
{
	a->status = 409;
	a->content_type = WITNESS_SIZE_TYPE;
	pv_buf_reset(&a->body);
	(void)pv_buf_printf(&a->body, NULL, "%llu\n", (unsigned long long)size);
}

struct request {
	uint64_t old;
	merkle_hash proof[PROOF_LINES_MAX];
	size_t n_proof;
	const char *note;
	size_t note_len;
};

/* "old N\n", proof lines, "\n", the note: form only. */
static int parse_request(const uint8_t *req, size_t len, struct request *q, char *why, size_t n)
{
	const char *p = (const char *)req, *end = p + len;
	const char *eol = memchr(p, '\n', len);
	if (eol == NULL || eol - p < 5 || memcmp(p, "old ", 4) != 0 ||
	    pv_parse_u64(p + 4, (size_t)(eol - p - 4), 0, INT64_MAX, PV_NUM_CANONICAL, &q->old) < 0) {
		snprintf(why, n, "the request does not start with 'old SIZE'");
		return -1;
	}
	p = eol + 1;
	q->n_proof = 0;
	while (p < end && *p != '\n') {
		size_t hl;
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL || q->n_proof == PROOF_LINES_MAX ||
		    pv_b64_decode(p, (size_t)(eol - p), q->proof[q->n_proof], MERKLE_HASH_LEN, &hl) != 0 ||
		    hl != MERKLE_HASH_LEN) {
			snprintf(why, n, "proof line %zu is not one base64 hash (at most %d lines)",
				 q->n_proof + 1, PROOF_LINES_MAX);
			return -1;
		}
		q->n_proof++;
		p = eol + 1;
	}
	if (p >= end) {
		snprintf(why, n, "no empty line before the checkpoint");
		return -1;
	}
	q->note = p + 1;
	q->note_len = (size_t)(end - p - 1);
	return 0;
}

static const struct note_verifier *log_keys(struct witness *w, const char *origin, size_t *n_r,
					    struct note_verifier *out)
{
	size_t n = 0;
	for (size_t i = 0; i < w->n_logs && n < PV_NOTE_SIGNATURES_MAX; i++)
		if (strcmp(w->logs[i].name, origin) == 0)
			out[n++] = w->logs[i];
	*n_r = n;
	return out;
}

/* The check against the state and its update, in one transaction;
 * answers a (a->status 0: cosign). */
static int decide(struct witness *w, const struct request *q, const struct checkpoint *cp,
		  const uint8_t *req, size_t len, struct witness_answer *a, struct pv_error *err)
{
	uint64_t size = 0;
	merkle_hash root;
	struct pv_error e;
	int r = witness_state_get(w->db, cp->origin, &size, root, err);
	if (r == PV_ENOTFOUND) {
		size = 0;
		merkle_empty_root(root);
		r = 0;
	}
	if (r < 0)
		return r;
	int refused = 0;
	if (q->old != size) {
		conflict(a, size);
		refused = 409;
	} else if (q->old == cp->size) {
		if (sodium_memcmp(root, cp->root, MERKLE_HASH_LEN) != 0) {
			conflict(a, size); /* the same size, another tree: a fork */
			refused = 409;
		}
	} else if (q->old == 0) {
		if (q->n_proof != 0)
			answer(a, 400, "a proof from the empty tree must be empty");
	} else if (merkle_verify_consistency(q->old, cp->size, q->proof, q->n_proof, root, cp->root,
					     &e) != 0) {
		answer(a, 422, "the consistency proof from %llu to %llu does not hold: %s",
		       (unsigned long long)q->old, (unsigned long long)cp->size, e.msg);
		refused = 422;
	}
	int64_t now = pv_clock_now();
	if (refused)
		return witness_state_refusal(w->db, cp->origin, refused, q->old, cp->size, req, len,
					     now, err);
	if (a->status != 0)
		return 0;
	return witness_state_put(w->db, cp->origin, cp->size, cp->root, q->note, q->note_len, now,
				 err);
}

void witness_add_checkpoint(struct witness *w, const uint8_t *req, size_t len,
			    struct witness_answer *a)
{
	struct request q;
	struct checkpoint cp;
	struct note_verifier keys[PV_NOTE_SIGNATURES_MAX];
	struct pv_error e;
	size_t text_len, nsigs, nk;
	char why[256];
	int r;

	if (len > PV_WITNESS_REQUEST_MAX) {
		answer(a, 400, "the request is over %d bytes", PV_WITNESS_REQUEST_MAX);
		return;
	}
	if (parse_request(req, len, &q, why, sizeof(why)) < 0) {
		answer(a, 400, "%s", why);
		return;
	}
	if (note_split(q.note, q.note_len, &text_len, &nsigs, &e) != 0 ||
	    checkpoint_parse(q.note, text_len, &cp, &e) != 0) {
		answer(a, 400, "not a signed checkpoint: %s", e.msg);
		return;
	}
	log_keys(w, cp.origin, &nk, keys);
	if (nk == 0) {
		answer(a, 404, "this witness does not follow the log %s", cp.origin);
		return;
	}
	if (checkpoint_open(q.note, q.note_len, keys, nk, &cp, &e) != 0) {
		answer(a, 403, "no valid signature by a key of %s: %s", cp.origin, e.msg);
		return;
	}
	if (q.old > cp.size) {
		answer(a, 400, "old size %llu is above the checkpoint's %llu",
		       (unsigned long long)q.old, (unsigned long long)cp.size);
		return;
	}
	pthread_mutex_lock(&w->lock);
	/* db_begin (BEGIN IMMEDIATE): another process on the same state file
	 * waits. */
	if ((r = db_begin(w->db, &e)) == 0) {
		r = decide(w, &q, &cp, req, len, a, &e);
		if (r == 0 && (r = db_commit(w->db, &e)) == 0 && a->status == 0) {
			a->status = 200;
			a->content_type = "text/plain; charset=utf-8";
			pv_buf_reset(&a->body);
			r = cosig_sign(w->key, q.note, text_len, (uint64_t)pv_clock_now(), &a->body, &e);
		}
		if (r < 0)
			db_rollback(w->db);
	}
	pthread_mutex_unlock(&w->lock);
	if (r < 0)
		answer(a, 500, "the witness failed: %s", e.msg);
}
