-- The synthetic archive of tests/bench/pg_scale.sh on PostgreSQL:
--  * messages: the catalog's messages table (catalog migrations 1, 2 and 9,
--    same columns and indexes, in PostgreSQL types), :ncat rows;
--  * idx_doc: the search index as archiver/store/pg_index.c makes it (the
--    table exists already: the backend made it), :ndocs documents whose
--    tsvector is what archiver/index/tsvector.c writes for a message with
--    a From, a To, a Subject of 4 words and a body of 60..99 words, drawn
--    log-uniformly (Zipf-like: rank r has probability ~1/r) from a
--    vocabulary of 50,000 words w1..w50000.
-- UNLOGGED: no WAL for the generator (the sizes of tables and indexes are
-- those of a logged table; WAL volume is computed in docs/SCALE.md).
\set ON_ERROR_STOP on
SET maintenance_work_mem = '512MB';
SET max_parallel_maintenance_workers = 0;

DROP TABLE IF EXISTS messages;
CREATE UNLOGGED TABLE messages (
  id bigint PRIMARY KEY,
  account_id integer NOT NULL,
  uidl text,
  sha256 bytea NOT NULL,
  size integer NOT NULL,
  received_at bigint NOT NULL,
  blob text,
  bucket_id integer NOT NULL,
  wrapped_key bytea,
  leaf_index bigint NOT NULL UNIQUE,
  retention_class text NOT NULL,
  expires_at bigint,
  policy_version integer NOT NULL DEFAULT 0,
  disposed_at bigint,
  archived_class text,
  pack_id bigint,
  pack_offset bigint,
  pack_length integer);
INSERT INTO messages
SELECT i, 1 + i % 1000, 'UID' || i || '.' || (i % 7919), sha256(int8send(i)),
       2000 + (i * 7919) % 60000, 1500000000 + i * 3, encode(sha256(int8send(-i)), 'hex'),
       1 + (i / 100000)::int, sha256(int8send(i + 1)) || sha256(int8send(i + 2)) || '\x0102030405060708'::bytea,
       i - 1, 'default', 1700000000 + i * 3, 1, NULL, 'default',
       1 + i / 20000, (i % 20000) * 18000, 2000 + (i * 7919) % 60000
FROM generate_series(1::bigint, :ncat) i;
CREATE INDEX messages_account_uidl ON messages (account_id, uidl);
CREATE INDEX messages_sha256 ON messages (sha256);
CREATE INDEX messages_expires ON messages (expires_at) WHERE disposed_at IS NULL;
CREATE INDEX messages_bucket ON messages (bucket_id);
CREATE INDEX messages_pack ON messages (pack_id) WHERE pack_id IS NOT NULL;
ANALYZE messages;

TRUNCATE idx_doc;
INSERT INTO idx_doc
SELECT i, 'acct' || (i % 100), 1500000000 + i * 60, true, 1500000000 + i * 60,
       2000 + (i * 7919) % 60000, i % 10 = 0, 'm' || i || '@example.com',
       'Sender ' || (i % 5000) || ' <s' || (i % 5000) || '@example.com>',
       'Subject ' || i, 0,
       (format('''f:s%s'':1 ''f:example'':2 ''f:com'':3 ''t:u%s'':1 ''t:example'':2 ''t:com'':3 ',
               i % 5000, (i * 31) % 5000) ||
        (SELECT string_agg(format('''s:w%s'':%s', floor(exp(random() * ln(50000)))::int, k), ' ')
         FROM generate_series(1, 4 + i * 0) k) || ' ' ||
        (SELECT string_agg(format('''m:w%s'':%s', floor(exp(random() * ln(50000)))::int, k), ' ')
         FROM generate_series(1, 60 + i % 40) k))::tsvector,
       0
FROM generate_series(1::bigint, :ndocs) i;
-- the GIN index is rebuilt after the bulk load (what a reindex does too)
DROP INDEX IF EXISTS idx_doc_tv;
CREATE INDEX idx_doc_tv ON idx_doc USING gin (tv);
VACUUM ANALYZE idx_doc;
