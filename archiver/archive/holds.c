#include "archiver/archive/holds.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/index/index.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/log.h"
#include "archiver/lib/utf8.h"
#include "archiver/archive/audit_hook.h"
#include "archiver/archive/indexer.h"
#include "archiver/archive/matters.h"
#include "archiver/archive/search_open.h"
#include "archiver/store/message.h"
#include "archiver/archive/retention.h"

int hold_validate(const char *name, const char *query, const char *note, struct pv_error *err)
{
	/* Its name is a path segment of the API (/api/v1/holds/NAME/release). */
	int r = matter_name_check("a hold", name, PV_HOLD_NAME_MAX, err);
	if (r < 0)
		return r;
	if (query == NULL || query[strspn(query, " \t")] == '\0')
		return pv_fail(err, PV_EUSAGE, "a hold needs a search query: it holds what the query finds");
	if (strlen(query) > PV_QUERY_MAX)
		return pv_fail(err, PV_ELIMIT, "the query is longer than %d bytes", PV_QUERY_MAX);
	if (note != NULL && (strlen(note) > PV_HOLD_NOTE_MAX || !pv_utf8_printable(note)))
		return pv_fail(err, PV_EUSAGE,
			       "a note is at most %d bytes of one-line text", PV_HOLD_NOTE_MAX);
	return PV_OK;
}

void holds_ids_digest(const int64_t *ids, size_t n, char out[65])
{
	crypto_hash_sha256_state hs;
	unsigned char d[32];
	char line[24];
	crypto_hash_sha256_init(&hs);
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(line, sizeof(line), "%lld\n", (long long)ids[i]);
		crypto_hash_sha256_update(&hs, (const unsigned char *)line, (size_t)k);
	}
	crypto_hash_sha256_final(&hs, d);
	pv_hex(d, sizeof(d), out);
}

/* The ids a hold's query matches now, from the archive's search index
 * (on the catalog's connection: inside the caller's transaction). */
static int match_ids(struct archive *ar, const char *query, int64_t **ids_r, size_t *n_r,
		     struct pv_error *err)
{
	struct search_backend *sb;
	int r = archive_search_backend(ar, &sb, err);
	return r < 0 ? r : search_backend_match_ids(sb, query, ids_r, n_r, err);
}

/* Records ids as members of hold_id (ids no longer in the catalog skipped). */
/* Members recorded with the audit log's size now (added_seq): a disposal
 * intent written after has a larger seq, one written before a smaller or
 * equal one, whatever the clock did. */
static int add_members(struct archive *ar, int64_t hold_id, const int64_t *ids, size_t n,
		       int64_t now, struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct db_stmt *st;
	uint64_t seq;
	int r = tlog_size(ar->audit_log, &seq, err);
	if (r < 0 || (r = db_prepare(db, "INSERT INTO hold_members (hold_id, message_id, added_at,"
					 " added_seq) SELECT ?, id, ?, ? FROM messages WHERE id = ?"
					 " ON CONFLICT DO NOTHING", &st, err)) < 0)
		return r;
	db_bind_int64(st, 1, hold_id);
	db_bind_int64(st, 2, now);
	db_bind_int64(st, 3, (int64_t)seq);
	for (size_t i = 0; i < n && r == PV_OK; i++) {
		db_reset(st);
		db_bind_int64(st, 4, ids[i]);
		int rc = db_step(st, err);
		if (rc < 0)
			r = rc;
	}
	db_finalize(&st);
	return r;
}

int hold_add(struct archive *ar, const char *name, const char *query, const char *note,
	     const char *actor, int64_t now, int64_t *members_r, struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct db_stmt *st;
	int64_t *ids = NULL, hold_id = 0;
	size_t n = 0;
	int r;

	if ((r = hold_validate(name, query, note, err)) < 0 ||
	    (r = indexer_catch_up(ar, NULL, NULL, err)) < 0 ||
	    (r = db_begin(db, err)) < 0)
		return r;
	/* no row back: the active-name index refused it */
	if ((r = db_prepare(db, "INSERT INTO holds (name, query, note, created_at, actor)"
				" VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
			    &st, err)) < 0)
		goto fail;
	db_bind_text(st, 1, name, -1);
	db_bind_text(st, 2, query, -1);
	if (note != NULL)
		db_bind_text(st, 3, note, -1);
	else
		db_bind_null(st, 3);
	db_bind_int64(st, 4, now);
	db_bind_text(st, 5, actor, -1);
	int rc = db_step(st, err);
	if (rc == DB_ROW)
		hold_id = db_column_int64(st, 0);
	else if (rc == DB_DONE)
		r = pv_fail(err, PV_EEXISTS, "a hold named '%s' is already active", name);
	else
		r = rc;
	db_finalize(&st);
	if (r < 0)
		goto fail;
	if ((r = match_ids(ar, query, &ids, &n, err)) < 0) {
		pv_error_prefix(err, "hold query");
		goto fail;
	}
	/* Audited before the hold takes effect, in its transaction: the
	 * matter, query and note are personal data (side table). */
	char digest[65], *personal = NULL;
	holds_ids_digest(ids, n, digest);
	if (asprintf(&personal, "name: %s\nquery: %s\nnote: %s", name, query, note ? note : "") < 0) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto fail;
	}
	r = archive_auditf(ar, actor, AUDIT_HOLD_PLACE, "ok", personal, err,
			   "hold=%lld messages=%zu ids-sha256=%s", (long long)hold_id, n, digest);
	free(personal);
	if (r < 0 || (r = add_members(ar, hold_id, ids, n, now, err)) < 0 ||
	    (r = db_commit(db, err)) < 0)
		goto fail;
	free(ids);
	holds_sync_store(ar);
	if (members_r)
		*members_r = (int64_t)n;
	return PV_OK;
fail:
	db_rollback(db);
	free(ids);
	return r;
}

int hold_active(struct db *db, const char *name, int64_t *id_r, int64_t *members_r,
		struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT h.id, (SELECT count(*) FROM hold_members m"
			       " WHERE m.hold_id = h.id) FROM holds h"
			       " WHERE h.name = ? AND h.released_at IS NULL", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, name, -1);
	int rc = db_step(st, err);
	if (rc == DB_ROW) {
		*id_r = db_column_int64(st, 0);
		*members_r = db_column_int64(st, 1);
	} else if (rc == DB_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "no active hold named '%s'", name);
	} else {
		r = rc;
	}
	db_finalize(&st);
	return r;
}

int hold_release_in_tx(struct archive *ar, const char *name, const char *actor, int64_t now,
		       struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct db_stmt *st;
	int64_t id = 0, members = 0;
	int r;

	if ((r = hold_active(db, name, &id, &members, err)) < 0 ||
	    (r = archive_auditf(ar, actor, AUDIT_HOLD_RELEASE, "ok", name, err,
				"hold=%lld messages=%lld", (long long)id, (long long)members)) < 0 ||
	    (r = db_prepare(db, "UPDATE holds SET released_at = ?, released_by = ? WHERE id = ?",
			    &st, err)) < 0)
		return r;
	db_bind_int64(st, 1, now);
	db_bind_text(st, 2, actor, -1);
	db_bind_int64(st, 3, id);
	int rc = db_step(st, err);
	db_finalize(&st);
	return rc < 0 ? rc : PV_OK;
}

int hold_release(struct archive *ar, const char *name, const char *actor, int64_t now,
		 struct pv_error *err)
{
	int r = db_begin(ar->cat->conn, err);
	if (r < 0)
		return r;
	if ((r = hold_release_in_tx(ar, name, actor, now, err)) < 0 ||
	    (r = db_commit(ar->cat->conn, err)) < 0)
		db_rollback(ar->cat->conn);
	else
		holds_sync_store(ar);
	return r;
}

void holds_sync_store(struct archive *ar)
{
	struct pv_error e;
	int64_t changed;
	if (packstore_sync_holds(ar->packs, &changed, &e) < 0)
		pv_log(PV_LOG_WARN, "store.hold", "the pack store's legal holds do not follow the "
		       "holds yet: %s (tried again at the next hold change or disposal run; verify "
		       "reports it)", e.msg);
	else if (changed > 0)
		pv_log(PV_LOG_INFO, "store.hold", "legal hold changed on %lld pack%s in the store",
		       (long long)changed, changed == 1 ? "" : "s");
}

static void copy_col(char *dst, size_t n, struct db_stmt *st, int col)
{
	const char *t = db_column_text(st, col);
	snprintf(dst, n, "%s", t ? t : "");
}

int hold_each(struct archive *ar, bool include_released,
	      int (*fn)(void *ctx, const struct hold *h), void *ctx, struct pv_error *err)
{
	struct db_stmt *st;
	struct hold *h = malloc(sizeof(*h));
	if (h == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	int r = db_prepare(ar->cat->conn,
			   "SELECT h.id, h.name, h.query, h.note, h.created_at, h.actor,"
			   " h.released_at, h.released_by,"
			   " (SELECT count(*) FROM hold_members m WHERE m.hold_id = h.id)"
			   " FROM holds h WHERE CAST(? AS bigint) = 1 OR h.released_at IS NULL"
			   " ORDER BY h.id", &st, err);
	if (r < 0) {
		free(h);
		return r;
	}
	db_bind_int64(st, 1, include_released);
	int rc = DB_DONE;
	while (r == PV_OK && (rc = db_step(st, err)) == DB_ROW) {
		memset(h, 0, sizeof(*h));
		h->id = db_column_int64(st, 0);
		copy_col(h->name, sizeof(h->name), st, 1);
		copy_col(h->query, sizeof(h->query), st, 2);
		copy_col(h->note, sizeof(h->note), st, 3);
		h->created_at = db_column_int64(st, 4);
		copy_col(h->actor, sizeof(h->actor), st, 5);
		h->released_at = db_column_int64(st, 6);
		copy_col(h->released_by, sizeof(h->released_by), st, 7);
		h->members = db_column_int64(st, 8);
		r = fn(ctx, h);
	}
	if (r == PV_OK && rc < 0)
		r = rc;
	db_finalize(&st);
	free(h);
	return r;
}

int hold_names_of(struct db *db, int64_t message_id, char ***names_r, size_t *n_r,
		  struct pv_error *err)
{
	struct db_stmt *st;
	size_t cap = 0;
	int rc;

	*names_r = NULL;
	*n_r = 0;
	int r = db_prepare(db, "SELECT h.name FROM hold_members m JOIN holds h ON h.id = m.hold_id"
			       " WHERE m.message_id = ? AND h.released_at IS NULL ORDER BY h.id",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, message_id);
	while ((rc = db_step(st, err)) == DB_ROW) {
		if (*n_r == cap) {
			size_t ncap = cap ? 2 * cap : 4;
			char **v = realloc(*names_r, ncap * sizeof(*v));
			if (v == NULL)
				break;
			*names_r = v;
			cap = ncap;
		}
		const char *t = db_column_text(st, 0);
		if (((*names_r)[*n_r] = strdup(t ? t : "")) == NULL)
			break;
		(*n_r)++;
	}
	if (rc == DB_ROW)
		r = pv_fail(err, PV_ERR, "out of memory");
	else if (rc < 0)
		r = rc;
	db_finalize(&st);
	return r;
}

void hold_names_free(char ***names, size_t n)
{
	for (size_t i = 0; *names != NULL && i < n; i++)
		free((*names)[i]);
	free(*names);
	*names = NULL;
}

void hold_set_free(struct hold_set *s)
{
	for (size_t i = 0; i < s->n_holds; i++)
		free(s->names[i]);
	free(s->names);
	free(s->hold_ids);
	free(s->pairs);
	memset(s, 0, sizeof(*s));
}

static int load_active(struct db *db, struct hold_set *s, char ***queries_r,
		       struct pv_error *err)
{
	struct db_stmt *st;
	size_t cap = 0;
	int r = db_prepare(db, "SELECT id, name, query FROM holds WHERE released_at IS NULL"
			       " ORDER BY id", &st, err);
	if (r < 0)
		return r;
	*queries_r = NULL;
	int rc = DB_DONE;
	while (r == PV_OK && (rc = db_step(st, err)) == DB_ROW) {
		if (s->n_holds == cap) {
			cap = cap ? 2 * cap : 8;
			int64_t *ids = realloc(s->hold_ids, cap * sizeof(*ids));
			if (ids)
				s->hold_ids = ids;
			char **names = realloc(s->names, cap * sizeof(*names));
			if (names)
				s->names = names;
			char **q = realloc(*queries_r, cap * sizeof(*q));
			if (q)
				*queries_r = q;
			if (!ids || !names || !q) {
				r = pv_fail(err, PV_ERR, "out of memory");
				break;
			}
		}
		size_t i = s->n_holds;
		const char *name = db_column_text(st, 1), *query = db_column_text(st, 2);
		s->hold_ids[i] = db_column_int64(st, 0);
		s->names[i] = strdup(name ? name : "");
		(*queries_r)[i] = strdup(query ? query : "");
		s->n_holds++;
		if (s->names[i] == NULL || (*queries_r)[i] == NULL)
			r = pv_fail(err, PV_ERR, "out of memory");
	}
	if (r == PV_OK && rc < 0)
		r = rc;
	db_finalize(&st);
	return r;
}

int holds_resolve(struct archive *ar, int64_t now, struct hold_set *s, struct pv_error *err)
{
	struct db *db = ar->cat->conn;
	struct db_stmt *st;
	char **queries = NULL;
	size_t cap = 0;
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = load_active(db, s, &queries, err)) < 0)
		goto out;
	/* Mail that matches a hold's query now is held now, and stays recorded. */
	for (size_t i = 0; i < s->n_holds && r == PV_OK; i++) {
		int64_t *ids = NULL;
		size_t n = 0;
		if ((r = match_ids(ar, queries[i], &ids, &n, err)) < 0)
			pv_error_prefix(err, "hold '%s'", s->names[i]);
		else
			r = add_members(ar, s->hold_ids[i], ids, n, now, err);
		free(ids);
	}
	if (r < 0)
		goto out;
	if ((r = db_prepare(db, "SELECT m.message_id, m.hold_id FROM hold_members m"
				" JOIN holds h ON h.id = m.hold_id WHERE h.released_at IS NULL"
				" ORDER BY m.message_id, m.hold_id", &st, err)) < 0)
		goto out;
	int rc = DB_DONE;
	while (r == PV_OK && (rc = db_step(st, err)) == DB_ROW) {
		if (s->n_pairs == cap) {
			cap = cap ? 2 * cap : 64;
			struct hold_pair *p = realloc(s->pairs, cap * sizeof(*p));
			if (p == NULL) {
				r = pv_fail(err, PV_ERR, "out of memory");
				break;
			}
			s->pairs = p;
		}
		int64_t mid = db_column_int64(st, 0), hid = db_column_int64(st, 1);
		size_t h = 0;
		while (h < s->n_holds && s->hold_ids[h] != hid)
			h++;
		if (h == s->n_holds) {
			r = pv_fail(err, PV_ERR, "hold %lld changed while resolving", (long long)hid);
			break;
		}
		s->pairs[s->n_pairs++] = (struct hold_pair){mid, h};
	}
	if (r == PV_OK && rc < 0)
		r = rc;
	db_finalize(&st);
	if (r == PV_OK)
		r = holds_digest_at(db, s->hold_ids, s->n_holds, now, INT64_MAX, s->digest, err);
out:
	for (size_t i = 0; queries != NULL && i < s->n_holds; i++)
		free(queries[i]);
	free(queries);
	if (r < 0)
		hold_set_free(s);
	return r;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int holds_digest_at(struct db *db, const int64_t *hold_ids, size_t n, int64_t as_of,
		    int64_t as_of_seq, char out[65], struct pv_error *err)
{
	crypto_hash_sha256_state hs;
	struct db_stmt *name, *st;
	unsigned char d[32];
	char line[320];
	int r, rc;

	if ((r = db_prepare(db, "SELECT name FROM holds WHERE id = ?", &name, err)) < 0)
		return r;
	crypto_hash_sha256_init(&hs);
	crypto_hash_sha256_update(&hs, (const unsigned char *)"popvault/holds/v1\n", 18);
	for (size_t i = 0; i < n; i++) {
		db_reset(name);
		db_bind_int64(name, 1, hold_ids[i]);
		if ((rc = db_step(name, err)) < 0) {
			db_finalize(&name);
			return rc;
		}
		const char *t = rc == DB_ROW ? db_column_text(name, 0) : NULL;
		int k = snprintf(line, sizeof(line), "hold %lld %s\n", (long long)hold_ids[i],
				 t ? t : "");
		crypto_hash_sha256_update(&hs, (const unsigned char *)line,
					  (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1);
	}
	db_finalize(&name);
	if ((r = db_prepare(db, "SELECT message_id, hold_id FROM hold_members WHERE added_seq <= ?"
				" OR (added_seq IS NULL AND added_at <= ?) ORDER BY message_id, hold_id",
			    &st, err)) < 0)
		return r;
	db_bind_int64(st, 1, as_of_seq);
	db_bind_int64(st, 2, as_of);
	while ((rc = db_step(st, err)) == DB_ROW) {
		int64_t mid = db_column_int64(st, 0), hid = db_column_int64(st, 1);
		if (n == 0 || bsearch(&hid, hold_ids, n, sizeof(*hold_ids), cmp_id) == NULL)
			continue;
		int k = snprintf(line, sizeof(line), "%lld %lld\n", (long long)hid, (long long)mid);
		crypto_hash_sha256_update(&hs, (const unsigned char *)line, (size_t)k);
	}
	db_finalize(&st);
	if (rc < 0)
		return rc;
	crypto_hash_sha256_final(&hs, d);
	pv_hex(d, sizeof(d), out);
	return PV_OK;
}

size_t hold_set_lookup(const struct hold_set *s, int64_t id, const char **names, size_t max)
{
	size_t lo = 0, hi = s->n_pairs, count = 0;
	while (lo < hi) { /* first pair with message_id >= id */
		size_t mid = lo + (hi - lo) / 2;
		if (s->pairs[mid].message_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < s->n_pairs && s->pairs[lo].message_id == id; lo++, count++)
		if (count < max)
			names[count] = s->names[s->pairs[lo].hold];
	return count;
}
