#ifndef PV_KEYS_H
#define PV_KEYS_H

/* Log signing keys: one Ed25519 key per log, named after the log's origin
 * (e.g. "mx1.example/popvault/audit"), in <dir>/<log>.key (mode 0600, one
 * line "PRIVATE+KEY+<origin>+<id>+<base64>"). The database records each
 * key epoch's verifier key (tlog_epoch); a key file that does not match
 * the current epoch is refused. A data directory keeps them in
 * KEYS_DATA_SUBDIR, a directory of their own, so that the processes that
 * must not read them can be kept out of it as a whole (archiver/signer).
 *
 * Remote keys (note.h, the signer process): keys_rotate then asks the
 * signer for the new key and the old key's signature, and changes only
 * the rows; the signer writes and destroys the seed files itself.
 *
 * Rotation (ARCHITECTURE.md §4, forward security): the OLD key signs a
 * rotation note naming the new vkey and the tree at that moment; the note
 * becomes a leaf of a log (normally "audit"), the old key signs a closing
 * checkpoint and the new key the opening one, all in one transaction;
 * after the commit the old seed file is overwritten, fsynced and unlinked,
 * and the in-memory key wiped. tlog_verify checks every checkpoint against
 * the key of its own epoch and each rotation note against the previous key.
 *
 * Signers returned here live in sodium_malloc'ed (guarded, locked) memory:
 * release them with keys_free, which wipes them. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/tlog.h"

/* Where a data directory keeps the log keys, relative to it. Before
 * there was a directory of their own they lived in keys/ beside the
 * keyring: keys_move_legacy brings them over. */
#define KEYS_DATA_SUBDIR "keys/sign"
#define KEYS_LEGACY_SUBDIR "keys"

/* Moves the log key files (<log>.key, <log>.key.next for the two logs)
 * that are still in old_dir into new_dir (made 0700 if missing), and
 * fsyncs both. A no-op when there is nothing to move; a file that new_dir
 * already has is left where it is (logged). */
int keys_move_legacy(const char *old_dir, const char *new_dir, struct pv_error *err);

/* Creates a fresh key named `name` in <dir>/<log>.key (O_EXCL: never
 * overwrites; file and directory fsynced). */
int keys_create(const char *dir, const char *log, const char *name, struct note_signer **s_r,
		struct pv_error *err);
/* Loads the key of log t from dir and checks it is the log's current key.
 * Finishes (or discards) a rotation that was interrupted by a crash. */
int keys_load(const char *dir, struct tlog *t, struct note_signer **s_r, struct pv_error *err);
void keys_free(struct note_signer **s);

/* Key files as the signer process (archiver/signer), which has no
 * database, handles them. keys_file_read reads <dir>/<log>.key, or the
 * rotation's new key <log>.key.next when next (PV_ENOTFOUND: no file);
 * keys_file_create_next makes a fresh key named `name` in
 * <log>.key.next (replacing, wiped, one left by an abandoned rotation);
 * keys_file_promote_next makes it <log>.key once the new key signed
 * (the old seed overwritten and unlinked); keys_file_discard_next wipes
 * an abandoned one. */
int keys_file_read(const char *dir, const char *log, bool next, struct note_signer **s_r,
		   struct pv_error *err);
int keys_file_create_next(const char *dir, const char *log, const char *name,
			  struct note_signer **s_r, struct pv_error *err);
int keys_file_promote_next(const char *dir, const char *log, struct pv_error *err);
int keys_file_discard_next(const char *dir, const char *log, struct pv_error *err);

/* A key handed over from another machine (an identity file, archiver/
 * archive/identity.h). keys_parse reads the key file's text (one line,
 * a trailing newline allowed) into locked memory (keys_free it).
 * keys_file_install makes s <dir>/<log>.key in one rename (written to
 * <log>.key.new first, 0600, fsynced; the directory fsynced): a crash
 * leaves the old key or the new one, never neither. The old file's
 * bytes are overwritten through a descriptor kept across the rename, so
 * the replaced seed is destroyed as a rotation destroys it. */
int keys_parse(const unsigned char *text, size_t len, struct note_signer **s_r,
	       struct pv_error *err) PV_WARN_UNUSED;
int keys_file_install(const char *dir, const char *log, const struct note_signer *s,
		      struct pv_error *err);
/* The verifier key of s ("name+id+base64"), appended to out. */
int keys_vkey(const struct note_signer *s, struct pv_buf *out, struct pv_error *err);

/* Genesis of one log, for `popvault init`: creates the log (in db, which
 * has the tlog_ tables), its key file, epoch 0 and the signed checkpoint
 * of the empty tree, in one transaction (the key file is removed if that
 * fails), and the signer's state file (keys_state_write) for it.
 * Appends the verifier key (to pin out of band) to vkey_r. */
int keys_init_log(struct db *db, const char *dir, const char *log, const char *origin,
		  struct pv_buf *vkey_r, struct pv_error *err);

/* Rotates log t's key. *s_io is the current signer; on success it is
 * wiped, freed and replaced by the new one. The rotation note is appended
 * as a leaf to `record` (t itself or another log, e.g. audit) and to
 * note_r (may be NULL). Needs the connection in autocommit mode: it
 * commits before destroying the old key. */
int keys_rotate(struct tlog *t, struct tlog *record, const char *dir, struct note_signer **s_io,
		struct pv_buf *note_r, struct pv_error *err);

/* The signer's memory of the last tree it signed for a log
 * (<dir>/<log>.signed beside the key, written only by whoever holds the
 * key): a checkpoint or rotation note is signed only when its tree
 * extends this one, which survives restarts and crashes. note is the last
 * checkpoint note signed (public; `verify` uses it as a checkpoint kept
 * outside the catalog). Text form:
 *   popvault/signer-state/v1\nsize N\nroot B64\n\n<note>
 * kept in two checksummed slots of the file, written in turn, each with
 * one fdatasync: a torn write loses at most the newest (keys_state.c). */
struct keys_state {
	uint64_t size;
	merkle_hash root;
	struct pv_buf note; /* keys_state_init / keys_state_free */
};
void keys_state_init(struct keys_state *st);
void keys_state_free(struct keys_state *st);
/* PV_ENOTFOUND when there is no state file; PV_EINTEGRITY when it is
 * malformed. */
int keys_state_read(const char *dir, const char *log, struct keys_state *st,
		    struct pv_error *err) PV_WARN_UNUSED;
/* Durably, in the slot the newest valid one does not occupy. */
int keys_state_write(const char *dir, const char *log, const struct keys_state *st,
		     struct pv_error *err);

/* The rotation note body:
 *   popvault/key-rotation/v1\norigin O\nsize N\nroot B64\nold VKEY\nnew VKEY\n */
struct keys_rotation {
	char origin[PV_KEY_NAME_MAX + 1];
	uint64_t size;
	merkle_hash root;
	char old_vkey[NOTE_VKEY_MAX + 1];
	char new_vkey[NOTE_VKEY_MAX + 1];
};

int keys_rotation_format(const struct keys_rotation *rot, struct pv_buf *out,
			 struct pv_error *err);
int keys_rotation_parse(const char *text, size_t len, struct keys_rotation *rot_r,
			struct pv_error *err) PV_WARN_UNUSED;

#endif
