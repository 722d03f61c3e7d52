#ifndef PV_LIMITS_H
#define PV_LIMITS_H

/* Every limit popvault imposes on outside input, each with its reason
 * (STYLE.md habit 5). Buffers are created with their maximum from here. */

/* RFC 2449 §4: the first line of a response is at most 512 octets. */
#define PV_POP3_STATUS_LINE_MAX 512
/* RFC 2449 §4: commands are at most 255 octets, keyword and CRLF included. */
#define PV_POP3_COMMAND_MAX 255
/* Multi-line reply lines other than message bodies (CAPA, LIST, UIDL). */
#define PV_POP3_LIST_LINE_MAX 1024
/* RFC 1939 §7: a UIDL is 1..70 octets in 0x21..0x7E. */
#define PV_POP3_UIDL_MAX 70
/* SASL continuation lines: SCRAM/OAUTH challenges are small; 16 KiB is
 * generous and still bounded. */
#define PV_POP3_SASL_LINE_MAX 16384
/* POP3 reads go through one fixed buffer of this size, so memory does not
 * grow with message size (body lines have no length limit); 64 KiB takes
 * what a fast server has sent in one call (TLS: OpenSSL's read-ahead
 * buffer is as big). */
#define PV_POP3_READ_BUF 65536
/* Pipelined commands in flight: small enough that unread commands always
 * fit in socket buffers, so client and server cannot both block on write. */
#define PV_POP3_PIPELINE_WINDOW 32
/* RETRs in flight at once announce (LIST) at most this many bytes in all:
 * enough to keep a fast link busy for a round trip, little for the server
 * to push that a dropped session would waste. */
#define PV_POP3_PIPELINE_BYTES (2u * 1024 * 1024)
/* SCRAM iteration count from the server: RFC 7677 asks for >= 4096; the
 * upper bound stops a server from making us burn CPU for minutes. */
#define PV_POP3_SCRAM_ITER_MIN 4096
#define PV_POP3_SCRAM_ITER_MAX 1000000
/* SASL round trips per AUTH (SCRAM needs 3; anything longer is a loop). */
#define PV_POP3_SASL_ROUNDS_MAX 8
/* SCRAM (RFC 5802 §5.1) sets no size: a server-first-message is a nonce,
 * a salt and a count (~100 bytes from real servers), and our own messages
 * are as small; 4 KiB each bounds the AuthMessage (three of them) that is
 * HMACed. A salt is 16-32 bytes in practice (RFC 7677 §3 uses 16). */
#define PV_POP3_SCRAM_MSG_MAX 4096
#define PV_POP3_SCRAM_SALT_MAX 256
/* RFC 2449 §8 response codes are short words ("IN-USE", "SYS/TEMP",
 * "LOGIN-DELAY"); a longer one is kept in the text, not as a code. The
 * buffer holds the code and its NUL. */
#define PV_POP3_RESP_CODE_MAX 64
/* Default timeouts: connect, and each read/write making no progress. */
#define PV_POP3_CONNECT_TIMEOUT_MS 30000
#define PV_POP3_IO_TIMEOUT_MS 120000
/* A server that sends a byte just before each read timeout would hold a
 * harvest worker forever (issue 16, finding 4). While waiting to read,
 * each PV_POP3_IO_TIMEOUT_MS of waiting (counted from the last command
 * sent, so a reply may still take thinking time) must bring at least
 * this many bytes a second: 8 kbit/s, far below any real link.
 * [harvest] min_rate in popvault.conf. */
#define PV_POP3_MIN_RATE_BPS 1024
/* No POP3 session lasts longer, whatever the server does: 100 GB at
 * 10 MB/s fits. A harvest starts no new RETR slice after 3/4 of it and
 * QUITs, leaving the rest for the next harvest; a session still running
 * at the limit is dropped (no QUIT). [harvest] session_max. */
#define PV_POP3_SESSION_TIMEOUT_MS (4ll * 60 * 60 * 1000)
/* A connection test (admin "test account") answers a waiting web request:
 * connect and each read or write get this long, not a harvest's minutes. */
#define PV_ACCOUNT_TEST_TIMEOUT_MS 15000
/* Default message-size cap; configurable per installation. Larger messages
 * are reported and left upstream. */
#define PV_MESSAGE_SIZE_DEFAULT_MAX (256ull * 1024 * 1024)
/* The policy decides on the first PV_INGEST_READBACK_MAX bytes of a
 * message (headers, and the attachments that start there), kept in memory
 * while it is sealed, so memory stays bounded whatever its size; the
 * indexer reads the rest later (PV_INDEX_RAW_MAX). */
#define PV_INGEST_READBACK_MAX (1024 * 1024)
/* Messages below this stay in memory while received (a sealed record
 * waits there until the policy has picked its bucket, and so its pack:
 * store/record.h); bigger ones spill to a temporary file so memory does
 * not grow with message size. Most mail is far smaller. */
#define PV_MESSAGE_SPILL_THRESHOLD (1024 * 1024)
/* At most this many messages listed in one mailbox session; a longer
 * LIST is refused with an error (nothing fetched: move or delete mail
 * upstream first). This bounds a session's memory: a listing entry is
 * ~90 bytes (struct pop3_msg) plus ~40 in the harvest's plan and settle
 * arrays, so under ~150 MB; the read buffer (PV_POP3_READ_BUF) and the
 * sealer's queue (PV_HARVEST_QUEUE_MAX) are fixed, and nothing else a
 * session holds grows with what the server sends (issue 16, finding 4:
 * 10 million entries were ~2 GB). */
#define PV_POP3_MAILBOX_MAX_MESSAGES 1000000
/* A pack segment (store/pack.h) takes records until it is this big; the
 * next record of its bucket starts a new segment. A pack is the unit that
 * disposal removes whole and that an object store will hold (DESIGN.md
 * §12): big enough to amortise, small enough to move. */
#define PV_PACK_SEGMENT_MAX (256ull * 1024 * 1024)
/* A pack of a bucket that never expires ("retain forever") is locked in
 * an object store (COMPLIANCE, store/packstore.h) this many years from
 * its upload: Object Lock has no "forever", and a lock cannot be
 * shortened once set, so this is a promise, not a default to tune. */
#define PV_PACK_LOCK_NEVER_YEARS 100
/* Whole packs verify --full keeps fetched from an object store at once
 * (temp files of up to PV_PACK_SEGMENT_MAX each). */
#define PV_PACK_FETCH_CACHE 4
/* Bytes received and not yet sealed: the network reader of a harvest runs
 * at most this far ahead of the sealer thread (harvest/pipeline.h), so
 * memory does not follow the server's speed. 4 MiB is some 50 messages
 * of the usual mix, enough to ride out a group commit's fsyncs. */
#define PV_HARVEST_QUEUE_MAX (4 * 1024 * 1024)
/* Group commit: at most this many messages per batch (the [harvest]
 * batch_max default) and this many milliseconds a message may wait for
 * its commit (batch_ms). Within those, a batch takes what the server
 * sends in half of batch_ms, starting at PV_HARVEST_BATCH_START: few
 * commits (fsyncs, signatures) when the server is fast, quick DELEs when
 * it is slow (harvest/pipeline.c). */
#define PV_HARVEST_BATCH_MAX 4096
#define PV_HARVEST_BATCH_START 256
#define PV_HARVEST_BATCH_MS 1000

/* Signed notes: C2SP signed-note limits a note to a few KiB in practice;
 * we cap parsing at 1 MiB. */
#define PV_NOTE_MAX (1024 * 1024)
/* Signature lines per note accepted by the verifier (C2SP suggests <=100). */
#define PV_NOTE_SIGNATURES_MAX 100
/* Key names: C2SP signed-note names are non-empty, no spaces or '+'. */
#define PV_KEY_NAME_MAX 256
/* Merkle proofs: 63 hashes cover 2^63 leaves. */
#define PV_PROOF_HASHES_MAX 64
/* Transparency logs (audit/). C2SP tlog-tiles entry bundles store each
 * entry with a uint16 length, so an entry is at most 65,535 bytes. */
#define PV_TLOG_ENTRY_MAX 65535
/* Entries per append call: bounds one transaction (a harvest batch is
 * PV_HARVEST_BATCH_MAX; imports may batch more). */
#define PV_TLOG_APPEND_MAX 65536
/* Log names ("archive", "audit"): short identifiers, also used in key file
 * names, so [a-z0-9_-] only. */
#define PV_TLOG_NAME_MAX 32
/* Checkpoint extension lines (C2SP tlog-checkpoint: opaque, NOT
 * RECOMMENDED); we write at most one (time) and accept a few. */
#define PV_CHECKPOINT_EXT_LINES_MAX 16
/* tlog-proof extra data (leaf fields and salt for an exported message). */
#define PV_TLOG_PROOF_EXTRA_MAX 65536
/* A whole tlog-proof file: extra data in base64, the hashes, the note. */
#define PV_TLOG_PROOF_MAX (PV_NOTE_MAX + 2 * PV_TLOG_PROOF_EXTRA_MAX + 8192)
/* A signing-key file holds one "PRIVATE+KEY+name+id+key" line. */
#define PV_KEY_FILE_MAX (PV_KEY_NAME_MAX + 128)

/* The signer process (archiver/signer/). What it signs is small: a
 * checkpoint body (origin, size, root, at most PV_CHECKPOINT_EXT_LINES_MAX
 * short lines), a rotation note body (two vkeys), a bundle manifest line
 * set; anything longer is refused unread. */
#define PV_SIGNER_TEXT_MAX 4096
/* A note it returns or keeps: such a text and one signature line. */
#define PV_KEYS_STATE_NOTE_MAX (PV_SIGNER_TEXT_MAX + PV_KEY_NAME_MAX + 256)
/* One request or reply packet: a text, a consistency proof
 * (PV_PROOF_HASHES_MAX hashes), a vkey and the requester's last note. */
#define PV_SIGNER_MSG_MAX (PV_SIGNER_TEXT_MAX + PV_KEYS_STATE_NOTE_MAX + PV_PROOF_HASHES_MAX * 32 + 1024)
/* Open channels (one per open archive: each server worker, each harvest
 * process, the indexer, jobs): more is a leak, refused. */
#define PV_SIGNER_CHANNELS_MAX 256
/* How long a client waits for the signer's answer (it signs in
 * microseconds and fsyncs its state: seconds mean it is stuck). */
#define PV_SIGNER_REPLY_MS 30000

/* MIME (ARCHITECTURE.md §7): nesting depth and part count caps. */
#define PV_MIME_DEPTH_MAX 100
#define PV_MIME_PARTS_MAX 10000
#define PV_MIME_HEADER_MAX (1024 * 1024)
/* One header field kept for decoding: a To: with thousands of recipients
 * fits; GMime's structures cost ~7-45x the bytes handed to them. */
#define PV_MIME_FIELD_MAX (256 * 1024)
/* GMime 3.2's address-list parser recurses once per group it opens, so a
 * field like "a:a:a:..." (40,000 levels in 256 KiB) overflows the stack,
 * and each level costs time. Once a message's address fields hold more
 * ':' than this outside quotes, comments and <>, the field that passes it
 * and the rest are kept as text, not parsed for addresses: groups do not
 * nest (RFC 5322 §3.4), real mail has one or two. */
#define PV_MIME_ADDR_COLONS_MAX 100
/* A boundary is at most 70 characters (RFC 2046 5.1.1); tolerate broken
 * mailers up to a line's worth (RFC 5322 2.1.1: 998). */
#define PV_MIME_BOUNDARY_MAX 998
/* Text extracted from one message for the index (bodies, HTML as text,
 * attachment text); the rest is not indexed and the document is marked. */
/* At most this much of one message is parsed for the index: a huge
 * message's headers and first parts are still found, and indexing memory
 * stays bounded whatever the message size. */
#define PV_INDEX_RAW_MAX (8 * 1024 * 1024)
#define PV_INDEX_TEXT_MAX (4 * 1024 * 1024)
/* Wall-clock budget for extracting one message; the walk is linear, this
 * is the backstop. */
#define PV_MIME_TIME_MAX_MS 10000
/* pdftotext runs in a child with these caps (seconds of CPU, address space). */
#define PV_PDF_TIME_MAX_S 10
#define PV_PDF_MEMORY_MAX (512L * 1024 * 1024)
/* A PDF bigger than this is listed by name only. */
#define PV_PDF_INPUT_MAX (64 * 1024 * 1024)
/* The parser sandbox (archiver/index/sandbox.h), per message: the walk's
 * own budget and a few PDFs' worth of pdftotext (each up to twice its CPU
 * limit in wall time), then the child is killed; CPU of its own (the walk,
 * HTML, charsets); its address space (a message read is at most
 * PV_INDEX_RAW_MAX, its text PV_INDEX_TEXT_MAX, GMime's decoders and the
 * copies around them fit well within); what it may answer (the largest:
 * a web view's HTML, PV_VIEW_HTML_MAX; a document's text and fields are
 * within it). */
#define PV_SANDBOX_TIME_MAX_MS (PV_MIME_TIME_MAX_MS + 4 * 2000 * PV_PDF_TIME_MAX_S)
#define PV_SANDBOX_CPU_MAX_S 30
#define PV_SANDBOX_MEMORY_MAX (1024L * 1024 * 1024)
#define PV_SANDBOX_OUTPUT_MAX (PV_VIEW_HTML_MAX + 8 * 1024 * 1024)

/* Search queries and HTTP requests. */
#define PV_QUERY_MAX 4096
/* Terms and nesting (parentheses, NOT) in one query: bounds the parser's
 * recursion. */
#define PV_QUERY_TERMS_MAX 256
#define PV_QUERY_DEPTH_MAX 32
/* Operators nested in one another once groups of the same operator are
 * merged (a OR (b OR c) is one level) and NOT NOT dropped: each level is
 * a level of SQL or FTS5 parentheses, and both of SQLite's parsers have a
 * fixed stack (SQLite 3.40: an alternating AND/OR query 26 levels deep
 * overflows it). 16 leaves room; tests/unit/test_query_depth.c runs every
 * operator mix up to it. */
#define PV_QUERY_NEST_MAX 16
/* Results per search page; a bigger --limit is an error, never a silent cap. */
#define PV_SEARCH_LIMIT_MAX 10000
/* A search's total is counted up to this many matches by default, then
 * shown as "more than 10,000" (exact on request: --exact-total,
 * total=exact). Counting every match of a common word costs some 75 ms
 * at 1,000,000 messages, counting 10,001 of them a few (issue 12); the
 * results still page through every match, and holds and exports take the
 * unpaged id list, which is always exact. 10,000 as search engines'
 * "track total hits" default. */
#define PV_SEARCH_TOTAL_CAP 10000
/* Request bodies are JSON only (no forms, no uploads): sign-in, a policy
 * draft (PV_POLICY_FILE_MAX) and a hold fit with room to spare. A bigger
 * Content-Length is refused with 413 before a byte of the body is read. */
#define PV_HTTP_BODY_MAX (1024 * 1024)

/* popvault serve (archiver/http/). A small appliance for a few dozen
 * people: the numbers bound memory and threads, not throughput. */
/* Worker threads, each with its own epoll loop and its own archive handle;
 * a sign-in holds one for ~0.1 s of Argon2id, so a few keep others moving. */
#define PV_HTTP_THREADS 4
/* Open connections in all: with PV_HTTP_CONN_MEMORY and at most one body
 * each, the server stays below ~150 MB whatever clients do. */
#define PV_HTTP_CONNECTIONS_MAX 128
/* Per client address: a browser opens 6; an office behind one NAT a few
 * browsers. One address cannot take every slot (slowloris from one host). */
#define PV_HTTP_PER_IP_CONNECTIONS_MAX 32
/* libmicrohttpd's memory pool per connection: the request line and every
 * header must fit (beyond it: 431 or 414), and the read/write buffers. */
#define PV_HTTP_CONN_MEMORY (64 * 1024)
/* All request header fields together (names and values); browsers send
 * 1-2 KiB, a long cookie jar perhaps 8. */
#define PV_HTTP_HEADER_MAX (16 * 1024)
/* Request-target: a path plus a query with a PV_QUERY_MAX search query
 * %-encoded (3 bytes a character) and paging arguments. */
#define PV_HTTP_TARGET_MAX (3 * PV_QUERY_MAX + 1024)
/* Decoded path: our routes and file names are short. */
#define PV_HTTP_PATH_MAX 1024
/* A connection sending nothing for this long is closed (libmicrohttpd's
 * idle timeout; also a client that stops reading its answer). */
#define PV_HTTP_IDLE_TIMEOUT_S 10
/* Slowloris: a request must arrive whole (TLS handshake, headers and
 * body) this long after the connection opened or the previous answer was
 * sent, however slowly its bytes trickle in; the idle timeout alone
 * restarts with every byte. 1 MiB body in 20 s is 50 KiB/s. */
#define PV_HTTP_REQUEST_TIME_MAX_S 20
/* Concurrent Argon2id checks: each takes 64 MiB (crypto_pwhash
 * interactive); a burst of sign-ins must not exhaust memory. Others wait
 * up to PV_HTTP_ARGON2_WAIT_MS, then get 503. */
#define PV_HTTP_ARGON2_CONCURRENT 2
#define PV_HTTP_ARGON2_WAIT_MS 3000
/* Sessions (OWASP session management): idle and absolute lifetime. */
#define PV_HTTP_SESSION_IDLE_S (30 * 60)
#define PV_HTTP_SESSION_MAX_S (12 * 60 * 60)
/* Signed-in sessions per user: a few browsers and scripts; the oldest
 * goes when a new one would pass this, so rows cannot pile up. */
#define PV_HTTP_SESSIONS_PER_USER_MAX 16
/* Failed sign-ins: a user name (existing or not) and a client address may
 * fail this often freely; after each further failure the next attempt
 * must wait 1 s, 2 s, 4 s ... up to the maximum; a quiet
 * PV_HTTP_LOGIN_DELAY_MAX_S forgets them. Guessing a 6-digit TOTP code
 * (3 in 10^6 a try, with the drift window) then takes more than a year.
 * Per address the allowance is larger (an office behind one NAT). */
#define PV_HTTP_LOGIN_FREE_FAILURES_USER 3
#define PV_HTTP_LOGIN_FREE_FAILURES_IP 20
#define PV_HTTP_LOGIN_DELAY_MAX_S (15 * 60)
/* Names and addresses tracked for failed sign-ins; the stalest entry is
 * reused past this, so the table never grows (an attacker rotating
 * through names fills it with its own entries first). */
#define PV_HTTP_LOGIN_TRACKED 4096
/* A JSON answer is built in memory: a page of PV_SEARCH_LIMIT_MAX search
 * results with their metadata fits; bigger content is streamed. */
#define PV_HTTP_RESPONSE_MAX (64 * 1024 * 1024)
/* "Harvest now" runs `popvault harvest --once --json` in a child; its
 * summary (totals and one line per problem) and its error text are kept
 * up to these sizes; more is cut (the summary then reads as missing). */
#define PV_HTTP_HARVEST_OUTPUT_MAX (1024 * 1024)
#define PV_HTTP_HARVEST_ERRORS_MAX (16 * 1024)
/* TLS certificate and key files read by serve (PEM). */
#define PV_HTTP_TLS_FILE_MAX (64 * 1024)
/* serve makes its self-signed certificate again when it ends within this
 * many days (it is made for 825), and warns of any other that does. */
#define PV_HTTP_TLS_RENEW_DAYS 30
/* Governance jobs of serve (http/gov_jobs.h): finished verify runs and
 * audit exports remembered (their files and audit entries stay anyway); */
#define PV_HTTP_GOV_JOBS_KEPT 32
/* audit exports running at once (each streams the log into a bundle); */
#define PV_HTTP_AUDIT_EXPORTS_RUNNING 2
/* problem and note lines of a verify run kept for the web page (all are
 * counted; `popvault verify` on the appliance prints every one); */
#define PV_HTTP_VERIFY_LINES_KEPT 200
/* entries of one audit page, checkpoints of one history page. */
#define PV_HTTP_AUDIT_PAGE_MAX 1000

/* Policies: a policy file is human-written; 256 KiB is far above any real one. */
#define PV_POLICY_FILE_MAX (256 * 1024)
/* Rules per policy: every rule is reviewed by a person; more is a generated
 * file nobody reads, and each rule costs evaluation time per message. */
#define PV_POLICY_RULES_MAX 1000
/* Comparisons in a whole policy: bounds evaluation work per message. */
#define PV_POLICY_TERMS_MAX 10000
/* Nesting of parentheses and 'not': bounds parser and evaluator recursion. */
#define PV_POLICY_DEPTH_MAX 32
/* Rule names are retention classes shown in tables and stored per message. */
#define PV_POLICY_NAME_MAX 64
/* Quoted values and patterns: an address or subject pattern, not a document. */
#define PV_POLICY_STRING_MAX 1024
/* Longest retention: 1000 years (366000 days, 12000 months) keeps every
 * expiry inside int64 seconds and inside four-or-five-digit years. */
#define PV_POLICY_YEARS_MAX 1000
/* Size literals above 1 TiB match nothing real (messages cap far lower). */
#define PV_POLICY_SIZE_LITERAL_MAX (1024ull * 1024 * 1024 * 1024)
/* Diagnostics collected by one `policy check` before giving up. */
#define PV_POLICY_ERRORS_MAX 20
/* Header fields of one message a policy's `header` rules look at, kept by
 * the MIME parse (index/mime.c; the header section is also capped at
 * PV_MIME_HEADER_MAX bytes): bounds the per-message decoding and
 * evaluation work; real mail has a few dozen. */
#define PV_RETENTION_HEADERS_MAX 10000
/* Legal holds: a matter name is shown in lists and tombstone reasons; a note
 * is one line of context, not a document. */
#define PV_HOLD_NAME_MAX 128
#define PV_HOLD_NOTE_MAX 1024
/* The two-person rule (archiver/archive/approvals.h): the reason given
 * with a proposal or a decision is a line or a short paragraph, shown in
 * lists and kept in the audit log's side table; */
#define PV_APPROVAL_REASON_MAX 2048
/* a frozen disposal plan keeps one line (~60 bytes) per message in one
 * catalog row: at most this many messages per proposed run (6 MB); a
 * larger backlog goes in several runs; */
#define PV_APPROVAL_DISPOSE_MAX 100000
/* decided approvals listed at most per page (pending ones are few). */
#define PV_APPROVALS_PAGE_MAX 1000
/* Whether an approver is a second person (archive/vouch.c) walks who set
 * whose password: at most this many users and history rows for one
 * answer, past which it is "not independent" (a history too long to
 * follow proves nothing; a real appliance's is a few rows a user). */
#define PV_VOUCH_USERS_MAX 64
#define PV_VOUCH_STEPS_MAX 256
/* A line diff (lib/linediff.h, policy versions side by side) fills a table
 * of (lines of a) x (lines of b) after the common head and tail are cut:
 * 4M cells are 16 MiB; policies are a few dozen lines. */
#define PV_LINEDIFF_CELLS_MAX (4u * 1024 * 1024)

/* Matters (archiver/archive/matters.h): a matter's name is also the name
 * of its holds and exports (PV_HOLD_NAME_MAX, PV_EXPORT_MATTER_MAX), a
 * description and a saved search's name are one line for a list. */
#define PV_MATTER_NAME_MAX 128
#define PV_MATTER_DESCRIPTION_MAX 1024
#define PV_MATTER_SEARCH_NAME_MAX 128

/* Viewing one message on the web (archiver/archive/view.h): its parts and
 * HTML body are found in its first PV_VIEW_RAW_MAX bytes, read into
 * memory. Providers cap attachments at 20-25 MB (about 34 MB of base64),
 * so whole messages fit; a part beyond is listed as cut. A sanitised HTML
 * document longer than PV_VIEW_HTML_MAX is cut (a note at its end says so). */
#define PV_VIEW_RAW_MAX (64 * 1024 * 1024)
#define PV_VIEW_HTML_MAX (32 * 1024 * 1024)
/* Export jobs run by popvault serve at once: each holds an archive handle,
 * a core and a bundle being written; more wait for a free slot (503). */
#define PV_EXPORT_JOBS_RUNNING_MAX 2

/* Config and secret files read from disk. */
#define PV_CONFIG_FILE_MAX (64 * 1024)
/* A CA certificate file (an account's, the TSA's): a bundle of roots. */
#define PV_CA_FILE_MAX (1024 * 1024)
#define PV_SECRET_FILE_MAX 8192
/* The OAuth token command (harvest/token.h): words on its line (an
 * argv of a helper, not a script), and how long it may take before it is
 * killed (a token refresh is one HTTPS round trip). Its output is at most
 * PV_SECRET_FILE_MAX bytes. */
#define PV_CMDLINE_ARGS_MAX 64
#define PV_TOKEN_COMMAND_TIME_MAX_MS (30 * 1000)

/* Audit log (audit/auditlog.h): personal data kept beside one entry (a
 * query is at most PV_QUERY_MAX; a message's addresses fit easily). */
#define PV_AUDIT_PERSONAL_MAX (64 * 1024)
/* Bundles read by verify-bundle (audit/bundle.h), all from outside:
 * files in one bundle (an eDiscovery export has two per message); */
#define PV_BUNDLE_FILES_MAX 1000000
/* a member path (we write short ASCII names, see bundle.h); */
#define PV_BUNDLE_PATH_MAX 255
/* members up to this size are kept in memory while reading (notes,
 * proofs, checkpoints); bigger ones are only streamed; */
#define PV_BUNDLE_SMALL_MAX (1024 * 1024)
/* and all kept members together; */
#define PV_BUNDLE_KEPT_MAX (4 * 1024 * 1024)
/* decompressed bytes of the whole bundle: a decompression bomb is cut off
 * after this instead of hashing for days; */
#define PV_BUNDLE_BYTES_MAX (1024ull * 1024 * 1024 * 1024)
/* one line of a manifest, JSON Lines or CSV member (an audit entry with
 * its personal data, JSON-escaped, fits); */
#define PV_BUNDLE_LINE_MAX (1024 * 1024)
/* an audit bundle's tree-proof: 3 lines and at most 64 + 128 subtree
 * hashes, about 10 KiB (auditbundle.h); */
#define PV_BUNDLE_TREE_PROOF_MAX (64 * 1024)
/* key rotations a verifier follows in one bundle: one a month for ten
 * years is 120 (audit/bundle_trust.h). */
#define PV_BUNDLE_ROTATIONS_MAX 128
/* Bundles written: the newest earlier exports whose checkpoints a bundle
 * carries with a consistency proof (audit/bundle_trust.h); a recipient
 * holds the last one it received, older ones only cost space. */
#define PV_BUNDLE_ANCHORS_MAX 1000
/* eDiscovery exports (archiver/export): a matter name is shown in lists
 * and audit entries; a Bates prefix is part of every file name in the
 * bundle, so it is short; numbers stay below 10^15 (8 digits at least). */
#define PV_EXPORT_MATTER_MAX 128
#define PV_EXPORT_BATES_PREFIX_MAX 32
#define PV_EXPORT_BATES_NUMBER_MAX 999999999999999LL
/* Fields in one row of a load file (DAT or CSV) read back by
 * verify-bundle: we write 18 columns at most (ediscovery.h). */
#define PV_EXPORT_LOADFILE_FIELDS_MAX 64
/* What verify-bundle reads from an eDiscovery bundle: its request (query
 * and matter, each far below this) and an mbox From_ line (we write ~80
 * bytes). */
#define PV_EXPORT_REQUEST_MAX (64 * 1024)
#define PV_EXPORT_FROM_LINE_MAX 1024
/* A disposal's intent writes one disposal-item audit entry per message;
 * this many go under one signed audit checkpoint (one per message would
 * swell the log with signatures; one for all would hold every record of
 * a huge disposal in memory at once). */
#define PV_DISPOSE_AUDIT_BATCH 1024

/* Room the data directory's file system keeps free (archiver/harvest/
 * scheduler.h): below it the harvest daemons (serve, harvest without
 * --once) stop harvesting cleanly (each running harvest finishes the batch
 * in hand and QUITs) and start again once there is this much plus an
 * eighth free. It covers what a stopping harvest may still write (a batch
 * of big messages), SQLite's WAL and checkpoints, the audit entries that
 * say so, and the logs of the system beside us, so the archive never
 * meets ENOSPC. */
#define PV_DATA_DISK_RESERVE (1024ll * 1024 * 1024)

/* `harvest --wait` ("harvest now" of the web) waits this long at most for
 * another harvest of the data directory (serve's round, a harvest by
 * hand) to end: a round of every account rarely takes longer; past it the
 * request fails and says why. */
#define PV_HARVEST_LOCK_WAIT_S 600

/* An sd_notify datagram: systemd reads at most PIPE_BUF (4096) bytes of
 * one notification and drops the rest. */
#define PV_SD_NOTIFY_MAX 4096

/* Backups (archiver/archive/backup.h). A restore holds the manifest's
 * list in memory (~120 bytes a file, one file per message): 4 million
 * files is about 500 MB. Its lines are a keyword, a hash, a size and a
 * short path. */
#define PV_BACKUP_FILES_MAX 4000000
#define PV_BACKUP_MANIFEST_LINE_MAX 1024
/* keys.enc: the keyring (a row per retention bucket, kilobytes in
 * practice) and a few key files of bytes; restore reads it whole. */
#define PV_BACKUP_KEY_FILES_MAX 32
#define PV_BACKUP_KEY_FILE_MAX (16 * 1024 * 1024)
#define PV_BACKUP_KEYS_MAX (64 * 1024 * 1024)
/* The Argon2id cost keys.enc asks for: libsodium's "sensitive" level at
 * most (4 passes, 1 GiB), so a forged file cannot make restore spend
 * minutes or all memory before the passphrase is even checked. */
#define PV_BACKUP_PWHASH_OPS_MAX 4
#define PV_BACKUP_PWHASH_MEM_MAX (1024ull * 1024 * 1024)

/* Anchoring outside the box (archiver/archive/anchor.h): HTTP calls to
 * a Time-Stamp Authority and to witnesses (lib/httpc.h). A TimeStampResp
 * is a few KB (the TSA's certificates included); a witness answers a few
 * signature lines or a size. The whole call gives up after the timeout so
 * a hanging server never holds a harvest or the scheduler. */
#define PV_HTTPC_REPLY_MAX (256 * 1024)
#define PV_HTTPC_TIMEOUT_MS 20000
#define PV_HTTPC_CONNECT_TIMEOUT_MS 5000
/* A URL in popvault.conf (a TSA's or a witness's). */
#define PV_URL_MAX 512
/* Witnesses one archive asks (popvault.conf [witnesses]); a quorum of a
 * few is the usual policy. */
#define PV_WITNESSES_MAX 16
/* Timestamps a bundle carries per log: the newest ones up to its
 * checkpoint (each ties an earlier state of the log to a TSA's time). */
#define PV_BUNDLE_TIMESTAMPS_MAX 16
/* An add-checkpoint request a witness reads (C2SP tlog-witness: an old
 * size line, at most 63 proof lines of 45 bytes, a checkpoint note: its
 * body, under 2 KiB, and up to PV_NOTE_SIGNATURES_MAX signature lines of
 * about 360 bytes at most). */
#define PV_WITNESS_REQUEST_MAX (64 * 1024)
/* Origins a witness follows (witness serve --log). */
#define PV_WITNESS_LOGS_MAX 256

/* A limit spelled as a string literal, for SQL text
 * ("LIMIT " PV_LIMIT_STR(PV_BUNDLE_ANCHORS_MAX)); the limit must be a
 * plain number for this. */
#define PV_LIMIT_STR_(x) #x
#define PV_LIMIT_STR(x) PV_LIMIT_STR_(x)

#endif
