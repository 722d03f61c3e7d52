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
 * grow with message size (body lines have no length limit). */
#define PV_POP3_READ_BUF 16384
/* After a message passes its size cap the rest is read and discarded so the
 * session can go on; past this many discarded bytes the connection is
 * dropped instead (a broken or hostile server could stream forever). */
#define PV_POP3_RETR_DRAIN_MAX (1024ull * 1024 * 1024)
/* Pipelined commands in flight: small enough that unread commands always
 * fit in socket buffers, so client and server cannot both block on write. */
#define PV_POP3_PIPELINE_WINDOW 32
/* SCRAM iteration count from the server: RFC 7677 asks for >= 4096; the
 * upper bound stops a server from making us burn CPU for minutes. */
#define PV_POP3_SCRAM_ITER_MIN 4096
#define PV_POP3_SCRAM_ITER_MAX 1000000
/* SASL round trips per AUTH (SCRAM needs 3; anything longer is a loop). */
#define PV_POP3_SASL_ROUNDS_MAX 8
/* Default timeouts: connect, and each read/write making no progress. */
#define PV_POP3_CONNECT_TIMEOUT_MS 30000
#define PV_POP3_IO_TIMEOUT_MS 120000
/* Default message-size cap; configurable per installation. Larger messages
 * are reported and left upstream. */
#define PV_MESSAGE_SIZE_DEFAULT_MAX (256ull * 1024 * 1024)
/* Group commit keeps a plaintext copy of small messages (most mail) so the
 * policy and the index need not decrypt them again; per message and per
 * chunk, so memory stays bounded whatever the mailbox holds. Larger
 * messages are read back from their blob, and only their first
 * PV_INGEST_READBACK_MAX bytes are parsed for the policy (headers, and the
 * attachments that start there); the index catches up on them afterwards. */
#define PV_INGEST_INLINE_MAX (64 * 1024)
#define PV_INGEST_INLINE_TOTAL (8 * 1024 * 1024)
#define PV_INGEST_READBACK_MAX (1024 * 1024)
/* Messages below this stay in memory while received; bigger ones spill to a
 * temporary file so memory does not grow with message size. */
#define PV_MESSAGE_SPILL_THRESHOLD (1024 * 1024)
/* At most this many messages listed in one mailbox session. */
#define PV_POP3_MAILBOX_MAX_MESSAGES 10000000
/* Group commit: messages per batch and milliseconds per batch. */
#define PV_HARVEST_BATCH_MAX 256
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

/* MIME (DESIGN.md §7): nesting depth and part count caps. */
#define PV_MIME_DEPTH_MAX 100
#define PV_MIME_PARTS_MAX 10000
#define PV_MIME_HEADER_MAX (1024 * 1024)
/* One header field kept for decoding: a To: with thousands of recipients
 * fits; GMime's structures cost ~7-45x the bytes handed to them. */
#define PV_MIME_FIELD_MAX (256 * 1024)
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

/* Search queries and HTTP requests. */
#define PV_QUERY_MAX 4096
/* Terms and nesting (parentheses, NOT) in one query: bounds the parser's
 * recursion and the SQL it generates. */
#define PV_QUERY_TERMS_MAX 256
#define PV_QUERY_DEPTH_MAX 32
/* Results per search page; a bigger --limit is an error, never a silent cap. */
#define PV_SEARCH_LIMIT_MAX 10000
#define PV_HTTP_BODY_MAX (1024 * 1024)

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
/* Header fields of one message a policy's `header` rules look at (the
 * header section is also capped at PV_MIME_HEADER_MAX bytes): bounds the
 * per-message evaluation work; real mail has a few dozen. */
#define PV_RETENTION_HEADERS_MAX 10000
/* Legal holds: a matter name is shown in lists and tombstone reasons; a note
 * is one line of context, not a document. */
#define PV_HOLD_NAME_MAX 128
#define PV_HOLD_NOTE_MAX 1024

/* Config and secret files read from disk. */
#define PV_CONFIG_FILE_MAX (64 * 1024)
#define PV_SECRET_FILE_MAX 8192

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
#define PV_BUNDLE_KEPT_MAX (64 * 1024 * 1024)
/* decompressed bytes of the whole bundle: a decompression bomb is cut off
 * after this instead of hashing for days; */
#define PV_BUNDLE_BYTES_MAX (1024ull * 1024 * 1024 * 1024)
/* one line of a manifest, JSON Lines or CSV member (an audit entry with
 * its personal data, JSON-escaped, fits). */
#define PV_BUNDLE_LINE_MAX (1024 * 1024)
/* eDiscovery exports (archiver/export): a matter name is shown in lists
 * and audit entries; a Bates prefix is part of every file name in the
 * bundle, so it is short; numbers stay below 10^15 (8 digits at least). */
#define PV_EXPORT_MATTER_MAX 128
#define PV_EXPORT_BATES_PREFIX_MAX 32
#define PV_EXPORT_BATES_NUMBER_MAX 999999999999999LL
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

#endif
