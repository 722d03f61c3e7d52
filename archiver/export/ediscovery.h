#ifndef PV_EXPORT_EDISCOVERY_H
#define PV_EXPORT_EDISCOVERY_H

/* eDiscovery bundles (kind "ediscovery", on audit/bundle.h): the result of
 * a search, handed to someone who must be able to check, trusting nothing
 * but the archive's and the audit log's verifier keys, that every message
 * is exactly what was archived.
 *
 *   BUNDLE, VERIFY.md             kind; how to check everything by hand
 *   export/request.json           query, matter, actor, time, Bates prefix,
 *                                 counts, the two logs' origins and sizes
 *   export/message-set            the exported set, canonical (below); its
 *                                 SHA-256 is in the export's audit event
 *   archive/checkpoint            the archive log's signed checkpoint, which
 *                                 every message proof is against
 *   audit/checkpoint              the audit log's signed checkpoint of size
 *                                 S+1: its last leaf S is this export's event
 *   audit/export-event.tlog-proof C2SP tlog-proof of leaf S against
 *                                 audit/checkpoint; extra = the leaf bytes
 *   audit/export-event.personal.json  {"seq":S,"salt":HEX,"data":TEXT}: the
 *                                 event's personal data (the JSON
 *                                 {"matter":M,"query":Q}) and the salt of its
 *                                 commitment BLAKE2b-256(key = salt, data)
 *   archive/checkpoints/<A>, archive/consistency/<A>-<N>,
 *   audit/checkpoints/<A>, audit/consistency/<A>-<N>
 *                                 the checkpoints earlier exports carried
 *                                 and RFC 9162 consistency proofs (one base64
 *                                 hash a line) from each to this bundle's, for
 *                                 verify-bundle --last-checkpoint
 *   archive/timestamps/..., audit/timestamps/...
 *                                 RFC 3161 time-stamps of earlier checkpoints
 *                                 of either log (audit/bundle_external.h)
 *   trust/vkeys                   both logs' verifier keys (a reminder only:
 *                                 never trusted by the verifier)
 *   rotations/<archive|audit>/<E> the key-rotation note of epoch E (audit/
 *                                 keys.h), signed by the key it retires: the
 *                                 verifier trusts the new key when it trusts
 *                                 the old one, so the keys pinned at init
 *                                 keep working after rotations
 *   audit/rotations/<I>, audit/rotations/<I>.proof
 *                                 each of those notes again as leaf I of the
 *                                 audit log, and its RFC 9162 inclusion proof
 *                                 in audit/checkpoint's tree (one base64 hash
 *                                 a line): a rotation counts only when the
 *                                 audit log holds it (audit/bundle_trust.h)
 *   messages/<BATES>.tlog-proof   C2SP tlog-proof of the message's archive
 *                                 leaf against archive/checkpoint; extra =
 *                                 "salt <64 hex>\n" followed by the leaf bytes
 *   messages/<BATES>.eml          the message exactly as archived
 *   messages.mbox                 all of them, mboxrd (mbox.h), Bates order;
 *                                 From_ lines "From <BATES>@popvault <date>"
 *   loadfile.dat                  Concordance DAT (loadfile.h), Bates order
 *   index.csv                     the same as CSV
 *   disposed.csv                  messages disposed of by policy that match
 *                                 or that this matter numbered before: id,
 *                                 bates (or empty), disposed (RFC 3339),
 *                                 policy_version
 *   MANIFEST.sha256, MANIFEST.note   (audit/bundle.h; signed by the archive key)
 *
 * Archive order: the small members above, the proofs, loadfile.dat,
 * index.csv, messages.mbox, then the .eml files, so that a verifier
 * streaming the bundle once (bundle_each) knows each message's leaf and
 * salt before its content goes by.
 *
 * export/message-set, sorted by id, one line per matching message:
 *
 *   popvault/ediscovery-set/v1
 *   message <id> <BATES> <leaf index> <size> <sha256 hex>
 *   disposed <id> <RFC 3339 disposal time> <policy version> <BATES or ->
 *
 * Disposed messages are listed, not exported: those the search index still
 * matched (it forgets disposed mail, so normally none), and those the
 * matter gave a Bates number in an earlier export, so that every gap in a
 * matter's numbering is explained.
 *
 * The message's salted commitment (archive leaf `commit` line) is
 * BLAKE2b-256 keyed by its salt over the exact bytes: the salt is per
 * message, random, and reveals nothing about any other message. */

#include <stddef.h>

#include "archiver/lib/error.h"
#include "audit/bundle_external.h"
#include "audit/bundle_read.h"
#include "audit/note.h"

#define EDISCOVERY_KIND "ediscovery"
#define EDISCOVERY_SET_MAGIC "popvault/ediscovery-set/v1"
#define EDISCOVERY_REQUEST_FORMAT "popvault-ediscovery/v1"
#define EDISCOVERY_MBOX_DOMAIN "popvault"

/* Columns of loadfile.dat and index.csv, in order. */
#define EDISCOVERY_DAT_FIELDS                                                               \
	"BEGBATES", "ENDBATES", "From", "To", "CC", "BCC", "Subject", "DateSent", "TimeSent", \
		"MessageID", "Account", "DateArchived", "ArchiveID", "FileSize", "FileName",   \
		"NativePath", "SHA256", "MD5"
#define EDISCOVERY_DAT_NFIELDS 18
#define EDISCOVERY_CSV_FIELDS                                                            \
	"bates", "id", "account", "archived", "date", "from", "to", "cc", "bcc", "subject", \
		"message_id", "size", "sha256", "md5", "file"
#define EDISCOVERY_CSV_NFIELDS 15

/* Verifies an eDiscovery bundle offline, trusting only keys[0..nkeys)
 * (the archive's and the audit log's verifier keys): both checkpoints'
 * signatures; the manifest; every member present and nothing else; each
 * message's proof (its leaf included in archive/checkpoint's tree, at the
 * index the set names, for the id the set names) and its .eml against the
 * leaf's commitment and the set's SHA-256; the mbox record of each
 * message byte for byte; the DAT and CSV hashes; the export's audit event
 * (in audit/checkpoint's tree as its last leaf, citing this message set,
 * with the request's query and matter behind its commitment). last_cp
 * (may be NULL): a checkpoint of either log that the verifier kept; the
 * bundle must extend it. pol (may be NULL): what the logs' outside
 * evidence must show (bundle_external.h). Every problem goes to rep, naming the member;
 * returns 0 when there was none, PV_EINTEGRITY when there was, another
 * status for an error that stopped the check (err). */
int ediscovery_verify(struct bundle *b, const struct note_verifier *keys, size_t nkeys,
		      const char *last_cp, size_t last_len, const struct bundle_policy *pol,
		      struct bundle_report *rep, struct pv_error *err) PV_WARN_UNUSED;

#endif
