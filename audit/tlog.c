#include "audit/tlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/db.h"
#include "archiver/lib/limits.h"
#include "audit/note.h"

#define TILE_H 8                 /* tlog-tiles: a tile spans 8 tree levels */
#define TILE_W (1u << TILE_H)    /* and holds up to 256 hashes */
#define TILE_LEVELS 8            /* tile levels 0..7 cover tree levels 0..63 */
#define CACHE_SLOTS 4
/* Subtree hashes kept between proofs (tlog_proof_memo): direct-mapped;
 * the proofs of neighbouring leaves share all but a few of theirs. */
#define MEMO_SLOTS 1024

struct tile {
	unsigned level;
	uint64_t index;
	size_t width; /* hashes held */
	int valid;
	merkle_hash h[TILE_W];
};

struct memo_slot {
	uint64_t index;
	unsigned level; /* 0: the slot is empty (level-0 hashes are not kept) */
	merkle_hash h;
};

struct tlog {
	struct db *db;
	int64_t id;
	char name[PV_TLOG_NAME_MAX + 1];
	char origin[PV_KEY_NAME_MAX + 1];
	struct db_stmt *tile_get, *tile_put, *leaf_put, *leaf_get, *size_get, *size_put;
	struct tile cache[CACHE_SLOTS]; /* valid within one call only, or while memo is on */
	struct memo_slot *memo;         /* tlog_proof_memo: NULL when off */
	struct tile edge[TILE_LEVELS];  /* rightmost tiles while appending */
	uint64_t root_size;             /* tlog_root_cached: root of this size, */
	merkle_hash root;               /* until something is appended here */
};

const char tlog_schema_sql[] =
	"CREATE TABLE IF NOT EXISTS tlog_log ("
	" id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, origin TEXT NOT NULL,"
	" size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0));"
	"CREATE TABLE IF NOT EXISTS tlog_leaf ("
	" log_id INTEGER NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL,"
	" PRIMARY KEY (log_id, idx)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS tlog_tile ("
	" log_id INTEGER NOT NULL, level INTEGER NOT NULL, idx INTEGER NOT NULL,"
	" hashes BLOB NOT NULL, PRIMARY KEY (log_id, level, idx));"
	"CREATE TABLE IF NOT EXISTS tlog_checkpoint ("
	" log_id INTEGER NOT NULL, seq INTEGER NOT NULL, size INTEGER NOT NULL,"
	" root BLOB NOT NULL, epoch INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
	" note TEXT NOT NULL, PRIMARY KEY (log_id, seq));"
	"CREATE TABLE IF NOT EXISTS tlog_epoch ("
	" log_id INTEGER NOT NULL, epoch INTEGER NOT NULL, vkey TEXT NOT NULL,"
	" first_seq INTEGER NOT NULL, note TEXT, record_log TEXT, record_idx INTEGER,"
	" PRIMARY KEY (log_id, epoch));";

/* The step or prepare that failed left the engine's message in err. */
static int db_fail(const struct tlog *t, struct pv_error *err, const char *what)
{
	return pv_error_prefix(err, "tlog %s: %s", t != NULL ? t->name : "", what);
}

int tlog_tx_begin(struct db *db, struct tlog_tx *tx, struct pv_error *err)
{
	tx->db = db;
	tx->own = !db_in_transaction(db);
	/* Inside the caller's transaction we must not BEGIN or COMMIT: a
	 * savepoint still makes our part all-or-nothing (both engines). */
	return tx->own ? db_begin(db, err) : db_exec(db, "SAVEPOINT tlog_tx", err);
}

int tlog_tx_end(struct tlog_tx *tx, int r, struct pv_error *err)
{
	if (r >= 0) {
		r = tx->own ? db_commit(tx->db, err) : db_exec(tx->db, "RELEASE tlog_tx", err);
		if (r >= 0 || tx->own) /* a failed COMMIT has rolled back */
			return r;
	}
	if (tx->own) {
		db_rollback(tx->db);
	} else if (db_exec(tx->db, "ROLLBACK TO tlog_tx; RELEASE tlog_tx", NULL) < 0) {
		/* nothing more to undo with: the caller's transaction fails */
	}
	return r;
}

static int name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > PV_TLOG_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int tlog_create(struct db *db, const char *name, const char *origin, struct pv_error *err)
{
	struct db_stmt *st = NULL;
	int r;
	if (!name_valid(name))
		return pv_fail(err, PV_ERR, "invalid log name '%s'", name);
	if (!note_name_valid(origin, strlen(origin)))
		return pv_fail(err, PV_ERR, "invalid log origin '%s'", origin);
	/* A taken name gives no row, not a constraint error: on PostgreSQL
	 * that error would abort the caller's transaction. */
	if ((r = db_prepare(db,
			    "INSERT INTO tlog_log (name, origin) VALUES (?1, ?2)"
			    " ON CONFLICT (name) DO NOTHING RETURNING id",
			    &st, err)) < 0)
		return db_fail(NULL, err, "create");
	db_bind_text(st, 1, name, -1);
	db_bind_text(st, 2, origin, -1);
	r = db_step(st, err);
	db_finalize(&st);
	if (r == DB_DONE)
		return pv_fail(err, PV_ERR, "log '%s' already exists", name);
	return r < 0 ? db_fail(NULL, err, "create") : 0;
}

int tlog_open(struct db *db, const char *name, struct tlog **t_r, struct pv_error *err)
{
	static const struct {
		size_t off;
		const char *sql;
	} stmts[] = {
		{offsetof(struct tlog, tile_get),
		 "SELECT hashes FROM tlog_tile WHERE log_id = ?1 AND level = ?2 AND idx = ?3"},
		{offsetof(struct tlog, tile_put),
		 "INSERT INTO tlog_tile (log_id, level, idx, hashes) VALUES (?1, ?2, ?3, ?4)"
		 " ON CONFLICT (log_id, level, idx) DO UPDATE SET hashes = excluded.hashes"},
		{offsetof(struct tlog, leaf_put),
		 "INSERT INTO tlog_leaf (log_id, idx, data) VALUES (?1, ?2, ?3)"},
		{offsetof(struct tlog, leaf_get),
		 "SELECT data FROM tlog_leaf WHERE log_id = ?1 AND idx = ?2"},
		{offsetof(struct tlog, size_get), "SELECT size FROM tlog_log WHERE id = ?1"},
		{offsetof(struct tlog, size_put), "UPDATE tlog_log SET size = ?2 WHERE id = ?1"},
	};
	struct db_stmt *st = NULL;
	struct tlog *t;
	int rc;

	*t_r = NULL;
	if (!name_valid(name))
		return pv_fail(err, PV_ERR, "invalid log name '%s'", name);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	t->db = db;
	snprintf(t->name, sizeof(t->name), "%s", name);
	if (db_prepare(db, "SELECT id, origin FROM tlog_log WHERE name = ?1", &st, err) < 0) {
		rc = db_fail(t, err, "open");
		goto fail;
	}
	db_bind_text(st, 1, name, -1);
	rc = db_step(st, err);
	if (rc != DB_ROW) {
		rc = rc == DB_DONE ? pv_fail(err, PV_ENOTFOUND, "no log named '%s'", name)
				   : db_fail(t, err, "open");
		goto fail;
	}
	t->id = db_column_int64(st, 0);
	const char *origin = db_column_text(st, 1);
	if (origin == NULL || strlen(origin) > PV_KEY_NAME_MAX) {
		rc = pv_fail(err, PV_EINTEGRITY, "log '%s' has an invalid origin", name);
		goto fail;
	}
	snprintf(t->origin, sizeof(t->origin), "%s", origin);
	db_finalize(&st);
	/* Prepared once per handle and reused: tlog_append is on the
	 * harvest path. */
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++)
		if (db_prepare(db, stmts[i].sql, (struct db_stmt **)((char *)t + stmts[i].off),
			       err) < 0) {
			rc = db_fail(t, err, "prepare");
			goto fail;
		}
	*t_r = t;
	return 0;
fail:
	db_finalize(&st);
	tlog_free(&t);
	return rc;
}

void tlog_free(struct tlog **tp)
{
	struct tlog *t = *tp;
	if (t == NULL)
		return;
	db_finalize(&t->tile_get);
	db_finalize(&t->tile_put);
	db_finalize(&t->leaf_put);
	db_finalize(&t->leaf_get);
	db_finalize(&t->size_get);
	db_finalize(&t->size_put);
	free(t->memo);
	free(t);
	*tp = NULL;
}

const char *tlog_name(const struct tlog *t)
{
	return t->name;
}

const char *tlog_origin(const struct tlog *t)
{
	return t->origin;
}

struct db *tlog_db(const struct tlog *t)
{
	return t->db;
}

int tlog_size(struct tlog *t, uint64_t *size_r, struct pv_error *err)
{
	struct db_stmt *st = t->size_get;
	db_reset(st);
	db_bind_int64(st, 1, t->id);
	int rc = db_step(st, err);
	if (rc != DB_ROW) {
		db_reset(st);
		return rc == DB_DONE ? pv_fail(err, PV_EINTEGRITY, "log '%s' vanished", t->name)
				     : db_fail(t, err, "size");
	}
	int64_t v = db_column_int64(st, 0);
	db_reset(st);
	if (v < 0)
		return pv_fail(err, PV_EINTEGRITY, "log '%s' has a negative size", t->name);
	*size_r = (uint64_t)v;
	return 0;
}

/* --- tiles ------------------------------------------------------------------ */

/* Reads tile (level, index) into *tile; PV_ENOTFOUND when absent. */
static int tile_read(struct tlog *t, unsigned level, uint64_t index, struct tile *tile,
		     struct pv_error *err)
{
	struct db_stmt *st = t->tile_get;
	db_reset(st);
	db_bind_int64(st, 1, t->id);
	db_bind_int64(st, 2, (int64_t)level);
	db_bind_int64(st, 3, (int64_t)index);
	int rc = db_step(st, err);
	if (rc != DB_ROW) {
		db_reset(st);
		return rc == DB_DONE ? pv_fail(err, PV_ENOTFOUND, "tlog %s: tile %u/%llu missing",
					       t->name, level, (unsigned long long)index)
				     : db_fail(t, err, "read tile");
	}
	size_t n;
	const void *p = db_column_blob(st, 0, &n);
	if (n == 0 || n % MERKLE_HASH_LEN != 0 || n > sizeof(tile->h) || p == NULL) {
		db_reset(st);
		return pv_fail(err, PV_EINTEGRITY, "tlog %s: tile %u/%llu has %zu bytes", t->name,
			       level, (unsigned long long)index, n);
	}
	memcpy(tile->h, p, n);
	db_reset(st);
	tile->level = level;
	tile->index = index;
	tile->width = n / MERKLE_HASH_LEN;
	tile->valid = 1;
	return 0;
}

static int tile_write(struct tlog *t, const struct tile *tile, struct pv_error *err)
{
	struct db_stmt *st = t->tile_put;
	db_reset(st);
	db_bind_int64(st, 1, t->id);
	db_bind_int64(st, 2, (int64_t)tile->level);
	db_bind_int64(st, 3, (int64_t)tile->index);
	db_bind_blob(st, 4, tile->h, tile->width * MERKLE_HASH_LEN);
	int rc = db_step(st, err);
	db_reset(st);
	return rc == DB_DONE ? 0 : db_fail(t, err, "write tile");
}

static void cache_clear(struct tlog *t)
{
	for (int i = 0; i < CACHE_SLOTS; i++)
		t->cache[i].valid = 0;
}

static void memo_keep(struct memo_slot *m, unsigned level, uint64_t index,
		      const merkle_hash h)
{
	m->level = level;
	m->index = index;
	memcpy(m->h, h, MERKLE_HASH_LEN);
}

/* merkle_get_fn over the stored tiles: a subtree of height h lives in tile
 * level h/8 as 2^(h%8) consecutive hashes, hashed up on the fly. */
static int tile_subtree(void *ctx, unsigned level, uint64_t index, merkle_hash out,
			struct pv_error *err)
{
	struct tlog *t = ctx;
	unsigned tl = level / TILE_H, j = level % TILE_H;
	uint64_t first = index << j;
	uint64_t ti = first / TILE_W;
	size_t off = first % TILE_W, cnt = (size_t)1 << j;
	struct tile *c = &t->cache[tl % CACHE_SLOTS];
	int r;

	if (tl >= TILE_LEVELS)
		return pv_fail(err, PV_ERR, "tlog: subtree level %u out of range", level);
	struct memo_slot *m = NULL;
	if (t->memo != NULL && level > 0) {
		m = &t->memo[(index * 0x9E3779B97F4A7C15ull + level) % MEMO_SLOTS];
		if (m->level == level && m->index == index) {
			memcpy(out, m->h, MERKLE_HASH_LEN);
			return 0;
		}
	}
	if (m != NULL && j > 0) {
		/* From its two halves, each kept in turn: O(1) hashes a subtree. */
		merkle_hash left, right;
		if ((r = tile_subtree(t, level - 1, 2 * index, left, err)) < 0 ||
		    (r = tile_subtree(t, level - 1, 2 * index + 1, right, err)) < 0)
			return r;
		merkle_node_hash(left, right, out);
		memo_keep(m, level, index, out);
		return 0;
	}
	/* A tile kept from an earlier proof (memo) may have grown since. */
	if (!c->valid || c->level != tl || c->index != ti || c->width < off + cnt) {
		if ((r = tile_read(t, tl, ti, c, err)) < 0) {
			c->valid = 0;
			return r == PV_ENOTFOUND ? PV_EINTEGRITY : r;
		}
	}
	if (c->width < off + cnt)
		return pv_fail(err, PV_EINTEGRITY, "tlog %s: tile %u/%llu holds %zu hashes, need %zu",
			       t->name, tl, (unsigned long long)ti, c->width, off + cnt);
	if (cnt == 1)
		memcpy(out, c->h[off], MERKLE_HASH_LEN);
	else
		merkle_root(c->h + off, cnt, out);
	if (m != NULL)
		memo_keep(m, level, index, out);
	return 0;
}

int tlog_proof_memo(struct tlog *t, bool on, struct pv_error *err)
{
	cache_clear(t);
	free(t->memo);
	t->memo = NULL;
	if (on && (t->memo = calloc(MEMO_SLOTS, sizeof(*t->memo))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	return 0;
}

/* --- append ------------------------------------------------------------------ */

static int edge_push(struct tlog *t, const merkle_hash leaf, struct pv_error *err)
{
	merkle_hash h;
	int r;
	memcpy(h, leaf, MERKLE_HASH_LEN);
	for (unsigned level = 0; level < TILE_LEVELS; level++) {
		struct tile *e = &t->edge[level];
		memcpy(e->h[e->width++], h, MERKLE_HASH_LEN);
		e->valid = 1; /* dirty: written at the end of the append */
		if (e->width < TILE_W)
			return 0;
		/* A full tile is final: write it now; its root is the next
		 * hash of the tile level above. */
		if ((r = tile_write(t, e, err)) < 0)
			return r;
		merkle_root(e->h, TILE_W, h);
		e->index++;
		e->width = 0;
		e->valid = 0;
	}
	return pv_fail(err, PV_ELIMIT, "tlog: tree too large");
}

/* Loads the rightmost (partial) tile of each level for a tree of `size`. */
static int edge_load(struct tlog *t, uint64_t size, struct pv_error *err)
{
	int r;
	for (unsigned level = 0; level < TILE_LEVELS; level++) {
		struct tile *e = &t->edge[level];
		uint64_t count = size >> (TILE_H * level); /* hashes at this tile level */
		e->level = level;
		e->index = count / TILE_W;
		e->width = 0;
		e->valid = 0;
		size_t want = count % TILE_W;
		if (want == 0)
			continue;
		if ((r = tile_read(t, level, e->index, e, err)) < 0)
			return r == PV_ENOTFOUND ? PV_EINTEGRITY : r;
		if (e->width != want)
			return pv_fail(err, PV_EINTEGRITY,
				       "tlog %s: tile %u/%llu holds %zu hashes, size %llu needs %zu",
				       t->name, level, (unsigned long long)e->index, e->width,
				       (unsigned long long)size, want);
		e->valid = 0; /* loaded, not yet dirty */
	}
	return 0;
}

static int append_locked(struct tlog *t, const struct tlog_entry *entries, size_t n,
			 uint64_t *first_r, struct pv_error *err)
{
	uint64_t size;
	int r;

	t->root_size = 0;
	/* Kept hashes and tiles may be of leaves a rollback took back. */
	cache_clear(t);
	if (t->memo != NULL)
		memset(t->memo, 0, MEMO_SLOTS * sizeof(*t->memo));
	if ((r = tlog_size(t, &size, err)) < 0 || (r = edge_load(t, size, err)) < 0)
		return r;
	if (size > (uint64_t)INT64_MAX - n)
		return pv_fail(err, PV_ELIMIT, "tlog %s: full", t->name);
	for (size_t i = 0; i < n; i++) {
		merkle_hash h;
		struct db_stmt *st = t->leaf_put;
		merkle_leaf_hash(entries[i].data, entries[i].len, h);
		db_reset(st);
		db_bind_int64(st, 1, t->id);
		db_bind_int64(st, 2, (int64_t)(size + i));
		db_bind_blob(st, 3, entries[i].data, entries[i].len); /* len 0: an empty blob */
		int rc = db_step(st, err);
		db_reset(st);
		if (rc != DB_DONE)
			return db_fail(t, err, "insert leaf");
		if ((r = edge_push(t, h, err)) < 0)
			return r;
	}
	for (unsigned level = 0; level < TILE_LEVELS; level++)
		if (t->edge[level].valid && (r = tile_write(t, &t->edge[level], err)) < 0)
			return r;
	struct db_stmt *st = t->size_put;
	db_reset(st);
	db_bind_int64(st, 1, t->id);
	db_bind_int64(st, 2, (int64_t)(size + n));
	int rc = db_step(st, err);
	db_reset(st);
	if (rc != DB_DONE)
		return db_fail(t, err, "update size");
	if (first_r != NULL)
		*first_r = size;
	return 0;
}

int tlog_append(struct tlog *t, const struct tlog_entry *entries, size_t n, uint64_t *first_r,
		struct pv_error *err)
{
	struct tlog_tx tx;
	int r;

	if (n > PV_TLOG_APPEND_MAX)
		return pv_fail(err, PV_ELIMIT, "tlog: %zu entries in one append (max %d)", n,
			       PV_TLOG_APPEND_MAX);
	for (size_t i = 0; i < n; i++)
		if (entries[i].len > PV_TLOG_ENTRY_MAX || (entries[i].len > 0 && entries[i].data == NULL))
			return pv_fail(err, PV_ELIMIT, "tlog: entry %zu has %zu bytes (max %d)", i,
				       entries[i].len, PV_TLOG_ENTRY_MAX);
	if ((r = tlog_tx_begin(t->db, &tx, err)) < 0)
		return r;
	r = append_locked(t, entries, n, first_r, err);
	return tlog_tx_end(&tx, r, err);
}

/* --- reads and proofs ----------------------------------------------------------- */

static int check_size(struct tlog *t, uint64_t size, struct pv_error *err)
{
	uint64_t have = 0; /* set unless tlog_size fails */
	int r = tlog_size(t, &have, err);
	if (r < 0)
		return r;
	if (size > have)
		return pv_fail(err, PV_ENOTFOUND, "tlog %s: size %llu beyond the log's %llu", t->name,
			       (unsigned long long)size, (unsigned long long)have);
	return 0;
}

int tlog_root(struct tlog *t, uint64_t size, merkle_hash root_r, struct pv_error *err)
{
	int r;
	if ((r = check_size(t, size, err)) < 0)
		return r;
	if (size == 0) {
		merkle_empty_root(root_r);
		return 0;
	}
	cache_clear(t);
	return merkle_range_hash(tile_subtree, t, 0, size, root_r, err);
}

int tlog_root_cached(struct tlog *t, uint64_t size, merkle_hash root_r, struct pv_error *err)
{
	if (size == 0 || size != t->root_size) {
		int r = tlog_root(t, size, root_r, err);
		if (r < 0)
			return r;
		t->root_size = size;
		memcpy(t->root, root_r, MERKLE_HASH_LEN);
		return 0;
	}
	memcpy(root_r, t->root, MERKLE_HASH_LEN);
	return 0;
}

int tlog_range_hash(struct tlog *t, uint64_t lo, uint64_t hi, merkle_hash out,
		    struct pv_error *err)
{
	int r;
	if (lo >= hi)
		return pv_fail(err, PV_ERR, "tlog: empty range %llu..%llu", (unsigned long long)lo,
			       (unsigned long long)hi);
	if ((r = check_size(t, hi, err)) < 0)
		return r;
	uint64_t k = 1;
	while (k <= (hi - lo) / 2)
		k <<= 1;
	if (lo % k != 0)
		return pv_fail(err, PV_ERR, "tlog: range %llu..%llu is not aligned",
			       (unsigned long long)lo, (unsigned long long)hi);
	cache_clear(t);
	return merkle_range_hash(tile_subtree, t, lo, hi, out, err);
}

int tlog_leaf_hash(struct tlog *t, uint64_t index, merkle_hash hash_r, struct pv_error *err)
{
	int r;
	if (index == UINT64_MAX || (r = check_size(t, index + 1, err)) < 0)
		return index == UINT64_MAX ? pv_fail(err, PV_ENOTFOUND, "no such leaf") : r;
	cache_clear(t);
	return tile_subtree(t, 0, index, hash_r, err);
}

int tlog_leaf(struct tlog *t, uint64_t index, struct pv_buf *out, struct pv_error *err)
{
	struct db_stmt *st = t->leaf_get;
	if (index > (uint64_t)INT64_MAX)
		return pv_fail(err, PV_ENOTFOUND, "no such leaf");
	db_reset(st);
	db_bind_int64(st, 1, t->id);
	db_bind_int64(st, 2, (int64_t)index);
	int rc = db_step(st, err);
	if (rc != DB_ROW) {
		db_reset(st);
		return rc == DB_DONE ? pv_fail(err, PV_ENOTFOUND, "tlog %s: no leaf %llu", t->name,
					       (unsigned long long)index)
				     : db_fail(t, err, "read leaf");
	}
	size_t n;
	const void *p = db_column_blob(st, 0, &n);
	int r = n == 0 ? 0 : pv_buf_append(out, p, n, err);
	db_reset(st);
	return r;
}

int tlog_inclusion_proof(struct tlog *t, uint64_t index, uint64_t size, merkle_hash *proof_r,
			 size_t *len_r, struct pv_error *err)
{
	int r;
	*len_r = 0;
	if ((r = check_size(t, size, err)) < 0)
		return r;
	if (t->memo == NULL)
		cache_clear(t);
	return merkle_inclusion_proof(tile_subtree, t, index, size, proof_r, len_r, err);
}

int tlog_consistency_proof(struct tlog *t, uint64_t size1, uint64_t size2, merkle_hash *proof_r,
			   size_t *len_r, struct pv_error *err)
{
	int r;
	*len_r = 0;
	if ((r = check_size(t, size2, err)) < 0)
		return r;
	cache_clear(t);
	return merkle_consistency_proof(tile_subtree, t, size1, size2, proof_r, len_r, err);
}

/* --- raw access for verification and export ---------------------------------------- */

int tlog_tile_get(struct tlog *t, unsigned level, uint64_t index, struct pv_buf *out,
		  struct pv_error *err)
{
	struct tile *c = &t->cache[0];
	int r;
	if (level >= TILE_LEVELS || index > (uint64_t)INT64_MAX)
		return pv_fail(err, PV_ENOTFOUND, "no such tile");
	c->valid = 0;
	if ((r = tile_read(t, level, index, c, err)) < 0)
		return r;
	r = pv_buf_append(out, c->h, c->width * MERKLE_HASH_LEN, err);
	c->valid = 0;
	return r;
}

/* One integer from sql over this log (?1) and, when arg >= 0, ?2 = arg. */
static int query_u64(struct tlog *t, const char *sql, int64_t arg, uint64_t *v_r,
		     struct pv_error *err)
{
	struct db_stmt *st = NULL;
	int rc;
	if (db_prepare(t->db, sql, &st, err) < 0)
		return db_fail(t, err, "query");
	db_bind_int64(st, 1, t->id);
	if (arg >= 0)
		db_bind_int64(st, 2, arg);
	rc = db_step(st, err);
	int64_t v = rc == DB_ROW ? db_column_int64(st, 0) : 0;
	db_finalize(&st);
	if (rc != DB_ROW)
		return rc == DB_DONE ? pv_fail(err, PV_ERR, "tlog %s: query: no row", t->name)
				     : db_fail(t, err, "query");
	*v_r = v < 0 ? 0 : (uint64_t)v;
	return 0;
}

int tlog_tile_count(struct tlog *t, unsigned level, uint64_t *count_r, struct pv_error *err)
{
	return query_u64(t, "SELECT count(*) FROM tlog_tile WHERE log_id = ?1 AND level = ?2",
			 (int64_t)level, count_r, err);
}

int tlog_leaf_count(struct tlog *t, uint64_t *count_r, struct pv_error *err)
{
	return query_u64(t, "SELECT count(*) FROM tlog_leaf WHERE log_id = ?1", -1, count_r, err);
}

int tlog_leaf_scan(struct tlog *t, uint64_t from, tlog_leaf_fn fn, void *ctx,
		   struct pv_error *err)
{
	struct db_stmt *st = NULL;
	int rc, r = 0;
	if (db_prepare(t->db,
		       "SELECT idx, data FROM tlog_leaf WHERE log_id = ?1 AND idx >= ?2 ORDER BY idx",
		       &st, err) < 0)
		return db_fail(t, err, "scan");
	db_bind_int64(st, 1, t->id);
	db_bind_int64(st, 2, from > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)from);
	while ((rc = db_step(st, err)) == DB_ROW) {
		int64_t idx = db_column_int64(st, 0);
		size_t n;
		const void *p = db_column_blob(st, 1, &n);
		if (idx < 0) {
			r = pv_fail(err, PV_EINTEGRITY, "tlog %s: negative leaf index", t->name);
			break;
		}
		if ((r = fn(ctx, (uint64_t)idx, n ? p : "", n)) != 0)
			break;
	}
	if (r == 0 && rc != DB_DONE)
		r = db_fail(t, err, "scan");
	db_finalize(&st);
	return r;
}

/* --- checkpoints and key epochs ---------------------------------------------------------- */

void tlog_checkpoint_row_init(struct tlog_checkpoint_row *row)
{
	memset(row, 0, sizeof(*row));
	pv_buf_init(&row->note, PV_NOTE_MAX);
}

void tlog_checkpoint_row_free(struct tlog_checkpoint_row *row)
{
	pv_buf_free(&row->note);
}

/* max(seq) from the primary key only: count(*) would scan every
 * checkpoint, and a log signs one per audit entry. */
#define NEXT_SEQ_SQL "SELECT coalesce(max(seq) + 1, 0) FROM tlog_checkpoint WHERE log_id = ?1"

int tlog_checkpoint_count(struct tlog *t, uint64_t *count_r, uint64_t *next_seq_r,
			  struct pv_error *err)
{
	int r = query_u64(t, "SELECT count(*) FROM tlog_checkpoint WHERE log_id = ?1", -1, count_r,
			  err);
	if (r == 0 && next_seq_r != NULL)
		r = query_u64(t, NEXT_SEQ_SQL, -1, next_seq_r, err);
	return r;
}

int tlog_checkpoint_insert(struct tlog *t, uint64_t size, const merkle_hash root, uint32_t epoch,
			   int64_t created_ms, const char *note, size_t len, uint64_t *seq_r,
			   struct pv_error *err)
{
	uint64_t seq;
	struct db_stmt *st = NULL;
	int r;
	if (len > PV_NOTE_MAX || size > (uint64_t)INT64_MAX)
		return pv_fail(err, PV_ELIMIT, "checkpoint too large");
	if ((r = query_u64(t, NEXT_SEQ_SQL, -1, &seq, err)) < 0)
		return r;
	if ((r = db_prepare(t->db,
			    "INSERT INTO tlog_checkpoint (log_id, seq, size, root, epoch,"
			    " created_ms, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			    &st, err)) < 0)
		return db_fail(t, err, "insert checkpoint");
	db_bind_int64(st, 1, t->id);
	db_bind_int64(st, 2, (int64_t)seq);
	db_bind_int64(st, 3, (int64_t)size);
	db_bind_blob(st, 4, root, MERKLE_HASH_LEN);
	db_bind_int64(st, 5, epoch);
	db_bind_int64(st, 6, created_ms);
	db_bind_text(st, 7, note, (int)len);
	r = db_step(st, err);
	db_finalize(&st);
	if (r != DB_DONE)
		return db_fail(t, err, "insert checkpoint");
	if (seq_r != NULL)
		*seq_r = seq;
	return 0;
}

/* One checkpoint row by sql, whose ?2 (when arg2 >= 0) is arg2. */
static int checkpoint_query(struct tlog *t, const char *sql, int64_t arg2,
			    struct tlog_checkpoint_row *row, struct pv_error *err)
{
	struct db_stmt *st = NULL;
	int r = 0;
	if ((r = db_prepare(t->db, sql, &st, err)) < 0)
		return db_fail(t, err, "read checkpoint");
	db_bind_int64(st, 1, t->id);
	if (arg2 >= 0)
		db_bind_int64(st, 2, arg2);
	int rc = db_step(st, err);
	if (rc != DB_ROW) {
		r = rc == DB_DONE ? pv_fail(err, PV_ENOTFOUND, "tlog %s: no checkpoint", t->name)
				  : db_fail(t, err, "read checkpoint");
		goto out;
	}
	int64_t s = db_column_int64(st, 0), size = db_column_int64(st, 1),
		epoch = db_column_int64(st, 3);
	size_t root_len;
	const void *root = db_column_blob(st, 2, &root_len);
	if (s < 0 || size < 0 || epoch < 0 || epoch > (int64_t)UINT32_MAX - 1 || root == NULL ||
	    root_len != MERKLE_HASH_LEN) {
		r = pv_fail(err, PV_EINTEGRITY, "tlog %s: checkpoint row %lld is malformed", t->name,
			    (long long)s);
		goto out;
	}
	row->seq = (uint64_t)s;
	row->size = (uint64_t)size;
	memcpy(row->root, root, MERKLE_HASH_LEN);
	row->epoch = (uint32_t)epoch;
	row->created_ms = db_column_int64(st, 4);
	pv_buf_reset(&row->note);
	const char *note = db_column_text(st, 5);
	r = note == NULL ? 0 : pv_buf_append(&row->note, note, strlen(note), err);
out:
	db_finalize(&st);
	return r;
}

int tlog_checkpoint_get(struct tlog *t, uint64_t seq, struct tlog_checkpoint_row *row,
			struct pv_error *err)
{
	if (seq != UINT64_MAX && seq > (uint64_t)INT64_MAX)
		return pv_fail(err, PV_ENOTFOUND, "no such checkpoint");
	if (seq == UINT64_MAX)
		return checkpoint_query(t,
					"SELECT seq, size, root, epoch, created_ms, note FROM tlog_checkpoint"
					" WHERE log_id = ?1 ORDER BY seq DESC LIMIT 1",
					-1, row, err);
	return checkpoint_query(t,
				"SELECT seq, size, root, epoch, created_ms, note FROM tlog_checkpoint"
				" WHERE log_id = ?1 AND seq = ?2",
				(int64_t)seq, row, err);
}

/* A signed note holds the blank line before its signatures; a reserved
 * row (an unsigned body, checkpoint.h) has none. The newlines are in the
 * literal: SQLite's char() and PostgreSQL's chr() differ, and neither
 * has the other's instr/strpos. */
#define SIGNED_SQL "note LIKE '%\n\n%'"

int tlog_checkpoint_at_most(struct tlog *t, uint64_t size, struct tlog_checkpoint_row *row,
			    struct pv_error *err)
{
	if (size > (uint64_t)INT64_MAX)
		size = (uint64_t)INT64_MAX;
	return checkpoint_query(t,
				"SELECT seq, size, root, epoch, created_ms, note FROM tlog_checkpoint"
				" WHERE log_id = ?1 AND size <= ?2 AND " SIGNED_SQL
				" ORDER BY size DESC, seq DESC LIMIT 1",
				(int64_t)size, row, err);
}

int tlog_checkpoint_latest_signed(struct tlog *t, struct tlog_checkpoint_row *row,
				  struct pv_error *err)
{
	return checkpoint_query(t,
				"SELECT seq, size, root, epoch, created_ms, note FROM tlog_checkpoint"
				" WHERE log_id = ?1 AND " SIGNED_SQL " ORDER BY seq DESC LIMIT 1",
				-1, row, err);
}

bool tlog_checkpoint_row_signed(const struct tlog_checkpoint_row *row)
{
	return row->note.len > 1 && memmem(row->note.data, row->note.len, "\n\n", 2) != NULL;
}

int tlog_checkpoint_replace(struct tlog *t, uint64_t seq, uint64_t size, const merkle_hash root,
			    int64_t created_ms, const char *note, size_t len, struct pv_error *err)
{
	struct db_stmt *st = NULL;
	int r;
	if (len > PV_NOTE_MAX || size > (uint64_t)INT64_MAX || seq > (uint64_t)INT64_MAX)
		return pv_fail(err, PV_ELIMIT, "checkpoint too large");
	if ((r = db_prepare(t->db,
			    "UPDATE tlog_checkpoint SET size = ?3, root = ?4, created_ms = ?5,"
			    " note = ?6 WHERE log_id = ?1 AND seq = ?2",
			    &st, err)) < 0)
		return db_fail(t, err, "update checkpoint");
	db_bind_int64(st, 1, t->id);
	db_bind_int64(st, 2, (int64_t)seq);
	db_bind_int64(st, 3, (int64_t)size);
	db_bind_blob(st, 4, root, MERKLE_HASH_LEN);
	db_bind_int64(st, 5, created_ms);
	db_bind_text(st, 6, note, (int)len);
	r = db_step(st, err);
	int64_t changed = r == DB_DONE ? db_changes(st) : 0;
	db_finalize(&st);
	if (r != DB_DONE)
		return db_fail(t, err, "update checkpoint");
	if (changed != 1)
		return pv_fail(err, PV_ENOTFOUND, "tlog %s: no checkpoint %llu", t->name,
			       (unsigned long long)seq);
	return 0;
}

void tlog_epoch_row_init(struct tlog_epoch_row *row)
{
	memset(row, 0, sizeof(*row));
	pv_buf_init(&row->note, PV_NOTE_MAX);
}

void tlog_epoch_row_free(struct tlog_epoch_row *row)
{
	pv_buf_free(&row->note);
}

int tlog_epoch_insert(struct tlog *t, const struct tlog_epoch_row *row, struct pv_error *err)
{
	struct db_stmt *st = NULL;
	int r;
	if (row->first_seq > (uint64_t)INT64_MAX || row->record_index > (uint64_t)INT64_MAX)
		return pv_fail(err, PV_ELIMIT, "epoch row out of range");
	/* A taken epoch gives no row (see tlog_create). */
	if ((r = db_prepare(t->db,
			    "INSERT INTO tlog_epoch (log_id, epoch, vkey, first_seq, note,"
			    " record_log, record_idx) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
			    " ON CONFLICT (log_id, epoch) DO NOTHING RETURNING epoch",
			    &st, err)) < 0)
		return db_fail(t, err, "insert epoch");
	db_bind_int64(st, 1, t->id);
	db_bind_int64(st, 2, row->epoch);
	db_bind_text(st, 3, row->vkey, -1);
	db_bind_int64(st, 4, (int64_t)row->first_seq);
	if (row->note.len > 0) {
		db_bind_text(st, 5, (const char *)row->note.data, (int)row->note.len);
		db_bind_text(st, 6, row->record_log, -1);
		db_bind_int64(st, 7, (int64_t)row->record_index);
	} else {
		db_bind_null(st, 5);
		db_bind_null(st, 6);
		db_bind_null(st, 7);
	}
	r = db_step(st, err);
	db_finalize(&st);
	if (r == DB_DONE)
		return pv_fail(err, PV_ERR, "tlog %s: epoch %u already exists", t->name, row->epoch);
	return r < 0 ? db_fail(t, err, "insert epoch") : 0;
}

int tlog_epoch_get(struct tlog *t, uint32_t epoch, struct tlog_epoch_row *row,
		   struct pv_error *err)
{
	struct db_stmt *st = NULL;
	const char *sql =
		epoch == UINT32_MAX
			? "SELECT epoch, vkey, first_seq, note, record_log, record_idx FROM tlog_epoch"
			  " WHERE log_id = ?1 ORDER BY epoch DESC LIMIT 1"
			: "SELECT epoch, vkey, first_seq, note, record_log, record_idx FROM tlog_epoch"
			  " WHERE log_id = ?1 AND epoch = ?2";
	int r = 0;
	if ((r = db_prepare(t->db, sql, &st, err)) < 0)
		return db_fail(t, err, "read epoch");
	db_bind_int64(st, 1, t->id);
	if (epoch != UINT32_MAX)
		db_bind_int64(st, 2, epoch);
	int rc = db_step(st, err);
	if (rc != DB_ROW) {
		r = rc == DB_DONE ? pv_fail(err, PV_ENOTFOUND, "tlog %s: no key epoch %s", t->name,
					    epoch == UINT32_MAX ? "at all" : "by that number")
				  : db_fail(t, err, "read epoch");
		goto out;
	}
	int64_t e = db_column_int64(st, 0), first = db_column_int64(st, 2),
		ridx = db_column_int64(st, 5);
	const char *vkey = db_column_text(st, 1);
	const char *rlog = db_column_text(st, 4);
	if (e < 0 || e >= (int64_t)UINT32_MAX || first < 0 || ridx < 0 || vkey == NULL ||
	    strlen(vkey) >= sizeof(row->vkey) || (rlog != NULL && strlen(rlog) > PV_TLOG_NAME_MAX)) {
		r = pv_fail(err, PV_EINTEGRITY, "tlog %s: key epoch row is malformed", t->name);
		goto out;
	}
	row->epoch = (uint32_t)e;
	snprintf(row->vkey, sizeof(row->vkey), "%s", vkey);
	row->first_seq = (uint64_t)first;
	snprintf(row->record_log, sizeof(row->record_log), "%s", rlog != NULL ? rlog : "");
	row->record_index = (uint64_t)ridx;
	pv_buf_reset(&row->note);
	const char *note = db_column_text(st, 3);
	if (note != NULL)
		r = pv_buf_append(&row->note, note, strlen(note), err);
out:
	db_finalize(&st);
	return r;
}
