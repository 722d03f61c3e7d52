#include "audit/auditlog.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/number.h"
#include "archiver/lib/random.h"
#include "archiver/lib/utf8.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"

#define LEAF_MAGIC "popvault/audit/v1"
#define ROTATION_MAGIC "popvault/key-rotation/v1\n"

const char auditlog_schema_sql[] =
	"CREATE TABLE IF NOT EXISTS audit_personal ("
	" seq INTEGER PRIMARY KEY, salt BLOB NOT NULL, data BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS audit_event ("
	" seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, type TEXT NOT NULL,"
	" actor TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS audit_event_time ON audit_event (time);";

/* --- field checks and escaping ---------------------------------------------- */

static bool must_escape(unsigned char c)
{
	return c < 0x20 || c == 0x7F || c == '%';
}

static int check_value(const char *what, const char *v, size_t max, struct pv_error *err)
{
	if (v == NULL || v[0] == '\0')
		return pv_fail(err, PV_ERR, "event %s is empty", what);
	size_t n = strlen(v);
	if (n > max)
		return pv_fail(err, PV_ELIMIT, "event %s is %zu bytes (max %zu)", what, n, max);
	if (!pv_utf8_valid((const unsigned char *)v, n))
		return pv_fail(err, PV_ERR, "event %s is not UTF-8", what);
	return 0;
}

static bool type_valid(const char *s, size_t n)
{
	if (n == 0 || n > AUDIT_TYPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static int put_field(struct pv_buf *out, const char *key, const char *v, struct pv_error *err)
{
	static const char hexd[] = "0123456789ABCDEF";
	int r = pv_buf_printf(out, err, "%s ", key);
	for (const unsigned char *p = (const unsigned char *)v; r == 0 && *p; p++) {
		if (must_escape(*p)) {
			char e[3] = {'%', hexd[*p >> 4], hexd[*p & 15]};
			r = pv_buf_append(out, e, 3, err);
		} else {
			r = pv_buf_append(out, p, 1, err);
		}
	}
	return r < 0 ? r : pv_buf_append(out, "\n", 1, err);
}

/* Undoes put_field's escaping into out (room for max bytes + NUL); only
 * the canonical spelling is accepted. */
static int unescape(const char *s, size_t n, char *out, size_t max)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (must_escape(c) && c != '%')
			return -1;
		if (c == '%') {
			int v = 0;
			if (n - i < 3)
				return -1;
			for (int j = 1; j <= 2; j++) {
				char h = s[i + j];
				if (h >= '0' && h <= '9')
					v = v * 16 + (h - '0');
				else if (h >= 'A' && h <= 'F')
					v = v * 16 + (h - 'A' + 10);
				else
					return -1;
			}
			if (!must_escape((unsigned char)v))
				return -1;
			c = (unsigned char)v;
			i += 2;
		}
		if (o >= max)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (o == 0 || memchr(out, '\0', o) != NULL ||
	    !pv_utf8_valid((const unsigned char *)out, o))
		return -1;
	return 0;
}

/* --- leaves ----------------------------------------------------------------- */

void auditlog_commitment(const uint8_t salt[AUDIT_SALT_LEN], const void *data, size_t len,
			 uint8_t out[AUDIT_COMMIT_LEN])
{
	crypto_generichash(out, AUDIT_COMMIT_LEN, data, len, salt, AUDIT_SALT_LEN);
}

static int check_event(const struct audit_event *ev, struct pv_error *err)
{
	int r;
	if ((r = check_value("actor", ev->actor, AUDIT_ACTOR_MAX, err)) < 0 ||
	    (r = check_value("object", ev->object, AUDIT_OBJECT_MAX, err)) < 0 ||
	    (r = check_value("outcome", ev->outcome, AUDIT_OUTCOME_MAX, err)) < 0)
		return r;
	if (ev->type == NULL || !type_valid(ev->type, strlen(ev->type)))
		return pv_fail(err, PV_ERR, "event type '%s' is not [a-z0-9-]{1,%d}",
			       ev->type ? ev->type : "", AUDIT_TYPE_MAX);
	if (ev->personal != NULL) {
		size_t n = strlen(ev->personal);
		if (n > PV_AUDIT_PERSONAL_MAX)
			return pv_fail(err, PV_ELIMIT, "event personal data is %zu bytes (max %d)", n,
				       PV_AUDIT_PERSONAL_MAX);
		if (!pv_utf8_valid((const unsigned char *)ev->personal, n))
			return pv_fail(err, PV_ERR, "event personal data is not UTF-8");
	}
	return 0;
}

int auditlog_leaf_format(const struct audit_event *ev, uint64_t seq, int64_t time_s,
			 const uint8_t *commit, struct pv_buf *out, struct pv_error *err)
{
	char t[PV_RFC3339_LEN], hex[2 * AUDIT_COMMIT_LEN + 1];
	int r;
	if ((r = check_event(ev, err)) < 0)
		return r;
	if (time_s < 0)
		return pv_fail(err, PV_ERR, "event time before 1970");
	pv_clock_format_rfc3339(time_s, t);
	if (commit != NULL)
		pv_hex(commit, AUDIT_COMMIT_LEN, hex);
	else
		snprintf(hex, sizeof(hex), "-");
	if ((r = pv_buf_printf(out, err, LEAF_MAGIC "\nseq %llu\ntime %s\n", (unsigned long long)seq,
			       t)) < 0 ||
	    (r = put_field(out, "actor", ev->actor, err)) < 0 ||
	    (r = put_field(out, "type", ev->type, err)) < 0 ||
	    (r = put_field(out, "object", ev->object, err)) < 0 ||
	    (r = put_field(out, "outcome", ev->outcome, err)) < 0 ||
	    (r = pv_buf_printf(out, err, "commit %s\n", hex)) < 0)
		return r;
	if (out->len > PV_TLOG_ENTRY_MAX)
		return pv_fail(err, PV_ELIMIT, "audit leaf too long");
	return 0;
}

/* Takes the line "key value\n" at *p; *v, *vl get the value. */
static int take(const char **p, const char *end, const char *key, const char **v, size_t *vl)
{
	size_t kl = strlen(key);
	const char *eol = memchr(*p, '\n', (size_t)(end - *p));
	if (eol == NULL || (size_t)(eol - *p) < kl + 2 || memcmp(*p, key, kl) != 0 ||
	    (*p)[kl] != ' ')
		return -1;
	*v = *p + kl + 1;
	*vl = (size_t)(eol - *v);
	*p = eol + 1;
	return 0;
}

static int parse_rotation(const char *data, size_t len, uint64_t index, struct audit_entry *e,
			  struct pv_error *err)
{
	struct keys_rotation rot;
	size_t text_len, nsigs;
	struct pv_error why;
	if (note_split(data, len, &text_len, &nsigs, &why) < 0 ||
	    keys_rotation_parse(data, text_len, &rot, &why) < 0)
		return pv_fail(err, PV_EINTEGRITY, "leaf %llu: bad key-rotation note: %s",
			       (unsigned long long)index, why.msg);
	e->kind = AUDIT_ENTRY_ROTATION;
	e->seq = index;
	e->time = -1;
	snprintf(e->actor, sizeof(e->actor), "system");
	snprintf(e->type, sizeof(e->type), "key-rotation-note");
	snprintf(e->object, sizeof(e->object), "origin=%s new=%s", rot.origin, rot.new_vkey);
	snprintf(e->outcome, sizeof(e->outcome), "ok");
	return 0;
}

int auditlog_leaf_parse(const void *data, size_t len, uint64_t index, struct audit_entry *e,
			struct pv_error *err)
{
	const char *p = data, *end = p + len, *v;
	char tbuf[PV_RFC3339_LEN], again[PV_RFC3339_LEN];
	size_t vl;

	memset(e, 0, sizeof(*e));
	if (len > PV_TLOG_ENTRY_MAX)
		return pv_fail(err, PV_EINTEGRITY, "leaf %llu: too long", (unsigned long long)index);
	if (len >= sizeof(ROTATION_MAGIC) - 1 &&
	    memcmp(p, ROTATION_MAGIC, sizeof(ROTATION_MAGIC) - 1) == 0)
		return parse_rotation(p, len, index, e, err);
#define BAD(what)                                                                          \
	pv_fail(err, PV_EINTEGRITY, "leaf %llu: %s", (unsigned long long)index, what)
	if (len < sizeof(LEAF_MAGIC) || memcmp(p, LEAF_MAGIC "\n", sizeof(LEAF_MAGIC)) != 0)
		return BAD("not an audit entry");
	p += sizeof(LEAF_MAGIC);
	if (take(&p, end, "seq", &v, &vl) != 0 ||
	    pv_parse_u64(v, vl, 0, UINT64_MAX, PV_NUM_CANONICAL, &e->seq) != 0)
		return BAD("bad seq line");
	if (e->seq != index)
		return pv_fail(err, PV_EINTEGRITY,
			       "leaf %llu: says seq %llu (entries dropped, added or reordered)",
			       (unsigned long long)index, (unsigned long long)e->seq);
	if (take(&p, end, "time", &v, &vl) != 0 || vl != PV_RFC3339_LEN - 1)
		return BAD("bad time line");
	memcpy(tbuf, v, vl);
	tbuf[vl] = '\0';
	if (pv_clock_parse_rfc3339(tbuf, &e->time) != 0)
		return BAD("bad time line");
	pv_clock_format_rfc3339(e->time, again);
	if (strcmp(again, tbuf) != 0)
		return BAD("time is not canonical RFC 3339");
	if (take(&p, end, "actor", &v, &vl) != 0 || unescape(v, vl, e->actor, AUDIT_ACTOR_MAX) != 0)
		return BAD("bad actor line");
	if (take(&p, end, "type", &v, &vl) != 0 || !type_valid(v, vl))
		return BAD("bad type line");
	memcpy(e->type, v, vl);
	if (take(&p, end, "object", &v, &vl) != 0 ||
	    unescape(v, vl, e->object, AUDIT_OBJECT_MAX) != 0)
		return BAD("bad object line");
	if (take(&p, end, "outcome", &v, &vl) != 0 ||
	    unescape(v, vl, e->outcome, AUDIT_OUTCOME_MAX) != 0)
		return BAD("bad outcome line");
	if (take(&p, end, "commit", &v, &vl) != 0)
		return BAD("bad commit line");
	if (vl == 1 && v[0] == '-') {
		e->has_commit = false;
	} else {
		if (pv_unhex_lower(v, vl, e->commit, AUDIT_COMMIT_LEN) != 0)
			return BAD("bad commit line");
		e->has_commit = true;
	}
	if (p != end)
		return BAD("trailing bytes");
#undef BAD
	e->kind = AUDIT_ENTRY_EVENT;
	return 0;
}

/* --- JSON Lines and CSV ------------------------------------------------------ */

static int json_str(struct pv_buf *out, const char *s, size_t n, struct pv_error *err)
{
	int r = pv_buf_append(out, "\"", 1, err);
	size_t run = 0;
	for (size_t i = 0; r == 0 && i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)s[i] : 0;
		if (i < n && c >= 0x20 && c != '"' && c != '\\' && c != 0x7F)
			continue;
		if ((r = pv_buf_append(out, s + run, i - run, err)) < 0 || i == n)
			break;
		if (c == '"' || c == '\\')
			r = pv_buf_printf(out, err, "\\%c", c);
		else
			r = pv_buf_printf(out, err, "\\u%04x", c);
		run = i + 1;
	}
	return r < 0 ? r : pv_buf_append(out, "\"", 1, err);
}

int auditlog_entry_json(const struct audit_entry *e, const char *personal, size_t plen,
			struct pv_buf *out, struct pv_error *err)
{
	char t[PV_RFC3339_LEN], hex[2 * AUDIT_COMMIT_LEN + 1];
	int r;
	if ((r = pv_buf_printf(out, err, "{\"seq\":%llu,\"time\":", (unsigned long long)e->seq)) < 0)
		return r;
	if (e->time >= 0) {
		pv_clock_format_rfc3339(e->time, t);
		r = json_str(out, t, strlen(t), err);
	} else {
		r = pv_buf_append_str(out, "null", err);
	}
	if (r < 0 || (r = pv_buf_append_str(out, ",\"actor\":", err)) < 0 ||
	    (r = json_str(out, e->actor, strlen(e->actor), err)) < 0 ||
	    (r = pv_buf_append_str(out, ",\"type\":", err)) < 0 ||
	    (r = json_str(out, e->type, strlen(e->type), err)) < 0 ||
	    (r = pv_buf_append_str(out, ",\"object\":", err)) < 0 ||
	    (r = json_str(out, e->object, strlen(e->object), err)) < 0 ||
	    (r = pv_buf_append_str(out, ",\"outcome\":", err)) < 0 ||
	    (r = json_str(out, e->outcome, strlen(e->outcome), err)) < 0 ||
	    (r = pv_buf_append_str(out, ",\"commit\":", err)) < 0)
		return r;
	if (e->has_commit) {
		pv_hex(e->commit, AUDIT_COMMIT_LEN, hex);
		r = json_str(out, hex, strlen(hex), err);
	} else {
		r = pv_buf_append_str(out, "null", err);
	}
	if (r < 0 || (r = pv_buf_append_str(out, ",\"personal\":", err)) < 0)
		return r;
	r = personal != NULL ? json_str(out, personal, plen, err) : pv_buf_append_str(out, "null", err);
	return r < 0 ? r : pv_buf_append_str(out, "}\n", err);
}

int auditlog_personal_json(uint64_t seq, const uint8_t salt[AUDIT_SALT_LEN], const char *data,
			   size_t len, struct pv_buf *out, struct pv_error *err)
{
	char hex[2 * AUDIT_SALT_LEN + 1];
	int r;
	pv_hex(salt, AUDIT_SALT_LEN, hex);
	if ((r = pv_buf_printf(out, err, "{\"seq\":%llu,\"salt\":\"%s\",\"data\":",
			       (unsigned long long)seq, hex)) < 0 ||
	    (r = json_str(out, data, len, err)) < 0)
		return r;
	return pv_buf_append_str(out, "}\n", err);
}

/* RFC 4180 field, always quoted; a leading formula character is defused. */
static int csv_str(struct pv_buf *out, const char *s, size_t n, bool last, struct pv_error *err)
{
	int r = pv_buf_append(out, "\"", 1, err);
	if (r == 0 && n > 0 && strchr("=+-@\t\r", s[0]) != NULL)
		r = pv_buf_append(out, "'", 1, err);
	size_t run = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (s[i] != '"')
			continue;
		if ((r = pv_buf_append(out, s + run, i + 1 - run, err)) == 0)
			r = pv_buf_append(out, "\"", 1, err);
		run = i + 1;
	}
	if (r == 0)
		r = pv_buf_append(out, s + run, n - run, err);
	return r < 0 ? r : pv_buf_append_str(out, last ? "\"\r\n" : "\",", err);
}

int auditlog_entry_csv(const struct audit_entry *e, const char *personal, size_t plen,
		       struct pv_buf *out, struct pv_error *err)
{
	char t[PV_RFC3339_LEN] = "", hex[2 * AUDIT_COMMIT_LEN + 1] = "";
	int r;
	if (e->time >= 0)
		pv_clock_format_rfc3339(e->time, t);
	if (e->has_commit)
		pv_hex(e->commit, AUDIT_COMMIT_LEN, hex);
	if ((r = pv_buf_printf(out, err, "%llu,", (unsigned long long)e->seq)) < 0 ||
	    (r = csv_str(out, t, strlen(t), false, err)) < 0 ||
	    (r = csv_str(out, e->actor, strlen(e->actor), false, err)) < 0 ||
	    (r = csv_str(out, e->type, strlen(e->type), false, err)) < 0 ||
	    (r = csv_str(out, e->object, strlen(e->object), false, err)) < 0 ||
	    (r = csv_str(out, e->outcome, strlen(e->outcome), false, err)) < 0 ||
	    (r = csv_str(out, hex, strlen(hex), false, err)) < 0)
		return r;
	return csv_str(out, personal ? personal : "", personal ? plen : 0, true, err);
}

/* --- append ------------------------------------------------------------------ */

static int step_done(struct db_stmt **st, struct pv_error *err)
{
	int r = db_step(*st, err);
	db_finalize(st);
	return r == DB_DONE ? 0 : r < 0 ? r : pv_fail(err, PV_ERR, "unexpected row");
}

static int index_event(struct db *db, uint64_t seq, int64_t time_s, const struct audit_event *ev,
		       struct pv_error *err)
{
	struct db_stmt *st = NULL;
	int r;
	if ((r = db_prepare(db, "INSERT INTO audit_event (seq, time, type, actor) VALUES (?,?,?,?)",
			    &st, err)) < 0)
		return r;
	db_bind_int64(st, 1, (int64_t)seq);
	db_bind_int64(st, 2, time_s);
	db_bind_text(st, 3, ev->type, -1);
	db_bind_text(st, 4, ev->actor, -1);
	return step_done(&st, err);
}

static int store_personal(struct db *db, uint64_t seq, const uint8_t salt[AUDIT_SALT_LEN],
			  const char *data, struct pv_error *err)
{
	struct db_stmt *st = NULL;
	int r;
	if ((r = db_prepare(db, "INSERT INTO audit_personal (seq, salt, data) VALUES (?,?,?)", &st,
			    err)) < 0)
		return r;
	db_bind_int64(st, 1, (int64_t)seq);
	db_bind_blob(st, 2, salt, AUDIT_SALT_LEN);
	db_bind_blob(st, 3, data, strlen(data));
	return step_done(&st, err);
}

static int append_locked(struct tlog *t, const struct note_signer *key,
			 const struct audit_event *ev, bool sign, uint64_t *seq_r, struct pv_error *err);

/* The newest entry's time (the index: entries carry the clock as read,
 * never adjusted); a clock reading more than AUDITLOG_CLOCK_STEP_S
 * before it stepped back, which gets an entry of its own. */
static int record_clock_step(struct tlog *t, const struct note_signer *key, int64_t now,
			     struct pv_error *err)
{
	struct db_stmt *st = NULL;
	int64_t last = INT64_MIN;
	int rc;
	if (db_prepare(tlog_db(t), "SELECT time FROM audit_event ORDER BY seq DESC LIMIT 1", &st,
		       err) < 0)
		return pv_error_prefix(err, "audit index");
	rc = db_step(st, err);
	if (rc == DB_ROW)
		last = db_column_int64(st, 0);
	db_finalize(&st);
	if (rc < 0)
		return pv_error_prefix(err, "audit index");
	if (rc == DB_DONE || now >= last - AUDITLOG_CLOCK_STEP_S)
		return 0;
	char from[PV_RFC3339_LEN], to[PV_RFC3339_LEN], object[128];
	pv_clock_format_rfc3339(last, from);
	pv_clock_format_rfc3339(now, to);
	snprintf(object, sizeof(object), "from=%s to=%s back=%llds", from, to,
		 (long long)(last - now));
	struct audit_event step = {"system", AUDIT_CLOCK_STEP, object, "ok", NULL};
	return append_locked(t, key, &step, false, NULL, err);
}

static int append_locked(struct tlog *t, const struct note_signer *key,
			 const struct audit_event *ev, bool sign, uint64_t *seq_r, struct pv_error *err)
{
	struct db *db = tlog_db(t);
	uint8_t salt[AUDIT_SALT_LEN], commit[AUDIT_COMMIT_LEN];
	struct pv_buf leaf;
	uint64_t seq, first;
	int64_t now = pv_clock_now();
	int r;

	if (strcmp(ev->type, AUDIT_CLOCK_STEP) != 0 && (r = record_clock_step(t, key, now, err)) < 0)
		return r;
	pv_buf_init(&leaf, PV_TLOG_ENTRY_MAX);
	if (ev->personal != NULL) {
		pv_random_bytes(salt, sizeof(salt));
		auditlog_commitment(salt, ev->personal, strlen(ev->personal), commit);
	}
	if ((r = tlog_size(t, &seq, err)) < 0 ||
	    (r = auditlog_leaf_format(ev, seq, now, ev->personal ? commit : NULL, &leaf, err)) < 0)
		goto out;
	struct tlog_entry e = {leaf.data, leaf.len};
	if ((r = tlog_append(t, &e, 1, &first, err)) < 0)
		goto out;
	if (first != seq) {
		r = pv_fail(err, PV_EINTEGRITY, "log moved under us");
		goto out;
	}
	if ((r = index_event(db, seq, now, ev, err)) < 0 ||
	    (ev->personal != NULL && (r = store_personal(db, seq, salt, ev->personal, err)) < 0))
		goto out;
	/* The time line makes every audit checkpoint a heartbeat too. */
	if (sign && (r = checkpoint_sign(t, key, CHECKPOINT_TIME, NULL, NULL, err)) < 0)
		goto out;
	if (seq_r != NULL)
		*seq_r = seq;
out:
	sodium_memzero(salt, sizeof(salt));
	pv_buf_free(&leaf);
	return r;
}

int auditlog_append(struct tlog *t, const struct note_signer *key, const struct audit_event *ev,
		    uint64_t *seq_r, struct pv_error *err)
{
	struct tlog_tx tx;
	int r;
	if ((r = check_event(ev, err)) < 0)
		return r;
	if ((r = tlog_tx_begin(tlog_db(t), &tx, err)) < 0)
		return r;
	r = append_locked(t, key, ev, true, seq_r, err);
	return tlog_tx_end(&tx, r, err);
}

int auditlog_append_batch(struct tlog *t, const struct note_signer *key,
			  const struct audit_event *evs, size_t n, uint64_t *first_r,
			  struct pv_error *err)
{
	struct tlog_tx tx;
	uint64_t seq = 0;
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = check_event(&evs[i], err);
	if (r < 0 || n == 0)
		return r < 0 ? r : pv_fail(err, PV_ERR, "no events to append");
	if ((r = tlog_tx_begin(tlog_db(t), &tx, err)) < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++)
		r = append_locked(t, key, &evs[i], i + 1 == n, i == 0 ? &seq : NULL, err);
	if (r == 0 && first_r != NULL)
		*first_r = seq;
	return tlog_tx_end(&tx, r, err);
}

/* --- reading ------------------------------------------------------------------ */

static int query_u64(struct db *db, const char *sql, int64_t arg, bool *null_r, uint64_t *v_r,
		     struct pv_error *err)
{
	struct db_stmt *st = NULL;
	int r;
	if ((r = db_prepare(db, sql, &st, err)) < 0)
		return pv_error_prefix(err, "audit index");
	db_bind_int64(st, 1, arg);
	if ((r = db_step(st, err)) == DB_ROW) {
		*null_r = db_column_is_null(st, 0);
		int64_t v = db_column_int64(st, 0);
		*v_r = v < 0 ? 0 : (uint64_t)v;
		r = 0;
	} else {
		r = r < 0 ? pv_error_prefix(err, "audit index")
			  : pv_fail(err, PV_ERR, "audit index: no row");
	}
	db_finalize(&st);
	return r;
}

bool auditlog_has_index(struct db *db)
{
	int64_t n = 0;
	/* PostgreSQL's catalog is migrated whole (migrations_pg.c step 5);
	 * a SQLite file may predate the index. */
	if (db_kind(db) != DB_SQLITE)
		return true;
	return db_query_int(db,
			    "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
			    " AND name = 'audit_event'",
			    &n, NULL) == 0 &&
	       n > 0;
}

int auditlog_range(struct tlog *t, int64_t since, int64_t until, uint64_t *lo_r, uint64_t *hi_r,
		   struct pv_error *err)
{
	struct db *db = tlog_db(t);
	uint64_t size, v;
	bool null;
	int r;
	if ((r = tlog_size(t, &size, err)) < 0)
		return r;
	*lo_r = 0;
	*hi_r = size;
	if (since == INT64_MIN && until == INT64_MAX)
		return 0;
	if (!auditlog_has_index(db)) {
		*hi_r = 0;
		return 0;
	}
	if (since != INT64_MIN) {
		if ((r = query_u64(db, "SELECT min(seq) FROM audit_event WHERE time >= ?", since, &null,
				   &v, err)) < 0)
			return r;
		*lo_r = null ? size : v;
	}
	if (until != INT64_MAX) {
		if ((r = query_u64(db, "SELECT max(seq) FROM audit_event WHERE time <= ?", until, &null,
				   &v, err)) < 0)
			return r;
		*hi_r = null ? 0 : v + 1;
	}
	if (*hi_r > size)
		*hi_r = size;
	if (*hi_r < *lo_r)
		*hi_r = *lo_r;
	return 0;
}

int auditlog_seqs_of_types(struct tlog *t, const char *const *types, size_t ntypes,
			   uint64_t before, size_t max, uint64_t *seqs_r, size_t *n_r,
			   struct pv_error *err)
{
	struct db *db = tlog_db(t);
	struct db_stmt *st = NULL;
	struct pv_buf sql;
	int r = 0, rc = DB_DONE;
	*n_r = 0;
	if (ntypes == 0 || ntypes > AUDITLOG_TYPES_MAX)
		return pv_fail(err, PV_ERR, "audit index: 1 to %d types", AUDITLOG_TYPES_MAX);
	if (max == 0 || !auditlog_has_index(db))
		return 0;
	pv_buf_init(&sql, 256);
	if ((r = pv_buf_append_str(&sql, "SELECT seq FROM audit_event WHERE seq < ?1 AND type IN (",
				   err)) < 0)
		goto out;
	for (size_t i = 0; i < ntypes && r == 0; i++)
		r = pv_buf_printf(&sql, err, "%s?%zu", i ? ", " : "", i + 3);
	if (r < 0 || (r = pv_buf_append_str(&sql, ") ORDER BY seq DESC LIMIT ?2", err)) < 0)
		goto out;
	if ((r = db_prepare(db, pv_buf_str(&sql), &st, err)) < 0) {
		r = pv_error_prefix(err, "audit index");
		goto out;
	}
	db_bind_int64(st, 1, before > INT64_MAX ? INT64_MAX : (int64_t)before);
	db_bind_int64(st, 2, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	for (size_t i = 0; i < ntypes; i++)
		db_bind_text(st, (int)i + 3, types[i], -1);
	while (*n_r < max && (rc = db_step(st, err)) == DB_ROW) {
		int64_t v = db_column_int64(st, 0);
		seqs_r[(*n_r)++] = v < 0 ? 0 : (uint64_t)v;
	}
	if (*n_r < max && rc < 0)
		r = pv_error_prefix(err, "audit index");
out:
	db_finalize(&st);
	pv_buf_free(&sql);
	return r;
}

int auditlog_personal(struct tlog *t, uint64_t seq, uint8_t salt_r[AUDIT_SALT_LEN],
		      struct pv_buf *data_r, struct pv_error *err)
{
	struct db *db = tlog_db(t);
	struct db_stmt *st = NULL;
	int r;
	if (!auditlog_has_index(db))
		return pv_fail(err, PV_ENOTFOUND, "no personal data for entry %llu",
			       (unsigned long long)seq);
	if ((r = db_prepare(db, "SELECT salt, data FROM audit_personal WHERE seq = ?", &st, err)) < 0)
		return pv_error_prefix(err, "audit side table");
	db_bind_int64(st, 1, seq > INT64_MAX ? INT64_MAX : (int64_t)seq);
	int rc = db_step(st, err);
	if (rc == DB_ROW) {
		size_t slen, dlen;
		const void *s = db_column_blob(st, 0, &slen);
		if (slen != AUDIT_SALT_LEN || s == NULL) {
			r = pv_fail(err, PV_EINTEGRITY, "entry %llu: personal data has a bad salt",
				    (unsigned long long)seq);
		} else {
			memcpy(salt_r, s, AUDIT_SALT_LEN);
			const void *d = db_column_blob(st, 1, &dlen);
			r = pv_buf_append(data_r, d, dlen, err);
		}
	} else if (rc == DB_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "no personal data for entry %llu",
			    (unsigned long long)seq);
	} else {
		r = pv_error_prefix(err, "audit side table");
	}
	db_finalize(&st);
	return r;
}

struct list_ctx {
	struct tlog *t;
	const struct auditlog_filter *f;
	uint64_t next, hi;
	auditlog_entry_fn fn;
	void *ctx;
	struct pv_buf personal;
	struct pv_error *err;
	int r;
};

#define LIST_STOP 1

static int list_one(void *vctx, uint64_t index, const void *data, size_t len)
{
	struct list_ctx *c = vctx;
	struct audit_entry e;
	uint8_t salt[AUDIT_SALT_LEN], commit[AUDIT_COMMIT_LEN];
	const char *personal = NULL;
	int r;

	if (index >= c->hi)
		return LIST_STOP;
	if (index != c->next)
		return c->r = pv_fail(c->err, PV_EINTEGRITY, "audit log: leaf %llu is missing",
				      (unsigned long long)c->next);
	c->next++;
	if ((r = auditlog_leaf_parse(data, len, index, &e, c->err)) < 0)
		return c->r = r;
	if (e.time >= 0 && (e.time < c->f->since || e.time > c->f->until))
		return 0;
	if ((c->f->actor != NULL && strcmp(c->f->actor, e.actor) != 0) ||
	    (c->f->type != NULL && strcmp(c->f->type, e.type) != 0))
		return 0;
	pv_buf_reset(&c->personal);
	if (e.has_commit) {
		r = auditlog_personal(c->t, index, salt, &c->personal, c->err);
		if (r == 0) {
			auditlog_commitment(salt, c->personal.data, c->personal.len, commit);
			if (sodium_memcmp(commit, e.commit, sizeof(commit)) != 0)
				return c->r = pv_fail(c->err, PV_EINTEGRITY,
						      "entry %llu: personal data does not match "
						      "its commitment",
						      (unsigned long long)index);
			personal = (const char *)c->personal.data;
		} else if (r != PV_ENOTFOUND) {
			return c->r = r;
		}
	}
	if ((r = c->fn(c->ctx, &e, personal, personal ? c->personal.len : 0)) != 0)
		return c->r = r;
	return 0;
}

int auditlog_list(struct tlog *t, const struct auditlog_filter *f, auditlog_entry_fn fn, void *ctx,
		  struct pv_error *err)
{
	struct list_ctx c = {t, f, 0, 0, fn, ctx, {0}, err, 0};
	uint64_t lo;
	int r;
	if ((r = auditlog_range(t, f->since, f->until, &lo, &c.hi, err)) < 0)
		return r;
	if (lo >= c.hi)
		return 0;
	c.next = lo;
	pv_buf_init(&c.personal, PV_AUDIT_PERSONAL_MAX + 1);
	r = tlog_leaf_scan(t, lo, list_one, &c, err);
	pv_buf_free(&c.personal);
	if (c.r != 0)
		return c.r;
	if (r == 0 && c.next < c.hi)
		return pv_fail(err, PV_EINTEGRITY, "audit log: leaf %llu is missing",
			       (unsigned long long)c.next);
	return r == LIST_STOP ? 0 : r;
}

/* --- checking ------------------------------------------------------------------ */

struct check_ctx {
	struct tlog *t;
	struct db_stmt *pers; /* audit_personal in seq order, or NULL */
	bool row;
	void (*problem)(void *ctx, const char *msg);
	void *ctx;
	struct auditlog_check_report *rep;
	uint64_t next;
	int64_t prev_time;
	uint64_t prev_seq;
	struct pv_error *err;
};

static void check_problem(struct check_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void check_problem(struct check_ctx *c, const char *fmt, ...)
{
	char msg[PV_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->problem(c->ctx, msg);
}

static int check_step(struct check_ctx *c)
{
	int rc = db_step(c->pers, c->err);
	c->row = rc == DB_ROW;
	return rc >= 0 ? 0 : pv_error_prefix(c->err, "audit side table");
}

/* Side rows below `upto` that no entry claimed are orphans. */
static int check_orphans(struct check_ctx *c, uint64_t upto)
{
	int r;
	while (c->pers != NULL && c->row && (uint64_t)db_column_int64(c->pers, 0) < upto) {
		check_problem(c, "personal data row %lld belongs to no entry with a commitment",
			      (long long)db_column_int64(c->pers, 0));
		if ((r = check_step(c)) < 0)
			return r;
	}
	return 0;
}

static int check_one(void *vctx, uint64_t index, const void *data, size_t len)
{
	struct check_ctx *c = vctx;
	struct audit_entry e;
	struct pv_error pe;
	int r;
	if (index != c->next)
		check_problem(c, "leaves %llu to %llu are missing", (unsigned long long)c->next,
			      (unsigned long long)index - 1);
	c->next = index + 1;
	if ((r = check_orphans(c, index)) < 0)
		return r;
	if (auditlog_leaf_parse(data, len, index, &e, &pe) != 0) {
		check_problem(c, "%s", pe.msg);
		return 0;
	}
	if (e.kind == AUDIT_ENTRY_ROTATION) {
		c->rep->rotations++;
		return 0;
	}
	c->rep->entries++;
	if (strcmp(e.type, AUDIT_CLOCK_STEP) == 0 && c->rep->clock_steps++ == 0) {
		c->rep->clock_step_seq = index;
		snprintf(c->rep->clock_step, sizeof(c->rep->clock_step), "%.100s", e.object);
	}
	bool row = c->pers != NULL && c->row && (uint64_t)db_column_int64(c->pers, 0) == index;
	if (e.has_commit && !row) {
		check_problem(c, "entry %llu: its personal data is missing from the side table",
			      (unsigned long long)index);
	} else if (row && !e.has_commit) {
		check_problem(c, "personal data row %llu belongs to no entry with a commitment",
			      (unsigned long long)index);
	} else if (row) {
		uint8_t commit[AUDIT_COMMIT_LEN];
		size_t slen, n;
		const void *salt = db_column_blob(c->pers, 1, &slen), *d = db_column_blob(c->pers, 2, &n);
		if (salt == NULL || slen != AUDIT_SALT_LEN) {
			check_problem(c, "entry %llu: its personal data has a bad salt",
				      (unsigned long long)index);
		} else {
			auditlog_commitment(salt, d ? d : "", n, commit);
			if (sodium_memcmp(commit, e.commit, sizeof(commit)) != 0)
				check_problem(c, "entry %llu: its personal data does not match its "
						 "commitment (changed)",
					      (unsigned long long)index);
			else
				c->rep->personal++;
		}
	}
	if (row && (r = check_step(c)) < 0)
		return r;
	if (c->prev_time >= 0 && e.time - c->prev_time > AUDITLOG_HEARTBEAT_GAP_S) {
		if (c->rep->gaps < AUDITLOG_GAPS_KEPT)
			c->rep->gap[c->rep->gaps] = (struct auditlog_gap){c->prev_seq, index, c->prev_time,
									   e.time};
		c->rep->gaps++;
	}
	c->prev_time = e.time;
	c->prev_seq = index;
	c->rep->last_time = e.time;
	return 0;
}

int auditlog_check(struct tlog *t, void (*problem)(void *ctx, const char *msg), void *ctx,
		   struct auditlog_check_report *rep, struct pv_error *err)
{
	struct check_ctx c = {t, NULL, false, problem, ctx, rep, 0, -1, 0, err};
	int r;
	memset(rep, 0, sizeof(*rep));
	rep->last_time = -1;
	if (auditlog_has_index(tlog_db(t))) {
		if ((r = db_prepare(tlog_db(t), "SELECT seq, salt, data FROM audit_personal ORDER BY seq",
				    &c.pers, err)) < 0)
			return pv_error_prefix(err, "audit side table");
		if ((r = check_step(&c)) < 0)
			goto out;
	}
	if ((r = tlog_leaf_scan(t, 0, check_one, &c, err)) < 0)
		goto out;
	r = check_orphans(&c, UINT64_MAX);
out:
	db_finalize(&c.pers);
	return r;
}
