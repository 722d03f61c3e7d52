#ifndef PV_EXPORT_EDISCOVERY_INT_H
#define PV_EXPORT_EDISCOVERY_INT_H

/* Private to the eDiscovery verifier (ediscovery_verify.c: the set, the
 * request, the audit event, the proofs and the pass over every member;
 * ediscovery_content.c: each message's bytes, the mbox, the load files;
 * ediscovery_trust.c: key rotations and earlier checkpoints). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "archiver/export/bates.h"
#include "archiver/export/ediscovery.h"
#include "archiver/export/loadfile.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/strpool.h"
#include "audit/bundle_external.h"
#include "audit/bundle_trust.h"
#include "audit/checkpoint.h"

#define STREAM_CHUNK 65536

/* One message of the set. A bundle may hold 100,000 of them: this is most
 * of what the verifier keeps (the Bates number in v->names), 168 bytes.
 * Its members are found again by name (edv_member) rather than pointed
 * to; the set's SHA-256 of it is kept only where it is not the .eml's
 * (v->set_sha, which a bundle we wrote leaves empty). */
struct vmsg {
	int64_t id;
	const char *bates;
	uint64_t leaf_index, size;
	uint8_t salt[32], commit[32];
	int leaf_version;   /* how commit commits (store/leaf_commit.h) */
	uint8_t md5[16];
	uint8_t dat_md5[16], csv_md5[16]; /* what the load files claim */
	uint32_t dat_line, csv_line;
	bool has_eml, has_proof; /* its .eml and .tlog-proof are in the bundle */
	bool sha_is_eml;    /* the set's SHA-256 and size are the .eml's */
	bool leaf_ok;       /* its proof holds and carries its leaf and salt */
	bool content_ok;    /* bytes equal to the .eml matched the commitment */
	bool content_bad;   /* a mismatch was reported */
	bool have_md5;
	bool in_mbox, in_dat, in_csv;
};

/* The set's SHA-256 of a message whose .eml has another (or is missing). */
struct vsha {
	int64_t id;
	uint8_t sha256[32];
};

struct vdisp {
	int64_t id;
	char time[PV_RFC3339_LEN];
	int64_t policy;
	char bates[BATES_LEN_MAX + 1]; /* "" when none */
	bool in_csv;
};

struct vst {
	struct bundle *b;
	struct bundle_keys *keys; /* given, and those rotations introduce */
	struct bundle_report *rep;
	const struct bundle_policy *pol; /* outside evidence asked for; may be NULL */
	struct pv_error *err;
	struct checkpoint acp, aucp;
	int acp_state, aucp_state; /* 1 trusted, 0 parsed unverified, -1 absent or bad */
	const struct bundle_file *acp_file, *aucp_file;
	struct vmsg *m;   /* by id */
	size_t n;
	struct pv_strpool names; /* the messages' Bates numbers */
	uint32_t *by_bates; /* indexes into m, sorted by Bates number */
	struct vsha *set_sha; /* by id: the exceptions to sha_is_eml */
	size_t n_set_sha;
	struct vdisp *d;
	size_t nd;
	bool set_read;    /* the set was read (possibly with problems) */
	json_t *req;
	uint64_t lf_bad[2]; /* load-file problems (DAT, CSV), reported up to 20 */
};

/* --- ediscovery_verify.c ------------------------------------------------------------ */

/* C2SP decimal; lower-case hex of 32 bytes. */
bool edv_dec(const char *s, size_t n, uint64_t *v);
bool edv_hex32(const char *s, size_t n, uint8_t out[32]);
/* Opens a checkpoint member with the trusted keys, reporting why not; then
 * parses it unverified. 1 trusted, 0 parsed only, -1 absent or unparsable. */
int edv_open_cp(struct vst *v, const char *what, const struct bundle_file *f,
		struct checkpoint *cp);
/* messages/<bates><suffix> of m (".eml", ".tlog-proof"), or NULL. */
const struct bundle_file *edv_member(struct vst *v, const struct vmsg *m, const char *suffix);
/* The SHA-256 export/message-set gives for m. */
const uint8_t *edv_set_sha256(struct vst *v, const struct vmsg *m);
/* The message with this Bates number (binary search), or NULL. */
struct vmsg *edv_find_bates(struct vst *v, const char *bates, size_t len);
/* A member's lines from a stream: fn gets each line without its "\n" (and
 * without a "\r" before it when crlf); non-zero stops. */
typedef int (*line_fn)(struct vst *v, void *ctx, uint64_t lineno, const char *l, size_t n);
int edv_lines_of(struct vst *v, const char *name, struct bundle_stream *s, bool crlf,
		 line_fn fn, void *ctx);

/* --- ediscovery_content.c --------------------------------------------------------- */

/* An .eml against its leaf: from memory when kept, else from s (NULL: skip). */
void edv_check_eml(struct vst *v, struct vmsg *m, struct bundle_stream *s);
/* The mbox: each record against its message's leaf, every message once. */
void edv_check_mbox(struct vst *v, struct bundle_stream *s);
/* A load file's rows; the MD5 claims are judged after the pass by
 * edv_loadfile_verdict, once every message's content went by. */
void edv_check_loadfile(struct vst *v, enum loadfile_kind kind, struct bundle_stream *s);
void edv_loadfile_verdict(struct vst *v, enum loadfile_kind kind);
void edv_check_disposed(struct vst *v, struct bundle_stream *s);

/* --- ediscovery_trust.c ------------------------------------------------------------ */

/* Extends v->keys along rotations/<dir>/1, 2, ... */
void edv_follow_rotations(struct vst *v, const char *dir);
/* Each of those notes is a leaf of the audit log: the same bytes as an
 * audit/rotations/<I> whose inclusion proof holds in audit/checkpoint's
 * tree (a retired key alone cannot name a successor). */
void edv_check_rotations_logged(struct vst *v);
/* Earlier checkpoints carried for log dir, each against fin, and the
 * log's outside evidence (bundle_external.h). */
void edv_check_anchors(struct vst *v, const char *dir, const struct checkpoint *fin, int state);
/* The caller's --last-checkpoint against whichever log it is of. */
void edv_check_last(struct vst *v, const char *last, size_t len);

#endif
