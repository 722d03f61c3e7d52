/* Numbered schema migrations: see migrations.h. Append only: a released
 * migration is never edited, a change is a new entry. */
#include "archiver/store/migrations.h"

#include <stdio.h>

#include "archiver/store/catalog.h"
#include "audit/auditlog.h"
#include "audit/tlog.h"

/* DIR/catalog.db. */
static const char *const catalog_steps[][MIGRATION_PARTS] = {
	/* 1: accounts, messages, upstream ledger, bucket references, runs. */
	{
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
	"CREATE TABLE accounts (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  name TEXT NOT NULL,\n"
	"  host TEXT NOT NULL,\n"
	"  port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),\n"
	"  tls TEXT NOT NULL CHECK (tls IN ('implicit','starttls','none')),\n"
	"  username TEXT NOT NULL,\n"
	"  auth TEXT NOT NULL,\n"
	"  ca_file TEXT,\n"
	"  token_command TEXT,             -- OAuth: prints a fresh token on stdout\n"
	"  insecure INTEGER NOT NULL DEFAULT 0,\n"
	"  keep_upstream INTEGER NOT NULL DEFAULT 0,\n"
	"  secret BLOB NOT NULL,           -- sealed under the data dir's secrets key\n"
	"  created_at INTEGER NOT NULL,\n"
	"  removed_at INTEGER              -- accounts are retired, never deleted\n"
	");\n"
	"-- A name may be reused once the account holding it is retired.\n"
	"CREATE UNIQUE INDEX accounts_active_name ON accounts (name) WHERE removed_at IS NULL;\n"
	"CREATE TABLE buckets (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  class TEXT NOT NULL,\n"
	"  expiry_month TEXT NOT NULL,     -- YYYY-MM, or 'never'\n"
	"  UNIQUE (class, expiry_month)\n"
	");\n"
	"CREATE TABLE messages (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,  -- archive order from 1, never reused\n"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id),\n"
	"  uidl TEXT,                      -- NULL when the server has no UIDL\n"
	"  sha256 BLOB NOT NULL,           -- of the exact plaintext bytes\n"
	"  size INTEGER NOT NULL,\n"
	"  received_at INTEGER NOT NULL,   -- harvest time, unix seconds\n"
	"  blob TEXT,                      -- hex SHA-256 of the ciphertext; NULL once disposed\n"
	"  bucket_id INTEGER NOT NULL REFERENCES buckets(id),\n"
	"  wrapped_key BLOB,               -- message key and salt under the bucket key\n"
	"  leaf_index INTEGER NOT NULL UNIQUE,\n"
	"  retention_class TEXT NOT NULL,\n"
	"  expires_at INTEGER,             -- NULL: retained forever\n"
	"  policy_version INTEGER NOT NULL DEFAULT 0,\n"
	"  disposed_at INTEGER\n"
	");\n"
	"CREATE INDEX messages_account_uidl ON messages (account_id, uidl);\n"
	"CREATE INDEX messages_sha256 ON messages (sha256);\n"
	"-- What we know about each upstream message: the safe-delete ledger.\n"
	"CREATE TABLE upstream (\n"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id),\n"
	"  uidl TEXT NOT NULL,             -- the UIDL, or 'sha256:<hex>' without UIDL\n"
	"  sha256 BLOB NOT NULL,\n"
	"  message_id INTEGER NOT NULL REFERENCES messages(id),\n"
	"  state TEXT NOT NULL CHECK (state IN ('committed','dele-sent','quit-ok','gone','residue')),\n"
	"  updated_at INTEGER NOT NULL,\n"
	"  PRIMARY KEY (account_id, uidl, sha256)\n"
	");\n"
	"CREATE TABLE harvest_runs (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id),\n"
	"  started_at INTEGER NOT NULL,\n"
	"  finished_at INTEGER,\n"
	"  fetched INTEGER NOT NULL DEFAULT 0,\n"
	"  deleted INTEGER NOT NULL DEFAULT 0,\n"
	"  residue INTEGER NOT NULL DEFAULT 0,\n"
	"  outcome TEXT\n"
	");\n",
	},
	/* 2: retention policy versions, legal holds, disposal records. */
	{
	"-- Every policy ever set, exact bytes; a new version is a new row.\n"
	"CREATE TABLE policy_versions (\n"
	"  version INTEGER PRIMARY KEY,     -- 1, 2, ... in the order they were set\n"
	"  text BLOB NOT NULL,              -- the exact file\n"
	"  sha256 TEXT NOT NULL,            -- hex SHA-256 of text (what the audit log cites)\n"
	"  created_at INTEGER NOT NULL,\n"
	"  actor TEXT NOT NULL\n"
	");\n"
	"CREATE TRIGGER policy_versions_never_edited BEFORE UPDATE ON policy_versions\n"
	"BEGIN SELECT RAISE(ABORT, 'policy versions are never edited'); END;\n"
	"CREATE TRIGGER policy_versions_never_deleted BEFORE DELETE ON policy_versions\n"
	"BEGIN SELECT RAISE(ABORT, 'policy versions are never deleted'); END;\n"
	"CREATE TABLE holds (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  name TEXT NOT NULL,              -- the matter\n"
	"  query TEXT NOT NULL,             -- search query; later mail matching it is held too\n"
	"  note TEXT,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  actor TEXT NOT NULL,\n"
	"  released_at INTEGER,             -- holds are released, never deleted\n"
	"  released_by TEXT\n"
	");\n"
	"CREATE UNIQUE INDEX holds_active_name ON holds (name) WHERE released_at IS NULL;\n"
	"CREATE TRIGGER holds_never_deleted BEFORE DELETE ON holds\n"
	"BEGIN SELECT RAISE(ABORT, 'holds are released, never deleted'); END;\n"
	"-- The messages a hold was resolved to: when placed, and at every disposal\n"
	"-- run (mail harvested later that matches the query).\n"
	"CREATE TABLE hold_members (\n"
	"  hold_id INTEGER NOT NULL REFERENCES holds(id),\n"
	"  message_id INTEGER NOT NULL REFERENCES messages(id),\n"
	"  added_at INTEGER NOT NULL,\n"
	"  PRIMARY KEY (hold_id, message_id)\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX hold_members_message ON hold_members (message_id);\n"
	"-- One row per disposal run: intent first, done after keys and blobs are gone.\n"
	"CREATE TABLE disposals (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  state TEXT NOT NULL CHECK (state IN ('intent','done')),\n"
	"  policy_version INTEGER NOT NULL,  -- current version when the run started\n"
	"  intent_at INTEGER NOT NULL,\n"
	"  intent_checkpoint INTEGER,        -- seq of the archive-log checkpoint signed over the intent\n"
	"  holds_digest TEXT NOT NULL,       -- hex SHA-256 of the resolved hold state\n"
	"  messages INTEGER NOT NULL,\n"
	"  buckets_destroyed INTEGER NOT NULL DEFAULT 0,\n"
	"  done_at INTEGER,\n"
	"  actor TEXT NOT NULL\n"
	");\n"
	"CREATE TABLE disposal_items (\n"
	"  disposal_id INTEGER NOT NULL REFERENCES disposals(id),\n"
	"  message_id INTEGER NOT NULL UNIQUE REFERENCES messages(id),\n"
	"  policy_version INTEGER NOT NULL,  -- the version that set the expiry\n"
	"  rule TEXT NOT NULL,\n"
	"  expires_at INTEGER NOT NULL,\n"
	"  bucket_destroyed INTEGER NOT NULL DEFAULT 0,\n"
	"  tombstone_index INTEGER,          -- archive-log leaf, once done\n"
	"  PRIMARY KEY (disposal_id, message_id)\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX messages_expires ON messages (expires_at) WHERE disposed_at IS NULL;\n"
	"CREATE INDEX messages_bucket ON messages (bucket_id);\n"
	"-- Set when the bucket's key is destroyed (crypto-shredding); a bucket whose\n"
	"-- key is gone gets a successor 'YYYY-MM+N' should mail need that month again.\n"
	"ALTER TABLE buckets ADD COLUMN destroyed_at INTEGER;\n"
	"-- The class written in the message's archive leaf, kept when a policy\n"
	"-- version re-evaluates it (NULL before: retention_class is that class).\n"
	"ALTER TABLE messages ADD COLUMN archived_class TEXT;\n",
	},
	/* 3: eDiscovery exports: stable Bates numbers per matter. */
	{
	"-- A matter's Bates numbering is fixed by its first export.\n"
	"CREATE TABLE export_matters (\n"
	"  name TEXT PRIMARY KEY,           -- the matter ('' for exports without one)\n"
	"  bates_prefix TEXT NOT NULL,\n"
	"  bates_start INTEGER NOT NULL CHECK (bates_start >= 0),\n"
	"  created_at INTEGER NOT NULL,\n"
	"  actor TEXT NOT NULL\n"
	");\n"
	"-- The number each exported message got in a matter, reused by every later\n"
	"-- export of that matter (a message keeps its number for good).\n"
	"CREATE TABLE export_bates (\n"
	"  matter TEXT NOT NULL REFERENCES export_matters(name),\n"
	"  message_id INTEGER NOT NULL REFERENCES messages(id),\n"
	"  number INTEGER NOT NULL CHECK (number >= 0),\n"
	"  assigned_at INTEGER NOT NULL,\n"
	"  PRIMARY KEY (matter, message_id),\n"
	"  UNIQUE (matter, number)\n"
	") WITHOUT ROWID;\n"
	"CREATE TRIGGER export_matters_never_edited BEFORE UPDATE ON export_matters\n"
	"BEGIN SELECT RAISE(ABORT, 'a matter keeps its Bates numbering'); END;\n"
	"CREATE TRIGGER export_bates_never_edited BEFORE UPDATE ON export_bates\n"
	"BEGIN SELECT RAISE(ABORT, 'Bates numbers are never changed'); END;\n"
	"CREATE TRIGGER export_bates_never_deleted BEFORE DELETE ON export_bates\n"
	"BEGIN SELECT RAISE(ABORT, 'Bates numbers are never deleted'); END;\n",
	},
	/* 4: web users (the web UI and JSON API sign them in). */
	{
	"CREATE TABLE users (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  name TEXT NOT NULL,\n"
	"  role TEXT NOT NULL CHECK (role IN ('admin','legal','compliance')),\n"
	"  password_hash TEXT NOT NULL,    -- Argon2id (libsodium crypto_pwhash_str)\n"
	"  created_at INTEGER NOT NULL,\n"
	"  changed_at INTEGER,\n"
	"  removed_at INTEGER              -- users are retired, never deleted\n"
	");\n"
	"CREATE UNIQUE INDEX users_active_name ON users (name) WHERE removed_at IS NULL;\n",
	},
	/* 5: the tables audit/ and archiver/index/ used to create for
	 * themselves: the Merkle logs (audit/tlog.h), the audit log's index
	 * and side table (audit/auditlog.h), the search index
	 * (archiver/index/index.h; its schema version 1 in idx_meta). Every
	 * statement is IF NOT EXISTS / OR IGNORE: archives made before this
	 * migration have these tables already, with the same columns. */
	{
	tlog_schema_sql,
	auditlog_schema_sql,
	"CREATE TABLE IF NOT EXISTS idx_meta (\n"
	"  key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;\n"
	"CREATE TABLE IF NOT EXISTS idx_doc (\n"
	"  id INTEGER PRIMARY KEY,         -- the message id\n"
	"  account TEXT NOT NULL,\n"
	"  date INTEGER NOT NULL,          -- Date field, else received_at\n"
	"  date_known INTEGER NOT NULL,\n"
	"  received_at INTEGER NOT NULL,\n"
	"  size INTEGER NOT NULL,\n"
	"  has_attachment INTEGER NOT NULL,\n"
	"  message_id TEXT NOT NULL,\n"
	"  from_disp TEXT NOT NULL,\n"
	"  subject_disp TEXT NOT NULL,\n"
	"  truncated INTEGER NOT NULL) STRICT;\n"
	"CREATE INDEX IF NOT EXISTS idx_doc_date ON idx_doc(date, id);\n"
	"CREATE INDEX IF NOT EXISTS idx_doc_msgid ON idx_doc(message_id);\n"
	"CREATE INDEX IF NOT EXISTS idx_doc_account ON idx_doc(account, date);\n"
	"CREATE INDEX IF NOT EXISTS idx_doc_size ON idx_doc(size);\n"
	"CREATE VIRTUAL TABLE IF NOT EXISTS idx_fts USING fts5(\n"
	"  hfrom, hto, hcc, hbcc, subject, body, filename, ctype,\n"
	"  tokenize = 'unicode61 remove_diacritics 2', columnsize = 0);\n"
	"INSERT OR IGNORE INTO idx_meta VALUES ('schema', 1);\n",
	},
	/* 6: web sign-in (popvault serve): sessions and TOTP second factors. */
	{
	"-- RFC 6238 second factor: the secret sealed under the secrets key (NULL:\n"
	"-- none enrolled) and the last time step accepted, so no code works twice.\n"
	"ALTER TABLE users ADD COLUMN totp_secret BLOB;\n"
	"ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;\n"
	"CREATE TABLE web_sessions (\n"
	"  token_hash BLOB PRIMARY KEY,     -- SHA-256 of the cookie's 256-bit token (never stored)\n"
	"  user_id INTEGER NOT NULL REFERENCES users(id),\n"
	"  role TEXT NOT NULL,              -- the role signed in with: a new role ends the session\n"
	"  user_changed_at INTEGER NOT NULL, -- users.changed_at then: a new password ends it too\n"
	"  created_ms INTEGER NOT NULL,     -- unix milliseconds: timeouts of a few seconds in tests\n"
	"  last_seen_ms INTEGER NOT NULL\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX web_sessions_user ON web_sessions (user_id);\n",
	},
	/* 7: matters (a case's saved searches and holds) and the web's export
	 * jobs (archiver/archive/matters.h, export_jobs.h). */
	{
	"CREATE TABLE matters (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  name TEXT NOT NULL UNIQUE,      -- also its holds' and exports' matter name\n"
	"  description TEXT NOT NULL,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  created_by TEXT NOT NULL         -- the actor (web:NAME)\n"
	");\n"
	"CREATE TABLE matter_searches (\n"
	"  matter_id INTEGER NOT NULL REFERENCES matters(id),\n"
	"  name TEXT NOT NULL,\n"
	"  query TEXT NOT NULL,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  created_by TEXT NOT NULL,\n"
	"  PRIMARY KEY (matter_id, name)\n"
	") WITHOUT ROWID;\n"
	"-- Holds placed for a matter under another name (a hold named like the\n"
	"-- matter belongs to it anyway). By name: a hold placed again after its\n"
	"-- release stays with the matter.\n"
	"CREATE TABLE matter_holds (\n"
	"  matter_id INTEGER NOT NULL REFERENCES matters(id),\n"
	"  hold_name TEXT NOT NULL,\n"
	"  PRIMARY KEY (matter_id, hold_name)\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX matter_holds_name ON matter_holds (hold_name);\n"
	"CREATE TABLE export_jobs (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  matter TEXT NOT NULL,\n"
	"  query TEXT NOT NULL,\n"
	"  format TEXT NOT NULL CHECK (format IN ('zip','tar.gz')),\n"
	"  bates_prefix TEXT,               -- NULL: the matter's\n"
	"  status TEXT NOT NULL CHECK (status IN ('running','done','failed','cancelled')),\n"
	"  created_at INTEGER NOT NULL,\n"
	"  created_by TEXT NOT NULL,\n"
	"  finished_at INTEGER,\n"
	"  messages INTEGER, disposed INTEGER, progress_total INTEGER,\n"
	"  file_size INTEGER, sha256 TEXT,  -- of the bundle in DIR/exports/\n"
	"  audit_seq INTEGER,               -- its export audit entry\n"
	"  vkeys TEXT,                      -- archive and audit verifier keys then, a line each\n"
	"  error TEXT\n"
	");\n"
	"CREATE INDEX export_jobs_matter ON export_jobs (matter);\n",
	},
	/* 8: the two-person rule (archiver/archive/approvals.h): proposals of
	 * what destroys or exposes evidence, and their approval or rejection. */
	{
	"CREATE TABLE approvals (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  kind TEXT NOT NULL CHECK (kind IN ('policy','hold-release','dispose')),\n"
	"  state TEXT NOT NULL DEFAULT 'pending'\n"
	"    CHECK (state IN ('pending','approved','rejected')),\n"
	"  payload BLOB NOT NULL,           -- policy text, hold name, or the frozen disposal plan\n"
	"  payload_sha256 TEXT NOT NULL,    -- hex SHA-256 of payload (what the audit log cites)\n"
	"  base INTEGER NOT NULL DEFAULT 0, -- policy: the version in force when proposed\n"
	"  summary TEXT NOT NULL,           -- one line for lists\n"
	"  proposer TEXT NOT NULL,          -- actor: cli:USER, web:USER\n"
	"  proposer_role TEXT NOT NULL,\n"
	"  reason TEXT NOT NULL,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  decided_by TEXT,\n"
	"  decided_role TEXT,\n"
	"  decision_reason TEXT,\n"
	"  decided_at INTEGER,\n"
	"  break_glass INTEGER NOT NULL DEFAULT 0,\n"
	"  result TEXT                      -- what the approval did: 'version=4', 'disposal=2 ...'\n"
	");\n"
	"CREATE INDEX approvals_state ON approvals (state, id);\n"
	"-- A proposal never changes; a decision is taken once (only the result of\n"
	"-- what it did is written afterwards); nothing is deleted.\n"
	"CREATE TRIGGER approvals_proposal_fixed BEFORE UPDATE ON approvals\n"
	"WHEN NEW.kind IS NOT OLD.kind OR NEW.payload IS NOT OLD.payload\n"
	"  OR NEW.payload_sha256 IS NOT OLD.payload_sha256 OR NEW.base IS NOT OLD.base\n"
	"  OR NEW.summary IS NOT OLD.summary OR NEW.proposer IS NOT OLD.proposer\n"
	"  OR NEW.proposer_role IS NOT OLD.proposer_role OR NEW.reason IS NOT OLD.reason\n"
	"  OR NEW.created_at IS NOT OLD.created_at\n"
	"  OR (OLD.state != 'pending' AND (NEW.state IS NOT OLD.state\n"
	"    OR NEW.decided_by IS NOT OLD.decided_by OR NEW.decided_role IS NOT OLD.decided_role\n"
	"    OR NEW.decision_reason IS NOT OLD.decision_reason\n"
	"    OR NEW.decided_at IS NOT OLD.decided_at OR NEW.break_glass IS NOT OLD.break_glass))\n"
	"BEGIN SELECT RAISE(ABORT, 'approvals are decided once and never edited'); END;\n"
	"CREATE TRIGGER approvals_never_deleted BEFORE DELETE ON approvals\n"
	"BEGIN SELECT RAISE(ABORT, 'approvals are never deleted'); END;\n",
	},
	/* 9: pack files (store/pack.h): a message's record is at pack_offset
	 * of pack pack_id; NULL pack_id: a blob file of its own (PVB1). */
	{
	"CREATE TABLE packs (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,  -- DIR/packs/<id>.pack\n"
	"  bucket_id INTEGER NOT NULL REFERENCES buckets(id),\n"
	"  created_at INTEGER NOT NULL,\n"
	"  removed_at INTEGER              -- all its messages disposed of, the file removed\n"
	");\n"
	"CREATE INDEX packs_bucket ON packs (bucket_id) WHERE removed_at IS NULL;\n"
	"ALTER TABLE messages ADD COLUMN pack_id INTEGER REFERENCES packs(id);\n"
	"ALTER TABLE messages ADD COLUMN pack_offset INTEGER;\n"
	"ALTER TABLE messages ADD COLUMN pack_length INTEGER;\n"
	"CREATE INDEX messages_pack ON messages (pack_id) WHERE pack_id IS NOT NULL;\n",
	},
	/* 10 (issue 17): what parties outside the box said about checkpoints
	 * (archiver/archive/anchor.h, store/anchors.h). Each row keeps its own
	 * copy of the signed checkpoint note, so a log rewritten together with
	 * its checkpoint rows still disagrees with it. Rows are never edited
	 * or deleted (triggers). */
	{
	"CREATE TABLE anchor_tokens (            -- RFC 3161 time-stamps\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  log TEXT NOT NULL,                    -- 'archive' or 'audit'\n"
	"  checkpoint_seq INTEGER NOT NULL,      -- the stamped checkpoint's seq in its log\n"
	"  size INTEGER NOT NULL,                -- its tree size\n"
	"  note BLOB NOT NULL,                   -- the signed note; SHA-256(note) is the imprint\n"
	"  tsa_url TEXT NOT NULL,\n"
	"  token BLOB NOT NULL,                  -- DER TimeStampResp, as the TSA sent it\n"
	"  gen_time INTEGER NOT NULL,            -- the token's genTime, unix seconds\n"
	"  serial TEXT NOT NULL,\n"
	"  policy TEXT NOT NULL,\n"
	"  created_at INTEGER NOT NULL\n"
	");\n"
	"CREATE INDEX anchor_tokens_log ON anchor_tokens (log, size);\n"
	"CREATE TABLE cosignatures (             -- C2SP tlog-cosignature/v1 lines\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  log TEXT NOT NULL,\n"
	"  checkpoint_seq INTEGER NOT NULL,\n"
	"  size INTEGER NOT NULL,\n"
	"  note BLOB NOT NULL,                   -- the signed note the witness cosigned\n"
	"  witness TEXT NOT NULL,                -- the witness key's name\n"
	"  line TEXT NOT NULL,                   -- its signature line, with the final newline\n"
	"  cosigned_at INTEGER NOT NULL,         -- the cosignature's own timestamp\n"
	"  created_at INTEGER NOT NULL,\n"
	"  UNIQUE (log, checkpoint_seq, witness)\n"
	");\n"
	"CREATE INDEX cosignatures_witness ON cosignatures (log, witness, size);\n"
	"CREATE TRIGGER anchor_tokens_fixed BEFORE UPDATE ON anchor_tokens\n"
	"BEGIN SELECT RAISE(ABORT, 'time-stamps are never edited'); END;\n"
	"CREATE TRIGGER anchor_tokens_kept BEFORE DELETE ON anchor_tokens\n"
	"BEGIN SELECT RAISE(ABORT, 'time-stamps are never deleted'); END;\n"
	"CREATE TRIGGER cosignatures_fixed BEFORE UPDATE ON cosignatures\n"
	"BEGIN SELECT RAISE(ABORT, 'cosignatures are never edited'); END;\n"
	"CREATE TRIGGER cosignatures_kept BEFORE DELETE ON cosignatures\n"
	"BEGIN SELECT RAISE(ABORT, 'cosignatures are never deleted'); END;\n"
	"-- The last attempt to reach each party, for staleness (stats, status).\n"
	"CREATE TABLE anchor_attempts (\n"
	"  log TEXT NOT NULL,\n"
	"  party TEXT NOT NULL,                  -- 'tsa' or the witness's name\n"
	"  attempted_at INTEGER NOT NULL,\n"
	"  ok_at INTEGER,                        -- the last success\n"
	"  error TEXT,                           -- why the last attempt failed; NULL: it did not\n"
	"  PRIMARY KEY (log, party)\n"
	");\n",
	},
	/* 11: an account's own harvest interval (seconds) for popvault serve;
	 * NULL: the [harvest] interval of serve's config. */
	{
	"ALTER TABLE accounts ADD COLUMN harvest_interval_s INTEGER;\n",
	},
	/* 12: messages the parser sandbox failed on (archiver/index/
	 * sandbox.h), with why; not in the full-text index until a reindex
	 * succeeds. */
	{
	"CREATE TABLE idx_failed (\n"
	"  id INTEGER PRIMARY KEY,          -- the message id\n"
	"  reason TEXT NOT NULL,\n"
	"  failed_at INTEGER NOT NULL\n"
	");\n",
	},
	/* 13 (issue 12): the search
	 * index ordered by date (archiver/index/index.h, its schema 2): each
	 * document's FTS5 rowid is its sort key (date, then id), so a page
	 * of the newest matches is read from the top of the index and a date
	 * range is a rowid range; every document carries a token of its own
	 * in column `every`, so a query that only excludes words is an FTS5
	 * expression too. The index is derived: it is made again from the
	 * archive (index.through cleared: the indexer starts from the first
	 * message). */
	{
	"DROP TABLE IF EXISTS idx_fts;\n"
	"DROP TABLE IF EXISTS idx_doc;\n"
	"DELETE FROM meta WHERE key = 'index.through';\n"
	"CREATE TABLE idx_doc (\n"
	"  id INTEGER PRIMARY KEY,         -- the message id\n"
	"  key INTEGER NOT NULL,           -- sort key, the rowid in idx_fts\n"
	"  account TEXT NOT NULL,\n"
	"  date INTEGER NOT NULL,          -- Date field, else received_at\n"
	"  date_known INTEGER NOT NULL,\n"
	"  received_at INTEGER NOT NULL,\n"
	"  size INTEGER NOT NULL,\n"
	"  has_attachment INTEGER NOT NULL,\n"
	"  message_id TEXT NOT NULL,\n"
	"  from_disp TEXT NOT NULL,\n"
	"  subject_disp TEXT NOT NULL,\n"
	"  truncated INTEGER NOT NULL) STRICT;\n"
	"CREATE UNIQUE INDEX idx_doc_key ON idx_doc(key);\n"
	"CREATE INDEX idx_doc_msgid ON idx_doc(message_id);\n"
	"CREATE INDEX idx_doc_account ON idx_doc(account, key);\n"
	"CREATE INDEX idx_doc_size ON idx_doc(size);\n"
	"CREATE VIRTUAL TABLE idx_fts USING fts5(\n"
	"  hfrom, hto, hcc, hbcc, subject, body, filename, ctype, every,\n"
	"  tokenize = 'unicode61 remove_diacritics 2', columnsize = 0);\n"
	"INSERT OR REPLACE INTO idx_meta VALUES ('schema', 2);\n",
	},
	/* 14 (issue 18): the pack store (store/packstore.h). pack_store names
	 * where sealed packs are kept beyond the data directory (no row: only
	 * DIR/packs); its credentials are sealed like upstream passwords. A
	 * pack gets sealed_at when no record will be appended to it any more,
	 * stored_at once the store confirmed the object (then the local file
	 * goes), with the object's version, size, Object Lock retain-until
	 * and whether its legal hold is on. */
	{
	"CREATE TABLE pack_store (\n"
	"  id INTEGER PRIMARY KEY CHECK (id = 1),\n"
	"  kind TEXT NOT NULL,              -- 's3'\n"
	"  url TEXT NOT NULL,               -- s3://BUCKET?endpoint=URL&region=R\n"
	"  secret BLOB NOT NULL,            -- ACCESS:SECRET, sealed under the secrets key\n"
	"  created_at INTEGER NOT NULL\n"
	");\n"
	"ALTER TABLE packs ADD COLUMN sealed_at INTEGER;\n"
	"ALTER TABLE packs ADD COLUMN stored_at INTEGER;\n"
	"ALTER TABLE packs ADD COLUMN store_version TEXT;\n"
	"ALTER TABLE packs ADD COLUMN size INTEGER;\n"
	"ALTER TABLE packs ADD COLUMN retain_until INTEGER;\n"
	"ALTER TABLE packs ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;\n"
	"CREATE INDEX packs_unstored ON packs (id) WHERE sealed_at IS NOT NULL"
	" AND stored_at IS NULL AND removed_at IS NULL;\n",
	},
	/* 15 (issue 18): `migrate --to-store` moving an archive's local packs
	 * into a store. migration: NULL for a store named by `init --store`,
	 * 'running' while a migrate has recorded the store and not yet seen
	 * every pack stored (run again, it resumes), 'done' after. */
	{
	"ALTER TABLE pack_store ADD COLUMN migration TEXT"
	" CHECK (migration IS NULL OR migration IN ('running', 'done'));\n",
	},
	/* 16 (issue 18): mailbox leases (store/leases.h): which harvester
	 * holds a session on an account, until when, when several share one
	 * catalog. */
	{
	"CREATE TABLE mailbox_leases (\n"
	"  account_id INTEGER PRIMARY KEY REFERENCES accounts(id),\n"
	"  holder TEXT NOT NULL,\n"
	"  expires_at INTEGER NOT NULL\n"
	");\n",
	},
	/* 17 (issue 18): bucket keys in the catalog, for an archive whose
	 * catalog several harvesters share (store/keyring.h): each key
	 * wrapped under a key-encryption key from the archive's identity,
	 * NULL once destroyed. Unused on SQLite, whose bucket keys stay in
	 * DIR/keys/keyring.db. */
	{
	"CREATE TABLE keyring_buckets (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  class TEXT NOT NULL,\n"
	"  expiry_month TEXT NOT NULL,\n"
	"  wrapped_key BLOB,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  destroyed_at INTEGER,\n"
	"  UNIQUE (class, expiry_month)\n"
	");\n",
	},
	/* 18 (issue 18): PostgreSQL's search index stores its vectors
	 * compressed with lz4 (migrations_pg.c). Nothing on SQLite, whose
	 * index is FTS5: the step only moves the version. */
	{
	NULL,
	},
	/* 19: an export's bundle removed (on request, or because it holds
	 * mail since disposed of), and the messages each bundle holds, so
	 * that disposal finds the bundles holding what it destroys
	 * (archiver/archive/export_jobs.h). */
	{
	"ALTER TABLE export_jobs ADD COLUMN removed_at INTEGER;\n"
	"ALTER TABLE export_jobs ADD COLUMN removed_by TEXT;\n"
	"CREATE TABLE export_members (\n"
	"  export_id INTEGER NOT NULL REFERENCES export_jobs(id),\n"
	"  message_id INTEGER NOT NULL,\n"
	"  PRIMARY KEY (export_id, message_id)\n"
	");\n"
	"CREATE INDEX export_members_message ON export_members (message_id);\n",
	},
	/* 20: who last set a user's role, password or second factor, when
	 * not the user (archiver/archive/users.h): an approver whose
	 * credentials the proposer set is not a second person. And when a
	 * message joined a hold by the audit log's order (its size then), not
	 * by a clock that may step back: verify compares it with a disposal
	 * intent's entry (archiver/archive/holds.h). */
	{
	"ALTER TABLE users ADD COLUMN vouched_by TEXT;\n"
	"ALTER TABLE hold_members ADD COLUMN added_seq INTEGER;\n",
	},
	/* 21: a password set by someone else signs in once, to choose one's
	 * own (password_once); a second factor being set up by its user,
	 * sealed like totp_secret, until a code from it is shown
	 * (archiver/store/user_totp.h). Users before it keep their passwords. */
	{
	"ALTER TABLE users ADD COLUMN password_once INTEGER NOT NULL DEFAULT 0;\n"
	"ALTER TABLE users ADD COLUMN totp_pending BLOB;\n",
	},
	/* 22: a legal or compliance account a web admin opens (made, given
	 * the role, its password set) waits for a compliance officer's
	 * approval (archiver/archive/user_access.h):
	 * users.access_approval is the approval an account waits for (0: none),
	 * and approvals take the kind 'user-access'. SQLite cannot change a
	 * CHECK: the table is made again, rows, ids and triggers the same. */
	{
	"ALTER TABLE users ADD COLUMN access_approval INTEGER NOT NULL DEFAULT 0;\n"
	"CREATE TABLE approvals_22 (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  kind TEXT NOT NULL CHECK (kind IN ('policy','hold-release','dispose','user-access')),\n"
	"  state TEXT NOT NULL DEFAULT 'pending'\n"
	"    CHECK (state IN ('pending','approved','rejected')),\n"
	"  payload BLOB NOT NULL,           -- policy text, hold name, or the frozen disposal plan\n"
	"  payload_sha256 TEXT NOT NULL,    -- hex SHA-256 of payload (what the audit log cites)\n"
	"  base INTEGER NOT NULL DEFAULT 0, -- policy: the version in force when proposed\n"
	"  summary TEXT NOT NULL,           -- one line for lists\n"
	"  proposer TEXT NOT NULL,          -- actor: cli:USER, web:USER\n"
	"  proposer_role TEXT NOT NULL,\n"
	"  reason TEXT NOT NULL,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  decided_by TEXT,\n"
	"  decided_role TEXT,\n"
	"  decision_reason TEXT,\n"
	"  decided_at INTEGER,\n"
	"  break_glass INTEGER NOT NULL DEFAULT 0,\n"
	"  result TEXT                      -- what the approval did: 'version=4', 'disposal=2 ...'\n"
	");\n"
	"-- the next id stays the next (approvals' own sequence goes with the table)\n"
	"INSERT INTO sqlite_sequence (name, seq)\n"
	"  SELECT 'approvals_22', seq FROM sqlite_sequence WHERE name = 'approvals';\n"
	"INSERT INTO approvals_22 SELECT * FROM approvals;\n"
	"DROP TABLE approvals;\n"
	"ALTER TABLE approvals_22 RENAME TO approvals;\n"
	"CREATE INDEX approvals_state ON approvals (state, id);\n"
	"-- A proposal never changes; a decision is taken once (only the result of\n"
	"-- what it did is written afterwards); nothing is deleted.\n"
	"CREATE TRIGGER approvals_proposal_fixed BEFORE UPDATE ON approvals\n"
	"WHEN NEW.kind IS NOT OLD.kind OR NEW.payload IS NOT OLD.payload\n"
	"  OR NEW.payload_sha256 IS NOT OLD.payload_sha256 OR NEW.base IS NOT OLD.base\n"
	"  OR NEW.summary IS NOT OLD.summary OR NEW.proposer IS NOT OLD.proposer\n"
	"  OR NEW.proposer_role IS NOT OLD.proposer_role OR NEW.reason IS NOT OLD.reason\n"
	"  OR NEW.created_at IS NOT OLD.created_at\n"
	"  OR (OLD.state != 'pending' AND (NEW.state IS NOT OLD.state\n"
	"    OR NEW.decided_by IS NOT OLD.decided_by OR NEW.decided_role IS NOT OLD.decided_role\n"
	"    OR NEW.decision_reason IS NOT OLD.decision_reason\n"
	"    OR NEW.decided_at IS NOT OLD.decided_at OR NEW.break_glass IS NOT OLD.break_glass))\n"
	"BEGIN SELECT RAISE(ABORT, 'approvals are decided once and never edited'); END;\n"
	"CREATE TRIGGER approvals_never_deleted BEFORE DELETE ON approvals\n"
	"BEGIN SELECT RAISE(ABORT, 'approvals are never deleted'); END;\n"
	/* Every setting of a user's password by someone else, in order:
	 * who could sign in as whom, and since when (users.vouched_by keeps
	 * only the last, which a loop of two accounts resetting each other
	 * erased their maker from). Rows before it: the last setter known,
	 * time unknown (at 0). */
	"CREATE TABLE user_vouches (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  name TEXT NOT NULL,              -- the user (retired ones too)\n"
	"  actor TEXT NOT NULL,             -- who set the password: web:USER, cli:USER\n"
	"  at INTEGER NOT NULL              -- when (0: before migration 22)\n"
	");\n"
	"CREATE INDEX user_vouches_name ON user_vouches (name, id);\n"
	"INSERT INTO user_vouches (name, actor, at) SELECT name, vouched_by, 0 FROM users\n"
	"  WHERE vouched_by IS NOT NULL AND vouched_by != '' ORDER BY id;\n"
	"CREATE TRIGGER user_vouches_fixed BEFORE UPDATE ON user_vouches\n"
	"BEGIN SELECT RAISE(ABORT, 'who set a password is never edited'); END;\n"
	"CREATE TRIGGER user_vouches_never_deleted BEFORE DELETE ON user_vouches\n"
	"BEGIN SELECT RAISE(ABORT, 'who set a password is never deleted'); END;\n",
	},
};

/* DIR/keys/keyring.db: bucket keys, kept apart from the catalog. */
static const char *const keyring_steps[][MIGRATION_PARTS] = {
	/* 1: bucket keys, one per (retention class, expiry month); the key is
	 * NULL once destroyed. IF NOT EXISTS: keyrings made before the keyring
	 * had migrations (user_version 0) have the table already. */
	{
	"CREATE TABLE IF NOT EXISTS bucket_keys (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  class TEXT NOT NULL, expiry_month TEXT NOT NULL,\n"
	"  key BLOB, destroyed_at INTEGER,\n"
	"  UNIQUE (class, expiry_month));\n",
	},
	/* 2: facts about the keyring itself. 'secrets' = 'bound' once every
	 * sealed secret of the catalog is bound to its row (keyring.h): kept
	 * here, beside the key, not in the catalog that an edit could change. */
	{
	"CREATE TABLE keyring_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n",
	},
};

/* A witness's state file (popvault witness serve; store/witness_state.h). */
static const char *const witness_steps[][MIGRATION_PARTS] = {
	/* 1: per log origin the checkpoint last cosigned; the requests refused
	 * for a conflict or a bad proof, kept as evidence of a fork. */
	{
	"CREATE TABLE witness_logs (\n"
	"  origin TEXT PRIMARY KEY,\n"
	"  size INTEGER NOT NULL CHECK (size >= 0),\n"
	"  root BLOB NOT NULL,\n"
	"  note BLOB NOT NULL,               -- the checkpoint note last cosigned\n"
	"  updated_at INTEGER NOT NULL\n"
	");\n"
	"CREATE TABLE witness_refusals (\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  origin TEXT NOT NULL,\n"
	"  status INTEGER NOT NULL,          -- 409 or 422\n"
	"  old_size INTEGER NOT NULL,\n"
	"  size INTEGER NOT NULL,\n"
	"  request BLOB NOT NULL,            -- the whole add-checkpoint body, log-signed\n"
	"  at INTEGER NOT NULL\n"
	");\n",
	},
};

const struct migration_set migrations_catalog = {
	"catalog", catalog_steps, (int)(sizeof(catalog_steps) / sizeof(catalog_steps[0])),
};
const struct migration_set migrations_keyring = {
	"keyring", keyring_steps, (int)(sizeof(keyring_steps) / sizeof(keyring_steps[0])),
};
const struct migration_set migrations_witness = {
	"witness", witness_steps, (int)(sizeof(witness_steps) / sizeof(witness_steps[0])),
};

static int user_version(sqlite3 *db, int64_t *version_r, struct pv_error *err)
{
	return catalog_query_int(db, "PRAGMA user_version", version_r, err);
}

/* Step v (from version v to v + 1) in its own transaction. A no-op when
 * another process made it while this one waited for the write lock. */
static int apply_step(sqlite3 *db, const struct migration_set *set, int v, struct pv_error *err)
{
	int64_t version;
	int r = catalog_exec(db, "BEGIN IMMEDIATE", err);
	if (r < 0)
		return r;
	if ((r = user_version(db, &version, err)) == PV_OK && version <= v) {
		char pragma[64];
		for (int i = 0; r == PV_OK && i < MIGRATION_PARTS && set->steps[v][i] != NULL; i++)
			r = catalog_exec(db, set->steps[v][i], err);
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
		if (r == PV_OK)
			r = catalog_exec(db, pragma, err);
	}
	if (r == PV_OK && (r = catalog_exec(db, "COMMIT", err)) == PV_OK)
		return PV_OK;
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return pv_error_prefix(err, "%s migration %d", set->name, v + 1);
}

int migrations_apply(sqlite3 *db, const struct migration_set *set, int target,
		     struct pv_error *err)
{
	int64_t version;
	int r = user_version(db, &version, err);
	if (r < 0)
		return r;
	if (version > set->count)
		return pv_fail(err, PV_ERR,
			       "%s database schema version %lld is newer than this popvault (%d)",
			       set->name, (long long)version, set->count);
	for (int v = (int)version; v < target && v < set->count; v++)
		if ((r = apply_step(db, set, v, err)) < 0)
			return r;
	return PV_OK;
}
